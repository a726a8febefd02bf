/*
 * certhub_event: one event on the bus, in the EventBridge envelope
 * (version "0", id, detail-type, source, account, time, region, resources,
 * detail). This header is the contract between the producers of events
 * (lifecycle evaluation, `certhub events put`, schedules) and the bus that
 * stores and routes them (lib/rules, lib/store).
 *
 * Ownership: every pointer in a certhub_event is borrowed from the caller
 * for the duration of the call it is passed to.
 */
#ifndef CERTHUB_EVENT_H
#define CERTHUB_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certhub.h"

#define CERTHUB_DEFAULT_BUS "default"
#define CERTHUB_DEFAULT_EVENT_SOURCE "certhub.acm"

/* ACM's detail-types, as EventBridge delivers them. */
#define CERTHUB_DT_APPROACHING "ACM Certificate Approaching Expiration"
#define CERTHUB_DT_EXPIRED "ACM Certificate Expired"
#define CERTHUB_DT_AVAILABLE "ACM Certificate Available"
#define CERTHUB_DT_RENEWAL_ACTION "ACM Certificate Renewal Action Required"
#define CERTHUB_DT_SCHEDULED "Scheduled Event"

typedef struct certhub_event {
  const char *bus;         /* NULL: CERTHUB_DEFAULT_BUS */
  const char *id;          /* NULL: a new UUID v4 is generated */
  const char *source;      /* e.g. "certhub.acm" */
  const char *detail_type; /* e.g. CERTHUB_DT_APPROACHING */
  const char *account;     /* 12 digits */
  const char *region;
  int64_t time;            /* seconds since the epoch, UTC */
  const char *const *resources; /* resource names (ARNs) */
  size_t n_resources;
  const char *detail;      /* JSON object text */
  /* NULL, or a key that makes the event stored at most once: a second put
   * with the same key stores nothing and reports it (lifecycle uses
   * "<kind>:<certificate sha256>:<YYYY-MM-DD>" and the like, so an event
   * due once per day is stored once per day, across restarts). */
  const char *dedupe_key;
} certhub_event;

#endif
