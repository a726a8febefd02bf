/* Fuzz schedule parsing and evaluation: parse, print back, re-parse, and
 * step next() a few times from instants taken from the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char buf[CERTHUB_SCHEDULE_MAX_LEN + 16];
  size_t n = size < sizeof(buf) - 1 ? size : sizeof(buf) - 1;
  memcpy(buf, data, n);
  buf[n] = '\0';
  certhub_schedule *s = NULL, *again = NULL;
  char *err = NULL;
  if(certhub_schedule_parse(buf, &s, &err) != CH_OK) {
    if(!err || !*err)
      abort(); /* every rejection explains itself */
    free(err);
    return 0;
  }
  /* The canonical form must parse to a schedule with the same times. */
  if(certhub_schedule_parse(certhub_schedule_expr(s), &again, NULL) != CH_OK)
    abort();
  static const int64_t starts[] = {
      INT64_MIN, -1, 0, 1795428000, 7258118400, 7289654340, INT64_MAX};
  for(size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
    int64_t t = starts[i], u = starts[i];
    for(int k = 0; k < 4; k++) {
      int64_t nt = 0, nu = 0;
      ch_err e = certhub_schedule_next_msg(s, t, &nt, &err);
      ch_err f = certhub_schedule_next(again, u, &nu);
      if(e != f || (e == CH_OK && (nt != nu || nt <= t)))
        abort();
      free(err);
      err = NULL;
      if(e != CH_OK)
        break;
      t = u = nt;
    }
  }
  if(size > n + 8) { /* extra bytes: an anchor for rate() */
    int64_t a;
    memcpy(&a, data + size - 8, 8);
    certhub_schedule_set_anchor(s, a);
    int64_t nt;
    if(certhub_schedule_next(s, a, &nt) == CH_OK && nt <= a)
      abort();
  }
  certhub_schedule_free(again);
  certhub_schedule_free(s);
  return 0;
}
