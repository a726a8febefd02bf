/*
 * Private to lib/lifecycle: the compact copy of a certificate that
 * evaluation works on, threshold resolution against the configuration,
 * detail builders and the renewal runner.
 *
 * Ownership: an lc_set owns its certificates and every string in them (one
 * arena); an lc_match owns its resolved paths.
 */
#ifndef CH_LIFECYCLE_INT_H
#define CH_LIFECYCLE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certhub/lifecycle.h"
#include "core/core.h"

#define LC_ARENA_CAP ((size_t)2 << 30) /* the copied inventory */
#define LC_MAX_CERTS ((size_t)50000000)
#define LC_TAG_THRESHOLD "expiry_threshold_days"
#define LC_TAG_OWNER "owner"

typedef struct lc_place {
  const char *kind;
  const char *locator;
} lc_place;

/* What evaluation needs of a certificate row, copied out of the listing
 * so the store can be written while the certificates are processed. */
typedef struct lc_cert {
  int64_t rowid;
  const char *id, *arn, *sha256, *cn, *issuer, *type, *account, *region;
  int64_t not_before, not_after, days, first_seen;
  bool expired;              /* EXPIRED, else ISSUED */
  const char *tag_threshold; /* raw tag value, NULL when untagged */
  const char *owner;         /* NULL when untagged */
  lc_place *places;          /* where it is present */
  size_t n_places;
  size_t n_replaces, n_replaced_by;
} lc_cert;

typedef struct lc_set {
  struct ch_arena *arena;
  lc_cert *v;
  size_t n, cap;
} lc_set;

/* Copy every present (ISSUED or EXPIRED) certificate, or only rowid when
 * non-zero, sorted by not_after then id. */
ch_err ch_lc_collect(certhub_store *s, int64_t now, int64_t rowid,
                     lc_set *out /* OUT */);
void ch_lc_set_free(lc_set *set);

/* The configuration's paths resolved once per run for matching. */
typedef struct lc_path {
  char *abs;  /* absolute form of the configured path (or glob) */
  char *real; /* realpath of it (or of a glob's fixed directory), or NULL */
  bool glob;
} lc_path;

typedef struct lc_match {
  const certhub_config *cfg;
  lc_path **paths;    /* per source */
  char **ep_locators; /* per endpoint, NULL when the target did not parse */
} lc_match;

ch_err ch_lc_match_init(lc_match *m, const certhub_config *cfg);
void ch_lc_match_free(lc_match *m);
/* Index of the first configured source holding the file locator, or -1. */
long ch_lc_source_of(const lc_match *m, const char *locator);
/* The certificate's threshold in days (see lifecycle.h). *bad_tag is set
 * when an expiry_threshold_days tag was present but invalid. */
int ch_lc_threshold(const lc_match *m, const lc_cert *c,
                    bool *bad_tag /* OUT */);
/* The configured source with a renew_command holding c, or NULL. */
const certhub_source_cfg *ch_lc_renew_source(const lc_match *m,
                                             const lc_cert *c,
                                             const char **locator /* OUT */);

/* A JSON string of s; bytes that are not valid UTF-8 (a file name, a tag
 * set from a shell) become U+FFFD rather than failing the event. NULL only
 * when out of memory. */
json_t *ch_lc_json_str(const char *s);

/* Details (JSON object text, malloc'd) of the four events. */
char *ch_lc_detail_approaching(const lc_cert *c);
char *ch_lc_detail_expired(const lc_cert *c);
char *ch_lc_detail_available(const lc_cert *c, const char *action);
char *ch_lc_detail_renewal(const lc_cert *c, const char *reason);

#endif
