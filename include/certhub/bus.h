/*
 * The event bus (EventBridge analogue): put events into the archive, route
 * them through the rules of their bus into the outbox, fire schedules,
 * dispatch outbox rows through a caller's delivery callback with retries
 * and a dead-letter queue.
 *
 * Data flow: producer -> certhub_bus_put -> events (archived, unrouted)
 * -> certhub_bus_route -> outbox (one row per event, rule, target)
 * -> certhub_bus_dispatch -> deliver callback -> delivered / retry later /
 * dead letter (DeadLetterConfig) or dropped ("failed").
 *
 * Every function reports problems through the store handle: on failure
 * certhub_store_errmsg(s) names the input and the problem (a validation
 * error is CH_ERR_PARSE, CH_ERR_TOOBIG, CH_ERR_USAGE, CH_ERR_NOTFOUND or
 * CH_ERR_EXISTS; storage failures CH_ERR_DB / CH_ERR_BUSY).
 *
 * Ownership: inputs are borrowed for the call; strings handed to callbacks
 * are borrowed for the callback.
 */
#ifndef CERTHUB_BUS_H
#define CERTHUB_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus_store.h"
#include "certhub.h"
#include "config.h"
#include "event.h"
#include "store.h"

#define CERTHUB_BUS_NAME_MAX 256
#define CERTHUB_RULE_NAME_MAX 64
#define CERTHUB_RULE_MAX_TARGETS 5
#define CERTHUB_RULE_DESCRIPTION_MAX 512
#define CERTHUB_TARGET_ID_MAX 64
#define CERTHUB_RETRY_ATTEMPTS_MAX 185 /* and the default */
#define CERTHUB_EVENT_AGE_MIN 60
#define CERTHUB_EVENT_AGE_MAX 86400     /* and the default */
#define CERTHUB_BACKOFF_FIRST 1         /* seconds, doubling ... */
#define CERTHUB_BACKOFF_CAP 300         /* ... up to 5 minutes */
#define CERTHUB_EVENT_RETENTION_DAYS 90 /* default archive retention */
/* PutEventsRequestEntry's length limits, in characters. */
#define CERTHUB_BUS_SOURCE_MAX 256
#define CERTHUB_BUS_DETAIL_TYPE_MAX 128
#define CERTHUB_BUS_DEFAULT_ACCOUNT "000000000000"
#define CERTHUB_BUS_DEFAULT_REGION "local"
/* certhub's own batch Scheduled Events (a schedule rule's detail from
 * certhub_bus_schedule_hook.detail_for, e.g. every expiring certificate)
 * may be larger than PutEvents' CERTHUB_EVENT_MAX_LEN, up to this; events
 * put by users keep CERTHUB_EVENT_MAX_LEN. About 100,000 certificates. */
#define CERTHUB_BATCH_EVENT_MAX ((size_t)64 << 20)

/* ---- put ---------------------------------------------------------------- */

/* Validate ev as PutEvents does and archive it, unrouted. Checks (the
 * message names the field): Source (at most 256 characters) and DetailType
 * (at most 128) present and non-empty,
 * Detail a JSON object (NULL: "{}"), Resources strings, the bus exists,
 * the rendered envelope at most CERTHUB_EVENT_MAX_LEN bytes. ev->time 0
 * means now; account and region default to CERTHUB_BUS_DEFAULT_*. A NULL
 * ev->id gets a new UUID v4. id_out gets the event id (also when a
 * dedupe_key was already stored: then the new id that was not stored).
 * With a dedupe_key already stored nothing is written, *stored is false
 * and the result is CH_OK. Works inside the caller's transaction. */
ch_err certhub_bus_put(certhub_store *s, const certhub_event *ev, int64_t now,
                       char id_out[37] /* OUT */, bool *stored /* OUT */);

/* Only the validation and rendering of certhub_bus_put, without a store
 * (the bus is not looked up): *envelope is the malloc'd JSON text. On
 * failure *errmsg (malloc'd) names the field. */
ch_err certhub_bus_render(const certhub_event *ev, int64_t now,
                          char id_out[37] /* OUT */, char **envelope /* OUT */,
                          char **errmsg /* OUT */);

/* ---- buses -------------------------------------------------------------- */

/* name: [A-Za-z0-9._/-]{1,256}, not "default". */
ch_err certhub_bus_create(certhub_store *s, const char *name, int64_t now);
/* Refused for "default" and while rules exist on the bus (events stay in
 * the archive). */
ch_err certhub_bus_delete(certhub_store *s, const char *name);

/* ---- rules -------------------------------------------------------------- */

/* Checks a rule's target beyond Id, Type, RetryPolicy and DeadLetterConfig
 * (which the bus checks itself): target_json is one target object. Return
 * CH_OK, or an error with *errmsg malloc'd naming the problem. */
typedef ch_err (*certhub_bus_target_check)(void *ctx, const char *target_json,
                                           char **errmsg);

/* Validate a rule without storing it: name [A-Za-z0-9._-]{1,64}, bus name,
 * exactly one of pattern (certhub_pattern_compile) and schedule
 * (certhub_schedule_parse), their errors passed through; targets a JSON
 * array (NULL: []) of at most 5 objects, each with a unique string "Id"
 * and a string "Type", an optional "RetryPolicy" {"MaximumRetryAttempts":
 * 0-185, "MaximumEventAgeInSeconds": 60-86400} and "DeadLetterConfig"
 * (an object or true); check (if not NULL) sees each target. *errmsg is
 * malloc'd on failure. */
ch_err certhub_bus_rule_validate(const certhub_bus_rule *r,
                                 certhub_bus_target_check check, void *ctx,
                                 char **errmsg /* OUT */);

/* Create or update the rule r->bus (NULL: default) / r->name after
 * certhub_bus_rule_validate. Uses r's pattern, schedule, enabled,
 * description, targets and managed_by (NULL: "cli"); the times are set
 * here. A schedule rule's next fire time is computed from now. */
ch_err certhub_bus_rule_put(certhub_store *s, const certhub_bus_rule *r,
                            int64_t now, certhub_bus_target_check check,
                            void *ctx, bool *created /* OUT, may be NULL */);
/* Enable (computing a schedule's next fire time from now) or disable. */
ch_err certhub_bus_rule_enable(certhub_store *s, const char *bus,
                               const char *name, bool enable, int64_t now);

/* The rule's ARN: arn:certhub:events:REGION:ACCOUNT:rule/[BUS/]NAME (the bus
 * only when not "default", as EventBridge). malloc'd, NULL on OOM. */
char *certhub_bus_rule_arn(const char *region, const char *account,
                           const char *bus, const char *name);

/* ---- routing, schedules, dispatch ----------------------------------------
 */

typedef struct certhub_bus_stats {
  uint64_t routed;       /* events routed */
  uint64_t matched;      /* (event, rule) matches */
  uint64_t enqueued;     /* outbox rows added */
  uint64_t match_errors; /* events too large/complex for a rule */
  uint64_t fired;        /* schedule fires */
  uint64_t attempted;    /* deliveries attempted */
  uint64_t delivered;
  uint64_t retried;   /* RETRY answered, retry scheduled */
  uint64_t dead;      /* moved to the dead-letter queue */
  uint64_t dropped;   /* given up without a DeadLetterConfig */
  uint64_t postponed; /* not attempted: their target is failing (breaker) */
} certhub_bus_stats;

/* Route every unrouted event (in archive order, batches of
 * CERTHUB_ROUTE_BATCH, each batch one transaction) against the enabled
 * pattern rules of its bus; one outbox row per target of each matching
 * rule. Idempotent per event. stats may be NULL; it is added to. */
/* Route, fire_schedules and apply_config open their own transactions:
 * call them outside any. */
#define CERTHUB_ROUTE_BATCH 100
ch_err certhub_bus_route(certhub_store *s, int64_t now,
                         certhub_bus_stats *stats);

/* Scheduled events: the detail of the "Scheduled Event" of a rule. The
 * hook returns CH_OK with *detail_json malloc'd (a JSON object) or NULL
 * for "{}". Its event may be up to CERTHUB_BATCH_EVENT_MAX bytes. */
typedef struct certhub_bus_schedule_hook {
  ch_err (*detail_for)(void *ctx, const char *rule_name, const char *bus,
                       char **detail_json /* OUT */);
  void *ctx;
  const char *account; /* NULL: CERTHUB_BUS_DEFAULT_ACCOUNT */
  const char *region;  /* NULL: CERTHUB_BUS_DEFAULT_REGION */
} certhub_bus_schedule_hook;

/* For each enabled schedule rule due at now: in one transaction put a
 * "Scheduled Event" (source "aws.events", resources [the rule's ARN], time
 * the due fire time), enqueue it for that rule's targets only, and move
 * the next fire time to the first fire strictly after now (missed fires
 * are not back-filled). hook may be NULL. */
ch_err certhub_bus_fire_schedules(certhub_store *s, int64_t now,
                                  const certhub_bus_schedule_hook *hook,
                                  certhub_bus_stats *stats);

typedef enum certhub_bus_delivery {
  CERTHUB_BUS_DELIVERED = 0,
  CERTHUB_BUS_RETRY,   /* transient: try again later */
  CERTHUB_BUS_FAILED,  /* permanent: dead letter / drop now */
  CERTHUB_BUS_SKIPPED, /* not attempted (the dispatcher is stopping): the
                        * row stays as it was and the dispatch ends */
} certhub_bus_delivery;

/* One delivery attempt. *detail (malloc'd, may stay NULL) explains a
 * RETRY or FAILED and becomes the row's last_error. A non-CH_OK return
 * counts as RETRY. */
typedef ch_err (*certhub_bus_deliver_cb)(void *ctx, const char *rule,
                                         const char *bus,
                                         const char *target_json,
                                         const char *event_json, size_t len,
                                         certhub_bus_delivery *result,
                                         char **detail);

/* Deliver at most max (0: 1000) due pending outbox rows, oldest due
 * first. The callback runs outside any transaction; each row's new state
 * is then its own short transaction (so a crash between the two delivers
 * again: at-least-once). RETRY: attempts + 1, next attempt after
 * exponential backoff (1 s doubling, capped at 5 min, "equal jitter": a
 * random delay in [d/2, d]), unless the attempts exceed
 * MaximumRetryAttempts or the event is older than
 * MaximumEventAgeInSeconds: then dead-lettered when the target has
 * DeadLetterConfig, else dropped (state "failed"). FAILED: the same at
 * once. A row whose event is already too old is given up without a call. */
/* One dispatcher per store at a time (certhub serve): two would read the
 * same due rows and deliver them twice. */
ch_err certhub_bus_dispatch(certhub_store *s, int64_t now,
                            certhub_bus_deliver_cb deliver, void *ctx,
                            size_t max, certhub_bus_stats *stats);

/* A per-target breaker for a long-lived dispatcher (certhub serve), so
 * that a failing target does not hold up the others: deliveries run one
 * at a time, and a webhook that never answers would otherwise cost its
 * timeout for every due row, while every other target waits. After a
 * RETRY from a target (bus, rule, target Id), that target is "open" for
 * a backoff that grows with its consecutive failures (the delays above);
 * its other due rows are postponed to the end of that wait without an
 * attempt (attempts, errors and the age limit untouched), and the row
 * that failed goes after them, so the next trial is another event. A
 * delivery closes it. At most CERTHUB_BUS_BREAKER_MAX targets are
 * tracked (beyond: no breaker for the new ones). */
#define CERTHUB_BUS_BREAKER_MAX 4096
typedef struct certhub_bus_breaker certhub_bus_breaker;
certhub_bus_breaker *certhub_bus_breaker_new(void); /* NULL: out of memory */
void certhub_bus_breaker_free(certhub_bus_breaker *b);
/* certhub_bus_dispatch with a breaker (NULL: none); b is updated. */
ch_err certhub_bus_dispatch_guarded(certhub_store *s, int64_t now,
                                    certhub_bus_deliver_cb deliver, void *ctx,
                                    size_t max, certhub_bus_breaker *b,
                                    certhub_bus_stats *stats);

/* Earliest pending outbox next_attempt_at or enabled schedule fire time;
 * *found false when there is nothing to wait for. */
ch_err certhub_bus_next_due(certhub_store *s, int64_t *when /* OUT */,
                            bool *found /* OUT */);

/* ---- dead-letter queue, archive ------------------------------------------
 */

/* Redrive one dead row (id > 0) or all (id 0) back to pending, attempts
 * reset, due now. Purge deletes them. */
ch_err certhub_bus_dlq_redrive(certhub_store *s, int64_t id, int64_t now,
                               uint64_t *n /* OUT */);
ch_err certhub_bus_dlq_purge(certhub_store *s, int64_t id,
                             uint64_t *n /* OUT */);

/* Delete routed events ingested more than retention_days ago (0: the
 * default, CERTHUB_EVENT_RETENTION_DAYS) whose outbox rows are all
 * finished (delivered or dropped; dead letters keep their event). */
ch_err certhub_bus_prune(certhub_store *s, int64_t now,
                         unsigned retention_days,
                         uint64_t *n_deleted /* OUT */);

/* ---- configuration --------------------------------------------------------
 */

/* Validate the configuration's buses and rules (certhub_bus_rule_validate
 * on each); *errmsg (malloc'd) is "FILE:LINE: rules[i]: problem", the line
 * of the pattern, schedule or targets when that is what is wrong. */
ch_err certhub_bus_config_check(const certhub_config *cfg,
                                certhub_bus_target_check check, void *ctx,
                                char **errmsg /* OUT */);

/* Create the configuration's buses, put its rules (managed_by "config"; a
 * CLI rule of the same bus and name becomes config-managed) and delete
 * config-managed rules no longer in it; CLI rules are left alone. One
 * transaction: on error nothing changes and the message names FILE:LINE. */
ch_err certhub_bus_apply_config(certhub_store *s, const certhub_config *cfg,
                                int64_t now, certhub_bus_target_check check,
                                void *ctx);

#endif
