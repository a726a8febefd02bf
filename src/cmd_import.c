/*
 * certhub import: files, directories, globs or stdin into the store; or,
 * without paths, every source of the configuration file.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PASSWORD_MAX 4096

typedef struct import_state {
  cli_ctx *c;
  uint64_t problems;
} import_state;

static void on_problem(void *ctx, const char *path, unsigned position,
                       ch_err err, const char *reason)
{
  import_state *st = ctx;
  st->problems++;
  if(!reason || !*reason)
    reason = certhub_strerror(err);
  if(position)
    fprintf(stderr, "certhub: %s: certificate #%u: %s\n", path, position,
            reason);
  else
    fprintf(stderr, "certhub: %s: %s\n", path, reason);
}

/* The first line of path, without its line end. Returns an exit code. */
static int read_password(cli_ctx *c, const char *path, char **out)
{
  FILE *f = fopen(path, "r");
  *out = NULL;
  if(!f)
    return cli_fail(c, CLI_EXIT_USAGE, "password file %s: %s", path,
                    strerror(errno));
  char *buf = malloc(PASSWORD_MAX + 2);
  int code = 0;
  if(!buf) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  if(!fgets(buf, PASSWORD_MAX + 2, f)) {
    if(ferror(f)) {
      code = cli_fail(c, CLI_EXIT_USAGE, "password file %s: %s", path,
                      strerror(errno));
      goto out;
    }
    buf[0] = '\0'; /* an empty file is an empty password */
  }
  size_t n = strcspn(buf, "\r\n");
  if(n > PASSWORD_MAX) {
    code = cli_fail(c, CLI_EXIT_USAGE,
                    "password file %s: first line longer than %d bytes", path,
                    PASSWORD_MAX);
    goto out;
  }
  buf[n] = '\0';
  *out = buf;
  buf = NULL;
out:
  free(buf);
  fclose(f);
  return code;
}

static bool valid_account(const char *s)
{
  size_t n = 0;
  for(; s[n]; n++) {
    if(!isdigit((unsigned char)s[n]))
      return false;
  }
  return n == 12;
}

static bool valid_region(const char *s)
{
  if(!*s || strlen(s) > 64)
    return false;
  for(; *s; s++) {
    if(!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-')
      return false;
  }
  return true;
}

/* What the command line adds to every source. */
typedef struct import_args {
  certhub_tag *tags;
  size_t n_tags;
  const char **excludes;
  size_t n_excludes;
  const char *account;
  const char *region;
  const char *password_file;
  size_t batch_size;
} import_args;

static void add_stats(certhub_import_stats *a, const certhub_import_stats *b)
{
  a->files_imported += b->files_imported;
  a->files_failed += b->files_failed;
  a->files_skipped += b->files_skipped;
  a->certs_seen += b->certs_seen;
  a->certs_new += b->certs_new;
  a->sightings_gone += b->sightings_gone;
  a->replacements += b->replacements;
  a->problems += b->problems;
}

/* Import one set of paths with the labels, excludes and password of one
 * source (src may be NULL: the command line alone). */
static int import_paths(cli_ctx *c, certhub_store *s, const import_args *a,
                        const certhub_source_cfg *src,
                        const char *const *paths, size_t n_paths,
                        import_state *ist, certhub_import_stats *total,
                        ch_err *lib_rc)
{
  size_t nt = a->n_tags + (src ? src->n_tags : 0);
  size_t nx = a->n_excludes + (src ? src->n_excludes : 0);
  const char **keys = calloc(nt + 1, sizeof(*keys));
  const char **vals = calloc(nt + 1, sizeof(*vals));
  const char **excl = calloc(nx + 1, sizeof(*excl));
  char *password = NULL;
  int code = 0;
  if(!keys || !vals || !excl) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  /* the source's tags first, so a --tag for the same key wins */
  size_t k = 0;
  for(size_t i = 0; src && i < src->n_tags; i++, k++) {
    keys[k] = src->tags[i].key;
    vals[k] = src->tags[i].value;
  }
  for(size_t i = 0; i < a->n_tags; i++, k++) {
    keys[k] = a->tags[i].key;
    vals[k] = a->tags[i].value;
  }
  size_t x = 0;
  for(size_t i = 0; src && i < src->n_excludes; i++)
    excl[x++] = src->excludes[i];
  for(size_t i = 0; i < a->n_excludes; i++)
    excl[x++] = a->excludes[i];

  const char *pwfile = a->password_file;
  if(!pwfile && src)
    pwfile = src->password_file;
  if(pwfile) {
    code = read_password(c, pwfile, &password);
    if(code)
      goto out;
  }

  certhub_import_opts o = {0};
  o.labels.account = a->account;
  o.labels.region = a->region;
  if(src) {
    if(!o.labels.account)
      o.labels.account = src->account;
    if(!o.labels.region)
      o.labels.region = src->region;
  }
  if(c->config) {
    if(!o.labels.account)
      o.labels.account = c->config->account;
    if(!o.labels.region)
      o.labels.region = c->config->region;
  }
  o.labels.tag_keys = keys;
  o.labels.tag_values = vals;
  o.labels.n_tags = nt;
  o.excludes = excl;
  o.n_excludes = nx;
  o.password = password;
  o.now = c->now;
  o.batch_size = a->batch_size;
  o.on_problem = on_problem;
  o.ctx = ist;

  certhub_import_stats st = {0};
  ch_err rc = certhub_import(s, paths, n_paths, &o, &st);
  add_stats(total, &st);
  if(rc && !*lib_rc)
    *lib_rc = rc;
  if(rc && cli_exit_for(rc) == CLI_EXIT_INTERNAL)
    code = cli_store_fail(c, s, rc, "import stopped");
out:
  if(password) {
    /* do not leave the secret in freed memory */
    memset(password, 0, strlen(password));
    free(password);
  }
  free(keys);
  free(vals);
  free(excl);
  return code;
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
  return n == 1 ? one : many;
}

static void summary(const certhub_import_stats *st)
{
  fprintf(stderr, "imported %llu %s (%llu new) from %llu %s",
          (unsigned long long)st->certs_seen,
          plural(st->certs_seen, "certificate", "certificates"),
          (unsigned long long)st->certs_new,
          (unsigned long long)st->files_imported,
          plural(st->files_imported, "file", "files"));
  if(st->files_failed)
    fprintf(stderr, "; %llu %s failed", (unsigned long long)st->files_failed,
            plural(st->files_failed, "file", "files"));
  if(st->files_skipped)
    fprintf(stderr, "; %llu skipped", (unsigned long long)st->files_skipped);
  if(st->replacements)
    fprintf(stderr, "; %llu %s", (unsigned long long)st->replacements,
            plural(st->replacements, "renewal", "renewals"));
  if(st->sightings_gone)
    fprintf(stderr, "; %llu no longer present",
            (unsigned long long)st->sightings_gone);
  fputc('\n', stderr);
}

enum {
  IOPT_TAG = 0x100,
  IOPT_ACCOUNT,
  IOPT_REGION,
  IOPT_EXCLUDE,
  IOPT_PASSWORD_FILE,
  IOPT_BATCH,
};

int cmd_import(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"tag", required_argument, NULL, IOPT_TAG},
      {"account", required_argument, NULL, IOPT_ACCOUNT},
      {"region", required_argument, NULL, IOPT_REGION},
      {"exclude", required_argument, NULL, IOPT_EXCLUDE},
      {"password-file", required_argument, NULL, IOPT_PASSWORD_FILE},
      {"batch-size", required_argument, NULL, IOPT_BATCH},
      {NULL, 0, NULL, 0},
  };
  import_args a = {0};
  certhub_store *s = NULL;
  certhub_import_stats total = {0};
  import_state ist = {.c = c};
  ch_err lib_rc = CH_OK;
  int64_t v;
  int r, code = 0;

  /* never more tags or excludes than arguments */
  a.tags = calloc((size_t)argc + 1, sizeof(*a.tags));
  a.excludes = calloc((size_t)argc + 1, sizeof(*a.excludes));
  if(!a.tags || !a.excludes) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      code = c->exit_code;
      goto out;
    case IOPT_TAG:
      code = cli_parse_tag(c, "--tag", optarg, false, &a.tags[a.n_tags]);
      if(code)
        goto out;
      a.n_tags++;
      break;
    case IOPT_ACCOUNT:
      if(!valid_account(optarg)) {
        code = cli_usage(c, "--account: '%s' is not a 12-digit account ID",
                         optarg);
        goto out;
      }
      a.account = optarg;
      break;
    case IOPT_REGION:
      if(!valid_region(optarg)) {
        code = cli_usage(c,
                         "--region: '%s' is not a region name "
                         "(lowercase letters, digits, '-')",
                         optarg);
        goto out;
      }
      a.region = optarg;
      break;
    case IOPT_EXCLUDE:
      if(!*optarg) {
        code = cli_usage(c, "--exclude: empty pattern");
        goto out;
      }
      a.excludes[a.n_excludes++] = optarg;
      break;
    case IOPT_PASSWORD_FILE:
      a.password_file = optarg;
      break;
    case IOPT_BATCH:
      code = cli_parse_num(c, "--batch-size", optarg, 1, 1000000, &v);
      if(code)
        goto out;
      a.batch_size = (size_t)v;
      break;
    default:
      code = cli_usage(c, "unexpected option");
      goto out;
    }
  }

  bool from_config = optind >= argc;
  code = cli_config(c, false);
  if(code)
    goto out;
  if(from_config && (!c->config_from_file || c->config->n_sources == 0)) {
    code = cli_usage(c,
                     c->config_from_file
                         ? "no PATH given and %s has no sources"
                         : "no PATH given and no configuration file%s",
                     c->config_from_file ? c->config->file : "");
    goto out;
  }
  code = cli_open_store(c, &s);
  if(code)
    goto out;

  if(!from_config)
    code = import_paths(c, s, &a, NULL, (const char *const *)argv + optind,
                        (size_t)(argc - optind), &ist, &total, &lib_rc);
  for(size_t i = 0; from_config && !code && i < c->config->n_sources; i++) {
    const certhub_source_cfg *src = &c->config->sources[i];
    code = import_paths(c, s, &a, src, (const char *const *)src->paths,
                        src->n_paths, &ist, &total, &lib_rc);
  }
  if(!c->quiet)
    summary(&total);
  if(!code && (total.files_failed || ist.problems || lib_rc))
    code = CLI_EXIT_USAGE;
out:
  certhub_store_close(s);
  free(a.tags);
  free(a.excludes);
  return code;
}
