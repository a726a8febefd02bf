/*
 * A keep-alive HTTP/1.1 receiver for the delivery benchmark: one thread,
 * epoll, answers every request "200 OK" as soon as its body is in.
 * Python's http.server tops out near a thousand requests a second, far
 * below what is measured, hence C.
 *
 *   bench_notify_recv PORT     prints the request count on SIGTERM/SIGINT
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_CAP (1 << 20)

typedef struct conn {
  int fd;
  char *buf;
  size_t len;
} conn;

static volatile sig_atomic_t stop;
static void on_sig(int s)
{
  (void)s;
  stop = 1;
}

/* Bytes of one whole request at the start of c->buf, 0 if incomplete. */
static size_t request_len(const conn *c)
{
  char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
  if(!end)
    return 0;
  size_t head = (size_t)(end - c->buf) + 4;
  size_t body = 0;
  for(char *p = c->buf; p < end; p++) {
    if((p == c->buf || p[-1] == '\n') &&
       !strncasecmp(p, "content-length:", 15)) {
      body = strtoul(p + 15, NULL, 10);
      break;
    }
  }
  return c->len >= head + body ? head + body : 0;
}

int main(int argc, char **argv)
{
  static const char ok[] =
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n";
  unsigned long long n = 0;
  if(argc != 2) {
    fprintf(stderr, "usage: bench_notify_recv PORT\n");
    return 2;
  }
  signal(SIGTERM, on_sig);
  signal(SIGINT, on_sig);
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)atoi(argv[1])),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if(bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1024)) {
    perror("bind/listen");
    return 1;
  }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  printf("ready\n");
  fflush(stdout);
  struct epoll_event evs[256];
  while(!stop) {
    int k = epoll_wait(ep, evs, 256, 200);
    for(int i = 0; i < k; i++) {
      conn *c = evs[i].data.ptr;
      if(!c) {
        int fd;
        while((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          c = calloc(1, sizeof(*c));
          c->fd = fd;
          c->buf = malloc(BUF_CAP);
          struct epoll_event ce = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
        }
        continue;
      }
      for(;;) {
        ssize_t r = read(c->fd, c->buf + c->len, BUF_CAP - c->len);
        if(r > 0) {
          c->len += (size_t)r;
          size_t q;
          while((q = request_len(c))) {
            n++;
            if(write(c->fd, ok, sizeof(ok) - 1) < 0)
              break;
            memmove(c->buf, c->buf + q, c->len - q);
            c->len -= q;
          }
          if(c->len == BUF_CAP)
            r = 0; /* a request larger than the buffer: drop it */
          else
            continue;
        }
        if(r == 0 || (errno != EAGAIN && errno != EINTR)) {
          close(c->fd);
          free(c->buf);
          free(c);
        }
        break;
      }
    }
  }
  printf("%llu\n", n);
  return 0;
}
