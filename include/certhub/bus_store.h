/*
 * The event bus's persistent state in the store (migration 4, "bus"):
 * buses, rules, the event archive and the outbox (one row per event, rule
 * and target, with its delivery state; the dead-letter queue is the rows in
 * state "dead", the delivery log the rows in "delivered" and "failed").
 *
 * These are the storage primitives; lib/rules/bus*.c (certhub/bus.h) builds
 * validation, routing and dispatch on them. All SQL is in lib/store/.
 *
 * Ownership: rows passed to callbacks are borrowed and valid only during
 * the callback. Inputs are borrowed for the call. A callback returning
 * non-zero stops the iteration and its code is returned.
 *
 * Transactions: every write is one statement or runs in its own
 * transaction when called in autocommit mode; inside the caller's
 * transaction (certhub_store_begin) the caller owns atomicity.
 */
#ifndef CERTHUB_BUS_STORE_H
#define CERTHUB_BUS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certhub.h"
#include "store.h"

/* Outbox states. */
#define CERTHUB_OUTBOX_PENDING "pending"
#define CERTHUB_OUTBOX_DELIVERED "delivered"
#define CERTHUB_OUTBOX_DEAD "dead"     /* in the dead-letter queue */
#define CERTHUB_OUTBOX_FAILED "failed" /* dropped: no dead-letter config */

/* Who owns a rule. */
#define CERTHUB_RULE_BY_CLI "cli"
#define CERTHUB_RULE_BY_CONFIG "config"

typedef struct certhub_bus_rule {
  const char *bus;
  const char *name;
  const char *pattern;  /* JSON text, or NULL for a schedule rule */
  const char *schedule; /* expression, or NULL for a pattern rule */
  bool enabled;
  const char *description; /* "" when none */
  const char *targets;     /* JSON array text */
  const char *managed_by;  /* CERTHUB_RULE_BY_* */
  int64_t created, updated;
  int64_t last_fire; /* 0: never fired */
  int64_t next_fire; /* 0: none (pattern rule, disabled, or never again) */
  /* Schedule rules only: NULL, or CERTHUB_BATCH_EXPIRING for a Scheduled
   * Event whose detail lists every certificate within its threshold
   * (certhub's extension: the weekly digest). */
  const char *batch;
} certhub_bus_rule;

#define CERTHUB_BATCH_EXPIRING "expiring-certificates"

typedef ch_err (*certhub_bus_rule_cb)(void *ctx, const certhub_bus_rule *r);

/* One archived event. */
typedef struct certhub_bus_event_rec {
  int64_t seq; /* archive order (set by the store) */
  const char *id;
  const char *bus;
  const char *source;
  const char *detail_type;
  int64_t time;
  const char *envelope;   /* the full JSON envelope */
  const char *dedupe_key; /* NULL when none */
  int64_t ingested_at;
  bool routed;
} certhub_bus_event_rec;

typedef ch_err (*certhub_bus_event_cb)(void *ctx,
                                       const certhub_bus_event_rec *e);

typedef struct certhub_bus_event_filter {
  const char *bus;         /* NULL: any */
  const char *detail_type; /* NULL: any */
  const char *source;      /* NULL: any */
  int64_t since, until;    /* event time bounds, inclusive; 0: none */
  size_t limit;            /* 0: no limit */
} certhub_bus_event_filter;

/* One outbox row. event (the envelope) is only set by outbox_due. */
typedef struct certhub_bus_outbox_row {
  int64_t id;
  int64_t event_seq;
  const char *event_id;
  const char *bus;
  const char *rule;
  const char *target_id;
  const char *target; /* JSON snapshot taken at routing time */
  const char *state;  /* CERTHUB_OUTBOX_* */
  unsigned attempts;
  int64_t created;
  int64_t first_attempt_at, last_attempt_at; /* 0: not attempted */
  int64_t next_attempt_at;
  const char *last_error;
  const char *event;   /* envelope JSON (outbox_due only) */
  int64_t ingested_at; /* of the event */
} certhub_bus_outbox_row;

typedef ch_err (*certhub_bus_outbox_cb)(void *ctx,
                                        const certhub_bus_outbox_row *r);

typedef ch_err (*certhub_bus_name_cb)(void *ctx, const char *name,
                                      int64_t created, uint64_t n_rules);

/* Set the handle's error text (printf-style) and return rc: for the layers
 * above the store (lib/rules) that report through certhub_store_errmsg. */
ch_err certhub_store_set_error(certhub_store *s, ch_err rc, const char *fmt,
                               ...) __attribute__((format(printf, 3, 4)));

/* Buses. The "default" bus is created by the migration. */
ch_err certhub_store_bus_create(certhub_store *s, const char *name,
                                int64_t now); /* CH_ERR_EXISTS */
/* CH_ERR_NOTFOUND; CH_ERR_EXISTS while rules are on the bus. */
ch_err certhub_store_bus_delete(certhub_store *s, const char *name);
ch_err certhub_store_bus_list(certhub_store *s, certhub_bus_name_cb cb,
                              void *ctx);
ch_err certhub_store_bus_exists(certhub_store *s, const char *name,
                                bool *exists /* OUT */);

/* Rules. put inserts or replaces (bus, name) keeping its created time. */
ch_err certhub_store_rule_put(certhub_store *s, const certhub_bus_rule *r,
                              bool *created /* OUT, may be NULL */);
ch_err certhub_store_rule_get(certhub_store *s, const char *bus,
                              const char *name, certhub_bus_rule_cb cb,
                              void *ctx); /* CH_ERR_NOTFOUND */
/* bus NULL: every bus. Ordered by bus, name. */
ch_err certhub_store_rule_list(certhub_store *s, const char *bus,
                               certhub_bus_rule_cb cb, void *ctx);
ch_err certhub_store_rule_delete(certhub_store *s, const char *bus,
                                 const char *name); /* CH_ERR_NOTFOUND */
ch_err certhub_store_rule_set_state(certhub_store *s, const char *bus,
                                    const char *name, bool enabled,
                                    int64_t next_fire, int64_t now);
/* Record a schedule fire: last_fire, next_fire (0: none). */
ch_err certhub_store_rule_fired(certhub_store *s, const char *bus,
                                const char *name, int64_t last_fire,
                                int64_t next_fire);

/* Archive. put: with a dedupe_key already stored, nothing is written and
 * *stored is false. e->seq and e->routed are ignored (new events are
 * unrouted); *seq gets the new row's seq. */
ch_err certhub_store_event_put(certhub_store *s,
                               const certhub_bus_event_rec *e,
                               bool *stored /* OUT */,
                               int64_t *seq /* OUT, may be NULL */);
/* Unrouted events in archive order, at most limit. */
ch_err certhub_store_events_unrouted(certhub_store *s, size_t limit,
                                     certhub_bus_event_cb cb, void *ctx);
ch_err certhub_store_event_routed(certhub_store *s, int64_t seq);
/* Newest first. */
ch_err certhub_store_event_list(certhub_store *s,
                                const certhub_bus_event_filter *f,
                                certhub_bus_event_cb cb, void *ctx);
ch_err certhub_store_event_get(certhub_store *s, const char *id,
                               certhub_bus_event_cb cb,
                               void *ctx); /* CH_ERR_NOTFOUND */
/* Delete routed events with ingested_at < before whose outbox rows are
 * all finished (delivered, failed; dead-lettered rows keep their event). */
ch_err certhub_store_event_prune(certhub_store *s, int64_t before,
                                 uint64_t *n_deleted /* OUT */);

/* Outbox. add is idempotent per (event, bus, rule, target id): *added is
 * false when the row exists already. */
ch_err certhub_store_outbox_add(certhub_store *s, int64_t event_seq,
                                const char *bus, const char *rule,
                                const char *target_id, const char *target,
                                int64_t now,
                                bool *added /* OUT, may be NULL */);
/* Pending rows with next_attempt_at <= now, oldest due first; among rows
 * due at the same instant the least recently attempted first. */
ch_err certhub_store_outbox_due(certhub_store *s, int64_t now, size_t limit,
                                certhub_bus_outbox_cb cb, void *ctx);
/* Record an attempt's outcome on a row: state, attempts, next_attempt_at,
 * last_error; first_attempt_at is set on the first attempt. */
ch_err certhub_store_outbox_set(certhub_store *s, int64_t id,
                                const char *state, unsigned attempts,
                                int64_t next_attempt_at,
                                const char *last_error, int64_t now);
/* Rows in state (NULL: every state), oldest first, at most limit (0: all). */
ch_err certhub_store_outbox_list(certhub_store *s, const char *state,
                                 size_t limit, certhub_bus_outbox_cb cb,
                                 void *ctx);
/* The outbox rows of one event (by its id), in row order. */
ch_err certhub_store_outbox_of_event(certhub_store *s, const char *event_id,
                                     certhub_bus_outbox_cb cb, void *ctx);
/* Dead rows (id 0: all) back to pending, attempts 0, due now. */
ch_err certhub_store_outbox_redrive(certhub_store *s, int64_t id, int64_t now,
                                    uint64_t *n /* OUT */);
/* Delete dead rows (id 0: all). */
ch_err certhub_store_outbox_purge(certhub_store *s, int64_t id,
                                  uint64_t *n /* OUT */);
/* Earliest pending next_attempt_at and enabled next_fire; *found false
 * when there is neither. */
ch_err certhub_store_bus_next_due(certhub_store *s, int64_t *when /* OUT */,
                                  bool *found /* OUT */);

#endif
