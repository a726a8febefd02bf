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
