/*
 * certhub_http: the HTTP API of `certhub serve` (JSON over HTTP/1.1, TLS
 * when a certificate is configured), and the API tokens it checks.
 *
 * The server runs its own threads (an accept thread that hands each
 * connection to the worker with the fewest open, and one libmicrohttpd
 * daemon of one thread per worker) and opens its own store handles (one per worker, SQLite handles are single-thread),
 * so it shares nothing with the daemon loop's handle. Writes through the
 * API are serialized by one mutex and each runs in BEGIN IMMEDIATE.
 *
 * Tokens: "chk_" + 43 base64url characters (32 random bytes); only the
 * SHA-256 of the secret is stored (store_tokens.h). A request carries one
 * as "Authorization: Bearer chk_...". Scopes: read (GET endpoints and the
 * read-only POSTs such as GetFindings), findings:write (import, update),
 * admin (everything).
 *
 * Ownership: certhub_http_start() copies the options; the handle is freed
 * by certhub_http_stop(). Secrets handed out are malloc'd (caller frees).
 */
#ifndef CERTHUB_HTTP_H
#define CERTHUB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certhub.h"
#include "store_tokens.h"

#define CERTHUB_HTTP_DEFAULT_LISTEN "127.0.0.1:8080"
#define CERTHUB_HTTP_DEFAULT_MAX_BODY ((size_t)6 << 20) /* Security Hub's */
#define CERTHUB_HTTP_DEFAULT_THREADS 4

#define CERTHUB_SCOPE_READ 1u
#define CERTHUB_SCOPE_FINDINGS_WRITE 2u
#define CERTHUB_SCOPE_ADMIN 4u
#define CERTHUB_SCOPE_ALL 7u

#define CERTHUB_TOKEN_PREFIX "chk_"
#define CERTHUB_TOKEN_LEN 47 /* "chk_" + 43 */

/* One scope name ("read", "findings:write", "admin") into its bit;
 * CH_ERR_PARSE when unknown. */
ch_err certhub_scope_parse(const char *name, unsigned *scope /* OUT */);
/* Space-separated scope names of a space-separated list, as bits; unknown
 * names are ignored (a newer store may know more). */
unsigned certhub_scopes_from_text(const char *text);
/* "read findings:write admin" (those set) into buf. */
void certhub_scopes_text(unsigned scopes, char *buf, size_t len);

/* Hex SHA-256 of a secret, as stored. */
void certhub_token_hash(const char *secret, size_t len, char hex[65]);

/* Make a token: a name of 1..CERTHUB_TOKEN_NAME_MAX characters from
 * [A-Za-z0-9._-], scopes non-zero, expires 0 (never) or an instant after
 * now. *secret gets the token text (malloc'd), shown once: the store
 * keeps only its hash. CH_ERR_EXISTS when the name is taken, CH_ERR_USAGE
 * for a bad name (certhub_store_errmsg tells). */
ch_err certhub_token_create(certhub_store *s, const char *name,
                            unsigned scopes, int64_t expires, int64_t now,
                            char **secret /* OUT */);

/* Check a presented token. CH_OK with *scopes and name (may be NULL) set;
 * CH_ERR_NOTFOUND when unknown, malformed or expired (*why says which);
 * storage errors as such. */
ch_err certhub_token_verify(certhub_store *s, const char *secret, size_t len,
                            int64_t now, unsigned *scopes /* OUT */,
                            char *name /* OUT, CERTHUB_TOKEN_NAME_MAX + 1 */,
                            const char **why /* OUT, static text */);

typedef void (*certhub_http_log_fn)(void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef struct certhub_http_opts {
  const char *db_target;     /* the store the workers open (required) */
  const char *listen;        /* "ADDR:PORT" / "[V6]:PORT"; NULL: default */
  const char *tls_cert_file; /* PEM; with tls_key_file: HTTPS */
  const char *tls_key_file;
  const char *base_url;    /* NULL: from the listener */
  size_t max_body;         /* 0: CERTHUB_HTTP_DEFAULT_MAX_BODY */
  unsigned threads;        /* 0: CERTHUB_HTTP_DEFAULT_THREADS */
  int metrics_auth;        /* 1: /metrics needs read; 0: open; -1:
                              open only on a loopback listener */
  int64_t now_offset;      /* added to the wall clock (serve --now) */
  certhub_http_log_fn log; /* may be NULL */
  void *log_ctx;
  /* The SNS signing certificate PEM served at /sns/signing-cert.pem (the
   * SigningCertURL of topic messages); NULL: that route answers 404. */
  const char *sns_cert_pem;
} certhub_http_opts;

typedef struct certhub_http certhub_http;

/* Open the store handles, bind, start the threads. Errors (*errmsg,
 * malloc'd): CH_ERR_USAGE bad listen address, CH_ERR_IO cannot bind or
 * read the TLS files, CH_ERR_CONFIG bad TLS material, store errors. */
ch_err certhub_http_start(const certhub_http_opts *o,
                          certhub_http **out /* OUT */,
                          char **errmsg /* OUT */);
/* The base URL ("http://127.0.0.1:8080"), borrowed. */
const char *certhub_http_url(const certhub_http *h);
/* The bound port (useful with port 0). */
unsigned certhub_http_port(const certhub_http *h);
/* True when listen/TLS options differ from the running server's (SIGHUP
 * restarts it then). */
bool certhub_http_differs(const certhub_http *h, const certhub_http_opts *o);
/* Stop accepting, finish the requests in flight, close. NULL is fine. */
void certhub_http_stop(certhub_http *h);

#endif
