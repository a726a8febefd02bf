/*
 * certhub hub: this instance's findings forwarding to a central hub
 * (config `hub:`, certhub/hub.h). `certhub serve` forwards on its own;
 * these commands show the queue and forward once (cron, tests, catching up
 * by hand).
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/hub.h"
#include "cli.h"

enum { OPT_MAX = 0x100 };

/* The target from the configuration; the token is read from its file. */
static int hub_target(cli_ctx *c, certhub_hub_target *t, char **token)
{
  char err[512];
  const certhub_hub_cfg *h = &c->config->hub;
  if(!h->enabled)
    return cli_fail(c, CLI_EXIT_USAGE,
                    "no hub: section in the configuration (hub.forward_to, "
                    "hub.token_file)");
  if(certhub_hub_read_token(h->token_file, token, err, sizeof(err)))
    return cli_fail(c, CLI_EXIT_USAGE, "%s", err);
  t->url = h->forward_to;
  t->token = *token;
  t->ca_file = h->ca_file;
  t->timeout_ms = h->timeout_ms;
  return 0;
}

static int hub_status(cli_ctx *c, certhub_store *s)
{
  bool on = false;
  uint64_t queued = 0;
  ch_err rc = certhub_store_hub_state(s, &on, &queued);
  if(rc)
    return cli_store_fail(c, s, rc, "reading the hub queue");
  const certhub_hub_cfg *h = &c->config->hub;
  if(c->format == OUT_JSON) {
    json_t *j = json_pack("{s:s?,s:b,s:I}", "ForwardTo",
                          h->enabled ? h->forward_to : NULL, "Queueing", on,
                          "Queued", (json_int_t)queued);
    if(!j)
      return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    rc = out_json_print(stdout, j);
    json_decref(j);
    return rc ? cli_fail(c, CLI_EXIT_INTERNAL, "writing output") : 0;
  }
  printf("forward_to: %s\nqueueing: %s\nqueued: %llu\n",
         h->enabled ? h->forward_to : "-", on ? "yes" : "no",
         (unsigned long long)queued);
  return 0;
}

static int hub_forward(cli_ctx *c, certhub_store *s, int64_t max)
{
  certhub_hub_target t = {0};
  certhub_hub_stats st = {0};
  char *token = NULL, err[1024] = "";
  int code = hub_target(c, &t, &token);
  if(code)
    return code;
  ch_err rc = certhub_store_hub_enable(s, true, NULL);
  if(rc) {
    code = cli_store_fail(c, s, rc, "starting the hub queue");
    goto out;
  }
  rc = certhub_hub_forward(s, &t, (size_t)max, &st, err, sizeof(err));
  if(rc) {
    code =
        cli_fail(c, rc == CH_ERR_DB ? CLI_EXIT_INTERNAL : CLI_EXIT_FAIL,
                 "%s (%llu sent, %llu still queued)", err,
                 (unsigned long long)st.sent, (unsigned long long)st.queued);
    goto out;
  }
  if(err[0])
    fprintf(stderr, "certhub: hub: %s\n", err);
  if(!c->quiet)
    fprintf(stderr,
            "%llu findings forwarded in %llu requests, %llu refused by the "
            "hub, %llu queued\n",
            (unsigned long long)st.sent, (unsigned long long)st.requests,
            (unsigned long long)st.rejected, (unsigned long long)st.queued);
out:
  free(token);
  return code;
}

int cmd_hub(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"max", required_argument, NULL, OPT_MAX}, {NULL, 0, NULL, 0}};
  certhub_store *s = NULL;
  int64_t max = 0;
  int r, code;
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    if(r == CLI_OPT_STOP)
      return c->exit_code;
    if(r == OPT_MAX) {
      if((code = cli_parse_num(c, "--max", optarg, 1, 100000000, &max)))
        return code;
      continue;
    }
    return cli_usage(c, "unexpected option");
  }
  if(optind >= argc)
    return cli_usage(c, "missing subcommand (status, forward)");
  const char *sub = argv[optind++];
  bool fwd = !strcmp(sub, "forward");
  if(!fwd && strcmp(sub, "status"))
    return cli_usage(c, "unknown subcommand '%s' (status, forward)", sub);
  if(optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if(max && !fwd)
    return cli_usage(c, "--max goes with forward");
  if((code = cli_config(c, fwd)))
    return code;
  if((code = cli_open_store(c, &s)))
    return code;
  code = fwd ? hub_forward(c, s, max) : hub_status(c, s);
  certhub_store_close(s);
  return code;
}
