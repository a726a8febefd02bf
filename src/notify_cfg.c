/*
 * The delivery engine's settings from the CLI context.
 */
#include <stdio.h>
#include <string.h>

#include "notify_cfg.h"

void cli_notify_engine_cfg(cli_ctx *c, certhub_notify_engine_cfg *cfg,
                           char *dir, size_t dirlen)
{
  *cfg = (certhub_notify_engine_cfg){0};
  /* The data directory is the database's: a generated signing key lives
   * next to the data it signs for. */
  const char *t = c->db_target ? c->db_target : ".";
  if(!strncmp(t, "sqlite:", 7))
    t += 7;
  const char *slash = strrchr(t, '/');
  if(strstr(t, "://") || !slash)
    snprintf(dir, dirlen, ".");
  else if(slash == t)
    snprintf(dir, dirlen, "/");
  else
    snprintf(dir, dirlen, "%.*s", (int)(slash - t), t);
  cfg->data_dir = dir;
}
