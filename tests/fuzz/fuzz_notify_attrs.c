/* Fuzz the MessageAttributes checks: the input is checked as a
 * MessageAttributes object, added as a NAME=TYPE:VALUE argument, and read
 * as an event for certhub's own attributes; whatever is accepted must be
 * accepted again in its normalised form, with the same counted size. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/notify.h"
#include "certhub/notify_render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *out = NULL, *again = NULL, *why = NULL, *arg = NULL, *own = NULL;
  size_t n1 = 0, n2 = 0;
  const char *text = (const char *)data;
  if(certhub_msg_attrs_check(text, size, &out, &n1, &why) == CH_OK && out) {
    if(certhub_msg_attrs_check(out, strlen(out), &again, &n2, NULL) != CH_OK ||
       strcmp(out, again) || n1 != n2)
      abort();
  }
  free(why);
  why = NULL;
  char *s = malloc(size + 1);
  if(s) {
    memcpy(s, data, size);
    s[size] = '\0';
    (void)certhub_msg_attrs_add_arg(&arg, s, &why);
    free(why);
    free(s);
  }
  if(certhub_msg_attrs_from_event(text, size, NULL, NULL, &own) == CH_OK &&
     own) {
    /* what certhub makes itself passes Publish's checks */
    char *norm = NULL;
    if(certhub_msg_attrs_check(own, strlen(own), &norm, NULL, NULL) != CH_OK)
      abort();
    free(norm);
  }
  free(own);
  free(arg);
  free(out);
  free(again);
  return 0;
}
