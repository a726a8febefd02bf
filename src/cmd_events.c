/*
 * certhub events: the event bus's commands. For now only test-pattern,
 * which answers like `aws events test-event-pattern`.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/pattern.h"
#include "cli.h"

enum { OPT_PATTERN = 0x100, OPT_EVENT };

/* Fields TestEventPattern requires of the event (the EventBridge
 * envelope). */
static const char *const envelope[] = {
    "id", "account", "source", "time", "region", "resources", "detail-type",
};

static int test_pattern(cli_ctx *c, const char *popt, const char *eopt)
{
  char *ptext = NULL, *etext = NULL, *err = NULL;
  size_t plen = 0, elen = 0;
  certhub_pattern *p = NULL;
  json_t *ev = NULL;
  bool matched = false;
  ch_err e;
  /* Four bytes per character bounds the pattern's size in bytes. */
  int code = cli_arg_text(c, "--pattern", popt,
                          4 * CERTHUB_PATTERN_MAX_LEN + 4, &ptext, &plen);
  if(code)
    goto out;
  code =
      cli_arg_text(c, "--event", eopt, CERTHUB_EVENT_MAX_LEN, &etext, &elen);
  if(code)
    goto out;
  e = certhub_pattern_compile(ptext, plen, &p, &err);
  if(e != CH_OK) {
    code = cli_fail(c, cli_exit_for(e), "invalid pattern: %s",
                    err ? err : "out of memory");
    goto out;
  }
  json_error_t jerr;
  ev = json_loadb(etext, elen, JSON_DECODE_ANY, &jerr);
  if(!ev) {
    code = cli_fail(c, CLI_EXIT_USAGE,
                    "invalid event: invalid JSON at line %d column %d: %s",
                    jerr.line, jerr.column, jerr.text);
    goto out;
  }
  if(!json_is_object(ev)) {
    code = cli_fail(c, CLI_EXIT_USAGE, "invalid event: must be a JSON object");
    goto out;
  }
  for(size_t i = 0; i < sizeof(envelope) / sizeof(envelope[0]); i++) {
    if(!json_object_get(ev, envelope[i])) {
      code = cli_fail(c, CLI_EXIT_USAGE,
                      "invalid event: missing field '%s' (the event needs "
                      "the EventBridge envelope: id, account, source, time, "
                      "region, resources, detail-type)",
                      envelope[i]);
      goto out;
    }
  }
  e = certhub_pattern_match_json(p, ev, &matched, &err);
  if(e != CH_OK) {
    code = cli_fail(c, cli_exit_for(e), "invalid event: %s",
                    err ? err : "out of memory");
    goto out;
  }
  if(printf("%s\n", matched ? "true" : "false") < 0 || fflush(stdout))
    code =
        cli_fail(c, CLI_EXIT_INTERNAL, "writing output: %s", strerror(errno));
out:
  json_decref(ev);
  certhub_pattern_free(p);
  free(err);
  free(ptext);
  free(etext);
  return code;
}

/* The first operand (skipping options and their values): the
 * subcommand. */
static const char *first_operand(int argc, char **argv)
{
  static const char *const with_value[] = {
      "--db",     "--config",  "--now",       "--output", "-o",
      "--color",  "--pattern", "--event",     "--source", "--detail-type",
      "--detail", "--bus",     "--resources", "--time",   "--entries",
      "--since",  "--until",   "--limit"};
  for(int i = 1; i < argc; i++) {
    if(argv[i][0] != '-')
      return argv[i];
    if(!strcmp(argv[i], "--"))
      return i + 1 < argc ? argv[i + 1] : NULL;
    for(size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++)
      if(!strcmp(argv[i], with_value[k])) {
        i++;
        break;
      }
  }
  return NULL;
}

int cmd_events(cli_ctx *c, int argc, char **argv)
{
  /* put, list and show live in cmd_events_bus.c. */
  const char *first = first_operand(argc, argv);
  if(first && (!strcmp(first, "put") || !strcmp(first, "list") ||
               !strcmp(first, "show")))
    return cmd_events_bus(c, argc, argv);

  static const struct option longopts[] = {
      {"pattern", required_argument, NULL, OPT_PATTERN},
      {"event", required_argument, NULL, OPT_EVENT},
      {NULL, 0, NULL, 0},
  };
  const char *popt = NULL, *eopt = NULL;
  int r;
  if(argc > 1 && strcmp(argv[1], "match") == 0) /* src/cmd_events_match.c */
    return cmd_events_match(c, argc - 1, argv + 1);
  /* Options may come before or after the subcommand. */
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_PATTERN:
      popt = optarg;
      break;
    case OPT_EVENT:
      eopt = optarg;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(optind >= argc)
    return cli_usage(c, "missing subcommand (test-pattern)");
  const char *sub = argv[optind++];
  if(strcmp(sub, "test-pattern"))
    return cli_usage(c, "unknown subcommand '%s' (test-pattern)", sub);
  if(optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if(!popt)
    return cli_usage(c, "test-pattern needs --pattern");
  if(!eopt)
    return cli_usage(c, "test-pattern needs --event");
  return test_pattern(c, popt, eopt);
}
