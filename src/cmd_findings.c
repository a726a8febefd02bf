/*
 * certhub findings: Security Hub over the findings store. list (GetFindings:
 * filters, sort, pages), get, update (BatchUpdateFindings), insight
 * (grouped counts), prune (retention) and import (BatchImportFindings).
 * Everything goes through the library's JSON API, the same one the HTTP
 * API serves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certhub/findings.h"
#include "cli.h"

/* In the order of cmd_findings' longopts (ALLOW names options by it). */
enum {
  OPT_SEVERITY = 0x100,
  OPT_WORKFLOW,
  OPT_RECORD_STATE,
  OPT_LIMIT,
  OPT_FILTER,
  OPT_SORT,
  OPT_MAX,
  OPT_NEXT_TOKEN,
  OPT_GROUP_BY,
  OPT_OLDER_THAN,
  OPT_PRODUCT_ARN,
  OPT_NOTE,
  OPT_BY,
  OPT_VERIFICATION,
  OPT_CONFIDENCE,
  OPT_CRITICALITY,
  OPT_FIELD,
  OPT_REQUEST,
};

#define TITLE_SHOWN 70

/* value (case-insensitive) must be one of set; *out gets the canonical
 * (uppercase) spelling. Returns 0 or a usage error. */
static int pick(cli_ctx *c, const char *opt, const char *value,
                const char *const *set, size_t n, const char *names,
                const char **out)
{
  for(size_t i = 0; i < n; i++)
    if(!strcasecmp(value, set[i])) {
      *out = set[i];
      return 0;
    }
  return cli_usage(c, "%s: '%s' is not %s", opt, value, names);
}

typedef struct list_state {
  cli_ctx *c;
  out_json_stream js;
  out_table *table;
  size_t n;
} list_state;

static const char *jstr(json_t *o, const char *key)
{
  json_t *j = json_object_get(o, key);
  return json_is_string(j) ? json_string_value(j) : "";
}

static const char *jstr2(json_t *o, const char *a, const char *b)
{
  return jstr(json_object_get(o, a), b);
}

/* One finding (its ASFF object) as a table/CSV row or JSON item. */
static ch_err show_finding(list_state *st, json_t *o)
{
  ch_err rc = CH_OK;
  st->n++;
  if(st->c->format == OUT_JSON)
    return out_json_item(&st->js, o);
  const char *sev = jstr2(o, "Severity", "Label");
  const char *updated = jstr(o, "UpdatedAt");
  char upd[32];
  /* Seconds are enough in a table: "2026-11-20T00:00:00Z". */
  snprintf(upd, sizeof(upd), "%.19sZ", updated);
  const char *title = jstr(o, "Title");
  json_t *res = json_array_get(json_object_get(o, "Resources"), 0);
  char *shown =
      st->c->format == OUT_TABLE ? out_truncate(title, TITLE_SHOWN) : NULL;
  const char *cells[] = {
      sev,          jstr2(o, "Workflow", "Status"), jstr(o, "RecordState"),
      upd,          shown ? shown : title,          jstr(res, "Id"),
      jstr(o, "Id")};
  enum out_color colors[7] = {0};
  colors[0] = !strcmp(sev, "CRITICAL") || !strcmp(sev, "HIGH") ? OUT_RED
              : !strcmp(sev, "MEDIUM")                         ? OUT_YELLOW
                                                               : OUT_PLAIN;
  if(st->c->format == OUT_CSV)
    out_csv_row(stdout, cells, 7);
  else
    rc = out_table_add(st->table, cells, colors);
  free(shown);
  return rc;
}

/* Options of list (and the filter of insight). */
typedef struct list_opts {
  const char *filter;  /* --filter JSON|@FILE: AwsSecurityFindingFilters */
  const char *sort[4]; /* --sort FIELD[:asc|desc] */
  size_t n_sort;
  int64_t max;            /* --max: one page of at most N */
  const char *next_token; /* --next-token: that page */
  int64_t limit;          /* --limit: at most N in all (0: all) */
  const char *severity, *workflow, *record_state;
  const char *group_by; /* insight --group-by */
} list_opts;

/* Append {"Value": v, "Comparison": "EQUALS"} to filters[field]. */
static int add_equals(cli_ctx *c, json_t *filters, const char *field,
                      const char *v)
{
  json_t *arr = json_object_get(filters, field);
  if(!arr) {
    arr = json_array();
    if(!arr || json_object_set_new(filters, field, arr))
      return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  }
  if(!json_is_array(arr))
    return cli_usage(c, "--filter: %s must be an array of filters", field);
  if(json_array_append_new(
         arr, json_pack("{s:s, s:s}", "Value", v, "Comparison", "EQUALS")))
    return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  return 0;
}

/* The Filters object of --filter and the shortcut options. */
static int build_filters(cli_ctx *c, const list_opts *lo, json_t **out)
{
  char *text = NULL;
  size_t len = 0;
  json_error_t jerr;
  int code = 0;
  *out = NULL;
  if(lo->filter) {
    if((code =
            cli_arg_text(c, "--filter", lo->filter, 1024 * 1024, &text, &len)))
      return code;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if(!*out)
      return cli_usage(c, "--filter: invalid JSON at line %d column %d: %s",
                       jerr.line, jerr.column, jerr.text);
    if(!json_is_object(*out)) {
      json_decref(*out);
      *out = NULL;
      return cli_usage(c, "--filter: expected a JSON object of filters, "
                          "e.g. {\"SeverityLabel\": [{\"Value\": \"HIGH\", "
                          "\"Comparison\": \"EQUALS\"}]}");
    }
  }
  else if(!(*out = json_object()))
    return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  if((lo->severity &&
      (code = add_equals(c, *out, "SeverityLabel", lo->severity))) ||
     (lo->workflow &&
      (code = add_equals(c, *out, "WorkflowStatus", lo->workflow))) ||
     (lo->record_state &&
      (code = add_equals(c, *out, "RecordState", lo->record_state)))) {
    json_decref(*out);
    *out = NULL;
  }
  return code;
}

/* The GetFindings request of lo (without NextToken). */
static int build_request(cli_ctx *c, const list_opts *lo, json_t **out)
{
  json_t *filters = NULL, *sort = NULL;
  int code = build_filters(c, lo, &filters);
  *out = NULL;
  if(code)
    return code;
  if(!(sort = json_array()))
    goto nomem;
  for(size_t i = 0; i < lo->n_sort; i++) {
    const char *colon = strrchr(lo->sort[i], ':');
    const char *order = "desc";
    size_t n = strlen(lo->sort[i]);
    if(colon) {
      n = (size_t)(colon - lo->sort[i]);
      if(!strcasecmp(colon + 1, "asc"))
        order = "asc";
      else if(strcasecmp(colon + 1, "desc")) {
        code =
            cli_usage(c, "--sort %s: the order is asc or desc", lo->sort[i]);
        goto out;
      }
    }
    if(json_array_append_new(sort,
                             json_pack("{s:s%, s:s}", "Field", lo->sort[i], n,
                                       "SortOrder", order)))
      goto nomem;
  }
  *out = json_pack("{s:O}", "Filters", filters);
  if(!*out || (lo->n_sort && json_object_set(*out, "SortCriteria", sort)))
    goto nomem;
  goto out;
nomem:
  code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
out:
  json_decref(filters);
  json_decref(sort);
  return code;
}

/* The library's refusal of a request: exit 2 for the request, 3 for
 * storage. */
static int query_fail(cli_ctx *c, certhub_store *s, ch_err rc,
                      const char *what)
{
  if(rc == CH_ERR_PARSE || rc == CH_ERR_USAGE || rc == CH_ERR_TOOBIG)
    return cli_fail(c, CLI_EXIT_USAGE, "%s: %s", what,
                    certhub_store_errmsg(s));
  return cli_store_fail(c, s, rc, what);
}

/* Run req; *resp the parsed response. */
static int run_query(cli_ctx *c, certhub_store *s, json_t *req, bool insight,
                     json_t **resp)
{
  char *text = json_dumps(req, JSON_COMPACT), *out = NULL;
  size_t len = 0;
  *resp = NULL;
  if(!text)
    return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  ch_err rc =
      insight
          ? certhub_findings_insight_json(s, text, strlen(text), &out, &len)
          : certhub_findings_query_json(s, text, strlen(text), &out, &len);
  free(text);
  if(rc)
    return query_fail(c, s, rc, insight ? "insight" : "list");
  *resp = json_loadb(out, len, 0, NULL);
  free(out);
  return *resp ? 0 : cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
}

static int findings_list(cli_ctx *c, const list_opts *lo)
{
  static const char *const heads[] = {
      "SEVERITY", "WORKFLOW", "STATE", "UPDATED", "TITLE", "RESOURCE", "ID"};
  /* The table leaves the long Id out; CSV and JSON have it. */
  size_t ncols = c->format == OUT_TABLE ? 6 : 7;
  certhub_store *s = NULL;
  list_state st = {.c = c};
  json_t *req = NULL, *resp = NULL;
  bool one_page = lo->max || lo->next_token;
  const char *token = NULL;
  int code = build_request(c, lo, &req);
  if(code)
    return code;
  if((code = cli_open_store(c, &s)))
    goto out;
  if(lo->next_token)
    json_object_set_new(req, "NextToken", json_string(lo->next_token));
  if(c->format == OUT_JSON && !one_page)
    out_json_begin(&st.js, stdout);
  else if(c->format == OUT_CSV)
    out_csv_row(stdout, heads, ncols);
  else if(c->format == OUT_TABLE &&
          !(st.table = out_table_new(heads, ncols))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  /* Without --max, every page (up to --limit findings). */
  for(;;) {
    int64_t want = lo->max ? lo->max : 100;
    if(lo->limit && lo->limit - (int64_t)st.n < want)
      want = lo->limit - (int64_t)st.n;
    json_object_set_new(req, "MaxResults", json_integer(want));
    json_decref(resp);
    if((code = run_query(c, s, req, false, &resp)))
      break;
    if(one_page && c->format == OUT_JSON) {
      /* The response itself: the caller needs its NextToken. */
      if(out_json_print(stdout, resp))
        code = cli_fail(c, CLI_EXIT_INTERNAL, "writing output");
      break;
    }
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(resp, "Findings"), i, f)
    {
      if(show_finding(&st, f)) {
        code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
        goto done;
      }
    }
    json_t *nt = json_object_get(resp, "NextToken");
    token = json_is_string(nt) ? json_string_value(nt) : NULL;
    if(one_page || !token || (lo->limit && (int64_t)st.n >= lo->limit))
      break;
    json_object_set(req, "NextToken", nt);
  }
done:
  if(c->format == OUT_JSON && !one_page)
    out_json_end(&st.js);
  else if(st.table && out_table_rows(st.table))
    out_table_print(st.table, stdout, c->color);
  if(!code && one_page && token && c->format != OUT_JSON)
    fprintf(stderr, "certhub: findings: more: --next-token %s\n", token);
  if(!code && !c->quiet && c->format == OUT_TABLE)
    fprintf(stderr, "certhub: findings: %zu finding%s\n", st.n,
            st.n == 1 ? "" : "s");
out:
  out_table_free(st.table);
  json_decref(resp);
  json_decref(req);
  certhub_store_close(s);
  return code;
}

/* The findings with this Id (any product), into *found (an array). */
static int by_id(cli_ctx *c, certhub_store *s, const char *id,
                 const char *product_arn, json_t **found)
{
  json_t *req =
      json_pack("{s:{s:[{s:s, s:s}]}, s:i}", "Filters", "Id", "Value", id,
                "Comparison", "EQUALS", "MaxResults", 100);
  json_t *resp = NULL;
  *found = NULL;
  if(!req)
    return cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
  if(product_arn)
    json_object_set_new(json_object_get(req, "Filters"), "ProductArn",
                        json_pack("[{s:s, s:s}]", "Value", product_arn,
                                  "Comparison", "EQUALS"));
  int code = run_query(c, s, req, false, &resp);
  json_decref(req);
  if(code)
    return code;
  *found = json_incref(json_object_get(resp, "Findings"));
  json_decref(resp);
  return 0;
}

static int findings_get(cli_ctx *c, const char *id, const char *product_arn)
{
  certhub_store *s = NULL;
  json_t *found = NULL;
  int code = cli_open_store(c, &s);
  if(code)
    return code;
  if((code = by_id(c, s, id, product_arn, &found)))
    goto out;
  if(!json_array_size(found))
    code = cli_fail(c, CLI_EXIT_USAGE, "get: no finding '%s'", id);
  else if(json_array_size(found) > 1 && !product_arn)
    code = cli_fail(c, CLI_EXIT_USAGE,
                    "get: %zu findings have Id '%s' (add --product-arn)",
                    json_array_size(found), id);
  else if(out_json_print(stdout, json_array_get(found, 0)))
    code = cli_fail(c, CLI_EXIT_INTERNAL, "writing output");
out:
  json_decref(found);
  certhub_store_close(s);
  return code;
}

/* Options of update. */
typedef struct update_opts {
  const char *request; /* --request JSON|@FILE */
  const char *product_arn;
  const char *workflow, *severity, *verification;
  const char *note, *by;
  int64_t confidence, criticality; /* -1: not given */
  json_t *udf;                     /* --field k=v */
  bool any;
} update_opts;

static int findings_update(cli_ctx *c, update_opts *uo, int argc, char **argv)
{
  certhub_store *s = NULL;
  json_t *req = NULL, *resp = NULL;
  char *text = NULL, *out = NULL;
  size_t len = 0;
  int code = 0;
  if(uo->request) {
    if(uo->any || optind < argc)
      return cli_usage(c, "update: --request takes the whole "
                          "BatchUpdateFindings body: no IDs or other "
                          "options");
    if((code = cli_arg_text(c, "--request", uo->request, 1024 * 1024, &text,
                            &len)))
      return code;
  }
  else {
    if(optind >= argc)
      return cli_usage(c, "update: missing finding ID (or --request)");
    if(!uo->any)
      return cli_usage(c, "update: nothing to change (--workflow, --note, "
                          "--severity, ...)");
    if(!uo->note != !uo->by)
      return cli_usage(c, "update: --note and --by go together");
  }
  if((code = cli_open_store(c, &s)))
    goto out;
  if(!uo->request) {
    json_t *ids = json_array();
    req = json_object();
    if(!ids || !req || json_object_set_new(req, "FindingIdentifiers", ids))
      goto nomem;
    for(int i = optind; i < argc; i++) {
      json_t *found = NULL;
      const char *pa = uo->product_arn;
      if(!pa) {
        /* The finding's product, when its Id names one finding. */
        if((code = by_id(c, s, argv[i], NULL, &found)))
          goto out;
        size_t n = json_array_size(found);
        if(n != 1) {
          json_decref(found);
          code = n ? cli_fail(c, CLI_EXIT_USAGE,
                              "update: %zu findings have Id '%s' (add "
                              "--product-arn)",
                              n, argv[i])
                   : cli_fail(c, CLI_EXIT_USAGE, "update: no finding '%s'",
                              argv[i]);
          goto out;
        }
        pa = jstr(json_array_get(found, 0), "ProductArn");
      }
      json_t *e = json_pack("{s:s, s:s}", "Id", argv[i], "ProductArn", pa);
      json_decref(found);
      if(!e || json_array_append_new(ids, e))
        goto nomem;
    }
    if(uo->workflow &&
       json_object_set_new(req, "Workflow",
                           json_pack("{s:s}", "Status", uo->workflow)))
      goto nomem;
    if(uo->severity &&
       json_object_set_new(req, "Severity",
                           json_pack("{s:s}", "Label", uo->severity)))
      goto nomem;
    if(uo->verification && json_object_set_new(req, "VerificationState",
                                               json_string(uo->verification)))
      goto nomem;
    if(uo->note &&
       json_object_set_new(
           req, "Note",
           json_pack("{s:s, s:s}", "Text", uo->note, "UpdatedBy", uo->by)))
      goto nomem;
    if(uo->confidence >= 0 &&
       json_object_set_new(req, "Confidence", json_integer(uo->confidence)))
      goto nomem;
    if(uo->criticality >= 0 &&
       json_object_set_new(req, "Criticality", json_integer(uo->criticality)))
      goto nomem;
    if(uo->udf && json_object_set(req, "UserDefinedFields", uo->udf))
      goto nomem;
    if(!(text = json_dumps(req, JSON_COMPACT)))
      goto nomem;
    len = strlen(text);
  }
  ch_err rc = certhub_findings_update_json(s, text, len, c->now, &out, &len);
  if(rc) {
    code = query_fail(c, s, rc, "update");
    goto out;
  }
  if(!(resp = json_loadb(out, len, 0, NULL)))
    goto nomem;
  if(out_json_print(stdout, resp)) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "writing output");
    goto out;
  }
  size_t i;
  json_t *u;
  json_t *un = json_object_get(resp, "UnprocessedFindings");
  json_array_foreach(un, i, u)
  {
    fprintf(stderr, "certhub: findings: update: finding '%s': %s (%s)\n",
            jstr2(u, "FindingIdentifier", "Id"), jstr(u, "ErrorMessage"),
            jstr(u, "ErrorCode"));
  }
  code = json_array_size(un) ? CLI_EXIT_USAGE : CLI_EXIT_OK;
  goto out;
nomem:
  code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
out:
  free(text);
  free(out);
  json_decref(req);
  json_decref(resp);
  certhub_store_close(s);
  return code;
}

static int findings_insight(cli_ctx *c, const list_opts *lo)
{
  certhub_store *s = NULL;
  json_t *filters = NULL, *req = NULL, *resp = NULL;
  out_table *t = NULL;
  if(!lo->group_by)
    return cli_usage(c, "insight: --group-by ATTRIBUTE is required");
  int code = build_filters(c, lo, &filters);
  if(code)
    return code;
  if((code = cli_open_store(c, &s)))
    goto out;
  if(!(req = json_pack("{s:s, s:O}", "GroupByAttribute", lo->group_by,
                       "Filters", filters))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  if((code = run_query(c, s, req, true, &resp)))
    goto out;
  if(c->format == OUT_JSON) {
    if(out_json_print(stdout, resp))
      code = cli_fail(c, CLI_EXIT_INTERNAL, "writing output");
    goto out;
  }
  const char *heads[] = {lo->group_by, "COUNT"};
  if(c->format == OUT_CSV)
    out_csv_row(stdout, heads, 2);
  else if(!(t = out_table_new(heads, 2))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  size_t i;
  json_t *v;
  json_array_foreach(
      json_object_get(json_object_get(resp, "InsightResults"), "ResultValues"),
      i, v)
  {
    char count[32];
    snprintf(count, sizeof(count), "%lld",
             (long long)json_integer_value(json_object_get(v, "Count")));
    const char *val = jstr(v, "GroupByAttributeValue");
    const char *cells[] = {*val ? val : "-", count};
    enum out_color colors[2] = {0};
    if(t ? out_table_add(t, cells, colors)
         : (out_csv_row(stdout, cells, 2), 0)) {
      code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
      goto out;
    }
  }
  if(t && out_table_rows(t))
    out_table_print(t, stdout, c->color);
out:
  out_table_free(t);
  json_decref(filters);
  json_decref(req);
  json_decref(resp);
  certhub_store_close(s);
  return code;
}

/* "90d" or "90": days, 1..36500. */
static int findings_prune(cli_ctx *c, const char *older_than)
{
  char num[32];
  int64_t days = CERTHUB_FINDINGS_RETENTION_DAYS;
  if(older_than) {
    size_t n = strlen(older_than);
    if(n && n < sizeof(num) &&
       (older_than[n - 1] == 'd' || older_than[n - 1] == 'D'))
      n--;
    snprintf(num, sizeof(num), "%.*s", (int)n, older_than);
    if(!n || n >= sizeof(num) - 1 || strspn(num, "0123456789") != n)
      return cli_usage(c, "--older-than '%s': expected days, e.g. 90d",
                       older_than);
    if(cli_parse_num(c, "--older-than", num, 1, 36500, &days))
      return c->exit_code;
  }
  certhub_store *s = NULL;
  uint64_t n = 0;
  int code = cli_open_store(c, &s);
  if(code)
    return code;
  ch_err rc = certhub_findings_prune(s, c->now, (unsigned)days, &n);
  if(rc)
    code = cli_store_fail(c, s, rc, "pruning findings");
  else
    printf("pruned %llu finding%s not updated for %lld days\n",
           (unsigned long long)n, n == 1 ? "" : "s", (long long)days);
  certhub_store_close(s);
  return code;
}

static int findings_import(cli_ctx *c, const char *path)
{
  certhub_store *s = NULL;
  certhub_import_result r = {0};
  char *body = NULL;
  size_t len = 0;
  json_t *o = NULL, *failed = NULL;
  /* One byte over the request limit is enough to tell a larger file. */
  int code = cli_read_file(c, "import", path, CERTHUB_FINDINGS_REQUEST_MAX,
                           &body, &len);
  if(code)
    return code;
  if((code = cli_open_store(c, &s)))
    goto out;
  ch_err rc = certhub_findings_import(s, body, len, c->now, &r);
  if(rc) {
    code = cli_fail(c, cli_exit_for(rc), "import: %s: %s",
                    strcmp(path, "-") ? path : "stdin", r.error);
    goto out;
  }
  if(!(failed = json_array()))
    goto nomem;
  for(size_t i = 0; i < r.failed; i++) {
    json_t *e =
        json_pack("{s:s, s:s, s:s}", "Id", r.failures[i].id, "ErrorCode",
                  r.failures[i].code, "ErrorMessage", r.failures[i].message);
    if(!e || json_array_append_new(failed, e))
      goto nomem;
  }
  o = json_pack("{s:I, s:I, s:O}", "SuccessCount", (json_int_t)r.success,
                "FailedCount", (json_int_t)r.failed, "FailedFindings", failed);
  if(!o || out_json_print(stdout, o)) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "writing output");
    goto out;
  }
  for(size_t i = 0; i < r.failed; i++)
    fprintf(stderr, "certhub: findings: import: %s: finding '%s': %s\n",
            strcmp(path, "-") ? path : "stdin", r.failures[i].id,
            r.failures[i].message);
  if(!c->quiet && r.unchanged)
    fprintf(stderr,
            "certhub: findings: %zu finding%s not newer than stored, "
            "ignored\n",
            r.unchanged, r.unchanged == 1 ? "" : "s");
  code = r.failed ? CLI_EXIT_USAGE : CLI_EXIT_OK;
  goto out;
nomem:
  code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
out:
  json_decref(o);
  json_decref(failed);
  certhub_import_result_free(&r);
  free(body);
  certhub_store_close(s);
  return code;
}

int cmd_findings(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"severity", required_argument, NULL, OPT_SEVERITY},
      {"workflow", required_argument, NULL, OPT_WORKFLOW},
      {"record-state", required_argument, NULL, OPT_RECORD_STATE},
      {"limit", required_argument, NULL, OPT_LIMIT},
      {"filter", required_argument, NULL, OPT_FILTER},
      {"sort", required_argument, NULL, OPT_SORT},
      {"max", required_argument, NULL, OPT_MAX},
      {"next-token", required_argument, NULL, OPT_NEXT_TOKEN},
      {"group-by", required_argument, NULL, OPT_GROUP_BY},
      {"older-than", required_argument, NULL, OPT_OLDER_THAN},
      {"product-arn", required_argument, NULL, OPT_PRODUCT_ARN},
      {"note", required_argument, NULL, OPT_NOTE},
      {"by", required_argument, NULL, OPT_BY},
      {"verification-state", required_argument, NULL, OPT_VERIFICATION},
      {"confidence", required_argument, NULL, OPT_CONFIDENCE},
      {"criticality", required_argument, NULL, OPT_CRITICALITY},
      {"field", required_argument, NULL, OPT_FIELD},
      {"request", required_argument, NULL, OPT_REQUEST},
      {NULL, 0, NULL, 0},
  };
  static const char *const severities[] = {"INFORMATIONAL", "LOW", "MEDIUM",
                                           "HIGH", "CRITICAL"};
  static const char *const workflows[] = {"NEW", "NOTIFIED", "RESOLVED",
                                          "SUPPRESSED"};
  static const char *const states[] = {"ACTIVE", "ARCHIVED"};
  static const char *const verifications[] = {
      "UNKNOWN", "TRUE_POSITIVE", "FALSE_POSITIVE", "BENIGN_POSITIVE"};
  list_opts lo = {0};
  update_opts uo = {.confidence = -1, .criticality = -1};
  const char *older_than = NULL;
  /* Which subcommands the options given so far belong to. */
  enum { F_LIST = 1, F_UPDATE = 2, F_INSIGHT = 4, F_PRUNE = 8, F_GET = 16 };
  enum { ALL = F_LIST | F_UPDATE | F_INSIGHT | F_PRUNE | F_GET };
  unsigned allowed = ALL;
  /* The first option that rules out a subcommand, for the message. */
  const char *opt_of[5] = {0};
#define ALLOW(mask)                                                           \
  do {                                                                        \
    for(int b_ = 0; b_ < 5; b_++)                                             \
      if(!((mask) & (1u << b_)) && !opt_of[b_])                               \
        opt_of[b_] = longopts[r - OPT_SEVERITY].name;                         \
    allowed &= (mask);                                                        \
  } while(0)
  int code = 0, r;
  /* Options may come before or after the subcommand. */
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      code = c->exit_code;
      goto out;
    case OPT_SEVERITY: {
      const char *v = NULL;
      if(pick(c, "--severity", optarg, severities, 5,
              "INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL", &v))
        goto usage;
      lo.severity = uo.severity = v;
      uo.any = true;
      ALLOW(F_LIST | F_INSIGHT | F_UPDATE);
      break;
    }
    case OPT_WORKFLOW: {
      const char *v = NULL;
      if(pick(c, "--workflow", optarg, workflows, 4,
              "NEW, NOTIFIED, RESOLVED or SUPPRESSED", &v))
        goto usage;
      lo.workflow = uo.workflow = v;
      uo.any = true;
      ALLOW(F_LIST | F_INSIGHT | F_UPDATE);
      break;
    }
    case OPT_RECORD_STATE:
      if(pick(c, "--record-state", optarg, states, 2, "ACTIVE or ARCHIVED",
              &lo.record_state))
        goto usage;
      ALLOW(F_LIST | F_INSIGHT);
      break;
    case OPT_LIMIT:
      if(cli_parse_num(c, "--limit", optarg, 1, 100000000, &lo.limit))
        goto usage;
      ALLOW(F_LIST);
      break;
    case OPT_FILTER:
      lo.filter = optarg;
      ALLOW(F_LIST | F_INSIGHT);
      break;
    case OPT_SORT:
      if(lo.n_sort == 3) {
        code = cli_usage(c, "--sort: at most 3 sort fields");
        goto out;
      }
      lo.sort[lo.n_sort++] = optarg;
      ALLOW(F_LIST);
      break;
    case OPT_MAX:
      if(cli_parse_num(c, "--max", optarg, 1, 100, &lo.max))
        goto usage;
      ALLOW(F_LIST);
      break;
    case OPT_NEXT_TOKEN:
      lo.next_token = optarg;
      ALLOW(F_LIST);
      break;
    case OPT_GROUP_BY:
      lo.group_by = optarg;
      ALLOW(F_INSIGHT);
      break;
    case OPT_OLDER_THAN:
      older_than = optarg;
      ALLOW(F_PRUNE);
      break;
    case OPT_PRODUCT_ARN:
      uo.product_arn = optarg;
      ALLOW(F_UPDATE | F_GET);
      break;
    case OPT_NOTE:
      uo.note = optarg;
      uo.any = true;
      ALLOW(F_UPDATE);
      break;
    case OPT_BY:
      uo.by = optarg;
      uo.any = true;
      ALLOW(F_UPDATE);
      break;
    case OPT_VERIFICATION:
      if(pick(c, "--verification-state", optarg, verifications, 4,
              "UNKNOWN, TRUE_POSITIVE, FALSE_POSITIVE or BENIGN_POSITIVE",
              &uo.verification))
        goto usage;
      uo.any = true;
      ALLOW(F_UPDATE);
      break;
    case OPT_CONFIDENCE:
    case OPT_CRITICALITY:
      if(cli_parse_num(
             c, r == OPT_CONFIDENCE ? "--confidence" : "--criticality", optarg,
             0, 100, r == OPT_CONFIDENCE ? &uo.confidence : &uo.criticality))
        goto usage;
      uo.any = true;
      ALLOW(F_UPDATE);
      break;
    case OPT_FIELD: {
      char *eq = strchr(optarg, '=');
      if(!eq || eq == optarg) {
        code = cli_usage(c, "--field '%s': expected NAME=VALUE", optarg);
        goto out;
      }
      if(!uo.udf && !(uo.udf = json_object())) {
        code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
        goto out;
      }
      *eq = '\0';
      json_object_set_new(uo.udf, optarg, json_string(eq + 1));
      *eq = '=';
      uo.any = true;
      ALLOW(F_UPDATE);
      break;
    }
    case OPT_REQUEST:
      uo.request = optarg;
      ALLOW(F_UPDATE);
      break;
    default:
      code = cli_usage(c, "unexpected option");
      goto out;
    }
  }
  /* DateRange filters count back from certhub_now(): make it --now. */
  if(c->now_opt && setenv("CERTHUB_NOW", c->now_opt, 1)) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "setting the time: out of memory");
    goto out;
  }
  if(optind >= argc) {
    code = cli_usage(c, "missing subcommand (list, get, update, insight, "
                        "prune or import)");
    goto out;
  }
  const char *sub = argv[optind++];
  static const struct {
    const char *name;
    unsigned flag;
  } subs[] = {{"list", F_LIST},       {"get", F_GET},     {"update", F_UPDATE},
              {"insight", F_INSIGHT}, {"prune", F_PRUNE}, {"import", 0}};
  unsigned flag = 99;
  for(size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
    if(!strcmp(sub, subs[i].name))
      flag = subs[i].flag;
  if(flag == 99) {
    code = cli_usage(c,
                     "unknown subcommand '%s' (list, get, update, "
                     "insight, prune or import)",
                     sub);
    goto out;
  }
  if(flag ? !(allowed & flag) : allowed != ALL) {
    const char *opt = NULL;
    for(int b = 0; b < 5 && !opt; b++)
      if(flag ? flag == (1u << b) : opt_of[b] != NULL)
        opt = opt_of[b];
    code = cli_usage(c, "--%s is not an option of '%s'", opt ? opt : "?", sub);
    goto out;
  }
#undef ALLOW
  if(flag == F_UPDATE) {
    code = findings_update(c, &uo, argc, argv);
    goto out;
  }
  if(flag == F_GET) {
    if(optind >= argc) {
      code = cli_usage(c, "get: missing finding ID");
      goto out;
    }
    if(argc - optind > 1) {
      code = cli_usage(c, "unexpected argument '%s'", argv[optind + 1]);
      goto out;
    }
    code = findings_get(c, argv[optind], uo.product_arn);
    goto out;
  }
  if(flag != 0 && optind < argc) {
    code = cli_usage(c, "unexpected argument '%s'", argv[optind]);
    goto out;
  }
  if(flag == F_LIST)
    code = findings_list(c, &lo);
  else if(flag == F_INSIGHT)
    code = findings_insight(c, &lo);
  else if(flag == F_PRUNE)
    code = findings_prune(c, older_than);
  else if(optind >= argc)
    code = cli_usage(c, "import: missing FILE (or - for stdin)");
  else if(argc - optind > 1)
    code = cli_usage(c, "unexpected argument '%s'", argv[optind + 1]);
  else
    code = findings_import(c, argv[optind]);
  goto out;
usage:
  code = c->exit_code;
out:
  json_decref(uo.udf);
  return code;
}
