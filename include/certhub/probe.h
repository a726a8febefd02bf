/*
 * certhub_probe: fetch the certificates that live TLS endpoints present.
 *
 * A target names one endpoint (or, with all_addresses, every A/AAAA address
 * of a name). certhub_probe_run() probes many targets at once on one thread
 * with non-blocking sockets (epoll) and c-ares, and hands each finished
 * probe to a callback. A probe never fails the run: DNS errors, refusals,
 * timeouts, alerts and protocol errors are results with a reason.
 *
 * Ownership: targets are owned by the caller. A result and everything it
 * points to is borrowed and valid only during the callback.
 */
#ifndef CERTHUB_PROBE_H
#define CERTHUB_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include "certhub.h"

/* One endpoint to probe. Strings are owned by whoever filled it in (the
 * parser below allocates them; certhub_target_free() frees those). */
typedef struct certhub_target {
  char *spec;      /* as the user wrote it, for messages and the store */
  char *host;      /* DNS name or address literal (no brackets) */
  uint16_t port;   /* defaults from the scheme or STARTTLS dialect, else 443 */
  char *sni;       /* server name sent; NULL: host unless it is an address */
  char *starttls;  /* dialect name ("smtp", ...) or NULL for direct TLS */
  bool all_addresses; /* probe every A/AAAA address, not just the first */
  /* Labels for the inventory: tags (key=value), owner is a tag. */
  char **tag_keys;
  char **tag_values;
  size_t n_tags;
} certhub_target;

/* Parse one target: host, host:port, [v6]:port, v4:port, https://host[:port]/
 * path, smtp://host (scheme selects the STARTTLS dialect and port),
 * ldaps://, imaps://, pop3s://, smtps:// (direct TLS on their ports).
 * `sni` and `starttls` (may be NULL) override. On error *errmsg gets a
 * malloc'd message naming the spec and the problem. */
ch_err certhub_target_parse(const char *spec, const char *sni,
                            const char *starttls, certhub_target *out /*OUT*/,
                            char **errmsg /* OUT, caller frees */);
void certhub_target_free(certhub_target *t); /* frees members, not t */

/* Parse one line of a targets file: `TARGET [sni=NAME] [starttls=PROTO]
 * [all-addresses] [tag.KEY=VALUE]...`, whitespace-separated; `#` starts a
 * comment. *blank is set (and out left zeroed) for an empty or comment
 * line. Errors as certhub_target_parse(). */
ch_err certhub_target_parse_line(const char *line, certhub_target *out /*OUT*/,
                                 bool *blank /* OUT */,
                                 char **errmsg /* OUT, caller frees */);

/* The inventory source locator of an endpoint: "host:port",
 * "smtp://host:port" with STARTTLS, then " sni=NAME" when the SNI differs
 * from host and " addr=IP" when every address is probed (address may be
 * NULL otherwise). Writes at most n bytes (NUL-terminated); returns
 * CH_ERR_TOOBIG when it did not fit. */
ch_err certhub_target_locator(const certhub_target *t, const char *address,
                              char *buf, size_t n);

/* Expand a CIDR sweep ("10.0.0.0/24", "fd00::/120") over ports into
 * targets. Bounded: more than max_targets is CH_ERR_TOOBIG with a message.
 * *out is a malloc'd array of *n targets (free each, then the array). */
ch_err certhub_target_sweep(const char *cidr, const uint16_t *ports,
                            size_t n_ports, size_t max_targets,
                            certhub_target **out /* OUT */, size_t *n /*OUT*/,
                            char **errmsg /* OUT, caller frees */);

/* Names of the STARTTLS dialects, NULL-terminated, borrowed. */
const char *const *certhub_starttls_names(void);

typedef enum certhub_probe_status {
  CERTHUB_PROBE_OK = 0,   /* the server presented its certificate chain */
  CERTHUB_PROBE_DNS,      /* name did not resolve */
  CERTHUB_PROBE_REFUSED,  /* connection refused or network unreachable */
  CERTHUB_PROBE_TIMEOUT,  /* no result within the per-probe timeout */
  CERTHUB_PROBE_TLS_ALERT,/* the server answered with a TLS alert */
  CERTHUB_PROBE_PROTOCOL, /* not TLS, malformed, closed early, STARTTLS refused */
  CERTHUB_PROBE_ERROR     /* local failure (out of memory, too many files) */
} certhub_probe_status;

/* "ok", "dns", "refused", "timeout", "tls_alert", "protocol", "error". */
const char *certhub_probe_status_name(certhub_probe_status s);

/* Chain problems, a bit set. */
#define CERTHUB_CHAIN_UNKNOWN_ISSUER 0x0001u     /* no path to a trust anchor */
#define CERTHUB_CHAIN_SELF_SIGNED 0x0002u        /* leaf is self-signed */
#define CERTHUB_CHAIN_MISSING_INTERMEDIATE 0x0004u /* server did not send one */
#define CERTHUB_CHAIN_WRONG_ORDER 0x0008u        /* sent out of order */
#define CERTHUB_CHAIN_EXPIRED 0x0010u            /* leaf expired */
#define CERTHUB_CHAIN_EXPIRED_INTERMEDIATE 0x0020u /* a CA cert in the path */
#define CERTHUB_CHAIN_NOT_YET_VALID 0x0040u
#define CERTHUB_CHAIN_BAD_SIGNATURE 0x0080u
#define CERTHUB_CHAIN_OTHER 0x0100u              /* see verify_error */

/* "unknown_issuer", ... for bit b (one bit set), NULL for others. */
const char *certhub_chain_problem_name(unsigned bit);
/* "unknown_issuer,missing_intermediate" into buf (cut at len), "" for 0. */
void certhub_chain_problems_text(unsigned problems, char *buf, size_t len);
/* "TLSv1.3", ... "SSLv3" for a protocol version, "" if unknown. */
const char *certhub_tls_version_name(uint16_t v);

typedef enum certhub_ocsp_status {
  CERTHUB_OCSP_NONE = 0, /* nothing stapled */
  CERTHUB_OCSP_GOOD,
  CERTHUB_OCSP_REVOKED,
  CERTHUB_OCSP_UNKNOWN,  /* responder said "unknown" */
  CERTHUB_OCSP_INVALID   /* stapled but unparsable, wrong cert, or stale */
} certhub_ocsp_status;
const char *certhub_ocsp_status_name(certhub_ocsp_status s);

/* What the chain analysis found. */
typedef struct certhub_chain_check {
  bool trusted;             /* verifies against the trust store / CA file */
  unsigned problems;        /* CERTHUB_CHAIN_* */
  char verify_error[128];   /* OpenSSL's verify error text, "" when trusted */
  bool hostname_match;      /* RFC 6125 against the SNI name (or host) */
  int64_t earliest_not_after; /* over every presented certificate */
  int earliest_index;       /* 0 = leaf */
  certhub_ocsp_status ocsp;
  int64_t ocsp_next_update; /* 0 when unknown */
} certhub_chain_check;

/* The result of one probe (one address). */
typedef struct certhub_probe_result {
  const certhub_target *target;
  const char *address;      /* "192.0.2.1:443", "[2001:db8::1]:443"; NULL if DNS failed */
  certhub_probe_status status;
  const char *reason;       /* "" on success, else a clear sentence */
  int64_t started;          /* unix seconds (certhub_now()) */
  uint32_t connect_us, handshake_us, total_us;
  uint16_t tls_version;     /* 0x0304 ...; 0 when unknown */
  const char *tls_version_name; /* "TLSv1.3", "" unknown */
  const char *cipher;       /* IANA name, "" unknown */
  /* The chain as presented, in order, DER. */
  size_t chain_n;
  size_t chain_sent;        /* how many the server sent: more than chain_n
                             * when the chain was longer than max_chain */
  const uint8_t *const *chain_der;
  const size_t *chain_len;
  const uint8_t *ocsp_der;  /* stapled OCSPResponse or NULL */
  size_t ocsp_len;
  certhub_chain_check check; /* valid when status is OK and chain_n > 0 */
  /* With opts.legacy_check: bit 0 set when the server accepted TLS 1.0,
   * bit 1 for TLS 1.1 (a second, cheap connection per version). */
  unsigned legacy_accepted;
} certhub_probe_result;

typedef struct certhub_probe_opts {
  unsigned concurrency;    /* open connections at once; 0: 256 */
  unsigned per_host;       /* per address; 0: 16 */
  unsigned timeout_ms;     /* per probe, DNS to last byte; 0: 10000 */
  const char *ca_file;     /* trust these instead of the system store */
  const char *intermediates; /* PEM of known CA certs: tells a missing
                              * intermediate from an unknown issuer */
  const char *client_cert; /* PEM, for mTLS endpoints (with client_key) */
  const char *client_key;
  bool legacy_check;       /* also test whether TLS 1.0/1.1 is accepted */
  size_t max_chain;        /* certificates kept per chain; 0: 128 */
  size_t max_bytes;        /* bytes read per probe; 0: 1 MiB */
  /* Optional persistent cache of chain analyses, so that re-probing an
   * endpoint whose chain did not change skips the OpenSSL verification
   * across runs. Set both hooks or neither. Keys: trust_id, 32 bytes
   * identifying the trust (SHA-256 over the CA file's contents, or the
   * system store's file and directory listing, plus the intermediates
   * file), and chain, 32 bytes (SHA-256 over the presented chain). Both
   * run on the probing thread inside certhub_probe_run(), before the
   * result callback of the probe concerned: cache_get when the in-memory
   * cache misses, cache_put after each real verification. cache_get
   * returns true with *blob, *len set when it has an entry; the blob stays
   * owned by the callee and must stay valid until the next call of either
   * hook. cache_put's blob is borrowed for the call (copy it). Blobs are
   * opaque, versioned and validated on load: a bad one is ignored,
   * verified afresh and put again. A failing get is a miss; a put may
   * fail silently. The OCSP staple is never part of a blob. */
  bool (*cache_get)(void *cache_arg, const uint8_t trust_id[32],
                    const uint8_t chain[32], const uint8_t **blob,
                    size_t *len);
  void (*cache_put)(void *cache_arg, const uint8_t trust_id[32],
                    const uint8_t chain[32], const uint8_t *blob, size_t len);
  void *cache_arg;
} certhub_probe_opts;

typedef void (*certhub_probe_cb)(const certhub_probe_result *r, void *arg);

/* Probe n targets; cb runs once per probed address (once per target when DNS
 * fails). Returns CH_OK unless the run itself could not start. */
ch_err certhub_probe_run(const certhub_target *targets, size_t n,
                         const certhub_probe_opts *opts, certhub_probe_cb cb,
                         void *arg, char **errmsg /* OUT, caller frees */);

#endif
