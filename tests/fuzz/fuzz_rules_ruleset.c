/* Differential fuzzing of the compiled ruleset against the reference
 * matcher. Input: patterns, one per line, then a NUL byte, then the event
 * (no NUL: the whole input is the event, with fixed patterns). Each
 * pattern that compiles is added to one ruleset; the ruleset's answer for
 * the event must equal the reference's, pattern by pattern. The one
 * allowed difference: the reference giving up on a too complex binding
 * search (its step budget). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/pattern.h"
#include "certhub/ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXP 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char fixed[] =
      "{\"a\":[1]}\n{\"a\":{\"b\":[\"x\"],\"c\":[{\"prefix\":\"y\"}]}}\n"
      "{\"a\":[{\"exists\":false}]}\n{\"b\":[{\"anything-but\":\"z\"}]}";
  const char *in = (const char *)data;
  const char *nul = memchr(in, '\0', size);
  const char *pats = nul ? in : fixed, *ev = nul ? nul + 1 : in;
  size_t plen = nul ? (size_t)(nul - in) : sizeof(fixed) - 1;
  size_t elen = nul ? size - plen - 1 : size;
  certhub_pattern *ps[MAXP];
  size_t np = 0;
  certhub_ruleset *rs = NULL;
  certhub_match_scratch *sc = NULL;
  if(certhub_ruleset_new(&rs) || certhub_match_scratch_new(&sc))
    abort();
  for(size_t o = 0; o <= plen && np < MAXP;) {
    const char *nl = memchr(pats + o, '\n', plen - o);
    size_t n = nl ? (size_t)(nl - (pats + o)) : plen - o;
    char *e1 = NULL, *e2 = NULL;
    ch_err a = certhub_pattern_compile(pats + o, n, &ps[np], &e1);
    ch_err b = certhub_ruleset_add(rs, "p", pats + o, n, NULL, &e2);
    if(a != b || (a && strcmp(e1, e2) != 0))
      abort(); /* same validation */
    free(e1);
    free(e2);
    if(a == CH_OK)
      np++;
    o += n + 1;
  }
  const size_t *mv = NULL;
  size_t nm = 0, k = 0;
  char *err = NULL;
  ch_err got = certhub_ruleset_match(rs, sc, ev, elen, &mv, &nm, &err);
  free(err);
  ch_err worst = CH_OK;
  bool budget = false, want[MAXP];
  for(size_t i = 0; i < np; i++) {
    char *re = NULL;
    ch_err r = certhub_pattern_match(ps[i], ev, elen, &want[i], &re);
    if(r != CH_OK && worst == CH_OK)
      worst = r;
    if(re && strstr(re, "too complex"))
      budget = true;
    free(re);
  }
  if(np && !budget) {
    if(got != worst)
      abort();
    if(got == CH_OK) {
      for(size_t i = 0; i < np; i++) {
        bool in_ = k < nm && mv[k] == i;
        k += in_;
        if(in_ != want[i])
          abort();
      }
      if(k != nm)
        abort();
    }
  }
  for(size_t i = 0; i < np; i++)
    certhub_pattern_free(ps[i]);
  certhub_ruleset_free(rs);
  certhub_match_scratch_free(sc);
  return 0;
}
