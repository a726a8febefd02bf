/*
 * certhub_rule_target: one target of an event-bus rule (EventBridge's
 * Target) and one attempt to deliver one event to it. (Named apart from
 * probe.h's certhub_target, which is a host:port to probe.)
 *
 * The bus stores each target as the JSON object it was given and, for each
 * matched event, calls certhub_rule_target_deliver(); retries, backoff and the
 * dead-letter queue are the bus's business (RetryPolicy and
 * DeadLetterConfig are accepted here and not interpreted).
 *
 * Target object (unknown keys are errors naming the key):
 *   "Id"    required, 1-64 characters of A-Z a-z 0-9 . _ -
 *   "Type"  required: command | webhook | file | topic | findings
 *   at most one of "Input", "InputPath", "InputTransformer" (below)
 *   "RetryPolicy", "DeadLetterConfig"   the bus's; any JSON
 *   and the type's own fields:
 *
 *   command  "Command": ["/path/exe", "arg", ...] (1-256 strings, run with
 *            execvp semantics, no shell), "TimeoutSeconds": 1-900 (60),
 *            "Environment": {"NAME": "value"} (at most 100). The input is
 *            written to stdin; the environment also gets CERTHUB_RULE,
 *            CERTHUB_BUS, CERTHUB_EVENT_ID. Exit 0: OK. Non-zero exit,
 *            death by a signal, timeout (SIGTERM to its process group,
 *            SIGKILL 2 s later): RETRY, with the tail of stderr in the
 *            detail. Not found / not executable: FAILED. stdout and stderr
 *            are kept up to 64 KiB each, the rest discarded.
 *   webhook  "Url": "http(s)://..." (at most 2048 characters), "Headers":
 *            {"Name": "value"} (at most 50, no CR/LF, not Content-Length,
 *            Transfer-Encoding or Host), "TimeoutSeconds": 1-300 (10),
 *            "CaFile": PEM bundle path, "Insecure": false. POSTs the input
 *            (Content-Type application/json, or text/plain for a text
 *            template) with X-Certhub-Event-Id and X-Certhub-Rule headers.
 *            Redirects are not followed (a 3xx is FAILED: the URL should
 *            be fixed). 2xx: OK; 408, 429, 5xx, connection errors,
 *            timeouts, TLS errors: RETRY; other statuses, a malformed
 *            URL, an unreadable CaFile: FAILED. 4 KiB of the response
 *            body are kept for the detail, the rest read and dropped.
 *   file     "Path": "/abs/file.jsonl". Appends the input as one line of
 *            compact JSON (a text template's output becomes a JSON string)
 *            with O_APPEND in one write(2); creates the file mode 0640.
 *            Errors: RETRY, with the errno text.
 *   topic    "Topic": name (1-256 of A-Z a-z 0-9 _ -), "Subject": optional,
 *            1-100 characters. Delivered through hooks->publish.
 *   findings "ProductName": optional, 1-128 characters. Delivered through
 *            hooks->import_findings.
 *
 * Input shaping (as EventBridge; certhub's own choices marked certhub:):
 *   none              the event JSON, byte for byte as given.
 *   "Input"           constant JSON text (validated), sent as is.
 *   "InputPath"       "$" or "$" followed by ".name" and "[n]" steps
 *                     (name: A-Z a-z 0-9 _ - /); the selected value, as
 *                     compact JSON. certhub: a path that selects nothing
 *                     sends null.
 *   "InputTransformer" {"InputPathsMap": {"var": path} (at most 100; var:
 *                     1-64 of A-Z a-z 0-9 _ -, not starting with "aws."),
 *                     "InputTemplate": text (1-8192 characters)}.
 *     Placeholders are <name> where name is a map key or a predefined
 *     variable: aws.events.rule-name, aws.events.rule-arn,
 *     aws.events.event (the event without "detail"), aws.events.event.json
 *     (the whole event), aws.events.event.ingestion-time (RFC 3339, UTC).
 *     Any other <...> is left as written (EventBridge does the same, so
 *     templates may hold markup such as <b>).
 *     A template starting with '{' or '[' must be JSON once placeholders
 *     are filled (checked at parse time), and one starting with '"' that
 *     is such JSON is a JSON template too; anything else is plain text.
 *     In a JSON template a placeholder outside quotes becomes the value's
 *     JSON (a string with its quotes); inside quotes it becomes the
 *     string's characters, JSON-escaped. certhub: EventBridge does not
 *     escape them (its output can be invalid JSON); certhub does, so a
 *     JSON template always yields valid JSON. An object or array inside
 *     quotes loses its own quotes, as on EventBridge ({a:b}).
 *     aws.events.event and aws.events.event.json may only be used outside
 *     quotes in a JSON template (a parse error otherwise).
 *     In a text template values are inserted raw: strings without quotes,
 *     other values as compact JSON.
 *     certhub: a path that selects nothing yields null outside quotes and
 *     nothing inside quotes or in text (EventBridge leaves the variable
 *     undefined, which can break the JSON).
 *   The result is capped at CERTHUB_TARGET_INPUT_MAX bytes; a bigger one
 *   is FAILED (the same event would fail every time).
 *
 * Hooks (what the notify and findings modules implement): a hook returns
 * CH_OK when the message was accepted (delivered, or queued durably by
 * the module). Otherwise it may set *detail (malloc'd; the caller frees)
 * and returns an error: CH_ERR_NOTFOUND (no such topic), CH_ERR_PARSE,
 * CH_ERR_USAGE, CH_ERR_TOOBIG, CH_ERR_UNSUPPORTED or CH_ERR_CONFIG make
 * the delivery FAILED (retrying cannot help); any other error (CH_ERR_IO,
 * CH_ERR_DB, CH_ERR_BUSY, CH_ERR_NOMEM, ...) makes it RETRY. A missing
 * hook is FAILED with a detail saying so. Hooks may be called from
 * several threads at once with the same ctx.
 *
 * Ownership: a certhub_rule_target is owned by the caller
 * (certhub_rule_target_free) and immutable after parse, so one may be
 * delivered from several threads at once. ctx and everything it points to is
 * borrowed for the call.
 */
#ifndef CERTHUB_TARGET_H
#define CERTHUB_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certhub/certhub.h"

#define CERTHUB_TARGET_ID_MAX 64
#define CERTHUB_TARGET_INPUT_MAX (256 * 1024)
#define CERTHUB_TARGET_SPEC_MAX (64 * 1024) /* bytes of target JSON */

typedef struct certhub_rule_target certhub_rule_target;

typedef enum certhub_delivery {
  CERTHUB_DELIVERY_OK = 0, /* delivered */
  CERTHUB_DELIVERY_RETRY,  /* failed this time; may work later */
  CERTHUB_DELIVERY_FAILED, /* will never work: dead-letter it */
} certhub_delivery;

typedef struct certhub_target_hooks {
  void *ctx;
  /* Publish message[0..len) to topic; subject may be NULL. */
  ch_err (*publish)(void *ctx, const char *topic, const char *subject,
                    const char *message, size_t len, char **detail);
  /* Import the event event_json[0..len) (the transformed input) as
   * findings; product is the target's ProductName or NULL. */
  ch_err (*import_findings)(void *ctx, const char *product,
                            const char *event_json, size_t len, char **detail);
} certhub_target_hooks;

typedef struct certhub_target_ctx {
  const char *rule_name;  /* NULL: "" */
  const char *rule_arn;   /* NULL: arn:certhub:events:::rule/[bus/]name */
  const char *bus_name;   /* NULL: CERTHUB_DEFAULT_BUS */
  const char *event_id;   /* NULL: the event's "id" */
  int64_t ingestion_time; /* seconds since the epoch, UTC */
  const certhub_target_hooks *hooks; /* NULL: none */
} certhub_target_ctx;

/* Parse and validate a target object json[0..len). On CH_ERR_PARSE /
 * CH_ERR_TOOBIG *errmsg (if errmsg is not NULL) is a malloc'd message
 * naming the field and the problem. */
ch_err certhub_rule_target_parse(const char *json, size_t len,
                                 certhub_rule_target **out /* OUT */,
                                 char **errmsg /* OUT */);
void certhub_rule_target_free(certhub_rule_target *t);

/* Borrowed strings, valid while t lives. */
const char *certhub_rule_target_id(const certhub_rule_target *t);
const char *certhub_rule_target_type(const certhub_rule_target *t);

/* The input the target would receive for this event (no delivery): *out
 * is malloc'd, NUL-terminated, *out_len bytes; *is_json false for a text
 * template. CH_ERR_PARSE (event not JSON), CH_ERR_TOOBIG (over
 * CERTHUB_TARGET_INPUT_MAX) with *errmsg. */
ch_err certhub_rule_target_input(const certhub_rule_target *t,
                                 const certhub_target_ctx *ctx,
                                 const char *event_json, size_t len,
                                 char **out /* OUT */,
                                 size_t *out_len /* OUT */,
                                 bool *is_json /* OUT */,
                                 char **errmsg /* OUT */);

/* One delivery attempt of event_json[0..len). Returns CH_OK with *result
 * set (and *detail, malloc'd or NULL, saying why for RETRY/FAILED, e.g.
 * "HTTP 503 from https://..." or "exit status 3: ..."); an error only when
 * the attempt itself could not be made (CH_ERR_NOMEM, CH_ERR_USAGE). An
 * event that is not JSON, or whose input exceeds the cap, is FAILED. */
ch_err certhub_rule_target_deliver(const certhub_rule_target *t,
                                   const certhub_target_ctx *ctx,
                                   const char *event_json, size_t len,
                                   certhub_delivery *result /* OUT */,
                                   char **detail /* OUT */);

/* "OK", "RETRY", "FAILED". */
const char *certhub_delivery_name(certhub_delivery d);

#endif
