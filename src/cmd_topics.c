/*
 * certhub topics: create, list, delete, publish to topics and read the
 * published-message log (the SNS analogue's first layer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/notify.h"
#include "cli.h"

enum { OPT_MESSAGE = 0x100, OPT_SUBJECT, OPT_LIMIT, OPT_DISPLAY };

#define MESSAGE_SHOWN 60 /* characters of a message in the table */

static json_t *topic_json(const certhub_topic *t)
{
  char created[32];
  certhub_time_format(t->created, created, sizeof(created));
  return json_pack("{s:s, s:s, s:s, s:s, s:I}", "Name", t->name, "TopicArn",
                   t->arn, "DisplayName", t->display_name, "Created", created,
                   "Messages", (json_int_t)t->n_messages);
}

typedef struct list_state {
  cli_ctx *c;
  out_json_stream js;
  out_table *table;
  size_t n;
} list_state;

static ch_err topic_row(void *ctx, const certhub_topic *t)
{
  list_state *st = ctx;
  st->n++;
  if(st->c->format == OUT_JSON) {
    json_t *o = topic_json(t);
    ch_err rc = o ? out_json_item(&st->js, o) : CH_ERR_NOMEM;
    json_decref(o);
    return rc;
  }
  char created[32], count[32];
  certhub_time_format(t->created, created, sizeof(created));
  snprintf(count, sizeof(count), "%llu", (unsigned long long)t->n_messages);
  const char *cells[] = {t->name, t->arn, count, created};
  if(st->c->format == OUT_CSV) {
    out_csv_row(stdout, cells, 4);
    return CH_OK;
  }
  return out_table_add(st->table, cells, NULL);
}

/* Table, CSV or JSON array around a listing. */
static int listing(cli_ctx *c, list_state *st, const char *const *heads,
                   size_t ncols, ch_err (*run)(certhub_store *, void *),
                   void *arg, const char *what)
{
  certhub_store *s = NULL;
  int code = cli_open_store(c, &s);
  if(code)
    return code;
  if(c->format == OUT_JSON)
    out_json_begin(&st->js, stdout);
  else if(c->format == OUT_CSV)
    out_csv_row(stdout, heads, ncols);
  else if(!(st->table = out_table_new(heads, ncols))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  ch_err rc = run(s, arg);
  if(c->format == OUT_JSON)
    out_json_end(&st->js);
  else if(st->table && out_table_rows(st->table))
    out_table_print(st->table, stdout, c->color);
  if(rc)
    code = cli_store_fail(c, s, rc, what);
  else if(!c->quiet && c->format == OUT_TABLE)
    fprintf(stderr, "certhub: topics: %zu %s\n", st->n, what);
out:
  out_table_free(st->table);
  st->table = NULL;
  certhub_store_close(s);
  return code;
}

static ch_err run_list(certhub_store *s, void *arg)
{
  return certhub_topic_list(s, topic_row, arg);
}

static int topics_list(cli_ctx *c)
{
  static const char *const heads[] = {"NAME", "ARN", "MESSAGES", "CREATED"};
  list_state st = {.c = c};
  return listing(c, &st, heads, 4, run_list, &st, "topic(s)");
}

typedef struct msg_args {
  list_state st;
  const char *topic;
  size_t limit;
} msg_args;

static ch_err message_row(void *ctx, const certhub_message *m)
{
  list_state *st = ctx;
  char when[32];
  st->n++;
  certhub_time_format(m->published_at, when, sizeof(when));
  if(st->c->format == OUT_JSON) {
    /* The fields of an SNS notification that exist at this layer. */
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s%, s:s}", "MessageId",
                  m->message_id, "TopicArn", m->topic_arn, "Topic", m->topic,
                  "Subject", m->subject ? m->subject : "", "Message",
                  m->sealed ? "(sealed)" : m->message,
                  m->sealed ? strlen("(sealed)") : m->len, "Timestamp", when);
    if(o && !m->subject)
      json_object_set_new(o, "Subject", json_null());
    ch_err rc = o ? out_json_item(&st->js, o) : CH_ERR_NOMEM;
    json_decref(o);
    return rc;
  }
  /* a sealed body is binary; certhub_topic_messages_open() reads it */
  char *text = m->sealed ? strdup("(sealed)") : strndup(m->message, m->len);
  if(!text)
    return CH_ERR_NOMEM;
  /* One line per message in the table. */
  for(char *p = text; *p; p++)
    if(*p == '\n' || *p == '\r' || *p == '\t')
      *p = ' ';
  for(size_t n = strlen(text); n && text[n - 1] == ' '; n--)
    text[n - 1] = '\0';
  char *shown =
      st->c->format == OUT_TABLE ? out_truncate(text, MESSAGE_SHOWN) : NULL;
  const char *cells[] = {when, m->message_id, m->topic,
                         m->subject ? m->subject : "", shown ? shown : text};
  ch_err rc = CH_OK;
  if(st->c->format == OUT_CSV)
    out_csv_row(stdout, cells, 5);
  else
    rc = out_table_add(st->table, cells, NULL);
  free(shown);
  free(text);
  return rc;
}

static ch_err run_messages(certhub_store *s, void *arg)
{
  msg_args *a = arg;
  return certhub_topic_messages(s, a->topic, a->limit, message_row, &a->st);
}

static int topics_messages(cli_ctx *c, const char *topic, size_t limit)
{
  static const char *const heads[] = {"PUBLISHED", "MESSAGE_ID", "TOPIC",
                                      "SUBJECT", "MESSAGE"};
  msg_args a = {.st = {.c = c}, .topic = topic, .limit = limit};
  return listing(c, &a.st, heads, 5, run_messages, &a, "message(s)");
}

static ch_err copy_arn(void *ctx, const certhub_topic *t)
{
  snprintf(ctx, 600, "%s", t->arn);
  return CH_OK;
}

static int topics_create(cli_ctx *c, const char *name, const char *display)
{
  certhub_store *s = NULL;
  bool created = false;
  char arn[600] = "";
  int code = cli_config(c, false);
  if(code)
    return code;
  if((code = cli_open_store(c, &s)))
    return code;
  ch_err rc = certhub_topic_create(s, name, display, c->config->account,
                                   c->config->region, c->now, &created);
  /* Print the stored ARN: an existing topic keeps its own. */
  if(!rc)
    rc = certhub_topic_get(s, name, copy_arn, arn);
  if(rc) {
    code = cli_fail(c, cli_exit_for(rc), "%s", certhub_store_errmsg(s));
    goto out;
  }
  if(c->format == OUT_JSON) {
    json_t *o = json_pack("{s:s}", "TopicArn", arn);
    if(!o || out_json_print(stdout, o))
      code = cli_fail(c, CLI_EXIT_INTERNAL, "writing output");
    json_decref(o);
  }
  else
    printf("%s\n", arn);
  if(!c->quiet && !created)
    fprintf(stderr, "certhub: topics: topic '%s' already exists\n", name);
out:
  certhub_store_close(s);
  return code;
}

static int topics_delete(cli_ctx *c, const char *name)
{
  certhub_store *s = NULL;
  int code = cli_open_store(c, &s);
  if(code)
    return code;
  ch_err rc = certhub_topic_delete(s, name);
  if(rc)
    code = cli_fail(c, cli_exit_for(rc), "%s", certhub_store_errmsg(s));
  else if(!c->quiet)
    fprintf(stderr, "certhub: topics: deleted topic '%s'\n", name);
  certhub_store_close(s);
  return code;
}

static int topics_publish(cli_ctx *c, const char *name, const char *message,
                          const char *subject)
{
  certhub_store *s = NULL;
  char *body = NULL;
  size_t len = 0;
  char id[CERTHUB_MESSAGE_ID_LEN + 1];
  int code = 0;
  if(message[0] == '@') {
    /* One byte over the limit is enough to report it as too large. */
    code = cli_read_file(c, "--message", message + 1, CERTHUB_MESSAGE_MAX + 1,
                         &body, &len);
    if(code)
      return code;
    message = body;
  }
  else
    len = strlen(message);
  if((code = cli_open_store(c, &s)))
    goto out;
  ch_err rc =
      certhub_topic_publish(s, name, subject, message, len, c->now, id);
  if(rc) {
    code = cli_fail(c, cli_exit_for(rc), "publish to '%s': %s", name,
                    certhub_store_errmsg(s));
    goto out;
  }
  if(c->format == OUT_JSON) {
    json_t *o = json_pack("{s:s}", "MessageId", id);
    if(!o || out_json_print(stdout, o))
      code = cli_fail(c, CLI_EXIT_INTERNAL, "writing output");
    json_decref(o);
  }
  else
    printf("%s\n", id);
out:
  free(body);
  certhub_store_close(s);
  return code;
}

int cmd_topics(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"message", required_argument, NULL, OPT_MESSAGE},
      {"subject", required_argument, NULL, OPT_SUBJECT},
      {"limit", required_argument, NULL, OPT_LIMIT},
      {"display-name", required_argument, NULL, OPT_DISPLAY},
      {NULL, 0, NULL, 0},
  };
  /* render, test-filter, keygen: cmd_topics_content.c */
  if(argc > 1 && cmd_topics_content_sub(argv[1]))
    return cmd_topics_content(c, argc - 1, argv + 1);
  const char *message = NULL, *subject = NULL, *display = NULL;
  int64_t limit = 0;
  bool has_limit = false;
  int r;
  if(argc > 1 && !strcmp(argv[1], "send-test")) /* src/cmd_topics_send.c */
    return cmd_topics_send(c, argc - 1, argv + 1);
  /* Options may come before or after the subcommand. */
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_MESSAGE:
      message = optarg;
      break;
    case OPT_SUBJECT:
      subject = optarg;
      break;
    case OPT_DISPLAY:
      display = optarg;
      break;
    case OPT_LIMIT:
      if(cli_parse_num(c, "--limit", optarg, 1, 1000000, &limit))
        return c->exit_code;
      has_limit = true;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(optind >= argc)
    return cli_usage(
        c, "missing subcommand (create, list, delete, publish, messages)");
  const char *sub = argv[optind++];
  const char *name = optind < argc ? argv[optind] : NULL;
  int nargs = argc - optind;
  bool takes_name = !strcmp(sub, "create") || !strcmp(sub, "delete") ||
                    !strcmp(sub, "publish");
  if(!takes_name && strcmp(sub, "list") && strcmp(sub, "messages"))
    return cli_usage(c,
                     "unknown subcommand '%s' (create, list, delete, "
                     "publish, messages)",
                     sub);
  if(takes_name && nargs < 1)
    return cli_usage(c, "%s: missing topic NAME", sub);
  int most = !strcmp(sub, "list") ? 0 : 1;
  if(nargs > most)
    return cli_usage(c, "unexpected argument '%s'", argv[optind + most]);
  if((message || subject) && strcmp(sub, "publish"))
    return cli_usage(c, "--message and --subject are for 'publish'");
  if(has_limit && strcmp(sub, "messages"))
    return cli_usage(c, "--limit is for 'messages'");
  if(display && strcmp(sub, "create"))
    return cli_usage(c, "--display-name is for 'create'");
  if(!strcmp(sub, "create"))
    return topics_create(c, name, display);
  if(!strcmp(sub, "list"))
    return topics_list(c);
  if(!strcmp(sub, "delete"))
    return topics_delete(c, name);
  if(!strcmp(sub, "messages"))
    return topics_messages(c, name, (size_t)limit);
  if(!message)
    return cli_usage(c, "publish needs --message M or --message @FILE");
  return topics_publish(c, name, message, subject);
}
