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
 *       renew_command: [/usr/local/bin/renew, --cert, site]  # argv, or a
 *                                      # string run with /bin/sh -c
 *       renew_timeout: 5m              # duration, at most 1h (default 5m)
 *   endpoints:                         # TLS endpoints for `certhub probe`
 *     - target: "www.example.com:443"  # any TARGET form of certhub-probe(1)
 *       sni: www.example.com           # optional SNI override
 *       starttls: smtp                 # optional STARTTLS dialect
 *       all_addresses: true            # probe every A/AAAA address
 *       tags: {owner: team-a}
 *       expiry_threshold_days: 20      # 1..365, for its certificates
 *     - "smtp://mx.example.com"        # a plain string is the target
 *   event_source: certhub.acm          # source of lifecycle events (1-256
 *                                      # characters, no spaces)
 *   event_retention_days: 90           # keep routed events this long
 *                                      # (1..3650, default 90)
 *   probe:                             # defaults for `certhub probe`
 *     concurrency: 256                 # 1..65535
 *     per_host: 8                      # 1..1024
 *     timeout: 10s                     # "10s", "500ms" or seconds
 *     ca_file: /etc/certhub/ca.pem     # trust these, not the system store
 *     client_cert: /etc/certhub/client.pem  # mTLS, with client_key
 *     client_key: /etc/certhub/client.key
 *
 *   buses: [ops]                       # extra event buses
 *   rules:                             # event bus rules (lib/config/config_bus.c)
 *     - name: expiring
 *       pattern: {source: [certhub.acm]}   # or schedule: "rate(1 day)"
 *       targets: [{Id: log, Type: file, Path: /var/log/certhub.jsonl}]
 *
 *   notify:
 *     smtp:                            # the email protocol (lib/config/config_notify.c)
 *       url: smtp://mail.example.com:587   # STARTTLS required; or smtps://host:465
 *       from: certhub@example.com
 *       username: certhub              # optional, with exactly one of:
 *       password_file: /etc/certhub/smtp.pass  # first line is the password
 *       password_env: CERTHUB_SMTP_PASSWORD
 *       require_tls: true              # false allows plain smtp:// (no username then)
 *       ca_file: /etc/certhub/smtp-ca.pem  # trust these, not the system store
 *   http:                              # the HTTP API of certhub serve
 *     listen: 127.0.0.1:8080           # (lib/config/config_http.c)
 *   notify: {base_url: "https://certhub.example:8443", signing_key_file: ...,
 *            signing_cert_file: ..., max_in_flight: 256, timeout: 15s,
 *            max_message_age: 3600, smtp: {...} as above}
 *   topics:                            # lib/config/config_topics.c
 *     - name: cert-alerts
 *       signature_version: 2
 *       delivery_policy: {healthyRetryPolicy: {numRetries: 5}}
 *       subscriptions:
 *         - {protocol: https, endpoint_file: /etc/certhub/hook.url}
 *   hub:                               # forward findings to a central hub
 *     forward_to: https://hub.example:8080
 *     token_file: /etc/certhub/hub.token
 *   findings:                          # expiry findings' severity: at most
 *     expiry_severity: {critical: -1, high: 7, medium: 30}  # N days left
 *
 * Unknown keys are errors.
 *
 * Ownership: certhub_config_load() returns a tree owned by the caller and
 * freed with certhub_config_free(); every string in it belongs to it.
 */
#ifndef CERTHUB_CONFIG_H
#define CERTHUB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "certhub.h"
#include "store.h"

#define CERTHUB_DEFAULT_THRESHOLD_DAYS 45
#define CERTHUB_DEFAULT_RENEW_TIMEOUT_MS (5u * 60u * 1000u)

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
  /* Managed renewal (lib/lifecycle): argv of the command, NULL when none;
   * a string in the file becomes {"/bin/sh", "-c", text} (renew_shell). */
  char **renew_argv;
  size_t n_renew_argv;
  bool renew_shell;
  unsigned renew_timeout_ms; /* CERTHUB_DEFAULT_RENEW_TIMEOUT_MS if unset */
} certhub_source_cfg;

/* One configured endpoint. The target text is checked by the prober
 * (certhub_target_parse()); line points at the entry for messages. */
typedef struct certhub_endpoint_cfg {
  char *target;
  char *sni;           /* may be NULL */
  char *starttls;      /* may be NULL */
  bool all_addresses;
  certhub_tag *tags;   /* key/value strings owned by the config */
  size_t n_tags;
  int line;
  int threshold_days;  /* 0: inherit */
} certhub_endpoint_cfg;

/* Probe defaults; 0 / NULL: not set (the prober's own defaults apply). */
typedef struct certhub_probe_cfg {
  unsigned concurrency;
  unsigned per_host;
  unsigned timeout_ms;
  char *ca_file;
  char *client_cert;
  char *client_key;
} certhub_probe_cfg;

/* One configured event bus rule: pattern and targets as JSON text. The
 * bus validates them (certhub_bus_rule_validate); the lines point at the
 * entry, its pattern, schedule and targets for messages (0: absent). */
typedef struct certhub_rule_cfg {
  char *name;
  char *bus;         /* NULL: default */
  char *description; /* may be NULL */
  char *pattern;     /* JSON text, or NULL */
  char *schedule;    /* or NULL */
  char *targets;     /* JSON array text, or NULL (none) */
  char *batch;       /* NULL or CERTHUB_BATCH_EXPIRING (schedule rules) */
  bool enabled;
  int line, pattern_line, schedule_line, targets_line;
} certhub_rule_cfg;

/* notify.smtp. The password itself is never in the config (only where to
 * read it), so no printable form of the config can leak it. */
typedef struct certhub_smtp_cfg {
  char *url;           /* smtp:// or smtps:// */
  char *from;          /* address */
  char *username;      /* NULL: no AUTH */
  char *password_file; /* with username: exactly one of these two */
  char *password_env;
  bool require_tls;    /* default true */
  char *ca_file;       /* may be NULL */
  int line;
} certhub_smtp_cfg;
/* The HTTP API of certhub serve (http:); NULL / 0: the defaults. */
typedef struct certhub_http_cfg {
  char *listen;        /* "ADDR:PORT", "off"; NULL: 127.0.0.1:8080 */
  char *tls_cert_file; /* with tls_key_file: HTTPS */
  char *tls_key_file;
  char *base_url;      /* NULL: from the listener */
  size_t max_body;     /* 0: 6 MiB */
  unsigned threads;    /* 0: 4 */
  bool metrics_auth;   /* /metrics needs a read token */
  bool metrics_auth_set; /* else: only on a non-loopback listener */
} certhub_http_cfg;
/* One subscription of a configured topic (lib/config/config_topics.c).
 * Exactly one of endpoint, endpoint_file (read at use, trailing newline
 * dropped) and endpoint_env (a variable's value) is set, so secrets need
 * not be in the file. */
typedef struct certhub_sub_cfg {
  char *protocol;
  char *endpoint;
  char *endpoint_file;
  char *endpoint_env;
  char *attributes; /* JSON object text, or NULL */
  bool confirmed;   /* pre-confirmed by the administrator */
  int line;
} certhub_sub_cfg;

/* One configured topic. */
typedef struct certhub_topic_cfg {
  char *name;
  char *display_name;    /* may be NULL */
  char *delivery_policy; /* JSON text, or NULL */
  int signature_version; /* 1 or 2 (default 1) */
  certhub_sub_cfg *subs;
  size_t n_subs;
  int line;
  char *templates;    /* rendering overrides, JSON text, or NULL */
  int templates_line; /* of the templates: key */
  bool encrypt;       /* bodies sealed at rest under notify.key_file */
} certhub_topic_cfg;

/* `notify:` delivery settings; 0 / NULL: defaults. */
typedef struct certhub_notify_cfg {
  char *base_url;         /* public URL of certhub serve */
  char *signing_key_file; /* with signing_cert_file; else generated */
  char *signing_cert_file;
  char *ca_file;          /* https trust store */
  unsigned max_in_flight; /* concurrent deliveries */
  unsigned timeout_ms;    /* per attempt */
  unsigned max_age_s;     /* message age limit */
  char *key_file;         /* seal key of encrypt: topics (notify_seal.h) */
} certhub_notify_cfg;
/* `hub:`: forward findings to a central certhub (certhub/hub.h). */
typedef struct certhub_hub_cfg {
  bool enabled;        /* the section is present */
  char *forward_to;    /* base URL of the hub's certhub serve */
  char *token_file;    /* its findings:write bearer token */
  char *ca_file;       /* may be NULL */
  unsigned timeout_ms; /* 0: default */
} certhub_hub_cfg;

/* `findings:`: how certhub makes its own findings. */
typedef struct certhub_findings_cfg {
  /* expiry_severity: days left at or below which an expiry finding is
   * CRITICAL, HIGH, MEDIUM (above: LOW). bands_set: the file gave them;
   * else the defaults of findings.h (-1, 7, 30). */
  bool bands_set;
  int critical_days, high_days, medium_days;
} certhub_findings_cfg;

typedef struct certhub_config {
  char *file;          /* the path it was read from */
  char *db;            /* may be NULL */
  char *account;       /* may be NULL */
  char *region;        /* may be NULL */
  int threshold_days;  /* CERTHUB_DEFAULT_THRESHOLD_DAYS if not set */
  certhub_source_cfg *sources;
  size_t n_sources;
  certhub_endpoint_cfg *endpoints;
  size_t n_endpoints;
  certhub_probe_cfg probe;
  char *event_source;  /* may be NULL: CERTHUB_DEFAULT_EVENT_SOURCE */
  char **buses; /* extra event buses */
  size_t n_buses;
  certhub_rule_cfg *rules;
  size_t n_rules;
  /* A rules: key was present (even empty). Without one, `certhub serve`
   * and `certhub evaluate` use the built-in seed rules. */
  bool has_rules;
  /* Archive retention in days (1..3650); 0: CERTHUB_EVENT_RETENTION_DAYS. */
  unsigned event_retention_days;
  struct certhub_smtp_cfg *smtp; /* notify.smtp, NULL when absent */
  certhub_http_cfg http; /* http: */
  /* Topics, subscriptions and delivery settings (config_topics.c). */
  certhub_topic_cfg *topics;
  size_t n_topics;
  certhub_notify_cfg notify;
  certhub_hub_cfg hub;
  certhub_findings_cfg findings;
} certhub_config;

/* A duration: "10s", "500ms", "2m" or plain seconds ("10", "1.5"), at
 * most an hour and more than zero, into milliseconds. CH_ERR_PARSE when
 * malformed, CH_ERR_TOOBIG when out of range. Shared by the config's
 * probe.timeout and `certhub probe --timeout`. */
ch_err certhub_duration_parse(const char *s, unsigned *ms /* OUT */);

/* Load and validate. On error *errmsg gets a malloc'd message of the form
 * "FILE:LINE: KEY: problem" (caller frees) and CH_ERR_CONFIG (or CH_ERR_IO
 * when unreadable, CH_ERR_PARSE when not YAML) is returned. */
ch_err certhub_config_load(const char *path, certhub_config **out /* OUT */,
                           char **errmsg /* OUT */);

/* An empty config with defaults, for runs without --config. */
ch_err certhub_config_default(certhub_config **out /* OUT */);

void certhub_config_free(certhub_config *c);

#endif
