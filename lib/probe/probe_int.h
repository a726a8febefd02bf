/*
 * Private interfaces of the probe module.
 *
 * A probe is a pipeline of sans-IO layers over one TCP connection: first an
 * optional STARTTLS dialect, then a TLS engine. Layers never touch sockets:
 * the event loop (loop.c) feeds them the bytes it read and sends the bytes
 * they queue. That keeps each layer testable and fuzzable on its own and
 * lets the loop stay one epoll thread.
 *
 *   target.c    target parsing, CIDR sweeps
 *   loop.c      epoll loop: connect, timeouts, concurrency and per-host limits
 *   dns.c       c-ares resolver driven by the same epoll loop
 *   starttls.c  table of STARTTLS dialects (smtp, imap, pop3, ftp, ldap, xmpp,
 *               postgres)
 *   grab.c      certhub's own TLS 1.3/1.2 client handshake that stops once
 *               the server's certificate chain is in (fast path)
 *   ossl.c      OpenSSL (libssl) engine over memory BIOs: full handshake,
 *               used for client certificates (mTLS)
 *   verify.c    chain analysis: trust, problems, RFC 6125 hostname, OCSP,
 *               cached per chain hash in memory and, through the opts'
 *               cache hooks, across runs
 */
#ifndef CH_PROBE_INT_H
#define CH_PROBE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "certhub/probe.h"
#include "core/core.h"

/* What a layer's step returns. */
typedef enum ch_step {
  CH_STEP_MORE = 0, /* wants more input (after sending what it queued) */
  CH_STEP_DONE,     /* finished; the next layer takes over the connection */
  CH_STEP_FAIL      /* failed; reason and status set */
} ch_step;

/* Failure details a layer fills in. reason is a plain sentence without the
 * target ("server refused STARTTLS: 454 TLS not available"). */
typedef struct ch_fail {
  certhub_probe_status status; /* PROTOCOL or TLS_ALERT (or ERROR) */
  char reason[256];
} ch_fail;

void ch_fail_set(ch_fail *f, certhub_probe_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- STARTTLS dialects (starttls.c) ------------------------------------ */

/* One dialect: a small state machine speaking the plaintext protocol up to
 * the point where the server expects a TLS ClientHello. */
typedef struct ch_starttls_ops {
  const char *name;       /* "smtp" */
  uint16_t default_port;  /* 25/587, 143, 110, 21, 389, 5222, 5432 */
  size_t state_size;      /* bytes of per-connection state, zeroed */
  /* Queue the client's opening bytes (most dialects wait for the server's
   * greeting and queue nothing). host is the SNI/host name (XMPP "to"). */
  ch_step (*start)(void *st, const char *host, ch_buf *out, ch_fail *f);
  /* Consume server bytes in[0..len). *used gets how many were consumed
   * (the rest stays for the next call, or for TLS after DONE). */
  ch_step (*input)(void *st, const uint8_t *in, size_t len, size_t *used,
                   ch_buf *out, ch_fail *f);
} ch_starttls_ops;

/* The dialect named `name` (case-insensitive), NULL if none. */
const ch_starttls_ops *ch_starttls_find(const char *name);
/* Also accepts the scheme names used in targets ("smtp", "submission", ...). */
const ch_starttls_ops *ch_starttls_for_scheme(const char *scheme);

/* ---- TLS engines (grab.c, ossl.c) ---------------------------------------- */

/* What a TLS engine learned. Buffers are owned by the engine state and live
 * until its destroy(). */
typedef struct ch_tls_info {
  uint16_t version;        /* negotiated, 0x0301..0x0304 */
  uint16_t cipher_id;      /* IANA code */
  const char *cipher;      /* IANA name, "" if unknown */
  size_t chain_n;
  size_t chain_sent;       /* certificates the server sent (>= chain_n) */
  const uint8_t **chain_der;
  size_t *chain_len;
  const uint8_t *ocsp_der; /* stapled response, NULL if none */
  size_t ocsp_len;
} ch_tls_info;

typedef struct ch_tls_params {
  const char *sni;         /* NULL: no SNI extension */
  uint16_t max_version;    /* 0: TLS 1.3; 0x0302 for the legacy check */
  uint16_t min_version;    /* 0: TLS 1.0 */
  size_t max_chain;        /* certificates kept */
  size_t max_bytes;        /* handshake bytes accepted */
  const char *client_cert; /* ossl engine only */
  const char *client_key;
} ch_tls_params;

typedef struct ch_tls_engine_ops {
  const char *name;        /* "grab", "openssl" */
  /* Create per-connection state; queue the ClientHello into out. */
  ch_err (*create)(const ch_tls_params *p, void **st, ch_buf *out,
                   ch_fail *f);
  /* Feed server bytes (all consumed). DONE once the chain (and OCSP staple
   * when offered) is known and info is filled in; FAIL with a TLS_ALERT or
   * PROTOCOL reason. May queue bytes (a second ClientHello after a
   * HelloRetryRequest, a closing alert). */
  ch_step (*input)(void *st, const uint8_t *in, size_t len, ch_buf *out,
                   ch_tls_info *info, ch_fail *f);
  void (*destroy)(void *st);
} ch_tls_engine_ops;

extern const ch_tls_engine_ops ch_tls_grab;    /* grab.c */
extern const ch_tls_engine_ops ch_tls_openssl; /* ossl.c */

/* IANA name of a cipher suite ("TLS_AES_128_GCM_SHA256"), "" if unknown. */
const char *ch_tls_cipher_name(uint16_t id);
/* Name of a TLS alert description ("handshake_failure"), "unknown" if none. */
const char *ch_tls_alert_name(unsigned d);

/* ---- DNS (dns.c): c-ares driven by the loop's epoll ---------------------- */

struct ares_addrinfo;
struct ch_dns;
/* status 0 and ai (owned by the callee: ares_freeaddrinfo) on success;
 * else errtext says why ("no such host", "lookup timed out"). */
typedef void (*ch_dns_cb)(void *arg, int status, const char *errtext,
                          struct ares_addrinfo *ai);
/* Register resolver sockets on epfd with epoll data.u64 =
 * CH_DNS_EPOLL_TAG | fd. */
#define CH_DNS_EPOLL_TAG (1ull << 63)
ch_err ch_dns_new(int epfd, unsigned timeout_ms, struct ch_dns **out,
                  char **errmsg);
void ch_dns_free(struct ch_dns *d); /* pending callbacks run, cancelled */
void ch_dns_resolve(struct ch_dns *d, const char *name, ch_dns_cb cb,
                    void *arg);
void ch_dns_on_event(struct ch_dns *d, int fd, uint32_t events);
/* Handle resolver timeouts; returns ms until the next one, -1 if idle. */
int ch_dns_tick(struct ch_dns *d);

/* ---- chain analysis (verify.c) ------------------------------------------- */

struct ch_verifier;
/* ca_file NULL: the system trust store. extra_intermediates (may be NULL)
 * is a PEM file of CA certificates certhub knows from its inventory: used
 * only to tell a missing intermediate from an unknown issuer. */
ch_err ch_verifier_new(const char *ca_file, const char *extra_intermediates,
                       struct ch_verifier **out, char **errmsg);
void ch_verifier_free(struct ch_verifier *v);
/* Analyse a presented chain for `name` (may be NULL: no hostname check) at
 * time now, with an optional stapled OCSP response. Results for the same
 * chain (SHA-256 over the DERs) are cached; the hostname check and expiry
 * are cheap and done each time. */
ch_err ch_verifier_check(struct ch_verifier *v, const uint8_t *const *der,
                         const size_t *len, size_t n, const char *name,
                         const uint8_t *ocsp, size_t ocsp_len, int64_t now,
                         certhub_chain_check *out);
/* Attach the persistent cache hooks of o (cache_get, cache_put,
 * cache_arg; none set: nothing happens) and compute the trust identity
 * from o->ca_file (or the system store) and o->intermediates, the files
 * ch_verifier_new() loaded. Errors name the file that could not be read. */
ch_err ch_verifier_set_cache(struct ch_verifier *v,
                             const certhub_probe_opts *o, char **errmsg);
/* Cache statistics, for benchmarks and tests. */
void ch_verifier_stats(const struct ch_verifier *v, uint64_t *hits,
                       uint64_t *misses);

#endif
