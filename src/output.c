#include <stdlib.h>
#include <string.h>

#include "output.h"

/* Tables are bounded by the store's contents, but a runaway cell (a
 * hostile subject, say) should not make one row arbitrarily wide. */
#define OUT_MAX_CELL 4096

struct out_table {
  size_t ncols;
  char **cells; /* rows * ncols, row 0 is the header */
  unsigned char *colors;
  size_t rows;
  size_t alloc;
};

ch_err out_format_parse(const char *s, enum out_format *f)
{
  if(!strcmp(s, "table"))
    *f = OUT_TABLE;
  else if(!strcmp(s, "json"))
    *f = OUT_JSON;
  else if(!strcmp(s, "csv"))
    *f = OUT_CSV;
  else
    return CH_ERR_USAGE;
  return CH_OK;
}

size_t out_width(const char *s)
{
  size_t n = 0;
  for(; *s; s++) {
    /* count lead bytes, not continuation bytes (10xxxxxx) */
    if(((unsigned char)*s & 0xC0) != 0x80)
      n++;
  }
  return n;
}

/* Byte offset of the codepoint number idx (or the end). */
static size_t cp_offset(const char *s, size_t idx)
{
  size_t n = 0, i = 0;
  for(; s[i]; i++) {
    if(((unsigned char)s[i] & 0xC0) != 0x80) {
      if(n == idx)
        return i;
      n++;
    }
  }
  return i;
}

char *out_truncate(const char *s, size_t max)
{
  if(out_width(s) <= max)
    return strdup(s);
  size_t cut = cp_offset(s, max - 1);
  char *r = malloc(cut + 4);
  if(!r)
    return NULL;
  memcpy(r, s, cut);
  memcpy(r + cut, "\xE2\x80\xA6", 4); /* U+2026 and the NUL */
  return r;
}

char *out_truncate_left(const char *s, size_t max)
{
  size_t w = out_width(s);
  if(w <= max)
    return strdup(s);
  const char *tail = s + cp_offset(s, w - (max - 3));
  size_t tl = strlen(tail);
  char *r = malloc(tl + 4);
  if(!r)
    return NULL;
  memcpy(r, "...", 3);
  memcpy(r + 3, tail, tl + 1);
  return r;
}

out_table *out_table_new(const char *const *headers, size_t ncols)
{
  out_table *t = calloc(1, sizeof(*t));
  if(!t)
    return NULL;
  t->ncols = ncols;
  if(out_table_add(t, headers, NULL)) {
    out_table_free(t);
    return NULL;
  }
  return t;
}

ch_err out_table_add(out_table *t, const char *const *cells,
                     const enum out_color *colors)
{
  if(t->rows == t->alloc) {
    size_t na = t->alloc ? t->alloc * 2 : 16;
    char **nc = realloc(t->cells, na * t->ncols * sizeof(*nc));
    if(!nc)
      return CH_ERR_NOMEM;
    t->cells = nc;
    unsigned char *ncol = realloc(t->colors, na * t->ncols);
    if(!ncol)
      return CH_ERR_NOMEM;
    t->colors = ncol;
    t->alloc = na;
  }
  size_t base = t->rows * t->ncols;
  for(size_t i = 0; i < t->ncols; i++) {
    const char *v = cells[i] ? cells[i] : "";
    size_t len = strnlen(v, OUT_MAX_CELL);
    char *copy = malloc(len + 1);
    if(!copy) {
      while(i--)
        free(t->cells[base + i]);
      return CH_ERR_NOMEM;
    }
    memcpy(copy, v, len);
    copy[len] = '\0';
    /* never let control characters from certificate text reach a
     * terminal: they could move the cursor or recolour the screen */
    for(char *p = copy; *p; p++) {
      if((unsigned char)*p < 0x20 || *p == 0x7f)
        *p = '?';
    }
    t->cells[base + i] = copy;
    t->colors[base + i] = colors ? (unsigned char)colors[i] : OUT_PLAIN;
  }
  t->rows++;
  return CH_OK;
}

size_t out_table_rows(const out_table *t)
{
  return t->rows ? t->rows - 1 : 0;
}

void out_safe_puts(FILE *f, const char *s)
{
  for(; *s; s++)
    fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

const char *out_color_start(enum out_color c)
{
  switch(c) {
  case OUT_RED:
    return "\033[31m";
  case OUT_YELLOW:
    return "\033[33m";
  case OUT_GREEN:
    return "\033[32m";
  case OUT_DIM:
    return "\033[2m";
  case OUT_PLAIN:
    break;
  }
  return "";
}

const char *out_color_end(void)
{
  return "\033[0m";
}

void out_table_print(const out_table *t, FILE *f, bool color)
{
  size_t *w = calloc(t->ncols, sizeof(*w));
  if(!w)
    return;
  for(size_t r = 0; r < t->rows; r++) {
    for(size_t i = 0; i < t->ncols; i++) {
      size_t cw = out_width(t->cells[r * t->ncols + i]);
      if(cw > w[i])
        w[i] = cw;
    }
  }
  for(size_t r = 0; r < t->rows; r++) {
    for(size_t i = 0; i < t->ncols; i++) {
      const char *v = t->cells[r * t->ncols + i];
      enum out_color col = t->colors[r * t->ncols + i];
      bool paint = color && col != OUT_PLAIN;
      fprintf(f, "%s%s%s", paint ? out_color_start(col) : "", v,
              paint ? out_color_end() : "");
      if(i + 1 < t->ncols) {
        /* pad by display width, outside the colour codes */
        for(size_t k = out_width(v); k < w[i] + 2; k++)
          fputc(' ', f);
      }
    }
    fputc('\n', f);
  }
  free(w);
}

void out_table_free(out_table *t)
{
  if(!t)
    return;
  for(size_t i = 0; i < t->rows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  free(t->colors);
  free(t);
}

static void csv_cell(FILE *f, const char *v)
{
  bool guard =
      v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t';
  /* a plain negative number (days past expiry) cannot be a formula */
  if(v[0] == '-' && v[1] && strspn(v + 1, "0123456789") == strlen(v + 1))
    guard = false;
  bool quote = false;
  for(const char *p = v; *p; p++) {
    if(*p == ',' || *p == '"' || *p == '\r' || *p == '\n') {
      quote = true;
      break;
    }
  }
  if(quote)
    fputc('"', f);
  if(guard)
    fputc('\'', f);
  for(const char *p = v; *p; p++) {
    if(*p == '"')
      fputc('"', f);
    fputc(*p, f);
  }
  if(quote)
    fputc('"', f);
}

void out_csv_row(FILE *f, const char *const *cells, size_t n)
{
  for(size_t i = 0; i < n; i++) {
    if(i)
      fputc(',', f);
    csv_cell(f, cells[i] ? cells[i] : "");
  }
  /* LF, not RFC 4180's CRLF: every consumer we target accepts it and it
   * keeps the output diffable */
  fputc('\n', f);
}

/* Write the dump of v, each line after the first indented by `indent`. */
static ch_err json_write(FILE *f, const json_t *v, const char *indent)
{
  char *s =
      json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
                     JSON_REAL_PRECISION(10));
  if(!s)
    return CH_ERR_NOMEM;
  for(const char *p = s; *p; p++) {
    fputc(*p, f);
    if(*p == '\n')
      fputs(indent, f);
  }
  free(s);
  return CH_OK;
}

void out_json_begin(out_json_stream *js, FILE *f)
{
  js->f = f;
  js->n = 0;
  fputc('[', f);
}

ch_err out_json_item(out_json_stream *js, const json_t *obj)
{
  fputs(js->n ? ",\n  " : "\n  ", js->f);
  js->n++;
  return json_write(js->f, obj, "  ");
}

void out_json_end(out_json_stream *js)
{
  fputs(js->n ? "\n]\n" : "]\n", js->f);
}

ch_err out_json_print(FILE *f, const json_t *v)
{
  ch_err rc = json_write(f, v, "");
  fputc('\n', f);
  return rc;
}
