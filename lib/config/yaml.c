/*
 * A small YAML node tree built from libyaml's event stream. Events are
 * folded into nodes with an explicit stack (no recursion), nesting is
 * capped, anchors and aliases are refused (no "billion laughs"), and all
 * memory comes from one capped arena.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config_int.h"

typedef struct frame {
  ch_ynode *node;
  ch_ynode *last; /* last child (item or key) */
  bool in_value;  /* map: the last key's value is being built */
} frame;

typedef struct builder {
  ch_ydoc *doc;
  frame stack[CH_YAML_MAX_DEPTH];
  size_t depth;
  int docs;
  char *errmsg;
  ch_err rc;
} builder;

/* Key path of the place the next node goes, e.g. "sources[0].tags". */
static void stack_path(const builder *b, char *buf, size_t len)
{
  buf[0] = '\0';
  for(size_t i = 0; i < b->depth; i++) {
    const frame *f = &b->stack[i];
    char tmp[512];
    if(f->node->kind == CH_Y_MAP) {
      if(!f->in_value || !f->last)
        break;
      ch_cfg_path(tmp, sizeof(tmp), buf, f->last->str);
    }
    else {
      if(!f->node->n)
        break;
      ch_cfg_path_index(tmp, sizeof(tmp), buf, f->node->n - 1);
    }
    snprintf(buf, len, "%s", tmp);
  }
}

static ch_err fail(builder *b, ch_err rc, int line, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static ch_err fail(builder *b, ch_err rc, int line, const char *path,
                   const char *fmt, ...)
{
  ch_buf m;
  ch_buf_init(&m, 4096);
  if(path && *path)
    ch_buf_printf(&m, "%s:%d: %s: ", b->doc->file, line, path);
  else
    ch_buf_printf(&m, "%s:%d: ", b->doc->file, line);
  va_list ap;
  va_start(ap, fmt);
  ch_buf_vprintf(&m, fmt, ap);
  va_end(ap);
  free(b->errmsg);
  b->errmsg = ch_buf_take(&m);
  b->rc = rc;
  return rc;
}

static ch_err toobig(builder *b, int line)
{
  return fail(b, CH_ERR_TOOBIG, line, NULL,
              "configuration too large to hold in memory");
}

static int cmp_keys(const void *pa, const void *pb)
{
  const ch_ynode *a = *(ch_ynode *const *)pa;
  const ch_ynode *b = *(ch_ynode *const *)pb;
  if(a->len != b->len)
    return a->len < b->len ? -1 : 1;
  int c = memcmp(a->str, b->str, a->len);
  if(c)
    return c;
  /* Same key: keep document order so the second one is reported. */
  if(a->line != b->line)
    return a->line < b->line ? -1 : 1;
  return a->col < b->col ? -1 : (a->col > b->col);
}

/* Sorting keeps this O(n log n) for hostile maps with many keys. */
static ch_err check_duplicates(builder *b, const ch_ynode *map)
{
  if(map->n < 2)
    return CH_OK;
  ch_ynode **keys = malloc(map->n * sizeof(*keys));
  if(!keys)
    return fail(b, CH_ERR_NOMEM, map->line, NULL, "out of memory");
  size_t i = 0;
  for(ch_ynode *k = map->first; k; k = k->next)
    keys[i++] = k;
  qsort(keys, map->n, sizeof(*keys), cmp_keys);
  const ch_ynode *dup = NULL, *orig = NULL;
  size_t group = 0; /* first key of the current run of equal keys */
  for(i = 1; i < map->n; i++) {
    if(keys[i]->len != keys[group]->len ||
       memcmp(keys[i]->str, keys[group]->str, keys[i]->len)) {
      group = i;
      continue;
    }
    /* Report the earliest repeated key in the document. */
    if(i == group + 1 && (!dup || keys[i]->line < dup->line)) {
      dup = keys[i];
      orig = keys[group];
    }
  }
  free(keys);
  if(!dup)
    return CH_OK;
  char path[1024], kp[1024];
  stack_path(b, path, sizeof(path));
  ch_cfg_path(kp, sizeof(kp), path, dup->str);
  return fail(b, CH_ERR_CONFIG, dup->line, kp,
              "duplicate key (first defined at line %d)", orig->line);
}

static ch_ynode *node_new(builder *b, enum ch_ykind kind, const yaml_mark_t *m)
{
  ch_ynode *n = ch_arena_alloc(b->doc->arena, sizeof(*n));
  if(!n)
    return NULL;
  memset(n, 0, sizeof(*n));
  n->kind = kind;
  n->line = (int)m->line + 1;
  n->col = (int)m->column + 1;
  return n;
}

/* Hook a new node into its parent (or make it the root). */
static ch_err attach(builder *b, ch_ynode *n)
{
  if(!b->depth) {
    b->doc->root = n;
    return CH_OK;
  }
  frame *f = &b->stack[b->depth - 1];
  ch_ynode *p = f->node;
  if(p->kind == CH_Y_MAP && f->in_value) {
    f->last->value = n;
    f->in_value = n->kind != CH_Y_SCALAR; /* still inside until popped */
    return CH_OK;
  }
  if(p->kind == CH_Y_MAP && n->kind != CH_Y_SCALAR) {
    char path[1024];
    stack_path(b, path, sizeof(path));
    return fail(b, CH_ERR_CONFIG, n->line, path,
                "complex (non-scalar) map keys are not supported");
  }
  if(f->last)
    f->last->next = n;
  else
    p->first = n;
  f->last = n;
  p->n++;
  if(p->kind == CH_Y_MAP)
    f->in_value = true;
  return CH_OK;
}

static ch_err refuse_anchor(builder *b, const yaml_event_t *ev,
                            const yaml_char_t *anchor)
{
  char path[1024];
  stack_path(b, path, sizeof(path));
  return fail(b, CH_ERR_CONFIG, (int)ev->start_mark.line + 1, path,
              "YAML anchors and aliases are not supported (found %c%s)",
              ev->type == YAML_ALIAS_EVENT ? '*' : '&', (const char *)anchor);
}

static ch_err on_event(builder *b, const yaml_event_t *ev)
{
  ch_ynode *n = NULL;
  int line = (int)ev->start_mark.line + 1;
  switch(ev->type) {
  case YAML_DOCUMENT_START_EVENT:
    if(++b->docs > 1)
      return fail(b, CH_ERR_CONFIG, line, NULL,
                  "only one YAML document is allowed");
    return CH_OK;
  case YAML_ALIAS_EVENT:
    return refuse_anchor(b, ev, ev->data.alias.anchor);
  case YAML_SCALAR_EVENT:
    if(ev->data.scalar.anchor)
      return refuse_anchor(b, ev, ev->data.scalar.anchor);
    n = node_new(b, CH_Y_SCALAR, &ev->start_mark);
    if(!n)
      return toobig(b, line);
    n->len = ev->data.scalar.length;
    n->str = ch_arena_strndup(b->doc->arena,
                              (const char *)ev->data.scalar.value, n->len);
    if(!n->str)
      return toobig(b, line);
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return attach(b, n);
  case YAML_SEQUENCE_START_EVENT:
  case YAML_MAPPING_START_EVENT: {
    bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
    const yaml_char_t *anchor =
        seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
    if(anchor)
      return refuse_anchor(b, ev, anchor);
    if(b->depth >= CH_YAML_MAX_DEPTH)
      return fail(b, CH_ERR_TOOBIG, line, NULL,
                  "nesting deeper than %d levels", CH_YAML_MAX_DEPTH);
    n = node_new(b, seq ? CH_Y_SEQ : CH_Y_MAP, &ev->start_mark);
    if(!n)
      return toobig(b, line);
    ch_err rc = attach(b, n);
    if(rc)
      return rc;
    b->stack[b->depth++] = (frame){.node = n};
    return CH_OK;
  }
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT: {
    if(!b->depth)
      return fail(b, CH_ERR_INTERNAL, line, NULL, "unbalanced YAML events");
    frame *f = &b->stack[b->depth - 1];
    if(f->node->kind == CH_Y_MAP) {
      f->in_value = false;
      ch_err rc = check_duplicates(b, f->node);
      if(rc)
        return rc;
    }
    b->depth--;
    if(b->depth && b->stack[b->depth - 1].node->kind == CH_Y_MAP)
      b->stack[b->depth - 1].in_value = false;
    return CH_OK;
  }
  default:
    return CH_OK;
  }
}

/* libyaml's reader errors carry a byte offset instead of a mark. */
static void offset_to_mark(const char *buf, size_t len, size_t off,
                           size_t *line, size_t *col)
{
  *line = 0;
  *col = 0;
  for(size_t i = 0; i < off && i < len; i++) {
    if(buf[i] == '\n') {
      (*line)++;
      *col = 0;
    }
    else
      (*col)++;
  }
}

static ch_err syntax_error(builder *b, const yaml_parser_t *p, const char *buf,
                           size_t len)
{
  if(p->error == YAML_MEMORY_ERROR)
    return fail(b, CH_ERR_NOMEM, 1, NULL, "out of memory parsing YAML");
  size_t line = p->problem_mark.line, col = p->problem_mark.column;
  if(p->error == YAML_READER_ERROR)
    offset_to_mark(buf, len, p->problem_offset, &line, &col);
  ch_buf m;
  ch_buf_init(&m, 4096);
  ch_buf_printf(&m, "%s:%zu:%zu: YAML syntax error: %s", b->doc->file,
                line + 1, col + 1, p->problem ? p->problem : "unknown");
  free(b->errmsg);
  b->errmsg = ch_buf_take(&m);
  b->rc = CH_ERR_PARSE;
  return CH_ERR_PARSE;
}

ch_err ch_yaml_parse(const char *buf, size_t len, const char *file,
                     ch_ydoc **out, char **errmsg)
{
  ch_err rc = CH_OK;
  yaml_parser_t parser;
  bool parser_ok = false;
  builder b = {0};
  *out = NULL;
  if(errmsg)
    *errmsg = NULL;

  b.doc = calloc(1, sizeof(*b.doc));
  if(!b.doc)
    return CH_ERR_NOMEM;
  b.doc->arena = ch_arena_new(CH_YAML_ARENA_CAP);
  if(!b.doc->arena) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  b.doc->file = ch_arena_strdup(b.doc->arena, file ? file : "<config>");
  if(!b.doc->file) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(len > CH_CONFIG_MAX_FILE) {
    rc = fail(&b, CH_ERR_CONFIG, 1, NULL,
              "configuration file too large (%zu bytes, limit 1 MiB)", len);
    goto out;
  }
  if(!yaml_parser_initialize(&parser)) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  parser_ok = true;
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  for(;;) {
    yaml_event_t ev;
    if(!yaml_parser_parse(&parser, &ev)) {
      rc = syntax_error(&b, &parser, buf, len);
      goto out;
    }
    bool end = ev.type == YAML_STREAM_END_EVENT;
    rc = on_event(&b, &ev);
    yaml_event_delete(&ev);
    if(rc)
      goto out;
    if(end)
      break;
  }
  /* A document that is only null ("---", "~") is an empty config too. */
  if(b.doc->root && ch_ynode_is_null(b.doc->root))
    b.doc->root = NULL;
  *out = b.doc;
  b.doc = NULL;

out:
  if(parser_ok)
    yaml_parser_delete(&parser);
  if(rc && errmsg && !b.errmsg) {
    ch_buf m;
    ch_buf_init(&m, 4096);
    ch_buf_printf(&m, "%s: %s", file ? file : "<config>",
                  certhub_strerror(rc));
    b.errmsg = ch_buf_take(&m);
  }
  if(errmsg)
    *errmsg = b.errmsg;
  else
    free(b.errmsg);
  ch_yaml_free(b.doc);
  return rc;
}

static char *msgf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *msgf(const char *fmt, ...)
{
  ch_buf m;
  ch_buf_init(&m, 8192);
  va_list ap;
  va_start(ap, fmt);
  ch_buf_vprintf(&m, fmt, ap);
  va_end(ap);
  return ch_buf_take(&m);
}

ch_err ch_yaml_load_file(const char *path, ch_ydoc **out, char **errmsg)
{
  ch_err rc = CH_OK;
  ch_buf data;
  ch_buf_init(&data, CH_CONFIG_MAX_FILE);
  char *msg = NULL;
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if(fd < 0) {
    msg = msgf("%s: cannot open: %s", path, strerror(errno));
    rc = CH_ERR_IO;
    goto out;
  }
  struct stat st;
  if(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    msg = msgf("%s: cannot read: %s", path, strerror(EISDIR));
    rc = CH_ERR_IO;
    goto out;
  }
  rc = ch_buf_read_fd(&data, fd);
  if(rc == CH_ERR_IO) {
    msg = msgf("%s: cannot read: %s", path, strerror(errno));
    goto out;
  }
  if(rc == CH_ERR_TOOBIG) {
    msg = msgf("%s: configuration file too large (limit 1 MiB)", path);
    rc = CH_ERR_CONFIG;
    goto out;
  }
  if(rc)
    goto out;
  rc = ch_yaml_parse(data.data ? data.data : "", data.len, path, out, &msg);

out:
  if(fd >= 0)
    close(fd);
  ch_buf_free(&data);
  if(rc && !msg)
    msg = msgf("%s: %s", path, certhub_strerror(rc));
  if(errmsg)
    *errmsg = msg;
  else
    free(msg);
  return rc;
}

void ch_yaml_free(ch_ydoc *d)
{
  if(!d)
    return;
  ch_arena_free(d->arena);
  free(d);
}

const ch_ynode *ch_ymap_get(const ch_ynode *map, const char *key)
{
  if(!map || map->kind != CH_Y_MAP)
    return NULL;
  size_t kl = strlen(key);
  for(const ch_ynode *k = map->first; k; k = k->next)
    if(k->len == kl && !memcmp(k->str, key, kl))
      return k->value;
  return NULL;
}

bool ch_ynode_is_null(const ch_ynode *n)
{
  if(!n)
    return true;
  if(n->kind != CH_Y_SCALAR || !n->plain)
    return false;
  return !strcmp(n->str, "") || !strcmp(n->str, "~") ||
         !strcmp(n->str, "null") || !strcmp(n->str, "Null") ||
         !strcmp(n->str, "NULL");
}

const char *ch_ynode_kind_name(const ch_ynode *n)
{
  if(!n || ch_ynode_is_null(n))
    return "null";
  switch(n->kind) {
  case CH_Y_MAP:
    return "a map";
  case CH_Y_SEQ:
    return "a list";
  default:
    return "a string";
  }
}
