/*
 * certhub topics: the SNS analogue, first layer. A topic is a named channel
 * (name [A-Za-z0-9_-]{1,256}, ARN arn:certhub:sns:REGION:ACCOUNT:NAME);
 * publishing to it validates like SNS Publish and appends the message to
 * the topic message log, which is also the outbox that subscriptions and
 * their deliveries will read (issue 5).
 *
 * Ownership: strings in rows passed to callbacks are borrowed for the
 * callback only. Strings passed in are borrowed for the call.
 */
#ifndef CERTHUB_NOTIFY_H
#define CERTHUB_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certhub.h"

typedef struct certhub_store certhub_store;

#define CERTHUB_TOPIC_NAME_MAX 256
#define CERTHUB_TOPIC_DISPLAY_MAX 100    /* SNS DisplayName */
#define CERTHUB_SUBJECT_MAX 100          /* SNS Subject */
#define CERTHUB_MESSAGE_MAX (256 * 1024) /* SNS Publish: 256 KiB */
#define CERTHUB_MESSAGE_ID_LEN 36        /* UUID v4, text form */

/* One topic. */
typedef struct certhub_topic {
  const char *name;
  const char *arn;
  const char *display_name; /* "" when none */
  int64_t created;
  uint64_t n_messages; /* messages in the log */
} certhub_topic;

/* One published message as logged. */
typedef struct certhub_message {
  const char *message_id; /* UUID v4 */
  const char *topic;
  const char *topic_arn;
  const char *subject; /* NULL when none */
  const char *message; /* UTF-8, not NUL-terminated past len in general */
  size_t len;
  int64_t published_at;
  /* message[0..len) is a sealed body (certhub/notify_seal.h), not the
   * text: certhub_topic_messages_open() opens it. */
  bool sealed;
  /* MessageAttributes as SNS delivers them, compact JSON
   * {"name":{"Type":"String","Value":"..."}}, keys sorted; NULL when the
   * message has none. Never sealed (as SNS encrypts only the body). */
  const char *attributes;
} certhub_message;

typedef ch_err (*certhub_topic_cb)(void *ctx, const certhub_topic *t);
typedef ch_err (*certhub_message_cb)(void *ctx, const certhub_message *m);

/* True when name is a valid topic name. */
bool certhub_topic_name_valid(const char *name);

/* Check a subject against SNS's rules: 1 to 100 characters of printable
 * ASCII (no line breaks or control characters), not starting with a
 * space. CH_ERR_PARSE with *why (static text) naming the problem. */
ch_err certhub_topic_subject_check(const char *subject,
                                   const char **why /* OUT */);

/* Check a message body: not empty, at most CERTHUB_MESSAGE_MAX bytes
 * (CH_ERR_TOOBIG), valid UTF-8 without NUL (CH_ERR_PARSE). */
ch_err certhub_topic_message_check(const char *message, size_t len,
                                   const char **why /* OUT */);

/* Create a topic. Like SNS CreateTopic this is idempotent: an existing
 * topic of that name is left alone and *created is false. account and
 * region (NULL: "000000000000", "local") make its ARN; display_name may be
 * NULL. CH_ERR_USAGE for an invalid name or display name (see
 * certhub_store_errmsg()). */
ch_err certhub_topic_create(certhub_store *s, const char *name,
                            const char *display_name, const char *account,
                            const char *region, int64_t now,
                            bool *created /* OUT, may be NULL */);

/* One topic through cb; CH_ERR_NOTFOUND when it does not exist. */
ch_err certhub_topic_get(certhub_store *s, const char *name,
                         certhub_topic_cb cb, void *ctx);

/* Every topic, sorted by name. */
ch_err certhub_topic_list(certhub_store *s, certhub_topic_cb cb, void *ctx);

/* Delete a topic; CH_ERR_NOTFOUND when it does not exist. Its logged
 * messages stay in the log (they name the topic by name and ARN). */
ch_err certhub_topic_delete(certhub_store *s, const char *name);

/* SNS Publish: the topic must exist (CH_ERR_NOTFOUND, "topic 'x' does not
 * exist"), subject may be NULL and else follows
 * certhub_topic_subject_check(), the message follows
 * certhub_topic_message_check(). On success the message is in the log
 * with a new MessageId, copied to message_id. Errors are described by
 * certhub_store_errmsg(s). */
ch_err certhub_topic_publish(certhub_store *s, const char *topic,
                             const char *subject, const char *message,
                             size_t len, int64_t now,
                             char message_id[CERTHUB_MESSAGE_ID_LEN + 1]
                             /* OUT */);

/* ---- MessageAttributes (SNS Publish's MessageAttributes) ---------------
 * name -> {DataType, StringValue | BinaryValue}, checked as SNS checks them:
 *   - at most CERTHUB_MSG_ATTRS_MAX (10) attributes;
 *   - names: 1 to 256 characters of [A-Za-z0-9_.-], not starting or ending
 *     with '.', no "..", not starting with "AWS." or "Amazon." in any case;
 *   - DataType: String, String.Array, Number or Binary;
 *   - values: not empty; String UTF-8 without NUL (the body's rules);
 *     Number: [+-]digits[.digits][e[+-]digits], at most 38 significant
 *     digits, 0 or a magnitude from 1e-128 to below 1e126; String.Array: a
 *     JSON array of strings, numbers, true, false and null; Binary: base64
 *     (the decoded bytes are the value);
 *   - name, type and value bytes count toward the 256 KiB message limit.
 * The stored and delivered form is SNS's notification shape,
 * {"name":{"Type":"...","Value":"..."}} (Binary's Value stays base64). */
#define CERTHUB_MSG_ATTRS_MAX 10
#define CERTHUB_MSG_ATTR_NAME_MAX 256
#define CERTHUB_MSG_ATTRS_TEXT_MAX (1024 * 1024) /* bytes of input JSON */

/* Check one attribute name. CH_ERR_PARSE with *why (static text). */
ch_err certhub_msg_attr_name_check(const char *name, const char **why);

/* Check MessageAttributes json[0..len) (a JSON object in the Publish API
 * shape {"n":{"DataType":..,"StringValue"|"BinaryValue":..}} or the
 * notification shape {"n":{"Type":..,"Value":..}}) and write the
 * notification shape to *out (malloc'd; NULL for an empty object).
 * *size (may be NULL) gets the bytes that count toward the message limit.
 * CH_ERR_PARSE / CH_ERR_TOOBIG with *why (malloc'd) naming the attribute
 * and the problem. */
ch_err certhub_msg_attrs_check(const char *json, size_t len,
                               char **out /* OUT */, size_t *size /* OUT */,
                               char **why /* OUT */);

/* Add one attribute written NAME=TYPE:VALUE (the CLI's
 * --message-attribute: "severity=String:HIGH", "days=Number:14",
 * "owners=String.Array:[\"a\",\"b\"]", "blob=Binary:BASE64") to the
 * JSON object text *attrs (NULL: a new one; replaced, malloc'd). The
 * attribute itself is checked by certhub_msg_attrs_check(); a name given
 * twice is an error. CH_ERR_PARSE with *why (malloc'd). */
ch_err certhub_msg_attrs_add_arg(char **attrs /* IN/OUT */, const char *arg,
                                 char **why /* OUT */);

/* Merge the JSON object text add (either shape) into *attrs (NULL: a new
 * one); a name in both is an error naming it. CH_ERR_PARSE with *why. */
ch_err certhub_msg_attrs_merge(char **attrs /* IN/OUT */, const char *add,
                               char **why /* OUT */);

/* certhub's own messages get attributes from their event:
 * certhub_msg_attrs_from_event() in certhub/notify_render.h. */

/* The message log, newest first; topic NULL: every topic. limit 0: no
 * limit. */
ch_err certhub_topic_messages(certhub_store *s, const char *topic,
                              size_t limit, certhub_message_cb cb, void *ctx);

/* certhub_topic_publish() with MessageAttributes: attributes is JSON text
 * for certhub_msg_attrs_check() or NULL; they are checked, normalised and
 * logged with the message; message and attributes together must fit in
 * CERTHUB_MESSAGE_MAX (CH_ERR_TOOBIG). */
ch_err certhub_topic_publish_attrs(certhub_store *s, const char *topic,
                                   const char *subject, const char *message,
                                   size_t len, const char *attributes,
                                   int64_t now,
                                   char message_id[CERTHUB_MESSAGE_ID_LEN + 1]
                                   /* OUT */);

/* The event bus's `topic` target hook (certhub_target_hooks' publish in
 * target.h). ctx is the certhub_store *; the time is certhub_now(). A
 * message that is a bus event gets MessageAttributes from it
 * (certhub_msg_attrs_from_event, certhub/notify_render.h). On
 * success *detail is "MessageId <uuid>", on failure the reason; malloc'd,
 * caller frees (may be NULL on allocation failure). Calls are serialized
 * by a process-wide mutex (the bus may call hooks from several threads
 * with the same ctx); give the hooks a store handle of their own. Errors
 * follow target.h: NOTFOUND (no such topic), PARSE/TOOBIG (invalid
 * subject or message) make the delivery FAILED, storage errors RETRY. */
ch_err certhub_topic_publish_hook(void *ctx, const char *topic,
                                  const char *subject, const char *message,
                                  size_t len, char **detail /* OUT */);

#endif
