/* Fuzz the SNS filter policy parser and matcher. The input is a policy
 * and an input split by the first NUL byte (no NUL: a fixed input). The
 * first byte of the policy part picks the scope (odd: MessageBody) and
 * is skipped. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/notify_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char attrs[] =
      "{\"store\":{\"Type\":\"String\",\"Value\":\"example_corp\"},\"price\":"
      "{\"Type\":\"Number\",\"Value\":\"301.5\"},\"tags\":{\"Type\":\"String."
      "Array\",\"Value\":\"[\\\"a\\\",1,true]\"},\"ip\":{\"Type\":"
      "\"String\",\"Value\":\"10.0.0.7\"}}";
  static const char body[] =
      "{\"detail-type\":\"ACM Certificate Expired\",\"detail\":{"
      "\"DaysToExpiry\":3,\"CommonName\":\"www.example.com\"},\"resources\":"
      "[\"arn:certhub:acm:local:0:certificate/1\"]}";
  if(!size)
    return 0;
  certhub_filter_scope scope =
      data[0] & 1 ? CERTHUB_FILTER_BODY : CERTHUB_FILTER_ATTRIBUTES;
  const char *in = (const char *)data + 1;
  size_t n = size - 1;
  const char *nul = memchr(in, '\0', n);
  size_t plen = nul ? (size_t)(nul - in) : n;
  char *policy = malloc(plen + 1);
  char *input = NULL;
  if(!policy)
    return 0;
  memcpy(policy, in, plen);
  policy[plen] = '\0';
  if(nul) {
    size_t ilen = n - plen - 1;
    input = malloc(ilen + 1);
    if(input) {
      memcpy(input, nul + 1, ilen);
      input[ilen] = '\0';
    }
  }
  certhub_filter_policy *p = NULL;
  char *why = NULL;
  if(certhub_filter_policy_compile(policy, scope, &p, &why) == CH_OK) {
    bool ok = false;
    const char *i = input                          ? input
                    : scope == CERTHUB_FILTER_BODY ? body
                                                   : attrs;
    if(scope == CERTHUB_FILTER_BODY)
      (void)certhub_filter_policy_accepts(p, NULL, i, strlen(i), &ok, &why);
    else
      (void)certhub_filter_policy_accepts(p, i, "m", 1, &ok, &why);
    certhub_filter_policy_free(p);
  }
  else if(why && strlen(why) > 4096) {
    abort(); /* messages stay short */
  }
  free(why);
  free(policy);
  free(input);
  return 0;
}
