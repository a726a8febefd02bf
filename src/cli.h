/*
 * The certhub CLI's shared context. main.c owns the command table and the
 * global options; each cmd_*.c implements one command group against the
 * public headers only.
 */
#ifndef CERTHUB_CLI_H
#define CERTHUB_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "certhub/cert.h"
#include "certhub/certhub.h"
#include "certhub/config.h"
#include "certhub/inventory.h"
#include "certhub/store.h"
#include "certhub/time.h"
#include "output.h"

/* Exit codes. */
enum {
  CLI_EXIT_OK = 0,
  CLI_EXIT_FAIL = 1,     /* a check failed */
  CLI_EXIT_USAGE = 2,    /* usage or input error */
  CLI_EXIT_INTERNAL = 3, /* storage or internal error */
};

/* cli_getopt() result telling the handler to return c->exit_code now
 * (help was printed, or a usage error). */
#define CLI_OPT_STOP (-2)

struct cli_ctx;
typedef int (*cli_handler)(struct cli_ctx *c, int argc, char **argv);

typedef struct cli_cmd {
  const char *name;
  cli_handler run;
  const char *summary; /* one line for `certhub --help` */
  const char *usage;   /* full text for `certhub help CMD` */
} cli_cmd;

typedef struct cli_ctx {
  const cli_cmd *cmd;
  /* global options as given (NULL when absent) */
  const char *db_opt;
  const char *config_opt;
  const char *now_opt;
  const char *color_opt;
  const char *output_opt;
  bool quiet;
  /* resolved once every option is parsed */
  int64_t now;
  enum out_format format;
  bool color;
  int exit_code;
  /* loaded on demand by cli_config() */
  certhub_config *config;
  bool config_from_file;
  /* the database target cli_open_store() opened (malloc'd), or NULL */
  char *db_target;
  /* the merged option tables of the running command */
  struct option *longopts;
  char *shortopts;
} cli_ctx;

/* getopt_long over the command's options merged with the global ones.
 * Global options are handled here; the command's come back to the caller.
 * Returns -1 when the options end (globals then validated), CLI_OPT_STOP
 * when the handler must return c->exit_code. Non-option arguments are
 * permuted to argv[optind..]. Command long options without a short form
 * must use values in [0x100, 0x1000). */
int cli_getopt(cli_ctx *c, int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* The single REF operand left after the options, into *ref. Returns 0 or
 * a usage error when it is missing or followed by more. */
int cli_one_ref(cli_ctx *c, int argc, char **argv, const char **ref /* OUT */);

/* "certhub: CMD: MSG (see 'certhub CMD --help')"; returns 2. */
int cli_usage(cli_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "certhub: CMD: MSG"; returns code. */
int cli_fail(cli_ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Exit code for a library error: 3 for storage/internal, else 2. */
int cli_exit_for(ch_err e);

/* Strict decimal in [min, max]; usage error naming opt otherwise. */
int cli_parse_num(cli_ctx *c, const char *opt, const char *s, int64_t min,
                  int64_t max, int64_t *out /* OUT */);
/* "k=v" (or "k" when key_only is allowed) into tag; arg is split in
 * place. Returns 0 or a usage error. */
int cli_parse_tag(cli_ctx *c, const char *opt, char *arg, bool key_only,
                  certhub_tag *tag /* OUT */);

/* The configuration: --config, CERTHUB_CONFIG, the default path if the
 * file exists, else defaults (or, when required, an error). Returns an
 * exit code; c->config is set on 0. */
int cli_config(cli_ctx *c, bool required);

/* Open the store named by --db, CERTHUB_DB, the config or the XDG
 * default. Returns an exit code. */
int cli_open_store(cli_ctx *c, certhub_store **s /* OUT */);

/* Resolve REF; errors are printed. Returns an exit code. */
int cli_resolve(cli_ctx *c, certhub_store *s, const char *ref,
                int64_t **rowids /* OUT */, size_t *n /* OUT */);
/* Same, but REF must name exactly one certificate. */
int cli_resolve_one(cli_ctx *c, certhub_store *s, const char *ref,
                    int64_t *rowid /* OUT */);

/* The contents of path ("-": stdin), at most cap bytes, NUL-terminated,
 * into *out (malloc'd) and *len. A missing, unreadable or larger input is
 * a usage error naming opt and path. Returns an exit code. */
int cli_read_file(cli_ctx *c, const char *opt, const char *path, size_t cap,
                  char **out /* OUT */, size_t *len /* OUT */);
/* arg itself, or the contents of FILE for "@FILE" (cli_read_file); len
 * may be NULL. Returns an exit code. */
int cli_arg_text(cli_ctx *c, const char *opt, const char *arg, size_t cap,
                 char **out /* OUT */, size_t *len /* OUT */);

/* Report a store failure; returns the exit code. */
int cli_store_fail(cli_ctx *c, certhub_store *s, ch_err e, const char *what);

/* Short ID and CN of one row, copied (cn "" when none). */
typedef struct cli_row_name {
  char id[CERTHUB_ID_LEN + 1];
  char cn[256];
  bool found;
} cli_row_name;
ch_err cli_row_name_get(cli_ctx *c, certhub_store *s, int64_t rowid,
                        cli_row_name *out /* OUT */);

/* The JSON object of a row (list, describe); NULL on allocation failure. */
json_t *cli_row_json(const certhub_cert_row *row);

/* Commands. */
int cmd_import(cli_ctx *c, int argc, char **argv);
int cmd_list(cli_ctx *c, int argc, char **argv);
int cmd_describe(cli_ctx *c, int argc, char **argv);
int cmd_tag(cli_ctx *c, int argc, char **argv);
int cmd_delete(cli_ctx *c, int argc, char **argv);
int cmd_export(cli_ctx *c, int argc, char **argv);
int cmd_check(cli_ctx *c, int argc, char **argv);
int cmd_config(cli_ctx *c, int argc, char **argv);
int cmd_probe(cli_ctx *c, int argc, char **argv);
int cmd_endpoints(cli_ctx *c, int argc, char **argv);
int cmd_metrics(cli_ctx *c, int argc, char **argv);
int cmd_events(cli_ctx *c, int argc, char **argv);
int cmd_evaluate(cli_ctx *c, int argc, char **argv);
int cmd_serve(cli_ctx *c, int argc, char **argv);
int cmd_events_bus(cli_ctx *c, int argc, char **argv);
int cmd_rules(cli_ctx *c, int argc, char **argv);
int cmd_dlq(cli_ctx *c, int argc, char **argv);
int cmd_buses(cli_ctx *c, int argc, char **argv);
int cmd_hub(cli_ctx *c, int argc, char **argv);
int cmd_topics(cli_ctx *c, int argc, char **argv);
/* topics render / test-filter / keygen (cmd_topics_content.c); argv[0] is
 * the subcommand. */
bool cmd_topics_content_sub(const char *sub);
int cmd_topics_content(cli_ctx *c, int argc, char **argv);
int cmd_findings(cli_ctx *c, int argc, char **argv);
int cmd_events_match(cli_ctx *c, int argc, char **argv);
int cmd_topics_send(cli_ctx *c, int argc, char **argv);
int cmd_tokens(cli_ctx *c, int argc, char **argv);

#endif
