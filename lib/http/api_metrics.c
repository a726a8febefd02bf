/*
 * The findings hub's part of /metrics: what a hub's operator alerts on
 * (findings by state and severity, the active ones' workflow) and what a
 * forwarding instance's operator watches (its queue to the hub). The
 * inventory's part is certhub_metrics_write() (lib/inventory/metrics.c),
 * shared with `certhub metrics`; these need the findings store, which the
 * inventory module does not know.
 */
#include <stdio.h>
#include <string.h>

#include "certhub/findings_query.h"
#include "certhub/hub.h"
#include "http_int.h"

typedef struct mctx {
  FILE *f;
  const char *metric;
  const char *fixed; /* label="value", before the grouped label */
  const char *label; /* the grouped label's name */
} mctx;

/* A Prometheus label value: backslash, quote and newline escaped. */
static void put_label(FILE *f, const char *v)
{
  for(; *v; v++) {
    if(*v == '\\' || *v == '"')
      fprintf(f, "\\%c", *v);
    else if(*v == '\n')
      fputs("\\n", f);
    else
      fputc(*v, f);
  }
}

static ch_err group_line(void *ctx, const char *value, uint64_t count)
{
  mctx *m = ctx;
  fprintf(m->f, "%s{%s%s%s=\"", m->metric, m->fixed ? m->fixed : "",
          m->fixed ? "," : "", m->label);
  put_label(m->f, value);
  fprintf(m->f, "\"} %llu\n", (unsigned long long)count);
  return CH_OK;
}

/* Counts of the findings in record state `state` grouped by `by`. */
static ch_err grouped(certhub_store *s, FILE *f, const char *metric,
                      const char *state, certhub_fq_field by,
                      const char *label)
{
  char fixed[64];
  certhub_fq_cond c = {.field = CERTHUB_FQ_RECORD_STATE,
                       .cmp = CERTHUB_FQ_EQUALS,
                       .value = state};
  certhub_findings_query q = {.conds = &c, .n_conds = 1};
  snprintf(fixed, sizeof(fixed), "record_state=\"%s\"", state);
  mctx m = {.f = f, .metric = metric, .fixed = fixed, .label = label};
  return certhub_store_findings_group(s, &q, by, 0, group_line, &m);
}

ch_err ch_http_findings_metrics(certhub_store *s, FILE *f)
{
  static const char *const states[] = {"ACTIVE", "ARCHIVED"};
  fputs("# HELP certhub_findings Findings in the store by record state and "
        "severity.\n# TYPE certhub_findings gauge\n",
        f);
  ch_err rc = CH_OK;
  for(size_t i = 0; i < CH_ARRAY_LEN(states) && !rc; i++)
    rc = grouped(s, f, "certhub_findings", states[i],
                 CERTHUB_FQ_SEVERITY_LABEL, "severity");
  if(rc)
    return rc;
  fputs("# HELP certhub_findings_workflow Active findings by workflow "
        "status.\n# TYPE certhub_findings_workflow gauge\n",
        f);
  rc = grouped(s, f, "certhub_findings_workflow", "ACTIVE",
               CERTHUB_FQ_WORKFLOW_STATUS, "workflow");
  if(rc)
    return rc;
  bool on = false;
  uint64_t queued = 0;
  rc = certhub_store_hub_state(s, &on, &queued);
  if(rc)
    return rc;
  fprintf(f,
          "# HELP certhub_hub_forwarding 1 when findings are forwarded to a "
          "central hub (hub: in the configuration).\n"
          "# TYPE certhub_hub_forwarding gauge\n"
          "certhub_hub_forwarding %d\n"
          "# HELP certhub_hub_queued Findings waiting to be forwarded to the "
          "hub.\n# TYPE certhub_hub_queued gauge\n"
          "certhub_hub_queued %llu\n",
          on ? 1 : 0, (unsigned long long)queued);
  return CH_OK;
}
