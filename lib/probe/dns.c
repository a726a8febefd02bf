/*
 * Asynchronous name resolution with c-ares, on the probe loop's epoll.
 *
 * c-ares tells us which sockets to watch through its socket-state callback;
 * we add them to the loop's epoll set tagged CH_DNS_EPOLL_TAG and hand
 * readiness back with ares_process_fd(). Names in the reserved .invalid
 * domain fail at once (RFC 6761) instead of waiting for a server.
 */
#include <ares.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "probe_int.h"

struct ch_dns {
  ares_channel ch;
  int epfd;
};

struct lookup {
  ch_dns_cb cb;
  void *arg;
};

static void sock_state(void *data, ares_socket_t fd, int readable,
                       int writable)
{
  struct ch_dns *d = data;
  struct epoll_event ev;
  memset(&ev, 0, sizeof(ev));
  ev.data.u64 = CH_DNS_EPOLL_TAG | (uint64_t)(unsigned)fd;
  ev.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
  if(!readable && !writable) {
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, &ev);
    return;
  }
  if(epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
    epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

ch_err ch_dns_new(int epfd, unsigned timeout_ms, struct ch_dns **out,
                  char **errmsg)
{
  struct ares_options o;
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  struct ch_dns *d = calloc(1, sizeof(*d));
  int st;

  *out = NULL;
  if(!d)
    return CH_ERR_NOMEM;
  st = ares_library_init(ARES_LIB_INIT_ALL);
  if(st != ARES_SUCCESS) {
    free(d);
    if(errmsg && asprintf(errmsg, "c-ares: %s", ares_strerror(st)) < 0)
      *errmsg = NULL;
    return CH_ERR_INTERNAL;
  }
  memset(&o, 0, sizeof(o));
  d->epfd = epfd;
  o.sock_state_cb = sock_state;
  o.sock_state_cb_data = d;
  /* Two tries per server within the probe's own timeout. */
  o.timeout = (int)(timeout_ms / 4 ? timeout_ms / 4 : 1);
  o.tries = 2;
  st = ares_init_options(&d->ch, &o, mask);
  if(st != ARES_SUCCESS) {
    ares_library_cleanup();
    free(d);
    if(errmsg &&
       asprintf(errmsg, "cannot start the resolver: %s", ares_strerror(st)) < 0)
      *errmsg = NULL;
    return CH_ERR_CONFIG;
  }
  *out = d;
  return CH_OK;
}

void ch_dns_free(struct ch_dns *d)
{
  if(!d)
    return;
  ares_destroy(d->ch); /* runs pending callbacks with ARES_EDESTRUCTION */
  ares_library_cleanup();
  free(d);
}

static const char *why(int status)
{
  switch(status) {
  case ARES_ENOTFOUND: return "no such host";
  case ARES_ENODATA: return "the name has no A or AAAA record";
  case ARES_ETIMEOUT: return "lookup timed out";
  case ARES_ECONNREFUSED: return "the DNS server refused the query";
  case ARES_ESERVFAIL: return "the DNS server failed (SERVFAIL)";
  case ARES_EREFUSED: return "the DNS server refused the query";
  case ARES_ECANCELLED:
  case ARES_EDESTRUCTION: return "lookup cancelled";
  default: return ares_strerror(status);
  }
}

static void done(void *arg, int status, int timeouts,
                 struct ares_addrinfo *ai)
{
  struct lookup *l = arg;
  (void)timeouts;
  if(status == ARES_SUCCESS && (!ai || !ai->nodes)) {
    if(ai)
      ares_freeaddrinfo(ai);
    ai = NULL;
    status = ARES_ENODATA;
  }
  if(status != ARES_SUCCESS && ai) {
    ares_freeaddrinfo(ai);
    ai = NULL;
  }
  l->cb(l->arg, status, status == ARES_SUCCESS ? "" : why(status), ai);
  free(l);
}

static bool reserved_invalid(const char *name)
{
  size_t n = strlen(name);
  if(n && name[n - 1] == '.')
    n--;
  return (n == 7 && !strncasecmp(name, "invalid", 7)) ||
         (n > 8 && !strncasecmp(name + n - 8, ".invalid", 8));
}

void ch_dns_resolve(struct ch_dns *d, const char *name, ch_dns_cb cb,
                    void *arg)
{
  struct ares_addrinfo_hints h;
  struct lookup *l;

  if(reserved_invalid(name)) {
    cb(arg, ARES_ENOTFOUND, "no such host (.invalid is reserved, RFC 6761)",
       NULL);
    return;
  }
  l = malloc(sizeof(*l));
  if(!l) {
    cb(arg, ARES_ENOMEM, "out of memory", NULL);
    return;
  }
  l->cb = cb;
  l->arg = arg;
  memset(&h, 0, sizeof(h));
  h.ai_family = AF_UNSPEC;
  h.ai_socktype = SOCK_STREAM;
  ares_getaddrinfo(d->ch, name, NULL, &h, done, l);
}

void ch_dns_on_event(struct ch_dns *d, int fd, uint32_t events)
{
  ares_socket_t r = ARES_SOCKET_BAD, w = ARES_SOCKET_BAD;
  if(events & (EPOLLIN | EPOLLERR | EPOLLHUP))
    r = fd;
  if(events & EPOLLOUT)
    w = fd;
  ares_process_fd(d->ch, r, w);
}

int ch_dns_tick(struct ch_dns *d)
{
  struct timeval tv, *t;
  ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  t = ares_timeout(d->ch, NULL, &tv);
  if(!t)
    return -1;
  return (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
}
