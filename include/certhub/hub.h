/*
 * certhub hub forwarding: Security Hub's cross-Region aggregation for
 * certhub. An instance configured with
 *
 *   hub:
 *     forward_to: https://hub.example:8080   # the hub's `certhub serve`
 *     token_file: /etc/certhub/hub.token     # a findings:write token
 *
 * sends every finding it creates or changes to the hub's
 * POST /v1/findings/import (BatchImportFindings). Findings keep their
 * AwsAccountId, Region and ProductArn, so the hub knows where each came
 * from.
 *
 * The queue is a table beside the findings (hub_outbox): a trigger adds
 * (ProductArn, Id) whenever a finding is written while forwarding is on,
 * one row per finding however often it changes. A row leaves the queue
 * only after the hub answered for that exact version, so a hub that is
 * down or restarting is caught up later; resending is harmless because
 * the hub ignores an import whose UpdatedAt is not newer.
 *
 * Ownership: strings passed in are borrowed for the call; rows passed to
 * callbacks are borrowed for the callback.
 */
#ifndef CERTHUB_HUB_H
#define CERTHUB_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certhub.h"

typedef struct certhub_store certhub_store;

/* One request: at most 100 findings (BatchImportFindings) and this many
 * bytes, below the hub's 6 MiB request limit. */
#define CERTHUB_HUB_BATCH_BYTES (5u * 1024u * 1024u)

/* ---- store side ------------------------------------------------------- */

/* One queued finding: its queue position and its current JSON. */
typedef struct certhub_hub_item {
  int64_t seq;
  const char *product_arn;
  const char *id;
  const char *json;
} certhub_hub_item;

typedef ch_err (*certhub_hub_item_cb)(void *ctx, const certhub_hub_item *it);

/* Turn the queue on or off. Turning it on (when it was off) queues every
 * stored finding, so a newly configured hub gets the whole store; off
 * empties the queue. *changed (may be NULL) tells whether the state
 * changed. */
ch_err certhub_store_hub_enable(certhub_store *s, bool on,
                                bool *changed /* OUT */);

/* The oldest queued findings, oldest first, at most limit (1..1000). A
 * queued finding that was deleted meanwhile is dropped from the queue. */
ch_err certhub_store_hub_pending(certhub_store *s, size_t limit,
                                 certhub_hub_item_cb cb, void *ctx);

/* Remove these queue rows (the versions the hub took). A finding written
 * again since then has a new seq and stays queued. */
ch_err certhub_store_hub_done(certhub_store *s, const int64_t *seqs, size_t n);

/* Queue length and whether forwarding is on. */
ch_err certhub_store_hub_state(certhub_store *s, bool *on /* OUT */,
                               uint64_t *queued /* OUT */);

/* ---- the forwarder ---------------------------------------------------- */

typedef struct certhub_hub_target {
  const char *url;     /* the hub's base URL (http:// or https://) */
  const char *token;   /* bearer token (findings:write); never logged */
  const char *ca_file; /* NULL: the system trust store */
  long timeout_ms;     /* per request; 0: 30 s */
} certhub_hub_target;

typedef struct certhub_hub_stats {
  uint64_t sent;     /* findings the hub accepted */
  uint64_t rejected; /* findings the hub refused as invalid (dropped) */
  uint64_t requests;
  uint64_t queued; /* left in the queue afterwards */
} certhub_hub_stats;

/*
 * Send queued findings until the queue is empty or max (0: no limit)
 * findings were sent. Each request is one BatchImportFindings call.
 *   CH_OK           the queue was worked through (or max reached)
 *   CH_ERR_IO       the hub could not be reached or answered 5xx/429:
 *                   try again later (nothing was lost)
 *   CH_ERR_CONFIG   401/403/404: the token or URL is wrong
 *   CH_ERR_PARSE    the hub's answer was not BatchImportFindings'
 * err (may be NULL) gets a one-line reason without the token. Findings
 * the hub refuses one by one (FailedFindings) can never succeed as they
 * are: they leave the queue and are counted in rejected.
 */
ch_err certhub_hub_forward(certhub_store *s, const certhub_hub_target *t,
                           size_t max, certhub_hub_stats *st /* OUT */,
                           char *err, size_t errlen);

/* Read a token file: the first line, surrounding white space removed; at
 * most 4 KiB. *token is malloc'd (caller frees). CH_ERR_IO/CH_ERR_PARSE
 * with the reason in err. */
ch_err certhub_hub_read_token(const char *path, char **token /* OUT */,
                              char *err, size_t errlen);

#endif
