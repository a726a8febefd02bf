/*
 * Running a renewal command: posix_spawn in its own process group, stdin
 * from /dev/null, stdout and stderr into one pipe kept up to a cap (the
 * rest is drained and dropped so the child never blocks on a full pipe),
 * and the whole group killed at the timeout so a shell's children go too.
 *
 * This is the small runner the lifecycle module needs; the shared
 * process runner (lib/core/run.c, ch_run) can replace it once merged.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lifecycle_int.h"

extern char **environ;

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* environ with the extras added; an extra replaces a variable of the same
 * name. The array is malloc'd, its strings borrowed. */
static char **merge_env(const char *const *extra)
{
  size_t ne = 0, nx = 0;
  while(environ && environ[ne])
    ne++;
  while(extra && extra[nx])
    nx++;
  char **v = calloc(ne + nx + 1, sizeof(*v));
  if(!v)
    return NULL;
  size_t k = 0;
  for(size_t i = 0; i < ne; i++) {
    const char *eq = strchr(environ[i], '=');
    size_t len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
    bool replaced = false;
    for(size_t j = 0; j < nx && !replaced; j++)
      replaced = !strncmp(extra[j], environ[i], len);
    if(!replaced)
      v[k++] = environ[i];
  }
  for(size_t j = 0; j < nx; j++)
    v[k++] = (char *)extra[j];
  return v;
}

static void kill_group(pid_t pid)
{
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
}

ch_err ch_lc_run(const char *const *argv, const char *const *env,
                 unsigned timeout_ms, lc_run_result *r)
{
  ch_err rc = CH_OK;
  int fds[2] = {-1, -1};
  char **envp = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  bool fa_init = false, attr_init = false;
  pid_t pid = -1;
  ch_buf out;
  ch_buf_init(&out, CERTHUB_RENEWAL_OUTPUT_MAX + 1);
  memset(r, 0, sizeof(*r));
  r->exit_code = -1;
  if(!argv || !argv[0])
    return CH_ERR_USAGE;
  if(pipe2(fds, O_CLOEXEC) != 0)
    return CH_ERR_IO;
  envp = merge_env(env);
  if(!envp) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(posix_spawn_file_actions_init(&fa) || posix_spawnattr_init(&attr)) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  fa_init = attr_init = true;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  if(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) ||
     posix_spawn_file_actions_adddup2(&fa, fds[1], 1) ||
     posix_spawn_file_actions_adddup2(&fa, fds[1], 2) ||
     posix_spawnattr_setpgroup(&attr, 0) ||
     posix_spawnattr_setsigmask(&attr, &none) ||
     posix_spawnattr_setsigdefault(&attr, &all) ||
     posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                         POSIX_SPAWN_SETSIGMASK |
                                         POSIX_SPAWN_SETSIGDEF)) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  int err = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, envp);
  close(fds[1]);
  fds[1] = -1;
  if(err) {
    pid = -1;
    ch_buf_printf(&out, "cannot run %s: %s", argv[0], strerror(err));
    goto out; /* not an error of ours: r->started stays false */
  }
  r->started = true;

  int64_t deadline = now_ms() + (int64_t)timeout_ms;
  bool eof = false;
  char chunk[4096];
  while(!eof) {
    int64_t left = deadline - now_ms();
    if(left <= 0) {
      r->timed_out = true;
      break;
    }
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
    if(n < 0 && errno != EINTR) {
      rc = CH_ERR_IO;
      break;
    }
    if(n <= 0)
      continue;
    ssize_t got = read(fds[0], chunk, sizeof(chunk));
    if(got < 0 && errno != EINTR && errno != EAGAIN) {
      rc = CH_ERR_IO;
      break;
    }
    if(got == 0)
      eof = true;
    else if(got > 0 && out.len < CERTHUB_RENEWAL_OUTPUT_MAX) {
      size_t room = CERTHUB_RENEWAL_OUTPUT_MAX - out.len;
      ch_buf_add(&out, chunk, (size_t)got < room ? (size_t)got : room);
    }
  }
  /* Output closed (or time is up): wait for the exit until the deadline. */
  int status = 0;
  for(;;) {
    pid_t w = r->timed_out ? 0 : waitpid(pid, &status, WNOHANG);
    if(w == pid)
      break;
    if(w < 0 && errno != EINTR) {
      rc = CH_ERR_IO;
      break;
    }
    if(r->timed_out || now_ms() >= deadline) {
      r->timed_out = true;
      kill_group(pid);
      while(waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
      break;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if(!rc) {
    /* Leftovers of the group (a daemonised grandchild) do not outlive us
     * holding the pipe. */
    kill(-pid, SIGKILL);
    pid = -1;
    if(!r->timed_out && WIFEXITED(status))
      r->exit_code = WEXITSTATUS(status);
    else if(!r->timed_out && WIFSIGNALED(status))
      r->signal = WTERMSIG(status);
  }

out:
  if(pid > 0) {
    kill_group(pid);
    while(waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
  }
  if(fa_init)
    posix_spawn_file_actions_destroy(&fa);
  if(attr_init)
    posix_spawnattr_destroy(&attr);
  if(fds[0] >= 0)
    close(fds[0]);
  if(fds[1] >= 0)
    close(fds[1]);
  free(envp);
  r->output = out.data ? ch_buf_take(&out) : NULL;
  ch_buf_free(&out);
  return rc;
}

void ch_lc_run_result_free(lc_run_result *r)
{
  if(!r)
    return;
  free(r->output);
  r->output = NULL;
}
