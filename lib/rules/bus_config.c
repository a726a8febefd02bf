/*
 * The configuration's buses and rules applied to the store: config rules
 * are put with managed_by "config" (a CLI rule of the same name is taken
 * over), config rules no longer in the file are deleted, CLI rules are
 * left alone. One transaction: a bad rule changes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "bus_int.h"

typedef struct stale {
  char **bus, **name;
  size_t n, alloc;
  const certhub_config *cfg;
} stale;

static bool in_config(const certhub_config *cfg, const char *bus,
                      const char *name)
{
  for(size_t i = 0; i < cfg->n_rules; i++) {
    const certhub_rule_cfg *r = &cfg->rules[i];
    if(!strcmp(r->name, name) &&
       !strcmp(r->bus ? r->bus : CERTHUB_DEFAULT_BUS, bus))
      return true;
  }
  return false;
}

static ch_err find_stale(void *ctx, const certhub_bus_rule *r)
{
  stale *st = ctx;
  if(strcmp(r->managed_by, CERTHUB_RULE_BY_CONFIG) ||
     in_config(st->cfg, r->bus, r->name))
    return CH_OK;
  if(st->n == st->alloc) {
    size_t na = st->alloc ? 2 * st->alloc : 8;
    char **nb = realloc(st->bus, na * sizeof(*nb));
    if(!nb)
      return CH_ERR_NOMEM;
    st->bus = nb;
    char **nn = realloc(st->name, na * sizeof(*nn));
    if(!nn)
      return CH_ERR_NOMEM;
    st->name = nn;
    st->alloc = na;
  }
  st->bus[st->n] = strdup(r->bus);
  st->name[st->n] = strdup(r->name);
  st->n++;
  return st->bus[st->n - 1] && st->name[st->n - 1] ? CH_OK : CH_ERR_NOMEM;
}

ch_err certhub_bus_apply_config(certhub_store *s, const certhub_config *cfg,
                                int64_t now, certhub_bus_target_check check,
                                void *ctx)
{
  stale st = {.cfg = cfg};
  if(!s || !cfg)
    return CH_ERR_USAGE;
  ch_err rc = certhub_store_begin(s);
  if(rc)
    return rc;
  for(size_t i = 0; !rc && i < cfg->n_buses; i++) {
    bool exists = false;
    rc = certhub_store_bus_exists(s, cfg->buses[i], &exists);
    if(!rc && !exists)
      rc = certhub_bus_create(s, cfg->buses[i], now);
  }
  for(size_t i = 0; !rc && i < cfg->n_rules; i++) {
    const certhub_rule_cfg *c = &cfg->rules[i];
    certhub_bus_rule r = {.bus = c->bus,
                          .name = c->name,
                          .pattern = c->pattern,
                          .schedule = c->schedule,
                          .enabled = c->enabled,
                          .description = c->description,
                          .batch = c->batch,
                          .targets = c->targets,
                          .managed_by = CERTHUB_RULE_BY_CONFIG};
    rc = certhub_bus_rule_put(s, &r, now, check, ctx, NULL);
    if(rc) {
      char keep[900];
      snprintf(keep, sizeof(keep), "%s", certhub_store_errmsg(s));
      certhub_store_set_error(s, rc, "%s:%d: rules[%zu]: %s",
                              cfg->file ? cfg->file : "config", c->line, i,
                              keep);
    }
  }
  if(!rc)
    rc = certhub_store_rule_list(s, NULL, find_stale, &st);
  for(size_t i = 0; !rc && i < st.n; i++)
    rc = certhub_store_rule_delete(s, st.bus[i], st.name[i]);
  for(size_t i = 0; i < st.n; i++) {
    free(st.bus[i]);
    free(st.name[i]);
  }
  free(st.bus);
  free(st.name);
  if(!rc)
    return certhub_store_commit(s);
  char keep[1024];
  snprintf(keep, sizeof(keep), "%s", certhub_store_errmsg(s));
  certhub_store_rollback(s);
  if(rc == CH_ERR_NOMEM && !*keep)
    snprintf(keep, sizeof(keep), "out of memory");
  certhub_store_set_error(s, rc, "%s", keep);
  return rc;
}

ch_err certhub_bus_config_check(const certhub_config *cfg,
                                certhub_bus_target_check check, void *ctx,
                                char **errmsg)
{
  *errmsg = NULL;
  for(size_t i = 0; i < cfg->n_buses; i++) {
    if(!ch_bus_name_ok(cfg->buses[i]) ||
       !strcmp(cfg->buses[i], CERTHUB_DEFAULT_BUS)) {
      const char *fmt = "%s: buses: '%.200s' is not a valid bus name (1-256 "
                        "of A-Z a-z 0-9 . _ - /, not default)";
      int n = snprintf(NULL, 0, fmt, cfg->file, cfg->buses[i]);
      if(n > 0 && (*errmsg = malloc((size_t)n + 1)))
        snprintf(*errmsg, (size_t)n + 1, fmt, cfg->file, cfg->buses[i]);
      return CH_ERR_CONFIG;
    }
  }
  for(size_t i = 0; i < cfg->n_rules; i++) {
    const certhub_rule_cfg *c = &cfg->rules[i];
    certhub_bus_rule r = {.bus = c->bus,
                          .name = c->name,
                          .pattern = c->pattern,
                          .schedule = c->schedule,
                          .enabled = c->enabled,
                          .description = c->description,
                          .batch = c->batch,
                          .targets = c->targets};
    char *err = NULL;
    ch_err rc = certhub_bus_rule_validate(&r, check, ctx, &err);
    if(rc) {
      /* Point at the part that is wrong. */
      int line = c->line;
      if(err && strstr(err, "invalid event pattern") && c->pattern_line)
        line = c->pattern_line;
      else if(err && strstr(err, "invalid schedule") && c->schedule_line)
        line = c->schedule_line;
      else if(err && strstr(err, "target") && c->targets_line)
        line = c->targets_line;
      const char *fmt = "%s:%d: rules[%zu]: %s";
      const char *m = err ? err : certhub_strerror(rc);
      int n = snprintf(NULL, 0, fmt, cfg->file, line, i, m);
      if(n > 0 && (*errmsg = malloc((size_t)n + 1)))
        snprintf(*errmsg, (size_t)n + 1, fmt, cfg->file, line, i, m);
      free(err);
      return CH_ERR_CONFIG;
    }
    /* A rule on a bus that the file does not create must already exist
     * in the store: not checked here (no store). */
  }
  return CH_OK;
}
