/*
 * certhub lifecycle evaluation: the inventory turned into ACM's four
 * lifecycle events (certhub evaluate), a managed-renewal hook, and the
 * weekly batch of certificates within their threshold.
 *
 * Events (detail fields and types as ACM sends them, EventBridge envelope):
 *
 *   ACM Certificate Approaching Expiration  every UTC day an active
 *       (ISSUED) certificate has 0 <= DaysToExpiry <= its threshold;
 *       dedupe_key "approaching:<sha256>:<YYYY-MM-DD>" (days nothing ran
 *       on are not back-filled).
 *   ACM Certificate Expired  once, for a certificate still present
 *       somewhere after notAfter (EXPIRED, not INACTIVE);
 *       dedupe_key "expired:<sha256>".
 *   ACM Certificate Available  once per certificate present somewhere:
 *       Action RENEWAL when a managed renewal produced it, REIMPORT when
 *       it replaced another at the same source (a renewal link), else
 *       IMPORT; dedupe_key "available:<sha256>".
 *   ACM Certificate Renewal Action Required  when a source's
 *       renew_command failed at a milestone (45, 30, 15, 3, 1 days);
 *       dedupe_key "renewal:<sha256>:<milestone>".
 *
 * Threshold of a certificate: the tag expiry_threshold_days (1-365) if
 * valid, else the largest threshold among the places it is present (the
 * earliest warning wins): for a file, the first configured source whose
 * paths hold it (a path equal to the file, a directory above it, or a glob
 * matching it or a directory above it; excludes honoured), its
 * expiry_threshold_days or the top-level one; for an endpoint, the
 * configured endpoint's expiry_threshold_days or the top-level one; for
 * anything else the top-level one.
 *
 * Ownership: the caller owns every argument; events passed to the sink are
 * borrowed for the call. *out of the JSON helpers is a new reference.
 */
#ifndef CERTHUB_LIFECYCLE_H
#define CERTHUB_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "certhub.h"
#include "config.h"
#include "event.h"
#include "store.h"

/* Where evaluation sends events. Contract of put: an event whose
 * dedupe_key was stored before is not stored again and *stored is false;
 * otherwise it is stored (and routed) and *stored is true. A non-CH_OK
 * result stops the evaluation. */
typedef struct certhub_event_sink {
  void *ctx;
  ch_err (*put)(void *ctx, const certhub_event *ev, bool *stored /* OUT */);
} certhub_event_sink;

/* Event kinds, for statistics. */
enum certhub_lifecycle_kind {
  CERTHUB_LC_APPROACHING,
  CERTHUB_LC_EXPIRED,
  CERTHUB_LC_AVAILABLE,
  CERTHUB_LC_RENEWAL_ACTION,
  CERTHUB_LC__N
};

/* A warning (invalid tag, renewal output, ...): cert_id may be NULL. */
typedef void (*certhub_lifecycle_warn_cb)(void *ctx, const char *cert_id,
                                          const char *msg);

typedef struct certhub_lifecycle_opts {
  int64_t now;
  /* Event source: NULL for the config's event_source, else
   * CERTHUB_DEFAULT_EVENT_SOURCE. */
  const char *source;
  /* Run no renewal command and set no mark: only report events. */
  bool dry_run;
  certhub_lifecycle_warn_cb on_warning; /* may be NULL */
  void *ctx;
} certhub_lifecycle_opts;

typedef struct certhub_lifecycle_stats {
  uint64_t certificates;           /* present certificates evaluated */
  uint64_t emitted[CERTHUB_LC__N]; /* stored by the sink */
  uint64_t deduped[CERTHUB_LC__N]; /* already stored before */
  uint64_t renewal_attempts;       /* commands run */
  uint64_t renewal_failures;       /* of those, failed */
  uint64_t warnings;
} certhub_lifecycle_stats;

/* The milestones (days to expiry) of managed renewal, as ACM's. */
/* clang-format off */
#define CERTHUB_RENEWAL_MILESTONES {45, 30, 15, 3, 1}
/* clang-format on */

/* certhub's own RenewalStatusReason values, next to ACM's (CAA_ERROR,
 * DOMAIN_NOT_ALLOWED, ...): the command exited non-zero or was killed by a
 * signal; ran past renew_timeout; could not be started; succeeded but the
 * source holds no renewal; succeeded but re-reading the source failed. */
#define CERTHUB_RENEWAL_COMMAND_FAILED "COMMAND_FAILED"
#define CERTHUB_RENEWAL_COMMAND_TIMEOUT "COMMAND_TIMEOUT"
#define CERTHUB_RENEWAL_EXEC_FAILED "COMMAND_NOT_RUN"
#define CERTHUB_RENEWAL_NO_NEW_CERT "NO_NEW_CERTIFICATE"
#define CERTHUB_RENEWAL_REIMPORT_FAILED "REIMPORT_FAILED"

/* Bytes of a renewal command's stdout (and of its stderr) kept for the
 * warning; the rest is read and dropped. */
#define CERTHUB_RENEWAL_OUTPUT_MAX ((size_t)64 << 10)

/* Evaluate every certificate in s against cfg at opts->now, putting due
 * events into sink in a deterministic order (not_after, then id). Runs
 * due renewal commands unless dry_run. stats (may be NULL) is zeroed
 * first. Errors: the sink's, the store's (certhub_store_errmsg), or
 * CH_ERR_USAGE. */
ch_err certhub_lifecycle_evaluate(certhub_store *s, const certhub_config *cfg,
                                  const certhub_lifecycle_opts *opts,
                                  const certhub_event_sink *sink,
                                  certhub_lifecycle_stats *stats /* OUT */);

/* The detail of the weekly scheduled batch event: {"certificates": [...],
 * "count": n, "generatedAt": RFC 3339}, every ISSUED certificate within its
 * threshold (the rules above), sorted by DaysToExpiry, then the owner tag
 * (certificates without one last), then CommonName, then Id; each with
 * Id, Arn, CommonName, DaysToExpiry, NotAfter, Issuer, Owner (null when
 * untagged) and Sources (present locators). */
ch_err certhub_lifecycle_batch(certhub_store *s, const certhub_config *cfg,
                               int64_t now, json_t **out /* OUT */);

/* The bounded form of a batch event (an envelope whose detail has a
 * "certificates" array) of len bytes for a target with a smaller limit (a
 * topic message: 256 KiB): the envelope with detail.certificates cut to
 * the most urgent ones (by DaysToExpiry, the event's order among equals)
 * that fit in max bytes, detail.count the total (the event's count, or
 * the array's length when larger) and detail.truncated true. *out
 * (malloc'd, NUL-terminated, *out_len bytes <= max) is NULL when the event
 * already fits; *listed (may be NULL) is the number kept. Errors:
 * CH_ERR_PARSE (not JSON, or no detail.certificates array), CH_ERR_TOOBIG
 * (even the envelope without certificates is larger than max),
 * CH_ERR_NOMEM. */
ch_err certhub_lifecycle_batch_cut(const char *event, size_t len, size_t max,
                                   char **out /* OUT */,
                                   size_t *out_len /* OUT */,
                                   size_t *listed /* OUT */);

#endif
