/*
 * Notifications people want to read: from one bus event (the EventBridge
 * envelope JSON) a subject, a plain-text body and an HTML body, per
 * detail-type (Approaching Expiration, Expired, Available, Renewal Action
 * Required, the weekly digest's Scheduled Event, and a generic rendering
 * of any other event's detail). These fill ch_notify_msg's text and html
 * (lib/notify/proto.h).
 *
 * What is in the event is rendered. Owner, issuer, sources and the
 * expiry date are not in ACM's per-certificate details: when a lookup is
 * given (certhub_render_store_lookup reads the inventory by the
 * certificate's ARN) they are added from it; without one, or for a
 * certificate the store no longer has, they are left out. The digest's
 * entries carry all of them already (lib/lifecycle/batch.c).
 *
 * Every certificate gets a remediation link, BASE_URL/certificates/<id>
 * (id: the short ID, the first 16 hex digits of the SHA-256, which
 * certhub's ARNs carry).
 *
 * Templates (per topic): a small mustache-like language.
 *   {{name.path}}       a value of the context, HTML-escaped in html
 *                       templates; {{{name}}} or {{& name}} unescaped
 *   {{#name}}..{{/name}} a section: once per element of an array, once
 *                       for an object or any other value that is not
 *                       false/null/missing/empty; inside it names are
 *                       looked up in the element first, then outwards
 *   {{^name}}..{{/name}} inverted: when the value is false/null/missing/
 *                       empty
 *   {{.}}               the current element; {{! comment }}
 * A line holding only a section tag or a comment leaves no blank line.
 * The context: the event envelope's fields (id, source, time, resources,
 * detail, "detail-type", ...) plus
 *   subject             the built-in subject
 *   link                the remediation link (certificate events)
 *   baseUrl, topicArn
 *   certificate         {Arn, Id, CommonName, DaysToExpiry, ExpiresOn,
 *                        Owner, Issuer, Sources: [..], Link} (certificate
 *                        events, as far as known)
 *   certificates        the digest's entries, each with Link and
 *                        ExpiresOn (at most CERTHUB_RENDER_TEMPLATE_ITEMS
 *                        of them; moreCount says how many were left out)
 *   groups              the digest by owner: [{Owner, Count,
 *                        certificates: [..]}], same bound
 *   count, moreCount, moreLink
 *
 * Ownership: results are malloc'd and owned by the caller; templates and
 * template sets are owned by the caller; every input is borrowed for the
 * call. Compiled templates are read-only and may be shared by threads.
 */
#ifndef CERTHUB_NOTIFY_RENDER_H
#define CERTHUB_NOTIFY_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "certhub.h"

typedef struct certhub_store certhub_store;

/* The same default as the findings' links (certhub/findings.h). */
#ifndef CERTHUB_DEFAULT_BASE_URL
#define CERTHUB_DEFAULT_BASE_URL "http://localhost:8080"
#endif
#define CERTHUB_TEMPLATE_MAX_LEN (64 * 1024) /* bytes of one template */
#define CERTHUB_TEMPLATE_MAX_DEPTH 32        /* nested sections */
#define CERTHUB_RENDER_MAX (256 * 1024)      /* text or html: SNS's limit */
#define CERTHUB_RENDER_TEMPLATE_ITEMS 1000   /* digest entries for templates */

/* ---- templates ---------------------------------------------------------- */

typedef struct certhub_template certhub_template;

/* Compile text (NUL-terminated); html: values are HTML-escaped. On
 * CH_ERR_PARSE / CH_ERR_TOOBIG *why (malloc'd, caller frees) names the
 * line and the problem. */
ch_err certhub_template_compile(const char *text, bool html,
                                certhub_template **out, char **why);

/* Render against ctx (borrowed) into *out (malloc'd, NUL-terminated), at
 * most cap bytes (CH_ERR_TOOBIG with *why beyond). */
ch_err certhub_template_render(const certhub_template *t, const json_t *ctx,
                               size_t cap, char **out, char **why);

void certhub_template_free(certhub_template *t);

/* A topic's template overrides: a JSON object, either {subject:, text:,
 * html:} (every detail-type) or keyed by detail-type, with "*" for the
 * others: {"ACM Certificate Expired": {subject:, text:, html:}, "*":
 * {...}}. Each part is optional; what is not given is built in. Every
 * template is compiled (CH_ERR_PARSE / CH_ERR_TOOBIG with *why naming
 * the detail-type, the part and the problem), so a config check refuses
 * an invalid one. */
typedef struct certhub_render_templates certhub_render_templates;

ch_err certhub_render_templates_parse(const json_t *obj,
                                      certhub_render_templates **out,
                                      char **why);
/* Same, from JSON text. */
ch_err certhub_render_templates_parse_text(const char *json,
                                           certhub_render_templates **out,
                                           char **why);
void certhub_render_templates_free(certhub_render_templates *t);

/* ---- rendering ---------------------------------------------------------- */

/* Look a certificate up by ARN: *info gets a new object with any of Id,
 * CommonName, Owner, Issuer, NotAfter (RFC 3339), Sources (array of
 * strings), Tags (object of strings), or stays NULL when unknown. */
typedef ch_err (*certhub_render_lookup_fn)(void *ctx, const char *arn,
                                           json_t **info /* OUT */);

/* A lookup over the inventory: ctx is a certhub_store *. */
ch_err certhub_render_store_lookup(void *ctx, const char *arn,
                                   json_t **info /* OUT */);

typedef struct certhub_render_opts {
  const char *base_url;  /* NULL: CERTHUB_DEFAULT_BASE_URL */
  const char *topic_arn; /* may be NULL */
  const certhub_render_templates *templates; /* NULL: built-in only */
  certhub_render_lookup_fn lookup;           /* may be NULL */
  void *lookup_ctx;
  size_t max_bytes; /* of text and of html; 0: CERTHUB_RENDER_MAX */
} certhub_render_opts;

typedef struct certhub_rendered {
  char *subject; /* SNS-valid: printable ASCII, 1..100 characters */
  char *text;
  char *html;
  size_t n_listed;  /* digest: certificates listed */
  size_t n_omitted; /* digest: left out to stay within max_bytes */
} certhub_rendered;

/* Render the event event_json[0..len). CH_ERR_PARSE when it is not a
 * JSON object with a string "detail-type" and an object "detail";
 * CH_ERR_TOOBIG when a template's output is too large; *why (malloc'd)
 * says which. out is zeroed first and, on error, holds nothing. */
ch_err certhub_render_event(const char *event_json, size_t len,
                            const certhub_render_opts *o,
                            certhub_rendered *out, char **why);

/* Same for a parsed envelope (borrowed). */
ch_err certhub_render_event_json(const json_t *event,
                                 const certhub_render_opts *o,
                                 certhub_rendered *out, char **why);

void certhub_rendered_free(certhub_rendered *r);

/* ---- MessageAttributes of certhub's own messages ----------------------- */

/* certhub's own messages: the MessageAttributes of an event published to
 * a topic by the bus (the EventBridge envelope in message[0..len)), so
 * subscriptions can filter on them without MessageBody scope:
 *   detail-type       String  the event's detail-type
 *   source            String  the event's source
 *   certificate_arn   String  certificate events: the certificate's ARN
 *   certificate_id    String  its short ID (16 hex digits)
 *   common_name       String  detail.CommonName, when there is one
 *   days_to_expiry    Number  detail.DaysToExpiry; the digest: the fewest
 *                             days of its certificates
 *   owner             String  the certificate's "owner" tag (via lookup)
 *   tags              String.Array  its tags as "key=value" (via lookup,
 *                             at most 64)
 *   certificate_count Number  the digest: detail.count
 *   owners            String.Array  the digest: the owners listed
 * Values that would break an attribute rule are left out. lookup may be
 * NULL (no owner then). *out is NULL when the message is not an event (e.g. an
 * InputTransformer's text): such messages carry no attributes. */
ch_err certhub_msg_attrs_from_event(const char *message, size_t len,
                                    certhub_render_lookup_fn lookup,
                                    void *lookup_ctx, char **out /* OUT */);

/* The short certificate ID in a certhub ARN
 * (arn:certhub:acm:R:A:certificate/8-4-4-4-12 hex), into id (17 bytes).
 * False when arn is not one. */
bool certhub_render_arn_id(const char *arn, char id[17]);

#endif
