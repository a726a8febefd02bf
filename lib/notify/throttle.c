/*
 * throttle.c: maxReceivesPerSecond (SNS throttlePolicy) for the delivery
 * engine: a fixed table of bookings, one per throttled subscription.
 *
 * Open addressing: a slot whose booking has passed is free again, so two
 * throttled subscriptions never share one (sharing would let each evict
 * the other's booking and both go over their rate). With every slot booked
 * by others, a subscription waits for the soonest to come free: late,
 * never over its rate. The table is bounded; 1024 subscriptions each
 * throttled within the same instant is far beyond one engine's load.
 */
#include <stdint.h>

#include "notify_int.h"

static uint64_t fnv(const char *s)
{
  uint64_t h = 1469598103934665603ULL;
  for(; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h | 1; /* 0 marks a free slot */
}

size_t ch_notify_throttle_home(const char *arn)
{
  return fnv(arn) % CH_NOTIFY_THROTTLE_SLOTS;
}

bool ch_notify_throttle_ok(ch_notify_throttle *t, const char *arn,
                           unsigned per_second, int64_t now, int64_t *next_ok)
{
  if(!per_second)
    return true;
  uint64_t h = fnv(arn);
  size_t start = h % CH_NOTIFY_THROTTLE_SLOTS;
  size_t take = CH_NOTIFY_THROTTLE_SLOTS;
  int64_t soonest = INT64_MAX;
  for(size_t k = 0; k < CH_NOTIFY_THROTTLE_SLOTS; k++) {
    size_t i = (start + k) % CH_NOTIFY_THROTTLE_SLOTS;
    if(t->slot[i].h == h) {
      if(t->slot[i].next_ok > now) {
        *next_ok = t->slot[i].next_ok;
        return false;
      }
      take = i; /* its own, expired booking */
      break;
    }
    if(!t->slot[i].h || t->slot[i].next_ok <= now) {
      if(take == CH_NOTIFY_THROTTLE_SLOTS)
        take = i;
      if(!t->slot[i].h)
        break; /* the probe chain ends: no later slot holds arn */
    }
    else if(t->slot[i].next_ok < soonest)
      soonest = t->slot[i].next_ok;
  }
  if(take == CH_NOTIFY_THROTTLE_SLOTS) {
    *next_ok = soonest;
    return false;
  }
  int64_t gap = 1000 / per_second;
  t->slot[take].h = h;
  t->slot[take].next_ok = now + (gap > 0 ? gap : 0);
  return true;
}
