/*
 * The delivery engine's settings from the CLI context (shared by
 * `certhub topics deliver` and `certhub serve`).
 */
#ifndef CERTHUB_NOTIFY_CFG_H
#define CERTHUB_NOTIFY_CFG_H

#include <stddef.h>

#include "certhub/deliver.h"
#include "cli.h"

/* Fill cfg from c's configuration and database location; dir (dirlen
 * bytes) holds the data directory cfg points at. The store must be open
 * (c->db_target set). */
void cli_notify_engine_cfg(cli_ctx *c, certhub_notify_engine_cfg *cfg,
                           char *dir, size_t dirlen);

#endif
