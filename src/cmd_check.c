/*
 * certhub check: a CI gate over files, no database. Exit 1 when any
 * certificate expires within the threshold, 2 when the input could not be
 * read completely (the verdict would be unreliable then).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct check_state {
  cli_ctx *c;
  int64_t within;
  bool verbose;
  const char *path; /* file being read */
  uint64_t file_errors;
  bool file_empty; /* read_file said: empty file */
  bool reporting;  /* on_error called for a real problem, not a read */
  uint64_t file_certs;
  uint64_t certs;
  uint64_t files;
  uint64_t failing;
  uint64_t input_errors;
  out_json_stream js;
  ch_err out_rc;
} check_state;

static const char *cert_name(const certhub_cert *cert)
{
  if(cert->common_name && *cert->common_name)
    return cert->common_name;
  for(size_t i = 0; i < cert->n_sans; i++) {
    if(cert->sans[i].type == CERTHUB_SAN_DNS)
      return cert->sans[i].value;
  }
  return *cert->subject ? cert->subject : "-";
}

static ch_err on_cert(void *ctx, certhub_cert *cert, unsigned position)
{
  check_state *st = ctx;
  int64_t days = certhub_days_to_expiry(cert->not_after, st->c->now);
  bool failed = days <= st->within;
  st->certs++;
  st->file_certs++;
  st->failing += failed;
  if(st->c->format == OUT_JSON) {
    char na[32];
    certhub_time_format(cert->not_after, na, sizeof(na));
    json_t *o = json_pack(
        "{s:s, s:I, s:s, s:s?, s:s, s:I, s:b}", "Path", st->path, "Position",
        (json_int_t)position, "Id", cert->id, "CommonName", cert->common_name,
        "NotAfter", na, "DaysToExpiry", (json_int_t)days, "Failed", failed);
    ch_err rc = o ? out_json_item(&st->js, o) : CH_ERR_NOMEM;
    json_decref(o);
    certhub_cert_free(cert);
    return rc;
  }
  if(failed || st->verbose) {
    char date[16];
    certhub_date_format(cert->not_after, date, sizeof(date));
    printf("%s: #%u ", st->path, position);
    out_safe_puts(stdout, cert_name(cert));
    if(days >= 0)
      printf(" expires %s (%lld day%s)\n", date, (long long)days,
             days == 1 ? "" : "s");
    else
      printf(" expired %s (%lld day%s ago)\n", date, (long long)-days,
             days == -1 ? "" : "s");
  }
  certhub_cert_free(cert);
  return CH_OK;
}

static void on_error(void *ctx, unsigned position, ch_err err,
                     const char *reason)
{
  check_state *st = ctx;
  /* An empty file is "no certificate", decided per file in on_file(). */
  if(err == CH_ERR_NOTFOUND && position == 0 && !st->reporting) {
    st->file_empty = true;
    return;
  }
  st->file_errors++;
  st->input_errors++;
  if(!reason || !*reason)
    reason = certhub_strerror(err);
  if(position)
    fprintf(stderr, "certhub: %s: certificate #%u: %s\n", st->path, position,
            reason);
  else
    fprintf(stderr, "certhub: %s: %s\n", st->path, reason);
}

static void on_problem(void *ctx, const char *path, unsigned position,
                       ch_err err, const char *reason)
{
  check_state *st = ctx;
  const char *saved = st->path;
  st->path = path;
  st->reporting = true;
  on_error(ctx, position, err, reason);
  st->reporting = false;
  st->path = saved;
}

static ch_err on_file(void *ctx, const char *path, bool explicit)
{
  check_state *st = ctx;
  certhub_read_opts ro = {.password = NULL, .name_hint = path};
  st->path = path;
  st->file_errors = 0;
  st->file_certs = 0;
  st->file_empty = false;
  errno = 0;
  ch_err rc = certhub_read_file(path, &ro, on_cert, on_error, st);
  if(rc == CH_ERR_NOMEM || st->out_rc)
    return rc ? rc : st->out_rc; /* stop the walk */
  if(rc == CH_ERR_NOTFOUND && !st->file_errors) {
    /* other files in a directory are not our business */
    if(explicit) {
      st->reporting = true;
      on_error(st, 0, rc,
               st->file_empty ? "empty file" : "no certificate found");
      st->reporting = false;
    }
    return CH_OK;
  }
  if(rc && !st->file_errors)
    on_error(st, 0, rc,
             rc == CH_ERR_IO && errno ? strerror(errno)
                                      : certhub_strerror(rc));
  if(st->file_certs || rc)
    st->files++;
  return CH_OK;
}

enum {
  COPT_FAIL_WITHIN = 0x100,
};

int cmd_check(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"fail-within", required_argument, NULL, COPT_FAIL_WITHIN},
      {"verbose", no_argument, NULL, 'v'},
      {NULL, 0, NULL, 0},
  };
  check_state st = {.c = c, .within = -1};
  bool have_within = false;
  int r;

  while((r = cli_getopt(c, argc, argv, "v", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case COPT_FAIL_WITHIN:
      if(cli_parse_num(c, "--fail-within", optarg, 0, 100000, &st.within))
        return CLI_EXIT_USAGE;
      have_within = true;
      break;
    case 'v':
      st.verbose = true;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  if(!have_within)
    return cli_usage(c, "--fail-within DAYS is required");
  if(optind >= argc)
    return cli_usage(c, "missing PATH");
  if(c->format == OUT_CSV)
    return cli_usage(c, "csv output is not supported; use table or json");

  certhub_walk_opts wo = {.on_problem = on_problem, .ctx = &st};
  if(c->format == OUT_JSON)
    out_json_begin(&st.js, stdout);
  ch_err rc = certhub_walk((const char *const *)argv + optind,
                           (size_t)(argc - optind), &wo, on_file, &st, NULL);
  if(c->format == OUT_JSON)
    out_json_end(&st.js);
  if(rc)
    return cli_fail(c, cli_exit_for(rc), "%s", certhub_strerror(rc));
  if(!c->quiet)
    fprintf(stderr,
            "checked %llu certificate%s in %llu file%s: %llu expire within "
            "%lld day%s\n",
            (unsigned long long)st.certs, st.certs == 1 ? "" : "s",
            (unsigned long long)st.files, st.files == 1 ? "" : "s",
            (unsigned long long)st.failing, (long long)st.within,
            st.within == 1 ? "" : "s");
  if(st.certs == 0 && !st.input_errors)
    return cli_fail(c, CLI_EXIT_USAGE, "no certificates found");
  if(st.input_errors)
    return CLI_EXIT_USAGE;
  return st.failing ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
