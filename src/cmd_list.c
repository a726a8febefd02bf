/*
 * certhub list and certhub describe, and the JSON form of a certificate
 * row shared by both (field names follow ACM's DescribeCertificate).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CELL_MAX 40 /* table cells for CN, issuer and source */

/* "RSA-2048", "EC-P256", "Ed25519", or the algorithm name. */
static void key_label(const char *alg, int bits, const char *curve, char *buf,
                      size_t len)
{
  if(!alg)
    alg = "?";
  if(!strcmp(alg, "EC") && curve) {
    if(!strncmp(curve, "P-", 2))
      snprintf(buf, len, "EC-P%s", curve + 2);
    else
      snprintf(buf, len, "EC-%s", curve);
  }
  else if((!strcmp(alg, "RSA") || !strcmp(alg, "DSA")) && bits > 0)
    snprintf(buf, len, "%s-%d", alg, bits);
  else
    snprintf(buf, len, "%s", alg);
}

/* ACM's KeyAlgorithm enum where it has a value, else the raw name. */
static void acm_key_alg(const certhub_cert_row *r, char *buf, size_t len)
{
  static const struct {
    const char *curve, *acm;
  } curves[] = {
      {"P-256", "EC_prime256v1"},
      {"P-384", "EC_secp384r1"},
      {"P-521", "EC_secp521r1"},
  };
  const char *alg = r->key_alg ? r->key_alg : "";
  if(!strcmp(alg, "RSA") && (r->key_bits == 1024 || r->key_bits == 2048 ||
                             r->key_bits == 3072 || r->key_bits == 4096)) {
    snprintf(buf, len, "RSA_%d", r->key_bits);
    return;
  }
  if(!strcmp(alg, "EC") && r->key_curve) {
    for(size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
      if(!strcmp(r->key_curve, curves[i].curve)) {
        snprintf(buf, len, "%s", curves[i].acm);
        return;
      }
    }
  }
  snprintf(buf, len, "%s", alg);
}

/* "sha256WithRSAEncryption" -> "SHA256WITHRSA", "ecdsa-with-SHA384" ->
 * "SHA384WITHECDSA"; anything else unchanged. */
static void acm_sig_alg(const char *sig, char *buf, size_t len)
{
  const char *rsa = "WithRSAEncryption", *ec = "ecdsa-with-";
  size_t n = strlen(sig), rl = strlen(rsa);
  char hash[32];
  const char *kind = NULL;
  if(n > rl && n - rl < sizeof(hash) && !strcmp(sig + n - rl, rsa)) {
    memcpy(hash, sig, n - rl);
    hash[n - rl] = '\0';
    kind = "RSA";
  }
  else if(!strncmp(sig, ec, strlen(ec)) &&
          strlen(sig + strlen(ec)) < sizeof(hash)) {
    strcpy(hash, sig + strlen(ec));
    kind = "ECDSA";
  }
  if(!kind || !*hash) {
    snprintf(buf, len, "%s", sig);
    return;
  }
  for(char *p = hash; *p; p++)
    *p = (char)toupper((unsigned char)*p);
  snprintf(buf, len, "%sWITH%s", hash, kind);
}

/* keyUsage names as the x509 module prints them, mapped to ACM's. The
 * library is asked for its own spelling so the two cannot drift. */
static const char *acm_key_usage(const char *name)
{
  static const char *const acm[] = {
      "DIGITAL_SIGNATURE", "NON_REPUDIATION", "KEY_ENCIPHERMENT",
      "DATA_ENCIPHERMENT", "KEY_AGREEMENT",   "CERTIFICATE_SIGNING",
      "CRL_SIGNING",       "ENCIPHER_ONLY",   "DECIPHER_ONLY",
  };
  char lib[64];
  for(unsigned i = 0; i < sizeof(acm) / sizeof(acm[0]); i++) {
    certhub_key_usage_format(1u << i, lib, sizeof(lib));
    if(!strcmp(lib, name))
      return acm[i];
  }
  return NULL;
}

static const struct {
  const char *name, *oid, *acm;
} ekus[] = {
    {"serverAuth", "1.3.6.1.5.5.7.3.1", "TLS_WEB_SERVER_AUTHENTICATION"},
    {"clientAuth", "1.3.6.1.5.5.7.3.2", "TLS_WEB_CLIENT_AUTHENTICATION"},
    {"codeSigning", "1.3.6.1.5.5.7.3.3", "CODE_SIGNING"},
    {"emailProtection", "1.3.6.1.5.5.7.3.4", "EMAIL_PROTECTION"},
    {"ipsecEndSystem", "1.3.6.1.5.5.7.3.5", "IPSEC_END_SYSTEM"},
    {"ipsecTunnel", "1.3.6.1.5.5.7.3.6", "IPSEC_TUNNEL"},
    {"ipsecUser", "1.3.6.1.5.5.7.3.7", "IPSEC_USER"},
    {"timeStamping", "1.3.6.1.5.5.7.3.8", "TIME_STAMPING"},
    {"OCSPSigning", "1.3.6.1.5.5.7.3.9", "OCSP_SIGNING"},
    {"anyExtendedKeyUsage", "2.5.29.37.0", "ANY"},
};

static json_t *eku_json(const char *name)
{
  for(size_t i = 0; i < sizeof(ekus) / sizeof(ekus[0]); i++) {
    if(!strcmp(name, ekus[i].name) || !strcmp(name, ekus[i].oid))
      return json_pack("{s:s, s:s}", "Name", ekus[i].acm, "OID", ekus[i].oid);
  }
  bool dotted = isdigit((unsigned char)name[0]) && strchr(name, '.');
  if(dotted)
    return json_pack("{s:s, s:s}", "Name", "CUSTOM", "OID", name);
  return json_pack("{s:s, s:n}", "Name", name, "OID");
}

/* Calls fn for each item of a comma-separated list. */
static bool each_item(const char *list, json_t *arr,
                      json_t *(*fn)(const char *))
{
  const char *p = list ? list : "";
  while(*p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char item[128];
    if(n && n < sizeof(item)) {
      memcpy(item, p, n);
      item[n] = '\0';
      json_t *v = fn(item);
      if(!v || json_array_append_new(arr, v))
        return false;
    }
    p += n + (e ? 1 : 0);
  }
  return true;
}

static json_t *ku_json(const char *name)
{
  const char *acm = acm_key_usage(name);
  return json_pack("{s:s}", "Name", acm ? acm : name);
}

/* SAN as ACM lists it: DNS names bare, others prefixed. */
static void san_text(const certhub_san *s, char *buf, size_t len)
{
  if(s->type == CERTHUB_SAN_DNS)
    snprintf(buf, len, "%s", s->value);
  else
    snprintf(buf, len, "%s:%s", certhub_san_type_name(s->type), s->value);
}

/* Uppercase hex pairs with colons, as `openssl x509 -fingerprint`. */
static char *colon_hex(const char *hex, bool upper)
{
  size_t n = hex ? strlen(hex) : 0;
  bool odd = n % 2;
  size_t pairs = (n + 1) / 2;
  char *r = malloc(pairs * 3 + 1), *o = r;
  if(!r)
    return NULL;
  for(size_t i = 0; i < n; i++) {
    size_t pos = i + odd; /* a leading 0 pads an odd-length serial */
    if(pos % 2 == 0 && i)
      *o++ = ':';
    if(i == 0 && odd)
      *o++ = '0';
    *o++ = (char)(upper ? toupper((unsigned char)hex[i])
                        : tolower((unsigned char)hex[i]));
  }
  *o = '\0';
  return r;
}

static json_t *time_json(int64_t t)
{
  char buf[32];
  certhub_time_format(t, buf, sizeof(buf));
  return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
  return s ? json_string(s) : json_null();
}

static const char *domain_name(const certhub_cert_row *r)
{
  if(r->common_name && *r->common_name)
    return r->common_name;
  for(size_t i = 0; i < r->n_sans; i++) {
    if(r->sans[i].type == CERTHUB_SAN_DNS)
      return r->sans[i].value;
  }
  return NULL;
}

static json_t *id_array(const char *const *ids, size_t n)
{
  json_t *a = json_array();
  for(size_t i = 0; a && i < n; i++) {
    if(json_array_append_new(a, json_string(ids[i]))) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

/* json_object_set_new that remembers a failure. */
static void set(json_t *o, const char *k, json_t *v, bool *ok)
{
  if(!v || json_object_set_new(o, k, v))
    *ok = false;
}

json_t *cli_row_json(const certhub_cert_row *r)
{
  bool ok = true;
  char buf[256];
  json_t *o = json_object();
  if(!o)
    return NULL;
  set(o, "Id", json_string(r->id), &ok);
  set(o, "CertificateArn", str_or_null(r->arn), &ok);
  set(o, "DomainName", str_or_null(domain_name(r)), &ok);
  json_t *sans = json_array();
  for(size_t i = 0; sans && i < r->n_sans; i++) {
    /* values can be long (URIs): size the buffer to the value */
    size_t need = strlen(r->sans[i].value) + 16;
    char *t = malloc(need);
    if(!t || (san_text(&r->sans[i], t, need),
              json_array_append_new(sans, json_string(t))))
      ok = false;
    free(t);
  }
  set(o, "SubjectAlternativeNames", sans, &ok);
  set(o, "Subject", json_string(r->subject ? r->subject : ""), &ok);
  set(o, "Issuer", json_string(r->issuer ? r->issuer : ""), &ok);
  char *serial = colon_hex(r->serial, false);
  set(o, "Serial", serial ? json_string(serial) : NULL, &ok);
  free(serial);
  set(o, "NotBefore", time_json(r->not_before), &ok);
  set(o, "NotAfter", time_json(r->not_after), &ok);
  set(o, "DaysToExpiry", json_integer(r->days_to_expiry), &ok);
  set(o, "Status", str_or_null(r->status), &ok);
  set(o, "Type", str_or_null(r->type), &ok);
  acm_key_alg(r, buf, sizeof(buf));
  set(o, "KeyAlgorithm", json_string(buf), &ok);
  set(o, "KeyBits", json_integer(r->key_bits), &ok);
  set(o, "KeyCurve", str_or_null(r->key_curve), &ok);
  acm_sig_alg(r->sig_alg ? r->sig_alg : "", buf, sizeof(buf));
  set(o, "SignatureAlgorithm", json_string(buf), &ok);
  json_t *ku = json_array();
  if(ku && !each_item(r->key_usage, ku, ku_json))
    ok = false;
  set(o, "KeyUsages", ku, &ok);
  json_t *eku = json_array();
  if(eku && !each_item(r->ext_key_usage, eku, eku_json))
    ok = false;
  set(o, "ExtendedKeyUsages", eku, &ok);
  set(o, "IsCa", json_boolean(r->is_ca), &ok);
  set(o, "PathLen", r->path_len >= 0 ? json_integer(r->path_len) : json_null(),
      &ok);
  set(o, "SelfSigned", json_boolean(r->self_signed), &ok);
  char *fp = colon_hex(r->sha256, true);
  set(o, "Sha256Fingerprint", fp ? json_string(fp) : NULL, &ok);
  free(fp);
  fp = colon_hex(r->sha1, true);
  set(o, "Sha1Fingerprint", fp ? json_string(fp) : NULL, &ok);
  free(fp);
  set(o, "CommonName", str_or_null(r->common_name), &ok);
  set(o, "IssuerCommonName", str_or_null(r->issuer_cn), &ok);
  set(o, "Account", str_or_null(r->account), &ok);
  set(o, "Region", str_or_null(r->region), &ok);
  set(o, "FirstSeen", time_json(r->first_seen), &ok);
  set(o, "LastSeen", time_json(r->last_seen), &ok);
  json_t *tags = json_array();
  for(size_t i = 0; tags && i < r->n_tags; i++) {
    if(json_array_append_new(
           tags, json_pack("{s:s, s:s}", "Key", r->tags[i].key, "Value",
                           r->tags[i].value ? r->tags[i].value : "")))
      ok = false;
  }
  set(o, "Tags", tags, &ok);
  json_t *src = json_array();
  for(size_t i = 0; src && i < r->n_sources; i++) {
    const certhub_sighting *s = &r->sources[i];
    char fs[32], ls[32];
    certhub_time_format(s->first_seen, fs, sizeof(fs));
    certhub_time_format(s->last_seen, ls, sizeof(ls));
    if(json_array_append_new(
           src, json_pack("{s:s, s:s, s:I, s:b, s:s, s:s}", "Kind", s->kind,
                          "Locator", s->locator, "Position",
                          (json_int_t)s->position, "Present", s->present,
                          "FirstSeen", fs, "LastSeen", ls)))
      ok = false;
  }
  set(o, "Sources", src, &ok);
  set(o, "IssuerIds", id_array(r->issuer_ids, r->n_issuer_ids), &ok);
  set(o, "ReplacedBy", id_array(r->replaced_by, r->n_replaced_by), &ok);
  set(o, "Replaces", id_array(r->replaces, r->n_replaces), &ok);
  if(!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* --- list ------------------------------------------------------------ */

typedef struct list_state {
  cli_ctx *c;
  int threshold;
  out_table *table;
  out_json_stream js;
  size_t n;
} list_state;

static const char *tag_value(const certhub_cert_row *r, const char *key)
{
  for(size_t i = 0; i < r->n_tags; i++) {
    if(!strcmp(r->tags[i].key, key))
      return r->tags[i].value ? r->tags[i].value : "";
  }
  return NULL;
}

static enum out_color expiry_color(const certhub_cert_row *r, int threshold)
{
  if(r->status && !strcmp(r->status, CERTHUB_STATUS_INACTIVE))
    return OUT_DIM;
  if((r->status && !strcmp(r->status, CERTHUB_STATUS_EXPIRED)) ||
     r->days_to_expiry <= 7)
    return OUT_RED;
  if(r->days_to_expiry <= threshold)
    return OUT_YELLOW;
  return OUT_GREEN;
}

static ch_err table_row(list_state *st, const certhub_cert_row *r)
{
  char days[32], expires[16], key[64];
  const char *dn = domain_name(r);
  snprintf(days, sizeof(days), "%lld", (long long)r->days_to_expiry);
  certhub_date_format(r->not_after, expires, sizeof(expires));
  key_label(r->key_alg, r->key_bits, r->key_curve, key, sizeof(key));
  const char *owner = tag_value(r, "owner");
  char *cn = out_truncate(dn ? dn : "-", CELL_MAX);
  char *iss = out_truncate(r->issuer_cn ? r->issuer_cn : r->issuer, CELL_MAX);
  char *src = NULL;
  size_t present = 0;
  for(size_t i = 0; i < r->n_sources; i++)
    present += r->sources[i].present;
  if(present) {
    char *loc = out_truncate_left(r->sources[0].locator, CELL_MAX);
    if(loc && present > 1) {
      if(asprintf(&src, "%s (+%zu)", loc, present - 1) < 0)
        src = NULL;
      free(loc);
    }
    else
      src = loc;
  }
  else
    src = strdup("-");
  ch_err rc = CH_ERR_NOMEM;
  if(cn && iss && src) {
    enum out_color col = expiry_color(r, st->threshold);
    const char *cells[] = {r->id,     cn,  days, expires,
                           r->status, key, iss,  owner && *owner ? owner : "-",
                           src};
    enum out_color colors[] = {OUT_PLAIN, OUT_PLAIN, col,       OUT_PLAIN, col,
                               OUT_PLAIN, OUT_PLAIN, OUT_PLAIN, OUT_PLAIN};
    rc = out_table_add(st->table, cells, colors);
  }
  free(cn);
  free(iss);
  free(src);
  return rc;
}

/* Items joined by ';' into a malloc'd string. */
typedef struct joiner {
  char *s;
  size_t len;
  FILE *f;
  bool any;
} joiner;

static bool join_open(joiner *j)
{
  memset(j, 0, sizeof(*j));
  j->f = open_memstream(&j->s, &j->len);
  return j->f != NULL;
}

static void join_add(joiner *j, const char *a, const char *b)
{
  fprintf(j->f, "%s%s%s%s", j->any ? ";" : "", a, b ? "=" : "", b ? b : "");
  j->any = true;
}

static char *join_close(joiner *j)
{
  if(fclose(j->f) != 0) {
    free(j->s);
    return NULL;
  }
  return j->s;
}

static const char *const csv_header[] = {
    "id",     "common_name", "days_to_expiry", "not_after", "status",
    "key",    "issuer",      "owner",          "sans",      "sources",
    "sha256", "tags",        "account",        "region",
};
#define CSV_COLS (sizeof(csv_header) / sizeof(csv_header[0]))

static ch_err csv_row(const certhub_cert_row *r)
{
  char days[32], na[32], key[64];
  joiner sans, srcs, tags;
  ch_err rc = CH_ERR_NOMEM;
  if(!join_open(&sans))
    return rc;
  if(!join_open(&srcs)) {
    free(join_close(&sans));
    return rc;
  }
  if(!join_open(&tags)) {
    free(join_close(&sans));
    free(join_close(&srcs));
    return rc;
  }
  for(size_t i = 0; i < r->n_sans; i++) {
    const certhub_san *s = &r->sans[i];
    if(s->type == CERTHUB_SAN_DNS)
      join_add(&sans, s->value, NULL);
    else {
      fprintf(sans.f, "%s%s:%s", sans.any ? ";" : "",
              certhub_san_type_name(s->type), s->value);
      sans.any = true;
    }
  }
  for(size_t i = 0; i < r->n_sources; i++) {
    if(r->sources[i].present)
      join_add(&srcs, r->sources[i].locator, NULL);
  }
  for(size_t i = 0; i < r->n_tags; i++)
    join_add(&tags, r->tags[i].key, r->tags[i].value ? r->tags[i].value : "");
  char *s_sans = join_close(&sans), *s_srcs = join_close(&srcs),
       *s_tags = join_close(&tags);
  if(s_sans && s_srcs && s_tags) {
    snprintf(days, sizeof(days), "%lld", (long long)r->days_to_expiry);
    certhub_time_format(r->not_after, na, sizeof(na));
    key_label(r->key_alg, r->key_bits, r->key_curve, key, sizeof(key));
    const char *owner = tag_value(r, "owner");
    const char *cells[CSV_COLS] = {
        r->id,
        r->common_name ? r->common_name : "",
        days,
        na,
        r->status,
        key,
        r->issuer_cn ? r->issuer_cn : r->issuer,
        owner ? owner : "",
        s_sans,
        s_srcs,
        r->sha256,
        s_tags,
        r->account,
        r->region,
    };
    out_csv_row(stdout, cells, CSV_COLS);
    rc = CH_OK;
  }
  free(s_sans);
  free(s_srcs);
  free(s_tags);
  return rc;
}

static ch_err list_cb(void *ctx, const certhub_cert_row *row)
{
  list_state *st = ctx;
  ch_err rc = CH_OK;
  st->n++;
  switch(st->c->format) {
  case OUT_TABLE:
    rc = table_row(st, row);
    break;
  case OUT_CSV:
    rc = csv_row(row);
    break;
  case OUT_JSON: {
    json_t *o = cli_row_json(row);
    rc = o ? out_json_item(&st->js, o) : CH_ERR_NOMEM;
    json_decref(o);
    break;
  }
  }
  return rc;
}

enum {
  LOPT_EXPIRING = 0x100,
  LOPT_EXPIRED,
  LOPT_STATUS,
  LOPT_TAG,
  LOPT_ISSUER,
  LOPT_SEARCH,
  LOPT_LIMIT,
};

#define MAX_FILTER_TAGS 64

int cmd_list(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"expiring-within", required_argument, NULL, LOPT_EXPIRING},
      {"expired", no_argument, NULL, LOPT_EXPIRED},
      {"status", required_argument, NULL, LOPT_STATUS},
      {"tag", required_argument, NULL, LOPT_TAG},
      {"issuer", required_argument, NULL, LOPT_ISSUER},
      {"search", required_argument, NULL, LOPT_SEARCH},
      {"limit", required_argument, NULL, LOPT_LIMIT},
      {NULL, 0, NULL, 0},
  };
  certhub_filter f = {0};
  certhub_tag tags[MAX_FILTER_TAGS];
  certhub_store *s = NULL;
  list_state st = {.c = c};
  int64_t v;
  int r, code = 0;

  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case LOPT_EXPIRING:
      if(cli_parse_num(c, "--expiring-within", optarg, 0, 100000, &v))
        return CLI_EXIT_USAGE;
      f.expiring = true;
      f.expiring_within = v;
      break;
    case LOPT_EXPIRED:
      f.expired = true;
      break;
    case LOPT_STATUS:
      for(char *p = optarg; *p; p++)
        *p = (char)toupper((unsigned char)*p);
      if(strcmp(optarg, CERTHUB_STATUS_ISSUED) &&
         strcmp(optarg, CERTHUB_STATUS_EXPIRED) &&
         strcmp(optarg, CERTHUB_STATUS_INACTIVE))
        return cli_usage(c,
                         "--status: '%s' is not ISSUED, EXPIRED or "
                         "INACTIVE",
                         optarg);
      f.status = optarg;
      break;
    case LOPT_TAG:
      if(f.n_tags == MAX_FILTER_TAGS)
        return cli_usage(c, "--tag: at most %d tags", MAX_FILTER_TAGS);
      if(cli_parse_tag(c, "--tag", optarg, true, &tags[f.n_tags]))
        return CLI_EXIT_USAGE;
      f.n_tags++;
      break;
    case LOPT_ISSUER:
      f.issuer = optarg;
      break;
    case LOPT_SEARCH:
      f.search = optarg;
      break;
    case LOPT_LIMIT:
      if(cli_parse_num(c, "--limit", optarg, 1, INT32_MAX, &v))
        return CLI_EXIT_USAGE;
      f.limit = (size_t)v;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  f.tags = f.n_tags ? tags : NULL;

  code = cli_config(c, false);
  if(code)
    return code;
  st.threshold = c->config->threshold_days;
  code = cli_open_store(c, &s);
  if(code)
    return code;

  if(c->format == OUT_TABLE) {
    static const char *const hdr[] = {"ID",      "COMMON NAME", "DAYS",
                                      "EXPIRES", "STATUS",      "KEY",
                                      "ISSUER",  "OWNER",       "SOURCE"};
    st.table = out_table_new(hdr, sizeof(hdr) / sizeof(hdr[0]));
    if(!st.table) {
      code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
      goto out;
    }
  }
  else if(c->format == OUT_JSON)
    out_json_begin(&st.js, stdout);
  else
    out_csv_row(stdout, csv_header, CSV_COLS);

  ch_err rc = certhub_store_list(s, &f, c->now, list_cb, &st);
  if(c->format == OUT_JSON)
    out_json_end(&st.js);
  if(rc) {
    code = cli_store_fail(c, s, rc, "listing certificates");
    goto out;
  }
  if(st.table && st.n)
    out_table_print(st.table, stdout, c->color);
  if(!c->quiet) {
    if(st.n)
      fprintf(stderr, "%zu certificate%s\n", st.n, st.n == 1 ? "" : "s");
    else
      fputs("no certificates match\n", stderr);
  }
out:
  out_table_free(st.table);
  certhub_store_close(s);
  return code;
}

/* --- describe -------------------------------------------------------- */

typedef struct desc_item {
  json_t *obj;
  char key[64];
} desc_item;

static ch_err desc_cb(void *ctx, const certhub_cert_row *row)
{
  desc_item *d = ctx;
  json_decref(d->obj);
  d->obj = cli_row_json(row);
  key_label(row->key_alg, row->key_bits, row->key_curve, d->key,
            sizeof(d->key));
  return d->obj ? CH_OK : CH_ERR_NOMEM;
}

#define LABEL_W 22

static void field(const char *label, const char *value)
{
  printf("%s:%*s", label, (int)(LABEL_W - strlen(label) - 1), "");
  out_safe_puts(stdout, value && *value ? value : "-");
  putchar('\n');
}

static void more(const char *value)
{
  printf("%*s", LABEL_W, "");
  out_safe_puts(stdout, value);
  putchar('\n');
}

static const char *jstr(const json_t *o, const char *k)
{
  const char *v = json_string_value(json_object_get(o, k));
  return v ? v : "";
}

/* One line per array item: first on the label's line, the rest under
 * it. fmt turns an item into text. */
static void field_list(const char *label, const json_t *arr,
                       void (*fmt)(const json_t *, char *, size_t))
{
  size_t i;
  const json_t *it;
  char buf[8192];
  if(json_array_size(arr) == 0) {
    field(label, "-");
    return;
  }
  json_array_foreach(arr, i, it)
  {
    fmt(it, buf, sizeof(buf));
    if(i == 0)
      field(label, buf);
    else
      more(buf);
  }
}

static void fmt_str(const json_t *v, char *buf, size_t len)
{
  snprintf(buf, len, "%s", json_string_value(v) ? json_string_value(v) : "");
}

static void fmt_name(const json_t *v, char *buf, size_t len)
{
  snprintf(buf, len, "%s", jstr(v, "Name"));
}

static void fmt_eku(const json_t *v, char *buf, size_t len)
{
  const char *oid = json_string_value(json_object_get(v, "OID"));
  snprintf(buf, len, "%s%s%s%s", jstr(v, "Name"), oid ? " (" : "",
           oid ? oid : "", oid ? ")" : "");
}

static void fmt_tag(const json_t *v, char *buf, size_t len)
{
  snprintf(buf, len, "%s=%s", jstr(v, "Key"), jstr(v, "Value"));
}

static void fmt_source(const json_t *v, char *buf, size_t len)
{
  snprintf(buf, len, "%s %s #%lld %s (first seen %s, last seen %s)",
           jstr(v, "Kind"), jstr(v, "Locator"),
           (long long)json_integer_value(json_object_get(v, "Position")),
           json_is_true(json_object_get(v, "Present")) ? "present" : "absent",
           jstr(v, "FirstSeen"), jstr(v, "LastSeen"));
}

/* IDs with the CN each has in the store. */
static ch_err field_ids(cli_ctx *c, certhub_store *s, const char *label,
                        const json_t *arr)
{
  size_t i;
  const json_t *it;
  if(json_array_size(arr) == 0) {
    field(label, "-");
    return CH_OK;
  }
  json_array_foreach(arr, i, it)
  {
    const char *id = json_string_value(it);
    int64_t *ids = NULL;
    size_t n = 0;
    cli_row_name nm = {0};
    char buf[512];
    ch_err rc = certhub_store_resolve(s, id, &ids, &n);
    if(rc == CH_OK && n == 1)
      rc = cli_row_name_get(c, s, ids[0], &nm);
    free(ids);
    if(rc && rc != CH_ERR_NOTFOUND && rc != CH_ERR_AMBIGUOUS)
      return rc;
    snprintf(buf, sizeof(buf), "%s (%s)", id,
             nm.found && *nm.cn ? nm.cn : "no common name");
    if(i == 0)
      field(label, buf);
    else
      more(buf);
  }
  return CH_OK;
}

static ch_err describe_human(cli_ctx *c, certhub_store *s, const desc_item *d)
{
  const json_t *o = d->obj;
  char buf[256];
  field("ID", jstr(o, "Id"));
  field("ARN", jstr(o, "CertificateArn"));
  field("Common name", jstr(o, "CommonName"));
  field("Domain name", jstr(o, "DomainName"));
  field_list("Alternative names",
             json_object_get(o, "SubjectAlternativeNames"), fmt_str);
  field("Subject", jstr(o, "Subject"));
  field("Issuer", jstr(o, "Issuer"));
  field("Issuer common name", jstr(o, "IssuerCommonName"));
  field("Serial", jstr(o, "Serial"));
  field("Not before", jstr(o, "NotBefore"));
  field("Not after", jstr(o, "NotAfter"));
  snprintf(buf, sizeof(buf), "%lld",
           (long long)json_integer_value(json_object_get(o, "DaysToExpiry")));
  field("Days to expiry", buf);
  field("Status", jstr(o, "Status"));
  field("Type", jstr(o, "Type"));
  snprintf(buf, sizeof(buf), "%s (%s)", d->key, jstr(o, "KeyAlgorithm"));
  field("Key", buf);
  field("Signature algorithm", jstr(o, "SignatureAlgorithm"));
  field_list("Key usages", json_object_get(o, "KeyUsages"), fmt_name);
  field_list("Extended key usages", json_object_get(o, "ExtendedKeyUsages"),
             fmt_eku);
  field("CA", json_is_true(json_object_get(o, "IsCa")) ? "yes" : "no");
  const json_t *pl = json_object_get(o, "PathLen");
  snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(pl));
  field("Path length", json_is_integer(pl) ? buf : "-");
  field("Self-signed",
        json_is_true(json_object_get(o, "SelfSigned")) ? "yes" : "no");
  field("SHA-256 fingerprint", jstr(o, "Sha256Fingerprint"));
  field("SHA-1 fingerprint", jstr(o, "Sha1Fingerprint"));
  field("Account", jstr(o, "Account"));
  field("Region", jstr(o, "Region"));
  field("First seen", jstr(o, "FirstSeen"));
  field("Last seen", jstr(o, "LastSeen"));
  field_list("Tags", json_object_get(o, "Tags"), fmt_tag);
  field_list("Sources", json_object_get(o, "Sources"), fmt_source);
  ch_err rc = field_ids(c, s, "Chain", json_object_get(o, "IssuerIds"));
  if(!rc)
    rc = field_ids(c, s, "Replaced by", json_object_get(o, "ReplacedBy"));
  if(!rc)
    rc = field_ids(c, s, "Replaces", json_object_get(o, "Replaces"));
  return rc;
}

static ch_err csv_cb(void *ctx, const certhub_cert_row *row)
{
  (void)ctx;
  return csv_row(row);
}

int cmd_describe(cli_ctx *c, int argc, char **argv)
{
  certhub_store *s = NULL;
  int64_t *ids = NULL;
  size_t n = 0;
  desc_item d = {0};
  out_json_stream js;
  int r, code = 0;
  ch_err rc = CH_OK;

  while((r = cli_getopt(c, argc, argv, "", NULL)) != -1) {
    if(r == CLI_OPT_STOP)
      return c->exit_code;
  }
  const char *ref;
  code = cli_one_ref(c, argc, argv, &ref);
  if(code)
    return code;

  code = cli_open_store(c, &s);
  if(code)
    return code;
  code = cli_resolve(c, s, ref, &ids, &n);
  if(code)
    goto out;

  if(c->format == OUT_JSON && n > 1)
    out_json_begin(&js, stdout);
  if(c->format == OUT_CSV)
    out_csv_row(stdout, csv_header, CSV_COLS);
  /* one certificate at a time: a path can hold thousands */
  for(size_t i = 0; i < n && !rc; i++) {
    certhub_filter f = {.rowid = ids[i]};
    if(c->format == OUT_CSV) {
      rc = certhub_store_list(s, &f, c->now, csv_cb, NULL);
      continue;
    }
    rc = certhub_store_list(s, &f, c->now, desc_cb, &d);
    if(rc || !d.obj)
      break;
    if(c->format == OUT_JSON)
      rc = n > 1 ? out_json_item(&js, d.obj) : out_json_print(stdout, d.obj);
    else {
      if(i)
        putchar('\n');
      rc = describe_human(c, s, &d);
    }
    json_decref(d.obj);
    d.obj = NULL;
  }
  if(c->format == OUT_JSON && n > 1)
    out_json_end(&js);
  if(rc)
    code = cli_store_fail(c, s, rc, ref);
out:
  json_decref(d.obj);
  free(ids);
  certhub_store_close(s);
  return code;
}
