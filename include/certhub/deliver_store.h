/*
 * The store's side of subscriptions and deliveries (certhub/deliver.h):
 * plain rows in and out, no SNS validation (lib/notify does that).
 * Dispatched through the backend table like every store function.
 *
 * Ownership as in store.h: rows passed to callbacks are borrowed for the
 * callback; arguments are borrowed for the call.
 */
#ifndef CERTHUB_DELIVER_STORE_H
#define CERTHUB_DELIVER_STORE_H

#include "deliver.h"
#include "store.h"

/* Insert sub (topic_arn is taken from the topic) unless a subscription of
 * the same topic, protocol and endpoint exists: then *created is false and
 * its ARN and status are copied out. A new pending subscription gets a
 * SubscriptionConfirmation delivery (message id confirm_id) in the same
 * transaction. CH_ERR_NOTFOUND when the topic does not exist. */
ch_err certhub_store_sub_put(certhub_store *s, const certhub_subscription *sub,
                             const char *confirm_id, int64_t now_ms,
                             bool *created /* OUT */,
                             char arn_out[CERTHUB_SUB_ARN_MAX] /* OUT */,
                             bool *pending /* OUT */);
/* topic NULL: all; arn NULL: all of topic. */
ch_err certhub_store_subs(certhub_store *s, const char *topic, const char *arn,
                          certhub_subscription_cb cb, void *ctx);
/* The subscription of topic (name) with token becomes Confirmed (if it
 * was pending). CH_ERR_NOTFOUND when there is none. */
ch_err certhub_store_sub_confirm(certhub_store *s, const char *topic,
                                 const char *token, int64_t now,
                                 char arn_out[CERTHUB_SUB_ARN_MAX]);
/* Delete the subscription and its deliveries. CH_ERR_NOTFOUND. */
ch_err certhub_store_sub_delete(certhub_store *s, const char *arn);

/* Fan-out: every message logged since the last fan-out becomes one
 * pending delivery per subscription of its topic confirmed at or before
 * its publication, in one transaction with the fan-out cursor, so a crash
 * neither loses nor duplicates a row (the (message, subscription) pair is
 * also unique). *n gets the rows added. */
ch_err certhub_store_fanout(certhub_store *s, int64_t now_ms,
                            uint64_t *n /* OUT */);
/* Pending deliveries due at now_ms, earliest first (by next_at_ms, id),
 * with their content; only those after (after_ms, after_id) so a caller
 * can sweep through a long queue without reading its head again (0, 0:
 * from the start). */
ch_err certhub_store_deliveries_due(certhub_store *s, int64_t now_ms,
                                    int64_t after_ms, int64_t after_id,
                                    size_t limit, certhub_sns_delivery_cb cb,
                                    void *ctx);
/* Record the outcomes of n attempts in one transaction. */
ch_err certhub_store_deliveries_update(certhub_store *s,
                                       const certhub_sns_delivery_update *u,
                                       size_t n);
ch_err certhub_store_deliveries(certhub_store *s,
                                const certhub_sns_delivery_filter *f,
                                certhub_sns_delivery_cb cb, void *ctx);
ch_err certhub_store_dlq_redrive(certhub_store *s, int64_t id,
                                 const char *topic, int64_t now_ms,
                                 uint64_t *n /* OUT */);
ch_err certhub_store_dlq_purge(certhub_store *s, int64_t id, const char *topic,
                               uint64_t *n /* OUT */);
/* Earliest next_at_ms of a pending delivery; *found false when none. */
ch_err certhub_store_delivery_next_due(certhub_store *s,
                                       int64_t *when_ms /* OUT */,
                                       bool *found /* OUT */);

#endif
