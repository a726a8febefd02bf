/*
 * Findings hub benchmark (first layer): BatchImportFindings in calls of
 * 100 into a fresh SQLite store (new findings, then the same findings
 * updated), and one Scheduled Event batch mapped to findings.
 *
 *   bench_findings [N] [DIR]   N findings (default 20000), DIR for the
 *                              database (default a new /tmp directory)
 *
 * Prints wall and CPU time and findings per second for each phase, and
 * the user and system CPU time per finding of certhub_findings_import_apply
 * (getrusage: the part the API runs under its writer lock, with the
 * commit).
 * CH_BENCH_PRAGMA=SQL is run on the store's handle first (to measure what
 * a trigger or an index costs the import).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "certhub/findings.h"
#include "certhub/store.h"
#include "store/store_sqlite_int.h"

#define NOW 1795428000 /* 2026-11-23T10:00:00Z */

static double wall(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* User and system CPU time of the process (getrusage). */
static void rus(double *user, double *sys)
{
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  *user = (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6;
  *sys = (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

static double cpu(void)
{
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t batch(char *buf, size_t cap, int b, const char *updated)
{
  size_t n = (size_t)snprintf(buf, cap, "[");
  for(int i = 0; i < 100 && n < cap; i++)
    n += (size_t)snprintf(
        buf + n, cap - n,
        "%s{\"SchemaVersion\":\"2018-10-08\",\"Id\":\"arn:certhub:acm:local:"
        "000000000000:certificate/%d-%d/expiry\",\"ProductArn\":\"arn:"
        "certhub:securityhub:local:000000000000:product/certhub/certhub\","
        "\"GeneratorId\":\"certhub-lifecycle\",\"AwsAccountId\":"
        "\"000000000000\",\"CreatedAt\":\"2026-11-01T00:00:00Z\","
        "\"UpdatedAt\":\"%s\",\"Title\":\"Certificate host-%d.example "
        "expires in 14 days\",\"Description\":\"The certificate is "
        "expiring.\",\"Types\":[\"Software and Configuration Checks/"
        "Certificate Expiry\"],\"Severity\":{\"Label\":\"MEDIUM\"},"
        "\"Resources\":[{\"Type\":\"AwsCertificateManagerCertificate\","
        "\"Id\":\"arn:certhub:acm:local:000000000000:certificate/%d-%d\"}]}",
        i ? "," : "", b, i, updated, i, b, i);
  n += (size_t)snprintf(buf + n, cap - n, "]");
  return n;
}

__attribute__((noinline)) static int
phase(certhub_store *s, int batches, const char *updated, const char *what)
{
  static char buf[1 << 20];
  double w = wall(), c = cpu(), u_apply = 0, s_apply = 0;
  size_t ok = 0;
  for(int b = 0; b < batches; b++) {
    certhub_import_result r;
    certhub_import_batch *prep = NULL;
    size_t len = batch(buf, sizeof(buf), b, updated);
    /* The two halves as the API runs them: prepare outside the writer
     * lock, apply (with its commit) under it; apply's CPU time is what
     * the lock is held for. */
    ch_err rc = certhub_findings_import_prepare(buf, len, &prep, &r);
    double u0, s0, u1, s1;
    rus(&u0, &s0);
    if(!rc)
      rc = certhub_findings_import_apply(s, prep, NOW, &r);
    rus(&u1, &s1);
    u_apply += u1 - u0;
    s_apply += s1 - s0;
    certhub_import_batch_free(prep);
    if(rc) {
      fprintf(stderr, "bench_findings: %s\n", r.error);
      return 1;
    }
    ok += r.success - r.unchanged;
    certhub_import_result_free(&r);
  }
  w = wall() - w;
  c = cpu() - c;
  printf("| import, %s | %zu | %.2f s | %.2f s | %.0f/s (CPU %.0f/s) | %.1f "
         "+ %.1f us |\n",
         what, ok, w, c, (double)ok / w, (double)ok / c, u_apply / ok * 1e6,
         s_apply / ok * 1e6);
  return 0;
}

/* Each phase its own function, so that a profiler can collect one alone:
 * valgrind --tool=callgrind --toggle-collect=phase_new (or phase_updated). */
__attribute__((noinline)) static int phase_new(certhub_store *s, int batches)
{
  return phase(s, batches, "2026-11-02T00:00:00Z", "new");
}

__attribute__((noinline)) static int phase_updated(certhub_store *s,
                                                   int batches)
{
  return phase(s, batches, "2026-11-03T00:00:00Z", "updated");
}

static int scheduled(certhub_store *s, int n)
{
  size_t cap = (size_t)n * 200 + 512, len = 0;
  char *ev = malloc(cap);
  if(!ev)
    return 1;
  len += (size_t)snprintf(
      ev, cap,
      "{\"version\":\"0\",\"id\":\"b\",\"detail-type\":\"Scheduled Event\","
      "\"source\":\"certhub.scheduler\",\"account\":\"000000000000\","
      "\"time\":\"2026-11-23T10:00:00Z\",\"region\":\"local\","
      "\"resources\":[],\"detail\":{\"certificates\":[");
  for(int i = 0; i < n; i++)
    len +=
        (size_t)snprintf(ev + len, cap - len,
                         "%s{\"Arn\":\"arn:certhub:acm:local:000000000000:"
                         "certificate/s-%d\",\"CommonName\":\"h%d.example\","
                         "\"DaysToExpiry\":%d}",
                         i ? "," : "", i, i, i % 45);
  len += (size_t)snprintf(ev + len, cap - len, "],\"count\":%d}}", n);
  double w = wall(), c = cpu();
  size_t done = 0;
  char *detail = NULL;
  ch_err rc = certhub_findings_from_event(s, ev, len, NOW, &done, &detail);
  w = wall() - w;
  c = cpu() - c;
  if(rc)
    fprintf(stderr, "bench_findings: %s\n", detail ? detail : "?");
  else
    printf("| Scheduled Event batch | %zu | %.2f s | %.2f s | %.0f/s (CPU "
           "%.0f/s) | - |\n",
           done, w, c, (double)done / w, (double)done / c);
  free(detail);
  free(ev);
  return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  char dir[256], db[300];
  if(n < 100 || n > 10000000) {
    fprintf(stderr, "usage: bench_findings [N >= 100] [DIR]\n");
    return 2;
  }
  if(argc > 2)
    snprintf(dir, sizeof(dir), "%s", argv[2]);
  else {
    snprintf(dir, sizeof(dir), "/tmp/bench_findings.XXXXXX");
    if(!mkdtemp(dir))
      return 1;
  }
  snprintf(db, sizeof(db), "%s/findings.db", dir);
  unlink(db);
  certhub_store *s = NULL;
  char *err = NULL;
  if(certhub_store_open(db, &s, &err)) {
    fprintf(stderr, "bench_findings: %s\n", err ? err : "?");
    free(err);
    return 1;
  }
  const char *pr = getenv("CH_BENCH_PRAGMA");
  if(pr && sqlite3_exec(ch_sq_db(s), pr, NULL, NULL, NULL) != SQLITE_OK) {
    fprintf(stderr, "bench_findings: %s: %s\n", pr,
            sqlite3_errmsg(ch_sq_db(s)));
    certhub_store_close(s);
    return 1;
  }
  printf(
      "| phase | findings | wall | CPU | rate | apply user + sys per finding "
      "|\n| --- | --- | --- | --- | --- | --- |\n");
  int rc = phase_new(s, n / 100);
  if(!rc)
    rc = phase_updated(s, n / 100);
  if(!rc)
    rc = scheduled(s, n);
  certhub_store_close(s);
  if(argc > 2)
    fprintf(stderr, "bench_findings: database %s\n", db);
  else {
    /* Our own temporary directory: leave nothing behind. */
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if(system(cmd) != 0)
      fprintf(stderr, "bench_findings: could not remove %s\n", dir);
  }
  return rc;
}
