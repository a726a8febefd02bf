/*
 * The delivery engine's settings from the CLI context, and the
 * configuration's topics applied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/notify.h"
#include "certhub/notify_filter.h"
#include "notify_cfg.h"

/* The endpoint of a configured subscription into *out (malloc'd). */
static int sub_endpoint(cli_ctx *c, const certhub_topic_cfg *t,
                        const certhub_sub_cfg *sc, char **out)
{
  const char *file = c->config->file ? c->config->file : "config";
  *out = NULL;
  if(sc->endpoint) {
    *out = strdup(sc->endpoint);
  }
  else if(sc->endpoint_env) {
    const char *v = getenv(sc->endpoint_env);
    if(!v || !*v)
      return cli_fail(c, CLI_EXIT_USAGE,
                      "%s:%d: topics: %s: endpoint_env: the variable %s is "
                      "not set",
                      file, sc->line, t->name, sc->endpoint_env);
    *out = strdup(v);
  }
  else {
    size_t len = 0;
    int code = cli_read_file(c, "endpoint_file", sc->endpoint_file,
                             CERTHUB_ENDPOINT_MAX, out, &len);
    if(code)
      return code;
    while(len && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r'))
      (*out)[--len] = '\0';
  }
  return *out ? 0 : cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
}

static int apply_topics(cli_ctx *c, certhub_store *s)
{
  const certhub_config *cfg = c->config;
  const char *file = cfg->file ? cfg->file : "config";
  for(size_t i = 0; i < cfg->n_topics; i++) {
    const certhub_topic_cfg *t = &cfg->topics[i];
    ch_err rc = certhub_topic_create(s, t->name, t->display_name, cfg->account,
                                     cfg->region, c->now, NULL);
    if(rc)
      return cli_fail(c, cli_exit_for(rc), "%s:%d: topics: %s", file, t->line,
                      certhub_store_errmsg(s));
    for(size_t j = 0; j < t->n_subs; j++) {
      const certhub_sub_cfg *sc = &t->subs[j];
      char *ep = NULL, arn[CERTHUB_SUB_ARN_MAX];
      int code = sub_endpoint(c, t, sc, &ep);
      if(code)
        return code;
      rc = certhub_subscribe(s, t->name, sc->protocol, ep, sc->attributes,
                             sc->confirmed, c->now, arn, NULL);
      free(ep);
      if(rc)
        return cli_fail(c, cli_exit_for(rc), "%s:%d: topics: %s: %s", file,
                        sc->line, t->name, certhub_store_errmsg(s));
    }
  }
  return 0;
}

int cli_notify_setup(cli_ctx *c, certhub_store *s, cli_notify *n)
{
  const certhub_config *cfg = c->config;
  memset(n, 0, sizeof(*n));
  /* The data directory is the database's: a generated signing key lives
   * next to the data it signs for. */
  const char *t = c->db_target ? c->db_target : ".";
  if(!strncmp(t, "sqlite:", 7))
    t += 7;
  const char *slash = strrchr(t, '/');
  if(strstr(t, "://") || !slash)
    snprintf(n->dir, sizeof(n->dir), ".");
  else if(slash == t)
    snprintf(n->dir, sizeof(n->dir), "/");
  else
    snprintf(n->dir, sizeof(n->dir), "%.*s", (int)(slash - t), t);
  n->cfg.data_dir = n->dir;
  /* Subscriptions' FilterPolicy attributes select what they receive. */
  if(certhub_notify_filter_hook_new(&n->filter))
    return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  n->cfg.filter_accepts = certhub_notify_filter_hook;
  n->cfg.filter_ctx = n->filter;
  if(!cfg)
    return 0;
  /* Links in messages point at the HTTP API: without notify.base_url,
   * http.base_url (serve then falls back to its listener's URL). */
  n->cfg.base_url =
      cfg->notify.base_url ? cfg->notify.base_url : cfg->http.base_url;
  n->cfg.signing_key_file = cfg->notify.signing_key_file;
  n->cfg.signing_cert_file = cfg->notify.signing_cert_file;
  n->cfg.ca_file = cfg->notify.ca_file;
  n->cfg.seal_key_file = cfg->notify.key_file;
  n->cfg.smtp = cfg->smtp;
  n->cfg.max_in_flight = cfg->notify.max_in_flight;
  n->cfg.timeout_ms = (long)cfg->notify.timeout_ms;
  n->cfg.max_age_ms = (int64_t)cfg->notify.max_age_s * 1000;
  if(cfg->n_topics) {
    n->topics = calloc(cfg->n_topics, sizeof(*n->topics));
    if(!n->topics)
      return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    for(size_t i = 0; i < cfg->n_topics; i++)
      n->topics[i] = (certhub_notify_topic_cfg){
          .name = cfg->topics[i].name,
          .delivery_policy = cfg->topics[i].delivery_policy,
          .signature_version = cfg->topics[i].signature_version,
          .templates = cfg->topics[i].templates,
      };
    n->cfg.topics = n->topics;
    n->cfg.n_topics = cfg->n_topics;
  }
  return apply_topics(c, s);
}

void cli_notify_free(cli_notify *n)
{
  free(n->topics);
  n->topics = NULL;
  certhub_notify_filter_hook_free(n->filter);
  n->filter = NULL;
}
