/* Fuzz the STARTTLS dialects with arbitrary server bytes. The first byte
 * picks the dialect; the rest is fed in pieces, and what a dialect leaves
 * unconsumed is offered again with the next piece, as the probe loop
 * does. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *const *names = certhub_starttls_names();
  size_t n_names = 0;
  while(names[n_names])
    n_names++;
  if(size < 1 || n_names == 0)
    return 0;
  const ch_starttls_ops *ops = ch_starttls_find(names[data[0] % n_names]);
  if(!ops)
    abort();
  data++;
  size--;

  void *st = calloc(1, ops->state_size ? ops->state_size : 1);
  uint8_t *pend = malloc(size ? size : 1);
  ch_buf out;
  ch_fail f;
  size_t plen = 0, off = 0;
  if(!st || !pend)
    goto out;
  memset(&f, 0, sizeof(f));
  ch_buf_init(&out, 1 << 20);
  ch_step s = ops->start(st, "mail.example.test", &out, &f);
  /* Pieces: 1 byte, then sevenths of the rest. */
  while(s == CH_STEP_MORE && off < size) {
    size_t piece = off == 0 ? 1 : size / 7 + 1;
    if(piece > size - off)
      piece = size - off;
    memcpy(pend + plen, data + off, piece);
    plen += piece;
    off += piece;
    size_t used = 0;
    s = ops->input(st, pend, plen, &used, &out, &f);
    if(used > plen)
      abort(); /* a dialect must never claim more than it was given */
    memmove(pend, pend + used, plen - used);
    plen -= used;
    ch_buf_reset(&out);
  }
  if(s == CH_STEP_FAIL && strlen(f.reason) >= sizeof(f.reason))
    abort();
  ch_buf_free(&out);
out:
  free(st);
  free(pend);
  return 0;
}
