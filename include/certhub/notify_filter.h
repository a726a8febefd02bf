/*
 * SNS subscription filter policies: compile a policy (FilterPolicy JSON
 * with its FilterPolicyScope) once, then ask per message whether the
 * subscription accepts it.
 *
 * A policy is an EventBridge event pattern in SNS's dialect, so it is
 * compiled by the event bus's matcher (include/certhub/ruleset.h) after
 * SNS's own validation:
 *   - operators: exact strings, numbers, true/false/null; prefix, suffix,
 *     equals-ignore-case, anything-but (values, or prefix/suffix),
 *     numeric ranges, exists, cidr, and $or. Others (wildcard, unknown
 *     names) are refused as SNS does.
 *   - limits: at most 5 keys (attribute names, or leaf field paths for
 *     MessageBody), at most 150 value combinations (the product of the
 *     value-array sizes, summed over $or alternatives), numbers within
 *     [-1e9, 1e9], nesting at most CERTHUB_FILTER_MAX_DEPTH levels
 *     (MessageBody only: MessageAttributes policies are flat), at most
 *     CERTHUB_FILTER_MAX_LEN bytes of policy.
 * Error messages follow SNS's "FilterPolicy: ..." wording where it is
 * known.
 *
 * Scope MessageAttributes: the attributes are the SNS MessageAttributes
 * object, {"name": {"Type": "String"|"String.Array"|"Number"|"Binary",
 * "Value": "..."}} (the Publish API's DataType/StringValue spelling is
 * accepted too). They become event fields: String a string,
 * String.Array the elements of its JSON array (a policy value matches
 * any element), Number a number (compared by value), Binary is not
 * compared (as SNS). Scope MessageBody: the message must be a JSON
 * object, matched as an event; a message that is not JSON is not
 * accepted.
 *
 * Ownership and threads: the policy owns its compiled form and a match
 * scratch; certhub_filter_policy_accepts() uses that scratch, so one
 * policy is used by one thread at a time.
 */
#ifndef CERTHUB_NOTIFY_FILTER_H
#define CERTHUB_NOTIFY_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "certhub.h"

#define CERTHUB_FILTER_MAX_LEN (256 * 1024) /* SNS: 256 KB */
#define CERTHUB_FILTER_MAX_KEYS 5
#define CERTHUB_FILTER_MAX_COMBOS 150
#define CERTHUB_FILTER_MAX_DEPTH 5     /* MessageBody nesting (certhub) */
#define CERTHUB_FILTER_MAX_KEY_LEN 256 /* bytes of a dotted key path */
#define CERTHUB_FILTER_NUMBER_LIMIT 1e9

typedef enum certhub_filter_scope {
  CERTHUB_FILTER_ATTRIBUTES, /* "MessageAttributes", the default */
  CERTHUB_FILTER_BODY,       /* "MessageBody" */
} certhub_filter_scope;

typedef struct certhub_filter_policy certhub_filter_policy;

/* "MessageAttributes" / "MessageBody" (NULL: MessageAttributes) into
 * *scope; CH_ERR_PARSE for anything else. */
ch_err certhub_filter_scope_parse(const char *s,
                                  certhub_filter_scope *scope /* OUT */);

/* Compile policy_json (NUL-terminated). On success *out is owned by the
 * caller (certhub_filter_policy_free). CH_ERR_PARSE (invalid), or
 * CH_ERR_TOOBIG (a limit) with *why, a malloc'd message the caller frees
 * (if why is not NULL). */
ch_err certhub_filter_policy_compile(const char *policy_json,
                                     certhub_filter_scope scope,
                                     certhub_filter_policy **out, char **why);

/* Does the subscription take this message? attributes_json: the
 * MessageAttributes object or NULL (none); message[0..len): the body.
 * CH_ERR_PARSE with *why (malloc'd) when the attributes are not a valid
 * MessageAttributes object; a body that is not JSON is just not
 * accepted under MessageBody scope. */
ch_err certhub_filter_policy_accepts(certhub_filter_policy *p,
                                     const char *attributes_json,
                                     const char *message, size_t len,
                                     bool *accepted /* OUT */, char **why);

certhub_filter_scope
certhub_filter_policy_scope(const certhub_filter_policy *p);

void certhub_filter_policy_free(certhub_filter_policy *p);

/* ---- the delivery engine's hook ----------------------------------------
 * For certhub_notify_engine_cfg.filter_accepts/filter_ctx: each
 * subscription's FilterPolicy/FilterPolicyScope attributes compiled once
 * and cached (ctx, one thread at a time). A policy that cannot be judged
 * (invalid, malformed message attributes) does not accept. The engine
 * passes each message's logged MessageAttributes (certhub/notify.h) as
 * msg->attributes_json. */
struct ch_notify_sub;
struct ch_notify_msg;
ch_err certhub_notify_filter_hook_new(void **ctx /* OUT */);
void certhub_notify_filter_hook_free(void *ctx);
bool certhub_notify_filter_hook(void *ctx, const struct ch_notify_sub *sub,
                                const struct ch_notify_msg *msg);

#endif
