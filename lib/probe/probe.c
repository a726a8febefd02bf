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

const char *certhub_tls_version_name(uint16_t v)
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

/* RFC 8446 / RFC 5246 alert descriptions, shared by both TLS engines. */
const char *ch_tls_alert_name(unsigned d)
{
  switch(d) {
  case 0:
    return "close_notify";
  case 10:
    return "unexpected_message";
  case 20:
    return "bad_record_mac";
  case 21:
    return "decryption_failed";
  case 22:
    return "record_overflow";
  case 30:
    return "decompression_failure";
  case 40:
    return "handshake_failure";
  case 41:
    return "no_certificate";
  case 42:
    return "bad_certificate";
  case 43:
    return "unsupported_certificate";
  case 44:
    return "certificate_revoked";
  case 45:
    return "certificate_expired";
  case 46:
    return "certificate_unknown";
  case 47:
    return "illegal_parameter";
  case 48:
    return "unknown_ca";
  case 49:
    return "access_denied";
  case 50:
    return "decode_error";
  case 51:
    return "decrypt_error";
  case 60:
    return "export_restriction";
  case 70:
    return "protocol_version";
  case 71:
    return "insufficient_security";
  case 80:
    return "internal_error";
  case 86:
    return "inappropriate_fallback";
  case 90:
    return "user_canceled";
  case 100:
    return "no_renegotiation";
  case 109:
    return "missing_extension";
  case 110:
    return "unsupported_extension";
  case 111:
    return "certificate_unobtainable";
  case 112:
    return "unrecognized_name";
  case 113:
    return "bad_certificate_status_response";
  case 114:
    return "bad_certificate_hash_value";
  case 115:
    return "unknown_psk_identity";
  case 116:
    return "certificate_required";
  case 120:
    return "no_application_protocol";
  default:
    return "unknown";
  }
}

void certhub_chain_problems_text(unsigned problems, char *buf, size_t len)
{
  size_t o = 0;
  if(!len)
    return;
  buf[0] = '\0';
  for(unsigned bit = 1; bit; bit <<= 1) {
    const char *name =
        (problems & bit) ? certhub_chain_problem_name(bit) : NULL;
    if(!name)
      continue;
    int w = snprintf(buf + o, len - o, "%s%s", o ? "," : "", name);
    if(w < 0 || (size_t)w >= len - o)
      break;
    o += (size_t)w;
  }
}
