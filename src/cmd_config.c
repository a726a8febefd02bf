/*
 * certhub config check: load and validate the configuration file.
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/bus.h"
#include "cli.h"

int cmd_config(cli_ctx *c, int argc, char **argv)
{
  int r;
  while((r = cli_getopt(c, argc, argv, "", NULL)) != -1) {
    if(r == CLI_OPT_STOP)
      return c->exit_code;
  }
  if(optind >= argc)
    return cli_usage(c, "missing subcommand (check)");
  if(strcmp(argv[optind], "check"))
    return cli_usage(c, "unknown subcommand '%s'", argv[optind]);
  if(argc - optind > 1)
    return cli_usage(c, "unexpected argument '%s'", argv[optind + 1]);
  int code = cli_config(c, true);
  if(code)
    return code;
  char *err = NULL;
  ch_err rc = certhub_bus_config_check(c->config, NULL, NULL, &err);
  if(rc) {
    code = cli_fail(c, CLI_EXIT_USAGE, "%s", err ? err : certhub_strerror(rc));
    free(err);
    return code;
  }
  printf("%s: ok (%zu source%s, %zu endpoint%s, threshold %d day%s)\n",
         c->config->file, c->config->n_sources,
         c->config->n_sources == 1 ? "" : "s", c->config->n_endpoints,
         c->config->n_endpoints == 1 ? "" : "s", c->config->threshold_days,
         c->config->threshold_days == 1 ? "" : "s");
  return 0;
}
