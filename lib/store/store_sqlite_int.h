/*
 * Private to the SQLite backend: what store_sqlite.c shares with
 * store_sqlite_probe.c (endpoints and probes, kept apart so the core file
 * stays readable).
 */
#ifndef CH_STORE_SQLITE_INT_H
#define CH_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include "store_int.h"

/* The connection and database path of an open SQLite handle, borrowed. */
sqlite3 *ch_sq_db(certhub_store *s);
const char *ch_sq_path(certhub_store *s);
/* The name of the WAL-write coalescing VFS (sqlite_vfs.c), registered on
 * first use; NULL when it cannot be (then SQLite's default is used). For
 * tests: runs written with one pwrite, and WAL writes that went into one. */
const char *ch_sq_walbuf_vfs(void);
extern unsigned long ch_sq_walbuf_flushes;
extern unsigned long ch_sq_walbuf_coalesced;
/* The process's page-cache region (store_sqlite.c, pcache_region): its
 * slots (0: not reserved, SQLite uses malloc), each slot's bytes, and the
 * slots in use now. For tests and measurements. */
typedef struct ch_sq_pcache_info {
  size_t slots, slot_size, used;
} ch_sq_pcache_info;
void ch_sq_pcache(ch_sq_pcache_info *out);
/* Set s->errmsg from an SQLite result code; returns the mapped ch_err. */
ch_err ch_sq_dberr(certhub_store *s, int rc, const char *what);

/* Statement helpers shared by the backend's files. ch_sq_prepare: an
 * uncached statement (for those run a few times per command); on failure
 * *st is NULL and s->errmsg names the problem. ch_sq_bind_opt binds v
 * (borrowed until the step) or NULL. ch_sq_col_str gives "" for NULL,
 * ch_sq_col_opt NULL. */
ch_err ch_sq_prepare(certhub_store *s, const char *sql, sqlite3_stmt **st);
void ch_sq_bind_opt(sqlite3_stmt *st, int i, const char *v);
const char *ch_sq_col_str(sqlite3_stmt *st, int i);
const char *ch_sq_col_opt(sqlite3_stmt *st, int i);

/* Migration 2: the endpoint and probe tables. */
extern const char ch_sq_probe_schema[];
/* Migration 3: the persistent chain-analysis cache. */
extern const char ch_sq_chain_checks_schema[];

/* Migration 6: topics and their message log (store_sqlite_notify.c). */
extern const char ch_sq_notify_schema[];
extern const char ch_sq_notify_sealed_schema[]; /* migration 9 */
extern const char ch_sq_notify_attrs_schema[];  /* migration 14 */
/* Migration 7: findings (store_sqlite_findings.c). */
extern const char ch_sq_findings_schema[];
/* Migration 15 (store_sqlite_findings.c): the query columns of migration
 * 10 stored, not generated. */
extern const char ch_sq_findings15_schema[];
extern const char ch_sq_findings17_schema[];
/* The findings statements cached per handle like the probe ones. */
enum ch_sq_fst {
  CH_FST_GET,
  CH_FST_INSERT,
  CH_FST_UPDATE,
  CH_FST_UPDATE_DATA,
  CH_FST_COUNT_NEW,
  CH_FST_COUNT_ADD,
  CH_FST__MAX
};
extern const char *const ch_sq_findings_sql[CH_FST__MAX];
ch_err ch_sq_fst(certhub_store *s, enum ch_sq_fst id, sqlite3_stmt **st);
/* Migration 10 and the findings queries (store_sqlite_findq.c). */
extern const char ch_sq_findq_schema[];
/* Migration 16: findings_counts and its triggers (store_sqlite_findq.c). */
extern const char ch_sq_findq_counts_schema[];
/* Migration 18: findings_by_region_type (store_sqlite_findq.c). */
extern const char ch_sq_findq_region_type_schema[];
/* Migration 19: findings_counts_insert dropped (store_sqlite_findq.c). */
extern const char ch_sq_findq_counts19_schema[];
/* For tests: CH_SQ_FINDQ_PLAIN runs findings queries and insights with the
 * plain plans (no counts, driver by rank_of, sorts as written), to compare
 * the optimised plans' results with; CH_SQ_FINDQ_COMBO takes the
 * combination plan whenever it can. 0: choose. */
enum {
  CH_SQ_FINDQ_AUTO,
  CH_SQ_FINDQ_PLAIN,
  CH_SQ_FINDQ_COMBO,
  CH_SQ_FINDQ_WALK /* walk findings_by_updated whenever the sort allows */
};
extern int ch_sq_findq_mode;
/* For tests: how many queries took the combination plan (choose_plan). */
extern unsigned long ch_sq_findq_combos;
/* For tests: queries chosen to be driven by findings_by_region_type. */
extern unsigned long ch_sq_findq_region_type;
/* For tests: queries that walked findings_by_updated (choose_plan). */
extern unsigned long ch_sq_findq_walks;
/* For tests and the bench: 0 turns off the cache of findings_counts'
 * sums (choose_plan); how often it answered. */
extern int ch_sq_findq_cache;
extern unsigned long ch_sq_findq_cache_hits;
ch_err ch_sq_findings_query(certhub_store *s, const certhub_findings_query *q,
                            certhub_fq_row_cb cb, void *ctx);
ch_err ch_sq_findings_group(certhub_store *s, const certhub_findings_query *q,
                            certhub_fq_field by, size_t limit,
                            certhub_fq_group_cb cb, void *ctx);
ch_err ch_sq_findings_prune(certhub_store *s, int64_t before, uint64_t *n);
/* Migration 13: the hub forwarding queue (store_sqlite_hub.c). Its
 * triggers on findings are a macro: migration 15 rebuilds the findings
 * table and must recreate them with the same text. */
#define CH_SQ_HUB_TRIGGERS                                                    \
  "CREATE TRIGGER hub_queue_insert AFTER INSERT ON findings"                  \
  " WHEN (SELECT enabled FROM hub_state WHERE id = 1) BEGIN"                  \
  " DELETE FROM hub_outbox"                                                   \
  "  WHERE product_arn = NEW.product_arn AND id = NEW.id;"                    \
  " INSERT INTO hub_outbox(product_arn, id)"                                  \
  "  VALUES(NEW.product_arn, NEW.id);"                                        \
  " END;"                                                                     \
  "CREATE TRIGGER hub_queue_update AFTER UPDATE ON findings"                  \
  " WHEN (SELECT enabled FROM hub_state WHERE id = 1) BEGIN"                  \
  " DELETE FROM hub_outbox"                                                   \
  "  WHERE product_arn = NEW.product_arn AND id = NEW.id;"                    \
  " INSERT INTO hub_outbox(product_arn, id)"                                  \
  "  VALUES(NEW.product_arn, NEW.id);"                                        \
  " END;"                                                                     \
  "CREATE TRIGGER hub_queue_delete AFTER DELETE ON findings BEGIN"            \
  " DELETE FROM hub_outbox"                                                   \
  "  WHERE product_arn = OLD.product_arn AND id = OLD.id;"                    \
  " END;"
/* Migration 20 on: the insert and update triggers exist only while the
 * hub is enabled (ch_sq_hub_enable makes and drops them), so a store that
 * does not forward pays nothing per findings write; without the WHEN
 * check of hub_state they would cost ~5.5 k instructions per insert. The
 * delete trigger stays (deletes are rare; it empties the queue's entry). */
#define CH_SQ_HUB_TRIGGERS_ON                                                 \
  "CREATE TRIGGER IF NOT EXISTS hub_queue_insert AFTER INSERT ON findings"    \
  " BEGIN"                                                                    \
  " DELETE FROM hub_outbox"                                                   \
  "  WHERE product_arn = NEW.product_arn AND id = NEW.id;"                    \
  " INSERT INTO hub_outbox(product_arn, id)"                                  \
  "  VALUES(NEW.product_arn, NEW.id);"                                        \
  " END;"                                                                     \
  "CREATE TRIGGER IF NOT EXISTS hub_queue_update AFTER UPDATE ON findings"    \
  " BEGIN"                                                                    \
  " DELETE FROM hub_outbox"                                                   \
  "  WHERE product_arn = NEW.product_arn AND id = NEW.id;"                    \
  " INSERT INTO hub_outbox(product_arn, id)"                                  \
  "  VALUES(NEW.product_arn, NEW.id);"                                        \
  " END;"
#define CH_SQ_HUB_TRIGGERS_OFF                                                \
  "DROP TRIGGER IF EXISTS hub_queue_insert;"                                  \
  "DROP TRIGGER IF EXISTS hub_queue_update;"
extern const char ch_sq_hub_schema[];
extern const char ch_sq_hub_triggers20_schema[];
/* Migration 20's second half, in its transaction: the triggers again if
 * the hub is enabled. */
ch_err ch_sq_hub_migrate20(certhub_store *s);
ch_err ch_sq_hub_enable(certhub_store *s, bool on, bool *changed);
ch_err ch_sq_hub_pending(certhub_store *s, size_t limit,
                         certhub_hub_item_cb cb, void *ctx);
ch_err ch_sq_hub_done(certhub_store *s, const int64_t *seqs, size_t n);
ch_err ch_sq_hub_state(certhub_store *s, bool *on, uint64_t *queued);

/* Statements of store_sqlite_probe.c, cached per handle like the core's:
 * prepared on first use, reset after each use, finalized at close. */
enum ch_sq_pst {
  CH_PST_ENDPOINT_UPSERT,
  CH_PST_ENDPOINT_ID,
  CH_PST_ENDPOINT_TAG,
  CH_PST_PROBE_ADD,
  CH_PST_CHAIN_ADD,
  CH_PST_ENDPOINT_LAST,
  CH_PST_PROBE_TRIM,
  CH_PST_CHECK_GET,
  CH_PST_CHECK_TOUCH,
  CH_PST_CHECK_PUT,
  CH_PST_CHECK_PRUNE,
  CH_PST__MAX
};
extern const char *const ch_sq_probe_sql[CH_PST__MAX];
/* The cached statement id (borrowed; reset it after use). */
ch_err ch_sq_pst(certhub_store *s, enum ch_sq_pst id, sqlite3_stmt **st);

/* Per-handle state of store_sqlite_probe.c, owned by the handle. */
typedef struct ch_sq_probe_state {
  ch_buf blob; /* the last chain_check_get's blob (borrowed by callers) */
  bool pruned; /* stale chain_checks rows deleted on this handle */
} ch_sq_probe_state;
ch_sq_probe_state *ch_sq_probe(certhub_store *s);

/* put_cert for a certificate already in the store, by its lowercase hex
 * SHA-256, without parsing it: the same effect as put_cert's update of a
 * known row (last_seen, account/region when labelled), sighting and tags.
 * *found is false (and nothing written) when no such certificate exists. */
ch_err ch_sq_put_known_cert(certhub_store *s, const char *sha256_hex,
                            const certhub_labels *labels, int64_t source_id,
                            unsigned position, int64_t scan_id, int64_t now,
                            int64_t *cert_rowid, bool *found);

ch_err ch_sq_put_probe(certhub_store *s, const certhub_probe_result *r,
                       const char *locator, const certhub_labels *labels,
                       int64_t now, int64_t *probe_id);
ch_err ch_sq_endpoints(certhub_store *s, const certhub_endpoint_filter *f,
                       certhub_endpoint_cb cb, void *ctx);
ch_err ch_sq_endpoint_resolve(certhub_store *s, const char *ref,
                              int64_t *endpoint_id);
ch_err ch_sq_chain_check_get(certhub_store *s, const uint8_t trust_id[32],
                             const uint8_t chain_key[32], int64_t now,
                             const uint8_t **blob, size_t *len, bool *found);
ch_err ch_sq_chain_check_put(certhub_store *s, const uint8_t trust_id[32],
                             const uint8_t chain_key[32], const uint8_t *blob,
                             size_t len, int64_t now);
ch_err ch_sq_endpoint_describe(certhub_store *s, int64_t endpoint_id,
                               size_t max_history,
                               certhub_endpoint_detail_cb cb, void *ctx);

/* Migration 5 and the statements of store_sqlite_lifecycle.c (lifecycle
 * marks), cached per handle like the probe ones. */
extern const char ch_sq_lifecycle_schema[];
enum ch_sq_lst { CH_LST_MARK_SET, CH_LST_MARK_GET, CH_LST__MAX };
extern const char *const ch_sq_lifecycle_sql[CH_LST__MAX];
ch_err ch_sq_lst(certhub_store *s, enum ch_sq_lst id, sqlite3_stmt **st);
ch_err ch_sq_mark_set(certhub_store *s, const char *key, int64_t now,
                      bool *was_new);
ch_err ch_sq_mark_get(certhub_store *s, const char *key, bool *found,
                      int64_t *created);
/* Migration 4 and the event bus (store_sqlite_bus.c). */
extern const char ch_sq_bus_schema[];
ch_err ch_sq_bus_create(certhub_store *s, const char *name, int64_t now);
ch_err ch_sq_bus_delete(certhub_store *s, const char *name);
ch_err ch_sq_bus_list(certhub_store *s, certhub_bus_name_cb cb, void *ctx);
ch_err ch_sq_bus_exists(certhub_store *s, const char *name, bool *exists);
ch_err ch_sq_rule_put(certhub_store *s, const certhub_bus_rule *r,
                      bool *created);
ch_err ch_sq_rule_get(certhub_store *s, const char *bus, const char *name,
                      certhub_bus_rule_cb cb, void *ctx);
ch_err ch_sq_rule_list(certhub_store *s, const char *bus,
                       certhub_bus_rule_cb cb, void *ctx);
ch_err ch_sq_rule_delete(certhub_store *s, const char *bus, const char *name);
ch_err ch_sq_rule_set_state(certhub_store *s, const char *bus,
                            const char *name, bool enabled, int64_t next_fire,
                            int64_t now);
ch_err ch_sq_rule_fired(certhub_store *s, const char *bus, const char *name,
                        int64_t last_fire, int64_t next_fire);
ch_err ch_sq_event_put(certhub_store *s, const certhub_bus_event_rec *e,
                       bool *stored, int64_t *seq);
ch_err ch_sq_events_unrouted(certhub_store *s, size_t limit,
                             certhub_bus_event_cb cb, void *ctx);
ch_err ch_sq_event_routed(certhub_store *s, int64_t seq);
ch_err ch_sq_event_list(certhub_store *s, const certhub_bus_event_filter *f,
                        certhub_bus_event_cb cb, void *ctx);
ch_err ch_sq_event_get(certhub_store *s, const char *id,
                       certhub_bus_event_cb cb, void *ctx);
ch_err ch_sq_event_prune(certhub_store *s, int64_t before, uint64_t *n);
ch_err ch_sq_outbox_add(certhub_store *s, int64_t event_seq, const char *bus,
                        const char *rule, const char *target_id,
                        const char *target, int64_t now, bool *added);
ch_err ch_sq_outbox_due(certhub_store *s, int64_t now, size_t limit,
                        certhub_bus_outbox_cb cb, void *ctx);
ch_err ch_sq_outbox_set(certhub_store *s, int64_t id, const char *state,
                        unsigned attempts, int64_t next_attempt_at,
                        const char *last_error, int64_t now);
ch_err ch_sq_outbox_list(certhub_store *s, const char *state, size_t limit,
                         certhub_bus_outbox_cb cb, void *ctx);
ch_err ch_sq_outbox_of_event(certhub_store *s, const char *event_id,
                             certhub_bus_outbox_cb cb, void *ctx);
ch_err ch_sq_outbox_redrive(certhub_store *s, int64_t id, int64_t now,
                            uint64_t *n);
ch_err ch_sq_outbox_purge(certhub_store *s, int64_t id, uint64_t *n);
ch_err ch_sq_bus_next_due(certhub_store *s, int64_t *when, bool *found);
/* store_sqlite_notify.c */
ch_err ch_sq_topic_create(certhub_store *s, const char *name, const char *arn,
                          const char *display_name, int64_t now,
                          bool *created);
ch_err ch_sq_topic_get(certhub_store *s, const char *name, certhub_topic_cb cb,
                       void *ctx);
ch_err ch_sq_topic_list(certhub_store *s, certhub_topic_cb cb, void *ctx);
ch_err ch_sq_topic_delete(certhub_store *s, const char *name);
ch_err ch_sq_message_add(certhub_store *s, const certhub_message *m);
ch_err ch_sq_messages(certhub_store *s, const char *topic, size_t limit,
                      certhub_message_cb cb, void *ctx);
/* store_sqlite_findings.c */
ch_err ch_sq_finding_get(certhub_store *s, const char *product_arn,
                         const char *id, certhub_finding_cb cb, void *ctx);
ch_err ch_sq_findings_count_add(certhub_store *s,
                                const certhub_finding_row *key, int64_t n);
ch_err ch_sq_finding_put(certhub_store *s, const certhub_finding_row *f,
                         int64_t now);
ch_err ch_sq_findings(certhub_store *s, const certhub_findings_filter *f,
                      certhub_finding_cb cb, void *ctx);
/* store_sqlite_tokens.c */
extern const char ch_sq_tokens_schema[];
ch_err ch_sq_token_put(certhub_store *s, const certhub_token_row *t);
ch_err ch_sq_token_find(certhub_store *s, const char *hash,
                        certhub_token_cb cb, void *ctx);
ch_err ch_sq_token_list(certhub_store *s, certhub_token_cb cb, void *ctx);
ch_err ch_sq_token_revoke(certhub_store *s, const char *name);
ch_err ch_sq_findings_by_id(certhub_store *s, const char *id,
                            certhub_finding_cb cb, void *ctx);

/* Migration 8 and store_sqlite_deliver.c: subscriptions, deliveries. */
extern const char ch_sq_deliver_schema[];
ch_err ch_sq_sub_put(certhub_store *s, const certhub_subscription *sub,
                     const char *confirm_id, int64_t now_ms, bool *created,
                     char *arn_out, bool *pending);
ch_err ch_sq_subs(certhub_store *s, const char *topic, const char *arn,
                  certhub_subscription_cb cb, void *ctx);
ch_err ch_sq_sub_confirm(certhub_store *s, const char *topic,
                         const char *token, int64_t now, char *arn_out);
ch_err ch_sq_sub_delete(certhub_store *s, const char *arn);
ch_err ch_sq_fanout(certhub_store *s, int64_t now_ms, uint64_t *n);
ch_err ch_sq_deliveries_due(certhub_store *s, int64_t now_ms, int64_t after_ms,
                            int64_t after_id, size_t limit,
                            certhub_sns_delivery_cb cb, void *ctx);
ch_err ch_sq_deliveries_update(certhub_store *s,
                               const certhub_sns_delivery_update *u, size_t n);
ch_err ch_sq_deliveries(certhub_store *s, const certhub_sns_delivery_filter *f,
                        certhub_sns_delivery_cb cb, void *ctx);
ch_err ch_sq_dlq_redrive(certhub_store *s, int64_t id, const char *topic,
                         int64_t now_ms, uint64_t *n);
ch_err ch_sq_dlq_purge(certhub_store *s, int64_t id, const char *topic,
                       uint64_t *n);
ch_err ch_sq_delivery_next_due(certhub_store *s, int64_t *when_ms,
                               bool *found);

#endif
