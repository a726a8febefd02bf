/*
 * The certificates evaluation works on, copied out of one listing: the
 * store is written while they are processed (events, marks, re-imports),
 * which must not happen under a listing in progress.
 */
#include <stdlib.h>
#include <string.h>

#include "lifecycle_int.h"

typedef struct collector {
  lc_set *set;
  ch_err err;
} collector;

static const char *dup(struct ch_arena *a, const char *s, bool *oom)
{
  if(!s)
    return NULL;
  char *d = ch_arena_strdup(a, s);
  if(!d)
    *oom = true;
  return d;
}

static const char *tag(const certhub_cert_row *row, const char *key)
{
  for(size_t i = 0; i < row->n_tags; i++)
    if(!strcmp(row->tags[i].key, key))
      return row->tags[i].value;
  return NULL;
}

/* ACM's CommonName is the domain name; without a CN, the first DNS SAN. */
static const char *display_cn(const certhub_cert_row *row)
{
  if(row->common_name && *row->common_name)
    return row->common_name;
  for(size_t i = 0; i < row->n_sans; i++)
    if(row->sans[i].type == CERTHUB_SAN_DNS)
      return row->sans[i].value;
  return "";
}

static ch_err on_row(void *ctx, const certhub_cert_row *row)
{
  collector *co = ctx;
  lc_set *set = co->set;
  bool oom = false;
  if(!strcmp(row->status, CERTHUB_STATUS_INACTIVE))
    return CH_OK;
  if(set->n == set->cap) {
    if(set->cap >= LC_MAX_CERTS)
      return CH_ERR_TOOBIG;
    size_t cap = set->cap ? set->cap * 2 : 256;
    lc_cert *v = realloc(set->v, cap * sizeof(*v));
    if(!v)
      return CH_ERR_NOMEM;
    set->v = v;
    set->cap = cap;
  }
  struct ch_arena *a = set->arena;
  lc_cert *c = &set->v[set->n];
  memset(c, 0, sizeof(*c));
  c->rowid = row->rowid;
  c->id = dup(a, row->id, &oom);
  c->arn = dup(a, row->arn, &oom);
  c->sha256 = dup(a, row->sha256, &oom);
  c->cn = dup(a, display_cn(row), &oom);
  c->issuer = dup(a, row->issuer, &oom);
  c->type = dup(a, row->type ? row->type : "IMPORTED", &oom);
  c->account = dup(a, row->account, &oom);
  c->region = dup(a, row->region, &oom);
  c->not_before = row->not_before;
  c->not_after = row->not_after;
  c->days = row->days_to_expiry;
  c->first_seen = row->first_seen;
  c->expired = !strcmp(row->status, CERTHUB_STATUS_EXPIRED);
  c->tag_threshold = dup(a, tag(row, LC_TAG_THRESHOLD), &oom);
  c->owner = dup(a, tag(row, LC_TAG_OWNER), &oom);
  c->n_replaces = row->n_replaces;
  c->n_replaced_by = row->n_replaced_by;
  size_t np = 0;
  for(size_t i = 0; i < row->n_sources; i++)
    np += row->sources[i].present;
  c->places = np ? ch_arena_alloc(a, np * sizeof(*c->places)) : NULL;
  if(np && !c->places)
    oom = true;
  for(size_t i = 0; !oom && i < row->n_sources; i++) {
    if(!row->sources[i].present)
      continue;
    lc_place *p = &c->places[c->n_places++];
    p->kind = dup(a, row->sources[i].kind, &oom);
    p->locator = dup(a, row->sources[i].locator, &oom);
  }
  if(oom)
    return CH_ERR_TOOBIG;
  set->n++;
  return CH_OK;
}

static int cmp_cert(const void *pa, const void *pb)
{
  const lc_cert *a = pa, *b = pb;
  if(a->not_after != b->not_after)
    return a->not_after < b->not_after ? -1 : 1;
  return strcmp(a->sha256, b->sha256);
}

ch_err ch_lc_collect(certhub_store *s, int64_t now, int64_t rowid, lc_set *out)
{
  memset(out, 0, sizeof(*out));
  out->arena = ch_arena_new(LC_ARENA_CAP);
  if(!out->arena)
    return CH_ERR_NOMEM;
  collector co = {.set = out};
  certhub_filter f = {.rowid = rowid};
  ch_err rc = certhub_store_list(s, &f, now, on_row, &co);
  if(rc) {
    ch_lc_set_free(out);
    return rc;
  }
  /* The listing's order puts the common name before the id; evaluation
   * promises not_after, then id (the id is the SHA-256's prefix). */
  if(out->n > 1)
    qsort(out->v, out->n, sizeof(*out->v), cmp_cert);
  return CH_OK;
}

void ch_lc_set_free(lc_set *set)
{
  if(!set)
    return;
  free(set->v);
  ch_arena_free(set->arena);
  memset(set, 0, sizeof(*set));
}
