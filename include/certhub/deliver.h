/*
 * certhub topics, second layer: subscriptions and their deliveries (the SNS
 * analogue of Subscribe, ConfirmSubscription, Unsubscribe and delivery
 * with retries and a dead-letter store).
 *
 * A subscription ARN is TOPIC-ARN:UUID. Protocols that need confirmation
 * (http, https, email) start "PendingConfirmation" with a random token and
 * a SubscriptionConfirmation delivery; confirming with the token makes them
 * "Confirmed". Each message published to a topic becomes one delivery row
 * per confirmed subscription (fan-out), kept in the store (the outbox) and
 * marked delivered only once the receiver took it (at least once).
 *
 * Ownership: strings in rows passed to callbacks are borrowed for the
 * callback only; arguments are borrowed for the call. Errors are described
 * by certhub_store_errmsg() of the store handle passed.
 */
#ifndef CERTHUB_DELIVER_H
#define CERTHUB_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certhub.h"
#include "notify.h"

typedef struct certhub_store certhub_store;
typedef struct certhub_config certhub_config;

#define CERTHUB_SUB_ARN_MAX 640   /* topic ARN + ':' + UUID, with room */
#define CERTHUB_SUB_TOKEN_LEN 64  /* hex of 32 random bytes */
#define CERTHUB_ENDPOINT_MAX 4096 /* bytes of an endpoint */
#define CERTHUB_SUB_ATTRS_MAX (64 * 1024)

#define CERTHUB_SUB_PENDING "PendingConfirmation"
#define CERTHUB_SUB_CONFIRMED "Confirmed"

/* One subscription. token is only given to library callers that need it
 * (the CLI never prints it). */
typedef struct certhub_subscription {
  const char *arn;
  const char *topic;
  const char *topic_arn;
  const char *protocol;
  const char *endpoint;   /* may be a secret: never log it */
  const char *attributes; /* JSON object text, "{}" when none */
  const char *status;     /* CERTHUB_SUB_PENDING or CERTHUB_SUB_CONFIRMED */
  const char *token;
  int64_t created;      /* seconds */
  int64_t confirmed_at; /* seconds, 0 while pending */
} certhub_subscription;

typedef ch_err (*certhub_subscription_cb)(void *ctx,
                                          const certhub_subscription *s);

/* Delivery states. */
#define CERTHUB_DLV_PENDING "pending"
#define CERTHUB_DLV_DELIVERED "delivered"
#define CERTHUB_DLV_DEAD "dead"         /* the dead-letter store */
#define CERTHUB_DLV_FILTERED "filtered" /* the filter policy said no */

/* One delivery (one message to one subscription). The content members are
 * set for due rows (certhub_store_deliveries_due) only. */
typedef struct certhub_sns_delivery {
  int64_t id;
  const char *kind; /* "Notification" or "SubscriptionConfirmation" */
  const char *message_id;
  const char *topic;
  const char *topic_arn;
  const char *sub_arn;
  const char *protocol;
  const char *status;
  unsigned attempts;
  int64_t created_ms;
  int64_t next_at_ms;
  int64_t updated_ms;      /* 0: never attempted */
  int last_code;           /* HTTP status or exit status of the last attempt */
  const char *last_detail; /* "" when none; never holds the endpoint */
  const char *codes;       /* codes of the recent attempts, "500,500,200" */
  /* Due rows only. */
  const char *endpoint;
  const char *sub_attributes;
  const char *token;
  const char *subject; /* NULL when none */
  const char *message;
  size_t len;
  int64_t published_at;       /* seconds */
  const char *msg_attributes; /* the message's MessageAttributes JSON
                               * (certhub_message.attributes), NULL: none */
} certhub_sns_delivery;

typedef ch_err (*certhub_sns_delivery_cb)(void *ctx,
                                          const certhub_sns_delivery *d);

typedef struct certhub_sns_delivery_filter {
  const char *topic;   /* NULL: all */
  const char *sub_arn; /* NULL: all */
  const char *status;  /* NULL: all */
  size_t limit;        /* 0: all */
} certhub_sns_delivery_filter;

/* The outcome of one attempt, written back in batches. */
typedef struct certhub_sns_delivery_update {
  int64_t id;
  const char *status; /* new state */
  unsigned attempts;
  int64_t next_at_ms;
  int64_t now_ms;
  int code;           /* HTTP status, exit status, or 0 */
  const char *detail; /* short text, never an endpoint */
} certhub_sns_delivery_update;

/* ---- delivery policy (SNS's http/https DeliveryPolicy) ---------------- */

typedef enum certhub_backoff {
  CERTHUB_BACKOFF_LINEAR,
  CERTHUB_BACKOFF_ARITHMETIC,
  CERTHUB_BACKOFF_GEOMETRIC,
  CERTHUB_BACKOFF_EXPONENTIAL,
} certhub_backoff;

typedef struct certhub_delivery_policy {
  unsigned min_delay;      /* minDelayTarget, seconds, 1..max_delay */
  unsigned max_delay;      /* maxDelayTarget, seconds, 1..3600 */
  unsigned num_retries;    /* numRetries, 0..100 */
  unsigned num_no_delay;   /* numNoDelayRetries */
  unsigned num_min_delay;  /* numMinDelayRetries */
  unsigned num_max_delay;  /* numMaxDelayRetries */
  certhub_backoff backoff; /* backoffFunction */
  unsigned max_per_second; /* throttlePolicy.maxReceivesPerSecond, 0: none */
} certhub_delivery_policy;

/* SNS's defaults: 3 retries 20 s apart, linear, no throttle. */
void certhub_delivery_policy_default(certhub_delivery_policy *p /* OUT */);

/* Apply a DeliveryPolicy JSON text (SNS's shape: {"healthyRetryPolicy":
 * {...}, "throttlePolicy": {...}}, or an "http" object holding them, as
 * topics have) over *p, then check SNS's limits. Fields not given keep
 * their value in *p. CH_ERR_PARSE / CH_ERR_CONFIG with why (static or in
 * buf) naming the field. */
ch_err certhub_delivery_policy_parse(const char *json,
                                     certhub_delivery_policy *p /* IN/OUT */,
                                     char *why, size_t whylen);

/* Delay in milliseconds before retry number retry (1 = the first retry
 * after the first failed attempt), or -1 when the policy allows no such
 * retry (the delivery goes to the dead-letter store). Phases as SNS:
 * num_no_delay immediate retries, num_min_delay at min_delay, the backoff
 * phase from min_delay to max_delay, num_max_delay at max_delay. */
int64_t certhub_delivery_policy_delay_ms(const certhub_delivery_policy *p,
                                         unsigned retry);

/* ---- subscriptions ---------------------------------------------------- */

/* SNS Subscribe. topic must exist; protocol one of the table
 * (ch_notify_proto_find), endpoint valid for it; attributes a JSON object
 * text or NULL (DeliveryPolicy, RawMessageDelivery, FilterPolicy ... are
 * kept; DeliveryPolicy is checked). Idempotent like SNS: the same topic,
 * protocol and endpoint give the existing subscription. Protocols needing
 * confirmation start pending with a SubscriptionConfirmation delivery
 * queued, unless confirmed (an administrator's pre-confirmation). The ARN
 * goes to arn_out; *pending says whether confirmation is awaited. */
ch_err certhub_subscribe(certhub_store *s, const char *topic,
                         const char *protocol, const char *endpoint,
                         const char *attributes, bool confirmed, int64_t now,
                         char arn_out[CERTHUB_SUB_ARN_MAX] /* OUT */,
                         bool *pending /* OUT, may be NULL */);

/* SNS ConfirmSubscription by (topic name or ARN, token): the pending
 * subscription with that token becomes Confirmed. Confirming again is not
 * an error. CH_ERR_NOTFOUND for an unknown token. The ARN to arn_out. */
ch_err certhub_subscription_confirm(certhub_store *s, const char *topic,
                                    const char *token, int64_t now,
                                    char arn_out[CERTHUB_SUB_ARN_MAX]);

/* SNS Unsubscribe. token NULL: an administrator (no check); else it must
 * be the subscription's token (the one in its UnsubscribeURL):
 * CH_ERR_USAGE otherwise. Its pending deliveries go with it. */
ch_err certhub_unsubscribe(certhub_store *s, const char *sub_arn,
                           const char *token);

/* Subscriptions of topic (NULL: all), by topic and ARN. */
ch_err certhub_subscriptions(certhub_store *s, const char *topic,
                             certhub_subscription_cb cb, void *ctx);

/* The deliveries log, newest first. */
ch_err certhub_deliveries(certhub_store *s,
                          const certhub_sns_delivery_filter *f,
                          certhub_sns_delivery_cb cb, void *ctx);

/* Dead-letter store: move dead deliveries (id 0: all of topic, or all when
 * topic is NULL) back to pending with attempts reset, or delete them. */
ch_err certhub_dlq_redrive(certhub_store *s, int64_t id, const char *topic,
                           int64_t now_ms, uint64_t *n /* OUT */);
ch_err certhub_dlq_purge(certhub_store *s, int64_t id, const char *topic,
                         uint64_t *n /* OUT */);

/* Fan newly published messages out to one delivery per confirmed
 * subscription (idempotent; see certhub_store_fanout). */
ch_err certhub_notify_fanout(certhub_store *s, int64_t now_ms,
                             uint64_t *n /* OUT, may be NULL */);

/* ---- signing ---------------------------------------------------------- */

/* SNS's string to sign for a message of type ("Notification": Message,
 * MessageId, Subject (when not NULL), Timestamp, TopicArn, Type;
 * "SubscriptionConfirmation"/"UnsubscribeConfirmation": Message,
 * MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type), each name
 * and value followed by "\n". Appended to *out (malloc'd, caller frees;
 * *outlen its length). */
typedef struct certhub_sns_fields {
  const char *type;
  const char *message;
  size_t message_len;
  const char *message_id;
  const char *subject; /* NULL: left out (Notification) */
  const char *subscribe_url;
  const char *timestamp; /* "2015-09-20T01:22:14.001Z" */
  const char *token;
  const char *topic_arn;
} certhub_sns_fields;

ch_err certhub_sns_string_to_sign(const certhub_sns_fields *f,
                                  char **out /* OUT */,
                                  size_t *outlen /* OUT */);

/* The instance's signing key and certificate: key_file/cert_file when
 * both are set (CH_ERR_IO/PARSE when unreadable), else data_dir's
 * sns-signing.key and sns-signing.crt, created on first use (RSA 2048,
 * self-signed, mode 0600). *pem_out gets the certificate PEM (malloc'd).
 * *key_out is an EVP_PKEY * (void * keeps OpenSSL out of this header). */
ch_err certhub_notify_signing_load(const char *key_file, const char *cert_file,
                                   const char *data_dir, void **key_out,
                                   char **pem_out, char *why, size_t whylen);
void certhub_notify_signing_free(void *key);

/* The signing certificate PEM (for the HTTP server's SigningCertURL
 * route): as certhub_notify_signing_load, returning only the PEM
 * (malloc'd). */
ch_err certhub_notify_signing_cert_pem(const char *key_file,
                                       const char *cert_file,
                                       const char *data_dir,
                                       char **pem_out /* OUT */);

/* ---- the delivery engine ----------------------------------------------- */

typedef struct certhub_notify_engine certhub_notify_engine;

/* The filter policy hook (another module's): true when sub accepts the
 * message. NULL in the engine config: everything is accepted. */
struct ch_notify_sub;
struct ch_notify_msg;
typedef bool (*ch_notify_filter_fn)(void *ctx, const struct ch_notify_sub *sub,
                                    const struct ch_notify_msg *msg);

/* One topic's delivery defaults (config topics: or topic attributes). */
typedef struct certhub_notify_topic_cfg {
  const char *name;
  const char *delivery_policy; /* JSON text or NULL */
  int signature_version;       /* 1 or 2; 0: default 1 */
  const char *templates; /* rendering overrides, JSON text (see
                          * certhub_render_templates_parse) or NULL */
} certhub_notify_topic_cfg;

typedef struct certhub_notify_engine_cfg {
  const char *base_url;         /* public URL of certhub serve */
  const char *signing_key_file; /* NULL: in data_dir */
  const char *signing_cert_file;
  const char *data_dir;   /* where a generated key lives */
  const char *ca_file;    /* NULL: the system trust store (https) */
  unsigned max_in_flight; /* transfers at once; 0: 256 */
  unsigned max_per_host;  /* connections per host; 0: 64 */
  long timeout_ms;        /* per attempt; 0: 15000 */
  int64_t max_age_ms;     /* message age limit; 0: 3600 s */
  const certhub_notify_topic_cfg *topics;
  size_t n_topics;
  ch_notify_filter_fn filter_accepts; /* ch_notify_filter_accepts hook */
  void *filter_ctx;
  /* Logging (never given an endpoint); NULL: quiet. */
  void (*log)(void *ctx, const char *fmt, ...)
      __attribute__((format(printf, 2, 3)));
  void *log_ctx;
  /* Key of sealed message bodies (notify.key_file); NULL: a sealed body
   * cannot be delivered (dead-lettered, saying so). */
  const char *seal_key_file;
  /* notify.smtp for email subscriptions (copied; the password is read
   * from its file or variable at each send); NULL: email deliveries fail
   * with "no notify.smtp in the configuration". */
  const struct certhub_smtp_cfg *smtp;
} certhub_notify_engine_cfg;

typedef struct certhub_notify_stats {
  uint64_t fanned; /* deliveries created by fan-out */
  uint64_t attempted;
  uint64_t delivered;
  uint64_t retried;
  uint64_t dead;
  uint64_t filtered;
} certhub_notify_stats;

/* The engine on store s (borrowed; give it a handle of its own). *why
 * gets a malloc'd message on failure. */
ch_err certhub_notify_engine_new(certhub_store *s,
                                 const certhub_notify_engine_cfg *cfg,
                                 certhub_notify_engine **out, char **why);

/* Fan out, start due deliveries up to the in-flight bound, and drive the
 * transfers for at most wait_ms (returns early when one finishes and
 * results are recorded). */
ch_err certhub_notify_engine_step(certhub_notify_engine *e, int wait_ms,
                                  certhub_notify_stats *st /* IN/OUT */);

/* Transfers in flight now. */
unsigned certhub_notify_engine_in_flight(const certhub_notify_engine *e);

/* The earliest next_at_ms of a pending delivery (INT64_MAX when none). */
ch_err certhub_notify_engine_next_due(certhub_notify_engine *e,
                                      int64_t *when_ms /* OUT */);

/* Finish what is in flight (up to wait_ms), record it, and free. */
void certhub_notify_engine_free(certhub_notify_engine *e, int wait_ms);

/* Check the configuration's topics: names, protocols, literal endpoints,
 * attributes and delivery policies (endpoint files and variables are read
 * only when applied). CH_ERR_CONFIG with *err (malloc'd) "FILE:LINE:
 * topics[i]...: problem". */
ch_err certhub_notify_config_check(const certhub_config *c,
                                   char **err /* OUT */);

/* A loggable form of an endpoint (scheme and host of a URL, the domain of
 * an address, "<command>"/"<file>"): endpoints may hold secrets. */
void certhub_notify_redact(const char *protocol, const char *endpoint,
                           char *out, size_t outlen);

/* Wall clock in milliseconds. */
int64_t certhub_now_ms(void);

#endif
