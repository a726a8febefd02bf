/*
 * certhub topics: create, list, delete, publish to topics and read the
 * published-message log (the SNS analogue's first layer).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "certhub/deliver.h"
#include "certhub/notify.h"
#include "certhub/notify_seal.h"
#include "cli.h"
#include "notify_cfg.h"

enum {
  OPT_MESSAGE = 0x100,
  OPT_SUBJECT,
  OPT_LIMIT,
  OPT_DISPLAY,
  OPT_PROTOCOL,
  OPT_ENDPOINT,
  OPT_ATTRIBUTE,
  OPT_CONFIRMED,
  OPT_TOPIC,
  OPT_SUBSCRIPTION,
  OPT_STATUS,
  OPT_ONCE,
  OPT_MAX_SECONDS,
  OPT_TOKEN,
  OPT_MSG_ATTRIBUTE,
  OPT_MSG_ATTRIBUTES,
};

#define MESSAGE_SHOWN 60     /* characters of a message in the table */
#define ATTRS_SHOWN 60       /* characters of the attributes in the table */
#define MAX_MSG_ATTR_OPTS 64 /* --message-attribute options (SNS takes 10) */

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

/* MessageAttributes for one table cell: "name=value name=value" (Binary
 * as its type; line breaks blanked). malloc'd; NULL when none. */
static char *attrs_list(const char *attributes)
{
  json_t *o = attributes ? json_loads(attributes, 0, NULL) : NULL;
  const char *name;
  json_t *a;
  char *out = NULL;
  size_t len = 0;
  FILE *f = json_object_size(o) ? open_memstream(&out, &len) : NULL;
  if(!f) {
    json_decref(o);
    return NULL;
  }
  bool first = true;
  json_object_foreach(o, name, a)
  {
    const char *type = json_string_value(json_object_get(a, "Type"));
    const char *val = json_string_value(json_object_get(a, "Value"));
    bool bin = type && !strcmp(type, "Binary");
    fprintf(f, "%s%s=%s", first ? "" : " ", name,
            bin   ? "(Binary)"
            : val ? val
                  : "");
    first = false;
  }
  fclose(f);
  json_decref(o);
  for(char *p = out; p && *p; p++)
    if(*p == '\n' || *p == '\r' || *p == '\t')
      *p = ' ';
  return out;
}

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
    json_t *attrs = m->attributes ? json_loads(m->attributes, 0, NULL) : NULL;
    if(o && attrs)
      json_object_set_new(o, "MessageAttributes", attrs);
    else
      json_decref(attrs);
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
  char *alist = attrs_list(m->attributes);
  char *ashown = alist && st->c->format == OUT_TABLE
                     ? out_truncate(alist, ATTRS_SHOWN)
                     : NULL;
  const char *cells[] = {when,
                         m->message_id,
                         m->topic,
                         m->subject ? m->subject : "",
                         shown ? shown : text,
                         ashown  ? ashown
                         : alist ? alist
                                 : ""};
  ch_err rc = CH_OK;
  if(st->c->format == OUT_CSV)
    out_csv_row(stdout, cells, 6);
  else
    rc = out_table_add(st->table, cells, NULL);
  free(ashown);
  free(alist);
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
                                      "SUBJECT",   "MESSAGE",    "ATTRIBUTES"};
  msg_args a = {.st = {.c = c}, .topic = topic, .limit = limit};
  return listing(c, &a.st, heads, 6, run_messages, &a, "message(s)");
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

typedef struct msg_attr_opts {
  const char *args[MAX_MSG_ATTR_OPTS]; /* --message-attribute */
  size_t n;
  const char *file; /* --message-attributes JSON or @FILE */
} msg_attr_opts;

/* The MessageAttributes of --message-attribute and --message-attributes
 * as one JSON object text (*out malloc'd, NULL when none given). The
 * library checks them in full at publish; here they are put together. */
static int msg_attrs_json(cli_ctx *c, const msg_attr_opts *o, char **out)
{
  char *why = NULL, *text = NULL;
  ch_err rc = CH_OK;
  *out = NULL;
  if(o->file) {
    int code = cli_arg_text(c, "--message-attributes", o->file,
                            CERTHUB_MSG_ATTRS_TEXT_MAX, &text, NULL);
    if(code)
      return code;
    rc = certhub_msg_attrs_merge(out, text, &why);
    free(text);
  }
  for(size_t i = 0; !rc && i < o->n; i++)
    rc = certhub_msg_attrs_add_arg(out, o->args[i], &why);
  if(rc) {
    int code = cli_fail(c, cli_exit_for(rc), "%s%s",
                        o->file && !o->n ? "--message-attributes: "
                                         : "--message-attribute: ",
                        why ? why : certhub_strerror(rc));
    free(why);
    free(*out);
    *out = NULL;
    return code;
  }
  return 0;
}

static int topics_publish(cli_ctx *c, const char *name, const char *message,
                          const char *subject, const msg_attr_opts *ao)
{
  certhub_store *s = NULL;
  char *body = NULL, *attrs = NULL;
  size_t len = 0;
  char id[CERTHUB_MESSAGE_ID_LEN + 1];
  int code = 0;
  if((code = msg_attrs_json(c, ao, &attrs)))
    return code;
  if(message[0] == '@') {
    /* Past SNS's limit the read stops and names the limit itself. */
    code = cli_read_file(c, "--message", message + 1, CERTHUB_MESSAGE_MAX,
                         &body, &len);
    if(code)
      goto out;
    message = body;
  }
  else
    len = strlen(message);
  /* The configuration says which topics are sealed at rest. */
  if((code = cli_config(c, false)) || (code = cli_open_store(c, &s)))
    goto out;
  ch_err rc = certhub_topic_publish_cfg_attrs(s, c->config, name, subject,
                                              message, len, attrs, c->now, id);
  /* Deliveries exist from now on (a later fan-out would add them too). */
  if(!rc && certhub_notify_fanout(s, certhub_now_ms(), NULL) && !c->quiet)
    fprintf(stderr, "certhub: topics: published; fan-out deferred: %s\n",
            certhub_store_errmsg(s));
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
  free(attrs);
  certhub_store_close(s);
  return code;
}

/* ---- subscriptions and deliveries (issue 5) --------------------------- */

#define MAX_ATTRS 32

typedef struct deliver_opts {
  const char *protocol, *endpoint, *topic, *subscription, *status, *token;
  const char *attrs[MAX_ATTRS];
  size_t n_attrs;
  bool confirmed, once;
  int64_t max_seconds;
  size_t limit;
} deliver_opts;

static json_t *sub_json(const certhub_subscription *s)
{
  char created[32];
  char redacted[256];
  certhub_time_format(s->created, created, sizeof(created));
  certhub_notify_redact(s->protocol, s->endpoint, redacted, sizeof(redacted));
  json_t *attrs = json_loads(s->attributes, 0, NULL);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s}",
                   "SubscriptionArn", s->arn, "TopicArn", s->topic_arn,
                   "Topic", s->topic, "Protocol", s->protocol, "Endpoint",
                   redacted, "Status", s->status, "Attributes",
                   attrs ? attrs : json_object(), "Created", created);
}

static ch_err sub_row(void *ctx, const certhub_subscription *s)
{
  list_state *st = ctx;
  st->n++;
  if(st->c->format == OUT_JSON) {
    json_t *o = sub_json(s);
    ch_err rc = o ? out_json_item(&st->js, o) : CH_ERR_NOMEM;
    json_decref(o);
    return rc;
  }
  char redacted[256];
  certhub_notify_redact(s->protocol, s->endpoint, redacted, sizeof(redacted));
  const char *cells[] = {s->arn, s->protocol, redacted, s->status};
  if(st->c->format == OUT_CSV) {
    out_csv_row(stdout, cells, 4);
    return CH_OK;
  }
  return out_table_add(st->table, cells, NULL);
}

typedef struct subs_args {
  list_state st;
  const char *topic;
} subs_args;

static ch_err run_subs(certhub_store *s, void *arg)
{
  subs_args *a = arg;
  return certhub_subscriptions(s, a->topic, sub_row, &a->st);
}

static int topics_subscriptions(cli_ctx *c, const char *topic)
{
  static const char *const heads[] = {"SUBSCRIPTION_ARN", "PROTOCOL",
                                      "ENDPOINT", "STATUS"};
  subs_args a = {.st = {.c = c}, .topic = topic};
  return listing(c, &a.st, heads, 4, run_subs, &a, "subscription(s)");
}

/* --attribute K=V ... as a JSON object text (malloc'd). A value that is
 * itself JSON (DeliveryPolicy, FilterPolicy) is passed as its text. */
static int attrs_json(cli_ctx *c, const deliver_opts *o, char **out)
{
  *out = NULL;
  if(!o->n_attrs)
    return 0;
  json_t *obj = json_object();
  if(!obj)
    return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  for(size_t i = 0; i < o->n_attrs; i++) {
    const char *eq = strchr(o->attrs[i], '=');
    if(!eq || eq == o->attrs[i]) {
      json_decref(obj);
      return cli_usage(c, "--attribute '%s': use KEY=VALUE", o->attrs[i]);
    }
    char key[128];
    snprintf(key, sizeof(key), "%.*s", (int)(eq - o->attrs[i]), o->attrs[i]);
    char *val = NULL;
    int code = cli_arg_text(c, "--attribute", eq + 1, CERTHUB_SUB_ATTRS_MAX,
                            &val, NULL);
    if(code) {
      json_decref(obj);
      return code;
    }
    json_object_set_new(obj, key, json_string(val));
    free(val);
  }
  *out = json_dumps(obj, JSON_COMPACT);
  json_decref(obj);
  return *out ? 0 : cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
}

static int topics_subscribe(cli_ctx *c, const char *topic,
                            const deliver_opts *o)
{
  certhub_store *s = NULL;
  char arn[CERTHUB_SUB_ARN_MAX], *attrs = NULL;
  bool pending = false;
  if(!o->protocol || !o->endpoint)
    return cli_usage(c, "subscribe needs --protocol P and --endpoint E");
  char *ep = NULL;
  int code = attrs_json(c, o, &attrs);
  if(code)
    return code;
  /* @FILE keeps a secret endpoint out of the command line. */
  if((code = cli_arg_text(c, "--endpoint", o->endpoint, CERTHUB_ENDPOINT_MAX,
                          &ep, NULL)))
    goto out;
  for(size_t n = strlen(ep); n && (ep[n - 1] == '\n' || ep[n - 1] == '\r');)
    ep[--n] = '\0';
  if((code = cli_open_store(c, &s)))
    goto out;
  ch_err rc = certhub_subscribe(s, topic, o->protocol, ep, attrs, o->confirmed,
                                c->now, arn, &pending);
  if(rc) {
    code = cli_fail(c, cli_exit_for(rc), "subscribe to '%s': %s", topic,
                    certhub_store_errmsg(s));
    goto out;
  }
  if(c->format == OUT_JSON) {
    json_t *j =
        json_pack("{s:s, s:s}", "SubscriptionArn", arn, "Status",
                  pending ? CERTHUB_SUB_PENDING : CERTHUB_SUB_CONFIRMED);
    if(!j || out_json_print(stdout, j))
      code = cli_fail(c, CLI_EXIT_INTERNAL, "writing output");
    json_decref(j);
  }
  else
    printf("%s\n", arn);
  if(!c->quiet && pending)
    fprintf(stderr, "certhub: topics: pending confirmation: a "
                    "SubscriptionConfirmation is queued for delivery\n");
out:
  free(ep);
  free(attrs);
  certhub_store_close(s);
  return code;
}

static int topics_confirm(cli_ctx *c, const char *topic, const char *token)
{
  certhub_store *s = NULL;
  char arn[CERTHUB_SUB_ARN_MAX];
  int code = cli_open_store(c, &s);
  if(code)
    return code;
  ch_err rc = certhub_subscription_confirm(s, topic, token, c->now, arn);
  if(rc)
    code =
        cli_fail(c, cli_exit_for(rc), "confirm: %s", certhub_store_errmsg(s));
  else
    printf("%s\n", arn);
  certhub_store_close(s);
  return code;
}

static int topics_unsubscribe(cli_ctx *c, const char *arn, const char *token)
{
  certhub_store *s = NULL;
  int code = cli_open_store(c, &s);
  if(code)
    return code;
  ch_err rc = certhub_unsubscribe(s, arn, token);
  if(rc)
    code = cli_fail(c, cli_exit_for(rc), "unsubscribe: %s",
                    certhub_store_errmsg(s));
  else if(!c->quiet)
    fprintf(stderr, "certhub: topics: unsubscribed %s\n", arn);
  certhub_store_close(s);
  return code;
}

static void ms_format(int64_t ms, char *buf, size_t n)
{
  if(ms <= 0) {
    snprintf(buf, n, "-");
    return;
  }
  certhub_time_format(ms / 1000, buf, n);
}

static ch_err delivery_row(void *ctx, const certhub_sns_delivery *d)
{
  list_state *st = ctx;
  char id[32], created[32], updated[32], next[32], attempts[16], code[16];
  st->n++;
  snprintf(id, sizeof(id), "%lld", (long long)d->id);
  ms_format(d->created_ms, created, sizeof(created));
  ms_format(d->updated_ms, updated, sizeof(updated));
  ms_format(strcmp(d->status, CERTHUB_DLV_PENDING) ? 0 : d->next_at_ms, next,
            sizeof(next));
  snprintf(attempts, sizeof(attempts), "%u", d->attempts);
  snprintf(code, sizeof(code), "%d", d->last_code);
  if(st->c->format == OUT_JSON) {
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:s,"
        " s:s}",
        "Id", (json_int_t)d->id, "Type", d->kind, "MessageId", d->message_id,
        "TopicArn", d->topic_arn, "SubscriptionArn", d->sub_arn, "Protocol",
        d->protocol, "Status", d->status, "Attempts", (int)d->attempts,
        "LastCode", d->last_code, "LastDetail", d->last_detail, "Codes",
        d->codes, "Created", created, "Updated", updated, "NextAttempt", next);
    ch_err rc = o ? out_json_item(&st->js, o) : CH_ERR_NOMEM;
    json_decref(o);
    return rc;
  }
  const char *cells[] = {id,         created,   d->message_id,
                         d->sub_arn, d->status, attempts,
                         d->codes,   next,      d->last_detail};
  if(st->c->format == OUT_CSV) {
    out_csv_row(stdout, cells, 9);
    return CH_OK;
  }
  return out_table_add(st->table, cells, NULL);
}

typedef struct dlv_args {
  list_state st;
  certhub_sns_delivery_filter f;
} dlv_args;

static ch_err run_deliveries(certhub_store *s, void *arg)
{
  dlv_args *a = arg;
  return certhub_deliveries(s, &a->f, delivery_row, &a->st);
}

static int topics_deliveries(cli_ctx *c, const deliver_opts *o,
                             const char *status)
{
  static const char *const heads[] = {
      "ID",     "CREATED",  "MESSAGE_ID", "SUBSCRIPTION_ARN",
      "STATUS", "ATTEMPTS", "CODES",      "NEXT_ATTEMPT",
      "DETAIL"};
  dlv_args a = {.st = {.c = c},
                .f = {.topic = o->topic,
                      .sub_arn = o->subscription,
                      .status = status,
                      .limit = o->limit}};
  return listing(c, &a.st, heads, 9, run_deliveries, &a, "delivery(ies)");
}

static int topics_dlq(cli_ctx *c, const char *action, const char *idarg,
                      const deliver_opts *o)
{
  int64_t id = 0;
  uint64_t n = 0;
  if(!strcmp(action, "list")) {
    if(idarg)
      return cli_usage(c, "dlq list: unexpected argument '%s'", idarg);
    return topics_deliveries(c, o, CERTHUB_DLV_DEAD);
  }
  if(strcmp(action, "redrive") && strcmp(action, "purge"))
    return cli_usage(c, "dlq: unknown action '%s' (list, redrive, purge)",
                     action);
  if(idarg && cli_parse_num(c, "ID", idarg, 1, INT64_MAX, &id))
    return c->exit_code;
  certhub_store *s = NULL;
  int code = cli_open_store(c, &s);
  if(code)
    return code;
  ch_err rc = !strcmp(action, "redrive")
                  ? certhub_dlq_redrive(s, id, o->topic, certhub_now_ms(), &n)
                  : certhub_dlq_purge(s, id, o->topic, &n);
  if(rc)
    code = cli_fail(c, cli_exit_for(rc), "dlq %s: %s", action,
                    certhub_store_errmsg(s));
  else if(!c->quiet)
    fprintf(stderr, "certhub: topics: %s %llu dead-letter delivery(ies)\n",
            !strcmp(action, "redrive") ? "redrove" : "purged",
            (unsigned long long)n);
  certhub_store_close(s);
  return code;
}

static void deliver_log(void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void deliver_log(void *ctx, const char *fmt, ...)
{
  cli_ctx *c = ctx;
  va_list ap;
  if(c->quiet)
    return;
  va_start(ap, fmt);
  fprintf(stderr, "certhub: topics: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* The lock `certhub serve` holds on a database (DB.serve.lock, flock): one
 * dispatcher per database, or every delivery could go out twice. Returns
 * the descriptor (-1: not a local database) or an exit code through
 * *code. */
static int deliver_lock(cli_ctx *c, int *code)
{
  const char *t = c->db_target;
  char path[4096];
  *code = 0;
  if(!t || strstr(t, "://"))
    return -1;
  if(!strncmp(t, "sqlite:", 7))
    t += 7;
  if(snprintf(path, sizeof(path), "%s.serve.lock", t) >= (int)sizeof(path)) {
    *code = cli_fail(c, CLI_EXIT_USAGE, "database path too long");
    return -1;
  }
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if(fd < 0) {
    *code = cli_fail(c, CLI_EXIT_INTERNAL, "cannot open %s: %s", path,
                     strerror(errno));
    return -1;
  }
  if(flock(fd, LOCK_EX | LOCK_NB) != 0) {
    *code = cli_fail(c, CLI_EXIT_USAGE,
                     "deliver: certhub serve is running on %s and delivers "
                     "itself (%s is locked)",
                     t, path);
    close(fd);
    return -1;
  }
  return fd;
}

/* Drain due deliveries: --once until nothing is due now; else until
 * nothing is pending at all, waiting for scheduled retries, for at most
 * --max-seconds. */
static int topics_deliver(cli_ctx *c, const deliver_opts *o)
{
  certhub_store *s = NULL;
  certhub_notify_engine *e = NULL;
  certhub_notify_stats st = {0};
  char *why = NULL;
  int code = cli_config(c, false);
  if(code)
    return code;
  if((code = cli_open_store(c, &s)))
    return code;
  int lockfd = deliver_lock(c, &code);
  if(code) {
    certhub_store_close(s);
    return code;
  }
  cli_notify nc;
  ch_err rc = CH_OK;
  if((code = cli_notify_setup(c, s, &nc)))
    goto out;
  nc.cfg.log = deliver_log;
  nc.cfg.log_ctx = c;
  rc = certhub_notify_engine_new(s, &nc.cfg, &e, &why);
  if(rc) {
    code = cli_fail(c, cli_exit_for(rc), "%s", why ? why : "engine");
    goto out;
  }
  int64_t deadline = certhub_now_ms() + o->max_seconds * 1000;
  for(;;) {
    rc = certhub_notify_engine_step(e, 200, &st);
    if(rc) {
      code = cli_fail(c, cli_exit_for(rc), "deliver: %s",
                      certhub_store_errmsg(s));
      goto out;
    }
    int64_t now = certhub_now_ms(), due = INT64_MAX;
    if(now >= deadline)
      break;
    if(certhub_notify_engine_in_flight(e))
      continue;
    if((rc = certhub_notify_engine_next_due(e, &due))) {
      code = cli_fail(c, cli_exit_for(rc), "deliver: %s",
                      certhub_store_errmsg(s));
      goto out;
    }
    if(due == INT64_MAX || (o->once && due > now))
      break;
    if(due > now) {
      int64_t ms = (due < deadline ? due : deadline) - now;
      struct timespec ts = {.tv_sec = ms / 1000,
                            .tv_nsec = (ms % 1000) * 1000000};
      nanosleep(&ts, NULL);
    }
  }
out:
  certhub_notify_engine_free(e, 2000);
  cli_notify_free(&nc);
  if(!code) {
    if(c->format == OUT_JSON) {
      json_t *j = json_pack(
          "{s:I, s:I, s:I, s:I, s:I, s:I}", "FannedOut", (json_int_t)st.fanned,
          "Attempted", (json_int_t)st.attempted, "Delivered",
          (json_int_t)st.delivered, "Retried", (json_int_t)st.retried,
          "DeadLettered", (json_int_t)st.dead, "Filtered",
          (json_int_t)st.filtered);
      if(!j || out_json_print(stdout, j))
        code = cli_fail(c, CLI_EXIT_INTERNAL, "writing output");
      json_decref(j);
    }
    else if(!c->quiet)
      fprintf(stderr,
              "certhub: topics: %llu attempted, %llu delivered, %llu to "
              "retry, %llu dead-lettered, %llu filtered\n",
              (unsigned long long)st.attempted,
              (unsigned long long)st.delivered, (unsigned long long)st.retried,
              (unsigned long long)st.dead, (unsigned long long)st.filtered);
  }
  free(why);
  certhub_store_close(s);
  if(lockfd >= 0)
    close(lockfd); /* releases the flock */
  return code;
}

/* The subscription and delivery subcommands; args are the operands. */
static int topics_more(cli_ctx *c, const char *sub, char **args, int nargs,
                       deliver_opts *o)
{
  bool subscribe = !strcmp(sub, "subscribe");
  bool deliveries = !strcmp(sub, "deliveries");
  bool deliver = !strcmp(sub, "deliver");
  if(!subscribe && (o->protocol || o->endpoint || o->n_attrs || o->confirmed))
    return cli_usage(c, "--protocol, --endpoint, --attribute and "
                        "--confirmed are for 'subscribe'");
  if(!deliveries && strcmp(sub, "dlq") && (o->topic || o->subscription))
    return cli_usage(c, "--topic and --subscription are for 'deliveries' "
                        "and 'dlq'");
  if(!deliveries && o->status)
    return cli_usage(c, "--status is for 'deliveries'");
  if(!deliveries && strcmp(sub, "dlq") && o->limit)
    return cli_usage(c, "--limit is for 'messages', 'deliveries' and 'dlq'");
  if(!deliver && (o->once || o->max_seconds != 60))
    return cli_usage(c, "--once and --max-seconds are for 'deliver'");
  if(strcmp(sub, "unsubscribe") && o->token)
    return cli_usage(c, "--token is for 'unsubscribe'");
  if(subscribe) {
    if(nargs != 1)
      return cli_usage(c,
                       nargs ? "subscribe: unexpected argument '%s'"
                             : "subscribe: missing topic NAME%s",
                       nargs ? args[1] : "");
    return topics_subscribe(c, args[0], o);
  }
  if(!strcmp(sub, "unsubscribe")) {
    if(nargs != 1)
      return cli_usage(c, "unsubscribe: give one SUBSCRIPTION-ARN");
    return topics_unsubscribe(c, args[0], o->token);
  }
  if(!strcmp(sub, "subscriptions")) {
    if(nargs > 1)
      return cli_usage(c, "unexpected argument '%s'", args[1]);
    return topics_subscriptions(c, nargs ? args[0] : NULL);
  }
  if(!strcmp(sub, "confirm")) {
    if(nargs != 2)
      return cli_usage(c, "confirm: give TOPIC and TOKEN");
    return topics_confirm(c, args[0], args[1]);
  }
  if(deliveries) {
    if(nargs)
      return cli_usage(c, "unexpected argument '%s'", args[0]);
    return topics_deliveries(c, o, o->status);
  }
  if(!strcmp(sub, "dlq")) {
    if(nargs < 1 || nargs > 2)
      return cli_usage(c, "dlq: give list, redrive [ID] or purge [ID]");
    return topics_dlq(c, args[0], nargs > 1 ? args[1] : NULL, o);
  }
  if(nargs)
    return cli_usage(c, "unexpected argument '%s'", args[0]);
  return topics_deliver(c, o);
}

int cmd_topics(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"message", required_argument, NULL, OPT_MESSAGE},
      {"subject", required_argument, NULL, OPT_SUBJECT},
      {"limit", required_argument, NULL, OPT_LIMIT},
      {"display-name", required_argument, NULL, OPT_DISPLAY},
      {"protocol", required_argument, NULL, OPT_PROTOCOL},
      {"endpoint", required_argument, NULL, OPT_ENDPOINT},
      {"attribute", required_argument, NULL, OPT_ATTRIBUTE},
      {"confirmed", no_argument, NULL, OPT_CONFIRMED},
      {"topic", required_argument, NULL, OPT_TOPIC},
      {"subscription", required_argument, NULL, OPT_SUBSCRIPTION},
      {"status", required_argument, NULL, OPT_STATUS},
      {"once", no_argument, NULL, OPT_ONCE},
      {"max-seconds", required_argument, NULL, OPT_MAX_SECONDS},
      {"token", required_argument, NULL, OPT_TOKEN},
      {"message-attribute", required_argument, NULL, OPT_MSG_ATTRIBUTE},
      {"message-attributes", required_argument, NULL, OPT_MSG_ATTRIBUTES},
      {NULL, 0, NULL, 0},
  };
  deliver_opts dopt = {.max_seconds = 60};
  msg_attr_opts aopt = {.n = 0};
  bool has_dopt = false;
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
    case OPT_PROTOCOL:
      dopt.protocol = optarg;
      has_dopt = true;
      break;
    case OPT_ENDPOINT:
      dopt.endpoint = optarg;
      has_dopt = true;
      break;
    case OPT_ATTRIBUTE:
      if(dopt.n_attrs == MAX_ATTRS)
        return cli_usage(c, "at most %d --attribute options", MAX_ATTRS);
      dopt.attrs[dopt.n_attrs++] = optarg;
      has_dopt = true;
      break;
    case OPT_CONFIRMED:
      dopt.confirmed = has_dopt = true;
      break;
    case OPT_TOPIC:
      dopt.topic = optarg;
      has_dopt = true;
      break;
    case OPT_SUBSCRIPTION:
      dopt.subscription = optarg;
      has_dopt = true;
      break;
    case OPT_STATUS:
      dopt.status = optarg;
      has_dopt = true;
      break;
    case OPT_ONCE:
      dopt.once = has_dopt = true;
      break;
    case OPT_MAX_SECONDS:
      if(cli_parse_num(c, "--max-seconds", optarg, 1, 86400,
                       &dopt.max_seconds))
        return c->exit_code;
      has_dopt = true;
      break;
    case OPT_TOKEN:
      dopt.token = optarg;
      has_dopt = true;
      break;
    case OPT_MSG_ATTRIBUTE:
      if(aopt.n == MAX_MSG_ATTR_OPTS)
        return cli_usage(c, "at most %d --message-attribute options",
                         MAX_MSG_ATTR_OPTS);
      aopt.args[aopt.n++] = optarg;
      break;
    case OPT_MSG_ATTRIBUTES:
      if(aopt.file)
        return cli_usage(c, "--message-attributes is given twice");
      aopt.file = optarg;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(optind >= argc)
    return cli_usage(
        c, "missing subcommand (create, list, delete, publish, messages, "
           "subscribe, unsubscribe, subscriptions, confirm, deliveries, dlq, "
           "deliver)");
  const char *sub = argv[optind++];
  const char *name = optind < argc ? argv[optind] : NULL;
  int nargs = argc - optind;
  if(!strcmp(sub, "subscribe") || !strcmp(sub, "unsubscribe") ||
     !strcmp(sub, "subscriptions") || !strcmp(sub, "confirm") ||
     !strcmp(sub, "deliveries") || !strcmp(sub, "dlq") ||
     !strcmp(sub, "deliver")) {
    if(message || subject || display)
      return cli_usage(c,
                       "--message, --subject and --display-name are not "
                       "for '%s'",
                       sub);
    if(aopt.n || aopt.file)
      return cli_usage(c,
                       "--message-attribute and --message-attributes are "
                       "not for '%s'",
                       sub);
    dopt.limit = (size_t)limit;
    return topics_more(c, sub, argv + optind, nargs, &dopt);
  }
  if(has_dopt)
    return cli_usage(c,
                     "subscription and delivery options are not for "
                     "'%s'",
                     sub);
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
  if((aopt.n || aopt.file) && strcmp(sub, "publish"))
    return cli_usage(c, "--message-attribute and --message-attributes are "
                        "for 'publish'");
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
  return topics_publish(c, name, message, subject, &aopt);
}
