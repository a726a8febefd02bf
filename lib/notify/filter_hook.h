/*
 * The delivery engine's filter policy hook: per subscription, its
 * FilterPolicy and FilterPolicyScope attributes (ch_notify_sub.attributes,
 * SNS's names) compiled once and cached, then asked per message
 * (certhub/notify_filter.h).
 *
 * Ownership and threads: the cache owns the compiled policies; one
 * cache is used by one thread at a time (the engine's loop).
 */
#ifndef CH_NOTIFY_FILTER_HOOK_H
#define CH_NOTIFY_FILTER_HOOK_H

#include <stdbool.h>
#include <stddef.h>

#include "certhub/certhub.h"

struct ch_notify_sub;
struct ch_notify_msg;

typedef struct ch_notify_filter_cache ch_notify_filter_cache;

ch_err ch_notify_filter_cache_new(ch_notify_filter_cache **out);
void ch_notify_filter_cache_free(ch_notify_filter_cache *c);

/* The hook (ctx: a ch_notify_filter_cache *). True when the subscription
 * has no FilterPolicy or its policy accepts the message; false when it
 * does not, and also when the policy is invalid (SetSubscriptionAttributes
 * refuses those, so one here was stored by something else) or the
 * message's attributes are malformed: a filter must not let through what
 * it cannot judge. The last such problem is kept for the log. */
bool ch_notify_filter_accepts(void *ctx, const struct ch_notify_sub *sub,
                              const struct ch_notify_msg *msg);

/* The last problem the hook met into out ("" when none); reading clears
 * it. */
void ch_notify_filter_problem(ch_notify_filter_cache *c, char *out,
                              size_t outlen);

/* filter.c's two halves of certhub_filter_policy_accepts() for
 * MessageAttributes scope, so the hook can build a message's attributes
 * event once for all its subscriptions: the event text (*text malloc'd;
 * CH_ERR_PARSE with *why when the attributes are malformed), and the
 * match against it (attrs_text: that text; ignored under MessageBody). */
struct certhub_filter_policy;
ch_err ch_filter_attrs_text(const char *attributes_json, char **text,
                            char **why);
ch_err ch_filter_accepts_text(struct certhub_filter_policy *p,
                              const char *attrs_text, const char *message,
                              size_t len, bool *accepted, char **why);

/* Validate a subscription's FilterPolicy/FilterPolicyScope attribute
 * values (policy: JSON text; scope NULL: MessageAttributes), as
 * SetSubscriptionAttributes does. *why (malloc'd) on error. */
ch_err ch_notify_filter_check(const char *policy, const char *scope,
                              char **why);

#endif
