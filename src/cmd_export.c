/*
 * certhub export: one certificate as PEM (optionally with the issuers the
 * store knows) or DER.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CHAIN_MAX 10 /* certificates after the first */

static ch_err write_pem(FILE *f, const uint8_t *der, size_t len)
{
  char *pem = NULL;
  size_t pem_len = 0;
  ch_err rc = certhub_pem_encode(der, len, &pem, &pem_len);
  if(rc)
    return rc;
  if(fwrite(pem, 1, pem_len, f) != pem_len)
    rc = CH_ERR_IO;
  free(pem);
  return rc;
}

static ch_err export_one(certhub_store *s, int64_t rowid, bool der_out,
                         FILE *f)
{
  uint8_t *der = NULL;
  size_t len = 0;
  ch_err rc = certhub_store_get_der(s, rowid, &der, &len);
  if(rc)
    return rc;
  if(der_out)
    rc = fwrite(der, 1, len, f) == len ? CH_OK : CH_ERR_IO;
  else
    rc = write_pem(f, der, len);
  free(der);
  return rc;
}

/* Follow issuer links up from rowid: stops at a certificate without an
 * issuer in the store (self-signed ones have none), at a loop, or after
 * CHAIN_MAX certificates. */
static ch_err export_chain(certhub_store *s, int64_t rowid, FILE *f)
{
  int64_t seen[CHAIN_MAX + 1];
  size_t n_seen = 0;
  seen[n_seen++] = rowid;
  for(size_t depth = 0; depth < CHAIN_MAX; depth++) {
    int64_t *ids = NULL;
    size_t n = 0;
    ch_err rc = certhub_store_issuers(s, rowid, &ids, &n);
    if(rc == CH_ERR_NOTFOUND)
      return CH_OK;
    if(rc)
      return rc;
    int64_t next = 0;
    /* several issuers (a re-keyed CA): take the first not yet written */
    for(size_t i = 0; i < n && !next; i++) {
      bool dup = false;
      for(size_t k = 0; k < n_seen; k++)
        dup = dup || seen[k] == ids[i];
      if(!dup)
        next = ids[i];
    }
    free(ids);
    if(!next)
      return CH_OK;
    rc = export_one(s, next, false, f);
    if(rc)
      return rc;
    seen[n_seen++] = next;
    rowid = next;
  }
  return CH_OK;
}

enum {
  EOPT_CHAIN = 0x100,
  EOPT_DER,
};

int cmd_export(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"chain", no_argument, NULL, EOPT_CHAIN},
      {"der", no_argument, NULL, EOPT_DER},
      {"out", required_argument, NULL, 'O'},
      {NULL, 0, NULL, 0},
  };
  bool chain = false, der = false;
  const char *out_path = NULL;
  char *tmp_path = NULL;
  certhub_store *s = NULL;
  FILE *f = stdout;
  int64_t rowid;
  int r, code = 0;
  ch_err rc = CH_OK;

  while((r = cli_getopt(c, argc, argv, "O:", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case EOPT_CHAIN:
      chain = true;
      break;
    case EOPT_DER:
      der = true;
      break;
    case 'O':
      out_path = optarg;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
  }
  const char *ref;
  code = cli_one_ref(c, argc, argv, &ref);
  if(code)
    return code;
  if(der && chain)
    return cli_usage(c, "--der writes one certificate; it cannot be "
                        "combined with --chain");
  if(der && !out_path && isatty(STDOUT_FILENO))
    return cli_usage(c, "refusing to write binary DER to a terminal; use "
                        "-O FILE or a redirect");

  code = cli_open_store(c, &s);
  if(code)
    return code;
  code = cli_resolve_one(c, s, ref, &rowid);
  if(code)
    goto out;
  if(out_path) {
    /* write beside the target and rename, so a failure never leaves a
     * half-written certificate under the final name */
    if(asprintf(&tmp_path, "%s.tmp.%ld", out_path, (long)getpid()) < 0) {
      tmp_path = NULL;
      code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
      goto out;
    }
    f = fopen(tmp_path, "wb");
    if(!f) {
      code = cli_fail(c, CLI_EXIT_USAGE, "%s: %s", out_path, strerror(errno));
      goto out;
    }
  }
  rc = export_one(s, rowid, der, f);
  if(!rc && chain)
    rc = export_chain(s, rowid, f);
  if(rc == CH_ERR_IO) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "writing %s: %s",
                    out_path ? out_path : "stdout", strerror(errno));
    goto out;
  }
  if(rc) {
    code = cli_store_fail(c, s, rc, ref);
    goto out;
  }
  if(f != stdout) {
    FILE *done = f;
    f = stdout;
    if(fclose(done) != 0 || rename(tmp_path, out_path) != 0) {
      code = cli_fail(c, CLI_EXIT_USAGE, "%s: %s", out_path, strerror(errno));
      goto out;
    }
    free(tmp_path);
    tmp_path = NULL;
  }
out:
  if(f && f != stdout)
    fclose(f);
  if(tmp_path) {
    unlink(tmp_path);
    free(tmp_path);
  }
  certhub_store_close(s);
  return code;
}
