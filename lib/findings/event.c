/*
 * certhub bus events to ASFF findings: one finding per certificate, with a
 * deterministic Id per (certificate ARN, kind) so a certificate's daily
 * events update one finding instead of piling up new ones.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/cert.h"
#include "certhub/event.h"
#include "certhub/store.h"
#include "certhub/time.h"
#include "findings_int.h"

/* A Scheduled Event's batch lists every expiring certificate: far larger
 * than one PutEvents entry, so the cap here is generous but finite. */
#define EVENT_MAX ((size_t)64 << 20)
#define CN_SHOWN 160 /* characters of a CommonName in Title */

/* Certificate ARNs longer than this are refused: the finding Id adds a
 * suffix and must stay within ASFF's 512 characters. */
#define ARN_MAX 400

enum kind { K_EXPIRY, K_RENEWAL };

static const char *const kind_suffix[] = {"/expiry", "/renewal"};

/* What the mapping of one event needs from its envelope. */
typedef struct env {
  const char *product_name;
  const char *detail_type;
  const char *event_id;
  const char *account;
  const char *region;
  char product_arn[512];
  int64_t now_ms;
  const certhub_expiry_bands *bands; /* NULL: the defaults */
  const char *base_url;              /* NULL: $CERTHUB_BASE_URL, default */
} env;

/* One certificate of an event. */
typedef struct certinfo {
  const char *arn;
  const char *cn; /* may be NULL */
  bool has_days;
  json_int_t days;       /* DaysToExpiry */
  const char *not_after; /* RFC 3339 or NULL */
  const char *issuer;    /* may be NULL */
  const char *owner;     /* may be NULL */
  json_t *sources;       /* borrowed array or NULL */
  const char *reason;    /* RenewalStatusReason, may be NULL */
  bool expired;          /* the Expired event */
} certinfo;

static const char *jstr(json_t *o, const char *key)
{
  json_t *j = json_object_get(o, key);
  return json_is_string(j) && *json_string_value(j) ? json_string_value(j)
                                                    : NULL;
}

const char *ch_findings_expiry_severity(const certhub_expiry_bands *b,
                                        bool expired, bool has_days,
                                        int64_t days, int *normalized)
{
  static const certhub_expiry_bands def = CERTHUB_EXPIRY_BANDS_DEFAULT;
  if(!b)
    b = &def;
  if(expired || (has_days && (days < 0 || days <= b->critical))) {
    *normalized = 90;
    return "CRITICAL";
  }
  if(has_days && days <= b->high) {
    *normalized = 70;
    return "HIGH";
  }
  if(has_days && days <= b->medium) {
    *normalized = 40;
    return "MEDIUM";
  }
  *normalized = 1;
  return "LOW";
}

const char *ch_findings_base_url(const char *given, char *buf, size_t n)
{
  const char *b = given && *given ? given : getenv("CERTHUB_BASE_URL");
  if(!b || !*b)
    b = CERTHUB_DEFAULT_BASE_URL;
  snprintf(buf, n, "%s", b);
  size_t l = strlen(buf);
  while(l && buf[l - 1] == '/')
    buf[--l] = '\0';
  return buf;
}

/* The severity bands (documented in findings.h and ARCHITECTURE.md). */
static const char *severity(const env *e, const certinfo *c, int *normalized)
{
  return ch_findings_expiry_severity(e->bands, c->expired, c->has_days,
                                     c->days, normalized);
}

static void title_of(const certinfo *c, enum kind k, char *out, size_t len)
{
  char cnb[CN_SHOWN + 1], rb[41];
  const char *cn = ch_findings_cut(cnb, c->cn ? c->cn : c->arn, CN_SHOWN);
  const char *reason = c->reason ? ch_findings_cut(rb, c->reason, 40) : NULL;
  if(k == K_RENEWAL)
    snprintf(out, len, "Renewal of certificate %s needs action%s%s%s", cn,
             reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
  else if(c->expired && !c->has_days)
    snprintf(out, len, "Certificate %s has expired", cn);
  else if(c->has_days && c->days < 0)
    snprintf(out, len, "Certificate %s expired %lld day%s ago", cn,
             (long long)-c->days, c->days == -1 ? "" : "s");
  else if(c->has_days && c->days == 0)
    snprintf(out, len, "Certificate %s expires today", cn);
  else if(c->has_days)
    snprintf(out, len, "Certificate %s expires in %lld day%s", cn,
             (long long)c->days, c->days == 1 ? "" : "s");
  else
    snprintf(out, len, "Certificate %s is expiring", cn);
}

/* Build the ASFF finding of one certificate. old: the stored finding of
 * that Id (its CreatedAt and FirstObservedAt are kept, and UpdatedAt must
 * move past its UpdatedAt). */
static json_t *build(const env *e, const certinfo *c, enum kind k, json_t *old,
                     const char *url)
{
  char id[1024], title[300], desc[1024], ts[32], created[72], first[72],
      buf[64];
  int norm = 0;
  const char *label = severity(e, c, &norm);
  if(k == K_RENEWAL && norm < 40) {
    label = "MEDIUM";
    norm = 40;
  }
  snprintf(id, sizeof(id), "%s%s", c->arn, kind_suffix[k]);
  title_of(c, k, title, sizeof(title));

  int64_t upd = e->now_ms, old_ms = 0;
  const char *ou = old ? jstr(old, "UpdatedAt") : NULL;
  if(ou && !ch_findings_time_ms(ou, &old_ms) && old_ms >= upd)
    upd = old_ms + 1; /* two events within one millisecond still update */
  ch_findings_time_format(upd, ts);
  ch_findings_time_format(e->now_ms, created);
  snprintf(first, sizeof(first), "%s", created);
  if(old && jstr(old, "CreatedAt"))
    snprintf(created, sizeof(created), "%s", jstr(old, "CreatedAt"));
  if(old && jstr(old, "FirstObservedAt"))
    snprintf(first, sizeof(first), "%s", jstr(old, "FirstObservedAt"));

  char cnb[301], rb[61], nab[41];
  const char *cn =
      ch_findings_cut(cnb, c->cn ? c->cn : "(no common name)", 300);
  if(k == K_RENEWAL)
    snprintf(desc, sizeof(desc),
             "Automatic renewal of the certificate %s (%s) failed%s%s. Renew "
             "it by hand or fix the renewal command.",
             cn, c->arn, c->reason ? ": " : "",
             c->reason ? ch_findings_cut(rb, c->reason, 60) : "");
  else
    snprintf(desc, sizeof(desc),
             "The certificate %s (%s) %s%s%s. A certificate past its "
             "notAfter date is rejected by clients.",
             cn, c->arn,
             c->expired || (c->has_days && c->days < 0) ? "has expired"
                                                        : "is expiring",
             c->not_after ? ": notAfter " : "",
             c->not_after ? ch_findings_cut(nab, c->not_after, 40) : "");

  json_t *details = json_object();
  json_t *acm = json_object();
  json_t *other = json_object();
  json_t *pf = json_object();
  json_t *f = NULL;
  if(!details || !acm || !other || !pf)
    goto fail;
  if(c->cn)
    json_object_set_new(acm, "DomainName", json_string(c->cn));
  if(c->not_after)
    json_object_set_new(acm, "NotAfter", json_string(c->not_after));
  if(c->issuer)
    json_object_set_new(acm, "Issuer", json_string(c->issuer));
  json_object_set_new(acm, "Status",
                      json_string(c->expired || (c->has_days && c->days < 0)
                                      ? "EXPIRED"
                                      : "ISSUED"));
  json_object_set_new(acm, "Type", json_string("IMPORTED"));
  if(c->owner)
    json_object_set_new(other, "owner", json_string(c->owner));
  if(json_is_array(c->sources)) {
    /* Details.Other is a map of strings: the sources joined. */
    char *joined = NULL;
    size_t jl = 0, i;
    json_t *src;
    json_array_foreach(c->sources, i, src)
    {
      const char *v = json_is_string(src) ? json_string_value(src) : NULL;
      if(!v || jl > 4096)
        continue;
      size_t vl = strlen(v);
      char *nj = realloc(joined, jl + vl + 2);
      if(!nj)
        break;
      joined = nj;
      if(jl)
        joined[jl++] = ',';
      memcpy(joined + jl, v, vl);
      jl += vl;
      joined[jl] = '\0';
    }
    if(joined)
      json_object_set_new(other, "sources", json_string(joined));
    free(joined);
  }
  json_object_set_new(details, "AwsCertificateManagerCertificate", acm);
  acm = NULL;
  if(json_object_size(other)) {
    json_object_set_new(details, "Other", other);
    other = NULL;
  }
  if(c->has_days) {
    snprintf(buf, sizeof(buf), "%lld", (long long)c->days);
    json_object_set_new(pf, "certhub/DaysToExpiry", json_string(buf));
  }
  json_object_set_new(pf, "certhub/DetailType", json_string(e->detail_type));
  if(e->event_id)
    json_object_set_new(pf, "certhub/EventId", json_string(e->event_id));

  f = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:{s:s, s:i}, s:s, s:s,"
      " s:s, s:s, s:s, s:s,"
      " s:[{s:s, s:s, s:s, s:o}],"
      " s:{s:s, s:[{s:s, s:s}]},"
      " s:{s:{s:s}},"
      " s:o, s:s, s:s, s:s, s:{s:s}}",
      "SchemaVersion", CERTHUB_ASFF_SCHEMA_VERSION, "Id", id, "ProductArn",
      e->product_arn, "GeneratorId", CERTHUB_FINDINGS_GENERATOR,
      "AwsAccountId", e->account, "Region", e->region, "Types",
      k == K_RENEWAL ? "Software and Configuration Checks/Certificate Renewal"
                     : "Software and Configuration Checks/Certificate Expiry",
      "Severity", "Label", label, "Normalized", norm, "Title", title,
      "Description", desc, "CreatedAt", created, "UpdatedAt", ts,
      "FirstObservedAt", first, "LastObservedAt", ts, "Resources", "Type",
      "AwsCertificateManagerCertificate", "Id", c->arn, "Region", e->region,
      "Details", details, "Compliance", "Status", "FAILED", "StatusReasons",
      "ReasonCode",
      k == K_RENEWAL ? "CERTIFICATE_RENEWAL_FAILED"
      : c->expired || (c->has_days && c->days < 0) ? "CERTIFICATE_EXPIRED"
                                                   : "CERTIFICATE_EXPIRING",
      "Description", title, "Remediation", "Recommendation", "Text",
      k == K_RENEWAL
          ? "Renew the certificate by hand, or fix what makes its renewal "
            "command fail, and deploy it wherever it is installed."
          : "Renew or replace the certificate and deploy the new one to every "
            "source where this one is installed.",
      "ProductFields", pf, "ProductName", e->product_name, "CompanyName",
      "certhub", "RecordState", "ACTIVE", "Workflow", "Status", "NEW");
  details = pf = NULL; /* "o" stole them, also on failure */
  if(f) {
    json_t *comp = json_object_get(f, "Compliance");
    json_t *rec =
        json_object_get(json_object_get(f, "Remediation"), "Recommendation");
    if(json_object_set_new(comp, "SecurityControlId",
                           json_string(k == K_RENEWAL ? "certhub/renewal"
                                                      : "certhub/expiry")) ||
       (url && *url && json_object_set_new(rec, "Url", json_string(url)))) {
      json_decref(f);
      f = NULL;
    }
  }
fail:
  json_decref(details);
  json_decref(acm);
  json_decref(other);
  json_decref(pf);
  return f;
}

/* ---- results ---------------------------------------------------------- */

typedef struct outcome {
  size_t written;
  size_t failed;
  char first_error[512];
} outcome;

static void note_error(outcome *o, const char *fmt, const char *a,
                       const char *b)
{
  o->failed++;
  if(!o->first_error[0])
    snprintf(o->first_error, sizeof(o->first_error), fmt, a, b);
}

/* Import arr (up to CERTHUB_FINDINGS_BATCH_MAX) and account for it. */
static ch_err import_chunk(certhub_store *s, json_t *arr, int64_t now,
                           outcome *o)
{
  certhub_import_result r = {0};
  ch_err rc = ch_findings_import_array(s, arr, now, &r);
  if(rc) {
    if(!o->first_error[0])
      snprintf(o->first_error, sizeof(o->first_error), "%s", r.error);
  }
  else {
    o->written += r.success - r.unchanged;
    for(size_t i = 0; i < r.failed; i++) {
      char ib[201], mb[251];
      note_error(o, "finding '%s': %s",
                 ch_findings_cut(ib, r.failures[i].id, 200),
                 ch_findings_cut(mb, r.failures[i].message, 250));
    }
  }
  certhub_import_result_free(&r);
  return rc;
}

static ch_err short_id_cb(void *ctx, const certhub_cert_row *row)
{
  snprintf(ctx, CERTHUB_ID_LEN + 1, "%s", row->id);
  return CH_OK;
}

/* Remediation.Recommendation.Url: certhub serve's page of the certificate
 * when the inventory knows it, else "" (an event from elsewhere). */
static ch_err cert_url(certhub_store *s, const env *e, const char *arn,
                       int64_t now, char *url, size_t n)
{
  int64_t *ids = NULL;
  size_t cnt = 0;
  char sid[CERTHUB_ID_LEN + 1] = "", base[512];
  url[0] = '\0';
  ch_err rc = certhub_store_resolve(s, arn, &ids, &cnt);
  if(rc == CH_ERR_NOTFOUND || rc == CH_ERR_USAGE || rc == CH_ERR_AMBIGUOUS)
    rc = CH_OK;
  else if(!rc && cnt == 1) {
    certhub_filter f = {.rowid = ids[0]};
    rc = certhub_store_list(s, &f, now, short_id_cb, sid);
  }
  free(ids);
  if(!rc && sid[0])
    snprintf(url, n, "%s/certificates/%s",
             ch_findings_base_url(e->base_url, base, sizeof(base)), sid);
  return rc;
}

static ch_err add_cert(certhub_store *s, const env *e, const certinfo *c,
                       enum kind k, json_t *arr)
{
  char id[1024], url[600];
  json_t *old = NULL;
  snprintf(id, sizeof(id), "%s%s", c->arn, kind_suffix[k]);
  ch_err rc = cert_url(s, e, c->arn, e->now_ms / 1000, url, sizeof(url));
  if(!rc)
    rc = ch_findings_stored(s, e->product_arn, id, &old);
  if(rc)
    return rc;
  json_t *f = build(e, c, k, old, url);
  json_decref(old);
  if(!f || json_array_append_new(arr, f))
    return CH_ERR_NOMEM;
  return CH_OK;
}

/* ---- the event kinds -------------------------------------------------- */

static ch_err one_cert(certhub_store *s, const env *e, json_t *ev,
                       json_t *detail, int64_t now, bool expired, enum kind k,
                       outcome *o)
{
  json_t *res = json_object_get(ev, "resources");
  json_t *arr = NULL;
  certinfo c = {.expired = expired};
  ch_err rc = CH_OK;
  c.arn = json_is_string(json_array_get(res, 0))
              ? json_string_value(json_array_get(res, 0))
              : NULL;
  if(!c.arn || !*c.arn) {
    note_error(o, "%s event has no certificate in resources[0]%s",
               e->detail_type, "");
    return CH_ERR_PARSE;
  }
  if(strlen(c.arn) > ARN_MAX) {
    note_error(o, "%s event: resources[0] is longer than %s bytes",
               e->detail_type, "400");
    return CH_ERR_PARSE;
  }
  c.cn = jstr(detail, "CommonName");
  c.not_after = jstr(detail, "CertificateExpirationDate");
  c.reason = jstr(detail, "RenewalStatusReason");
  c.owner = jstr(detail, "owner");
  c.issuer = jstr(detail, "Issuer");
  json_t *days = json_object_get(detail, "DaysToExpiry");
  if(json_is_integer(days)) {
    c.has_days = true;
    c.days = json_integer_value(days);
  }
  else if(days) {
    note_error(o, "%s event: detail.DaysToExpiry is not an integer%s",
               e->detail_type, "");
    return CH_ERR_PARSE;
  }
  else if(!expired && k == K_EXPIRY) {
    note_error(o, "%s event: detail.DaysToExpiry is missing%s", e->detail_type,
               "");
    return CH_ERR_PARSE;
  }
  if(!(arr = json_array()))
    return CH_ERR_NOMEM;
  rc = add_cert(s, e, &c, k, arr);
  if(!rc)
    rc = import_chunk(s, arr, now, o);
  json_decref(arr);
  return rc;
}

static ch_err batch(certhub_store *s, const env *e, json_t *detail,
                    int64_t now, outcome *o)
{
  json_t *certs = json_object_get(detail, "certificates");
  json_t *arr = NULL, *c_j;
  size_t i;
  ch_err rc = CH_OK;
  if(!json_is_array(certs)) {
    note_error(o,
               "%s event: detail has no \"certificates\" array (no finding "
               "mapping for this scheduled event)%s",
               e->detail_type, "");
    return CH_ERR_UNSUPPORTED;
  }
  json_array_foreach(certs, i, c_j)
  {
    certinfo c = {0};
    char where[32];
    snprintf(where, sizeof(where), "%zu", i);
    c.arn = jstr(c_j, "Arn");
    if(!c.arn) {
      note_error(o, "certificates[%s]: no Arn%s", where, "");
      continue;
    }
    if(strlen(c.arn) > ARN_MAX) {
      note_error(o, "certificates[%s]: Arn is longer than %s bytes", where,
                 "400");
      continue;
    }
    c.cn = jstr(c_j, "CommonName");
    c.not_after = jstr(c_j, "NotAfter");
    c.issuer = jstr(c_j, "Issuer");
    /* lifecycle's batch says "Owner" (the tag is "owner"). */
    c.owner = jstr(c_j, "Owner") ? jstr(c_j, "Owner") : jstr(c_j, "owner");
    c.sources = json_object_get(c_j, "Sources");
    json_t *days = json_object_get(c_j, "DaysToExpiry");
    int64_t na;
    if(json_is_integer(days)) {
      c.has_days = true;
      c.days = json_integer_value(days);
    }
    else if(c.not_after && !certhub_time_parse(c.not_after, &na)) {
      c.has_days = true;
      c.days = certhub_days_to_expiry(na, now);
    }
    else {
      note_error(o, "certificates[%s]: no DaysToExpiry or NotAfter%s", where,
                 "");
      continue;
    }
    if(!arr && !(arr = json_array()))
      return CH_ERR_NOMEM;
    if((rc = add_cert(s, e, &c, K_EXPIRY, arr)))
      break;
    if(json_array_size(arr) == CERTHUB_FINDINGS_BATCH_MAX) {
      rc = import_chunk(s, arr, now, o);
      json_decref(arr);
      arr = NULL;
      if(rc)
        break;
    }
  }
  if(!rc && arr)
    rc = import_chunk(s, arr, now, o);
  json_decref(arr);
  return rc;
}

/* Archive the expiry and renewal findings of one certificate. */
static ch_err archive(certhub_store *s, const env *e, const char *arn,
                      const char *by, const char *action, int64_t now,
                      outcome *o)
{
  ch_err rc = CH_OK;
  for(int k = 0; k < 2 && !rc; k++) {
    char id[1024], ts[32], why[1024];
    json_t *old = NULL, *arr = NULL;
    snprintf(id, sizeof(id), "%s%s", arn, kind_suffix[k]);
    if((rc = ch_findings_stored(s, e->product_arn, id, &old)) || !old)
      continue;
    const char *rs = jstr(old, "RecordState");
    if(rs && !strcmp(rs, "ARCHIVED")) {
      json_decref(old);
      continue;
    }
    int64_t upd = e->now_ms, old_ms = 0;
    const char *ou = jstr(old, "UpdatedAt");
    if(ou && !ch_findings_time_ms(ou, &old_ms) && old_ms >= upd)
      upd = old_ms + 1;
    ch_findings_time_format(upd, ts);
    char byb[ARN_MAX + 1], ab[21];
    snprintf(why, sizeof(why),
             "Replaced by %s (ACM Certificate Available, Action %s)",
             ch_findings_cut(byb, by, ARN_MAX),
             ch_findings_cut(ab, action ? action : "?", 20));
    json_t *comp = json_pack(
        "{s:s, s:s, s:[{s:s, s:s}]}", "Status", "PASSED", "SecurityControlId",
        k == K_RENEWAL ? "certhub/renewal" : "certhub/expiry", "StatusReasons",
        "ReasonCode", "CERTIFICATE_REPLACED", "Description", why);
    if(!comp || json_object_set_new(old, "Compliance", comp) ||
       json_object_set_new(old, "RecordState", json_string("ARCHIVED")) ||
       json_object_set_new(old, "UpdatedAt", json_string(ts)) ||
       json_object_set_new(old, "LastObservedAt", json_string(ts)) ||
       !(arr = json_array()) || json_array_append(arr, old))
      rc = CH_ERR_NOMEM;
    if(!rc)
      rc = import_chunk(s, arr, now, o);
    json_decref(arr);
    json_decref(old);
  }
  return rc;
}

/* ARNs of the certificates the inventory records as replaced by arn. */
typedef struct arns {
  char **v;
  size_t n;
} arns;

static ch_err collect_replaced(void *ctx, const certhub_cert_row *row)
{
  arns *a = ctx;
  for(size_t i = 0; i < row->n_replaces && a->n < 64; i++) {
    char **nv = realloc(a->v, (a->n + 1) * sizeof(*nv));
    if(!nv)
      return CH_ERR_NOMEM;
    a->v = nv;
    if(!(a->v[a->n] = strdup(row->replaces[i])))
      return CH_ERR_NOMEM;
    a->n++;
  }
  return CH_OK;
}

static ch_err collect_arn(void *ctx, const certhub_cert_row *row)
{
  char **out = ctx;
  free(*out);
  *out = strdup(row->arn);
  return *out ? CH_OK : CH_ERR_NOMEM;
}

/* The inventory may not know the certificate (events from elsewhere):
 * that is not an error, there is just nothing more to archive. */
static ch_err replaced_by_inventory(certhub_store *s, const char *arn,
                                    int64_t now, arns *out)
{
  int64_t *ids = NULL;
  size_t n = 0;
  arns shorts = {0};
  ch_err rc = certhub_store_resolve(s, arn, &ids, &n);
  /* USAGE: not a certhub certificate ARN (an event from elsewhere). */
  if(rc == CH_ERR_NOTFOUND || rc == CH_ERR_USAGE || (!rc && n != 1)) {
    rc = CH_OK;
    goto out;
  }
  if(rc)
    goto out;
  certhub_filter f = {.rowid = ids[0]};
  if((rc = certhub_store_list(s, &f, now, collect_replaced, &shorts)))
    goto out;
  for(size_t i = 0; i < shorts.n && !rc; i++) {
    int64_t *rids = NULL;
    size_t rn = 0;
    char *rarn = NULL;
    rc = certhub_store_resolve(s, shorts.v[i], &rids, &rn);
    if(!rc && rn == 1) {
      certhub_filter rf = {.rowid = rids[0]};
      rc = certhub_store_list(s, &rf, now, collect_arn, &rarn);
      if(!rc && rarn) {
        char **nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
        if(!nv)
          rc = CH_ERR_NOMEM;
        else {
          out->v = nv;
          out->v[out->n++] = rarn;
          rarn = NULL;
        }
      }
    }
    else if(rc == CH_ERR_NOTFOUND || rc == CH_ERR_AMBIGUOUS)
      rc = CH_OK;
    free(rarn);
    free(rids);
  }
out:
  for(size_t i = 0; i < shorts.n; i++)
    free(shorts.v[i]);
  free(shorts.v);
  free(ids);
  return rc;
}

static ch_err available(certhub_store *s, const env *e, json_t *ev,
                        json_t *detail, int64_t now, outcome *o)
{
  json_t *res = json_object_get(ev, "resources");
  const char *action = jstr(detail, "Action");
  const char *first;
  arns more = {0};
  ch_err rc = CH_OK;
  size_t i;
  json_t *r;
  first = json_is_string(json_array_get(res, 0))
              ? json_string_value(json_array_get(res, 0))
              : NULL;
  if(!first) {
    note_error(o, "%s event has no certificate in resources[0]%s",
               e->detail_type, "");
    return CH_ERR_PARSE;
  }
  /* Only a renewal or reimport replaces a certificate: ISSUANCE and IMPORT
   * (also "first seen at an endpoint") say nothing about expiry. */
  if(!action || (strcmp(action, "REIMPORT") && strcmp(action, "RENEWAL")))
    return CH_OK;
  /* ACM renews and reimports in place (same ARN): the resources' own
   * findings are the replaced certificate's. */
  json_array_foreach(res, i, r)
  {
    /* A name too long to be in a finding Id has no finding. */
    if(json_is_string(r) && json_string_length(r) <= ARN_MAX && !rc)
      rc = archive(s, e, json_string_value(r), first, action, now, o);
  }
  if(!rc)
    rc = replaced_by_inventory(s, first, now, &more);
  for(size_t k = 0; k < more.n && !rc; k++)
    rc = archive(s, e, more.v[k], first, action, now, o);
  for(size_t k = 0; k < more.n; k++)
    free(more.v[k]);
  free(more.v);
  return rc;
}

/* ---- entry points ----------------------------------------------------- */

static char *fmt_detail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *fmt_detail(const char *fmt, ...)
{
  char buf[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return strdup(buf);
}

ch_err certhub_findings_from_event(certhub_store *s, const char *event_json,
                                   size_t len, int64_t now, size_t *n_imported,
                                   char **detail)
{
  return certhub_findings_from_event_product(s, NULL, event_json, len, now,
                                             n_imported, detail);
}

ch_err certhub_findings_from_event_product(certhub_store *s,
                                           const char *product,
                                           const char *event_json, size_t len,
                                           int64_t now, size_t *n_imported,
                                           char **detail)
{
  certhub_event_findings_opts o = {.product = product};
  return certhub_findings_from_event_opts(s, &o, event_json, len, now,
                                          n_imported, detail);
}

ch_err certhub_findings_from_event_opts(certhub_store *s,
                                        const certhub_event_findings_opts *opt,
                                        const char *event_json, size_t len,
                                        int64_t now, size_t *n_imported,
                                        char **detail)
{
  static const certhub_event_findings_opts none = {0};
  const char *product = (opt ? opt : &none)->product;
  char pnb[129];
  ch_err rc = CH_OK;
  json_t *ev = NULL;
  json_error_t jerr;
  outcome o = {0};
  env e = {0};
  char *msg = NULL;
  if(n_imported)
    *n_imported = 0;
  if(detail)
    *detail = NULL;
  if(!s || !event_json)
    return CH_ERR_USAGE;
  if(len > EVENT_MAX) {
    msg = fmt_detail("event is %zu bytes (at most %zu)", len, EVENT_MAX);
    rc = CH_ERR_TOOBIG;
    goto out;
  }
  ev = json_loadb(event_json, len, 0, &jerr);
  if(!ev || !json_is_object(ev)) {
    msg = ev ? fmt_detail("event is not a JSON object")
             : fmt_detail("event is not valid JSON (line %d column %d: %s)",
                          jerr.line, jerr.column, jerr.text);
    rc = CH_ERR_PARSE;
    goto out;
  }
  e.product_name =
      ch_findings_cut(pnb, product && *product ? product : "certhub", 128);
  e.bands = opt ? opt->bands : NULL;
  e.base_url = opt ? opt->base_url : NULL;
  e.detail_type = jstr(ev, "detail-type");
  e.event_id = jstr(ev, "id");
  e.account = jstr(ev, "account");
  e.region = jstr(ev, "region");
  json_t *d = json_object_get(ev, "detail");
  if(!e.detail_type || !e.account || !e.region || !json_is_object(d)) {
    msg = fmt_detail("event lacks the EventBridge envelope (detail-type, "
                     "account, region and a detail object)");
    rc = CH_ERR_PARSE;
    goto out;
  }
  if(strchr(e.region, ':') || strchr(e.account, ':') ||
     strlen(e.region) > 64 || strlen(e.account) > 64) {
    msg = fmt_detail("event account or region contains ':' or is longer "
                     "than 64 bytes");
    rc = CH_ERR_PARSE;
    goto out;
  }
  snprintf(e.product_arn, sizeof(e.product_arn),
           "arn:certhub:securityhub:%s:%s:product/certhub/certhub", e.region,
           e.account);
  e.now_ms = now * 1000;

  if(!strcmp(e.detail_type, CERTHUB_DT_APPROACHING))
    rc = one_cert(s, &e, ev, d, now, false, K_EXPIRY, &o);
  else if(!strcmp(e.detail_type, CERTHUB_DT_EXPIRED))
    rc = one_cert(s, &e, ev, d, now, true, K_EXPIRY, &o);
  else if(!strcmp(e.detail_type, CERTHUB_DT_RENEWAL_ACTION))
    rc = one_cert(s, &e, ev, d, now, false, K_RENEWAL, &o);
  else if(!strcmp(e.detail_type, CERTHUB_DT_SCHEDULED))
    rc = batch(s, &e, d, now, &o);
  else if(!strcmp(e.detail_type, CERTHUB_DT_AVAILABLE))
    rc = available(s, &e, ev, d, now, &o);
  else {
    char dtb[201];
    msg = fmt_detail("no finding mapping for detail-type %s",
                     ch_findings_cut(dtb, e.detail_type, 200));
    rc = CH_ERR_UNSUPPORTED;
    goto out;
  }
  /* Findings that failed validation fail the delivery too, so the bus
   * retries or dead-letters it; the valid ones are stored already. */
  if(!rc && o.failed)
    rc = CH_ERR_PARSE;
  if(rc)
    msg = fmt_detail("%s%s%zu finding(s) written, %zu failed",
                     o.first_error[0] ? o.first_error : certhub_strerror(rc),
                     "; ", o.written, o.failed);
  else
    msg = fmt_detail("%zu finding(s) written", o.written);
out:
  if(n_imported)
    *n_imported = o.written;
  if(detail)
    *detail = msg;
  else
    free(msg);
  json_decref(ev);
  return rc;
}

ch_err certhub_findings_event_hook(void *ctx, const char *product,
                                   const char *event_json, size_t len,
                                   char **detail)
{
  /* One handle, possibly several delivery threads: savepoints on one
   * connection must not interleave. */
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&lock);
  ch_err rc = certhub_findings_from_event_product(
      ctx, product, event_json, len, certhub_now(), NULL, detail);
  pthread_mutex_unlock(&lock);
  return rc;
}
