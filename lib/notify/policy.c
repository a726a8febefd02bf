/*
 * SNS's HTTP delivery policy: parsing with SNS's limits, and the delay
 * before each retry.
 *
 * SNS documents the phases and the four backoff function names but not
 * their formulas; the shapes used here (f runs over [0, 1] across the
 * backoff phase) are: linear min + (max-min)f, arithmetic min +
 * (max-min)f(f+1/n)/(1+1/n) (each step grows by a constant increment),
 * geometric min (max/min)^f (constant ratio), exponential min +
 * (max-min)(2^(kf)-1)/(2^k-1) with k = 10 (flat, then steep).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "certhub/deliver.h"
#include "core/core.h"

#define MAX_DELAY_LIMIT 3600         /* seconds: SNS's maxDelayTarget limit */
#define MAX_RETRIES 100              /* SNS's numRetries limit */
#define MAX_TOTAL_MS (3600 * 1000LL) /* SNS: retries span at most an hour */

void certhub_delivery_policy_default(certhub_delivery_policy *p)
{
  *p = (certhub_delivery_policy){
      .min_delay = 20,
      .max_delay = 20,
      .num_retries = 3,
      .backoff = CERTHUB_BACKOFF_LINEAR,
  };
}

static ch_err why_set(char *why, size_t whylen, ch_err rc, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
static ch_err why_set(char *why, size_t whylen, ch_err rc, const char *fmt,
                      ...)
{
  va_list ap;
  va_start(ap, fmt);
  if(why && whylen)
    vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
  return rc;
}

/* An integer member within [lo, hi] into *out, if present. */
static ch_err get_uint(json_t *o, const char *key, unsigned lo, unsigned hi,
                       unsigned *out, char *why, size_t whylen)
{
  json_t *v = json_object_get(o, key);
  if(!v)
    return CH_OK;
  if(!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
     json_integer_value(v) > (json_int_t)hi)
    return why_set(why, whylen, CH_ERR_CONFIG,
                   "DeliveryPolicy: %s must be an integer from %u to %u", key,
                   lo, hi);
  *out = (unsigned)json_integer_value(v);
  return CH_OK;
}

static const char *const backoff_names[] = {"linear", "arithmetic",
                                            "geometric", "exponential"};

static ch_err check_keys(json_t *o, const char *what, const char *const *keys,
                         size_t n, char *why, size_t whylen)
{
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v)
  {
    size_t i = 0;
    while(i < n && strcmp(keys[i], k))
      i++;
    if(i == n)
      return why_set(why, whylen, CH_ERR_CONFIG,
                     "DeliveryPolicy: unknown member '%.64s' in %s", k, what);
  }
  return CH_OK;
}

static ch_err parse_obj(json_t *root, certhub_delivery_policy *p, char *why,
                        size_t whylen)
{
  static const char *const top[] = {"healthyRetryPolicy", "throttlePolicy",
                                    "sicklyRetryPolicy", "guaranteed",
                                    "requestPolicy"};
  static const char *const retry[] = {
      "minDelayTarget",    "maxDelayTarget",     "numRetries",
      "numNoDelayRetries", "numMinDelayRetries", "numMaxDelayRetries",
      "backoffFunction"};
  static const char *const throttle[] = {"maxReceivesPerSecond"};
  ch_err rc =
      check_keys(root, "the policy", top, CH_ARRAY_LEN(top), why, whylen);
  if(rc)
    return rc;
  json_t *h = json_object_get(root, "healthyRetryPolicy");
  if(h && !json_is_null(h)) {
    if(!json_is_object(h))
      return why_set(why, whylen, CH_ERR_CONFIG,
                     "DeliveryPolicy: healthyRetryPolicy must be an object");
    if((rc = check_keys(h, "healthyRetryPolicy", retry, CH_ARRAY_LEN(retry),
                        why, whylen)) ||
       (rc = get_uint(h, "minDelayTarget", 1, MAX_DELAY_LIMIT, &p->min_delay,
                      why, whylen)) ||
       (rc = get_uint(h, "maxDelayTarget", 1, MAX_DELAY_LIMIT, &p->max_delay,
                      why, whylen)) ||
       (rc = get_uint(h, "numRetries", 0, MAX_RETRIES, &p->num_retries, why,
                      whylen)) ||
       (rc = get_uint(h, "numNoDelayRetries", 0, MAX_RETRIES, &p->num_no_delay,
                      why, whylen)) ||
       (rc = get_uint(h, "numMinDelayRetries", 0, MAX_RETRIES,
                      &p->num_min_delay, why, whylen)) ||
       (rc = get_uint(h, "numMaxDelayRetries", 0, MAX_RETRIES,
                      &p->num_max_delay, why, whylen)))
      return rc;
    json_t *b = json_object_get(h, "backoffFunction");
    if(b) {
      size_t i = 0;
      const char *name = json_string_value(b);
      while(name && i < CH_ARRAY_LEN(backoff_names) &&
            strcmp(name, backoff_names[i]))
        i++;
      if(!name || i == CH_ARRAY_LEN(backoff_names))
        return why_set(why, whylen, CH_ERR_CONFIG,
                       "DeliveryPolicy: backoffFunction must be linear, "
                       "arithmetic, geometric or exponential");
      p->backoff = (certhub_backoff)i;
    }
  }
  json_t *t = json_object_get(root, "throttlePolicy");
  if(t && !json_is_null(t)) {
    if(!json_is_object(t))
      return why_set(why, whylen, CH_ERR_CONFIG,
                     "DeliveryPolicy: throttlePolicy must be an object");
    if((rc = check_keys(t, "throttlePolicy", throttle, CH_ARRAY_LEN(throttle),
                        why, whylen)) ||
       (rc = get_uint(t, "maxReceivesPerSecond", 1, 1000000,
                      &p->max_per_second, why, whylen)))
      return rc;
  }
  return CH_OK;
}

/* SNS's cross-field rules. */
static ch_err check_limits(const certhub_delivery_policy *p, char *why,
                           size_t whylen)
{
  if(p->min_delay > p->max_delay)
    return why_set(why, whylen, CH_ERR_CONFIG,
                   "DeliveryPolicy: minDelayTarget (%u) is greater than "
                   "maxDelayTarget (%u)",
                   p->min_delay, p->max_delay);
  if((uint64_t)p->num_no_delay + p->num_min_delay + p->num_max_delay >
     p->num_retries)
    return why_set(why, whylen, CH_ERR_CONFIG,
                   "DeliveryPolicy: numNoDelayRetries + numMinDelayRetries "
                   "+ numMaxDelayRetries (%u) exceed numRetries (%u)",
                   p->num_no_delay + p->num_min_delay + p->num_max_delay,
                   p->num_retries);
  int64_t total = 0;
  for(unsigned r = 1; r <= p->num_retries; r++)
    total += certhub_delivery_policy_delay_ms(p, r);
  if(total > MAX_TOTAL_MS)
    return why_set(why, whylen, CH_ERR_CONFIG,
                   "DeliveryPolicy: the retries span %lld s, more than "
                   "SNS's 3600 s",
                   (long long)(total / 1000));
  return CH_OK;
}

ch_err certhub_delivery_policy_parse(const char *text,
                                     certhub_delivery_policy *p, char *why,
                                     size_t whylen)
{
  json_error_t jerr;
  ch_err rc = CH_OK;
  if(why && whylen)
    why[0] = '\0';
  if(!text || !p)
    return CH_ERR_USAGE;
  json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if(!root)
    return why_set(why, whylen, CH_ERR_PARSE,
                   "DeliveryPolicy is not JSON: %s (line %d)", jerr.text,
                   jerr.line);
  if(!json_is_object(root)) {
    rc = why_set(why, whylen, CH_ERR_PARSE,
                 "DeliveryPolicy must be a JSON object");
    goto out;
  }
  /* A topic's policy nests the same members under "http" (SNS). */
  json_t *http = json_object_get(root, "http");
  json_t *body = root;
  if(http) {
    if(!json_is_object(http) || json_object_size(root) != 1) {
      rc = why_set(why, whylen, CH_ERR_CONFIG,
                   "DeliveryPolicy: \"http\" must be the only member and an "
                   "object");
      goto out;
    }
    static const char *const topkeys[] = {
        "defaultHealthyRetryPolicy", "defaultThrottlePolicy",
        "disableSubscriptionOverrides", "defaultRequestPolicy"};
    if((rc = check_keys(http, "http", topkeys, CH_ARRAY_LEN(topkeys), why,
                        whylen)))
      goto out;
    json_t *alias = json_object();
    if(!alias) {
      rc = CH_ERR_NOMEM;
      goto out;
    }
    json_t *h = json_object_get(http, "defaultHealthyRetryPolicy");
    json_t *t = json_object_get(http, "defaultThrottlePolicy");
    if(h)
      json_object_set(alias, "healthyRetryPolicy", h);
    if(t)
      json_object_set(alias, "throttlePolicy", t);
    rc = parse_obj(alias, p, why, whylen);
    json_decref(alias);
  }
  else
    rc = parse_obj(body, p, why, whylen);
  if(!rc)
    rc = check_limits(p, why, whylen);
out:
  json_decref(root);
  return rc;
}

int64_t certhub_delivery_policy_delay_ms(const certhub_delivery_policy *p,
                                         unsigned retry)
{
  if(retry == 0 || retry > p->num_retries)
    return -1;
  unsigned nb =
      p->num_retries - p->num_no_delay - p->num_min_delay - p->num_max_delay;
  double lo = p->min_delay, hi = p->max_delay;
  if(retry <= p->num_no_delay)
    return 0;
  retry -= p->num_no_delay;
  if(retry <= p->num_min_delay)
    return (int64_t)p->min_delay * 1000;
  retry -= p->num_min_delay;
  if(retry > nb)
    return (int64_t)p->max_delay * 1000;
  /* Backoff phase: retry in 1..nb, the first at min, the last at max. */
  double f = nb > 1 ? (double)(retry - 1) / (nb - 1) : 0.0, d;
  switch(p->backoff) {
  case CERTHUB_BACKOFF_ARITHMETIC:
    d = lo + (hi - lo) * (f * (f + 1.0 / nb)) / (1.0 + 1.0 / nb);
    break;
  case CERTHUB_BACKOFF_GEOMETRIC:
    d = lo * pow(hi / lo, f);
    break;
  case CERTHUB_BACKOFF_EXPONENTIAL:
    d = lo + (hi - lo) * (pow(2.0, 10.0 * f) - 1.0) / (pow(2.0, 10.0) - 1.0);
    break;
  case CERTHUB_BACKOFF_LINEAR:
  default:
    d = lo + (hi - lo) * f;
    break;
  }
  return (int64_t)llround(d * 1000.0);
}
