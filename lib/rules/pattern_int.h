/*
 * The compiled form of an event pattern, shared by the reference matcher
 * (pattern.c) and the compiled ruleset (ruleset.c), which reads the
 * alternatives and matchers of each pattern it adds. Everything lives in
 * the pattern's arena and is read-only after certhub_pattern_compile.
 */
#ifndef CH_PATTERN_INT_H
#define CH_PATTERN_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "certhub/pattern.h"
#include "core/core.h"
#include "fold.h"

#define PAT_ARENA_CAP (8u << 20) /* compiled pattern, generous */
#define EV_ARENA_CAP (64u << 20) /* flattened event */
#define EV_MAX_DEPTH 100         /* nesting of objects and arrays */
#define EV_MAX_LEAVES 200000     /* leaves of one event */
#define MATCH_MAX_STEPS 5000000  /* binding attempts per match */
#define NUMERIC_LIMIT 5.0e9

enum mkind {
  M_STRING,
  M_NUMBER,
  M_TRUE,
  M_FALSE,
  M_NULL,
  M_PREFIX,
  M_SUFFIX,
  M_EIC,
  M_WILDCARD,
  M_NUMERIC,
  M_EXISTS,
  M_CIDR,
  M_ANYBUT,
};

struct matcher {
  enum mkind kind;
  bool icase;    /* M_PREFIX, M_SUFFIX */
  bool exists;   /* M_EXISTS */
  const char *s; /* M_STRING, M_PREFIX, M_SUFFIX, M_EIC */
  size_t slen;
  /* ignoring case with s not all ASCII: s's code points (fold.h), else
   * NULL and the ASCII letters of s are folded byte by byte */
  const struct ch_fold_unit *fu;
  size_t nfu;
  double num; /* M_NUMBER */
  /* M_NUMERIC */
  bool has_lo, lo_incl, has_hi, hi_incl;
  double lo, hi;
  /* M_WILDCARD: literal segments between unescaped stars */
  const char **seg;
  size_t *seglen;
  size_t nseg;
  /* M_CIDR */
  int family;
  unsigned char addr[16];
  unsigned prefix;
  /* M_ANYBUT: excluded when any inner matcher accepts */
  struct matcher *inner;
  size_t ninner;
};

struct leaf {
  const char *path;
  struct matcher *m;
  size_t nm;
};

struct alt {
  struct leaf **v;
  size_t n;
};

struct alts {
  struct alt *v;
  size_t n;
};

struct certhub_pattern {
  struct ch_arena *arena;
  struct alts dnf;
  /* The distinct leaf paths; every leaf's path points to one of these,
   * so paths compare by pointer. */
  const char **paths;
  size_t npaths;
};

/* certhub_pattern_compile / certhub_ruleset_add with another length limit
 * (characters) than CERTHUB_PATTERN_MAX_LEN: SNS filter policies
 * (lib/notify/filter.c) may be 256 KB. */
ch_err ch_pattern_compile_max(const char *json, size_t len, size_t max_chars,
                              certhub_pattern **out, char **errmsg);
struct certhub_ruleset;
ch_err ch_ruleset_add_max(struct certhub_ruleset *rs, const char *name,
                          const char *pattern_json, size_t len,
                          size_t max_chars, size_t *index, char **errmsg);

#endif
