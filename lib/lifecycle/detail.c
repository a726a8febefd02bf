/*
 * Event details in ACM's field names and types, and the EventBridge
 * envelope of any certhub_event as JSON.
 *
 * Choices where ACM's meaning has no exact counterpart for certificates
 * found in files and on endpoints:
 *   CertificateCreatedDate  when certhub first saw the certificate (ACM's
 *                           CreatedAt of an imported certificate is its
 *                           import time, not its notBefore)
 *   InUse                   present at a TLS endpoint certhub probes
 *   Exported                false (certhub never exports private keys)
 *   DomainValidationMethod  omitted: ACM validates the domains of the
 *                           certificates it issues (DNS, EMAIL); an
 *                           imported one was validated by someone else
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/time.h"
#include "lifecycle_int.h"

/* Length of the valid UTF-8 sequence at p, 0 when invalid. */
static size_t utf8_len(const unsigned char *p)
{
  size_t n;
  uint32_t min;
  if(p[0] < 0x80)
    return 1;
  if((p[0] & 0xe0) == 0xc0) {
    n = 2;
    min = 0x80;
  }
  else if((p[0] & 0xf0) == 0xe0) {
    n = 3;
    min = 0x800;
  }
  else if((p[0] & 0xf8) == 0xf0) {
    n = 4;
    min = 0x10000;
  }
  else
    return 0;
  uint32_t cp = p[0] & (0x7f >> n);
  for(size_t i = 1; i < n; i++) {
    if((p[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if(cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

json_t *ch_lc_json_str(const char *s)
{
  json_t *j = json_string(s ? s : "");
  if(j)
    return j;
  ch_buf b;
  ch_buf_init(&b, strlen(s) * 3 + 1);
  const unsigned char *p = (const unsigned char *)s;
  ch_err rc = CH_OK;
  while(*p && !rc) {
    size_t n = utf8_len(p);
    rc = n ? ch_buf_add(&b, p, n) : ch_buf_addstr(&b, "\xef\xbf\xbd");
    p += n ? n : 1;
  }
  if(!rc && !b.data)
    rc = ch_buf_addstr(&b, "");
  j = rc ? NULL : json_string(b.data);
  ch_buf_free(&b);
  return j;
}

static bool in_use(const lc_cert *c)
{
  for(size_t i = 0; i < c->n_places; i++)
    if(!strcmp(c->places[i].kind, CERTHUB_SOURCE_ENDPOINT))
      return true;
  return false;
}

static json_t *time_str(int64_t t)
{
  char buf[32];
  certhub_time_format(t, buf, sizeof(buf));
  return json_string(buf);
}

static char *finish(json_t *o)
{
  char *text = NULL;
  if(o)
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  return text;
}

/* Names go through ch_lc_json_str (a DNS SAN standing in for the CN is
 * not checked for UTF-8 by lib/x509); a failure here is memory. */
char *ch_lc_detail_approaching(const lc_cert *c)
{
  return finish(json_pack("{sI so}", "DaysToExpiry", (json_int_t)c->days,
                          "CommonName", ch_lc_json_str(c->cn)));
}

char *ch_lc_detail_expired(const lc_cert *c)
{
  return finish(json_pack("{ss so so so sb sb}", "CertificateType", c->type,
                          "CommonName", ch_lc_json_str(c->cn),
                          "CertificateCreatedDate", time_str(c->first_seen),
                          "CertificateExpirationDate", time_str(c->not_after),
                          "InUse", in_use(c), "Exported", false));
}

char *ch_lc_detail_available(const lc_cert *c, const char *action)
{
  return finish(json_pack(
      "{ss ss so so so sI sb sb}", "Action", action, "CertificateType",
      c->type, "CommonName", ch_lc_json_str(c->cn), "CertificateCreatedDate",
      time_str(c->first_seen), "CertificateExpirationDate",
      time_str(c->not_after), "DaysToExpiry", (json_int_t)c->days, "InUse",
      in_use(c), "Exported", false));
}

char *ch_lc_detail_renewal(const lc_cert *c, const char *reason)
{
  return finish(json_pack(
      "{ss so ss sI so sb sb}", "CertificateType", c->type, "CommonName",
      ch_lc_json_str(c->cn), "RenewalStatusReason", reason, "DaysToExpiry",
      (json_int_t)c->days, "CertificateExpirationDate", time_str(c->not_after),
      "InUse", in_use(c), "Exported", false));
}
