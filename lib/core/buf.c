#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

void ch_buf_init(ch_buf *b, size_t cap)
{
  b->data = NULL;
  b->len = 0;
  b->alloc = 0;
  b->cap = cap;
}

void ch_buf_free(ch_buf *b)
{
  ch_safefree(b->data);
  b->len = 0;
  b->alloc = 0;
}

void ch_buf_reset(ch_buf *b)
{
  b->len = 0;
  if(b->data)
    b->data[0] = '\0';
}

static ch_err grow(ch_buf *b, size_t extra)
{
  if(extra > b->cap || b->len > b->cap - extra) {
    ch_buf_free(b);
    return CH_ERR_TOOBIG;
  }
  size_t need = b->len + extra + 1;
  if(need <= b->alloc)
    return CH_OK;
  size_t na = b->alloc ? b->alloc : 64;
  while(na < need)
    na = na > SIZE_MAX / 2 ? need : na * 2;
  char *p = realloc(b->data, na);
  if(!p) {
    ch_buf_free(b);
    return CH_ERR_NOMEM;
  }
  b->data = p;
  b->alloc = na;
  return CH_OK;
}

ch_err ch_buf_add(ch_buf *b, const void *p, size_t n)
{
  ch_err rc = grow(b, n);
  if(rc)
    return rc;
  if(n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return CH_OK;
}

ch_err ch_buf_addstr(ch_buf *b, const char *s)
{
  return ch_buf_add(b, s, strlen(s));
}

ch_err ch_buf_addc(ch_buf *b, char c)
{
  return ch_buf_add(b, &c, 1);
}

ch_err ch_buf_vprintf(ch_buf *b, const char *fmt, va_list ap)
{
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if(n < 0) {
    ch_buf_free(b);
    return CH_ERR_INTERNAL;
  }
  ch_err rc = grow(b, (size_t)n);
  if(rc)
    return rc;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return CH_OK;
}

ch_err ch_buf_printf(ch_buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  ch_err rc = ch_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

char *ch_buf_take(ch_buf *b)
{
  char *p = b->data;
  if(!p)
    p = calloc(1, 1);
  b->data = NULL;
  b->len = 0;
  b->alloc = 0;
  return p;
}

ch_err ch_buf_read_fd(ch_buf *b, int fd)
{
  for(;;) {
    char chunk[65536];
    ssize_t r = read(fd, chunk, sizeof(chunk));
    if(r < 0 && errno == EINTR)
      continue;
    if(r < 0)
      return CH_ERR_IO;
    if(r == 0)
      return CH_OK;
    ch_err rc = ch_buf_add(b, chunk, (size_t)r);
    if(rc)
      return rc;
  }
}
