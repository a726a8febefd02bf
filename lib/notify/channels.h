/*
 * Shared parts of the email, chat (slack, teams, googlechat) and webhook
 * protocols (proto_<name>.c): mail building and encodings, the chat/webhook
 * POST state, endpoint and attribute checks, the webhook template.
 *
 * Ownership: strings passed in are borrowed for the call; buffers filled
 * are the caller's (ch_buf). A ch_chan_post is owned by the delivery engine
 * between prepare() and release() (proto.h).
 */
#ifndef CH_NOTIFY_CHANNELS_H
#define CH_NOTIFY_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "certhub/config.h"
#include "core/core.h"
#include "proto.h"

/* One built mail or POST body: a 256 KiB message and its HTML form, both
 * quoted-printable (up to 3x), fit. */
#define CH_CHAN_BODY_CAP ((size_t)4 << 20)
#define CH_CHAN_TEMPLATE_MAX ((size_t)16384) /* webhook template bytes */
#define CH_CHAN_RESP_KEEP 200 /* response bytes kept for the detail */

/* --- email ------------------------------------------------------------ */

/* An address as the email protocol accepts it: local@domain, one '@',
 * 1..254 bytes of printable ASCII without spaces, '<', '>', '(', ')', ',',
 * ';', '"', '\\' (so it can never break out of a header or an SMTP
 * command). CH_ERR_USAGE with why filled otherwise. */
ch_err ch_notify_email_check(const char *addr, char *why, size_t whylen);

/* An unstructured header value: as is when printable ASCII, else RFC 2047
 * "=?UTF-8?B?...?=" words (split on character boundaries, each at most 75
 * bytes, folded). Control characters (CR, LF, ...) become spaces first, so
 * no value can start a new header. name is the header name (for the
 * first line's length). */
ch_err ch_notify_header_encode(const char *name, const char *value,
                               ch_buf *out);

/* Quoted-printable (RFC 2045) of len bytes: line breaks (LF or CRLF)
 * become CRLF, lines are at most 76 bytes, '=' and a leading '.' are
 * encoded. */
ch_err ch_notify_qp_encode(const char *s, size_t len, ch_buf *out);

/* The whole RFC 5322 message for m to `to`, sent `now` (Unix seconds):
 * headers, then multipart/alternative (text/plain + text/html) when m has
 * html, else one text/plain part. A SubscriptionConfirmation carries the
 * confirm link built from env->base_url and the token; a Notification with
 * a base URL, sub_arn and m->token (the subscription's) an unsubscribe
 * link in both parts. */
ch_err ch_notify_mail_build(const ch_notify_env *env, const char *from,
                            const char *to, const char *sub_arn,
                            const ch_notify_msg *m, int64_t now, ch_buf *out);

/* The SMTP settings of cfg, with the password read from password_file
 * (first line) or password_env. out's strings are borrowed from cfg except
 * the password, which goes to *password (malloc'd, caller clears and frees;
 * NULL when no username). CH_ERR_CONFIG with why on failure (never the
 * password itself). */
ch_err ch_notify_smtp_load(const certhub_smtp_cfg *cfg,
                           ch_notify_smtp *out /* OUT */,
                           char **password /* OUT */, char *why,
                           size_t whylen);

/* --- chat and webhook ---------------------------------------------------- */

/* An http(s) URL for a chat or webhook endpoint: https, or http only to
 * 127.0.0.1 / localhost / [::1] unless allow_http. No whitespace or
 * control characters. */
ch_err ch_notify_url_check(const char *url, bool allow_http, char *why,
                           size_t whylen);

/* State of one JSON POST (chat, webhook). */
typedef struct ch_chan_post {
  struct curl_slist *headers;
  char *body;
  char resp[CH_CHAN_RESP_KEEP + 1]; /* start of the response, for detail */
  size_t resp_len;
} ch_chan_post;

/* Set up easy to POST body (taken over: freed by release) as JSON to
 * sub->endpoint; *state gets a ch_chan_post. */
ch_err ch_chan_post_prepare(const ch_notify_env *env, const ch_notify_sub *sub,
                            const ch_notify_msg *m, char *body, CURL *easy,
                            void **state);
/* 2xx OK; 429 and 5xx RETRY; other statuses FAILED; transport errors
 * RETRY except a malformed URL or unsupported scheme (FAILED). */
ch_delivery_result ch_chan_post_finish(void *state, CURLcode cc,
                                       long response_code, char *detail,
                                       size_t detaillen);
void ch_chan_post_release(void *state);

/* The text a chat shows for m: m->text, else the message (len bytes); a
 * confirmation gets its explanation instead. Into out. */
ch_err ch_chan_text(const ch_notify_env *env, const ch_notify_msg *m,
                    ch_buf *out);
/* The subject a chat or mail shows: m->subject or a default by type. */
const char *ch_chan_subject(const ch_notify_msg *m);

/* Append s[0..len) to out when it has at most max_chars characters (UTF-8
 * code points) and max_bytes bytes; else cut on a character boundary and
 * add a note saying how much was left out, all within both limits. */
ch_err ch_chan_truncate(const char *s, size_t len, size_t max_chars,
                        size_t max_bytes, ch_buf *out);
/* The parts of ch_chan_truncate(): where to cut (len when it fits), and
 * the note. */
size_t ch_chan_cut(const char *s, size_t len, size_t max_chars,
                   size_t max_bytes);
ch_err ch_chan_note(ch_buf *out, size_t omitted);

/* ISO 8601 UTC with milliseconds, as SNS's Timestamp. */
void ch_chan_timestamp(int64_t ms, char out[64]);

/* The JSON bodies the chat protocols POST for m (*out malloc'd);
 * CH_ERR_PARSE when a text is not UTF-8. */
ch_err ch_notify_slack_body(const ch_notify_env *env, const ch_notify_msg *m,
                            char **out /* OUT */);
ch_err ch_notify_teams_body(const ch_notify_env *env, const ch_notify_msg *m,
                            char **out /* OUT */);
ch_err ch_notify_googlechat_body(const ch_notify_env *env,
                                 const ch_notify_msg *m, char **out /* OUT */);

/* The webhook body: the attribute "template" rendered, or the default
 * object (Type, MessageId, TopicArn, Subject, Message, Timestamp, text). */
ch_err ch_notify_webhook_body(const ch_notify_env *env,
                              const ch_notify_sub *sub, const ch_notify_msg *m,
                              char **out /* OUT */);

/* --- webhook template ------------------------------------------------------
 */

/* A webhook template: a JSON object or array (at most
 * CH_CHAN_TEMPLATE_MAX bytes) whose strings may hold the placeholders
 * ${MessageId} ${TopicArn} ${Subject} ${Message} ${Timestamp} ${Type}
 * ${text}; "$$" is a literal "$". CH_ERR_PARSE with why otherwise. */
ch_err ch_notify_template_check(const char *tmpl, char *why, size_t whylen);

/* The template rendered for m (each placeholder replaced by the value, so
 * the JSON encoder escapes it); *out malloc'd compact JSON. */
ch_err ch_notify_template_render(const char *tmpl, const ch_notify_msg *m,
                                 const char *text, char **out /* OUT */);

/* Check the subscription attributes (a JSON object text, or NULL) that a
 * protocol reads: webhook's "template". To be called at subscribe time
 * next to check_endpoint. CH_ERR_USAGE with why. */
ch_err ch_notify_check_attributes(const char *protocol, const char *attributes,
                                  char *why, size_t whylen);

#endif
