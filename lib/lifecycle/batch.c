/*
 * certhub_lifecycle_batch: the detail of the weekly scheduled batch event,
 * every active certificate within its threshold in one list, from which
 * one digest notification and one finding per certificate are made.
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/time.h"
#include "lifecycle_int.h"

/* Days left, then owner (untagged last), then name, then id. */
static int cmp_batch(const void *pa, const void *pb)
{
  const lc_cert *a = *(const lc_cert *const *)pa;
  const lc_cert *b = *(const lc_cert *const *)pb;
  if(a->days != b->days)
    return a->days < b->days ? -1 : 1;
  if(!a->owner != !b->owner)
    return a->owner ? -1 : 1;
  int c = a->owner ? strcmp(a->owner, b->owner) : 0;
  if(!c)
    c = strcmp(a->cn, b->cn);
  return c ? c : strcmp(a->id, b->id);
}

static json_t *cert_json(const lc_cert *c)
{
  char na[32];
  certhub_time_format(c->not_after, na, sizeof(na));
  json_t *srcs = json_array();
  for(size_t i = 0; srcs && i < c->n_places; i++)
    if(json_array_append_new(srcs, ch_lc_json_str(c->places[i].locator))) {
      json_decref(srcs);
      return NULL;
    }
  if(!srcs)
    return NULL;
  return json_pack(
      "{ss ss so sI ss so so so}", "Id", c->id, "Arn", c->arn, "CommonName",
      ch_lc_json_str(c->cn), "DaysToExpiry", (json_int_t)c->days, "NotAfter",
      na, "Issuer", ch_lc_json_str(c->issuer), "Owner",
      c->owner ? ch_lc_json_str(c->owner) : json_null(), "Sources", srcs);
}

ch_err certhub_lifecycle_batch(certhub_store *s, const certhub_config *cfg,
                               int64_t now, json_t **out)
{
  lc_set set = {0};
  lc_match m;
  const lc_cert **due = NULL;
  size_t n = 0;
  json_t *list = NULL, *o = NULL;
  if(!out)
    return CH_ERR_USAGE;
  *out = NULL;
  if(!s || !cfg)
    return CH_ERR_USAGE;
  ch_err rc = ch_lc_match_init(&m, cfg);
  if(!rc)
    rc = ch_lc_collect(s, now, 0, &set);
  if(rc)
    goto out;
  due = calloc(set.n + 1, sizeof(*due));
  list = json_array();
  if(!due || !list) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  for(size_t i = 0; i < set.n; i++) {
    const lc_cert *c = &set.v[i];
    bool bad = false;
    if(!c->expired && c->days >= 0 && c->days <= ch_lc_threshold(&m, c, &bad))
      due[n++] = c;
  }
  qsort(due, n, sizeof(*due), cmp_batch);
  for(size_t i = 0; i < n; i++) {
    json_t *j = cert_json(due[i]);
    if(!j || json_array_append_new(list, j)) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
  }
  char when[32];
  certhub_time_format(now, when, sizeof(when));
  o = json_pack("{sO sI ss}", "certificates", list, "count", (json_int_t)n,
                "generatedAt", when);
  if(!o)
    rc = CH_ERR_NOMEM;
out:
  json_decref(list);
  free(due);
  ch_lc_set_free(&set);
  ch_lc_match_free(&m);
  if(!rc)
    *out = o;
  return rc;
}

/* ---- the bounded form, for targets with a smaller limit -------------------
 */

typedef struct cut_item {
  json_int_t days;
  size_t index;
} cut_item;

/* Days left, then the event's order. */
static int cmp_cut(const void *pa, const void *pb)
{
  const cut_item *a = pa, *b = pb;
  if(a->days != b->days)
    return a->days < b->days ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

#define CUT_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

ch_err certhub_lifecycle_batch_cut(const char *event, size_t len, size_t max,
                                   char **out, size_t *out_len, size_t *listed)
{
  json_t *ev = NULL, *kept = NULL, *certs = NULL;
  cut_item *v = NULL;
  char *text = NULL;
  ch_err rc = CH_OK;
  if(!out || !out_len)
    return CH_ERR_USAGE;
  *out = NULL;
  *out_len = 0;
  if(listed)
    *listed = 0;
  if(!event)
    return CH_ERR_USAGE;
  ev = json_loadb(event, len, 0, NULL);
  json_t *detail = json_object_get(ev, "detail");
  /* held: the array is replaced in detail below */
  certs = json_incref(json_object_get(detail, "certificates"));
  if(!json_is_object(ev) || !json_is_array(certs)) {
    rc = CH_ERR_PARSE;
    goto out;
  }
  size_t n = json_array_size(certs);
  if(len <= max) {
    if(listed)
      *listed = n;
    goto out;
  }
  json_t *cnt = json_object_get(detail, "count");
  json_int_t total = json_is_integer(cnt) ? json_integer_value(cnt) : 0;
  if(total < (json_int_t)n)
    total = (json_int_t)n;
  v = malloc((n ? n : 1) * sizeof(*v));
  if(!v) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  for(size_t i = 0; i < n; i++) {
    const json_t *d =
        json_object_get(json_array_get(certs, i), "DaysToExpiry");
    v[i] = (cut_item){json_is_integer(d) ? json_integer_value(d) : 0, i};
  }
  qsort(v, n, sizeof(*v), cmp_cut);
  /* detail keeps its keys (and their order); certificates emptied first to
   * measure the fixed part */
  if(!(kept = json_array()) || json_object_set(detail, "certificates", kept) ||
     json_object_set_new(detail, "count", json_integer(total)) ||
     json_object_set_new(detail, "truncated", json_true())) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(!(text = json_dumps(ev, CUT_FLAGS))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  size_t used = strlen(text), k = 0;
  free(text);
  text = NULL;
  if(used > max) {
    rc = CH_ERR_TOOBIG;
    goto out;
  }
  /* the compact text of an entry is what it adds to the message: only
   * the entries up to the first that does not fit are measured */
  for(; k < n; k++) {
    size_t add = json_dumpb(json_array_get(certs, v[k].index), NULL, 0,
                            CUT_FLAGS | JSON_ENCODE_ANY);
    if(!add)
      break;
    add += k ? 1 : 0; /* ',' between entries */
    if(used + add > max)
      break;
    used += add;
  }
  for(size_t i = 0; i < k; i++)
    if(json_array_append(kept, json_array_get(certs, v[i].index))) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
  /* The sum is exact for jansson's compact form; the loop only guards a
   * serialiser that would differ. */
  for(;;) {
    if(!(text = json_dumps(ev, CUT_FLAGS))) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
    if(strlen(text) <= max || !k)
      break;
    free(text);
    text = NULL;
    json_array_remove(kept, --k);
  }
  if(strlen(text) > max) {
    rc = CH_ERR_TOOBIG;
    goto out;
  }
  *out_len = strlen(text);
  *out = text;
  text = NULL;
  if(listed)
    *listed = k;
out:
  free(text);
  free(v);
  json_decref(kept);
  json_decref(certs);
  json_decref(ev);
  return rc;
}
