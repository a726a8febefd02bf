/*
 * Notification protocols: each subscription protocol (email, http, https,
 * slack, teams, googlechat, webhook, command, file) is one ch_notify_proto
 * in the table of proto.c, so the delivery engine never switches on a
 * protocol name.
 *
 * A protocol is curl-based (prepare + finish + release: the engine runs
 * the transfer on its libcurl multi handle, so connections are kept alive
 * and many deliveries are in flight at once), a child process (spawn +
 * wait_fds + advance + result + release: command; the engine waits on the
 * child's pipes next to its transfers, so a hanging program holds up
 * nothing else) or synchronous (deliver: file, which cannot hang).
 *
 * Ownership: everything passed in is borrowed for the call. A prepare()
 * or spawn() state is owned by the engine until it calls release()
 * (always, also when the transfer was never started or the child still
 * runs). Endpoints may hold secrets (webhook
 * URLs, tokens): protocols never put an endpoint in a detail text; use
 * ch_notify_redact() for messages about one.
 */
#ifndef CH_NOTIFY_PROTO_H
#define CH_NOTIFY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "certhub/certhub.h"

/* SMTP settings for the email protocol (config `notify: smtp:`). */
typedef struct ch_notify_smtp {
  const char *url;      /* smtp://host:587 (STARTTLS) or smtps://host:465 */
  const char *from;     /* envelope and header From */
  const char *username; /* NULL: no authentication */
  const char *password; /* read from a file or the environment, never logged */
  bool require_tls;     /* smtp:// must upgrade with STARTTLS (default true) */
  const char *ca_file;  /* NULL: system trust store */
} ch_notify_smtp;

/* What every delivery may need from the instance. */
typedef struct ch_notify_env {
  const char *base_url;         /* public URL of `certhub serve` (links) */
  const char *signing_cert_url; /* SigningCertURL of the signing key */
  EVP_PKEY *sign_key;           /* RSA key SNS-format messages are signed with */
  const ch_notify_smtp *smtp;   /* NULL when not configured */
  long timeout_ms;              /* per attempt */
  const char *ca_file;          /* NULL: system trust store (https) */
  int signature_version;        /* 1 (RSA-SHA1) or 2 (RSA-SHA256); the
                                 * engine sets the topic's (added by
                                 * ndeliver, at the end) */
} ch_notify_env;

/* One subscription as a protocol sees it. */
typedef struct ch_notify_sub {
  const char *arn;        /* arn:certhub:sns:REGION:ACCOUNT:TOPIC:UUID */
  const char *topic_arn;
  const char *protocol;
  const char *endpoint;   /* may be a secret */
  const char *attributes; /* JSON object of subscription attributes, or NULL
                           * (RawMessageDelivery, template, ...) */
} ch_notify_sub;

/* One message to one subscription. */
typedef struct ch_notify_msg {
  const char *type; /* "Notification", "SubscriptionConfirmation",
                     * "UnsubscribeConfirmation" */
  const char *message_id;
  const char *topic_arn;
  const char *subject; /* NULL when none */
  const char *message; /* the body as published */
  size_t len;
  const char *text;    /* rendered plain-text form, NULL: use message */
  const char *html;    /* rendered HTML form, NULL when none */
  int64_t timestamp_ms;
  const char *token; /* confirmation token (SubscriptionConfirmation);
                      * for a Notification the subscription's
                      * unsubscribe token (UnsubscribeURL) */
  const char *attributes_json; /* MessageAttributes object, NULL when none */
} ch_notify_msg;

typedef enum ch_delivery_result {
  CH_DELIVERY_OK,     /* the receiver took it */
  CH_DELIVERY_RETRY,  /* transient: try again under the retry policy */
  CH_DELIVERY_FAILED  /* permanent (e.g. HTTP 4xx other than 429): DLQ */
} ch_delivery_result;

typedef struct ch_notify_proto {
  const char *name;
  bool needs_confirmation; /* new subscriptions are pending until confirmed */
  bool needs_smtp;         /* env->smtp must be set (notify.smtp) */
  /* Validate an endpoint at subscribe time; why gets the reason. */
  ch_err (*check_endpoint)(const char *endpoint, char *why, size_t whylen);

  /* curl-based: set up easy (a handle from the engine's pool, reset) for
   * one delivery; *state keeps header lists and bodies alive. */
  ch_err (*prepare)(const ch_notify_env *env, const ch_notify_sub *sub,
                    const ch_notify_msg *m, CURL *easy, void **state);
  /* Classify the finished transfer; detail gets a short text for the
   * delivery log (status code, curl error), never the endpoint. */
  ch_delivery_result (*finish)(void *state, CURLcode cc, long response_code,
                               char *detail, size_t detaillen);
  void (*release)(void *state);

  /* Child-process protocols. spawn() starts the program and returns at
   * once (a program that cannot be started gives a state whose result()
   * says so). The engine polls the descriptors wait_fds() lists (at most
   * max; *wait_ms lowered to the milliseconds until the state's next
   * deadline of its own, e.g. its timeout) and calls advance() when one is
   * ready or that time passed: it does what I/O is possible without
   * blocking, bounded per call, kills the process group after the timeout,
   * and returns true when the child is done. Then result(); release()
   * kills and reaps a child that still runs. */
  ch_err (*spawn)(const ch_notify_env *env, const ch_notify_sub *sub,
                  const ch_notify_msg *m, void **state);
  unsigned (*wait_fds)(void *state, struct curl_waitfd *fds, unsigned max,
                       int *wait_ms);
  bool (*advance)(void *state);
  ch_delivery_result (*result)(void *state, char *detail, size_t detaillen);

  /* Synchronous protocols (NULL for the others). */
  ch_delivery_result (*deliver)(const ch_notify_env *env,
                                const ch_notify_sub *sub,
                                const ch_notify_msg *m, char *detail,
                                size_t detaillen);
} ch_notify_proto;

/* The protocol called name (case-sensitive, as SNS), NULL when none. */
const ch_notify_proto *ch_notify_proto_find(const char *name);

/* Every protocol, for listings: *n gets the count. */
const ch_notify_proto *const *ch_notify_protos(size_t *n);

/* A loggable form of an endpoint: scheme and host of a URL, the domain of
 * an email address, "<command>"/"<file>" for the others. */
void ch_notify_redact(const char *protocol, const char *endpoint, char *out,
                      size_t outlen);

#endif
