/*
 * Read endpoints: health, metrics, certificates, endpoints, events.
 *
 * Paging: ?limit=N (1..1000, default 100) and ?next_token=T, where T is
 * the NextToken of the previous page (an offset into the same ordering:
 * the store orders these lists stably, and rows added meanwhile may shift
 * a page by a row, as with ACM's ListCertificates).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/bus_store.h"
#include "certhub/metrics.h"
#include "certhub/probe.h"
#include "certhub/time.h"
#include "http_int.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000
#define OFFSET_MAX 100000000

void ch_http_healthz(ch_http_req *rq, ch_http_resp *rs)
{
  (void)rq;
  ch_http_json(
      rs, 200,
      json_pack("{s:s, s:s}", "status", "ok", "version", certhub_version()));
}

void ch_http_metrics(ch_http_req *rq, ch_http_resp *rs)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if(!f) {
    ch_http_fail(rs, CH_ERR_NOMEM, NULL);
    return;
  }
  ch_err rc = certhub_metrics_write(rq->store, rq->now, NULL, f);
  if(!rc)
    rc = ch_http_findings_metrics(rq->store, f);
  if(!rc && rq->server)
    ch_http_server_metrics(rq->server, f);
  if(fclose(f) && !rc)
    rc = CH_ERR_NOMEM;
  if(rc) {
    free(text);
    ch_http_fail(rs, rc == CH_ERR_IO ? CH_ERR_INTERNAL : rc,
                 certhub_store_errmsg(rq->store));
    return;
  }
  ch_http_text(rs, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

/* Paging parameters; false with rs set when malformed. */
static bool page_params(ch_http_req *rq, ch_http_resp *rs, int64_t *limit,
                        int64_t *offset)
{
  return ch_http_query_num(rq, rs, "limit", 1, PAGE_MAX, PAGE_DEFAULT,
                           limit) &&
         ch_http_query_num(rq, rs, "next_token", 0, OFFSET_MAX, 0, offset);
}

static void set_next(json_t *o, bool more, int64_t offset, int64_t limit)
{
  char tok[32];
  if(!more)
    return;
  snprintf(tok, sizeof(tok), "%lld", (long long)(offset + limit));
  json_object_set_new(o, "NextToken", json_string(tok));
}

static json_t *time_json(int64_t t)
{
  char buf[32];
  if(!t)
    return json_null();
  certhub_time_format(t, buf, sizeof(buf));
  return json_string(buf);
}

static json_t *opt_str(const char *s)
{
  return s && *s ? json_string(s) : json_null();
}

static json_t *tags_json(const certhub_tag *tags, size_t n)
{
  json_t *a = json_array();
  for(size_t i = 0; a && i < n; i++)
    json_array_append_new(a,
                          json_pack("{s:s, s:s}", "Key", tags[i].key, "Value",
                                    tags[i].value ? tags[i].value : ""));
  return a;
}

/* A certificate as JSON: the fields `certhub list -o json` shows, named
 * as ACM's DescribeCertificate names them where one exists. */
static json_t *cert_json(const certhub_cert_row *r, bool detail)
{
  json_t *o = json_object();
  if(!o)
    return NULL;
  json_object_set_new(o, "Id", json_string(r->id));
  json_object_set_new(o, "CertificateArn", opt_str(r->arn));
  json_object_set_new(o, "DomainName", opt_str(r->common_name));
  json_t *sans = json_array();
  for(size_t i = 0; sans && i < r->n_sans; i++)
    json_array_append_new(sans, json_string(r->sans[i].value));
  json_object_set_new(o, "SubjectAlternativeNames", sans);
  json_object_set_new(o, "Subject", opt_str(r->subject));
  json_object_set_new(o, "Issuer", opt_str(r->issuer));
  json_object_set_new(o, "Serial", opt_str(r->serial));
  json_object_set_new(o, "NotBefore", time_json(r->not_before));
  json_object_set_new(o, "NotAfter", time_json(r->not_after));
  json_object_set_new(o, "DaysToExpiry", json_integer(r->days_to_expiry));
  json_object_set_new(o, "Status", opt_str(r->status));
  json_object_set_new(o, "Type", opt_str(r->type));
  json_object_set_new(o, "KeyAlgorithm", opt_str(r->key_alg));
  json_object_set_new(o, "KeyBits", json_integer(r->key_bits));
  json_object_set_new(o, "Sha256Fingerprint", opt_str(r->sha256));
  json_object_set_new(o, "IsCa", json_boolean(r->is_ca));
  json_object_set_new(o, "Account", opt_str(r->account));
  json_object_set_new(o, "Region", opt_str(r->region));
  json_object_set_new(o, "Tags", tags_json(r->tags, r->n_tags));
  if(!detail)
    return o;
  json_object_set_new(o, "Sha1Fingerprint", opt_str(r->sha1));
  json_object_set_new(o, "IssuerCommonName", opt_str(r->issuer_cn));
  json_object_set_new(o, "KeyCurve", opt_str(r->key_curve));
  json_object_set_new(o, "SignatureAlgorithm", opt_str(r->sig_alg));
  json_object_set_new(o, "KeyUsage", opt_str(r->key_usage));
  json_object_set_new(o, "ExtendedKeyUsage", opt_str(r->ext_key_usage));
  json_object_set_new(o, "SelfSigned", json_boolean(r->self_signed));
  json_object_set_new(o, "FirstSeen", time_json(r->first_seen));
  json_object_set_new(o, "LastSeen", time_json(r->last_seen));
  json_t *src = json_array();
  for(size_t i = 0; src && i < r->n_sources; i++) {
    const certhub_sighting *g = &r->sources[i];
    json_array_append_new(
        src,
        json_pack("{s:s, s:s, s:I, s:b, s:o, s:o}", "Kind", g->kind, "Locator",
                  g->locator, "Position", (json_int_t)g->position, "Present",
                  g->present, "FirstSeen", time_json(g->first_seen),
                  "LastSeen", time_json(g->last_seen)));
  }
  json_object_set_new(o, "Sources", src);
  json_t *rb = json_array();
  for(size_t i = 0; rb && i < r->n_replaced_by; i++)
    json_array_append_new(rb, json_string(r->replaced_by[i]));
  json_object_set_new(o, "ReplacedBy", rb);
  json_t *rp = json_array();
  for(size_t i = 0; rp && i < r->n_replaces; i++)
    json_array_append_new(rp, json_string(r->replaces[i]));
  json_object_set_new(o, "Replaces", rp);
  return o;
}

typedef struct page {
  json_t *items;
  int64_t skip, limit;
  bool more;
  bool detail;
} page;

static ch_err cert_cb(void *ctx, const certhub_cert_row *row)
{
  page *p = ctx;
  if(p->skip > 0) {
    p->skip--;
    return CH_OK;
  }
  if((int64_t)json_array_size(p->items) >= p->limit) {
    p->more = true;
    return CH_ERR_EXISTS; /* stop the walk: the page is full */
  }
  json_t *o = cert_json(row, p->detail);
  if(!o || json_array_append_new(p->items, o))
    return CH_ERR_NOMEM;
  return CH_OK;
}

void ch_http_certs_list(ch_http_req *rq, ch_http_resp *rs)
{
  int64_t limit, offset, within;
  certhub_filter f = {0};
  certhub_tag tag = {0};
  char tagbuf[1024];
  if(!page_params(rq, rs, &limit, &offset) ||
     !ch_http_query_num(rq, rs, "expiring_within", 0, 36500, -1, &within))
    return;
  if(within >= 0) {
    f.expiring = true;
    f.expiring_within = within;
  }
  const char *status = ch_http_query(rq, "status");
  if(status) {
    if(strcmp(status, CERTHUB_STATUS_ISSUED) &&
       strcmp(status, CERTHUB_STATUS_EXPIRED) &&
       strcmp(status, CERTHUB_STATUS_INACTIVE)) {
      ch_http_error(rs, 400, "InvalidParameter",
                    "query parameter status: '%.64s' is not ISSUED, "
                    "EXPIRED or INACTIVE",
                    status);
      return;
    }
    f.status = status;
  }
  const char *t = ch_http_query(rq, "tag");
  if(t) {
    /* KEY=VALUE, or KEY alone: the key exists */
    if(!*t || strlen(t) >= sizeof(tagbuf) || *t == '=') {
      ch_http_error(rs, 400, "InvalidParameter",
                    "query parameter tag: expected KEY or KEY=VALUE");
      return;
    }
    snprintf(tagbuf, sizeof(tagbuf), "%s", t);
    char *eq = strchr(tagbuf, '=');
    tag.key = tagbuf;
    if(eq) {
      *eq = '\0';
      tag.value = eq + 1;
    }
    f.tags = &tag;
    f.n_tags = 1;
  }
  f.search = ch_http_query(rq, "search");
  f.issuer = ch_http_query(rq, "issuer");
  f.limit = (size_t)(offset + limit + 1);
  page p = {.items = json_array(), .skip = offset, .limit = limit};
  if(!p.items) {
    ch_http_fail(rs, CH_ERR_NOMEM, NULL);
    return;
  }
  ch_err rc = certhub_store_list(rq->store, &f, rq->now, cert_cb, &p);
  if(rc && !(rc == CH_ERR_EXISTS && p.more)) {
    json_decref(p.items);
    ch_http_fail(rs, rc, certhub_store_errmsg(rq->store));
    return;
  }
  json_t *o = json_pack("{s:o}", "Certificates", p.items);
  if(o)
    set_next(o, p.more, offset, limit);
  ch_http_json(rs, 200, o);
}

void ch_http_cert_get(ch_http_req *rq, ch_http_resp *rs)
{
  int64_t *ids = NULL;
  size_t n = 0;
  ch_err rc = certhub_store_resolve(rq->store, rq->caps[0], &ids, &n);
  if(rc == CH_ERR_NOTFOUND) {
    ch_http_error(rs, 404, "NotFound", "no certificate '%.200s'", rq->caps[0]);
    goto out;
  }
  if(rc) {
    ch_http_fail(rs, rc, certhub_store_errmsg(rq->store));
    goto out;
  }
  if(n != 1) {
    ch_http_error(rs, 400, "Ambiguous",
                  "'%.200s' names %zu certificates; use an Id or a "
                  "fingerprint",
                  rq->caps[0], n);
    goto out;
  }
  certhub_filter f = {.rowid = ids[0]};
  page p = {.items = json_array(), .limit = 1, .detail = true};
  rc = p.items ? certhub_store_list(rq->store, &f, rq->now, cert_cb, &p)
               : CH_ERR_NOMEM;
  if(rc && rc != CH_ERR_EXISTS)
    ch_http_fail(rs, rc, certhub_store_errmsg(rq->store));
  else if(!json_array_size(p.items))
    ch_http_error(rs, 404, "NotFound", "no certificate '%.200s'", rq->caps[0]);
  else
    ch_http_json(
        rs, 200,
        json_pack("{s:O}", "Certificate", json_array_get(p.items, 0)));
  json_decref(p.items);
out:
  free(ids);
}

static ch_err endpoint_cb(void *ctx, const certhub_endpoint_row *e)
{
  page *p = ctx;
  if(p->skip > 0) {
    p->skip--;
    return CH_OK;
  }
  if((int64_t)json_array_size(p->items) >= p->limit) {
    p->more = true;
    return CH_ERR_EXISTS;
  }
  json_t *o = json_pack(
      "{s:I, s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:o}", "Id",
      (json_int_t)e->id, "Locator", e->locator, "Spec", e->spec, "Host",
      e->host, "Port", (json_int_t)e->port, "Sni", opt_str(e->sni), "Starttls",
      opt_str(e->starttls), "Address", opt_str(e->address), "FirstSeen",
      time_json(e->first_seen), "Tags", tags_json(e->tags, e->n_tags));
  if(!o)
    return CH_ERR_NOMEM;
  if(e->has_probe) {
    const certhub_probe_row *l = &e->last;
    json_object_set_new(
        o, "LastProbe",
        json_pack("{s:o, s:s, s:o, s:b, s:b, s:I, s:o, s:I}", "Started",
                  time_json(l->started), "Status",
                  certhub_probe_status_name(l->status), "Reason",
                  opt_str(l->reason), "Trusted", l->trusted, "HostnameMatch",
                  l->hostname_match, "Problems", (json_int_t)l->problems,
                  "EarliestNotAfter", time_json(l->earliest_not_after),
                  "TotalMicros", (json_int_t)l->total_us));
  }
  else
    json_object_set_new(o, "LastProbe", json_null());
  return json_array_append_new(p->items, o) ? CH_ERR_NOMEM : CH_OK;
}

void ch_http_endpoints_list(ch_http_req *rq, ch_http_resp *rs)
{
  int64_t limit, offset;
  if(!page_params(rq, rs, &limit, &offset))
    return;
  certhub_endpoint_filter f = {.status = -1,
                               .owner = ch_http_query(rq, "owner")};
  page p = {.items = json_array(), .skip = offset, .limit = limit};
  ch_err rc = p.items ? certhub_store_endpoints(rq->store, &f, endpoint_cb, &p)
                      : CH_ERR_NOMEM;
  if(rc && !(rc == CH_ERR_EXISTS && p.more)) {
    json_decref(p.items);
    ch_http_fail(rs, rc, certhub_store_errmsg(rq->store));
    return;
  }
  json_t *o = json_pack("{s:o}", "Endpoints", p.items);
  if(o)
    set_next(o, p.more, offset, limit);
  ch_http_json(rs, 200, o);
}

/* The stored envelope as JSON (it was validated when put). */
static json_t *envelope_json(const certhub_bus_event_rec *e)
{
  json_t *j = json_loads(e->envelope, 0, NULL);
  return j ? j : json_string(e->envelope);
}

static ch_err event_cb(void *ctx, const certhub_bus_event_rec *e)
{
  page *p = ctx;
  if(p->skip > 0) {
    p->skip--;
    return CH_OK;
  }
  if((int64_t)json_array_size(p->items) >= p->limit) {
    p->more = true;
    return CH_ERR_EXISTS;
  }
  json_t *env = envelope_json(e);
  return !env || json_array_append_new(p->items, env) ? CH_ERR_NOMEM : CH_OK;
}

void ch_http_events_list(ch_http_req *rq, ch_http_resp *rs)
{
  int64_t limit, offset;
  if(!page_params(rq, rs, &limit, &offset))
    return;
  certhub_bus_event_filter f = {
      .bus = ch_http_query(rq, "bus"),
      .detail_type = ch_http_query(rq, "detail_type"),
      .source = ch_http_query(rq, "source"),
      .limit = (size_t)(offset + limit + 1),
  };
  page p = {.items = json_array(), .skip = offset, .limit = limit};
  ch_err rc = p.items ? certhub_store_event_list(rq->store, &f, event_cb, &p)
                      : CH_ERR_NOMEM;
  if(rc && !(rc == CH_ERR_EXISTS && p.more)) {
    json_decref(p.items);
    ch_http_fail(rs, rc, certhub_store_errmsg(rq->store));
    return;
  }
  json_t *o = json_pack("{s:o}", "Events", p.items);
  if(o)
    set_next(o, p.more, offset, limit);
  ch_http_json(rs, 200, o);
}

static ch_err event_one_cb(void *ctx, const certhub_bus_event_rec *e)
{
  json_t **out = ctx;
  json_decref(*out);
  *out = envelope_json(e);
  return *out ? CH_OK : CH_ERR_NOMEM;
}

void ch_http_event_get(ch_http_req *rq, ch_http_resp *rs)
{
  json_t *env = NULL;
  ch_err rc =
      certhub_store_event_get(rq->store, rq->caps[0], event_one_cb, &env);
  if(rc == CH_ERR_NOTFOUND)
    ch_http_error(rs, 404, "NotFound", "no event '%.200s'", rq->caps[0]);
  else if(rc)
    ch_http_fail(rs, rc, certhub_store_errmsg(rq->store));
  else {
    ch_http_json(rs, 200, env);
    env = NULL;
  }
  json_decref(env);
}
