/*
 * certhub metrics: the inventory and the endpoints' last probes in the
 * Prometheus text format, for the node_exporter textfile collector or a
 * scrape through `certhub serve` (later).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/metrics.h"
#include "cli.h"

enum { OPT_COMPAT = 0x100 };

int cmd_metrics(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"compat", no_argument, NULL, OPT_COMPAT},
      {NULL, 0, NULL, 0},
  };
  certhub_metrics_opts mo = {0};
  certhub_store *s = NULL;
  int r, code;
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_COMPAT:
      mo.compat = true;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if(c->output_opt && c->format != OUT_TABLE)
    return cli_usage(c, "--output: the Prometheus text format is the only "
                        "output");
  code = cli_open_store(c, &s);
  if(code)
    return code;
  ch_err rc = certhub_metrics_write(s, c->now, &mo, stdout);
  if(rc == CH_ERR_IO)
    code =
        cli_fail(c, CLI_EXIT_INTERNAL, "writing output: %s", strerror(errno));
  else if(rc)
    code = cli_store_fail(c, s, rc, "metrics");
  certhub_store_close(s);
  return code;
}
