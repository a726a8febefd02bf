/*
 * Private store internals: the backend table and the handle.
 *
 * A backend is one file (store_<name>.c) exporting a struct ch_store_ops,
 * plus one entry in the scheme table of store.c. The public functions in
 * store.c only validate arguments and dispatch through s->ops.
 */
#ifndef CH_STORE_INT_H
#define CH_STORE_INT_H

#include <stdarg.h>
#include "certhub/bus_store.h"
#include "certhub/findings_query.h"
#include "certhub/deliver_store.h"
#include "certhub/hub.h"
#include "certhub/store.h"
#include "certhub/store_hub.h"
#include "certhub/store_tokens.h"
#include "core/core.h"

#define CH_STORE_ERRMSG_MAX 1024

struct ch_store_ops {
  const char *name;
  /* location: the target with the scheme prefix removed. On failure the
   * backend leaves a message naming the location in s->errmsg. */
  ch_err (*open)(certhub_store *s, const char *location);
  void (*close)(certhub_store *s);
  ch_err (*schema_version)(certhub_store *s, int *version);

  ch_err (*begin)(certhub_store *s);
  ch_err (*commit)(certhub_store *s);
  ch_err (*rollback)(certhub_store *s);
  ch_err (*savepoint)(certhub_store *s);
  ch_err (*release)(certhub_store *s);
  ch_err (*rollback_to)(certhub_store *s);
  /* WAL checkpoints (store.h); NULL: CH_ERR_UNSUPPORTED, 0 pages. */
  ch_err (*wal_external)(certhub_store *s, unsigned fallback);
  unsigned (*wal_pages)(const certhub_store *s);
  ch_err (*checkpoint)(certhub_store *s, bool restart, unsigned *wal_pages,
                       unsigned *done);
  ch_err (*cache_stats)(const certhub_store *s, certhub_store_cache *out);

  ch_err (*source)(certhub_store *s, const char *kind, const char *locator,
                   int64_t *source_id);
  ch_err (*scan_begin)(certhub_store *s, int64_t source_id, int64_t now,
                       int64_t *scan_id);
  ch_err (*put_cert)(certhub_store *s, const certhub_cert *c,
                     const certhub_labels *labels, int64_t source_id,
                     unsigned position, int64_t scan_id, int64_t now,
                     int64_t *cert_rowid, bool *created);
  ch_err (*scan_finish)(certhub_store *s, int64_t source_id, int64_t scan_id,
                        int64_t now, unsigned *n_gone, unsigned *n_replaced);

  ch_err (*list)(certhub_store *s, const certhub_filter *f, int64_t now,
                 certhub_row_cb cb, void *ctx);
  ch_err (*resolve)(certhub_store *s, const char *ref, int64_t **rowids,
                    size_t *n);
  ch_err (*get_der)(certhub_store *s, int64_t rowid, uint8_t **der,
                    size_t *len);
  ch_err (*issuers)(certhub_store *s, int64_t rowid, int64_t **rowids,
                    size_t *n);
  ch_err (*tag_set)(certhub_store *s, int64_t rowid, const char *key,
                    const char *value);
  ch_err (*tag_remove)(certhub_store *s, int64_t rowid, const char *key);
  ch_err (*del)(certhub_store *s, int64_t rowid);
  ch_err (*counts_get)(certhub_store *s, certhub_store_counts *out);

  ch_err (*put_probe)(certhub_store *s, const certhub_probe_result *r,
                      const char *locator, const certhub_labels *labels,
                      int64_t now, int64_t *probe_id);
  ch_err (*endpoints)(certhub_store *s, const certhub_endpoint_filter *f,
                      certhub_endpoint_cb cb, void *ctx);
  ch_err (*endpoint_resolve)(certhub_store *s, const char *ref,
                             int64_t *endpoint_id);
  ch_err (*endpoint_describe)(certhub_store *s, int64_t endpoint_id,
                              size_t max_history,
                              certhub_endpoint_detail_cb cb, void *ctx);
  ch_err (*chain_check_get)(certhub_store *s, const uint8_t trust_id[32],
                            const uint8_t chain_key[32], int64_t now,
                            const uint8_t **blob, size_t *len, bool *found);
  ch_err (*chain_check_put)(certhub_store *s, const uint8_t trust_id[32],
                            const uint8_t chain_key[32], const uint8_t *blob,
                            size_t len, int64_t now);

  ch_err (*mark_set)(certhub_store *s, const char *key, int64_t now,
                     bool *was_new);
  ch_err (*mark_get)(certhub_store *s, const char *key, bool *found,
                     int64_t *created);

  /* Test hook: run one statement in the backend's own language on this
   * connection; *first (if not NULL) gets the first column of the first
   * row, malloc'd, or NULL. Used by unit tests for fault injection. */
  ch_err (*test_exec)(certhub_store *s, const char *stmt, char **first);

  /* The event bus (certhub/bus_store.h). */
  ch_err (*bus_create)(certhub_store *s, const char *name, int64_t now);
  ch_err (*bus_delete)(certhub_store *s, const char *name);
  ch_err (*bus_list)(certhub_store *s, certhub_bus_name_cb cb, void *ctx);
  ch_err (*bus_exists)(certhub_store *s, const char *name, bool *exists);
  ch_err (*rule_put)(certhub_store *s, const certhub_bus_rule *r,
                     bool *created);
  ch_err (*rule_get)(certhub_store *s, const char *bus, const char *name,
                     certhub_bus_rule_cb cb, void *ctx);
  ch_err (*rule_list)(certhub_store *s, const char *bus,
                      certhub_bus_rule_cb cb, void *ctx);
  ch_err (*rule_delete)(certhub_store *s, const char *bus, const char *name);
  ch_err (*rule_set_state)(certhub_store *s, const char *bus, const char *name,
                           bool enabled, int64_t next_fire, int64_t now);
  ch_err (*rule_fired)(certhub_store *s, const char *bus, const char *name,
                       int64_t last_fire, int64_t next_fire);
  ch_err (*event_put)(certhub_store *s, const certhub_bus_event_rec *e,
                      bool *stored, int64_t *seq);
  ch_err (*events_unrouted)(certhub_store *s, size_t limit,
                            certhub_bus_event_cb cb, void *ctx);
  ch_err (*event_routed)(certhub_store *s, int64_t seq);
  ch_err (*event_list)(certhub_store *s, const certhub_bus_event_filter *f,
                       certhub_bus_event_cb cb, void *ctx);
  ch_err (*event_get)(certhub_store *s, const char *id,
                      certhub_bus_event_cb cb, void *ctx);
  ch_err (*event_prune)(certhub_store *s, int64_t before, uint64_t *n);
  ch_err (*outbox_add)(certhub_store *s, int64_t event_seq, const char *bus,
                       const char *rule, const char *target_id,
                       const char *target, int64_t now, bool *added);
  ch_err (*outbox_due)(certhub_store *s, int64_t now, size_t limit,
                       certhub_bus_outbox_cb cb, void *ctx);
  ch_err (*outbox_set)(certhub_store *s, int64_t id, const char *state,
                       unsigned attempts, int64_t next_attempt_at,
                       const char *last_error, int64_t now);
  ch_err (*outbox_list)(certhub_store *s, const char *state, size_t limit,
                        certhub_bus_outbox_cb cb, void *ctx);
  ch_err (*outbox_of_event)(certhub_store *s, const char *event_id,
                            certhub_bus_outbox_cb cb, void *ctx);
  ch_err (*outbox_redrive)(certhub_store *s, int64_t id, int64_t now,
                           uint64_t *n);
  ch_err (*outbox_purge)(certhub_store *s, int64_t id, uint64_t *n);
  ch_err (*bus_next_due)(certhub_store *s, int64_t *when, bool *found);
  /* Topics and their message log (store_hub.h). A backend without them
   * leaves these NULL: the calls fail with CH_ERR_UNSUPPORTED. */
  ch_err (*topic_create)(certhub_store *s, const char *name, const char *arn,
                         const char *display_name, int64_t now, bool *created);
  ch_err (*topic_get)(certhub_store *s, const char *name, certhub_topic_cb cb,
                      void *ctx);
  ch_err (*topic_list)(certhub_store *s, certhub_topic_cb cb, void *ctx);
  ch_err (*topic_delete)(certhub_store *s, const char *name);
  ch_err (*message_add)(certhub_store *s, const certhub_message *m);
  ch_err (*messages)(certhub_store *s, const char *topic, size_t limit,
                     certhub_message_cb cb, void *ctx);
  /* Findings (store_hub.h). */
  ch_err (*finding_get)(certhub_store *s, const char *product_arn,
                        const char *id, certhub_finding_cb cb, void *ctx);
  ch_err (*finding_put)(certhub_store *s, const certhub_finding_row *f,
                        int64_t now);
  ch_err (*findings_count_add)(certhub_store *s,
                               const certhub_finding_row *key, int64_t n);
  ch_err (*findings)(certhub_store *s, const certhub_findings_filter *f,
                     certhub_finding_cb cb, void *ctx);
  /* Findings queries, insights and retention (findings_query.h). */
  ch_err (*findings_query)(certhub_store *s, const certhub_findings_query *q,
                           certhub_fq_row_cb cb, void *ctx);
  ch_err (*findings_group)(certhub_store *s, const certhub_findings_query *q,
                           certhub_fq_field by, size_t limit,
                           certhub_fq_group_cb cb, void *ctx);
  ch_err (*findings_prune)(certhub_store *s, int64_t before, uint64_t *n);
  /* API tokens (store_tokens.h). */
  ch_err (*token_put)(certhub_store *s, const certhub_token_row *t);
  ch_err (*token_find)(certhub_store *s, const char *hash,
                       certhub_token_cb cb, void *ctx);
  ch_err (*token_list)(certhub_store *s, certhub_token_cb cb, void *ctx);
  ch_err (*token_revoke)(certhub_store *s, const char *name);
  ch_err (*findings_by_id)(certhub_store *s, const char *id,
                           certhub_finding_cb cb, void *ctx);
  /* Subscriptions and deliveries (deliver_store.h); NULL: unsupported. */
  ch_err (*sub_put)(certhub_store *s, const certhub_subscription *sub,
                    const char *confirm_id, int64_t now_ms, bool *created,
                    char *arn_out, bool *pending);
  ch_err (*subs)(certhub_store *s, const char *topic, const char *arn,
                 certhub_subscription_cb cb, void *ctx);
  ch_err (*sub_confirm)(certhub_store *s, const char *topic, const char *token,
                        int64_t now, char *arn_out);
  ch_err (*sub_delete)(certhub_store *s, const char *arn);
  ch_err (*fanout)(certhub_store *s, int64_t now_ms, uint64_t *n);
  ch_err (*deliveries_due)(certhub_store *s, int64_t now_ms, int64_t after_ms,
                           int64_t after_id, size_t limit,
                           certhub_sns_delivery_cb cb, void *ctx);
  ch_err (*deliveries_update)(certhub_store *s,
                              const certhub_sns_delivery_update *u, size_t n);
  ch_err (*deliveries)(certhub_store *s, const certhub_sns_delivery_filter *f,
                       certhub_sns_delivery_cb cb, void *ctx);
  ch_err (*dlq_redrive)(certhub_store *s, int64_t id, const char *topic,
                        int64_t now_ms, uint64_t *n);
  ch_err (*dlq_purge)(certhub_store *s, int64_t id, const char *topic,
                      uint64_t *n);
  ch_err (*delivery_next_due)(certhub_store *s, int64_t *when_ms, bool *found);
  /* The hub forwarding queue (certhub/hub.h). */
  ch_err (*hub_enable)(certhub_store *s, bool on, bool *changed);
  ch_err (*hub_pending)(certhub_store *s, size_t limit,
                        certhub_hub_item_cb cb, void *ctx);
  ch_err (*hub_done)(certhub_store *s, const int64_t *seqs, size_t n);
  ch_err (*hub_state)(certhub_store *s, bool *on, uint64_t *queued);
};

struct certhub_store {
  const struct ch_store_ops *ops;
  void *impl; /* backend state */
  char errmsg[CH_STORE_ERRMSG_MAX];
};

/* Set the handle's error text (printf-style); returns rc for tail calls. */
ch_err ch_store_err(certhub_store *s, ch_err rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

extern const struct ch_store_ops ch_store_sqlite_ops;

/* certhub_store_reserve_cache() of the SQLite backend (store_sqlite.c). */
ch_err ch_sq_reserve_cache(unsigned handles);

/* See test_exec above. */
ch_err ch_store_test_exec(certhub_store *s, const char *stmt, char **first);

/* Shared helpers for backends. */

/* SANs as stored: one "TYPE:value" line each, "\" and newline escaped as
 * "\\" and "\n" so a hostile value cannot split a line. */
ch_err ch_store_sans_encode(const certhub_san *sans, size_t n, ch_buf *out);
/* Parses text (modified in place) into *sans allocated from arena. */
ch_err ch_store_sans_decode(struct ch_arena *arena, char *text,
                            certhub_san **sans, size_t *n);

#endif
