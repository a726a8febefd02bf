/*
 * Private to the compiled ruleset (ruleset.c): the numeric conditions of
 * one rule path as an index of regions, so that a number on the path
 * finds all the conditions it satisfies with one search, whatever their
 * number, and the matcher can tell when a later number adds nothing.
 *
 * The bounds of the conditions, sorted and distinct, b[0] < ... <
 * b[nb - 1], cut the real line into 2 nb + 1 regions: region 2i is the
 * open interval (b[i - 1], b[i]) (b[-1] = -inf, b[nb] = +inf), region
 * 2i + 1 the point b[i]. Every condition holds on a whole region or on
 * none of it, so a number's conditions are its region's:
 * conds[off[r] .. off[r + 1]).
 */
#ifndef CH_RULESET_INT_H
#define CH_RULESET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One numeric condition: a range with optional bounds (an exact value is
 * lo == hi, both inclusive; no bound at all is "any number"). once: the
 * condition is satisfied by a single hit (every alternative using it has
 * no other condition), so more numbers in its region add nothing. */
struct ch_numcond {
  double lo, hi;
  bool has_lo, lo_incl, has_hi, hi_incl, once;
  uint32_t cond;
};

#define CH_NUMIDX_ONCE 1 /* every condition of the region is `once` */

struct ch_numidx {
  double *b;       /* the bounds, ascending */
  uint32_t nb;     /* 0 with off NULL: no index */
  uint32_t *off;   /* 2 nb + 2 offsets into conds; NULL: not built */
  uint32_t *conds; /* condition ids, region by region */
  uint8_t *flags;  /* per region: CH_NUMIDX_ONCE */
};

/* Build *ix from v[0..n), replacing what it held. 0: built; 1: not built
 * (the regions would hold more than max_entries condition ids in all:
 * many nested ranges; ix is left empty and the caller keeps its other
 * way); -1: out of memory (ix empty). */
int ch_numidx_build(struct ch_numidx *ix, const struct ch_numcond *v, size_t n,
                    size_t max_entries);

void ch_numidx_free(struct ch_numidx *ix);

/* The number of bounds below d, without branches on the data (numbers
 * on a path fall on either side of a bound at random: a branchy search
 * mispredicts about once per number). */
static inline uint32_t ch_numidx_below(const struct ch_numidx *ix, double d)
{
  const double *base = ix->b;
  uint32_t n = ix->nb;
  if(!n)
    return 0;
  while(n > 1) {
    uint32_t half = n / 2;
    base = base[half] < d ? base + half : base;
    n -= half;
  }
  return (uint32_t)(base - ix->b) + (*base < d);
}

/* The region of the exact number d. */
static inline uint32_t ch_numidx_region(const struct ch_numidx *ix, double d)
{
  uint32_t i = ch_numidx_below(ix, d);
  return i < ix->nb && ix->b[i] == d ? 2 * i + 1 : 2 * i;
}

/* The region of a number known only to lie within tol of d, or
 * UINT32_MAX when a bound is that close (the exact value decides). */
static inline uint32_t ch_numidx_region_near(const struct ch_numidx *ix,
                                             double d, double tol)
{
  uint32_t i = ch_numidx_below(ix, d - tol);
  return i == ix->nb || ix->b[i] > d + tol ? 2 * i : UINT32_MAX;
}

#endif
