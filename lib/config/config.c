/*
 * certhub_config: the YAML configuration file turned into certhub_config.
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/config.h"
#include "config_int.h"

static const char *const top_keys[] = {
    "db",      "account",   "region", "expiry_threshold_days",
    "sources", "endpoints", "probe",  "event_source",
    "buses",   "rules", "event_retention_days",
    "notify", "http", "topics", "hub", "findings",
};

static const char *const endpoint_keys[] = {
    "target",        "sni",  "starttls",
    "all_addresses", "tags", "expiry_threshold_days",
};

static const char *const probe_keys[] = {
    "concurrency", "per_host",    "timeout",
    "ca_file",     "client_cert", "client_key",
};

static const char *const source_keys[] = {
    "name",          "paths",         "exclude",
    "tags",          "password_file", "expiry_threshold_days",
    "account",       "region",        "renew_command",
    "renew_timeout",
};

static ch_err get_threshold(ch_cfgerr *e, const ch_ynode *n, const char *path,
                            int *out)
{
  long v;
  ch_err rc = ch_cfg_int(e, n, path, 1, 365, &v);
  if(!rc)
    *out = (int)v;
  return rc;
}

/* Account IDs are 12 digits, as in AWS ARNs. */
static ch_err get_account(ch_cfgerr *e, const ch_ynode *n, const char *path,
                          char **out)
{
  ch_err rc = ch_cfg_string(e, n, path, out);
  if(rc)
    return rc;
  size_t len = strlen(*out);
  bool ok = len == 12;
  for(size_t i = 0; ok && i < len; i++)
    ok = (*out)[i] >= '0' && (*out)[i] <= '9';
  if(ok)
    return CH_OK;
  ch_safefree(*out);
  return ch_cfg_errorf(e, n, path, "must be exactly 12 digits, got \"%.64s\"",
                       n->str);
}

static ch_err get_region(ch_cfgerr *e, const ch_ynode *n, const char *path,
                         char **out)
{
  ch_err rc = ch_cfg_string(e, n, path, out);
  if(rc)
    return rc;
  size_t len = strlen(*out);
  bool ok = len >= 1 && len <= 32;
  for(size_t i = 0; ok && i < len; i++) {
    char c = (*out)[i];
    ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  }
  if(ok)
    return CH_OK;
  ch_safefree(*out);
  return ch_cfg_errorf(e, n, path,
                       "invalid region \"%.64s\" (expected 1 to 32 of a-z, "
                       "0-9 and -)",
                       n->str);
}

static ch_err get_tags(ch_cfgerr *e, const ch_ynode *n, const char *path,
                       certhub_tag **tags, size_t *n_tags)
{
  if(!n || n->kind != CH_Y_MAP)
    return ch_cfg_errorf(e, n, path,
                         "expected a map of tag names to values, "
                         "got %s",
                         ch_ynode_kind_name(n));
  if(!n->n)
    return CH_OK;
  *tags = calloc(n->n, sizeof(**tags));
  if(!*tags)
    return CH_ERR_NOMEM;
  for(const ch_ynode *k = n->first; k; k = k->next) {
    char kp[1024];
    ch_cfg_path(kp, sizeof(kp), path, k->str);
    if(!k->len || strlen(k->str) != k->len)
      return ch_cfg_errorf(e, k, kp, "invalid tag name");
    const ch_ynode *v = k->value;
    if(v->kind != CH_Y_SCALAR)
      return ch_cfg_errorf(e, v, kp, "tag value must be a string, got %s",
                           ch_ynode_kind_name(v));
    if(strlen(v->str) != v->len)
      return ch_cfg_errorf(e, v, kp, "contains a NUL byte");
    certhub_tag *t = &(*tags)[*n_tags];
    t->key = strdup(k->str);
    /* "owner:" with nothing after it is an empty tag value. */
    t->value = strdup(ch_ynode_is_null(v) ? "" : v->str);
    if(!t->key || !t->value) {
      free((char *)t->key);
      free((char *)t->value);
      t->key = t->value = NULL;
      return CH_ERR_NOMEM;
    }
    (*n_tags)++;
  }
  return CH_OK;
}

static ch_err get_duration(ch_cfgerr *e, const ch_ynode *n, const char *path,
                           unsigned *ms);

/* renew_command: a list is the argv as is; a string runs with /bin/sh -c
 * (stored as that argv, so the runner has one form). */
static ch_err get_command(ch_cfgerr *e, const ch_ynode *n, const char *path,
                          certhub_source_cfg *src)
{
  char **v = NULL;
  size_t nv = 0;
  ch_err rc;
  if(n && n->kind == CH_Y_SCALAR) {
    char *text = NULL;
    rc = ch_cfg_string(e, n, path, &text);
    if(rc)
      return rc;
    if(!*text) {
      free(text);
      return ch_cfg_errorf(e, n, path, "is empty");
    }
    v = calloc(4, sizeof(*v));
    if(!v || !(v[0] = strdup("/bin/sh")) || !(v[1] = strdup("-c"))) {
      ch_cfg_strv_free(v, v ? 2 : 0);
      free(text);
      return CH_ERR_NOMEM;
    }
    v[2] = text;
    nv = 3;
    src->renew_shell = true;
  }
  else {
    rc = ch_cfg_string_list(e, n, path, false, &v, &nv);
    if(rc)
      return rc;
    if(!nv || !*v[0]) {
      ch_cfg_strv_free(v, nv);
      return ch_cfg_errorf(e, n, path, "the program (first item) is empty");
    }
  }
  src->renew_argv = v;
  src->n_renew_argv = nv;
  return CH_OK;
}

static ch_err load_source(ch_cfgerr *e, const ch_ynode *n, const char *path,
                          certhub_source_cfg *src)
{
  char kp[1024];
  ch_err rc =
      ch_cfg_check_keys(e, n, path, source_keys, CH_ARRAY_LEN(source_keys));
  if(rc)
    return rc;
  src->line = n->line;
  src->threshold_days = -1;
  src->renew_timeout_ms = CERTHUB_DEFAULT_RENEW_TIMEOUT_MS;
  for(const ch_ynode *k = n->first; k; k = k->next) {
    const ch_ynode *v = k->value;
    ch_cfg_path(kp, sizeof(kp), path, k->str);
    if(!strcmp(k->str, "name"))
      rc = ch_cfg_string(e, v, kp, &src->name);
    else if(!strcmp(k->str, "paths"))
      rc = ch_cfg_string_list(e, v, kp, false, &src->paths, &src->n_paths);
    else if(!strcmp(k->str, "exclude"))
      rc =
          ch_cfg_string_list(e, v, kp, true, &src->excludes, &src->n_excludes);
    else if(!strcmp(k->str, "tags"))
      rc = get_tags(e, v, kp, &src->tags, &src->n_tags);
    else if(!strcmp(k->str, "password_file"))
      rc = ch_cfg_string(e, v, kp, &src->password_file);
    else if(!strcmp(k->str, "expiry_threshold_days"))
      rc = get_threshold(e, v, kp, &src->threshold_days);
    else if(!strcmp(k->str, "account"))
      rc = get_account(e, v, kp, &src->account);
    else if(!strcmp(k->str, "region"))
      rc = get_region(e, v, kp, &src->region);
    else if(!strcmp(k->str, "renew_command"))
      rc = get_command(e, v, kp, src);
    else if(!strcmp(k->str, "renew_timeout"))
      rc = get_duration(e, v, kp, &src->renew_timeout_ms);
    if(rc)
      return rc;
  }
  if(!src->n_paths) {
    ch_cfg_path(kp, sizeof(kp), path, "paths");
    return ch_cfg_errorf(e, n, kp, "missing required key");
  }
  return CH_OK;
}

static int cmp_name(const void *pa, const void *pb)
{
  const certhub_source_cfg *a = *(certhub_source_cfg *const *)pa;
  const certhub_source_cfg *b = *(certhub_source_cfg *const *)pb;
  int c = strcmp(a->name, b->name);
  if(c)
    return c;
  return a->line < b->line ? -1 : (a->line > b->line);
}

/* Sorted, so thousands of sources stay cheap. */
static ch_err check_names(ch_cfgerr *e, certhub_config *c, const ch_ynode *seq)
{
  ch_err rc = CH_OK;
  certhub_source_cfg **v = calloc(c->n_sources ? c->n_sources : 1, sizeof(*v));
  if(!v)
    return CH_ERR_NOMEM;
  size_t n = 0;
  for(size_t i = 0; i < c->n_sources; i++)
    if(c->sources[i].name)
      v[n++] = &c->sources[i];
  qsort(v, n, sizeof(*v), cmp_name);
  const certhub_source_cfg *dup = NULL, *orig = NULL;
  size_t group = 0;
  for(size_t i = 1; i < n; i++) {
    if(strcmp(v[group]->name, v[i]->name)) {
      group = i;
      continue;
    }
    if(i == group + 1 && (!dup || v[i]->line < dup->line)) {
      dup = v[i];
      orig = v[group];
    }
  }
  if(dup) {
    size_t idx = (size_t)(dup - c->sources);
    const ch_ynode *item = seq->first;
    for(size_t i = 0; i < idx; i++)
      item = item->next;
    char sp[64], kp[128];
    ch_cfg_path_index(sp, sizeof(sp), "sources", idx);
    ch_cfg_path(kp, sizeof(kp), sp, "name");
    rc = ch_cfg_errorf(e, ch_ymap_get(item, "name"), kp,
                       "duplicate source name \"%s\" (first used at line %d)",
                       dup->name, orig->line);
  }
  free(v);
  return rc;
}

static ch_err load_sources(ch_cfgerr *e, const ch_ynode *n, certhub_config *c)
{
  if(ch_ynode_is_null(n))
    return CH_OK;
  if(n->kind != CH_Y_SEQ)
    return ch_cfg_errorf(e, n, "sources", "expected a list of sources, got %s",
                         ch_ynode_kind_name(n));
  if(!n->n)
    return CH_OK;
  c->sources = calloc(n->n, sizeof(*c->sources));
  if(!c->sources)
    return CH_ERR_NOMEM;
  size_t i = 0;
  for(const ch_ynode *item = n->first; item; item = item->next, i++) {
    char sp[64];
    ch_cfg_path_index(sp, sizeof(sp), "sources", i);
    c->n_sources++;
    ch_err rc = load_source(e, item, sp, &c->sources[i]);
    if(rc)
      return rc;
  }
  return check_names(e, c, n);
}

static ch_err get_bool(ch_cfgerr *e, const ch_ynode *n, const char *path,
                       bool *out)
{
  static const char *const yes[] = {"true", "True", "TRUE", "yes", "on"};
  static const char *const no[] = {"false", "False", "FALSE", "no", "off"};
  if(n && n->kind == CH_Y_SCALAR && n->plain) {
    for(size_t i = 0; i < CH_ARRAY_LEN(yes); i++) {
      if(!strcmp(n->str, yes[i]) || !strcmp(n->str, no[i])) {
        *out = !strcmp(n->str, yes[i]);
        return CH_OK;
      }
    }
  }
  return ch_cfg_errorf(e, n, path, "expected true or false");
}

static ch_err load_endpoint(ch_cfgerr *e, const ch_ynode *n, const char *path,
                            certhub_endpoint_cfg *ep)
{
  char kp[1024];
  ep->line = n->line;
  /* A plain string is the target alone. */
  if(n->kind == CH_Y_SCALAR)
    return ch_cfg_string(e, n, path, &ep->target);
  ch_err rc = ch_cfg_check_keys(e, n, path, endpoint_keys,
                                CH_ARRAY_LEN(endpoint_keys));
  if(rc)
    return rc;
  for(const ch_ynode *k = n->first; k; k = k->next) {
    const ch_ynode *v = k->value;
    ch_cfg_path(kp, sizeof(kp), path, k->str);
    if(!strcmp(k->str, "target"))
      rc = ch_cfg_string(e, v, kp, &ep->target);
    else if(!strcmp(k->str, "sni"))
      rc = ch_cfg_string(e, v, kp, &ep->sni);
    else if(!strcmp(k->str, "starttls"))
      rc = ch_cfg_string(e, v, kp, &ep->starttls);
    else if(!strcmp(k->str, "all_addresses"))
      rc = get_bool(e, v, kp, &ep->all_addresses);
    else if(!strcmp(k->str, "tags"))
      rc = get_tags(e, v, kp, &ep->tags, &ep->n_tags);
    else if(!strcmp(k->str, "expiry_threshold_days"))
      rc = get_threshold(e, v, kp, &ep->threshold_days);
    if(rc)
      return rc;
  }
  if(!ep->target) {
    ch_cfg_path(kp, sizeof(kp), path, "target");
    return ch_cfg_errorf(e, n, kp, "missing required key");
  }
  if(!*ep->target) {
    ch_cfg_path(kp, sizeof(kp), path, "target");
    return ch_cfg_errorf(e, ch_ymap_get(n, "target"), kp, "is empty");
  }
  return CH_OK;
}

static ch_err load_endpoints(ch_cfgerr *e, const ch_ynode *n,
                             certhub_config *c)
{
  if(ch_ynode_is_null(n))
    return CH_OK;
  if(n->kind != CH_Y_SEQ)
    return ch_cfg_errorf(e, n, "endpoints",
                         "expected a list of endpoints, got %s",
                         ch_ynode_kind_name(n));
  if(!n->n)
    return CH_OK;
  c->endpoints = calloc(n->n, sizeof(*c->endpoints));
  if(!c->endpoints)
    return CH_ERR_NOMEM;
  size_t i = 0;
  for(const ch_ynode *item = n->first; item; item = item->next, i++) {
    char ep[64];
    ch_cfg_path_index(ep, sizeof(ep), "endpoints", i);
    c->n_endpoints++;
    ch_err rc = load_endpoint(e, item, ep, &c->endpoints[i]);
    if(rc)
      return rc;
  }
  return CH_OK;
}

static ch_err get_count(ch_cfgerr *e, const ch_ynode *n, const char *path,
                        long max, unsigned *out)
{
  long v;
  ch_err rc = ch_cfg_int(e, n, path, 1, max, &v);
  if(!rc)
    *out = (unsigned)v;
  return rc;
}

static ch_err get_duration(ch_cfgerr *e, const ch_ynode *n, const char *path,
                           unsigned *ms)
{
  char *text = NULL;
  ch_err rc = ch_cfg_string(e, n, path, &text);
  if(rc)
    return rc;
  rc = certhub_duration_parse(text, ms);
  free(text);
  if(rc)
    return ch_cfg_errorf(e, n, path,
                         "invalid duration \"%.64s\" (expected e.g. 10s, "
                         "500ms or seconds, at most 1h)",
                         n->str);
  return CH_OK;
}

static ch_err load_probe(ch_cfgerr *e, const ch_ynode *n, certhub_config *c)
{
  char kp[64];
  if(ch_ynode_is_null(n))
    return CH_OK;
  ch_err rc =
      ch_cfg_check_keys(e, n, "probe", probe_keys, CH_ARRAY_LEN(probe_keys));
  if(rc)
    return rc;
  certhub_probe_cfg *p = &c->probe;
  for(const ch_ynode *k = n->first; k; k = k->next) {
    const ch_ynode *v = k->value;
    ch_cfg_path(kp, sizeof(kp), "probe", k->str);
    if(!strcmp(k->str, "concurrency"))
      rc = get_count(e, v, kp, 65535, &p->concurrency);
    else if(!strcmp(k->str, "per_host"))
      rc = get_count(e, v, kp, 1024, &p->per_host);
    else if(!strcmp(k->str, "timeout"))
      rc = get_duration(e, v, kp, &p->timeout_ms);
    else if(!strcmp(k->str, "ca_file"))
      rc = ch_cfg_string(e, v, kp, &p->ca_file);
    else if(!strcmp(k->str, "client_cert"))
      rc = ch_cfg_string(e, v, kp, &p->client_cert);
    else if(!strcmp(k->str, "client_key"))
      rc = ch_cfg_string(e, v, kp, &p->client_key);
    if(rc)
      return rc;
  }
  if(!p->client_cert != !p->client_key)
    return ch_cfg_errorf(
        e, ch_ymap_get(n, p->client_cert ? "client_cert" : "client_key"),
        p->client_cert ? "probe.client_cert" : "probe.client_key",
        "client_cert and client_key go together");
  return CH_OK;
}

/* As EventBridge's Source: 1 to 256 characters, no whitespace or control
 * characters. */
static ch_err get_event_source(ch_cfgerr *e, const ch_ynode *n,
                               const char *path, char **out)
{
  ch_err rc = ch_cfg_string(e, n, path, out);
  if(rc)
    return rc;
  size_t len = strlen(*out);
  bool ok = len >= 1 && len <= 256;
  for(size_t i = 0; ok && i < len; i++) {
    unsigned char ch = (unsigned char)(*out)[i];
    ok = ch > 0x20 && ch != 0x7f;
  }
  if(ok)
    return CH_OK;
  ch_safefree(*out);
  return ch_cfg_errorf(e, n, path,
                       "invalid event source \"%.64s\" (1 to 256 "
                       "characters, no spaces)",
                       n->str);
}

static ch_err load_tree(ch_cfgerr *e, const ch_ynode *root, certhub_config *c)
{
  if(!root)
    return CH_OK;
  ch_err rc = ch_cfg_check_keys(e, root, "", top_keys, CH_ARRAY_LEN(top_keys));
  if(rc)
    return rc;
  for(const ch_ynode *k = root->first; k; k = k->next) {
    const ch_ynode *v = k->value;
    if(!strcmp(k->str, "db"))
      rc = ch_cfg_string(e, v, k->str, &c->db);
    else if(!strcmp(k->str, "account"))
      rc = get_account(e, v, k->str, &c->account);
    else if(!strcmp(k->str, "region"))
      rc = get_region(e, v, k->str, &c->region);
    else if(!strcmp(k->str, "expiry_threshold_days"))
      rc = get_threshold(e, v, k->str, &c->threshold_days);
    else if(!strcmp(k->str, "sources"))
      rc = load_sources(e, v, c);
    else if(!strcmp(k->str, "endpoints"))
      rc = load_endpoints(e, v, c);
    else if(!strcmp(k->str, "probe"))
      rc = load_probe(e, v, c);
    else if(!strcmp(k->str, "event_source"))
      rc = get_event_source(e, v, k->str, &c->event_source);
    else if(!strcmp(k->str, "buses"))
      rc = ch_cfg_load_buses(e, v, c);
    else if(!strcmp(k->str, "hub"))
      rc = ch_cfg_load_hub(e, v, c);
    else if(!strcmp(k->str, "findings"))
      rc = ch_cfg_load_findings(e, v, c);
    else if(!strcmp(k->str, "event_retention_days")) {
      long days = 0;
      rc = ch_cfg_int(e, v, k->str, 1, 3650, &days);
      c->event_retention_days = (unsigned)days;
    }
    else if(!strcmp(k->str, "rules"))
    {
      c->has_rules = true;
      rc = ch_cfg_load_rules(e, v, c);
    }
    else if(!strcmp(k->str, "topics"))
      rc = ch_cfg_load_topics(e, v, c);
    else if(!strcmp(k->str, "notify"))
      rc = ch_cfg_load_notify(e, v, c);
    else if(!strcmp(k->str, "http"))
      rc = ch_cfg_load_http(e, v, c);
    if(rc)
      return rc;
  }
  return CH_OK;
}

ch_err certhub_duration_parse(const char *s, unsigned *ms)
{
  /* Whole and fractional parts by hand: no locale, no strtod surprises. */
  uint64_t whole = 0, frac = 0, scale = 1;
  const char *p = s;
  if(!s || !*s)
    return CH_ERR_PARSE;
  for(; *p >= '0' && *p <= '9'; p++) {
    whole = whole * 10 + (uint64_t)(*p - '0');
    if(whole > 100000000)
      return CH_ERR_TOOBIG;
  }
  if(p == s)
    return CH_ERR_PARSE;
  if(*p == '.') {
    const char *f = ++p;
    for(; *p >= '0' && *p <= '9'; p++) {
      if(scale < 1000000) {
        frac = frac * 10 + (uint64_t)(*p - '0');
        scale *= 10;
      }
    }
    if(p == f)
      return CH_ERR_PARSE;
  }
  uint64_t unit; /* milliseconds per unit */
  if(!*p || !strcmp(p, "s"))
    unit = 1000;
  else if(!strcmp(p, "ms"))
    unit = 1;
  else if(!strcmp(p, "m"))
    unit = 60000;
  else
    return CH_ERR_PARSE;
  uint64_t v = whole * unit + frac * unit / scale;
  if(v == 0 || v > 3600000)
    return CH_ERR_TOOBIG;
  *ms = (unsigned)v;
  return CH_OK;
}

ch_err certhub_config_default(certhub_config **out)
{
  *out = NULL;
  certhub_config *c = calloc(1, sizeof(*c));
  if(!c)
    return CH_ERR_NOMEM;
  c->threshold_days = CERTHUB_DEFAULT_THRESHOLD_DAYS;
  *out = c;
  return CH_OK;
}

ch_err certhub_config_load(const char *path, certhub_config **out,
                           char **errmsg)
{
  ch_err rc = CH_OK;
  ch_ydoc *doc = NULL;
  certhub_config *c = NULL;
  char *msg = NULL;
  ch_cfgerr e = {.file = path, .msg = NULL};
  *out = NULL;
  if(errmsg)
    *errmsg = NULL;

  rc = ch_yaml_load_file(path, &doc, &msg);
  if(rc) {
    /* A tree too large to hold is a configuration problem to the caller. */
    if(rc == CH_ERR_TOOBIG)
      rc = CH_ERR_CONFIG;
    goto out;
  }
  rc = certhub_config_default(&c);
  if(rc)
    goto out;
  c->file = strdup(path);
  if(!c->file) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  rc = load_tree(&e, doc->root, c);
  if(rc) {
    msg = e.msg;
    e.msg = NULL;
    goto out;
  }
  *out = c;
  c = NULL;

out:
  free(e.msg);
  if(rc && !msg) {
    ch_buf m;
    ch_buf_init(&m, 4096);
    ch_buf_printf(&m, "%s: %s", path, certhub_strerror(rc));
    msg = ch_buf_take(&m);
  }
  if(errmsg)
    *errmsg = msg;
  else
    free(msg);
  certhub_config_free(c);
  ch_yaml_free(doc);
  return rc;
}

static void tags_free(certhub_tag *tags, size_t n)
{
  for(size_t i = 0; i < n; i++) {
    free((char *)tags[i].key);
    free((char *)tags[i].value);
  }
  free(tags);
}

static void source_free(certhub_source_cfg *s)
{
  free(s->name);
  ch_cfg_strv_free(s->paths, s->n_paths);
  ch_cfg_strv_free(s->excludes, s->n_excludes);
  tags_free(s->tags, s->n_tags);
  free(s->password_file);
  free(s->account);
  free(s->region);
  ch_cfg_strv_free(s->renew_argv, s->n_renew_argv);
}

void certhub_config_free(certhub_config *c)
{
  if(!c)
    return;
  for(size_t i = 0; i < c->n_endpoints; i++) {
    certhub_endpoint_cfg *ep = &c->endpoints[i];
    free(ep->target);
    free(ep->sni);
    free(ep->starttls);
    tags_free(ep->tags, ep->n_tags);
  }
  free(c->endpoints);
  ch_cfg_bus_free(c);
  ch_cfg_notify_free(c);
  ch_cfg_topics_free(c);
  ch_cfg_hub_free(c);
  free(c->probe.ca_file);
  free(c->probe.client_cert);
  free(c->probe.client_key);
  for(size_t i = 0; i < c->n_sources; i++)
    source_free(&c->sources[i]);
  free(c->sources);
  free(c->file);
  free(c->db);
  free(c->account);
  free(c->region);
  free(c->event_source);
  ch_cfg_http_free(c);
  free(c);
}
