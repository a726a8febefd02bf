/*
 * STARTTLS dialects against recorded server transcripts.
 *
 * Every .txt file in tests/data/starttls/ holds cases in this format, one
 * directive a line ('#' comments and blank lines are skipped):
 *
 *   case NAME          starts a case
 *   dialect NAME       scheme name for ch_starttls_for_scheme() (required)
 *   host NAME          host passed to start() (default "mail.example.test")
 *   S: TEXT            the server sends TEXT followed by CRLF
 *   S+ TEXT            the server sends TEXT as is (no line ending)
 *   S* N TEXT          the server sends TEXT N times (garbage floods)
 *   C: TEXT            the client must have queued exactly TEXT CRLF since the
 *                      previous C line (or since start())
 *   C+ TEXT            same, without the CRLF
 *   expect more        the dialect still wants input
 *   expect done [rest=N]   it finished; N server bytes (default 0) were
 *                      left unconsumed for the TLS layer
 *   expect fail STATUS REASON   it failed with that status name
 *                      ("protocol", "error") and exactly that reason
 *
 * TEXT takes the escapes \r \n \t \\ and \xNN. Server bytes are fed when
 * the next C or expect line is reached, so a case reads like the
 * conversation. Each case runs four times: the pending bytes fed at once,
 * one byte per input() call, and in chunks of 3 and 7 bytes; the outcome
 * must be the same each time.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "probe/probe_int.h"

enum { ST_SEND, ST_CLIENT, ST_EXPECT };
enum { EX_MORE, EX_DONE, EX_FAIL };

typedef struct tstep {
  int kind;
  int line;
  uint8_t *data; /* ST_SEND / ST_CLIENT bytes; ST_EXPECT reason */
  size_t len;
  int expect; /* EX_* */
  size_t rest;
  char status[16];
} tstep;

typedef struct tcase {
  char file[256];
  char name[256];
  int line;
  char dialect[32];
  char host[128];
  tstep *steps;
  size_t n;
} tcase;

static tcase *cases;
static size_t n_cases;

static void *xrealloc(void *p, size_t n)
{
  p = realloc(p, n);
  assert_non_null(p);
  return p;
}

/* Decode TEXT escapes into a malloc'd buffer; repeat it rep times. */
static uint8_t *unescape(const char *s, size_t rep, const char *where,
                         size_t *out_n)
{
  size_t cap = strlen(s) + 1, n = 0;
  uint8_t *one = xrealloc(NULL, cap);
  for(const char *p = s; *p; p++) {
    if(*p != '\\') {
      one[n++] = (uint8_t)*p;
      continue;
    }
    p++;
    switch(*p) {
    case 'r':
      one[n++] = '\r';
      break;
    case 'n':
      one[n++] = '\n';
      break;
    case 't':
      one[n++] = '\t';
      break;
    case '\\':
      one[n++] = '\\';
      break;
    case 'x': {
      int hi = ch_hex_val(p[1]), lo = hi < 0 ? -1 : ch_hex_val(p[2]);
      if(hi < 0 || lo < 0)
        fail_msg("%s: bad \\x escape", where);
      one[n++] = (uint8_t)(hi << 4 | lo);
      p += 2;
      break;
    }
    default:
      fail_msg("%s: unknown escape \\%c", where, *p);
    }
  }
  uint8_t *all = xrealloc(NULL, n * rep + 1);
  for(size_t i = 0; i < rep; i++)
    memcpy(all + i * n, one, n);
  free(one);
  *out_n = n * rep;
  return all;
}

static tstep *add_step(tcase *c, int kind, int line)
{
  c->steps = xrealloc(c->steps, (c->n + 1) * sizeof(*c->steps));
  tstep *s = &c->steps[c->n++];
  memset(s, 0, sizeof(*s));
  s->kind = kind;
  s->line = line;
  return s;
}

/* Copy a directive's value; a value that does not fit is a bad file. */
static void copy_field(char *dst, size_t size, const char *src,
                       const char *where)
{
  size_t n = strlen(src);
  if(n >= size)
    fail_msg("%s: value longer than %zu bytes", where, size - 1);
  memcpy(dst, src, n + 1);
}

static void load_file(const char *path)
{
  FILE *fp = fopen(path, "r");
  if(!fp)
    fail_msg("cannot open %s", path);
  char buf[8192], where[512];
  int line = 0;
  tcase *c = NULL;
  while(fgets(buf, sizeof(buf), fp)) {
    line++;
    snprintf(where, sizeof(where), "%s:%d", path, line);
    size_t l = strlen(buf);
    if(l && buf[l - 1] == '\n')
      buf[--l] = '\0';
    if(!l || buf[0] == '#')
      continue;
    if(!strncmp(buf, "case ", 5)) {
      cases = xrealloc(cases, (n_cases + 1) * sizeof(*cases));
      c = &cases[n_cases++];
      memset(c, 0, sizeof(*c));
      snprintf(c->file, sizeof(c->file), "%s", path);
      copy_field(c->name, sizeof(c->name), buf + 5, where);
      snprintf(c->host, sizeof(c->host), "mail.example.test");
      c->line = line;
      continue;
    }
    if(!c)
      fail_msg("%s: directive before the first case", where);
    if(!strncmp(buf, "dialect ", 8))
      copy_field(c->dialect, sizeof(c->dialect), buf + 8, where);
    else if(!strncmp(buf, "host ", 5))
      copy_field(c->host, sizeof(c->host), buf + 5, where);
    else if(!strncmp(buf, "S: ", 3) || !strncmp(buf, "C: ", 3)) {
      tstep *s = add_step(c, buf[0] == 'S' ? ST_SEND : ST_CLIENT, line);
      char tmp[8200];
      snprintf(tmp, sizeof(tmp), "%s\\r\\n", buf + 3);
      s->data = unescape(tmp, 1, where, &s->len);
    }
    else if(!strncmp(buf, "S+ ", 3) || !strncmp(buf, "C+ ", 3)) {
      tstep *s = add_step(c, buf[0] == 'S' ? ST_SEND : ST_CLIENT, line);
      s->data = unescape(buf + 3, 1, where, &s->len);
    }
    else if(!strncmp(buf, "S* ", 3)) {
      char *end;
      unsigned long rep = strtoul(buf + 3, &end, 10);
      if(*end != ' ' || !rep || rep > 1000000)
        fail_msg("%s: bad repeat count", where);
      tstep *s = add_step(c, ST_SEND, line);
      s->data = unescape(end + 1, rep, where, &s->len);
    }
    else if(!strcmp(buf, "expect more"))
      add_step(c, ST_EXPECT, line)->expect = EX_MORE;
    else if(!strncmp(buf, "expect done", 11)) {
      tstep *s = add_step(c, ST_EXPECT, line);
      s->expect = EX_DONE;
      if(buf[11] && sscanf(buf + 11, " rest=%zu", &s->rest) != 1)
        fail_msg("%s: bad expect done", where);
    }
    else if(!strncmp(buf, "expect fail ", 12)) {
      tstep *s = add_step(c, ST_EXPECT, line);
      s->expect = EX_FAIL;
      const char *st = buf + 12, *sp = strchr(st, ' ');
      if(!sp || (size_t)(sp - st) >= sizeof(s->status))
        fail_msg("%s: expect fail STATUS REASON", where);
      memcpy(s->status, st, (size_t)(sp - st));
      s->data = (uint8_t *)strdup(sp + 1);
      s->len = strlen(sp + 1);
    }
    else
      fail_msg("%s: unknown directive '%s'", where, buf);
  }
  fclose(fp);
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_all(void)
{
  const char *base = getenv("CERTHUB_TEST_DATA");
  assert_non_null(base);
  char dir[1024];
  snprintf(dir, sizeof(dir), "%s/starttls", base);
  DIR *d = opendir(dir);
  if(!d)
    fail_msg("cannot open %s", dir);
  char **names = NULL;
  size_t nn = 0;
  struct dirent *e;
  while((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if(l > 4 && !strcmp(e->d_name + l - 4, ".txt")) {
      names = xrealloc(names, (nn + 1) * sizeof(*names));
      names[nn] = xrealloc(NULL, strlen(dir) + l + 2);
      sprintf(names[nn++], "%s/%s", dir, e->d_name);
    }
  }
  closedir(d);
  qsort(names, nn, sizeof(*names), cmp_str);
  for(size_t i = 0; i < nn; i++) {
    load_file(names[i]);
    free(names[i]);
  }
  free(names);
}

static void free_all(void)
{
  for(size_t i = 0; i < n_cases; i++) {
    for(size_t j = 0; j < cases[i].n; j++)
      free(cases[i].steps[j].data);
    free(cases[i].steps);
  }
  free(cases);
  cases = NULL;
  n_cases = 0;
}

static char *escaped(const uint8_t *p, size_t n)
{
  char *s = xrealloc(NULL, n * 4 + 1), *o = s;
  for(size_t i = 0; i < n; i++)
    o += p[i] >= 0x20 && p[i] < 0x7f ? sprintf(o, "%c", p[i])
                                     : sprintf(o, "\\x%02x", p[i]);
  *o = '\0';
  return s;
}

/* Run one case feeding at most `chunk` new bytes per input() call. */
static void run_case(const tcase *c, size_t chunk)
{
  const ch_starttls_ops *ops = ch_starttls_for_scheme(c->dialect);
  if(!ops)
    fail_msg("%s:%d: unknown dialect '%s'", c->file, c->line, c->dialect);
  void *st = calloc(1, ops->state_size);
  assert_non_null(st);
  ch_buf out;
  ch_buf_init(&out, 1 << 20);
  ch_fail f = {0};
  ch_step r = ops->start(st, c->host, &out, &f);
  /* Server bytes pend[off..plen) are not consumed yet; avail of them were
   * offered to input(). */
  uint8_t *pend = NULL;
  size_t plen = 0, off = 0, avail = 0;

  for(size_t k = 0; k < c->n; k++) {
    const tstep *s = &c->steps[k];
    char where[1024];
    snprintf(where, sizeof(where), "%s:%d (case %s, chunk %zu)", c->file,
             s->line, c->name, chunk);
    if(s->kind == ST_SEND) {
      if(off) {
        memmove(pend, pend + off, plen - off);
        plen -= off;
        off = 0;
      }
      pend = xrealloc(pend, plen + s->len + 1);
      memcpy(pend + plen, s->data, s->len);
      plen += s->len;
      continue;
    }
    /* Feed what the server sent so far. */
    while(r == CH_STEP_MORE && off + avail < plen) {
      size_t left = plen - off;
      avail = left - avail > chunk ? avail + chunk : left;
      size_t used = SIZE_MAX;
      r = ops->input(st, pend + off, avail, &used, &out, &f);
      if(r == CH_STEP_FAIL)
        break;
      if(used > avail)
        fail_msg("%s: input() used %zu of %zu bytes", where, used, avail);
      off += used;
      avail -= used;
    }
    if(s->kind == ST_CLIENT) {
      if(out.len != s->len || (s->len && memcmp(out.data, s->data, s->len))) {
        char *got = escaped((const uint8_t *)out.data, out.len);
        char *want = escaped(s->data, s->len);
        fail_msg("%s: client sent '%s', expected '%s' (step %d, reason "
                 "'%s')",
                 where, got, want, (int)r, r == CH_STEP_FAIL ? f.reason : "");
      }
      ch_buf_reset(&out);
      continue;
    }
    static const char *const names[] = {"more", "done", "fail"};
    if((int)r != s->expect)
      fail_msg("%s: got %s ('%s'), expected %s", where, names[r],
               r == CH_STEP_FAIL ? f.reason : "", names[s->expect]);
    if(r == CH_STEP_DONE && plen - off != s->rest)
      fail_msg("%s: %zu bytes left for TLS, expected %zu", where, plen - off,
               s->rest);
    if(r == CH_STEP_FAIL) {
      if(strcmp(certhub_probe_status_name(f.status), s->status))
        fail_msg("%s: status %s, expected %s", where,
                 certhub_probe_status_name(f.status), s->status);
      if(strcmp(f.reason, (const char *)s->data))
        fail_msg("%s: reason\n  '%s'\nexpected\n  '%s'", where, f.reason,
                 (const char *)s->data);
    }
  }
  free(pend);
  ch_buf_free(&out);
  free(st);
}

static void test_transcripts(void **state)
{
  (void)state;
  load_all();
  assert_true(n_cases >= 40);
  static const size_t chunks[] = {SIZE_MAX, 1, 3, 7};
  for(size_t i = 0; i < n_cases; i++)
    for(size_t j = 0; j < CH_ARRAY_LEN(chunks); j++)
      run_case(&cases[i], chunks[j]);
  /* Every case ends in an expectation, or it tests nothing. */
  for(size_t i = 0; i < n_cases; i++)
    if(!cases[i].n || cases[i].steps[cases[i].n - 1].kind != ST_EXPECT)
      fail_msg("%s:%d: case %s has no final expect line", cases[i].file,
               cases[i].line, cases[i].name);
  free_all();
}

static void test_table(void **state)
{
  (void)state;
  static const struct {
    const char *scheme, *dialect;
    uint16_t port;
  } want[] = {
      {"smtp", "smtp", 25},
      {"submission", "smtp", 587},
      {"imap", "imap", 143},
      {"pop3", "pop3", 110},
      {"ftp", "ftp", 21},
      {"ldap", "ldap", 389},
      {"xmpp", "xmpp", 5222},
      {"postgres", "postgres", 5432},
      {"postgresql", "postgres", 5432},
      {"SMTP", "smtp", 25},
  };
  for(size_t i = 0; i < CH_ARRAY_LEN(want); i++) {
    const ch_starttls_ops *o = ch_starttls_for_scheme(want[i].scheme);
    assert_non_null(o);
    assert_string_equal(o->name, want[i].dialect);
    assert_int_equal(o->default_port, want[i].port);
  }
  assert_null(ch_starttls_for_scheme("https"));
  assert_null(ch_starttls_for_scheme("smtps"));
  assert_null(ch_starttls_for_scheme(NULL));
  assert_null(ch_starttls_find("submission")); /* a scheme, not a dialect */
  assert_null(ch_starttls_find(""));
  assert_non_null(ch_starttls_find("Imap"));

  /* Every listed name is a dialect, and every dialect is listed. */
  const char *const *names = certhub_starttls_names();
  size_t n = 0;
  for(; names[n]; n++) {
    const ch_starttls_ops *o = ch_starttls_find(names[n]);
    assert_non_null(o);
    assert_string_equal(o->name, names[n]);
    assert_true(o->state_size > 0);
  }
  assert_int_equal(n, 7);
}

/* A server that floods one byte at a time forever is cut off at the cap,
 * with bounded state, in every dialect. */
static void test_flood(void **state)
{
  (void)state;
  const char *const *names = certhub_starttls_names();
  for(size_t i = 0; names[i]; i++) {
    const ch_starttls_ops *o = ch_starttls_find(names[i]);
    void *st = calloc(1, o->state_size);
    ch_buf out;
    ch_buf_init(&out, 1 << 16);
    ch_fail f = {0};
    ch_step r = o->start(st, "example.test", &out, &f);
    assert_int_equal(r, CH_STEP_MORE);
    /* A plausible opening so the flood is not rejected at once. */
    static const struct {
      const char *d, *open, *flood;
    } fl[] = {{"smtp", "220-", "x"},
              {"imap", "* OK hi\r\n", "* x\r\n"},
              {"pop3", "", "x"},
              {"ftp", "220-hi\r\n", "x\r\n"},
              {"ldap", "\x30\x84\x7f", "\xff"},
              {"xmpp", "<stream:stream>", " "},
              {"postgres", "", "N"}};
    const char *open = "", *flood = "x";
    for(size_t k = 0; k < CH_ARRAY_LEN(fl); k++)
      if(!strcmp(fl[k].d, names[i])) {
        open = fl[k].open;
        flood = fl[k].flood;
      }
    size_t used = 0;
    if(*open)
      r = o->input(st, (const uint8_t *)open, strlen(open), &used, &out, &f);
    size_t sent = 0, fl_n = strlen(flood);
    while(r == CH_STEP_MORE && sent < 10u << 20) {
      r = o->input(st, (const uint8_t *)flood, fl_n, &used, &out, &f);
      sent += fl_n;
    }
    if(r != CH_STEP_FAIL)
      fail_msg("%s: no failure after %zu flood bytes", names[i], sent);
    assert_true(f.status == CERTHUB_PROBE_PROTOCOL);
    assert_true(strlen(f.reason) > 10);
    ch_buf_free(&out);
    free(st);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_transcripts),
      cmocka_unit_test(test_flood),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
