/*
 * lib/http internals: the route table, requests and responses as handlers
 * see them, the store handle pool.
 *
 * Adding an endpoint is one line in routes.c's table (method, path pattern,
 * scope, flags, handler) and a handler:
 *
 *   void my_handler(ch_http_req *rq, ch_http_resp *rs);
 *
 * Path patterns are literal segments and captures: "/v1/events/{id}"
 * captures one segment, "/v1/findings/{id*}" the rest of the path (slashes
 * included, for ARNs). Captures arrive URL-decoded in rq->caps[]; query
 * parameters through ch_http_query(). A handler fills rs with
 * ch_http_json() or ch_http_error(); every error is JSON
 * {"error":{"code":"...","message":"..."}}.
 *
 * Ownership: rq and everything it points to belong to the server for the
 * call; rs->body is malloc'd by the helpers and freed by the server.
 */
#ifndef CH_HTTP_INT_H
#define CH_HTTP_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "certhub/http.h"
#include "certhub/store.h"
#include "core/core.h"

#define CH_HTTP_MAX_CAPS 4
#define CH_HTTP_CAP_MAX 2048 /* bytes of one captured segment */

/* Route flags. */
#define CH_HTTP_NOSTORE 1u /* handler needs no store handle */
#define CH_HTTP_WRITE 2u   /* writes: serialized, in BEGIN IMMEDIATE */
#define CH_HTTP_BODY 4u    /* takes a JSON request body */
#define CH_HTTP_METRICS 8u /* scope decided by the metrics_auth option */

/* Scope 0: no token needed. */
#define CH_HTTP_PUBLIC 0u

struct ch_http_req;
struct ch_http_resp;
typedef void (*ch_http_handler)(struct ch_http_req *rq,
                                struct ch_http_resp *rs);

typedef struct ch_http_route {
  const char *method;
  const char *pattern;
  unsigned scope; /* CERTHUB_SCOPE_* needed (admin has all) */
  unsigned flags; /* CH_HTTP_* */
  ch_http_handler fn;
} ch_http_route;

/* Work a writing route's handler can have done before the writer lock is
 * taken (parsing and validating the body), so concurrent calls do it in
 * parallel: prep answers in rs to refuse the call, or leaves its result
 * in rq->prepared for fn; the server frees that with prep_free. fn must
 * also work without it (tests and fuzzers dispatch fn alone). Kept apart
 * from the route table: few routes have one. */
typedef struct ch_http_prep {
  ch_http_handler fn;
  ch_http_handler prep;
  void (*prep_free)(void *prepared);
} ch_http_prep;

/* The prep of route's handler, NULL when it has none. */
const ch_http_prep *ch_http_prep_of(const ch_http_route *route);

extern const ch_http_route ch_http_routes[];
extern const size_t ch_http_n_routes;

/* Query parameter lookup: (ctx, name) -> value or NULL. The server passes
 * libmicrohttpd's; tests and the fuzzer pass their own. */
typedef const char *(*ch_http_query_fn)(void *ctx, const char *name);

typedef struct ch_http_req {
  const char *method;
  const char *path;
  const char *caps[CH_HTTP_MAX_CAPS];
  size_t n_caps;
  const char *body; /* NUL-terminated; NULL when none */
  size_t body_len;
  certhub_store *store; /* NULL for CH_HTTP_NOSTORE routes */
  int64_t now;
  unsigned scopes;        /* of the token, 0 when none */
  const char *base_url;   /* e.g. "http://127.0.0.1:8080" */
  ch_http_query_fn query; /* may be NULL: no parameters */
  void *query_ctx;
  const char *sns_cert_pem;   /* SNS signing certificate, NULL: none */
  void *prepared;             /* the route's prep result, NULL: none */
  certhub_http *server; /* NULL outside the server (tests) */
} ch_http_req;

/* The server's own part of /metrics: the writer lock and its handle's
 * page cache, the checkpointer. */
void ch_http_server_metrics(certhub_http *h, FILE *f);

typedef struct ch_http_resp {
  unsigned status;
  char *body; /* malloc'd */
  size_t len;
  const char *type; /* static Content-Type */
} ch_http_resp;

/* Match path against pattern. On a match *n_caps captures point into
 * bufs (each CH_HTTP_CAP_MAX bytes), URL-decoded. */
bool ch_http_route_match(const char *pattern, const char *path,
                         char bufs[CH_HTTP_MAX_CAPS][CH_HTTP_CAP_MAX],
                         size_t *n_caps /* OUT */);

/* Find the route for (method, path) in table: CH_OK with *route and the
 * captures; CH_ERR_NOTFOUND (no path matches: 404) or CH_ERR_UNSUPPORTED
 * (the path exists for another method: 405, *allow lists them). HEAD
 * matches GET routes. */
ch_err ch_http_route_find(const ch_http_route *table, size_t n,
                          const char *method, const char *path,
                          const ch_http_route **route /* OUT */,
                          char bufs[CH_HTTP_MAX_CAPS][CH_HTTP_CAP_MAX],
                          size_t *n_caps /* OUT */, char *allow,
                          size_t allow_len);

/* Does a token with scopes may call a route needing need? */
bool ch_http_scope_ok(unsigned scopes, unsigned need);

/* Responses. ch_http_json steals body (may be NULL: out of memory). */
void ch_http_json(ch_http_resp *rs, unsigned status, json_t *body);
void ch_http_error(ch_http_resp *rs, unsigned status, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The usual mapping of a library error to a response: PARSE, USAGE,
 * TOOBIG -> 400 with msg; NOTFOUND 404; BUSY 503; others 500. */
void ch_http_fail(ch_http_resp *rs, ch_err rc, const char *msg);
void ch_http_text(ch_http_resp *rs, unsigned status, const char *type,
                  char *body, size_t len); /* takes body */

/* Query parameter or NULL. */
const char *ch_http_query(const ch_http_req *rq, const char *name);
/* A decimal query parameter in [min, max]; absent: def. False (and rs set
 * to 400) when malformed. */
bool ch_http_query_num(const ch_http_req *rq, ch_http_resp *rs,
                       const char *name, int64_t min, int64_t max, int64_t def,
                       int64_t *out /* OUT */);

/* Parse the request body as JSON (an object or, when allow_array, an
 * array). NULL with rs set to 400 naming the problem. */
json_t *ch_http_body_json(const ch_http_req *rq, ch_http_resp *rs,
                          bool allow_array);

/* The ?format= of the findings reads: *ocsf true for "ocsf", false for
 * "asff" or none; false (rs set to 400) for anything else. */
bool ch_http_format_ocsf(const ch_http_req *rq, ch_http_resp *rs,
                         bool *ocsf /* OUT */);

/* Handlers (api_*.c). */
void ch_http_healthz(ch_http_req *rq, ch_http_resp *rs);
void ch_http_metrics(ch_http_req *rq, ch_http_resp *rs);
/* /metrics' findings and hub gauges (api_metrics.c), appended to f. */
ch_err ch_http_findings_metrics(certhub_store *s, FILE *f);
void ch_http_certs_list(ch_http_req *rq, ch_http_resp *rs);
void ch_http_cert_get(ch_http_req *rq, ch_http_resp *rs);
void ch_http_endpoints_list(ch_http_req *rq, ch_http_resp *rs);
void ch_http_events_list(ch_http_req *rq, ch_http_resp *rs);
void ch_http_event_get(ch_http_req *rq, ch_http_resp *rs);
void ch_http_findings_import(ch_http_req *rq, ch_http_resp *rs);
void ch_http_findings_import_prep(ch_http_req *rq, ch_http_resp *rs);
void ch_http_findings_import_free(void *prepared);
void ch_http_finding_get(ch_http_req *rq, ch_http_resp *rs);
void ch_http_findings_query(ch_http_req *rq, ch_http_resp *rs);
void ch_http_findings_update(ch_http_req *rq, ch_http_resp *rs);
void ch_http_insight_results(ch_http_req *rq, ch_http_resp *rs);
void ch_http_sns_action(ch_http_req *rq, ch_http_resp *rs);
void ch_http_sns_signing_cert(ch_http_req *rq, ch_http_resp *rs);

/* Run one request through route lookup, scope check and handler, as the
 * server does after reading the body (used by the server and the fuzzer).
 * tok_scopes is the verified token's scopes, or 0 when none was given. */
void ch_http_dispatch(const ch_http_route *route, ch_http_req *rq,
                      ch_http_resp *rs);

#endif
