/*
 * The probe loop: one thread, one epoll set, many non-blocking connections.
 *
 * Each target becomes one job per address to report (one, or every A/AAAA
 * address with all_addresses). A job goes DNS -> ready queue -> connect ->
 * STARTTLS dialect (optional) -> TLS engine -> result, then optionally two
 * more short connections for the legacy TLS 1.0/1.1 check. Limits: at most
 * `concurrency` connections open, at most `per_host` per address (jobs over
 * it wait in that host's queue), and every connection attempt has a
 * deadline. All timeouts are equal, so the list of open connections in
 * start order is also in deadline order and expiry is O(1) per connection.
 *
 * A connection's state (struct conn) is freed only after the epoll batch
 * that might still name it, so a stale event can never touch a reused job.
 */
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "certhub/time.h"
#include "probe_int.h"

#define MAX_ADDRS 16          /* addresses tried per job, in order */
#define READ_CHUNK 16384
#define STARTTLS_BUF_CAP (64u << 10)
#define OUT_CAP (256u << 10)
#define HOST_BUCKETS 4096

enum jstate { J_NEW, J_QUEUED, J_WAITING, J_OPEN, J_DONE };
enum cphase { C_CONNECTING, C_STARTTLS, C_TLS };

struct run;
struct job;

struct conn {
  struct job *job;
  int fd;
  enum cphase phase;
  bool dead;
  int64_t deadline;          /* monotonic ms */
  struct conn *prev, *next;  /* open list, in deadline order */
  struct conn *next_dead;
};

struct host {
  char key[INET6_ADDRSTRLEN + 8];
  unsigned active;
  struct job *wait_head, *wait_tail;
  struct host *next;         /* hash chain */
};

struct job {
  struct run *run;
  const certhub_target *t;
  struct sockaddr_storage addrs[MAX_ADDRS];
  socklen_t alens[MAX_ADDRS];
  size_t n_addrs, addr_i;
  char addrstr[INET6_ADDRSTRLEN + 8];
  struct host *host;
  enum jstate state;
  int legacy_phase;          /* 0 main handshake, 1 TLS 1.0, 2 TLS 1.1 */
  struct conn *c;
  struct job *qnext;         /* ready queue or host wait list */

  const ch_starttls_ops *st;
  void *st_state;
  ch_buf sbuf;               /* unconsumed STARTTLS bytes */
  const ch_tls_engine_ops *eng;
  void *eng_state;           /* main handshake: lives until delivery */
  void *leg_state;           /* current legacy check */
  ch_tls_info info, leg_info;
  ch_buf out;
  size_t out_off;
  size_t nread;

  ch_fail fail;
  bool failed;
  unsigned legacy_accepted;
  int64_t started;
  uint64_t t0, t_conn, t_tls, t_done; /* monotonic us */
};

struct run {
  const certhub_target *targets;
  size_t n_targets, next_target;
  const certhub_probe_opts *o;
  unsigned concurrency, per_host, timeout_ms;
  certhub_probe_cb cb;
  void *arg;
  int ep;
  struct ch_dns *dns;
  struct ch_verifier *ver;
  unsigned dns_pending;
  size_t jobs_live;          /* created and not yet delivered */
  struct job *ready_head, *ready_tail;
  unsigned open;
  struct conn *open_head, *open_tail;
  struct conn *dead;
  struct host *hosts[HOST_BUCKETS];
  uint8_t rbuf[READ_CHUNK];
};

static uint64_t mono_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int64_t mono_ms(void)
{
  return (int64_t)(mono_us() / 1000u);
}

/* ---- hosts (per-address limit) ---------------------------------------- */

static struct host *host_get(struct run *r, const char *key)
{
  uint32_t h = 2166136261u;
  for(const char *p = key; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  struct host **b = &r->hosts[h % HOST_BUCKETS];
  for(struct host *x = *b; x; x = x->next)
    if(!strcmp(x->key, key))
      return x;
  struct host *x = calloc(1, sizeof(*x));
  if(!x)
    return NULL;
  snprintf(x->key, sizeof(x->key), "%s", key);
  x->next = *b;
  *b = x;
  return x;
}

static void hosts_free(struct run *r)
{
  for(size_t i = 0; i < HOST_BUCKETS; i++)
    for(struct host *x = r->hosts[i], *n; x; x = n) {
      n = x->next;
      free(x);
    }
}

/* ---- queues ------------------------------------------------------------- */

static void ready_push(struct run *r, struct job *j, bool front)
{
  j->state = J_QUEUED;
  j->qnext = NULL;
  if(!r->ready_head) {
    r->ready_head = r->ready_tail = j;
    return;
  }
  if(front) {
    j->qnext = r->ready_head;
    r->ready_head = j;
  }
  else {
    r->ready_tail->qnext = j;
    r->ready_tail = j;
  }
}

static struct job *ready_pop(struct run *r)
{
  struct job *j = r->ready_head;
  if(j) {
    r->ready_head = j->qnext;
    if(!r->ready_head)
      r->ready_tail = NULL;
    j->qnext = NULL;
  }
  return j;
}

/* ---- addresses ---------------------------------------------------------- */

static void addr_text(const struct sockaddr_storage *ss, char *buf, size_t n)
{
  char ip[INET6_ADDRSTRLEN];
  if(ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const void *)ss;
    inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
    snprintf(buf, n, "[%s]:%u", ip, ntohs(s6->sin6_port));
  }
  else {
    const struct sockaddr_in *s4 = (const void *)ss;
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
    snprintf(buf, n, "%s:%u", ip, ntohs(s4->sin_port));
  }
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
  if(ss->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
  else
    ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

/* Literal address target: fill without DNS. */
static bool literal_addr(const certhub_target *t, struct sockaddr_storage *ss,
                         socklen_t *len)
{
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *s4 = (void *)ss;
  struct sockaddr_in6 *s6 = (void *)ss;
  if(inet_pton(AF_INET, t->host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    *len = sizeof(*s4);
  }
  else if(inet_pton(AF_INET6, t->host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    *len = sizeof(*s6);
  }
  else
    return false;
  set_port(ss, t->port);
  return true;
}

/* ---- results ------------------------------------------------------------ */

static void conn_close(struct run *r, struct job *j);

static void job_free(struct job *j)
{
  if(j->st_state) {
    free(j->st_state);
    j->st_state = NULL;
  }
  if(j->eng_state)
    j->eng->destroy(j->eng_state);
  if(j->leg_state)
    ch_tls_grab.destroy(j->leg_state);
  ch_buf_free(&j->sbuf);
  ch_buf_free(&j->out);
  free(j);
}

static void deliver(struct run *r, struct job *j)
{
  certhub_probe_result res;
  const bool ok = !j->failed;

  memset(&res, 0, sizeof(res));
  res.target = j->t;
  res.address = j->addrstr[0] ? j->addrstr : NULL;
  res.status = ok ? CERTHUB_PROBE_OK : j->fail.status;
  res.reason = ok ? "" : j->fail.reason;
  res.started = j->started;
  if(j->t_conn)
    res.connect_us = (uint32_t)(j->t_conn - j->t0);
  if(j->t_done && j->t_tls)
    res.handshake_us = (uint32_t)(j->t_done - j->t_tls);
  res.total_us = (uint32_t)((j->t_done ? j->t_done : mono_us()) - j->t0);
  res.tls_version_name = "";
  res.cipher = "";
  if(ok) {
    res.tls_version = j->info.version;
    res.tls_version_name = certhub_tls_version_name(j->info.version);
    res.cipher = j->info.cipher ? j->info.cipher : "";
    res.chain_n = j->info.chain_n;
    res.chain_sent = j->info.chain_sent > j->info.chain_n ? j->info.chain_sent
                                                           : j->info.chain_n;
    res.chain_der = (const uint8_t *const *)j->info.chain_der;
    res.chain_len = j->info.chain_len;
    res.ocsp_der = j->info.ocsp_der;
    res.ocsp_len = j->info.ocsp_len;
    res.legacy_accepted = j->legacy_accepted;
    if(res.chain_n > 0) {
      const char *name = j->t->sni ? j->t->sni : j->t->host;
      ch_err rc = ch_verifier_check(r->ver, res.chain_der, res.chain_len,
                                    res.chain_n, name, res.ocsp_der,
                                    res.ocsp_len, certhub_now(), &res.check);
      if(rc) {
        res.check.problems |= CERTHUB_CHAIN_OTHER;
        snprintf(res.check.verify_error, sizeof(res.check.verify_error),
                 "chain analysis failed: %s", certhub_strerror(rc));
      }
    }
  }
  r->cb(&res, r->arg);
  j->state = J_DONE;
  r->jobs_live--;
  job_free(j);
}

/* The job's current connection is over: free its slots, then either try
 * the next step (next address, next legacy check) or deliver. */
static void schedule(struct run *r);

static void release_slot(struct run *r, struct job *j)
{
  conn_close(r, j);
  if(j->host && j->host->active > 0) {
    j->host->active--;
    /* One waiting job of this host may go now, ahead of the queue. */
    struct job *w = j->host->wait_head;
    if(w) {
      j->host->wait_head = w->qnext;
      if(!j->host->wait_head)
        j->host->wait_tail = NULL;
      ready_push(r, w, true);
    }
  }
}

static void job_fail(struct run *r, struct job *j, certhub_probe_status st,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void finish_legacy(struct run *r, struct job *j, bool accepted);

static void job_fail(struct run *r, struct job *j, certhub_probe_status st,
                     const char *fmt, ...)
{
  va_list ap;
  if(j->legacy_phase) {
    /* A legacy check that fails just means: not accepted. */
    finish_legacy(r, j, false);
    return;
  }
  /* Format first: the arguments may point into j->fail itself. */
  char why[sizeof(j->fail.reason)];
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  j->failed = true;
  j->fail.status = st;
  memcpy(j->fail.reason, why, sizeof(why));
  j->t_done = mono_us();
  release_slot(r, j);
  deliver(r, j);
}

static void start_legacy_or_deliver(struct run *r, struct job *j)
{
  if(r->o->legacy_check && j->legacy_phase < 2) {
    j->legacy_phase++;
    ready_push(r, j, true);
    return;
  }
  deliver(r, j);
}

static void finish_legacy(struct run *r, struct job *j, bool accepted)
{
  if(accepted)
    j->legacy_accepted |= 1u << (j->legacy_phase - 1);
  if(j->leg_state) {
    ch_tls_grab.destroy(j->leg_state);
    j->leg_state = NULL;
  }
  release_slot(r, j);
  start_legacy_or_deliver(r, j);
}

/* ---- connections ---------------------------------------------------------- */

static void conn_close(struct run *r, struct job *j)
{
  struct conn *c = j->c;
  if(!c)
    return;
  if(c->fd >= 0) {
    /* Best effort: send what is queued (a closing alert), never block. */
    if(j->out.len > j->out_off)
      (void)send(c->fd, j->out.data + j->out_off, j->out.len - j->out_off,
                 MSG_NOSIGNAL | MSG_DONTWAIT);
    epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
  }
  if(c->prev)
    c->prev->next = c->next;
  else
    r->open_head = c->next;
  if(c->next)
    c->next->prev = c->prev;
  else
    r->open_tail = c->prev;
  c->dead = true;
  c->next_dead = r->dead;
  r->dead = c;
  r->open--;
  j->c = NULL;
  ch_buf_reset(&j->out);
  j->out_off = 0;
  ch_buf_reset(&j->sbuf);
}

static void want(struct run *r, struct job *j)
{
  struct epoll_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.data.ptr = j->c;
  ev.events = EPOLLIN;
  if(j->c->phase == C_CONNECTING || j->out.len > j->out_off)
    ev.events |= EPOLLOUT;
  epoll_ctl(r->ep, EPOLL_CTL_MOD, j->c->fd, &ev);
}

/* Send queued bytes; false when the connection failed (job finished). */
static bool flush(struct run *r, struct job *j)
{
  while(j->out.len > j->out_off) {
    ssize_t w = send(j->c->fd, j->out.data + j->out_off,
                     j->out.len - j->out_off, MSG_NOSIGNAL);
    if(w < 0) {
      if(errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      if(errno == EINTR)
        continue;
      job_fail(r, j, CERTHUB_PROBE_PROTOCOL,
               "sending to the server failed: %s", strerror(errno));
      return false;
    }
    j->out_off += (size_t)w;
  }
  if(j->out_off == j->out.len) {
    ch_buf_reset(&j->out);
    j->out_off = 0;
  }
  want(r, j);
  return true;
}

static void try_next_address(struct run *r, struct job *j, int err);

static void start_conn(struct run *r, struct job *j)
{
  struct conn *c = calloc(1, sizeof(*c));
  const struct sockaddr_storage *ss = &j->addrs[j->addr_i];
  int fd;

  if(!c) {
    job_fail(r, j, CERTHUB_PROBE_ERROR, "out of memory");
    return;
  }
  c->job = j;
  c->fd = -1;
  c->phase = C_CONNECTING;
  c->deadline = mono_ms() + r->timeout_ms;
  c->prev = r->open_tail;
  if(r->open_tail)
    r->open_tail->next = c;
  else
    r->open_head = c;
  r->open_tail = c;
  r->open++;
  j->c = c;
  j->state = J_OPEN;
  j->host->active++;
  if(!j->legacy_phase) {
    j->t0 = mono_us();
    j->started = certhub_now();
  }
  j->nread = 0;

  fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if(fd < 0) {
    job_fail(r, j, CERTHUB_PROBE_ERROR, "cannot open a socket: %s",
             strerror(errno));
    return;
  }
  c->fd = fd;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  struct epoll_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.data.ptr = c;
  ev.events = EPOLLOUT;
  if(epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    job_fail(r, j, CERTHUB_PROBE_ERROR, "epoll: %s", strerror(errno));
    return;
  }
  if(connect(fd, (const struct sockaddr *)ss, j->alens[j->addr_i]) != 0 &&
     errno != EINPROGRESS)
    try_next_address(r, j, errno);
}

static void schedule(struct run *r)
{
  while(r->open < r->concurrency && r->ready_head) {
    struct job *j = ready_pop(r);
    if(j->host->active >= r->per_host) {
      j->state = J_WAITING;
      if(j->host->wait_tail)
        j->host->wait_tail->qnext = j;
      else
        j->host->wait_head = j;
      j->host->wait_tail = j;
      continue;
    }
    start_conn(r, j);
  }
}

static void try_next_address(struct run *r, struct job *j, int err)
{
  certhub_probe_status st = CERTHUB_PROBE_REFUSED;
  const char *what;
  if(j->legacy_phase) {
    finish_legacy(r, j, false);
    return;
  }
  if(!j->t->all_addresses && j->addr_i + 1 < j->n_addrs) {
    release_slot(r, j);
    j->addr_i++;
    addr_text(&j->addrs[j->addr_i], j->addrstr, sizeof(j->addrstr));
    struct host *h = host_get(r, j->addrstr);
    if(!h) {
      job_fail(r, j, CERTHUB_PROBE_ERROR, "out of memory");
      return;
    }
    j->host = h;
    ready_push(r, j, true);
    return;
  }
  switch(err) {
  case ECONNREFUSED: what = "connection refused"; break;
  case ENETUNREACH: what = "network unreachable"; break;
  case EHOSTUNREACH: what = "host unreachable"; break;
  case ETIMEDOUT: what = "connection timed out"; st = CERTHUB_PROBE_TIMEOUT; break;
  case EADDRNOTAVAIL: what = "address not available"; break;
  default: what = strerror(err); st = CERTHUB_PROBE_ERROR; break;
  }
  job_fail(r, j, st, "%s", what);
}

static ch_err begin_tls(struct run *r, struct job *j)
{
  ch_tls_params p;
  memset(&p, 0, sizeof(p));
  p.sni = j->t->sni;
  p.max_chain = r->o->max_chain ? r->o->max_chain : 128;
  p.max_bytes = r->o->max_bytes ? r->o->max_bytes : (1u << 20);
  p.client_cert = r->o->client_cert;
  p.client_key = r->o->client_key;
  j->c->phase = C_TLS;
  j->t_tls = mono_us();
  if(j->legacy_phase) {
    /* Offer only the one old version: a ServerHello with it = accepted. */
    p.max_version = p.min_version = (uint16_t)(0x0300 + j->legacy_phase);
    p.client_cert = p.client_key = NULL;
    return ch_tls_grab.create(&p, &j->leg_state, &j->out, &j->fail);
  }
  return j->eng->create(&p, &j->eng_state, &j->out, &j->fail);
}

static void tls_input(struct run *r, struct job *j, const uint8_t *in,
                      size_t n)
{
  ch_step s;
  if(j->legacy_phase) {
    memset(&j->leg_info, 0, sizeof(j->leg_info));
    s = ch_tls_grab.input(j->leg_state, in, n, &j->out, &j->leg_info,
                          &j->fail);
    if(s == CH_STEP_DONE)
      finish_legacy(r, j,
                    j->leg_info.version == 0x0300 + j->legacy_phase);
    else if(s == CH_STEP_FAIL)
      finish_legacy(r, j, false);
    else
      flush(r, j);
    return;
  }
  s = j->eng->input(j->eng_state, in, n, &j->out, &j->info, &j->fail);
  if(s == CH_STEP_MORE) {
    flush(r, j);
    return;
  }
  j->t_done = mono_us();
  if(s == CH_STEP_FAIL) {
    j->failed = true;
    release_slot(r, j);
    deliver(r, j);
    return;
  }
  release_slot(r, j);
  start_legacy_or_deliver(r, j);
}

static void on_connected(struct run *r, struct job *j)
{
  ch_err rc;
  if(!j->legacy_phase)
    j->t_conn = mono_us();
  if(j->st) {
    if(!j->st_state) {
      j->st_state = calloc(1, j->st->state_size ? j->st->state_size : 1);
      if(!j->st_state) {
        job_fail(r, j, CERTHUB_PROBE_ERROR, "out of memory");
        return;
      }
    }
    else
      memset(j->st_state, 0, j->st->state_size ? j->st->state_size : 1);
    j->c->phase = C_STARTTLS;
    const char *name = j->t->sni ? j->t->sni : j->t->host;
    if(j->st->start(j->st_state, name, &j->out, &j->fail) == CH_STEP_FAIL) {
      job_fail(r, j, j->fail.status, "%s", j->fail.reason);
      return;
    }
    flush(r, j);
    return;
  }
  rc = begin_tls(r, j);
  if(rc) {
    job_fail(r, j, CERTHUB_PROBE_ERROR, "%s",
             j->fail.reason[0] ? j->fail.reason : certhub_strerror(rc));
    return;
  }
  flush(r, j);
}

static void starttls_input(struct run *r, struct job *j, const uint8_t *in,
                           size_t n)
{
  size_t used = 0;
  if(ch_buf_add(&j->sbuf, in, n)) {
    ch_buf_init(&j->sbuf, STARTTLS_BUF_CAP);
    job_fail(r, j, CERTHUB_PROBE_PROTOCOL,
             "%s: the server sent more than %u bytes before STARTTLS",
             j->st->name, STARTTLS_BUF_CAP);
    return;
  }
  ch_step s = j->st->input(j->st_state, (const uint8_t *)j->sbuf.data,
                           j->sbuf.len, &used, &j->out, &j->fail);
  if(used > j->sbuf.len)
    used = j->sbuf.len;
  if(s == CH_STEP_FAIL) {
    job_fail(r, j, j->fail.status, "%s", j->fail.reason);
    return;
  }
  /* Keep what the dialect did not consume. */
  size_t rest = j->sbuf.len - used;
  if(used) {
    memmove(j->sbuf.data, j->sbuf.data + used, rest);
    j->sbuf.len = rest;
  }
  if(s == CH_STEP_MORE) {
    flush(r, j);
    return;
  }
  if(!flush(r, j))
    return;
  ch_err rc = begin_tls(r, j);
  if(rc) {
    job_fail(r, j, CERTHUB_PROBE_ERROR, "%s",
             j->fail.reason[0] ? j->fail.reason : certhub_strerror(rc));
    return;
  }
  if(!flush(r, j))
    return;
  if(rest) {
    /* Bytes after the dialect's last reply belong to TLS. */
    uint8_t *copy = malloc(rest);
    if(!copy) {
      job_fail(r, j, CERTHUB_PROBE_ERROR, "out of memory");
      return;
    }
    memcpy(copy, j->sbuf.data, rest);
    ch_buf_reset(&j->sbuf);
    tls_input(r, j, copy, rest);
    free(copy);
  }
}

static const char *phase_name(const struct job *j)
{
  if(!j->c || j->c->phase == C_CONNECTING)
    return "while connecting";
  if(j->c->phase == C_STARTTLS)
    return "during STARTTLS";
  return "during the TLS handshake";
}

static void on_readable(struct run *r, struct job *j)
{
  ssize_t n = recv(j->c->fd, r->rbuf, sizeof(r->rbuf), 0);
  if(n < 0) {
    if(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
      return;
    if(errno == ECONNRESET)
      job_fail(r, j, CERTHUB_PROBE_PROTOCOL,
               "the server reset the connection %s", phase_name(j));
    else
      job_fail(r, j, CERTHUB_PROBE_PROTOCOL, "reading failed %s: %s",
               phase_name(j), strerror(errno));
    return;
  }
  if(n == 0) {
    job_fail(r, j, CERTHUB_PROBE_PROTOCOL,
             "the server closed the connection %s%s", phase_name(j),
             j->nread == 0 ? " without sending anything" : "");
    return;
  }
  j->nread += (size_t)n;
  size_t cap = r->o->max_bytes ? r->o->max_bytes : (1u << 20);
  if(j->nread > cap) {
    job_fail(r, j, CERTHUB_PROBE_PROTOCOL,
             "the server sent more than %zu bytes %s", cap, phase_name(j));
    return;
  }
  if(j->c->phase == C_STARTTLS)
    starttls_input(r, j, r->rbuf, (size_t)n);
  else
    tls_input(r, j, r->rbuf, (size_t)n);
}

static void on_event(struct run *r, struct conn *c, uint32_t events)
{
  struct job *j = c->job;
  if(c->dead || j->c != c)
    return;
  if(c->phase == C_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof(err);
    if(!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
      return;
    if(getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
    if(err) {
      try_next_address(r, j, err);
      return;
    }
    on_connected(r, j);
    return;
  }
  if(events & EPOLLOUT) {
    if(!flush(r, j))
      return;
  }
  if(events & (EPOLLIN | EPOLLERR | EPOLLHUP))
    on_readable(r, j);
}

static void expire(struct run *r)
{
  int64_t now = mono_ms();
  while(r->open_head && r->open_head->deadline <= now) {
    struct job *j = r->open_head->job;
    job_fail(r, j, CERTHUB_PROBE_TIMEOUT, "no answer within %u ms %s",
             r->timeout_ms, phase_name(j));
  }
}

/* ---- DNS and job creation ------------------------------------------------- */

static struct job *job_new(struct run *r, const certhub_target *t)
{
  struct job *j = calloc(1, sizeof(*j));
  if(!j)
    return NULL;
  j->run = r;
  j->t = t;
  j->st = t->starttls ? ch_starttls_find(t->starttls) : NULL;
  j->eng = (r->o->client_cert && *r->o->client_cert) ? &ch_tls_openssl
                                                     : &ch_tls_grab;
  ch_buf_init(&j->out, OUT_CAP);
  ch_buf_init(&j->sbuf, STARTTLS_BUF_CAP);
  r->jobs_live++;
  return j;
}

/* Deliver a failure for a target that never got an address. */
static void deliver_early(struct run *r, const certhub_target *t,
                          certhub_probe_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void deliver_early(struct run *r, const certhub_target *t,
                          certhub_probe_status st, const char *fmt, ...)
{
  va_list ap;
  struct job *j = job_new(r, t);
  if(!j) {
    certhub_probe_result res;
    memset(&res, 0, sizeof(res));
    res.target = t;
    res.status = CERTHUB_PROBE_ERROR;
    res.reason = "out of memory";
    res.tls_version_name = res.cipher = "";
    r->cb(&res, r->arg);
    return;
  }
  j->t0 = mono_us();
  j->started = certhub_now();
  j->failed = true;
  j->fail.status = st;
  va_start(ap, fmt);
  vsnprintf(j->fail.reason, sizeof(j->fail.reason), fmt, ap);
  va_end(ap);
  j->t_done = mono_us();
  deliver(r, j);
}

static bool job_ready(struct run *r, struct job *j)
{
  addr_text(&j->addrs[0], j->addrstr, sizeof(j->addrstr));
  j->host = host_get(r, j->addrstr);
  if(!j->host)
    return false;
  ready_push(r, j, false);
  return true;
}

struct lookup {
  struct run *r;
  const certhub_target *t;
};

static void resolved(void *arg, int status, const char *errtext,
                     struct ares_addrinfo *ai)
{
  struct lookup *l = arg;
  struct run *r = l->r;
  const certhub_target *t = l->t;
  struct job *j = NULL;

  free(l);
  r->dns_pending--;
  if(status != ARES_SUCCESS || !ai) {
    deliver_early(r, t, CERTHUB_PROBE_DNS, "cannot resolve %s: %s", t->host,
                  errtext);
    return;
  }
  for(struct ares_addrinfo_node *n = ai->nodes; n; n = n->ai_next) {
    if(n->ai_family != AF_INET && n->ai_family != AF_INET6)
      continue;
    if((size_t)n->ai_addrlen > sizeof(struct sockaddr_storage))
      continue;
    if(!j) {
      j = job_new(r, t);
      if(!j)
        break;
    }
    if(j->n_addrs < MAX_ADDRS) {
      memcpy(&j->addrs[j->n_addrs], n->ai_addr, n->ai_addrlen);
      j->alens[j->n_addrs] = (socklen_t)n->ai_addrlen;
      set_port(&j->addrs[j->n_addrs], t->port);
      j->n_addrs++;
    }
    if(t->all_addresses) {
      if(!job_ready(r, j)) {
        job_free(j);
        r->jobs_live--;
      }
      j = NULL;
    }
  }
  ares_freeaddrinfo(ai);
  if(j && !job_ready(r, j)) {
    job_free(j);
    r->jobs_live--;
  }
}

/* Start DNS for more targets while the pipeline has room: memory stays
 * bounded by the concurrency, not by the number of targets. */
static void feed(struct run *r)
{
  size_t room = (size_t)r->concurrency * 2;
  while(r->next_target < r->n_targets && r->jobs_live + r->dns_pending < room) {
    const certhub_target *t = &r->targets[r->next_target++];
    struct sockaddr_storage ss;
    socklen_t len;
    if(literal_addr(t, &ss, &len)) {
      struct job *j = job_new(r, t);
      if(!j) {
        deliver_early(r, t, CERTHUB_PROBE_ERROR, "out of memory");
        continue;
      }
      j->addrs[0] = ss;
      j->alens[0] = len;
      j->n_addrs = 1;
      if(!job_ready(r, j)) {
        job_free(j);
        r->jobs_live--;
        deliver_early(r, t, CERTHUB_PROBE_ERROR, "out of memory");
      }
      continue;
    }
    struct lookup *l = malloc(sizeof(*l));
    if(!l) {
      deliver_early(r, t, CERTHUB_PROBE_ERROR, "out of memory");
      continue;
    }
    l->r = r;
    l->t = t;
    r->dns_pending++;
    ch_dns_resolve(r->dns, t->host, resolved, l);
  }
}

static void reap(struct run *r)
{
  while(r->dead) {
    struct conn *c = r->dead;
    r->dead = c->next_dead;
    free(c);
  }
}

/* Raise the open-file limit to its hard maximum and keep the concurrency
 * below it, so a big --concurrency does not turn into EMFILE results. */
static unsigned fd_budget(unsigned want_conns)
{
  struct rlimit rl;
  if(getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return want_conns;
  if(rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if(rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want_conns + 64)
    return rl.rlim_cur > 80 ? (unsigned)(rl.rlim_cur - 64) : 16;
  return want_conns;
}

ch_err certhub_probe_run(const certhub_target *targets, size_t n,
                         const certhub_probe_opts *opts, certhub_probe_cb cb,
                         void *arg, char **errmsg)
{
  ch_err rc = CH_OK;
  struct run *r = calloc(1, sizeof(*r));
  struct epoll_event evs[256];

  if(errmsg)
    *errmsg = NULL;
  if(!r)
    return CH_ERR_NOMEM;
  r->targets = targets;
  r->n_targets = n;
  r->o = opts;
  r->cb = cb;
  r->arg = arg;
  r->concurrency = fd_budget(opts->concurrency ? opts->concurrency : 256);
  r->per_host = opts->per_host ? opts->per_host : 16;
  r->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 10000;
  r->ep = epoll_create1(EPOLL_CLOEXEC);
  if(r->ep < 0) {
    rc = CH_ERR_IO;
    goto out;
  }
  rc = ch_verifier_new(opts->ca_file, opts->intermediates, &r->ver, errmsg);
  if(!rc)
    rc = ch_verifier_set_cache(r->ver, opts, errmsg);
  if(rc)
    goto out;
  for(size_t i = 0; i < n; i++)
    if(targets[i].starttls && !ch_starttls_find(targets[i].starttls)) {
      if(errmsg && asprintf(errmsg, "'%s': unknown STARTTLS protocol '%s'",
                            targets[i].spec, targets[i].starttls) < 0)
        *errmsg = NULL;
      rc = CH_ERR_USAGE;
      goto out;
    }
  rc = ch_dns_new(r->ep, r->timeout_ms, &r->dns, errmsg);
  if(rc)
    goto out;

  for(;;) {
    feed(r);
    schedule(r);
    if(r->next_target >= r->n_targets && r->jobs_live == 0 &&
       r->dns_pending == 0)
      break;
    int wait = -1;
    if(r->open_head) {
      int64_t d = r->open_head->deadline - mono_ms();
      wait = d < 0 ? 0 : (int)d;
    }
    int dw = ch_dns_tick(r->dns);
    if(dw >= 0 && (wait < 0 || dw < wait))
      wait = dw;
    if(wait < 0)
      wait = 1000; /* nothing pending should be rare: re-check soon */
    int k = epoll_wait(r->ep, evs, (int)CH_ARRAY_LEN(evs), wait);
    if(k < 0 && errno != EINTR) {
      rc = CH_ERR_IO;
      goto out;
    }
    for(int i = 0; i < k; i++) {
      if(evs[i].data.u64 & CH_DNS_EPOLL_TAG)
        ch_dns_on_event(r->dns, (int)(evs[i].data.u64 & 0x7fffffff),
                        evs[i].events);
      else
        on_event(r, evs[i].data.ptr, evs[i].events);
    }
    expire(r);
    reap(r);
  }
out:
  if(r->dns)
    ch_dns_free(r->dns);
  reap(r);
  ch_verifier_free(r->ver);
  if(r->ep >= 0)
    close(r->ep);
  hosts_free(r);
  free(r);
  return rc;
}
