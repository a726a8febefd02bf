/*
 * Encryption at rest for message bodies: AES-256-GCM (OpenSSL EVP) under
 * a 32-byte key read from a key file.
 *
 * Key file: exactly 32 bytes, or their 64 hex digits, or their base64
 * (44 characters), surrounding whitespace ignored; it must not be
 * readable or writable by group or others (mode 0600 or stricter), so a
 * key lying open is refused rather than used. certhub_seal_keygen()
 * writes a new one (64 hex digits and a newline, mode 0600; an existing
 * file is never overwritten).
 *
 * Sealed format (binary, CERTHUB_SEAL_OVERHEAD bytes more than the body):
 *   "chs"  version (1)  key id (8)  nonce (12)  ciphertext  tag (16)
 * The key id is the first 8 bytes of SHA-256("certhub seal key id" ||
 * key), so a body sealed under another key is named as such, not as
 * tampered. The additional authenticated data is the 24-byte header,
 * the topic ARN, a NUL and the MessageId: a body moved to another row
 * (topic or message) does not open.
 *
 * Ownership: keys are owned by the caller (certhub_seal_key_free wipes
 * them); outputs are malloc'd for the caller. Keys are read-only after
 * loading and may be shared by threads.
 */
#ifndef CERTHUB_NOTIFY_SEAL_H
#define CERTHUB_NOTIFY_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certhub.h"

#define CERTHUB_SEAL_KEY_LEN 32
#define CERTHUB_SEAL_VERSION 1
#define CERTHUB_SEAL_HEADER 24 /* magic 3, version 1, key id 8, nonce 12 */
#define CERTHUB_SEAL_TAG 16
#define CERTHUB_SEAL_OVERHEAD (CERTHUB_SEAL_HEADER + CERTHUB_SEAL_TAG)
#define CERTHUB_SEAL_MAX ((size_t)64 << 20) /* bodies sealed or opened */

typedef struct certhub_seal_key certhub_seal_key;

/* Read a key file. CH_ERR_IO (unreadable), CH_ERR_PARSE (not a key in
 * one of the forms), CH_ERR_USAGE (group/other permissions), each with
 * *why (malloc'd) naming the file and the problem. */
ch_err certhub_seal_key_load(const char *path, certhub_seal_key **out,
                             char **why);

/* A key from 32 raw bytes (copied). */
ch_err certhub_seal_key_from_bytes(const uint8_t *k, size_t n,
                                   certhub_seal_key **out);

/* Create path with a new random key, mode 0600. CH_ERR_IO with *why when
 * it exists or cannot be written. */
ch_err certhub_seal_keygen(const char *path, char **why);

/* The key id as 16 hex digits. */
void certhub_seal_key_id(const certhub_seal_key *k, char out[17]);

void certhub_seal_key_free(certhub_seal_key *k);

/* True when p[0..n) starts like a sealed body (magic and version). */
bool certhub_seal_is_sealed(const void *p, size_t n);

/* Seal plain[0..n) for the row (topic_arn, message_id) into *out
 * (malloc'd, *outlen = n + CERTHUB_SEAL_OVERHEAD). */
ch_err certhub_seal(const certhub_seal_key *k, const char *topic_arn,
                    const char *message_id, const void *plain, size_t n,
                    uint8_t **out, size_t *outlen);

/* Open a sealed body of the row (topic_arn, message_id) into *plain
 * (malloc'd, NUL-terminated, *plen bytes). Errors, each with *why
 * (malloc'd): CH_ERR_PARSE not a sealed body (or an unknown version),
 * CH_ERR_TRUNCATED shorter than a sealed body can be, CH_ERR_PASSWORD
 * sealed under another key (both key ids named) or authentication failed
 * (modified, or moved from another topic or message). Nothing is
 * returned from a body that does not authenticate. */
ch_err certhub_seal_open(const certhub_seal_key *k, const char *topic_arn,
                         const char *message_id, const uint8_t *sealed,
                         size_t n, char **plain, size_t *plen, char **why);

/* ---- sealed topics: the message log with sealed bodies ---------------- */

#include "notify.h"

/* certhub_topic_publish() for a topic whose bodies are sealed at rest:
 * the same checks on the plain message, then the body is sealed under
 * key for (the topic's ARN, the new MessageId) and logged with
 * certhub_message.sealed set. The subject stays in the clear (it is the
 * listing's label; keep secrets out of subjects). Errors as
 * certhub_topic_publish, described by certhub_store_errmsg(s). */
ch_err certhub_topic_publish_sealed(certhub_store *s, const char *topic,
                                    const char *subject, const char *message,
                                    size_t len, int64_t now,
                                    const certhub_seal_key *key,
                                    char message_id[CERTHUB_MESSAGE_ID_LEN + 1]
                                    /* OUT */);

/* The same with MessageAttributes (JSON text or NULL, checked as
 * certhub_topic_publish_attrs() does). The attributes are logged in the
 * clear: like SNS's server-side encryption, sealing covers the body. */
ch_err certhub_topic_publish_sealed_attrs(
    certhub_store *s, const char *topic, const char *subject,
    const char *message, size_t len, const char *attributes, int64_t now,
    const certhub_seal_key *key,
    char message_id[CERTHUB_MESSAGE_ID_LEN + 1] /* OUT */);

/* certhub_topic_messages() that opens sealed bodies with key before cb
 * sees them (cb gets the plain text with sealed false). key may be NULL
 * when no sealed row is expected: a sealed row then stops the walk with
 * CH_ERR_USAGE. A body that does not open (another key, tampered, moved)
 * stops it with that error; both set certhub_store_errmsg(s) naming the
 * MessageId. */
ch_err certhub_topic_messages_open(certhub_store *s, const char *topic,
                                   size_t limit, const certhub_seal_key *key,
                                   certhub_message_cb cb, void *ctx);

/* Publish as the configuration c (may be NULL) says: sealed under
 * notify.key_file when the topic is configured `encrypt: true`, else in
 * the clear. A topic that wants sealing without a usable key is an error
 * (CH_ERR_CONFIG, or the key's), never a body in the clear. */
typedef struct certhub_config certhub_config;
ch_err certhub_topic_publish_cfg(certhub_store *s, const certhub_config *c,
                                 const char *topic, const char *subject,
                                 const char *message, size_t len, int64_t now,
                                 char message_id[CERTHUB_MESSAGE_ID_LEN + 1]
                                 /* OUT */);

/* The same with MessageAttributes (JSON text or NULL). */
ch_err certhub_topic_publish_cfg_attrs(
    certhub_store *s, const certhub_config *c, const char *topic,
    const char *subject, const char *message, size_t len,
    const char *attributes, int64_t now,
    char message_id[CERTHUB_MESSAGE_ID_LEN + 1] /* OUT */);

#endif
