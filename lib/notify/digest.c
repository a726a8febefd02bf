/*
 * The weekly digest: one message listing every expiring certificate of a
 * Scheduled Event's detail {certificates: [...], count, generatedAt},
 * grouped by owner (the `owner` tag, as lib/lifecycle/batch.c puts it in
 * Owner), the group with the soonest expiry first (untagged last among
 * equals), each group sorted by days left, with counts per group and
 * totals. Bounded: past max_bytes the rest is counted, not
 * listed, and the message says how many more there are, with a link.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render_int.h"

#define RESERVE 8192       /* bytes kept for the closing part */
#define SUMMARY_OWNERS 100 /* owners in the summary table */

typedef struct entry {
  const json_t *j;
  const char *owner; /* NULL: untagged */
  const char *cn;
  long long days;
  size_t index; /* in the event: days order, kept within a group */
} entry;

static int cmp_entry(const void *pa, const void *pb)
{
  const entry *a = pa, *b = pb;
  if(!a->owner != !b->owner)
    return a->owner ? -1 : 1;
  int c = a->owner ? strcmp(a->owner, b->owner) : 0;
  if(c)
    return c;
  if(a->days != b->days)
    return a->days < b->days ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

static bool same_owner(const entry *a, const entry *b)
{
  return a->owner && b->owner ? !strcmp(a->owner, b->owner)
                              : !a->owner && !b->owner;
}

typedef struct group {
  size_t start, end; /* entries [start, end) of v */
  long long min;     /* soonest days */
  const char *owner;
} group;

/* Most urgent first; then by owner, untagged last. */
static int cmp_group(const void *pa, const void *pb)
{
  const group *a = pa, *b = pb;
  if(a->min != b->min)
    return a->min < b->min ? -1 : 1;
  if(!a->owner != !b->owner)
    return a->owner ? -1 : 1;
  return a->owner ? strcmp(a->owner, b->owner) : 0;
}

static void days_text(long long d, char *out, size_t cap)
{
  if(d == 0)
    snprintf(out, cap, "today");
  else
    snprintf(out, cap, "%lld day%s", d, d == 1 || d == -1 ? "" : "s");
}

static ch_err esc(ch_buf *b, const char *s)
{
  return ch_render_escape(b, s, strlen(s));
}

/* One certificate's text and html rows into t and h. */
static ch_err entry_rows(const entry *e, const char *base, ch_buf *t,
                         ch_buf *h)
{
  const json_t *j = e->j;
  const char *id = json_string_value(json_object_get(j, "Id"));
  const char *issuer = json_string_value(json_object_get(j, "Issuer"));
  const json_t *srcs = json_object_get(j, "Sources");
  char date[11], days[32], link[600];
  if(!ch_render_date(json_string_value(json_object_get(j, "NotAfter")), date))
    snprintf(date, sizeof(date), "?");
  days_text(e->days, days, sizeof(days));
  if(!id) {
    char aid[17];
    id = certhub_render_arn_id(json_string_value(json_object_get(j, "Arn")),
                               aid)
             ? aid
             : "";
    snprintf(link, sizeof(link), "%s/certificates/%s", base, id);
  }
  else
    snprintf(link, sizeof(link), "%s/certificates/%.64s", base, id);
  ch_err rc = ch_buf_printf(t, "  %-8s %s  %s\n", days, date,
                            e->cn ? e->cn : "(unnamed)");
  if(!rc && issuer)
    rc = ch_buf_printf(t, "      issuer: %s\n", issuer);
  size_t i;
  json_t *s;
  json_array_foreach((json_t *)srcs, i, s)
  {
    if(!rc && json_is_string(s))
      rc = ch_buf_printf(t, "      %s %s\n",
                         i ? "     " : "at:  ", json_string_value(s));
  }
  if(!rc)
    rc = ch_buf_printf(t, "      %s\n", link);
  /* html */
  if(!rc)
    rc = ch_buf_printf(h, "<tr><td align=\"right\">%s</td><td>%s</td><td>",
                       days, date);
  if(!rc)
    rc = esc(h, e->cn ? e->cn : "(unnamed)");
  if(!rc)
    rc = ch_buf_addstr(h, "</td><td>");
  if(!rc && issuer)
    rc = esc(h, issuer);
  if(!rc)
    rc = ch_buf_addstr(h, "</td><td>");
  json_array_foreach((json_t *)srcs, i, s)
  {
    if(!rc && json_is_string(s)) {
      if(i)
        rc = ch_buf_addstr(h, "<br>");
      if(!rc)
        rc = esc(h, json_string_value(s));
    }
  }
  if(!rc)
    rc = ch_buf_addstr(h, "</td><td><a href=\"");
  if(!rc)
    rc = esc(h, link);
  if(!rc)
    rc = ch_buf_addstr(h, "\">details</a></td></tr>\n");
  return rc;
}

/* The bounded template view of one entry: the event's fields plus Link
 * and ExpiresOn. */
static json_t *entry_json(const entry *e, const char *base)
{
  json_t *o = json_copy((json_t *)e->j);
  char date[11], link[600], aid[17];
  const char *id = json_string_value(json_object_get(e->j, "Id"));
  if(!o)
    return NULL;
  if(!id && certhub_render_arn_id(
                json_string_value(json_object_get(e->j, "Arn")), aid))
    id = aid;
  snprintf(link, sizeof(link), "%s/certificates/%.64s", base, id ? id : "");
  json_object_set_new(o, "Link", json_string(link));
  if(ch_render_date(json_string_value(json_object_get(e->j, "NotAfter")),
                    date))
    json_object_set_new(o, "ExpiresOn", json_string(date));
  return o;
}

ch_err ch_render_digest(const json_t *detail, const char *base,
                        size_t max_bytes, ch_render_out *o, json_t *ctx,
                        char *subject, size_t subject_cap, size_t *listed,
                        size_t *omitted)
{
  const json_t *certs = json_object_get(detail, "certificates");
  size_t n = json_array_size(certs), ngroups = 0, shown = 0;
  /* A bounded batch event (certhub_lifecycle_batch_cut: truncated, count
   * the total) lists the most urgent only: the rest count as omitted. */
  const json_t *cnt_j = json_object_get(detail, "count");
  size_t total = n;
  if(json_is_integer(cnt_j) && json_integer_value(cnt_j) > (json_int_t)n &&
     json_is_true(json_object_get(detail, "truncated")))
    total = (size_t)json_integer_value(cnt_j);
  entry *v = NULL;
  group *gs = NULL;
  ch_buf t, h;
  ch_err rc = CH_OK;
  json_t *tcerts = NULL, *tgroups = NULL, *tgroup_certs = NULL;
  ch_buf_init(&t, max_bytes);
  ch_buf_init(&h, max_bytes);
  *listed = *omitted = 0;
  if(n && !(v = malloc(n * sizeof(*v)))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  for(size_t i = 0; i < n; i++) {
    const json_t *j = json_array_get(certs, i);
    const json_t *d = json_object_get(j, "DaysToExpiry");
    v[i] = (entry){
        .j = j,
        .owner = json_string_value(json_object_get(j, "Owner")),
        .cn = json_string_value(json_object_get(j, "CommonName")),
        .days = json_is_integer(d) ? json_integer_value(d) : 0,
        .index = i,
    };
  }
  /* the list in days order (as the event has it) for templates, bounded */
  if(!(tcerts = json_array()) || !(tgroups = json_array())) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  for(size_t i = 0; i < n && i < CERTHUB_RENDER_TEMPLATE_ITEMS; i++) {
    json_t *e = entry_json(&v[i], base);
    if(!e || json_array_append_new(tcerts, e)) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
  }
  /* the soonest, copied: the sort below moves the entries */
  entry soon = {0};
  for(size_t i = 0; i < n; i++)
    if(!i || v[i].days < soon.days)
      soon = v[i];
  char sdays[32], sdate[11] = "";
  days_text(soon.days, sdays, sizeof(sdays));
  if(n)
    ch_render_date(json_string_value(json_object_get(soon.j, "NotAfter")),
                   sdate);
  const char *sin = soon.days > 0 ? "in " : "";
  if(!total)
    snprintf(subject, subject_cap,
             "certhub digest: no certificate expires within its threshold");
  else
    snprintf(subject, subject_cap,
             "certhub digest: %zu certificate%s expiring, the soonest %s%s "
             "(%s)",
             total, total == 1 ? "" : "s", sin, sdays,
             soon.cn ? soon.cn : "?");
  if(n)
    qsort(v, n, sizeof(*v), cmp_entry);
  /* groups (runs of one owner), the most urgent first */
  for(size_t i = 0; i < n; i++)
    if(!i || !same_owner(&v[i], &v[i - 1]))
      ngroups++;
  if(ngroups && !(gs = malloc(ngroups * sizeof(*gs)))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  for(size_t i = 0, k = 0; i < n; k++) {
    size_t j = i + 1;
    long long min = v[i].days;
    for(; j < n && same_owner(&v[j], &v[i]); j++)
      min = v[j].days < min ? v[j].days : min;
    gs[k] = (group){i, j, min, v[i].owner};
    i = j;
  }
  if(ngroups)
    qsort(gs, ngroups, sizeof(*gs), cmp_group);

  /* heading and the per-owner summary */
  rc = ch_buf_addstr(&o->html,
                     "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                     "<title>");
  if(!rc)
    rc = esc(&o->html, subject);
  if(!rc)
    rc = ch_buf_addstr(&o->html, "</title></head>\n<body style=\"font-family:"
                                 "sans-serif\">\n<h2>");
  if(!rc && n)
    rc = ch_buf_printf(&o->text,
                       "%zu certificate%s expire%s within %s threshold "
                       "(%zu owner%s).\nThe soonest: %s, %s%s%s%s.\n\n",
                       total, total == 1 ? "" : "s", total == 1 ? "s" : "",
                       total == 1 ? "its" : "their", ngroups,
                       ngroups == 1 ? "" : "s", soon.cn ? soon.cn : "?", sin,
                       sdays, sdate[0] ? ", on " : "", sdate);
  else if(!rc)
    rc = ch_buf_addstr(&o->text,
                       "No certificate expires within its threshold.\n\n");
  if(!rc)
    rc = ch_buf_printf(&o->html, "%zu certificate%s expiring</h2>\n", total,
                       total == 1 ? "" : "s");
  if(!rc && n)
    rc = ch_buf_printf(&o->text, "  %-30s %12s  %s\n", "OWNER", "CERTIFICATES",
                       "SOONEST");
  if(!rc && n)
    rc = ch_buf_addstr(&o->html,
                       "<table border=\"1\" cellpadding=\"3\" "
                       "style=\"border-collapse:collapse\">\n<tr><th>Owner"
                       "</th><th>Certificates</th><th>Soonest</th></tr>\n");
  for(size_t k = 0; !rc && k < ngroups && k < SUMMARY_OWNERS; k++) {
    char d[32];
    days_text(gs[k].min, d, sizeof(d));
    const char *ow = gs[k].owner ? gs[k].owner : "(no owner)";
    size_t cnt = gs[k].end - gs[k].start;
    rc = ch_buf_printf(&o->text, "  %-30s %12zu  %s\n", ow, cnt, d);
    if(!rc)
      rc = ch_buf_addstr(&o->html, "<tr><td>");
    if(!rc)
      rc = esc(&o->html, ow);
    if(!rc)
      rc = ch_buf_printf(&o->html,
                         "</td><td align=\"right\">%zu</td><td>%s</td>"
                         "</tr>\n",
                         cnt, d);
  }
  if(!rc && ngroups > SUMMARY_OWNERS)
    rc = ch_buf_printf(&o->text, "  ... and %zu more owners\n",
                       ngroups - SUMMARY_OWNERS);
  /* the owner counts are of the listed certificates; the rest of a
   * bounded event gets its own row so the column adds up to the total */
  if(!rc && n && total > n)
    rc = ch_buf_printf(&o->text, "  %-30s %12zu\n", "(not in this message)",
                       total - n);
  if(!rc && n && total > n)
    rc = ch_buf_printf(&o->html,
                       "<tr><td>(not in this message)</td><td align=\"right\">"
                       "%zu</td><td></td></tr>\n",
                       total - n);
  if(!rc && n)
    rc = ch_buf_printf(&o->text, "  %-30s %12zu\n\n", "TOTAL", total);
  if(!rc && n)
    rc = ch_buf_printf(&o->html,
                       "<tr><th align=\"left\">Total</th><th align=\"right\">"
                       "%zu</th><td></td></tr>\n</table>\n",
                       total);
  /* the groups, as long as both bodies stay within the cap */
  bool full = false;
  size_t tmpl_items = 0;
  for(size_t gi = 0; !rc && gi < ngroups; gi++) {
    size_t i = gs[gi].start, j = gs[gi].end;
    const char *ow = v[i].owner ? v[i].owner : "(no owner)";
    if(tmpl_items < CERTHUB_RENDER_TEMPLATE_ITEMS) {
      json_t *gj = json_pack("{ss sI s[]}", "Owner", ow, "Count",
                             (json_int_t)(j - i), "certificates");
      if(!gj || json_array_append_new(tgroups, gj)) {
        rc = CH_ERR_NOMEM;
        break;
      }
      tgroup_certs = json_object_get(gj, "certificates");
      for(size_t k = i; k < j && tmpl_items < CERTHUB_RENDER_TEMPLATE_ITEMS;
          k++, tmpl_items++) {
        json_t *e = entry_json(&v[k], base);
        if(!e || json_array_append_new(tgroup_certs, e)) {
          rc = CH_ERR_NOMEM;
          break;
        }
      }
    }
    if(!full) {
      ch_buf_reset(&t);
      ch_buf_reset(&h);
      rc = ch_buf_printf(&t, "== %s (%zu) ==\n", ow, j - i);
      if(!rc)
        rc = ch_buf_addstr(&h, "<h3>");
      if(!rc)
        rc = esc(&h, ow);
      if(!rc)
        rc = ch_buf_printf(
            &h,
            " (%zu)</h3>\n<table border=\"1\" cellpadding=\"3\" style=\""
            "border-collapse:collapse\">\n<tr><th>Days</th><th>Expires</th>"
            "<th>Certificate</th><th>Issuer</th><th>Found at</th><th></th>"
            "</tr>\n",
            j - i);
      if(rc)
        break;
      size_t ht = t.len;
      for(size_t k = i; k < j; k++) {
        size_t t0 = t.len, h0 = h.len;
        rc = entry_rows(&v[k], base, &t, &h);
        if(rc == CH_ERR_TOOBIG) {
          /* a hostile row larger than the cap: counts as omitted */
          ch_buf_init(&t, max_bytes);
          ch_buf_init(&h, max_bytes);
          rc = CH_OK;
          full = true;
          break;
        }
        if(rc)
          break;
        if(o->text.len + t.len + RESERVE > max_bytes ||
           o->html.len + h.len + RESERVE > max_bytes) {
          t.len = t0;
          h.len = h0;
          full = true;
          break;
        }
        shown++;
      }
      if(rc)
        break;
      if(t.len > ht) { /* the group has rows: keep it */
        rc = ch_buf_add(&o->text, t.data, t.len);
        if(!rc)
          rc = ch_buf_addstr(&o->text, "\n");
        if(!rc)
          rc = ch_buf_add(&o->html, h.data, h.len);
        if(!rc)
          rc = ch_buf_addstr(&o->html, "</table>\n");
      }
    }
  }
  if(rc)
    goto out;
  *listed = shown;
  *omitted = total - shown;
  char more[700];
  snprintf(more, sizeof(more), "%s/certificates", base);
  if(*omitted) {
    rc = ch_buf_printf(&o->text,
                       "... and %zu more certificate%s not listed here (the "
                       "message would exceed %zu bytes). All of them:\n  %s\n",
                       *omitted, *omitted == 1 ? "" : "s", max_bytes, more);
    if(!rc)
      rc = ch_buf_printf(&o->html,
                         "<p>... and %zu more certificate%s not listed here. "
                         "<a href=\"",
                         *omitted, *omitted == 1 ? "" : "s");
    if(!rc)
      rc = esc(&o->html, more);
    if(!rc)
      rc = ch_buf_addstr(&o->html, "\">All of them</a></p>\n");
  }
  const char *gen = json_string_value(json_object_get(detail, "generatedAt"));
  if(!rc)
    rc = ch_buf_printf(&o->text, "\n-- \ncerthub expiry digest%s%s\n",
                       gen ? ", generated at " : "", gen ? gen : "");
  if(!rc)
    rc = ch_buf_printf(&o->html,
                       "<hr><p style=\"color:#666\"><small>certhub expiry "
                       "digest%s",
                       gen ? ", generated at " : "");
  if(!rc && gen)
    rc = esc(&o->html, gen);
  if(!rc)
    rc = ch_buf_addstr(&o->html, "</small></p>\n</body></html>\n");
  if(!rc) {
    size_t tn =
        n < CERTHUB_RENDER_TEMPLATE_ITEMS ? n : CERTHUB_RENDER_TEMPLATE_ITEMS;
    json_object_set(ctx, "certificates", tcerts);
    json_object_set(ctx, "groups", tgroups);
    json_object_set_new(ctx, "count", json_integer((json_int_t)total));
    json_object_set_new(ctx, "moreCount",
                        json_integer((json_int_t)(total - tn)));
    json_object_set_new(ctx, "moreLink", json_string(more));
    json_object_set_new(ctx, "link", json_string(more));
  }
out:
  ch_buf_free(&t);
  ch_buf_free(&h);
  json_decref(tcerts);
  json_decref(tgroups);
  free(gs);
  free(v);
  return rc;
}
