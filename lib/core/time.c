#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certhub/time.h"

/* Howard Hinnant's civil-date algorithm: exact for the proleptic
 * Gregorian calendar, no time zone involved. */
int64_t certhub_days_from_civil(int64_t y, unsigned m, unsigned d)
{
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
  int64_t q = a / b;
  if((a % b != 0) && ((a < 0) != (b < 0)))
    q--;
  return q;
}

int64_t certhub_days_to_expiry(int64_t not_after, int64_t now)
{
  return floor_div(not_after, 86400) - floor_div(now, 86400);
}

static int digits(const char **p, int n, int *out)
{
  int v = 0;
  for(int i = 0; i < n; i++) {
    if(!isdigit((unsigned char)(*p)[i]))
      return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

ch_err certhub_time_parse(const char *s, int64_t *out)
{
  int y, mo, d, h, mi, se;
  const char *p = s;
  if(!s)
    return CH_ERR_PARSE;
  if(digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
     digits(&p, 2, &d))
    return CH_ERR_PARSE;
  if(*p != 'T' && *p != 't' && *p != ' ')
    return CH_ERR_PARSE;
  p++;
  if(digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
     digits(&p, 2, &se))
    return CH_ERR_PARSE;
  if(*p == '.') {
    p++;
    if(!isdigit((unsigned char)*p))
      return CH_ERR_PARSE;
    while(isdigit((unsigned char)*p))
      p++;
  }
  int off = 0;
  if(*p == 'Z' || *p == 'z') {
    p++;
  }
  else if(*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1, oh, om;
    p++;
    if(digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 ||
       om > 59)
      return CH_ERR_PARSE;
    off = sign * (oh * 3600 + om * 60);
  }
  else
    return CH_ERR_PARSE;
  if(*p)
    return CH_ERR_PARSE;
  static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30,
                                        31, 31, 30, 31, 30, 31};
  if(mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
     se > 60)
    return CH_ERR_PARSE;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if(mo == 2 && d == 29 && !leap)
    return CH_ERR_PARSE;
  if(se == 60)
    se = 59; /* leap second: clamp, Unix time has none */
  *out = certhub_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
         h * 3600 + mi * 60 + se - off;
  return CH_OK;
}

/* Formatting covers years 0000-9999 (what RFC 3339 can write); times
 * outside are clamped, which also keeps the day arithmetic from
 * overflowing near INT64_MIN/MAX. */
#define FMT_MIN INT64_C(-62167219200) /* 0000-01-01T00:00:00Z */
#define FMT_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

static int64_t fmt_clamp(int64_t t)
{
  return t < FMT_MIN ? FMT_MIN : t > FMT_MAX ? FMT_MAX : t;
}

void certhub_time_format(int64_t t, char *buf, size_t len)
{
  t = fmt_clamp(t);
  int64_t days = floor_div(t, 86400), y;
  int64_t secs = t - days * 86400;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
           (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

void certhub_date_format(int64_t t, char *buf, size_t len)
{
  int64_t y;
  unsigned m, d;
  civil_from_days(floor_div(fmt_clamp(t), 86400), &y, &m, &d);
  snprintf(buf, len, "%04lld-%02u-%02u", (long long)y, m, d);
}

int64_t certhub_now(void)
{
  const char *e = getenv("CERTHUB_NOW");
  int64_t t;
  if(e && *e && certhub_time_parse(e, &t) == CH_OK)
    return t;
  return (int64_t)time(NULL);
}
