/*
 * ch_run with real processes: /bin/sh scripts, cat, head, sleep.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/run.h"

static ch_run_opts sh(const char *script)
{
  static const char *argv[4];
  argv[0] = "/bin/sh";
  argv[1] = "-c";
  argv[2] = script;
  argv[3] = NULL;
  ch_run_opts o;
  memset(&o, 0, sizeof(o));
  o.argv = argv;
  o.stdout_cap = 65536;
  o.stderr_cap = 65536;
  o.timeout_ms = 20000;
  return o;
}

/* Nothing left to reap: ch_run leaves no zombie behind. */
static void assert_no_children(void)
{
  errno = 0;
  assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
  assert_int_equal(errno, ECHILD);
}

/* The process is gone (or a zombie of someone else's, not running). */
static bool process_gone(long pid)
{
  char path[64], buf[512];
  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  for(int i = 0; i < 200; i++) {
    FILE *f = fopen(path, "r");
    if(!f)
      return true;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    if(rp && (rp[2] == 'Z' || rp[2] == 'X'))
      return true;
    usleep(10000);
  }
  return false;
}

static void exit_codes_and_output(void **state)
{
  (void)state;
  ch_run_result r;
  ch_run_opts o = sh("echo out; echo err >&2; exit 3");
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_true(r.exited);
  assert_int_equal(r.exit_status, 3);
  assert_int_equal(r.term_signal, 0);
  assert_false(r.timed_out);
  assert_int_equal(r.exec_errno, 0);
  assert_string_equal(r.out, "out\n");
  assert_int_equal(r.out_len, 4);
  assert_string_equal(r.err, "err\n");
  assert_false(r.out_truncated);
  char d[256];
  ch_run_describe(&r, o.timeout_ms, d, sizeof(d));
  assert_string_equal(d, "exit status 3");
  ch_run_result_free(&r);

  o = sh("exit 0");
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_true(r.exited);
  assert_int_equal(r.exit_status, 0);
  assert_int_equal(r.out_len, 0);
  assert_string_equal(r.out, "");
  ch_run_result_free(&r);

  o = sh("kill -USR1 $$");
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_false(r.exited);
  assert_int_equal(r.term_signal, SIGUSR1);
  ch_run_describe(&r, o.timeout_ms, d, sizeof(d));
  assert_non_null(strstr(d, "killed by signal 10"));
  ch_run_result_free(&r);
  assert_no_children();
}

static void stdin_echoed_by_cat(void **state)
{
  (void)state;
  size_t n = 3 * 1024 * 1024 + 17; /* far more than a pipe holds */
  char *data = malloc(n);
  assert_non_null(data);
  for(size_t i = 0; i < n; i++)
    data[i] = (char)('a' + i % 26);
  const char *argv[] = {"cat", NULL}; /* found through PATH */
  ch_run_opts o;
  memset(&o, 0, sizeof(o));
  o.argv = argv;
  o.stdin_data = data;
  o.stdin_len = n;
  o.stdout_cap = n;
  o.timeout_ms = 20000;
  ch_run_result r;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_true(r.exited);
  assert_int_equal(r.exit_status, 0);
  assert_int_equal(r.out_len, n);
  assert_memory_equal(r.out, data, n);
  assert_false(r.out_truncated);
  assert_false(r.stdin_short);
  ch_run_result_free(&r);

  /* One byte short of the cap: truncated, exactly cap bytes kept. */
  o.stdout_cap = n - 1;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_int_equal(r.out_len, n - 1);
  assert_true(r.out_truncated);
  ch_run_result_free(&r);
  free(data);
  assert_no_children();
}

static void child_closes_stdin_early(void **state)
{
  (void)state;
  size_t n = 8 * 1024 * 1024;
  char *data = calloc(1, n);
  assert_non_null(data);
  /* SIGPIPE would kill this test if ch_run let it through. */
  ch_run_opts o = sh("exec 0<&-; echo closed");
  o.stdin_data = data;
  o.stdin_len = n;
  ch_run_result r;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_true(r.exited);
  assert_int_equal(r.exit_status, 0);
  assert_true(r.stdin_short);
  assert_string_equal(r.out, "closed\n");
  ch_run_result_free(&r);
  sigset_t pend;
  sigpending(&pend);
  assert_int_equal(sigismember(&pend, SIGPIPE), 0);
  free(data);
  assert_no_children();
}

static void timeout_kills(void **state)
{
  (void)state;
  ch_run_result r;
  ch_run_opts o = sh("echo started; sleep 30");
  o.timeout_ms = 300;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_true(r.timed_out);
  assert_false(r.exited);
  assert_int_equal(r.term_signal, SIGTERM);
  assert_string_equal(r.out, "started\n");
  assert_true(r.elapsed_ms >= 300);
  assert_true(r.elapsed_ms < 5000);
  char d[256];
  ch_run_describe(&r, o.timeout_ms, d, sizeof(d));
  assert_non_null(strstr(d, "timed out after 300 ms"));
  ch_run_result_free(&r);

  /* SIGTERM ignored (by the shell and the sleep it starts): SIGKILL after
   * the grace period. */
  o = sh("trap '' TERM; sleep 30; echo survived");
  o.timeout_ms = 200;
  o.grace_ms = 300;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_true(r.timed_out);
  assert_int_equal(r.term_signal, SIGKILL);
  assert_true(r.elapsed_ms >= 500);
  assert_true(r.elapsed_ms < 5000);
  assert_string_equal(r.out, "");
  ch_run_result_free(&r);
  assert_no_children();
}

static void grandchildren_die(void **state)
{
  (void)state;
  ch_run_result r;
  /* The background sleep holds stdout open after the shell exits; it is
   * killed with the group, so this returns at once, not in 1000 s. */
  ch_run_opts o = sh("sleep 1000 & echo $!");
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_true(r.exited);
  assert_int_equal(r.exit_status, 0);
  assert_true(r.elapsed_ms < 3000);
  long gc = strtol(r.out, NULL, 10);
  assert_true(gc > 1);
  assert_true(process_gone(gc));
  ch_run_result_free(&r);

  /* On a timeout too. */
  o = sh("sleep 1000 & echo $!; sleep 1000");
  o.timeout_ms = 300;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_true(r.timed_out);
  gc = strtol(r.out, NULL, 10);
  assert_true(gc > 1);
  assert_true(process_gone(gc));
  ch_run_result_free(&r);
  assert_no_children();
}

static void flood_is_capped(void **state)
{
  (void)state;
  ch_run_result r;
  ch_run_opts o = sh("head -c 100000000 /dev/zero; head -c 5000000 /dev/zero "
                     ">&2; echo done >&2");
  o.stdout_cap = 65536;
  o.stderr_cap = 1000;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_true(r.exited);
  assert_int_equal(r.exit_status, 0);
  assert_int_equal(r.out_len, 65536);
  assert_true(r.out_truncated);
  assert_int_equal(r.err_len, 1000);
  assert_true(r.err_truncated);
  ch_run_result_free(&r);

  /* Cap 0: nothing kept, still drained. */
  o.stdout_cap = 0;
  o.stderr_cap = 0;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_int_equal(r.exit_status, 0);
  assert_int_equal(r.out_len, 0);
  assert_true(r.out_truncated);
  ch_run_result_free(&r);
  assert_no_children();
}

static void missing_executable(void **state)
{
  (void)state;
  ch_run_result r;
  char d[256];
  const char *a1[] = {"/nonexistent/certhub-test", "x", NULL};
  ch_run_opts o;
  memset(&o, 0, sizeof(o));
  o.argv = a1;
  o.timeout_ms = 5000;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_int_equal(r.exec_errno, ENOENT);
  assert_string_equal(r.exec_step, "exec");
  assert_false(r.exited);
  ch_run_describe(&r, o.timeout_ms, d, sizeof(d));
  assert_string_equal(d, "cannot execute: No such file or directory");
  ch_run_result_free(&r);

  const char *a2[] = {"certhub-no-such-program-in-path", NULL};
  o.argv = a2;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_int_equal(r.exec_errno, ENOENT);
  ch_run_result_free(&r);

  /* A file without the execute bit. */
  char path[] = "/tmp/certhub-run-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
  close(fd);
  chmod(path, 0600);
  const char *a3[] = {path, NULL};
  o.argv = a3;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_int_equal(r.exec_errno, EACCES);
  ch_run_result_free(&r);
  unlink(path);

  /* A working directory that does not exist. */
  o = sh("pwd");
  o.cwd = "/nonexistent/dir";
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_int_equal(r.exec_errno, ENOENT);
  assert_string_equal(r.exec_step, "chdir");
  ch_run_describe(&r, o.timeout_ms, d, sizeof(d));
  assert_non_null(strstr(d, "working directory"));
  ch_run_result_free(&r);

  /* Bad options. */
  const char *a4[] = {"", NULL};
  o.argv = a4;
  assert_int_equal(ch_run(&o, &r), CH_ERR_USAGE);
  o = sh("true");
  const char *badenv[] = {"NOEQUALS", NULL};
  o.env = badenv;
  assert_int_equal(ch_run(&o, &r), CH_ERR_USAGE);
  assert_no_children();
}

static void env_and_cwd(void **state)
{
  (void)state;
  ch_run_result r;
  setenv("CERTHUB_RUN_INHERITED", "kept", 1);
  setenv("CERTHUB_RUN_OVER", "old", 1);
  const char *env[] = {"CERTHUB_RUN_NEW=a b=c", "CERTHUB_RUN_OVER=new", NULL};
  ch_run_opts o = sh("echo \"$CERTHUB_RUN_NEW|$CERTHUB_RUN_OVER|"
                     "$CERTHUB_RUN_INHERITED\"; env | grep -c "
                     "'^CERTHUB_RUN_OVER='; pwd");
  o.env = env;
  o.cwd = "/";
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_int_equal(r.exit_status, 0);
  assert_string_equal(r.out, "a b=c|new|kept\n1\n/\n");
  ch_run_result_free(&r);
  unsetenv("CERTHUB_RUN_INHERITED");
  unsetenv("CERTHUB_RUN_OVER");
  assert_no_children();
}

/* An fd the caller opened without O_CLOEXEC does not reach the child. */
static void no_fd_leak(void **state)
{
  (void)state;
  int fd = open("/dev/null", O_RDONLY);
  assert_true(fd >= 3);
  char script[128];
  snprintf(script, sizeof(script),
           "if [ -e /proc/self/fd/%d ]; then echo leaked; else echo ok; fi",
           fd);
  ch_run_opts o = sh(script);
  ch_run_result r;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  assert_string_equal(r.out, "ok\n");
  ch_run_result_free(&r);
  close(fd);
}

/* With SIGCHLD ignored the kernel reaps the child: ch_run still returns
 * (not spinning), without a status. */
static void sigchld_ignored(void **state)
{
  (void)state;
  signal(SIGCHLD, SIG_IGN);
  ch_run_opts o = sh("echo hi; exit 3");
  ch_run_result r;
  assert_int_equal(ch_run(&o, &r), CH_OK);
  signal(SIGCHLD, SIG_DFL);
  assert_false(r.exited);
  assert_int_equal(r.term_signal, 0);
  assert_string_equal(r.out, "hi\n");
  assert_true(r.elapsed_ms < 5000);
  char d[128];
  ch_run_describe(&r, o.timeout_ms, d, sizeof(d));
  assert_string_equal(d, "ended for an unknown reason");
  ch_run_result_free(&r);
}

/* Several threads at once, each feeding a cat that closes early half
 * the time: outputs do not mix, SIGPIPE never escapes. */
static void *worker(void *arg)
{
  long id = (long)arg;
  size_t n = 512 * 1024;
  char *data = malloc(n);
  for(size_t i = 0; i < n; i++)
    data[i] = (char)('A' + (i + (size_t)id) % 26);
  long ok = 1;
  for(int round = 0; round < 6 && ok; round++) {
    const char *argv[] = {"/bin/sh", "-c",
                          round % 2 ? "exec 0<&-; echo early" : "cat", NULL};
    ch_run_opts o;
    memset(&o, 0, sizeof(o));
    o.argv = argv;
    o.stdin_data = data;
    o.stdin_len = n;
    o.stdout_cap = n;
    o.timeout_ms = 20000;
    ch_run_result r;
    if(ch_run(&o, &r) != CH_OK)
      ok = 0;
    else if(round % 2)
      ok = strcmp(r.out, "early\n") == 0;
    else
      ok = r.out_len == n && memcmp(r.out, data, n) == 0;
    ch_run_result_free(&r);
  }
  free(data);
  return (void *)ok;
}

static void threads(void **state)
{
  (void)state;
  pthread_t th[4];
  for(long i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)i), 0);
  for(int i = 0; i < 4; i++) {
    void *ok = NULL;
    pthread_join(th[i], &ok);
    assert_true(ok == (void *)1);
  }
  assert_no_children();
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(exit_codes_and_output),
      cmocka_unit_test(stdin_echoed_by_cat),
      cmocka_unit_test(child_closes_stdin_early),
      cmocka_unit_test(timeout_kills),
      cmocka_unit_test(grandchildren_die),
      cmocka_unit_test(flood_is_capped),
      cmocka_unit_test(missing_executable),
      cmocka_unit_test(env_and_cwd),
      cmocka_unit_test(no_fd_leak),
      cmocka_unit_test(sigchld_ignored),
      cmocka_unit_test(threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
