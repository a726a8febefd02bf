/*
 * certhub findings export and import: ASFF or OCSF 1.6 (cmd_findings_io.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_findings_io.h"

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

int findings_import_run(cli_ctx *c, const char *path, const findings_xopts *x)
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
  const findings_xopts *x;
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
int findings_export_run(cli_ctx *c, const certhub_findings_filter *f,
                        const findings_xopts *x)
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
