/*
 * ch_run: fork/exec with pipes, one poll loop, a timeout that signals the
 * whole process group. See run.h for the contract.
 *
 * Hand-written rather than posix_spawn: we need the child to become a
 * process-group leader, to reset every signal, and to report a failed
 * chdir or exec (errno) back through a CLOEXEC pipe; posix_spawn reports
 * some of that but not a chdir error portably.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "run.h"

extern char **environ;

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* a + b without overflow (both non-negative). */
static int64_t add_sat(int64_t a, int64_t b)
{
  return b > INT64_MAX - a ? INT64_MAX : a + b;
}

static void close_fd(int *fd)
{
  if(*fd >= 0) {
    close(*fd);
    *fd = -1;
  }
}

/* "NAME=..." has the same NAME as "NAME=..." in e? */
static bool same_name(const char *a, const char *b)
{
  const char *ea = strchr(a, '=');
  const char *eb = strchr(b, '=');
  size_t la = ea ? (size_t)(ea - a) : strlen(a);
  size_t lb = eb ? (size_t)(eb - b) : strlen(b);
  return la == lb && memcmp(a, b, la) == 0;
}

/* The child's environment: ours minus the overridden names, plus extra.
 * Built before fork: the child may not allocate (other threads may hold
 * the allocator's lock at fork time). */
static char **build_env(const char *const *extra)
{
  size_t ne = 0, nx = 0;
  while(environ && environ[ne])
    ne++;
  while(extra && extra[nx])
    nx++;
  char **envp = calloc(ne + nx + 1, sizeof(*envp));
  if(!envp)
    return NULL;
  size_t k = 0;
  for(size_t i = 0; i < ne; i++) {
    bool over = false;
    for(size_t j = 0; j < nx && !over; j++)
      over = same_name(environ[i], extra[j]);
    if(!over)
      envp[k++] = environ[i];
  }
  for(size_t j = 0; j < nx; j++)
    envp[k++] = (char *)extra[j];
  envp[k] = NULL;
  return envp;
}

/* Between fork and exec: async-signal-safe calls only. */
static _Noreturn void child(const ch_run_opts *o, char **envp, int fin,
                            int fout, int ferr, int fexec)
{
  int step = 0, e = 0;
  setpgid(0, 0);
  /* A clean slate: default dispositions (an ignored SIGPIPE would survive
   * exec) and an empty mask (the parent blocked everything around fork). */
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for(int s = 1; s < NSIG; s++)
    (void)sigaction(s, &sa, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* Move the pipe ends above 2 first, so a parent that runs with 0..2
   * closed (pipe ends among them) cannot have one overwritten by dup2. */
  int a = fcntl(fin, F_DUPFD_CLOEXEC, 3);
  int b = fcntl(fout, F_DUPFD_CLOEXEC, 3);
  int c = fcntl(ferr, F_DUPFD_CLOEXEC, 3);
  if(a < 0 || b < 0 || c < 0 || dup2(a, 0) < 0 || dup2(b, 1) < 0 ||
     dup2(c, 2) < 0) {
    e = errno;
    goto fail;
  }
  /* Descriptors the caller opened without O_CLOEXEC must not leak. */
#ifdef SYS_close_range
  (void)syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
#endif
  step = 1;
  if(o->cwd && chdir(o->cwd) != 0) {
    e = errno;
    goto fail;
  }
  step = 2;
  execvpe(o->argv[0], (char *const *)o->argv, envp);
  e = errno;
fail : {
  int msg[2] = {step, e};
  ssize_t w = write(fexec, msg, sizeof(msg));
  (void)w;
  _exit(127);
}
}

/* Append up to the cap, count the rest as truncation. */
static ch_err sink(ch_buf *b, bool *trunc, const char *p, size_t n)
{
  size_t room = b->cap - b->len;
  size_t keep = n < room ? n : room;
  if(keep < n)
    *trunc = true;
  return keep ? ch_buf_add(b, p, keep) : CH_OK;
}

/* Read what is there now; EOF closes *fd. */
static ch_err drain(int *fd, ch_buf *b, bool *trunc)
{
  char chunk[65536];
  for(;;) {
    ssize_t n = read(*fd, chunk, sizeof(chunk));
    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return CH_OK;
    if(n <= 0) {
      close_fd(fd);
      return CH_OK;
    }
    ch_err rc = sink(b, trunc, chunk, (size_t)n);
    if(rc)
      return rc;
  }
}

static void set_nonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  if(fl >= 0)
    (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void decode_status(ch_run_result *r, int st)
{
  if(WIFEXITED(st)) {
    r->exited = true;
    r->exit_status = WEXITSTATUS(st);
  }
  else if(WIFSIGNALED(st)) {
    r->term_signal = WTERMSIG(st);
  }
}

static pid_t reap(pid_t pid, int *st)
{
  pid_t w;
  do
    w = waitpid(pid, st, 0);
  while(w < 0 && errno == EINTR);
  return w;
}

void ch_run_result_free(ch_run_result *r)
{
  if(!r)
    return;
  ch_safefree(r->out);
  ch_safefree(r->err);
  r->out_len = r->err_len = 0;
}

ch_err ch_run(const ch_run_opts *o, ch_run_result *r)
{
  ch_err rc = CH_OK;
  int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
  int pexec[2] = {-1, -1}, pidfd = -1;
  char **envp = NULL;
  pid_t pid = -1;
  bool reaped = false, masked = false, pipe_was_pending = false;
  sigset_t oldmask;
  ch_buf bo, be;
  ch_buf_init(&bo, o ? o->stdout_cap : 0);
  ch_buf_init(&be, o ? o->stderr_cap : 0);
  memset(r, 0, sizeof(*r));
  if(!o || !o->argv || !o->argv[0] || !o->argv[0][0] ||
     (o->stdin_len && !o->stdin_data))
    return CH_ERR_USAGE;
  for(size_t i = 0; o->env && o->env[i]; i++) {
    const char *eq = strchr(o->env[i], '=');
    if(!eq || eq == o->env[i])
      return CH_ERR_USAGE;
  }
  envp = build_env(o->env);
  if(!envp)
    return CH_ERR_NOMEM;
  if(pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) ||
     pipe2(perr, O_CLOEXEC) || pipe2(pexec, O_CLOEXEC)) {
    rc = CH_ERR_IO;
    goto out;
  }

  /* Block every signal around fork so no handler of ours runs in the
   * child; the parent keeps SIGPIPE blocked while it feeds stdin. */
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &oldmask);
  masked = true;
  sigset_t pend;
  sigemptyset(&pend);
  sigpending(&pend);
  pipe_was_pending = sigismember(&pend, SIGPIPE) == 1;
  int64_t start = now_ms();
  pid = fork();
  if(pid == 0)
    child(o, envp, pin[0], pout[1], perr[1], pexec[1]);
  sigset_t m = oldmask;
  sigaddset(&m, SIGPIPE);
  pthread_sigmask(SIG_SETMASK, &m, NULL);
  if(pid < 0) {
    rc = CH_ERR_IO;
    goto out;
  }
  /* Also here: a timeout may signal the group before the child ran. */
  (void)setpgid(pid, pid);
  close_fd(&pin[0]);
  close_fd(&pout[1]);
  close_fd(&perr[1]);
  close_fd(&pexec[1]);

  /* EOF: exec succeeded (the pipe was CLOEXEC). A message: it failed. */
  int msg[2];
  size_t got = 0;
  while(got < sizeof(msg)) {
    ssize_t n = read(pexec[0], (char *)msg + got, sizeof(msg) - got);
    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0)
      break;
    got += (size_t)n;
  }
  if(got == sizeof(msg)) {
    int st = 0;
    if(reap(pid, &st) == pid)
      reaped = true;
    r->exec_errno = msg[1] ? msg[1] : EIO;
    r->exec_step = msg[0] == 1 ? "chdir" : msg[0] == 0 ? "setup" : "exec";
    goto out;
  }

#ifdef SYS_pidfd_open
  pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
  set_nonblock(pin[1]);
  set_nonblock(pout[0]);
  set_nonblock(perr[0]);
  if(!o->stdin_len)
    close_fd(&pin[1]);

  int64_t deadline =
      o->timeout_ms > 0 ? add_sat(start, o->timeout_ms) : INT64_MAX;
  int64_t grace = o->grace_ms > 0 ? o->grace_ms : CH_RUN_DEFAULT_GRACE_MS;
  int64_t kill_at = INT64_MAX, drain_until = INT64_MAX;
  const char *in = o->stdin_data;
  size_t off = 0;
  for(;;) {
    if(!reaped) {
      /* Exited (not yet reaped, so its pid still names the group)? */
      siginfo_t si;
      memset(&si, 0, sizeof(si));
      int wr = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
      if(wr == 0 && si.si_pid == pid) {
        /* Descendants left in the group go with it. */
        (void)kill(-pid, SIGKILL);
        int st = 0;
        if(reap(pid, &st) == pid)
          decode_status(r, st);
      }
      /* ECHILD: the caller ignores SIGCHLD, so the kernel reaped it and
       * its status is lost; its pid may be reused, so no group kill. */
      if((wr == 0 && si.si_pid == pid) || (wr < 0 && errno == ECHILD)) {
        reaped = true;
        r->elapsed_ms = now_ms() - start;
        drain_until = now_ms() + CH_RUN_DRAIN_MS;
        if(pin[1] >= 0 && off < o->stdin_len)
          r->stdin_short = true;
        close_fd(&pin[1]);
        close_fd(&pidfd);
      }
    }
    if(reaped && pout[0] < 0 && perr[0] < 0)
      break;
    int64_t t = now_ms();
    if(reaped && t >= drain_until)
      break;
    if(!reaped && !r->timed_out && t >= deadline) {
      r->timed_out = true;
      (void)kill(-pid, SIGTERM);
      kill_at = add_sat(t, grace);
    }
    if(!reaped && t >= kill_at) {
      (void)kill(-pid, SIGKILL);
      kill_at = INT64_MAX;
    }

    struct pollfd pf[4];
    int np = 0, iin = -1, iout = -1, ierr = -1;
    if(pin[1] >= 0) {
      iin = np;
      pf[np++] = (struct pollfd){.fd = pin[1], .events = POLLOUT};
    }
    if(pout[0] >= 0) {
      iout = np;
      pf[np++] = (struct pollfd){.fd = pout[0], .events = POLLIN};
    }
    if(perr[0] >= 0) {
      ierr = np;
      pf[np++] = (struct pollfd){.fd = perr[0], .events = POLLIN};
    }
    if(pidfd >= 0)
      pf[np++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
    int64_t wake = INT64_MAX;
    if(!reaped && !r->timed_out)
      wake = deadline;
    if(!reaped && kill_at < wake)
      wake = kill_at;
    if(reaped && drain_until < wake)
      wake = drain_until;
    if(!reaped && pidfd < 0 && t + 10 < wake)
      wake = t + 10; /* no pidfd: look at the child every 10 ms */
    int ms = -1;
    if(wake != INT64_MAX)
      ms = wake - t > INT_MAX ? INT_MAX : wake - t < 0 ? 0 : (int)(wake - t);
    int n = poll(pf, (nfds_t)np, ms);
    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0) {
      rc = CH_ERR_IO;
      goto out;
    }
    if(iin >= 0 && pf[iin].revents) {
      while(off < o->stdin_len) {
        size_t k = o->stdin_len - off;
        ssize_t w = write(pin[1], in + off, k > 65536 ? 65536 : k);
        if(w < 0 && errno == EINTR)
          continue;
        if(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
          break;
        if(w < 0) { /* EPIPE: the child stopped reading; not an error */
          r->stdin_short = true;
          break;
        }
        off += (size_t)w;
      }
      if(off >= o->stdin_len || r->stdin_short)
        close_fd(&pin[1]);
    }
    if(iout >= 0 && pf[iout].revents &&
       (rc = drain(&pout[0], &bo, &r->out_truncated)))
      goto out;
    if(ierr >= 0 && pf[ierr].revents &&
       (rc = drain(&perr[0], &be, &r->err_truncated)))
      goto out;
  }
  r->out_len = bo.len;
  r->out = ch_buf_take(&bo);
  r->err_len = be.len;
  r->err = ch_buf_take(&be);
  if(!r->out || !r->err)
    rc = CH_ERR_NOMEM;

out:
  if(pid > 0 && !reaped) {
    int st = 0;
    (void)kill(-pid, SIGKILL);
    (void)reap(pid, &st);
  }
  close_fd(&pin[0]);
  close_fd(&pin[1]);
  close_fd(&pout[0]);
  close_fd(&pout[1]);
  close_fd(&perr[0]);
  close_fd(&perr[1]);
  close_fd(&pexec[0]);
  close_fd(&pexec[1]);
  close_fd(&pidfd);
  if(masked) {
    /* Consume a SIGPIPE our writes raised, then restore the mask. */
    sigset_t pend2, pipeset;
    sigemptyset(&pend2);
    sigpending(&pend2);
    if(!pipe_was_pending && sigismember(&pend2, SIGPIPE) == 1) {
      sigemptyset(&pipeset);
      sigaddset(&pipeset, SIGPIPE);
      struct timespec zero = {0, 0};
      (void)sigtimedwait(&pipeset, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
  }
  ch_buf_free(&bo);
  ch_buf_free(&be);
  free(envp);
  if(rc)
    ch_run_result_free(r);
  return rc;
}

void ch_run_describe(const ch_run_result *r, int64_t timeout_ms, char *buf,
                     size_t n)
{
  char sig[96] = "";
  if(r->term_signal)
    snprintf(sig, sizeof(sig), "killed by signal %d (%s)", r->term_signal,
             strsignal(r->term_signal));
  if(r->exec_errno)
    snprintf(buf, n, "cannot %s: %s",
             r->exec_step && strcmp(r->exec_step, "chdir") == 0
                 ? "change to the working directory"
                 : "execute",
             strerror(r->exec_errno));
  else if(r->timed_out)
    snprintf(buf, n, "timed out after %lld ms (%s)", (long long)timeout_ms,
             r->exited ? "then exited" : sig);
  else if(r->exited)
    snprintf(buf, n, "exit status %d", r->exit_status);
  else if(r->term_signal)
    snprintf(buf, n, "%s", sig);
  else
    snprintf(buf, n, "ended for an unknown reason");
}
