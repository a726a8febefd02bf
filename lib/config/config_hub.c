/*
 * The `hub:` section: where this instance forwards its findings
 * (certhub/hub.h); and the `findings:` section: how certhub makes its own.
 *
 *   hub:
 *     forward_to: https://hub.example:8080   # the hub's certhub serve
 *     token_file: /etc/certhub/hub.token     # findings:write token
 *     ca_file: /etc/certhub/hub-ca.pem       # optional
 *     timeout: 30s                           # optional, per request
 *   findings:
 *     expiry_severity: {critical: -1, high: 7, medium: 30}
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/config.h"
#include "config_int.h"

static const char *const hub_keys[] = {"forward_to", "token_file", "ca_file",
                                       "timeout"};

static bool url_ok(const char *u)
{
  const char *h;
  if(!strncmp(u, "http://", 7))
    h = u + 7;
  else if(!strncmp(u, "https://", 8))
    h = u + 8;
  else
    return false;
  if(!*h || *h == '/')
    return false;
  for(const char *p = u; *p; p++)
    if((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
      return false;
  return strlen(u) < 1024;
}

ch_err ch_cfg_load_hub(ch_cfgerr *e, const ch_ynode *n, certhub_config *c)
{
  char kp[64];
  certhub_hub_cfg *h = &c->hub;
  if(ch_ynode_is_null(n))
    return CH_OK;
  ch_err rc = ch_cfg_check_keys(e, n, "hub", hub_keys, CH_ARRAY_LEN(hub_keys));
  if(rc)
    return rc;
  for(const ch_ynode *k = n->first; k && !rc; k = k->next) {
    const ch_ynode *v = k->value;
    ch_cfg_path(kp, sizeof(kp), "hub", k->str);
    if(!strcmp(k->str, "forward_to")) {
      rc = ch_cfg_string(e, v, kp, &h->forward_to);
      if(!rc && !url_ok(h->forward_to))
        rc = ch_cfg_errorf(e, v, kp,
                           "'%.100s' is not an http:// or https:// URL",
                           h->forward_to);
    }
    else if(!strcmp(k->str, "token_file"))
      rc = ch_cfg_string(e, v, kp, &h->token_file);
    else if(!strcmp(k->str, "ca_file"))
      rc = ch_cfg_string(e, v, kp, &h->ca_file);
    else if(!strcmp(k->str, "timeout")) {
      char *text = NULL;
      rc = ch_cfg_string(e, v, kp, &text);
      if(!rc && certhub_duration_parse(text, &h->timeout_ms))
        rc = ch_cfg_errorf(e, v, kp, "'%.64s' is not a duration (e.g. 30s)",
                           text);
      free(text);
    }
  }
  if(rc)
    return rc;
  if(!h->forward_to)
    return ch_cfg_errorf(e, n, "hub", "forward_to: required");
  if(!h->token_file)
    return ch_cfg_errorf(e, n, "hub",
                         "token_file: required (a findings:write token of "
                         "the hub, see certhub-tokens(1))");
  h->enabled = true;
  return CH_OK;
}

void ch_cfg_hub_free(certhub_config *c)
{
  free(c->hub.forward_to);
  free(c->hub.token_file);
  free(c->hub.ca_file);
}

static const char *const findings_keys[] = {"expiry_severity"};
static const char *const band_keys[] = {"critical", "high", "medium"};

/* Days left at or below which an expiry finding gets each severity. Any
 * key may be left out (its default stays); the three must not decrease,
 * or a band would swallow the one above it. */
static ch_err load_bands(ch_cfgerr *e, const ch_ynode *n, const char *path,
                         certhub_findings_cfg *f)
{
  char kp[96];
  long v[3] = {-1, 7, 30};
  ch_err rc =
      ch_cfg_check_keys(e, n, path, band_keys, CH_ARRAY_LEN(band_keys));
  if(rc)
    return rc;
  for(const ch_ynode *k = n->first; k && !rc; k = k->next) {
    ch_cfg_path(kp, sizeof(kp), path, k->str);
    for(size_t i = 0; i < CH_ARRAY_LEN(band_keys); i++)
      if(!strcmp(k->str, band_keys[i]))
        rc = ch_cfg_int(e, k->value, kp, i ? 0 : -1, 3650, &v[i]);
  }
  if(rc)
    return rc;
  if(v[0] > v[1] || v[1] > v[2])
    return ch_cfg_errorf(e, n, path,
                         "critical (%ld) <= high (%ld) <= medium (%ld) must "
                         "hold",
                         v[0], v[1], v[2]);
  f->bands_set = true;
  f->critical_days = (int)v[0];
  f->high_days = (int)v[1];
  f->medium_days = (int)v[2];
  return CH_OK;
}

ch_err ch_cfg_load_findings(ch_cfgerr *e, const ch_ynode *n, certhub_config *c)
{
  char kp[64];
  if(ch_ynode_is_null(n))
    return CH_OK;
  ch_err rc = ch_cfg_check_keys(e, n, "findings", findings_keys,
                                CH_ARRAY_LEN(findings_keys));
  for(const ch_ynode *k = n->first; k && !rc; k = k->next) {
    ch_cfg_path(kp, sizeof(kp), "findings", k->str);
    if(!strcmp(k->str, "expiry_severity"))
      rc = load_bands(e, k->value, kp, &c->findings);
  }
  return rc;
}
