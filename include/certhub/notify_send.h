/*
 * Sending one message through one notification protocol without the
 * delivery engine: what `certhub topics send-test` runs so users can try a
 * channel (email, slack, teams, googlechat, webhook, and whatever else is
 * in the protocol table), and the driver of the channel tests.
 *
 * Ownership: everything passed in is borrowed for the call.
 */
#ifndef CERTHUB_NOTIFY_SEND_H
#define CERTHUB_NOTIFY_SEND_H

#include <stddef.h>
#include <stdint.h>

#include "certhub.h"
#include "config.h"

typedef enum certhub_send_result {
  CERTHUB_SEND_OK,     /* the receiver took it */
  CERTHUB_SEND_RETRY,  /* transient failure: the engine would retry */
  CERTHUB_SEND_FAILED, /* permanent failure: the engine would dead-letter */
} certhub_send_result;

typedef struct certhub_send_test {
  const char *protocol; /* "email", "slack", ... */
  const char *endpoint; /* address or URL */
  const char
      *topic_arn;      /* NULL: arn:certhub:sns:local:000000000000:send-test */
  const char *subject; /* NULL: none */
  const char *message; /* the body (UTF-8), len bytes */
  size_t len;
  const char *html;       /* HTML form (email), NULL: none */
  const char *attributes; /* subscription attributes, JSON object, or NULL */
  const char *token;      /* non-NULL: send a SubscriptionConfirmation */
  const char
      *base_url; /* for confirmation links; NULL: http://localhost:8080 */
  const char *ca_file; /* https trust; NULL: system store */
  long timeout_ms;     /* 0: 15 s */
} certhub_send_test;

/* Check, build and send one message. cfg supplies notify.smtp for email
 * (may be NULL otherwise). Returns CH_ERR_USAGE for an unknown protocol,
 * an invalid endpoint or attributes, CH_ERR_CONFIG when email has no
 * usable notify.smtp, CH_ERR_PARSE for a message that is not UTF-8;
 * detail then says why. On CH_OK, *result is the outcome and detail the
 * short delivery-log text (status, error; never the endpoint). */
ch_err certhub_notify_send_test(const certhub_config *cfg,
                                const certhub_send_test *t,
                                certhub_send_result *result /* OUT */,
                                char *detail, size_t detaillen);

/* The names of the protocols the table has, comma-separated, into out. */
void certhub_notify_protocol_names(char *out, size_t outlen);

#endif
