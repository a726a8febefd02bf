/*
 * certhub findings: list stored ASFF findings, export them as ASFF or OCSF
 * 1.6, and import ASFF or OCSF findings like Security Hub's
 * BatchImportFindings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "certhub/findings.h"
#include "cli.h"

enum {
  OPT_SEVERITY = 0x100,
  OPT_WORKFLOW,
  OPT_RECORD_STATE,
  OPT_LIMIT,
  OPT_FORMAT,
  OPT_OUT,
  OPT_JSONL
};

/* export/import options */
typedef struct xopts {
  bool ocsf; /* --format ocsf */
  bool format_set;
  const char *out; /* --out FILE, NULL: stdout */
  bool jsonl;      /* one finding per line instead of a JSON array */
} xopts;

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

static ch_err finding_row(void *ctx, const certhub_finding_row *f)
{
  list_state *st = ctx;
  json_t *o = json_loads(f->json, 0, NULL);
  ch_err rc = CH_OK;
  st->n++;
  if(!o)
    return CH_ERR_INTERNAL; /* the store only holds what import wrote */
  if(st->c->format == OUT_JSON) {
    rc = out_json_item(&st->js, o);
    json_decref(o);
    return rc;
  }
  char updated[32];
  certhub_time_format(f->updated_at / 1000, updated, sizeof(updated));
  const char *title = jstr(o, "Title");
  char *shown =
      st->c->format == OUT_TABLE ? out_truncate(title, TITLE_SHOWN) : NULL;
  const char *cells[] = {f->severity_label,
                         f->workflow_status,
                         f->record_state,
                         updated,
                         shown ? shown : title,
                         f->resource_id,
                         f->id};
  enum out_color colors[7] = {0};
  colors[0] = !strcmp(f->severity_label, "CRITICAL") ||
                      !strcmp(f->severity_label, "HIGH")
                  ? OUT_RED
              : !strcmp(f->severity_label, "MEDIUM") ? OUT_YELLOW
                                                     : OUT_PLAIN;
  if(st->c->format == OUT_CSV)
    out_csv_row(stdout, cells, 7);
  else
    rc = out_table_add(st->table, cells, colors);
  free(shown);
  json_decref(o);
  return rc;
}

static int findings_list(cli_ctx *c, const certhub_findings_filter *f)
{
  static const char *const heads[] = {
      "SEVERITY", "WORKFLOW", "STATE", "UPDATED", "TITLE", "RESOURCE", "ID"};
  /* The table leaves the long Id out; CSV and JSON have it. */
  size_t ncols = c->format == OUT_TABLE ? 6 : 7;
  certhub_store *s = NULL;
  list_state st = {.c = c};
  int code = cli_open_store(c, &s);
  if(code)
    return code;
  if(c->format == OUT_JSON)
    out_json_begin(&st.js, stdout);
  else if(c->format == OUT_CSV)
    out_csv_row(stdout, heads, ncols);
  else if(!(st.table = out_table_new(heads, ncols))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  ch_err rc = certhub_findings_list(s, f, finding_row, &st);
  if(c->format == OUT_JSON)
    out_json_end(&st.js);
  else if(st.table && out_table_rows(st.table))
    out_table_print(st.table, stdout, c->color);
  if(rc)
    code = cli_store_fail(c, s, rc, "listing findings");
  else if(!c->quiet && c->format == OUT_TABLE)
    fprintf(stderr, "certhub: findings: %zu finding%s\n", st.n,
            st.n == 1 ? "" : "s");
out:
  out_table_free(st.table);
  certhub_store_close(s);
  return code;
}

/* JSON lines of ASFF findings as one JSON array text (malloc'd), or NULL
 * when body is not that (then the import reports the body's own error). */
static char *asff_lines(const char *body, size_t len)
{
  json_t *arr = json_array();
  size_t pos = 0;
  char *out = NULL;
  while(arr && pos < len) {
    json_error_t e;
    while(pos < len && strchr(" \t\r\n", body[pos]))
      pos++;
    if(pos == len)
      break;
    json_t *v = json_loadb(body + pos, len - pos, JSON_DISABLE_EOF_CHECK, &e);
    if(!json_is_object(v) || !e.position || json_array_append_new(arr, v)) {
      if(!json_is_object(v))
        json_decref(v);
      goto out;
    }
    pos += (size_t)e.position;
  }
  if(arr && json_array_size(arr) > 1)
    out = json_dumps(arr, JSON_COMPACT);
out:
  json_decref(arr);
  return out;
}

static int findings_import(cli_ctx *c, const char *path, const xopts *x)
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
  ch_err rc;
  if(x->ocsf)
    rc = certhub_findings_import_ocsf(s, body, len, c->now, &r);
  else {
    /* An export with --jsonl: one object per line. */
    json_t *whole = json_loadb(body, len, 0, NULL);
    char *arr = whole ? NULL : asff_lines(body, len);
    json_decref(whole);
    rc = arr ? certhub_findings_import(s, arr, strlen(arr), c->now, &r)
             : certhub_findings_import(s, body, len, c->now, &r);
    free(arr);
  }
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

typedef struct export_state {
  cli_ctx *c;
  FILE *f;
  const xopts *x;
  size_t n;
  ch_err conv_rc; /* first stored finding that did not convert */
} export_state;

static ch_err export_row(void *ctx, const certhub_finding_row *row)
{
  export_state *st = ctx;
  char *ocsf = NULL;
  const char *text = row->json;
  if(st->x->ocsf) {
    ch_err rc =
        certhub_findings_ocsf_json(row->json, strlen(row->json), &ocsf, NULL);
    if(rc) {
      /* The store holds only what import validated: a failure here is
       * ours, not the user's. */
      st->conv_rc = rc;
      return rc;
    }
    text = ocsf;
  }
  const char *sep = st->x->jsonl ? "" : st->n ? ",\n" : "[\n";
  fprintf(st->f, "%s%s%s", sep, text, st->x->jsonl ? "\n" : "");
  st->n++;
  free(ocsf);
  return ferror(st->f) ? CH_ERR_IO : CH_OK;
}

/* Write the findings matching f to --out (through a temporary file
 * renamed into place, so a failed export leaves no half file) or stdout. */
static int findings_export(cli_ctx *c, const certhub_findings_filter *f,
                           const xopts *x)
{
  certhub_store *s = NULL;
  export_state st = {.c = c, .x = x, .f = stdout};
  char *tmp = NULL;
  int code = cli_open_store(c, &s);
  if(code)
    return code;
  if(x->out && strcmp(x->out, "-")) {
    size_t n = strlen(x->out) + 32;
    if(!(tmp = malloc(n))) {
      code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
      goto out;
    }
    snprintf(tmp, n, "%s.tmp.%ld", x->out, (long)getpid());
    if(!(st.f = fopen(tmp, "w"))) {
      code = cli_fail(c, CLI_EXIT_USAGE, "--out: cannot write '%s': %s",
                      x->out, strerror(errno));
      st.f = stdout;
      free(tmp);
      tmp = NULL;
      goto out;
    }
  }
  ch_err rc = certhub_findings_list(s, f, export_row, &st);
  if(!rc && !x->jsonl)
    fputs(st.n ? "\n]\n" : "[]\n", st.f);
  if(st.conv_rc)
    code = cli_fail(c, CLI_EXIT_INTERNAL,
                    "export: a stored finding could not be mapped to OCSF: %s",
                    certhub_strerror(st.conv_rc));
  else if(rc == CH_ERR_IO)
    code = cli_fail(c, CLI_EXIT_INTERNAL, "export: writing %s failed",
                    x->out ? x->out : "stdout");
  else if(rc)
    code = cli_store_fail(c, s, rc, "exporting findings");
  if(fflush(st.f) && !code)
    code = cli_fail(c, CLI_EXIT_INTERNAL, "export: writing %s: %s",
                    x->out ? x->out : "stdout", strerror(errno));
  if(tmp) {
    if(fclose(st.f) && !code)
      code = cli_fail(c, CLI_EXIT_INTERNAL, "export: writing %s: %s", x->out,
                      strerror(errno));
    st.f = stdout;
    if(!code && rename(tmp, x->out))
      code = cli_fail(c, CLI_EXIT_USAGE, "--out: cannot write '%s': %s",
                      x->out, strerror(errno));
    if(code)
      unlink(tmp);
  }
  if(!code && !c->quiet && x->out)
    fprintf(stderr, "certhub: findings: %zu finding%s exported to %s\n", st.n,
            st.n == 1 ? "" : "s", x->out);
out:
  free(tmp);
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
      {"format", required_argument, NULL, OPT_FORMAT},
      {"out", required_argument, NULL, OPT_OUT},
      {"jsonl", no_argument, NULL, OPT_JSONL},
      {NULL, 0, NULL, 0},
  };
  static const char *const severities[] = {"INFORMATIONAL", "LOW", "MEDIUM",
                                           "HIGH", "CRITICAL"};
  static const char *const workflows[] = {"NEW", "NOTIFIED", "RESOLVED",
                                          "SUPPRESSED"};
  static const char *const states[] = {"ACTIVE", "ARCHIVED"};
  certhub_findings_filter f = {0};
  xopts x = {0};
  bool filtered = false, exporting = false;
  int64_t limit = 0;
  int r;
  /* Options may come before or after the subcommand. */
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_SEVERITY:
      if(pick(c, "--severity", optarg, severities, 5,
              "INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL",
              &f.severity_label))
        return c->exit_code;
      break;
    case OPT_WORKFLOW:
      if(pick(c, "--workflow", optarg, workflows, 4,
              "NEW, NOTIFIED, RESOLVED or SUPPRESSED", &f.workflow_status))
        return c->exit_code;
      break;
    case OPT_RECORD_STATE:
      if(pick(c, "--record-state", optarg, states, 2, "ACTIVE or ARCHIVED",
              &f.record_state))
        return c->exit_code;
      break;
    case OPT_LIMIT:
      if(cli_parse_num(c, "--limit", optarg, 1, 100000000, &limit))
        return c->exit_code;
      f.limit = (size_t)limit;
      break;
    case OPT_FORMAT:
      if(strcasecmp(optarg, "asff") && strcasecmp(optarg, "ocsf"))
        return cli_usage(c, "--format: '%s' is not asff or ocsf", optarg);
      x.ocsf = !strcasecmp(optarg, "ocsf");
      x.format_set = true;
      continue;
    case OPT_OUT:
      x.out = optarg;
      exporting = true;
      continue;
    case OPT_JSONL:
      x.jsonl = true;
      exporting = true;
      continue;
    default:
      return cli_usage(c, "unexpected option");
    }
    filtered = true;
  }
  if(optind >= argc)
    return cli_usage(c, "missing subcommand (list, export or import)");
  const char *sub = argv[optind++];
  if(!strcmp(sub, "list")) {
    if(optind < argc)
      return cli_usage(c, "unexpected argument '%s'", argv[optind]);
    if(x.format_set || exporting)
      return cli_usage(c, "--format, --out and --jsonl are for 'export' "
                          "(and --format for 'import')");
    return findings_list(c, &f);
  }
  if(!strcmp(sub, "export")) {
    if(optind < argc)
      return cli_usage(c, "unexpected argument '%s'", argv[optind]);
    return findings_export(c, &f, &x);
  }
  if(strcmp(sub, "import"))
    return cli_usage(c, "unknown subcommand '%s' (list, export or import)",
                     sub);
  if(filtered)
    return cli_usage(c, "--severity, --workflow, --record-state and --limit "
                        "are for 'list' and 'export'");
  if(exporting)
    return cli_usage(c, "--out and --jsonl are for 'export'");
  if(optind >= argc)
    return cli_usage(c, "import: missing FILE (or - for stdin)");
  if(argc - optind > 1)
    return cli_usage(c, "unexpected argument '%s'", argv[optind + 1]);
  return findings_import(c, argv[optind], &x);
}
