/*
 * Findings query benchmark: N findings (default 1,000,000) imported through
 * BatchImportFindings (calls of 100, 100 calls per transaction) into a
 * fresh SQLite store, then GetFindings with three filters and a sort,
 * the second page of such a query, and insights, through the JSON API
 * (certhub_findings_query_json / certhub_findings_insight_json).
 *
 *   bench_findings_query [N] [DIR] [REPS]
 *       N findings (default 1000000), DIR for the database (default a new
 *       /tmp directory, removed after; with DIR the database is kept and
 *       reused when it already holds N findings), REPS runs per query
 *       shape (default 50). CH_BENCH_ONLY=text runs only the shapes
 *       whose name holds text (e.g. "broad:"). CH_BENCH_NO_CACHE=1
 *       turns off the store's cache of findings_counts' sums.
 *
 * Prints Markdown tables: import rate; p50/p95/max per query shape, and
 * the same shape with the store's plain plans (CH_SQ_FINDQ_PLAIN: no
 * counts table, rank_of's driver, sorts as written) in the same run, at
 * most 5 runs of those.
 *
 * CH_BENCH_ADD=K with DIR holding N findings (a copy: it is written):
 * no queries; K new findings imported into it, then K stored ones
 * updated, one transaction per call of 100 as through the API; prints
 * wall and CPU rates and SQLite page-cache hits, misses and WAL page
 * writes per finding. K at most N. CH_BENCH_PRAGMA=SQL is run on the
 * store's handle first (to compare pragmas).
 *
 * CH_BENCH_WITHOUT_16=1 with a new database: migration 16's triggers,
 * counts table and index are removed (and the two indexes it drops put
 * back) before the import, to measure what they cost the import. Not
 * available since migration 19, which made the writer count inserts
 * (the importer would fail without the table).
 */
#include <stdint.h>
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
#define PER_TX 100     /* import calls per transaction */

static double cpu(void)
{
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double wall(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *const sev[] = {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH",
                                  "CRITICAL"};
static const char *const wf[] = {"NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"};
static const char *const comp[] = {"PASSED", "WARNING", "FAILED",
                                   "NOT_AVAILABLE"};
static const char *const rtype[] = {"AwsCertificateManagerCertificate",
                                    "AwsElbLoadBalancer", "AwsEc2Instance",
                                    "AwsCloudFrontDistribution", "Other"};
static const char *const regions[] = {
    "us-east-1",  "us-west-2",      "eu-west-1", "eu-central-1",
    "ap-south-1", "ap-northeast-1", "sa-east-1", "ca-central-1"};
static const char *const products[] = {"certhub", "scanner", "probe"};

/* A cheap deterministic mix so the columns are not correlated. */
static unsigned mix(unsigned x)
{
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

/* One finding of key k. upd: its UpdatedAt in ms, 0 for the key's own
 * (spread over the 90 days before NOW); salt != 0 changes the counted
 * columns (severity, compliance) as a rescan would. */
static size_t finding(char *buf, size_t cap, unsigned k, int64_t upd,
                      unsigned salt, int first)
{
  unsigned h = mix(k), hs = salt ? mix(h ^ salt) : h;
  /* UpdatedAt over the 90 days before NOW, to the millisecond. */
  if(!upd)
    upd = (int64_t)NOW * 1000 - (int64_t)(h % (90u * 86400u)) * 1000 -
          (int64_t)(mix(k + 7) % 1000);
  time_t sec = (time_t)(upd / 1000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  char ts[96];
  snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec, (int)(upd % 1000));
  unsigned h2 = mix(h);
  return (size_t)snprintf(
      buf, cap,
      "%s{\"SchemaVersion\":\"2018-10-08\",\"Id\":\"arn:certhub:acm:"
      "local:000000000000:certificate/%u/expiry\",\"ProductArn\":\"arn:"
      "certhub:securityhub:local:000000000000:product/certhub/%s\","
      "\"ProductName\":\"%s\",\"CompanyName\":\"certhub\","
      "\"GeneratorId\":\"gen-%u\",\"AwsAccountId\":\"%012u\","
      "\"Region\":\"%s\",\"CreatedAt\":\"2026-08-01T00:00:00Z\","
      "\"UpdatedAt\":\"%s\",\"Title\":\"Certificate host-%u.example "
      "expires in %u days\",\"Description\":\"The certificate is "
      "expiring.\",\"Types\":[\"Software and Configuration Checks/"
      "Certificate Expiry\"],\"Severity\":{\"Label\":\"%s\"},"
      "\"Workflow\":{\"Status\":\"%s\"},\"RecordState\":\"%s\","
      "\"Compliance\":{\"Status\":\"%s\"},\"Confidence\":%u,"
      "\"Resources\":[{\"Type\":\"%s\",\"Id\":\"arn:certhub:acm:local:"
      "000000000000:certificate/%u\",\"Tags\":{\"env\":\"%s\"}}]}",
      first ? "" : ",", k, products[h % 3], products[h % 3], h2 % 20,
      100000000u + h2 % 50, regions[(h >> 3) % 8], ts, k, h % 60,
      sev[(hs >> 5) % 5], wf[(h >> 8) % 4],
      (h >> 11) % 10 ? "ACTIVE" : "ARCHIVED", comp[(hs >> 13) % 4],
      (h >> 17) % 101, rtype[(h >> 20) % 5], k,
      (h >> 23) % 2 ? "prod" : "dev");
}

static size_t batch(char *buf, size_t cap, int b)
{
  size_t n = (size_t)snprintf(buf, cap, "[");
  for(int i = 0; i < 100 && n < cap; i++)
    n += finding(buf + n, cap - n, (unsigned)b * 100 + (unsigned)i, 0, 0,
                 i == 0);
  n += (size_t)snprintf(buf + n, cap - n, "]");
  return n;
}

static int import_all(certhub_store *s, int n)
{
  static char buf[1 << 20];
  int batches = n / 100;
  double w = wall();
  for(int b = 0; b < batches; b++) {
    if(b % PER_TX == 0 && certhub_store_begin(s))
      return 1;
    certhub_import_result r;
    size_t len = batch(buf, sizeof(buf), b);
    if(certhub_findings_import(s, buf, len, NOW, &r) || r.failed) {
      fprintf(stderr, "bench_findings_query: %s%s\n", r.error,
              r.failed ? r.failures[0].message : "");
      return 1;
    }
    certhub_import_result_free(&r);
    if((b % PER_TX == PER_TX - 1 || b == batches - 1) &&
       certhub_store_commit(s))
      return 1;
  }
  w = wall() - w;
  printf("| import (BatchImportFindings, 100 per call, %d calls per "
         "transaction) | %d | %.1f s | %.0f findings/s |\n\n",
         PER_TX, batches * 100, w, (double)batches * 100 / w);
  return 0;
}

/* CH_BENCH_ADD=K: K new findings (keys have..have+K-1), then K updates
 * of stored ones spread over the whole store (a newer UpdatedAt, severity
 * and compliance re-drawn), each call of 100 its own transaction as in
 * the API. Per phase: wall and CPU rate, and SQLite's page cache per
 * finding (sqlite3_db_status: hits, misses = pages read from the file,
 * writes = pages written to the WAL). */
static unsigned gcd_u(unsigned a, unsigned b)
{
  while(b) {
    unsigned t = a % b;
    a = b;
    b = t;
  }
  return a;
}

static double tv(struct timeval t)
{
  return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

static int dbstat(certhub_store *s, int op)
{
  int cur = 0, hi = 0;
  sqlite3_db_status(ch_sq_db(s), op, &cur, &hi, 1);
  return cur;
}

static int add_phase(certhub_store *s, unsigned have, unsigned k, int update)
{
  static char buf[1 << 20];
  unsigned step = 999983; /* a prime: j * step mod have visits each once */
  while(have && gcd_u(step, have) != 1)
    step += 2;
  struct rusage r0, r1;
  size_t ok = 0;
  dbstat(s, SQLITE_DBSTATUS_CACHE_HIT);
  dbstat(s, SQLITE_DBSTATUS_CACHE_MISS);
  dbstat(s, SQLITE_DBSTATUS_CACHE_WRITE);
  getrusage(RUSAGE_SELF, &r0);
  double w = wall();
  for(unsigned j = 0; j < k; j += 100) {
    size_t n = (size_t)snprintf(buf, sizeof(buf), "[");
    for(unsigned i = j; i < j + 100 && i < k; i++) {
      unsigned key =
          update ? (unsigned)(((uint64_t)i * step + 12345) % have) : have + i;
      n += finding(buf + n, sizeof(buf) - n, key,
                   update ? (int64_t)NOW * 1000 + 3600000 + i : 0,
                   update ? 0x5bd1e995u : 0, i == j);
    }
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "]");
    certhub_import_result r;
    if(certhub_findings_import(s, buf, n, NOW, &r) || r.failed) {
      fprintf(stderr, "bench_findings_query: %s%s\n", r.error,
              r.failed ? r.failures[0].message : "");
      return 1;
    }
    ok += r.success - r.unchanged;
    certhub_import_result_free(&r);
  }
  w = wall() - w;
  getrusage(RUSAGE_SELF, &r1);
  double us = tv(r1.ru_utime) - tv(r0.ru_utime),
         sy = tv(r1.ru_stime) - tv(r0.ru_stime);
  double hit = dbstat(s, SQLITE_DBSTATUS_CACHE_HIT),
         miss = dbstat(s, SQLITE_DBSTATUS_CACHE_MISS),
         wr = dbstat(s, SQLITE_DBSTATUS_CACHE_WRITE), f = (double)ok;
  printf("| %s | %zu | %.2f s | %.2f + %.2f s | %.0f/s | %.0f/s | %.1f | "
         "%.2f | %.2f |\n",
         update ? "updated" : "new", ok, w, us, sy, f / w, f / (us + sy),
         hit / f, miss / f, wr / f);
  fflush(stdout);
  return ok == k ? 0 : 1;
}

static int add_findings(certhub_store *s, int have, int k)
{
  printf("| import into %d findings, calls of 100, one transaction each "
         "| findings | wall | CPU user + sys | wall rate | CPU rate | cache "
         "hits/f | misses/f | WAL pages/f |\n"
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
         have);
  return add_phase(s, (unsigned)have, (unsigned)k, 0) ||
         add_phase(s, (unsigned)have, (unsigned)k, 1);
}

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef ch_err (*api_fn)(certhub_store *, const char *, size_t, char **,
                         size_t *);

/* REPS runs of make(i) through fn; prints one table row. */
static int shape1(certhub_store *s, const char *name, api_fn fn, int reps,
                  int from, void (*make)(int i, char *req, size_t cap))
{
  double *t = calloc((size_t)reps, sizeof(*t));
  double *cp = calloc((size_t)reps, sizeof(*cp));
  char req[8192];
  size_t rows = 0;
  if(!t || !cp) {
    free(t);
    free(cp);
    return 1;
  }
  /* One unmeasured run first: the page cache warm, as in service. */
  {
    char *o = NULL;
    size_t l = 0;
    make(from, req, sizeof(req));
    if(!fn(s, req, strlen(req), &o, &l))
      free(o);
  }
  for(int i = 0; i < reps; i++) {
    char *out = NULL;
    size_t len = 0;
    make(from + i, req, sizeof(req));
    double w = wall(), c = cpu();
    ch_err rc = fn(s, req, strlen(req), &out, &len);
    t[i] = (wall() - w) * 1000;
    cp[i] = (cpu() - c) * 1000;
    if(rc) {
      fprintf(stderr, "bench_findings_query: %s: %s\n", name,
              certhub_store_errmsg(s));
      free(t);
      free(cp);
      return 1;
    }
    /* Findings returned (or groups), for the table. */
    for(const char *p = out; (p = strstr(p, "\"SchemaVersion\"")); p++)
      rows++;
    for(const char *p = out; (p = strstr(p, "\"Count\"")); p++)
      rows++;
    free(out);
  }
  qsort(t, (size_t)reps, sizeof(*t), cmp_d);
  qsort(cp, (size_t)reps, sizeof(*cp), cmp_d);
  printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f |\n", name,
         t[reps / 2], t[(reps * 95 + 99) / 100 - 1], t[reps - 1], cp[reps / 2],
         cp[(reps * 95 + 99) / 100 - 1], (double)rows / reps);
  free(t);
  free(cp);
  return 0;
}

/* The shape with the chosen plans, then with the plain ones. */
static int shape(certhub_store *s, const char *name, api_fn fn, int reps,
                 void (*make)(int i, char *req, size_t cap))
{
  char pname[512];
  /* CH_BENCH_ONLY=text: only the shapes whose name holds text. */
  const char *only = getenv("CH_BENCH_ONLY");
  if(only && !strstr(name, only))
    return 0;
  if(shape1(s, name, fn, reps, 0, make))
    return 1;
  snprintf(pname, sizeof(pname), "(plain plan) %s", name);
  ch_sq_findq_mode = CH_SQ_FINDQ_PLAIN;
  /* Requests the first runs did not make (other accounts, regions...),
   * so neither finds the other's pages in the cache. */
  int rc = shape1(s, pname, fn, reps < 5 ? reps : 5, reps + 1, make);
  ch_sq_findq_mode = CH_SQ_FINDQ_AUTO;
  fflush(stdout);
  return rc;
}

static void q_three(int i, char *req, size_t cap)
{
  snprintf(req, cap,
           "{\"Filters\":{\"SeverityLabel\":[{\"Value\":\"%s\","
           "\"Comparison\":\"EQUALS\"}],\"WorkflowStatus\":[{\"Value\":"
           "\"%s\",\"Comparison\":\"EQUALS\"}],\"RecordState\":[{\"Value\":"
           "\"ACTIVE\",\"Comparison\":\"EQUALS\"}]},\"SortCriteria\":[{"
           "\"Field\":\"UpdatedAt\",\"SortOrder\":\"desc\"}],"
           "\"MaxResults\":100}",
           sev[i % 5], wf[(i / 5) % 4]);
}

static void q_account(int i, char *req, size_t cap)
{
  snprintf(req, cap,
           "{\"Filters\":{\"AwsAccountId\":[{\"Value\":\"%012u\","
           "\"Comparison\":\"EQUALS\"}],\"ComplianceStatus\":[{\"Value\":"
           "\"FAILED\",\"Comparison\":\"EQUALS\"}],\"Region\":[{\"Value\":"
           "\"%s\",\"Comparison\":\"EQUALS\"}]},\"SortCriteria\":[{"
           "\"Field\":\"SeverityLabel\",\"SortOrder\":\"desc\"}]}",
           100000000u + (unsigned)i % 50, regions[i % 8]);
}

static void q_account_upd(int i, char *req, size_t cap)
{
  snprintf(req, cap,
           "{\"Filters\":{\"AwsAccountId\":[{\"Value\":\"%012u\","
           "\"Comparison\":\"EQUALS\"}],\"ComplianceStatus\":[{\"Value\":"
           "\"FAILED\",\"Comparison\":\"EQUALS\"}],\"Region\":[{\"Value\":"
           "\"%s\",\"Comparison\":\"EQUALS\"}]},\"SortCriteria\":[{"
           "\"Field\":\"UpdatedAt\",\"SortOrder\":\"desc\"}]}",
           100000000u + (unsigned)(i * 7) % 50, regions[(i + 3) % 8]);
}

static void q_region_type(int i, char *req, size_t cap)
{
  snprintf(req, cap,
           "{\"Filters\":{\"Region\":[{\"Value\":\"%s\",\"Comparison\":"
           "\"EQUALS\"}],\"ResourceType\":[{\"Value\":\"%s\","
           "\"Comparison\":\"EQUALS\"}],\"WorkflowStatus\":[{\"Value\":"
           "\"NEW\",\"Comparison\":\"EQUALS\"}]},\"SortCriteria\":[{"
           "\"Field\":\"SeverityLabel\",\"SortOrder\":\"desc\"}]}",
           regions[i % 8], rtype[i % 5]);
}

static void q_prefix(int i, char *req, size_t cap)
{
  snprintf(req, cap,
           "{\"Filters\":{\"Title\":[{\"Value\":\"Certificate host-%d\","
           "\"Comparison\":\"PREFIX\"}],\"ResourceType\":[{\"Value\":\"%s\","
           "\"Comparison\":\"EQUALS\"}],\"SeverityLabel\":[{\"Value\":"
           "\"INFORMATIONAL\",\"Comparison\":\"NOT_EQUALS\"}]},"
           "\"SortCriteria\":[{\"Field\":\"Title\",\"SortOrder\":\"asc\"}]}",
           10 + i % 89, rtype[i % 5]);
}

static void q_negative(int i, char *req, size_t cap)
{
  snprintf(req, cap,
           "{\"Filters\":{\"WorkflowStatus\":[{\"Value\":\"RESOLVED\","
           "\"Comparison\":\"NOT_EQUALS\"},{\"Value\":\"SUPPRESSED\","
           "\"Comparison\":\"NOT_EQUALS\"}],\"ResourceTags\":[{\"Key\":"
           "\"env\",\"Value\":\"prod\",\"Comparison\":\"EQUALS\"}],"
           "\"UpdatedAt\":[{\"DateRange\":{\"Value\":%d,\"Unit\":\"DAYS\"}}]},"
           "\"SortCriteria\":[{\"Field\":\"UpdatedAt\",\"SortOrder\":"
           "\"desc\"}]}",
           7 + i % 20);
}

/* The second page of q_three: its first page's NextToken. */
static certhub_store *page_store;
static void q_page2(int i, char *req, size_t cap)
{
  char first[8192], *out = NULL;
  size_t len = 0;
  q_three(i, first, sizeof(first));
  req[0] = '\0';
  if(certhub_findings_query_json(page_store, first, strlen(first), &out, &len))
    return;
  const char *t = strstr(out, "\"NextToken\":\"");
  if(t) {
    t += 13;
    size_t tl = strcspn(t, "\"");
    snprintf(first + strlen(first) - 1, sizeof(first) - strlen(first) + 1,
             ",\"NextToken\":\"%.*s\"}", (int)tl, t);
  }
  snprintf(req, cap, "%s", first);
  free(out);
}

/* Broad filters with the default sort (issue 6): the filters keep 1/8 to
 * 9/10 of the findings, so walking findings_by_updated stops after about
 * 100 / share rows. */
static void q_region(int i, char *req, size_t cap)
{
  snprintf(req, cap,
           "{\"Filters\":{\"Region\":[{\"Value\":\"%s\",\"Comparison\":"
           "\"EQUALS\"}]},\"SortCriteria\":[{\"Field\":\"UpdatedAt\","
           "\"SortOrder\":\"desc\"}],\"MaxResults\":100}",
           regions[i % 8]);
}

static void q_account_only(int i, char *req, size_t cap)
{
  snprintf(req, cap,
           "{\"Filters\":{\"AwsAccountId\":[{\"Value\":\"%012u\","
           "\"Comparison\":\"EQUALS\"}]},\"SortCriteria\":[{\"Field\":"
           "\"UpdatedAt\",\"SortOrder\":\"desc\"}],\"MaxResults\":100}",
           100000000u + (unsigned)(i * 11) % 50);
}

static void q_wf_new(int i, char *req, size_t cap)
{
  (void)i;
  snprintf(req, cap,
           "{\"Filters\":{\"WorkflowStatus\":[{\"Value\":\"NEW\","
           "\"Comparison\":\"EQUALS\"}]},\"SortCriteria\":[{\"Field\":"
           "\"UpdatedAt\",\"SortOrder\":\"desc\"}],\"MaxResults\":100}");
}

static void q_sev_active(int i, char *req, size_t cap)
{
  snprintf(req, cap,
           "{\"Filters\":{\"SeverityLabel\":[{\"Value\":\"%s\","
           "\"Comparison\":\"EQUALS\"}],\"RecordState\":[{\"Value\":"
           "\"ACTIVE\",\"Comparison\":\"EQUALS\"}]},\"SortCriteria\":[{"
           "\"Field\":\"UpdatedAt\",\"SortOrder\":\"desc\"}],"
           "\"MaxResults\":100}",
           sev[i % 5]);
}

static void q_region_notwf(int i, char *req, size_t cap)
{
  snprintf(req, cap,
           "{\"Filters\":{\"Region\":[{\"Value\":\"%s\",\"Comparison\":"
           "\"EQUALS\"}],\"WorkflowStatus\":[{\"Value\":\"RESOLVED\","
           "\"Comparison\":\"NOT_EQUALS\"}]},\"SortCriteria\":[{"
           "\"Field\":\"UpdatedAt\",\"SortOrder\":\"desc\"}],"
           "\"MaxResults\":100}",
           regions[(i + 5) % 8]);
}

/* The second page of q_region. */
static void q_region_page2(int i, char *req, size_t cap)
{
  char first[8192], *out = NULL;
  size_t len = 0;
  q_region(i, first, sizeof(first));
  req[0] = '\0';
  if(certhub_findings_query_json(page_store, first, strlen(first), &out, &len))
    return;
  const char *t = strstr(out, "\"NextToken\":\"");
  if(t) {
    t += 13;
    size_t tl = strcspn(t, "\"");
    snprintf(first + strlen(first) - 1, sizeof(first) - strlen(first) + 1,
             ",\"NextToken\":\"%.*s\"}", (int)tl, t);
  }
  snprintf(req, cap, "%s", first);
  free(out);
}

static void i_severity(int i, char *req, size_t cap)
{
  (void)i;
  snprintf(req, cap, "{\"GroupByAttribute\":\"SeverityLabel\"}");
}

static void i_severity_active(int i, char *req, size_t cap)
{
  (void)i;
  snprintf(req, cap,
           "{\"GroupByAttribute\":\"SeverityLabel\",\"Filters\":{"
           "\"RecordState\":[{\"Value\":\"ACTIVE\",\"Comparison\":"
           "\"EQUALS\"}]}}");
}

static void i_account_failed(int i, char *req, size_t cap)
{
  (void)i;
  snprintf(req, cap,
           "{\"GroupByAttribute\":\"AwsAccountId\",\"Filters\":{"
           "\"ComplianceStatus\":[{\"Value\":\"FAILED\",\"Comparison\":"
           "\"EQUALS\"}]}}");
}

static int count_findings(certhub_store *s)
{
  char *out = NULL;
  size_t len = 0;
  const char *req = "{\"GroupByAttribute\":\"RecordState\"}";
  int n = 0;
  if(certhub_findings_insight_json(s, req, strlen(req), &out, &len))
    return -1;
  for(const char *p = out; (p = strstr(p, "\"Count\":")); p += 8)
    n += atoi(p + 8);
  free(out);
  return n;
}

int main(int argc, char **argv)
{
  int n = argc > 1 ? atoi(argv[1]) : 1000000;
  int reps = argc > 3 ? atoi(argv[3]) : 50;
  char dir[256], db[300];
  if(n < 100 || n > 10000000 || reps < 1 || reps > 100000) {
    fprintf(stderr, "usage: bench_findings_query [N >= 100] [DIR] [REPS]\n");
    return 2;
  }
  setenv("CERTHUB_NOW", "2026-11-23T10:00:00Z", 1);
  if(argc > 2)
    snprintf(dir, sizeof(dir), "%s", argv[2]);
  else {
    snprintf(dir, sizeof(dir), "/tmp/bench_findings_query.XXXXXX");
    if(!mkdtemp(dir))
      return 1;
  }
  snprintf(db, sizeof(db), "%s/findings.db", dir);
  certhub_store *s = NULL;
  char *err = NULL;
  if(certhub_store_open(db, &s, &err)) {
    fprintf(stderr, "bench_findings_query: %s\n", err ? err : "?");
    free(err);
    return 1;
  }
  int rc = 0;
  printf("| phase | findings | wall | rate |\n| --- | --- | --- | --- |\n");
  int have = count_findings(s);
  if(getenv("CH_BENCH_ADD") && have == n) {
    int k = atoi(getenv("CH_BENCH_ADD"));
    /* CH_BENCH_PRAGMA: SQL run first (e.g. a cache_size to compare). */
    const char *pr = getenv("CH_BENCH_PRAGMA");
    if(pr && sqlite3_exec(ch_sq_db(s), pr, NULL, NULL, NULL) != SQLITE_OK) {
      fprintf(stderr, "bench_findings_query: %s: %s\n", pr,
              sqlite3_errmsg(ch_sq_db(s)));
      certhub_store_close(s);
      return 1;
    }
    rc = k < 100 || k > n ? 2 : add_findings(s, have, k);
    if(rc == 2)
      fprintf(stderr, "bench_findings_query: CH_BENCH_ADD: 100..%d\n", n);
    certhub_store_close(s);
    return rc;
  }
  if(have != n) {
    if(have > 0) {
      fprintf(stderr, "bench_findings_query: %s holds %d findings, not %d\n",
              db, have, n);
      certhub_store_close(s);
      return 1;
    }
    if(getenv("CH_BENCH_WITHOUT_16")) {
      fprintf(stderr, "bench_findings_query: CH_BENCH_WITHOUT_16 is not "
                      "available since migration 19 (the importer writes "
                      "findings_counts itself)\n");
      certhub_store_close(s);
      return 2;
    }
    rc = import_all(s, n);
    if(getenv("CH_BENCH_IMPORT_ONLY")) {
      certhub_store_close(s);
      return rc;
    }
  }
  else
    printf("| import | %d | (reused %s) | |\n\n", n, db);
  page_store = s;
  /* CH_BENCH_NO_CACHE=1: every query makes choose_plan's pass over
   * findings_counts (the cache answers repeated requests otherwise). */
  if(getenv("CH_BENCH_NO_CACHE"))
    ch_sq_findq_cache = 0;
  if(!rc) {
    printf("| query (%d runs each) | p50 ms | p95 ms | max ms | CPU p50 ms "
           "| CPU p95 ms | rows |\n"
           "| --- | --- | --- | --- | --- | --- | --- |\n",
           reps);
    fflush(stdout);
    rc = shape(s,
               "SeverityLabel = X, WorkflowStatus = Y, RecordState = ACTIVE; "
               "sort UpdatedAt desc; 100",
               certhub_findings_query_json, reps, q_three) ||
         shape(s, "the same, second page (NextToken)",
               certhub_findings_query_json, reps, q_page2) ||
         shape(s,
               "AwsAccountId = X, ComplianceStatus = FAILED, Region = Y; "
               "sort SeverityLabel desc; 100",
               certhub_findings_query_json, reps, q_account) ||
         shape(s,
               "AwsAccountId = X, ComplianceStatus = FAILED, Region = Y; "
               "sort UpdatedAt desc; 100",
               certhub_findings_query_json, reps, q_account_upd) ||
         shape(s,
               "Region = X, ResourceType = Y, WorkflowStatus = NEW; "
               "sort SeverityLabel desc; 100",
               certhub_findings_query_json, reps, q_region_type) ||
         shape(s,
               "Title PREFIX, ResourceType = X, SeverityLabel NOT_EQUALS; "
               "sort Title asc; 100",
               certhub_findings_query_json, reps, q_prefix) ||
         shape(s,
               "WorkflowStatus NOT_EQUALS x2, ResourceTags env = prod, "
               "UpdatedAt DateRange; sort UpdatedAt desc; 100",
               certhub_findings_query_json, reps, q_negative) ||
         shape(s, "broad: Region = X; sort UpdatedAt desc; 100",
               certhub_findings_query_json, reps, q_region) ||
         shape(s, "broad: the same, second page (NextToken)",
               certhub_findings_query_json, reps, q_region_page2) ||
         shape(s, "broad: AwsAccountId = X; sort UpdatedAt desc; 100",
               certhub_findings_query_json, reps, q_account_only) ||
         shape(s, "broad: WorkflowStatus = NEW; sort UpdatedAt desc; 100",
               certhub_findings_query_json, reps, q_wf_new) ||
         shape(s,
               "broad: SeverityLabel = X, RecordState = ACTIVE; "
               "sort UpdatedAt desc; 100",
               certhub_findings_query_json, reps, q_sev_active) ||
         shape(s,
               "broad: Region = X, WorkflowStatus NOT_EQUALS RESOLVED; "
               "sort UpdatedAt desc; 100",
               certhub_findings_query_json, reps, q_region_notwf) ||
         shape(s, "insight: GroupBy SeverityLabel",
               certhub_findings_insight_json, reps, i_severity) ||
         shape(s, "insight: GroupBy SeverityLabel, RecordState = ACTIVE",
               certhub_findings_insight_json, reps, i_severity_active) ||
         shape(s, "insight: GroupBy AwsAccountId, ComplianceStatus = FAILED",
               certhub_findings_insight_json, reps, i_account_failed);
  }
  certhub_store_close(s);
  if(argc <= 2) {
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if(system(cmd) != 0)
      fprintf(stderr, "bench_findings_query: could not remove %s\n", dir);
  }
  return rc;
}
