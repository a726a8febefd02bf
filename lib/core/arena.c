#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define CH_ARENA_CHUNK 4096

struct ch_chunk {
  struct ch_chunk *next;
  size_t size; /* usable bytes after the header */
  size_t used;
  max_align_t data[];
};

struct ch_arena {
  struct ch_chunk *head; /* current chunk; older ones follow */
  size_t cap;
  size_t total; /* bytes handed out */
};

static struct ch_chunk *chunk_new(size_t size)
{
  struct ch_chunk *c = malloc(sizeof(*c) + size);
  if(!c)
    return NULL;
  c->next = NULL;
  c->size = size;
  c->used = 0;
  return c;
}

struct ch_arena *ch_arena_new(size_t cap)
{
  struct ch_arena *a = calloc(1, sizeof(*a));
  if(!a)
    return NULL;
  a->cap = cap;
  a->head = chunk_new(CH_ARENA_CHUNK);
  if(!a->head) {
    free(a);
    return NULL;
  }
  return a;
}

void ch_arena_free(struct ch_arena *a)
{
  if(!a)
    return;
  struct ch_chunk *c = a->head;
  while(c) {
    struct ch_chunk *n = c->next;
    free(c);
    c = n;
  }
  free(a);
}

void ch_arena_reset(struct ch_arena *a)
{
  /* Keep the last (oldest, first-allocated) chunk, free the rest. */
  struct ch_chunk *c = a->head;
  while(c->next) {
    struct ch_chunk *n = c->next;
    free(c);
    c = n;
  }
  c->used = 0;
  a->head = c;
  a->total = 0;
}

void *ch_arena_alloc(struct ch_arena *a, size_t n)
{
  n = (n + 7) & ~(size_t)7;
  if(n == 0)
    n = 8;
  if(n > a->cap || a->total > a->cap - n)
    return NULL;
  struct ch_chunk *c = a->head;
  if(c->size - c->used < n) {
    size_t sz = n > CH_ARENA_CHUNK ? n : CH_ARENA_CHUNK;
    struct ch_chunk *nc = chunk_new(sz);
    if(!nc)
      return NULL;
    nc->next = c;
    a->head = c = nc;
  }
  void *p = (char *)c->data + c->used;
  c->used += n;
  a->total += n;
  return p;
}

char *ch_arena_strndup(struct ch_arena *a, const char *s, size_t n)
{
  char *p = ch_arena_alloc(a, n + 1);
  if(!p)
    return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *ch_arena_strdup(struct ch_arena *a, const char *s)
{
  return ch_arena_strndup(a, s, strlen(s));
}

char *ch_arena_printf(struct ch_arena *a, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if(n < 0)
    return NULL;
  char *p = ch_arena_alloc(a, (size_t)n + 1);
  if(!p)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

size_t ch_arena_used(const struct ch_arena *a)
{
  return a->total;
}
