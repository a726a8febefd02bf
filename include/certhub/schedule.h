/*
 * Rule schedules: EventBridge schedule expressions, evaluated in UTC.
 *
 *   rate(N minute|minutes|hour|hours|day|days)
 *     N >= 1; the unit is singular exactly when N is 1. A rate fires at
 *     anchor + k * period for k >= 1: never at the anchor itself. The anchor
 *     defaults to the Unix epoch (so rate(5 minutes) fires at :00, :05, ...
 *     and rate(1 day) at 00:00 UTC); set it to the rule's creation time with
 *     certhub_schedule_set_anchor() to count from there instead.
 *
 *   cron(Minutes Hours Day-of-month Month Day-of-week Year)
 *     As EventBridge (Quartz-derived). Items: values, a-b ranges (a > b wraps
 *     around, except in Year), lists with ',', '*', increments 'a/s',
 *     '*' '/s', 'a-b/s'. Month takes JAN-DEC, Day-of-week 1-7 = SUN-SAT or
 *     SUN-SAT (names case-insensitive). Exactly one of Day-of-month and
 *     Day-of-week is '?'. Day-of-month: 'L' (last day), 'LW' (last
 *     weekday), 'nW' (weekday nearest day n, never leaving the month; no
 *     fire in a month without day n). Day-of-week: 'L' alone (= 7, SAT),
 *     'nL' / 'FRIL' (last such weekday of the month), 'n#k' / 'MON#k'
 *     (k-th such weekday, k 1-5; no fire in a month without it). L, W and #
 *     must be the only item of their field. Year 1970-2199.
 *     Where EventBridge's documentation is silent we follow Quartz, its
 *     origin: increments are accepted in every field (also Day-of-week),
 *     'a/s' runs from a to the field's end, names and letters are
 *     case-insensitive, fields may be separated by runs of blanks; 'L-n'
 *     offsets are rejected.
 */
#ifndef CERTHUB_SCHEDULE_H
#define CERTHUB_SCHEDULE_H

#include <stdint.h>
#include "certhub.h"

typedef struct certhub_schedule certhub_schedule;

/* Longest expression accepted (EventBridge's ScheduleExpression limit). */
#define CERTHUB_SCHEDULE_MAX_LEN 256

/* Parse expr. On success *out is a new schedule (free with
 * certhub_schedule_free). On CH_ERR_PARSE / CH_ERR_TOOBIG, *errmsg (if not
 * NULL) gets a malloc'd message naming the expression, the field and the
 * problem, e.g. "cron(0 0 32 * ? *): day-of-month '32' out of range 1-31";
 * caller frees. */
ch_err certhub_schedule_parse(const char *expr,
                              certhub_schedule **out /* OUT */,
                              char **errmsg /* OUT, caller frees */);

/* First fire time strictly after `after` (Unix seconds, UTC) into *next.
 * CH_ERR_NOTFOUND when there is none (years past 2199, a year list in the
 * past, an impossible date such as Feb 30). The search is bounded: at most
 * the years up to 2199, skipping whole years and months that cannot match. */
ch_err certhub_schedule_next(const certhub_schedule *s, int64_t after,
                             int64_t *next /* OUT */);

/* Same, and on CH_ERR_NOTFOUND *errmsg (if not NULL) gets a malloc'd
 * message saying whether the schedule never fires at all or not anymore. */
ch_err certhub_schedule_next_msg(const certhub_schedule *s, int64_t after,
                                 int64_t *next /* OUT */,
                                 char **errmsg /* OUT, caller frees */);

/* Set the instant rate() schedules count from (no effect on cron). */
void certhub_schedule_set_anchor(certhub_schedule *s, int64_t anchor);

/* Period in seconds of a rate() schedule; 0 for cron(). */
int64_t certhub_schedule_period(const certhub_schedule *s);

/* The expression in canonical form (single spaces, upper-case names and
 * letters): parsing it again gives the same schedule. Borrowed; valid until
 * certhub_schedule_free. */
const char *certhub_schedule_expr(const certhub_schedule *s);

/* Safe on NULL. */
void certhub_schedule_free(certhub_schedule *s);

#endif
