/*
 * certhub-gen: makes certificates with exact properties for the tests, the
 * demo and the benchmarks: past and future dates to the second, chosen key
 * types and signature algorithms, chains, bundles of any size. openssl's
 * 3.0 CLI cannot set arbitrary past dates, and one process per certificate
 * is far too slow for a 100,000-certificate estate, so this uses the C API.
 *
 * Keys are the expensive part (an RSA-2048 key takes ~50 ms), so they are
 * made once and reused from a pool; per certificate only the name, serial,
 * SANs and signature change. Extensions that depend only on the key are
 * encoded once per key.
 *
 * Errors go to stderr and exit with status 2.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certhub/time.h"

#define MAX_COUNT 10000000UL    /* certificates per run */
#define MAX_POOL 1024UL         /* distinct keys per run */
#define MAX_SAN_COUNT 1000000UL /* enough to test certhub's caps */
#define MAX_FILES_PER_DIR 1000UL

enum key_kind { KEY_RSA, KEY_EC, KEY_ED25519, KEY_MIX };

typedef struct san_opt {
  int type;          /* GEN_DNS, GEN_IPADD, GEN_EMAIL, GEN_URI */
  const char *value; /* may hold %d */
} san_opt;

/* One key of the pool and the extensions that depend only on it. */
typedef struct pool_key {
  EVP_PKEY *pkey;
  bool rsa;
  X509_PUBKEY *xpk; /* encoded once: OpenSSL 3's encoder is slow */
  ASN1_OCTET_STRING *ski;
  X509_EXTENSION *ext_ski;
  X509_EXTENSION *ext_aki_self; /* AKI = own SKI, for self-signed */
} pool_key;

typedef struct gen {
  /* options */
  enum key_kind kind;
  int rsa_bits;
  const char *curve;
  const char *sig; /* NULL: default */
  const EVP_MD *md;
  const char *cn_tmpl;
  const char *org, *ou;
  san_opt *sans;
  size_t n_sans;
  unsigned long san_count;
  const char *now_s, *nb_s, *na_s;
  int64_t now, not_before, not_after;
  bool ca;
  long pathlen;
  const char *issuer_cert_path, *issuer_key_path;
  const char *key_in, *key_out, *out_path;
  bool der;
  const char *serial_s;
  unsigned long count, pool_size;
  bool split;
  unsigned long split_min, split_max;
  const char *outdir;
  uint64_t seed;
  bool seeded;

  /* state */
  pool_key *keys;
  size_t n_keys;
  X509 *issuer;
  EVP_PKEY *issuer_key;
  X509_EXTENSION *ext_aki_issuer; /* AKI = issuer's SKI */
  X509_EXTENSION *ext_bc, *ext_ku_rsa, *ext_ku_other, *ext_eku;
  ASN1_TIME *t_nb, *t_na;
  BIGNUM *serial;
  uint64_t rng;
} gen;

static void fail_ssl(const char *what)
{
  unsigned long e = ERR_get_error();
  char buf[256] = "";
  if(e)
    ERR_error_string_n(e, buf, sizeof buf);
  fprintf(stderr, "certhub-gen: %s%s%s\n", what, e ? ": " : "", buf);
  ERR_clear_error();
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("certhub-gen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return -1;
}

static void usage(FILE *f)
{
  fputs(
      "usage: certhub-gen [options]\n"
      "Writes certificates as PEM to stdout (or -o FILE).\n"
      "  --key SPEC        rsa:BITS | ec:P-256|P-384|P-521 | ed25519 | mix\n"
      "                    (mix alternates RSA-2048 and P-256); default "
      "ec:P-256\n"
      "  --key-in F        use this PEM private key instead of a new one\n"
      "  --key-pool K      K distinct keys for --count N (default 1; 2 for "
      "mix)\n"
      "  --key-out F       write the private key(s) as PEM\n"
      "  --sig ALG         sha256 | sha1 | sha384 (default sha256)\n"
      "  --cn TEMPLATE     subject CN; %d is the index from 1 (default\n"
      "                    cert-%d.example.test)\n"
      "  --org O, --ou OU  subject O and OU\n"
      "  --san TYPE:VALUE  DNS, IP, email or URI; repeatable; %d as in --cn\n"
      "  --san-count N     N more DNS SANs s1.CN ... sN.CN\n"
      "  --now T           reference for relative times (default: now)\n"
      "  --not-before T    default: --now\n"
      "  --not-after T     default: not-before + 365d\n"
      "                    T is RFC 3339 (2026-01-02T03:04:05Z, 2026-01-02),\n"
      "                    @UNIXSECONDS, or +/-N with s, m, h, d, w\n"
      "  --ca              CA:TRUE, keyCertSign and cRLSign\n"
      "  --pathlen N       pathLenConstraint (with --ca)\n"
      "  --issuer-cert F --issuer-key F   sign with this CA (default: "
      "self-signed)\n"
      "  --serial N        first serial, decimal or 0xHEX (default random)\n"
      "  --count N         N certificates, each with its own serial and CN\n"
      "  --der             DER instead of PEM (count 1 only)\n"
      "  -o FILE           output file\n"
      "  --split MIN:MAX --outdir DIR [--seed S]\n"
      "                    spread --count certificates over files of "
      "MIN..MAX\n"
      "                    (deterministic for S), "
      "DIR/[NNN/]bundle-00001.pem,\n"
      "                    at most 1,000 entries per directory\n",
      f);
}

/* splitmix64: small, fast, deterministic for a seed. */
static uint64_t rng_next(gen *g)
{
  uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int parse_ulong(const char *opt, const char *s, unsigned long min,
                       unsigned long max, unsigned long *out /* OUT */)
{
  char *end;
  errno = 0;
  if(!*s || *s == '-' || *s == '+')
    return fail("%s: '%s' is not a number", opt, s);
  unsigned long v = strtoul(s, &end, 10);
  if(errno || *end)
    return fail("%s: '%s' is not a number", opt, s);
  if(v < min || v > max)
    return fail("%s: %s is out of range %lu..%lu", opt, s, min, max);
  *out = v;
  return 0;
}

static int digits(const char **p, int n, int *out /* OUT */)
{
  int v = 0;
  for(int i = 0; i < n; i++) {
    if((*p)[i] < '0' || (*p)[i] > '9')
      return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

/* RFC 3339 ("2026-01-02T03:04:05Z", fraction dropped, offsets applied) or a
 * plain date (midnight UTC). */
static int parse_rfc3339(const char *s, int64_t *out /* OUT */)
{
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if(digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
     digits(&p, 2, &d))
    return -1;
  if(mo < 1 || mo > 12 || d < 1 || d > 31)
    return -1;
  int64_t off = 0;
  if(*p) {
    if(*p != 'T' && *p != 't' && *p != ' ')
      return -1;
    p++;
    if(digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
       digits(&p, 2, &sec))
      return -1;
    if(h > 23 || mi > 59 || sec > 60)
      return -1;
    if(*p == '.') {
      p++;
      if(*p < '0' || *p > '9')
        return -1;
      while(*p >= '0' && *p <= '9')
        p++;
    }
    if(*p == 'Z' || *p == 'z')
      p++;
    else if(*p == '+' || *p == '-') {
      int oh, om, sign = *p++ == '-' ? -1 : 1;
      if(digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 ||
         om > 59)
        return -1;
      off = sign * (oh * 3600 + om * 60);
    }
    else
      return -1;
    if(*p)
      return -1;
  }
  *out = certhub_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
         h * 3600 + mi * 60 + sec - off;
  return 0;
}

/* T: RFC 3339, @UNIX, or +/-N[smhdw] relative to now. */
static int parse_time(const char *opt, const char *s, int64_t now,
                      int64_t *out /* OUT */)
{
  if(*s == '+' || *s == '-' || *s == '@') {
    char *end;
    errno = 0;
    long long n = strtoll(s + 1, &end, 10);
    if(errno || end == s + 1 || n < 0 || n > 100000LL * 86400)
      return fail("%s: bad time '%s'", opt, s);
    if(*s == '@') {
      if(*end)
        return fail("%s: bad time '%s'", opt, s);
      *out = n;
      return 0;
    }
    int64_t unit;
    switch(*end) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7 * 86400;
      break;
    default:
      return fail("%s: '%s' needs a unit s, m, h, d or w", opt, s);
    }
    if(end[1])
      return fail("%s: bad time '%s'", opt, s);
    *out = now + (*s == '-' ? -1 : 1) * n * unit;
    return 0;
  }
  if(parse_rfc3339(s, out))
    return fail("%s: '%s' is neither RFC 3339 (2026-01-02T03:04:05Z) nor "
                "relative (+30d)",
                opt, s);
  return 0;
}

static int parse_key(gen *g, const char *s)
{
  if(!strncmp(s, "rsa:", 4)) {
    unsigned long bits;
    if(parse_ulong("--key", s + 4, 512, 16384, &bits))
      return -1;
    g->kind = KEY_RSA;
    g->rsa_bits = (int)bits;
  }
  else if(!strncmp(s, "ec:", 3)) {
    static const char *const curves[] = {"P-256", "P-384", "P-521"};
    g->curve = NULL;
    for(size_t i = 0; i < sizeof curves / sizeof curves[0]; i++)
      if(!strcasecmp(s + 3, curves[i]))
        g->curve = curves[i];
    if(!g->curve)
      return fail("--key: unknown curve '%s' (P-256, P-384, P-521)", s + 3);
    g->kind = KEY_EC;
  }
  else if(!strcasecmp(s, "ed25519"))
    g->kind = KEY_ED25519;
  else if(!strcmp(s, "mix"))
    g->kind = KEY_MIX;
  else
    return fail("--key: '%s' is not rsa:BITS, ec:CURVE, ed25519 or mix", s);
  return 0;
}

static int parse_san(gen *g, const char *s)
{
  static const struct {
    const char *name;
    int type;
  } types[] = {{"DNS", GEN_DNS},
               {"IP", GEN_IPADD},
               {"email", GEN_EMAIL},
               {"URI", GEN_URI}};
  const char *colon = strchr(s, ':');
  if(!colon || !colon[1])
    return fail("--san: '%s' is not TYPE:VALUE", s);
  int type = -1;
  for(size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if(strlen(types[i].name) == (size_t)(colon - s) &&
       !strncasecmp(s, types[i].name, (size_t)(colon - s)))
      type = types[i].type;
  if(type < 0)
    return fail("--san: unknown type in '%s' (DNS, IP, email, URI)", s);
  san_opt *n = realloc(g->sans, (g->n_sans + 1) * sizeof *n);
  if(!n)
    return fail("out of memory");
  g->sans = n;
  g->sans[g->n_sans].type = type;
  g->sans[g->n_sans].value = colon + 1;
  g->n_sans++;
  return 0;
}

/* Expand %d (index) and %% in tmpl into buf. */
static int expand(const char *tmpl, unsigned long idx, char *buf, size_t len)
{
  size_t o = 0;
  for(const char *p = tmpl; *p; p++) {
    char num[24];
    const char *add = num;
    if(p[0] == '%' && p[1] == 'd') {
      snprintf(num, sizeof num, "%lu", idx);
      p++;
    }
    else if(p[0] == '%' && p[1] == '%') {
      num[0] = '%', num[1] = 0;
      p++;
    }
    else
      num[0] = *p, num[1] = 0;
    size_t n = strlen(add);
    if(o + n >= len)
      return fail("name '%s' is too long", tmpl);
    memcpy(buf + o, add, n);
    o += n;
  }
  buf[o] = 0;
  return 0;
}

static int parse_args(gen *g, int argc, char **argv)
{
  enum {
    O_KEY = 256,
    O_KEY_IN,
    O_KEY_POOL,
    O_KEY_OUT,
    O_SIG,
    O_CN,
    O_ORG,
    O_OU,
    O_SAN,
    O_SAN_COUNT,
    O_NOW,
    O_NB,
    O_NA,
    O_CA,
    O_PATHLEN,
    O_ICERT,
    O_IKEY,
    O_SERIAL,
    O_COUNT,
    O_DER,
    O_SPLIT,
    O_OUTDIR,
    O_SEED,
  };
  static const struct option lo[] = {
      {"key", required_argument, 0, O_KEY},
      {"key-in", required_argument, 0, O_KEY_IN},
      {"key-pool", required_argument, 0, O_KEY_POOL},
      {"key-out", required_argument, 0, O_KEY_OUT},
      {"sig", required_argument, 0, O_SIG},
      {"cn", required_argument, 0, O_CN},
      {"org", required_argument, 0, O_ORG},
      {"ou", required_argument, 0, O_OU},
      {"san", required_argument, 0, O_SAN},
      {"san-count", required_argument, 0, O_SAN_COUNT},
      {"now", required_argument, 0, O_NOW},
      {"not-before", required_argument, 0, O_NB},
      {"not-after", required_argument, 0, O_NA},
      {"ca", no_argument, 0, O_CA},
      {"pathlen", required_argument, 0, O_PATHLEN},
      {"issuer-cert", required_argument, 0, O_ICERT},
      {"issuer-key", required_argument, 0, O_IKEY},
      {"serial", required_argument, 0, O_SERIAL},
      {"count", required_argument, 0, O_COUNT},
      {"der", no_argument, 0, O_DER},
      {"split", required_argument, 0, O_SPLIT},
      {"outdir", required_argument, 0, O_OUTDIR},
      {"seed", required_argument, 0, O_SEED},
      {"output", required_argument, 0, 'o'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0},
  };
  unsigned long v;
  int c;
  opterr = 0;
  while((c = getopt_long(argc, argv, ":o:h", lo, NULL)) != -1) {
    switch(c) {
    case O_KEY:
      if(parse_key(g, optarg))
        return -1;
      break;
    case O_KEY_IN:
      g->key_in = optarg;
      break;
    case O_KEY_POOL:
      if(parse_ulong("--key-pool", optarg, 1, MAX_POOL, &g->pool_size))
        return -1;
      break;
    case O_KEY_OUT:
      g->key_out = optarg;
      break;
    case O_SIG:
      g->sig = optarg;
      break;
    case O_CN:
      g->cn_tmpl = optarg;
      break;
    case O_ORG:
      g->org = optarg;
      break;
    case O_OU:
      g->ou = optarg;
      break;
    case O_SAN:
      if(parse_san(g, optarg))
        return -1;
      break;
    case O_SAN_COUNT:
      if(parse_ulong("--san-count", optarg, 0, MAX_SAN_COUNT, &g->san_count))
        return -1;
      break;
    case O_NOW:
      g->now_s = optarg;
      break;
    case O_NB:
      g->nb_s = optarg;
      break;
    case O_NA:
      g->na_s = optarg;
      break;
    case O_CA:
      g->ca = true;
      break;
    case O_PATHLEN:
      if(parse_ulong("--pathlen", optarg, 0, 1000, &v))
        return -1;
      g->pathlen = (long)v;
      break;
    case O_ICERT:
      g->issuer_cert_path = optarg;
      break;
    case O_IKEY:
      g->issuer_key_path = optarg;
      break;
    case O_SERIAL:
      g->serial_s = optarg;
      break;
    case O_COUNT:
      if(parse_ulong("--count", optarg, 1, MAX_COUNT, &g->count))
        return -1;
      break;
    case O_DER:
      g->der = true;
      break;
    case O_SPLIT: {
      const char *colon = strchr(optarg, ':');
      char min[32];
      if(!colon || (size_t)(colon - optarg) >= sizeof min)
        return fail("--split: '%s' is not MIN:MAX", optarg);
      memcpy(min, optarg, (size_t)(colon - optarg));
      min[colon - optarg] = 0;
      if(parse_ulong("--split MIN", min, 1, MAX_COUNT, &g->split_min) ||
         parse_ulong("--split MAX", colon + 1, 1, MAX_COUNT, &g->split_max))
        return -1;
      if(g->split_min > g->split_max)
        return fail("--split: MIN %lu is larger than MAX %lu", g->split_min,
                    g->split_max);
      g->split = true;
      break;
    }
    case O_OUTDIR:
      g->outdir = optarg;
      break;
    case O_SEED:
      if(parse_ulong("--seed", optarg, 0, ULONG_MAX, &v))
        return -1;
      g->seed = v;
      g->seeded = true;
      break;
    case 'o':
      g->out_path = optarg;
      break;
    case 'h':
      usage(stdout);
      exit(0);
    case ':':
      return fail("%s needs an argument", argv[optind - 1]);
    default:
      return fail("unknown option '%s' (see --help)", argv[optind - 1]);
    }
  }
  if(optind < argc)
    return fail("unexpected argument '%s' (see --help)", argv[optind]);

  /* Cross-checks, so a wrong combination fails before any work. */
  if(!!g->issuer_cert_path != !!g->issuer_key_path)
    return fail("--issuer-cert and --issuer-key go together");
  if(g->pathlen >= 0 && !g->ca)
    return fail("--pathlen needs --ca");
  if(g->der && (g->count > 1 || g->split))
    return fail("--der writes one certificate: not with --count or --split");
  if(g->split != !!g->outdir)
    return fail("--split and --outdir go together");
  if(g->split && g->out_path)
    return fail("-o does not apply with --split (files go to --outdir)");
  if(g->count > 1 && !strstr(g->cn_tmpl, "%d"))
    return fail("--cn '%s' needs %%d with --count > 1 (each certificate "
                "gets its own CN)",
                g->cn_tmpl);
  if(g->seeded && !g->split)
    return fail("--seed applies to --split only");
  if(g->key_in && (g->kind == KEY_MIX || g->pool_size > 1))
    return fail("--key-in gives one key: not with --key mix or --key-pool");
  if(g->kind == KEY_MIX && g->pool_size == 1)
    return fail("--key mix needs --key-pool of at least 2");
  if(!g->pool_size)
    g->pool_size = g->kind == KEY_MIX ? 2 : 1;
  if(g->pool_size > g->count)
    g->pool_size = g->count;
  if(g->kind == KEY_MIX && g->pool_size < 2)
    g->pool_size = 2;

  g->now = (int64_t)time(NULL);
  if(g->now_s && parse_time("--now", g->now_s, g->now, &g->now))
    return -1;
  g->not_before = g->now;
  if(g->nb_s && parse_time("--not-before", g->nb_s, g->now, &g->not_before))
    return -1;
  g->not_after = g->not_before + 365 * 86400;
  if(g->na_s && parse_time("--not-after", g->na_s, g->now, &g->not_after))
    return -1;
  if(g->not_after < g->not_before)
    return fail("--not-after is before --not-before");

  if(!g->sig || !strcmp(g->sig, "sha256"))
    g->md = EVP_sha256();
  else if(!strcmp(g->sig, "sha1"))
    g->md = EVP_sha1();
  else if(!strcmp(g->sig, "sha384"))
    g->md = EVP_sha384();
  else
    return fail("--sig: '%s' is not sha256, sha1 or sha384", g->sig);
  return 0;
}

static int keygen(const gen *g, size_t i, EVP_PKEY **out /* OUT */)
{
  enum key_kind k = g->kind;
  if(k == KEY_MIX)
    k = i % 2 == 0 ? KEY_RSA : KEY_EC;
  switch(k) {
  case KEY_RSA:
    *out = EVP_RSA_gen(g->kind == KEY_MIX ? 2048 : (unsigned)g->rsa_bits);
    break;
  case KEY_EC:
    *out = EVP_EC_gen(g->kind == KEY_MIX ? "P-256" : g->curve);
    break;
  default:
    *out = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    break;
  }
  if(!*out) {
    fail_ssl("key generation failed");
    return -1;
  }
  return 0;
}

/* subjectKeyIdentifier, RFC 5280 method 1: SHA-1 of the subjectPublicKey
 * BIT STRING contents. */
static ASN1_OCTET_STRING *key_id(const X509_PUBKEY *xpk)
{
  const unsigned char *pk;
  int pklen;
  unsigned char md[SHA_DIGEST_LENGTH];
  ASN1_OCTET_STRING *os = NULL;
  if(!X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xpk))
    return NULL;
  SHA1(pk, (size_t)pklen, md);
  os = ASN1_OCTET_STRING_new();
  if(os && !ASN1_OCTET_STRING_set(os, md, sizeof md)) {
    ASN1_OCTET_STRING_free(os);
    os = NULL;
  }
  return os;
}

/* Copy k's encoded public key into x's SubjectPublicKeyInfo field by
 * field: X509_set_pubkey() would run OpenSSL 3's encoder and decoder for
 * every certificate, which costs more than the signature. */
static int set_pubkey(X509 *x, const pool_key *k)
{
  const ASN1_OBJECT *obj;
  X509_ALGOR *alg;
  const unsigned char *pk;
  int pklen, ptype;
  const void *pval;
  X509_PUBKEY *dst = X509_get_X509_PUBKEY(x);
  if(!dst || !X509_PUBKEY_get0_param(NULL, &pk, &pklen, &alg, k->xpk))
    return -1;
  X509_ALGOR_get0(&obj, &ptype, &pval, alg);
  ASN1_OBJECT *o = OBJ_dup(obj);
  void *v = NULL;
  unsigned char *enc = OPENSSL_memdup(pk, (size_t)pklen);
  /* Parameters: a curve OID (EC), NULL (RSA), absent (Ed25519). */
  bool known = ptype == V_ASN1_NULL || ptype == V_ASN1_UNDEF;
  if(ptype == V_ASN1_OBJECT)
    known = (v = OBJ_dup(pval)) != NULL;
  else if(ptype == V_ASN1_SEQUENCE)
    known = (v = ASN1_STRING_dup(pval)) != NULL;
  if(!o || !enc || !known ||
     !X509_PUBKEY_set0_param(dst, o, ptype, v, enc, pklen)) {
    ASN1_OBJECT_free(o);
    if(ptype == V_ASN1_OBJECT)
      ASN1_OBJECT_free(v);
    else
      ASN1_STRING_free(v);
    OPENSSL_free(enc);
    return -1;
  }
  return 0;
}

static X509_EXTENSION *aki_ext(const ASN1_OCTET_STRING *keyid)
{
  AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
  X509_EXTENSION *ext = NULL;
  if(!akid)
    return NULL;
  akid->keyid = ASN1_OCTET_STRING_dup(keyid);
  if(akid->keyid)
    ext = X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid);
  AUTHORITY_KEYID_free(akid);
  return ext;
}

static X509_EXTENSION *ku_ext(const int *bits, size_t n)
{
  ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
  X509_EXTENSION *ext = NULL;
  if(!ku)
    return NULL;
  for(size_t i = 0; i < n; i++)
    if(!ASN1_BIT_STRING_set_bit(ku, bits[i], 1))
      goto out;
  ext = X509V3_EXT_i2d(NID_key_usage, 1, ku);
out:
  ASN1_BIT_STRING_free(ku);
  return ext;
}

static int load_pem_key(const char *path, EVP_PKEY **out /* OUT */)
{
  BIO *b = BIO_new_file(path, "rb");
  if(!b)
    return fail("%s: %s", path, strerror(errno));
  *out = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
  BIO_free(b);
  if(!*out) {
    fail_ssl(path);
    return fail("%s: no PEM private key", path);
  }
  return 0;
}

/* Keys, issuer and every extension that does not change per certificate. */
static int setup(gen *g)
{
  int rc = -1;
  BASIC_CONSTRAINTS *bc = NULL;
  EXTENDED_KEY_USAGE *eku = NULL;

  g->keys = calloc(g->pool_size, sizeof *g->keys);
  if(!g->keys)
    return fail("out of memory");
  for(size_t i = 0; i < g->pool_size; i++) {
    pool_key *k = &g->keys[i];
    if(g->key_in ? load_pem_key(g->key_in, &k->pkey) : keygen(g, i, &k->pkey))
      goto out;
    g->n_keys++;
    k->rsa = EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_RSA;
    if(!X509_PUBKEY_set(&k->xpk, k->pkey) || !(k->ski = key_id(k->xpk)) ||
       !(k->ext_ski = X509V3_EXT_i2d(NID_subject_key_identifier, 0, k->ski)) ||
       !(k->ext_aki_self = aki_ext(k->ski))) {
      fail_ssl("key identifier");
      goto out;
    }
  }

  if(g->issuer_cert_path) {
    BIO *b = BIO_new_file(g->issuer_cert_path, "rb");
    if(!b) {
      fail("%s: %s", g->issuer_cert_path, strerror(errno));
      goto out;
    }
    g->issuer = PEM_read_bio_X509(b, NULL, NULL, NULL);
    if(!g->issuer) {
      ERR_clear_error();
      (void)BIO_reset(b);
      g->issuer = d2i_X509_bio(b, NULL);
    }
    BIO_free(b);
    if(!g->issuer) {
      fail_ssl(g->issuer_cert_path);
      fail("%s: no PEM or DER certificate", g->issuer_cert_path);
      goto out;
    }
    if(load_pem_key(g->issuer_key_path, &g->issuer_key))
      goto out;
    if(!X509_check_private_key(g->issuer, g->issuer_key)) {
      ERR_clear_error();
      fail("%s does not match %s", g->issuer_key_path, g->issuer_cert_path);
      goto out;
    }
    const ASN1_OCTET_STRING *iski = X509_get0_subject_key_id(g->issuer);
    ASN1_OCTET_STRING *own = NULL;
    if(!iski)
      iski = own = key_id(X509_get_X509_PUBKEY(g->issuer));
    g->ext_aki_issuer = iski ? aki_ext(iski) : NULL;
    ASN1_OCTET_STRING_free(own);
    if(!g->ext_aki_issuer) {
      fail_ssl("authority key identifier");
      goto out;
    }
  }

  /* Ed25519 signs without a separate digest. */
  EVP_PKEY *signer = g->issuer_key ? g->issuer_key : g->keys[0].pkey;
  bool pure = EVP_PKEY_get_base_id(signer) == EVP_PKEY_ED25519;
  for(size_t i = 1; !g->issuer_key && i < g->n_keys; i++)
    if((EVP_PKEY_get_base_id(g->keys[i].pkey) == EVP_PKEY_ED25519) != pure) {
      fail("internal: mixed Ed25519 pool");
      goto out;
    }
  if(pure) {
    if(g->sig) {
      fail("--sig does not apply to an Ed25519 signer");
      goto out;
    }
    g->md = NULL;
  }

  bc = BASIC_CONSTRAINTS_new();
  if(!bc)
    goto ossl;
  bc->ca = g->ca ? 0xff : 0;
  if(g->pathlen >= 0 && (!(bc->pathlen = ASN1_INTEGER_new()) ||
                         !ASN1_INTEGER_set(bc->pathlen, g->pathlen)))
    goto ossl;
  if(!(g->ext_bc = X509V3_EXT_i2d(NID_basic_constraints, 1, bc)))
    goto ossl;

  /* bits: 0 digitalSignature, 2 keyEncipherment, 5 keyCertSign, 6 cRLSign */
  static const int ku_ca[] = {0, 5, 6}, ku_rsa[] = {0, 2}, ku_ec[] = {0};
  if(g->ca) {
    g->ext_ku_rsa = ku_ext(ku_ca, 3);
    g->ext_ku_other = ku_ext(ku_ca, 3);
  }
  else {
    g->ext_ku_rsa = ku_ext(ku_rsa, 2);
    g->ext_ku_other = ku_ext(ku_ec, 1);
    eku = sk_ASN1_OBJECT_new_null();
    if(!eku || !sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) ||
       !sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth)) ||
       !(g->ext_eku = X509V3_EXT_i2d(NID_ext_key_usage, 0, eku)))
      goto ossl;
  }
  if(!g->ext_ku_rsa || !g->ext_ku_other)
    goto ossl;

  g->t_nb = ASN1_TIME_set(NULL, (time_t)g->not_before);
  g->t_na = ASN1_TIME_set(NULL, (time_t)g->not_after);
  if(!g->t_nb || !g->t_na) {
    fail("validity dates out of range for X.509");
    goto out;
  }

  /* Serials: the given one, else 63 random bits (never 0, never negative,
   * room for +count). */
  g->serial = BN_new();
  if(!g->serial)
    goto ossl;
  if(g->serial_s) {
    const char *s = g->serial_s;
    bool hex = !strncasecmp(s, "0x", 2);
    int n = hex ? BN_hex2bn(&g->serial, s + 2) : BN_dec2bn(&g->serial, s);
    if(n <= 0 || (size_t)n != strlen(s) - (hex ? 2 : 0) ||
       BN_is_negative(g->serial)) {
      fail("--serial: '%s' is not a decimal or 0xHEX number", s);
      goto out;
    }
  }
  else {
    uint64_t r;
    if(g->seeded) {
      g->rng = g->seed ^ 0x5e71a1ULL; /* not the split's sequence */
      r = rng_next(g);
    }
    else if(RAND_bytes((unsigned char *)&r, sizeof r) != 1)
      goto ossl;
    r = (r >> 2) | (1ULL << 61);
    if(!BN_set_word(g->serial, r))
      goto ossl;
  }
  rc = 0;
  goto out;
ossl:
  fail_ssl("setting up extensions");
out:
  BASIC_CONSTRAINTS_free(bc);
  sk_ASN1_OBJECT_free(eku); /* nid2obj objects are static */
  return rc;
}

static int add_sans(const gen *g, X509 *x, unsigned long idx, const char *cn)
{
  int rc = -1;
  GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
  char buf[1024];
  if(!gens)
    return fail("out of memory");
  for(size_t i = 0; i < g->n_sans + g->san_count; i++) {
    int type = GEN_DNS;
    if(i < g->n_sans) {
      type = g->sans[i].type;
      if(expand(g->sans[i].value, idx, buf, sizeof buf))
        goto out;
    }
    else if(snprintf(buf, sizeof buf, "s%zu.%s", i - g->n_sans + 1, cn) >=
            (int)sizeof buf) {
      fail("SAN for CN '%s' is too long", cn);
      goto out;
    }
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_STRING *v = NULL;
    if(!gn)
      goto ossl;
    if(type == GEN_IPADD) {
      v = a2i_IPADDRESS(buf);
      if(!v) {
        GENERAL_NAME_free(gn);
        ERR_clear_error();
        fail("--san: '%s' is not an IPv4 or IPv6 address", buf);
        goto out;
      }
    }
    else if(!(v = ASN1_IA5STRING_new()) ||
            !ASN1_STRING_set(v, buf, (int)strlen(buf))) {
      ASN1_STRING_free(v);
      GENERAL_NAME_free(gn);
      goto ossl;
    }
    GENERAL_NAME_set0_value(gn, type, v);
    if(!sk_GENERAL_NAME_push(gens, gn)) {
      GENERAL_NAME_free(gn);
      goto ossl;
    }
  }
  if(!X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT))
    goto ossl;
  rc = 0;
  goto out;
ossl:
  fail_ssl("subjectAltName");
out:
  GENERAL_NAMES_free(gens);
  return rc;
}

/* Build and sign certificate number idx (from 1) into *out. */
static int make_cert(gen *g, unsigned long idx, X509 **out /* OUT */)
{
  int rc = -1;
  pool_key *k = &g->keys[(idx - 1) % g->n_keys];
  X509 *x = X509_new();
  X509_NAME *name = X509_NAME_new();
  ASN1_INTEGER *serial = NULL;
  char cn[1024];

  if(!x || !name)
    goto ossl;
  if(expand(g->cn_tmpl, idx, cn, sizeof cn))
    goto out;
  if((g->org &&
      !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                  (const unsigned char *)g->org, -1, -1, 0)) ||
     (g->ou &&
      !X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
                                  (const unsigned char *)g->ou, -1, -1, 0)) ||
     !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 (const unsigned char *)cn, -1, -1, 0)) {
    fail_ssl("subject name");
    fail("bad subject for CN '%s' (a CN is at most 64 characters)", cn);
    goto out;
  }
  if(idx > 1 && !BN_add_word(g->serial, 1))
    goto ossl;
  if(!(serial = BN_to_ASN1_INTEGER(g->serial, NULL)))
    goto ossl;

  if(!X509_set_version(x, X509_VERSION_3) ||
     !X509_set_serialNumber(x, serial) || !X509_set_subject_name(x, name) ||
     !X509_set_issuer_name(x, g->issuer ? X509_get_subject_name(g->issuer)
                                        : name) ||
     !X509_set1_notBefore(x, g->t_nb) || !X509_set1_notAfter(x, g->t_na) ||
     set_pubkey(x, k))
    goto ossl;
  if(!X509_add_ext(x, g->ext_bc, -1) ||
     !X509_add_ext(x, k->rsa ? g->ext_ku_rsa : g->ext_ku_other, -1) ||
     (g->ext_eku && !X509_add_ext(x, g->ext_eku, -1)) ||
     !X509_add_ext(x, k->ext_ski, -1) ||
     !X509_add_ext(x, g->issuer ? g->ext_aki_issuer : k->ext_aki_self, -1))
    goto ossl;
  if(g->n_sans + g->san_count && add_sans(g, x, idx, cn))
    goto out;
  if(!X509_sign(x, g->issuer_key ? g->issuer_key : k->pkey, g->md))
    goto ossl;
  *out = x;
  x = NULL;
  rc = 0;
  goto out;
ossl:
  fail_ssl("building certificate");
out:
  X509_free(x);
  X509_NAME_free(name);
  ASN1_INTEGER_free(serial);
  return rc;
}

static int write_certs(gen *g, BIO *b, const char *path, unsigned long first,
                       unsigned long n)
{
  for(unsigned long i = first; i < first + n; i++) {
    X509 *x = NULL;
    if(make_cert(g, i, &x))
      return -1;
    int ok = g->der ? i2d_X509_bio(b, x) : PEM_write_bio_X509(b, x);
    X509_free(x);
    if(!ok) {
      fail_ssl(path);
      return fail("%s: write failed", path);
    }
  }
  return 0;
}

static int open_out(const char *path, BIO **out /* OUT */)
{
  *out = path ? BIO_new_file(path, "wb") : BIO_new_fp(stdout, BIO_NOCLOSE);
  if(!*out) {
    ERR_clear_error();
    return fail("%s: %s", path ? path : "stdout", strerror(errno));
  }
  return 0;
}

static int close_out(BIO *b, const char *path)
{
  int rc = 0;
  if(BIO_flush(b) != 1 || (!path && ferror(stdout)))
    rc = fail("%s: write failed", path ? path : "stdout");
  BIO_free(b);
  return rc;
}

static int mkdir_p(char *path)
{
  for(char *p = path + 1;; p++) {
    if(*p != '/' && *p)
      continue;
    char save = *p;
    *p = 0;
    int r = mkdir(path, 0755);
    *p = save;
    if(r && errno != EEXIST)
      return fail("%s: %s", path, strerror(errno));
    if(!save)
      return 0;
  }
}

/* --split: file sizes first (so the directory depth is known), then the
 * files. Directory k at each level holds files/subdirectories
 * [k*1000, k*1000+999] of the level below. */
static int split_out(gen *g)
{
  int rc = -1;
  unsigned long *sizes = NULL, n_files = 0, left = g->count;
  char path[PATH_MAX], dir[PATH_MAX] = "";
  size_t span = g->split_max - g->split_min + 1;

  g->rng = g->seed;
  sizes = malloc(g->count * sizeof *sizes);
  if(!sizes)
    return fail("out of memory");
  while(left) {
    unsigned long s = g->split_min + (unsigned long)(rng_next(g) % span);
    if(s > left)
      s = left;
    sizes[n_files++] = s;
    left -= s;
  }
  int levels = 0;
  for(unsigned long cap = MAX_FILES_PER_DIR; n_files > cap;
      cap *= MAX_FILES_PER_DIR)
    levels++;

  unsigned long idx = 1;
  for(unsigned long f = 0; f < n_files; f++) {
    int o = snprintf(path, sizeof path, "%s", g->outdir);
    unsigned long div = 1;
    for(int l = 0; l < levels; l++)
      div *= MAX_FILES_PER_DIR;
    for(int l = levels; l > 0; l--) {
      o += snprintf(path + o, sizeof path - (size_t)o, "/%03lu",
                    (f / div) % MAX_FILES_PER_DIR);
      div /= MAX_FILES_PER_DIR;
    }
    if(o >= (int)sizeof path - 32) {
      fail("--outdir: path too long");
      goto out;
    }
    if(strcmp(path, dir)) {
      memcpy(dir, path, (size_t)o + 1);
      if(mkdir_p(path))
        goto out;
    }
    snprintf(path + o, sizeof path - (size_t)o, "/bundle-%05lu.pem", f + 1);
    BIO *b;
    if(open_out(path, &b))
      goto out;
    int w = write_certs(g, b, path, idx, sizes[f]);
    if(close_out(b, path) || w)
      goto out;
    idx += sizes[f];
  }
  rc = 0;
out:
  free(sizes);
  return rc;
}

static int write_keys(const gen *g)
{
  BIO *b = BIO_new_file(g->key_out, "wb");
  int rc = 0;
  if(!b) {
    ERR_clear_error();
    return fail("%s: %s", g->key_out, strerror(errno));
  }
  if(chmod(g->key_out, 0600))
    rc = fail("%s: %s", g->key_out, strerror(errno));
  for(size_t i = 0; !rc && i < g->n_keys; i++)
    if(!PEM_write_bio_PrivateKey(b, g->keys[i].pkey, NULL, NULL, 0, NULL,
                                 NULL)) {
      fail_ssl(g->key_out);
      rc = -1;
    }
  if(BIO_flush(b) != 1 && !rc)
    rc = fail("%s: write failed", g->key_out);
  BIO_free(b);
  return rc;
}

static void cleanup(gen *g)
{
  for(size_t i = 0; i < g->n_keys; i++) {
    EVP_PKEY_free(g->keys[i].pkey);
    X509_PUBKEY_free(g->keys[i].xpk);
    ASN1_OCTET_STRING_free(g->keys[i].ski);
    X509_EXTENSION_free(g->keys[i].ext_ski);
    X509_EXTENSION_free(g->keys[i].ext_aki_self);
  }
  free(g->keys);
  free(g->sans);
  X509_free(g->issuer);
  EVP_PKEY_free(g->issuer_key);
  X509_EXTENSION_free(g->ext_aki_issuer);
  X509_EXTENSION_free(g->ext_bc);
  X509_EXTENSION_free(g->ext_ku_rsa);
  X509_EXTENSION_free(g->ext_ku_other);
  X509_EXTENSION_free(g->ext_eku);
  ASN1_TIME_free(g->t_nb);
  ASN1_TIME_free(g->t_na);
  BN_free(g->serial);
}

int main(int argc, char **argv)
{
  gen g = {
      .kind = KEY_EC,
      .curve = "P-256",
      .cn_tmpl = "cert-%d.example.test",
      .pathlen = -1,
      .count = 1,
  };
  int rc = 2;
  BIO *b = NULL;

  if(parse_args(&g, argc, argv) || setup(&g))
    goto out;
  if(g.key_out && write_keys(&g))
    goto out;
  if(g.split) {
    if(split_out(&g))
      goto out;
  }
  else {
    if(open_out(g.out_path, &b))
      goto out;
    int w = write_certs(&g, b, g.out_path ? g.out_path : "stdout", 1, g.count);
    int c = close_out(b, g.out_path);
    if(w || c)
      goto out;
  }
  rc = 0;
out:
  cleanup(&g);
  return rc;
}
