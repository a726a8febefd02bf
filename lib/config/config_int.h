/*
 * Private config helpers: a generic YAML node tree (lib/config/yaml.c) and
 * the validation helpers used to turn it into typed structures
 * (lib/config/validate.c). Later sections (endpoints, rules, topics) reuse
 * both: parse once, then walk maps with ch_cfg_check_keys() and the typed
 * getters, which all produce "FILE:LINE: KEY.PATH: problem" messages.
 *
 * Ownership: a ch_ydoc owns every node and string in it (one arena);
 * ch_yaml_free() releases all of it. Nodes are read-only after loading.
 */
#ifndef CH_CONFIG_INT_H
#define CH_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "certhub/certhub.h"
#include "core/core.h"

#define CH_CONFIG_MAX_FILE ((size_t)1 << 20) /* 1 MiB */
#define CH_YAML_MAX_DEPTH 64                 /* nesting of maps/sequences */
/* Tree memory: ample for any 1 MiB input, a hard stop beyond. */
#define CH_YAML_ARENA_CAP ((size_t)64 << 20)

enum ch_ykind {
  CH_Y_SCALAR,
  CH_Y_SEQ,
  CH_Y_MAP,
};

typedef struct ch_ynode {
  enum ch_ykind kind;
  int line; /* 1-based */
  int col;  /* 1-based */
  /* Scalar: text (NUL-terminated, may hold NULs inside: check len). */
  const char *str;
  size_t len;
  bool plain; /* unquoted scalar: "~", "null" and "" mean null */
  /* Sequence: items in order. Map: keys (always scalars) in order, each
   * key's value in key->value. n counts items or pairs. */
  struct ch_ynode *first;
  struct ch_ynode *next;
  struct ch_ynode *value;
  size_t n;
} ch_ynode;

typedef struct ch_ydoc {
  struct ch_arena *arena;
  const char *file; /* name used in messages */
  ch_ynode *root;   /* NULL for an empty document */
} ch_ydoc;

/* Parse len bytes of YAML. Anchors and aliases are refused, duplicate map
 * keys and non-scalar keys are errors. On failure *errmsg gets a malloc'd
 * message: "FILE:LINE:COL: YAML syntax error: ..." with CH_ERR_PARSE, or
 * "FILE:LINE: KEY: ..." with CH_ERR_CONFIG (structure problems),
 * CH_ERR_TOOBIG when the tree exceeds its caps. */
ch_err ch_yaml_parse(const char *buf, size_t len, const char *file,
                     ch_ydoc **out /* OUT */, char **errmsg /* OUT */);

/* Read path (at most CH_CONFIG_MAX_FILE bytes) and parse it. CH_ERR_IO when
 * unreadable, CH_ERR_CONFIG when too large. */
ch_err ch_yaml_load_file(const char *path, ch_ydoc **out /* OUT */,
                         char **errmsg /* OUT */);

void ch_yaml_free(ch_ydoc *d);

/* The value for key in map, NULL when absent (or map is not a map). */
const ch_ynode *ch_ymap_get(const ch_ynode *map, const char *key);

/* A plain "~", "null", "Null", "NULL" or empty scalar. */
bool ch_ynode_is_null(const ch_ynode *n);

/* Human name of a node's kind, for messages: "a map", "a list", "a string". */
const char *ch_ynode_kind_name(const ch_ynode *n);

/*
 * Validation. A ch_cfgerr collects the first error; every helper returns
 * CH_ERR_CONFIG after setting it. `path` is the dotted key path of the node
 * being checked ("sources[0].paths"), built with ch_cfg_path().
 */
typedef struct ch_cfgerr {
  const char *file;
  char *msg; /* malloc'd, first error only */
} ch_cfgerr;

/* Record "FILE:LINE: PATH: <fmt>" (line of at, or 1 when at is NULL). */
ch_err ch_cfg_errorf(ch_cfgerr *e, const ch_ynode *at, const char *path,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Child path "parent.key" or "key" (parent "" or NULL), into buf. */
void ch_cfg_path(char *buf, size_t len, const char *parent, const char *key);
/* Child path "parent[i]" into buf. */
void ch_cfg_path_index(char *buf, size_t len, const char *parent, size_t i);

/* n must be a map whose keys are all in allowed. */
ch_err ch_cfg_check_keys(ch_cfgerr *e, const ch_ynode *n, const char *path,
                         const char *const *allowed, size_t n_allowed);

/* A non-null scalar without NUL bytes; *out is a malloc'd copy. */
ch_err ch_cfg_string(ch_cfgerr *e, const ch_ynode *n, const char *path,
                     char **out /* OUT */);

/* A plain integer scalar within [min, max]. */
ch_err ch_cfg_int(ch_cfgerr *e, const ch_ynode *n, const char *path, long min,
                  long max, long *out /* OUT */);

/* A string or a list of strings; empty list allowed only when allow_empty.
 * *out is a malloc'd array of malloc'd strings (free with
 * ch_cfg_strv_free). */
ch_err ch_cfg_string_list(ch_cfgerr *e, const ch_ynode *n, const char *path,
                          bool allow_empty, char ***out /* OUT */,
                          size_t *n_out /* OUT */);
void ch_cfg_strv_free(char **v, size_t n);

/* The event bus sections (config_bus.c). */
struct certhub_config;
ch_err ch_cfg_load_rules(ch_cfgerr *e, const ch_ynode *n,
                         struct certhub_config *c);
ch_err ch_cfg_load_buses(ch_cfgerr *e, const ch_ynode *n,
                         struct certhub_config *c);
void ch_cfg_bus_free(struct certhub_config *c);
ch_err ch_cfg_load_hub(ch_cfgerr *e, const ch_ynode *n,
                       struct certhub_config *c);
void ch_cfg_hub_free(struct certhub_config *c);
ch_err ch_cfg_load_findings(ch_cfgerr *e, const ch_ynode *n,
                            struct certhub_config *c);

/* notify.smtp (config_notify.c); n is the notify: map. */
ch_err ch_cfg_load_notify_smtp(ch_cfgerr *e, const ch_ynode *n,
                               struct certhub_config *c);
void ch_cfg_notify_free(struct certhub_config *c);
/* The http: section (config_http.c). */
ch_err ch_cfg_load_http(ch_cfgerr *e, const ch_ynode *n,
                        struct certhub_config *c);
void ch_cfg_http_free(struct certhub_config *c);
/* A YAML node as compact JSON text (*out malloc'd), config_bus.c. */
ch_err ch_cfg_json_text(ch_cfgerr *e, const ch_ynode *n, const char *path,
                        char **out /* OUT */);

/* `topics:` and `notify:` (config_topics.c). */
ch_err ch_cfg_load_topics(ch_cfgerr *e, const ch_ynode *n,
                          struct certhub_config *c);
ch_err ch_cfg_load_notify(ch_cfgerr *e, const ch_ynode *n,
                          struct certhub_config *c);
void ch_cfg_topics_free(struct certhub_config *c);

#endif
