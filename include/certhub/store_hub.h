/*
 * The store's side of topics and findings: plain rows in and out, no
 * validation of SNS or ASFF rules (lib/notify and lib/findings do that).
 * Dispatched through the backend table like every store function.
 *
 * Ownership as in store.h: rows passed to callbacks are borrowed for the
 * callback; arguments are borrowed for the call.
 */
#ifndef CERTHUB_STORE_HUB_H
#define CERTHUB_STORE_HUB_H

#include "findings.h"
#include "notify.h"
#include "store.h"

/* Set s's error text (certhub_store_errmsg) and return rc: lib/notify and
 * lib/findings report their validation errors through the handle like
 * storage errors, so callers read one message. */
ch_err certhub_store_fail(certhub_store *s, ch_err rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Insert the topic unless one of that name exists (*created false). */
ch_err certhub_store_topic_create(certhub_store *s, const char *name,
                                  const char *arn, const char *display_name,
                                  int64_t now, bool *created /* OUT */);
/* CH_ERR_NOTFOUND when absent. */
ch_err certhub_store_topic_get(certhub_store *s, const char *name,
                               certhub_topic_cb cb, void *ctx);
ch_err certhub_store_topic_list(certhub_store *s, certhub_topic_cb cb,
                                void *ctx);
/* CH_ERR_NOTFOUND when absent. */
ch_err certhub_store_topic_delete(certhub_store *s, const char *name);

/* Append m to the log of m->topic (m->topic_arn is ignored: taken from the
 * topic). CH_ERR_NOTFOUND when the topic does not exist. */
ch_err certhub_store_message_add(certhub_store *s, const certhub_message *m);
/* Newest first; topic NULL: all; limit 0: all. */
ch_err certhub_store_messages(certhub_store *s, const char *topic,
                              size_t limit, certhub_message_cb cb, void *ctx);

/* One finding by (product_arn, id); CH_ERR_NOTFOUND when absent. */
ch_err certhub_store_finding_get(certhub_store *s, const char *product_arn,
                                 const char *id, certhub_finding_cb cb,
                                 void *ctx);
/* Insert or replace the finding (product_arn, id) with f's columns and
 * JSON; now is recorded as its import time. */
ch_err certhub_store_finding_put(certhub_store *s,
                                 const certhub_finding_row *f, int64_t now);
/* n more findings (n may be negative) in the insight count of key's
 * severity_label, record_state, workflow_status, compliance_status and
 * aws_account_id (the other fields unused): for a writer that inserts
 * with row.count_later. */
ch_err certhub_store_findings_count_add(certhub_store *s,
                                        const certhub_finding_row *key,
                                        int64_t n);
ch_err certhub_store_findings(certhub_store *s,
                              const certhub_findings_filter *f,
                              certhub_finding_cb cb, void *ctx);

#endif
