/*
 * ch_run: run one program and collect what it did, without a shell.
 *
 * The program is started with execvp semantics (argv[0] looked up in PATH)
 * as the leader of a new process group, so a timeout or its own exit can
 * take its descendants down with it. stdin is fed from a buffer while
 * stdout and stderr are read (one poll loop, so neither side can
 * deadlock the other); each output is kept up to its cap and the rest is
 * read and discarded, so a flooding child never blocks on a full pipe.
 *
 * Ownership: ch_run_opts and everything it points to is borrowed for the
 * call. ch_run_result's out/err buffers are owned by the result and
 * released by ch_run_result_free (safe on a zeroed or freed result).
 *
 * A caller that ignores SIGCHLD lets the kernel reap the child: ch_run
 * still returns when it ends, but with neither exited nor term_signal set.
 *
 * Threads: safe to call from several threads at once. SIGPIPE is blocked in
 * the calling thread while feeding stdin, and a SIGPIPE raised by that is
 * consumed, so a child that closes stdin early cannot kill the caller.
 */
#ifndef CH_CORE_RUN_H
#define CH_CORE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certhub/certhub.h"

#define CH_RUN_DEFAULT_GRACE_MS 2000
/* After the program exits, how long descendants that still hold its
 * stdout/stderr (e.g. escaped with setsid) are waited for. */
#define CH_RUN_DRAIN_MS 1000

typedef struct ch_run_opts {
  const char *const *argv; /* NULL-terminated, argv[0] non-empty */
  /* NULL, or NULL-terminated "NAME=value" entries added to the caller's
   * environment; an entry replaces an inherited variable of that name. */
  const char *const *env;
  const char *cwd;        /* NULL: the caller's working directory */
  const void *stdin_data; /* NULL or stdin_len bytes; stdin is then closed */
  size_t stdin_len;
  int64_t timeout_ms; /* <= 0: no timeout */
  int64_t grace_ms;   /* SIGTERM -> SIGKILL delay; 0: default */
  size_t stdout_cap;  /* bytes of stdout kept (0: none) */
  size_t stderr_cap;
} ch_run_opts;

typedef struct ch_run_result {
  bool exited; /* exit_status is meaningful */
  int exit_status;
  int term_signal;       /* the signal that killed it, or 0 */
  bool timed_out;        /* the timeout fired (then it was signalled) */
  int exec_errno;        /* non-zero: the program could not be started
                          * (ENOENT, EACCES, ...); nothing else is set */
  const char *exec_step; /* with exec_errno: "exec", "chdir" or "setup" */
  bool stdin_short;      /* the child closed stdin before taking it all */
  char *out;             /* NUL-terminated, out_len bytes (may hold NULs) */
  size_t out_len;
  bool out_truncated; /* more than stdout_cap bytes were written */
  char *err;
  size_t err_len;
  bool err_truncated;
  int64_t elapsed_ms;
} ch_run_result;

/*
 * Run o->argv and wait for it (and its timeout). Returns CH_OK when the
 * program ran or could not be started (see r->exec_errno); CH_ERR_USAGE for
 * a bad opts; CH_ERR_IO (errno set) when pipes or fork fail; CH_ERR_NOMEM.
 * On an error *r holds nothing to free. No zombie is left either way.
 */
ch_err ch_run(const ch_run_opts *o, ch_run_result *r /* OUT */);
void ch_run_result_free(ch_run_result *r);

/* "exit status 3", "killed by signal 9 (Killed)", "timed out after 5000 ms
 * (killed by signal 15 (Terminated))", "cannot execute: No such file or
 * directory", into buf. */
void ch_run_describe(const ch_run_result *r, int64_t timeout_ms, char *buf,
                     size_t n);

#endif
