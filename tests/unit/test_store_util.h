/*
 * Helpers shared by the store unit tests: hand-made certificates, a
 * temporary directory, and a list callback that flattens rows to strings.
 */
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "certhub/store.h"
#include "core/core.h"
#include "store/store_int.h"

#define T_NOW 1795428000 /* 2026-11-23T10:00:00Z */
#define T_DAY 86400

/* A certificate built by hand; seed makes sha256 (and so the id) unique.
 * subj/iss pick the subject and issuer name hashes. */
typedef struct tcert {
  certhub_cert c;
  char cn[64];
  char subject[96];
  char issuer[96];
  uint8_t der[64];
  certhub_san sans[4];
} tcert;

static inline void tcert_init(tcert *t, unsigned seed, const char *cn,
                              int64_t not_after, char subj, char iss)
{
  memset(t, 0, sizeof(*t));
  for(int i = 0; i < 32; i++)
    t->c.sha256[i] =
        (uint8_t)(seed * 37 + (unsigned)i * 11 + (i == 0 ? seed : 0));
  t->c.sha256[0] = (uint8_t)seed;
  t->c.sha256[1] = (uint8_t)(seed >> 8);
  for(int i = 0; i < 20; i++)
    t->c.sha1[i] = (uint8_t)(seed + 100 + (unsigned)i);
  ch_hex_encode(t->c.sha256, 32, t->c.sha256_hex);
  ch_hex_encode(t->c.sha1, 20, t->c.sha1_hex);
  memcpy(t->c.id, t->c.sha256_hex, CERTHUB_ID_LEN);
  snprintf(t->cn, sizeof(t->cn), "%s", cn);
  snprintf(t->subject, sizeof(t->subject), "CN=%s,O=Test %c", cn, subj);
  snprintf(t->issuer, sizeof(t->issuer), "CN=Issuer %c,O=Test", iss);
  t->c.subject = t->subject;
  t->c.common_name = t->cn;
  t->c.issuer = t->issuer;
  t->c.issuer_cn = "Issuer";
  t->c.serial = "0A1B2C";
  t->c.not_before = not_after - 90 * T_DAY;
  t->c.not_after = not_after;
  t->c.key_alg = "EC";
  t->c.key_bits = 256;
  t->c.key_curve = "P-256";
  t->c.sig_alg = "ecdsa-with-SHA256";
  t->c.path_len = -1;
  memset(t->c.subject_hash, subj, 64);
  memset(t->c.issuer_hash, iss, 64);
  for(size_t i = 0; i < sizeof(t->der); i++)
    t->der[i] = (uint8_t)(seed ^ i);
  t->c.der = t->der;
  t->c.der_len = sizeof(t->der);
}

static inline void tcert_sans(tcert *t, const char *a, const char *b)
{
  size_t n = 0;
  if(a)
    t->sans[n++] = (certhub_san){CERTHUB_SAN_DNS, a};
  if(b)
    t->sans[n++] = (certhub_san){CERTHUB_SAN_DNS, b};
  t->c.sans = t->sans;
  t->c.n_sans = n;
}

typedef struct tdir {
  char path[128];
  char db[192];
} tdir;

static inline void tdir_make(tdir *d)
{
  snprintf(d->path, sizeof(d->path), "/tmp/test_store.XXXXXX");
  assert_non_null(mkdtemp(d->path));
  snprintf(d->db, sizeof(d->db), "%s/sub/inv.db", d->path);
}

static inline void tdir_remove(tdir *d)
{
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
  assert_int_equal(system(cmd), 0);
}

static inline certhub_store *t_open(const char *path)
{
  certhub_store *s = NULL;
  char *err = NULL;
  ch_err rc = certhub_store_open(path, &s, &err);
  if(rc)
    fail_msg("open %s: %s", path, err ? err : "?");
  free(err);
  return s;
}

static inline int64_t t_put(certhub_store *s, tcert *t, int64_t src,
                            unsigned pos, int64_t scan, int64_t now)
{
  int64_t id = 0;
  ch_err rc =
      certhub_store_put_cert(s, &t->c, NULL, src, pos, scan, now, &id, NULL);
  if(rc)
    fail_msg("put: %s", certhub_store_errmsg(s));
  return id;
}

/* One listed row, flattened. */
typedef struct trow {
  int64_t rowid;
  char id[20];
  char status[16];
  char arn[128];
  char account[32], region[32];
  int64_t first_seen, last_seen, days;
  int path_len;
  char ku[128], eku[128];
  char sans[256];    /* "DNS:a|DNS:b" */
  char tags[256];    /* "k=v;k2=v2" */
  char sources[256]; /* "+/a/b#1;-/c#2" (+ present) */
  char issuers[128]; /* "id,id" */
  char replaced_by[128];
  char replaces[128];
} trow;

typedef struct trows {
  trow r[64];
  size_t n;
} trows;

static inline void tjoin(char *buf, size_t len, const char *sep,
                         const char *item)
{
  size_t used = strlen(buf);
  /* Truncation is fine here (test rows are short); using the result keeps
   * -Wformat-truncation quiet in -O3 builds. */
  if(snprintf(buf + used, len - used, "%s%s", used ? sep : "", item) < 0)
    buf[used] = '\0';
}

static inline ch_err t_collect(void *ctx, const certhub_cert_row *row)
{
  trows *rs = ctx;
  if(rs->n >= CH_ARRAY_LEN(rs->r))
    return CH_ERR_TOOBIG;
  trow *r = &rs->r[rs->n++];
  char item[512];
  memset(r, 0, sizeof(*r));
  r->rowid = row->rowid;
  snprintf(r->id, sizeof(r->id), "%s", row->id);
  snprintf(r->status, sizeof(r->status), "%s", row->status);
  snprintf(r->arn, sizeof(r->arn), "%s", row->arn);
  snprintf(r->account, sizeof(r->account), "%s", row->account);
  snprintf(r->region, sizeof(r->region), "%s", row->region);
  snprintf(r->ku, sizeof(r->ku), "%s", row->key_usage);
  snprintf(r->eku, sizeof(r->eku), "%s", row->ext_key_usage);
  r->first_seen = row->first_seen;
  r->last_seen = row->last_seen;
  r->days = row->days_to_expiry;
  r->path_len = row->path_len;
  for(size_t i = 0; i < row->n_sans; i++) {
    snprintf(item, sizeof(item), "%s:%s",
             certhub_san_type_name(row->sans[i].type), row->sans[i].value);
    tjoin(r->sans, sizeof(r->sans), "|", item);
  }
  for(size_t i = 0; i < row->n_tags; i++) {
    snprintf(item, sizeof(item), "%s=%s", row->tags[i].key,
             row->tags[i].value);
    tjoin(r->tags, sizeof(r->tags), ";", item);
  }
  for(size_t i = 0; i < row->n_sources; i++) {
    snprintf(item, sizeof(item), "%c%s#%u",
             row->sources[i].present ? '+' : '-', row->sources[i].locator,
             row->sources[i].position);
    tjoin(r->sources, sizeof(r->sources), ";", item);
  }
  for(size_t i = 0; i < row->n_issuer_ids; i++)
    tjoin(r->issuers, sizeof(r->issuers), ",", row->issuer_ids[i]);
  for(size_t i = 0; i < row->n_replaced_by; i++)
    tjoin(r->replaced_by, sizeof(r->replaced_by), ",", row->replaced_by[i]);
  for(size_t i = 0; i < row->n_replaces; i++)
    tjoin(r->replaces, sizeof(r->replaces), ",", row->replaces[i]);
  return CH_OK;
}

static inline void t_list(certhub_store *s, const certhub_filter *f,
                          int64_t now, trows *rs)
{
  memset(rs, 0, sizeof(*rs));
  ch_err rc = certhub_store_list(s, f, now, t_collect, rs);
  if(rc)
    fail_msg("list: %s", certhub_store_errmsg(s));
}

/* The row for rowid, or fail. */
static inline const trow *t_row(certhub_store *s, int64_t rowid, int64_t now,
                                trows *rs)
{
  certhub_filter f = {.rowid = rowid};
  t_list(s, &f, now, rs);
  assert_int_equal(rs->n, 1);
  return &rs->r[0];
}

static inline char *t_query(certhub_store *s, const char *sql)
{
  char *v = NULL;
  ch_err rc = ch_store_test_exec(s, sql, &v);
  if(rc)
    fail_msg("%s: %s", sql, certhub_store_errmsg(s));
  return v;
}

static inline void t_query_eq(certhub_store *s, const char *sql,
                              const char *want)
{
  char *v = t_query(s, sql);
  assert_non_null(v);
  assert_string_equal(v, want);
  free(v);
}

#endif
