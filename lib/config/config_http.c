/*
 * The http: section of the configuration (the HTTP API of certhub serve):
 *
 *   http:
 *     listen: 127.0.0.1:8080      # ADDR:PORT, [v6]:PORT; "off" disables
 *     tls_cert_file: /etc/certhub/api.pem   # with tls_key_file: HTTPS
 *     tls_key_file: /etc/certhub/api.key
 *     base_url: https://certhub.example.com # URLs the API hands out
 *     max_body: 6291456           # request body limit in bytes
 *     threads: 4                  # worker threads (1..64)
 *     metrics_auth: false         # /metrics needs a read token
 *
 * Values are checked for form here; the listen address is resolved when
 * the server starts.
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/config.h"
#include "config_int.h"

static const char *const http_keys[] = {
    "listen",   "tls_cert_file", "tls_key_file", "base_url",
    "max_body", "threads",       "metrics_auth",
};

static ch_err get_flag(ch_cfgerr *e, const ch_ynode *n, const char *path,
                       bool *out)
{
  if(n && n->kind == CH_Y_SCALAR && n->plain &&
     (!strcmp(n->str, "true") || !strcmp(n->str, "false"))) {
    *out = !strcmp(n->str, "true");
    return CH_OK;
  }
  return ch_cfg_errorf(e, n, path, "expected true or false");
}

ch_err ch_cfg_load_http(ch_cfgerr *e, const ch_ynode *n,
                        struct certhub_config *c)
{
  char kp[64];
  long v;
  certhub_http_cfg *h = &c->http;
  if(ch_ynode_is_null(n))
    return CH_OK;
  ch_err rc =
      ch_cfg_check_keys(e, n, "http", http_keys, CH_ARRAY_LEN(http_keys));
  if(rc)
    return rc;
  for(const ch_ynode *k = n->first; k; k = k->next) {
    const ch_ynode *val = k->value;
    ch_cfg_path(kp, sizeof(kp), "http", k->str);
    if(!strcmp(k->str, "listen"))
      rc = ch_cfg_string(e, val, kp, &h->listen);
    else if(!strcmp(k->str, "tls_cert_file"))
      rc = ch_cfg_string(e, val, kp, &h->tls_cert_file);
    else if(!strcmp(k->str, "tls_key_file"))
      rc = ch_cfg_string(e, val, kp, &h->tls_key_file);
    else if(!strcmp(k->str, "base_url"))
      rc = ch_cfg_string(e, val, kp, &h->base_url);
    else if(!strcmp(k->str, "max_body")) {
      /* at least 1 KiB (a findings request), at most 1 GiB */
      rc = ch_cfg_int(e, val, kp, 1024, 1L << 30, &v);
      if(!rc)
        h->max_body = (size_t)v;
    }
    else if(!strcmp(k->str, "threads")) {
      rc = ch_cfg_int(e, val, kp, 1, 64, &v);
      if(!rc)
        h->threads = (unsigned)v;
    }
    else if(!strcmp(k->str, "metrics_auth")) {
      rc = get_flag(e, val, kp, &h->metrics_auth);
      if(!rc)
        h->metrics_auth_set = true;
    }
    if(rc)
      return rc;
  }
  if(!h->tls_cert_file != !h->tls_key_file)
    return ch_cfg_errorf(
        e, ch_ymap_get(n, h->tls_cert_file ? "tls_cert_file" : "tls_key_file"),
        h->tls_cert_file ? "http.tls_cert_file" : "http.tls_key_file",
        "tls_cert_file and tls_key_file go together");
  return CH_OK;
}

void ch_cfg_http_free(struct certhub_config *c)
{
  free(c->http.listen);
  free(c->http.tls_cert_file);
  free(c->http.tls_key_file);
  free(c->http.base_url);
}
