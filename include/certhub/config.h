/*
 * certhub_config: the YAML configuration file.
 *
 *   db: /var/lib/certhub/certhub.db    # optional, overridden by --db/CERTHUB_DB
 *   account: "123456789012"            # label for certificates (default 000000000000)
 *   region: eu-west-1                  # label (default "local")
 *   expiry_threshold_days: 45          # 1..365, default 45
 *   sources:
 *     - name: web                      # optional, unique
 *       paths: [/etc/ssl/private/site-*.pem, /srv/certs] # files, dirs, globs
 *       exclude: ["*.key", "*.bak"]   # fnmatch: full path or base name
 *       tags: {owner: web-team, env: prod}
 *       password_file: /etc/certhub/p12.pass           # for PKCS#12
 *       expiry_threshold_days: 30
 *       account: ... region: ...       # override the top-level labels
 *
 * Later sections (endpoints, rules, topics, hub) are added by later modules;
 * unknown keys are errors.
 *
 * Ownership: certhub_config_load() returns a tree owned by the caller and
 * freed with certhub_config_free(); every string in it belongs to it.
 */
#ifndef CERTHUB_CONFIG_H
#define CERTHUB_CONFIG_H

#include <stddef.h>
#include "certhub.h"
#include "store.h"

#define CERTHUB_DEFAULT_THRESHOLD_DAYS 45

typedef struct certhub_source_cfg {
  char *name;          /* may be NULL */
  char **paths;        /* at least one */
  size_t n_paths;
  char **excludes;
  size_t n_excludes;
  certhub_tag *tags;   /* key/value strings owned by the config */
  size_t n_tags;
  char *password_file; /* may be NULL */
  int threshold_days;  /* -1: inherit */
  char *account;       /* may be NULL: inherit */
  char *region;        /* may be NULL: inherit */
  int line;            /* line in the file, for messages */
} certhub_source_cfg;

typedef struct certhub_config {
  char *file;          /* the path it was read from */
  char *db;            /* may be NULL */
  char *account;       /* may be NULL */
  char *region;        /* may be NULL */
  int threshold_days;  /* CERTHUB_DEFAULT_THRESHOLD_DAYS if not set */
  certhub_source_cfg *sources;
  size_t n_sources;
} certhub_config;

/* Load and validate. On error *errmsg gets a malloc'd message of the form
 * "FILE:LINE: KEY: problem" (caller frees) and CH_ERR_CONFIG (or CH_ERR_IO
 * when unreadable, CH_ERR_PARSE when not YAML) is returned. */
ch_err certhub_config_load(const char *path, certhub_config **out /* OUT */,
                           char **errmsg /* OUT */);

/* An empty config with defaults, for runs without --config. */
ch_err certhub_config_default(certhub_config **out /* OUT */);

void certhub_config_free(certhub_config *c);

#endif
