/*
 * The delivery engine's settings from the CLI context, and the
 * configuration's topics applied to the store (shared by `certhub topics
 * deliver` and `certhub serve`).
 */
#ifndef CERTHUB_NOTIFY_CFG_H
#define CERTHUB_NOTIFY_CFG_H

#include <stdbool.h>
#include <stddef.h>

#include "certhub/deliver.h"
#include "cli.h"

/* Owns the topic settings cfg points at. */
typedef struct cli_notify {
  certhub_notify_engine_cfg cfg;
  char dir[4096];
  certhub_notify_topic_cfg *topics;
  void *filter; /* the filter policy hook's cache */
} cli_notify;

/* Fill n from c's configuration (loaded) and database location (s open),
 * and create the configured topics and subscriptions (idempotent; endpoint
 * files and variables read now, never printed). Returns an exit code;
 * errors are printed. Free with cli_notify_free either way. */
int cli_notify_setup(cli_ctx *c, certhub_store *s, cli_notify *n);
void cli_notify_free(cli_notify *n);

#endif
