/*
 * certhub_lifecycle_evaluate: one pass over the inventory that puts the
 * due lifecycle events into a sink and runs due renewal commands.
 *
 * Exactly-once is the sink's job (dedupe keys, see lifecycle.h): every
 * run puts every due event again and the sink stores the new ones. That
 * keeps evaluation stateless apart from renewal, whose attempts must not
 * repeat: a milestone is marked in the store (certhub_store_mark_set)
 * before its command runs, so a crash mid-command does not run it again.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/inventory.h"
#include "certhub/time.h"
#include "core/run.h"
#include "lifecycle_int.h"

#define MARK_RENEW "renew:"     /* renew:<sha256>:<milestone> attempted */
#define MARK_RENEWED "renewed:" /* renewed:<sha256> made by a renewal */
#define PASSWORD_MAX 4096

typedef struct lc_eval {
  certhub_store *s;
  const certhub_config *cfg;
  const certhub_lifecycle_opts *o;
  const certhub_event_sink *sink;
  certhub_lifecycle_stats *st;
  lc_match m;
  const char *source;
  char date[16];
  int64_t *renewed; /* rowids of certificates renewals produced */
  size_t n_renewed, cap_renewed;
  bool reimported; /* a renewal re-read a source: copies may be stale */
} lc_eval;

static void warn(lc_eval *e, const char *cert_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warn(lc_eval *e, const char *cert_id, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  e->st->warnings++;
  if(e->o->on_warning)
    e->o->on_warning(e->o->ctx, cert_id, msg);
}

static const char *const detail_types[CERTHUB_LC__N] = {
    [CERTHUB_LC_APPROACHING] = CERTHUB_DT_APPROACHING,
    [CERTHUB_LC_EXPIRED] = CERTHUB_DT_EXPIRED,
    [CERTHUB_LC_AVAILABLE] = CERTHUB_DT_AVAILABLE,
    [CERTHUB_LC_RENEWAL_ACTION] = CERTHUB_DT_RENEWAL_ACTION,
};

/* Put one event; detail is consumed. */
static ch_err emit(lc_eval *e, const lc_cert *c, enum certhub_lifecycle_kind k,
                   char *detail, const char *key)
{
  if(!detail)
    return CH_ERR_NOMEM;
  certhub_event ev = {
      .source = e->source,
      .detail_type = detail_types[k],
      .account = c->account,
      .region = c->region,
      .time = e->o->now,
      .resources = &c->arn,
      .n_resources = 1,
      .detail = detail,
      .dedupe_key = key,
  };
  bool stored = false;
  ch_err rc = e->sink->put(e->sink->ctx, &ev, &stored);
  free(detail);
  if(rc)
    return rc;
  if(stored)
    e->st->emitted[k]++;
  else
    e->st->deduped[k]++;
  return CH_OK;
}

static ch_err emit_available(lc_eval *e, const lc_cert *c)
{
  char key[128];
  bool renewed = false;
  ch_err rc = CH_OK;
  /* A managed renewal only counts once the store linked it, so only a
   * certificate that replaced another can be one: one lookup saved per
   * certificate on every run. */
  if(c->n_replaces) {
    snprintf(key, sizeof(key), MARK_RENEWED "%s", c->sha256);
    rc = certhub_store_mark_get(e->s, key, &renewed, NULL);
    if(rc)
      return rc;
  }
  const char *action = renewed         ? "RENEWAL"
                       : c->n_replaces ? "REIMPORT"
                                       : "IMPORT";
  snprintf(key, sizeof(key), "available:%s", c->sha256);
  return emit(e, c, CERTHUB_LC_AVAILABLE, ch_lc_detail_available(c, action),
              key);
}

/* ---- managed renewal ------------------------------------------------- */

static int milestone_for(int64_t days)
{
  static const int ms[] = CERTHUB_RENEWAL_MILESTONES;
  int best = 0;
  for(size_t i = 0; i < CH_ARRAY_LEN(ms); i++)
    if(days <= ms[i] && (!best || ms[i] < best))
      best = ms[i];
  return best;
}

/* The first line of path, for PKCS#12 sources (as `certhub import`). */
static char *read_password(const char *path)
{
  FILE *f = fopen(path, "r");
  if(!f)
    return NULL;
  char *buf = malloc(PASSWORD_MAX + 2);
  if(buf && !fgets(buf, PASSWORD_MAX + 2, f))
    buf[0] = '\0';
  fclose(f);
  if(buf)
    buf[strcspn(buf, "\r\n")] = '\0';
  return buf;
}

typedef struct import_note {
  lc_eval *e;
  const char *id;
  unsigned problems;
} import_note;

static void on_import_problem(void *ctx, const char *path, unsigned position,
                              ch_err err, const char *reason)
{
  import_note *n = ctx;
  n->problems++;
  warn(n->e, n->id, "re-import after renewal: %s%s%.0u: %s", path,
       position ? " #" : "", position,
       reason && *reason ? reason : certhub_strerror(err));
}

/* Import the source's paths as `certhub import` does from the config:
 * its tags, excludes, password and labels. */
static ch_err reimport(lc_eval *e, const lc_cert *c,
                       const certhub_source_cfg *src, bool *failed)
{
  const char **keys = calloc(src->n_tags + 1, sizeof(*keys));
  const char **vals = calloc(src->n_tags + 1, sizeof(*vals));
  char *password = NULL;
  ch_err rc = CH_OK;
  *failed = false;
  if(!keys || !vals) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  for(size_t i = 0; i < src->n_tags; i++) {
    keys[i] = src->tags[i].key;
    vals[i] = src->tags[i].value;
  }
  if(src->password_file && !(password = read_password(src->password_file))) {
    warn(e, c->id, "re-import after renewal: password file %s unreadable",
         src->password_file);
    *failed = true;
    goto out;
  }
  import_note note = {.e = e, .id = c->id};
  certhub_import_opts io = {
      .labels =
          {
              .account = src->account ? src->account : e->cfg->account,
              .region = src->region ? src->region : e->cfg->region,
              .tag_keys = keys,
              .tag_values = vals,
              .n_tags = src->n_tags,
          },
      .excludes = (const char *const *)src->excludes,
      .n_excludes = src->n_excludes,
      .password = password,
      .now = e->o->now,
      .on_problem = on_import_problem,
      .ctx = &note,
  };
  certhub_import_stats ist = {0};
  rc = certhub_import(e->s, (const char *const *)src->paths, src->n_paths, &io,
                      &ist);
  /* File problems are the source's, reported; the store's stop us. */
  if(rc == CH_ERR_DB || rc == CH_ERR_BUSY || rc == CH_ERR_NOMEM ||
     rc == CH_ERR_INTERNAL)
    goto out;
  *failed = rc != CH_OK || note.problems;
  rc = CH_OK;
out:
  if(password) {
    memset(password, 0, strlen(password));
    free(password);
  }
  free(keys);
  free(vals);
  return rc;
}

typedef struct renewal_check {
  lc_eval *e;
  size_t n_by;
  char by[8][CERTHUB_ID_LEN + 1];
} renewal_check;

static ch_err on_check_row(void *ctx, const certhub_cert_row *row)
{
  renewal_check *rc = ctx;
  for(size_t i = 0; i < row->n_replaced_by && rc->n_by < 8; i++)
    snprintf(rc->by[rc->n_by++], sizeof(rc->by[0]), "%s", row->replaced_by[i]);
  return CH_OK;
}

/* The renewals of c the store linked; each new one is marked as made by
 * a managed renewal and queued for its Available event. */
static ch_err find_renewals(lc_eval *e, const lc_cert *c, bool *found)
{
  renewal_check chk = {.e = e};
  certhub_filter f = {.rowid = c->rowid};
  ch_err rc = certhub_store_list(e->s, &f, e->o->now, on_check_row, &chk);
  *found = false;
  for(size_t i = 0; !rc && i < chk.n_by; i++) {
    int64_t *ids = NULL;
    size_t n = 0;
    rc = certhub_store_resolve(e->s, chk.by[i], &ids, &n);
    if(rc == CH_ERR_NOTFOUND || rc == CH_ERR_AMBIGUOUS) {
      rc = CH_OK;
      continue;
    }
    for(size_t k = 0; !rc && k < n; k++) {
      lc_set one;
      rc = ch_lc_collect(e->s, e->o->now, ids[k], &one);
      if(rc)
        break;
      if(one.n) {
        char key[128];
        snprintf(key, sizeof(key), MARK_RENEWED "%s", one.v[0].sha256);
        rc = certhub_store_mark_set(e->s, key, e->o->now, NULL);
        if(!rc && e->n_renewed == e->cap_renewed) {
          size_t cap = e->cap_renewed ? e->cap_renewed * 2 : 16;
          int64_t *v = realloc(e->renewed, cap * sizeof(*v));
          if(!v)
            rc = CH_ERR_NOMEM;
          else {
            e->renewed = v;
            e->cap_renewed = cap;
          }
        }
        if(!rc) {
          e->renewed[e->n_renewed++] = one.v[0].rowid;
          *found = true;
        }
      }
      ch_lc_set_free(&one);
    }
    free(ids);
  }
  return rc;
}

/* Last line of the command's output, for a one-line warning. */
static const char *tail_line(const char *out, char *buf, size_t len)
{
  if(!out || !*out)
    return "";
  size_t n = strlen(out);
  while(n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
    n--;
  size_t start = n;
  while(start && out[start - 1] != '\n')
    start--;
  snprintf(buf, len, ": %.*s", (int)(n - start), out + start);
  for(char *p = buf; *p; p++)
    if((unsigned char)*p < 0x20)
      *p = ' ';
  return buf;
}

/* Run the source's command for c at milestone ms; *renewed when the store
 * then links a renewal of c, else *reason says why not. */
static ch_err renew_one(lc_eval *e, const lc_cert *c,
                        const certhub_source_cfg *src, const char *locator,
                        int ms, bool *renewed, const char **reason)
{
  char ev_id[64], ev_sha[128], ev_cn[1200], ev_src[4200], ev_days[64],
      ev_ms[64], ev_arn[256];
  snprintf(ev_id, sizeof(ev_id), "CERTHUB_CERT_ID=%s", c->id);
  snprintf(ev_sha, sizeof(ev_sha), "CERTHUB_CERT_SHA256=%s", c->sha256);
  snprintf(ev_cn, sizeof(ev_cn), "CERTHUB_COMMON_NAME=%s", c->cn);
  snprintf(ev_src, sizeof(ev_src), "CERTHUB_SOURCE=%s", locator);
  snprintf(ev_days, sizeof(ev_days), "CERTHUB_DAYS_TO_EXPIRY=%lld",
           (long long)c->days);
  snprintf(ev_ms, sizeof(ev_ms), "CERTHUB_RENEWAL_MILESTONE=%d", ms);
  snprintf(ev_arn, sizeof(ev_arn), "CERTHUB_CERT_ARN=%s", c->arn);
  const char *env[] = {ev_id,   ev_sha, ev_cn,  ev_src,
                       ev_days, ev_ms,  ev_arn, NULL};
  char what[256], tail[300];
  ch_run_opts ro = {
      .argv = (const char *const *)src->renew_argv,
      .env = env,
      .timeout_ms = src->renew_timeout_ms,
      .stdout_cap = CERTHUB_RENEWAL_OUTPUT_MAX,
      .stderr_cap = CERTHUB_RENEWAL_OUTPUT_MAX,
  };
  ch_run_result r;
  *renewed = false;
  *reason = NULL;
  e->st->renewal_attempts++;
  ch_err rc = ch_run(&ro, &r);
  if(rc)
    return rc;
  if(r.exec_errno)
    *reason = CERTHUB_RENEWAL_EXEC_FAILED;
  else if(r.timed_out)
    *reason = CERTHUB_RENEWAL_COMMAND_TIMEOUT;
  else if(!r.exited || r.exit_status != 0)
    *reason = CERTHUB_RENEWAL_COMMAND_FAILED;
  if(*reason) {
    ch_run_describe(&r, ro.timeout_ms, what, sizeof(what));
    warn(e, c->id, "renewal at %d days: %s: %s%s", ms, src->renew_argv[0],
         what, tail_line(r.err_len ? r.err : r.out, tail, sizeof(tail)));
  }
  ch_run_result_free(&r);
  bool import_failed = false;
  if(!*reason) {
    e->reimported = true;
    rc = reimport(e, c, src, &import_failed);
  }
  if(!rc && !*reason)
    rc = find_renewals(e, c, renewed);
  if(!rc && !*reason && !*renewed) {
    *reason = import_failed ? CERTHUB_RENEWAL_REIMPORT_FAILED
                            : CERTHUB_RENEWAL_NO_NEW_CERT;
    warn(e, c->id,
         "renewal at %d days: the command succeeded but %s holds no "
         "renewal of this certificate",
         ms, locator);
  }
  if(*reason)
    e->st->renewal_failures++;
  return rc;
}

/* Renewal of one certificate, when its source has a command and a
 * milestone is due and not yet attempted. *renewed: it was replaced. */
static ch_err maybe_renew(lc_eval *e, const lc_cert *c, bool *renewed)
{
  const char *locator = NULL;
  *renewed = false;
  if(c->expired || c->n_replaced_by || c->days < 0)
    return CH_OK;
  int ms = milestone_for(c->days);
  if(!ms)
    return CH_OK;
  const certhub_source_cfg *src = ch_lc_renew_source(&e->m, c, &locator);
  if(!src || e->o->dry_run)
    return CH_OK;
  char key[128];
  bool fresh = false;
  snprintf(key, sizeof(key), MARK_RENEW "%s:%d", c->sha256, ms);
  ch_err rc = certhub_store_mark_set(e->s, key, e->o->now, &fresh);
  if(rc || !fresh)
    return rc;
  const char *reason = NULL;
  rc = renew_one(e, c, src, locator, ms, renewed, &reason);
  if(rc || !reason)
    return rc;
  snprintf(key, sizeof(key), "renewal:%s:%d", c->sha256, ms);
  return emit(e, c, CERTHUB_LC_RENEWAL_ACTION, ch_lc_detail_renewal(c, reason),
              key);
}

/* ---- the pass -------------------------------------------------------- */

static ch_err evaluate_one(lc_eval *e, const lc_cert *c)
{
  char key[128];
  bool bad_tag = false, renewed = false;
  int thr = ch_lc_threshold(&e->m, c, &bad_tag);
  if(bad_tag)
    warn(e, c->id,
         "tag " LC_TAG_THRESHOLD "=\"%.40s\" is not a number of days from "
         "1 to 365; ignored",
         c->tag_threshold);
  e->st->certificates++;
  ch_err rc = emit_available(e, c);
  if(!rc)
    rc = maybe_renew(e, c, &renewed);
  if(rc || renewed)
    return rc; /* a renewed certificate is no longer approaching anything */
  if(c->expired) {
    snprintf(key, sizeof(key), "expired:%s", c->sha256);
    return emit(e, c, CERTHUB_LC_EXPIRED, ch_lc_detail_expired(c), key);
  }
  if(c->days >= 0 && c->days <= thr) {
    snprintf(key, sizeof(key), "approaching:%s:%s", c->sha256, e->date);
    return emit(e, c, CERTHUB_LC_APPROACHING, ch_lc_detail_approaching(c),
                key);
  }
  return CH_OK;
}

ch_err certhub_lifecycle_evaluate(certhub_store *s, const certhub_config *cfg,
                                  const certhub_lifecycle_opts *opts,
                                  const certhub_event_sink *sink,
                                  certhub_lifecycle_stats *stats)
{
  certhub_lifecycle_stats local;
  lc_set set = {0};
  ch_err rc;
  if(!s || !cfg || !opts || !sink || !sink->put)
    return CH_ERR_USAGE;
  if(!stats)
    stats = &local;
  memset(stats, 0, sizeof(*stats));
  lc_eval e = {
      .s = s,
      .cfg = cfg,
      .o = opts,
      .sink = sink,
      .st = stats,
      .source = opts->source        ? opts->source
                : cfg->event_source ? cfg->event_source
                                    : CERTHUB_DEFAULT_EVENT_SOURCE,
  };
  certhub_date_format(opts->now, e.date, sizeof(e.date));
  rc = ch_lc_match_init(&e.m, cfg);
  if(!rc)
    rc = ch_lc_collect(s, opts->now, 0, &set);
  for(size_t i = 0; !rc && i < set.n; i++) {
    if(!e.reimported) {
      rc = evaluate_one(&e, &set.v[i]);
      continue;
    }
    /* A command may renew more than its own certificate (certbot renew):
     * after a re-import, look at the certificate as the store has it now
     * (gone from every source: nothing to say about it). */
    lc_set now;
    rc = ch_lc_collect(s, opts->now, set.v[i].rowid, &now);
    if(!rc && now.n)
      rc = evaluate_one(&e, &now.v[0]);
    ch_lc_set_free(&now);
  }
  /* Certificates the renewals produced: their Available (RENEWAL) now,
   * not on the next run. */
  for(size_t i = 0; !rc && i < e.n_renewed; i++) {
    lc_set one;
    rc = ch_lc_collect(s, opts->now, e.renewed[i], &one);
    for(size_t k = 0; !rc && k < one.n; k++)
      rc = emit_available(&e, &one.v[k]);
    ch_lc_set_free(&one); /* zeroed by a failed collect */
  }
  ch_lc_set_free(&set);
  ch_lc_match_free(&e.m);
  free(e.renewed);
  return rc;
}
