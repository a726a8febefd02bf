/*
 * certhub topics send-test --protocol P --endpoint E [--subject S]
 *     [--message M|@FILE] [--html H|@FILE] [--attribute K=V]...
 *     [--token T] [--topic-arn ARN] [--base-url URL] [--timeout D]
 *     [--ca-file FILE]
 *
 * Sends one message through one protocol the way the delivery engine
 * would (certhub_notify_send_test()), without a topic or subscription:
 * to try a channel. Prints the outcome; exit 0 delivered, 1 not (RETRY or
 * FAILED), 2 usage or configuration.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "certhub/notify.h"
#include "certhub/notify_send.h"
#include "cli.h"

enum {
  OPT_PROTOCOL = 0x100,
  OPT_ENDPOINT,
  OPT_SUBJECT,
  OPT_MESSAGE,
  OPT_HTML,
  OPT_ATTRIBUTE,
  OPT_TOKEN,
  OPT_TOPIC_ARN,
  OPT_BASE_URL,
  OPT_TIMEOUT,
  OPT_CA_FILE,
};

#define MAX_ATTRIBUTES 32

static const char *const result_names[] = {"OK", "RETRY", "FAILED"};

int cmd_topics_send(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"protocol", required_argument, NULL, OPT_PROTOCOL},
      {"endpoint", required_argument, NULL, OPT_ENDPOINT},
      {"subject", required_argument, NULL, OPT_SUBJECT},
      {"message", required_argument, NULL, OPT_MESSAGE},
      {"html", required_argument, NULL, OPT_HTML},
      {"attribute", required_argument, NULL, OPT_ATTRIBUTE},
      {"token", required_argument, NULL, OPT_TOKEN},
      {"topic-arn", required_argument, NULL, OPT_TOPIC_ARN},
      {"base-url", required_argument, NULL, OPT_BASE_URL},
      {"timeout", required_argument, NULL, OPT_TIMEOUT},
      {"ca-file", required_argument, NULL, OPT_CA_FILE},
      {NULL, 0, NULL, 0},
  };
  certhub_send_test t = {0};
  const char *message = NULL, *html = NULL;
  char *msg_buf = NULL, *html_buf = NULL, *attrs = NULL;
  json_t *attr = json_object();
  unsigned timeout_ms = 0;
  int code = 0, r;
  if(!attr)
    return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      code = c->exit_code;
      goto out;
    case OPT_PROTOCOL:
      t.protocol = optarg;
      break;
    case OPT_ENDPOINT:
      t.endpoint = optarg;
      break;
    case OPT_SUBJECT:
      t.subject = optarg;
      break;
    case OPT_MESSAGE:
      message = optarg;
      break;
    case OPT_HTML:
      html = optarg;
      break;
    case OPT_TOKEN:
      t.token = optarg;
      break;
    case OPT_TOPIC_ARN:
      t.topic_arn = optarg;
      break;
    case OPT_BASE_URL:
      t.base_url = optarg;
      break;
    case OPT_CA_FILE:
      t.ca_file = optarg;
      break;
    case OPT_TIMEOUT:
      if(certhub_duration_parse(optarg, &timeout_ms)) {
        code = cli_usage(c,
                         "--timeout: '%s' is not a duration (10s, "
                         "500ms) of at most 1h",
                         optarg);
        goto out;
      }
      break;
    case OPT_ATTRIBUTE: {
      char *eq = strchr(optarg, '=');
      if(!eq || eq == optarg) {
        code =
            cli_usage(c, "--attribute: expected KEY=VALUE, got '%s'", optarg);
        goto out;
      }
      *eq = '\0';
      if(json_object_size(attr) >= MAX_ATTRIBUTES ||
         json_object_set_new(attr, optarg, json_string(eq + 1))) {
        code = cli_usage(c,
                         "--attribute %s: not UTF-8, or more than %d "
                         "attributes",
                         optarg, MAX_ATTRIBUTES);
        goto out;
      }
      break;
    }
    default:
      code = cli_usage(c, "unexpected option");
      goto out;
    }
  }
  if(optind < argc) {
    code = cli_usage(c, "unexpected argument '%s'", argv[optind]);
    goto out;
  }
  if(!t.protocol || !t.endpoint) {
    code = cli_usage(c, "send-test needs --protocol P and --endpoint E");
    goto out;
  }
  if(t.subject) {
    /* Looser than Publish (ASCII only): rendered subjects may be UTF-8,
     * and the email protocol encodes those (RFC 2047). */
    const char *why = NULL;
    size_t n = strlen(t.subject);
    bool ctl = false;
    for(size_t i = 0; i < n; i++)
      ctl = ctl || (unsigned char)t.subject[i] < ' ' || t.subject[i] == 0x7f;
    if(n > 256 || ctl || certhub_topic_message_check(t.subject, n, &why)) {
      code = cli_usage(c, "--subject: 1 to 256 bytes of UTF-8 without control "
                          "characters");
      goto out;
    }
  }
  /* One byte over the limit is enough to report it as too large. */
  if(message &&
     (code = cli_arg_text(c, "--message", message, CERTHUB_MESSAGE_MAX + 1,
                          &msg_buf, &t.len)))
    goto out;
  if(html && (code = cli_arg_text(c, "--html", html, CERTHUB_MESSAGE_MAX + 1,
                                  &html_buf, NULL)))
    goto out;
  if(!msg_buf && !(msg_buf = strdup("certhub test message"))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  if(!message)
    t.len = strlen(msg_buf);
  t.message = msg_buf;
  t.html = html_buf;
  t.timeout_ms = (long)timeout_ms;
  if(json_object_size(attr) &&
     !(attrs = json_dumps(attr, JSON_COMPACT | JSON_SORT_KEYS))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  t.attributes = attrs;
  if((code = cli_config(c, false)))
    goto out;
  certhub_send_result res = CERTHUB_SEND_FAILED;
  char detail[512];
  ch_err rc =
      certhub_notify_send_test(c->config, &t, &res, detail, sizeof(detail));
  if(rc) {
    code = cli_fail(c, cli_exit_for(rc), "send-test: %s",
                    detail[0] ? detail : certhub_strerror(rc));
    goto out;
  }
  if(c->format == OUT_JSON) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "Protocol", t.protocol, "Result",
                          result_names[res], "Detail", detail);
    if(!o || out_json_print(stdout, o))
      code = cli_fail(c, CLI_EXIT_INTERNAL, "writing output");
    json_decref(o);
  }
  else
    printf("%s: %s\n", result_names[res], detail);
  if(!code && res != CERTHUB_SEND_OK)
    code = CLI_EXIT_FAIL;
out:
  json_decref(attr);
  free(msg_buf);
  free(html_buf);
  free(attrs);
  return code;
}
