/* maxReceivesPerSecond bookings (lib/notify/throttle.c): each throttled
 * subscription keeps its own rate, also when ARNs collide in the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "notify/notify_int.h"

static ch_notify_throttle *fresh(void)
{
  ch_notify_throttle *t = calloc(1, sizeof(*t));
  assert_non_null(t);
  return t;
}

/* Two ARNs whose first slot is the same. */
static void colliding(char a[64], char b[64])
{
  char first[CH_NOTIFY_THROTTLE_SLOTS][64];
  static bool seen[CH_NOTIFY_THROTTLE_SLOTS];
  memset(seen, 0, sizeof(seen));
  for(int n = 0;; n++) {
    char arn[64];
    snprintf(arn, sizeof(arn), "arn:certhub:sns:local:0:t:sub-%d", n);
    size_t h = ch_notify_throttle_home(arn);
    if(seen[h]) {
      strcpy(a, first[h]);
      strcpy(b, arn);
      return;
    }
    seen[h] = true;
    strcpy(first[h], arn);
  }
}

static void test_rate_kept(void **state)
{
  (void)state;
  ch_notify_throttle *t = fresh();
  int64_t next = 0;
  const char *arn = "arn:certhub:sns:local:0:t:one";
  assert_true(ch_notify_throttle_ok(t, arn, 0, 1000, &next)); /* no limit */
  assert_true(ch_notify_throttle_ok(t, arn, 2, 1000, &next));
  assert_false(ch_notify_throttle_ok(t, arn, 2, 1499, &next));
  assert_int_equal(next, 1500);
  assert_true(ch_notify_throttle_ok(t, arn, 2, 1500, &next));
  free(t);
}

/* Before the table probed, b's booking evicted a's and a went again at
 * once: both over their rate. */
static void test_collision(void **state)
{
  (void)state;
  char a[64], b[64];
  colliding(a, b);
  assert_int_equal(ch_notify_throttle_home(a), ch_notify_throttle_home(b));
  ch_notify_throttle *t = fresh();
  int64_t next = 0;
  assert_true(ch_notify_throttle_ok(t, a, 1, 0, &next));
  assert_true(ch_notify_throttle_ok(t, b, 1, 10, &next));
  assert_false(ch_notify_throttle_ok(t, a, 1, 20, &next));
  assert_int_equal(next, 1000);
  assert_false(ch_notify_throttle_ok(t, b, 1, 30, &next));
  assert_int_equal(next, 1010);
  /* a's slot frees at 1000; b's later booking is still found past it */
  assert_true(ch_notify_throttle_ok(t, a, 1, 1000, &next));
  assert_false(ch_notify_throttle_ok(t, b, 1, 1005, &next));
  assert_true(ch_notify_throttle_ok(t, b, 1, 1010, &next));
  free(t);
}

/* Every slot booked by others: wait for the soonest, never go over. */
static void test_full(void **state)
{
  (void)state;
  ch_notify_throttle *t = fresh();
  int64_t next = 0;
  char arn[64];
  for(int n = 0; n < CH_NOTIFY_THROTTLE_SLOTS; n++) {
    snprintf(arn, sizeof(arn), "arn:certhub:sns:local:0:t:s%d", n);
    /* booked at n/2 ms: each until n/2 + 1000, all live at 500 */
    assert_true(ch_notify_throttle_ok(t, arn, 1, n / 2, &next));
  }
  assert_false(ch_notify_throttle_ok(t, "arn:x:late", 1, 500, &next));
  assert_int_equal(next, 1000); /* s0's and s1's bookings end first */
  assert_true(ch_notify_throttle_ok(t, "arn:x:late", 1, 1000, &next));
  free(t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rate_kept),
      cmocka_unit_test(test_collision),
      cmocka_unit_test(test_full),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
