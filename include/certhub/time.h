/*
 * certhub time helpers. All instants are int64 seconds since the Unix epoch,
 * UTC. No function here reads the local time zone.
 */
#ifndef CERTHUB_TIME_H
#define CERTHUB_TIME_H

#include <stdint.h>
#include <stddef.h>
#include "certhub.h"

/* Parse RFC 3339 ("2026-11-23T10:00:00Z", offsets and fractions accepted,
 * fraction dropped) into *out. CH_ERR_PARSE on anything else. */
ch_err certhub_time_parse(const char *s, int64_t *out /* OUT */);

/* Format t as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes). */
void certhub_time_format(int64_t t, char *buf, size_t len);

/* Format t as "YYYY-MM-DD" into buf (at least 11 bytes). */
void certhub_date_format(int64_t t, char *buf, size_t len);

/* Days from civil date (proleptic Gregorian) to 1970-01-01. */
int64_t certhub_days_from_civil(int64_t y, unsigned m, unsigned d);

/* DaysToExpiry as ACM counts it: whole UTC calendar days between the date
 * of now and the date of not_after. 0 on the last day, negative once the
 * date has passed. */
int64_t certhub_days_to_expiry(int64_t not_after, int64_t now);

/* Current instant: CERTHUB_NOW if set (validated by the caller), else
 * time(NULL). */
int64_t certhub_now(void);

#endif
