/*
 * SAN list <-> stored text, shared by backends. One "TYPE:value" line per
 * entry, TYPE from certhub_san_type_name().
 */
#include <string.h>

#include "store_int.h"

ch_err ch_store_sans_encode(const certhub_san *sans, size_t n, ch_buf *out)
{
  ch_err rc = CH_OK;
  for(size_t i = 0; i < n && !rc; i++) {
    const char *v = sans[i].value ? sans[i].value : "";
    if(i)
      rc = ch_buf_addc(out, '\n');
    if(!rc)
      rc = ch_buf_addstr(out, certhub_san_type_name(sans[i].type));
    if(!rc)
      rc = ch_buf_addc(out, ':');
    while(!rc && *v) {
      size_t run = strcspn(v, "\\\n");
      rc = ch_buf_add(out, v, run);
      v += run;
      if(!rc && *v) {
        rc = ch_buf_addstr(out, *v == '\n' ? "\\n" : "\\\\");
        v++;
      }
    }
  }
  return rc;
}

static enum certhub_san_type type_from_name(const char *name, size_t len)
{
  for(int t = CERTHUB_SAN_DNS; t <= CERTHUB_SAN_OTHER; t++) {
    const char *tn = certhub_san_type_name((enum certhub_san_type)t);
    if(strlen(tn) == len && memcmp(tn, name, len) == 0)
      return (enum certhub_san_type)t;
  }
  return CERTHUB_SAN_OTHER;
}

/* Undo the escaping in place. */
static void unescape(char *v)
{
  char *w = v;
  for(char *r = v; *r; r++) {
    if(*r == '\\' && (r[1] == 'n' || r[1] == '\\')) {
      *w++ = r[1] == 'n' ? '\n' : '\\';
      r++;
    }
    else
      *w++ = *r;
  }
  *w = '\0';
}

ch_err ch_store_sans_decode(struct ch_arena *arena, char *text,
                            certhub_san **sans, size_t *n)
{
  size_t count = 0, i = 0;
  *sans = NULL;
  *n = 0;
  if(!text || !*text)
    return CH_OK;
  count = 1;
  for(const char *p = text; *p; p++)
    count += *p == '\n';
  certhub_san *arr = ch_arena_alloc(arena, count * sizeof(*arr));
  if(!arr)
    return CH_ERR_TOOBIG;
  char *line = text;
  while(line) {
    char *nl = strchr(line, '\n');
    if(nl)
      *nl = '\0';
    char *colon = strchr(line, ':');
    if(colon) {
      arr[i].type = type_from_name(line, (size_t)(colon - line));
      arr[i].value = colon + 1;
    }
    else {
      arr[i].type = CERTHUB_SAN_OTHER;
      arr[i].value = line;
    }
    unescape((char *)arr[i].value);
    i++;
    line = nl ? nl + 1 : NULL;
  }
  *sans = arr;
  *n = i;
  return CH_OK;
}
