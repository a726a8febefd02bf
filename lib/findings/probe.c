/*
 * Probe results to ASFF findings: every check of a probed endpoint is one
 * finding, Id "<endpoint URI>/<check>", so that each probe updates the
 * same findings; a check that passes again archives (resolves) its
 * finding, and one that fails again reopens it through the import's
 * workflow rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certhub/cert.h"
#include "certhub/store.h"
#include "certhub/time.h"
#include "findings_int.h"

#define URI_MAX 400 /* the Id adds "/<check>" and must stay within 512 */
#define WEAK_RSA_BITS 2048
#define WEAK_EC_BITS 224

/* One check: its name (the Id suffix), ASFF type, title, remediation. */
typedef struct check {
  const char *name;
  const char *type;
  const char *control;
  const char *remedy;
} check;

enum {
  C_EXPIRY,
  C_NOT_YET_VALID,
  C_HOSTNAME,
  C_UNTRUSTED,
  C_MISSING_INTER,
  C_ORDER,
  C_EXPIRED_INTER,
  C_WEAK_KEY,
  C_SHA1,
  C_LEGACY_TLS,
  C_REVOKED,
  C_COUNT
};

static const check checks[C_COUNT] = {
    {"expiry", "Software and Configuration Checks/Certificate Expiry",
     "certhub/expiry",
     "Renew or replace the certificate and deploy the new one to the "
     "endpoint."},
    {"not-yet-valid", "Software and Configuration Checks/Certificate Validity",
     "certhub/not-yet-valid",
     "Check the server's and the issuer's clocks, or deploy a certificate "
     "that is valid now."},
    {"hostname-mismatch",
     "Software and Configuration Checks/Certificate Hostname",
     "certhub/hostname-mismatch",
     "Deploy a certificate whose subjectAltName covers the name clients "
     "use, or fix the server's SNI configuration."},
    {"untrusted-chain", "Software and Configuration Checks/Certificate Trust",
     "certhub/untrusted-chain",
     "Deploy a certificate issued by a trusted CA (not self-signed) with its "
     "complete chain."},
    {"missing-intermediate",
     "Software and Configuration Checks/Certificate Chain",
     "certhub/missing-intermediate",
     "Configure the server to send the intermediate CA certificates after "
     "the leaf (the full chain file)."},
    {"chain-order", "Software and Configuration Checks/Certificate Chain",
     "certhub/chain-order",
     "Send the chain in order: the leaf first, then each issuer."},
    {"expired-intermediate",
     "Software and Configuration Checks/Certificate Chain",
     "certhub/expired-intermediate",
     "Replace the expired intermediate CA certificate in the served chain "
     "with its current version."},
    {"weak-key", "Software and Configuration Checks/Certificate Key",
     "certhub/weak-key",
     "Issue a new certificate with an RSA key of at least 2048 bits or an "
     "EC key (P-256 or larger) and deploy it."},
    {"sha1-signature",
     "Software and Configuration Checks/Certificate Signature",
     "certhub/sha1-signature",
     "Reissue the certificate (and any intermediate) with a SHA-256 or "
     "stronger signature."},
    {"legacy-tls", "Software and Configuration Checks/TLS Protocol",
     "certhub/legacy-tls",
     "Disable TLS 1.0 and TLS 1.1 on the server; offer TLS 1.2 and 1.3 "
     "only."},
    {"ocsp-revoked", "Software and Configuration Checks/Certificate Revoked",
     "certhub/ocsp-revoked",
     "Replace the revoked certificate now and find out why it was revoked."},
};

/* The state of one check after a probe. */
typedef struct verdict {
  bool known; /* the probe could judge it (else the finding is kept) */
  bool failed;
  const char *label;
  int normalized;
  const char *reason_code;
  char title[256];
  char desc[1024];
} verdict;

static void sev(verdict *v, const char *label, int normalized)
{
  v->label = label;
  v->normalized = normalized;
}

/* What the probe knows about the certificates it was shown. */
typedef struct seen {
  certhub_cert *leaf; /* NULL when the leaf did not parse */
  char arn[512];      /* the leaf's inventory ARN, or "sha256:<hex>" */
  char short_id[CERTHUB_ID_LEN + 1];
  const char *weak_what; /* "RSA 1024-bit key of the leaf" ... */
  char weak_buf[160];
  char sha1_buf[200];
  bool weak, sha1;
} seen;

ch_err certhub_findings_endpoint_uri(const certhub_target *t,
                                     const char *address, char *buf, size_t n)
{
  if(!t || !t->host || !buf || !n)
    return CH_ERR_USAGE;
  bool v6 = strchr(t->host, ':') != NULL;
  int k = snprintf(buf, n, "%s://%s%s%s:%u", t->starttls ? t->starttls : "tls",
                   v6 ? "[" : "", t->host, v6 ? "]" : "", (unsigned)t->port);
  if(k >= 0 && (size_t)k < n && t->sni && strcmp(t->sni, t->host))
    k += snprintf(buf + k, n - (size_t)k, ";sni=%s", t->sni);
  if(k >= 0 && (size_t)k < n && address)
    k += snprintf(buf + k, n - (size_t)k, ";addr=%s", address);
  return k >= 0 && (size_t)k < n ? CH_OK : CH_ERR_TOOBIG;
}

static ch_err arn_cb(void *ctx, const certhub_cert_row *row)
{
  seen *sn = ctx;
  snprintf(sn->arn, sizeof(sn->arn), "%s", row->arn);
  return CH_OK;
}

/* The leaf's inventory ARN (the store has it once the probe is stored),
 * else its fingerprint. */
static ch_err leaf_arn(certhub_store *s, seen *sn, int64_t now)
{
  int64_t *ids = NULL;
  size_t n = 0;
  snprintf(sn->arn, sizeof(sn->arn), "sha256:%s", sn->leaf->sha256_hex);
  ch_err rc = certhub_store_resolve(s, sn->leaf->sha256_hex, &ids, &n);
  if(rc == CH_ERR_NOTFOUND || rc == CH_ERR_AMBIGUOUS)
    rc = CH_OK;
  else if(!rc && n == 1) {
    certhub_filter f = {.rowid = ids[0]};
    rc = certhub_store_list(s, &f, now, arn_cb, sn);
  }
  free(ids);
  return rc;
}

static bool weak_sig(const char *alg)
{
  return alg && (strcasestr(alg, "sha1") || strcasestr(alg, "sha-1") ||
                 strcasestr(alg, "md5") || strcasestr(alg, "md2"));
}

static bool weak_key(const certhub_cert *c)
{
  if(!c->key_alg || c->key_bits <= 0)
    return false;
  if(!strcmp(c->key_alg, "RSA") || !strcmp(c->key_alg, "DSA"))
    return c->key_bits < WEAK_RSA_BITS;
  if(!strcmp(c->key_alg, "EC"))
    return c->key_bits < WEAK_EC_BITS;
  return false;
}

/* Parse the presented chain: the leaf is kept, the others are looked at
 * for weak keys and signatures. A self-signed CA (a root sent along) is
 * skipped: its own signature is never checked by clients. */
static void inspect(const certhub_probe_result *r, seen *sn)
{
  for(size_t i = 0; i < r->chain_n; i++) {
    certhub_cert *c = NULL;
    if(certhub_cert_parse_der(r->chain_der[i], r->chain_len[i], &c, NULL))
      continue;
    bool root = c->is_ca && c->self_signed && i > 0;
    const char *who = i == 0 ? "the leaf certificate" : "an intermediate";
    if(!root && !sn->weak && weak_key(c)) {
      sn->weak = true;
      snprintf(sn->weak_buf, sizeof(sn->weak_buf), "%s has a %d-bit %s key",
               who, c->key_bits, c->key_alg);
    }
    if(!root && !sn->sha1 && weak_sig(c->sig_alg)) {
      sn->sha1 = true;
      snprintf(sn->sha1_buf, sizeof(sn->sha1_buf), "%s is signed with %.100s",
               who, c->sig_alg);
    }
    if(i == 0)
      sn->leaf = c;
    else
      certhub_cert_free(c);
  }
}

/* Expiry severity: the bands of the event findings (event.c). */
static void expiry_verdict(const seen *sn,
                           const certhub_probe_findings_opts *o, int64_t now,
                           const char *ep, verdict *v)
{
  char cnb[161];
  int64_t days = certhub_days_to_expiry(sn->leaf->not_after, now);
  int threshold = o->threshold_days > 0 ? o->threshold_days : 45;
  const char *cn = ch_findings_cut(
      cnb, sn->leaf->common_name ? sn->leaf->common_name : sn->short_id, 160);
  v->known = true;
  v->failed = sn->leaf->not_after <= now || days <= threshold;
  v->reason_code = "CERTIFICATE_EXPIRING";
  int norm;
  v->label = ch_findings_expiry_severity(o->bands, sn->leaf->not_after <= now,
                                         true, days, &norm);
  v->normalized = norm;
  if(sn->leaf->not_after <= now) {
    v->reason_code = "CERTIFICATE_EXPIRED";
    snprintf(v->title, sizeof(v->title),
             "Endpoint serves certificate %s that expired %lld day%s ago", cn,
             (long long)-days, days == -1 ? "" : "s");
  }
  else
    snprintf(v->title, sizeof(v->title),
             "Endpoint serves certificate %s that expires in %lld day%s", cn,
             (long long)days, days == 1 ? "" : "s");
  char na[32];
  certhub_time_format(sn->leaf->not_after, na, sizeof(na));
  snprintf(v->desc, sizeof(v->desc),
           "%s presents the certificate %s (notAfter %s); certhub reports "
           "certificates within %d days of expiry.",
           ep, cn, na, threshold);
}

static void judge(const certhub_probe_result *r, const seen *sn,
                  const certhub_probe_findings_opts *o, int64_t now,
                  const char *ep, verdict v[C_COUNT])
{
  const certhub_chain_check *ck = &r->check;
  unsigned p = ck->problems;
  char vb[130];
  const char *verr =
      ch_findings_cut(vb, ck->verify_error[0] ? ck->verify_error : "", 128);
  for(int i = 0; i < C_COUNT; i++) {
    v[i].known = true;
    sev(&v[i], "HIGH", 70);
    v[i].reason_code = "CHECK_FAILED";
  }
  if(sn->leaf)
    expiry_verdict(sn, o, now, ep, &v[C_EXPIRY]);
  else
    v[C_EXPIRY].known = false;

  v[C_NOT_YET_VALID].failed = p & CERTHUB_CHAIN_NOT_YET_VALID;
  v[C_NOT_YET_VALID].reason_code = "CERTIFICATE_NOT_YET_VALID";
  snprintf(v[C_NOT_YET_VALID].title, 256,
           "Endpoint serves a certificate that is not valid yet");

  v[C_HOSTNAME].failed = !ck->hostname_match;
  v[C_HOSTNAME].reason_code = "HOSTNAME_MISMATCH";
  snprintf(v[C_HOSTNAME].title, 256,
           "Endpoint's certificate does not match the name %.180s",
           r->target->sni ? r->target->sni : r->target->host);

  unsigned untrusted = CERTHUB_CHAIN_UNKNOWN_ISSUER |
                       CERTHUB_CHAIN_SELF_SIGNED |
                       CERTHUB_CHAIN_BAD_SIGNATURE | CERTHUB_CHAIN_OTHER;
  v[C_UNTRUSTED].failed = p & untrusted;
  v[C_UNTRUSTED].reason_code =
      p & CERTHUB_CHAIN_SELF_SIGNED      ? "SELF_SIGNED"
      : p & CERTHUB_CHAIN_UNKNOWN_ISSUER ? "UNKNOWN_ISSUER"
      : p & CERTHUB_CHAIN_BAD_SIGNATURE  ? "BAD_SIGNATURE"
                                         : "UNTRUSTED";
  snprintf(v[C_UNTRUSTED].title, 256,
           "Endpoint's certificate chain is not "
           "trusted%s",
           p & CERTHUB_CHAIN_SELF_SIGNED ? " (self-signed)" : "");

  v[C_MISSING_INTER].failed = p & CERTHUB_CHAIN_MISSING_INTERMEDIATE;
  sev(&v[C_MISSING_INTER], "MEDIUM", 40);
  v[C_MISSING_INTER].reason_code = "MISSING_INTERMEDIATE";
  snprintf(v[C_MISSING_INTER].title, 256,
           "Endpoint does not send an intermediate CA certificate");

  v[C_ORDER].failed = p & CERTHUB_CHAIN_WRONG_ORDER;
  sev(&v[C_ORDER], "LOW", 1);
  v[C_ORDER].reason_code = "CHAIN_OUT_OF_ORDER";
  snprintf(v[C_ORDER].title, 256, "Endpoint sends its chain out of order");

  v[C_EXPIRED_INTER].failed = p & CERTHUB_CHAIN_EXPIRED_INTERMEDIATE;
  v[C_EXPIRED_INTER].reason_code = "INTERMEDIATE_EXPIRED";
  snprintf(v[C_EXPIRED_INTER].title, 256,
           "Endpoint's chain has an expired CA certificate");

  v[C_WEAK_KEY].failed = sn->weak;
  v[C_WEAK_KEY].reason_code = "WEAK_KEY";
  snprintf(v[C_WEAK_KEY].title, 256, "Endpoint's certificate has a weak key");

  v[C_SHA1].failed = sn->sha1;
  v[C_SHA1].reason_code = "WEAK_SIGNATURE";
  snprintf(v[C_SHA1].title, 256,
           "Endpoint's certificate is signed with SHA-1 (or MD5)");

  v[C_LEGACY_TLS].known = o->legacy_checked;
  v[C_LEGACY_TLS].failed = r->legacy_accepted & 3u;
  sev(&v[C_LEGACY_TLS], "MEDIUM", 40);
  v[C_LEGACY_TLS].reason_code = "LEGACY_TLS";
  snprintf(v[C_LEGACY_TLS].title, 256, "Endpoint accepts %s",
           (r->legacy_accepted & 3u) == 3u ? "TLS 1.0 and TLS 1.1"
           : r->legacy_accepted & 1u       ? "TLS 1.0"
                                           : "TLS 1.1");

  v[C_REVOKED].failed = ck->ocsp == CERTHUB_OCSP_REVOKED;
  sev(&v[C_REVOKED], "CRITICAL", 90);
  v[C_REVOKED].reason_code = "CERTIFICATE_REVOKED";
  snprintf(v[C_REVOKED].title, 256,
           "Endpoint's certificate is revoked (stapled OCSP response)");

  /* The descriptions of the non-expiry checks: the title, where, and the
   * detail the probe has. */
  for(int i = C_NOT_YET_VALID; i < C_COUNT; i++) {
    const char *extra =
        i == C_WEAK_KEY ? sn->weak_buf
        : i == C_SHA1   ? sn->sha1_buf
        : i == C_UNTRUSTED || i == C_NOT_YET_VALID || i == C_EXPIRED_INTER
            ? verr
            : "";
    snprintf(v[i].desc, sizeof(v[i].desc), "%s: %s%s%s.", ep, v[i].title,
             *extra ? ": " : "", extra);
  }
}

/* The ASFF finding of a failing check. old: the stored one, or NULL. */
static json_t *build(const certhub_probe_result *r, const seen *sn,
                     const certhub_probe_findings_opts *o, const char *parn,
                     const char *ep, int k, const verdict *v, json_t *old,
                     int64_t now_ms)
{
  char id[URI_MAX + 64], ts[32], created[72], first[72], url[640];
  char base[512];
  ch_findings_base_url(o->base_url, base, sizeof(base));
  snprintf(id, sizeof(id), "%s/%s", ep, checks[k].name);
  snprintf(url, sizeof(url), "%s/certificates/%s", base, sn->short_id);
  int64_t upd = now_ms, old_ms = 0;
  const char *ou =
      old ? json_string_value(json_object_get(old, "UpdatedAt")) : NULL;
  if(ou && !ch_findings_time_ms(ou, &old_ms) && old_ms >= upd)
    upd = old_ms + 1;
  ch_findings_time_format(upd, ts);
  ch_findings_time_format(now_ms, created);
  snprintf(first, sizeof(first), "%s", created);
  const char *oc = json_string_value(json_object_get(old, "CreatedAt"));
  const char *of = json_string_value(json_object_get(old, "FirstObservedAt"));
  if(oc)
    snprintf(created, sizeof(created), "%s", oc);
  if(of)
    snprintf(first, sizeof(first), "%s", of);

  json_t *cert = json_object(), *other = json_object(), *f = NULL;
  if(!cert || !other)
    goto fail;
  if(sn->leaf) {
    char na[32], nb[32];
    certhub_time_format(sn->leaf->not_after, na, sizeof(na));
    certhub_time_format(sn->leaf->not_before, nb, sizeof(nb));
    if(sn->leaf->common_name)
      json_object_set_new(cert, "DomainName",
                          json_string(sn->leaf->common_name));
    json_object_set_new(cert, "NotAfter", json_string(na));
    json_object_set_new(cert, "NotBefore", json_string(nb));
    json_object_set_new(cert, "Issuer", json_string(sn->leaf->issuer));
    json_object_set_new(cert, "Serial", json_string(sn->leaf->serial));
    json_object_set_new(
        cert, "KeyAlgorithm",
        json_string(sn->leaf->key_alg ? sn->leaf->key_alg : ""));
    json_object_set_new(
        cert, "SignatureAlgorithm",
        json_string(sn->leaf->sig_alg ? sn->leaf->sig_alg : ""));
    json_object_set_new(cert, "Type", json_string("IMPORTED"));
  }
  json_object_set_new(other, "host", json_string(r->target->host));
  json_object_set_new(other, "port", json_sprintf("%u", r->target->port));
  if(r->address)
    json_object_set_new(other, "address", json_string(r->address));
  if(r->tls_version_name && *r->tls_version_name)
    json_object_set_new(other, "tls_version",
                        json_string(r->tls_version_name));
  if(r->cipher && *r->cipher)
    json_object_set_new(other, "cipher", json_string(r->cipher));

  f = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:{s:s, s:i}, s:s, s:s,"
      " s:s, s:s, s:s, s:s,"
      " s:[{s:s, s:s, s:s, s:{s:o}}, {s:s, s:s, s:s, s:{s:o}}],"
      " s:{s:s, s:s, s:[{s:s, s:s}]},"
      " s:{s:{s:s, s:s}},"
      " s:s, s:s, s:s, s:{s:s}}",
      "SchemaVersion", CERTHUB_ASFF_SCHEMA_VERSION, "Id", id, "ProductArn",
      parn, "GeneratorId", CERTHUB_PROBE_GENERATOR, "AwsAccountId",
      o->account ? o->account : "000000000000", "Region",
      o->region ? o->region : "local", "Types", checks[k].type, "Severity",
      "Label", v->label, "Normalized", v->normalized, "Title", v->title,
      "Description", v->desc, "CreatedAt", created, "UpdatedAt", ts,
      "FirstObservedAt", first, "LastObservedAt", ts, "Resources", "Type",
      "AwsCertificateManagerCertificate", "Id", sn->arn, "Region",
      o->region ? o->region : "local", "Details",
      "AwsCertificateManagerCertificate", cert, "Type", "Other", "Id", ep,
      "Region", o->region ? o->region : "local", "Details", "Other", other,
      "Compliance", "Status", "FAILED", "SecurityControlId", checks[k].control,
      "StatusReasons", "ReasonCode", v->reason_code, "Description", v->title,
      "Remediation", "Recommendation", "Text", checks[k].remedy, "Url", url,
      "ProductName", o->product && *o->product ? o->product : "certhub",
      "CompanyName", "certhub", "RecordState", "ACTIVE", "Workflow", "Status",
      "NEW");
  cert = other = NULL; /* "o" stole them, also on failure */
fail:
  json_decref(cert);
  json_decref(other);
  return f;
}

/* The stored finding of a passing check, archived; NULL when there is
 * nothing to do (none, or already resolved). */
static json_t *resolve(json_t *old, int k, const char *ep, int64_t now_ms,
                       bool *nomem)
{
  char ts[32], why[600];
  const char *rs = json_string_value(json_object_get(old, "RecordState"));
  const char *cs = json_string_value(
      json_object_get(json_object_get(old, "Compliance"), "Status"));
  if(!old || (rs && !strcmp(rs, "ARCHIVED") && cs && !strcmp(cs, "PASSED")))
    return NULL;
  int64_t upd = now_ms, old_ms = 0;
  const char *ou = json_string_value(json_object_get(old, "UpdatedAt"));
  if(ou && !ch_findings_time_ms(ou, &old_ms) && old_ms >= upd)
    upd = old_ms + 1;
  ch_findings_time_format(upd, ts);
  snprintf(why, sizeof(why), "The check %s passed on the last probe of %s",
           checks[k].name, ep);
  json_t *f = json_deep_copy(old);
  json_t *comp =
      json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "Status", "PASSED",
                "SecurityControlId", checks[k].control, "StatusReasons",
                "ReasonCode", "CHECK_PASSED", "Description", why);
  if(!f || !comp || json_object_set_new(f, "Compliance", comp) ||
     json_object_set_new(f, "RecordState", json_string("ARCHIVED")) ||
     json_object_set_new(f, "UpdatedAt", json_string(ts)) ||
     json_object_set_new(f, "LastObservedAt", json_string(ts))) {
    json_decref(f);
    *nomem = true;
    return NULL;
  }
  return f;
}

ch_err certhub_findings_from_probe(certhub_store *s,
                                   const certhub_probe_result *r,
                                   const certhub_probe_findings_opts *o,
                                   int64_t now, size_t *n_written,
                                   char **detail)
{
  static const certhub_probe_findings_opts none = {0};
  char ep[URI_MAX + 1], parn[512], msg[700] = "";
  seen sn = {0};
  verdict v[C_COUNT];
  json_t *arr = NULL;
  certhub_import_result res = {0};
  ch_err rc = CH_OK;
  if(n_written)
    *n_written = 0;
  if(detail)
    *detail = NULL;
  if(!s || !r || !r->target)
    return CH_ERR_USAGE;
  if(!o)
    o = &none;
  /* Nothing to judge without a chain: the last known findings stay. */
  if(r->status != CERTHUB_PROBE_OK || !r->chain_n)
    return CH_OK;
  const char *account = o->account ? o->account : "000000000000";
  const char *region = o->region ? o->region : "local";
  if(strlen(account) != 12 || strspn(account, "0123456789") != 12 ||
     strchr(region, ':') || strlen(region) > 64) {
    snprintf(msg, sizeof(msg),
             "account must be 12 digits and region without ':'");
    rc = CH_ERR_USAGE;
    goto out;
  }
  if(certhub_findings_endpoint_uri(
         r->target, r->target->all_addresses ? r->address : NULL, ep,
         sizeof(ep))) {
    snprintf(msg, sizeof(msg), "endpoint name is too long for a finding Id");
    rc = CH_ERR_TOOBIG;
    goto out;
  }
  snprintf(parn, sizeof(parn),
           "arn:certhub:securityhub:%s:%s:product/certhub/certhub", region,
           account);
  inspect(r, &sn);
  if(sn.leaf) {
    snprintf(sn.short_id, sizeof(sn.short_id), "%s", sn.leaf->id);
    if((rc = leaf_arn(s, &sn, now)))
      goto out;
  }
  else {
    /* An unparsable leaf: the hostname and trust checks still hold. */
    snprintf(sn.arn, sizeof(sn.arn), "endpoint:%s", ep);
    snprintf(sn.short_id, sizeof(sn.short_id), "unknown");
  }
  judge(r, &sn, o, now, ep, v);
  if(!(arr = json_array())) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  for(int k = 0; k < C_COUNT && !rc; k++) {
    char id[URI_MAX + 64];
    json_t *old = NULL, *f = NULL;
    bool nomem = false;
    if(!v[k].known)
      continue;
    snprintf(id, sizeof(id), "%s/%s", ep, checks[k].name);
    if((rc = ch_findings_stored(s, parn, id, &old)))
      break;
    if(v[k].failed) {
      f = build(r, &sn, o, parn, ep, k, &v[k], old, now * 1000);
      nomem = !f;
    }
    else
      f = resolve(old, k, ep, now * 1000, &nomem);
    json_decref(old);
    if(nomem || (f && json_array_append_new(arr, f)))
      rc = CH_ERR_NOMEM;
  }
  if(!rc && (rc = ch_findings_import_array(s, arr, now, &res)))
    snprintf(msg, sizeof(msg), "%s", res.error);
  if(!rc && res.failed) {
    char ib[201];
    snprintf(msg, sizeof(msg), "finding '%s': %s",
             ch_findings_cut(ib, res.failures[0].id, 200),
             res.failures[0].message);
    rc = CH_ERR_PARSE;
  }
  if(n_written)
    *n_written = res.success - res.unchanged;
out:
  if(rc && !msg[0])
    snprintf(msg, sizeof(msg), "%s", certhub_strerror(rc));
  if(detail && msg[0])
    *detail = strdup(msg);
  certhub_import_result_free(&res);
  json_decref(arr);
  certhub_cert_free(sn.leaf);
  return rc;
}
