/*
 * The template language of certhub/notify_render.h, a mustache subset.
 * Hand-written: it is small, and the libraries that exist for C either
 * pull a runtime with them or lack HTML-escaping control per template.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/notify_render.h"
#include "core/core.h"
#include "render_int.h"

enum nkind { N_TEXT, N_VAR, N_SECTION, N_INVERTED };

struct node {
  enum nkind kind;
  const char *s; /* text, or the name */
  size_t len;
  bool escape;        /* N_VAR */
  struct node *child; /* sections: first child */
  struct node *next;
};

struct certhub_template {
  struct ch_arena *arena;
  struct node *first;
  bool html;
};

static ch_err tfail(char **why, ch_err rc, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static ch_err tfail(char **why, ch_err rc, int line, const char *fmt, ...)
{
  if(why && !*why) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if(asprintf(why, "template line %d: %s", line, msg) < 0)
      *why = NULL;
  }
  return rc;
}

static int line_at(const char *start, const char *p)
{
  int n = 1;
  for(; start < p; start++)
    n += *start == '\n';
  return n;
}

static bool name_char(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
         c == '$';
}

/* A tag on a line of its own (only blanks around it): the line goes. */
static bool standalone(const char *start, const char *open, const char *end,
                       const char **line_start, const char **line_end)
{
  const char *a = open, *b = end;
  while(a > start && (a[-1] == ' ' || a[-1] == '\t'))
    a--;
  if(a > start && a[-1] != '\n')
    return false;
  while(*b == ' ' || *b == '\t' || *b == '\r')
    b++;
  if(*b != '\n' && *b != '\0')
    return false;
  *line_start = a;
  *line_end = *b == '\n' ? b + 1 : b;
  return true;
}

ch_err certhub_template_compile(const char *text, bool html,
                                certhub_template **out, char **why)
{
  struct node *stack[CERTHUB_TEMPLATE_MAX_DEPTH + 1];
  struct node **tail[CERTHUB_TEMPLATE_MAX_DEPTH + 2];
  int open_line[CERTHUB_TEMPLATE_MAX_DEPTH + 1];
  size_t depth = 0;
  ch_err rc = CH_OK;
  certhub_template *t = NULL;
  if(why)
    *why = NULL;
  if(!out || !text)
    return CH_ERR_USAGE;
  *out = NULL;
  size_t n = strnlen(text, CERTHUB_TEMPLATE_MAX_LEN + 1);
  if(n > CERTHUB_TEMPLATE_MAX_LEN)
    return tfail(why, CH_ERR_TOOBIG, 1, "template longer than %d bytes",
                 CERTHUB_TEMPLATE_MAX_LEN);
  if(!(t = calloc(1, sizeof(*t))) ||
     !(t->arena = ch_arena_new(16 * CERTHUB_TEMPLATE_MAX_LEN))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  t->html = html;
  tail[0] = &t->first;
  /* text nodes point into the template's own copy of the source */
  if(!(text = ch_arena_strndup(t->arena, text, n))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  const char *p = text;
  while(*p) {
    const char *open = strstr(p, "{{");
    const char *text_end = open ? open : p + strlen(p);
    const char *resume = NULL;
    if(!open) {
      resume = text_end;
    }
    else {
      bool triple = open[2] == '{';
      const char *close = strstr(open + 2, triple ? "}}}" : "}}");
      if(!close) {
        rc = tfail(why, CH_ERR_PARSE, line_at(text, open),
                   "'{{' without a closing '%s'", triple ? "}}}" : "}}");
        goto out;
      }
      const char *end = close + (triple ? 3 : 2);
      const char *in = open + (triple ? 3 : 2), *ie = close;
      char sigil = triple ? '&' : 0;
      while(in < ie && (*in == ' ' || *in == '\t'))
        in++;
      if(!triple && in < ie && strchr("#^/!&", *in))
        sigil = *in++;
      while(in < ie && (*in == ' ' || *in == '\t'))
        in++;
      while(ie > in && (ie[-1] == ' ' || ie[-1] == '\t'))
        ie--;
      int line = line_at(text, open);
      if(sigil != '!') {
        if(in == ie) {
          rc = tfail(why, CH_ERR_PARSE, line, "empty tag");
          goto out;
        }
        for(const char *q = in; q < ie; q++)
          if(!name_char(*q)) {
            rc = tfail(why, CH_ERR_PARSE, line,
                       "invalid character '%c' in tag name '%.*s' (use "
                       "letters, digits, '_', '-', '.')",
                       (*q >= 0x20 && *q < 0x7f) ? *q : '?',
                       (int)(ie - in > 60 ? 60 : ie - in), in);
            goto out;
          }
      }
      const char *ls, *le;
      bool alone =
          (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '!') &&
          standalone(text, open, end, &ls, &le);
      if(alone) {
        text_end = ls;
        resume = le;
      }
      else
        resume = end;
      /* the text before the tag */
      if(text_end > p) {
        struct node *tn = ch_arena_alloc(t->arena, sizeof(*tn));
        if(!tn) {
          rc = CH_ERR_NOMEM;
          goto out;
        }
        *tn = (struct node){
            .kind = N_TEXT, .s = p, .len = (size_t)(text_end - p)};
        *tail[depth] = tn;
        tail[depth] = &tn->next;
      }
      p = resume;
      if(sigil == '!')
        continue;
      if(sigil == '/') {
        if(!depth) {
          rc = tfail(why, CH_ERR_PARSE, line,
                     "'{{/%.*s}}' closes no open section", (int)(ie - in), in);
          goto out;
        }
        struct node *sec = stack[depth - 1];
        if(sec->len != (size_t)(ie - in) || memcmp(sec->s, in, sec->len)) {
          rc = tfail(why, CH_ERR_PARSE, line,
                     "'{{/%.*s}}' closes section '%.*s' opened at line %d",
                     (int)(ie - in), in, (int)sec->len, sec->s,
                     open_line[depth - 1]);
          goto out;
        }
        depth--;
        continue;
      }
      struct node *nn = ch_arena_alloc(t->arena, sizeof(*nn));
      char *name = ch_arena_strndup(t->arena, in, (size_t)(ie - in));
      if(!nn || !name) {
        rc = CH_ERR_NOMEM;
        goto out;
      }
      *nn = (struct node){.s = name, .len = (size_t)(ie - in)};
      if(sigil == '#' || sigil == '^') {
        if(depth >= CERTHUB_TEMPLATE_MAX_DEPTH) {
          rc =
              tfail(why, CH_ERR_TOOBIG, line, "sections nested deeper than %d",
                    CERTHUB_TEMPLATE_MAX_DEPTH);
          goto out;
        }
        nn->kind = sigil == '#' ? N_SECTION : N_INVERTED;
        *tail[depth] = nn;
        tail[depth] = &nn->next;
        stack[depth] = nn;
        open_line[depth] = line;
        depth++;
        tail[depth] = &nn->child;
        continue;
      }
      nn->kind = N_VAR;
      nn->escape = html && sigil != '&';
      *tail[depth] = nn;
      tail[depth] = &nn->next;
      continue;
    }
    if(text_end > p) {
      struct node *tn = ch_arena_alloc(t->arena, sizeof(*tn));
      if(!tn) {
        rc = CH_ERR_NOMEM;
        goto out;
      }
      *tn =
          (struct node){.kind = N_TEXT, .s = p, .len = (size_t)(text_end - p)};
      *tail[depth] = tn;
      tail[depth] = &tn->next;
    }
    p = resume;
  }
  if(depth) {
    rc = tfail(why, CH_ERR_PARSE, open_line[depth - 1],
               "section '%.*s' is never closed (add {{/%.*s}})",
               (int)stack[depth - 1]->len, stack[depth - 1]->s,
               (int)stack[depth - 1]->len, stack[depth - 1]->s);
    goto out;
  }
  *out = t;
  t = NULL;
out:
  certhub_template_free(t);
  return rc;
}

void certhub_template_free(certhub_template *t)
{
  if(!t)
    return;
  ch_arena_free(t->arena);
  free(t);
}

/* ---- rendering ----------------------------------------------------------
 */

struct rctx {
  const json_t *stack[CERTHUB_TEMPLATE_MAX_DEPTH + 2];
  size_t depth;
  ch_buf *b;
};

static const json_t *lookup(const struct rctx *r, const char *name)
{
  if(!strcmp(name, "."))
    return r->stack[r->depth - 1];
  const char *dot = strchr(name, '.');
  size_t first = dot ? (size_t)(dot - name) : strlen(name);
  char key[256];
  const json_t *v = NULL;
  if(first >= sizeof(key))
    return NULL;
  memcpy(key, name, first);
  key[first] = '\0';
  for(size_t i = r->depth; i-- > 0;) {
    if(json_is_object(r->stack[i]) && (v = json_object_get(r->stack[i], key)))
      break;
  }
  while(v && dot) {
    const char *s = dot + 1;
    dot = strchr(s, '.');
    size_t k = dot ? (size_t)(dot - s) : strlen(s);
    if(k >= sizeof(key))
      return NULL;
    memcpy(key, s, k);
    key[k] = '\0';
    v = json_object_get(v, key);
  }
  return v;
}

ch_err ch_render_escape(ch_buf *b, const char *s, size_t n)
{
  size_t run = 0;
  for(size_t i = 0; i < n; i++) {
    const char *rep = NULL;
    switch(s[i]) {
    case '&':
      rep = "&amp;";
      break;
    case '<':
      rep = "&lt;";
      break;
    case '>':
      rep = "&gt;";
      break;
    case '"':
      rep = "&quot;";
      break;
    case '\'':
      rep = "&#39;";
      break;
    default:
      break;
    }
    if(!rep)
      continue;
    ch_err rc = ch_buf_add(b, s + run, i - run);
    if(!rc)
      rc = ch_buf_addstr(b, rep);
    if(rc)
      return rc;
    run = i + 1;
  }
  return ch_buf_add(b, s + run, n - run);
}

static ch_err put_value(ch_buf *b, const json_t *v, bool escape)
{
  char num[64];
  const char *s = NULL;
  size_t n = 0;
  char *dump = NULL;
  if(!v || json_is_null(v))
    return CH_OK;
  if(json_is_string(v)) {
    s = json_string_value(v);
    n = json_string_length(v);
  }
  else if(json_is_integer(v)) {
    n = (size_t)snprintf(num, sizeof(num), "%lld",
                         (long long)json_integer_value(v));
    s = num;
  }
  else if(json_is_real(v)) {
    n = (size_t)snprintf(num, sizeof(num), "%.15g", json_real_value(v));
    s = num;
  }
  else if(json_is_boolean(v)) {
    s = json_is_true(v) ? "true" : "false";
    n = strlen(s);
  }
  else {
    dump = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if(!dump)
      return CH_ERR_NOMEM;
    s = dump;
    n = strlen(dump);
  }
  ch_err rc = escape ? ch_render_escape(b, s, n) : ch_buf_add(b, s, n);
  free(dump);
  return rc;
}

static bool truthy(const json_t *v)
{
  if(!v || json_is_null(v) || json_is_false(v))
    return false;
  if(json_is_array(v))
    return json_array_size(v) > 0;
  if(json_is_string(v))
    return json_string_length(v) > 0;
  return true;
}

static ch_err run(struct rctx *r, const struct node *n)
{
  ch_err rc = CH_OK;
  for(; n && !rc; n = n->next) {
    switch(n->kind) {
    case N_TEXT:
      rc = ch_buf_add(r->b, n->s, n->len);
      break;
    case N_VAR:
      rc = put_value(r->b, lookup(r, n->s), n->escape);
      break;
    case N_INVERTED:
      if(!truthy(lookup(r, n->s)))
        rc = run(r, n->child);
      break;
    case N_SECTION: {
      const json_t *v = lookup(r, n->s);
      if(!truthy(v))
        break;
      if(json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach((json_t *)v, i, e)
        {
          r->stack[r->depth++] = e;
          rc = run(r, n->child);
          r->depth--;
          if(rc)
            break;
        }
      }
      else {
        r->stack[r->depth++] = v;
        rc = run(r, n->child);
        r->depth--;
      }
      break;
    }
    }
  }
  return rc;
}

ch_err certhub_template_render(const certhub_template *t, const json_t *ctx,
                               size_t cap, char **out, char **why)
{
  ch_buf b;
  struct rctx r = {.depth = 1, .b = &b};
  if(why)
    *why = NULL;
  *out = NULL;
  r.stack[0] = ctx;
  ch_buf_init(&b, cap);
  ch_err rc = run(&r, t->first);
  if(!rc && !b.data)
    rc = ch_buf_addstr(&b, "");
  if(rc) {
    if(rc == CH_ERR_TOOBIG && why &&
       asprintf(why, "template: rendered output is larger than %zu bytes",
                cap) < 0)
      *why = NULL;
    ch_buf_free(&b);
    return rc;
  }
  *out = ch_buf_take(&b);
  return *out ? CH_OK : CH_ERR_NOMEM;
}
