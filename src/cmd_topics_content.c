/*
 * certhub topics render | test-filter | keygen: preview how an event is
 * rendered for a topic (subject, text, html), try a subscription filter
 * policy against a message, and create a key file for sealed topics.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/notify.h"
#include "certhub/notify_filter.h"
#include "certhub/notify_render.h"
#include "certhub/notify_seal.h"
#include "cli.h"

enum {
  OPT_EVENT = 0x100,
  OPT_TOPIC,
  OPT_TEMPLATES,
  OPT_BASE_URL,
  OPT_PART,
  OPT_POLICY,
  OPT_ATTRIBUTES,
  OPT_MESSAGE,
  OPT_SCOPE,
  OPT_NO_LOOKUP,
};

/* Big enough for a digest of a large inventory; the renderer bounds its
 * output, not its input. */
#define EVENT_FILE_MAX ((size_t)64 << 20)

bool cmd_topics_content_sub(const char *sub)
{
  return sub && (!strcmp(sub, "render") || !strcmp(sub, "test-filter") ||
                 !strcmp(sub, "keygen"));
}

typedef struct render_args {
  const char *event, *topic, *templates, *base_url, *part;
  bool no_lookup;
} render_args;

static int print_part(cli_ctx *c, const certhub_rendered *r, const char *part)
{
  const char *s = !strcmp(part, "subject") ? r->subject
                  : !strcmp(part, "text")  ? r->text
                                           : r->html;
  size_t n = strlen(s);
  if(fputs(s, stdout) < 0 || ((!n || s[n - 1] != '\n') && putchar('\n') < 0))
    return cli_fail(c, CLI_EXIT_INTERNAL, "writing output: %s",
                    strerror(errno));
  return 0;
}

static int topics_render(cli_ctx *c, const render_args *a)
{
  char *ev = NULL, *tt = NULL, *why = NULL, *arn = NULL;
  size_t elen = 0;
  certhub_render_templates *ts = NULL;
  certhub_store *s = NULL;
  certhub_rendered r = {0};
  int code = cli_arg_text(c, "--event", a->event, EVENT_FILE_MAX, &ev, &elen);
  if(code)
    goto out;
  if(a->templates) {
    if((code = cli_arg_text(c, "--templates", a->templates, (size_t)1 << 20,
                            &tt, NULL)))
      goto out;
    ch_err rc = certhub_render_templates_parse_text(tt, &ts, &why);
    if(rc) {
      code = cli_fail(c, cli_exit_for(rc), "--templates: %s",
                      why ? why : certhub_strerror(rc));
      goto out;
    }
  }
  if((code = cli_config(c, false)))
    goto out;
  if(a->topic) {
    if(!certhub_topic_name_valid(a->topic)) {
      code = cli_usage(c, "--topic: invalid topic name '%.300s'", a->topic);
      goto out;
    }
    if(asprintf(&arn, "arn:certhub:sns:%s:%s:%s",
                c->config->region ? c->config->region : "local",
                c->config->account ? c->config->account : "000000000000",
                a->topic) < 0) {
      arn = NULL;
      code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
      goto out;
    }
  }
  /* owner, issuer and sources from the inventory, when there is one */
  if(!a->no_lookup && (code = cli_open_store(c, &s)))
    goto out;
  const char *base = a->base_url ? a->base_url : getenv("CERTHUB_BASE_URL");
  certhub_render_opts o = {
      .base_url = base,
      .topic_arn = arn,
      .templates = ts,
      .lookup = s ? certhub_render_store_lookup : NULL,
      .lookup_ctx = s,
  };
  ch_err rc = certhub_render_event(ev, elen, &o, &r, &why);
  if(rc) {
    code = cli_fail(c, cli_exit_for(rc), "--event: %s",
                    why ? why : certhub_strerror(rc));
    goto out;
  }
  if(a->part)
    code = print_part(c, &r, a->part);
  else if(c->format == OUT_JSON) {
    json_t *j =
        json_pack("{ss ss ss sI sI}", "Subject", r.subject, "Text", r.text,
                  "Html", r.html, "Listed", (json_int_t)r.n_listed, "Omitted",
                  (json_int_t)r.n_omitted);
    if(!j || out_json_print(stdout, j))
      code = cli_fail(c, CLI_EXIT_INTERNAL, "writing output");
    json_decref(j);
  }
  else if(printf("Subject: %s\n\n--- text ---\n%s\n--- html ---\n%s",
                 r.subject, r.text, r.html) < 0 ||
          fflush(stdout))
    code =
        cli_fail(c, CLI_EXIT_INTERNAL, "writing output: %s", strerror(errno));
out:
  certhub_rendered_free(&r);
  certhub_render_templates_free(ts);
  certhub_store_close(s);
  free(arn);
  free(why);
  free(tt);
  free(ev);
  return code;
}

static int topics_test_filter(cli_ctx *c, const char *popt, const char *aopt,
                              const char *mopt, const char *sopt)
{
  char *pt = NULL, *at = NULL, *mt = NULL, *why = NULL;
  size_t mlen = 0;
  certhub_filter_policy *p = NULL;
  certhub_filter_scope scope;
  bool ok = false;
  int code = 0;
  if(certhub_filter_scope_parse(sopt, &scope))
    return cli_usage(c,
                     "--scope: '%s' is not MessageAttributes or "
                     "MessageBody",
                     sopt);
  /* one byte over the limit so that the library reports it */
  if((code = cli_arg_text(c, "--policy", popt, CERTHUB_FILTER_MAX_LEN + 1, &pt,
                          NULL)) ||
     (aopt && (code = cli_arg_text(c, "--attributes", aopt, (size_t)1 << 20,
                                   &at, NULL))) ||
     (mopt && (code = cli_arg_text(c, "--message", mopt,
                                   CERTHUB_MESSAGE_MAX + 1, &mt, &mlen))))
    goto out;
  ch_err rc = certhub_filter_policy_compile(pt, scope, &p, &why);
  if(rc) {
    code = cli_fail(c, cli_exit_for(rc), "invalid policy: %s",
                    why ? why : certhub_strerror(rc));
    goto out;
  }
  if(scope == CERTHUB_FILTER_BODY && !mt) {
    code = cli_usage(c, "--scope MessageBody needs --message");
    goto out;
  }
  rc = certhub_filter_policy_accepts(p, at, mt ? mt : "", mlen, &ok, &why);
  if(rc) {
    code = cli_fail(c, cli_exit_for(rc), "invalid input: %s",
                    why ? why : certhub_strerror(rc));
    goto out;
  }
  if(printf("%s\n", ok ? "true" : "false") < 0 || fflush(stdout))
    code =
        cli_fail(c, CLI_EXIT_INTERNAL, "writing output: %s", strerror(errno));
out:
  certhub_filter_policy_free(p);
  free(why);
  free(pt);
  free(at);
  free(mt);
  return code;
}

static int topics_keygen(cli_ctx *c, const char *path)
{
  char *why = NULL;
  certhub_seal_key *k = NULL;
  char id[17];
  ch_err rc = certhub_seal_keygen(path, &why);
  if(!rc)
    rc = certhub_seal_key_load(path, &k, &why);
  if(rc) {
    int code = cli_fail(c, rc == CH_ERR_IO ? CLI_EXIT_USAGE : cli_exit_for(rc),
                        "keygen: %s", why ? why : certhub_strerror(rc));
    free(why);
    return code;
  }
  certhub_seal_key_id(k, id);
  certhub_seal_key_free(k);
  printf("%s\n", id);
  if(!c->quiet)
    fprintf(stderr, "certhub: topics: wrote key %s to %s (mode 0600)\n", id,
            path);
  return 0;
}

int cmd_topics_content(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"event", required_argument, NULL, OPT_EVENT},
      {"topic", required_argument, NULL, OPT_TOPIC},
      {"templates", required_argument, NULL, OPT_TEMPLATES},
      {"base-url", required_argument, NULL, OPT_BASE_URL},
      {"part", required_argument, NULL, OPT_PART},
      {"no-lookup", no_argument, NULL, OPT_NO_LOOKUP},
      {"policy", required_argument, NULL, OPT_POLICY},
      {"attributes", required_argument, NULL, OPT_ATTRIBUTES},
      {"message", required_argument, NULL, OPT_MESSAGE},
      {"scope", required_argument, NULL, OPT_SCOPE},
      {NULL, 0, NULL, 0},
  };
  const char *sub = argv[0];
  render_args ra = {0};
  const char *policy = NULL, *attrs = NULL, *message = NULL, *scope = NULL;
  bool render_opt = false, filter_opt = false;
  int r;
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_EVENT:
      ra.event = optarg;
      render_opt = true;
      break;
    case OPT_TOPIC:
      ra.topic = optarg;
      render_opt = true;
      break;
    case OPT_TEMPLATES:
      ra.templates = optarg;
      render_opt = true;
      break;
    case OPT_BASE_URL:
      ra.base_url = optarg;
      render_opt = true;
      break;
    case OPT_NO_LOOKUP:
      ra.no_lookup = true;
      render_opt = true;
      break;
    case OPT_PART:
      if(strcmp(optarg, "subject") && strcmp(optarg, "text") &&
         strcmp(optarg, "html"))
        return cli_usage(c, "--part: '%s' is not subject, text or html",
                         optarg);
      ra.part = optarg;
      render_opt = true;
      break;
    case OPT_POLICY:
      policy = optarg;
      filter_opt = true;
      break;
    case OPT_ATTRIBUTES:
      attrs = optarg;
      filter_opt = true;
      break;
    case OPT_MESSAGE:
      message = optarg;
      filter_opt = true;
      break;
    case OPT_SCOPE:
      scope = optarg;
      filter_opt = true;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  bool is_render = !strcmp(sub, "render"), is_keygen = !strcmp(sub, "keygen");
  if(is_keygen) {
    if(render_opt || filter_opt)
      return cli_usage(c, "keygen takes only a FILE");
    if(optind >= argc)
      return cli_usage(c, "keygen: missing FILE");
    if(optind + 1 < argc)
      return cli_usage(c, "unexpected argument '%s'", argv[optind + 1]);
    return topics_keygen(c, argv[optind]);
  }
  if(optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if(is_render) {
    if(filter_opt)
      return cli_usage(c, "--policy, --attributes, --message and --scope "
                          "are for 'test-filter'");
    if(!ra.event)
      return cli_usage(c, "render needs --event EVENT|@FILE");
    return topics_render(c, &ra);
  }
  if(render_opt)
    return cli_usage(c, "--event, --topic, --templates, --base-url, --part "
                        "and --no-lookup are for 'render'");
  if(!policy)
    return cli_usage(c, "test-filter needs --policy P|@FILE");
  if(scope && !strcmp(scope, "MessageBody") && !message)
    return cli_usage(c, "--scope MessageBody needs --message M|@FILE");
  if(!attrs && !message)
    return cli_usage(c, "test-filter needs --attributes A|@FILE (and/or "
                        "--message M|@FILE)");
  return topics_test_filter(c, policy, attrs, message, scope);
}
