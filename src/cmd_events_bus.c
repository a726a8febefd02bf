/*
 * certhub events put | list | show: putting events on the bus and reading
 * the event archive. (events test-pattern is in cmd_events.c.)
 *
 * put answers like PutEvents: {"FailedEntryCount": n, "Entries": [...]},
 * one entry per input entry, in order. Like PutEvents, the valid entries
 * are stored even when others fail; the exit status is then 2.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/bus.h"
#include "certhub/pattern.h"
#include "cli.h"

enum {
  OPT_SOURCE = 0x100,
  OPT_DETAIL_TYPE,
  OPT_DETAIL,
  OPT_BUS,
  OPT_RESOURCES,
  OPT_TIME,
  OPT_ENTRIES,
  OPT_SINCE,
  OPT_UNTIL,
  OPT_LIMIT,
};

/* --entries input cap: bounds memory whatever the file (PutEvents itself
 * takes 10 entries per call; a file of many thousands fits easily). */
#define ENTRIES_MAX_BYTES ((size_t)64 << 20)
/* Entries stored per transaction. */
#define PUT_BATCH 1000

/* PutEvents-style error code for a put failure. */
static const char *error_code(ch_err e, const char *msg)
{
  if(e == CH_ERR_NOTFOUND)
    return "ResourceNotFoundException";
  if(e == CH_ERR_TOOBIG)
    return "EntrySizeExceeded";
  if(!strncmp(msg, "Detail ", 7))
    return "MalformedDetail";
  return "InvalidArgument";
}

typedef struct put_run {
  cli_ctx *c;
  certhub_store *s;
  json_t *entries; /* the answer's Entries */
  size_t failed;
  size_t in_tx; /* puts in the open transaction */
} put_run;

/* Put one event; record the answer entry. Returns an exit code for
 * storage failures only (an invalid entry is an answer entry). */
static int put_one(put_run *p, const certhub_event *ev, const char *pre_error)
{
  char id[37];
  bool stored = false;
  json_t *ent = json_object();
  ch_err rc = CH_ERR_PARSE;
  const char *msg = pre_error;
  if(!ent)
    return cli_fail(p->c, CLI_EXIT_INTERNAL, "out of memory");
  if(!pre_error) {
    if(!p->in_tx && (rc = certhub_store_begin(p->s))) {
      json_decref(ent);
      return cli_store_fail(p->c, p->s, rc, "storing events");
    }
    p->in_tx++;
    rc = certhub_bus_put(p->s, ev, p->c->now, id, &stored);
    msg = certhub_store_errmsg(p->s);
    if(rc == CH_ERR_DB || rc == CH_ERR_BUSY || rc == CH_ERR_NOMEM ||
       rc == CH_ERR_INTERNAL) {
      json_decref(ent);
      return cli_store_fail(p->c, p->s, rc, "storing events");
    }
    if(p->in_tx >= PUT_BATCH) {
      ch_err crc = certhub_store_commit(p->s);
      p->in_tx = 0;
      if(crc) {
        json_decref(ent);
        return cli_store_fail(p->c, p->s, crc, "storing events");
      }
    }
  }
  if(!rc)
    json_object_set_new(ent, "EventId", json_string(id));
  else {
    p->failed++;
    json_object_set_new(ent, "ErrorCode",
                        json_string(error_code(rc, msg ? msg : "")));
    json_object_set_new(ent, "ErrorMessage", json_string(msg ? msg : ""));
  }
  json_array_append_new(p->entries, ent);
  return 0;
}

/* Resources "a,b,c" split in place; false when there are more than max. */
static bool split_resources(char *s, const char **out, size_t max, size_t *n)
{
  *n = 0;
  for(char *tok = s; tok;) {
    char *comma = strchr(tok, ',');
    if(comma)
      *comma = '\0';
    if(*tok) {
      if(*n == max)
        return false;
      out[(*n)++] = tok;
    }
    tok = comma ? comma + 1 : NULL;
  }
  return true;
}

/* One PutEvents entry object into ev (borrowing from e). Returns an error
 * message for the answer entry, or NULL. */
static const char *entry_event(const json_t *e, certhub_event *ev,
                               const char **res, size_t max_res, char **dtext,
                               char *err, size_t errlen)
{
  static const char *const known[] = {"Source",       "DetailType", "Detail",
                                      "EventBusName", "Resources",  "Time"};
  memset(ev, 0, sizeof(*ev));
  *dtext = NULL;
  if(!json_is_object(e))
    return "an entry must be a JSON object";
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)e, k, v)
  {
    bool ok = false;
    for(size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
      ok = ok || !strcmp(k, known[i]);
    if(!ok) {
      snprintf(err, errlen, "unknown key '%.64s'", k);
      return err;
    }
  }
  json_t *src = json_object_get(e, "Source");
  json_t *dt = json_object_get(e, "DetailType");
  json_t *det = json_object_get(e, "Detail");
  json_t *bus = json_object_get(e, "EventBusName");
  json_t *rs = json_object_get(e, "Resources");
  json_t *tm = json_object_get(e, "Time");
  if(src && !json_is_string(src))
    return "Source must be a string";
  if(dt && !json_is_string(dt))
    return "DetailType must be a string";
  if(bus && !json_is_string(bus))
    return "EventBusName must be a string";
  ev->source = json_string_value(src);
  ev->detail_type = json_string_value(dt);
  ev->bus = json_string_value(bus);
  if(det && json_is_string(det))
    ev->detail = json_string_value(det);
  else if(det && json_is_object(det)) {
    /* certhub: an object is accepted too (PutEvents wants a string). */
    if(!(*dtext = json_dumps(det, JSON_COMPACT)))
      return "out of memory";
    ev->detail = *dtext;
  }
  else if(det)
    return "Detail must be a string holding a JSON object";
  if(rs) {
    if(!json_is_array(rs))
      return "Resources must be an array of strings";
    if(json_array_size(rs) > max_res)
      return "too many Resources";
    for(size_t i = 0; i < json_array_size(rs); i++) {
      if(!json_is_string(json_array_get(rs, i)))
        return "Resources must be an array of strings";
      res[i] = json_string_value(json_array_get(rs, i));
    }
    ev->resources = res;
    ev->n_resources = json_array_size(rs);
  }
  if(tm) {
    int64_t t;
    if(json_is_integer(tm))
      ev->time = (int64_t)json_integer_value(tm);
    else if(json_is_string(tm) &&
            !certhub_time_parse(json_string_value(tm), &t))
      ev->time = t;
    else
      return "Time must be RFC 3339 text or seconds since the epoch";
  }
  return NULL;
}

#define MAX_RESOURCES 100

static int put_entries(cli_ctx *c, put_run *p, const char *path)
{
  char *text = NULL;
  size_t len = 0;
  json_error_t jerr;
  json_t *arr = NULL;
  const char *res[MAX_RESOURCES];
  char err[256];
  int code =
      cli_read_file(c, "--entries", path, ENTRIES_MAX_BYTES, &text, &len);
  if(code)
    return code;
  arr = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  free(text);
  if(!arr)
    return cli_fail(c, CLI_EXIT_USAGE,
                    "--entries %s: invalid JSON at line %d column %d: %s",
                    path, jerr.line, jerr.column, jerr.text);
  if(!json_is_array(arr)) {
    json_decref(arr);
    return cli_fail(c, CLI_EXIT_USAGE,
                    "--entries %s: must be a JSON array of entries", path);
  }
  for(size_t i = 0; !code && i < json_array_size(arr); i++) {
    certhub_event ev;
    char *dtext = NULL;
    const char *bad = entry_event(json_array_get(arr, i), &ev, res,
                                  MAX_RESOURCES, &dtext, err, sizeof(err));
    code = put_one(p, &ev, bad);
    free(dtext);
  }
  json_decref(arr);
  return code;
}

static int events_put(cli_ctx *c, int argc, char **argv, const char *source,
                      const char *dtype, const char *detail_arg,
                      const char *bus, char *resources, const char *time_arg,
                      const char *entries)
{
  certhub_store *s = NULL;
  char *detail = NULL;
  const char *res[MAX_RESOURCES];
  int code = 0;
  put_run p = {.c = c};
  if(optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if(entries &&
     (source || dtype || detail_arg || bus || resources || time_arg))
    return cli_usage(c, "--entries cannot be combined with the options of "
                        "one event");
  if(!entries && (!source || !dtype))
    return cli_usage(c, "put needs --source and --detail-type, or --entries");
  certhub_event ev = {.source = source, .detail_type = dtype, .bus = bus};
  if(!entries) {
    if(detail_arg &&
       (code = cli_arg_text(c, "--detail", detail_arg,
                            4 * CERTHUB_EVENT_MAX_LEN, &detail, NULL)))
      goto out;
    ev.detail = detail;
    if(resources &&
       !split_resources(resources, res, MAX_RESOURCES, &ev.n_resources)) {
      code =
          cli_usage(c, "--resources: more than %d resources", MAX_RESOURCES);
      goto out;
    }
    ev.resources = res;
    if(time_arg && certhub_time_parse(time_arg, &ev.time)) {
      code = cli_usage(c, "--time: '%s' is not an RFC 3339 time", time_arg);
      goto out;
    }
  }
  if((code = cli_open_store(c, &s)))
    goto out;
  if(!(p.entries = json_array())) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  p.s = s;
  code = entries ? put_entries(c, &p, entries) : put_one(&p, &ev, NULL);
  if(code)
    goto out;
  if(p.in_tx) {
    ch_err rc = certhub_store_commit(s);
    p.in_tx = 0;
    if(rc) {
      code = cli_store_fail(c, s, rc, "storing events");
      goto out;
    }
  }
  json_t *answer = json_pack("{s:I,s:O}", "FailedEntryCount",
                             (json_int_t)p.failed, "Entries", p.entries);
  if(!answer || out_json_print(stdout, answer) || fflush(stdout))
    code =
        cli_fail(c, CLI_EXIT_INTERNAL, "writing output: %s", strerror(errno));
  json_decref(answer);
  if(!code && p.failed) {
    if(!entries) /* one event: say why on stderr too */
      code = cli_fail(c, CLI_EXIT_USAGE, "event not stored: %s",
                      json_string_value(json_object_get(
                          json_array_get(p.entries, 0), "ErrorMessage")));
    else
      code = cli_fail(c, CLI_EXIT_USAGE, "%zu of %zu entries not stored",
                      p.failed, json_array_size(p.entries));
  }
out:
  if(p.in_tx)
    certhub_store_rollback(s);
  json_decref(p.entries);
  certhub_store_close(s);
  free(detail);
  return code;
}

/* ---- list, show -----------------------------------------------------------
 */

typedef struct list_run {
  cli_ctx *c;
  out_table *t;
  out_json_stream js;
  size_t n;
} list_run;

static json_t *event_json(const certhub_bus_event_rec *e)
{
  char when[32], ing[32];
  certhub_time_format(e->time, when, sizeof(when));
  certhub_time_format(e->ingested_at, ing, sizeof(ing));
  json_t *env = json_loads(e->envelope, 0, NULL);
  return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:o?}", "EventId", e->id,
                   "EventBusName", e->bus, "Source", e->source, "DetailType",
                   e->detail_type, "Time", when, "IngestedAt", ing, "Routed",
                   e->routed, "Event", env);
}

static ch_err list_row(void *ctx, const certhub_bus_event_rec *e)
{
  list_run *l = ctx;
  l->n++;
  if(l->c->format == OUT_JSON) {
    json_t *o = event_json(e);
    if(!o)
      return CH_ERR_NOMEM;
    ch_err rc = out_json_item(&l->js, o);
    json_decref(o);
    return rc;
  }
  char when[32];
  certhub_time_format(e->time, when, sizeof(when));
  const char *cells[] = {when,      e->id,          e->bus,
                         e->source, e->detail_type, e->routed ? "yes" : "no"};
  if(l->c->format == OUT_CSV) {
    out_csv_row(stdout, cells, 6);
    return CH_OK;
  }
  return out_table_add(l->t, cells, NULL);
}

static int events_list(cli_ctx *c, int argc, char **argv,
                       certhub_bus_event_filter *f)
{
  static const char *const hdr[] = {"TIME",   "ID",          "BUS",
                                    "SOURCE", "DETAIL-TYPE", "ROUTED"};
  certhub_store *s = NULL;
  list_run l = {.c = c};
  int code;
  if(optind < argc)
    return cli_usage(c, "unexpected argument '%s'", argv[optind]);
  if((code = cli_open_store(c, &s)))
    return code;
  if(c->format == OUT_TABLE && !(l.t = out_table_new(hdr, 6))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  if(c->format == OUT_JSON)
    out_json_begin(&l.js, stdout);
  if(c->format == OUT_CSV)
    out_csv_row(stdout, hdr, 6);
  ch_err rc = certhub_store_event_list(s, f, list_row, &l);
  if(c->format == OUT_JSON)
    out_json_end(&l.js);
  if(rc) {
    code = cli_store_fail(c, s, rc, "listing events");
    goto out;
  }
  if(l.t)
    out_table_print(l.t, stdout, c->color);
  if(!c->quiet && c->format == OUT_TABLE)
    fprintf(stderr, "%zu event%s\n", l.n, l.n == 1 ? "" : "s");
out:
  out_table_free(l.t);
  certhub_store_close(s);
  return code;
}

typedef struct show_run {
  cli_ctx *c;
  certhub_store *s;
  int code;
} show_run;

static ch_err add_delivery(void *ctx, const certhub_bus_outbox_row *o)
{
  char when[32] = "";
  if(o->last_attempt_at)
    certhub_time_format(o->last_attempt_at, when, sizeof(when));
  json_t *d =
      json_pack("{s:s,s:s,s:s,s:s,s:I,s:s*,s:s}", "EventBusName", o->bus,
                "Rule", o->rule, "TargetId", o->target_id, "State", o->state,
                "Attempts", (json_int_t)o->attempts, "LastAttempt",
                *when ? when : NULL, "LastError", o->last_error);
  return d && !json_array_append_new(ctx, d) ? CH_OK : CH_ERR_NOMEM;
}

static ch_err show_row(void *ctx, const certhub_bus_event_rec *e)
{
  show_run *r = ctx;
  ch_err rc = CH_OK;
  json_t *o = r->c->format == OUT_JSON ? event_json(e)
                                       : json_loads(e->envelope, 0, NULL);
  if(!o)
    return CH_ERR_NOMEM;
  /* JSON output adds the deliveries of the event (the outbox rows). */
  if(r->c->format == OUT_JSON) {
    json_t *ds = json_array();
    if(!ds || json_object_set_new(o, "Deliveries", ds))
      rc = CH_ERR_NOMEM;
    if(!rc)
      rc = certhub_store_outbox_of_event(r->s, e->id, add_delivery, ds);
  }
  if(!rc)
    rc = out_json_print(stdout, o);
  json_decref(o);
  return rc;
}

static int events_show(cli_ctx *c, int argc, char **argv)
{
  certhub_store *s = NULL;
  const char *id;
  int code = cli_one_ref(c, argc, argv, &id);
  if(code)
    return code;
  if((code = cli_open_store(c, &s)))
    return code;
  show_run r = {.c = c, .s = s};
  ch_err rc = certhub_store_event_get(s, id, show_row, &r);
  if(rc == CH_ERR_NOTFOUND)
    code = cli_fail(c, CLI_EXIT_USAGE, "no event with id '%s'", id);
  else if(rc)
    code = cli_store_fail(c, s, rc, "reading event");
  certhub_store_close(s);
  return code;
}

int cmd_events_bus(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"source", required_argument, NULL, OPT_SOURCE},
      {"detail-type", required_argument, NULL, OPT_DETAIL_TYPE},
      {"detail", required_argument, NULL, OPT_DETAIL},
      {"bus", required_argument, NULL, OPT_BUS},
      {"resources", required_argument, NULL, OPT_RESOURCES},
      {"time", required_argument, NULL, OPT_TIME},
      {"entries", required_argument, NULL, OPT_ENTRIES},
      {"since", required_argument, NULL, OPT_SINCE},
      {"until", required_argument, NULL, OPT_UNTIL},
      {"limit", required_argument, NULL, OPT_LIMIT},
      {NULL, 0, NULL, 0},
  };
  const char *source = NULL, *dtype = NULL, *detail = NULL, *bus = NULL,
             *time_arg = NULL, *entries = NULL, *since = NULL, *until = NULL;
  char *resources = NULL;
  int64_t limit = 0;
  int r;
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_SOURCE:
      source = optarg;
      break;
    case OPT_DETAIL_TYPE:
      dtype = optarg;
      break;
    case OPT_DETAIL:
      detail = optarg;
      break;
    case OPT_BUS:
      bus = optarg;
      break;
    case OPT_RESOURCES:
      resources = optarg;
      break;
    case OPT_TIME:
      time_arg = optarg;
      break;
    case OPT_ENTRIES:
      entries = optarg;
      break;
    case OPT_SINCE:
      since = optarg;
      break;
    case OPT_UNTIL:
      until = optarg;
      break;
    case OPT_LIMIT:
      if(cli_parse_num(c, "--limit", optarg, 1, 1000000000, &limit))
        return CLI_EXIT_USAGE;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(optind >= argc)
    return cli_usage(c, "missing subcommand (put, list, show, test-pattern)");
  const char *sub = argv[optind++];
  bool put = !strcmp(sub, "put"), list = !strcmp(sub, "list");
  if(!put && (detail || resources || time_arg || entries))
    return cli_usage(c,
                     "%s: --detail, --resources, --time and --entries are"
                     " options of put",
                     sub);
  if(!list && (since || until || limit))
    return cli_usage(c, "%s: --since, --until and --limit are options of list",
                     sub);
  if(!put && !list && (source || dtype || bus))
    return cli_usage(c, "%s: unexpected option", sub);
  if(put)
    return events_put(c, argc, argv, source, dtype, detail, bus, resources,
                      time_arg, entries);
  if(list) {
    certhub_bus_event_filter f = {.bus = bus,
                                  .detail_type = dtype,
                                  .source = source,
                                  .limit = (size_t)limit};
    if(since && certhub_time_parse(since, &f.since))
      return cli_usage(c, "--since: '%s' is not an RFC 3339 time", since);
    if(until && certhub_time_parse(until, &f.until))
      return cli_usage(c, "--until: '%s' is not an RFC 3339 time", until);
    return events_list(c, argc, argv, &f);
  }
  if(!strcmp(sub, "show"))
    return events_show(c, argc, argv);
  return cli_usage(c,
                   "unknown subcommand '%s' (put, list, show, "
                   "test-pattern)",
                   sub);
}
