#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"

void ch_hex_encode(const uint8_t *p, size_t n, char *out)
{
  static const char hx[] = "0123456789abcdef";
  for(size_t i = 0; i < n; i++) {
    out[2 * i] = hx[p[i] >> 4];
    out[2 * i + 1] = hx[p[i] & 15];
  }
  out[2 * n] = '\0';
}

int ch_hex_val(int c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if(c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

char *ch_strdup0(const char *s)
{
  return s ? strdup(s) : NULL;
}

bool ch_strcasestr_bool(const char *hay, const char *needle)
{
  size_t n = strlen(needle);
  if(n == 0)
    return true;
  for(; *hay; hay++) {
    if(tolower((unsigned char)*hay) == tolower((unsigned char)*needle) &&
       strncasecmp(hay, needle, n) == 0)
      return true;
  }
  return false;
}
