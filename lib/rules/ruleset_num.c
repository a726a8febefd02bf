/*
 * The numeric index of a rule path (ruleset_int.h): built when a rule is
 * added, read-only while matching.
 */
#include <stdlib.h>
#include <string.h>

#include "ruleset_int.h"

void ch_numidx_free(struct ch_numidx *ix)
{
  free(ix->b);
  free(ix->off);
  free(ix->conds);
  free(ix->flags);
  memset(ix, 0, sizeof(*ix));
}

static int dbl_cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The index of bound d, which is one of b[0..n). */
static uint32_t bound_at(const double *b, uint32_t n, double d)
{
  uint32_t lo = 0;
  while(n > 0) {
    uint32_t half = n / 2;
    if(b[lo + half] < d) {
      lo += half + 1;
      n -= half + 1;
    }
    else {
      n = half;
    }
  }
  return lo;
}

/* The regions [*r0, *r1] where c holds (*r0 > *r1: none). */
static void span(const struct ch_numcond *c, const double *b, uint32_t nb,
                 uint32_t *r0, uint32_t *r1)
{
  *r0 = 0;
  *r1 = 2 * nb;
  if(c->has_lo) {
    uint32_t i = bound_at(b, nb, c->lo);
    *r0 = c->lo_incl ? 2 * i + 1 : 2 * i + 2;
  }
  if(c->has_hi) {
    uint32_t j = bound_at(b, nb, c->hi);
    *r1 = c->hi_incl ? 2 * j + 1 : 2 * j;
  }
}

int ch_numidx_build(struct ch_numidx *ix, const struct ch_numcond *v, size_t n,
                    size_t max_entries)
{
  ch_numidx_free(ix);
  if(n > (UINT32_MAX - 4) / 4 || max_entries > UINT32_MAX)
    return 1;
  double *b = malloc((2 * n + 1) * sizeof(*b));
  if(!b)
    return -1;
  uint32_t nb = 0;
  for(size_t i = 0; i < n; i++) {
    /* -0 and 0 are one bound: the comparisons do not tell them apart */
    if(v[i].has_lo)
      b[nb++] = v[i].lo == 0 ? 0.0 : v[i].lo;
    if(v[i].has_hi)
      b[nb++] = v[i].hi == 0 ? 0.0 : v[i].hi;
  }
  qsort(b, nb, sizeof(*b), dbl_cmp);
  uint32_t m = 0;
  for(uint32_t i = 0; i < nb; i++)
    if(!m || b[i] != b[m - 1])
      b[m++] = b[i];
  nb = m;
  uint32_t nreg = 2 * nb + 1;
  uint32_t *off = calloc((size_t)nreg + 1, sizeof(*off));
  uint8_t *flags = malloc(nreg);
  if(!off || !flags)
    goto nomem;
  /* entries per region by a difference array, then offsets */
  size_t total = 0;
  for(size_t i = 0; i < n; i++) {
    uint32_t r0, r1;
    span(&v[i], b, nb, &r0, &r1);
    if(r0 > r1)
      continue;
    total += r1 - r0 + 1;
    if(total > max_entries) {
      free(b);
      free(off);
      free(flags);
      return 1;
    }
    off[r0]++;
    if(r1 + 1 < nreg)
      off[r1 + 1]--; /* wraps; the prefix sums below come out right */
  }
  uint32_t *cnt = malloc((size_t)nreg * sizeof(*cnt));
  uint32_t *conds = malloc((total ? total : 1) * sizeof(*conds));
  if(!cnt || !conds) {
    free(cnt);
    free(conds);
    goto nomem;
  }
  uint32_t run = 0;
  for(uint32_t r = 0; r < nreg; r++) {
    run += off[r];
    cnt[r] = run;
  }
  uint32_t o = 0;
  for(uint32_t r = 0; r < nreg; r++) {
    off[r] = o;
    o += cnt[r];
    flags[r] = CH_NUMIDX_ONCE;
  }
  off[nreg] = o;
  /* fill, reusing cnt as the write positions */
  memcpy(cnt, off, (size_t)nreg * sizeof(*cnt));
  for(size_t i = 0; i < n; i++) {
    uint32_t r0, r1;
    span(&v[i], b, nb, &r0, &r1);
    for(uint32_t r = r0; r0 <= r1 && r <= r1; r++) {
      conds[cnt[r]++] = v[i].cond;
      if(!v[i].once)
        flags[r] = 0;
    }
  }
  free(cnt);
  ix->b = b;
  ix->nb = nb;
  ix->off = off;
  ix->conds = conds;
  ix->flags = flags;
  return 0;
nomem:
  free(b);
  free(off);
  free(flags);
  return -1;
}
