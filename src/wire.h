/*
 * The wiring of the event bus inside the certhub binary: what connects
 * the library's producers and consumers of events.
 *
 *   lifecycle evaluation --sink--> certhub_bus_put (archive, outbox)
 *   certhub_bus_dispatch --deliver--> certhub_target_deliver
 *   topic / findings targets --hooks--> certhub_topic_publish /
 *                                       certhub_findings_from_event
 *   weekly batch schedule --detail_for--> certhub_lifecycle_batch
 *
 * `certhub evaluate`, `certhub serve` and `certhub events process` share
 * it, so a one-shot run and the daemon do exactly the same work.
 *
 * Ownership: a wire borrows the store and the config given to wire_new();
 * both must outlive it. It owns its parsed-target cache.
 */
#ifndef CERTHUB_WIRE_H
#define CERTHUB_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "certhub/config.h"
#include "certhub/store.h"

typedef struct wire wire;

typedef struct wire_stats {
  uint64_t emitted;   /* lifecycle events stored */
  uint64_t deduped;   /* lifecycle events already stored before */
  uint64_t fired;     /* schedules fired */
  uint64_t routed;    /* events routed */
  uint64_t enqueued;  /* outbox rows created by routing and schedules */
  uint64_t delivered; /* deliveries that succeeded */
  uint64_t retried;   /* deliveries that failed and will be retried */
  uint64_t dead;      /* deliveries given up (dead-lettered or dropped) */
} wire_stats;

/* Log lines go to this function (serve: stderr with a timestamp). NULL:
 * silent. */
typedef void (*wire_log_fn)(void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

ch_err wire_new(certhub_store *s, const certhub_config *cfg, wire_log_fn log,
                void *log_ctx, wire **out /* OUT */,
                char **errmsg /* OUT, caller frees */);
void wire_free(wire *w);

/* stopping(ctx) is asked before each delivery; when it returns true the
 * delivery is not attempted (its outbox row stays due) and the step ends.
 * It must not free or replace the wire. */
void wire_set_stop(wire *w, bool (*stopping)(void *ctx), void *ctx);

/* The URL of the API serving this store (NULL or "": none), for the
 * findings' Remediation Url when neither $CERTHUB_BASE_URL nor
 * http.base_url is set. Copied. */
void wire_set_base_url(wire *w, const char *url);

/* Put the configured rules (or the built-in seed rules when the config
 * has no rules: section) into the store; config-managed rules that are no
 * longer configured are deleted, CLI rules are left alone. */
ch_err wire_apply_config(wire *w, int64_t now, char **errmsg);

/* Lifecycle evaluation: the ACM events due at now, stored through the
 * bus (once per key), renewal commands run where configured; then the
 * event archive's retention is applied. */
ch_err wire_evaluate(wire *w, int64_t now, wire_stats *st, char **errmsg);

/* Fire due schedules, route stored events, and make at most max_deliveries
 * delivery attempts that are due. *more is true when due deliveries
 * remain. */
ch_err wire_step(wire *w, int64_t now, size_t max_deliveries, wire_stats *st,
                 bool *more /* OUT */, char **errmsg);

/* The earliest instant something is due (a retry, a schedule); INT64_MAX
 * when nothing is. */
ch_err wire_next_due(wire *w, int64_t *when /* OUT */);

/* The bus's certhub_bus_target_check: a target must parse as one of the
 * target types (certhub_rule_target_parse). ctx is unused. */
ch_err wire_check_target(void *ctx, const char *target_json, char **errmsg);

#endif
