/*
 * The HTTP server: an accept thread and `threads` libmicrohttpd daemons of
 * one thread each (the workers), a pool of store handles (SQLite handles
 * are single-thread: each request borrows one for its duration), and the
 * request path:
 *
 *   first call: route (404/405) -> token (401/403) -> Content-Type (415)
 *               -> Content-Length over the limit (413), answered at once
 *               without reading the body;
 *   body calls: appended to a buffer capped at max_body (a body without a
 *               length that goes over is discarded as it comes, then 413);
 *   last call:  the route's prep if it has one (body parsing and checks,
 *               outside the write mutex), then the handler, in BEGIN
 *               IMMEDIATE under the write mutex for writing routes, then
 *               the JSON reply.
 *
 * Why not MHD's thread pool: each of its workers has the listen socket in
 * its own epoll set, and the one that wakes accepts the pending connections
 * in a series, so a client's keep-alive connections, opened together, often
 * all landed on one worker and their requests were parsed one after another
 * (docs/PERFORMANCE.md). The accept thread here
 * hands each connection (MHD_add_connection) to the worker with the fewest
 * open connections, ties to the next in turn: 8 connections opened at once
 * on 4 workers are 2 on each.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_int.h"

/* A TLS PEM file larger than this is not a certificate chain or key. */
#define TLS_FILE_MAX ((size_t)1 << 20)
/* Request bodies held at once, over all connections: max_body bounds one,
 * this bounds the sum (1024 connections could otherwise hold 6 GiB). At
 * least four bodies of max_body fit. */
#define BODIES_CAP ((size_t)64 << 20)
#define MAX_CONNECTIONS 1024u /* over all workers */
/* After accept() failed for want of descriptors or memory: wait this long
 * (ms) before the next, rather than spin on a listen socket that stays
 * readable. */
#define ACCEPT_BACKOFF_MS 100
/* The checkpointer copies the WAL into the database once the API's commits
 * have made it CKPT_PAGES pages, and again each CKPT_STEP pages more; the
 * API's handles finish the checkpoint in their commit (SQLite's own
 * autocheckpoint, so the WAL is started anew: 64 MiB at most, as before)
 * from CKPT_FALLBACK pages, by then mostly copied. */
#define CKPT_PAGES 8192u
#define CKPT_STEP 2048u
#define CKPT_FALLBACK 16384u
#define CKPT_PASSES 3  /* outside the lock, at most */
#define CKPT_TAIL 512u /* another pass while more pages are left */

typedef struct store_pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  certhub_store **all;
  certhub_store **idle;
  size_t n, n_idle;
} store_pool;

/* Counters for /metrics, in nanoseconds; updated with atomics. */
typedef struct write_stats {
  uint64_t calls;     /* writing calls that took the lock */
  uint64_t wait_ns;   /* waiting for write_mu */
  uint64_t held_ns;   /* holding it (wall clock) */
  uint64_t cpu_ns;    /* the holder's thread CPU while holding it */
  uint64_t commit_ns; /* of held: in COMMIT */
  uint64_t ckpts;     /* checkpointer runs */
  uint64_t ckpt_ns;   /* their wall clock, outside write_mu */
  uint64_t wal_pages; /* the WAL after the last API commit (gauge) */
} write_stats;

/* The checkpointer thread and its own store handle. */
typedef struct ckpt_thread {
  pthread_t th;
  bool started;
  bool stop, want; /* under mu */
  unsigned last;   /* the WAL's pages at the last checkpoint (atomic) */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  certhub_store *s;
} ckpt_thread;

/* One worker: a libmicrohttpd daemon with one thread and no listen socket
 * of its own. The counters are atomics: the accept thread and the worker
 * update them, /metrics reads them. */
typedef struct http_worker {
  struct MHD_Daemon *d;
  certhub_http *h;
  unsigned open;     /* connections handed to it and not closed yet */
  uint64_t conns;    /* connections handed to it */
  uint64_t requests; /* requests begun on it */
} http_worker;

struct certhub_http {
  http_worker *w; /* threads of them */
  unsigned n_w;   /* started */
  int lfd;        /* the listen socket, -1: none */
  int wake[2];    /* the accept thread's stop pipe, -1: none */
  pthread_t acc;  /* the accept thread */
  bool acc_started;
  unsigned next;    /* the worker the next tie goes to (accept thread) */
  unsigned open;    /* connections open over all workers (atomic) */
  uint64_t refused; /* closed at once: MAX_CONNECTIONS open (atomic) */
  store_pool pool;
  pthread_mutex_t write_mu; /* one API writer at a time */
  /* The writing routes' own handle, used under write_mu only (the pool's
   * when NULL). SQLite empties a handle's page cache at its next read when
   * another handle has written meanwhile: with the writes spread over the
   * pool every call re-read the pages it changes (~0.9 preads a finding);
   * this one's cache stays warm. Its cost, 64 MiB of cache faulted in page
   * by page, is what store_sqlite.c's page-cache region removes. */
  certhub_store *writer;
  write_stats ws;
  ckpt_thread ck;
  char *listen, *tls_cert_file, *tls_key_file;
  char *cert_pem, *key_pem;
  char *sns_cert_pem; /* SigningCertURL's answer, NULL: none */
  unsigned threads;
  size_t max_body;
  size_t bodies_cap;
  size_t bodies; /* bytes buffered now (atomic) */
  bool metrics_auth;
  int64_t now_offset;
  certhub_http_log_fn log;
  void *log_ctx;
  unsigned port;
  char url[300];
};

typedef struct conn_state {
  const ch_http_route *route;
  char caps[CH_HTTP_MAX_CAPS][CH_HTTP_CAP_MAX];
  size_t n_caps;
  unsigned scopes;
  ch_buf body;
  bool too_big;
  bool too_busy;  /* the bodies of all connections hit bodies_cap */
  size_t counted; /* bytes of this body in h->bodies */
  certhub_http *h;
} conn_state;

static void hlog(certhub_http *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void hlog(certhub_http *h, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  if(!h->log)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  h->log(h->log_ctx, "http: %s", msg);
}

static uint64_t clock_ns(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void stat_add(uint64_t *c, uint64_t v)
{
  __atomic_add_fetch(c, v, __ATOMIC_RELAXED);
}

static uint64_t stat_get(const uint64_t *c)
{
  return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* ---- store pool ------------------------------------------------------- */

static certhub_store *pool_get(store_pool *p)
{
  pthread_mutex_lock(&p->mu);
  while(!p->n_idle)
    pthread_cond_wait(&p->cv, &p->mu);
  certhub_store *s = p->idle[--p->n_idle];
  pthread_mutex_unlock(&p->mu);
  return s;
}

static void pool_put(store_pool *p, certhub_store *s)
{
  pthread_mutex_lock(&p->mu);
  p->idle[p->n_idle++] = s;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

/* ext: the handles leave checkpoints to the checkpointer. */
static ch_err pool_open(store_pool *p, const char *target, size_t n, bool ext,
                        char **errmsg)
{
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->all = calloc(n, sizeof(*p->all));
  p->idle = calloc(n, sizeof(*p->idle));
  if(!p->all || !p->idle)
    return CH_ERR_NOMEM;
  for(size_t i = 0; i < n; i++) {
    ch_err rc = certhub_store_open(target, &p->all[i], errmsg);
    if(!rc && ext)
      rc = certhub_store_wal_external(p->all[i], CKPT_FALLBACK);
    if(rc && p->all[i] && !*errmsg)
      *errmsg = strdup(certhub_store_errmsg(p->all[i]));
    if(rc) {
      certhub_store_close(p->all[i]);
      p->all[i] = NULL;
      return rc;
    }
    p->idle[i] = p->all[i];
    p->n = p->n_idle = i + 1;
  }
  return CH_OK;
}

static void pool_close(store_pool *p)
{
  for(size_t i = 0; i < p->n; i++)
    certhub_store_close(p->all[i]);
  free(p->all);
  free(p->idle);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
}

/* ---- the checkpointer ------------------------------------------------- */

/* One checkpoint, PASSIVE, beside the API's writer: SQLite copies what no
 * reader needs while the API goes on committing; again for the pages
 * committed meanwhile while many are left. Beside a busy writer it never
 * quite catches up (a WAL is started anew only after a complete
 * checkpoint); the committing handle finishes it at CKPT_FALLBACK pages,
 * or the checkpointer's idle pass when the API stops writing. Finishing
 * it under the writer lock after every run instead cost 40-85 ms a run
 * here (docs/PERFORMANCE.md). False when a reader or a writer outside the
 * API kept it from copying the whole WAL. */
static bool ckpt_run(certhub_http *h)
{
  unsigned pages = 0, done = 0;
  ch_err rc = CH_OK;
  uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
  for(int pass = 0; pass < CKPT_PASSES && !rc; pass++) {
    rc = certhub_store_checkpoint(h->ck.s, false, &pages, &done);
    unsigned now = (unsigned)stat_get(&h->ws.wal_pages);
    if(done < pages || now < done || now - done < CKPT_TAIL)
      break; /* pinned by a reader, started anew, or nearly there */
  }
  stat_add(&h->ws.ckpt_ns, clock_ns(CLOCK_MONOTONIC) - t0);
  stat_add(&h->ws.ckpts, 1);
  if(!rc)
    __atomic_store_n(&h->ck.last, pages, __ATOMIC_RELAXED);
  if(rc && rc != CH_ERR_BUSY)
    hlog(h, "checkpoint: %s", certhub_store_errmsg(h->ck.s));
  return !rc && done >= pages;
}

static void *ckpt_main(void *arg)
{
  certhub_http *h = arg;
  ckpt_thread *ck = &h->ck;
  bool behind = false;
  pthread_mutex_lock(&ck->mu);
  while(!ck->stop) {
    if(!ck->want || behind) {
      /* after an incomplete checkpoint wait a second: commits signal
       * again at once while a reader pins the WAL */
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 1;
      int w = pthread_cond_timedwait(&ck->cv, &ck->mu, &ts);
      behind = false;
      /* idle pass: the API stopped writing with a large WAL left */
      unsigned now = (unsigned)stat_get(&h->ws.wal_pages);
      if(w == ETIMEDOUT && !ck->stop && now >= CKPT_STEP &&
         now != __atomic_load_n(&ck->last, __ATOMIC_RELAXED))
        ck->want = true;
      continue;
    }
    ck->want = false;
    pthread_mutex_unlock(&ck->mu);
    behind = !ckpt_run(h);
    pthread_mutex_lock(&ck->mu);
  }
  pthread_mutex_unlock(&ck->mu);
  return NULL;
}

/* After an API commit: wake the checkpointer when the WAL is large. */
static void ckpt_note(certhub_http *h, certhub_store *s)
{
  unsigned pages = certhub_store_wal_pages(s);
  __atomic_store_n(&h->ws.wal_pages, pages, __ATOMIC_RELAXED);
  /* commits during a checkpoint see the WAL still large: not again until
   * it grew by CKPT_STEP (or was started anew and grew large again) */
  unsigned last = __atomic_load_n(&h->ck.last, __ATOMIC_RELAXED);
  if(!h->ck.started || pages < CKPT_PAGES ||
     (pages >= last && pages - last < CKPT_STEP))
    return;
  pthread_mutex_lock(&h->ck.mu);
  if(!h->ck.want) {
    h->ck.want = true;
    pthread_cond_signal(&h->ck.cv);
  }
  pthread_mutex_unlock(&h->ck.mu);
}

/* The checkpointer when the store has checkpoints to take over (SQLite);
 * without one the API's handles checkpoint in their commits as before. */
static ch_err ckpt_start(certhub_http *h, const char *target, bool *on,
                         char **errmsg)
{
  ckpt_thread *ck = &h->ck;
  *on = false;
  ch_err rc = certhub_store_open(target, &ck->s, errmsg);
  if(rc)
    return rc;
  /* a store without WAL checkpoints says so here (this handle commits
   * nothing: the setting itself does not matter) */
  if(certhub_store_wal_external(ck->s, CKPT_FALLBACK) ||
     pthread_create(&ck->th, NULL, ckpt_main, h)) {
    certhub_store_close(ck->s);
    ck->s = NULL;
    return CH_OK;
  }
  ck->started = *on = true;
  return CH_OK;
}

static void ckpt_stop(certhub_http *h)
{
  ckpt_thread *ck = &h->ck;
  if(ck->started) {
    pthread_mutex_lock(&ck->mu);
    ck->stop = true;
    pthread_cond_signal(&ck->cv);
    pthread_mutex_unlock(&ck->mu);
    pthread_join(ck->th, NULL);
    ck->started = false;
  }
  certhub_store_close(ck->s);
  ck->s = NULL;
  pthread_mutex_destroy(&ck->mu);
  pthread_cond_destroy(&ck->cv);
}

/* One Prometheus metric: HELP, TYPE, the sample. */
static void metric(FILE *f, const char *name, const char *type,
                   const char *help, double v)
{
  fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %.9g\n", name, help, name, type,
          name, v);
}

void ch_http_server_metrics(certhub_http *h, FILE *f)
{
  const write_stats *w = &h->ws;
  const double s = 1e-9;
  /* the writer's handle is single-thread: read its counters under the lock
   * (waits for at most one call) */
  certhub_store_cache c = {0};
  if(h->writer) {
    pthread_mutex_lock(&h->write_mu);
    certhub_store_cache_stats(h->writer, &c);
    pthread_mutex_unlock(&h->write_mu);
  }
  metric(f, "certhub_http_writes_total", "counter",
         "API calls that wrote (each holds the writer lock).",
         (double)stat_get(&w->calls));
  metric(f, "certhub_http_write_lock_wait_seconds_total", "counter",
         "Time writing calls waited for the writer lock.",
         (double)stat_get(&w->wait_ns) * s);
  metric(f, "certhub_http_write_lock_seconds_total", "counter",
         "Time the writer lock was held (the API's writes are serial: "
         "near 1 s per second means the writer is the bound).",
         (double)stat_get(&w->held_ns) * s);
  metric(f, "certhub_http_write_lock_cpu_seconds_total", "counter",
         "CPU time of the threads holding the writer lock.",
         (double)stat_get(&w->cpu_ns) * s);
  metric(f, "certhub_http_write_commit_seconds_total", "counter",
         "Of the writer lock's time, in COMMIT.",
         (double)stat_get(&w->commit_ns) * s);
  metric(f, "certhub_http_checkpoints_total", "counter",
         "WAL checkpoints run by the API's checkpointer thread.",
         (double)stat_get(&w->ckpts));
  metric(f, "certhub_http_checkpoint_seconds_total", "counter",
         "Time in them (beside the writer: not under its lock).",
         (double)stat_get(&w->ckpt_ns) * s);
  metric(f, "certhub_http_wal_pages", "gauge",
         "Pages in the WAL after the API's last commit.",
         (double)stat_get(&w->wal_pages));
  metric(f, "certhub_http_write_cache_hits_total", "counter",
         "Pages the API's writer found in its page cache.", (double)c.hits);
  metric(f, "certhub_http_write_cache_misses_total", "counter",
         "Pages the API's writer read from the database or WAL file.",
         (double)c.misses);
  metric(f, "certhub_http_write_cache_writes_total", "counter",
         "Pages the API's writer wrote to the WAL.", (double)c.writes);
  metric(f, "certhub_http_connections_refused_total", "counter",
         "Connections closed at once: the server had its limit of them open.",
         (double)stat_get(&h->refused));
  /* per worker: how the accept thread spread the connections */
  static const struct {
    const char *name, *type, *help;
  } per[] = {
      {"certhub_http_worker_connections", "gauge",
       "Connections open on each API worker thread."},
      {"certhub_http_worker_connections_total", "counter",
       "Connections handed to each API worker thread."},
      {"certhub_http_worker_requests_total", "counter",
       "Requests begun on each API worker thread."},
  };
  for(size_t m = 0; m < CH_ARRAY_LEN(per); m++) {
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", per[m].name, per[m].help,
            per[m].name, per[m].type);
    for(unsigned i = 0; i < h->n_w; i++) {
      const http_worker *k = &h->w[i];
      uint64_t v = m == 0   ? __atomic_load_n(&k->open, __ATOMIC_RELAXED)
                   : m == 1 ? stat_get(&k->conns)
                            : stat_get(&k->requests);
      fprintf(f, "%s{worker=\"%u\"} %llu\n", per[m].name, i,
              (unsigned long long)v);
    }
  }
}

/* ---- responses -------------------------------------------------------- */

static enum MHD_Result send_resp(struct MHD_Connection *conn, ch_http_resp *rs,
                                 const char *allow)
{
  struct MHD_Response *r = MHD_create_response_from_buffer(
      rs->len, rs->body ? rs->body : (void *)"",
      rs->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if(!r) {
    free(rs->body);
    rs->body = NULL;
    return MHD_NO;
  }
  rs->body = NULL; /* the response owns it */
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                          rs->type ? rs->type : "application/json");
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if(rs->status == 401)
    MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                            "Bearer realm=\"certhub\"");
  if(rs->status == 405 && allow)
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
  if(rs->status == 503)
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
  enum MHD_Result ret = MHD_queue_response(conn, rs->status, r);
  MHD_destroy_response(r);
  return ret;
}

/* ---- request path ----------------------------------------------------- */

static int64_t h_now(const certhub_http *h)
{
  return (int64_t)time(NULL) + h->now_offset;
}

static unsigned route_scope(const certhub_http *h, const ch_http_route *r)
{
  if(r->flags & CH_HTTP_METRICS)
    return h->metrics_auth ? CERTHUB_SCOPE_READ : CH_HTTP_PUBLIC;
  return r->scope;
}

static const char *scope_name(unsigned need)
{
  if(need & CERTHUB_SCOPE_ADMIN)
    return "admin";
  if(need & CERTHUB_SCOPE_FINDINGS_WRITE)
    return "findings:write";
  return "read";
}

/* The bearer token of the request, checked against need. 0 when allowed,
 * else the response is set. */
static unsigned check_token(certhub_http *h, struct MHD_Connection *conn,
                            conn_state *cs, unsigned need, ch_http_resp *rs)
{
  const char *auth = MHD_lookup_connection_value(
      conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if(!need)
    return 0;
  if(!auth) {
    ch_http_error(rs, 401, "Unauthorized",
                  "missing token: send Authorization: Bearer chk_... "
                  "(certhub tokens create)");
    return rs->status;
  }
  if(strncasecmp(auth, "Bearer ", 7)) {
    ch_http_error(rs, 401, "Unauthorized",
                  "the Authorization header is not a Bearer token");
    return rs->status;
  }
  const char *tok = auth + 7;
  while(*tok == ' ')
    tok++;
  size_t len = strlen(tok);
  while(len && tok[len - 1] == ' ')
    len--;
  char name[CERTHUB_TOKEN_NAME_MAX + 1];
  const char *why = NULL;
  certhub_store *s = pool_get(&h->pool);
  ch_err rc =
      certhub_token_verify(s, tok, len, h_now(h), &cs->scopes, name, &why);
  if(rc && rc != CH_ERR_NOTFOUND)
    hlog(h, "token check: %s", certhub_store_errmsg(s));
  pool_put(&h->pool, s);
  if(rc == CH_ERR_NOTFOUND) {
    ch_http_error(rs, 401, "Unauthorized", "%s", why);
    return rs->status;
  }
  if(rc) {
    ch_http_fail(rs, rc == CH_ERR_BUSY ? rc : CH_ERR_DB,
                 "cannot check the token (storage error)");
    return rs->status;
  }
  if(!ch_http_scope_ok(cs->scopes, need)) {
    ch_http_error(rs, 403, "Forbidden", "token '%s' lacks the scope %s", name,
                  scope_name(need));
    return rs->status;
  }
  return 0;
}

/* Everything decided before the body: 0 to go on, else the status set. */
static unsigned first_call(certhub_http *h, struct MHD_Connection *conn,
                           conn_state *cs, const char *url, const char *method,
                           ch_http_resp *rs, char *allow, size_t allow_len)
{
  ch_err rc =
      ch_http_route_find(ch_http_routes, ch_http_n_routes, method, url,
                         &cs->route, cs->caps, &cs->n_caps, allow, allow_len);
  if(rc == CH_ERR_UNSUPPORTED) {
    ch_http_error(rs, 405, "MethodNotAllowed",
                  "%s is not allowed on %.200s (allowed: %s)", method, url,
                  allow);
    return 405;
  }
  if(rc) {
    ch_http_error(rs, 404, "NotFound", "no such resource: %.200s", url);
    return 404;
  }
  if(check_token(h, conn, cs, route_scope(h, cs->route), rs))
    return rs->status;
  if(cs->route->flags & CH_HTTP_BODY) {
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    if(ct && strncasecmp(ct, "application/json", 16)) {
      ch_http_error(rs, 415, "UnsupportedMediaType",
                    "Content-Type '%.100s': send application/json", ct);
      return 415;
    }
  }
  const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  if(cl) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if(errno || *end || n > h->max_body) {
      ch_http_error(rs, 413, "PayloadTooLarge",
                    "request body of %.32s bytes is over the limit of %zu", cl,
                    h->max_body);
      return 413;
    }
  }
  return 0;
}

static const char *mhd_query(void *ctx, const char *name)
{
  return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

void ch_http_dispatch(const ch_http_route *route, ch_http_req *rq,
                      ch_http_resp *rs)
{
  route->fn(rq, rs);
  if(!rs->status)
    ch_http_error(rs, 500, "InternalError", "the handler gave no answer");
}

/* Run the handler with a store handle (and the write lock and a
 * transaction for writing routes). */
static void last_call(certhub_http *h, struct MHD_Connection *conn,
                      conn_state *cs, const char *url, const char *method,
                      ch_http_resp *rs)
{
  const ch_http_route *route = cs->route;
  ch_http_req rq = {.method = method,
                    .path = url,
                    .n_caps = cs->n_caps,
                    .body = cs->body.data,
                    .body_len = cs->body.len,
                    .now = h_now(h),
                    .scopes = cs->scopes,
                    .base_url = h->url,
                    .query = mhd_query,
                    .query_ctx = conn,
                    .sns_cert_pem = h->sns_cert_pem,
                    .server = h};
  for(size_t i = 0; i < cs->n_caps; i++)
    rq.caps[i] = cs->caps[i];
  if(route->flags & CH_HTTP_NOSTORE) {
    ch_http_dispatch(route, &rq, rs);
    return;
  }
  const ch_http_prep *prep = ch_http_prep_of(route);
  if(prep) {
    prep->prep(&rq, rs);
    if(rs->status) {
      if(rq.prepared)
        prep->prep_free(rq.prepared);
      if(rs->status >= 500)
        hlog(h, "%s %s: %u", method, url, rs->status);
      return;
    }
  }
  bool write = route->flags & CH_HTTP_WRITE;
  certhub_store *s = NULL;
  if(!write || !h->writer)
    s = pool_get(&h->pool);
  if(write) {
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
    pthread_mutex_lock(&h->write_mu);
    if(!s)
      s = h->writer;
    rq.store = s;
    uint64_t t1 = clock_ns(CLOCK_MONOTONIC), tc = 0;
    uint64_t c1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    ch_err rc = certhub_store_begin(s);
    if(rc)
      ch_http_fail(rs, rc == CH_ERR_BUSY ? rc : CH_ERR_DB,
                   certhub_store_errmsg(s));
    else {
      ch_http_dispatch(route, &rq, rs);
      if(rs->status < 400) {
        tc = clock_ns(CLOCK_MONOTONIC);
        rc = certhub_store_commit(s);
        tc = clock_ns(CLOCK_MONOTONIC) - tc;
      }
      if(rs->status < 400 && rc) {
        ch_http_fail(rs, rc == CH_ERR_BUSY ? rc : CH_ERR_DB,
                     certhub_store_errmsg(s));
        certhub_store_rollback(s);
      }
      else if(rs->status >= 400)
        certhub_store_rollback(s);
      else
        ckpt_note(h, s);
    }
    uint64_t c2 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t t2 = clock_ns(CLOCK_MONOTONIC);
    pthread_mutex_unlock(&h->write_mu);
    stat_add(&h->ws.calls, 1);
    stat_add(&h->ws.wait_ns, t1 - t0);
    stat_add(&h->ws.held_ns, t2 - t1);
    stat_add(&h->ws.cpu_ns, c2 - c1);
    stat_add(&h->ws.commit_ns, tc);
  }
  else {
    rq.store = s;
    ch_http_dispatch(route, &rq, rs);
  }
  if(s != h->writer)
    pool_put(&h->pool, s);
  if(rq.prepared)
    prep->prep_free(rq.prepared);
  if(rs->status >= 500)
    hlog(h, "%s %s: %u", method, url, rs->status);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
  http_worker *w = cls;
  certhub_http *h = w->h;
  conn_state *cs = *con_cls;
  ch_http_resp rs = {0};
  char allow[128] = "";
  (void)version;
  if(!cs) {
    stat_add(&w->requests, 1);
    if(!(cs = calloc(1, sizeof(*cs))))
      return MHD_NO;
    ch_buf_init(&cs->body, h->max_body);
    cs->h = h;
    *con_cls = cs;
    if(first_call(h, conn, cs, url, method, &rs, allow, sizeof(allow)))
      return send_resp(conn, &rs, allow);
    return MHD_YES;
  }
  if(*upload_data_size) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if(cs->too_big || cs->too_busy)
      return MHD_YES; /* read and dropped */
    if(__atomic_add_fetch(&h->bodies, n, __ATOMIC_RELAXED) > h->bodies_cap) {
      __atomic_sub_fetch(&h->bodies, n + cs->counted, __ATOMIC_RELAXED);
      cs->counted = 0;
      ch_buf_free(&cs->body);
      cs->too_busy = true;
      return MHD_YES;
    }
    if(ch_buf_add(&cs->body, upload_data, n)) {
      /* over max_body: ch_buf freed itself (len is 0 again) */
      __atomic_sub_fetch(&h->bodies, n + cs->counted, __ATOMIC_RELAXED);
      cs->counted = 0;
      cs->too_big = true;
      return MHD_YES;
    }
    cs->counted += n;
    return MHD_YES;
  }
  if(cs->too_big)
    ch_http_error(&rs, 413, "PayloadTooLarge",
                  "request body is over the limit of %zu bytes", h->max_body);
  else if(cs->too_busy)
    ch_http_error(&rs, 503, "Busy",
                  "too many request bodies in flight; retry");
  else
    last_call(h, conn, cs, url, method, &rs);
  return send_resp(conn, &rs, NULL);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)conn;
  (void)toe;
  conn_state *cs = *con_cls;
  if(!cs)
    return;
  if(cs->counted)
    __atomic_sub_fetch(&cs->h->bodies, cs->counted, __ATOMIC_RELAXED);
  ch_buf_free(&cs->body);
  free(cs);
  *con_cls = NULL;
}

/* A connection of worker cls closed. MHD tells each connection it started
 * once; one it took (MHD_add_connection said yes) but dropped before its
 * start would stay counted: in 0.9.75 only at the daemon's own limit, which
 * the accept thread's total keeps it under, or when out of memory. */
static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
  http_worker *w = cls;
  (void)conn;
  (void)socket_context;
  if(toe != MHD_CONNECTION_NOTIFY_CLOSED)
    return;
  __atomic_sub_fetch(&w->open, 1, __ATOMIC_RELAXED);
  __atomic_sub_fetch(&w->h->open, 1, __ATOMIC_RELAXED);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
  http_worker *w = cls;
  certhub_http *h = w->h;
  char msg[1024];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  size_t n = strlen(msg);
  while(n && msg[n - 1] == '\n')
    msg[--n] = '\0';
  hlog(h, "%s", msg);
}

/* ---- start, stop ------------------------------------------------------ */

/* "ADDR:PORT" or "[V6]:PORT" into a socket address. */
static ch_err parse_listen(const char *listen, struct sockaddr_storage *ss,
                           socklen_t *sslen, bool *v6, bool *loopback,
                           char **errmsg)
{
  char host[256];
  const char *port;
  const char *colon = strrchr(listen, ':');
  size_t hl;
  if(listen[0] == '[') {
    const char *rb = strchr(listen, ']');
    if(!rb || rb[1] != ':')
      goto bad;
    hl = (size_t)(rb - listen - 1);
    memcpy(host, listen + 1, hl < sizeof(host) ? hl : 0);
    port = rb + 2;
  }
  else {
    if(!colon)
      goto bad;
    hl = (size_t)(colon - listen);
    port = colon + 1;
    if(hl < sizeof(host))
      memcpy(host, listen, hl);
  }
  if(!hl || hl >= sizeof(host) || !*port || strlen(port) > 5 ||
     strspn(port, "0123456789") != strlen(port) || atoi(port) > 65535)
    goto bad;
  host[hl] = '\0';
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  int r = getaddrinfo(host, port, &hints, &ai);
  if(r || !ai) {
    if(asprintf(errmsg, "listen address '%s': %s", listen, gai_strerror(r)) <
       0)
      *errmsg = NULL;
    return CH_ERR_USAGE;
  }
  memcpy(ss, ai->ai_addr, ai->ai_addrlen);
  *sslen = ai->ai_addrlen;
  *v6 = ai->ai_family == AF_INET6;
  if(*v6)
    *loopback = IN6_IS_ADDR_LOOPBACK(
        &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr);
  else
    *loopback = (ntohl(((const struct sockaddr_in *)(const void *)ai->ai_addr)
                           ->sin_addr.s_addr) >>
                 24) == 127;
  freeaddrinfo(ai);
  return CH_OK;
bad:
  if(asprintf(errmsg, "listen address '%s': expected ADDR:PORT or [IPV6]:PORT",
              listen) < 0)
    *errmsg = NULL;
  return CH_ERR_USAGE;
}

/* ---- the accept thread ------------------------------------------------ */

/* The worker for the next connection: the fewest open, ties to the first
 * from h->next on (round robin while the counts are equal). */
static http_worker *pick_worker(certhub_http *h)
{
  unsigned best = h->next % h->n_w, best_open = UINT32_MAX;
  for(unsigned k = 0; k < h->n_w; k++) {
    unsigned i = (h->next + k) % h->n_w;
    unsigned o = __atomic_load_n(&h->w[i].open, __ATOMIC_RELAXED);
    if(o < best_open) {
      best = i;
      best_open = o;
    }
  }
  h->next = best + 1;
  return &h->w[best];
}

/* Accept what is pending (at most a batch, then the stop pipe is looked at
 * again). False after accept() failed for want of resources. */
static bool accept_some(certhub_http *h)
{
  for(int n = 0; n < 64; n++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = accept4(h->lfd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if(fd < 0) {
      if(errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
        continue;
      if(errno == EAGAIN || errno == EWOULDBLOCK)
        return true;
      hlog(h, "accept: %s", strerror(errno));
      return false;
    }
    /* the limit over all workers (MHD's own is per daemon) */
    if(__atomic_load_n(&h->open, __ATOMIC_RELAXED) >= MAX_CONNECTIONS) {
      close(fd);
      stat_add(&h->refused, 1);
      continue;
    }
    http_worker *w = pick_worker(h);
    __atomic_add_fetch(&w->open, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&h->open, 1, __ATOMIC_RELAXED);
    /* MHD owns fd from here, closed by it on failure as well */
    if(MHD_add_connection(w->d, fd, (struct sockaddr *)&ss, len) != MHD_YES) {
      __atomic_sub_fetch(&w->open, 1, __ATOMIC_RELAXED);
      __atomic_sub_fetch(&h->open, 1, __ATOMIC_RELAXED);
      continue;
    }
    stat_add(&w->conns, 1);
  }
  return true;
}

static void *accept_main(void *arg)
{
  certhub_http *h = arg;
  bool ok = true;
  for(;;) {
    struct pollfd pf[2] = {{.fd = h->wake[0], .events = POLLIN},
                           {.fd = h->lfd, .events = POLLIN}};
    int r = poll(pf, ok ? 2 : 1, ok ? -1 : ACCEPT_BACKOFF_MS);
    if(r < 0 && errno != EINTR) {
      /* out of memory: wait and go on, the server must not go deaf */
      hlog(h, "accept thread: poll: %s", strerror(errno));
      struct timespec ts = {0, ACCEPT_BACKOFF_MS * 1000000L};
      nanosleep(&ts, NULL);
      continue;
    }
    if(r > 0 && pf[0].revents)
      break; /* certhub_http_stop() */
    ok = !(r > 0 && pf[1].revents) || accept_some(h);
  }
  return NULL;
}

/* The listen socket, bound and listening, nonblocking; its port in *port. */
static ch_err listen_on(const struct sockaddr_storage *ss, socklen_t sslen,
                        bool v6, int *out, unsigned *port)
{
  int one = 1;
  int fd = socket(v6 ? AF_INET6 : AF_INET,
                  SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if(fd < 0)
    return CH_ERR_IO;
  /* as MHD did: restart at once on the port of a stopped server, and a v6
   * address takes v6 only */
  if(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
     (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
     bind(fd, (const struct sockaddr *)ss, sslen) || listen(fd, SOMAXCONN)) {
    int e = errno;
    close(fd);
    errno = e;
    return CH_ERR_IO;
  }
  struct sockaddr_storage got;
  socklen_t gl = sizeof(got);
  *port = 0;
  if(!getsockname(fd, (struct sockaddr *)&got, &gl))
    *port = ntohs(v6 ? ((struct sockaddr_in6 *)(void *)&got)->sin6_port
                     : ((struct sockaddr_in *)(void *)&got)->sin_port);
  *out = fd;
  return CH_OK;
}

static ch_err read_pem(const char *path, char **out, char **errmsg)
{
  ch_buf b;
  FILE *f = fopen(path, "re");
  ch_buf_init(&b, TLS_FILE_MAX);
  if(!f) {
    if(asprintf(errmsg, "%s: %s", path, strerror(errno)) < 0)
      *errmsg = NULL;
    return CH_ERR_IO;
  }
  ch_err rc = ch_buf_read_fd(&b, fileno(f));
  fclose(f);
  if(!rc && !b.len)
    rc = CH_ERR_PARSE;
  if(!rc && !(*out = ch_buf_take(&b)))
    rc = CH_ERR_NOMEM;
  if(rc &&
     asprintf(errmsg, "%s: %s", path,
              rc == CH_ERR_PARSE ? "empty file" : certhub_strerror(rc)) < 0)
    *errmsg = NULL;
  ch_buf_free(&b);
  return rc;
}

static char *dup_opt(const char *s)
{
  return s ? strdup(s) : NULL;
}

ch_err certhub_http_start(const certhub_http_opts *o, certhub_http **out,
                          char **errmsg)
{
  struct sockaddr_storage ss;
  socklen_t sslen = 0;
  bool v6 = false, loopback = false;
  ch_err rc = CH_OK;
  *out = NULL;
  *errmsg = NULL;
  if(!o || !o->db_target)
    return CH_ERR_USAGE;
  certhub_http *h = calloc(1, sizeof(*h));
  if(!h)
    return CH_ERR_NOMEM;
  h->lfd = h->wake[0] = h->wake[1] = -1;
  pthread_mutex_init(&h->write_mu, NULL);
  pthread_mutex_init(&h->ck.mu, NULL);
  pthread_cond_init(&h->ck.cv, NULL);
  h->listen = strdup(o->listen ? o->listen : CERTHUB_HTTP_DEFAULT_LISTEN);
  h->tls_cert_file = dup_opt(o->tls_cert_file);
  h->tls_key_file = dup_opt(o->tls_key_file);
  h->threads = o->threads ? o->threads : CERTHUB_HTTP_DEFAULT_THREADS;
  h->max_body = o->max_body ? o->max_body : CERTHUB_HTTP_DEFAULT_MAX_BODY;
  h->bodies_cap = 4 * h->max_body > BODIES_CAP ? 4 * h->max_body : BODIES_CAP;
  h->now_offset = o->now_offset;
  h->log = o->log;
  h->log_ctx = o->log_ctx;
  h->sns_cert_pem = dup_opt(o->sns_cert_pem);
  if(!h->listen || (o->tls_cert_file && !h->tls_cert_file) ||
     (o->tls_key_file && !h->tls_key_file) ||
     (o->sns_cert_pem && !h->sns_cert_pem)) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(!h->tls_cert_file != !h->tls_key_file) {
    rc = CH_ERR_USAGE;
    *errmsg = strdup("tls_cert_file and tls_key_file go together");
    goto out;
  }
  if((rc = parse_listen(h->listen, &ss, &sslen, &v6, &loopback, errmsg)))
    goto out;
  h->metrics_auth = o->metrics_auth < 0 ? !loopback : o->metrics_auth != 0;
  if(h->tls_cert_file &&
     ((rc = read_pem(h->tls_cert_file, &h->cert_pem, errmsg)) ||
      (rc = read_pem(h->tls_key_file, &h->key_pem, errmsg))))
    goto out;
  bool ckpt_on = false;
  if((rc = ckpt_start(h, o->db_target, &ckpt_on, errmsg)) ||
     (rc = pool_open(&h->pool, o->db_target, h->threads, ckpt_on, errmsg)))
    goto out;
  if((rc = certhub_store_open(o->db_target, &h->writer, errmsg)) ||
     (ckpt_on && (rc = certhub_store_wal_external(h->writer, CKPT_FALLBACK))))
    goto out;

  if(listen_on(&ss, sslen, v6, &h->lfd, &h->port)) {
    rc = CH_ERR_IO;
    if(asprintf(errmsg, "cannot listen on %s: %s", h->listen,
                strerror(errno)) < 0)
      *errmsg = NULL;
    goto out;
  }
  /* one daemon per worker, fed by the accept thread (MHD_add_connection
   * needs the inter-thread channel, which NO_LISTEN_SOCKET turns on) */
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                   MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
  if(h->cert_pem)
    flags |= MHD_USE_TLS;
  struct MHD_OptionItem tls[] = {
      {MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert_pem},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, h->key_pem},
      {MHD_OPTION_END, 0, NULL},
  };
  if(!(h->w = calloc(h->threads, sizeof(*h->w)))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  for(; h->n_w < h->threads; h->n_w++) {
    http_worker *w = &h->w[h->n_w];
    w->h = h;
    w->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, w, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, w, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, w,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS, MHD_OPTION_ARRAY,
        h->cert_pem ? tls : &tls[2], MHD_OPTION_END);
    if(!w->d) {
      rc = CH_ERR_IO;
      if(asprintf(errmsg, "cannot start the API's worker %u on %s%s%s", h->n_w,
                  h->listen, h->cert_pem ? " with TLS" : "",
                  h->cert_pem ? " (bad TLS material?)" : "") < 0)
        *errmsg = NULL;
      goto out;
    }
  }
  if(pipe2(h->wake, O_CLOEXEC | O_NONBLOCK)) {
    h->wake[0] = h->wake[1] = -1;
    rc = CH_ERR_IO;
    goto out;
  }
  if(pthread_create(&h->acc, NULL, accept_main, h)) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  h->acc_started = true;
  pthread_setname_np(h->acc, "certhub-accept"); /* in top -H, ps -L */
  char host[INET6_ADDRSTRLEN] = "";
  if(v6)
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr, host,
              sizeof(host));
  else
    inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&ss)->sin_addr, host,
              sizeof(host));
  if(o->base_url)
    snprintf(h->url, sizeof(h->url), "%s", o->base_url);
  else
    snprintf(h->url, sizeof(h->url), "%s://%s%s%s:%u",
             h->cert_pem ? "https" : "http", v6 ? "[" : "", host,
             v6 ? "]" : "", h->port);
  size_t ul = strlen(h->url);
  while(ul > 1 && h->url[ul - 1] == '/')
    h->url[--ul] = '\0';
out:
  if(rc) {
    certhub_http_stop(h);
    return rc;
  }
  *out = h;
  return CH_OK;
}

const char *certhub_http_url(const certhub_http *h)
{
  return h ? h->url : "";
}

unsigned certhub_http_port(const certhub_http *h)
{
  return h ? h->port : 0;
}

static bool str_differs(const char *a, const char *b)
{
  return (!a != !b) || (a && strcmp(a, b));
}

bool certhub_http_differs(const certhub_http *h, const certhub_http_opts *o)
{
  const char *listen = o->listen ? o->listen : CERTHUB_HTTP_DEFAULT_LISTEN;
  unsigned threads = o->threads ? o->threads : CERTHUB_HTTP_DEFAULT_THREADS;
  size_t max_body = o->max_body ? o->max_body : CERTHUB_HTTP_DEFAULT_MAX_BODY;
  return strcmp(h->listen, listen) ||
         str_differs(h->tls_cert_file, o->tls_cert_file) ||
         str_differs(h->tls_key_file, o->tls_key_file) ||
         threads != h->threads || max_body != h->max_body ||
         str_differs(h->sns_cert_pem, o->sns_cert_pem);
}

void certhub_http_stop(certhub_http *h)
{
  if(!h)
    return;
  if(h->acc_started) {
    /* no connection is handed to a worker from here on */
    ssize_t n;
    do
      n = write(h->wake[1], "x", 1);
    while(n < 0 && errno == EINTR);
    pthread_join(h->acc, NULL);
  }
  if(h->lfd >= 0)
    close(h->lfd);
  for(int i = 0; i < 2; i++)
    if(h->wake[i] >= 0)
      close(h->wake[i]);
  for(unsigned i = 0; i < h->n_w; i++)
    MHD_stop_daemon(h->w[i].d); /* joins its thread: no request in flight */
  free(h->w);
  if(h->pool.all)
    pool_close(&h->pool);
  certhub_store_close(h->writer);
  ckpt_stop(h); /* after the daemon: no commit signals it any more */
  pthread_mutex_destroy(&h->write_mu);
  free(h->listen);
  free(h->tls_cert_file);
  free(h->tls_key_file);
  if(h->key_pem)
    memset(h->key_pem, 0, strlen(h->key_pem));
  free(h->cert_pem);
  free(h->key_pem);
  free(h->sns_cert_pem);
  free(h);
}
