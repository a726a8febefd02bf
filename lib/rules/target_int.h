/*
 * Private interface of the event-bus targets: the table of target types
 * (one file each: target_command.c, target_webhook.c, target_file.c,
 * target_hooks.c), the input shaping (transform.c) and helpers the types
 * share for validating their fields.
 *
 * Ownership: a type's parse() allocates its state, free() releases it;
 * deliver() only reads it (targets are delivered from several threads).
 */
#ifndef CH_RULES_TARGET_INT_H
#define CH_RULES_TARGET_INT_H

#include <jansson.h>

#include "certhub/target.h"
#include "core/core.h"

/* The input one delivery sends: the shaped event. */
typedef struct ch_target_input {
  const char *data; /* NUL-terminated */
  size_t len;
  bool json; /* false: a text template's output */
  const char *event_id;
  const char *rule;
  const char *bus;
} ch_target_input;

struct ch_target_ops {
  const char *name;
  const char *const *fields; /* the type's own keys, NULL-terminated */
  ch_err (*parse)(json_t *spec, void **state, char **errmsg);
  /* One attempt; *detail malloc'd or NULL. Returns the outcome. */
  certhub_delivery (*deliver)(const void *state, const certhub_target_ctx *ctx,
                              const ch_target_input *in, char **detail);
  void (*free)(void *state);
};

extern const struct ch_target_ops ch_target_command;
extern const struct ch_target_ops ch_target_webhook;
extern const struct ch_target_ops ch_target_file;
extern const struct ch_target_ops ch_target_topic;
extern const struct ch_target_ops ch_target_findings;

/* Set *errmsg (if errmsg) to a malloc'd message; returns CH_ERR_PARSE. */
ch_err ch_target_err(char **errmsg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* malloc'd printf, NULL on failure. */
char *ch_target_fmt(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Optional integer field in [lo, hi]; *out = def when absent. */
ch_err ch_target_int_field(json_t *spec, const char *key, long lo, long hi,
                           long def, long *out, char **errmsg);
/* Optional string field of 1..max bytes without NUL (and, if no_ctl,
 * without control characters); *out borrowed from spec or NULL. */
ch_err ch_target_str_field(json_t *spec, const char *key, size_t max,
                           bool required, bool no_ctl, const char **out,
                           char **errmsg);

/* Input shaping (transform.c). */
typedef struct ch_input ch_input;
/* Reads Input, InputPath, InputTransformer from spec; *out NULL when
 * none is given (the event is sent as is). */
ch_err ch_input_parse(json_t *spec, ch_input **out, char **errmsg);
void ch_input_free(ch_input *in);
/* Shape the event; event is the parsed event_json. *out malloc'd. */
ch_err ch_input_apply(const ch_input *in, const certhub_target_ctx *ctx,
                      json_t *event, char **out, size_t *out_len,
                      bool *is_json, char **errmsg);

#endif
