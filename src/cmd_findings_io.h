/*
 * certhub findings export and import (ASFF or OCSF 1.6, JSON array or JSON
 * lines), for cmd_findings.c.
 */
#ifndef CERTHUB_CMD_FINDINGS_IO_H
#define CERTHUB_CMD_FINDINGS_IO_H

#include <stdbool.h>

#include "certhub/findings.h"
#include "cli.h"

/* export/import options */
typedef struct findings_xopts {
  bool ocsf; /* --format ocsf */
  bool format_set;
  const char *out; /* --out FILE, NULL: stdout */
  bool jsonl;      /* one finding per line instead of a JSON array */
} findings_xopts;

/* BatchImportFindings from path ("-": stdin): ASFF (an array, {"Findings":
 * [...]} or JSON lines) or OCSF. Prints the response; exit code. */
int findings_import_run(cli_ctx *c, const char *path, const findings_xopts *x);

/* The findings matching f, as ASFF or OCSF, to x->out or stdout. */
int findings_export_run(cli_ctx *c, const certhub_findings_filter *f,
                        const findings_xopts *x);

#endif
