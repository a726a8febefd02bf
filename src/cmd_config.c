/*
 * certhub config check: load and validate the configuration file.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certhub/bus.h"
#include "certhub/deliver.h"
#include "cli.h"
#include "wire.h"

/* prog as execvp would find it: a path with '/', else a PATH entry. */
static bool runnable(const char *prog)
{
  if(strchr(prog, '/'))
    return access(prog, X_OK) == 0;
  const char *path = getenv("PATH");
  if(!path)
    path = "/usr/bin:/bin";
  while(*path) {
    size_t n = strcspn(path, ":");
    char full[PATH_MAX];
    if(snprintf(full, sizeof(full), "%.*s/%s", (int)(n ? n : 1),
                n ? path : ".", prog) < (int)sizeof(full) &&
       access(full, X_OK) == 0)
      return true;
    path += n + (path[n] == ':');
  }
  return false;
}

/* A renew_command that cannot run would only show up as Renewal Action
 * Required weeks later: say so now (a warning, the file is valid). */
static void check_commands(cli_ctx *c)
{
  for(size_t i = 0; i < c->config->n_sources; i++) {
    const certhub_source_cfg *src = &c->config->sources[i];
    if(src->renew_argv && !src->renew_shell && !runnable(src->renew_argv[0]))
      fprintf(stderr,
              "certhub: config: warning: %s:%d: sources[%zu].renew_command: "
              "%s is not an executable program here\n",
              c->config->file, src->line, i, src->renew_argv[0]);
  }
}

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
  ch_err rc =
      certhub_bus_config_check(c->config, wire_check_target, NULL, &err);
  if(!rc)
    rc = certhub_notify_config_check(c->config, &err);
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
  check_commands(c);
  return 0;
}
