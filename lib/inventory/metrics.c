/*
 * Prometheus text exposition (format 0.0.4) of the inventory and of the
 * endpoints' last probes.
 *
 * The format wants every sample of a family together, after its # HELP
 * and # TYPE lines; the certificates are walked once and each family's
 * samples go into their own capped buffer, written out in order at the
 * end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/metrics.h"
#include "certhub/time.h"
#include "core/core.h"

enum fam {
  F_NOT_AFTER,
  F_NOT_BEFORE,
  F_EXPIRY_DAYS,
  F_CERTS,
  F_P_SUCCESS,
  F_P_DURATION,
  F_P_HANDSHAKE,
  F_P_EARLIEST,
  F_P_TRUSTED,
  F_P_HOSTNAME,
  F_P_OCSP,
  F_P_TLS,
  F_P_PROBLEM,
  F_P_LAST_RUN,
  /* --compat */
  F_BB_SUCCESS,
  F_BB_EARLIEST,
  F_BB_LAST_CHAIN,
  F_BB_TLS,
  F_X_NOT_AFTER,
  F_X_NOT_BEFORE,
  F_X_EXPIRED,
  F__MAX
};

static const struct family {
  const char *name;
  const char *help;
  bool compat;
} families[F__MAX] = {
    [F_NOT_AFTER] = {"certhub_certificate_not_after_timestamp_seconds",
                     "End of the certificate's validity (notAfter), Unix "
                     "seconds.",
                     false},
    [F_NOT_BEFORE] = {"certhub_certificate_not_before_timestamp_seconds",
                      "Start of the certificate's validity (notBefore), Unix "
                      "seconds.",
                      false},
    [F_EXPIRY_DAYS] = {"certhub_certificate_expiry_days",
                       "Whole UTC days until notAfter (DaysToExpiry), "
                       "negative once expired.",
                       false},
    [F_CERTS] = {"certhub_certificates",
                 "Certificates in the inventory by status.", false},
    [F_P_SUCCESS] = {"certhub_probe_success",
                     "1 when the last probe of the endpoint got its "
                     "certificate chain, else 0.",
                     false},
    [F_P_DURATION] = {"certhub_probe_duration_seconds",
                      "Duration of the last probe, DNS to last byte.", false},
    [F_P_HANDSHAKE] = {"certhub_probe_handshake_seconds",
                       "Duration of the TLS handshake of the last probe.",
                       false},
    [F_P_EARLIEST] = {"certhub_probe_earliest_cert_expiry_timestamp_seconds",
                      "Earliest notAfter of the chain the endpoint presented "
                      "at its last successful probe, Unix seconds.",
                      false},
    [F_P_TRUSTED] = {"certhub_probe_chain_trusted",
                     "1 when the presented chain verified against the trust "
                     "store, else 0.",
                     false},
    [F_P_HOSTNAME] = {"certhub_probe_hostname_match",
                      "1 when the leaf certificate matches the probed name, "
                      "else 0.",
                      false},
    [F_P_OCSP] = {"certhub_probe_ocsp_status",
                  "Stapled OCSP status of the last probe: 1 for the status "
                  "seen (none, good, revoked, unknown, invalid).",
                  false},
    [F_P_TLS] = {"certhub_probe_tls_version_info",
                 "TLS version negotiated at the last probe (always 1).",
                 false},
    [F_P_PROBLEM] = {"certhub_probe_chain_problem",
                     "1 when the chain of the last probe has the problem, "
                     "else 0.",
                     false},
    [F_P_LAST_RUN] = {"certhub_probe_last_run_timestamp_seconds",
                      "When the endpoint was last probed, Unix seconds.",
                      false},
    [F_BB_SUCCESS] = {"probe_success",
                      "Displays whether or not the probe was a success "
                      "(blackbox_exporter compatible, from certhub).",
                      true},
    [F_BB_EARLIEST] = {"probe_ssl_earliest_cert_expiry",
                       "Returns earliest SSL cert expiry date "
                       "(blackbox_exporter compatible, from certhub).",
                       true},
    [F_BB_LAST_CHAIN] = {"probe_ssl_last_chain_expiry_timestamp_seconds",
                         "Returns last SSL chain expiry in timestamp "
                         "(blackbox_exporter compatible, from certhub).",
                         true},
    [F_BB_TLS] = {"probe_tls_version_info",
                  "Contains the TLS version used (blackbox_exporter "
                  "compatible, from certhub).",
                  true},
    [F_X_NOT_AFTER] = {"x509_cert_not_after",
                       "Unix timestamp of the certificate's notAfter "
                       "(x509-certificate-exporter compatible, from certhub).",
                       true},
    [F_X_NOT_BEFORE] = {"x509_cert_not_before",
                        "Unix timestamp of the certificate's notBefore "
                        "(x509-certificate-exporter compatible, from "
                        "certhub).",
                        true},
    [F_X_EXPIRED] = {"x509_cert_expired",
                     "1 if the certificate has expired, else 0 "
                     "(x509-certificate-exporter compatible, from certhub).",
                     true},
};

/* blackbox_exporter's (Go's) spelling of a TLS version, NULL if none. */
static const char *go_tls_name(uint16_t v)
{
  switch(v) {
  case 0x0300: return "SSL 3.0";
  case 0x0301: return "TLS 1.0";
  case 0x0302: return "TLS 1.1";
  case 0x0303: return "TLS 1.2";
  case 0x0304: return "TLS 1.3";
  default: return NULL;
  }
}

typedef struct mctx {
  ch_buf fam[F__MAX];
  bool compat;
  int64_t now;
  uint64_t by_status[3]; /* ISSUED, EXPIRED, INACTIVE */
  ch_err rc;
} mctx;

/* ---- label sets ------------------------------------------------------ */

/* Append `name="value"` (comma first unless it opens the set), with the
 * value escaped as the format wants: \\, \" and \n. */
static ch_err label(ch_buf *b, bool *first, const char *name,
                    const char *value)
{
  ch_err rc = ch_buf_printf(b, "%s%s=\"", *first ? "" : ",", name);
  *first = false;
  for(const char *p = value ? value : ""; !rc && *p; p++) {
    if(*p == '\\')
      rc = ch_buf_addstr(b, "\\\\");
    else if(*p == '"')
      rc = ch_buf_addstr(b, "\\\"");
    else if(*p == '\n')
      rc = ch_buf_addstr(b, "\\n");
    else
      rc = ch_buf_addc(b, *p);
  }
  return rc ? rc : ch_buf_addc(b, '"');
}

static const char *tag_value(const certhub_tag *tags, size_t n,
                             const char *key)
{
  for(size_t i = 0; i < n; i++)
    if(!strcmp(tags[i].key, key))
      return tags[i].value;
  return NULL;
}

/* One sample line: NAME{LABELS} VALUE. labels is the text inside the
 * braces, value already formatted. */
static ch_err sample(mctx *m, enum fam f, const char *labels,
                     const char *value)
{
  ch_buf *b = &m->fam[f];
  return ch_buf_printf(b, "%s{%s} %s\n", families[f].name, labels, value);
}

static ch_err sample_i(mctx *m, enum fam f, const char *labels, int64_t v)
{
  char num[32];
  snprintf(num, sizeof(num), "%lld", (long long)v);
  return sample(m, f, labels, num);
}

/* The last attribute `type` of an RFC 4514 string, unescaped, into buf
 * ("" when absent). */
static void dn_attr(const char *dn, const char *type, char *buf, size_t len)
{
  size_t tl = strlen(type);
  buf[0] = '\0';
  const char *p = dn ? dn : "";
  while(*p) {
    /* p starts an attribute: TYPE=VALUE up to an unescaped , or + */
    bool match = !strncmp(p, type, tl) && p[tl] == '=';
    const char *v = strchr(p, '=');
    if(!v)
      return;
    v++;
    size_t o = 0;
    const char *q = v;
    for(; *q && *q != ',' && *q != '+'; q++) {
      if(*q == '\\' && q[1])
        q++;
      if(match && o + 1 < len)
        buf[o++] = *q;
    }
    if(match)
      buf[o] = '\0';
    p = *q ? q + 1 : q;
  }
}

/* Hex serial (uppercase, no separators) as a decimal string. */
static void serial_decimal(const char *hex, char *out, size_t len)
{
  uint8_t digits[128]; /* little-endian decimal digits */
  size_t nd = 0;
  for(const char *p = hex ? hex : ""; *p; p++) {
    int v = ch_hex_val((unsigned char)*p);
    if(v < 0)
      continue;
    unsigned carry = (unsigned)v;
    for(size_t i = 0; i < nd; i++) {
      unsigned d = digits[i] * 16u + carry;
      digits[i] = (uint8_t)(d % 10);
      carry = d / 10;
    }
    while(carry && nd < sizeof(digits)) {
      digits[nd++] = (uint8_t)(carry % 10);
      carry /= 10;
    }
  }
  size_t o = 0;
  if(!nd && len > 1)
    out[o++] = '0';
  while(nd && o + 1 < len)
    out[o++] = (char)('0' + digits[--nd]);
  out[o] = '\0';
}

/* ---- certificates ---------------------------------------------------- */

static ch_err cert_labels(const certhub_cert_row *r, ch_buf *b)
{
  bool first = true;
  const char *owner = tag_value(r->tags, r->n_tags, "owner");
  ch_err rc = label(b, &first, "id", r->id);
  if(!rc)
    rc = label(b, &first, "common_name", r->common_name);
  if(!rc)
    rc = label(b, &first, "issuer_cn", r->issuer_cn);
  if(!rc)
    rc = label(b, &first, "status", r->status);
  if(!rc)
    rc = label(b, &first, "type", r->type);
  if(!rc && owner)
    rc = label(b, &first, "owner", owner);
  return rc;
}

/* The label set x509-certificate-exporter gives a certificate. */
static ch_err x509_labels(const certhub_cert_row *r, ch_buf *b)
{
  static const char *const attrs[] = {"C", "ST", "L", "O", "OU", "CN"};
  char name[32], val[512], serial[128];
  bool first = true;
  const char *path = "";
  ch_err rc = CH_OK;
  for(size_t i = 0; i < r->n_sources; i++) {
    if(r->sources[i].present && !strcmp(r->sources[i].kind, "file")) {
      path = r->sources[i].locator;
      break;
    }
  }
  const char *base = strrchr(path, '/');
  rc = label(b, &first, "filename", base ? base + 1 : path);
  if(!rc)
    rc = label(b, &first, "filepath", path);
  for(size_t i = 0; !rc && i < CH_ARRAY_LEN(attrs); i++) {
    dn_attr(r->issuer, attrs[i], val, sizeof(val));
    snprintf(name, sizeof(name), "issuer_%s", attrs[i]);
    rc = label(b, &first, name, val);
  }
  serial_decimal(r->serial, serial, sizeof(serial));
  if(!rc)
    rc = label(b, &first, "serial_number", serial);
  for(size_t i = 0; !rc && i < CH_ARRAY_LEN(attrs); i++) {
    dn_attr(r->subject, attrs[i], val, sizeof(val));
    snprintf(name, sizeof(name), "subject_%s", attrs[i]);
    rc = label(b, &first, name, val);
  }
  return rc;
}

static ch_err on_cert(void *ctx, const certhub_cert_row *r)
{
  mctx *m = ctx;
  ch_buf l;
  ch_buf_init(&l, 1 << 20);
  ch_err rc = cert_labels(r, &l);
  const char *ls = l.data ? l.data : "";
  if(!rc)
    rc = sample_i(m, F_NOT_AFTER, ls, r->not_after);
  if(!rc)
    rc = sample_i(m, F_NOT_BEFORE, ls, r->not_before);
  if(!rc)
    rc = sample_i(m, F_EXPIRY_DAYS, ls, r->days_to_expiry);
  if(!strcmp(r->status, CERTHUB_STATUS_ISSUED))
    m->by_status[0]++;
  else if(!strcmp(r->status, CERTHUB_STATUS_EXPIRED))
    m->by_status[1]++;
  else
    m->by_status[2]++;
  /* The x509 exporter reports what it currently sees: not INACTIVE. */
  if(!rc && m->compat && strcmp(r->status, CERTHUB_STATUS_INACTIVE)) {
    ch_buf_reset(&l);
    rc = x509_labels(r, &l);
    ls = l.data ? l.data : "";
    if(!rc)
      rc = sample_i(m, F_X_NOT_AFTER, ls, r->not_after);
    if(!rc)
      rc = sample_i(m, F_X_NOT_BEFORE, ls, r->not_before);
    if(!rc)
      rc = sample_i(m, F_X_EXPIRED, ls, r->not_after <= m->now);
  }
  ch_buf_free(&l);
  if(rc)
    m->rc = rc;
  return rc;
}

/* ---- endpoints ------------------------------------------------------- */

static ch_err with_label(ch_buf *b, const char *base, const char *name,
                         const char *value)
{
  bool first = !*base;
  ch_buf_reset(b);
  ch_err rc = ch_buf_addstr(b, base);
  return rc ? rc : label(b, &first, name, value);
}

static ch_err on_endpoint(void *ctx, const certhub_endpoint_row *e)
{
  mctx *m = ctx;
  const certhub_probe_row *p = &e->last;
  ch_buf l, x, bb;
  char num[64];
  ch_buf_init(&l, 1 << 20);
  ch_buf_init(&x, 1 << 20);
  ch_buf_init(&bb, 1 << 20);
  bool first = true, bfirst = true;
  const char *owner = tag_value(e->tags, e->n_tags, "owner");
  ch_err rc = label(&l, &first, "endpoint", e->locator);
  if(!rc && owner)
    rc = label(&l, &first, "owner", owner);
  /* blackbox users relabel the probed target into instance. */
  if(!rc)
    rc = label(&bb, &bfirst, "instance", e->locator);
  if(rc || !e->has_probe)
    goto out;
  const char *ls = l.data, *bs = bb.data;
  bool ok = p->status == CERTHUB_PROBE_OK;
  bool chain = ok && p->chain_n > 0;

  rc = sample_i(m, F_P_SUCCESS, ls, ok);
  if(!rc) {
    snprintf(num, sizeof(num), "%.6f", p->total_us / 1e6);
    rc = sample(m, F_P_DURATION, ls, num);
  }
  if(!rc && ok) {
    snprintf(num, sizeof(num), "%.6f", p->handshake_us / 1e6);
    rc = sample(m, F_P_HANDSHAKE, ls, num);
  }
  if(!rc && chain)
    rc = sample_i(m, F_P_EARLIEST, ls, p->earliest_not_after);
  if(!rc && chain)
    rc = sample_i(m, F_P_TRUSTED, ls, p->trusted);
  if(!rc && chain)
    rc = sample_i(m, F_P_HOSTNAME, ls, p->hostname_match);
  for(unsigned i = CERTHUB_OCSP_NONE; !rc && chain && i <= CERTHUB_OCSP_INVALID;
      i++) {
    rc = with_label(&x, ls, "status",
                    certhub_ocsp_status_name((certhub_ocsp_status)i));
    if(!rc)
      rc = sample_i(m, F_P_OCSP, x.data, (unsigned)p->ocsp == i);
  }
  const char *ours = certhub_tls_version_name(p->tls_version);
  const char *go = go_tls_name(p->tls_version);
  if(!*ours)
    ours = NULL;
  if(!rc && ok && ours) {
    rc = with_label(&x, ls, "version", ours);
    if(!rc)
      rc = sample_i(m, F_P_TLS, x.data, 1);
  }
  for(unsigned bit = 1; !rc && chain && bit; bit <<= 1) {
    const char *name = certhub_chain_problem_name(bit);
    if(!name)
      continue;
    rc = with_label(&x, ls, "problem", name);
    if(!rc)
      rc = sample_i(m, F_P_PROBLEM, x.data, (p->problems & bit) != 0);
  }
  if(!rc)
    rc = sample_i(m, F_P_LAST_RUN, ls, p->started);

  if(!rc && m->compat) {
    rc = sample_i(m, F_BB_SUCCESS, bs, ok);
    if(!rc && chain)
      rc = sample_i(m, F_BB_EARLIEST, bs, p->earliest_not_after);
    /* blackbox reports the verified chain only. */
    if(!rc && chain && p->trusted)
      rc = sample_i(m, F_BB_LAST_CHAIN, bs, p->earliest_not_after);
    if(!rc && ok && go) {
      rc = with_label(&x, bs, "version", go);
      if(!rc)
        rc = sample_i(m, F_BB_TLS, x.data, 1);
    }
  }
out:
  ch_buf_free(&l);
  ch_buf_free(&x);
  ch_buf_free(&bb);
  if(rc)
    m->rc = rc;
  return rc;
}

/* ---- output ---------------------------------------------------------- */

static void help_escaped(FILE *out, const char *s)
{
  for(; *s; s++) {
    if(*s == '\\')
      fputs("\\\\", out);
    else if(*s == '\n')
      fputs("\\n", out);
    else
      fputc(*s, out);
  }
}

ch_err certhub_metrics_write(certhub_store *s, int64_t now,
                             const certhub_metrics_opts *opts, FILE *out)
{
  mctx m;
  memset(&m, 0, sizeof(m));
  m.compat = opts && opts->compat;
  m.now = now;
  for(int f = 0; f < F__MAX; f++)
    ch_buf_init(&m.fam[f], CERTHUB_METRICS_FAMILY_CAP);

  ch_err rc = certhub_store_list(s, NULL, now, on_cert, &m);
  if(!rc) {
    static const char *const names[] = {CERTHUB_STATUS_ISSUED,
                                        CERTHUB_STATUS_EXPIRED,
                                        CERTHUB_STATUS_INACTIVE};
    for(size_t i = 0; !rc && i < CH_ARRAY_LEN(names); i++) {
      ch_buf l;
      bool first = true;
      ch_buf_init(&l, 256);
      rc = label(&l, &first, "status", names[i]);
      if(!rc)
        rc = sample_i(&m, F_CERTS, l.data, (int64_t)m.by_status[i]);
      ch_buf_free(&l);
    }
  }
  if(!rc)
    rc = certhub_store_endpoints(s, NULL, on_endpoint, &m);
  if(rc)
    goto out;

  for(int f = 0; f < F__MAX; f++) {
    if(families[f].compat && !m.compat)
      continue;
    /* A family with no samples still documents itself. */
    fprintf(out, "# HELP %s ", families[f].name);
    help_escaped(out, families[f].help);
    fprintf(out, "\n# TYPE %s gauge\n", families[f].name);
    if(m.fam[f].len)
      fwrite(m.fam[f].data, 1, m.fam[f].len, out);
  }
  if(ferror(out))
    rc = CH_ERR_IO;
out:
  for(int f = 0; f < F__MAX; f++)
    ch_buf_free(&m.fam[f]);
  return rc;
}
