/*
 * The OpenSSL TLS engine: a full libssl client handshake over memory BIOs,
 * sans-IO like the other layers (the loop feeds server bytes in, sends what
 * this queues). Used when a client certificate is configured (mTLS), which
 * certhub's own grab engine does not do.
 *
 * libssl's chain verification is skipped (verify.c analyses the chain);
 * OCSP stapling is requested. One SSL_CTX per (client cert, client key) is
 * shared by all connections: loading the key is the expensive part, and
 * the protocol versions are set per connection. The cache is small and
 * static, guarded by a mutex, and freed at exit so leak checkers stay
 * quiet.
 *
 * Ownership: the state owns the SSL, the DER copies of the peer chain and
 * the OCSP staple; ch_tls_info points into them until destroy().
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "probe_int.h"

#define CTX_CACHE_MAX 8

void ch_tls_openssl_cleanup(void); /* atexit only */

typedef struct ctx_entry {
  char *cert, *key;
  SSL_CTX *ctx;
} ctx_entry;

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static ctx_entry ctx_cache[CTX_CACHE_MAX];
static size_t ctx_n;
static bool ctx_atexit;

typedef struct ossl_st {
  SSL *ssl;
  BIO *rbio, *wbio; /* owned by ssl */
  size_t bytes_in, max_bytes, max_chain;
  int alert; /* description of a received fatal alert, or -1 */
  uint8_t **der;
  size_t *len;
  size_t n;
  uint8_t *ocsp;
  size_t ocsp_len;
} ossl_st;

void ch_tls_openssl_cleanup(void)
{
  pthread_mutex_lock(&ctx_lock);
  for(size_t i = 0; i < ctx_n; i++) {
    SSL_CTX_free(ctx_cache[i].ctx);
    free(ctx_cache[i].cert);
    free(ctx_cache[i].key);
  }
  ctx_n = 0;
  pthread_mutex_unlock(&ctx_lock);
}

/* The last queued OpenSSL error as text (the queue is then cleared). */
static const char *ssl_err_text(char *buf, size_t n)
{
  unsigned long e = ERR_peek_last_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  if(r)
    snprintf(buf, n, "%s", r);
  else if(e)
    snprintf(buf, n, "OpenSSL error 0x%lx", e);
  else
    snprintf(buf, n, "unknown error");
  ERR_clear_error();
  return buf;
}

/* certhub analyses the chain itself (verify.c): accept anything here. */
static int no_verify(X509_STORE_CTX *x, void *arg)
{
  (void)x;
  (void)arg;
  return 1;
}

static void info_cb(const SSL *ssl, int where, int ret)
{
  if(!(where & SSL_CB_READ_ALERT))
    return;
  ossl_st *st = SSL_get_app_data(ssl);
  /* ret: level in the high byte, description in the low one; a warning
   * close_notify during the handshake is as fatal as any alert here. */
  if(st && st->alert < 0)
    st->alert = ret & 0xff;
}

static SSL_CTX *new_ctx(const char *cert, const char *key, ch_fail *f)
{
  char e[160];
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if(!ctx) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR, "cannot create a TLS context: %s",
                ssl_err_text(e, sizeof(e)));
    return NULL;
  }
  /* A probe wants the certificate of old and weak servers too. */
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_cert_verify_callback(ctx, no_verify, NULL);
  if(cert && *cert) {
    const char *k = key && *key ? key : cert; /* key may sit in the cert */
    if(SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
      ch_fail_set(f, CERTHUB_PROBE_ERROR,
                  "cannot load client certificate %s: %s", cert,
                  ssl_err_text(e, sizeof(e)));
      goto bad;
    }
    if(SSL_CTX_use_PrivateKey_file(ctx, k, SSL_FILETYPE_PEM) != 1) {
      if(ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
        ch_fail_set(f, CERTHUB_PROBE_ERROR, "cannot load client key %s: %s", k,
                    ssl_err_text(e, sizeof(e)));
      else
        ch_fail_set(f, CERTHUB_PROBE_ERROR,
                    "client key %s does not match certificate %s", k, cert);
      goto bad;
    }
    if(SSL_CTX_check_private_key(ctx) != 1) {
      ch_fail_set(f, CERTHUB_PROBE_ERROR,
                  "client key %s does not match certificate %s: %s", k, cert,
                  ssl_err_text(e, sizeof(e)));
      goto bad;
    }
  }
  return ctx;
bad:
  SSL_CTX_free(ctx);
  return NULL;
}

static bool str_eq(const char *a, const char *b)
{
  if(!a || !*a)
    return !b || !*b;
  return b && !strcmp(a, b);
}

/* A context for (cert, key) with one reference for the caller. */
static SSL_CTX *get_ctx(const char *cert, const char *key, ch_fail *f)
{
  SSL_CTX *ctx = NULL;
  pthread_mutex_lock(&ctx_lock);
  for(size_t i = 0; i < ctx_n; i++)
    if(str_eq(ctx_cache[i].cert, cert) && str_eq(ctx_cache[i].key, key)) {
      ctx = ctx_cache[i].ctx;
      SSL_CTX_up_ref(ctx);
      goto out;
    }
  ctx = new_ctx(cert, key, f);
  if(!ctx || ctx_n == CTX_CACHE_MAX)
    goto out; /* a full cache only costs speed: the caller's ref is it */
  ctx_entry *ce = &ctx_cache[ctx_n];
  ce->cert = cert ? strdup(cert) : NULL;
  ce->key = key ? strdup(key) : NULL;
  if((cert && !ce->cert) || (key && !ce->key)) {
    free(ce->cert);
    free(ce->key);
    goto out;
  }
  ce->ctx = ctx;
  SSL_CTX_up_ref(ctx);
  ctx_n++;
  if(!ctx_atexit)
    ctx_atexit = atexit(ch_tls_openssl_cleanup) == 0;
out:
  pthread_mutex_unlock(&ctx_lock);
  return ctx;
}

/* Move what libssl wrote into out. */
static ch_err drain(ossl_st *st, ch_buf *out)
{
  char tmp[4096];
  int n;
  while((n = BIO_read(st->wbio, tmp, sizeof(tmp))) > 0) {
    ch_err rc = ch_buf_add(out, tmp, (size_t)n);
    if(rc)
      return rc;
  }
  return CH_OK;
}

static void ossl_destroy(void *vst)
{
  ossl_st *st = vst;
  if(!st)
    return;
  SSL_free(st->ssl);
  for(size_t i = 0; i < st->n; i++)
    free(st->der[i]);
  free(st->der);
  free(st->len);
  free(st->ocsp);
  free(st);
}

static ch_err ossl_create(const ch_tls_params *p, void **out_st, ch_buf *out,
                          ch_fail *f)
{
  ch_err rc = CH_OK;
  char e[160];
  ossl_st *st = calloc(1, sizeof(*st));
  SSL_CTX *ctx = NULL;
  *out_st = NULL;
  if(!st) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR, "out of memory");
    return CH_ERR_NOMEM;
  }
  st->alert = -1;
  st->max_bytes = p->max_bytes ? p->max_bytes : (1u << 20);
  st->max_chain = p->max_chain ? p->max_chain : 32;
  ERR_clear_error();
  ctx = get_ctx(p->client_cert, p->client_key, f);
  if(!ctx) {
    rc = CH_ERR_CONFIG;
    goto out;
  }
  st->ssl = SSL_new(ctx);
  st->rbio = BIO_new(BIO_s_mem());
  st->wbio = BIO_new(BIO_s_mem());
  if(!st->ssl || !st->rbio || !st->wbio) {
    BIO_free(st->rbio);
    BIO_free(st->wbio);
    ch_fail_set(f, CERTHUB_PROBE_ERROR, "cannot create a TLS connection: %s",
                ssl_err_text(e, sizeof(e)));
    rc = CH_ERR_NOMEM;
    goto out;
  }
  SSL_set_bio(st->ssl, st->rbio, st->wbio);
  SSL_set_app_data(st->ssl, st);
  SSL_set_info_callback(st->ssl, info_cb);
  SSL_set_connect_state(st->ssl);
  SSL_set_tlsext_status_type(st->ssl, TLSEXT_STATUSTYPE_ocsp);
  if(!SSL_set_min_proto_version(st->ssl, p->min_version ? p->min_version
                                                        : TLS1_VERSION) ||
     !SSL_set_max_proto_version(st->ssl, p->max_version ? p->max_version
                                                        : TLS1_3_VERSION) ||
     (p->sni && *p->sni && !SSL_set_tlsext_host_name(st->ssl, p->sni))) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR, "cannot set TLS parameters: %s",
                ssl_err_text(e, sizeof(e)));
    rc = CH_ERR_USAGE;
    goto out;
  }
  int r = SSL_do_handshake(st->ssl);
  if(r != 1 && SSL_get_error(st->ssl, r) != SSL_ERROR_WANT_READ) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR, "cannot start the TLS handshake: %s",
                ssl_err_text(e, sizeof(e)));
    rc = CH_ERR_INTERNAL;
    goto out;
  }
  if(drain(st, out)) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR, "out of memory");
    rc = CH_ERR_NOMEM;
    goto out;
  }
out:
  SSL_CTX_free(ctx); /* the SSL holds its own reference */
  ERR_clear_error();
  if(rc)
    ossl_destroy(st);
  else
    *out_st = st;
  return rc;
}

/* Copy the peer chain and OCSP staple into st and point info at them. */
static ch_step fill_info(ossl_st *st, ch_tls_info *info, ch_fail *f)
{
  STACK_OF(X509) *sk = SSL_get_peer_cert_chain(st->ssl);
  size_t n = sk ? (size_t)sk_X509_num(sk) : 0;
  info->chain_sent = n;
  if(n > st->max_chain)
    n = st->max_chain;
  if(n) {
    st->der = calloc(n, sizeof(*st->der));
    st->len = calloc(n, sizeof(*st->len));
    if(!st->der || !st->len)
      goto nomem;
  }
  for(size_t i = 0; i < n; i++) {
    unsigned char *d = NULL;
    int l = i2d_X509(sk_X509_value(sk, (int)i), &d);
    if(l <= 0)
      goto nomem;
    st->der[i] = d;
    st->len[i] = (size_t)l;
    st->n = i + 1;
  }
  const unsigned char *resp = NULL;
  long rl = SSL_get_tlsext_status_ocsp_resp(st->ssl, &resp);
  if(rl > 0 && resp) {
    st->ocsp = malloc((size_t)rl);
    if(!st->ocsp)
      goto nomem;
    memcpy(st->ocsp, resp, (size_t)rl);
    st->ocsp_len = (size_t)rl;
  }
  const SSL_CIPHER *c = SSL_get_current_cipher(st->ssl);
  memset(info, 0, sizeof(*info));
  info->version = (uint16_t)SSL_version(st->ssl);
  info->cipher_id = c ? (uint16_t)(SSL_CIPHER_get_protocol_id(c) & 0xffff) : 0;
  info->cipher = ch_tls_cipher_name(info->cipher_id);
  info->chain_n = st->n;
  info->chain_der = (const uint8_t **)st->der;
  info->chain_len = st->len;
  info->ocsp_der = st->ocsp;
  info->ocsp_len = st->ocsp_len;
  return CH_STEP_DONE;
nomem:
  ch_fail_set(f, CERTHUB_PROBE_ERROR, "out of memory copying the chain");
  return CH_STEP_FAIL;
}

static ch_step ossl_input(void *vst, const uint8_t *in, size_t len,
                          ch_buf *out, ch_tls_info *info, ch_fail *f)
{
  ossl_st *st = vst;
  char e[160];
  ch_step s = CH_STEP_MORE;
  ERR_clear_error();
  st->bytes_in += len;
  if(st->bytes_in > st->max_bytes) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server sent more than %zu bytes during the TLS handshake",
                st->max_bytes);
    return CH_STEP_FAIL;
  }
  if(len && BIO_write(st->rbio, in, (int)len) != (int)len) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR, "out of memory buffering TLS input");
    return CH_STEP_FAIL;
  }
  int r = SSL_do_handshake(st->ssl);
  int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(st->ssl, r);
  /* Queue what libssl wrote even on failure: it may be a closing alert. */
  if(drain(st, out)) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR, "out of memory");
    s = CH_STEP_FAIL;
  }
  else if(r == 1)
    s = fill_info(st, info, f);
  else if(err == SSL_ERROR_WANT_READ)
    s = CH_STEP_MORE;
  else if(st->alert >= 0) {
    ch_fail_set(f, CERTHUB_PROBE_TLS_ALERT, "server sent TLS alert %s (%d)",
                ch_tls_alert_name((unsigned)st->alert), st->alert);
    s = CH_STEP_FAIL;
  }
  else if(err == SSL_ERROR_SSL) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL, "TLS handshake failed: %s",
                ssl_err_text(e, sizeof(e)));
    s = CH_STEP_FAIL;
  }
  else {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "TLS handshake failed (OpenSSL error %d)", err);
    s = CH_STEP_FAIL;
  }
  ERR_clear_error();
  return s;
}

const ch_tls_engine_ops ch_tls_openssl = {"openssl", ossl_create, ossl_input,
                                          ossl_destroy};
