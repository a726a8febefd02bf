/*
 * Names and small helpers shared by the probe module's files.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "probe_int.h"

void ch_fail_set(ch_fail *f, certhub_probe_status st, const char *fmt, ...)
{
  va_list ap;
  f->status = st;
  va_start(ap, fmt);
  vsnprintf(f->reason, sizeof(f->reason), fmt, ap);
  va_end(ap);
}

const char *certhub_probe_status_name(certhub_probe_status s)
{
  static const char *const names[] = {"ok",        "dns",       "refused",
                                      "timeout",   "tls_alert", "protocol",
                                      "error"};
  if((unsigned)s < CH_ARRAY_LEN(names))
    return names[s];
  return "error";
}

const char *certhub_chain_problem_name(unsigned bit)
{
  switch(bit) {
  case CERTHUB_CHAIN_UNKNOWN_ISSUER: return "unknown_issuer";
  case CERTHUB_CHAIN_SELF_SIGNED: return "self_signed";
  case CERTHUB_CHAIN_MISSING_INTERMEDIATE: return "missing_intermediate";
  case CERTHUB_CHAIN_WRONG_ORDER: return "wrong_order";
  case CERTHUB_CHAIN_EXPIRED: return "expired";
  case CERTHUB_CHAIN_EXPIRED_INTERMEDIATE: return "expired_intermediate";
  case CERTHUB_CHAIN_NOT_YET_VALID: return "not_yet_valid";
  case CERTHUB_CHAIN_BAD_SIGNATURE: return "bad_signature";
  case CERTHUB_CHAIN_OTHER: return "other";
  default: return NULL;
  }
}

const char *certhub_ocsp_status_name(certhub_ocsp_status s)
{
  static const char *const names[] = {"none", "good", "revoked", "unknown",
                                      "invalid"};
  if((unsigned)s < CH_ARRAY_LEN(names))
    return names[s];
  return "invalid";
}

const char *ch_tls_version_name(uint16_t v)
{
  switch(v) {
  case 0x0300: return "SSLv3";
  case 0x0301: return "TLSv1.0";
  case 0x0302: return "TLSv1.1";
  case 0x0303: return "TLSv1.2";
  case 0x0304: return "TLSv1.3";
  default: return "";
  }
}
