/*
 * EventBridge schedule expressions: rate(...) and six-field cron(...), UTC.
 * Semantics and the decisions where EventBridge's documentation is silent
 * are listed in include/certhub/schedule.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certhub/schedule.h"
#include "certhub/time.h"
#include "rules_int.h"

#define YEAR_MIN 1970
#define YEAR_MAX 2199
#define RATE_MAX 1000000000LL /* generous; keeps N * 86400 far from overflow  \
                               */

enum dom_mode { DOM_ANY, DOM_SET, DOM_LAST, DOM_LASTWD, DOM_NEARWD };
enum dow_mode { DOW_ANY, DOW_SET, DOW_LAST, DOW_NTH };

struct certhub_schedule {
  bool is_rate;
  int64_t period; /* rate: seconds */
  int64_t anchor;
  uint64_t minutes;  /* bit m */
  uint32_t hours;    /* bit h */
  uint32_t dom;      /* bit d, 1-31 */
  uint16_t months;   /* bit m, 1-12 */
  uint8_t dow;       /* bit d, 1-7 = SUN-SAT */
  uint64_t years[4]; /* bit y - YEAR_MIN */
  enum dom_mode dom_mode;
  int dom_arg; /* DOM_NEARWD: the day */
  enum dow_mode dow_mode;
  int dow_arg; /* DOW_LAST, DOW_NTH: weekday 1-7 */
  int dow_nth; /* DOW_NTH: 1-5 */
  char *expr;  /* canonical */
};

/* --- messages ----------------------------------------------------------- */

/* "expr: problem", with expr cut and control bytes replaced so hostile
 * input cannot flood or garble a terminal. */
static void set_err(char **errmsg, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char **errmsg, const char *expr, const char *fmt, ...)
{
  if(!errmsg || *errmsg)
    return;
  ch_buf b;
  ch_buf_init(&b, 1024);
  size_t n = strlen(expr);
  for(size_t i = 0; i < n && i < 120; i++) {
    unsigned char c = (unsigned char)expr[i];
    if(ch_buf_addc(&b, (c >= 0x20 && c < 0x7f) ? (char)c : '?') != CH_OK)
      return;
  }
  if(n > 120 && ch_buf_addstr(&b, "...") != CH_OK)
    return;
  if(ch_buf_addstr(&b, ": ") != CH_OK)
    return;
  va_list ap;
  va_start(ap, fmt);
  ch_err e = ch_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  if(e != CH_OK)
    return;
  *errmsg = ch_buf_take(&b);
}

/* --- cron fields -------------------------------------------------------- */

enum field_id { F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_YEAR };

struct field_def {
  const char *name;
  int lo, hi;
  const char *const *names; /* names[i] is value lo + i */
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR",
                                          "MAY", "JUN", "JUL", "AUG",
                                          "SEP", "OCT", "NOV", "DEC"};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED",
                                        "THU", "FRI", "SAT"};

static const struct field_def fields[6] = {
    {"minutes", 0, 59, NULL},         {"hours", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},    {"month", 1, 12, month_names},
    {"day-of-week", 1, 7, dow_names}, {"year", YEAR_MIN, YEAR_MAX, NULL},
};

/* Parse context for one field token. */
struct fctx {
  const char *expr; /* whole expression, for messages */
  char **errmsg;
  enum field_id id;
  const char *tok; /* the field's text as written, NUL-terminated */
};

/* One value (number or name) of s[0..n). -1 with a message if bad. */
static int parse_value(struct fctx *c, const char *s, size_t n)
{
  const struct field_def *f = &fields[c->id];
  if(n == 0) {
    set_err(c->errmsg, c->expr, "%s '%s': missing value", f->name, c->tok);
    return -1;
  }
  if(isdigit((unsigned char)s[0])) {
    long v = 0;
    for(size_t i = 0; i < n; i++) {
      if(!isdigit((unsigned char)s[i])) {
        set_err(c->errmsg, c->expr, "%s '%.*s' is not a number", f->name,
                (int)n, s);
        return -1;
      }
      if(v < 100000)
        v = v * 10 + (s[i] - '0');
    }
    if(v < f->lo || v > f->hi) {
      set_err(c->errmsg, c->expr, "%s '%.*s' out of range %d-%d", f->name,
              (int)n, s, f->lo, f->hi);
      return -1;
    }
    return (int)v;
  }
  if(f->names && n == 3) {
    for(int i = 0; i <= f->hi - f->lo; i++)
      if(strncasecmp(f->names[i], s, 3) == 0)
        return f->lo + i;
  }
  if(f->names)
    set_err(c->errmsg, c->expr, "%s '%.*s' is not a number or a name (%s-%s)",
            f->name, (int)n, s, f->names[0], f->names[f->hi - f->lo]);
  else
    set_err(c->errmsg, c->expr, "%s '%.*s' is not a number", f->name, (int)n,
            s);
  return -1;
}

static void set_bit(uint64_t *bits, int i)
{
  bits[i / 64] |= (uint64_t)1 << (i % 64);
}

/* One list item: '*', v, a-b, with an optional /step. Sets bits
 * (value - lo) in bits. */
static bool parse_item(struct fctx *c, const char *s, size_t n, uint64_t *bits)
{
  const struct field_def *f = &fields[c->id];
  int span = f->hi - f->lo + 1;
  const char *slash = memchr(s, '/', n);
  size_t ln = slash ? (size_t)(slash - s) : n;
  int a, b, step = 1;
  if(slash) {
    const char *ss = slash + 1;
    size_t sn = n - ln - 1;
    long v = 0;
    if(sn == 0) {
      set_err(c->errmsg, c->expr, "%s '%s': missing increment after '/'",
              f->name, c->tok);
      return false;
    }
    for(size_t i = 0; i < sn; i++) {
      if(!isdigit((unsigned char)ss[i])) {
        set_err(c->errmsg, c->expr, "%s increment '%.*s' is not a number",
                f->name, (int)sn, ss);
        return false;
      }
      if(v < 100000)
        v = v * 10 + (ss[i] - '0');
    }
    if(v < 1 || v > span) {
      set_err(c->errmsg, c->expr, "%s increment '%.*s' out of range 1-%d",
              f->name, (int)sn, ss, span);
      return false;
    }
    step = (int)v;
  }
  if(ln == 1 && s[0] == '*') {
    a = f->lo;
    b = f->hi;
  }
  else {
    const char *dash = memchr(s, '-', ln);
    if(dash) {
      if((a = parse_value(c, s, (size_t)(dash - s))) < 0 ||
         (b = parse_value(c, dash + 1, ln - (size_t)(dash - s) - 1)) < 0)
        return false;
      if(a > b && c->id == F_YEAR) {
        set_err(c->errmsg, c->expr, "year range '%.*s' is reversed", (int)ln,
                s);
        return false;
      }
    }
    else {
      if((a = parse_value(c, s, ln)) < 0)
        return false;
      /* 'a/s' runs from a to the end of the field, as Quartz. */
      b = slash ? f->hi : a;
    }
  }
  /* A range with a > b wraps around the end of the field (FRI-MON). */
  int count = (b - a + span) % span + 1;
  for(int i = 0; i < count; i += step)
    set_bit(bits, (a - f->lo + i) % span);
  return true;
}

static bool only_item(struct fctx *c, const char *what)
{
  if(strchr(c->tok, ',')) {
    set_err(c->errmsg, c->expr,
            "%s '%s': '%s' cannot be combined with other values",
            fields[c->id].name, c->tok, what);
    return false;
  }
  return true;
}

/* Day-of-month specials: L, LW, nW. Returns 1 if handled, 0 if not a
 * special, -1 on error. */
static int parse_dom_special(struct fctx *c, certhub_schedule *s)
{
  const char *t = c->tok;
  size_t n = strlen(t);
  if(!strpbrk(t, "LlWw"))
    return 0;
  if(strcasecmp(t, "L") == 0 || strcasecmp(t, "LW") == 0) {
    if(!only_item(c, "L"))
      return -1;
    s->dom_mode = t[1] ? DOM_LASTWD : DOM_LAST;
    return 1;
  }
  if(n >= 2 && toupper((unsigned char)t[n - 1]) == 'W' && !strchr(t, ',')) {
    int d = parse_value(c, t, n - 1);
    if(d < 0)
      return -1;
    s->dom_mode = DOM_NEARWD;
    s->dom_arg = d;
    return 1;
  }
  if(strchr(t, ',')) {
    set_err(c->errmsg, c->expr,
            "day-of-month '%s': 'L' and 'W' cannot be combined with other "
            "values",
            t);
    return -1;
  }
  set_err(c->errmsg, c->expr,
          "day-of-month '%s': 'L' and 'W' are allowed only as L, LW or nW", t);
  return -1;
}

/* Day-of-week specials: L, nL, n#k (n a number or name). */
static int parse_dow_special(struct fctx *c, certhub_schedule *s)
{
  const char *t = c->tok;
  size_t n = strlen(t);
  const char *hash = strchr(t, '#');
  bool last = strpbrk(t, "Ll") != NULL; /* no day name has an L */
  if(!hash && !last)
    return 0;
  if(!only_item(c, hash ? "#" : "L"))
    return -1;
  if(strcasecmp(t, "L") == 0) { /* the last day of the week: Saturday */
    s->dow_mode = DOW_SET;
    s->dow = 1u << 7;
    return 1;
  }
  if(hash) {
    int d = parse_value(c, t, (size_t)(hash - t));
    if(d < 0)
      return -1;
    const char *k = hash + 1;
    if(!(k[0] >= '1' && k[0] <= '5' && k[1] == '\0')) {
      set_err(c->errmsg, c->expr,
              "day-of-week '%s': occurrence after '#' must be 1-5", t);
      return -1;
    }
    s->dow_mode = DOW_NTH;
    s->dow_arg = d;
    s->dow_nth = k[0] - '0';
    return 1;
  }
  int d = parse_value(c, t, n - 1);
  if(d < 0)
    return -1;
  s->dow_mode = DOW_LAST;
  s->dow_arg = d;
  return 1;
}

static bool parse_field(struct fctx *c, certhub_schedule *s)
{
  const struct field_def *f = &fields[c->id];
  const char *t = c->tok;
  if(strchr(t, '?')) {
    if(c->id != F_DOM && c->id != F_DOW) {
      set_err(c->errmsg, c->expr,
              "%s '%s': '?' is allowed only in day-of-month or day-of-week",
              f->name, t);
      return false;
    }
    if(strcmp(t, "?") != 0) {
      set_err(c->errmsg, c->expr, "%s '%s': '?' must stand alone", f->name, t);
      return false;
    }
    return true; /* mode stays ANY */
  }
  if(c->id == F_DOM) {
    int r = parse_dom_special(c, s);
    if(r != 0)
      return r > 0;
    s->dom_mode = DOM_SET;
  }
  else if(c->id == F_DOW) {
    int r = parse_dow_special(c, s);
    if(r != 0)
      return r > 0;
    s->dow_mode = DOW_SET;
  }
  /* A bad letter anywhere else gets a precise message from parse_value. */
  uint64_t bits[4] = {0, 0, 0, 0};
  const char *p = t;
  for(;;) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if(n == 0) {
      set_err(c->errmsg, c->expr, "%s '%s': empty list item", f->name, t);
      return false;
    }
    if(!parse_item(c, p, n, bits))
      return false;
    if(!comma)
      break;
    p = comma + 1;
  }
  switch(c->id) {
  case F_MIN:
    s->minutes = bits[0];
    break;
  case F_HOUR:
    s->hours = (uint32_t)bits[0];
    break;
  case F_DOM:
    s->dom = (uint32_t)(bits[0] << 1);
    break;
  case F_MON:
    s->months = (uint16_t)(bits[0] << 1);
    break;
  case F_DOW:
    s->dow = (uint8_t)(bits[0] << 1);
    break;
  case F_YEAR:
    memcpy(s->years, bits, sizeof(bits));
    break;
  }
  return true;
}

/* Split the inside of cron( ) into six fields and parse them;
 * builds the canonical text in canon. */
static ch_err parse_cron(const char *expr, const char *in, size_t n,
                         certhub_schedule *s, ch_buf *canon, char **errmsg)
{
  char tok[6][CERTHUB_SCHEDULE_MAX_LEN + 1];
  int nf = 0;
  size_t i = 0;
  for(;;) {
    while(i < n && (in[i] == ' ' || in[i] == '\t'))
      i++;
    if(i >= n)
      break;
    size_t st = i;
    while(i < n && in[i] != ' ' && in[i] != '\t')
      i++;
    if(nf < 6) {
      for(size_t k = st; k < i; k++)
        tok[nf][k - st] = in[k];
      tok[nf][i - st] = '\0';
    }
    nf++;
  }
  if(nf != 6) {
    set_err(errmsg, expr,
            "expected 6 fields (minutes hours day-of-month month "
            "day-of-week year), got %d",
            nf);
    return CH_ERR_PARSE;
  }
  for(int f = 0; f < 6; f++) {
    struct fctx c = {expr, errmsg, (enum field_id)f, tok[f]};
    if(!parse_field(&c, s))
      return CH_ERR_PARSE;
  }
  if(s->dom_mode == DOM_ANY && s->dow_mode == DOW_ANY) {
    set_err(errmsg, expr,
            "day-of-month and day-of-week cannot both be '?' (one of them "
            "must be)");
    return CH_ERR_PARSE;
  }
  if(s->dom_mode != DOM_ANY && s->dow_mode != DOW_ANY) {
    set_err(errmsg, expr,
            "day-of-month '%s' and day-of-week '%s': one of them must be '?'",
            tok[F_DOM], tok[F_DOW]);
    return CH_ERR_PARSE;
  }
  ch_err e = ch_buf_addstr(canon, "cron(");
  for(int f = 0; f < 6 && e == CH_OK; f++) {
    if(f)
      e = ch_buf_addc(canon, ' ');
    for(const char *p = tok[f]; *p && e == CH_OK; p++)
      e = ch_buf_addc(canon, (char)toupper((unsigned char)*p));
  }
  if(e == CH_OK)
    e = ch_buf_addc(canon, ')');
  return e;
}

static ch_err parse_rate(const char *expr, const char *in, size_t n,
                         certhub_schedule *s, ch_buf *canon, char **errmsg)
{
  size_t i = 0;
  while(i < n && (in[i] == ' ' || in[i] == '\t'))
    i++;
  size_t vs = i;
  long long v = 0;
  while(i < n && isdigit((unsigned char)in[i])) {
    if(v <= RATE_MAX)
      v = v * 10 + (in[i] - '0');
    i++;
  }
  size_t ve = i;
  while(i < n && (in[i] == ' ' || in[i] == '\t'))
    i++;
  size_t us = i;
  while(i < n && in[i] != ' ' && in[i] != '\t')
    i++;
  size_t ue = i;
  while(i < n && (in[i] == ' ' || in[i] == '\t'))
    i++;
  if(ve == vs || ue == us || ve == us || i != n) {
    set_err(errmsg, expr, "expected rate(value unit), e.g. rate(5 minutes)");
    return CH_ERR_PARSE;
  }
  if(v < 1 || v > RATE_MAX) {
    set_err(errmsg, expr, "rate value '%.*s' out of range 1-%lld",
            (int)(ve - vs), in + vs, RATE_MAX);
    return CH_ERR_PARSE;
  }
  static const struct {
    const char *one, *many;
    int64_t secs;
  } units[] = {{"minute", "minutes", 60},
               {"hour", "hours", 3600},
               {"day", "days", 86400}};
  const char *u = in + us;
  size_t un = ue - us;
  for(size_t k = 0; k < CH_ARRAY_LEN(units); k++) {
    bool one = strlen(units[k].one) == un && memcmp(u, units[k].one, un) == 0;
    bool many =
        strlen(units[k].many) == un && memcmp(u, units[k].many, un) == 0;
    if(!one && !many)
      continue;
    if(one && v != 1) {
      set_err(errmsg, expr,
              "rate unit must be plural ('%s') when the value "
              "is not 1",
              units[k].many);
      return CH_ERR_PARSE;
    }
    if(many && v == 1) {
      set_err(errmsg, expr,
              "rate unit must be singular ('%s') when the "
              "value is 1",
              units[k].one);
      return CH_ERR_PARSE;
    }
    s->is_rate = true;
    s->period = (int64_t)v * units[k].secs;
    return ch_buf_printf(canon, "rate(%lld %s)", v,
                         v == 1 ? units[k].one : units[k].many);
  }
  set_err(errmsg, expr,
          "rate unit '%.*s' unknown (expected minute(s), hour(s) or day(s))",
          (int)un, u);
  return CH_ERR_PARSE;
}

ch_err certhub_schedule_parse(const char *expr, certhub_schedule **out,
                              char **errmsg)
{
  ch_err e = CH_OK;
  certhub_schedule *s = NULL;
  ch_buf canon;
  ch_buf_init(&canon, CERTHUB_SCHEDULE_MAX_LEN * 2);
  *out = NULL;
  if(errmsg)
    *errmsg = NULL;
  if(!expr || !*expr) {
    set_err(errmsg, "schedule", "expression is empty");
    e = CH_ERR_PARSE;
    goto out;
  }
  size_t n = strnlen(expr, CERTHUB_SCHEDULE_MAX_LEN + 1);
  if(n > CERTHUB_SCHEDULE_MAX_LEN) {
    set_err(errmsg, expr, "expression longer than %d characters",
            CERTHUB_SCHEDULE_MAX_LEN);
    e = CH_ERR_TOOBIG;
    goto out;
  }
  s = calloc(1, sizeof(*s));
  if(!s) {
    e = CH_ERR_NOMEM;
    goto out;
  }
  bool cron = strncmp(expr, "cron(", 5) == 0;
  bool rate = strncmp(expr, "rate(", 5) == 0;
  if((!cron && !rate) || expr[n - 1] != ')') {
    set_err(errmsg, expr, "expected cron(...) or rate(...)");
    e = CH_ERR_PARSE;
    goto out;
  }
  if(memchr(expr + 5, '(', n - 6) || memchr(expr + 5, ')', n - 6)) {
    set_err(errmsg, expr, "unexpected parenthesis inside the expression");
    e = CH_ERR_PARSE;
    goto out;
  }
  e = cron ? parse_cron(expr, expr + 5, n - 6, s, &canon, errmsg)
           : parse_rate(expr, expr + 5, n - 6, s, &canon, errmsg);
  if(e != CH_OK)
    goto out;
  s->expr = ch_buf_take(&canon);
  if(!s->expr) {
    e = CH_ERR_NOMEM;
    goto out;
  }
  *out = s;
  s = NULL;
out:
  ch_buf_free(&canon);
  certhub_schedule_free(s);
  return e;
}

/* --- evaluation --------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static bool is_leap(int64_t y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
  static const unsigned dim[] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* 1 = SUN ... 7 = SAT, as EventBridge numbers them. */
static int weekday(int64_t y, unsigned m, unsigned d)
{
  int64_t days = certhub_days_from_civil(y, m, d);
  return (int)(((days + 4) % 7 + 7) % 7) + 1; /* 1970-01-01 was a Thursday */
}

/* Weekday (MON-FRI) nearest to day d, staying inside the month. */
static unsigned nearest_weekday(int64_t y, unsigned m, unsigned d,
                                unsigned dim)
{
  int wd = weekday(y, m, d);
  if(wd == 7) /* Saturday: Friday, or Monday if that leaves the month */
    return d > 1 ? d - 1 : d + 2;
  if(wd == 1) /* Sunday: Monday, or Friday if that leaves the month */
    return d < dim ? d + 1 : d - 2;
  return d;
}

static bool day_matches(const certhub_schedule *s, int64_t y, unsigned m,
                        unsigned d, unsigned dim)
{
  int wd;
  switch(s->dom_mode) {
  case DOM_SET:
    return s->dom >> d & 1;
  case DOM_LAST:
    return d == dim;
  case DOM_LASTWD:
    return d == nearest_weekday(y, m, dim, dim);
  case DOM_NEARWD:
    return (unsigned)s->dom_arg <= dim &&
           d == nearest_weekday(y, m, (unsigned)s->dom_arg, dim);
  case DOM_ANY:
    break;
  }
  wd = weekday(y, m, d);
  switch(s->dow_mode) {
  case DOW_SET:
    return s->dow >> wd & 1;
  case DOW_LAST:
    return wd == s->dow_arg && d + 7 > dim;
  case DOW_NTH:
    return wd == s->dow_arg && (int)(d - 1) / 7 + 1 == s->dow_nth;
  case DOW_ANY:
    break;
  }
  return false;
}

static bool year_matches(const certhub_schedule *s, int64_t y)
{
  int i = (int)(y - YEAR_MIN);
  return s->years[i / 64] >> (i % 64) & 1;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
  z += 719468;
  int64_t era = floor_div(z, 146097);
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static ch_err cron_next(const certhub_schedule *s, int64_t after,
                        int64_t *next)
{
  const int64_t first = 0; /* 1970-01-01T00:00:00Z */
  const int64_t end = certhub_days_from_civil(YEAR_MAX + 1, 1, 1) * 86400;
  if(after >= end - 60)
    return CH_ERR_NOTFOUND;
  int64_t t = after < first ? first : (floor_div(after, 60) + 1) * 60;
  int64_t days = floor_div(t, 86400), y;
  unsigned mo, d, hh = (unsigned)(t - days * 86400) / 3600;
  unsigned mm = (unsigned)(t - days * 86400) / 60 % 60;
  civil_from_days(days, &y, &mo, &d);
  /* Each step moves forward by at least a minute and skips whole years,
   * months and days that cannot match, so this ends by YEAR_MAX. */
  while(y <= YEAR_MAX) {
    if(!year_matches(s, y)) {
      y++, mo = 1, d = 1, hh = 0, mm = 0;
      continue;
    }
    if(!(s->months >> mo & 1)) {
      if(++mo > 12)
        y++, mo = 1;
      d = 1, hh = 0, mm = 0;
      continue;
    }
    unsigned dim = days_in_month(y, mo);
    if(d > dim) {
      if(++mo > 12)
        y++, mo = 1;
      d = 1, hh = 0, mm = 0;
      continue;
    }
    if(!day_matches(s, y, mo, d, dim)) {
      d++, hh = 0, mm = 0;
      continue;
    }
    while(hh < 24 && !(s->hours >> hh & 1))
      hh++, mm = 0;
    if(hh >= 24) {
      d++, hh = 0, mm = 0;
      continue;
    }
    while(mm < 60 && !(s->minutes >> mm & 1))
      mm++;
    if(mm >= 60) {
      hh++, mm = 0;
      if(hh >= 24)
        d++, hh = 0;
      continue;
    }
    *next = certhub_days_from_civil(y, mo, d) * 86400 + hh * 3600 + mm * 60;
    return CH_OK;
  }
  return CH_ERR_NOTFOUND;
}

static ch_err rate_next(const certhub_schedule *s, int64_t after,
                        int64_t *next)
{
  int64_t a = s->anchor, p = s->period;
  uint64_t k = 1;
  if(after >= a)
    k = ((uint64_t)after - (uint64_t)a) / (uint64_t)p + 1;
  /* a + k * p must stay representable. */
  if(k > (uint64_t)(INT64_MAX - (a > 0 ? a : 0)) / (uint64_t)p)
    return CH_ERR_NOTFOUND;
  *next = (int64_t)((uint64_t)a + k * (uint64_t)p);
  return CH_OK;
}

ch_err certhub_schedule_next_msg(const certhub_schedule *s, int64_t after,
                                 int64_t *next, char **errmsg)
{
  if(errmsg)
    *errmsg = NULL;
  ch_err e =
      s->is_rate ? rate_next(s, after, next) : cron_next(s, after, next);
  if(e != CH_ERR_NOTFOUND || !errmsg)
    return e;
  int64_t any;
  char when[32];
  /* certhub_time_format handles years 0000-9999; seconds beyond that. */
  if(after >= -62167219200LL && after <= 253402300799LL)
    certhub_time_format(after, when, sizeof(when));
  else
    snprintf(when, sizeof(when), "%lld s", (long long)after);
  if(s->is_rate)
    set_err(errmsg, s->expr, "no fire time after %s (out of range)", when);
  else if(cron_next(s, INT64_MIN, &any) == CH_ERR_NOTFOUND)
    set_err(errmsg, s->expr,
            "never fires: no date in %d-%d matches all fields", YEAR_MIN,
            YEAR_MAX);
  else
    set_err(errmsg, s->expr, "no fire time after %s (years end at %d)", when,
            YEAR_MAX);
  return e;
}

ch_err certhub_schedule_next(const certhub_schedule *s, int64_t after,
                             int64_t *next)
{
  return certhub_schedule_next_msg(s, after, next, NULL);
}

void certhub_schedule_set_anchor(certhub_schedule *s, int64_t anchor)
{
  s->anchor = anchor;
}

int64_t certhub_schedule_period(const certhub_schedule *s)
{
  return s->is_rate ? s->period : 0;
}

const char *certhub_schedule_expr(const certhub_schedule *s)
{
  return s->expr;
}

void certhub_schedule_free(certhub_schedule *s)
{
  if(!s)
    return;
  free(s->expr);
  free(s);
}
