/*
 * certhub tag and certhub delete: changes to one certificate.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_name(const char *verb, const cli_row_name *nm)
{
  if(*nm->cn)
    printf("%s %s (%s)\n", verb, nm->id, nm->cn);
  else
    printf("%s %s\n", verb, nm->id);
}

enum {
  TOPT_REMOVE = 0x100,
};

int cmd_tag(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"remove", required_argument, NULL, TOPT_REMOVE},
      {NULL, 0, NULL, 0},
  };
  const char **removes = calloc((size_t)argc + 1, sizeof(*removes));
  certhub_tag *sets = calloc((size_t)argc + 1, sizeof(*sets));
  size_t n_removes = 0, n_sets = 0;
  certhub_store *s = NULL;
  bool in_tx = false;
  int64_t rowid;
  int r, code = 0;
  ch_err rc = CH_OK;

  if(!removes || !sets) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    if(r == CLI_OPT_STOP) {
      code = c->exit_code;
      goto out;
    }
    if(r != TOPT_REMOVE) {
      code = cli_usage(c, "unexpected option");
      goto out;
    }
    if(!*optarg || strchr(optarg, '=')) {
      code = cli_usage(c, "--remove: '%s' is not a tag key", optarg);
      goto out;
    }
    removes[n_removes++] = optarg;
  }
  if(optind >= argc) {
    code = cli_usage(c, "missing REF");
    goto out;
  }
  const char *ref = argv[optind++];
  for(; optind < argc; optind++) {
    code = cli_parse_tag(c, "tag", argv[optind], false, &sets[n_sets]);
    if(code)
      goto out;
    n_sets++;
  }
  if(!n_sets && !n_removes) {
    code = cli_usage(c, "nothing to do: give KEY=VALUE or --remove KEY");
    goto out;
  }

  code = cli_open_store(c, &s);
  if(code)
    goto out;
  code = cli_resolve_one(c, s, ref, &rowid);
  if(code)
    goto out;
  rc = certhub_store_begin(s);
  if(rc)
    goto out;
  in_tx = true;
  for(size_t i = 0; i < n_sets && !rc; i++)
    rc = certhub_store_tag_set(s, rowid, sets[i].key, sets[i].value);
  for(size_t i = 0; i < n_removes && !rc; i++) {
    rc = certhub_store_tag_remove(s, rowid, removes[i]);
    if(rc == CH_ERR_NOTFOUND) {
      /* all or nothing: no tag changes when one removal is wrong */
      code =
          cli_fail(c, CLI_EXIT_USAGE, "%s has no tag '%s'", ref, removes[i]);
      rc = CH_OK;
      goto out;
    }
  }
  if(rc)
    goto out;
  rc = certhub_store_commit(s);
  if(rc)
    goto out;
  in_tx = false;
  cli_row_name nm;
  rc = cli_row_name_get(c, s, rowid, &nm);
  if(!rc)
    print_name("tagged", &nm);
out:
  if(rc)
    code = cli_store_fail(c, s, rc, "tagging");
  if(in_tx)
    certhub_store_rollback(s);
  certhub_store_close(s);
  free(removes);
  free(sets);
  return code;
}

int cmd_delete(cli_ctx *c, int argc, char **argv)
{
  certhub_store *s = NULL;
  int64_t rowid;
  cli_row_name nm;
  int r, code = 0;
  ch_err rc = CH_OK;

  while((r = cli_getopt(c, argc, argv, "", NULL)) != -1) {
    if(r == CLI_OPT_STOP)
      return c->exit_code;
  }
  const char *ref;
  code = cli_one_ref(c, argc, argv, &ref);
  if(code)
    return code;

  code = cli_open_store(c, &s);
  if(code)
    return code;
  code = cli_resolve_one(c, s, ref, &rowid);
  if(code)
    goto out;
  rc = cli_row_name_get(c, s, rowid, &nm);
  if(!rc)
    rc = certhub_store_delete(s, rowid);
  if(rc) {
    code = cli_store_fail(c, s, rc, "deleting");
    goto out;
  }
  print_name("deleted", &nm);
out:
  certhub_store_close(s);
  return code;
}
