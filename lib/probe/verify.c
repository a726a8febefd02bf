/*
 * Chain analysis for probes: trust, problems, RFC 6125 hostname matching
 * and the stapled OCSP response, cached per chain.
 *
 * Why a cache: a sweep sees the same few chains on thousands of endpoints,
 * and OpenSSL path building with signature checks costs far more than the
 * rest of a probe's bookkeeping. What a chain means structurally (path,
 * signatures, which issuers are missing) does not depend on the clock, so
 * a miss verifies with X509_V_FLAG_NO_CHECK_TIME and keeps the validity
 * periods; every call then applies the time checks for its own `now`, the
 * hostname check and the OCSP freshness, which are cheap. One caveat: with
 * the clock out of path building, OpenSSL cannot prefer a time-valid
 * issuer over an expired one with the same name; with trusted-first path
 * building (the default) that only matters for untrusted alternatives.
 *
 * Across runs, an entry (the structural verdict above, never the OCSP
 * staple, which is per response) can be kept by the caller through the
 * opts' cache_get/cache_put hooks: serialized in a versioned blob that
 * ends with a SHA-256 over the trust identity, the chain key and the
 * body, and fully validated on load. The trust identity hashes what the
 * verdict depends on (the trust store's contents, the intermediates file,
 * the OpenSSL version), so a changed trust store never reuses a verdict.
 *
 * A verifier is not thread-safe: one per event loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "certhub/cert.h"
#include "certhub/time.h"
#include "probe_int.h"

/* Cache caps; overridable at compile time for eviction experiments. */
#ifndef CACHE_MAX_ENTRIES
#define CACHE_MAX_ENTRIES 65536u
#endif
#ifndef CACHE_MAX_BYTES
#define CACHE_MAX_BYTES (256u << 20) /* SAN-heavy leaves cost more */
#endif
#define CACHE_BUCKETS 65536u /* power of two */
#define MAX_CERTS 64         /* presented certificates analysed */
#define MAX_POOL 100000      /* extra intermediates accepted */
#define MAX_ERRS 32          /* verify errors kept per run */
#define CA_MEMO_MAX 2048     /* decoded CA certificates kept */
#define CA_MEMO_BUCKETS 1024 /* power of two */
#define OCSP_SKEW 300        /* seconds of clock skew allowed */
/* Without nextUpdate a response claims nothing about freshness; the CA/B
 * Baseline Requirements cap OCSP validity at 10 days, use 7 as stale. */
#define OCSP_MAX_AGE (7 * 86400)
/* Persistent entries: format version (bump when analyse() changes what
 * it concludes), size cap, and the bounds a blob is checked against. */
#define BLOB_MAGIC "chvc"
#define BLOB_VERSION 1
#define BLOB_MAX ((size_t)1 << 20)
#define BLOB_MAX_PATH 256
#define TRUST_DIR_MAX 100000 /* directory entries hashed per directory */

/* The time-independent part of a parsed staple. */
typedef struct ocsp_info {
  certhub_ocsp_status status; /* GOOD, REVOKED, UNKNOWN or INVALID */
  int64_t this_update;
  int64_t next_update; /* 0 when absent */
} ocsp_info;

typedef struct validity {
  int64_t not_before, not_after;
} validity;

typedef struct san_ip {
  uint8_t len; /* 4 or 16 */
  uint8_t b[16];
} san_ip;

/* One cached chain. Everything is owned by the entry. */
typedef struct entry {
  uint8_t key[32];
  struct entry *hnext;       /* bucket chain */
  struct entry *prev, *next; /* LRU list, most recent first */
  size_t bytes;

  bool trusted;       /* a path to an anchor, the clock aside */
  unsigned problems;  /* CERTHUB_CHAIN_* except the time-dependent bits */
  char err_text[128]; /* first structural error, "" when none */
  int err_depth;
  bool err_in_sigs; /* raised while checking signatures (see vtext) */

  int64_t earliest_not_after; /* over the presented certificates */
  int earliest_index;
  validity *path; /* the built path, depth 0 = leaf */
  size_t n_path;

  /* The leaf's identities: DNS SANs lowercased without a trailing dot,
   * each NUL-terminated in one block; IP SANs as bytes; the CN only when
   * there is neither (the RFC 6125 fallback). */
  char *dns;
  size_t n_dns;
  san_ip *ips;
  size_t n_ips;
  char *cn;

  uint8_t *issuer_der; /* path[1] (for OCSP), NULL when there is none */
  size_t issuer_len;

  bool have_ocsp; /* the last staple seen with this chain */
  uint8_t ocsp_key[32];
  ocsp_info ocsp;
} entry;

/* A decoded certificate the servers sent after their leaf. A few hundred
 * intermediates serve most of the web, and d2i_X509 (key decoding through
 * the OpenSSL 3 providers) was half the cost of a miss, so they are
 * decoded once. */
typedef struct ca_memo {
  uint8_t key[32]; /* SHA-256 of the DER */
  X509 *x;
  struct ca_memo *next;
} ca_memo;

struct ch_verifier {
  X509_STORE *store;
  STACK_OF(X509) * pool; /* extra intermediates, never trusted */
  EVP_MD *sha256;
  EVP_MD_CTX *md;
  entry **buckets;
  entry *head, *tail;
  size_t n_entries, bytes;
  uint64_t hits, misses;
  ca_memo *memo[CA_MEMO_BUCKETS];
  size_t n_memo;
  /* Persistent cache hooks (certhub_probe_opts), NULL when none. */
  bool (*cache_get)(void *, const uint8_t *, const uint8_t *,
                    const uint8_t **, size_t *);
  void (*cache_put)(void *, const uint8_t *, const uint8_t *,
                    const uint8_t *, size_t);
  void *cache_arg;
  uint8_t trust_id[32];
};

/* Errors recorded by the verify callback. */
typedef struct vrec {
  int n;
  int code[MAX_ERRS];
  int depth[MAX_ERRS];
} vrec;

static void set_errmsg(char **errmsg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_errmsg(char **errmsg, const char *fmt, ...)
{
  char buf[512];
  va_list ap;
  if(!errmsg)
    return;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  *errmsg = strdup(buf);
}

/* Text of the latest OpenSSL error, for messages; clears the queue. */
static const char *ossl_reason(char *buf, size_t n)
{
  unsigned long e = ERR_peek_last_error();
  if(e)
    ERR_error_string_n(e, buf, n);
  else
    snprintf(buf, n, "unknown error");
  ERR_clear_error();
  return buf;
}

static bool asn1_to_unix(const ASN1_TIME *t, int64_t *out)
{
  struct tm tm;
  if(!t || !ASN1_TIME_to_tm(t, &tm))
    return false;
  *out =
      certhub_days_from_civil((int64_t)tm.tm_year + 1900,
                              (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday) *
          86400 +
      (int64_t)tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
  return true;
}

/* ---- setup ------------------------------------------------------------- */

static ch_err load_pool(const char *path, STACK_OF(X509) * pool, char **errmsg)
{
  char why[256];
  ch_err rc = CH_OK;
  BIO *bio = BIO_new_file(path, "r");
  if(!bio) {
    set_errmsg(errmsg, "intermediates file '%s': cannot open: %s", path,
               ossl_reason(why, sizeof(why)));
    return CH_ERR_IO;
  }
  for(;;) {
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if(!x)
      break;
    if(sk_X509_num(pool) >= MAX_POOL) {
      X509_free(x);
      set_errmsg(errmsg, "intermediates file '%s': more than %d certificates",
                 path, MAX_POOL);
      rc = CH_ERR_TOOBIG;
      goto out;
    }
    if(!sk_X509_push(pool, x)) {
      X509_free(x);
      rc = CH_ERR_NOMEM;
      goto out;
    }
  }
  /* The loop ends with "no start line" at the end of the file; anything
   * else is a broken block. */
  unsigned long e = ERR_peek_last_error();
  if(e && ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
    set_errmsg(errmsg, "intermediates file '%s': bad PEM certificate: %s",
               path, ossl_reason(why, sizeof(why)));
    rc = CH_ERR_PARSE;
    goto out;
  }
  ERR_clear_error();
  if(sk_X509_num(pool) == 0) {
    set_errmsg(errmsg, "intermediates file '%s' holds no PEM certificates",
               path);
    rc = CH_ERR_PARSE;
  }
out:
  BIO_free(bio);
  return rc;
}

ch_err ch_verifier_new(const char *ca_file, const char *extra_intermediates,
                       struct ch_verifier **out, char **errmsg)
{
  char why[256];
  ch_err rc = CH_OK;
  struct ch_verifier *v = calloc(1, sizeof(*v));
  *out = NULL;
  if(errmsg)
    *errmsg = NULL;
  if(!v)
    return CH_ERR_NOMEM;
  v->store = X509_STORE_new();
  v->pool = sk_X509_new_null();
  v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  v->md = EVP_MD_CTX_new();
  v->buckets = calloc(CACHE_BUCKETS, sizeof(*v->buckets));
  if(!v->store || !v->pool || !v->sha256 || !v->md || !v->buckets) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(ca_file) {
    if(!X509_STORE_load_file(v->store, ca_file)) {
      set_errmsg(errmsg, "CA file '%s': cannot load certificates: %s", ca_file,
                 ossl_reason(why, sizeof(why)));
      rc = CH_ERR_CONFIG;
      goto out;
    }
  }
  else if(!X509_STORE_set_default_paths(v->store)) {
    set_errmsg(errmsg, "system trust store: cannot load: %s",
               ossl_reason(why, sizeof(why)));
    rc = CH_ERR_CONFIG;
    goto out;
  }
  if(extra_intermediates) {
    rc = load_pool(extra_intermediates, v->pool, errmsg);
    if(rc)
      goto out;
  }
out:
  if(rc) {
    ch_verifier_free(v);
    return rc;
  }
  *out = v;
  return CH_OK;
}

static void memo_clear(struct ch_verifier *v)
{
  for(size_t b = 0; b < CA_MEMO_BUCKETS; b++) {
    for(ca_memo *m = v->memo[b]; m;) {
      ca_memo *next = m->next;
      X509_free(m->x);
      free(m);
      m = next;
    }
    v->memo[b] = NULL;
  }
  v->n_memo = 0;
}

static void entry_free(entry *e)
{
  if(!e)
    return;
  free(e->path);
  free(e->dns);
  free(e->ips);
  free(e->cn);
  free(e->issuer_der);
  free(e);
}

void ch_verifier_free(struct ch_verifier *v)
{
  if(!v)
    return;
  for(entry *e = v->head; e;) {
    entry *next = e->next;
    entry_free(e);
    e = next;
  }
  memo_clear(v);
  free(v->buckets);
  EVP_MD_CTX_free(v->md);
  EVP_MD_free(v->sha256);
  sk_X509_pop_free(v->pool, X509_free);
  X509_STORE_free(v->store);
  free(v);
}

void ch_verifier_stats(const struct ch_verifier *v, uint64_t *hits,
                       uint64_t *misses)
{
  *hits = v ? v->hits : 0;
  *misses = v ? v->misses : 0;
}

/* ---- the cache ------------------------------------------------------- */

/* SHA-256 over (8-byte big-endian length, DER) of each certificate, so
 * two chains cannot collide by moving bytes between certificates. */
static ch_err chain_key(struct ch_verifier *v, const uint8_t *const *der,
                        const size_t *len, size_t n, uint8_t key[32])
{
  if(!EVP_DigestInit_ex(v->md, v->sha256, NULL))
    return CH_ERR_INTERNAL;
  for(size_t i = 0; i < n; i++) {
    uint8_t pre[8];
    uint64_t l = len[i];
    for(int b = 0; b < 8; b++)
      pre[b] = (uint8_t)(l >> (56 - 8 * b));
    if(!EVP_DigestUpdate(v->md, pre, sizeof(pre)) ||
       !EVP_DigestUpdate(v->md, der[i], len[i]))
      return CH_ERR_INTERNAL;
  }
  return EVP_DigestFinal_ex(v->md, key, NULL) ? CH_OK : CH_ERR_INTERNAL;
}

static size_t bucket_of(const uint8_t key[32])
{
  size_t h;
  memcpy(&h, key, sizeof(h));
  return h & (CACHE_BUCKETS - 1);
}

static void lru_unlink(struct ch_verifier *v, entry *e)
{
  if(e->prev)
    e->prev->next = e->next;
  else
    v->head = e->next;
  if(e->next)
    e->next->prev = e->prev;
  else
    v->tail = e->prev;
  e->prev = e->next = NULL;
}

static void lru_push(struct ch_verifier *v, entry *e)
{
  e->prev = NULL;
  e->next = v->head;
  if(v->head)
    v->head->prev = e;
  v->head = e;
  if(!v->tail)
    v->tail = e;
}

static entry *cache_find(struct ch_verifier *v, const uint8_t key[32])
{
  for(entry *e = v->buckets[bucket_of(key)]; e; e = e->hnext) {
    if(!memcmp(e->key, key, 32)) {
      if(v->head != e) {
        lru_unlink(v, e);
        lru_push(v, e);
      }
      return e;
    }
  }
  return NULL;
}

static void cache_remove(struct ch_verifier *v, entry *e)
{
  entry **pp = &v->buckets[bucket_of(e->key)];
  while(*pp && *pp != e)
    pp = &(*pp)->hnext;
  if(*pp)
    *pp = e->hnext;
  lru_unlink(v, e);
  v->n_entries--;
  v->bytes -= e->bytes;
  entry_free(e);
}

static void cache_insert(struct ch_verifier *v, entry *e)
{
  size_t b = bucket_of(e->key);
  e->hnext = v->buckets[b];
  v->buckets[b] = e;
  lru_push(v, e);
  v->n_entries++;
  v->bytes += e->bytes;
  while(v->tail && v->tail != e &&
        (v->n_entries > CACHE_MAX_ENTRIES || v->bytes > CACHE_MAX_BYTES))
    cache_remove(v, v->tail);
}

/* ---- structural verification (on a miss) ------------------------------ */

/* d2i_X509 of exactly len bytes; NULL when that is not one certificate. */
static X509 *decode(const uint8_t *der, size_t len)
{
  const unsigned char *p = der;
  X509 *x;
  if(len > LONG_MAX)
    return NULL;
  x = d2i_X509(NULL, &p, (long)len);
  if(x && p != der + len) {
    X509_free(x); /* trailing bytes: not this certificate */
    x = NULL;
  }
  return x;
}

/* A new reference to the decoded CA certificate der, from the memo when
 * it was seen before. Bounded: a full memo is emptied and refilled (CA
 * certificates are few, so that is rare and cheap). */
static X509 *decode_ca(struct ch_verifier *v, const uint8_t *der, size_t len)
{
  uint8_t key[32];
  unsigned int klen = 0;
  ca_memo *m;
  size_t b;
  if(!EVP_Digest(der, len, key, &klen, v->sha256, NULL))
    return decode(der, len);
  memcpy(&b, key, sizeof(b));
  b &= CA_MEMO_BUCKETS - 1;
  for(m = v->memo[b]; m; m = m->next) {
    if(!memcmp(m->key, key, sizeof(key)))
      return X509_up_ref(m->x) ? m->x : NULL;
  }
  X509 *x = decode(der, len);
  if(!x)
    return NULL;
  if(v->n_memo >= CA_MEMO_MAX)
    memo_clear(v);
  m = malloc(sizeof(*m));
  if(m && X509_up_ref(x)) {
    memcpy(m->key, key, sizeof(key));
    m->x = x;
    m->next = v->memo[b];
    v->memo[b] = m;
    v->n_memo++;
  }
  else
    free(m);
  return x;
}

static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
  if(!ok) {
    vrec *r = X509_STORE_CTX_get_app_data(ctx);
    if(r && r->n < MAX_ERRS) {
      r->code[r->n] = X509_STORE_CTX_get_error(ctx);
      r->depth[r->n] = X509_STORE_CTX_get_error_depth(ctx);
      r->n++;
    }
  }
  return 1; /* keep going: we want every problem, not the first */
}

static bool is_issuer_err(int code)
{
  switch(code) {
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    return true;
  default:
    return false;
  }
}

static unsigned classify(int code)
{
  if(is_issuer_err(code))
    return CERTHUB_CHAIN_UNKNOWN_ISSUER;
  switch(code) {
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    return CERTHUB_CHAIN_SELF_SIGNED;
  case X509_V_ERR_CERT_SIGNATURE_FAILURE:
  case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
  case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
  case X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH:
    return CERTHUB_CHAIN_BAD_SIGNATURE;
  default:
    return CERTHUB_CHAIN_OTHER;
  }
}

/* Errors OpenSSL raises in its last pass (signatures, top down), where
 * it also checks the validity periods: a time error deeper in the path
 * than such an error would have come first. */
static bool is_sig_pass_err(int code)
{
  return classify(code) == CERTHUB_CHAIN_BAD_SIGNATURE ||
         code == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

/* Verify leaf with the given untrusted certificates, the clock ignored.
 * *chain gets the path OpenSSL built (partial when it found no anchor). */
static ch_err run_verify(struct ch_verifier *v, X509 *leaf,
                         STACK_OF(X509) * untrusted, vrec *r,
                         STACK_OF(X509) * *chain)
{
  ch_err rc = CH_OK;
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  memset(r, 0, sizeof(*r));
  *chain = NULL;
  if(!ctx || !X509_STORE_CTX_init(ctx, v->store, leaf, untrusted)) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
  X509_STORE_CTX_set_app_data(ctx, r);
  if(X509_verify_cert(ctx) < 0 && r->n == 0) {
    /* An internal failure, not a verdict on the chain. */
    r->code[0] = X509_STORE_CTX_get_error(ctx);
    r->depth[0] = 0;
    r->n = 1;
  }
  *chain = X509_STORE_CTX_get1_chain(ctx);
  if(!*chain)
    *chain = sk_X509_new_null();
  if(!*chain)
    rc = CH_ERR_NOMEM;
out:
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();
  return rc;
}

static void set_err(entry *e, const char *text, int depth, bool in_sigs)
{
  if(e->err_text[0])
    return;
  snprintf(e->err_text, sizeof(e->err_text), "%s", text);
  e->err_depth = depth;
  e->err_in_sigs = in_sigs;
}

/* Lowercase ASCII copy of s[0..n) without one trailing dot into dst
 * (room for n + 1). */
static size_t norm_namen(const char *s, size_t n, char *dst)
{
  if(n && s[n - 1] == '.')
    n--;
  for(size_t i = 0; i < n; i++) {
    char c = s[i];
    dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  dst[n] = '\0';
  return n;
}

static size_t norm_name(const char *s, char *dst)
{
  return norm_namen(s, strlen(s), dst);
}

static bool parse_ip(const char *s, san_ip *ip)
{
  if(inet_pton(AF_INET, s, ip->b) == 1) {
    ip->len = 4;
    return true;
  }
  if(inet_pton(AF_INET6, s, ip->b) == 1) {
    ip->len = 16;
    return true;
  }
  return false;
}

/* Keep the leaf's names from certhub's parse of it. */
static ch_err keep_names(entry *e, const certhub_cert *c)
{
  size_t dns_bytes = 0, n_ip = 0;
  for(size_t i = 0; i < c->n_sans; i++) {
    if(c->sans[i].type == CERTHUB_SAN_DNS)
      dns_bytes += strlen(c->sans[i].value) + 1;
    else if(c->sans[i].type == CERTHUB_SAN_IP)
      n_ip++;
  }
  if(dns_bytes) {
    char *p = e->dns = malloc(dns_bytes);
    if(!p)
      return CH_ERR_NOMEM;
    for(size_t i = 0; i < c->n_sans; i++) {
      if(c->sans[i].type == CERTHUB_SAN_DNS) {
        p += norm_name(c->sans[i].value, p) + 1;
        e->n_dns++;
      }
    }
  }
  if(n_ip) {
    e->ips = calloc(n_ip, sizeof(*e->ips));
    if(!e->ips)
      return CH_ERR_NOMEM;
    for(size_t i = 0; i < c->n_sans; i++) {
      if(c->sans[i].type == CERTHUB_SAN_IP &&
         parse_ip(c->sans[i].value, &e->ips[e->n_ips]))
        e->n_ips++;
    }
  }
  /* RFC 6125 6.4.4: the CN is a fallback only without any DNS or IP SAN
   * (counting IP SANs too, as browsers and OpenSSL do). */
  if(!dns_bytes && !n_ip && c->common_name) {
    e->cn = malloc(strlen(c->common_name) + 1);
    if(!e->cn)
      return CH_ERR_NOMEM;
    norm_name(c->common_name, e->cn);
  }
  e->bytes +=
      dns_bytes + n_ip * sizeof(san_ip) + (e->cn ? strlen(e->cn) + 1 : 0);
  return CH_OK;
}

/* The same from OpenSSL's decoding, for a leaf that certhub's stricter
 * parser refused but OpenSSL, like TLS clients, accepts. */
static ch_err keep_names_ossl(entry *e, X509 *x)
{
  ch_err rc = CH_OK;
  GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  int n = gens ? sk_GENERAL_NAME_num(gens) : 0;
  size_t dns_bytes = 0, n_ip = 0;
  for(int i = 0; i < n; i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
    if(g->type == GEN_DNS)
      dns_bytes += (size_t)ASN1_STRING_length(g->d.dNSName) + 1;
    else if(g->type == GEN_IPADD)
      n_ip++;
  }
  e->dns = dns_bytes ? malloc(dns_bytes) : NULL;
  e->ips = n_ip ? calloc(n_ip, sizeof(*e->ips)) : NULL;
  if((dns_bytes && !e->dns) || (n_ip && !e->ips)) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  char *p = e->dns;
  for(int i = 0; i < n; i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
    if(g->type == GEN_DNS) {
      const char *d = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
      size_t l = (size_t)ASN1_STRING_length(g->d.dNSName);
      if(memchr(d, '\0', l))
        continue; /* an embedded NUL never matches */
      p += norm_namen(d, l, p) + 1;
      e->n_dns++;
    }
    else if(g->type == GEN_IPADD) {
      int l = ASN1_STRING_length(g->d.iPAddress);
      if(l != 4 && l != 16)
        continue;
      e->ips[e->n_ips].len = (uint8_t)l;
      memcpy(e->ips[e->n_ips].b, ASN1_STRING_get0_data(g->d.iPAddress),
             (size_t)l);
      e->n_ips++;
    }
  }
  if(!dns_bytes && !n_ip) {
    const X509_NAME *subj = X509_get_subject_name(x);
    int at = -1, next;
    while((next = X509_NAME_get_index_by_NID(subj, NID_commonName, at)) >= 0)
      at = next;
    unsigned char *cn = NULL;
    int l = at >= 0
                ? ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(
                                               X509_NAME_get_entry(subj, at)))
                : -1;
    if(l > 0 && !memchr(cn, '\0', (size_t)l)) {
      e->cn = malloc((size_t)l + 1);
      if(e->cn)
        norm_namen((const char *)cn, (size_t)l, e->cn);
      else
        rc = CH_ERR_NOMEM;
    }
    OPENSSL_free(cn);
  }
  e->bytes +=
      dns_bytes + n_ip * sizeof(san_ip) + (e->cn ? strlen(e->cn) + 1 : 0);
out:
  GENERAL_NAMES_free(gens);
  return rc;
}

/* Whether x was presented (OpenSSL may have taken an equal copy from the
 * trust store instead: trusted-first path building). */
static bool presented(X509 *const *xs, size_t n, const X509 *x, size_t *at)
{
  for(size_t i = 0; i < n; i++) {
    if(xs[i] && (xs[i] == x || !X509_cmp(xs[i], x))) {
      *at = i;
      return true;
    }
  }
  return false;
}

/* WRONG_ORDER: some presented certificate's issuer is in the set, but not
 * right after it. */
static bool wrong_order(X509 *const *xs, size_t n)
{
  for(size_t i = 0; i < n; i++) {
    if(!xs[i])
      continue;
    for(size_t j = 0; j < n; j++) {
      if(j == i || !xs[j] || X509_check_issued(xs[j], xs[i]) != X509_V_OK)
        continue;
      if(j != i + 1)
        return true;
      break;
    }
  }
  return false;
}

static ch_err analyse(struct ch_verifier *v, const uint8_t *const *der,
                      const size_t *len, size_t n, entry *e)
{
  ch_err rc = CH_OK;
  X509 *xs[MAX_CERTS] = {0};
  certhub_cert *cs[MAX_CERTS] = {0};
  STACK_OF(X509) *untrusted = sk_X509_new_null();
  STACK_OF(X509) *chain = NULL, *chain2 = NULL;
  vrec r, r2;
  char text[128];

  e->bytes = sizeof(*e);
  e->earliest_index = -1;
  if(!untrusted) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(n > MAX_CERTS) {
    snprintf(text, sizeof(text),
             "chain of %zu certificates; only the first %d were analysed", n,
             MAX_CERTS);
    set_err(e, text, 0, false);
    e->problems |= CERTHUB_CHAIN_OTHER;
    n = MAX_CERTS;
  }
  for(size_t i = 0; i < n; i++) {
    const char *detail = NULL;
    xs[i] = i == 0 ? decode(der[i], len[i]) : decode_ca(v, der[i], len[i]);
    rc = certhub_cert_parse_der(der[i], len[i], &cs[i], &detail);
    if(rc == CH_ERR_NOMEM)
      goto out;
    rc = CH_OK;
    /* Only what OpenSSL cannot decode is a problem: a TLS client would
     * fail on it too. certhub's stricter parser is a fast path. */
    if(!xs[i]) {
      snprintf(text, sizeof(text),
               "certificate %zu of the chain could not be parsed%s%s", i,
               detail ? ": " : "", detail ? detail : "");
      set_err(e, text, (int)i, false);
      e->problems |= CERTHUB_CHAIN_OTHER;
    }
    int64_t na;
    if(cs[i])
      na = cs[i]->not_after;
    else if(!xs[i] || !asn1_to_unix(X509_get0_notAfter(xs[i]), &na))
      continue;
    if(e->earliest_index < 0 || na < e->earliest_not_after) {
      e->earliest_not_after = na;
      e->earliest_index = (int)i;
    }
    if(i > 0 && xs[i] && !sk_X509_push(untrusted, xs[i])) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
  }
  if(e->earliest_index < 0)
    e->earliest_index = 0;
  if(cs[0])
    rc = keep_names(e, cs[0]);
  else if(xs[0])
    rc = keep_names_ossl(e, xs[0]);
  if(rc)
    goto out;
  if(!xs[0])
    goto out; /* nothing to verify; OTHER is set */

  rc = run_verify(v, xs[0], untrusted, &r, &chain);
  if(rc)
    goto out;
  bool issuer_missing = false;
  for(int i = 0; i < r.n; i++) {
    e->problems |= classify(r.code[i]);
    issuer_missing |= is_issuer_err(r.code[i]);
    set_err(e, X509_verify_cert_error_string(r.code[i]), r.depth[i],
            is_sig_pass_err(r.code[i]));
  }
  e->trusted = r.n == 0 && !(e->problems & CERTHUB_CHAIN_OTHER);

  /* Would the certificates certhub knows complete the path? Then the
   * server left an intermediate out; the path it completes is the one
   * whose dates matter. */
  if(issuer_missing && sk_X509_num(v->pool) > 0) {
    for(int i = 0; i < sk_X509_num(v->pool); i++) {
      if(!sk_X509_push(untrusted, sk_X509_value(v->pool, i))) {
        rc = CH_ERR_NOMEM;
        goto out;
      }
    }
    rc = run_verify(v, xs[0], untrusted, &r2, &chain2);
    if(rc)
      goto out;
    bool completes = true;
    for(int i = 0; i < r2.n; i++)
      completes &= !is_issuer_err(r2.code[i]);
    if(completes) {
      e->problems &= ~CERTHUB_CHAIN_UNKNOWN_ISSUER;
      e->problems |= CERTHUB_CHAIN_MISSING_INTERMEDIATE;
      for(int i = 0; i < r2.n; i++)
        e->problems |= classify(r2.code[i]);
      sk_X509_pop_free(chain, X509_free);
      chain = chain2;
      chain2 = NULL;
    }
  }
  else if(e->trusted) {
    /* The trust store may hold an intermediate the server should have
     * sent: any certificate strictly between the leaf and the anchor that
     * was not presented. */
    int m = sk_X509_num(chain);
    for(int i = 1; i + 1 < m; i++) {
      size_t at;
      if(!presented(xs, n, sk_X509_value(chain, i), &at))
        e->problems |= CERTHUB_CHAIN_MISSING_INTERMEDIATE;
    }
  }
  if(wrong_order(xs, n))
    e->problems |= CERTHUB_CHAIN_WRONG_ORDER;

  /* Validity periods of the path, from certhub's parse where we have it. */
  int m = sk_X509_num(chain);
  if(m > 0) {
    e->path = calloc((size_t)m, sizeof(*e->path));
    if(!e->path) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
    e->bytes += (size_t)m * sizeof(*e->path);
  }
  for(int i = 0; i < m; i++) {
    X509 *x = sk_X509_value(chain, i);
    validity *vd = &e->path[e->n_path];
    size_t at;
    if(presented(xs, n, x, &at) && cs[at]) {
      vd->not_before = cs[at]->not_before;
      vd->not_after = cs[at]->not_after;
    }
    else if(!asn1_to_unix(X509_get0_notBefore(x), &vd->not_before) ||
            !asn1_to_unix(X509_get0_notAfter(x), &vd->not_after))
      continue;
    e->n_path++;
  }
  if(m > 1) {
    int l = i2d_X509(sk_X509_value(chain, 1), &e->issuer_der);
    if(l <= 0) {
      e->issuer_der = NULL;
      rc = CH_ERR_NOMEM;
      goto out;
    }
    e->issuer_len = (size_t)l;
    e->bytes += e->issuer_len;
  }
out:
  sk_X509_pop_free(chain, X509_free);
  sk_X509_pop_free(chain2, X509_free);
  sk_X509_free(untrusted); /* borrowed members */
  for(size_t i = 0; i < n; i++) {
    X509_free(xs[i]);
    certhub_cert_free(cs[i]);
  }
  ERR_clear_error();
  return rc;
}

/* ---- OCSP ------------------------------------------------------------- */

/* The response's signer must be the leaf's issuer or a responder the
 * issuer delegated to (id-kp-OCSPSigning, issued by it). Trust in the
 * issuer itself is the chain's verdict, reported apart, so the signature
 * is checked against that certificate rather than re-verified up to an
 * anchor (OCSP_TRUSTOTHER). */
static bool ocsp_signed_ok(struct ch_verifier *v, OCSP_BASICRESP *bs,
                           X509 *issuer)
{
  bool ok = false;
  X509 *signer = NULL;
  STACK_OF(X509) *sk = sk_X509_new_null();
  if(!sk || !sk_X509_push(sk, issuer))
    goto out;
  if(!OCSP_resp_get0_signer(bs, &signer, sk) || !signer)
    goto out;
  if(X509_cmp(signer, issuer) != 0) {
    EVP_PKEY *ikey = X509_get0_pubkey(issuer);
    if(X509_check_issued(issuer, signer) != X509_V_OK || !ikey ||
       X509_verify(signer, ikey) != 1 ||
       !(X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) ||
       !(X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN))
      goto out;
    sk_X509_set(sk, 0, signer);
  }
  ok = OCSP_basic_verify(bs, sk, v->store, OCSP_NOINTERN | OCSP_TRUSTOTHER) ==
       1;
out:
  sk_X509_free(sk); /* borrowed members */
  return ok;
}

static void ocsp_parse(struct ch_verifier *v, const uint8_t *der, size_t len,
                       const uint8_t *leaf_der, size_t leaf_len,
                       const entry *e, ocsp_info *oi)
{
  const unsigned char *p = der;
  OCSP_RESPONSE *resp = NULL;
  OCSP_BASICRESP *bs = NULL;
  OCSP_SINGLERESP *single = NULL;
  X509 *leaf = NULL, *issuer = NULL;
  memset(oi, 0, sizeof(*oi));
  oi->status = CERTHUB_OCSP_INVALID;

  if(len > LONG_MAX || !e->issuer_der)
    goto out;
  resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
  if(!resp || p != der + len ||
     OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL)
    goto out;
  bs = OCSP_response_get1_basic(resp);
  leaf = decode(leaf_der, leaf_len);
  issuer = decode_ca(v, e->issuer_der, e->issuer_len);
  if(!bs || !leaf || !issuer)
    goto out;
  /* The single response about the leaf, in whatever hash its CertID
   * uses. */
  for(int i = 0; i < OCSP_resp_count(bs) && !single; i++) {
    OCSP_SINGLERESP *s = OCSP_resp_get0(bs, i);
    ASN1_OBJECT *alg = NULL;
    OCSP_CERTID *want;
    const EVP_MD *md;
    if(!OCSP_id_get0_info(NULL, &alg, NULL, NULL,
                          (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(s)) ||
       !(md = EVP_get_digestbyobj(alg)))
      continue;
    want = OCSP_cert_to_id(md, leaf, issuer);
    if(want && !OCSP_id_cmp(want, OCSP_SINGLERESP_get0_id(s)))
      single = s;
    OCSP_CERTID_free(want);
  }
  if(!single || !ocsp_signed_ok(v, bs, issuer))
    goto out;
  int reason;
  ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
  int st = OCSP_single_get0_status(single, &reason, &rev, &thisupd, &nextupd);
  if(!asn1_to_unix(thisupd, &oi->this_update) ||
     (nextupd && !asn1_to_unix(nextupd, &oi->next_update)))
    goto out;
  switch(st) {
  case V_OCSP_CERTSTATUS_GOOD:
    oi->status = CERTHUB_OCSP_GOOD;
    break;
  case V_OCSP_CERTSTATUS_REVOKED:
    oi->status = CERTHUB_OCSP_REVOKED;
    break;
  case V_OCSP_CERTSTATUS_UNKNOWN:
    oi->status = CERTHUB_OCSP_UNKNOWN;
    break;
  default:
    break;
  }
out:
  X509_free(leaf);
  X509_free(issuer);
  OCSP_BASICRESP_free(bs);
  OCSP_RESPONSE_free(resp);
  ERR_clear_error();
}

/* ---- hostname (RFC 6125) --------------------------------------------- */

/* pattern: a normalized DNS SAN; name: the normalized reference name.
 * A wildcard is honoured only as the whole left-most label followed by at
 * least two labels ("*.example.com"); it stands for exactly one non-empty
 * label. Partial wildcards ("f*.example.com", "*x.example.com") match
 * nothing: RFC 6125 6.4.3 allows clients to refuse them, the CA/B Forum
 * forbids their issuance and browsers reject them. */
static bool dns_match(const char *pattern, const char *name)
{
  if(pattern[0] != '*')
    return !strchr(pattern, '*') && !strcmp(pattern, name);
  if(pattern[1] != '.' || strchr(pattern + 1, '*'))
    return false;
  const char *rest = pattern + 2; /* after "*." */
  const char *dot = strchr(rest, '.');
  if(!dot || dot == rest || !dot[1])
    return false; /* "*.com": fewer than two labels after the wildcard */
  const char *name_rest = strchr(name, '.');
  if(!name_rest || name_rest == name)
    return false;
  return !strcmp(name_rest + 1, rest);
}

static bool host_match(const entry *e, const char *name)
{
  char buf[256];
  san_ip ip;
  size_t n = strlen(name);
  /* An address literal, bracketed or not, matches iPAddress SANs only,
   * byte for byte, never a DNS SAN or the CN. */
  if(n >= 2 && n < sizeof(buf) && name[0] == '[' && name[n - 1] == ']') {
    memcpy(buf, name + 1, n - 2);
    buf[n - 2] = '\0';
    if(!parse_ip(buf, &ip))
      return false;
  }
  else if(!parse_ip(name, &ip))
    ip.len = 0;
  if(ip.len) {
    for(size_t i = 0; i < e->n_ips; i++) {
      if(e->ips[i].len == ip.len && !memcmp(e->ips[i].b, ip.b, ip.len))
        return true;
    }
    return false;
  }
  /* DNS names: ASCII only (IDNs arrive as A-labels), no wildcard of
   * their own, at most 253 characters plus a trailing dot. */
  if(n == 0 || n >= sizeof(buf))
    return false;
  for(size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    if(c >= 0x80 || c <= 0x20 || c == '*')
      return false;
  }
  if(!norm_name(name, buf))
    return false;
  const char *p = e->dns;
  for(size_t i = 0; i < e->n_dns; i++) {
    if(dns_match(p, buf))
      return true;
    p += strlen(p) + 1;
  }
  return e->cn && dns_match(e->cn, buf);
}

/* ---- persistent entries ------------------------------------------------ */

/* Little-endian writer into a bounded ch_buf (ch_buf frees itself on
 * failure, so only the first error matters). */
static void put_u8(ch_buf *b, ch_err *rc, uint8_t x)
{
  if(!*rc)
    *rc = ch_buf_add(b, &x, 1);
}

static void put_u64(ch_buf *b, ch_err *rc, uint64_t x)
{
  uint8_t t[8];
  for(int i = 0; i < 8; i++)
    t[i] = (uint8_t)(x >> (8 * i));
  if(!*rc)
    *rc = ch_buf_add(b, t, sizeof(t));
}

static void put_u32(ch_buf *b, ch_err *rc, uint32_t x)
{
  uint8_t t[4];
  for(int i = 0; i < 4; i++)
    t[i] = (uint8_t)(x >> (8 * i));
  if(!*rc)
    *rc = ch_buf_add(b, t, sizeof(t));
}

static void put_bytes(ch_buf *b, ch_err *rc, const void *p, size_t n)
{
  if(n > UINT32_MAX) {
    *rc = CH_ERR_TOOBIG;
    return;
  }
  put_u32(b, rc, (uint32_t)n);
  if(!*rc && n)
    *rc = ch_buf_add(b, p, n);
}

/* SHA-256 over trust id, chain key and body: binds a blob to its row. */
static bool blob_digest(struct ch_verifier *v, const uint8_t key[32],
                        const uint8_t *body, size_t n, uint8_t md[32])
{
  return EVP_DigestInit_ex(v->md, v->sha256, NULL) &&
         EVP_DigestUpdate(v->md, v->trust_id, 32) &&
         EVP_DigestUpdate(v->md, key, 32) &&
         EVP_DigestUpdate(v->md, body, n) &&
         EVP_DigestFinal_ex(v->md, md, NULL);
}

/* Serialize e's structural verdict (not the OCSP staple) into b. */
static ch_err entry_encode(struct ch_verifier *v, const entry *e, ch_buf *b)
{
  ch_err rc = CH_OK;
  size_t dns_bytes = 0;
  const char *p = e->dns;
  uint8_t md[32];
  for(size_t i = 0; i < e->n_dns; i++) {
    size_t l = strlen(p) + 1;
    dns_bytes += l;
    p += l;
  }
  rc = ch_buf_add(b, BLOB_MAGIC, 4);
  put_u8(b, &rc, BLOB_VERSION);
  put_u8(b, &rc, (uint8_t)((e->trusted ? 1 : 0) | (e->err_in_sigs ? 2 : 0)));
  put_u32(b, &rc, e->problems);
  put_u32(b, &rc, (uint32_t)e->err_depth);
  put_bytes(b, &rc, e->err_text, strlen(e->err_text));
  put_u64(b, &rc, (uint64_t)e->earliest_not_after);
  put_u32(b, &rc, (uint32_t)e->earliest_index);
  put_u32(b, &rc, (uint32_t)e->n_path);
  for(size_t i = 0; i < e->n_path; i++) {
    put_u64(b, &rc, (uint64_t)e->path[i].not_before);
    put_u64(b, &rc, (uint64_t)e->path[i].not_after);
  }
  put_u32(b, &rc, (uint32_t)e->n_dns);
  put_bytes(b, &rc, e->dns, dns_bytes);
  put_u32(b, &rc, (uint32_t)e->n_ips);
  for(size_t i = 0; i < e->n_ips; i++) {
    put_u8(b, &rc, e->ips[i].len);
    if(!rc)
      rc = ch_buf_add(b, e->ips[i].b, sizeof(e->ips[i].b));
  }
  put_u8(b, &rc, e->cn ? 1 : 0);
  put_bytes(b, &rc, e->cn, e->cn ? strlen(e->cn) : 0);
  put_bytes(b, &rc, e->issuer_der, e->issuer_len);
  if(rc)
    return rc;
  if(!blob_digest(v, e->key, (const uint8_t *)b->data, b->len, md))
    return CH_ERR_INTERNAL;
  return ch_buf_add(b, md, sizeof(md));
}

/* Bounds-checked reader; any overrun sets bad and yields zeros. */
typedef struct reader {
  const uint8_t *p;
  size_t n, off;
  bool bad;
} reader;

static const uint8_t *get_raw(reader *r, size_t n)
{
  if(r->bad || n > r->n - r->off) {
    r->bad = true;
    return NULL;
  }
  const uint8_t *p = r->p + r->off;
  r->off += n;
  return p;
}

static uint64_t get_u(reader *r, int bytes)
{
  const uint8_t *p = get_raw(r, (size_t)bytes);
  uint64_t x = 0;
  for(int i = 0; p && i < bytes; i++)
    x |= (uint64_t)p[i] << (8 * i);
  return x;
}

/* A length-prefixed field: *n bytes at the returned pointer. */
static const uint8_t *get_bytes(reader *r, size_t *n)
{
  *n = (size_t)get_u(r, 4);
  return get_raw(r, *n);
}

#define KNOWN_PROBLEMS 0x01ffu

/* Rebuild an entry from a blob for key, or NULL when the blob is not a
 * well-formed entry of this version for this trust and chain. */
static entry *entry_decode(struct ch_verifier *v, const uint8_t key[32],
                           const uint8_t *blob, size_t len)
{
  uint8_t md[32];
  reader r = {.p = blob, .n = len};
  const uint8_t *p;
  size_t n;
  entry *e;
  if(len < 4 + 1 + sizeof(md) || len > BLOB_MAX ||
     memcmp(blob, BLOB_MAGIC, 4) || blob[4] != BLOB_VERSION)
    return NULL;
  r.n = len - sizeof(md);
  if(!blob_digest(v, key, blob, r.n, md) ||
     CRYPTO_memcmp(md, blob + r.n, sizeof(md)))
    return NULL;
  e = calloc(1, sizeof(*e));
  if(!e)
    return NULL;
  memcpy(e->key, key, 32);
  e->bytes = sizeof(*e);
  r.off = 5;
  unsigned flags = (unsigned)get_u(&r, 1);
  e->trusted = flags & 1;
  e->err_in_sigs = flags & 2;
  e->problems = (unsigned)get_u(&r, 4);
  e->err_depth = (int)(int32_t)get_u(&r, 4);
  p = get_bytes(&r, &n);
  if(flags > 3 || (e->problems & ~KNOWN_PROBLEMS) || !p ||
     n >= sizeof(e->err_text) || memchr(p, '\0', n) || e->err_depth < 0 ||
     e->err_depth > BLOB_MAX_PATH)
    goto bad;
  memcpy(e->err_text, p, n);
  e->earliest_not_after = (int64_t)get_u(&r, 8);
  e->earliest_index = (int)(int32_t)get_u(&r, 4);
  e->n_path = (size_t)get_u(&r, 4);
  if(r.bad || e->earliest_index < 0 || e->earliest_index >= MAX_CERTS ||
     e->n_path > BLOB_MAX_PATH)
    goto bad;
  if(e->n_path) {
    e->path = calloc(e->n_path, sizeof(*e->path));
    if(!e->path)
      goto bad;
    e->bytes += e->n_path * sizeof(*e->path);
  }
  for(size_t i = 0; i < e->n_path; i++) {
    e->path[i].not_before = (int64_t)get_u(&r, 8);
    e->path[i].not_after = (int64_t)get_u(&r, 8);
  }
  size_t n_dns = (size_t)get_u(&r, 4);
  p = get_bytes(&r, &n);
  if(r.bad || (n == 0) != (n_dns == 0) || (n && p[n - 1] != '\0'))
    goto bad;
  size_t nuls = 0;
  for(size_t i = 0; i < n; i++)
    nuls += p[i] == '\0';
  if(nuls != n_dns)
    goto bad;
  if(n) {
    e->dns = malloc(n);
    if(!e->dns)
      goto bad;
    memcpy(e->dns, p, n);
    e->n_dns = n_dns;
    e->bytes += n;
  }
  size_t n_ips = (size_t)get_u(&r, 4);
  if(r.bad || n_ips > (r.n - r.off) / 17)
    goto bad;
  if(n_ips) {
    e->ips = calloc(n_ips, sizeof(*e->ips));
    if(!e->ips)
      goto bad;
    e->bytes += n_ips * sizeof(*e->ips);
  }
  for(size_t i = 0; i < n_ips; i++) {
    e->ips[i].len = (uint8_t)get_u(&r, 1);
    p = get_raw(&r, sizeof(e->ips[i].b));
    if(!p || (e->ips[i].len != 4 && e->ips[i].len != 16))
      goto bad;
    memcpy(e->ips[i].b, p, sizeof(e->ips[i].b));
    e->n_ips++;
  }
  unsigned has_cn = (unsigned)get_u(&r, 1);
  p = get_bytes(&r, &n);
  if(r.bad || has_cn > 1 || (!has_cn && n) || memchr(p, '\0', n))
    goto bad;
  if(has_cn) {
    e->cn = malloc(n + 1);
    if(!e->cn)
      goto bad;
    memcpy(e->cn, p, n);
    e->cn[n] = '\0';
    e->bytes += n + 1;
  }
  p = get_bytes(&r, &n);
  if(r.bad || r.off != r.n)
    goto bad;
  if(n) {
    e->issuer_der = malloc(n);
    if(!e->issuer_der)
      goto bad;
    memcpy(e->issuer_der, p, n);
    e->issuer_len = n;
    e->bytes += n;
  }
  return e;
bad:
  entry_free(e);
  return NULL;
}

/* Feed a file's contents (or a marker when it cannot be opened and
 * missing_ok) into the digest, and its path unless content_only (the CLI
 * writes the inventory's intermediates to a new temporary file per run). */
static ch_err hash_file(struct ch_verifier *v, const char *what,
                        const char *path, bool missing_ok, bool content_only,
                        char **errmsg)
{
  uint8_t buf[16384];
  size_t n;
  FILE *f = fopen(path, "rb");
  if(!content_only)
    EVP_DigestUpdate(v->md, path, strlen(path) + 1);
  if(!f) {
    if(missing_ok) {
      EVP_DigestUpdate(v->md, "missing", 8);
      return CH_OK;
    }
    set_errmsg(errmsg, "%s '%s': cannot read: %s", what, path,
               strerror(errno));
    return CH_ERR_IO;
  }
  while((n = fread(buf, 1, sizeof(buf), f)) > 0)
    EVP_DigestUpdate(v->md, buf, n);
  bool err = ferror(f);
  fclose(f);
  if(err) {
    set_errmsg(errmsg, "%s '%s': read error", what, path);
    return CH_ERR_IO;
  }
  EVP_DigestUpdate(v->md, "", 1);
  return CH_OK;
}

static int cmp_name(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A hashed certificate directory: its sorted names with each target's
 * size and modification time (c_rehash links keep their names when the
 * certificates behind them change). */
static ch_err hash_dir(struct ch_verifier *v, const char *dir)
{
  ch_err rc = CH_OK;
  char **names = NULL;
  size_t n = 0, alloc = 0;
  struct dirent *de;
  DIR *d = opendir(dir);
  EVP_DigestUpdate(v->md, dir, strlen(dir) + 1);
  if(!d) {
    EVP_DigestUpdate(v->md, "missing", 8);
    return CH_OK;
  }
  while((de = readdir(d)) && n < TRUST_DIR_MAX) {
    if(de->d_name[0] == '.')
      continue;
    if(n == alloc) {
      size_t na = alloc ? alloc * 2 : 256;
      char **nn = realloc(names, na * sizeof(*nn));
      if(!nn) {
        rc = CH_ERR_NOMEM;
        goto out;
      }
      names = nn;
      alloc = na;
    }
    if(!(names[n] = strdup(de->d_name))) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
    n++;
  }
  qsort(names, n, sizeof(*names), cmp_name);
  for(size_t i = 0; i < n; i++) {
    char path[PATH_MAX];
    struct stat sb;
    int64_t meta[2] = {-1, -1};
    if(snprintf(path, sizeof(path), "%s/%s", dir, names[i]) <
           (int)sizeof(path) &&
       stat(path, &sb) == 0) {
      meta[0] = (int64_t)sb.st_size;
      meta[1] = (int64_t)sb.st_mtime;
    }
    EVP_DigestUpdate(v->md, names[i], strlen(names[i]) + 1);
    EVP_DigestUpdate(v->md, meta, sizeof(meta));
  }
out:
  for(size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  closedir(d);
  return rc;
}

ch_err ch_verifier_set_cache(struct ch_verifier *v,
                             const certhub_probe_opts *o, char **errmsg)
{
  ch_err rc = CH_OK;
  uint64_t ver = OpenSSL_version_num();
  if(!o->cache_get || !o->cache_put)
    return CH_OK;
  if(!EVP_DigestInit_ex(v->md, v->sha256, NULL))
    return CH_ERR_INTERNAL;
  EVP_DigestUpdate(v->md, "certhub trust v1", 17);
  EVP_DigestUpdate(v->md, &ver, sizeof(ver));
  if(o->ca_file) {
    EVP_DigestUpdate(v->md, "ca", 3);
    rc = hash_file(v, "CA file", o->ca_file, false, false, errmsg);
  }
  else {
    /* What X509_STORE_set_default_paths() loads: the environment's file
     * and directories first, else the compiled-in ones. */
    const char *file = getenv(X509_get_default_cert_file_env());
    const char *dirs = getenv(X509_get_default_cert_dir_env());
    EVP_DigestUpdate(v->md, "system", 7);
    rc = hash_file(v, "system trust store",
                   file ? file : X509_get_default_cert_file(), true, false,
                   errmsg);
    char *list = strdup(dirs ? dirs : X509_get_default_cert_dir());
    if(!list)
      rc = CH_ERR_NOMEM;
    for(char *save = NULL, *dir = list ? strtok_r(list, ":", &save) : NULL;
        !rc && dir; dir = strtok_r(NULL, ":", &save))
      rc = hash_dir(v, dir);
    free(list);
  }
  if(!rc && o->intermediates) {
    EVP_DigestUpdate(v->md, "intermediates", 14);
    rc = hash_file(v, "intermediates file", o->intermediates, false, true,
                   errmsg);
  }
  if(!rc && !EVP_DigestFinal_ex(v->md, v->trust_id, NULL))
    rc = CH_ERR_INTERNAL;
  if(rc)
    return rc;
  v->cache_get = o->cache_get;
  v->cache_put = o->cache_put;
  v->cache_arg = o->cache_arg;
  return CH_OK;
}

/* The entry for key from the persistent cache, NULL on a miss or a blob
 * that does not validate. */
static entry *persist_get(struct ch_verifier *v, const uint8_t key[32])
{
  const uint8_t *blob = NULL;
  size_t len = 0;
  if(!v->cache_get || !v->cache_get(v->cache_arg, v->trust_id, key, &blob,
                                    &len) || !blob)
    return NULL;
  return entry_decode(v, key, blob, len);
}

static void persist_put(struct ch_verifier *v, const entry *e)
{
  ch_buf b;
  if(!v->cache_put)
    return;
  ch_buf_init(&b, BLOB_MAX);
  if(!entry_encode(v, e, &b)) /* too big: simply not kept */
    v->cache_put(v->cache_arg, v->trust_id, e->key, (const uint8_t *)b.data,
                 b.len);
  ch_buf_free(&b);
}

/* ---- the check ------------------------------------------------------- */

static void apply(const entry *e, const char *name, int64_t now,
                  certhub_chain_check *out)
{
  int terr = 0, tdepth = -1;
  out->problems = e->problems;
  for(size_t i = 0; i < e->n_path; i++) {
    int err = 0;
    if(e->path[i].not_before > now) {
      out->problems |= CERTHUB_CHAIN_NOT_YET_VALID;
      err = X509_V_ERR_CERT_NOT_YET_VALID;
    }
    else if(e->path[i].not_after < now) {
      out->problems |=
          i == 0 ? CERTHUB_CHAIN_EXPIRED : CERTHUB_CHAIN_EXPIRED_INTERMEDIATE;
      err = X509_V_ERR_CERT_HAS_EXPIRED;
    }
    if(err) {
      /* OpenSSL checks the path top down: the deepest comes first. */
      terr = err;
      tdepth = (int)i;
    }
  }
  out->trusted = e->trusted && !terr;
  out->verify_error[0] = '\0';
  if(e->err_text[0] && !(terr && e->err_in_sigs && tdepth > e->err_depth))
    snprintf(out->verify_error, sizeof(out->verify_error), "%s", e->err_text);
  else if(terr)
    snprintf(out->verify_error, sizeof(out->verify_error), "%s",
             X509_verify_cert_error_string(terr));
  out->hostname_match = name && host_match(e, name);
  out->earliest_not_after = e->earliest_not_after;
  out->earliest_index = e->earliest_index;
}

static void apply_ocsp(const ocsp_info *oi, int64_t now,
                       certhub_chain_check *out)
{
  out->ocsp = oi->status;
  out->ocsp_next_update = oi->next_update;
  if(oi->status == CERTHUB_OCSP_INVALID)
    return;
  if(oi->this_update > now + OCSP_SKEW ||
     (oi->next_update && oi->next_update + OCSP_SKEW < now) ||
     (!oi->next_update && now - oi->this_update > OCSP_MAX_AGE))
    out->ocsp = CERTHUB_OCSP_INVALID; /* not yet valid or stale */
}

ch_err ch_verifier_check(struct ch_verifier *v, const uint8_t *const *der,
                         const size_t *len, size_t n, const char *name,
                         const uint8_t *ocsp, size_t ocsp_len, int64_t now,
                         certhub_chain_check *out)
{
  uint8_t key[32];
  entry *e;
  ch_err rc;
  memset(out, 0, sizeof(*out));
  if(!v || !der || !len || n == 0)
    return CH_ERR_USAGE;
  rc = chain_key(v, der, len, n, key);
  if(rc)
    return rc;
  e = cache_find(v, key);
  if(e)
    v->hits++;
  else if((e = persist_get(v, key)) != NULL) {
    v->hits++;
    cache_insert(v, e);
  }
  else {
    v->misses++;
    e = calloc(1, sizeof(*e));
    if(!e)
      return CH_ERR_NOMEM;
    memcpy(e->key, key, sizeof(key));
    rc = analyse(v, der, len, n, e);
    if(rc) {
      entry_free(e);
      return rc;
    }
    persist_put(v, e);
    cache_insert(v, e);
  }
  apply(e, name, now, out);
  if(ocsp && ocsp_len) {
    uint8_t okey[32];
    unsigned int klen = 0;
    if(!EVP_Digest(ocsp, ocsp_len, okey, &klen, v->sha256, NULL))
      return CH_ERR_INTERNAL;
    if(!e->have_ocsp || memcmp(e->ocsp_key, okey, sizeof(okey))) {
      ocsp_parse(v, ocsp, ocsp_len, der[0], len[0], e, &e->ocsp);
      memcpy(e->ocsp_key, okey, sizeof(okey));
      e->have_ocsp = true;
    }
    apply_ocsp(&e->ocsp, now, out);
  }
  return CH_OK;
}
