/*
 * SNS MessageAttributes (certhub/notify.h): the checks SNS Publish makes,
 * the notification shape messages are stored and delivered in, the CLI's
 * NAME=TYPE:VALUE form, and the attributes of certhub's own event
 * messages (certhub/notify_render.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "certhub/notify.h"
#include "certhub/notify_render.h"
#include "core/core.h"

static ch_err afail(char **why, ch_err rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ch_err afail(char **why, ch_err rc, const char *fmt, ...)
{
  if(why && !*why) {
    va_list ap;
    va_start(ap, fmt);
    if(vasprintf(why, fmt, ap) < 0)
      *why = NULL;
    va_end(ap);
  }
  return rc;
}

ch_err certhub_msg_attr_name_check(const char *name, const char **why)
{
  size_t n = name ? strlen(name) : 0;
  *why = NULL;
  if(!n) {
    *why = "the name is empty";
    return CH_ERR_PARSE;
  }
  if(n > CERTHUB_MSG_ATTR_NAME_MAX) {
    *why = "the name is longer than 256 characters";
    return CH_ERR_PARSE;
  }
  for(const char *p = name; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if(!(isascii(c) && (isalnum(c) || c == '_' || c == '-' || c == '.'))) {
      *why = "a name may hold only A-Z, a-z, 0-9, '_', '-' and '.'";
      return CH_ERR_PARSE;
    }
  }
  if(name[0] == '.' || name[n - 1] == '.') {
    *why = "a name must not start or end with '.'";
    return CH_ERR_PARSE;
  }
  if(strstr(name, "..")) {
    *why = "a name must not hold successive periods (\"..\")";
    return CH_ERR_PARSE;
  }
  if(!strncasecmp(name, "AWS.", 4) || !strncasecmp(name, "Amazon.", 7)) {
    *why = "the prefixes \"AWS.\" and \"Amazon.\" (in any case) are reserved";
    return CH_ERR_PARSE;
  }
  return CH_OK;
}

/* Valid UTF-8 without NUL: overlong forms, surrogates and code points past
 * U+10FFFF are refused (the message body's rules). */
static bool utf8_text(const unsigned char *p, size_t n)
{
  for(size_t i = 0; i < n;) {
    unsigned c = p[i];
    size_t k;
    unsigned cp;
    if(!c)
      return false;
    if(c < 0x80) {
      i++;
      continue;
    }
    if(c >= 0xc2 && c <= 0xdf) {
      k = 2;
      cp = c & 0x1f;
    }
    else if(c >= 0xe0 && c <= 0xef) {
      k = 3;
      cp = c & 0x0f;
    }
    else if(c >= 0xf0 && c <= 0xf4) {
      k = 4;
      cp = c & 0x07;
    }
    else
      return false;
    if(n - i < k)
      return false;
    for(size_t j = 1; j < k; j++) {
      if((p[i + j] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (p[i + j] & 0x3f);
    }
    if((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
       (k == 4 && (cp < 0x10000 || cp > 0x10ffff)))
      return false;
    i += k;
  }
  return true;
}

/* SNS's Number: [+-]digits[.digits][(e|E)[+-]digits], at most 38
 * significant digits (leading and trailing zeros do not count), and 0 or
 * a magnitude in [1e-128, 1e126). Decided on the digits, not a double, so
 * the bounds are exact. */
static const char *number_problem(const char *v)
{
  static const char range[] =
      "out of range (0, or a magnitude from 1E-128 to below 1E126)";
  const char *p = v;
  long exp10 = 0, idx = 0, int_digits = 0, first_nz = -1, last_nz = -1;
  if(*p == '+' || *p == '-')
    p++;
  if(!isdigit((unsigned char)*p))
    return "not a number (expected e.g. 14, -2.5 or 1.5E3)";
  /* digits are indexed across the integer and fraction parts */
  for(; isdigit((unsigned char)*p); p++, idx++, int_digits++)
    if(*p != '0') {
      if(first_nz < 0)
        first_nz = idx;
      last_nz = idx;
    }
  if(*p == '.') {
    p++;
    if(!isdigit((unsigned char)*p))
      return "not a number (digits must follow '.')";
    for(; isdigit((unsigned char)*p); p++, idx++)
      if(*p != '0') {
        if(first_nz < 0)
          first_nz = idx;
        last_nz = idx;
      }
  }
  if(*p == 'e' || *p == 'E') {
    char *end = NULL;
    p++;
    if(!(isdigit((unsigned char)*p) ||
         ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]))))
      return "not a number (digits must follow the exponent's 'e')";
    exp10 = strtol(p, &end, 10);
    if(exp10 > 100000 || exp10 < -100000)
      return range;
    p = end;
  }
  if(*p)
    return "not a number (expected e.g. 14, -2.5 or 1.5E3)";
  if(idx > 100000)
    return "more than 38 significant digits";
  if(first_nz < 0)
    return NULL; /* zero */
  if(last_nz - first_nz + 1 > 38)
    return "more than 38 significant digits";
  /* the value lies in [10^(mag-1), 10^mag) */
  long mag = int_digits - first_nz + exp10;
  if(mag - 1 < -128 || mag > 126)
    return range;
  return NULL;
}

/* Strict base64 (RFC 4648, padded, no whitespace): the decoded size, or
 * -1. */
static long base64_size(const char *v)
{
  size_t n = strlen(v), pad = 0;
  if(!n || n % 4)
    return -1;
  for(size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    if(c == '=') {
      if(i < n - 2)
        return -1;
      pad++;
      continue;
    }
    if(pad || !(isascii(c) && (isalnum(c) || c == '+' || c == '/')))
      return -1;
  }
  return (long)(n / 4 * 3 - pad);
}

/* String.Array: a JSON array of strings, numbers, true, false, null. */
static const char *array_problem(const char *v)
{
  json_error_t je;
  json_t *a = json_loads(v, JSON_DECODE_ANY, &je);
  const char *why = NULL;
  size_t i;
  json_t *e;
  if(!a || !json_is_array(a))
    why = "not a JSON array (e.g. [\"a\",\"b\"] or [1,2])";
  else
    json_array_foreach(a, i, e)
    {
      if(json_is_object(e) || json_is_array(e)) {
        why = "array elements must be strings, numbers, true, false or null";
        break;
      }
    }
  json_decref(a);
  return why;
}

/* One attribute: its type and value from either shape, checked; the
 * notification shape into out; its counted bytes to *size. */
static ch_err check_one(const char *name, json_t *a, json_t *out, size_t *size,
                        char **why)
{
  const char *reason = NULL;
  if(certhub_msg_attr_name_check(name, &reason))
    return afail(why, CH_ERR_PARSE, "message attribute '%.300s': %s", name,
                 reason);
  if(!json_is_object(a))
    return afail(why, CH_ERR_PARSE,
                 "message attribute '%s': expected an object with DataType "
                 "and StringValue or BinaryValue",
                 name);
  json_t *jt = json_object_get(a, "DataType");
  if(!jt)
    jt = json_object_get(a, "Type");
  const char *type = json_string_value(jt);
  if(!type || !*type)
    return afail(why, CH_ERR_PARSE,
                 "message attribute '%s': DataType is missing or empty", name);
  bool bin = !strcmp(type, "Binary");
  if(!bin && strcmp(type, "String") && strcmp(type, "Number") &&
     strcmp(type, "String.Array"))
    return afail(why, CH_ERR_PARSE,
                 "message attribute '%s': DataType '%.100s' is not String, "
                 "String.Array, Number or Binary",
                 name, type);
  json_t *jv = json_object_get(a, bin ? "BinaryValue" : "StringValue");
  json_t *other = json_object_get(a, bin ? "StringValue" : "BinaryValue");
  if(!jv)
    jv = json_object_get(a, "Value");
  if(other)
    return afail(why, CH_ERR_PARSE,
                 "message attribute '%s': a %s attribute takes %s, not %s",
                 name, type, bin ? "BinaryValue" : "StringValue",
                 bin ? "StringValue" : "BinaryValue");
  if(jv && json_is_number(jv) && !strcmp(type, "Number")) {
    /* a JSON number written where SNS wants its text: take its text */
    return afail(why, CH_ERR_PARSE,
                 "message attribute '%s': the Number value must be a string "
                 "(\"StringValue\": \"14\")",
                 name);
  }
  const char *val = json_string_value(jv);
  size_t vlen = json_is_string(jv) ? json_string_length(jv) : 0;
  if(!val || !vlen)
    return afail(why, CH_ERR_PARSE,
                 "message attribute '%s': the %s is missing or empty", name,
                 bin ? "BinaryValue" : "StringValue");
  if(strlen(val) != vlen || !utf8_text((const unsigned char *)val, vlen))
    return afail(why, CH_ERR_PARSE,
                 "message attribute '%s': the value is not UTF-8 text without "
                 "NUL",
                 name);
  size_t counted = vlen;
  if(!strcmp(type, "Number") && (reason = number_problem(val)))
    return afail(why, CH_ERR_PARSE,
                 "message attribute '%s': Number '%.60s': %s", name, val,
                 reason);
  if(!strcmp(type, "String.Array") && (reason = array_problem(val)))
    return afail(why, CH_ERR_PARSE, "message attribute '%s': String.Array: %s",
                 name, reason);
  if(bin) {
    long n = base64_size(val);
    if(n <= 0)
      return afail(
          why, CH_ERR_PARSE,
          "message attribute '%s': BinaryValue is not base64 (padded, "
          "no whitespace) of at least one byte",
          name);
    counted = (size_t)n;
  }
  json_t *o = json_pack("{s:s, s:s}", "Type", type, "Value", val);
  if(!o || json_object_set_new(out, name, o))
    return CH_ERR_NOMEM;
  *size += strlen(name) + strlen(type) + counted;
  return CH_OK;
}

ch_err certhub_msg_attrs_check(const char *json, size_t len, char **out,
                               size_t *size, char **why)
{
  json_error_t je;
  json_t *in = NULL, *norm = NULL;
  ch_err rc = CH_OK;
  size_t total = 0;
  if(why)
    *why = NULL;
  if(!out)
    return CH_ERR_USAGE;
  *out = NULL;
  if(size)
    *size = 0;
  if(!json)
    return CH_OK;
  if(len > CERTHUB_MSG_ATTRS_TEXT_MAX)
    return afail(why, CH_ERR_TOOBIG,
                 "message attributes: more than %d bytes of JSON",
                 CERTHUB_MSG_ATTRS_TEXT_MAX);
  in = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
  if(!in || !json_is_object(in)) {
    rc = afail(why, CH_ERR_PARSE, "message attributes: %s%s",
               in ? "not a JSON object" : "invalid JSON: ", in ? "" : je.text);
    goto out;
  }
  if(json_object_size(in) > CERTHUB_MSG_ATTRS_MAX) {
    rc = afail(why, CH_ERR_TOOBIG,
               "message attributes: %zu given, at most %d per message",
               json_object_size(in), CERTHUB_MSG_ATTRS_MAX);
    goto out;
  }
  if(!(norm = json_object())) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  const char *name;
  json_t *a;
  json_object_foreach(in, name, a)
  {
    if((rc = check_one(name, a, norm, &total, why)))
      goto out;
  }
  if(json_object_size(norm) &&
     !(*out = json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS)))
    rc = CH_ERR_NOMEM;
  if(size)
    *size = total;
out:
  json_decref(in);
  json_decref(norm);
  return rc;
}

/* *attrs as an object (a new one when NULL). */
static ch_err load_obj(const char *text, json_t **o, char **why)
{
  json_error_t je;
  *o = text ? json_loads(text, JSON_REJECT_DUPLICATES, &je) : json_object();
  if(!*o)
    return text ? afail(why, CH_ERR_PARSE,
                        "message attributes: invalid JSON: "
                        "%s",
                        je.text)
                : CH_ERR_NOMEM;
  if(!json_is_object(*o)) {
    json_decref(*o);
    *o = NULL;
    return afail(why, CH_ERR_PARSE, "message attributes: not a JSON object");
  }
  return CH_OK;
}

static ch_err store_obj(json_t *o, char **attrs)
{
  char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if(!t)
    return CH_ERR_NOMEM;
  free(*attrs);
  *attrs = t;
  return CH_OK;
}

ch_err certhub_msg_attrs_add_arg(char **attrs, const char *arg, char **why)
{
  json_t *o = NULL, *a = NULL;
  char *name = NULL, *type = NULL;
  ch_err rc;
  if(why)
    *why = NULL;
  const char *eq = arg ? strchr(arg, '=') : NULL;
  const char *colon = eq ? strchr(eq + 1, ':') : NULL;
  if(!eq || eq == arg || !colon || colon == eq + 1)
    return afail(why, CH_ERR_PARSE,
                 "message attribute '%.300s': use NAME=TYPE:VALUE, e.g. "
                 "severity=String:HIGH or days=Number:14",
                 arg ? arg : "");
  if(!(name = strndup(arg, (size_t)(eq - arg))) ||
     !(type = strndup(eq + 1, (size_t)(colon - eq - 1)))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  const char *reason = NULL;
  if(certhub_msg_attr_name_check(name, &reason)) {
    rc = afail(why, CH_ERR_PARSE, "message attribute '%.300s': %s", name,
               reason);
    goto out;
  }
  if((rc = load_obj(*attrs, &o, why)))
    goto out;
  if(json_object_get(o, name)) {
    rc = afail(why, CH_ERR_PARSE, "message attribute '%.300s' is given twice",
               name);
    goto out;
  }
  bool bin = !strcmp(type, "Binary");
  a = json_pack("{s:s, s:s}", "DataType", type,
                bin ? "BinaryValue" : "StringValue", colon + 1);
  if(!a) {
    /* json_pack refuses text that is not UTF-8 */
    rc =
        afail(why, CH_ERR_PARSE,
              "message attribute '%.300s': the value is not UTF-8 text", name);
    goto out;
  }
  /* check this one alone, so the error names it */
  json_t *one = json_pack("{s:O}", name, a);
  char *text = one ? json_dumps(one, JSON_COMPACT) : NULL;
  char *norm = NULL;
  json_decref(one);
  if(!text) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  rc = certhub_msg_attrs_check(text, strlen(text), &norm, NULL, why);
  free(text);
  free(norm);
  if(rc)
    goto out;
  if(json_object_set(o, name, a)) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  rc = store_obj(o, attrs);
out:
  json_decref(a);
  json_decref(o);
  free(name);
  free(type);
  return rc;
}

ch_err certhub_msg_attrs_merge(char **attrs, const char *add, char **why)
{
  json_t *o = NULL, *b = NULL;
  ch_err rc;
  const char *name;
  json_t *v;
  if(why)
    *why = NULL;
  if((rc = load_obj(*attrs, &o, why)) || (rc = load_obj(add, &b, why)))
    goto out;
  json_object_foreach(b, name, v)
  {
    if(json_object_get(o, name)) {
      rc = afail(why, CH_ERR_PARSE,
                 "message attribute '%.300s' is given twice", name);
      goto out;
    }
    if(json_object_set(o, name, v)) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
  }
  rc = store_obj(o, attrs);
out:
  json_decref(o);
  json_decref(b);
  return rc;
}

/* ---- certhub's own messages ----------------------------------------------
 */

#define OWN_TAGS_MAX 64            /* tags listed in the tags attribute */
#define OWN_ARRAY_BYTES (8 * 1024) /* bytes of one String.Array's text */

/* Add name -> {Type, Value} when the value passes the attribute rules
 * (certhub's own values are data, so a bad one is left out, not fatal). */
static void put_attr(json_t *out, const char *name, const char *type,
                     const char *value)
{
  if(!value || !*value || json_object_size(out) >= CERTHUB_MSG_ATTRS_MAX)
    return;
  size_t n = strlen(value);
  if(!utf8_text((const unsigned char *)value, n))
    return;
  if(!strcmp(type, "Number") && number_problem(value))
    return;
  json_object_set_new(out, name,
                      json_pack("{s:s, s:s}", "Type", type, "Value", value));
}

static void put_number(json_t *out, const char *name, json_t *n)
{
  char buf[64];
  if(json_is_integer(n))
    snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(n));
  else if(json_is_real(n))
    snprintf(buf, sizeof(buf), "%.17g", json_real_value(n));
  else
    return;
  put_attr(out, name, "Number", buf);
}

static void put_array(json_t *out, const char *name, json_t *arr)
{
  if(!json_array_size(arr))
    return;
  char *t = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY);
  if(t && strlen(t) <= OWN_ARRAY_BYTES)
    put_attr(out, name, "String.Array", t);
  free(t);
}

ch_err certhub_msg_attrs_from_event(const char *message, size_t len,
                                    certhub_render_lookup_fn lookup,
                                    void *lookup_ctx, char **out)
{
  json_t *ev = NULL, *attrs = NULL, *info = NULL, *owners = NULL;
  ch_err rc = CH_OK;
  if(!out)
    return CH_ERR_USAGE;
  *out = NULL;
  if(!message || !len)
    return CH_OK;
  ev = json_loadb(message, len, 0, NULL);
  const char *dt = json_string_value(json_object_get(ev, "detail-type"));
  json_t *detail = json_object_get(ev, "detail");
  if(!dt || !json_is_object(detail))
    goto out; /* not an event: no attributes */
  if(!(attrs = json_object())) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  put_attr(attrs, "detail-type", "String", dt);
  put_attr(attrs, "source", "String",
           json_string_value(json_object_get(ev, "source")));
  json_t *certs = json_object_get(detail, "certificates");
  if(json_is_array(certs)) {
    /* the digest (a batch Scheduled Event) */
    size_t i;
    json_t *c;
    json_int_t fewest = 0;
    bool any = false;
    if(!(owners = json_array())) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
    json_array_foreach(certs, i, c)
    {
      json_t *d = json_object_get(c, "DaysToExpiry");
      if(json_is_integer(d) && (!any || json_integer_value(d) < fewest)) {
        fewest = json_integer_value(d);
        any = true;
      }
      const char *o = json_string_value(json_object_get(c, "Owner"));
      bool seen = false;
      size_t k;
      json_t *x;
      json_array_foreach(owners, k, x)
      {
        if(o && !strcmp(json_string_value(x), o))
          seen = true;
      }
      if(o && !seen && json_array_size(owners) < OWN_TAGS_MAX)
        json_array_append_new(owners, json_string(o));
    }
    if(any) {
      json_t *n = json_integer(fewest);
      put_number(attrs, "days_to_expiry", n);
      json_decref(n);
    }
    /* count is the total even when the list was cut to fit */
    json_t *count = json_object_get(detail, "count");
    json_t *n = json_is_integer(count)
                    ? json_incref(count)
                    : json_integer((json_int_t)json_array_size(certs));
    put_number(attrs, "certificate_count", n);
    json_decref(n);
    put_array(attrs, "owners", owners);
  }
  else {
    /* a per-certificate event: its certificate is resources[0] */
    const char *arn =
        json_string_value(json_array_get(json_object_get(ev, "resources"), 0));
    char id[17];
    if(arn && certhub_render_arn_id(arn, id)) {
      put_attr(attrs, "certificate_arn", "String", arn);
      put_attr(attrs, "certificate_id", "String", id);
      if(lookup && (rc = lookup(lookup_ctx, arn, &info)))
        goto out;
    }
    put_attr(attrs, "common_name", "String",
             json_string_value(json_object_get(detail, "CommonName")));
    put_number(attrs, "days_to_expiry",
               json_object_get(detail, "DaysToExpiry"));
    put_attr(attrs, "owner", "String",
             json_string_value(json_object_get(info, "Owner")));
    json_t *tags = json_object_get(info, "Tags");
    if(json_is_object(tags) && json_object_size(tags)) {
      json_t *list = json_array();
      const char *k;
      json_t *v;
      json_object_foreach(tags, k, v)
      {
        if(!list || json_array_size(list) >= OWN_TAGS_MAX ||
           !json_is_string(v))
          continue;
        char *kv = NULL;
        if(asprintf(&kv, "%s=%s", k, json_string_value(v)) >= 0) {
          json_array_append_new(list, json_string(kv));
          free(kv);
        }
      }
      put_array(attrs, "tags", list);
      json_decref(list);
    }
  }
  if(json_object_size(attrs) &&
     !(*out = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS)))
    rc = CH_ERR_NOMEM;
out:
  json_decref(ev);
  json_decref(attrs);
  json_decref(info);
  json_decref(owners);
  return rc;
}
