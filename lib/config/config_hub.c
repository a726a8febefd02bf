/*
 * The `hub:` section: where this instance forwards its findings
 * (certhub/hub.h).
 *
 *   hub:
 *     forward_to: https://hub.example:8080   # the hub's certhub serve
 *     token_file: /etc/certhub/hub.token     # findings:write token
 *     ca_file: /etc/certhub/hub-ca.pem       # optional
 *     timeout: 30s                           # optional, per request
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
