/*
 * Built-in renderings of bus events and the per-topic template overrides
 * (certhub/notify_render.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/event.h"
#include "certhub/lifecycle.h"
#include "certhub/notify.h"
#include "certhub/store.h"
#include "certhub/time.h"
#include "render_int.h"

#define SUBJECT_MAX CERTHUB_SUBJECT_MAX
#define DETAIL_MAX_DEPTH 8 /* generic rendering of nested details */
/* A digest event can list every certificate of a large inventory (the
 * bus's own 256 KiB limit applies when it is put on the bus, not here). */
#define RENDER_EVENT_MAX ((size_t)64 << 20)

static ch_err rfail(char **why, ch_err rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ch_err rfail(char **why, ch_err rc, const char *fmt, ...)
{
  if(why && !*why) {
    va_list ap;
    va_start(ap, fmt);
    if(vasprintf(why, fmt, ap) < 0)
      *why = NULL;
    va_end(ap);
  }
  return rc;
}

bool certhub_render_arn_id(const char *arn, char id[17])
{
  static const char pre[] = "arn:certhub:acm:";
  const char *c;
  size_t n = 0;
  id[0] = '\0';
  if(!arn || strncmp(arn, pre, sizeof(pre) - 1) ||
     !(c = strstr(arn, ":certificate/")))
    return false;
  for(c += 13; *c && n < 16; c++) {
    if(*c == '-')
      continue;
    if(!isxdigit((unsigned char)*c))
      return false;
    id[n++] = (char)tolower((unsigned char)*c);
  }
  id[n] = '\0';
  return n == 16;
}

bool ch_render_date(const char *t, char out[11])
{
  out[0] = '\0';
  if(!t || strlen(t) < 10 || t[4] != '-' || t[7] != '-')
    return false;
  for(int i = 0; i < 10; i++)
    if(i != 4 && i != 7 && !isdigit((unsigned char)t[i]))
      return false;
  memcpy(out, t, 10);
  out[10] = '\0';
  return true;
}

/* ---- template sets -------------------------------------------------------
 */

enum { PART_SUBJECT, PART_TEXT, PART_HTML, PART__N };
static const char *const part_names[PART__N] = {"subject", "text", "html"};

struct tset {
  char *detail_type; /* "*": any */
  certhub_template *t[PART__N];
};

struct certhub_render_templates {
  struct tset *v;
  size_t n;
};

void certhub_render_templates_free(certhub_render_templates *t)
{
  if(!t)
    return;
  for(size_t i = 0; i < t->n; i++) {
    free(t->v[i].detail_type);
    for(int k = 0; k < PART__N; k++)
      certhub_template_free(t->v[i].t[k]);
  }
  free(t->v);
  free(t);
}

static bool is_part(const char *k)
{
  for(int i = 0; i < PART__N; i++)
    if(!strcmp(k, part_names[i]))
      return true;
  return false;
}

static ch_err parse_set(const char *dt, const json_t *o, struct tset *set,
                        char **why)
{
  const char *k;
  json_t *v;
  set->detail_type = strdup(dt);
  if(!set->detail_type)
    return CH_ERR_NOMEM;
  if(!json_is_object(o))
    return rfail(why, CH_ERR_PARSE,
                 "templates: '%s': must be a map of subject, text, html", dt);
  json_object_foreach((json_t *)o, k, v)
  {
    int part = -1;
    for(int i = 0; i < PART__N; i++)
      if(!strcmp(k, part_names[i]))
        part = i;
    if(part < 0)
      return rfail(why, CH_ERR_PARSE,
                   "templates: '%s': unknown key '%.100s' (use subject, "
                   "text, html)",
                   dt, k);
    if(!json_is_string(v))
      return rfail(why, CH_ERR_PARSE, "templates: '%s'.%s: must be a string",
                   dt, k);
    char *e = NULL;
    ch_err rc = certhub_template_compile(json_string_value(v),
                                         part == PART_HTML, &set->t[part], &e);
    if(rc) {
      rfail(why, rc, "templates: '%s'.%s: %s", dt, k,
            e ? e : certhub_strerror(rc));
      free(e);
      return rc;
    }
  }
  return CH_OK;
}

ch_err certhub_render_templates_parse(const json_t *obj,
                                      certhub_render_templates **out,
                                      char **why)
{
  certhub_render_templates *t = NULL;
  ch_err rc = CH_OK;
  const char *k;
  json_t *v;
  bool flat = false;
  if(why)
    *why = NULL;
  *out = NULL;
  if(!json_is_object(obj))
    return rfail(why, CH_ERR_PARSE,
                 "templates: must be a map (subject, text, html, or "
                 "detail-types)");
  json_object_foreach((json_t *)obj, k, v) flat |= is_part(k);
  if(!(t = calloc(1, sizeof(*t))) ||
     !(t->v = calloc(json_object_size(obj) + 1, sizeof(*t->v)))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(flat) {
    t->n = 1;
    rc = parse_set("*", obj, &t->v[0], why);
  }
  else {
    json_object_foreach((json_t *)obj, k, v)
    {
      if((rc = parse_set(k, v, &t->v[t->n++], why)))
        break;
    }
  }
out:
  if(rc)
    certhub_render_templates_free(t);
  else
    *out = t;
  return rc;
}

ch_err certhub_render_templates_parse_text(const char *json,
                                           certhub_render_templates **out,
                                           char **why)
{
  json_error_t je;
  if(why)
    *why = NULL;
  *out = NULL;
  json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &je);
  if(!o)
    return rfail(why, CH_ERR_PARSE, "templates: invalid JSON at line %d: %s",
                 je.line, je.text);
  ch_err rc = certhub_render_templates_parse(o, out, why);
  json_decref(o);
  return rc;
}

static const certhub_template *find_template(const certhub_render_templates *t,
                                             const char *dt, int part)
{
  const certhub_template *any = NULL;
  for(size_t i = 0; t && i < t->n; i++) {
    if(!strcmp(t->v[i].detail_type, dt) && t->v[i].t[part])
      return t->v[i].t[part];
    if(!strcmp(t->v[i].detail_type, "*"))
      any = t->v[i].t[part];
  }
  return any;
}

/* ---- store lookup --------------------------------------------------------
 */

static ch_err lookup_row(void *ctx, const certhub_cert_row *row)
{
  json_t **info = ctx;
  char na[32];
  const char *owner = NULL;
  json_t *srcs = json_array();
  for(size_t i = 0; i < row->n_tags; i++)
    if(!strcmp(row->tags[i].key, "owner"))
      owner = row->tags[i].value;
  for(size_t i = 0; srcs && i < row->n_sources; i++)
    if(row->sources[i].present)
      json_array_append_new(srcs, json_string(row->sources[i].locator));
  certhub_time_format(row->not_after, na, sizeof(na));
  *info = json_pack("{ss ss* ss* ss so}", "Id", row->id, "CommonName",
                    row->common_name, "Issuer",
                    row->issuer_cn ? row->issuer_cn : row->issuer, "NotAfter",
                    na, "Sources", srcs ? srcs : json_array());
  if(*info && owner)
    json_object_set_new(*info, "Owner", json_string(owner));
  /* every tag, for the message attributes of certhub's own messages */
  json_t *tags = *info && row->n_tags ? json_object() : NULL;
  for(size_t i = 0; tags && i < row->n_tags; i++)
    json_object_set_new(tags, row->tags[i].key,
                        json_string(row->tags[i].value));
  if(tags)
    json_object_set_new(*info, "Tags", tags);
  return *info ? CH_OK : CH_ERR_NOMEM;
}

ch_err certhub_render_store_lookup(void *ctx, const char *arn, json_t **info)
{
  certhub_store *s = ctx;
  int64_t *ids = NULL;
  size_t n = 0;
  *info = NULL;
  ch_err rc = certhub_store_resolve(s, arn, &ids, &n);
  if((rc && rc != CH_ERR_NOMEM && rc != CH_ERR_DB && rc != CH_ERR_BUSY &&
      rc != CH_ERR_IO) ||
     (!rc && n != 1)) {
    free(ids);
    return CH_OK; /* unknown here: render what the event says */
  }
  if(!rc) {
    certhub_filter f = {.rowid = ids[0]};
    rc = certhub_store_list(s, &f, certhub_now(), lookup_row, info);
  }
  free(ids);
  return rc;
}

/* ---- building blocks -----------------------------------------------------
 */

static const char *jstr(const json_t *o, const char *k)
{
  return json_string_value(json_object_get(o, k));
}

/* Subject: SNS's rules (printable ASCII, at most 100, no leading space). */
static char *subject_clean(const char *s)
{
  char out[SUBJECT_MAX + 1];
  size_t n = 0;
  while(*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  for(; *s && n < SUBJECT_MAX; s++) {
    unsigned char c = (unsigned char)*s;
    if(c == '\n' || c == '\r' || c == '\t')
      c = ' ';
    else if(c >= 0x80) {
      /* one '?' per UTF-8 sequence */
      while((s[1] & 0xc0) == 0x80)
        s++;
      c = '?';
    }
    else if(c < 0x20 || c == 0x7f)
      c = '?';
    out[n++] = (char)c;
  }
  if(*s && n == SUBJECT_MAX)
    memcpy(out + SUBJECT_MAX - 3, "...", 3);
  while(n && out[n - 1] == ' ')
    n--;
  out[n] = '\0';
  return strdup(n ? out : "certhub notification");
}

/* "in 14 days", "today", "1 day ago"... */
static void days_phrase(long long d, char *out, size_t cap)
{
  if(d == 0)
    snprintf(out, cap, "today");
  else if(d > 0)
    snprintf(out, cap, "in %lld day%s", d, d == 1 ? "" : "s");
  else
    snprintf(out, cap, "%lld day%s ago", -d, d == -1 ? "" : "s");
}

typedef struct certinfo {
  const char *arn;
  char id[17];
  const char *cn;
  const char *owner;
  const char *issuer;
  const json_t *sources; /* array of strings, or NULL */
  bool has_days;
  long long days;
  char expires[11]; /* YYYY-MM-DD or "" */
  char link[1024];
} certinfo;

static void cert_from_event(const json_t *ev, const json_t *detail,
                            const json_t *info, const char *base, certinfo *c)
{
  const json_t *res = json_object_get(ev, "resources");
  memset(c, 0, sizeof(*c));
  c->arn = json_string_value(json_array_get(res, 0));
  c->cn = jstr(detail, "CommonName");
  if(!c->cn)
    c->cn = jstr(info, "CommonName");
  c->owner =
      jstr(detail, "Owner") ? jstr(detail, "Owner") : jstr(info, "Owner");
  c->issuer =
      jstr(detail, "Issuer") ? jstr(detail, "Issuer") : jstr(info, "Issuer");
  c->sources = json_object_get(detail, "Sources");
  if(!json_is_array(c->sources))
    c->sources = json_object_get(info, "Sources");
  if(!json_is_array(c->sources))
    c->sources = NULL;
  const json_t *d = json_object_get(detail, "DaysToExpiry");
  if(json_is_integer(d)) {
    c->has_days = true;
    c->days = json_integer_value(d);
  }
  if(!ch_render_date(jstr(detail, "CertificateExpirationDate"), c->expires) &&
     !ch_render_date(jstr(detail, "NotAfter"), c->expires) &&
     !ch_render_date(jstr(info, "NotAfter"), c->expires) && c->has_days) {
    /* the event's date plus the days: DaysToExpiry counts calendar days
     * (certhub_days_to_expiry) from the evaluation, which is the event's
     * time for lifecycle events, so this is the day it expires */
    int64_t t = 0;
    if(!certhub_time_parse(jstr(ev, "time"), &t)) {
      char buf[32];
      certhub_time_format(t + (int64_t)c->days * 86400, buf, sizeof(buf));
      ch_render_date(buf, c->expires);
    }
  }
  const char *id = jstr(info, "Id") ? jstr(info, "Id") : jstr(detail, "Id");
  if(id && strlen(id) == 16)
    memcpy(c->id, id, 17);
  else
    certhub_render_arn_id(c->arn, c->id);
  if(c->id[0])
    snprintf(c->link, sizeof(c->link), "%s/certificates/%s", base, c->id);
  else
    snprintf(c->link, sizeof(c->link), "%s/certificates", base);
}

static json_t *cert_json(const certinfo *c)
{
  json_t *o = json_object();
  if(!o)
    return NULL;
  if(c->arn)
    json_object_set_new(o, "Arn", json_string(c->arn));
  if(c->id[0])
    json_object_set_new(o, "Id", json_string(c->id));
  if(c->cn)
    json_object_set_new(o, "CommonName", json_string(c->cn));
  if(c->has_days)
    json_object_set_new(o, "DaysToExpiry", json_integer(c->days));
  if(c->expires[0])
    json_object_set_new(o, "ExpiresOn", json_string(c->expires));
  if(c->owner)
    json_object_set_new(o, "Owner", json_string(c->owner));
  if(c->issuer)
    json_object_set_new(o, "Issuer", json_string(c->issuer));
  if(c->sources)
    json_object_set(o, "Sources", (json_t *)c->sources);
  json_object_set_new(o, "Link", json_string(c->link));
  return o;
}

static const char *reason_text(const char *r)
{
  static const struct {
    const char *code, *text;
  } t[] = {
      {CERTHUB_RENEWAL_COMMAND_FAILED,
       "the renewal command (renew_command of its source) ran and exited "
       "with a failure status or was killed by a signal"},
      {CERTHUB_RENEWAL_COMMAND_TIMEOUT,
       "the renewal command (renew_command of its source) ran past its "
       "renew_timeout and was stopped"},
      {CERTHUB_RENEWAL_EXEC_FAILED,
       "the renewal command (renew_command of its source) could not be "
       "started"},
      {CERTHUB_RENEWAL_NO_NEW_CERT,
       "the renewal command ran and succeeded, but the source still holds "
       "the old certificate"},
      {CERTHUB_RENEWAL_REIMPORT_FAILED,
       "the renewal command ran and succeeded, but re-reading the source "
       "failed"},
      {"CAA_ERROR", "a CAA record does not allow the issuing CA"},
      {"PENDING_DOMAIN_VALIDATION", "domain validation is still pending"},
      {"NO_AVAILABLE_CONTACTS", "no contact address for domain validation"},
      {"DOMAIN_NOT_ALLOWED", "a domain is not allowed by the issuing CA"},
  };
  for(size_t i = 0; r && i < CH_ARRAY_LEN(t); i++)
    if(!strcmp(r, t[i].code))
      return t[i].text;
  return NULL;
}

/* ---- text and html for one certificate ---------------------------------- */

static ch_err both(ch_render_out *o, const char *text, const char *html)
{
  ch_err rc = text ? ch_buf_addstr(&o->text, text) : CH_OK;
  if(!rc && html)
    rc = ch_buf_addstr(&o->html, html);
  return rc;
}

static ch_err row(ch_render_out *o, const char *label, const char *value)
{
  ch_err rc = ch_buf_printf(&o->text, "  %-14s %s\n", label, value);
  if(!rc)
    rc = ch_buf_printf(&o->html, "<tr><th align=\"left\">%s</th><td>", label);
  if(!rc)
    rc = ch_render_escape(&o->html, value, strlen(value));
  if(!rc)
    rc = ch_buf_addstr(&o->html, "</td></tr>\n");
  return rc;
}

static ch_err html_open(ch_render_out *o, const char *title)
{
  ch_err rc = ch_buf_addstr(&o->html, "<!DOCTYPE html>\n<html><head><meta "
                                      "charset=\"utf-8\"><title>");
  if(!rc)
    rc = ch_render_escape(&o->html, title, strlen(title));
  if(!rc)
    rc = ch_buf_addstr(&o->html,
                       "</title></head>\n<body style=\"font-family:sans-serif"
                       "\">\n");
  return rc;
}

static ch_err link_para(ch_render_out *o, const char *lead, const char *url)
{
  ch_err rc = ch_buf_printf(&o->text, "%s\n  %s\n", lead, url);
  if(!rc)
    rc = ch_buf_addstr(&o->html, "<p>");
  if(!rc)
    rc = ch_render_escape(&o->html, lead, strlen(lead));
  if(!rc)
    rc = ch_buf_addstr(&o->html, " <a href=\"");
  if(!rc)
    rc = ch_render_escape(&o->html, url, strlen(url));
  if(!rc)
    rc = ch_buf_addstr(&o->html, "\">");
  if(!rc)
    rc = ch_render_escape(&o->html, url, strlen(url));
  if(!rc)
    rc = ch_buf_addstr(&o->html, "</a></p>\n");
  return rc;
}

static ch_err footer(ch_render_out *o, const json_t *ev)
{
  char line[600];
  snprintf(line, sizeof(line),
           "certhub event %.64s: %.128s from %.128s at %.40s",
           jstr(ev, "id") ? jstr(ev, "id") : "?", jstr(ev, "detail-type"),
           jstr(ev, "source") ? jstr(ev, "source") : "?",
           jstr(ev, "time") ? jstr(ev, "time") : "?");
  ch_err rc = ch_buf_printf(&o->text, "\n-- \n%s\n", line);
  if(!rc)
    rc = ch_buf_addstr(&o->html, "<hr><p style=\"color:#666\"><small>");
  if(!rc)
    rc = ch_render_escape(&o->html, line, strlen(line));
  if(!rc)
    rc = ch_buf_addstr(&o->html, "</small></p>\n</body></html>\n");
  return rc;
}

/* Detail fields the per-type layout did not show, "key: value". */
static ch_err generic_value(ch_render_out *o, const char *key, const json_t *v,
                            int depth);

static ch_err generic_object(ch_render_out *o, const json_t *obj,
                             const char *const *skip, int depth)
{
  const char *k;
  json_t *v;
  ch_err rc = CH_OK;
  json_object_foreach((json_t *)obj, k, v)
  {
    bool skipped = false;
    for(size_t i = 0; skip && skip[i]; i++)
      skipped |= !strcmp(skip[i], k);
    if(skipped)
      continue;
    if((rc = generic_value(o, k, v, depth)))
      break;
  }
  return rc;
}

static ch_err generic_value(ch_render_out *o, const char *key, const json_t *v,
                            int depth)
{
  ch_err rc;
  int ind = 2 + 2 * depth;
  if(depth >= DETAIL_MAX_DEPTH)
    return ch_buf_printf(&o->text, "%*s%s: ...\n", ind, "", key);
  if(json_is_object(v) || json_is_array(v)) {
    rc = ch_buf_printf(&o->text, "%*s%s:\n", ind, "", key);
    if(!rc)
      rc = ch_buf_addstr(&o->html, "<li>");
    if(!rc)
      rc = ch_render_escape(&o->html, key, strlen(key));
    if(!rc)
      rc = ch_buf_addstr(&o->html, "<ul>\n");
    if(!rc && json_is_object(v))
      rc = generic_object(o, v, NULL, depth + 1);
    else if(!rc) {
      size_t i;
      json_t *e;
      json_array_foreach((json_t *)v, i, e)
      {
        char idx[32];
        snprintf(idx, sizeof(idx), "[%zu]", i);
        if((rc = generic_value(o, idx, e, depth + 1)))
          break;
      }
    }
    if(!rc)
      rc = ch_buf_addstr(&o->html, "</ul></li>\n");
    return rc;
  }
  char num[64];
  const char *s = num;
  if(json_is_string(v))
    s = json_string_value(v);
  else if(json_is_integer(v))
    snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
  else if(json_is_real(v))
    snprintf(num, sizeof(num), "%.15g", json_real_value(v));
  else
    s = json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null";
  rc = ch_buf_printf(&o->text, "%*s%s: %s\n", ind, "", key, s);
  if(!rc)
    rc = ch_buf_addstr(&o->html, "<li><b>");
  if(!rc)
    rc = ch_render_escape(&o->html, key, strlen(key));
  if(!rc)
    rc = ch_buf_addstr(&o->html, "</b>: ");
  if(!rc)
    rc = ch_render_escape(&o->html, s, strlen(s));
  if(!rc)
    rc = ch_buf_addstr(&o->html, "</li>\n");
  return rc;
}

/* The detail's fields, bounded: a detail too large for the room left
 * (the bodies stop at their caps) is named, not rendered, so the rest of
 * the message still goes out. */
#define GENERIC_RESERVE 8192 /* kept for the link and the footer */

static ch_err generic_bounded(ch_render_out *o, const json_t *obj,
                              const char *const *skip)
{
  size_t room_t = o->text.cap > o->text.len + GENERIC_RESERVE
                      ? o->text.cap - o->text.len - GENERIC_RESERVE
                      : 0;
  size_t room_h = o->html.cap > o->html.len + GENERIC_RESERVE
                      ? o->html.cap - o->html.len - GENERIC_RESERVE
                      : 0;
  ch_render_out part;
  ch_buf_init(&part.text, room_t);
  ch_buf_init(&part.html, room_h);
  ch_err rc = generic_object(&part, obj, skip, 0);
  if(rc == CH_ERR_TOOBIG) {
    ch_buf_free(&part.text);
    ch_buf_free(&part.html);
    return both(o, "  (too large to show here: see the event itself)\n",
                "<li>(too large to show here: see the event itself)</li>\n");
  }
  if(!rc && part.text.len)
    rc = ch_buf_add(&o->text, part.text.data, part.text.len);
  if(!rc && part.html.len)
    rc = ch_buf_add(&o->html, part.html.data, part.html.len);
  ch_buf_free(&part.text);
  ch_buf_free(&part.html);
  return rc;
}

enum ekind { K_APPROACHING, K_EXPIRED, K_AVAILABLE, K_RENEWAL, K_CUSTOM };

static ch_err render_cert(const json_t *ev, const json_t *detail,
                          enum ekind kind, const certinfo *c, ch_render_out *o,
                          char *subject, size_t scap)
{
  const char *dt = jstr(ev, "detail-type");
  const char *name = c->cn ? c->cn : c->arn ? c->arn : "(unnamed)";
  char when[64], headline[1024], exp[128];
  ch_err rc = CH_OK;
  days_phrase(c->days, when, sizeof(when));
  const char *action = jstr(detail, "Action");
  const char *reason = jstr(detail, "RenewalStatusReason");
  switch(kind) {
  case K_APPROACHING:
    if(c->has_days && c->expires[0])
      snprintf(headline, sizeof(headline), "Certificate %s expires %s (%s)",
               name, when, c->expires);
    else if(c->has_days)
      snprintf(headline, sizeof(headline), "Certificate %s expires %s", name,
               when);
    else
      snprintf(headline, sizeof(headline), "Certificate %s expires soon",
               name);
    break;
  case K_EXPIRED:
    if(c->expires[0])
      snprintf(headline, sizeof(headline), "Certificate %s expired on %s",
               name, c->expires);
    else
      snprintf(headline, sizeof(headline), "Certificate %s has expired", name);
    break;
  case K_AVAILABLE:
    snprintf(headline, sizeof(headline), "Certificate %s is available (%s)",
             name,
             !action                       ? "new"
             : !strcmp(action, "RENEWAL")  ? "renewed"
             : !strcmp(action, "REIMPORT") ? "reimported"
             : !strcmp(action, "IMPORT")   ? "imported"
                                           : action);
    break;
  case K_RENEWAL:
    snprintf(headline, sizeof(headline),
             "Action required: renewal of certificate %s failed (%s)", name,
             reason ? reason : "unknown reason");
    break;
  case K_CUSTOM:
    snprintf(headline, sizeof(headline), "%s: %s", dt, name);
    break;
  }
  snprintf(subject, scap, "%s", headline);
  if((rc = html_open(o, headline)))
    return rc;
  rc = ch_buf_printf(&o->text, "%s.\n\n", headline);
  if(!rc)
    rc = ch_buf_addstr(&o->html, "<h2>");
  if(!rc)
    rc = ch_render_escape(&o->html, headline, strlen(headline));
  if(!rc)
    rc = both(o, NULL, "</h2>\n<table cellpadding=\"3\">\n");
  if(!rc && c->cn)
    rc = row(o, "Certificate", c->cn);
  if(!rc && (c->expires[0] || c->has_days)) {
    if(c->expires[0] && c->has_days)
      snprintf(exp, sizeof(exp), "%s (%s)", c->expires, when);
    else
      snprintf(exp, sizeof(exp), "%s", c->expires[0] ? c->expires : when);
    rc = row(o, kind == K_EXPIRED ? "Expired" : "Expires", exp);
  }
  if(!rc)
    rc = row(o, "Owner", c->owner ? c->owner : "(no owner tag)");
  if(!rc && c->issuer)
    rc = row(o, "Issuer", c->issuer);
  if(!rc && c->sources) {
    size_t i;
    json_t *s;
    json_array_foreach((json_t *)c->sources, i, s)
    {
      if(json_is_string(s) &&
         (rc = row(o, i ? "" : "Found at", json_string_value(s))))
        break;
    }
    if(!rc && !json_array_size(c->sources))
      rc = row(o, "Found at", "(no source holds it any more)");
  }
  if(!rc && kind == K_AVAILABLE && action)
    rc = row(o, "Action", action);
  if(!rc && kind == K_RENEWAL && reason) {
    const char *rt = reason_text(reason);
    char r[512];
    snprintf(r, sizeof(r), "%s%s%s", reason, rt ? ": " : "", rt ? rt : "");
    rc = row(o, "Reason", r);
    for(const char *const *k =
            (const char *const[]){"RenewCommand", "RenewExitStatus",
                                  "RenewOutput", NULL};
        !rc && *k; k++) {
      /* what was run, when the detail carries it */
      const json_t *v = json_object_get(detail, *k);
      char num[32];
      const char *s = json_string_value(v);
      if(json_is_integer(v)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        s = num;
      }
      if(s)
        rc = row(o, *k, s);
    }
  }
  if(!rc && c->arn)
    rc = row(o, "ARN", c->arn);
  if(!rc)
    rc = both(o, "\n", "</table>\n");
  /* whatever else the detail holds */
  static const char *const shown[] = {"CommonName",
                                      "DaysToExpiry",
                                      "CertificateExpirationDate",
                                      "NotAfter",
                                      "Owner",
                                      "Issuer",
                                      "Sources",
                                      "Action",
                                      "RenewalStatusReason",
                                      "RenewCommand",
                                      "RenewExitStatus",
                                      "RenewOutput",
                                      "Id",
                                      "Arn",
                                      NULL};
  size_t before = o->text.len, hbefore = o->html.len;
  if(!rc)
    rc = both(o, "Details:\n", "<p>Details:</p><ul>\n");
  size_t mark = o->text.len;
  if(!rc)
    rc = generic_bounded(o, detail, shown);
  if(!rc && o->text.len == mark) {
    /* nothing else in the detail: no empty section */
    o->text.len = before;
    o->text.data[before] = '\0';
    o->html.len = hbefore;
    o->html.data[hbefore] = '\0';
  }
  else if(!rc)
    rc = both(o, "\n", "</ul>\n");
  const char *lead =
      kind == K_APPROACHING
          ? "Renew it and deploy the renewal everywhere it is "
            "used before it expires:"
      : kind == K_EXPIRED   ? "Replace it now: clients refuse an expired "
                              "certificate:"
      : kind == K_RENEWAL   ? "certhub could not renew it automatically. Fix "
                              "the cause and renew it by hand:"
      : kind == K_AVAILABLE ? "No action is needed. Details:"
                            : "Details:";
  if(!rc)
    rc = link_para(o, lead, c->link);
  return rc;
}

static ch_err render_custom(const json_t *ev, const json_t *detail,
                            ch_render_out *o, char *subject, size_t scap,
                            const char *base)
{
  const char *dt = jstr(ev, "detail-type");
  const json_t *res = json_object_get(ev, "resources");
  const char *first = json_string_value(json_array_get(res, 0));
  const char *cn = jstr(detail, "CommonName");
  char headline[1024];
  if(cn || first)
    snprintf(headline, sizeof(headline), "%s: %s", dt, cn ? cn : first);
  else
    snprintf(headline, sizeof(headline), "%s", dt);
  snprintf(subject, scap, "%s", headline);
  ch_err rc = html_open(o, headline);
  if(!rc)
    rc = ch_buf_printf(&o->text, "%s\n\n", headline);
  if(!rc)
    rc = ch_buf_addstr(&o->html, "<h2>");
  if(!rc)
    rc = ch_render_escape(&o->html, headline, strlen(headline));
  if(!rc)
    rc = ch_buf_addstr(&o->html, "</h2>\n");
  if(!rc && json_array_size(res)) {
    size_t i;
    json_t *r;
    rc = both(o, "Resources:\n", "<p>Resources:</p><ul>\n");
    json_array_foreach((json_t *)res, i, r)
    {
      const char *rs = json_string_value(r);
      if(!rc && rs)
        rc = ch_buf_printf(&o->text, "  %s\n", rs);
      if(!rc && rs)
        rc = ch_buf_addstr(&o->html, "<li>");
      if(!rc && rs)
        rc = ch_render_escape(&o->html, rs, strlen(rs));
      if(!rc && rs)
        rc = ch_buf_addstr(&o->html, "</li>\n");
    }
    if(!rc)
      rc = both(o, "\n", "</ul>\n");
  }
  if(!rc)
    rc = both(o, "Details:\n", "<p>Details:</p><ul>\n");
  if(!rc)
    rc = generic_bounded(o, detail, NULL);
  if(!rc)
    rc = both(o, "\n", "</ul>\n");
  char id[17];
  if(!rc && certhub_render_arn_id(first, id)) {
    char link[1024];
    snprintf(link, sizeof(link), "%s/certificates/%s", base, id);
    rc = link_para(o, "The certificate:", link);
  }
  return rc;
}

/* ---- the entry points ----------------------------------------------------
 */

void certhub_rendered_free(certhub_rendered *r)
{
  if(!r)
    return;
  free(r->subject);
  free(r->text);
  free(r->html);
  memset(r, 0, sizeof(*r));
}

static ch_err apply_template(const certhub_render_templates *ts,
                             const char *dt, int part, const json_t *ctx,
                             size_t cap, char **dst, char **why)
{
  const certhub_template *t = find_template(ts, dt, part);
  char *s = NULL, *e = NULL;
  if(!t)
    return CH_OK;
  ch_err rc = certhub_template_render(t, ctx, cap, &s, &e);
  if(rc) {
    rfail(why, rc, "%s template for '%s': %s", part_names[part], dt,
          e ? e : certhub_strerror(rc));
    free(e);
    return rc;
  }
  free(*dst);
  *dst = s;
  return CH_OK;
}

ch_err certhub_render_event_json(const json_t *ev,
                                 const certhub_render_opts *o,
                                 certhub_rendered *out, char **why)
{
  certhub_render_opts dflt = {0};
  ch_render_out ro;
  json_t *ctx = NULL, *info = NULL;
  char subject[1024] = "";
  char *subj = NULL;
  ch_err rc = CH_OK;
  if(why)
    *why = NULL;
  if(!out)
    return CH_ERR_USAGE;
  memset(out, 0, sizeof(*out));
  if(!o)
    o = &dflt;
  size_t cap = o->max_bytes ? o->max_bytes : CERTHUB_RENDER_MAX;
  const char *base =
      o->base_url && *o->base_url ? o->base_url : CERTHUB_DEFAULT_BASE_URL;
  char basebuf[512];
  /* no trailing '/' so links read BASE/certificates/ID */
  snprintf(basebuf, sizeof(basebuf), "%s", base);
  for(size_t n = strlen(basebuf); n && basebuf[n - 1] == '/'; n--)
    basebuf[n - 1] = '\0';
  base = basebuf;
  ch_buf_init(&ro.text, cap);
  ch_buf_init(&ro.html, cap);
  const char *dt = jstr(ev, "detail-type");
  const json_t *detail = json_object_get(ev, "detail");
  if(!json_is_object(ev) || !dt || !json_is_object(detail)) {
    rc = rfail(why, CH_ERR_PARSE,
               "event: not an EventBridge envelope (a JSON object with a "
               "string \"detail-type\" and an object \"detail\")");
    goto out;
  }
  if(!(ctx = json_object())) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ev, k, v)
    {
      if(strcmp(k, "detail"))
        json_object_set(ctx, k, v);
    }
  }
  json_object_set_new(ctx, "baseUrl", json_string(base));
  if(o->topic_arn)
    json_object_set_new(ctx, "topicArn", json_string(o->topic_arn));
  const json_t *certs = json_object_get(detail, "certificates");
  if(json_is_array(certs)) {
    rc = ch_render_digest(detail, base, cap, &ro, ctx, subject,
                          sizeof(subject), &out->n_listed, &out->n_omitted);
    /* the detail, without the full list (a template sees the bounded
     * certificates/groups) */
    json_t *d = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)detail, k, v)
    {
      if(d && strcmp(k, "certificates"))
        json_object_set(d, k, v);
    }
    if(d)
      json_object_set_new(ctx, "detail", d);
  }
  else {
    json_object_set(ctx, "detail", (json_t *)detail);
    enum ekind kind = !strcmp(dt, CERTHUB_DT_APPROACHING)      ? K_APPROACHING
                      : !strcmp(dt, CERTHUB_DT_EXPIRED)        ? K_EXPIRED
                      : !strcmp(dt, CERTHUB_DT_AVAILABLE)      ? K_AVAILABLE
                      : !strcmp(dt, CERTHUB_DT_RENEWAL_ACTION) ? K_RENEWAL
                                                               : K_CUSTOM;
    const char *arn =
        json_string_value(json_array_get(json_object_get(ev, "resources"), 0));
    if(kind != K_CUSTOM && arn && o->lookup &&
       (rc = o->lookup(o->lookup_ctx, arn, &info))) {
      rfail(why, rc, "looking up certificate %s", arn);
      goto out;
    }
    certinfo c;
    cert_from_event(ev, detail, info, base, &c);
    if(kind == K_CUSTOM)
      rc = render_custom(ev, detail, &ro, subject, sizeof(subject), base);
    else {
      rc = render_cert(ev, detail, kind, &c, &ro, subject, sizeof(subject));
      json_t *cj = cert_json(&c);
      if(cj)
        json_object_set_new(ctx, "certificate", cj);
      json_object_set_new(ctx, "link", json_string(c.link));
    }
    if(!rc)
      rc = footer(&ro, ev);
  }
  if(rc) {
    if(rc == CH_ERR_TOOBIG)
      rfail(why, rc, "rendered message larger than %zu bytes", cap);
    goto out;
  }
  json_object_set_new(ctx, "subject", json_string(subject));
  out->text = ch_buf_take(&ro.text);
  out->html = ch_buf_take(&ro.html);
  subj = strdup(subject);
  if(!out->text || !out->html || !subj) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(o->templates) {
    if((rc = apply_template(o->templates, dt, PART_SUBJECT, ctx, 4096, &subj,
                            why)) ||
       (rc = apply_template(o->templates, dt, PART_TEXT, ctx, cap, &out->text,
                            why)) ||
       (rc = apply_template(o->templates, dt, PART_HTML, ctx, cap, &out->html,
                            why)))
      goto out;
  }
  if(!(out->subject = subject_clean(subj)))
    rc = CH_ERR_NOMEM;
out:
  free(subj);
  ch_buf_free(&ro.text);
  ch_buf_free(&ro.html);
  json_decref(ctx);
  json_decref(info);
  if(rc)
    certhub_rendered_free(out);
  return rc;
}

ch_err certhub_render_event(const char *event_json, size_t len,
                            const certhub_render_opts *o,
                            certhub_rendered *out, char **why)
{
  json_error_t je;
  if(why)
    *why = NULL;
  if(out)
    memset(out, 0, sizeof(*out));
  if(len > RENDER_EVENT_MAX)
    return rfail(why, CH_ERR_TOOBIG, "event: larger than %zu bytes",
                 (size_t)RENDER_EVENT_MAX);
  json_t *ev = json_loadb(event_json, len, 0, &je);
  if(!ev)
    return rfail(why, CH_ERR_PARSE, "event: invalid JSON at line %d: %s",
                 je.line, je.text);
  ch_err rc = certhub_render_event_json(ev, o, out, why);
  json_decref(ev);
  return rc;
}
