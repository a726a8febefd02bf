/*
 * certhub_store: the inventory's persistent store.
 *
 * The public functions here dispatch to a backend (a table of function
 * pointers, lib/store/store_int.h). SQLite is the default backend; a target
 * of "postgresql://..." will select PostgreSQL once that backend exists.
 * All SQL lives in lib/store/.
 *
 * Ownership: a certhub_store is owned by its opener and freed by
 * certhub_store_close(). Rows passed to callbacks are borrowed and valid only
 * during the callback. Arrays returned through OUT parameters are malloc'd
 * and owned by the caller (free()).
 */
#ifndef CERTHUB_STORE_H
#define CERTHUB_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "cert.h"
#include "certhub.h"
#include "probe.h"

typedef struct certhub_store certhub_store;

/* target: a file path ("sqlite:" prefix optional). Creates the file and its
 * parent directory if missing, applies pending migrations. On failure
 * *errmsg (if not NULL) receives a malloc'd message naming the target. */
ch_err certhub_store_open(const char *target, certhub_store **out /* OUT */,
                          char **errmsg /* OUT, caller frees */);
void certhub_store_close(certhub_store *s);

/* Last backend error text, borrowed, "" if none. */
const char *certhub_store_errmsg(const certhub_store *s);

/* Schema version after migrations. */
ch_err certhub_store_schema_version(certhub_store *s, int *version /* OUT */);

/* Transactions. Savepoints nest inside a transaction: one level is enough
 * for the importer (one savepoint per file). */
ch_err certhub_store_begin(certhub_store *s);
ch_err certhub_store_commit(certhub_store *s);
ch_err certhub_store_rollback(certhub_store *s);
ch_err certhub_store_savepoint(certhub_store *s);
ch_err certhub_store_release(certhub_store *s);
ch_err certhub_store_rollback_to(certhub_store *s); /* and release */

/* WAL checkpoints off a writer's path (certhub_http runs a checkpointer
 * thread on a handle of its own). After certhub_store_wal_external(s,
 * fallback) a commit on s no longer checkpoints the WAL unless it has
 * reached `fallback` pages (0: never), and certhub_store_wal_pages() gives
 * the WAL's size in pages after s's last commit (0 before one). The other
 * handles of the same database (CLI commands, serve's loops) keep the
 * default. certhub_store_checkpoint(): one checkpoint of the WAL, PASSIVE
 * (copies what no reader still needs; never waits), or with restart the
 * WAL is also rewound to its start, waiting up to the busy timeout for
 * readers and the writer; *wal_pages and *done (may be NULL) get the WAL's
 * pages and those copied into the database. CH_ERR_UNSUPPORTED: a backend
 * without a WAL. */
ch_err certhub_store_wal_external(certhub_store *s, unsigned fallback);
unsigned certhub_store_wal_pages(const certhub_store *s);
ch_err certhub_store_checkpoint(certhub_store *s, bool restart,
                                unsigned *wal_pages /* OUT */,
                                unsigned *done /* OUT */);

/* The handle's page cache since it was opened: pages found in it, pages
 * read from the database or WAL file (misses), pages written (to the WAL).
 * CH_ERR_UNSUPPORTED (all 0): a backend without one. */
typedef struct certhub_store_cache {
  uint64_t hits, misses, writes;
} certhub_store_cache;
ch_err certhub_store_cache_stats(const certhub_store *s,
                                 certhub_store_cache *out /* OUT */);

/* For a long-running process whose handles keep their page caches (certhub
 * serve's API writer): reserve room for `handles` handles' caches (and a
 * quarter of one more) in one region, faulted in 2 MiB at a time instead
 * of 4 KiB (a first touch of a page costs ~15 us of CPU on a VM). The region
 * is resident from the first open to the process's end: about 68 MiB per
 * handle. Before any store is opened in the process: CH_ERR_BUSY after
 * (then the caches use malloc, as without it); CH_ERR_USAGE over 16. */
ch_err certhub_store_reserve_cache(unsigned handles);

/* Labels put on certificates by an import. NULL members are left alone on
 * existing certificates; new certificates get defaults (account
 * "000000000000", region "local"). Tags are set (key replaced). */
typedef struct certhub_labels {
  const char *account;
  const char *region;
  const char *const *tag_keys;
  const char *const *tag_values;
  size_t n_tags;
} certhub_labels;

/* Source kinds. A source is a place a certificate was seen. */
#define CERTHUB_SOURCE_FILE "file"     /* locator: absolute path */
#define CERTHUB_SOURCE_STDIN "stdin"   /* locator: "-" ; never goes absent */
#define CERTHUB_SOURCE_ENDPOINT "endpoint" /* locator: certhub_target_locator() */

/* Find or create the source (kind, locator). */
ch_err certhub_store_source(certhub_store *s, const char *kind,
                            const char *locator, int64_t *source_id /* OUT */);

/* Start a scan of one source: returns a scan id that sightings made during
 * this scan carry. */
ch_err certhub_store_scan_begin(certhub_store *s, int64_t source_id,
                                int64_t now, int64_t *scan_id /* OUT */);

/* Insert or update a certificate (identity: SHA-256) and record that it was
 * seen at source_id, position (1-based within the source) in scan_id.
 * Idempotent: re-putting updates last_seen and the sighting. */
ch_err certhub_store_put_cert(certhub_store *s, const certhub_cert *c,
                              const certhub_labels *labels, int64_t source_id,
                              unsigned position, int64_t scan_id, int64_t now,
                              int64_t *cert_rowid /* OUT, may be NULL */,
                              bool *created /* OUT, may be NULL */);

/* Finish a complete scan of source_id: sightings there not refreshed by
 * scan_id are marked absent; a certificate that appeared in this scan at a
 * source where a certificate with the same subject or the same SAN set went
 * absent in this scan is recorded as that one's replacement (renewal link).
 * Only call this after the whole source was read without error. */
ch_err certhub_store_scan_finish(certhub_store *s, int64_t source_id,
                                 int64_t scan_id, int64_t now,
                                 unsigned *n_gone /* OUT, may be NULL */,
                                 unsigned *n_replaced /* OUT, may be NULL */);

/* Statuses, derived at query time from `now` and the sightings:
 * INACTIVE when no source holds it any more, else EXPIRED once not_after
 * <= now, else ISSUED. */
#define CERTHUB_STATUS_ISSUED "ISSUED"
#define CERTHUB_STATUS_EXPIRED "EXPIRED"
#define CERTHUB_STATUS_INACTIVE "INACTIVE"

typedef struct certhub_tag {
  const char *key;
  const char *value;
} certhub_tag;

typedef struct certhub_sighting {
  const char *kind;
  const char *locator;
  unsigned position;
  bool present;
  int64_t first_seen;
  int64_t last_seen;
} certhub_sighting;

/* One certificate as stored. All pointers borrowed for the callback. */
typedef struct certhub_cert_row {
  int64_t rowid;
  const char *id;          /* short ID */
  const char *arn;         /* arn:certhub:acm:REGION:ACCOUNT:certificate/UUID */
  const char *sha256;      /* hex */
  const char *sha1;        /* hex */
  const char *subject;
  const char *common_name; /* may be NULL */
  const char *issuer;
  const char *issuer_cn;   /* may be NULL */
  const char *serial;
  int64_t not_before;
  int64_t not_after;
  int64_t days_to_expiry;  /* certhub_days_to_expiry(not_after, now) */
  const char *key_alg;
  int key_bits;
  const char *key_curve;   /* may be NULL */
  const char *sig_alg;
  bool is_ca;
  int path_len;            /* -1 when absent */
  bool self_signed;
  const char *key_usage;     /* comma-separated names, "" if absent */
  const char *ext_key_usage; /* comma-separated, "" if absent */
  const certhub_san *sans;
  size_t n_sans;
  const char *type;    /* IMPORTED (MANAGED later) */
  const char *status;  /* CERTHUB_STATUS_* */
  const char *account;
  const char *region;
  int64_t first_seen;
  int64_t last_seen;
  const certhub_tag *tags; /* sorted by key */
  size_t n_tags;
  const certhub_sighting *sources; /* present first, then by locator */
  size_t n_sources;
  const char *const *issuer_ids; /* short IDs of issuing certs in the store */
  size_t n_issuer_ids;
  const char *const *replaced_by; /* short IDs of renewals of this cert */
  size_t n_replaced_by;
  const char *const *replaces;    /* short IDs this cert renewed */
  size_t n_replaces;
} certhub_cert_row;

typedef struct certhub_filter {
  int64_t rowid;               /* 0: any */
  bool expiring;               /* with expiring_within: not expired and */
  int64_t expiring_within;     /*   days_to_expiry <= expiring_within */
  bool expired;                /* not_after <= now */
  const char *status;          /* CERTHUB_STATUS_* or NULL */
  const certhub_tag *tags;     /* all must match (value NULL: key exists) */
  size_t n_tags;
  const char *issuer;          /* case-insensitive substring of issuer */
  const char *search;          /* case-insensitive substring of CN, subject,
                                  SANs, issuer, serial, id, sha256, source */
  bool intermediates;          /* CA certificates not self-signed only */
  size_t limit;                /* 0: no limit */
} certhub_filter;

/* Rows matching f, sorted by not_after ascending, then common name, then
 * id. cb returning non-CH_OK stops the walk and is returned. */
typedef ch_err (*certhub_row_cb)(void *ctx, const certhub_cert_row *row);
ch_err certhub_store_list(certhub_store *s, const certhub_filter *f,
                          int64_t now, certhub_row_cb cb, void *ctx);

/* Resolve a user's reference to row ids: a short ID or unique prefix of it
 * (>= 4 hex chars), a SHA-256 or SHA-1 fingerprint (colons and case
 * ignored) or unique prefix, an ARN, or a source locator (a path is made
 * absolute first): all certificates seen there. CH_ERR_NOTFOUND,
 * CH_ERR_AMBIGUOUS (prefix matched several certificates). */
ch_err certhub_store_resolve(certhub_store *s, const char *ref,
                             int64_t **rowids /* OUT */, size_t *n /* OUT */);

ch_err certhub_store_get_der(certhub_store *s, int64_t rowid,
                             uint8_t **der /* OUT */, size_t *len /* OUT */);

/* Row ids of certificates whose subject is rowid's issuer (key identifiers
 * must agree when both present). Self-issued certificates are excluded. */
ch_err certhub_store_issuers(certhub_store *s, int64_t rowid,
                             int64_t **rowids /* OUT */, size_t *n /* OUT */);

ch_err certhub_store_tag_set(certhub_store *s, int64_t rowid, const char *key,
                             const char *value);
/* CH_ERR_NOTFOUND if the tag was not there. */
ch_err certhub_store_tag_remove(certhub_store *s, int64_t rowid,
                                const char *key);
/* Deletes the certificate with its sightings, tags and renewal links. */
ch_err certhub_store_delete(certhub_store *s, int64_t rowid);

/* Counts for summaries. */
typedef struct certhub_store_counts {
  uint64_t certs;
  uint64_t sources;
  uint64_t sightings;
} certhub_store_counts;
ch_err certhub_store_counts_get(certhub_store *s,
                                certhub_store_counts *out /* OUT */);

/*
 * Endpoints and probes (certhub probe).
 *
 * An endpoint is one probed TLS service, identified by its locator (from
 * certhub_target_locator()); it owns an inventory source of kind
 * CERTHUB_SOURCE_ENDPOINT with the same locator, so the certificates it
 * presents are sighted there like files are. Each probe is a row; at most
 * CERTHUB_PROBES_KEPT are kept per endpoint, older ones are deleted.
 */
#define CERTHUB_PROBES_KEPT 50

/* Record one probe result (one address) in one transaction: find or create
 * the endpoint and its source, set the labels' tags on it (NULL: the
 * target's tags; existing keys are replaced, others kept), insert the
 * probe row. When the status is OK the chain
 * is a complete scan of the source: every presented certificate is put
 * (position = index + 1, with labels), certificates no longer presented
 * there go absent and renewals are linked. A failed probe changes no
 * sightings: the last known chain stays. A certificate that does not
 * parse is kept out of the inventory (the probe row still counts it in
 * chain_n) and the others are stored. */
ch_err certhub_store_put_probe(certhub_store *s,
                               const certhub_probe_result *r,
                               const char *locator,
                               const certhub_labels *labels, int64_t now,
                               int64_t *probe_id /* OUT, may be NULL */);

/* One stored probe. Strings borrowed for the callback. */
typedef struct certhub_probe_row {
  int64_t id;
  int64_t endpoint_id;
  int64_t started;
  certhub_probe_status status;
  const char *reason;
  const char *address;     /* "" when DNS failed */
  uint32_t connect_us;
  uint32_t handshake_us;
  uint32_t total_us;
  uint16_t tls_version;    /* 0x0304, 0 unknown */
  const char *cipher;      /* "" unknown */
  bool trusted;
  unsigned problems;       /* CERTHUB_CHAIN_* */
  const char *verify_error;
  bool hostname_match;
  int64_t earliest_not_after; /* 0 when no chain */
  int earliest_index;
  certhub_ocsp_status ocsp;
  int64_t ocsp_next_update;
  const char *chain_sha256; /* SHA-256 over the chain's DER, hex; "" none */
  unsigned chain_n;
  unsigned legacy_accepted;
} certhub_probe_row;

typedef struct certhub_endpoint_row {
  int64_t id;
  int64_t source_id;
  const char *locator;
  const char *spec;
  const char *host;
  unsigned port;
  const char *sni;      /* "" when none was set */
  const char *starttls; /* "" direct TLS */
  const char *address;  /* last probed address, "" unknown */
  int64_t first_seen;
  const certhub_tag *tags; /* sorted by key */
  size_t n_tags;
  bool has_probe;
  certhub_probe_row last; /* valid when has_probe */
} certhub_endpoint_row;

typedef struct certhub_endpoint_filter {
  int status;        /* -1: any, else a certhub_probe_status of the last */
  unsigned problems; /* 0: any, else the last probe has one of these bits */
  const char *owner; /* NULL: any, else the "owner" tag equals this */
} certhub_endpoint_filter;

/* Endpoints sorted by locator with their last probe. */
typedef ch_err (*certhub_endpoint_cb)(void *ctx,
                                      const certhub_endpoint_row *row);
ch_err certhub_store_endpoints(certhub_store *s,
                               const certhub_endpoint_filter *f /* NULL: all */,
                               certhub_endpoint_cb cb, void *ctx);

/* Resolve ENDPOINT: an endpoint id ("12" or "#12"), an exact locator or
 * spec, or a host when exactly one endpoint has it. CH_ERR_NOTFOUND,
 * CH_ERR_AMBIGUOUS. */
ch_err certhub_store_endpoint_resolve(certhub_store *s, const char *ref,
                                      int64_t *endpoint_id /* OUT */);

/* A certificate of the last presented chain. */
typedef struct certhub_chain_entry {
  unsigned position; /* 1 = leaf */
  const char *id;    /* short ID */
  const char *sha256;
  const char *subject;
  const char *common_name; /* may be NULL */
  const char *issuer;
  int64_t not_before;
  int64_t not_after;
} certhub_chain_entry;

typedef struct certhub_endpoint_detail {
  certhub_endpoint_row ep;
  /* The last known chain: the certificates present at the endpoint's
   * source, from the last successful probe (failures keep it). */
  const certhub_chain_entry *chain;
  size_t chain_n;
  const certhub_probe_row *history; /* newest first */
  size_t n_history;
} certhub_endpoint_detail;

typedef ch_err (*certhub_endpoint_detail_cb)(
    void *ctx, const certhub_endpoint_detail *d);
/* One endpoint with its chain and up to max_history probes. */
ch_err certhub_store_endpoint_describe(certhub_store *s, int64_t endpoint_id,
                                       size_t max_history,
                                       certhub_endpoint_detail_cb cb,
                                       void *ctx);

/*
 * The persistent chain-analysis cache behind certhub probe's cache_get /
 * cache_put hooks (certhub_probe_opts). A row holds an opaque blob under
 * (trust_id, chain_key), both 32 bytes chosen by the prober (verify.c: the
 * trust store's identity and the SHA-256 over the presented chain). The
 * store does not interpret blobs; the prober validates them on load.
 */
#define CERTHUB_CHAIN_CHECK_MAX ((size_t)1 << 20) /* bytes per blob */
#define CERTHUB_CHAIN_CHECK_TTL (30 * 86400)      /* unused rows expire */

/* Look a blob up. *found false: no row (*blob NULL, *len 0). *blob is
 * borrowed from the handle, valid until the next chain_check call on s or
 * certhub_store_close(). A hit refreshes the row's last_used (at most
 * once a day, so steady-state reads stay reads). */
ch_err certhub_store_chain_check_get(certhub_store *s,
                                     const uint8_t trust_id[32],
                                     const uint8_t chain_key[32], int64_t now,
                                     const uint8_t **blob /* OUT */,
                                     size_t *len /* OUT */,
                                     bool *found /* OUT */);
/* Insert or replace a blob (at most CERTHUB_CHAIN_CHECK_MAX bytes, else
 * CH_ERR_TOOBIG). The first put on a handle also deletes the rows unused
 * for CERTHUB_CHAIN_CHECK_TTL seconds before now. */
ch_err certhub_store_chain_check_put(certhub_store *s,
                                     const uint8_t trust_id[32],
                                     const uint8_t chain_key[32],
                                     const uint8_t *blob, size_t len,
                                     int64_t now);

/*
 * Lifecycle marks: once-only markers kept across runs by lifecycle
 * evaluation (lib/lifecycle), e.g. "renew:<sha256>:30" for a renewal
 * milestone attempted. Generic: the store does not interpret keys.
 */
#define CERTHUB_MARK_KEY_MAX 512

/* Set key (first time: created = now). *was_new (may be NULL) is true
 * when the mark did not exist before; an existing mark is left as is. */
ch_err certhub_store_mark_set(certhub_store *s, const char *key, int64_t now,
                              bool *was_new /* OUT, may be NULL */);
/* *found tells whether key is set; *created (may be NULL) when it was. */
ch_err certhub_store_mark_get(certhub_store *s, const char *key,
                              bool *found /* OUT */,
                              int64_t *created /* OUT, may be NULL */);

#endif
