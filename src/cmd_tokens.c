/*
 * certhub tokens: create, list and revoke the API tokens of the HTTP API
 * (certhub serve). The secret is printed once at creation; the store keeps
 * only its SHA-256.
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/http.h"
#include "certhub/store_tokens.h"
#include "cli.h"

enum { OPT_SCOPE = 0x100, OPT_EXPIRES };

/* "90d", "12h", "30m", "3600s" or "never" into seconds (0: never); an
 * RFC 3339 instant is taken as the expiry itself. */
static int parse_expires(cli_ctx *c, const char *arg, int64_t *expires)
{
  if(!strcmp(arg, "never")) {
    *expires = 0;
    return 0;
  }
  int64_t t;
  if(!certhub_time_parse(arg, &t)) {
    *expires = t;
    return 0;
  }
  size_t n = strlen(arg);
  int64_t v = 0, unit = 0;
  if(n >= 2 && n <= 8 && strspn(arg, "0123456789") == n - 1) {
    v = strtoll(arg, NULL, 10);
    switch(arg[n - 1]) {
    case 'd':
      unit = 86400;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'm':
      unit = 60;
      break;
    case 's':
      unit = 1;
      break;
    }
  }
  if(!unit || v <= 0 || v > (int64_t)36500 * 86400 / unit)
    return cli_usage(c,
                     "--expires: '%s' is not a duration (e.g. 90d, 12h), an "
                     "RFC 3339 instant or 'never'",
                     arg);
  *expires = c->now + v * unit;
  return 0;
}

static int tokens_create(cli_ctx *c, const char *name, unsigned scopes,
                         const char *expires_arg)
{
  int64_t expires = 0;
  int code;
  if(!scopes)
    return cli_usage(c, "at least one --scope is needed (read, "
                        "findings:write, admin)");
  if(expires_arg && (code = parse_expires(c, expires_arg, &expires)))
    return code;
  if(expires && expires <= c->now)
    return cli_usage(c, "--expires: '%s' is not in the future", expires_arg);
  certhub_store *s = NULL;
  if((code = cli_open_store(c, &s)))
    return code;
  char *secret = NULL;
  ch_err rc = certhub_token_create(s, name, scopes, expires, c->now, &secret);
  if(rc == CH_ERR_USAGE || rc == CH_ERR_EXISTS)
    code = cli_usage(c, "%s", certhub_store_errmsg(s));
  else if(rc)
    code = cli_store_fail(c, s, rc, "creating the token");
  else {
    char sc[64], exp[32] = "never";
    certhub_scopes_text(scopes, sc, sizeof(sc));
    if(expires)
      certhub_time_format(expires, exp, sizeof(exp));
    if(c->format == OUT_JSON) {
      json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "Name", name, "Token",
                            secret, "Scopes", sc, "Expires", exp);
      if(o)
        out_json_print(stdout, o);
      json_decref(o);
    }
    else
      printf("%s\n", secret);
    if(!c->quiet && c->format != OUT_JSON)
      fprintf(stderr,
              "certhub: tokens: created '%s' (%s; expires %s). The token "
              "is shown only now: store it safely.\n",
              name, sc, exp);
    code = 0;
  }
  if(secret) {
    memset(secret, 0, strlen(secret));
    free(secret);
  }
  certhub_store_close(s);
  return code;
}

typedef struct list_state {
  cli_ctx *c;
  out_json_stream js;
  out_table *table;
  size_t n;
} list_state;

static ch_err token_row(void *ctx, const certhub_token_row *t)
{
  list_state *st = ctx;
  char created[32], expires[32] = "never";
  st->n++;
  certhub_time_format(t->created, created, sizeof(created));
  if(t->expires)
    certhub_time_format(t->expires, expires, sizeof(expires));
  const char *state =
      t->expires && t->expires <= st->c->now ? "expired" : "active";
  if(st->c->format == OUT_JSON) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "Name", t->name,
                          "Prefix", t->prefix, "Scopes", t->scopes, "Created",
                          created, "Expires", expires, "State", state);
    ch_err rc = o ? out_json_item(&st->js, o) : CH_ERR_NOMEM;
    json_decref(o);
    return rc;
  }
  char prefix[32];
  snprintf(prefix, sizeof(prefix), "%s...", t->prefix);
  const char *cells[] = {t->name, prefix, t->scopes, created, expires, state};
  if(st->c->format == OUT_CSV) {
    out_csv_row(stdout, cells, 6);
    return CH_OK;
  }
  return out_table_add(st->table, cells, NULL);
}

static int tokens_list(cli_ctx *c)
{
  static const char *const heads[] = {"NAME",    "TOKEN",   "SCOPES",
                                      "CREATED", "EXPIRES", "STATE"};
  list_state st = {.c = c};
  certhub_store *s = NULL;
  int code;
  if((code = cli_open_store(c, &s)))
    return code;
  if(c->format == OUT_JSON)
    out_json_begin(&st.js, stdout);
  else if(c->format == OUT_CSV)
    out_csv_row(stdout, heads, 6);
  else if(!(st.table = out_table_new(heads, 6))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  ch_err rc = certhub_store_token_list(s, token_row, &st);
  if(c->format == OUT_JSON)
    out_json_end(&st.js);
  else if(st.table && out_table_rows(st.table))
    out_table_print(st.table, stdout, c->color);
  if(rc)
    code = cli_store_fail(c, s, rc, "listing tokens");
  else if(!c->quiet && c->format == OUT_TABLE)
    fprintf(stderr, "certhub: tokens: %zu token(s)\n", st.n);
out:
  out_table_free(st.table);
  certhub_store_close(s);
  return code;
}

static int tokens_revoke(cli_ctx *c, const char *name)
{
  certhub_store *s = NULL;
  int code;
  if((code = cli_open_store(c, &s)))
    return code;
  ch_err rc = certhub_store_token_revoke(s, name);
  if(rc == CH_ERR_NOTFOUND)
    code = cli_usage(c, "no token named '%s'", name);
  else if(rc)
    code = cli_store_fail(c, s, rc, "revoking the token");
  else if(!c->quiet)
    fprintf(stderr, "certhub: tokens: revoked '%s'\n", name);
  certhub_store_close(s);
  return code;
}

int cmd_tokens(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"scope", required_argument, NULL, OPT_SCOPE},
      {"expires", required_argument, NULL, OPT_EXPIRES},
      {NULL, 0, NULL, 0},
  };
  unsigned scopes = 0, bit;
  const char *expires = NULL;
  int r;
  /* Options may come before or after the subcommand. */
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_SCOPE:
      if(certhub_scope_parse(optarg, &bit))
        return cli_usage(c,
                         "--scope: '%s' is not a scope (read, "
                         "findings:write, admin)",
                         optarg);
      scopes |= bit;
      break;
    case OPT_EXPIRES:
      expires = optarg;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(optind >= argc)
    return cli_usage(c, "missing subcommand (create, list, revoke)");
  const char *sub = argv[optind++];
  int nargs = argc - optind;
  bool create = !strcmp(sub, "create");
  if(!create && strcmp(sub, "list") && strcmp(sub, "revoke"))
    return cli_usage(c, "unknown subcommand '%s' (create, list, revoke)", sub);
  if((scopes || expires) && !create)
    return cli_usage(c, "--scope and --expires go with create");
  if(!strcmp(sub, "list")) {
    if(nargs)
      return cli_usage(c, "list: unexpected argument '%s'", argv[optind]);
    return tokens_list(c);
  }
  if(nargs != 1)
    return cli_usage(
        c, nargs ? "%s: one token NAME only" : "%s: missing token NAME", sub);
  if(create)
    return tokens_create(c, argv[optind], scopes, expires);
  return tokens_revoke(c, argv[optind]);
}
