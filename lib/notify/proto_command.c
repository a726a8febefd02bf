/*
 * The command protocol: runs the endpoint (an absolute path to an
 * executable, no shell) with the SNS message JSON on stdin (the bare
 * message with RawMessageDelivery), as the bus's command target does.
 * Exit 0 delivers; a program that cannot be started is a permanent
 * failure; any other end (exit status, signal, timeout) is retried.
 *
 * Asynchronous: spawn() starts the child (posix_spawn, its own process
 * group, default signal dispositions, an empty mask) and returns; the
 * engine polls the child's stdin/stdout/stderr pipes and its pidfd next
 * to its curl transfers and calls advance(). So a program that hangs or
 * floods its output holds up no other delivery. After the timeout the
 * whole group gets SIGTERM, then SIGKILL after GRACE_MS; when the program
 * exits, descendants left in its group are killed too.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certhub/notify.h"
#include "core/core.h"
#include "notify_int.h"
#include "proto.h"

#define OUTPUT_CAP 4096          /* bytes of stdout and of stderr kept */
#define READ_BUDGET (256 * 1024) /* bytes read per pipe per advance() */
#define GRACE_MS 1000            /* SIGTERM -> SIGKILL */
#define DRAIN_MS 1000 /* after exit: wait for descendants holding a pipe */
#define DEFAULT_TIMEOUT_MS 15000

extern char **environ;

typedef struct cmd_run {
  pid_t pid; /* > 0 while not reaped */
  int fin, fout, ferr, pidfd;
  ch_buf body; /* the message for stdin */
  size_t off;
  int64_t timeout_ms, start, deadline, kill_at, drain_until;
  bool reaped, timed_out, exited, stdin_short;
  int exit_status, term_signal, exec_errno;
  char out[OUTPUT_CAP], err[OUTPUT_CAP];
  size_t out_len, err_len;
  bool out_trunc, err_trunc;
  const char *setup_failed; /* non-NULL: never started, why */
} cmd_run;

static int64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
  if(*fd >= 0) {
    close(*fd);
    *fd = -1;
  }
}

static ch_err command_check(const char *endpoint, char *why, size_t whylen)
{
  if(endpoint[0] != '/') {
    snprintf(why, whylen,
             "the endpoint must be an absolute path to a "
             "program");
    return CH_ERR_USAGE;
  }
  return CH_OK;
}

/* Our environment with the CERTHUB_SNS_* names replaced by extra. */
static char **child_env(char *const *extra, size_t nx)
{
  size_t ne = 0, k = 0;
  while(environ && environ[ne])
    ne++;
  char **envp = calloc(ne + nx + 1, sizeof(*envp));
  if(!envp)
    return NULL;
  for(size_t i = 0; i < ne; i++)
    if(strncmp(environ[i], "CERTHUB_SNS_", 12))
      envp[k++] = environ[i];
  for(size_t j = 0; j < nx; j++)
    envp[k++] = extra[j];
  return envp;
}

static void set_nonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  if(fl >= 0)
    (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static ch_err command_spawn(const ch_notify_env *env, const ch_notify_sub *sub,
                            const ch_notify_msg *m, void **state)
{
  char e_type[64], e_id[64], e_topic[700], e_sub[800];
  int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
  char **envp = NULL;
  bool fa_ok = false, at_ok = false;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  cmd_run *c = calloc(1, sizeof(*c));
  *state = c;
  if(!c)
    return CH_ERR_NOMEM;
  c->fin = c->fout = c->ferr = c->pidfd = -1;
  c->timeout_ms = env->timeout_ms > 0 ? env->timeout_ms : DEFAULT_TIMEOUT_MS;
  ch_buf_init(&c->body, (size_t)CERTHUB_MESSAGE_MAX * 2 + 16384);
  if(ch_notify_sns_body(env, sub, m, true, &c->body, NULL)) {
    c->setup_failed = "cannot build the message";
    return CH_OK;
  }
  snprintf(e_type, sizeof(e_type), "CERTHUB_SNS_MESSAGE_TYPE=%s", m->type);
  snprintf(e_id, sizeof(e_id), "CERTHUB_SNS_MESSAGE_ID=%s", m->message_id);
  snprintf(e_topic, sizeof(e_topic), "CERTHUB_SNS_TOPIC_ARN=%s", m->topic_arn);
  snprintf(e_sub, sizeof(e_sub), "CERTHUB_SNS_SUBSCRIPTION_ARN=%s", sub->arn);
  char *extra[] = {e_type, e_id, e_topic, e_sub};
  char *argv[] = {(char *)sub->endpoint, NULL};
  if(!(envp = child_env(extra, 4))) {
    c->setup_failed = "out of memory";
    goto out;
  }
  /* CLOEXEC everywhere: only the dup2'd ends reach the program. */
  if(pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) ||
     pipe2(perr, O_CLOEXEC)) {
    c->setup_failed = "cannot make pipes";
    goto out;
  }
  sigset_t all, none;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  sigemptyset(&none);
  if(posix_spawn_file_actions_init(&fa) || !(fa_ok = true) ||
     posix_spawnattr_init(&at) || !(at_ok = true) ||
     posix_spawn_file_actions_adddup2(&fa, pin[0], 0) ||
     posix_spawn_file_actions_adddup2(&fa, pout[1], 1) ||
     posix_spawn_file_actions_adddup2(&fa, perr[1], 2) ||
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
     /* Descriptors opened without O_CLOEXEC must not leak either. */
     posix_spawn_file_actions_addclosefrom_np(&fa, 3) ||
#endif
     posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                                       POSIX_SPAWN_SETSIGDEF |
                                       POSIX_SPAWN_SETSIGMASK) ||
     posix_spawnattr_setpgroup(&at, 0) ||
     posix_spawnattr_setsigdefault(&at, &all) ||
     posix_spawnattr_setsigmask(&at, &none)) {
    c->setup_failed = "cannot set up the child";
    goto out;
  }
  c->start = mono_ms();
  pid_t pid;
  int err = posix_spawn(&pid, sub->endpoint, &fa, &at, argv, envp);
  if(err) { /* glibc reports a failed exec here */
    c->exec_errno = err;
    goto out;
  }
  c->pid = pid;
  c->deadline = c->start + c->timeout_ms;
  c->kill_at = c->drain_until = INT64_MAX;
#ifdef SYS_pidfd_open
  c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if(c->pidfd >= 0)
    (void)fcntl(c->pidfd, F_SETFD, FD_CLOEXEC);
#endif
  c->fin = pin[1];
  c->fout = pout[0];
  c->ferr = perr[0];
  pin[1] = pout[0] = perr[0] = -1;
  set_nonblock(c->fin);
  set_nonblock(c->fout);
  set_nonblock(c->ferr);
  if(!c->body.len)
    close_fd(&c->fin);
out:
  if(fa_ok)
    posix_spawn_file_actions_destroy(&fa);
  if(at_ok)
    posix_spawnattr_destroy(&at);
  close_fd(&pin[0]);
  close_fd(&pin[1]);
  close_fd(&pout[0]);
  close_fd(&pout[1]);
  close_fd(&perr[0]);
  close_fd(&perr[1]);
  free(envp);
  return CH_OK;
}

static unsigned command_wait_fds(void *state, struct curl_waitfd *fds,
                                 unsigned max, int *wait_ms)
{
  cmd_run *c = state;
  unsigned n = 0;
  int64_t wake = INT64_MAX, now = mono_ms();
  if(c->setup_failed || c->exec_errno) { /* done at once */
    *wait_ms = 0;
    return 0;
  }
  if(c->fin >= 0 && n < max)
    fds[n++] = (struct curl_waitfd){.fd = c->fin, .events = CURL_WAIT_POLLOUT};
  if(c->fout >= 0 && n < max)
    fds[n++] = (struct curl_waitfd){.fd = c->fout, .events = CURL_WAIT_POLLIN};
  if(c->ferr >= 0 && n < max)
    fds[n++] = (struct curl_waitfd){.fd = c->ferr, .events = CURL_WAIT_POLLIN};
  if(c->pidfd >= 0 && n < max)
    fds[n++] =
        (struct curl_waitfd){.fd = c->pidfd, .events = CURL_WAIT_POLLIN};
  if(!c->reaped) {
    wake = c->timed_out ? c->kill_at : c->deadline;
    if(c->pidfd < 0 && now + 20 < wake)
      wake = now + 20; /* no pidfd: look at the child every 20 ms */
  }
  else
    wake = c->drain_until;
  if(wake != INT64_MAX) {
    int64_t d = wake - now;
    d = d < 0 ? 0 : d > INT_MAX ? INT_MAX : d;
    if(d < *wait_ms)
      *wait_ms = (int)d;
  }
  return n;
}

/* Read what is there (up to READ_BUDGET): keep up to the cap, discard the
 * rest. EOF or an error closes *fd. */
static void drain(int *fd, char *keep, size_t *len, bool *trunc)
{
  char chunk[65536];
  size_t budget = READ_BUDGET;
  while(*fd >= 0 && budget) {
    ssize_t n = read(*fd, chunk, sizeof(chunk));
    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if(n <= 0) {
      close_fd(fd);
      return;
    }
    size_t room = OUTPUT_CAP - *len, k = (size_t)n < room ? (size_t)n : room;
    memcpy(keep + *len, chunk, k);
    *len += k;
    if(k < (size_t)n)
      *trunc = true;
    budget = (size_t)n < budget ? budget - (size_t)n : 0;
  }
}

/* Feed stdin. A child that closed it raises SIGPIPE: blocked in this
 * thread for the write and consumed, so it cannot kill the engine. */
static void feed(cmd_run *c)
{
  sigset_t pipeset, old, pend;
  bool was_pending;
  sigemptyset(&pipeset);
  sigaddset(&pipeset, SIGPIPE);
  sigemptyset(&pend);
  sigpending(&pend);
  was_pending = sigismember(&pend, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipeset, &old);
  while(c->off < c->body.len) {
    size_t k = c->body.len - c->off;
    ssize_t w = write(c->fin, c->body.data + c->off, k > 65536 ? 65536 : k);
    if(w < 0 && errno == EINTR)
      continue;
    if(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if(w < 0) { /* EPIPE: it stopped reading; its exit status decides */
      c->stdin_short = true;
      break;
    }
    c->off += (size_t)w;
  }
  if(c->off >= c->body.len || c->stdin_short)
    close_fd(&c->fin);
  sigemptyset(&pend);
  sigpending(&pend);
  if(!was_pending && sigismember(&pend, SIGPIPE) == 1) {
    struct timespec zero = {0, 0};
    (void)sigtimedwait(&pipeset, NULL, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static bool command_advance(void *state)
{
  cmd_run *c = state;
  if(c->setup_failed || c->exec_errno)
    return true;
  if(c->fin >= 0)
    feed(c);
  drain(&c->fout, c->out, &c->out_len, &c->out_trunc);
  drain(&c->ferr, c->err, &c->err_len, &c->err_trunc);
  int64_t now = mono_ms();
  if(!c->reaped) {
    /* Exited? Not reaped yet, so its pid still names its group. */
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    int wr = waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT);
    if(wr == 0 && si.si_pid == c->pid) {
      int st = 0;
      (void)kill(-c->pid, SIGKILL); /* descendants go with it */
      pid_t w;
      do
        w = waitpid(c->pid, &st, 0);
      while(w < 0 && errno == EINTR);
      if(w == c->pid && WIFEXITED(st)) {
        c->exited = true;
        c->exit_status = WEXITSTATUS(st);
      }
      else if(w == c->pid && WIFSIGNALED(st))
        c->term_signal = WTERMSIG(st);
    }
    /* ECHILD: SIGCHLD is ignored, the kernel reaped it; its status is
     * lost and its pid may be reused, so no group kill. */
    if((wr == 0 && si.si_pid == c->pid) || (wr < 0 && errno == ECHILD)) {
      c->reaped = true;
      c->pid = 0;
      c->drain_until = now + DRAIN_MS;
      if(c->fin >= 0 && c->off < c->body.len)
        c->stdin_short = true;
      close_fd(&c->fin);
      close_fd(&c->pidfd);
    }
  }
  if(!c->reaped && !c->timed_out && now >= c->deadline) {
    c->timed_out = true;
    (void)kill(-c->pid, SIGTERM);
    c->kill_at = now + GRACE_MS;
  }
  if(!c->reaped && now >= c->kill_at) {
    (void)kill(-c->pid, SIGKILL);
    c->kill_at = INT64_MAX;
  }
  if(c->reaped && now >= c->drain_until) {
    close_fd(&c->fout);
    close_fd(&c->ferr);
  }
  return c->reaped && c->fout < 0 && c->ferr < 0;
}

static ch_delivery_result command_result(void *state, char *detail,
                                         size_t detaillen)
{
  cmd_run *c = state;
  char sig[96] = "", what[200];
  ch_delivery_result d = CH_DELIVERY_RETRY;
  if(!c) {
    snprintf(detail, detaillen, "out of memory");
    return CH_DELIVERY_RETRY;
  }
  if(c->setup_failed) {
    snprintf(detail, detaillen, "%s", c->setup_failed);
    return CH_DELIVERY_RETRY;
  }
  if(c->exec_errno) {
    /* The program's path is not shown: it may be a secret. */
    snprintf(detail, detaillen, "cannot execute: %s", strerror(c->exec_errno));
    return CH_DELIVERY_FAILED;
  }
  if(c->term_signal)
    snprintf(sig, sizeof(sig), "killed by signal %d (%s)", c->term_signal,
             strsignal(c->term_signal));
  if(c->timed_out)
    snprintf(what, sizeof(what), "timed out after %lld ms (%s)",
             (long long)c->timeout_ms, c->exited ? "then exited" : sig);
  else if(c->exited)
    snprintf(what, sizeof(what), "exit status %d", c->exit_status);
  else if(c->term_signal)
    snprintf(what, sizeof(what), "%s", sig);
  else
    snprintf(what, sizeof(what), "ended for an unknown reason");
  if(c->exited && c->exit_status == 0 && !c->timed_out)
    d = CH_DELIVERY_OK;
  if(c->out_trunc || c->err_trunc)
    snprintf(detail, detaillen, "%s; output beyond %d bytes discarded", what,
             OUTPUT_CAP);
  else
    snprintf(detail, detaillen, "%s", what);
  return d;
}

static void command_release(void *state)
{
  cmd_run *c = state;
  if(!c)
    return;
  if(c->pid > 0) { /* still running: shutdown or an engine error */
    int st;
    (void)kill(-c->pid, SIGKILL);
    while(waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
      ;
  }
  close_fd(&c->fin);
  close_fd(&c->fout);
  close_fd(&c->ferr);
  close_fd(&c->pidfd);
  ch_buf_free(&c->body);
  free(c);
}

const ch_notify_proto ch_notify_proto_command = {
    .name = "command",
    .needs_confirmation = false,
    .check_endpoint = command_check,
    .spawn = command_spawn,
    .wait_fds = command_wait_fds,
    .advance = command_advance,
    .result = command_result,
    .release = command_release,
};
