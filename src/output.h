/*
 * Output writers for the CLI: aligned tables (UTF-8 aware, optional
 * colour), RFC 4180 CSV with formula-injection guarding, and streamed JSON
 * arrays written one object at a time.
 */
#ifndef CERTHUB_CLI_OUTPUT_H
#define CERTHUB_CLI_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "certhub/certhub.h"

enum out_format {
  OUT_TABLE,
  OUT_JSON,
  OUT_CSV,
};

enum out_color {
  OUT_PLAIN = 0,
  OUT_RED,
  OUT_YELLOW,
  OUT_GREEN,
  OUT_DIM,
};

/* Parse "table", "json" or "csv". */
ch_err out_format_parse(const char *s, enum out_format *f /* OUT */);

/* Display width of UTF-8 text: the number of codepoints. */
size_t out_width(const char *s);

/* Copy of s cut to at most max codepoints, the last one "…" when cut.
 * malloc'd; NULL on allocation failure. */
char *out_truncate(const char *s, size_t max);

/* Copy of s cut from the left to at most max codepoints, starting with
 * "..." when cut. malloc'd. */
char *out_truncate_left(const char *s, size_t max);

/* A table is buffered whole, because column widths depend on every row. */
typedef struct out_table out_table;

out_table *out_table_new(const char *const *headers, size_t ncols);
/* Copies the cells; colors may be NULL (all plain). */
ch_err out_table_add(out_table *t, const char *const *cells,
                     const enum out_color *colors);
size_t out_table_rows(const out_table *t);
/* Header plus rows, columns two spaces apart, no trailing blanks. */
void out_table_print(const out_table *t, FILE *f, bool color);
void out_table_free(out_table *t);

/* One CSV record: quoted where RFC 4180 needs it; a cell starting with
 * = + - @ or a tab gets a leading single quote so spreadsheets do not
 * evaluate it. */
void out_csv_row(FILE *f, const char *const *cells, size_t n);

/* Streamed JSON array: "[", each object as it comes, "]". */
typedef struct out_json_stream {
  FILE *f;
  size_t n;
} out_json_stream;

void out_json_begin(out_json_stream *js, FILE *f);
ch_err out_json_item(out_json_stream *js, const json_t *obj);
void out_json_end(out_json_stream *js);

/* A single JSON value on its own, indented, with a final newline. */
ch_err out_json_print(FILE *f, const json_t *v);

/* fputs with control characters shown as '?', so text taken from a
 * certificate cannot drive the terminal. */
void out_safe_puts(FILE *f, const char *s);

/* ANSI sequences for a colour ("" for OUT_PLAIN), and the reset. */
const char *out_color_start(enum out_color c);
const char *out_color_end(void);

#endif
