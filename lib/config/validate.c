/*
 * Validation helpers over the YAML tree: typed getters that produce
 * "FILE:LINE: KEY.PATH: problem" messages.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

ch_err ch_cfg_errorf(ch_cfgerr *e, const ch_ynode *at, const char *path,
                     const char *fmt, ...)
{
  if(e->msg) /* keep the first error */
    return CH_ERR_CONFIG;
  ch_buf m;
  ch_buf_init(&m, 8192);
  int line = at ? at->line : 1;
  if(path && *path)
    ch_buf_printf(&m, "%s:%d: %s: ", e->file, line, path);
  else
    ch_buf_printf(&m, "%s:%d: ", e->file, line);
  va_list ap;
  va_start(ap, fmt);
  ch_buf_vprintf(&m, fmt, ap);
  va_end(ap);
  e->msg = ch_buf_take(&m);
  return CH_ERR_CONFIG;
}

void ch_cfg_path(char *buf, size_t len, const char *parent, const char *key)
{
  if(parent && *parent)
    snprintf(buf, len, "%s.%s", parent, key);
  else
    snprintf(buf, len, "%s", key);
}

void ch_cfg_path_index(char *buf, size_t len, const char *parent, size_t i)
{
  snprintf(buf, len, "%s[%zu]", parent ? parent : "", i);
}

/* A scalar for a message: quoted, non-printables escaped, cut at 64. */
static void quote(const ch_ynode *n, char *buf, size_t len)
{
  size_t o = 0;
  buf[o++] = '"';
  for(size_t i = 0; i < n->len && o + 8 < len; i++) {
    unsigned char c = (unsigned char)n->str[i];
    if(i == 64) {
      o += (size_t)snprintf(buf + o, len - o, "...");
      break;
    }
    if(c == '"' || c == '\\')
      o += (size_t)snprintf(buf + o, len - o, "\\%c", c);
    else if(c < 0x20 || c == 0x7f)
      o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
    else
      buf[o++] = (char)c;
  }
  buf[o++] = '"';
  buf[o] = '\0';
}

ch_err ch_cfg_check_keys(ch_cfgerr *e, const ch_ynode *n, const char *path,
                         const char *const *allowed, size_t n_allowed)
{
  if(!n || n->kind != CH_Y_MAP)
    return ch_cfg_errorf(e, n, path, "expected a map, got %s",
                         ch_ynode_kind_name(n));
  for(const ch_ynode *k = n->first; k; k = k->next) {
    size_t i;
    for(i = 0; i < n_allowed; i++)
      if(strlen(allowed[i]) == k->len && !memcmp(allowed[i], k->str, k->len))
        break;
    if(i < n_allowed)
      continue;
    ch_buf list;
    ch_buf_init(&list, 4096);
    for(i = 0; i < n_allowed; i++)
      ch_buf_printf(&list, "%s%s", i ? ", " : "", allowed[i]);
    char kp[1024], q[300];
    if(memchr(k->str, '\0', k->len) || k->len > 200) {
      quote(k, q, sizeof(q));
      ch_cfg_path(kp, sizeof(kp), path, q);
    }
    else
      ch_cfg_path(kp, sizeof(kp), path, k->str);
    ch_err rc = ch_cfg_errorf(e, k, kp, "unknown key (expected one of: %s)",
                              list.data ? list.data : "");
    ch_buf_free(&list);
    return rc;
  }
  return CH_OK;
}

static ch_err scalar_text(ch_cfgerr *e, const ch_ynode *n, const char *path)
{
  if(ch_ynode_is_null(n))
    return ch_cfg_errorf(e, n, path, "missing value");
  if(n->kind != CH_Y_SCALAR)
    return ch_cfg_errorf(e, n, path, "expected a string, got %s",
                         ch_ynode_kind_name(n));
  if(strlen(n->str) != n->len)
    return ch_cfg_errorf(e, n, path, "contains a NUL byte");
  return CH_OK;
}

ch_err ch_cfg_string(ch_cfgerr *e, const ch_ynode *n, const char *path,
                     char **out)
{
  *out = NULL;
  ch_err rc = scalar_text(e, n, path);
  if(rc)
    return rc;
  *out = strdup(n->str);
  return *out ? CH_OK : CH_ERR_NOMEM;
}

ch_err ch_cfg_int(ch_cfgerr *e, const ch_ynode *n, const char *path, long min,
                  long max, long *out)
{
  char q[300];
  ch_err rc = scalar_text(e, n, path);
  if(rc)
    return rc;
  quote(n, q, sizeof(q));
  const char *s = n->str;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  bool digits = s[i] != '\0';
  for(; s[i]; i++)
    if(!isdigit((unsigned char)s[i]))
      digits = false;
  if(!n->plain || !digits)
    return ch_cfg_errorf(e, n, path, "expected an integer, got %s%s",
                         n->plain ? "" : "a quoted string ", q);
  errno = 0;
  long v = strtol(s, NULL, 10);
  if(errno == ERANGE || v < min || v > max)
    return ch_cfg_errorf(e, n, path, "%s is out of range (%ld..%ld)", s, min,
                         max);
  *out = v;
  return CH_OK;
}

void ch_cfg_strv_free(char **v, size_t n)
{
  if(!v)
    return;
  for(size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

ch_err ch_cfg_string_list(ch_cfgerr *e, const ch_ynode *n, const char *path,
                          bool allow_empty, char ***out, size_t *n_out)
{
  ch_err rc = CH_OK;
  char **v = NULL;
  size_t cnt = 0;
  *out = NULL;
  *n_out = 0;
  if(ch_ynode_is_null(n)) {
    rc = ch_cfg_errorf(e, n, path, "missing value");
    goto out;
  }
  if(n->kind == CH_Y_MAP) {
    rc = ch_cfg_errorf(e, n, path, "expected a string or a list, got a map");
    goto out;
  }
  size_t want = n->kind == CH_Y_SEQ ? n->n : 1;
  if(!want && !allow_empty) {
    rc = ch_cfg_errorf(e, n, path, "must not be empty");
    goto out;
  }
  v = calloc(want ? want : 1, sizeof(*v));
  if(!v) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  const ch_ynode *item = n->kind == CH_Y_SEQ ? n->first : n;
  for(size_t i = 0; i < want; i++, item = item->next) {
    char ip[1024];
    if(n->kind == CH_Y_SEQ)
      ch_cfg_path_index(ip, sizeof(ip), path, i);
    else
      snprintf(ip, sizeof(ip), "%s", path);
    rc = ch_cfg_string(e, item, ip, &v[cnt]);
    if(rc)
      goto out;
    cnt++;
    if(!*v[cnt - 1]) {
      rc = ch_cfg_errorf(e, item, ip, "must not be empty");
      goto out;
    }
  }
  *out = v;
  *n_out = cnt;
  v = NULL;

out:
  ch_cfg_strv_free(v, cnt);
  return rc;
}
