#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "certhub/time.h"
#include "core/core.h"

static void time_roundtrip(void **state)
{
  (void)state;
  int64_t t;
  char buf[32];
  assert_int_equal(certhub_time_parse("2026-11-23T10:00:00Z", &t), CH_OK);
  assert_int_equal(t, 1795428000);
  certhub_time_format(t, buf, sizeof(buf));
  assert_string_equal(buf, "2026-11-23T10:00:00Z");
  assert_int_equal(certhub_time_parse("2026-11-23T12:00:00+02:00", &t), CH_OK);
  assert_int_equal(t, 1795428000);
  assert_int_equal(certhub_time_parse("2026-11-23T10:00:00.123Z", &t), CH_OK);
  assert_int_equal(t, 1795428000);
  certhub_time_format(-1, buf, sizeof(buf));
  assert_string_equal(buf, "1969-12-31T23:59:59Z");
  certhub_date_format(951782400, buf, sizeof(buf)); /* leap day 2000 */
  assert_string_equal(buf, "2000-02-29");
  /* Out of RFC 3339's years: clamped, never overflowing. */
  certhub_time_format(INT64_MIN, buf, sizeof(buf));
  assert_string_equal(buf, "0000-01-01T00:00:00Z");
  certhub_time_format(INT64_MAX, buf, sizeof(buf));
  assert_string_equal(buf, "9999-12-31T23:59:59Z");
  certhub_date_format(INT64_MIN, buf, sizeof(buf));
  assert_string_equal(buf, "0000-01-01");
}

static void time_rejects(void **state)
{
  (void)state;
  int64_t t;
  const char *bad[] = {"", "2026-11-23", "2026-13-01T00:00:00Z",
                       "2026-02-29T00:00:00Z", "2026-11-23T24:00:00Z",
                       "2026-11-23T10:00:00", "2026-11-23T10:00:00Zjunk",
                       "2026-11-23T10:00:00+2:00", "x026-11-23T10:00:00Z"};
  for(size_t i = 0; i < CH_ARRAY_LEN(bad); i++)
    assert_int_equal(certhub_time_parse(bad[i], &t), CH_ERR_PARSE);
}

static void days_to_expiry_is_calendar_days(void **state)
{
  (void)state;
  int64_t now, na;
  certhub_time_parse("2026-11-22T10:00:00Z", &now);
  certhub_time_parse("2026-12-06T01:00:00Z", &na);
  assert_int_equal(certhub_days_to_expiry(na, now), 14);
  certhub_time_parse("2026-11-22T23:59:59Z", &na);
  assert_int_equal(certhub_days_to_expiry(na, now), 0);
  certhub_time_parse("2026-11-21T23:59:59Z", &na);
  assert_int_equal(certhub_days_to_expiry(na, now), -1);
}

static void buf_cap(void **state)
{
  (void)state;
  ch_buf b;
  ch_buf_init(&b, 8);
  assert_int_equal(ch_buf_addstr(&b, "12345678"), CH_OK);
  assert_string_equal(b.data, "12345678");
  assert_int_equal(ch_buf_addc(&b, 'x'), CH_ERR_TOOBIG);
  assert_null(b.data); /* freed on failure */
  ch_buf_init(&b, 100);
  assert_int_equal(ch_buf_printf(&b, "%d-%s", 42, "x"), CH_OK);
  char *s = ch_buf_take(&b);
  assert_string_equal(s, "42-x");
  free(s);
}

static void arena_cap(void **state)
{
  (void)state;
  struct ch_arena *a = ch_arena_new(20000);
  assert_non_null(a);
  for(int i = 0; i < 100; i++)
    assert_non_null(ch_arena_alloc(a, 64));
  char *big = ch_arena_alloc(a, 5000); /* beyond one chunk */
  assert_non_null(big);
  memset(big, 1, 5000);
  assert_null(ch_arena_alloc(a, 9000)); /* 20400 > cap */
  assert_string_equal(ch_arena_printf(a, "%s=%d", "k", 7), "k=7");
  ch_arena_reset(a);
  assert_int_equal(ch_arena_used(a), 0);
  assert_non_null(ch_arena_alloc(a, 9000));
  ch_arena_free(a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(time_roundtrip),
      cmocka_unit_test(time_rejects),
      cmocka_unit_test(days_to_expiry_is_calendar_days),
      cmocka_unit_test(buf_cap),
      cmocka_unit_test(arena_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
