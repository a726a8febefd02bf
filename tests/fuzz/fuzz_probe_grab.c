/* Fuzz the grab TLS engine with arbitrary server bytes, fed in a few
 * pieces (split points derived from the input) so record and message
 * reassembly across calls is exercised.
 *
 * RAND is deterministic here (the same generator as test_probe_grab.c uses
 * for the corpus), so the engine's ClientHello and key share are the same
 * on every run and the TLS 1.3 flights in the corpus, captured from a real
 * libssl server answering that ClientHello, decrypt: the encrypted path is
 * replayed, not just the plaintext ServerHello. */
#define OPENSSL_SUPPRESS_DEPRECATED /* RAND_set_rand_method */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "probe/probe_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t det_state;
static int det_bytes(unsigned char *buf, int num)
{
  for(int i = 0; i < num; i++) {
    det_state ^= det_state << 13;
    det_state ^= det_state >> 7;
    det_state ^= det_state << 17;
    buf[i] = (unsigned char)(det_state >> 24);
  }
  return 1;
}
static int det_status(void)
{
  return 1;
}
static const RAND_METHOD det_method = {NULL, det_bytes, NULL,
                                       NULL, det_bytes, det_status};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  ch_tls_params p = {
      .sni = "leaf.example.test", .max_chain = 8, .max_bytes = 64 * 1024};
  ch_buf out;
  ch_fail f;
  ch_tls_info info;
  void *st = NULL;
  memset(&f, 0, sizeof(f));
  memset(&info, 0, sizeof(info));
  ch_buf_init(&out, 1 << 20);
  det_state = 0x9e3779b97f4a7c15ull;
  RAND_set_rand_method(&det_method);
  if(ch_tls_grab.create(&p, &st, &out, &f) != CH_OK)
    goto out;
  /* Pieces: a 1-byte head, then thirds, then whatever is left. */
  size_t cuts[] = {size ? 1 : 0, size / 3, 2 * size / 3, size};
  size_t off = 0;
  ch_step s = CH_STEP_MORE;
  for(size_t i = 0; i < 4 && s == CH_STEP_MORE; i++) {
    if(cuts[i] < off)
      continue;
    ch_buf_reset(&out);
    s = ch_tls_grab.input(st, data + off, cuts[i] - off, &out, &info, &f);
    off = cuts[i];
  }
  if(s == CH_STEP_DONE) {
    /* Touch everything the result points to, for ASan. */
    unsigned sum =
        info.version + info.cipher_id + (unsigned)strlen(info.cipher);
    for(size_t i = 0; i < info.chain_n; i++) {
      for(size_t k = 0; k < info.chain_len[i]; k++)
        sum += info.chain_der[i][k];
    }
    for(size_t k = 0; k < info.ocsp_len; k++)
      sum += info.ocsp_der[k];
    if(getenv("FUZZ_GRAB_VERBOSE"))
      fprintf(stderr, "done: %s %s chain %zu ocsp %zu (%u)\n",
              certhub_tls_version_name(info.version), info.cipher, info.chain_n,
              info.ocsp_len, sum);
  }
  else if(s == CH_STEP_FAIL && getenv("FUZZ_GRAB_VERBOSE")) {
    fprintf(stderr, "fail: %s\n", f.reason);
  }
out:
  RAND_set_rand_method(NULL);
  ch_tls_grab.destroy(st);
  ch_buf_free(&out);
  return 0;
}
