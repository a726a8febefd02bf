/*
 * Public store API: picks a backend by the target's scheme and dispatches
 * through its ops table. No SQL here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Scheme table. A NULL ops marks a known scheme whose backend is not built
 * yet; adding one means a store_<name>.c and its ops in this table. */
static const struct {
  const char *prefix;
  const struct ch_store_ops *ops;
  const char *missing; /* message when ops is NULL */
} schemes[] = {
    {"sqlite:", &ch_store_sqlite_ops, NULL},
    {"postgresql://", NULL, "PostgreSQL backend is not built yet"},
    {"postgres://", NULL, "PostgreSQL backend is not built yet"},
};

ch_err ch_store_err(certhub_store *s, ch_err rc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
  va_end(ap);
  return rc;
}

static void set_errmsg(char **errmsg, const char *fmt, const char *a,
                       const char *b)
{
  if(!errmsg)
    return;
  int n = snprintf(NULL, 0, fmt, a, b);
  if(n < 0)
    return;
  *errmsg = malloc((size_t)n + 1);
  if(*errmsg)
    snprintf(*errmsg, (size_t)n + 1, fmt, a, b);
}

ch_err certhub_store_open(const char *target, certhub_store **out,
                          char **errmsg)
{
  ch_err rc = CH_OK;
  certhub_store *s = NULL;
  const struct ch_store_ops *ops = &ch_store_sqlite_ops;
  const char *location = target;

  if(errmsg)
    *errmsg = NULL;
  if(!out)
    return CH_ERR_USAGE;
  *out = NULL;
  if(!target || !*target) {
    set_errmsg(errmsg, "%s%s", "store target is empty", "");
    return CH_ERR_USAGE;
  }
  for(size_t i = 0; i < CH_ARRAY_LEN(schemes); i++) {
    size_t n = strlen(schemes[i].prefix);
    if(strncmp(target, schemes[i].prefix, n) != 0)
      continue;
    if(!schemes[i].ops) {
      set_errmsg(errmsg, "%s: %s", target, schemes[i].missing);
      return CH_ERR_UNSUPPORTED;
    }
    ops = schemes[i].ops;
    location = target + n;
    break;
  }
  /* A plain path is SQLite, but "foo://" is a scheme we do not know. */
  if(location == target && strstr(target, "://")) {
    set_errmsg(errmsg, "%s: %s", target, "unknown store scheme");
    return CH_ERR_UNSUPPORTED;
  }

  s = calloc(1, sizeof(*s));
  if(!s) {
    set_errmsg(errmsg, "%s: %s", target, "out of memory");
    return CH_ERR_NOMEM;
  }
  s->ops = ops;
  rc = ops->open(s, location);
  if(rc) {
    set_errmsg(errmsg, "%s%s", s->errmsg, "");
    certhub_store_close(s);
    s = NULL;
    goto out;
  }
  s->errmsg[0] = '\0';
  *out = s;
out:
  return rc;
}

void certhub_store_close(certhub_store *s)
{
  if(!s)
    return;
  if(s->ops)
    s->ops->close(s);
  free(s);
}

const char *certhub_store_errmsg(const certhub_store *s)
{
  return s ? s->errmsg : "";
}

/* Every call starts with a clean error text so errmsg always describes
 * the last call. */
#define DISPATCH(s, op, ...)                                                  \
  do {                                                                        \
    if(!(s))                                                                  \
      return CH_ERR_USAGE;                                                    \
    (s)->errmsg[0] = '\0';                                                    \
    return (s)->ops->op(__VA_ARGS__);                                         \
  } while(0)

ch_err certhub_store_schema_version(certhub_store *s, int *version)
{
  if(!version)
    return CH_ERR_USAGE;
  DISPATCH(s, schema_version, s, version);
}

ch_err certhub_store_begin(certhub_store *s)
{
  DISPATCH(s, begin, s);
}

ch_err certhub_store_commit(certhub_store *s)
{
  DISPATCH(s, commit, s);
}

ch_err certhub_store_rollback(certhub_store *s)
{
  DISPATCH(s, rollback, s);
}

ch_err certhub_store_savepoint(certhub_store *s)
{
  DISPATCH(s, savepoint, s);
}

ch_err certhub_store_release(certhub_store *s)
{
  DISPATCH(s, release, s);
}

ch_err certhub_store_rollback_to(certhub_store *s)
{
  DISPATCH(s, rollback_to, s);
}

ch_err certhub_store_source(certhub_store *s, const char *kind,
                            const char *locator, int64_t *source_id)
{
  if(s && (!kind || !*kind || !locator || !*locator || !source_id))
    return ch_store_err(s, CH_ERR_USAGE, "source needs a kind and locator");
  DISPATCH(s, source, s, kind, locator, source_id);
}

ch_err certhub_store_scan_begin(certhub_store *s, int64_t source_id,
                                int64_t now, int64_t *scan_id)
{
  if(!scan_id)
    return CH_ERR_USAGE;
  DISPATCH(s, scan_begin, s, source_id, now, scan_id);
}

ch_err certhub_store_put_cert(certhub_store *s, const certhub_cert *c,
                              const certhub_labels *labels, int64_t source_id,
                              unsigned position, int64_t scan_id, int64_t now,
                              int64_t *cert_rowid, bool *created)
{
  if(s && !c)
    return ch_store_err(s, CH_ERR_USAGE, "put_cert without a certificate");
  if(s && labels && labels->n_tags &&
     (!labels->tag_keys || !labels->tag_values))
    return ch_store_err(s, CH_ERR_USAGE, "labels: tag arrays missing");
  DISPATCH(s, put_cert, s, c, labels, source_id, position, scan_id, now,
           cert_rowid, created);
}

ch_err certhub_store_scan_finish(certhub_store *s, int64_t source_id,
                                 int64_t scan_id, int64_t now,
                                 unsigned *n_gone, unsigned *n_replaced)
{
  DISPATCH(s, scan_finish, s, source_id, scan_id, now, n_gone, n_replaced);
}

ch_err certhub_store_list(certhub_store *s, const certhub_filter *f,
                          int64_t now, certhub_row_cb cb, void *ctx)
{
  static const certhub_filter all = {0};
  if(!cb)
    return CH_ERR_USAGE;
  DISPATCH(s, list, s, f ? f : &all, now, cb, ctx);
}

ch_err certhub_store_resolve(certhub_store *s, const char *ref,
                             int64_t **rowids, size_t *n)
{
  if(!rowids || !n)
    return CH_ERR_USAGE;
  *rowids = NULL;
  *n = 0;
  if(s && (!ref || !*ref))
    return ch_store_err(s, CH_ERR_USAGE, "empty certificate reference");
  DISPATCH(s, resolve, s, ref, rowids, n);
}

ch_err certhub_store_get_der(certhub_store *s, int64_t rowid, uint8_t **der,
                             size_t *len)
{
  if(!der || !len)
    return CH_ERR_USAGE;
  *der = NULL;
  *len = 0;
  DISPATCH(s, get_der, s, rowid, der, len);
}

ch_err certhub_store_issuers(certhub_store *s, int64_t rowid, int64_t **rowids,
                             size_t *n)
{
  if(!rowids || !n)
    return CH_ERR_USAGE;
  *rowids = NULL;
  *n = 0;
  DISPATCH(s, issuers, s, rowid, rowids, n);
}

ch_err certhub_store_tag_set(certhub_store *s, int64_t rowid, const char *key,
                             const char *value)
{
  if(s && (!key || !*key))
    return ch_store_err(s, CH_ERR_USAGE, "tag key is empty");
  DISPATCH(s, tag_set, s, rowid, key, value ? value : "");
}

ch_err certhub_store_tag_remove(certhub_store *s, int64_t rowid,
                                const char *key)
{
  if(s && (!key || !*key))
    return ch_store_err(s, CH_ERR_USAGE, "tag key is empty");
  DISPATCH(s, tag_remove, s, rowid, key);
}

ch_err certhub_store_delete(certhub_store *s, int64_t rowid)
{
  DISPATCH(s, del, s, rowid);
}

ch_err certhub_store_counts_get(certhub_store *s, certhub_store_counts *out)
{
  if(!out)
    return CH_ERR_USAGE;
  DISPATCH(s, counts_get, s, out);
}

ch_err certhub_store_put_probe(certhub_store *s, const certhub_probe_result *r,
                               const char *locator,
                               const certhub_labels *labels, int64_t now,
                               int64_t *probe_id)
{
  if(probe_id)
    *probe_id = 0;
  if(s && (!r || !r->target || !r->target->host || !locator || !*locator))
    return ch_store_err(s, CH_ERR_USAGE,
                        "put_probe needs a result, its target and a locator");
  if(s && r->chain_n && (!r->chain_der || !r->chain_len))
    return ch_store_err(s, CH_ERR_USAGE, "put_probe: chain arrays missing");
  if(s && labels && labels->n_tags &&
     (!labels->tag_keys || !labels->tag_values))
    return ch_store_err(s, CH_ERR_USAGE, "labels: tag arrays missing");
  DISPATCH(s, put_probe, s, r, locator, labels, now, probe_id);
}

ch_err certhub_store_chain_check_get(certhub_store *s,
                                     const uint8_t trust_id[32],
                                     const uint8_t chain_key[32], int64_t now,
                                     const uint8_t **blob, size_t *len,
                                     bool *found)
{
  if(!blob || !len || !found)
    return CH_ERR_USAGE;
  *blob = NULL;
  *len = 0;
  *found = false;
  if(s && (!trust_id || !chain_key))
    return ch_store_err(s, CH_ERR_USAGE, "chain check: keys missing");
  DISPATCH(s, chain_check_get, s, trust_id, chain_key, now, blob, len, found);
}

ch_err certhub_store_chain_check_put(certhub_store *s,
                                     const uint8_t trust_id[32],
                                     const uint8_t chain_key[32],
                                     const uint8_t *blob, size_t len,
                                     int64_t now)
{
  if(s && (!trust_id || !chain_key || (!blob && len)))
    return ch_store_err(s, CH_ERR_USAGE, "chain check: keys or blob missing");
  if(s && len > CERTHUB_CHAIN_CHECK_MAX)
    return ch_store_err(s, CH_ERR_TOOBIG,
                        "chain check: blob of %zu bytes (at most %zu)", len,
                        CERTHUB_CHAIN_CHECK_MAX);
  DISPATCH(s, chain_check_put, s, trust_id, chain_key, blob, len, now);
}

ch_err certhub_store_endpoints(certhub_store *s,
                               const certhub_endpoint_filter *f,
                               certhub_endpoint_cb cb, void *ctx)
{
  static const certhub_endpoint_filter all = {.status = -1};
  if(!cb)
    return CH_ERR_USAGE;
  DISPATCH(s, endpoints, s, f ? f : &all, cb, ctx);
}

ch_err certhub_store_endpoint_resolve(certhub_store *s, const char *ref,
                                      int64_t *endpoint_id)
{
  if(!endpoint_id)
    return CH_ERR_USAGE;
  *endpoint_id = 0;
  if(s && (!ref || !*ref))
    return ch_store_err(s, CH_ERR_USAGE, "empty endpoint reference");
  DISPATCH(s, endpoint_resolve, s, ref, endpoint_id);
}

ch_err certhub_store_endpoint_describe(certhub_store *s, int64_t endpoint_id,
                                       size_t max_history,
                                       certhub_endpoint_detail_cb cb,
                                       void *ctx)
{
  if(!cb)
    return CH_ERR_USAGE;
  DISPATCH(s, endpoint_describe, s, endpoint_id, max_history, cb, ctx);
}

ch_err certhub_store_wal_external(certhub_store *s, unsigned fallback)
{
  if(s && !s->ops->wal_external)
    return CH_ERR_UNSUPPORTED;
  DISPATCH(s, wal_external, s, fallback);
}

unsigned certhub_store_wal_pages(const certhub_store *s)
{
  return s && s->ops->wal_pages ? s->ops->wal_pages(s) : 0;
}

ch_err certhub_store_checkpoint(certhub_store *s, bool restart,
                                unsigned *wal_pages, unsigned *done)
{
  unsigned dummy[2];
  if(!wal_pages)
    wal_pages = &dummy[0];
  if(!done)
    done = &dummy[1];
  *wal_pages = *done = 0;
  if(s && !s->ops->checkpoint)
    return CH_ERR_UNSUPPORTED;
  DISPATCH(s, checkpoint, s, restart, wal_pages, done);
}

ch_err certhub_store_reserve_cache(unsigned handles)
{
  return ch_sq_reserve_cache(handles);
}

ch_err certhub_store_cache_stats(const certhub_store *s,
                                 certhub_store_cache *out)
{
  *out = (certhub_store_cache){0};
  if(!s)
    return CH_ERR_USAGE;
  if(!s->ops->cache_stats)
    return CH_ERR_UNSUPPORTED;
  return s->ops->cache_stats(s, out);
}

ch_err ch_store_test_exec(certhub_store *s, const char *stmt, char **first)
{
  if(first)
    *first = NULL;
  if(!stmt)
    return CH_ERR_USAGE;
  DISPATCH(s, test_exec, s, stmt, first);
}

ch_err certhub_store_mark_set(certhub_store *s, const char *key, int64_t now,
                              bool *was_new)
{
  if(was_new)
    *was_new = false;
  if(s && (!key || !*key || strlen(key) > CERTHUB_MARK_KEY_MAX))
    return ch_store_err(s, CH_ERR_USAGE, "mark key empty or too long");
  DISPATCH(s, mark_set, s, key, now, was_new);
}

ch_err certhub_store_mark_get(certhub_store *s, const char *key, bool *found,
                              int64_t *created)
{
  if(!found)
    return CH_ERR_USAGE;
  *found = false;
  if(created)
    *created = 0;
  if(s && (!key || !*key))
    return ch_store_err(s, CH_ERR_USAGE, "empty mark key");
  DISPATCH(s, mark_get, s, key, found, created);
}

/* ---- event bus (certhub/bus_store.h) ----------------------------------- */

#define NEED(s, cond, what)                                                   \
  do {                                                                        \
    if((s) && !(cond))                                                        \
      return ch_store_err((s), CH_ERR_USAGE, "%s", (what));                   \
  } while(0)

ch_err certhub_store_bus_create(certhub_store *s, const char *name,
                                int64_t now)
{
  NEED(s, name && *name, "bus_create needs a name");
  DISPATCH(s, bus_create, s, name, now);
}

ch_err certhub_store_bus_delete(certhub_store *s, const char *name)
{
  NEED(s, name && *name, "bus_delete needs a name");
  DISPATCH(s, bus_delete, s, name);
}

ch_err certhub_store_bus_list(certhub_store *s, certhub_bus_name_cb cb,
                              void *ctx)
{
  NEED(s, cb, "bus_list needs a callback");
  DISPATCH(s, bus_list, s, cb, ctx);
}

ch_err certhub_store_bus_exists(certhub_store *s, const char *name,
                                bool *exists)
{
  NEED(s, name && exists, "bus_exists needs a name");
  DISPATCH(s, bus_exists, s, name, exists);
}

ch_err certhub_store_rule_put(certhub_store *s, const certhub_bus_rule *r,
                              bool *created)
{
  NEED(s, r && r->bus && r->name && (!r->pattern != !r->schedule),
       "rule_put needs a bus, a name and one of pattern or schedule");
  DISPATCH(s, rule_put, s, r, created);
}

ch_err certhub_store_rule_get(certhub_store *s, const char *bus,
                              const char *name, certhub_bus_rule_cb cb,
                              void *ctx)
{
  NEED(s, bus && name && cb, "rule_get needs a bus, a name and a callback");
  DISPATCH(s, rule_get, s, bus, name, cb, ctx);
}

ch_err certhub_store_rule_list(certhub_store *s, const char *bus,
                               certhub_bus_rule_cb cb, void *ctx)
{
  NEED(s, cb, "rule_list needs a callback");
  DISPATCH(s, rule_list, s, bus, cb, ctx);
}

ch_err certhub_store_rule_delete(certhub_store *s, const char *bus,
                                 const char *name)
{
  NEED(s, bus && name, "rule_delete needs a bus and a name");
  DISPATCH(s, rule_delete, s, bus, name);
}

ch_err certhub_store_rule_set_state(certhub_store *s, const char *bus,
                                    const char *name, bool enabled,
                                    int64_t next_fire, int64_t now)
{
  NEED(s, bus && name, "rule_set_state needs a bus and a name");
  DISPATCH(s, rule_set_state, s, bus, name, enabled, next_fire, now);
}

ch_err certhub_store_rule_fired(certhub_store *s, const char *bus,
                                const char *name, int64_t last_fire,
                                int64_t next_fire)
{
  NEED(s, bus && name, "rule_fired needs a bus and a name");
  DISPATCH(s, rule_fired, s, bus, name, last_fire, next_fire);
}

ch_err certhub_store_event_put(certhub_store *s,
                               const certhub_bus_event_rec *e, bool *stored,
                               int64_t *seq)
{
  NEED(s,
       e && e->id && e->bus && e->source && e->detail_type && e->envelope &&
           stored,
       "event_put needs an id, bus, source, detail-type and envelope");
  DISPATCH(s, event_put, s, e, stored, seq);
}

ch_err certhub_store_events_unrouted(certhub_store *s, size_t limit,
                                     certhub_bus_event_cb cb, void *ctx)
{
  NEED(s, cb, "events_unrouted needs a callback");
  DISPATCH(s, events_unrouted, s, limit, cb, ctx);
}

ch_err certhub_store_event_routed(certhub_store *s, int64_t seq)
{
  DISPATCH(s, event_routed, s, seq);
}

ch_err certhub_store_event_list(certhub_store *s,
                                const certhub_bus_event_filter *f,
                                certhub_bus_event_cb cb, void *ctx)
{
  static const certhub_bus_event_filter all = {0};
  NEED(s, cb, "event_list needs a callback");
  DISPATCH(s, event_list, s, f ? f : &all, cb, ctx);
}

ch_err certhub_store_event_get(certhub_store *s, const char *id,
                               certhub_bus_event_cb cb, void *ctx)
{
  NEED(s, id && cb, "event_get needs an id and a callback");
  DISPATCH(s, event_get, s, id, cb, ctx);
}

ch_err certhub_store_event_prune(certhub_store *s, int64_t before,
                                 uint64_t *n_deleted)
{
  NEED(s, n_deleted, "event_prune needs a count");
  DISPATCH(s, event_prune, s, before, n_deleted);
}

ch_err certhub_store_outbox_add(certhub_store *s, int64_t event_seq,
                                const char *bus, const char *rule,
                                const char *target_id, const char *target,
                                int64_t now, bool *added)
{
  NEED(s, bus && rule && target_id && target,
       "outbox_add needs a bus, rule, target id and target");
  DISPATCH(s, outbox_add, s, event_seq, bus, rule, target_id, target, now,
           added);
}

ch_err certhub_store_outbox_due(certhub_store *s, int64_t now, size_t limit,
                                certhub_bus_outbox_cb cb, void *ctx)
{
  NEED(s, cb, "outbox_due needs a callback");
  DISPATCH(s, outbox_due, s, now, limit, cb, ctx);
}

ch_err certhub_store_outbox_set(certhub_store *s, int64_t id,
                                const char *state, unsigned attempts,
                                int64_t next_attempt_at,
                                const char *last_error, int64_t now)
{
  NEED(s, state, "outbox_set needs a state");
  DISPATCH(s, outbox_set, s, id, state, attempts, next_attempt_at, last_error,
           now);
}

ch_err certhub_store_outbox_list(certhub_store *s, const char *state,
                                 size_t limit, certhub_bus_outbox_cb cb,
                                 void *ctx)
{
  NEED(s, cb, "outbox_list needs a callback");
  DISPATCH(s, outbox_list, s, state, limit, cb, ctx);
}

ch_err certhub_store_outbox_of_event(certhub_store *s, const char *event_id,
                                     certhub_bus_outbox_cb cb, void *ctx)
{
  NEED(s, event_id && cb, "outbox_of_event needs an event id and a callback");
  DISPATCH(s, outbox_of_event, s, event_id, cb, ctx);
}

ch_err certhub_store_outbox_redrive(certhub_store *s, int64_t id, int64_t now,
                                    uint64_t *n)
{
  NEED(s, n, "outbox_redrive needs a count");
  DISPATCH(s, outbox_redrive, s, id, now, n);
}

ch_err certhub_store_outbox_purge(certhub_store *s, int64_t id, uint64_t *n)
{
  NEED(s, n, "outbox_purge needs a count");
  DISPATCH(s, outbox_purge, s, id, n);
}

ch_err certhub_store_bus_next_due(certhub_store *s, int64_t *when, bool *found)
{
  NEED(s, when && found, "bus_next_due needs outputs");
  DISPATCH(s, bus_next_due, s, when, found);
}

ch_err certhub_store_set_error(certhub_store *s, ch_err rc, const char *fmt,
                               ...)
{
  if(!s)
    return rc;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
  va_end(ap);
  return rc;
}
