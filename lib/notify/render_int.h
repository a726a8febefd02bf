/*
 * Private helpers shared by the template language (template.c), the
 * built-in renderings (render.c) and the digest (digest.c).
 */
#ifndef CH_NOTIFY_RENDER_INT_H
#define CH_NOTIFY_RENDER_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "certhub/notify_render.h"
#include "core/core.h"

/* Append s[0..n) HTML-escaped (& < > " '). */
ch_err ch_render_escape(ch_buf *b, const char *s, size_t n);

/* Both bodies under construction, each capped. */
typedef struct ch_render_out {
  ch_buf text;
  ch_buf html;
} ch_render_out;

/* The digest (Scheduled Event with certificates[]): text and html into
 * o (capped; the caps leave room for what the digest adds at the end),
 * the subject into subject (size cap), and the template context's
 * certificates/groups/count/moreCount/moreLink into ctx. */
ch_err ch_render_digest(const json_t *detail, const char *base_url,
                        size_t max_bytes, ch_render_out *o, json_t *ctx,
                        char *subject, size_t subject_cap, size_t *listed,
                        size_t *omitted);

/* A date "YYYY-MM-DD" from an RFC 3339 time (the first 10 characters
 * when they look like a date), into out[11]; false otherwise. */
bool ch_render_date(const char *rfc3339, char out[11]);

#endif
