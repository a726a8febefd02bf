/*
 * The protocol table. Each protocol lives in its own proto_<name>.c and is
 * listed here; adding one is one line.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "proto.h"

/* Entries are added by the protocol files (extern const ch_notify_proto
 * ch_notify_proto_<name>;). The NULL ends the table. */
extern const ch_notify_proto ch_notify_proto_http;
extern const ch_notify_proto ch_notify_proto_https;
extern const ch_notify_proto ch_notify_proto_command;
extern const ch_notify_proto ch_notify_proto_file;
extern const ch_notify_proto ch_notify_proto_email;
extern const ch_notify_proto ch_notify_proto_slack;
extern const ch_notify_proto ch_notify_proto_teams;
extern const ch_notify_proto ch_notify_proto_googlechat;
extern const ch_notify_proto ch_notify_proto_webhook;
/* One entry a line, so protocols added on different branches merge. */
/* clang-format off */
static const ch_notify_proto *const protos[] = {
    &ch_notify_proto_http,
    &ch_notify_proto_https,
    &ch_notify_proto_command,
    &ch_notify_proto_file,
    &ch_notify_proto_email,
    &ch_notify_proto_slack,
    &ch_notify_proto_teams,
    &ch_notify_proto_googlechat,
    &ch_notify_proto_webhook,
    NULL,
};
/* clang-format on */

const ch_notify_proto *ch_notify_proto_find(const char *name)
{
  if(!name)
    return NULL;
  for(size_t i = 0; protos[i]; i++)
    if(!strcmp(protos[i]->name, name))
      return protos[i];
  return NULL;
}

const ch_notify_proto *const *ch_notify_protos(size_t *n)
{
  size_t i = 0;
  while(protos[i])
    i++;
  *n = i;
  return protos;
}

void ch_notify_redact(const char *protocol, const char *endpoint, char *out,
                      size_t outlen)
{
  const char *p, *end;
  if(!outlen)
    return;
  out[0] = '\0';
  if(!endpoint)
    return;
  if(protocol && !strcmp(protocol, "email")) {
    p = strrchr(endpoint, '@');
    snprintf(out, outlen, "<address>@%s", p ? p + 1 : "?");
    return;
  }
  p = strstr(endpoint, "://");
  if(!p) {
    snprintf(out, outlen, "<%s>", protocol ? protocol : "endpoint");
    return;
  }
  const char *host = p + 3;
  /* Skip any userinfo: it is a credential. Paths and queries often hold
   * tokens (chat webhooks), so only scheme://host[:port] is shown. */
  end = host + strcspn(host, "/?#");
  for(const char *q = host; q < end; q++)
    if(*q == '@')
      host = q + 1;
  snprintf(out, outlen, "%.*s%.*s", (int)(p + 3 - endpoint), endpoint,
           (int)(end - host), host);
}
