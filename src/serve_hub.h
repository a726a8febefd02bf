/*
 * certhub serve's side of hub forwarding (certhub/hub.h): the queue is
 * switched on or off with the configuration, and each pass forwards what
 * is queued, backing off while the hub is unreachable.
 *
 * Ownership: a serve_hub owns its token copy; the store and config are
 * borrowed for each call.
 */
#ifndef CERTHUB_SERVE_HUB_H
#define CERTHUB_SERVE_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "certhub/config.h"
#include "certhub/store.h"

typedef void (*serve_hub_log)(void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef struct serve_hub {
  bool on;            /* the config has a hub: section */
  char *token;        /* read from hub.token_file */
  int64_t next_try;   /* seconds; 0: now */
  unsigned backoff_s; /* current back-off after a failure */
  bool failing;       /* the last attempt failed (log once per outage) */
  bool more;          /* the last pass left findings queued */
} serve_hub;

/* Apply cfg: turn the queue on (queueing every stored finding the first
 * time) or off, read the token. Errors are logged; forwarding stays off
 * until the next reload fixes them. */
void serve_hub_config(serve_hub *h, certhub_store *s,
                      const certhub_config *cfg, int64_t now,
                      serve_hub_log log, void *log_ctx);

/* Forward what is queued when due. */
void serve_hub_pass(serve_hub *h, certhub_store *s, const certhub_config *cfg,
                    int64_t now, serve_hub_log log, void *log_ctx);

/* When the next attempt is due (seconds): after a failure, the end of
 * the back-off; with findings left over, now; else INT64_MAX (findings
 * queued later go at the next pass). */
int64_t serve_hub_next(const serve_hub *h);

void serve_hub_free(serve_hub *h);

#endif
