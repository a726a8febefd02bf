#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "certhub/inventory.h"
#include "core/core.h"

static char root[64];

typedef struct rec {
  char **files;
  bool *explicit;
  size_t n, cap;
  char **problems; /* "path|ERR|reason" */
  size_t n_problems;
  size_t stop_after; /* 0: never */
  bool keep;         /* store file names (off for the big directory) */
  bool sorted;       /* every file came after the previous one */
  char last[4096];
} rec;

static ch_err on_file(void *ctx, const char *path, bool explicit)
{
  rec *r = ctx;
  if(strcmp(r->last, path) >= 0)
    r->sorted = false;
  snprintf(r->last, sizeof(r->last), "%s", path);
  if(r->keep) {
    if(r->n == r->cap) {
      r->cap = r->cap ? r->cap * 2 : 16;
      r->files = realloc(r->files, r->cap * sizeof(*r->files));
      r->explicit = realloc(r->explicit, r->cap * sizeof(*r->explicit));
    }
    r->files[r->n] =
        strdup(path + (strncmp(path, root, strlen(root)) ? 0 : strlen(root)));
    r->explicit[r->n] = explicit;
  }
  r->n++;
  if(r->stop_after && r->n == r->stop_after)
    return CH_ERR_IO;
  return CH_OK;
}

static void on_problem(void *ctx, const char *path, unsigned position,
                       ch_err err, const char *reason)
{
  rec *r = ctx;
  assert_int_equal(position, 0);
  char buf[8192];
  snprintf(buf, sizeof(buf), "%s|%s|%s", path, certhub_strerror(err), reason);
  r->problems = realloc(r->problems, (r->n_problems + 1) * sizeof(char *));
  r->problems[r->n_problems++] = strdup(buf);
}

static void rec_init(rec *r)
{
  memset(r, 0, sizeof(*r));
  r->keep = true;
  r->sorted = true;
}

static void rec_free(rec *r)
{
  for(size_t i = 0; i < r->n && r->keep; i++)
    free(r->files[i]);
  for(size_t i = 0; i < r->n_problems; i++)
    free(r->problems[i]);
  free(r->files);
  free(r->explicit);
  free(r->problems);
}

/* Walk with paths relative to root (absolute when starting with '/'). */
static ch_err walk(rec *r, const char *const *rel, size_t n,
                   const char *const *excludes, size_t n_ex)
{
  char **paths = calloc(n, sizeof(*paths));
  for(size_t i = 0; i < n; i++) {
    if(rel[i][0] == '/' || !strcmp(rel[i], "-"))
      paths[i] = strdup(rel[i]);
    else {
      paths[i] = malloc(strlen(root) + strlen(rel[i]) + 2);
      sprintf(paths[i], "%s/%s", root, rel[i]);
    }
  }
  certhub_walk_opts o = {.excludes = excludes,
                         .n_excludes = n_ex,
                         .on_problem = on_problem,
                         .ctx = r};
  unsigned np = 99;
  ch_err rc = certhub_walk((const char *const *)paths, n, &o, on_file, r, &np);
  assert_int_equal(np, r->n_problems);
  for(size_t i = 0; i < n; i++)
    free(paths[i]);
  free(paths);
  return rc;
}

static void mk(const char *rel)
{
  char p[4096];
  snprintf(p, sizeof(p), "%s/%s", root, rel);
  if(p[strlen(p) - 1] == '/') {
    p[strlen(p) - 1] = '\0';
    assert_int_equal(mkdir(p, 0755), 0);
    return;
  }
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  close(fd);
}

static void ln(const char *target, const char *rel)
{
  char p[4096];
  snprintf(p, sizeof(p), "%s/%s", root, rel);
  assert_int_equal(symlink(target, p), 0);
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *f)
{
  (void)st;
  (void)f;
  if(flag == FTW_DP || flag == FTW_D || flag == FTW_DNR)
    chmod(p, 0755), rmdir(p);
  else
    unlink(p);
  return 0;
}

static int setup(void **state)
{
  (void)state;
  snprintf(root, sizeof(root), "/tmp/certhub-walk-XXXXXX");
  return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  /* Unreadable directories are made readable again before removal. */
  char p[128];
  snprintf(p, sizeof(p), "%s/locked", root);
  chmod(p, 0755);
  nftw(root, rm_one, 32, FTW_DEPTH | FTW_PHYS);
  return 0;
}

static void sorted_recursive(void **state)
{
  (void)state;
  mk("t/");
  mk("t/b/");
  mk("t/a/");
  mk("t/a/z.pem");
  mk("t/a/y.pem");
  mk("t/c.pem");
  mk("t/b/x.crt");
  mk("t/B.pem");
  mk("single.pem");
  rec r;
  rec_init(&r);
  const char *p[] = {"t", "single.pem", "-"};
  assert_int_equal(walk(&r, p, 3, NULL, 0), CH_OK);
  const char *want[] = {"/t/B.pem", "/t/a/y.pem",  "/t/a/z.pem", "/t/b/x.crt",
                        "/t/c.pem", "/single.pem", "-"};
  assert_int_equal(r.n, CH_ARRAY_LEN(want));
  for(size_t i = 0; i < r.n; i++) {
    assert_string_equal(r.files[i], want[i]);
    assert_int_equal(r.explicit[i], i >= 5);
  }
  assert_int_equal(r.n_problems, 0);
  rec_free(&r);
}

static void loops_and_shared_dirs(void **state)
{
  (void)state;
  char target[128];
  mk("x/");
  mk("x/a/");
  mk("x/a/1.pem");
  snprintf(target, sizeof(target), "%s/x", root);
  ln(target, "x/a/link");   /* back to an ancestor: a loop */
  ln("../x/a", "x/shared"); /* same directory by a second route: no loop */
  mk("y/");
  ln("../x/a", "y/again");
  rec r;
  rec_init(&r);
  const char *p[] = {"x", "y"};
  assert_int_equal(walk(&r, p, 2, NULL, 0), CH_OK);
  assert_int_equal(r.n, 1);
  assert_string_equal(r.files[0], "/x/a/1.pem");
  assert_int_equal(r.n_problems, 1);
  char want[512];
  snprintf(want, sizeof(want),
           "%s/x/a/link|%s|symlink loop: %s/x/a/link -> "
           "%s/x",
           root, certhub_strerror(CH_ERR_LOOP), root, root);
  assert_string_equal(r.problems[0], want);
  rec_free(&r);

  /* A symlink chain that never resolves (ELOOP from stat). */
  ln("self", "x/self");
  rec_init(&r);
  const char *p2[] = {"x/self"};
  walk(&r, p2, 1, NULL, 0);
  assert_int_equal(r.n, 0);
  assert_int_equal(r.n_problems, 1);
  snprintf(want, sizeof(want),
           "%s/x/self|%s|symlink loop: %s/x/self: Too "
           "many levels of symbolic links",
           root, certhub_strerror(CH_ERR_LOOP), root);
  assert_string_equal(r.problems[0], want);
  rec_free(&r);
}

static void excludes(void **state)
{
  (void)state;
  mk("e/");
  mk("e/a.pem");
  mk("e/a.key");
  mk("e/old/");
  mk("e/old/o.pem");
  mk("e/skip/");
  mk("e/skip/s.pem");
  mk("e/keep/");
  mk("e/keep/k.pem");
  mk("e/keep/k.bak");
  rec r;
  rec_init(&r);
  const char *p[] = {"e"};
  const char *ex[] = {"*.key", "old/*", "skip", "*/keep/*.bak"};
  assert_int_equal(walk(&r, p, 1, ex, CH_ARRAY_LEN(ex)), CH_OK);
  assert_int_equal(r.n, 2);
  assert_string_equal(r.files[0], "/e/a.pem");
  assert_string_equal(r.files[1], "/e/keep/k.pem");
  assert_int_equal(r.n_problems, 0);
  rec_free(&r);

  /* A file named literally is taken even when a pattern matches it. */
  rec_init(&r);
  const char *p2[] = {"e/a.key"};
  assert_int_equal(walk(&r, p2, 1, ex, CH_ARRAY_LEN(ex)), CH_OK);
  assert_int_equal(r.n, 1);
  assert_true(r.explicit[0]);
  rec_free(&r);
}

static void globs(void **state)
{
  (void)state;
  mk("g/");
  mk("g/one.pem");
  mk("g/two.pem");
  mk("g/three.crt");
  mk("g/sub.pem/");
  mk("g/sub.pem/inner.der");
  rec r;
  rec_init(&r);
  const char *p[] = {"g/*.pem", "g/t?o.*", "g/[x]*.pem"};
  const char *ex[] = {"two.pem"};
  assert_int_equal(walk(&r, p, 3, ex, 1), CH_OK);
  assert_int_equal(r.n, 2);
  assert_string_equal(r.files[0], "/g/one.pem");
  assert_false(r.explicit[0]);
  assert_string_equal(r.files[1], "/g/sub.pem/inner.der");
  assert_int_equal(r.n_problems, 1);
  char want[512];
  snprintf(want, sizeof(want), "%s/g/[x]*.pem|%s|no file matches the pattern",
           root, certhub_strerror(CH_ERR_NOTFOUND));
  assert_string_equal(r.problems[0], want);
  rec_free(&r);
}

static void unreadable_and_dangling(void **state)
{
  (void)state;
  char want[512];
  mk("d/");
  mk("d/ok.pem");
  ln("/nonexistent/target.pem", "d/broken.pem");
  rec r;
  rec_init(&r);
  const char *p[] = {"d", "d/missing.pem"};
  assert_int_equal(walk(&r, p, 2, NULL, 0), CH_OK);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.n_problems, 2);
  snprintf(want, sizeof(want),
           "%s/d/broken.pem|%s|dangling symlink: "
           "%s/d/broken.pem -> /nonexistent/target.pem",
           root, certhub_strerror(CH_ERR_NOTFOUND), root);
  assert_string_equal(r.problems[0], want);
  snprintf(want, sizeof(want),
           "%s/d/missing.pem|%s|cannot stat: No such "
           "file or directory",
           root, certhub_strerror(CH_ERR_NOTFOUND));
  assert_string_equal(r.problems[1], want);
  rec_free(&r);

  /* root reads every directory whatever its mode. */
  if(geteuid() == 0)
    return;
  mk("locked/");
  mk("locked/hidden.pem");
  char lp[128];
  snprintf(lp, sizeof(lp), "%s/locked", root);
  assert_int_equal(chmod(lp, 0), 0);
  rec_init(&r);
  const char *p2[] = {"locked"};
  assert_int_equal(walk(&r, p2, 1, NULL, 0), CH_OK);
  assert_int_equal(r.n, 0);
  assert_int_equal(r.n_problems, 1);
  snprintf(want, sizeof(want),
           "%s|%s|cannot open directory: Permission "
           "denied",
           lp, certhub_strerror(CH_ERR_IO));
  assert_string_equal(r.problems[0], want);
  rec_free(&r);
  chmod(lp, 0755);
}

static void special_files(void **state)
{
  (void)state;
  char fifo[128], want[512];
  mk("s/");
  mk("s/a.pem");
  snprintf(fifo, sizeof(fifo), "%s/s/pipe", root);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  rec r;
  rec_init(&r);
  const char *p[] = {"s", "s/pipe", "/dev/null"};
  assert_int_equal(walk(&r, p, 3, NULL, 0), CH_OK);
  assert_int_equal(r.n, 1); /* the fifo in the directory: quietly skipped */
  assert_int_equal(r.n_problems, 2);
  snprintf(want, sizeof(want), "%s|%s|not a regular file (a fifo)", fifo,
           certhub_strerror(CH_ERR_UNSUPPORTED));
  assert_string_equal(r.problems[0], want);
  snprintf(want, sizeof(want),
           "/dev/null|%s|not a regular file (a "
           "character device)",
           certhub_strerror(CH_ERR_UNSUPPORTED));
  assert_string_equal(r.problems[1], want);
  rec_free(&r);
}

static void depth_cap(void **state)
{
  (void)state;
  char rel[1024] = "deep/";
  mk(rel);
  for(int i = 0; i < CERTHUB_MAX_WALK_DEPTH + 3; i++) {
    strcat(rel, "d/");
    mk(rel);
  }
  mk("deep/d/f.pem");
  rec r;
  rec_init(&r);
  const char *p[] = {"deep"};
  assert_int_equal(walk(&r, p, 1, NULL, 0), CH_OK);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.n_problems, 1);
  assert_non_null(strstr(r.problems[0], "|directory nesting deeper than 64 "
                                        "levels, not entered"));
  /* The refused directory is 65 levels below the argument. */
  size_t levels = 0;
  for(const char *s = strstr(r.problems[0], "/deep"); *s && *s != '|'; s++)
    levels += *s == '/';
  assert_int_equal(levels, 1 + CERTHUB_MAX_WALK_DEPTH + 1);
  rec_free(&r);
}

static void callback_stops(void **state)
{
  (void)state;
  mk("stop/");
  mk("stop/1");
  mk("stop/2");
  mk("stop/3");
  rec r;
  rec_init(&r);
  r.stop_after = 2;
  const char *p[] = {"stop", "stop/3"};
  assert_int_equal(walk(&r, p, 2, NULL, 0), CH_ERR_IO);
  assert_int_equal(r.n, 2);
  rec_free(&r);
}

/* 100,000 files in one directory: linear-ish time, one listing in memory. */
static void big_directory(void **state)
{
  (void)state;
  enum { N = 100000 };
  char p[256];
  mk("big/");
  for(int i = 0; i < N; i++) {
    snprintf(p, sizeof(p), "%s/big/f%06d.pem", root, (i * 7919) % N);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    close(fd);
  }
  rec r;
  rec_init(&r);
  r.keep = false;
  const char *paths[] = {"big"};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(walk(&r, paths, 1, NULL, 0), CH_OK);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) +
                (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_int_equal(r.n, N);
  assert_true(r.sorted);
  assert_int_equal(r.n_problems, 0);
  print_message("walked %d files in %.2fs\n", N, secs);
  assert_true(secs < 10.0);
  rec_free(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(sorted_recursive, setup, teardown),
      cmocka_unit_test_setup_teardown(loops_and_shared_dirs, setup, teardown),
      cmocka_unit_test_setup_teardown(excludes, setup, teardown),
      cmocka_unit_test_setup_teardown(globs, setup, teardown),
      cmocka_unit_test_setup_teardown(unreadable_and_dangling, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(special_files, setup, teardown),
      cmocka_unit_test_setup_teardown(depth_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(callback_stops, setup, teardown),
      cmocka_unit_test_setup_teardown(big_directory, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
