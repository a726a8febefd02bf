/*
 * The compiled ruleset: all rules' patterns in one structure, matched in
 * one pass over the event (include/certhub/ruleset.h has the contract).
 *
 * Design
 *
 * - Rules are compiled by certhub_pattern_compile (same validation) into
 *   alternatives ($or expanded), each a list of conditions: a dotted path
 *   and the matchers of its value array (pattern_int.h). A condition is
 *   shared by the alternatives of its rule that contain it.
 * - Field paths are interned into one hash table of nodes: every rule path
 *   and every proper prefix of one ending before a '.', so that both
 *   {"a":{"b":..}} and {"a.b":..} in the event reach node "a.b". The
 *   event flattener hashes the path incrementally as it descends and
 *   enters a value only when its path is a node; everything else is
 *   skipped (validated, not decoded).
 * - Per rule path, the matchers are dispatched by value: exact strings,
 *   numbers (by value, so 300 = 3.0e2) and equals-ignore-case strings
 *   through one hash table keyed by (path, value); prefixes and suffixes
 *   (each also ignoring case) through byte tries walked once per value
 *   (suffixes reversed; a node with several children finds them through
 *   a table by byte); true/false/null/exists by lists; numeric ranges
 *   with both bounds sorted by lower bound (a binary search, then the
 *   ones starting within the widest range's width below the value), the
 *   others as an unpacked array; wildcards that are a literal, a prefix
 *   or a suffix join the hash table and tries, other wildcards are
 *   checked in turn once per distinct wildcard; anything-but on strings
 *   is "every entry but those excluded": its inner values, prefixes,
 *   suffixes and wildcards sit in the same table, tries and wildcard list
 *   as exclusions, so a value's one set of walks gives both its hits and
 *   the entries it excludes; cidr, anything-but on other types and with
 *   non-ASCII ignore-case values by a per-path list checked in turn, as
 *   are prefixes and suffixes ignoring the case of non-ASCII values
 *   (fold.h: forms may differ in length, the event is not folded);
 *   non-ASCII equals-ignore-case values are in the hash table by the
 *   hash of their key (fold.h), one entry per pattern string, each
 *   candidate checked. So a string value costs a few lookups and a walk
 *   bounded by its length, whatever the number of rules of those kinds,
 *   plus one step per anything-but entry it does not exclude; wildcards
 *   with inner stars, cidr and non-ASCII ignore-case prefixes and
 *   suffixes cost one check each.
 * - A real read only by ranges is approximated from its digits (within
 *   2^-51 of the exact double); a bound closer than 2^-50 of it makes
 *   the number exact first, so answers are those of the exact value
 *   while most coordinates never pay for an exact conversion.
 * - Each accepting (condition, event leaf) pair is a hit. A hit of a
 *   condition that is its rule's only one matches the rule at once (no
 *   hit kept; a duplicate key that kills leaves makes the event be read
 *   again keeping every hit). After the event is read, the other hits
 *   bump per-alternative counters (stamped with an epoch,
 *   so nothing is cleared between events); an alternative whose
 *   conditions are all satisfied (or absent for exists:false) is then
 *   checked for array consistency, only among the conditions whose leaves
 *   all sit inside arrays: a leaf outside every array agrees with any
 *   other. That check is the reference's search, over hits only. Array
 *   positions are kept only for leaves on paths that an alternative with
 *   two or more conditions reads.
 * - Duplicate keys: jansson (and so the reference) keeps the last value of
 *   a repeated key; the flattener marks the leaves of the earlier value
 *   dead, so the answer is the same.
 *
 * - Values no rule reads are validated, not decoded: containers in
 *   64-byte blocks from SIMD bit masks (sk_blocks, simdjson's two stages),
 *   falling back to a byte-wise reader (sk_any) for whatever the blocks
 *   do not handle, so errors have one source. Event keys of up to 8
 *   bytes are looked up in a per-node table of children (struct kids);
 *   the usual member of an object on a rule path, `"key":` with a plain
 *   key of up to 13 bytes, is recognised by one 16-byte compare per
 *   child, and its number, when the path takes it inline, is decided
 *   from its first 8 digits when the path's last number's interval
 *   (struct rcache) already settles it.
 *
 * The event flattener is hand-written: a generic JSON library builds a
 * tree of every value (jansson parses the benchmark's 1 KB events 20-30x
 * slower than this whole matcher) when a rule reads a handful of them. It
 * still validates the whole event exactly as jansson does (grammar, UTF-8,
 * escapes and surrogates, no \u0000, integers that fit in 64 bits, reals
 * that do not overflow, at most 2048 levels), so an event is refused here
 * exactly when the reference refuses it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "certhub/ruleset.h"
#include "pattern_int.h"
#include "rules_int.h"
#include "ruleset_int.h"

#define JSON_MAX_DEPTH 2048         /* jansson's JSON_PARSER_MAX_DEPTH */
#define SCRATCH_MAX_CTX (4u << 20)  /* array positions of kept leaves */
#define SCRATCH_MAX_HITS (4u << 20) /* (condition, leaf) pairs per event */
#define SCRATCH_MAX_KEYS (1u << 20) /* keys on rule paths being read */
#define NONE UINT32_MAX
#define MARKER (UINT32_MAX - 1) /* a leaf standing for "too deep here" */

/* --- growing arrays ------------------------------------------------------ */

/* Grow *v (of elem-size items, *cap of them) to hold need; false on
 * overflow of max or allocation failure. */
static bool grow(void **v, size_t *cap, size_t need, size_t elem, size_t max)
{
  if(need <= *cap)
    return true;
  if(need > max)
    return false;
  size_t n = *cap ? *cap : 16;
  while(n < need)
    n *= 2;
  if(n > max)
    n = max;
  void *nv = realloc(*v, n * elem);
  if(!nv)
    return false;
  *v = nv;
  *cap = n;
  return true;
}

struct u32v {
  uint32_t *v;
  size_t n, cap;
};

static bool u32_push(struct u32v *a, uint32_t x)
{
  if(!grow((void **)&a->v, &a->cap, a->n + 1, sizeof(*a->v), SIZE_MAX / 8))
    return false;
  a->v[a->n++] = x;
  return true;
}

/* --- the compiled ruleset ------------------------------------------------ */

#define FNV_OFF 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
  const unsigned char *s = p;
  for(size_t i = 0; i < n; i++)
    h = (h ^ s[i]) * FNV_PRIME;
  return h;
}

/* The child nodes of a node (or of the root) whose key (the part after
 * the parent's path and '.') is at most 8 bytes, as little-endian words
 * zero-padded: an event key is looked up by one word compare per child
 * instead of a hash of the path. Past KIDS_MAX such children, `over` and
 * the hash table answers. */
#define KIDS_MAX 8
#define RBITS_WORDS 8   /* scratch bitmode up to 512 rules */
#define KIDS_TOKMAX 13  /* '"', key, '"', ':' in 16 bytes */
#define KIDS_LTOKMAX 29 /* the same in 32 bytes */
#define KIDS_LMAX 2
struct kids {
  uint64_t key[KIDS_MAX];
  uint32_t node[KIDS_MAX];
  uint8_t len[KIDS_MAX];
  uint8_t n;
  bool over;
  /* The children whose key is at most KIDS_TOKMAX bytes of printable
   * ASCII without '"' or '\\' (all, usually; KIDS_MAX of them at most),
   * as the member start the event holds when it has no whitespace,
   * `"key":`, padded to 16 bytes; tokmask has a bit per byte of it: a
   * member is recognised by one 16-byte compare per child. tokpart: some
   * child of at most KIDS_TOKMAX bytes is not there (else a plain key of
   * that length matching none is no child's). */
  bool tokpart;
  uint8_t ntok;
  uint16_t tokmask[KIDS_MAX];
  uint8_t toklen[KIDS_MAX]; /* bytes of the member start, `"key":` */
  uint32_t toknode[KIDS_MAX];
  /* the child's rule path when numbers there are read inline (object():
   * no exact number or anything-but needs their exact value), else NONE;
   * kept by tok_refresh as rules are added */
  uint32_t toknum[KIDS_MAX];
  unsigned char tok[KIDS_MAX][16];
  /* the same for keys of KIDS_TOKMAX + 1 to KIDS_LTOKMAX bytes (the
   * first KIDS_LMAX of them), in 32 bytes: such a member is found
   * without the key's hash (geometry's "firstCoordinates") */
  uint8_t nltok;
  uint32_t ltokmask[KIDS_LMAX];
  uint32_t ltoknode[KIDS_LMAX];
  unsigned char ltok[KIDS_LMAX][32];
};

/* A path node: a rule path, or a proper prefix of one before a '.'. */
struct node {
  struct kids kids;
  char *path;
  size_t len;
  uint64_t hash;
  uint32_t leafpath; /* index in paths, or NONE */
  uint32_t parent;   /* the node of path[0..koff - 1), or NONE */
  uint32_t koff;     /* after the last '.', or 0 */
};

struct gen { /* an operator checked in turn */
  const struct matcher *m;
  uint32_t cond;
};

struct genv {
  struct gen *v;
  size_t n, cap;
};

/* Prefixes (or reversed suffixes) of one path, as a byte trie: a string
 * value walks it once, whatever the number of rules. Children are a
 * sibling list (short in practice; at most 256). */
struct tnode {
  uint32_t child, sib;
  uint32_t
      dense; /* its children by byte at trie dense[256 * dense], or NONE */
  uint32_t nkids;
  unsigned char byte;
  struct u32v conds; /* the prefixes ending here */
  struct u32v nots;  /* anything-but entries they exclude (struct rpath ab) */
};

/* A node with TRIE_DENSE children or more finds them by byte in a table
 * of 256 (a value's byte is otherwise compared with each sibling: the
 * root of 2,000 prefixes has tens); at most one table per TRIE_DENSE
 * nodes. */
#define TRIE_DENSE 4
struct trie {
  struct tnode *v; /* v[0] is the root (the empty prefix) */
  size_t n, cap;
  uint32_t *dense; /* ndense tables of 256 child indexes (NONE: none) */
  size_t ndense, capdense;
};

struct range { /* a numeric matcher, unpacked for a tight loop */
  double lo, hi;
  bool has_lo, lo_incl, has_hi, hi_incl;
  uint32_t cond;
};

struct rangev {
  struct range *v;
  size_t n, cap;
};

/* A wildcard of other shape than a literal, a prefix or a suffix, checked
 * in turn on strings, once for all the conditions that have it and the
 * anything-but entries it excludes. */
struct gwild {
  const struct matcher *m;
  struct u32v conds, nots;
};

/* Dispatch of one rule path's conditions by the type of the value. */
struct rpath {
  size_t xstr, xnum, xeic, xeicu;   /* exact values in the hash table */
  struct trie pre, prei, suf, sufi; /* prefix, suffix (i: ignore case) */
  struct u32v exists, t, f, nul;    /* conditions */
  struct genv gs, gn, go;           /* strings, numbers, true/false/null */
  struct rangev nr;                 /* numeric ranges open on a side */
  /* numeric ranges with both bounds, sorted by lower bound; nbspan is the
   * widest (hi - lo): a value v is in none whose lo is below v - nbspan,
   * so many narrow ranges cost a binary search and a few checks */
  struct rangev nb;
  double nbspan;
  /* some alternative has another condition besides one on this path: its
   * leaves need their array positions (else a leaf agrees with any) */
  bool needctx;
  bool has_absent; /* a condition here has exists:false */
  uint32_t node;   /* its node */
  /* ranges and exists as regions (ruleset_int.h), when the path has no
   * exact number or anything-but: a number's hits are its region's; the
   * scratch stamps region r of this path at rbase + r (rcap of them) */
  struct ch_numidx ix;
  uint32_t rbase, rcap;
  /* anything-but on strings, as "all hold but the excluded": entry k is
   * condition ab.v[k]; its inner values, prefixes and suffixes sit in the
   * hash table and tries as exclusions of k (nots), its other wildcards
   * in gw. A string value walks those once for all entries (the walks
   * it makes anyway for the other operators), then takes every entry not
   * excluded. Entries with a non-ASCII ignore-case value stay in gs. */
  struct u32v ab;
  struct u32v abdir; /* per entry its condition's direct rule, or NONE */
  struct gwild *gw;
  size_t ngw, capgw;
  /* a string can hit something in the hash table, the tries or gw (or
   * exclude an anything-but entry there) only when its first byte is in
   * sfirst or its last in slast (256 bits each; both cases of a letter
   * for ignore-case), or when sall (an empty literal, a wildcard with
   * '*' at both ends, non-ASCII ignore-case values): other strings skip
   * those lookups (lot numbers, house numbers against a few literals) */
  uint64_t sfirst[4], slast[4];
  bool sall;
  /* abrb: every anything-but entry's condition is its rule's only one
   * (abdir), the rules all below 64 RBITS_WORDS: abbits are those rules
   * as match bits, for a value that excludes no entry */
  bool abrb;
  uint64_t abbits[RBITS_WORDS];
};

struct cond {
  uint32_t path;
  bool absent_ok; /* has exists:false: satisfied when the path is absent */
  bool once;      /* every alternative using it has no other condition */
  /* its rule, when it is the rule's only alternative's only condition:
   * a live hit is a match, no counting; else NONE */
  uint32_t direct;
  uint32_t abk; /* its (last) anything-but entry on its path, or NONE */
  struct u32v alts;
};

struct ralt {
  uint32_t rule;
  uint32_t n, nabsent; /* conditions, of which absent_ok */
  uint32_t *conds;
};

/* An exact value of a rule path: a string, a number, or a string
 * compared ignoring case (equals-ignore-case): ASCII (X_EIC, hashed and
 * compared with ASCII letters folded) or not (X_EICU: hashed by its key,
 * fold.h, one entry per pattern string, each candidate checked by m). */
enum { X_STR, X_NUM, X_EIC, X_EICU };

struct xent {
  uint64_t hash;
  uint32_t path;
  int kind;
  const char *s;
  size_t n;
  double d;
  struct u32v conds;
  const struct matcher *m; /* X_EICU */
  struct u32v nots; /* anything-but entries excluded (struct rpath ab) */
};

struct rule {
  char *name;
  certhub_pattern *p;
};

struct certhub_ruleset {
  struct rule *rules;
  size_t nrules, caprules;
  struct node *nodes;
  size_t nnodes, capnodes;
  uint32_t *ntab; /* node index + 1, open addressing */
  size_t ntabsize;
  struct rpath *paths;
  size_t npaths, cappaths;
  struct cond *conds;
  size_t nconds, capconds;
  struct ralt *alts;
  size_t nalts, capalts;
  struct xent *xs;
  size_t nxs, capxs;
  uint32_t *xtab; /* xent index + 1 */
  size_t xtabsize;
  struct u32v absent_alts; /* alternatives that may match with no hit */
  struct kids rootkids;    /* nodes without a '.' */
  size_t maxpath;          /* longest node path */
  size_t maxalt;           /* most conditions in one alternative */
  size_t rspace;           /* region stamps (struct rpath rbase, rcap) */
  bool has_absent;         /* some condition has exists:false */
  size_t maxab;            /* most anything-but entries on one path */
  /* unique over all rulesets and their changes (a process-wide count):
   * a scratch's string memo is valid for one generation only */
  uint64_t gen;
};

static uint64_t gen_next(void)
{
  static uint64_t count;
  return __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
}

static struct node *node_find(const certhub_ruleset *rs, const char *p,
                              size_t n, uint64_t h)
{
  if(!rs->ntabsize)
    return NULL;
  size_t mask = rs->ntabsize - 1;
  for(size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    uint32_t k = rs->ntab[i];
    if(!k)
      return NULL;
    struct node *nd = &rs->nodes[k - 1];
    if(nd->hash == h && nd->len == n && memcmp(nd->path, p, n) == 0)
      return nd;
  }
}

static bool rehash(uint32_t **tab, size_t *size, size_t count,
                   const void *items, size_t stride, size_t hoff)
{
  size_t ns = *size ? *size : 64;
  while(ns < 2 * (count + 1))
    ns *= 2;
  if(ns == *size)
    return true;
  uint32_t *t = calloc(ns, sizeof(*t));
  if(!t)
    return false;
  for(size_t i = 0; i < count; i++) {
    uint64_t h;
    memcpy(&h, (const char *)items + i * stride + hoff, sizeof(h));
    size_t j = (size_t)h & (ns - 1);
    while(t[j])
      j = (j + 1) & (ns - 1);
    t[j] = (uint32_t)(i + 1);
  }
  free(*tab);
  *tab = t;
  *size = ns;
  return true;
}

/* a[0..n) == b[0..n), inline: keys are short, a call costs more */
static inline bool same(const char *a, const char *b, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if(a[i] != b[i])
      return false;
  return true;
}

/* The node whose path is prefix[0..off) followed by key[0..kn). */
static const struct node *node_find2(const certhub_ruleset *rs,
                                     const char *prefix, size_t off,
                                     const char *key, size_t kn, uint64_t h,
                                     uint32_t self)
{
  if(!rs->ntabsize)
    return NULL;
  size_t mask = rs->ntabsize - 1;
  for(size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    uint32_t k = rs->ntab[i];
    if(!k)
      return NULL;
    const struct node *nd = &rs->nodes[k - 1];
    /* the prefix is the path of node self: equal when nd's parent is
     * self, else compared (a key holding '.') */
    if(nd->hash == h && nd->len == off + kn && same(nd->path + off, key, kn) &&
       ((nd->koff == off && nd->parent == self) ||
        memcmp(nd->path, prefix, off) == 0))
      return nd;
  }
}

/* The node for p[0..n), added if new. */
static struct node *node_get(certhub_ruleset *rs, const char *p, size_t n)
{
  uint64_t h = fnv(FNV_OFF, p, n);
  struct node *nd = node_find(rs, p, n, h);
  if(nd)
    return nd;
  uint32_t parent = NONE, koff = 0;
  for(size_t i = n; i > 0; i--)
    if(p[i - 1] == '.') {
      struct node *pn = node_get(rs, p, i - 1);
      if(!pn)
        return NULL;
      parent = (uint32_t)(pn - rs->nodes);
      koff = (uint32_t)i;
      break;
    }
  if(!grow((void **)&rs->nodes, &rs->capnodes, rs->nnodes + 1,
           sizeof(*rs->nodes), NONE / 2) ||
     !rehash(&rs->ntab, &rs->ntabsize, rs->nnodes + 1, rs->nodes,
             sizeof(*rs->nodes), offsetof(struct node, hash)))
    return NULL;
  nd = &rs->nodes[rs->nnodes];
  if(!(nd->path = malloc(n + 1)))
    return NULL;
  memcpy(nd->path, p, n);
  nd->path[n] = '\0';
  nd->len = n;
  nd->hash = h;
  nd->leafpath = NONE;
  nd->parent = parent;
  nd->koff = koff;
  memset(&nd->kids, 0, sizeof(nd->kids));
  rs->nnodes++;
  struct kids *kd = parent == NONE ? &rs->rootkids : &rs->nodes[parent].kids;
  size_t kl = n - koff;
  if(kl <= 8) {
    if(kd->n < KIDS_MAX) {
      uint64_t w = 0;
      memcpy(&w, p + koff, kl);
      kd->key[kd->n] = w;
      kd->len[kd->n] = (uint8_t)kl;
      kd->node[kd->n++] = rs->nnodes - 1;
    }
    else {
      kd->over = true;
    }
  }
  if(kl <= KIDS_TOKMAX) {
    bool plain = kd->ntok < KIDS_MAX;
    for(size_t i = koff; i < n; i++) {
      unsigned char c = (unsigned char)p[i];
      plain &= c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    }
    if(plain) {
      unsigned char *t = kd->tok[kd->ntok];
      memset(t, 0, 16);
      t[0] = '"';
      memcpy(t + 1, p + koff, kl);
      t[kl + 1] = '"';
      t[kl + 2] = ':';
      kd->tokmask[kd->ntok] = (uint16_t)((1u << (kl + 3)) - 1);
      kd->toklen[kd->ntok] = (uint8_t)(kl + 3);
      kd->toknum[kd->ntok] = NONE;
      kd->toknode[kd->ntok++] = rs->nnodes - 1;
    }
    else {
      kd->tokpart = true;
    }
  }
  else if(kl <= KIDS_LTOKMAX && kd->nltok < KIDS_LMAX) {
    bool plain = true;
    for(size_t i = koff; i < n; i++) {
      unsigned char c = (unsigned char)p[i];
      plain &= c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    }
    if(plain) {
      unsigned char *t = kd->ltok[kd->nltok];
      memset(t, 0, 32);
      t[0] = '"';
      memcpy(t + 1, p + koff, kl);
      t[kl + 1] = '"';
      t[kl + 2] = ':';
      kd->ltokmask[kd->nltok] = (uint32_t)((1ull << (kl + 3)) - 1);
      kd->ltoknode[kd->nltok++] = rs->nnodes - 1;
    }
  }
  size_t mask = rs->ntabsize - 1, j = (size_t)h & mask;
  while(rs->ntab[j])
    j = (j + 1) & mask;
  rs->ntab[j] = (uint32_t)rs->nnodes;
  if(n > rs->maxpath)
    rs->maxpath = n;
  return nd;
}

/* The rule path index of path, adding its node and prefixes. */
static bool path_get(certhub_ruleset *rs, const char *path, uint32_t *out)
{
  size_t n = strlen(path);
  for(size_t i = 0; i < n; i++)
    if(path[i] == '.' && !node_get(rs, path, i))
      return false;
  struct node *nd = node_get(rs, path, n);
  if(!nd)
    return false;
  if(nd->leafpath == NONE) {
    if(!grow((void **)&rs->paths, &rs->cappaths, rs->npaths + 1,
             sizeof(*rs->paths), NONE / 2))
      return false;
    memset(&rs->paths[rs->npaths], 0, sizeof(*rs->paths));
    rs->paths[rs->npaths].node = (uint32_t)(nd - rs->nodes);
    nd->leafpath = (uint32_t)rs->npaths++;
  }
  *out = nd->leafpath;
  return true;
}

static double norm_zero(double d)
{
  return d == 0 ? 0.0 : d;
}

static int lc(int ch)
{
  return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static bool eq_icase(const char *a, const char *b, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if(lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
      return false;
  return true;
}

#define ONES 0x0101010101010101ull

/* The 8 bytes of w with ASCII capitals lowered, as lc() does each. */
static inline uint64_t lower8(uint64_t w)
{
  uint64_t x = w & (0x7f * ONES); /* no carry between bytes below */
  uint64_t ge_a = x + (0x80 - 'A') * ONES, gt_z = x + (0x80 - 'Z' - 1) * ONES;
  return w | ((ge_a & ~gt_z & ~w & (0x80 * ONES)) >> 2);
}

static inline uint64_t load8(const char *s)
{
  uint64_t w;
  memcpy(&w, s, sizeof(w));
  return w;
}

static inline uint32_t load4(const char *s)
{
  uint32_t w;
  memcpy(&w, s, sizeof(w));
  return w;
}

static inline uint64_t wmix(uint64_t h, uint64_t w, bool icase)
{
  h = (h ^ (icase ? lower8(w) : w)) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

/* The hash of s[0..n) (icase: with ASCII capitals lowered) from h: 8
 * bytes a step (the last word may overlap the one before; under 8 bytes,
 * two overlapping 4-byte words; under 4, three bytes), within s. */
static inline uint64_t str_hash(uint64_t h, const char *s, size_t n,
                                bool icase)
{
  h = wmix(h, n, false);
  if(n >= 8) {
    size_t i = 0;
    for(; i + 8 <= n; i += 8)
      h = wmix(h, load8(s + i), icase);
    if(i < n)
      h = wmix(h, load8(s + n - 8), icase);
  }
  else if(n >= 4) {
    h = wmix(h, load4(s) | (uint64_t)load4(s + n - 4) << 32, icase);
  }
  else if(n) {
    unsigned char a = (unsigned char)s[0], b = (unsigned char)s[n / 2],
                  c = (unsigned char)s[n - 1];
    h = wmix(h, a | (uint64_t)b << 8 | (uint64_t)c << 16, icase);
  }
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 32);
}

static uint64_t xhash(uint32_t path, int kind, const char *s, size_t n,
                      double d)
{
  if(kind == X_NUM) {
    uint64_t h = fnv(FNV_OFF, &path, sizeof(path));
    d = norm_zero(d);
    return fnv(h ^ 1, &d, sizeof(d));
  }
  return str_hash(((uint64_t)path << 2 | (uint64_t)kind) * FNV_PRIME, s, n,
                  kind == X_EIC);
}

/* The hash of s's key (fold.h) on path: the same for every value a
 * non-ASCII equals-ignore-case pattern accepts as for the pattern. */
static uint64_t xhash_key(uint32_t path, const char *s, size_t n)
{
  uint64_t h = fnv(FNV_OFF, &path, sizeof(path)) ^ 3;
  for(size_t i = 0; i < n;) {
    unsigned char b = (unsigned char)s[i];
    if(b < 0x80) { /* its key is itself lowered: no call */
      h = (h ^ (unsigned)lc(b)) * FNV_PRIME;
      i++;
      continue;
    }
    const char *k;
    size_t nk;
    i += ch_fold_key_at(s, n, i, &k, &nk);
    h = fnv(h, k, nk);
  }
  return h;
}

static struct xent *x_find(const certhub_ruleset *rs, uint64_t h,
                           uint32_t path, int kind, const char *s, size_t n,
                           double d)
{
  if(!rs->xtabsize)
    return NULL;
  size_t mask = rs->xtabsize - 1;
  for(size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    uint32_t k = rs->xtab[i];
    if(!k)
      return NULL;
    struct xent *x = &rs->xs[k - 1];
    if(x->hash != h || x->path != path || x->kind != kind)
      continue;
    if(kind == X_NUM   ? x->d == d
       : kind == X_EIC ? x->n == n && eq_icase(x->s, s, n)
                       : x->n == n && memcmp(x->s, s, n) == 0)
      return x;
  }
}

/* Add cond (neg: anything-but entry cond excluded) under s[0..n) (or m's
 * number) of the given kind to the hash table. */
/* Note the literal s[0..n) in path rp's string filter (struct rpath
 * sfirst): its first byte, or with last its last. */
static void sf_add(struct rpath *rp, bool last, const char *s, size_t n,
                   bool icase)
{
  if(!n) {
    rp->sall = true;
    return;
  }
  uint64_t *set = last ? rp->slast : rp->sfirst;
  int b = (unsigned char)s[last ? n - 1 : 0];
  if(icase)
    b = lc(b);
  set[b / 64] |= (uint64_t)1 << (b % 64);
  if(icase && b >= 'a' && b <= 'z')
    set[(b - 32) / 64] |= (uint64_t)1 << ((b - 32) % 64);
}

static bool x_add_str(certhub_ruleset *rs, uint32_t path,
                      const struct matcher *m, int kind, const char *str,
                      size_t n, uint32_t cond, bool neg)
{
  if(kind == X_STR || kind == X_EIC)
    sf_add(&rs->paths[path], false, str, n, kind == X_EIC);
  else if(kind == X_EICU)
    rs->paths[path].sall = true;
  double d = kind == X_NUM ? norm_zero(m->num) : 0;
  uint64_t h =
      kind == X_EICU ? xhash_key(path, str, n) : xhash(path, kind, str, n, d);
  struct xent *x = x_find(rs, h, path, kind, str, n, d);
  if(!x) {
    if(!grow((void **)&rs->xs, &rs->capxs, rs->nxs + 1, sizeof(*rs->xs),
             NONE / 2) ||
       !rehash(&rs->xtab, &rs->xtabsize, rs->nxs + 1, rs->xs, sizeof(*rs->xs),
               offsetof(struct xent, hash)))
      return false;
    x = &rs->xs[rs->nxs++];
    *x = (struct xent){h, path, kind, str, n, d, {0}, m, {0}};
    size_t mask = rs->xtabsize - 1, j = (size_t)h & mask;
    while(rs->xtab[j])
      j = (j + 1) & mask;
    rs->xtab[j] = (uint32_t)rs->nxs;
  }
  return u32_push(neg ? &x->nots : &x->conds, cond);
}

static bool x_add(certhub_ruleset *rs, uint32_t path, const struct matcher *m,
                  uint32_t cond)
{
  int kind = m->kind == M_NUMBER ? X_NUM
             : m->kind == M_EIC  ? (m->fu ? X_EICU : X_EIC)
                                 : X_STR;
  return x_add_str(rs, path, m, kind, m->s, m->slen, cond, false);
}

static bool trie_add(struct rpath *rp, struct trie *t, const char *s, size_t n,
                     bool rev, bool icase, uint32_t cond, bool neg)
{
  sf_add(rp, rev, s, n, icase);
  if(!t->n) {
    if(!grow((void **)&t->v, &t->cap, 1, sizeof(*t->v), NONE / 2))
      return false;
    t->v[0] = (struct tnode){NONE, NONE, NONE, 0, 0, {0}, {0}};
    t->n = 1;
  }
  uint32_t cur = 0;
  for(size_t i = 0; i < n; i++) {
    unsigned char b = (unsigned char)s[rev ? n - 1 - i : i];
    if(icase)
      b = (unsigned char)lc(b);
    uint32_t c = t->v[cur].child;
    while(c != NONE && t->v[c].byte != b)
      c = t->v[c].sib;
    if(c == NONE) {
      if(!grow((void **)&t->v, &t->cap, t->n + 1, sizeof(*t->v), NONE / 2))
        return false;
      c = (uint32_t)t->n++;
      t->v[c] = (struct tnode){NONE, t->v[cur].child, NONE, 0, b, {0}, {0}};
      struct tnode *pn = &t->v[cur];
      pn->child = c;
      if(++pn->nkids == TRIE_DENSE) { /* a table, filled from the list */
        if(!grow((void **)&t->dense, &t->capdense, 256 * (t->ndense + 1),
                 sizeof(*t->dense), NONE / 2))
          return false;
        uint32_t *tab = t->dense + 256 * t->ndense;
        for(unsigned k = 0; k < 256; k++)
          tab[k] = NONE;
        for(uint32_t k = pn->child; k != NONE; k = t->v[k].sib)
          tab[t->v[k].byte] = k;
        pn->dense = (uint32_t)t->ndense++;
      }
      else if(pn->dense != NONE) {
        t->dense[256 * (size_t)pn->dense + b] = c;
      }
    }
    cur = c;
  }
  return u32_push(neg ? &t->v[cur].nots : &t->v[cur].conds, cond);
}

static void trie_free(struct trie *t)
{
  for(size_t i = 0; i < t->n; i++) {
    free(t->v[i].conds.v);
    free(t->v[i].nots.v);
  }
  free(t->v);
  free(t->dense);
}

/* A wildcard that is one literal (0), a prefix (1: "lit*") or a suffix
 * (2: "*lit"), with *lit, *n the literal; else -1 (checked by wild()). */
static int wild_shape(const struct matcher *m, const char **lit, size_t *n)
{
  if(m->nseg == 1) {
    *lit = m->seg[0];
    *n = m->seglen[0];
    return 0;
  }
  if(m->nseg == 2 && m->seglen[1] == 0) {
    *lit = m->seg[0];
    *n = m->seglen[0];
    return 1;
  }
  if(m->nseg == 2 && m->seglen[0] == 0) {
    *lit = m->seg[1];
    *n = m->seglen[1];
    return 2;
  }
  return -1;
}

static bool same_wild(const struct matcher *a, const struct matcher *b)
{
  if(a->nseg != b->nseg)
    return false;
  for(size_t i = 0; i < a->nseg; i++)
    if(a->seglen[i] != b->seglen[i] ||
       memcmp(a->seg[i], b->seg[i], a->seglen[i]) != 0)
      return false;
  return true;
}

/* Wildcard m of condition c (neg: excluding anything-but entry c) into
 * the path's list, once per distinct wildcard. */
static bool gw_add(struct rpath *rp, const struct matcher *m, uint32_t c,
                   bool neg)
{
  size_t i = 0;
  while(i < rp->ngw && !same_wild(rp->gw[i].m, m))
    i++;
  if(i == rp->ngw) {
    size_t ns = m->nseg;
    if(m->seglen[0])
      sf_add(rp, false, m->seg[0], m->seglen[0], false);
    else if(m->seglen[ns - 1])
      sf_add(rp, true, m->seg[ns - 1], m->seglen[ns - 1], false);
    else
      rp->sall = true;
    if(!grow((void **)&rp->gw, &rp->capgw, rp->ngw + 1, sizeof(*rp->gw),
             SIZE_MAX / 64))
      return false;
    rp->gw[rp->ngw++] = (struct gwild){m, {0}, {0}};
  }
  return u32_push(neg ? &rp->gw[i].nots : &rp->gw[i].conds, c);
}

/* An anything-but whose exclusions on strings can all be indexed: inner
 * values, ASCII ignore-case values, prefixes, suffixes, wildcards (and
 * numbers, which never exclude a string). */
static bool ab_indexable(const struct matcher *m)
{
  for(size_t i = 0; i < m->ninner; i++) {
    const struct matcher *im = &m->inner[i];
    switch(im->kind) {
    case M_STRING:
    case M_NUMBER:
    case M_WILDCARD:
      break;
    case M_EIC:
    case M_PREFIX:
    case M_SUFFIX:
      if(im->fu)
        return false;
      break;
    default:
      return false;
    }
  }
  return true;
}

/* Wildcard m on path pi for entry k (a condition, or with neg an
 * anything-but entry): the usual shapes join the exact values and tries,
 * the others are checked one by one. */
static bool wild_add(certhub_ruleset *rs, uint32_t pi, const struct matcher *m,
                     uint32_t k, bool neg)
{
  struct rpath *rp = &rs->paths[pi];
  const char *lit;
  size_t n;
  switch(wild_shape(m, &lit, &n)) {
  case 0:
    rp->xstr++;
    return x_add_str(rs, pi, m, X_STR, lit, n, k, neg);
  case 1:
    return trie_add(rp, &rp->pre, lit, n, false, false, k, neg);
  case 2:
    return trie_add(rp, &rp->suf, lit, n, true, false, k, neg);
  default:
    return gw_add(rp, m, k, neg);
  }
}

/* Anything-but m of condition c on path pi as string entry k = ab.n. */
static bool ab_add(certhub_ruleset *rs, uint32_t pi, const struct matcher *m,
                   uint32_t c)
{
  struct rpath *rp = &rs->paths[pi];
  uint32_t k = (uint32_t)rp->ab.n;
  if(!u32_push(&rp->ab, c) || !u32_push(&rp->abdir, NONE))
    return false;
  rs->conds[c].abk = k;
  if(rp->ab.n > rs->maxab)
    rs->maxab = rp->ab.n;
  for(size_t i = 0; i < m->ninner; i++) {
    const struct matcher *im = &m->inner[i];
    bool ok = true;
    switch(im->kind) {
    case M_STRING:
      ok = x_add_str(rs, pi, im, X_STR, im->s, im->slen, k, true);
      rp->xstr++;
      break;
    case M_EIC:
      ok = x_add_str(rs, pi, im, X_EIC, im->s, im->slen, k, true);
      rp->xeic++;
      break;
    case M_PREFIX:
      ok = trie_add(rp, im->icase ? &rp->prei : &rp->pre, im->s, im->slen, false,
                    im->icase, k, true);
      break;
    case M_SUFFIX:
      ok = trie_add(rp, im->icase ? &rp->sufi : &rp->suf, im->s, im->slen, true,
                    im->icase, k, true);
      break;
    case M_WILDCARD:
      ok = wild_add(rs, pi, im, k, true);
      break;
    default: /* numbers: never a string */
      break;
    }
    if(!ok)
      return false;
  }
  return true;
}

/* rp's abrb and abbits (struct rpath), after its entries changed */
static void ab_bits(struct rpath *rp)
{
  memset(rp->abbits, 0, sizeof(rp->abbits));
  rp->abrb = rp->ab.n > 0 && rp->ab.n <= 64;
  for(size_t k = 0; k < rp->ab.n && rp->abrb; k++) {
    uint32_t r = rp->abdir.v[k];
    if(r == NONE || r / 64 >= RBITS_WORDS)
      rp->abrb = false;
    else
      rp->abbits[r / 64] |= (uint64_t)1 << (r % 64);
  }
}

static bool gen_push(struct genv *g, const struct matcher *m, uint32_t cond)
{
  if(!grow((void **)&g->v, &g->cap, g->n + 1, sizeof(*g->v), SIZE_MAX / 16))
    return false;
  g->v[g->n++] = (struct gen){m, cond};
  return true;
}

/* Register one condition (a pattern leaf) under its path. */
static bool cond_add(certhub_ruleset *rs, const struct leaf *l, uint32_t *out)
{
  uint32_t pi;
  if(!path_get(rs, l->path, &pi) ||
     !grow((void **)&rs->conds, &rs->capconds, rs->nconds + 1,
           sizeof(*rs->conds), NONE / 2))
    return false;
  uint32_t c = (uint32_t)rs->nconds++;
  struct cond *cd = &rs->conds[c];
  memset(cd, 0, sizeof(*cd));
  cd->path = pi;
  cd->direct = NONE; /* set when the rule is complete */
  cd->abk = NONE;
  struct rpath *rp = &rs->paths[pi];
  for(size_t i = 0; i < l->nm; i++) {
    const struct matcher *m = &l->m[i];
    bool ok = true;
    /* a prefix or suffix ignoring the case of a non-ASCII value
     * (fold.h): its forms may differ in length and the event is not
     * folded, so no byte trie; checked in turn, as wildcards are. ASCII
     * ones (the usual) keep the tries. */
    if(m->fu && m->kind != M_EIC) {
      if(!gen_push(&rp->gs, m, c))
        return false;
      continue;
    }
    switch(m->kind) {
    case M_STRING:
    case M_NUMBER:
    case M_EIC:
      ok = x_add(rs, pi, m, c);
      if(m->kind == M_STRING)
        rp->xstr++;
      else if(m->kind == M_NUMBER)
        rp->xnum++;
      else if(m->fu)
        rp->xeicu++;
      else
        rp->xeic++;
      break;
    case M_PREFIX:
      ok = trie_add(rp, m->icase ? &rp->prei : &rp->pre, m->s, m->slen, false,
                    m->icase, c, false);
      break;
    case M_SUFFIX:
      ok = trie_add(rp, m->icase ? &rp->sufi : &rp->suf, m->s, m->slen, true,
                    m->icase, c, false);
      break;
    case M_TRUE:
      ok = u32_push(&rp->t, c);
      break;
    case M_FALSE:
      ok = u32_push(&rp->f, c);
      break;
    case M_NULL:
      ok = u32_push(&rp->nul, c);
      break;
    case M_EXISTS:
      if(m->exists)
        ok = u32_push(&rp->exists, c);
      else
        cd->absent_ok = rp->has_absent = rs->has_absent = true;
      break;
    case M_NUMERIC:
      if(m->has_lo && m->has_hi) {
        ok = grow((void **)&rp->nb.v, &rp->nb.cap, rp->nb.n + 1,
                  sizeof(*rp->nb.v), SIZE_MAX / 64);
        if(ok) { /* insertion in lo order */
          size_t k = rp->nb.n++;
          for(; k > 0 && rp->nb.v[k - 1].lo > m->lo; k--)
            rp->nb.v[k] = rp->nb.v[k - 1];
          rp->nb.v[k] = (struct range){m->lo, m->hi,      true, m->lo_incl,
                                       true,  m->hi_incl, c};
          if(!(m->hi - m->lo <= rp->nbspan))
            rp->nbspan = m->hi - m->lo; /* inf if it overflows */
        }
        break;
      }
      ok = grow((void **)&rp->nr.v, &rp->nr.cap, rp->nr.n + 1,
                sizeof(*rp->nr.v), SIZE_MAX / 64);
      if(ok)
        rp->nr.v[rp->nr.n++] = (struct range){
            m->lo, m->hi, m->has_lo, m->lo_incl, m->has_hi, m->hi_incl, c};
      break;
    case M_ANYBUT:
      ok =
          (ab_indexable(m) ? ab_add(rs, pi, m, c) : gen_push(&rp->gs, m, c)) &&
          gen_push(&rp->gn, m, c) && gen_push(&rp->go, m, c);
      rp = &rs->paths[pi];
      break;
    case M_WILDCARD:
      ok = wild_add(rs, pi, m, c, false);
      break;
    default: /* cidr */
      ok = gen_push(&rp->gs, m, c);
      break;
    }
    if(!ok)
      return false;
  }
  *out = c;
  return true;
}

/* Path pi's entry in its parent's member starts (struct kids toknum),
 * after a rule added to it. */
static void tok_refresh(certhub_ruleset *rs, uint32_t pi)
{
  const struct rpath *rp = &rs->paths[pi];
  const struct node *nd = &rs->nodes[rp->node];
  struct kids *kd =
      nd->parent == NONE ? &rs->rootkids : &rs->nodes[nd->parent].kids;
  for(unsigned j = 0; j < kd->ntok; j++)
    if(kd->toknode[j] == rp->node)
      kd->toknum[j] = rp->xnum || rp->gn.n ? NONE : pi;
}

/* Conditions per path beyond which numbers use the range lists: the
 * index is rebuilt whenever a rule adds to its path (bounded cost). */
#define NUMIDX_MAX_CONDS 4096

static struct ch_numcond numcond(const struct range *r, bool once)
{
  return (struct ch_numcond){r->lo,     r->hi,      r->has_lo, r->lo_incl,
                             r->has_hi, r->hi_incl, once,      r->cond};
}

/* (Re)build path pi's numeric index from its ranges and exists
 * conditions; none when an exact number or anything-but also reads
 * numbers there (they stay with leaf()'s general way), or when the
 * regions would be too many. */
static bool path_index(certhub_ruleset *rs, uint32_t pi)
{
  struct rpath *rp = &rs->paths[pi];
  size_t n = rp->nr.n + rp->nb.n + rp->exists.n, k = 0;
  if(rp->xnum || rp->gn.n || !n || n > NUMIDX_MAX_CONDS ||
     rs->rspace > UINT32_MAX / 4) {
    ch_numidx_free(&rp->ix);
    return true;
  }
  struct ch_numcond *v = malloc(n * sizeof(*v));
  if(!v)
    return false;
  for(size_t i = 0; i < rp->nr.n; i++)
    v[k++] = numcond(&rp->nr.v[i], rs->conds[rp->nr.v[i].cond].once);
  for(size_t i = 0; i < rp->nb.n; i++)
    v[k++] = numcond(&rp->nb.v[i], rs->conds[rp->nb.v[i].cond].once);
  for(size_t i = 0; i < rp->exists.n; i++) { /* any number */
    uint32_t c = rp->exists.v[i];
    v[k++] = (struct ch_numcond){
        0, 0, false, false, false, false, rs->conds[c].once, c};
  }
  int r = ch_numidx_build(&rp->ix, v, n, 16 * n + 64);
  free(v);
  if(r < 0)
    return false;
  uint32_t nreg = 2 * rp->ix.nb + 1;
  if(r == 0 && nreg > rp->rcap) { /* stamps: a new block, doubling */
    uint32_t cap = 16;
    while(cap < nreg)
      cap *= 2;
    rp->rbase = (uint32_t)rs->rspace;
    rp->rcap = cap;
    rs->rspace += cap;
  }
  return true;
}

ch_err certhub_ruleset_new(certhub_ruleset **out)
{
  *out = calloc(1, sizeof(**out));
  if(*out)
    (*out)->gen = gen_next();
  return *out ? CH_OK : CH_ERR_NOMEM;
}

size_t certhub_ruleset_count(const certhub_ruleset *rs)
{
  return rs->nrules;
}

const char *certhub_ruleset_name(const certhub_ruleset *rs, size_t index)
{
  return index < rs->nrules ? rs->rules[index].name : NULL;
}

ch_err certhub_ruleset_add(certhub_ruleset *rs, const char *name,
                           const char *pattern_json, size_t len, size_t *index,
                           char **errmsg)
{
  return ch_ruleset_add_max(rs, name, pattern_json, len,
                            CERTHUB_PATTERN_MAX_LEN, index, errmsg);
}

ch_err ch_ruleset_add_max(certhub_ruleset *rs, const char *name,
                          const char *pattern_json, size_t len,
                          size_t max_chars, size_t *index, char **errmsg)
{
  certhub_pattern *p = NULL;
  const struct leaf **seen = NULL;
  uint32_t *ids = NULL;
  size_t nseen = 0, total = 0;
  if(errmsg)
    *errmsg = NULL;
  rs->gen = gen_next(); /* whatever happens below, memos are stale */
  if(rs->nrules >= CERTHUB_RULESET_MAX_RULES) {
    if(errmsg)
      *errmsg = strdup("ruleset: too many rules");
    return CH_ERR_TOOBIG;
  }
  ch_err e = ch_pattern_compile_max(pattern_json, len, max_chars, &p, errmsg);
  if(e != CH_OK)
    return e;
  e = CH_ERR_NOMEM;
  if(!grow((void **)&rs->rules, &rs->caprules, rs->nrules + 1,
           sizeof(*rs->rules), CERTHUB_RULESET_MAX_RULES))
    goto out;
  char *nm = strdup(name);
  if(!nm)
    goto out;
  uint32_t r = (uint32_t)rs->nrules++;
  rs->rules[r] = (struct rule){nm, p};
  p = NULL; /* owned by the ruleset from here */
  const struct alts *dnf = &rs->rules[r].p->dnf;
  for(size_t i = 0; i < dnf->n; i++)
    total += dnf->v[i].n;
  seen = malloc((total + 1) * sizeof(*seen));
  ids = malloc((total + 1) * sizeof(*ids));
  if(!seen || !ids)
    goto out;
  for(size_t i = 0; i < dnf->n; i++) {
    const struct alt *pa = &dnf->v[i];
    if(!grow((void **)&rs->alts, &rs->capalts, rs->nalts + 1,
             sizeof(*rs->alts), NONE / 2))
      goto out;
    uint32_t a = (uint32_t)rs->nalts;
    struct ralt *al = &rs->alts[a];
    *al = (struct ralt){r, 0, 0, malloc((pa->n + 1) * sizeof(uint32_t))};
    if(!al->conds)
      goto out;
    rs->nalts++;
    for(size_t j = 0; j < pa->n; j++) {
      const struct leaf *l = pa->v[j];
      size_t k = 0;
      while(k < nseen && seen[k] != l)
        k++;
      if(k == nseen) {
        if(!cond_add(rs, l, &ids[k]))
          goto out;
        seen[nseen++] = l;
      }
      uint32_t c = ids[k];
      bool dup = false;
      for(uint32_t q = 0; q < al->n; q++)
        dup |= al->conds[q] == c;
      if(dup)
        continue;
      al->conds[al->n++] = c;
      al->nabsent += rs->conds[c].absent_ok;
      if(!u32_push(&rs->conds[c].alts, a))
        goto out;
    }
    if(al->n > rs->maxalt)
      rs->maxalt = al->n;
    if(al->n > 1)
      for(uint32_t q = 0; q < al->n; q++)
        rs->paths[rs->conds[al->conds[q]].path].needctx = true;
    if(al->nabsent == al->n && !u32_push(&rs->absent_alts, a))
      goto out;
  }
  /* the rule's conditions are complete: which need only one hit, then
   * the numeric indexes of their paths */
  for(size_t k = 0; k < nseen; k++) {
    struct cond *cd = &rs->conds[ids[k]];
    cd->once = true;
    for(size_t j = 0; j < cd->alts.n; j++)
      cd->once &= rs->alts[cd->alts.v[j]].n == 1;
    cd->direct = cd->once && cd->alts.n == 1 ? r : NONE;
    if(cd->abk != NONE) /* a hint for the anything-but entry */
      rs->paths[cd->path].abdir.v[cd->abk] = cd->direct;
  }
  for(size_t k = 0; k < nseen; k++)
    if(rs->conds[ids[k]].abk != NONE)
      ab_bits(&rs->paths[rs->conds[ids[k]].path]);
  for(size_t k = 0; k < nseen; k++) {
    uint32_t pi = rs->conds[ids[k]].path;
    bool done = false;
    for(size_t j = 0; j < k && !done; j++)
      done = rs->conds[ids[j]].path == pi;
    if(done)
      continue;
    if(!path_index(rs, pi))
      goto out;
    tok_refresh(rs, pi);
  }
  if(index)
    *index = r;
  e = CH_OK;
out:
  free(seen);
  free(ids);
  certhub_pattern_free(p);
  return e;
}

void certhub_ruleset_free(certhub_ruleset *rs)
{
  if(!rs)
    return;
  for(size_t i = 0; i < rs->nrules; i++) {
    free(rs->rules[i].name);
    certhub_pattern_free(rs->rules[i].p);
  }
  for(size_t i = 0; i < rs->nnodes; i++)
    free(rs->nodes[i].path);
  for(size_t i = 0; i < rs->npaths; i++) {
    struct rpath *p = &rs->paths[i];
    free(p->exists.v);
    free(p->t.v);
    free(p->f.v);
    free(p->nul.v);
    free(p->gs.v);
    free(p->gn.v);
    free(p->go.v);
    free(p->nr.v);
    free(p->nb.v);
    trie_free(&p->pre);
    trie_free(&p->prei);
    trie_free(&p->suf);
    trie_free(&p->sufi);
    ch_numidx_free(&p->ix);
    free(p->ab.v);
    free(p->abdir.v);
    for(size_t j = 0; j < p->ngw; j++) {
      free(p->gw[j].conds.v);
      free(p->gw[j].nots.v);
    }
    free(p->gw);
  }
  for(size_t i = 0; i < rs->nconds; i++)
    free(rs->conds[i].alts.v);
  for(size_t i = 0; i < rs->nalts; i++)
    free(rs->alts[i].conds);
  for(size_t i = 0; i < rs->nxs; i++) {
    free(rs->xs[i].conds.v);
    free(rs->xs[i].nots.v);
  }
  free(rs->rules);
  free(rs->nodes);
  free(rs->ntab);
  free(rs->paths);
  free(rs->conds);
  free(rs->alts);
  free(rs->xs);
  free(rs->xtab);
  free(rs->absent_alts.v);
  free(rs);
}

/* --- scratch ------------------------------------------------------------- */

struct elem { /* an array element passed through */
  uint32_t array, index;
};

struct sleaf {
  uint32_t path; /* rule path, or MARKER */
  uint32_t ctx;  /* first of nctx in ctx[] */
  uint16_t nctx;
  uint8_t dead; /* replaced by a later duplicate key */
};

struct hit {
  uint32_t cond, leaf, next;
};

struct keyrec { /* a key on a rule path in an object being read */
  const struct node *node;
  uint32_t lstart, lend; /* its value's leaves */
};

/* Per rule path with a numeric index: the open interval between bounds
 * that its last number fell in. It depends on the ruleset only (reset
 * when the ruleset generation changes, scratch_fit), so it outlives the
 * pass and the event: the next number, in this event or the next, is
 * usually in it too. Whether its region adds nothing is asked of the
 * pass's stamps each time (num_region_nothing). */
struct rcache {
  double lo, hi; /* the bounds around region r (+-inf at the ends) */
  uint32_t r;
  uint32_t ep; /* the pass (satep) of the path's last number */
  /* for numbers of sign neg with a integer digits (when ok): their first
   * 8 digits as ASCII read big-endian, from alo to ahi inclusive, put the
   * whole number strictly inside (lo, hi) (num_fast) */
  uint64_t alo, ahi;
  uint8_t a;
  bool neg, ok;
  /* the digit bounds are still to be made from d0, the number that set
   * the interval: made when a second number asks (a path with one number
   * an event, like firstCoordinates.x, never pays for them) */
  bool lazy;
  double d0;
};

/* The digit bounds (struct rcache alo, ahi, a, neg, ok) made for region
 * r of a path's index (at rstamp's rbase + r) from a number of a0
 * integer digits and sign neg0: they depend on the region's bounds
 * only, so when a path's numbers move between regions (coordinates from
 * event to event) they are made once per region, not once per move.
 * Reset with the ruleset generation. */
struct rdig {
  uint64_t alo, ahi;
  uint8_t a, a0;
  bool neg, neg0, ok, set;
};

/* The string memo: the conditions a string value of a rule path hit
 * (leaf(): every hit goes through add_hit, in order), kept per (path,
 * value) so that a value seen before replays them instead of its hash
 * lookups, trie walks and wildcard checks. Direct-mapped, MEMO_SLOTS
 * entries (bounded, whatever the events); values of up to MEMO_STR
 * bytes with at most MEMO_CONDS hits. Per path, a value is only looked
 * up while the path's values repeat (struct pmemo). */
#define MEMO_SLOTS 2048
#define MEMO_STR 40
#define MEMO_CONDS 16
#define MEMO_WORDS 2
struct memo {
  uint64_t h;
  uint32_t ep; /* valid when equal to the scratch's memo_ep */
  uint32_t path;
  uint8_t n, nc;
  /* c[0..nind) are the conditions that are not their rule's only one,
   * c[nind..nc) those that are (struct cond direct); when nw is not 0,
   * the rules of the latter are the bits bits[i] of rbits word bw[i]
   * (i < nw): a pass that sets matched rules as bits (bitmode, not
   * nosat) replays them as at most MEMO_WORDS ORs instead of one
   * add_hit each */
  uint8_t nind, nw;
  uint8_t bw[MEMO_WORDS];
  char s[MEMO_STR];
  uint32_t c[MEMO_CONDS];
  uint64_t bits[MEMO_WORDS];
};

/* Per path: of the last MEMO_TRIES lookups, how many found the value;
 * under a quarter, the path skips the memo for its next MEMO_OFF string
 * values (unique values, like lot numbers, would only pay for it). */
#define MEMO_TRIES 256
#define MEMO_OFF 16384
struct pmemo {
  uint32_t tries, hits, off;
};

struct certhub_match_scratch {
  struct sleaf *leaves;
  size_t nleaves, capleaves;
  struct elem *ctx;
  size_t nctx, capctx;
  struct hit *hits;
  size_t nhits, caphits;
  struct keyrec *keys;
  size_t nkeys, capkeys;
  struct elem stack[EV_MAX_DEPTH + 1];
  size_t depth;
  char *path; /* of the value in hand */
  size_t cappath;
  char *dbuf; /* a decoded string, or a number for strtod */
  /* sized by the ruleset; stamps equal to epoch are this event's */
  uint32_t epoch;
  size_t ncond, nalt, npath, nrule, maxalt;
  uint32_t *cond_stamp, *cond_head, *path_stamp, *alt_stamp, *alt_count,
      *rule_stamp, *touched, *hard;
  size_t nnode;
  uint32_t *node_obj, *node_rec; /* per node: object serial, key record */
  uint32_t objserial;
  uint8_t *cond_free;
  const struct sleaf **bound;
  size_t *out;
  size_t steps;
  /* numeric regions already recorded in this pass over the event: a
   * region's stamp equals satep (struct rpath rbase) */
  uint32_t *rstamp, satep;
  size_t nrstamp;
  struct rdig *rdig; /* nrstamp, as rstamp */
  /* per rule path, the open interval between bounds of its numeric
   * index that its last number fell in (struct rcache) */
  struct rcache *rcache;
  bool skipped; /* a number was left out as adding nothing (see leaf) */
  bool dup;     /* a duplicate key on a rule path killed leaves */
  bool nosat;   /* this pass records every number and every hit */
  /* matched rules so far (out[0..nout), stamped in rule_stamp): a hit of
   * a condition that is its rule's only one (struct cond direct) is the
   * match at once, with no hit recorded; dmarked says one was, so that a
   * duplicate key killing leaves sends the event through again (nosat) */
  size_t nout;
  bool dmarked;
  bool marker; /* a MARKER leaf was recorded */
  /* (nrule + 63) / 64 words. bitmode (at most RBITS_WORDS words): the
   * matched rules are these bits instead of out and rule_stamp, set as
   * they match (no stamp to test, nothing to append, no ordering at the
   * end). All zero between events, but for rdirty: a bitmode pass that
   * did not reach its end (an error) may have left some set. */
  uint64_t *rbits;
  bool bitmode, rdirty;
  uint64_t *excl; /* the anything-but entries a string value excludes */
  size_t nexcl;   /* words */
  /* the conditions add_hit was given since ncap was last zeroed (the
   * last MEMO_CONDS of them; ncap counts all) */
  uint32_t cap[MEMO_CONDS];
  uint32_t ncap;
  bool capping; /* leaf_memo is recording cap for a memo entry */
  struct memo *memo; /* MEMO_SLOTS, allocated on first use */
  uint32_t memo_ep;
  uint64_t memo_gen;   /* the ruleset generation memo_ep is for */
  struct pmemo *pmemo; /* npath */
};

ch_err certhub_match_scratch_new(certhub_match_scratch **out)
{
  *out = calloc(1, sizeof(**out));
  if(!*out)
    return CH_ERR_NOMEM;
  (*out)->dbuf = malloc(CERTHUB_EVENT_MAX_LEN + 1);
  if(!(*out)->dbuf) {
    free(*out);
    *out = NULL;
    return CH_ERR_NOMEM;
  }
  return CH_OK;
}

void certhub_match_scratch_free(certhub_match_scratch *s)
{
  if(!s)
    return;
  free(s->leaves);
  free(s->ctx);
  free(s->hits);
  free(s->keys);
  free(s->path);
  free(s->dbuf);
  free(s->cond_stamp);
  free(s->cond_head);
  free(s->path_stamp);
  free(s->alt_stamp);
  free(s->alt_count);
  free(s->rule_stamp);
  free(s->touched);
  free(s->hard);
  free(s->cond_free);
  free(s->node_obj);
  free(s->node_rec);
  free(s->bound);
  free(s->out);
  free(s->rbits);
  free(s->excl);
  free(s->rstamp);
  free(s->rdig);
  free(s->rcache);
  free(s->memo);
  free(s->pmemo);
  free(s);
}

/* Resize *v from old to n items of elem bytes, zeroing the new ones. */
static bool resize0(void *vp, size_t old, size_t n, size_t elem)
{
  void **v = vp;
  if(n <= old && *v)
    return true;
  void *nv = realloc(*v, (n ? n : 1) * elem);
  if(!nv)
    return false;
  if(n > old)
    memset((char *)nv + old * elem, 0, (n - old) * elem);
  *v = nv;
  return true;
}

/* A new epoch: every stamp of the previous pass is stale. */
static void next_epoch(certhub_match_scratch *s)
{
  if(++s->epoch == 0) { /* wrapped: forget every stamp */
    memset(s->cond_stamp, 0, s->ncond * sizeof(uint32_t));
    memset(s->path_stamp, 0, s->npath * sizeof(uint32_t));
    memset(s->alt_stamp, 0, s->nalt * sizeof(uint32_t));
    memset(s->rule_stamp, 0, s->nrule * sizeof(uint32_t));
    s->epoch = 1;
  }
}

/* Fit the scratch to the ruleset (it only grows). */
static bool scratch_fit(certhub_match_scratch *s, const certhub_ruleset *rs)
{
  if(rs->nconds > s->ncond) {
    if(!resize0(&s->cond_stamp, s->ncond, rs->nconds, sizeof(uint32_t)) ||
       !resize0(&s->cond_head, s->ncond, rs->nconds, sizeof(uint32_t)) ||
       !resize0(&s->cond_free, s->ncond, rs->nconds, sizeof(uint8_t)))
      return false;
    s->ncond = rs->nconds;
  }
  if(rs->nalts > s->nalt) {
    if(!resize0(&s->alt_stamp, s->nalt, rs->nalts, sizeof(uint32_t)) ||
       !resize0(&s->alt_count, s->nalt, rs->nalts, sizeof(uint32_t)) ||
       !resize0(&s->touched, s->nalt, rs->nalts, sizeof(uint32_t)))
      return false;
    s->nalt = rs->nalts;
  }
  if(rs->nnodes > s->nnode) {
    if(!resize0(&s->node_obj, s->nnode, rs->nnodes, sizeof(uint32_t)) ||
       !resize0(&s->node_rec, s->nnode, rs->nnodes, sizeof(uint32_t)))
      return false;
    s->nnode = rs->nnodes;
  }
  if(rs->npaths > s->npath) {
    if(!resize0(&s->path_stamp, s->npath, rs->npaths, sizeof(uint32_t)) ||
       !resize0(&s->rcache, s->npath, rs->npaths, sizeof(*s->rcache)) ||
       !resize0(&s->pmemo, s->npath, rs->npaths, sizeof(*s->pmemo)))
      return false;
    s->npath = rs->npaths;
  }
  if(rs->nrules > s->nrule) {
    if(!resize0(&s->rule_stamp, s->nrule, rs->nrules, sizeof(uint32_t)) ||
       !resize0(&s->out, s->nrule, rs->nrules, sizeof(size_t)) ||
       !resize0(&s->rbits, (s->nrule + 63) / 64, (rs->nrules + 63) / 64,
                sizeof(uint64_t)))
      return false;
    s->nrule = rs->nrules;
  }
  if(rs->maxalt > s->maxalt) {
    if(!resize0(&s->hard, s->maxalt, rs->maxalt, sizeof(uint32_t)) ||
       !resize0(&s->bound, s->maxalt, rs->maxalt, sizeof(*s->bound)))
      return false;
    s->maxalt = rs->maxalt;
  }
  if((rs->maxab + 63) / 64 > s->nexcl) {
    if(!resize0(&s->excl, s->nexcl, (rs->maxab + 63) / 64, sizeof(uint64_t)))
      return false;
    s->nexcl = (rs->maxab + 63) / 64;
  }
  if(rs->rspace > s->nrstamp) {
    if(!resize0(&s->rstamp, s->nrstamp, rs->rspace, sizeof(uint32_t)) ||
       !resize0(&s->rdig, s->nrstamp, rs->rspace, sizeof(*s->rdig)))
      return false;
    s->nrstamp = rs->rspace;
  }
  if(s->memo_gen != rs->gen) { /* another ruleset, or it changed */
    s->memo_gen = rs->gen;
    if(++s->memo_ep == 0) {
      if(s->memo)
        memset(s->memo, 0, MEMO_SLOTS * sizeof(*s->memo));
      s->memo_ep = 1;
    }
    if(s->npath) { /* (no arrays before the first path) */
      memset(s->pmemo, 0, s->npath * sizeof(*s->pmemo));
      /* the intervals are the ruleset's (struct rcache) */
      memset(s->rcache, 0, s->npath * sizeof(*s->rcache));
    }
    if(s->nrstamp)
      memset(s->rdig, 0, s->nrstamp * sizeof(*s->rdig));
  }
  /* 8 bytes of slack: object() copies keys into it a word at a time */
  if(rs->maxpath + 1 + 8 > s->cappath) {
    char *np = realloc(s->path, rs->maxpath + 1 + 8);
    if(!np)
      return false;
    s->path = np;
    s->cappath = rs->maxpath + 1 + 8;
  }
  next_epoch(s);
  return true;
}

/* --- values -------------------------------------------------------------- */

enum vtype { V_STR, V_NUM, V_TRUE, V_FALSE, V_NULL };

struct val {
  enum vtype t;
  const char *s;
  size_t n;
  double d;
  /* a number: d is within 2^-50 |d| of the exact double (cheap to get),
   * the text at num decides when that is too close to call */
  bool approx;
  const unsigned char *num;
};

static int fold(int ch)
{
  return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static bool bytes_eq(const char *a, const char *b, size_t n, bool icase)
{
  if(!icase)
    return same(a, b, n); /* operands are short: no call */
  for(size_t i = 0; i < n; i++)
    if(fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
      return false;
  return true;
}

/* First segment a prefix, last a suffix, middle ones leftmost in order
 * ('*' is the only metacharacter, so leftmost never loses a match). */
static bool wild(const struct matcher *m, const char *s, size_t n)
{
  size_t ns = m->nseg, first = m->seglen[0], last = m->seglen[ns - 1];
  if(ns == 1)
    return n == first && memcmp(s, m->seg[0], n) == 0;
  if(first + last > n || !same(s, m->seg[0], first) ||
     !same(s + n - last, m->seg[ns - 1], last))
    return false;
  const char *pos = s + first, *end = s + n - last;
  for(size_t k = 1; k + 1 < ns; k++) {
    size_t sl = m->seglen[k];
    const char *hit = NULL;
    if(sl == 0)
      continue;
    for(const char *q = pos; q + sl <= end; q++)
      if(*q == m->seg[k][0] && memcmp(q, m->seg[k], sl) == 0) {
        hit = q;
        break;
      }
    if(!hit)
      return false;
    pos = hit + sl;
  }
  return true;
}

static bool cidr(const struct matcher *m, const char *s, size_t n)
{
  unsigned char a[16];
  char buf[64];
  if(n >= sizeof(buf) || memchr(s, '\0', n))
    return false;
  memcpy(buf, s, n);
  buf[n] = '\0';
  if(inet_pton(m->family, buf, a) != 1)
    return false;
  unsigned bits = m->prefix, i = 0;
  for(; bits >= 8; bits -= 8, i++)
    if(a[i] != m->addr[i])
      return false;
  return !bits || ((a[i] ^ m->addr[i]) & (0xff << (8 - bits)) & 0xff) == 0;
}

static bool vmatch(const struct matcher *m, const struct val *v)
{
  bool str = v->t == V_STR;
  switch(m->kind) {
  case M_STRING:
    return str && v->n == m->slen && memcmp(v->s, m->s, v->n) == 0;
  case M_NUMBER:
    return v->t == V_NUM && v->d == m->num;
  case M_TRUE:
    return v->t == V_TRUE;
  case M_FALSE:
    return v->t == V_FALSE;
  case M_NULL:
    return v->t == V_NULL;
  case M_PREFIX:
    if(m->fu)
      return str && ch_fold_match(m->fu, m->nfu, v->s, v->n, CH_FOLD_PREFIX);
    return str && v->n >= m->slen && bytes_eq(v->s, m->s, m->slen, m->icase);
  case M_SUFFIX:
    if(m->fu)
      return str && ch_fold_match(m->fu, m->nfu, v->s, v->n, CH_FOLD_SUFFIX);
    return str && v->n >= m->slen &&
           bytes_eq(v->s + v->n - m->slen, m->s, m->slen, m->icase);
  case M_EIC:
    if(m->fu)
      return str && ch_fold_match(m->fu, m->nfu, v->s, v->n, CH_FOLD_EQUALS);
    return str && v->n == m->slen && bytes_eq(v->s, m->s, v->n, true);
  case M_WILDCARD:
    return str && wild(m, v->s, v->n);
  case M_NUMERIC:
    if(v->t != V_NUM)
      return false;
    if(m->has_lo && !(m->lo_incl ? v->d >= m->lo : v->d > m->lo))
      return false;
    return !m->has_hi || (m->hi_incl ? v->d <= m->hi : v->d < m->hi);
  case M_EXISTS:
    return m->exists;
  case M_CIDR:
    return str && cidr(m, v->s, v->n);
  case M_ANYBUT:
    for(size_t i = 0; i < m->ninner; i++)
      if(vmatch(&m->inner[i], v))
        return false;
    return true;
  }
  return false;
}

/* --- the flattener ------------------------------------------------------- */

struct fl {
  const certhub_ruleset *rs;
  certhub_match_scratch *s;
  const unsigned char *p, *start, *end;
  uint32_t arrays;
  ch_err err;
  const char *what; /* the problem, for the message */
  size_t at;        /* its byte offset */
};

static bool bad(struct fl *f, const unsigned char *at, const char *what)
{
  f->err = CH_ERR_PARSE;
  f->what = what;
  f->at = (size_t)(at - f->start);
  return false;
}

static bool toobig(struct fl *f, const char *what)
{
  f->err = CH_ERR_TOOBIG;
  f->what = what;
  f->at = (size_t)(f->p - f->start);
  return false;
}

static inline void ws(struct fl *f)
{
  const unsigned char *p = f->p, *e = f->end;
  if(p<e && * p> ' ')
    return; /* the common case: no whitespace */
  while(p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  f->p = p;
}

/* The first byte at or after p that ends a plain run of string bytes:
 * '"', '\\', a control character or a non-ASCII byte; e if none. */
static inline __attribute__((always_inline)) const unsigned char *
plain_run(const unsigned char *p, const unsigned char *e)
{
#ifdef __SSE2__
  const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'),
                sp = _mm_set1_epi8(0x20);
  while(e - p >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* signed compare: bytes >= 0x80 are negative, so below 0x20 too */
    __m128i m =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
                     _mm_cmplt_epi8(x, sp));
    int mask = _mm_movemask_epi8(m);
    if(mask)
      return p + __builtin_ctz((unsigned)mask);
    p += 16;
  }
#endif
  while(p < e && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
    p++;
  return p;
}

/* Length of the valid UTF-8 sequence at p (as jansson checks it: no
 * overlong forms, no surrogates, at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *e)
{
  unsigned c = p[0], n, cp;
  if(c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  }
  else if(c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  }
  else if(c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  }
  else {
    return 0;
  }
  if((size_t)(e - p) < n)
    return 0;
  for(unsigned i = 1; i < n; i++) {
    if((p[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
     (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

static int hex4(const unsigned char *p, const unsigned char *e)
{
  if(e - p < 4)
    return -1;
  int v = 0;
  for(int i = 0; i < 4; i++) {
    int d = ch_hex_val(p[i]);
    if(d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

enum smode { S_SKIP, S_VALUE, S_KEY };

/* A string; f->p is just after its opening quote and ends just after the
 * closing one. S_SKIP validates only. S_VALUE: *s, *n the decoded bytes
 * (pointing into the event when there is no escape, else into out).
 * S_KEY: decoded into out (cap bytes); *n is SIZE_MAX when it did not
 * fit. */
static bool string(struct fl *f, enum smode mode, char *out, size_t cap,
                   const char **s, size_t *n)
{
  const unsigned char *p = f->p, *e = f->end, *run = p, *begin = p;
  size_t o = 0;
  bool esc = false, fits = true;
#define FLUSH(from, to)                                                       \
  do {                                                                        \
    size_t len_ = (size_t)((to) - (from));                                    \
    if(mode != S_SKIP && fits) {                                              \
      if(o + len_ > cap)                                                      \
        fits = false;                                                         \
      else                                                                    \
        memcpy(out + o, (from), len_), o += len_;                             \
    }                                                                         \
  } while(0)
  for(;;) {
    p = plain_run(p, e);
    if(p >= e)
      return bad(f, begin - 1, "unterminated string");
    unsigned c = *p;
    if(c == '"')
      break;
    if(c >= 0x80) {
      size_t k = utf8_len(p, e);
      if(!k)
        return bad(f, p, "invalid UTF-8 in a string");
      p += k;
      continue;
    }
    if(c < 0x20)
      return bad(f, p, "control character in a string");
    /* a backslash */
    FLUSH(run, p);
    esc = true;
    if(e - p < 2)
      return bad(f, p, "unterminated string");
    unsigned char one[4];
    size_t k = 1, adv = 2;
    switch(p[1]) {
    case '"':
    case '\\':
    case '/':
      one[0] = p[1];
      break;
    case 'b':
      one[0] = '\b';
      break;
    case 'f':
      one[0] = '\f';
      break;
    case 'n':
      one[0] = '\n';
      break;
    case 'r':
      one[0] = '\r';
      break;
    case 't':
      one[0] = '\t';
      break;
    case 'u': {
      int v = hex4(p + 2, e);
      long cp = v;
      adv = 6;
      if(v < 0)
        return bad(f, p, "invalid \\u escape");
      if(v == 0)
        return bad(f, p, "\\u0000 is not allowed");
      if(v >= 0xdc00 && v <= 0xdfff)
        return bad(f, p, "lone low surrogate in a \\u escape");
      if(v >= 0xd800 && v <= 0xdbff) {
        int lo = -1;
        if(e - p >= 12 && p[6] == '\\' && p[7] == 'u')
          lo = hex4(p + 8, e);
        if(lo < 0xdc00 || lo > 0xdfff)
          return bad(f, p, "high surrogate not followed by a low one");
        cp = 0x10000 + ((long)(v - 0xd800) << 10) + (lo - 0xdc00);
        adv = 12;
      }
      if(cp < 0x80) {
        one[0] = (unsigned char)cp;
      }
      else if(cp < 0x800) {
        one[0] = (unsigned char)(0xc0 | (cp >> 6));
        one[1] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 2;
      }
      else if(cp < 0x10000) {
        one[0] = (unsigned char)(0xe0 | (cp >> 12));
        one[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        one[2] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 3;
      }
      else {
        one[0] = (unsigned char)(0xf0 | (cp >> 18));
        one[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        one[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        one[3] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 4;
      }
      break;
    }
    default:
      return bad(f, p, "invalid escape in a string");
    }
    FLUSH(one, one + k);
    p += adv;
    run = p;
  }
  f->p = p + 1;
  if(mode == S_SKIP)
    return true;
  if(mode == S_VALUE && !esc) {
    *s = (const char *)begin;
    *n = (size_t)(p - begin);
    return true;
  }
  FLUSH(run, p);
#undef FLUSH
  *s = out;
  *n = fits ? o : SIZE_MAX;
  return true;
}

/* jansson quirk, kept for identical answers: its lexer pushes back the
 * byte after a number or a literal, and a pushed-back NUL reads as "no
 * byte", so one NUL right after such a token is ignored. */
static void nul_quirk(struct fl *f)
{
  if(f->p < f->end && *f->p == '\0')
    f->p++;
}

static bool is_digit(int c)
{
  return c >= '0' && c <= '9';
}

/* 10^-k, rounded */
static const double n10[] = {1e-0,  1e-1,  1e-2,  1e-3,  1e-4,  1e-5,
                             1e-6,  1e-7,  1e-8,  1e-9,  1e-10, 1e-11,
                             1e-12, 1e-13, 1e-14, 1e-15, 1e-16, 1e-17,
                             1e-18, 1e-19, 1e-20, 1e-21, 1e-22};

static const double pow10tab[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* acc * 10^n + the value of the n digits at p (the result fits; e: the
 * end of the buffer, for reading past the digits). */
static inline __attribute__((always_inline)) uint64_t
digits_value(const unsigned char *p, const unsigned char *e, size_t n,
             uint64_t acc)
{
  for(; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    v -= 0x3030303030303030ull; /* little-endian: p[0] lowest */
    v = v * 10 + (v >> 8);      /* pairs of digits */
    v = (((v & 0x000000ff000000ffull) * (100 + (1000000ull << 32))) +
         (((v >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32)))) >>
        32;
    acc = acc * 100000000ull + v;
  }
  if(n && (size_t)(e - p) >= 8) {
    /* the last 1-7 digits the same way: the bytes after them shifted
     * out (a borrow from them only runs further out) */
    static const uint64_t p10i[] = {1,     10,     100,     1000,
                                    10000, 100000, 1000000, 10000000};
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    v -= 0x3030303030303030ull;
    v <<= 8 * (8 - n);
    v = v * 10 + (v >> 8);
    v = (((v & 0x000000ff000000ffull) * (100 + (1000000ull << 32))) +
         (((v >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32)))) >>
        32;
    return acc * p10i[n] + v;
  }
  for(; n; n--, p++)
    acc = acc * 10 + (uint64_t)(*p - '0');
  return acc;
}

/* 10^k as integers */
static const uint64_t pow10u[] = {1,
                                  10,
                                  100,
                                  1000,
                                  10000,
                                  100000,
                                  1000000,
                                  10000000,
                                  100000000,
                                  1000000000,
                                  10000000000ull,
                                  100000000000ull,
                                  1000000000000ull,
                                  10000000000000ull,
                                  100000000000000ull,
                                  1000000000000000ull,
                                  10000000000000000ull};

/* The value of the n digits at p (1 <= n <= 8, 8 bytes readable):
 * digits_value's tail without its loop or branches. */
static inline __attribute__((always_inline)) uint64_t
swar8_left(const unsigned char *p, size_t n)
{
  uint64_t v;
  memcpy(&v, p, sizeof(v));
  v -= 0x3030303030303030ull;
  v <<= 8 * (8 - n); /* the bytes after them out (a borrow runs outwards) */
  v = v * 10 + (v >> 8);
  return (((v & 0x000000ff000000ffull) * (100 + (1000000ull << 32))) +
          (((v >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32)))) >>
         32;
}

static inline const unsigned char *digits(const unsigned char *p,
                                          const unsigned char *e);

/* A JSON number, as jansson reads it: an integer (no '.', no exponent)
 * must fit in a long long, a real must not overflow. *d (if d) is its
 * value as json_number_value gives it. */
static bool number(struct fl *f, double *d, bool *approx)
{
  const unsigned char *p = f->p, *e = f->end, *st = p, *ip, *ie, *fp = NULL,
                      *fe = NULL;
  bool neg = false, real = false;
  long ex = 0;
  if(p < e && *p == '-') {
    neg = true;
    p++;
  }
  if(approx && p < e && *p >= '1' && *p <= '9') {
    /* the usual real on a rule path (coordinates): digits '.' digits, no
     * exponent, at most 19 digits; approximated as below */
    const unsigned char *a = digits(p, e), *b;
    if(a + 1 < e && *a == '.' && is_digit(a[1])) {
      b = digits(a + 1, e);
      size_t ni = (size_t)(a - p), nf = (size_t)(b - a - 1);
      if(ni + nf <= 19 && !(b < e && (*b == 'e' || *b == 'E'))) {
        double v =
            (double)digits_value(a + 1, e, nf, digits_value(p, e, ni, 0)) *
            n10[nf];
        *d = neg ? -v : v;
        *approx = true;
        f->p = b;
        nul_quirk(f);
        return true;
      }
    }
  }
  if(p >= e || !is_digit(*p))
    return bad(f, st, "invalid value");
  ip = p;
  if(*p == '0') {
    p++;
    if(p < e && is_digit(*p))
      return bad(f, st, "a number may not start with 0");
  }
  else {
    p = digits(p, e);
  }
  ie = p;
  if(p < e && *p == '.') {
    real = true;
    p++;
    if(p >= e || !is_digit(*p))
      return bad(f, p, "expected a digit after '.'");
    fp = p;
    p = fe = digits(p, e);
  }
  if(p < e && (*p == 'e' || *p == 'E')) {
    real = true;
    p++;
    bool eneg = false;
    if(p < e && (*p == '+' || *p == '-'))
      eneg = *p++ == '-';
    if(p >= e || !is_digit(*p))
      return bad(f, p, "expected a digit in the exponent");
    for(; p < e && is_digit(*p); p++)
      if(ex < 100000)
        ex = ex * 10 + (*p - '0');
    if(eneg)
      ex = -ex;
  }
  f->p = p;
  nul_quirk(f);
  size_t len = (size_t)(p - st), intdigits = (size_t)(ie - ip);
  if(!real) {
    /* strtoll's range: compare the digits with 2^63 - 1 (or 2^63) */
    uint64_t mant = 0;
    if(intdigits <= 19)
      for(const unsigned char *q = ip; q < ie; q++)
        mant = mant * 10 + (uint64_t)(*q - '0');
    if(intdigits > 19 ||
       (intdigits == 19 &&
        mant > (neg ? 9223372036854775808ull : 9223372036854775807ull)))
      return bad(f, st, "integer too big for 64 bits");
    if(d) {
      if(neg)
        *d = mant == 9223372036854775808ull ? (double)INT64_MIN
                                            : (double)(-(int64_t)mant);
      else
        *d = (double)(int64_t)mant;
    }
    return true;
  }
  if(!d) {
    if((long)intdigits + ex <= 300)
      return true; /* below 1e301: cannot overflow */
  }
  else {
    /* The significand's digits (leading zeros dropped), at most 19. */
    uint64_t mant = 0;
    int sig = 0;
    long p10 = ex;
    bool cut = false;
    size_t nfrac = fp ? (size_t)(fe - fp) : 0;
    if(intdigits + nfrac <= 19) {
      /* all digits fit: eight at a time */
      mant = digits_value(ip, e, intdigits, 0);
      mant = digits_value(fp, e, nfrac, mant);
      p10 -= (long)nfrac;
      sig = mant > 999999999999999ull ? 16 : 15;
      goto have;
    }
    for(const unsigned char *q = ip; q < ie; q++) {
      unsigned dg = (unsigned)(*q - '0');
      if(!sig && !dg)
        continue;
      if(sig < 19) {
        mant = mant * 10 + dg;
        sig++;
      }
      else {
        p10++;
        cut = true;
      }
    }
    for(const unsigned char *q = fp; q && q < fe; q++) {
      unsigned dg = (unsigned)(*q - '0');
      if(!sig && !dg) {
        p10--;
        continue;
      }
      if(sig < 19) {
        mant = mant * 10 + dg;
        sig++;
        p10--;
      }
      else {
        cut = true;
      }
    }
  have:
    if(!cut && mant == 0) {
      *d = neg ? -0.0 : 0.0;
      return true;
    }
    /* Exact when the significand has at most 15 digits and the power of
     * ten is at most 22 (both exactly representable: one rounding). */
    if(!cut && sig <= 15 && p10 >= -22 && p10 <= 22) {
      double v = (double)mant;
      v = p10 < 0 ? v / pow10tab[-p10] : v * pow10tab[p10];
      *d = neg ? -v : v;
      return true;
    }
    /* Asked for an approximation: up to 19 digits and 10^22 in double,
     * two roundings of 2^-53 each; leaf() compares with a margin and
     * converts exactly only when a bound is that close. */
    if(approx && !cut && p10 >= -22 && p10 <= 22) {
      /* 10^-k rounded too (a multiply is far quicker than a divide):
       * three roundings, |error| < 2^-51 |d| */

      double v = (double)mant;
      v = p10 < 0 ? v * n10[-p10] : v * pow10tab[p10];
      *d = neg ? -v : v;
      *approx = true;
      return true;
    }
#if LDBL_MANT_DIG == 64
    /* Up to 19 digits and 10^27 are exact in x87 long double; one
     * rounding there, then one to double: right unless the first landed
     * within an ulp of a halfway point between doubles (then strtod). */
    if(!cut && p10 >= -27 && p10 <= 27) {
      static const long double lp10[] = {
          1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
          1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
          1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
      static const long double ln10[] = {
          1e-0L,  1e-1L,  1e-2L,  1e-3L,  1e-4L,  1e-5L,  1e-6L,
          1e-7L,  1e-8L,  1e-9L,  1e-10L, 1e-11L, 1e-12L, 1e-13L,
          1e-14L, 1e-15L, 1e-16L, 1e-17L, 1e-18L, 1e-19L, 1e-20L,
          1e-21L, 1e-22L, 1e-23L, 1e-24L, 1e-25L, 1e-26L, 1e-27L};
      /* 10^-k is rounded too (a multiply is far quicker than a divide):
       * two roundings of 2^-64 each, under 2 ulps of the long double
       * result; within 3 ulps of a halfway point, strtod decides. */
      long double v = (long double)mant;
      v = p10 < 0 ? v * ln10[-p10] : v * lp10[p10];
      uint64_t bits; /* x87: the 64-bit significand comes first */
      memcpy(&bits, &v, sizeof(bits));
      unsigned low = (unsigned)(bits & 0x7ff);
      if(low < 0x3fd || low > 0x403) {
        *d = neg ? -(double)v : (double)v;
        return true;
      }
    }
#endif
  }
  char small[64], *buf = len < sizeof(small) ? small : f->s->dbuf;
  memcpy(buf, st, len);
  buf[len] = '\0';
  errno = 0;
  double v = strtod(buf, NULL);
  if(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
    return bad(f, st, "real number overflow");
  if(d)
    *d = v;
  return true;
}

static bool literal(struct fl *f, const char *w, size_t n)
{
  if((size_t)(f->end - f->p) < n || memcmp(f->p, w, n) != 0)
    return bad(f, f->p, "invalid value");
  f->p += n;
  nul_quirk(f);
  return true;
}

/*
 * Skipping: the values no rule reads are validated by these, which keep
 * the position in a register (p in, p out; NULL after an error, with
 * f->err set) since they run over most of the bytes of most events.
 */

#define SKIP_WS(p, e)                                                         \
  while((p) < (e) && *(p) <= ' ' &&                                           \
        (*(p) == ' ' || *(p) == '\n' || *(p) == '\r' || *(p) == '\t'))        \
  (p)++

static const unsigned char *bad_at(struct fl *f, const unsigned char *at,
                                   const char *what)
{
  bad(f, at, what);
  return NULL;
}

/* The first non-digit at or after p; eight bytes at a time. */
static inline const unsigned char *digits(const unsigned char *p,
                                          const unsigned char *e)
{
#ifdef __SSE2__
  if(e - p >= 16) {
    /* digits are the bytes whose (b ^ 0x80) - ('0' ^ 0x80) is below 10
     * as signed: one compare for sixteen */
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));
    __m128i big = _mm_cmpgt_epi8(_mm_xor_si128(d, _mm_set1_epi8((char)0x80)),
                                 _mm_set1_epi8((char)(0x80 + 9)));
    int mask = _mm_movemask_epi8(big);
    if(mask)
      return p + __builtin_ctz((unsigned)mask);
    p += 16;
  }
#endif
  while(e - p >= 8) {
    uint64_t x, t;
    memcpy(&x, p, sizeof(x));
    /* a digit byte (0x30-0x39) gives 0x33: high nibble 3 before and
     * after adding 6 */
    t = (x & 0xf0f0f0f0f0f0f0f0ull) |
        (((x + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull) >> 4);
    t ^= 0x3333333333333333ull;
    if(t)
      return p + (__builtin_ctzll(t) >> 3); /* little-endian */
    p += 8;
  }
  while(p < e && is_digit(*p))
    p++;
  return p;
}

/* A number no rule reads: the grammar only; the two ways jansson refuses
 * a well-formed number (too big an integer, overflowing real) are left
 * to number() when they are possible. */
static inline __attribute__((always_inline)) const unsigned char *
sk_number(struct fl *f, const unsigned char *p)
{
  const unsigned char *e = f->end, *st = p, *ds;
  bool real = false;
  long ex = 0;
  if(p < e && *p == '-')
    p++;
  ds = p;
  if(p >= e || !is_digit(*p))
    goto slow; /* for its message */
  if(*p == '0')
    p++;
  else
    p = digits(p, e);
  size_t intdigits = (size_t)(p - ds);
  if(p < e && *p == '.') {
    real = true;
    p++;
    if(p >= e || !is_digit(*p))
      goto slow;
    p = digits(p, e);
    if(p < e && (*p == ',' || *p == '}' || *p == ']') && intdigits <= 300)
      return p; /* the usual real: no exponent, cannot overflow */
  }
  else if(p < e && (*p == ',' || *p == '}' || *p == ']') && intdigits <= 18) {
    return p; /* the usual integer */
  }
  if(p < e && (*p == 'e' || *p == 'E')) {
    real = true;
    p++;
    bool eneg = false;
    if(p < e && (*p == '+' || *p == '-'))
      eneg = *p++ == '-';
    if(p >= e || !is_digit(*p))
      goto slow;
    for(; p < e && is_digit(*p); p++)
      if(ex < 100000)
        ex = ex * 10 + (*p - '0');
    if(eneg)
      ex = -ex;
  }
  if(p < e && is_digit(*p))
    goto slow; /* a leading zero */
  if(real ? (long)intdigits + ex > 300 : intdigits > 18)
    goto slow; /* may be out of range: decide exactly */
  if(p < e && *p == '\0')
    p++; /* nul_quirk */
  return p;
slow:
  f->p = st;
  return number(f, NULL, NULL) ? f->p : NULL;
}

static const unsigned char *sk_string_slow(struct fl *f,
                                           const unsigned char *p);

/* A string no rule reads; p is after its opening quote. */
static inline __attribute__((always_inline)) const unsigned char *
sk_string(struct fl *f, const unsigned char *p)
{
  const unsigned char *q = plain_run(p, f->end);
  if(q < f->end && *q == '"')
    return q + 1; /* the usual string: ASCII, no escape */
  return sk_string_slow(f, p);
}

static const unsigned char *sk_string_slow(struct fl *f,
                                           const unsigned char *p)
{
  const unsigned char *e = f->end, *st = p;
  for(;;) {
    p = plain_run(p, e);
    if(p < e && *p == '"')
      return p + 1;
    if(p < e && *p >= 0x80) {
      size_t k = utf8_len(p, e);
      if(k) {
        p += k;
        continue;
      }
    }
    /* an escape, or an error: the full reader decides */
    f->p = st;
    return string(f, S_SKIP, NULL, 0, NULL, NULL) ? f->p : NULL;
  }
}

/* A member "key":number at p (p[0] == '"', 64 bytes readable) whose key
 * is plain ASCII and whose number is followed by ',' or '}': the
 * position of that byte; NULL (nothing decided) for anything else. The
 * number's grammar is that of sk_number's usual cases (no exponent, an
 * integer of at most 18 digits, no leading zero), checked on a mask of
 * its 32 bytes' non-digits rather than byte by byte. */
static inline __attribute__((always_inline)) const unsigned char *
sk_member_fast(const unsigned char *p, const unsigned char *e)
{
#ifdef __SSE2__
  (void)e;
  const __m128i qt = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'),
                sp = _mm_set1_epi8(0x20), zero = _mm_set1_epi8('0'),
                flip = _mm_set1_epi8((char)0x80),
                nine = _mm_set1_epi8((char)(0x80 + 9));
  __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
  int km = _mm_movemask_epi8(
      _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, qt), _mm_cmpeq_epi8(x, bs)),
                   _mm_cmplt_epi8(x, sp)));
  if(!km)
    return NULL;
  const unsigned char *r = p + 1 + __builtin_ctz((unsigned)km);
  if(*r != '"' || r[1] != ':')
    return NULL;
  r += 2;
  r += *r == '-';
  __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)r),
          x1 = _mm_loadu_si128((const __m128i *)(const void *)(r + 16));
  uint64_t nd = /* 64 bits: the shifts below stay in range */
      (uint64_t)(unsigned)_mm_movemask_epi8(
          _mm_cmpgt_epi8(_mm_xor_si128(_mm_sub_epi8(x0, zero), flip), nine)) |
      ((uint64_t)(unsigned)_mm_movemask_epi8(
           _mm_cmpgt_epi8(_mm_xor_si128(_mm_sub_epi8(x1, zero), flip), nine))
       << 16);
  if(!nd || (nd & 1))
    return NULL; /* no digit first, or 32 of them */
  unsigned a = (unsigned)__builtin_ctzll(nd); /* integer digits */
  if(*r == '0' && a != 1)
    return NULL; /* a leading zero: the general path words the error */
  const unsigned char *end = r + a;
  if(*end == '.') {
    if((nd >> (a + 1)) & 1)
      return NULL; /* no digit after '.' */
    uint64_t rest = nd & ~((2ull << a) - 1);
    if(!rest)
      return NULL;
    end = r + __builtin_ctzll(rest);
  }
  else if(a > 18) {
    return NULL; /* may not fit in 64 bits: number() decides */
  }
  return *end == ',' || *end == '}' ? end : NULL;
#else
  (void)p;
  (void)e;
  return NULL;
#endif
}

#ifdef __SSE2__
/*
 * The block skip: a container no rule reads, validated from bit masks of
 * 64-byte blocks in the manner of simdjson's two stages. Stage one
 * classifies every byte of a block with SIMD compares (quotes, the
 * structural characters, whitespace, control and non-ASCII bytes) and
 * finds the strings by a prefix XOR of the quotes; stage two walks only
 * the token starts (structural characters, opening quotes, starts of
 * scalars) through a small state machine. The byte-by-byte skip below
 * carries a dependency from each token's end to the next one's start
 * (load, compare, find, load again); here the positions come from masks
 * in registers, so the CPU overlaps the tokens.
 *
 * It only ever says "valid, ends here": at anything it does not handle
 * (a backslash or a non-ASCII byte in the block, a token it finds wrong,
 * a deep nesting, the end of the buffer) it answers NULL and sk_any()
 * validates the value from its start as before, so errors, their
 * messages and the jansson quirks stay those of one implementation.
 */
struct blkmask {
  uint64_t quote, rare, ws, stc, digit;
};

/* One block's masks: quotes; rare bytes (backslash, below 0x20 or
 * non-ASCII: the block is left to sk_any, so the common case needs no
 * more compares); spaces; structural characters. */
static inline __attribute__((always_inline)) void
blk_classify(const unsigned char *b, struct blkmask *k)
{
  const __m128i qt = _mm_set1_epi8('"'), bsl = _mm_set1_epi8('\\'),
                lc = _mm_set1_epi8(0x20), ob = _mm_set1_epi8('{'),
                cb = _mm_set1_epi8('}'), co = _mm_set1_epi8(':'),
                cm = _mm_set1_epi8(','), zero = _mm_set1_epi8('0'),
                flip = _mm_set1_epi8((char)0x80),
                nine = _mm_set1_epi8((char)(0x80 + 9));
  uint64_t quote = 0, rare = 0, ws = 0, stc = 0, nd = 0;
  for(unsigned i = 0; i < 4; i++) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + 16 * i));
    __m128i l = _mm_or_si128(x, lc); /* '[' -> '{', ']' -> '}' */
    unsigned sh = 16 * i;
#define MM(v) ((uint64_t)(unsigned)_mm_movemask_epi8(v) << sh)
    quote |= MM(_mm_cmpeq_epi8(x, qt));
    /* signed: below 0x20, or 0x80 and above */
    rare |= MM(_mm_or_si128(_mm_cmpeq_epi8(x, bsl), _mm_cmplt_epi8(x, lc)));
    ws |= MM(_mm_cmpeq_epi8(x, lc));
    stc |= MM(_mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(l, ob), _mm_cmpeq_epi8(l, cb)),
        _mm_or_si128(_mm_cmpeq_epi8(x, co), _mm_cmpeq_epi8(x, cm))));
    /* non-digits, as in digits() */
    nd |= MM(_mm_cmpgt_epi8(_mm_xor_si128(_mm_sub_epi8(x, zero), flip), nine));
#undef MM
  }
  k->digit = ~nd;
  k->quote = quote;
  k->rare = rare;
  k->ws = ws;
  k->stc = stc;
}

static inline uint64_t prefix_xor(uint64_t x)
{
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  x ^= x << 32;
  return x;
}

/* Whether c may follow a scalar (ends it): whitespace, structural, '"'. */
static inline bool scalar_end(int c)
{
  return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' ||
         c == '\r' || c == '\t' || c == ':' || c == '"' || c == '{' ||
         c == '[';
}

/* The container at p ('{' or '[') at jansson depth `depth`: its end, or
 * NULL when sk_any must decide (see above; nothing is reported). */
static const unsigned char *sk_blocks(struct fl *f, const unsigned char *p,
                                      unsigned depth)
{
  enum {
    ST_VALUE,
    ST_VALUE_OR_CLOSE,
    ST_KEY,
    ST_KEY_OR_CLOSE,
    ST_COLON,
    ST_AFTER
  };
  const unsigned char *e = f->end, *b = p;
  unsigned char tail[64];
  uint64_t instr = 0, scarry = 0, stack = 0; /* stack: 1 for an object */
  unsigned sp = 0, st = ST_VALUE;
  if(depth + 64 > JSON_MAX_DEPTH)
    return NULL;
  for(; b < e; b += 64) {
    struct blkmask k;
    if(e - b >= 64) {
      blk_classify(b, &k);
    }
    else { /* the last bytes, padded with spaces (no tokens there) */
      memset(tail, ' ', sizeof(tail));
      memcpy(tail, b, (size_t)(e - b));
      blk_classify(tail, &k);
    }
    if(k.rare)
      return NULL; /* a backslash, control or non-ASCII byte */
    uint64_t inq = prefix_xor(k.quote) ^ instr; /* [opening, closing) */
    instr = (uint64_t)((int64_t)inq >> 63);
    uint64_t out = ~inq & ~k.quote; /* outside strings and quotes */
    uint64_t stc = k.stc & out, scal = out & ~k.ws & ~stc;
    uint64_t tok = stc | (k.quote & inq) | (scal & ~((scal << 1) | scarry));
    scarry = scal >> 63;
    while(tok) {
      const unsigned char *t = b + __builtin_ctzll(tok);
      tok &= tok - 1;
      int c = *t;
      switch(st) {
      case ST_AFTER:
        if(c == ',') {
          st = (stack >> (sp - 1)) & 1 ? ST_KEY : ST_VALUE;
          continue;
        }
        goto close;
      case ST_COLON:
        if(c != ':')
          return NULL;
        st = ST_VALUE;
        continue;
      case ST_KEY_OR_CLOSE:
        if(c == '}')
          goto close;
        /* fall through */
      case ST_KEY:
        if(c != '"')
          return NULL;
        st = ST_COLON;
        continue;
      case ST_VALUE_OR_CLOSE:
        if(c == ']')
          goto close;
        /* fall through */
      default: /* ST_VALUE */
        switch(c) {
        case '"':
          st = ST_AFTER;
          continue;
        case '{':
        case '[':
          if(sp == 63)
            return NULL; /* deep: sk_any counts */
          stack =
              (stack & ~((uint64_t)1 << sp)) | ((uint64_t)(c == '{') << sp);
          sp++;
          st = c == '{' ? ST_KEY_OR_CLOSE : ST_VALUE_OR_CLOSE;
          continue;
        case 't':
        case 'f':
        case 'n': {
          const char *w = c == 't' ? "true" : c == 'f' ? "false" : "null";
          size_t n = c == 'f' ? 5 : 4;
          if((size_t)(e - t) < n + 1 || memcmp(t, w, n) != 0 ||
             !scalar_end(t[n]))
            return NULL;
          st = ST_AFTER;
          continue;
        }
        default: {
          if(c != '-' && !is_digit(c))
            return NULL;
          /* the usual number, inside the block: from the masks */
          unsigned i = (unsigned)(t - b);
          uint64_t ends = ~scal & (~(uint64_t)0 << i);
          if(ends) {
            unsigned j = (unsigned)__builtin_ctzll(ends), d0 = i + (c == '-');
            uint64_t nd = ~k.digit;
            if(d0 < j && ((k.digit >> d0) & 1)) {
              unsigned ip =
                  b[d0] == '0'
                      ? d0 + 1
                      : (unsigned)__builtin_ctzll(nd & (~(uint64_t)0 << d0));
              if(ip == j && ip - d0 <= 18) {
                st = ST_AFTER; /* an integer that fits */
                continue;
              }
              if(ip + 1 < j && b[ip] == '.' && ((k.digit >> (ip + 1)) & 1) &&
                 (unsigned)__builtin_ctzll(nd & (~(uint64_t)0 << (ip + 1))) ==
                     j) {
                st = ST_AFTER; /* digits '.' digits */
                continue;
              }
            }
          }
          const unsigned char *q = sk_number(f, t);
          if(!q || q >= e || !scalar_end(*q))
            return NULL;
          st = ST_AFTER;
          continue;
        }
        }
      }
    close:
      if(!sp || c != ((stack >> (sp - 1)) & 1 ? '}' : ']'))
        return NULL;
      if(--sp == 0)
        return t + 1;
      st = ST_AFTER;
    }
  }
  return NULL;
}
#endif

/* Validate one value (at jansson depth `depth`) without keeping it: a
 * loop with a bit stack of the open containers (1: object) rather than
 * recursion, since it runs over most bytes of most events. */
static const unsigned char *sk_any(struct fl *f, const unsigned char *p,
                                   unsigned depth)
{
  const unsigned char *e = f->end;
#ifdef __SSE2__
  if(e - p >= 64 && (*p == '{' || *p == '[')) {
    const unsigned char *q = sk_blocks(f, p, depth);
    if(q)
      return q;
  }
#endif
  uint64_t stack[JSON_MAX_DEPTH / 64 + 1];
  unsigned sp = 0;  /* open containers */
  bool obj = false; /* the innermost open one is an object */
#define TOP_IS_OBJ ((stack[(sp - 1) / 64] >> ((sp - 1) % 64)) & 1)
#define PUSH(o)                                                               \
  do {                                                                        \
    uint64_t bit_ = (uint64_t)1 << (sp % 64);                                 \
    if(o)                                                                     \
      stack[sp / 64] |= bit_;                                                 \
    else                                                                      \
      stack[sp / 64] &= ~bit_;                                                \
    sp++;                                                                     \
    obj = (o);                                                                \
  } while(0)
  if(depth > JSON_MAX_DEPTH)
    return bad_at(f, p, "nested more than 2048 levels");
value:
  /* the depth is checked where it grows: at an array's first element
   * (the others are at the same level) and at each member's value */
  if(p >= e)
    return bad_at(f, p, "unexpected end of input");
  switch(*p) {
  case '"':
    if(!(p = sk_string(f, p + 1)))
      return NULL;
    goto after;
  case '{':
    p++;
    SKIP_WS(p, e);
    if(p < e && *p == '}') {
      p++;
      goto after;
    }
    PUSH(1); /* depth: checked at each member's value */
    goto key;
  case '[':
    p++;
    SKIP_WS(p, e);
    if(p < e && *p == ']') {
      p++;
      goto after;
    }
    if(depth + sp + 1 > JSON_MAX_DEPTH)
      return bad_at(f, p, "nested more than 2048 levels");
    PUSH(0);
    goto value;
  case 't':
  case 'f':
  case 'n': {
    const char *w = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
    f->p = p;
    if(!literal(f, w, strlen(w)))
      return NULL;
    p = f->p;
    goto after;
  }
  default:
    if(!(p = sk_number(f, p)))
      return NULL;
    goto after;
  }
key:
  if(e - p >= 64 && *p == '"' && depth + sp <= JSON_MAX_DEPTH) {
    /* members "key":number, as in coordinates, validated from bit masks
     * of 16 and 32 bytes (same verdict as the general path below, which
     * takes over at anything else) */
    const unsigned char *q;
    while((q = sk_member_fast(p, e)) != NULL) {
      p = q;
      if(*p != ',' || p[1] != '"' || e - p < 65)
        goto after;
      p++;
    }
  }
  if(p >= e || *p != '"')
    return bad_at(f, p, "expected a string key");
  if(!(p = sk_string(f, p + 1)))
    return NULL;
  if(p + 1 < e && *p == ':' && (p[1] == '-' || is_digit(p[1]))) {
    /* the usual member of a coordinate: "k":number */
    if(depth + sp > JSON_MAX_DEPTH)
      return bad_at(f, p + 1, "nested more than 2048 levels");
    if(!(p = sk_number(f, p + 1)))
      return NULL;
    goto after;
  }
  SKIP_WS(p, e);
  if(p >= e || *p != ':')
    return bad_at(f, p, "expected ':'");
  p++;
  SKIP_WS(p, e);
  if(depth + sp > JSON_MAX_DEPTH)
    return bad_at(f, p, "nested more than 2048 levels");
  goto value;
after:
  if(!sp)
    return p;
  SKIP_WS(p, e);
  if(p < e && *p == ',') {
    p++;
    SKIP_WS(p, e);
    if(obj)
      goto key;
    goto value;
  }
  if(p < e && *p == (obj ? '}' : ']')) {
    p++;
    sp--;
    if(sp)
      obj = TOP_IS_OBJ;
    goto after;
  }
  return bad_at(f, p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
#undef TOP_IS_OBJ
#undef PUSH
}

/* sk_any() without a call for the common scalars. */
static inline const unsigned char *
sk_value(struct fl *f, const unsigned char *p, unsigned depth)
{
  if(p < f->end && depth <= JSON_MAX_DEPTH) {
    if(*p == '"')
      return sk_string(f, p + 1);
    if(*p == '-' || is_digit(*p))
      return sk_number(f, p);
  }
  return sk_any(f, p, depth);
}

/* The same through f->p, for the reader of rule paths. */
static bool skip(struct fl *f, unsigned depth)
{
  const unsigned char *p = sk_value(f, f->p, depth);
  if(!p)
    return false;
  f->p = p;
  return true;
}

static bool skip_string(struct fl *f)
{
  const unsigned char *p = sk_string(f, f->p);
  if(!p)
    return false;
  f->p = p;
  return true;
}

static bool skip_number(struct fl *f)
{
  const unsigned char *p = sk_number(f, f->p);
  if(!p)
    return false;
  f->p = p;
  return true;
}

/* Rule r matched this event (once in s->out, or its bit). */
static inline __attribute__((always_inline)) void
rule_matched(certhub_match_scratch *s, uint32_t r)
{
  if(s->bitmode) {
    s->rbits[r / 64] |= (uint64_t)1 << (r % 64);
    return;
  }
  if(s->rule_stamp[r] != s->epoch) {
    s->rule_stamp[r] = s->epoch;
    s->out[s->nout++] = r;
  }
}

static inline __attribute__((always_inline)) bool
add_hit(struct fl *f, uint32_t cond, uint32_t leaf)
{
  certhub_match_scratch *s = f->s;
  s->cap[s->ncap++ % MEMO_CONDS] = cond; /* for the string memo */
  uint32_t dr = f->rs->conds[cond].direct;
  if(dr != NONE && !s->nosat) { /* the rule matches: no hit to count */
    s->dmarked = true;
    rule_matched(s, dr);
    return true;
  }
  if(s->nhits == s->caphits &&
     !grow((void **)&s->hits, &s->caphits, s->nhits + 1, sizeof(*s->hits),
           SCRATCH_MAX_HITS))
    return toobig(f, "too many values match to track");
  s->hits[s->nhits++] = (struct hit){cond, leaf, NONE};
  return true;
}

static inline bool add_hits(struct fl *f, const struct u32v *v, uint32_t leaf)
{
  for(size_t i = 0; i < v->n; i++)
    if(!add_hit(f, v->v[i], leaf))
      return false;
  return true;
}

static bool add_gen(struct fl *f, const struct genv *g, const struct val *v,
                    uint32_t leaf)
{
  for(size_t i = 0; i < g->n; i++)
    if(vmatch(g->v[i].m, v) && !add_hit(f, g->v[i].cond, leaf))
      return false;
  return true;
}

/* Hits of the non-ASCII equals-ignore-case patterns of path pi that
 * accept the string v: those whose key hash is v's, each checked. */
static bool eicu_hits(struct fl *f, uint32_t pi, const struct val *v,
                      uint32_t leaf)
{
  const certhub_ruleset *rs = f->rs;
  uint64_t h = xhash_key(pi, v->s, v->n);
  size_t mask = rs->xtabsize - 1;
  for(size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    uint32_t k = rs->xtab[i];
    if(!k)
      return true;
    const struct xent *x = &rs->xs[k - 1];
    if(x->hash == h && x->path == pi && x->kind == X_EICU &&
       ch_fold_match(x->m->fu, x->m->nfu, v->s, v->n, CH_FOLD_EQUALS) &&
       !add_hits(f, &x->conds, leaf))
      return false;
  }
}

/* Mark the anything-but entries in v as excluded (scratch excl). */
static inline void excl_set(certhub_match_scratch *s, const struct u32v *v)
{
  for(size_t i = 0; i < v->n; i++)
    s->excl[v->v[i] / 64] |= (uint64_t)1 << (v->v[i] % 64);
}

/* Hits of every prefix (rev: suffix) of s[0..n) in t, and the
 * anything-but entries they exclude. */
static inline __attribute__((always_inline)) bool
trie_walk(struct fl *f, const struct trie *t, const char *s, size_t n,
          bool rev, bool icase, uint32_t leaf)
{
  if(!t->n)
    return true;
  uint32_t cur = 0;
  for(size_t i = 0;; i++) {
    if(!add_hits(f, &t->v[cur].conds, leaf))
      return false;
    if(t->v[cur].nots.n)
      excl_set(f->s, &t->v[cur].nots);
    if(i == n)
      return true;
    unsigned char b = (unsigned char)s[rev ? n - 1 - i : i];
    if(icase)
      b = (unsigned char)lc(b);
    uint32_t c;
    if(t->v[cur].dense != NONE) {
      c = t->dense[256 * (size_t)t->v[cur].dense + b];
    }
    else {
      c = t->v[cur].child;
      while(c != NONE && t->v[c].byte != b)
        c = t->v[c].sib;
    }
    if(c == NONE)
      return true;
    cur = c;
  }
}

/* The exact double of an approximated number (already validated). */
static void num_exact(struct fl *f, struct val *v)
{
  const unsigned char *p = f->p;
  f->p = v->num;
  (void)number(f, &v->d, NULL);
  f->p = p;
  v->approx = false;
}

/* The hits of the number v among rv->v[i..n). An approximate v (see
 * struct val) decides a bound when farther from it than its error bound
 * tol, and is made exact for the first one it cannot. */
static inline __attribute__((always_inline)) bool
ranges(struct fl *f, const struct rangev *rv, size_t i, size_t n,
       struct val *v, uint32_t id)
{
  double tol = v->approx ? fabs(v->d) * 0x1p-50 : 0;
  for(; i < n; i++) {
    const struct range *r = &rv->v[i];
    double d = v->d;
    if(v->approx) {
      if((r->has_lo && r->lo - d > tol) || (r->has_hi && d - r->hi > tol))
        continue; /* surely out */
      if((!r->has_lo || d - r->lo > tol) && (!r->has_hi || r->hi - d > tol)) {
        if(!add_hit(f, r->cond, id))
          return false;
        continue; /* surely in */
      }
      num_exact(f, v);
      d = v->d;
    }
    if((!r->has_lo || (r->lo_incl ? d >= r->lo : d > r->lo)) &&
       (!r->has_hi || (r->hi_incl ? d <= r->hi : d < r->hi)) &&
       !add_hit(f, r->cond, id))
      return false;
  }
  return true;
}

/* The first of rv's ranges (in lo order) whose lo is not below key. */
static size_t lo_search(const struct rangev *rv, double key)
{
  size_t lo = 0, hi = rv->n;
  while(lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if(rv->v[mid].lo < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* p's bounded ranges that may hold the (maybe approximate, see struct
 * val) number d: [*first, *end). One with lo < d - nbspan has hi < d,
 * one with lo > d is above it; the margin of 2^-46 (|d| + nbspan) covers
 * the approximation and the roundings of these sums. */
static void nb_window(const struct rpath *p, double d, size_t *first,
                      size_t *end)
{
  *first = 0;
  *end = p->nb.n;
  if(p->nb.n < 8)
    return;
  double m = (fabs(d) + p->nbspan) * 0x1p-46;
  double key = d - p->nbspan - m;
  if(key > -HUGE_VAL)
    *first = lo_search(&p->nb, key);
  *end = lo_search(&p->nb, d + fabs(d) * 0x1p-46 + DBL_MIN);
  /* lo_search gives the first lo >= the key: the ranges with lo equal to
   * it stay out, and they start above d + the margin */
}

/* A leaf at rule path pi (or a MARKER): recorded with its array
 * positions (when a rule may need them), and its hits found.
 *
 * A number on a path with a numeric index takes its region's hits, and
 * is not recorded at all when that adds nothing: no hit and no
 * exists:false to answer; or every condition of its region needs one hit
 * only and an earlier number of this event in the same region has them
 * (saturation: later coordinates in a region cost a search, not a leaf,
 * its hits and their counting). That last holds while the earlier leaf
 * stays alive; a duplicate key may kill it, and then the match runs again
 * recording every number (s->nosat). */
static bool leaf_val(struct fl *f, uint32_t pi, struct val *v, uint32_t id);

/* Keep in m the hits of value v on path pi that leaf_val() just gave
 * (s->cap[0..s->ncap), ncap <= MEMO_CONDS), as struct memo orders them. */
static void memo_store(const certhub_ruleset *rs, certhub_match_scratch *s,
                       struct memo *m, uint64_t h, uint32_t pi,
                       const struct val *v)
{
  unsigned nind = 0, nd = 0, nw = 0;
  uint32_t dir[MEMO_CONDS];
  m->nw = 0;
  for(unsigned i = 0; i < s->ncap; i++) {
    uint32_t c = s->cap[i];
    if(rs->conds[c].direct == NONE)
      m->c[nind++] = c;
    else
      dir[nd++] = c;
  }
  memcpy(m->c + nind, dir, nd * sizeof(*dir));
  for(unsigned i = 0; i < nd; i++) {
    uint32_t r = rs->conds[dir[i]].direct;
    unsigned w = 0;
    while(w < nw && m->bw[w] != r / 64)
      w++;
    if(w == MEMO_WORDS || r / 64 >= RBITS_WORDS) {
      /* more words than kept, or no bitmode: replayed one by one */
      nw = 0;
      break;
    }
    if(w == nw) {
      m->bw[nw++] = (uint8_t)(r / 64);
      m->bits[w] = 0;
    }
    m->bits[w] |= (uint64_t)1 << (r % 64);
  }
  m->h = h;
  m->ep = s->memo_ep;
  m->path = pi;
  m->n = (uint8_t)v->n;
  m->nc = (uint8_t)s->ncap;
  m->nind = (uint8_t)nind;
  m->nw = (uint8_t)nw;
  memcpy(m->s, v->s, v->n);
}

/* leaf_val() for a short string, through the memo (struct memo). */
static bool leaf_memo(struct fl *f, uint32_t pi, struct val *v, uint32_t id)
{
  certhub_match_scratch *s = f->s;
  struct pmemo *pm = &s->pmemo[pi];
  if(pm->off) {
    pm->off--;
    return leaf_val(f, pi, v, id);
  }
  if(!s->memo) {
    s->memo = calloc(MEMO_SLOTS, sizeof(*s->memo));
    if(!s->memo) { /* no memo: the same answers, slower */
      pm->off = UINT32_MAX;
      return leaf_val(f, pi, v, id);
    }
  }
  if(++pm->tries == MEMO_TRIES) {
    if(pm->hits < MEMO_TRIES / 4)
      pm->off = MEMO_OFF;
    pm->tries = pm->hits = 0;
  }
  uint64_t h = str_hash(((uint64_t)pi + 1) * FNV_PRIME, v->s, v->n, false);
  struct memo *m = &s->memo[h % MEMO_SLOTS];
  if(m->ep == s->memo_ep && m->h == h && m->path == pi && m->n == v->n &&
     memcmp(m->s, v->s, v->n) == 0) {
    pm->hits++;
    unsigned i = 0, nc = m->nc;
    if(m->nw && s->bitmode && !s->nosat) { /* add_hit's direct matches */
      for(unsigned w = 0; w < m->nw; w++)
        s->rbits[m->bw[w]] |= m->bits[w];
      s->dmarked = true;
      nc = m->nind;
    }
    for(; i < nc; i++)
      if(!add_hit(f, m->c[i], id))
        return false;
    return true;
  }
  s->ncap = 0;
  s->capping = true;
  bool ok = leaf_val(f, pi, v, id);
  s->capping = false;
  if(!ok)
    return false;
  if(s->ncap <= MEMO_CONDS)
    memo_store(f->rs, s, m, h, pi, v);
  return true;
}

static bool leaf(struct fl *f, uint32_t pi, struct val *v)
{
  certhub_match_scratch *s = f->s;
  const certhub_ruleset *rs = f->rs;
  const uint32_t *ixhits = NULL;
  uint32_t nixhits = 0;
  if(pi != MARKER && v->t == V_NUM && rs->paths[pi].ix.off) {
    const struct rpath *rp = &rs->paths[pi];
    const struct ch_numidx *ix = &rp->ix;
    uint32_t r = NONE;
    if(v->approx) /* within 2^-51 |d| (struct val): twice that is safe */
      r = ch_numidx_region_near(ix, v->d, fabs(v->d) * 0x1p-50);
    if(r == NONE) {
      if(v->approx)
        num_exact(f, v);
      r = ch_numidx_region(ix, v->d);
    }
    uint32_t b = ix->off[r], e = ix->off[r + 1];
    if(b == e && !rp->has_absent)
      return true;
    if((ix->flags[r] & CH_NUMIDX_ONCE) && !s->nosat) {
      uint32_t *st = &s->rstamp[rp->rbase + r];
      if(*st == s->satep) {
        s->skipped = true;
        return true;
      }
      *st = s->satep;
    }
    ixhits = ix->conds + b;
    nixhits = e - b;
  }
  size_t depth = pi != MARKER && rs->paths[pi].needctx ? s->depth : 0;
  if(s->nleaves >= EV_MAX_LEAVES ||
     (s->nleaves >= s->capleaves &&
      !grow((void **)&s->leaves, &s->capleaves, s->nleaves + 1,
            sizeof(*s->leaves), EV_MAX_LEAVES)))
    return toobig(f, "too many values to match");
  if(depth && s->nctx + depth > s->capctx &&
     !grow((void **)&s->ctx, &s->capctx, s->nctx + depth, sizeof(*s->ctx),
           SCRATCH_MAX_CTX))
    return toobig(f, "too large to match");
  uint32_t id = (uint32_t)s->nleaves++;
  s->leaves[id] = (struct sleaf){pi, (uint32_t)s->nctx, (uint16_t)depth, 0};
  if(depth) {
    struct elem *to = s->ctx + s->nctx; /* a few: no call */
    for(size_t i = 0; i < depth; i++)
      to[i] = s->stack[i];
    s->nctx += depth;
  }
  if(pi == MARKER) {
    s->marker = true;
    return true;
  }
  if(ixhits) {
    for(uint32_t i = 0; i < nixhits; i++)
      if(!add_hit(f, ixhits[i], id))
        return false;
    return true;
  }
  if(v->t == V_STR && v->n <= MEMO_STR)
    return leaf_memo(f, pi, v, id);
  return leaf_val(f, pi, v, id);
}

/* The hits of value v, leaf id, at rule path pi (without an index). */
static bool leaf_val(struct fl *f, uint32_t pi, struct val *v, uint32_t id)
{
  certhub_match_scratch *s = f->s;
  const certhub_ruleset *rs = f->rs;
  const struct rpath *rp = &rs->paths[pi];
  if(v->t == V_NUM && v->approx && (rp->xnum || rp->gn.n))
    num_exact(f, v);
  if(!add_hits(f, &rp->exists, id))
    return false;
  switch(v->t) {
  case V_STR:
  case V_NUM: {
    bool isnum = v->t == V_NUM;
    int kind = isnum ? X_NUM : X_STR;
    double d = isnum ? norm_zero(v->d) : 0;
    size_t nab = isnum ? 0 : rp->ab.n;
    if(nab && nab <= 64) /* no entry excluded yet (one word: no call) */
      s->excl[0] = 0;
    else if(nab)
      memset(s->excl, 0, (nab + 63) / 64 * sizeof(*s->excl));
    const unsigned char *us = (const unsigned char *)v->s;
    bool walk = isnum || rp->sall || !v->n ||
                ((rp->sfirst[us[0] / 64] >> (us[0] % 64)) & 1) ||
                ((rp->slast[us[v->n - 1] / 64] >> (us[v->n - 1] % 64)) & 1);
    if(walk && (isnum ? rp->xnum : rp->xstr)) {
      uint64_t h = xhash(pi, kind, v->s, v->n, d);
      const struct xent *x = x_find(rs, h, pi, kind, v->s, v->n, d);
      if(x && !add_hits(f, &x->conds, id))
        return false;
      if(x && x->nots.n)
        excl_set(s, &x->nots);
    }
    if(!isnum && walk) {
      if(rp->xeic) {
        uint64_t h = xhash(pi, X_EIC, v->s, v->n, 0);
        const struct xent *x = x_find(rs, h, pi, X_EIC, v->s, v->n, 0);
        if(x && !add_hits(f, &x->conds, id))
          return false;
        if(x && x->nots.n)
          excl_set(s, &x->nots);
      }
      if(rp->xeicu && !eicu_hits(f, pi, v, id))
        return false;
      if(!trie_walk(f, &rp->pre, v->s, v->n, false, false, id) ||
         !trie_walk(f, &rp->prei, v->s, v->n, false, true, id) ||
         !trie_walk(f, &rp->suf, v->s, v->n, true, false, id) ||
         !trie_walk(f, &rp->sufi, v->s, v->n, true, true, id))
        return false;
      for(size_t i = 0; i < rp->ngw; i++) {
        const struct gwild *g = &rp->gw[i];
        if(wild(g->m, v->s, v->n)) {
          if(!add_hits(f, &g->conds, id))
            return false;
          excl_set(s, &g->nots);
        }
      }
    }
    if(!isnum && !walk && rp->abrb && s->bitmode && !s->nosat &&
       !s->capping) {
      /* nothing excluded, every entry its rule's match: those bits (the
       * memo, which needs the conditions in cap, is not recording) */
      for(size_t w = 0; w < (rs->nrules + 63) / 64; w++) /* bitmode: <= 8 */
        s->rbits[w] |= rp->abbits[w];
      s->dmarked = true;
    }
    else if(!isnum) {
      /* every anything-but entry nothing excluded holds */
      for(size_t w = 0; w < (nab + 63) / 64; w++) {
        uint64_t x = ~s->excl[w];
        if(nab - 64 * w < 64)
          x &= ((uint64_t)1 << (nab - 64 * w)) - 1;
        for(; x; x &= x - 1) {
          size_t k = 64 * w + (size_t)__builtin_ctzll(x);
          uint32_t dr = rp->abdir.v[k];
          if(dr != NONE && !s->nosat) { /* add_hit's, without the lookup */
            s->cap[s->ncap++ % MEMO_CONDS] = rp->ab.v[k];
            s->dmarked = true;
            rule_matched(s, dr);
          }
          else if(!add_hit(f, rp->ab.v[k], id)) {
            return false;
          }
        }
      }
    }
    if(isnum) {
      size_t b, e;
      nb_window(rp, v->d, &b, &e);
      if(!ranges(f, &rp->nr, 0, rp->nr.n, v, id) ||
         !ranges(f, &rp->nb, b, e, v, id))
        return false;
    }
    const struct genv *g = isnum ? &rp->gn : &rp->gs;
    return !g->n || add_gen(f, g, v, id); /* usually none: no call */
  }
  case V_TRUE:
    return add_hits(f, &rp->t, id) && add_gen(f, &rp->go, v, id);
  case V_FALSE:
    return add_hits(f, &rp->f, id) && add_gen(f, &rp->go, v, id);
  case V_NULL:
    return add_hits(f, &rp->nul, id) && add_gen(f, &rp->go, v, id);
  }
  return true;
}

#define KID_DOT UINT64_MAX /* no key word: the key holds a '.' */

/* The key k[0..kn) (kn <= 8, 8 bytes readable) as a struct kids word, or
 * KID_DOT when it holds a '.' (such a key spans nodes: the hash path). */
static inline uint64_t kid_word(const char *k, size_t kn)
{
  uint64_t w, x;
  memcpy(&w, k, sizeof(w));
  w &= kn == 8 ? UINT64_MAX : (((uint64_t)1 << (8 * kn)) - 1); /* LE */
  x = w ^ 0x2e2e2e2e2e2e2e2eull; /* a zero byte where a '.' was */
  /* a zero byte in x among the first kn (a false positive only above a
   * real one: then the slow path, which is right anyway) */
  x = (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
  if(kn < 8)
    x &= ((uint64_t)1 << (8 * kn)) - 1;
  return x ? KID_DOT : w;
}

static bool onpath(struct fl *f, uint32_t self, uint32_t pi, size_t plen,
                   uint64_t h, unsigned level, unsigned depth);

/* Whether a number in region r of path rp's index would not be recorded
 * (leaf()'s first test): no conditions there, or a once-only region
 * already recorded in this pass. */
static inline __attribute__((always_inline)) bool
num_region_nothing(certhub_match_scratch *s, const struct rpath *rp,
                   uint32_t r)
{
  const struct ch_numidx *ix = &rp->ix;
  if(ix->off[r] == ix->off[r + 1] && !rp->has_absent)
    return true;
  if((ix->flags[r] & CH_NUMIDX_ONCE) && !s->nosat &&
     s->rstamp[rp->rbase + r] == s->satep) {
    s->skipped = true;
    return true;
  }
  return false;
}

/* The digit bounds of c (struct rcache) for numbers of d's sign and
 * integer digits. A number whose first 8 digits are m, one unit of the
 * 8th being u = 10^(a - 8), lies in [m u, (m + 1) u) (in magnitude); m
 * from floor(L / u) + 2 to floor(H / u) - 3 keeps it a unit clear of
 * both bounds L, H (in magnitude), more than the rounding of the
 * divisions and of the number's double. */
/* floor(x) for |x| <= 1e15, else +-1e15 (no libm; infinities too) */
static double floor_clamp(double x)
{
  if(!(x > -1e15))
    return -1e15;
  if(x > 1e15)
    return 1e15;
  double t = (double)(long long)x;
  return t > x ? t - 1 : t;
}

/* n < 10^8 as 8 ASCII digits, the last in the lowest byte, without a
 * loop of divisions: split in halves of 4 digits, pairs, digits, all
 * lanes at once (x * 10486 >> 20 is x / 100 for x < 10^4, x * 103 >> 10
 * is x / 10 for x < 100). */
static inline uint64_t ascii8(uint32_t n)
{
  uint64_t x = (n % 10000) | (uint64_t)(n / 10000) << 32, y, z;
  y = ((x * 10486) >> 20) & 0x0000007f0000007full;
  x = (x - y * 100) | y << 16;
  z = ((x * 103) >> 10) & 0x000f000f000f000full;
  x = (x - z * 10) | z << 8;
  return x | 0x3030303030303030ull;
}

static void rcache_digits(struct rcache *c, double d)
{
  double ad = fabs(d), lo = d < 0 ? -c->hi : c->lo,
         hi = d < 0 ? -c->lo : c->hi;
  unsigned a = 0;
  while(a < 9 && ad >= pow10tab[a])
    a++;
  c->ok = false;
  if(a < 1 || a > 8)
    return;
  double sc = pow10tab[8 - a], fl = floor_clamp(lo * sc) + 2,
         fh = floor_clamp(hi * sc) - 3;
  uint32_t ilo = fl < 0 ? 0 : fl > 99999999 ? 100000000 : (uint32_t)fl;
  uint32_t ihi = fh < 0 ? 0 : fh > 99999999 ? 99999999 : (uint32_t)fh;
  if(fh < 0 || ilo > ihi)
    return;
  /* the last digit in the lowest byte */
  c->alo = ascii8(ilo); /* ilo <= ihi <= 99999999 here */
  c->ahi = ascii8(ihi);
  c->a = (uint8_t)a;
  c->neg = d < 0;
  c->ok = true;
}

/* rcache_digits(c, d) through the region's entry g (struct rdig) */
static void rcache_digits_region(struct rcache *c, double d, struct rdig *g)
{
  double ad = fabs(d);
  unsigned a = 0;
  while(a < 9 && ad >= pow10tab[a])
    a++;
  if(g->set && g->a0 == a && g->neg0 == (d < 0)) {
    c->alo = g->alo;
    c->ahi = g->ahi;
    c->a = g->a;
    c->neg = g->neg;
    c->ok = g->ok;
    return;
  }
  rcache_digits(c, d);
  *g = (struct rdig){c->alo, c->ahi, c->a, (uint8_t)a, c->neg, d < 0, c->ok,
                     true};
}

/* leaf()'s first test for an approximate number d on path pi (rp), without
 * the call: true when it would not record it (and so need not be
 * called); false when leaf() decides. */
static inline __attribute__((always_inline)) bool
num_adds_nothing(certhub_match_scratch *s, const struct rpath *rp, uint32_t pi,
                 double d)
{
  const struct ch_numidx *ix = &rp->ix;
  if(!ix->off)
    return false;
  /* d is within tol of the number (struct val: twice 2^-51 is safe) */
  double tol = fabs(d) * 0x1p-50;
  struct rcache *c = &s->rcache[pi];
  uint32_t r;
  c->ep = s->satep;
  if(d - tol > c->lo && d + tol < c->hi) {
    r = c->r; /* strictly inside the last number's interval */
  }
  else {
    uint32_t i = ch_numidx_below(ix, d - tol);
    if(i < ix->nb && ix->b[i] <= d + tol)
      return false; /* a bound that close: leaf() decides exactly */
    r = 2 * i;
    c->lo = i ? ix->b[i - 1] : -INFINITY;
    c->hi = i < ix->nb ? ix->b[i] : INFINITY;
    c->r = r;
    c->ok = false;
    c->lazy = true;
    c->d0 = d;
  }
  return num_region_nothing(s, rp, r);
}

/* A number in the usual form of a coordinate, -?[1-9][0-9]*\.[0-9]+ with
 * at most 19 digits and no exponent, approximated as number() does with
 * approx (the same double): one classification of 32 bytes instead of a
 * call; false (nothing read) for any other form or near the end of the
 * buffer, and number() decides. */
static inline __attribute__((always_inline)) bool
num_fast(const unsigned char *p, const unsigned char *e, double *d,
         const unsigned char **end, certhub_match_scratch *s,
         const struct rpath *rp, uint32_t pi, bool *nothing)
{
#ifdef __SSE2__
  bool neg = *p == '-';
  p += neg;
  if(e - p < 32 || *p == '0')
    return false;
  const __m128i zero = _mm_set1_epi8('0'), flip = _mm_set1_epi8((char)0x80),
                nine = _mm_set1_epi8((char)(0x80 + 9));
  __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)p),
          x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
  /* non-digits: (b - '0') ^ 0x80 above 0x89 as signed, as in digits() */
  uint32_t nd =
      (uint32_t)_mm_movemask_epi8(
          _mm_cmpgt_epi8(_mm_xor_si128(_mm_sub_epi8(x0, zero), flip), nine)) |
      ((uint32_t)_mm_movemask_epi8(
           _mm_cmpgt_epi8(_mm_xor_si128(_mm_sub_epi8(x1, zero), flip), nine))
       << 16);
  if(!nd || (nd & 1))
    return false;
  unsigned a = (unsigned)__builtin_ctz(nd); /* digits before it */
  if(p[a] != '.' || a >= 19)
    return false;
  uint32_t rest = nd & ~((2u << a) - 1); /* non-digits after the '.' */
  if(!rest)
    return false;
  unsigned b = (unsigned)__builtin_ctz(rest);
  size_t nf = b - a - 1;
  if(!nf || a + nf > 19 || (p[b] | 0x20) == 'e')
    return false;
  *end = p + b;
  *nothing = false;
  struct rcache *c = &s->rcache[pi];
  if(a + nf >= 8 && !c->ok && c->lazy && c->ep == s->satep) {
    c->lazy = false; /* the second number on the path: now worth it */
    rcache_digits_region(c, c->d0, &s->rdig[rp->rbase + c->r]);
  }
  if(a + nf >= 8 && c->ok && c->a == a && c->neg == neg) {
    /* the first 8 digits (the '.' taken out: the bytes before it from
     * p, those after it from p + 1; a <= 8) bound the number within one
     * unit of the last of them: inside the interval of the path's last
     * number (compared as ASCII, struct rcache), and that region adds
     * nothing, the rest is not converted */
    uint64_t lo, hi, w,
        keep = a == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * a)) - 1;
    memcpy(&lo, p, sizeof(lo));
    memcpy(&hi, p + 1, sizeof(hi));
    w = __builtin_bswap64((lo & keep) | (hi & ~keep)); /* p[0] highest */
    if(w >= c->alo && w <= c->ahi && num_region_nothing(s, rp, c->r)) {
      *nothing = true;
      return true;
    }
  }
  uint64_t m; /* all the digits as one integer */
  if(a <= 7 && nf <= 16) {
    /* fixed-length SWAR, no loops: the integer part, then the fraction
     * in one or two words of 8 (a + 1 + nf + 8 <= 32 bytes readable) */
    m = swar8_left(p, a);
    if(nf <= 8) {
      m = m * pow10u[nf] + swar8_left(p + a + 1, nf);
    }
    else {
      m = (m * 100000000ull + swar8_left(p + a + 1, 8)) * pow10u[nf - 8] +
          swar8_left(p + a + 9, nf - 8);
    }
  }
  else {
    m = digits_value(p + a + 1, e, nf, digits_value(p, e, a, 0));
  }
  double v = (double)m * n10[nf];
  *d = neg ? -v : v;
  return true;
#else
  (void)p;
  (void)e;
  (void)d;
  (void)end;
  (void)s;
  (void)rp;
  (void)pi;
  (void)nothing;
  return false;
#endif
}

/* An object on some rule's path (see onpath), f->p at its '{'. The
 * position stays in a register; a member whose key is a node and whose
 * value is a number in the usual form becomes a leaf here, other values
 * on paths go through onpath, the rest is skipped. */
static bool object(struct fl *f, uint32_t self, size_t plen, uint64_t h,
                   unsigned level, unsigned depth)
{
  certhub_match_scratch *s = f->s;
  const certhub_ruleset *rs = f->rs;
  const unsigned char *p = f->p + 1, *e = f->end;
  SKIP_WS(p, e);
  if(p < e && *p == '}') {
    f->p = p + 1;
    return true;
  }
  size_t base = s->nkeys;
  size_t off = level ? plen + 1 : 0, maxp = rs->maxpath;
  uint32_t serial = ++s->objserial;
  if(!serial) { /* wrapped: forget every node's object */
    memset(s->node_obj, 0, s->nnode * sizeof(*s->node_obj));
    serial = s->objserial = 1;
  }
  if(level && plen < maxp)
    s->path[plen] = '.';
  const struct kids *kd = self == NONE ? &rs->rootkids : &rs->nodes[self].kids;
  /* a leaf one level down is read here when nothing deeper applies */
  bool inline_ok = level + 1 < EV_MAX_DEPTH && depth + 1 <= JSON_MAX_DEPTH;
  for(;;) {
    const char *k = NULL;
    size_t kn = SIZE_MAX;
    const struct node *nd = NULL;
    size_t ni = 0;       /* nd's index */
    uint32_t npi = NONE; /* its rule path when it takes numbers inline */
    const unsigned char *q0;
#ifdef __SSE2__
    if(e - p >= 16) {
      /* the usual member start, "key": with a plain key of up to 13
       * bytes, from one 16-byte classification: key end, no escape,
       * no '.', the colon right after it (else the general path) */
      const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
      for(unsigned j = 0; j < kd->ntok; j++) {
        unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
            x, _mm_loadu_si128((const __m128i *)(const void *)kd->tok[j])));
        if((eq & kd->tokmask[j]) == kd->tokmask[j]) {
          ni = kd->toknode[j];
          nd = &rs->nodes[ni];
          npi = kd->toknum[j];
          k = (const char *)p + 1;
          kn = nd->len - nd->koff;
          p += kn + 3;
          goto value;
        }
      }
      if(kd->nltok && e - p >= 32) {
        /* a long member start: its two halves */
        const __m128i x1 =
            _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
        for(unsigned j = 0; j < kd->nltok; j++) {
          uint32_t eq =
              (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
                  x, _mm_loadu_si128(
                         (const __m128i *)(const void *)kd->ltok[j]))) |
              (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
                  x1, _mm_loadu_si128(
                          (const __m128i *)(const void *)(kd->ltok[j] + 16))))
                  << 16;
          if((eq & kd->ltokmask[j]) == kd->ltokmask[j]) {
            ni = kd->ltoknode[j];
            nd = &rs->nodes[ni];
            k = (const char *)p + 1;
            kn = nd->len - nd->koff;
            p += kn + 3;
            goto value;
          }
        }
      }
      unsigned qm =
          (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
      unsigned stop = (qm | (unsigned)_mm_movemask_epi8(_mm_or_si128(
                                _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')),
                                _mm_cmplt_epi8(x, _mm_set1_epi8(0x20))))) &
                      ~1u;
      unsigned t = stop ? (unsigned)__builtin_ctz(stop) : 16;
      if((qm & 1) && t < 15 && ((qm >> t) & 1) && p[t + 1] == ':') {
        unsigned dots = (unsigned)_mm_movemask_epi8(
                            _mm_cmpeq_epi8(x, _mm_set1_epi8('.'))) &
                        ((1u << t) - 1);
        k = (const char *)p + 1;
        kn = t - 1;
        p += t + 2;
        if(off + kn <= maxp && (dots || kn > KIDS_TOKMAX || kd->tokpart)) {
          /* else: a plain key without '.' that matched no child's member
           * start above is no child's */
          if(kn <= 8 && !kd->over && !dots) {
            uint64_t w;
            memcpy(&w, k, sizeof(w)); /* within the 16 bytes */
            w &= kn == 8 ? UINT64_MAX : (((uint64_t)1 << (8 * kn)) - 1);
            for(unsigned j = 0; j < kd->n; j++)
              if(kd->key[j] == w && kd->len[j] == kn) {
                nd = &rs->nodes[kd->node[j]];
                break;
              }
          }
          else {
            nd = node_find2(rs, s->path, off, k, kn,
                            fnv(level ? fnv(h, ".", 1) : h, k, kn), self);
          }
        }
        if(nd)
          ni = (size_t)(nd - rs->nodes);
        goto value;
      }
    }
#endif
    if(p >= e || *p != '"')
      return bad(f, p, "expected a string key");
    p++;
    bool inev = false;
    const unsigned char *ke = plain_run(p, e);
    if(ke < e && *ke == '"') { /* the usual key: no escape */
      k = (const char *)p;
      kn = (size_t)(ke - p);
      p = ke + 1;
      inev = true;
    }
    else if(off <= maxp) {
      f->p = p;
      if(!string(f, S_KEY, s->path + off, maxp - off, &k, &kn))
        return false;
      p = f->p;
    }
    else if(!(p = sk_string(f, p))) {
      return false;
    }
    if(kn != SIZE_MAX && off + kn <= maxp) {
      uint64_t w;
      if(inev && kn <= 8 && !kd->over && e - p >= 8 &&
         (w = kid_word(k, kn)) != KID_DOT) {
        /* the children with short keys are all in kd (k + 8 <= p + 7) */
        for(unsigned j = 0; j < kd->n; j++)
          if(kd->key[j] == w && kd->len[j] == kn) {
            nd = &rs->nodes[kd->node[j]];
            break;
          }
      }
      else {
        /* hash of "path." then of the key: only on this path */
        nd = node_find2(rs, s->path, off, k, kn,
                        fnv(level ? fnv(h, ".", 1) : h, k, kn), self);
      }
    }
    if(p < e && *p == ':') {
      p++;
    }
    else {
      SKIP_WS(p, e);
      if(p >= e || *p != ':')
        return bad(f, p, "expected ':'");
      p++;
    }
    if(nd)
      ni = (size_t)(nd - rs->nodes);
#ifdef __SSE2__
  value:
#endif
    SKIP_WS(p, e);
    if(nd) {
      uint32_t l0 = (uint32_t)s->nleaves;
      uint32_t pi = nd->leafpath;
      struct val v;
      const unsigned char *q;
      bool nothing = false;
      /* npi: a member start found it (the usual member) */
      if(npi != NONE && inline_ok && p < e && (*p == '-' || is_digit(*p)) &&
         num_fast(p, e, &v.d, &q, s, &rs->paths[npi], npi, &nothing)) {
        v.t = V_NUM;
        v.approx = true;
        v.num = p;
        v.s = NULL;
        v.n = 0;
        p = q;
        if(p < e && *p == '\0')
          p++; /* nul_quirk */
        f->p = p;
        if(!nothing && !num_adds_nothing(s, &rs->paths[pi], pi, v.d) &&
           !leaf(f, pi, &v))
          return false;
      }
      else if(pi != NONE && inline_ok && p < e && *p == '"' &&
              (q = plain_run(p + 1, e)) < e && *q == '"') {
        /* a string without escapes (onpath()'s and string()'s answer,
         * without the calls): the value is the event's bytes */
        v.t = V_STR;
        v.s = (const char *)p + 1;
        v.n = (size_t)(q - p - 1);
        v.d = 0;
        v.approx = false;
        v.num = NULL;
        p = q + 1;
        f->p = p;
        if(!leaf(f, pi, &v))
          return false;
      }
      else {
        /* the path string is read below this key only (node_find2 and
         * string() in objects deeper down): written when descending
         * into a container */
        if(k != s->path + off && p < e && (*p == '{' || *p == '[')) {
          size_t j = 0;
          /* a word at a time while the event has 8 bytes at k + j (the
           * bytes past the key land in s->path's slack or are
           * overwritten by what follows) */
          if(e - (const unsigned char *)k >= (ptrdiff_t)kn + 8)
            for(; j < kn; j += 8)
              memcpy(s->path + off + j, k + j, 8);
          for(; j < kn; j++) /* short: no call */
            s->path[off + j] = k[j];
        }
        f->p = p;
        if(!onpath(f, (uint32_t)ni, pi, off + kn, nd->hash, level + 1,
                   depth + 1))
          return false;
        p = f->p;
      }
      /* jansson keeps the last of duplicate keys: the node remembers (by
       * object serial) its record in this object, O(1); a value without
       * leaves needs no record (nothing to kill) until a duplicate */
      if(s->node_obj[ni] == serial) {
        size_t ki = s->node_rec[ni];
        for(uint32_t j = s->keys[ki].lstart; j < s->keys[ki].lend; j++)
          s->leaves[j].dead = 1;
        s->dup = true;
        s->keys[ki] = (struct keyrec){nd, l0, (uint32_t)s->nleaves};
      }
      else if(s->nleaves != l0) {
        if(s->nkeys >= s->capkeys &&
           !grow((void **)&s->keys, &s->capkeys, s->nkeys + 1,
                 sizeof(*s->keys), SCRATCH_MAX_KEYS)) {
          f->p = p;
          return toobig(f, "too many keys to match");
        }
        size_t ki = s->nkeys++;
        s->node_obj[ni] = serial;
        s->node_rec[ni] = (uint32_t)ki;
        s->keys[ki] = (struct keyrec){nd, l0, (uint32_t)s->nleaves};
      }
    }
    else if(depth < JSON_MAX_DEPTH && p < e && *p == '"' &&
            (q0 = plain_run(p + 1, e)) < e && *q0 == '"') {
      p = q0 + 1; /* a string no rule reads, without escapes: no call */
    }
    else if(!(p = sk_value(f, p, depth + 1))) {
      return false;
    }
    if(e - p >= 2 && p[0] == ',' && p[1] == '"') {
      p++; /* the usual separator: no whitespace */
      continue;
    }
    SKIP_WS(p, e);
    if(p < e && *p == ',') {
      p++;
      SKIP_WS(p, e);
      continue;
    }
    if(p < e && *p == '}') {
      f->p = p + 1;
      s->nkeys = base;
      return true;
    }
    return bad(f, p, "expected ',' or '}'");
  }
}

/* An array element that is an object at node self (kd its children),
 * read at f->p ('{') when it leaves nothing to record: every member is
 * either a child whose numbers are read inline (struct kids toknum) and
 * whose number adds nothing (num_fast, num_adds_nothing), or a plain key
 * that is no child's, skipped. The coordinate objects of a polygon are
 * such once their regions are saturated; this reads them without
 * object()'s general member handling (key records, path string, leaf
 * calls). The elements that follow it as ",{" are read in turn while
 * they are such. Returns the number of elements read, f->p past the
 * last one's '}'; at the first element that is not such (another
 * member, whitespace, an error, a number to record) it stops, f->p
 * still past the '}' before it (or at the first's '{'), and nothing of
 * it recorded (only the interval
 * caches and s->skipped, as object() would set them for the same
 * numbers), so the caller reads it (0: the first) from its start. The
 * caller ensures the nesting limits hold two levels down. */
/* What obj_quiet learnt from the earlier elements of one array (the same
 * kd): the child its last child member was followed by, and the member
 * start of a plain key found to be no child's (zlen bytes; 0: none). */
struct qhint {
  unsigned next;
  unsigned zmask, zlen;
  unsigned char ztok[16];
};

static unsigned obj_quiet(struct fl *f, const struct kids *kd, unsigned depth,
                          struct qhint *qh)
{
#ifdef __SSE2__
  certhub_match_scratch *s = f->s;
  const certhub_ruleset *rs = f->rs;
  const unsigned char *p = f->p + 1, *e = f->end;
  unsigned n = 0; /* elements read */
  if(kd->tokpart || p >= e || *p != '"')
    return 0;
  for(;;) {
    if(e - p < 16)
      return n;
    const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    unsigned j = qh->next, zm = qh->zmask;
    /* the child that followed the last one first (x, then y), then the
     * plain key an earlier element had (no child's), then all children
     * (one matches at most: each start ends with '"' ':') */
    if(j >= kd->ntok ||
       ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
            x, _mm_loadu_si128((const __m128i *)(const void *)kd->tok[j]))) &
        kd->tokmask[j]) != kd->tokmask[j]) {
      if(zm &&
         ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
              x, _mm_loadu_si128((const __m128i *)(const void *)qh->ztok))) &
          zm) == zm) {
        p += qh->zlen;
        goto plain_value;
      }
      for(j = 0; j < kd->ntok; j++) {
        unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
            x, _mm_loadu_si128((const __m128i *)(const void *)kd->tok[j])));
        if((eq & kd->tokmask[j]) == kd->tokmask[j])
          break;
      }
    }
    if(j < kd->ntok) { /* a child: a number that adds nothing, or back */
      qh->next = j + 1 < kd->ntok ? j + 1 : 0;
      uint32_t pi = kd->toknum[j];
      if(pi == NONE)
        return n;
      p += kd->toklen[j];
      if(p >= e || (*p != '-' && !is_digit(*p)))
        return n;
      const struct rpath *rp = &rs->paths[pi];
      double d;
      const unsigned char *q;
      bool nothing;
      if(!num_fast(p, e, &d, &q, s, rp, pi, &nothing) ||
         (!nothing && !num_adds_nothing(s, rp, pi, d)))
        return n;
      p = q;
    }
    else { /* a plain key: no child's (no tokpart), its value skipped */
      unsigned qm =
          (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
      unsigned stop = (qm | (unsigned)_mm_movemask_epi8(_mm_or_si128(
                                _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')),
                                _mm_cmplt_epi8(x, _mm_set1_epi8(0x20))))) &
                      ~1u;
      unsigned t = stop ? (unsigned)__builtin_ctz(stop) : 16;
      if(!(qm & 1) || t >= 15 || t - 1 > KIDS_TOKMAX || !((qm >> t) & 1) ||
         p[t + 1] != ':' ||
         ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('.'))) &
          ((1u << t) - 1)))
        return n;
      memcpy(qh->ztok, p, 16); /* the next elements' same key: no child's */
      qh->zmask = (1u << (t + 2)) - 1;
      qh->zlen = t + 2;
      p += t + 2;
    plain_value:
      if(e - p >= 2 && is_digit(*p) && (p[1] == ',' || p[1] == '}')) {
        p++; /* a one-digit number ("z":0): valid, nothing to skip */
      }
      else {
        /* sk_value moves f->p on literals: put back for the caller */
        const unsigned char *back = f->p;
        p = sk_value(f, p, depth + 1);
        f->p = back;
        if(!p)
          return n;
      }
    }
    if(e - p >= 2 && p[0] == ',' && p[1] == '"') {
      p++;
      continue;
    }
    if(p < e && *p == '}') {
      f->p = ++p;
      n++;
      /* the next element, if another object: read here, without the
       * caller's loop and call */
      if(e - p >= 3 && p[0] == ',' && p[1] == '{' && p[2] == '"') {
        p += 2;
        continue;
      }
      return n;
    }
    return n;
  }
#else
  (void)f;
  (void)kd;
  (void)depth;
  (void)qh;
  return 0;
#endif
}

/* A value on some rule's path (its path is a node): pi is its rule path
 * or NONE, plen and h the length and hash of its path in s->path, level
 * the reference's nesting level, depth jansson's. */
static bool onpath(struct fl *f, uint32_t self, uint32_t pi, size_t plen,
                   uint64_t h, unsigned level, unsigned depth)
{
  certhub_match_scratch *s = f->s;
  if(depth > JSON_MAX_DEPTH)
    return bad(f, f->p, "nested more than 2048 levels");
  if(level >= EV_MAX_DEPTH) {
    /* The reference refuses this event as too deep, unless a later
     * duplicate key drops this value: a dead-able marker leaf. */
    return leaf(f, MARKER, NULL) && skip(f, depth);
  }
  if(f->p >= f->end)
    return bad(f, f->p, "unexpected end of input");
  struct val v = {0};
  switch(*f->p) {
  case '{':
    return object(f, self, plen, h, level, depth);
  case '[': {
    uint32_t id = f->arrays++;
    size_t sd = s->depth++;
    s->stack[sd] = (struct elem){id, 0};
    f->p++;
    ws(f);
    if(f->p < f->end && *f->p == ']') {
      f->p++;
      s->depth--;
      return true;
    }
    /* objects that may be read by obj_quiet: two levels down within
     * the limits (the element, its members) */
    const struct kids *qk =
        self != NONE && level + 3 < EV_MAX_DEPTH && depth + 3 <= JSON_MAX_DEPTH
            ? &f->rs->nodes[self].kids
            : NULL;
    struct qhint qh = {0, 0, 0, {0}};
    for(uint32_t i = 0;; i++) {
      s->stack[sd].index = i;
      unsigned nq;
      if(qk && f->p < f->end && *f->p == '{' &&
         (nq = obj_quiet(f, qk, depth + 1, &qh))) {
        i += nq - 1; /* read: nothing recorded */
      }
      else if(!onpath(f, self, pi, plen, h, level + 1, depth + 1)) {
        return false;
      }
      ws(f);
      if(f->p < f->end && *f->p == ',') {
        f->p++;
        ws(f);
        continue;
      }
      if(f->p < f->end && *f->p == ']') {
        f->p++;
        s->depth--;
        return true;
      }
      return bad(f, f->p, "expected ',' or ']'");
    }
  }
  case '"':
    f->p++;
    if(pi == NONE)
      return skip_string(f);
    v.t = V_STR;
    if(!string(f, S_VALUE, s->dbuf, CERTHUB_EVENT_MAX_LEN, &v.s, &v.n))
      return false;
    break;
  case 't':
    if(!literal(f, "true", 4))
      return false;
    v.t = V_TRUE;
    break;
  case 'f':
    if(!literal(f, "false", 5))
      return false;
    v.t = V_FALSE;
    break;
  case 'n':
    if(!literal(f, "null", 4))
      return false;
    v.t = V_NULL;
    break;
  default:
    v.t = V_NUM;
    if(pi == NONE)
      return skip_number(f);
    v.num = f->p;
    /* approximated when no exact number or other operator needs d */
    if(!number(f, &v.d,
               f->rs->paths[pi].xnum || f->rs->paths[pi].gn.n ? NULL
                                                              : &v.approx))
      return false;
    break;
  }
  return pi == NONE || leaf(f, pi, &v);
}

/* --- matching ------------------------------------------------------------ */

/* Two leaves agree when they took the same element of every array both
 * passed through; shared arrays are a common prefix of their stacks. */
static bool agree(const struct elem *ctx, const struct sleaf *a,
                  const struct sleaf *b)
{
  size_t n = a->nctx < b->nctx ? a->nctx : b->nctx;
  const struct elem *x = ctx + a->ctx, *y = ctx + b->ctx;
  for(size_t i = 0; i < n; i++) {
    if(x[i].array != y[i].array)
      return true;
    if(x[i].index != y[i].index)
      return false;
  }
  return true;
}

/* Bind hard conditions k.. to consistent leaves: 1 yes, 0 no, -1 out of
 * steps. */
static int bind_from(certhub_match_scratch *s, size_t nhard, size_t k)
{
  if(k == nhard)
    return 1;
  for(uint32_t h = s->cond_head[s->hard[k]]; h != NONE; h = s->hits[h].next) {
    if(++s->steps > MATCH_MAX_STEPS)
      return -1;
    const struct sleaf *l = &s->leaves[s->hits[h].leaf];
    bool ok = true;
    for(size_t j = 0; j < k && ok; j++)
      ok = agree(s->ctx, s->bound[j], l);
    if(!ok)
      continue;
    s->bound[k] = l;
    int r = bind_from(s, nhard, k + 1);
    if(r)
      return r;
  }
  return 0;
}

static int sz_cmp(const void *a, const void *b)
{
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

static void set_msg(char **errmsg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_msg(char **errmsg, const char *fmt, ...)
{
  if(!errmsg)
    return;
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  *errmsg = strdup(buf);
}

ch_err certhub_ruleset_match(const certhub_ruleset *rs,
                             certhub_match_scratch *scratch,
                             const char *event_json, size_t len,
                             const size_t **matched, size_t *nmatched,
                             char **errmsg)
{
  certhub_match_scratch *s = scratch;
  *matched = NULL;
  *nmatched = 0;
  if(errmsg)
    *errmsg = NULL;
  if(len > CERTHUB_EVENT_MAX_LEN) {
    set_msg(errmsg, "event: %zu bytes, larger than the limit of %d", len,
            CERTHUB_EVENT_MAX_LEN);
    return CH_ERR_TOOBIG;
  }
  if(!scratch_fit(s, rs))
    return CH_ERR_NOMEM;
  s->nosat = false;
  size_t words = (rs->nrules + 63) / 64;
  s->bitmode = words <= RBITS_WORDS;
again:
  if(s->rdirty) { /* only bitmode sets bits before the end */
    size_t cw = (s->nrule + 63) / 64; /* allocated (at least words) */
    memset(s->rbits, 0,
           (cw < RBITS_WORDS ? cw : RBITS_WORDS) * sizeof(*s->rbits));
    s->rdirty = false;
  }
  s->rdirty = s->bitmode;
  s->nleaves = s->nctx = s->nhits = s->nkeys = s->depth = s->nout = 0;
  s->skipped = s->dup = s->dmarked = s->marker = false;
  if(++s->satep == 0) { /* wrapped: forget every region's stamp */
    memset(s->rstamp, 0, s->nrstamp * sizeof(*s->rstamp));
    s->satep = 1;
  }
  struct fl f = {rs,
                 s,
                 (const unsigned char *)event_json,
                 (const unsigned char *)event_json,
                 (const unsigned char *)event_json + len,
                 0,
                 CH_OK,
                 NULL,
                 0};
  ws(&f);
  bool ok;
  const char *notobj = NULL;
  if(f.p < f.end && *f.p == '{') {
    ok = onpath(&f, NONE, NONE, 0, FNV_OFF, 0, 1);
  }
  else {
    const unsigned char *v = f.p;
    ok = skip(&f, 1);
    if(ok)
      notobj = *v == '['                ? "an array"
               : *v == '"'              ? "a string"
               : *v == 't' || *v == 'f' ? "a boolean"
               : *v == 'n'              ? "null"
                                        : "a number";
  }
  if(ok) {
    ws(&f);
    if(f.p < f.end)
      ok = bad(&f, f.p, "unexpected data after the JSON value");
  }
  if(!ok) {
    if(f.err == CH_ERR_TOOBIG) {
      /* a cap of ours: still, invalid JSON is a parse error first */
      ch_err e = f.err;
      const char *what = f.what;
      struct fl g = f;
      g.p = g.start;
      ws(&g);
      if(!(skip(&g, 1) && (ws(&g), g.p == g.end))) {
        set_msg(errmsg, "event: invalid JSON at byte %zu: %s", g.at, g.what);
        return CH_ERR_PARSE;
      }
      set_msg(errmsg, "event: %s", what);
      return e;
    }
    set_msg(errmsg, "event: invalid JSON at byte %zu: %s", f.at, f.what);
    return f.err;
  }
  if(notobj) {
    set_msg(errmsg, "event: must be a JSON object, not %s", notobj);
    return CH_ERR_PARSE;
  }
  if(s->dup && (s->skipped || s->dmarked) && !s->nosat) {
    /* a number left out for an earlier one, or a rule matched by a hit,
     * and a duplicate key then killed leaves (see leaf): again, recording
     * every number and every hit */
    s->nosat = true;
    next_epoch(s);
    goto again;
  }
  uint32_t ep = s->epoch;
  /* the paths present, for exists:false; a live MARKER is an error */
  if(rs->has_absent || s->marker)
    for(size_t i = 0; i < s->nleaves; i++) {
      const struct sleaf *l = &s->leaves[i];
      if(l->dead)
        continue;
      if(l->path == MARKER) {
        set_msg(errmsg, "event: nested too deeply");
        return CH_ERR_TOOBIG;
      }
      s->path_stamp[l->path] = ep;
    }
  size_t ntouched = 0, nout = s->nout;
  for(size_t i = 0; i < s->nhits; i++) {
    struct hit *ht = &s->hits[i];
    const struct sleaf *l = &s->leaves[ht->leaf];
    if(l->dead)
      continue;
    uint32_t c = ht->cond, dr = rs->conds[c].direct;
    if(dr != NONE) { /* the rule matches: nothing to count or bind */
      if(s->bitmode) {
        s->rbits[dr / 64] |= (uint64_t)1 << (dr % 64);
      }
      else if(s->rule_stamp[dr] != ep) {
        s->rule_stamp[dr] = ep;
        s->out[nout++] = dr;
      }
      continue;
    }
    if(s->cond_stamp[c] != ep) {
      s->cond_stamp[c] = ep;
      s->cond_head[c] = NONE;
      s->cond_free[c] = 0;
      const struct u32v *al = &rs->conds[c].alts;
      for(size_t j = 0; j < al->n; j++) {
        uint32_t a = al->v[j];
        if(s->alt_stamp[a] != ep) {
          s->alt_stamp[a] = ep;
          s->alt_count[a] = 0;
          s->touched[ntouched++] = a;
        }
        s->alt_count[a]++;
      }
    }
    ht->next = s->cond_head[c];
    s->cond_head[c] = (uint32_t)i;
    if(!l->nctx)
      s->cond_free[c] = 1;
  }
  for(size_t i = 0; i < rs->absent_alts.n; i++) {
    uint32_t a = rs->absent_alts.v[i];
    if(s->alt_stamp[a] != ep) {
      s->alt_stamp[a] = ep;
      s->alt_count[a] = 0;
      s->touched[ntouched++] = a;
    }
  }
  for(size_t t = 0; t < ntouched; t++) {
    const struct ralt *al = &rs->alts[s->touched[t]];
    if((s->bitmode ? (s->rbits[al->rule / 64] >> (al->rule % 64)) & 1
                   : s->rule_stamp[al->rule] == ep) ||
       s->alt_count[s->touched[t]] + al->nabsent < al->n)
      continue;
    size_t nhard = 0;
    bool sat = true;
    for(uint32_t j = 0; j < al->n && sat; j++) {
      uint32_t c = al->conds[j];
      const struct cond *cd = &rs->conds[c];
      if(cd->absent_ok && s->path_stamp[cd->path] != ep)
        continue; /* bound to nothing, like the reference */
      if(s->cond_stamp[c] != ep)
        sat = false;
      else if(!s->cond_free[c])
        s->hard[nhard++] = c;
    }
    if(!sat)
      continue;
    if(nhard > 1) {
      s->steps = 0;
      int r = bind_from(s, nhard, 0);
      if(r < 0) {
        set_msg(errmsg, "event: too complex to match (more than %d steps)",
                MATCH_MAX_STEPS);
        return CH_ERR_TOOBIG;
      }
      if(!r)
        continue;
    }
    if(s->bitmode) {
      s->rbits[al->rule / 64] |= (uint64_t)1 << (al->rule % 64);
      continue;
    }
    s->rule_stamp[al->rule] = ep;
    s->out[nout++] = al->rule;
  }
  /* In rule order: through a bitset when its words are few next to the
   * matches (each word is read and cleared), else a sort. */
  if(s->bitmode) { /* in rule order already */
    uint64_t *bits = s->rbits;
    nout = 0;
    for(size_t w = 0; w < words; w++) {
      uint64_t x = bits[w];
      bits[w] = 0;
      for(; x; x &= x - 1)
        s->out[nout++] = 64 * w + (size_t)__builtin_ctzll(x);
    }
    s->rdirty = false;
  }
  else if(nout > 1 && words <= 2 * nout + 4) {
    uint64_t *bits = s->rbits;
    for(size_t i = 0; i < nout; i++)
      bits[s->out[i] / 64] |= (uint64_t)1 << (s->out[i] % 64);
    nout = 0;
    for(size_t w = 0; w < words; w++) {
      uint64_t x = bits[w];
      bits[w] = 0;
      for(; x; x &= x - 1)
        s->out[nout++] = 64 * w + (size_t)__builtin_ctzll(x);
    }
  }
  else if(nout > 32) {
    qsort(s->out, nout, sizeof(*s->out), sz_cmp);
  }
  else {
    for(size_t i = 1; i < nout; i++) { /* few: insertion */
      size_t x = s->out[i], j = i;
      for(; j > 0 && s->out[j - 1] > x; j--)
        s->out[j] = s->out[j - 1];
      s->out[j] = x;
    }
  }
  *matched = s->out;
  *nmatched = nout;
  return CH_OK;
}
