/*
 * Private to the bus files of lib/rules (bus.c, bus_route.c): a target's
 * delivery policy and the internal put that also returns the archive seq.
 */
#ifndef CH_BUS_INT_H
#define CH_BUS_INT_H

#include <jansson.h>

#include "certhub/bus.h"
#include "core/core.h"

/* What the bus itself reads from a target object. */
typedef struct ch_bus_policy {
  unsigned max_retries; /* MaximumRetryAttempts */
  int64_t max_age;      /* MaximumEventAgeInSeconds */
  bool dead_letter;     /* DeadLetterConfig present */
} ch_bus_policy;

/* Parse Id, Type, RetryPolicy and DeadLetterConfig of target (an object).
 * On error err gets a message naming the key. */
ch_err ch_bus_policy_parse(const json_t *target, ch_bus_policy *p, char *err,
                           size_t errlen);

/* certhub_bus_put, also giving the new row's seq (0 when not stored),
 * with the envelope capped at max bytes (0: CERTHUB_EVENT_MAX_LEN). */
ch_err ch_bus_put(certhub_store *s, const certhub_event *ev, int64_t now,
                  size_t max, char id_out[37], bool *stored, int64_t *seq);

/* Name checks: bus [A-Za-z0-9._/-]{1,256}, rule [A-Za-z0-9._-]{1,64}. */
bool ch_bus_name_ok(const char *name);
bool ch_bus_rule_name_ok(const char *name);

#endif
