/*
 * Private to lib/notify: SNS message bodies and signatures shared by the
 * http/https and file protocols and the engine.
 */
#ifndef CH_NOTIFY_INT_H
#define CH_NOTIFY_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "certhub/certhub.h"
#include "core/core.h"
#include "proto.h"

/* Base64 signature of len bytes of data: RSA-SHA1 for version 1,
 * RSA-SHA256 for 2. *b64_out malloc'd. */
ch_err ch_notify_sign(EVP_PKEY *key, int version, const char *data, size_t len,
                      char **b64_out /* OUT */);

/* Forget cached signatures (a key is freed: another may get its
 * address). */
void ch_notify_sig_cache_clear(void);

/* "2015-09-20T01:22:14.001Z" for a millisecond instant (25 bytes). */
void ch_notify_timestamp(int64_t ms, char out[32]);

/* The body SNS posts for m to sub: the signed JSON message (Type,
 * MessageId, TopicArn, Subject, Message, Timestamp, SignatureVersion,
 * Signature, SigningCertURL, UnsubscribeURL or SubscribeURL/Token), or the
 * bare message when the subscription has RawMessageDelivery "true" (and m
 * is a Notification). Appended to out. */
ch_err ch_notify_sns_body(const ch_notify_env *env, const ch_notify_sub *sub,
                          const ch_notify_msg *m, bool allow_raw, ch_buf *out,
                          bool *raw /* OUT, may be NULL */);

/* The subscription attribute key as a string ("true"), NULL when absent
 * or not a string/boolean. Borrowed from a static buffer-free view: *out
 * is set to a malloc'd copy; caller frees. */
char *ch_notify_sub_attr(const ch_notify_sub *sub, const char *key);

/* A random UUID v4 (text). */
ch_err ch_notify_uuid(char out[37]);

/* Publish's attribute step: check and normalise attributes (NULL: none)
 * into *norm (malloc'd, NULL when none) and check that the message of len
 * bytes and the attributes fit in CERTHUB_MESSAGE_MAX. Errors are set on s
 * (certhub_store_fail). */
typedef struct certhub_store certhub_store;
ch_err ch_notify_attrs_for_publish(certhub_store *s, const char *attributes,
                                   size_t len, char **norm /* OUT */);

/* URL-encode s onto b (RFC 3986 unreserved kept). */
ch_err ch_notify_urlencode(ch_buf *b, const char *s);

/* maxReceivesPerSecond bookings, one per throttled subscription: the
 * engine's (no locking; one engine thread). Zeroed is empty. */
#define CH_NOTIFY_THROTTLE_SLOTS 1024
typedef struct ch_notify_throttle {
  struct {
    uint64_t h;      /* hash of the subscription ARN; 0 free */
    int64_t next_ok; /* ms: the next delivery it may get */
  } slot[CH_NOTIFY_THROTTLE_SLOTS];
} ch_notify_throttle;

/* True when sub (its ARN) may receive at now (ms) under per_second (0:
 * no limit), and books it; false with *next_ok when it must wait. */
bool ch_notify_throttle_ok(ch_notify_throttle *t, const char *arn,
                           unsigned per_second, int64_t now,
                           int64_t *next_ok /* OUT */);

/* The slot arn hashes to first (tests: to build colliding ARNs). */
size_t ch_notify_throttle_home(const char *arn);

#endif
