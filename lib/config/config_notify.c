/*
 * notify.smtp in the configuration (the rest of notify: is in
 * config_topics.c): the email
 * protocol. The password is not read here: the config keeps only where it
 * comes from (password_file or password_env), and the email protocol
 * reads it when it sends (lib/notify/proto_email.c).
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/config.h"
#include "config_int.h"

static const char *const smtp_keys[] = {
    "url",          "from",        "username", "password_file",
    "password_env", "require_tls", "ca_file",
};

static ch_err get_flag(ch_cfgerr *e, const ch_ynode *n, const char *path,
                       bool *out)
{
  if(n && n->kind == CH_Y_SCALAR && n->plain) {
    if(!strcmp(n->str, "true") || !strcmp(n->str, "yes")) {
      *out = true;
      return CH_OK;
    }
    if(!strcmp(n->str, "false") || !strcmp(n->str, "no")) {
      *out = false;
      return CH_OK;
    }
  }
  return ch_cfg_errorf(e, n, path, "expected true or false");
}

/* The same rule as the email protocol's endpoints: one '@', printable
 * ASCII without characters that could end a header or SMTP command. */
static bool address_ok(const char *s)
{
  const char *at = strchr(s, '@');
  size_t n = strlen(s);
  if(!at || at == s || !at[1] || strchr(at + 1, '@') || n > 254)
    return false;
  for(const char *p = s; *p; p++)
    if(*p <= ' ' || *p >= 0x7f || strchr("<>()[],;:\"\\", *p))
      return false;
  return true;
}

static ch_err load_smtp(ch_cfgerr *e, const ch_ynode *n, certhub_smtp_cfg *s)
{
  ch_err rc = ch_cfg_check_keys(e, n, "notify.smtp", smtp_keys,
                                CH_ARRAY_LEN(smtp_keys));
  if(rc)
    return rc;
  s->line = n->line;
  s->require_tls = true;
  char kp[128];
  for(const ch_ynode *k = n->first; k && !rc; k = k->next) {
    const ch_ynode *v = k->value;
    ch_cfg_path(kp, sizeof(kp), "notify.smtp", k->str);
    if(!strcmp(k->str, "url"))
      rc = ch_cfg_string(e, v, kp, &s->url);
    else if(!strcmp(k->str, "from"))
      rc = ch_cfg_string(e, v, kp, &s->from);
    else if(!strcmp(k->str, "username"))
      rc = ch_cfg_string(e, v, kp, &s->username);
    else if(!strcmp(k->str, "password_file"))
      rc = ch_cfg_string(e, v, kp, &s->password_file);
    else if(!strcmp(k->str, "password_env"))
      rc = ch_cfg_string(e, v, kp, &s->password_env);
    else if(!strcmp(k->str, "require_tls"))
      rc = get_flag(e, v, kp, &s->require_tls);
    else if(!strcmp(k->str, "ca_file"))
      rc = ch_cfg_string(e, v, kp, &s->ca_file);
  }
  if(rc)
    return rc;
  if(!s->url)
    return ch_cfg_errorf(e, n, "notify.smtp.url",
                         "missing (smtp://HOST:PORT or smtps://HOST:PORT)");
  bool plain = !strncmp(s->url, "smtp://", 7);
  if(!plain && strncmp(s->url, "smtps://", 8))
    return ch_cfg_errorf(e, ch_ymap_get(n, "url"), "notify.smtp.url",
                         "must start with smtp:// or smtps://");
  for(const char *p = s->url; *p; p++)
    if(*p <= ' ' || *p >= 0x7f)
      return ch_cfg_errorf(e, ch_ymap_get(n, "url"), "notify.smtp.url",
                           "spaces or control characters in the URL");
  if(!s->from)
    return ch_cfg_errorf(e, n, "notify.smtp.from", "missing (an address)");
  if(!address_ok(s->from))
    return ch_cfg_errorf(e, ch_ymap_get(n, "from"), "notify.smtp.from",
                         "not an address like certhub@example.com");
  if(s->password_file && s->password_env)
    return ch_cfg_errorf(e, ch_ymap_get(n, "password_env"),
                         "notify.smtp.password_env",
                         "give password_file or password_env, not both");
  if(!s->username && (s->password_file || s->password_env))
    return ch_cfg_errorf(e, n, "notify.smtp.username",
                         "missing (a password is given)");
  if(s->username && !s->password_file && !s->password_env)
    return ch_cfg_errorf(e, ch_ymap_get(n, "username"), "notify.smtp.username",
                         "needs password_file or password_env");
  /* Plain smtp:// without STARTTLS would send the password in clear. */
  if(plain && !s->require_tls && s->username)
    return ch_cfg_errorf(e, ch_ymap_get(n, "require_tls"),
                         "notify.smtp.require_tls",
                         "false with a username would send the password "
                         "unencrypted");
  return CH_OK;
}

/* Called by the notify: loader (config_topics.c), which checked the keys. */
ch_err ch_cfg_load_notify_smtp(ch_cfgerr *e, const ch_ynode *n,
                               certhub_config *c)
{
  const ch_ynode *smtp = ch_ymap_get(n, "smtp");
  if(!smtp || ch_ynode_is_null(smtp))
    return CH_OK;
  if(smtp->kind != CH_Y_MAP)
    return ch_cfg_errorf(e, smtp, "notify.smtp", "expected a map, not %s",
                         ch_ynode_kind_name(smtp));
  if(!(c->smtp = calloc(1, sizeof(*c->smtp))))
    return ch_cfg_errorf(e, smtp, "notify.smtp", "out of memory");
  return load_smtp(e, smtp, c->smtp);
}

void ch_cfg_notify_free(certhub_config *c)
{
  certhub_smtp_cfg *s = c->smtp;
  if(!s)
    return;
  free(s->url);
  free(s->from);
  free(s->username);
  free(s->password_file);
  free(s->password_env);
  free(s->ca_file);
  free(s);
  c->smtp = NULL;
}
