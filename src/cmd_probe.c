/*
 * certhub probe: fetch the certificate chains live TLS endpoints present,
 * print one line (or JSON object) per probed address and record each
 * result in the inventory.
 */
#include <errno.h>
#include <limits.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certhub/probe.h"
#include "certhub/findings.h"
#include "cli.h"

#define MAX_TARGETS 1000000 /* targets of one run, from every origin */
#define MAX_CLI_TAGS 50     /* --tag options */
#define LOCATOR_MAX 1024
#define MAX_SWEEP_PORTS 64
#define SWEEP_DEFAULT_MAX 65536 /* targets one --sweep may expand to */
/* Results stored per transaction: one commit per result would cost more
 * than the probe; a batch is also closed after a second so other writers
 * are not locked out while slow probes trickle in. */
#define STORE_BATCH 500
#define STORE_BATCH_MS 1000

enum {
  OPT_FROM = 0x100,
  OPT_SNI,
  OPT_STARTTLS,
  OPT_ALL_ADDRESSES,
  OPT_CONCURRENCY,
  OPT_PER_HOST,
  OPT_TIMEOUT,
  OPT_CA_FILE,
  OPT_CERT,
  OPT_KEY,
  OPT_LEGACY,
  OPT_TAG,
  OPT_NO_STORE,
  OPT_SWEEP,
  OPT_PORTS,
  OPT_MAX_TARGETS,
  OPT_BASE_URL,
  OPT_NO_FINDINGS,
};

static const struct option probe_longopts[] = {
    {"from", required_argument, NULL, OPT_FROM},
    {"sni", required_argument, NULL, OPT_SNI},
    {"starttls", required_argument, NULL, OPT_STARTTLS},
    {"all-addresses", no_argument, NULL, OPT_ALL_ADDRESSES},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"per-host", required_argument, NULL, OPT_PER_HOST},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"legacy", no_argument, NULL, OPT_LEGACY},
    {"tag", required_argument, NULL, OPT_TAG},
    {"no-store", no_argument, NULL, OPT_NO_STORE},
    {"sweep", required_argument, NULL, OPT_SWEEP},
    {"ports", required_argument, NULL, OPT_PORTS},
    {"max-targets", required_argument, NULL, OPT_MAX_TARGETS},
    {"base-url", required_argument, NULL, OPT_BASE_URL},
    {"no-findings", no_argument, NULL, OPT_NO_FINDINGS},
    {NULL, 0, NULL, 0},
};

typedef struct targets {
  certhub_target *v;
  size_t n, alloc;
} targets;

typedef struct probe_run {
  cli_ctx *c;
  certhub_store *store; /* NULL with --no-store */
  ch_err store_rc;      /* first storage failure; later results not stored */
  bool in_batch;        /* a store transaction is open */
  size_t batch_n;       /* results in it */
  int64_t batch_start;  /* monotonic ms when it began */
  out_table *table;
  out_json_stream js;
  const certhub_target *base; /* the run's target array */
  bool sweep;                 /* targets from sweep_from on are a sweep */
  size_t sweep_from;
  size_t n_silent; /* sweep addresses with no TLS service (not shown) */
  ch_err out_rc;
  size_t n_results, n_ok;
  /* Persistent chain cache traffic, for CERTHUB_DEBUG_STATS=1. */
  uint64_t cache_found, cache_missed, cache_put;
  /* Findings from the stored results (lib/findings/probe.c). */
  bool findings;
  certhub_probe_findings_opts fo;
  certhub_expiry_bands bands; /* fo.bands points here when configured */
  size_t n_findings;
} probe_run;

static void targets_free(targets *ts)
{
  for(size_t i = 0; i < ts->n; i++)
    certhub_target_free(&ts->v[i]);
  free(ts->v);
  memset(ts, 0, sizeof(*ts));
}

/* A zeroed slot at the end, or NULL at the cap / out of memory. */
static certhub_target *targets_slot(targets *ts)
{
  if(ts->n >= MAX_TARGETS)
    return NULL;
  if(ts->n == ts->alloc) {
    size_t na = ts->alloc ? ts->alloc * 2 : 16;
    certhub_target *nv = realloc(ts->v, na * sizeof(*nv));
    if(!nv)
      return NULL;
    ts->v = nv;
    ts->alloc = na;
  }
  memset(&ts->v[ts->n], 0, sizeof(ts->v[0]));
  return &ts->v[ts->n];
}

/* Append tags to a target, replacing same-named keys; the target owns the
 * copies (certhub_target_free() frees them). */
static ch_err add_tags(certhub_target *t, const certhub_tag *tags, size_t n)
{
  for(size_t i = 0; i < n; i++) {
    char *v = strdup(tags[i].value ? tags[i].value : "");
    if(!v)
      return CH_ERR_NOMEM;
    size_t k;
    for(k = 0; k < t->n_tags; k++)
      if(!strcmp(t->tag_keys[k], tags[i].key))
        break;
    if(k < t->n_tags) {
      free(t->tag_values[k]);
      t->tag_values[k] = v;
      continue;
    }
    char *key = strdup(tags[i].key);
    char **nk = realloc(t->tag_keys, (t->n_tags + 1) * sizeof(*nk));
    if(nk)
      t->tag_keys = nk;
    char **nv =
        nk ? realloc(t->tag_values, (t->n_tags + 1) * sizeof(*nv)) : NULL;
    if(nv)
      t->tag_values = nv;
    if(!key || !nk || !nv) {
      free(key);
      free(v);
      return CH_ERR_NOMEM;
    }
    t->tag_keys[t->n_tags] = key;
    t->tag_values[t->n_tags++] = v;
  }
  return CH_OK;
}

static int too_many(cli_ctx *c);

/* "443,8443" into ports. */
static int parse_ports(cli_ctx *c, const char *arg, uint16_t *ports, size_t *n)
{
  const char *p = arg;
  *n = 0;
  while(*p) {
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if(end == p || errno || v < 1 || v > 65535 || (*end && *end != ','))
      return cli_usage(c,
                       "--ports: '%s' is not a list of ports (1-65535, "
                       "comma-separated)",
                       arg);
    if(*n == MAX_SWEEP_PORTS)
      return cli_usage(c, "--ports: at most %d ports", MAX_SWEEP_PORTS);
    ports[(*n)++] = (uint16_t)v;
    p = *end ? end + 1 : end;
  }
  if(!*n)
    return cli_usage(c, "--ports: no port given");
  return 0;
}

/* Append the targets of a CIDR sweep (bounded by max). */
static int add_sweep(cli_ctx *c, const char *cidr, const uint16_t *ports,
                     size_t n_ports, size_t max, targets *ts)
{
  certhub_target *v = NULL;
  size_t n = 0, i = 0;
  char *errmsg = NULL;
  int code = 0;
  ch_err rc = certhub_target_sweep(cidr, ports, n_ports, max, &v, &n, &errmsg);
  if(rc) {
    code = rc == CH_ERR_NOMEM
               ? cli_fail(c, CLI_EXIT_INTERNAL, "out of memory")
               : cli_usage(c, "--sweep %s", errmsg ? errmsg : "bad range");
    goto out;
  }
  for(; i < n; i++) {
    certhub_target *t = targets_slot(ts);
    if(!t) {
      code = too_many(c);
      goto out;
    }
    *t = v[i];
    memset(&v[i], 0, sizeof(v[i]));
    ts->n++;
  }
out:
  for(size_t k = i; k < n; k++)
    certhub_target_free(&v[k]);
  free(v);
  free(errmsg);
  return code;
}

typedef struct inter_ctx {
  certhub_store *store;
  FILE *f;
  size_t n;
} inter_ctx;

static ch_err write_intermediate(void *ctx, const certhub_cert_row *row)
{
  inter_ctx *ic = ctx;
  uint8_t *der = NULL;
  char *pem = NULL;
  size_t der_len, pem_len;
  ch_err rc = certhub_store_get_der(ic->store, row->rowid, &der, &der_len);
  if(!rc)
    rc = certhub_pem_encode(der, der_len, &pem, &pem_len);
  if(!rc && fwrite(pem, 1, pem_len, ic->f) != pem_len)
    rc = CH_ERR_IO;
  if(!rc)
    ic->n++;
  free(der);
  free(pem);
  return rc;
}

/* The inventory's intermediate CA certificates as a PEM file, so a chain
 * the server sent without its intermediate reads "missing intermediate"
 * rather than "unknown issuer". path is left empty when there are none. */
static int intermediates_file(cli_ctx *c, certhub_store *s, char *path,
                              size_t len)
{
  const char *tmp = getenv("TMPDIR");
  certhub_filter f = {.intermediates = true};
  inter_ctx ic = {.store = s};
  ch_err rc;
  int fd;

  snprintf(path, len, "%s/certhub-intermediates.XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  fd = mkstemp(path);
  if(fd < 0 || !(ic.f = fdopen(fd, "w"))) {
    int e = errno;
    if(fd >= 0) {
      close(fd);
      unlink(path);
    }
    path[0] = '\0';
    return cli_fail(c, CLI_EXIT_INTERNAL, "cannot create a temporary file: %s",
                    strerror(e));
  }
  rc = certhub_store_list(s, &f, c->now, write_intermediate, &ic);
  if(fclose(ic.f) != 0 && !rc)
    rc = CH_ERR_IO;
  if(rc || ic.n == 0) {
    unlink(path);
    path[0] = '\0';
  }
  if(rc == CH_ERR_IO)
    return cli_fail(c, CLI_EXIT_INTERNAL, "writing a temporary file: %s",
                    strerror(errno));
  if(rc)
    return cli_store_fail(c, s, rc, "reading the inventory's intermediates");
  return 0;
}

static int too_many(cli_ctx *c)
{
  return cli_fail(c, CLI_EXIT_USAGE, "more than %d targets (or out of memory)",
                  MAX_TARGETS);
}

/* Targets from a file: one per line, '#' comments, blank lines. */
static int read_from(cli_ctx *c, const char *path, targets *ts)
{
  FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
  char *line = NULL, *errmsg = NULL;
  size_t cap = 0;
  unsigned lineno = 0;
  int code = 0;
  if(!f)
    return cli_fail(c, CLI_EXIT_USAGE, "%s: %s", path, strerror(errno));
  for(;;) {
    errno = 0;
    ssize_t len = getline(&line, &cap, f);
    if(len < 0) {
      if(errno && errno != EINVAL)
        code = cli_fail(c, CLI_EXIT_USAGE, "%s: %s", path, strerror(errno));
      break;
    }
    lineno++;
    if(len > 0 && line[len - 1] == '\n')
      line[--len] = '\0';
    if(len > 0 && line[len - 1] == '\r')
      line[--len] = '\0';
    if(strlen(line) != (size_t)len) {
      fprintf(stderr, "certhub: %s:%u: NUL byte in line\n", path, lineno);
      code = c->exit_code = CLI_EXIT_USAGE;
      break;
    }
    certhub_target *t = targets_slot(ts);
    if(!t) {
      code = too_many(c);
      break;
    }
    bool blank = false;
    ch_err rc = certhub_target_parse_line(line, t, &blank, &errmsg);
    if(rc) {
      /* "certhub: targets.txt:3: 'foo:99999': port ... out of range" */
      fprintf(stderr, "certhub: %s:%u: %s\n", path, lineno,
              errmsg ? errmsg : certhub_strerror(rc));
      code = c->exit_code =
          rc == CH_ERR_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE;
      break;
    }
    if(!blank)
      ts->n++;
  }
  free(errmsg);
  free(line);
  if(f != stdin)
    fclose(f);
  return code;
}

/* The configuration's endpoints, when no target was named. */
static int config_targets(cli_ctx *c, targets *ts)
{
  const certhub_config *cfg = c->config;
  char *errmsg = NULL;
  for(size_t i = 0; i < cfg->n_endpoints; i++) {
    const certhub_endpoint_cfg *ep = &cfg->endpoints[i];
    certhub_target *t = targets_slot(ts);
    if(!t)
      return too_many(c);
    ch_err rc =
        certhub_target_parse(ep->target, ep->sni, ep->starttls, t, &errmsg);
    if(rc) {
      fprintf(stderr, "certhub: %s:%d: endpoints[%zu]: %s\n", cfg->file,
              ep->line, i, errmsg ? errmsg : certhub_strerror(rc));
      free(errmsg);
      return c->exit_code =
                 rc == CH_ERR_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE;
    }
    ts->n++;
    t->all_addresses = ep->all_addresses;
    if(add_tags(t, ep->tags, ep->n_tags))
      return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  }
  return 0;
}

/* ---- output ------------------------------------------------------------ */

static json_t *chain_json(const certhub_probe_result *r, int64_t now)
{
  json_t *a = json_array();
  for(size_t i = 0; a && i < r->chain_n; i++) {
    certhub_cert *cert = NULL;
    json_t *o = NULL;
    if(certhub_cert_parse_der(r->chain_der[i], r->chain_len[i], &cert, NULL)) {
      o = json_pack("{s:I, s:s}", "Position", (json_int_t)(i + 1), "Error",
                    "certificate does not parse");
    }
    else {
      char na[32];
      certhub_time_format(cert->not_after, na, sizeof(na));
      o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s}", "Position",
                    (json_int_t)(i + 1), "CertificateId", cert->id, "Subject",
                    cert->subject ? cert->subject : "", "Issuer",
                    cert->issuer ? cert->issuer : "", "NotAfter", na,
                    "DaysToExpiry",
                    (json_int_t)certhub_days_to_expiry(cert->not_after, now),
                    "Sha256", cert->sha256_hex);
      certhub_cert_free(cert);
    }
    if(!o || json_array_append_new(a, o)) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

static json_t *problems_json(unsigned problems)
{
  json_t *a = json_array();
  for(unsigned bit = 1; a && bit; bit <<= 1) {
    const char *name =
        (problems & bit) ? certhub_chain_problem_name(bit) : NULL;
    if(name && json_array_append_new(a, json_string(name))) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

static json_t *legacy_json(unsigned legacy)
{
  json_t *a = json_array();
  if(a && (legacy & 1u))
    json_array_append_new(a, json_string("TLSv1.0"));
  if(a && (legacy & 2u))
    json_array_append_new(a, json_string("TLSv1.1"));
  return a;
}

static json_t *result_json(const certhub_probe_result *r, int64_t now)
{
  bool chain = r->status == CERTHUB_PROBE_OK && r->chain_n > 0;
  const certhub_chain_check *k = &r->check;
  json_t *earliest = NULL;
  if(chain) {
    char t[32];
    certhub_time_format(k->earliest_not_after, t, sizeof(t));
    earliest = json_string(t);
  }
  else
    earliest = json_null();
  char endpoint[LOCATOR_MAX];
  if(certhub_target_locator(r->target,
                            r->target->all_addresses ? r->address : NULL,
                            endpoint, sizeof(endpoint)))
    snprintf(endpoint, sizeof(endpoint), "%s", r->target->host);
  return json_pack(
      "{s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:f, s:o?, s:I, s:b, s:o?, s:s,"
      " s:b, s:o?, s:s, s:o?}",
      "Target", r->target->spec ? r->target->spec : r->target->host,
      "Endpoint", endpoint, "Address", r->address, "Status",
      certhub_probe_status_name(r->status), "Reason",
      r->reason ? r->reason : "", "TlsVersion",
      r->tls_version_name ? r->tls_version_name : "", "Cipher",
      r->cipher ? r->cipher : "", "HandshakeMs", r->handshake_us / 1000.0,
      "Chain", chain_json(r, now), "ChainSent", (json_int_t)r->chain_sent,
      "Trusted", chain && k->trusted, "Problems",
      problems_json(chain ? k->problems : 0), "VerifyError",
      chain ? k->verify_error : "", "HostnameMatch",
      chain && k->hostname_match, "EarliestExpiry", earliest, "OcspStatus",
      certhub_ocsp_status_name(chain ? k->ocsp : CERTHUB_OCSP_NONE),
      "LegacyTls", legacy_json(r->legacy_accepted));
}

static ch_err table_row(probe_run *pr, const certhub_probe_result *r)
{
  bool ok = r->status == CERTHUB_PROBE_OK;
  bool chain = ok && r->chain_n > 0;
  char days[32] = "-", detail[512], endpoint[LOCATOR_MAX];
  enum out_color colors[7] = {0};
  /* The endpoint as stored: shows the SNI and the STARTTLS dialect. */
  if(certhub_target_locator(r->target,
                            r->target->all_addresses ? r->address : NULL,
                            endpoint, sizeof(endpoint)))
    snprintf(endpoint, sizeof(endpoint), "%s", r->target->host);
  if(chain) {
    int64_t d =
        certhub_days_to_expiry(r->check.earliest_not_after, pr->c->now);
    snprintf(days, sizeof(days), "%lld", (long long)d);
    colors[4] = d < 0 ? OUT_RED : d <= 30 ? OUT_YELLOW : OUT_PLAIN;
    certhub_chain_problems_text(r->check.problems, detail, sizeof(detail));
  }
  else
    snprintf(detail, sizeof(detail), "%s", r->reason ? r->reason : "");
  colors[2] = ok ? OUT_GREEN : OUT_RED;
  const char *cells[7] = {
      endpoint,
      r->address ? r->address : "-",
      certhub_probe_status_name(r->status),
      r->tls_version_name && *r->tls_version_name ? r->tls_version_name : "-",
      days,
      chain ? (r->check.trusted ? "yes" : "no") : "-",
      *detail ? detail : "-",
  };
  return out_table_add(pr->table, cells, colors);
}

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Commit the open batch, if any. */
static ch_err batch_commit(probe_run *pr)
{
  if(!pr->in_batch)
    return CH_OK;
  pr->in_batch = false;
  return certhub_store_commit(pr->store);
}

/* Open a batch unless one is open. */
static ch_err batch_open(probe_run *pr)
{
  if(pr->in_batch)
    return CH_OK;
  ch_err rc = certhub_store_begin(pr->store);
  pr->in_batch = !rc;
  pr->batch_n = 0;
  pr->batch_start = mono_ms();
  return rc;
}

/* A storage failure: roll the batch back and store nothing more (the run
 * ends with exit 3). */
static void store_failed(probe_run *pr, ch_err rc, const char *what)
{
  pr->store_rc = rc;
  cli_store_fail(pr->c, pr->store, rc, what);
  if(pr->in_batch)
    certhub_store_rollback(pr->store);
  pr->in_batch = false;
}

/* The persistent chain cache hooks (certhub_probe_opts), on the store,
 * inside the batches. A read failure is a miss; a write failure is a
 * storage failure like any other. */
static bool cache_get(void *arg, const uint8_t trust_id[32],
                      const uint8_t chain[32], const uint8_t **blob,
                      size_t *len)
{
  probe_run *pr = arg;
  bool found = false;
  if(pr->store_rc || batch_open(pr) ||
     certhub_store_chain_check_get(pr->store, trust_id, chain, pr->c->now,
                                   blob, len, &found))
    found = false;
  if(found)
    pr->cache_found++;
  else
    pr->cache_missed++;
  return found;
}

static void cache_put(void *arg, const uint8_t trust_id[32],
                      const uint8_t chain[32], const uint8_t *blob, size_t len)
{
  probe_run *pr = arg;
  ch_err rc;
  if(pr->store_rc)
    return;
  rc = batch_open(pr);
  if(!rc)
    rc = certhub_store_chain_check_put(pr->store, trust_id, chain, blob, len,
                                       pr->c->now);
  if(rc == CH_ERR_TOOBIG)
    return; /* not kept; nothing was written */
  if(rc)
    store_failed(pr, rc, "storing chain check");
  else
    pr->cache_put++;
}

/* The result's checks as findings, in the same batch as the result. A
 * finding the import refuses is reported and the run goes on; a storage
 * error is a storage failure like the result's own. */
static ch_err probe_findings(probe_run *pr, const certhub_probe_result *r)
{
  char *detail = NULL;
  size_t n = 0;
  ch_err rc = certhub_findings_from_probe(
      pr->store, r, &pr->fo, r->started > 0 ? r->started : pr->c->now, &n,
      &detail);
  pr->n_findings += n;
  if(rc == CH_ERR_PARSE || rc == CH_ERR_TOOBIG || rc == CH_ERR_USAGE) {
    fprintf(stderr, "certhub: probe: %s: findings: %s\n", r->target->spec,
            detail ? detail : certhub_strerror(rc));
    rc = CH_OK;
  }
  free(detail);
  return rc;
}

/* Store one result inside the current batch; on failure the batch is
 * rolled back and nothing more is stored (the run ends with exit 3). */
static void store_result(probe_run *pr, const certhub_probe_result *r)
{
  char locator[LOCATOR_MAX];
  ch_err rc = batch_open(pr);
  if(!rc)
    rc = certhub_target_locator(r->target,
                                r->target->all_addresses ? r->address : NULL,
                                locator, sizeof(locator));
  if(!rc)
    rc = certhub_store_put_probe(pr->store, r, locator, NULL,
                                 r->started > 0 ? r->started : pr->c->now,
                                 NULL);
  if(!rc && pr->findings)
    rc = probe_findings(pr, r);
  if(!rc && (++pr->batch_n >= STORE_BATCH ||
             mono_ms() - pr->batch_start >= STORE_BATCH_MS))
    rc = batch_commit(pr);
  if(rc)
    store_failed(pr, rc, "storing probe result");
}

static void on_result(const certhub_probe_result *r, void *arg)
{
  probe_run *pr = arg;
  /* A sweep looks for TLS services: addresses where nothing listens are
   * counted, not reported or stored. */
  if(pr->sweep && (size_t)(r->target - pr->base) >= pr->sweep_from &&
     (r->status == CERTHUB_PROBE_REFUSED ||
      r->status == CERTHUB_PROBE_TIMEOUT)) {
    pr->n_silent++;
    return;
  }
  pr->n_results++;
  pr->n_ok += r->status == CERTHUB_PROBE_OK;
  if(pr->store && !pr->store_rc)
    store_result(pr, r);

  if(pr->out_rc)
    return;
  if(pr->c->format == OUT_JSON) {
    json_t *o = result_json(r, pr->c->now);
    pr->out_rc = o ? out_json_item(&pr->js, o) : CH_ERR_NOMEM;
    json_decref(o);
  }
  else
    pr->out_rc = table_row(pr, r);
}

/* CERTHUB_DEBUG_STATS=1: the persistent chain cache's traffic on stderr
 * (for tests and benchmarks). Persistent hits skipped verification;
 * misses were verified (and written back) unless the in-memory cache of
 * this run already had the chain. */
static void debug_stats(const probe_run *pr)
{
  const char *e = getenv("CERTHUB_DEBUG_STATS");
  if(!e || strcmp(e, "1"))
    return;
  if(!pr->store)
    fprintf(stderr, "certhub: stats: chain cache: persistent off\n");
  else
    fprintf(stderr,
            "certhub: stats: chain cache: persistent hits %llu, misses "
            "%llu, written %llu\n",
            (unsigned long long)pr->cache_found,
            (unsigned long long)pr->cache_missed,
            (unsigned long long)pr->cache_put);
}

/* ---- command ---------------------------------------------------------------
 */

static int parse_count(cli_ctx *c, const char *opt, const char *arg,
                       int64_t max, unsigned *out)
{
  int64_t v;
  int code = cli_parse_num(c, opt, arg, 1, max, &v);
  if(!code)
    *out = (unsigned)v;
  return code;
}

int cmd_probe(cli_ctx *c, int argc, char **argv)
{
  const char *from = NULL, *sni = NULL, *starttls = NULL, *sweep = NULL;
  uint16_t ports[MAX_SWEEP_PORTS] = {443};
  size_t n_ports = 1;
  unsigned max_sweep = SWEEP_DEFAULT_MAX;
  char inter[PATH_MAX] = "";
  bool all_addresses = false, no_store = false, no_findings = false;
  certhub_tag tags[MAX_CLI_TAGS];
  size_t n_tags = 0;
  certhub_probe_opts po = {0};
  bool set_conc = false, set_per_host = false, set_timeout = false;
  targets ts = {0};
  probe_run pr = {.c = c};
  char *errmsg = NULL;
  int code = 0, r;

  while((r = cli_getopt(c, argc, argv, "", probe_longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_FROM:
      from = optarg;
      break;
    case OPT_SNI:
      sni = optarg;
      break;
    case OPT_STARTTLS:
      starttls = optarg;
      break;
    case OPT_ALL_ADDRESSES:
      all_addresses = true;
      break;
    case OPT_CONCURRENCY:
      if(parse_count(c, "--concurrency", optarg, 65535, &po.concurrency))
        return c->exit_code;
      set_conc = true;
      break;
    case OPT_PER_HOST:
      if(parse_count(c, "--per-host", optarg, 1024, &po.per_host))
        return c->exit_code;
      set_per_host = true;
      break;
    case OPT_TIMEOUT:
      if(certhub_duration_parse(optarg, &po.timeout_ms))
        return cli_usage(c,
                         "--timeout: '%s' is not a duration (e.g. 10s, "
                         "500ms, 3; at most 1h)",
                         optarg);
      set_timeout = true;
      break;
    case OPT_CA_FILE:
      po.ca_file = optarg;
      break;
    case OPT_CERT:
      po.client_cert = optarg;
      break;
    case OPT_KEY:
      po.client_key = optarg;
      break;
    case OPT_LEGACY:
      po.legacy_check = true;
      break;
    case OPT_TAG:
      if(n_tags == MAX_CLI_TAGS)
        return cli_usage(c, "--tag: at most %d tags", MAX_CLI_TAGS);
      if(cli_parse_tag(c, "--tag", optarg, false, &tags[n_tags]))
        return c->exit_code;
      n_tags++;
      break;
    case OPT_NO_STORE:
      no_store = true;
      break;
    case OPT_SWEEP:
      sweep = optarg;
      break;
    case OPT_PORTS:
      if(parse_ports(c, optarg, ports, &n_ports))
        return c->exit_code;
      break;
    case OPT_MAX_TARGETS:
      if(parse_count(c, "--max-targets", optarg, MAX_TARGETS, &max_sweep))
        return c->exit_code;
      break;
    case OPT_BASE_URL:
      if(strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8))
        return cli_usage(c,
                         "--base-url: '%s' is not an http:// or https:// "
                         "URL",
                         optarg);
      pr.fo.base_url = optarg;
      break;
    case OPT_NO_FINDINGS:
      no_findings = true;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(c->format == OUT_CSV)
    return cli_usage(c, "--output: csv is not supported here (table, json)");
  if(!po.client_cert != !po.client_key)
    return cli_usage(c, "--cert and --key go together");
  if(optind < argc && from)
    return cli_usage(c, "give TARGET arguments or --from, not both");

  /* The config supplies defaults and, without targets, the endpoints. A
   * config file is optional unless it is the only source of targets. */
  bool need_config = optind >= argc && !from && !sweep;
  code = cli_config(c, false);
  if(code)
    goto out;
  const certhub_probe_cfg *pc = &c->config->probe;
  if(!set_conc && pc->concurrency)
    po.concurrency = pc->concurrency;
  if(!set_per_host && pc->per_host)
    po.per_host = pc->per_host;
  if(!set_timeout && pc->timeout_ms)
    po.timeout_ms = pc->timeout_ms;
  if(!po.ca_file)
    po.ca_file = pc->ca_file;
  if(!po.client_cert && pc->client_cert) {
    po.client_cert = pc->client_cert;
    po.client_key = pc->client_key;
  }

  for(int i = optind; i < argc; i++) {
    certhub_target *t = targets_slot(&ts);
    if(!t) {
      code = too_many(c);
      goto out;
    }
    ch_err rc = certhub_target_parse(argv[i], sni, starttls, t, &errmsg);
    if(rc) {
      code = rc == CH_ERR_NOMEM
                 ? cli_fail(c, CLI_EXIT_INTERNAL, "out of memory")
                 : cli_usage(c, "%s", errmsg ? errmsg : "bad target");
      goto out;
    }
    ts.n++;
  }
  if(from) {
    code = read_from(c, from, &ts);
    if(code)
      goto out;
  }
  if(sweep) {
    pr.sweep = true;
    pr.sweep_from = ts.n;
    code = add_sweep(c, sweep, ports, n_ports, max_sweep, &ts);
    if(code)
      goto out;
  }
  if(need_config) {
    code = config_targets(c, &ts);
    if(code)
      goto out;
    if(!ts.n) {
      code = cli_usage(c, "no TARGET, no --from FILE and no endpoints in "
                          "the configuration");
      goto out;
    }
  }
  for(size_t i = 0; i < ts.n; i++) {
    if(all_addresses)
      ts.v[i].all_addresses = true;
    if(add_tags(&ts.v[i], tags, n_tags)) {
      code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
      goto out;
    }
  }

  if(!no_store) {
    code = cli_open_store(c, &pr.store);
    if(code)
      goto out;
    pr.findings = !no_findings;
    pr.fo.account = c->config->account;
    pr.fo.region = c->config->region;
    pr.fo.threshold_days = c->config->threshold_days;
    pr.fo.legacy_checked = po.legacy_check;
    /* --base-url, else $CERTHUB_BASE_URL, else http.base_url: the
     * Remediation Url must open on the certhub serve of this store. */
    const char *env_base = getenv("CERTHUB_BASE_URL");
    if(!pr.fo.base_url && (!env_base || !*env_base))
      pr.fo.base_url = c->config->http.base_url;
    const certhub_findings_cfg *fc = &c->config->findings;
    if(fc->bands_set) {
      pr.bands = (certhub_expiry_bands){fc->critical_days, fc->high_days,
                                        fc->medium_days};
      pr.fo.bands = &pr.bands;
    }
    po.cache_get = cache_get;
    po.cache_put = cache_put;
    po.cache_arg = &pr;
    code = intermediates_file(c, pr.store, inter, sizeof(inter));
    if(code)
      goto out;
    if(inter[0])
      po.intermediates = inter;
  }
  pr.base = ts.v;
  if(c->format == OUT_JSON)
    out_json_begin(&pr.js, stdout);
  else {
    static const char *const heads[] = {
        "ENDPOINT", "ADDRESS", "STATUS", "TLS", "DAYS", "TRUSTED", "PROBLEMS"};
    pr.table = out_table_new(heads, sizeof(heads) / sizeof(heads[0]));
    if(!pr.table) {
      code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
      goto out;
    }
  }
  ch_err rc = certhub_probe_run(ts.v, ts.n, &po, on_result, &pr, &errmsg);
  if(pr.store && !pr.store_rc) {
    pr.store_rc = batch_commit(&pr);
    if(pr.store_rc)
      cli_store_fail(c, pr.store, pr.store_rc, "storing probe results");
  }
  if(c->format == OUT_JSON)
    out_json_end(&pr.js);
  else if(out_table_rows(pr.table))
    out_table_print(pr.table, stdout, c->color);
  if(rc) {
    code = cli_fail(c, rc == CH_ERR_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE,
                    "%s", errmsg ? errmsg : certhub_strerror(rc));
    goto out;
  }
  if(pr.out_rc) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "writing output: %s",
                    certhub_strerror(pr.out_rc));
    goto out;
  }
  if(!c->quiet)
    fprintf(stderr,
            "certhub: probe: %zu target%s, %zu result%s: %zu ok, "
            "%zu failed%s\n",
            ts.n, ts.n == 1 ? "" : "s", pr.n_results,
            pr.n_results == 1 ? "" : "s", pr.n_ok, pr.n_results - pr.n_ok,
            pr.store && !pr.store_rc ? "; stored" : "");
  if(sweep && !c->quiet)
    fprintf(stderr,
            "certhub: probe: sweep %s: %zu target%s with no TLS service "
            "(refused or silent)\n",
            sweep, pr.n_silent, pr.n_silent == 1 ? "" : "s");
  if(pr.findings && !pr.store_rc && !c->quiet)
    fprintf(stderr, "certhub: probe: %zu finding%s written\n", pr.n_findings,
            pr.n_findings == 1 ? "" : "s");
  debug_stats(&pr);
  if(pr.store_rc)
    code = CLI_EXIT_INTERNAL;
  else
    code = pr.n_ok == pr.n_results ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
  if(inter[0])
    unlink(inter);
  out_table_free(pr.table);
  certhub_store_close(pr.store);
  targets_free(&ts);
  free(errmsg);
  return code;
}
