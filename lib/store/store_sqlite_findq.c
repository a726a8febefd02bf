/*
 * SQLite backend: structured findings queries (findings_query.h) turned
 * into SQL, insights (GROUP BY), retention, and migration 10 (generated
 * columns and indexes for the hot filter fields).
 *
 * Every value reaches SQLite as a bound parameter; only the fixed field
 * expressions below are pasted into the statement text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

/* Migration 10. Virtual generated columns cost nothing to store and are
 * recomputed by the existing upsert; indexing them makes the hot filters
 * and insight groupings index lookups instead of JSON parses of every row.
 * Resource* columns are those of Resources[0]. */
const char ch_sq_findq_schema[] =
    "ALTER TABLE findings ADD COLUMN title TEXT"
    " GENERATED ALWAYS AS (json_extract(finding, '$.Title')) VIRTUAL;"
    "ALTER TABLE findings ADD COLUMN compliance_status TEXT"
    " GENERATED ALWAYS AS (json_extract(finding, '$.Compliance.Status'))"
    " VIRTUAL;"
    "ALTER TABLE findings ADD COLUMN resource_type TEXT"
    " GENERATED ALWAYS AS (json_extract(finding, '$.Resources[0].Type'))"
    " VIRTUAL;"
    "ALTER TABLE findings ADD COLUMN product_name TEXT"
    " GENERATED ALWAYS AS (json_extract(finding, '$.ProductName')) VIRTUAL;"
    "CREATE INDEX findings_by_workflow ON findings(workflow_status,"
    " updated_at);"
    "CREATE INDEX findings_by_record_state ON findings(record_state,"
    " updated_at);"
    /* Covers the usual insight (severity counts of ACTIVE findings): the
     * count reads this index only, not a million rows. */
    "CREATE INDEX findings_by_state_severity ON findings(record_state,"
    " severity_label);"
    "CREATE INDEX findings_by_account ON findings(aws_account_id, updated_at);"
    "CREATE INDEX findings_by_region ON findings(region);"
    "CREATE INDEX findings_by_generator ON findings(generator_id);"
    "CREATE INDEX findings_by_title ON findings(title);"
    "CREATE INDEX findings_by_compliance ON findings(compliance_status);"
    "CREATE INDEX findings_by_resource_type ON findings(resource_type);"
    "CREATE INDEX findings_by_product_name ON findings(product_name);";

/* Migration 16: the number of findings per combination of the insight
 * dimensions with few values (severity, record state, workflow,
 * compliance, account), kept by triggers so that every writer of findings
 * (import, updates, retention) keeps it true. An insight grouped by one of
 * them with filters only on them sums at most a few thousand rows here
 * instead of counting up to a million index entries or table rows; and a
 * query filtering on them seeks each matching combination in
 * findings_by_dims (see choose_plan). Region is left out: with it the
 * table would have 8 times the rows (64,000 at 1,000,000 findings in the
 * bench), and sorting that many for a GROUP BY costs what counting the
 * index does; findings_by_dims still checks it without reading rows.
 * An absent Compliance.Status is stored as '' (a key column cannot be NULL
 * in a WITHOUT ROWID table; '' is not a valid status, so it cannot clash).
 * Rows whose count falls to 0 stay (queries skip them): deleting them
 * would cost every update a second statement. A writer of findings must
 * not use INSERT OR REPLACE (its implicit delete fires no trigger).
 * findings_by_compliance and findings_by_state_severity (migration 10)
 * go: the counts answer the insights they served, findings_by_dims the
 * filters; each index costs the importer a b-tree insert per finding. */
/* clang-format off */
#define FC_KEY(p)                                                             \
  p "severity_label, " p "record_state, " p "workflow_status, "               \
  "coalesce(" p "compliance_status, ''), " p "aws_account_id"
#define FC_MATCH(p)                                                           \
  "severity_label = " p "severity_label"                                      \
  " AND record_state = " p "record_state"                                     \
  " AND workflow_status = " p "workflow_status"                               \
  " AND compliance_status = coalesce(" p "compliance_status, '')"             \
  " AND aws_account_id = " p "aws_account_id"
/* One more finding for p's combination: a row with n = 0 first when there
 * is none. Not an upsert: SQLite compiles an upsert's update to abort on
 * error, which would make every write of findings keep a statement
 * journal (the writer's OR FAIL avoids one; store_sqlite_findings.c). */
#define FC_ADD(p)                                                             \
  " INSERT INTO findings_counts SELECT " FC_KEY(p) ", 0"                      \
  "  WHERE NOT EXISTS(SELECT 1 FROM findings_counts"                          \
  "  WHERE " FC_MATCH(p) ");"                                                 \
  " UPDATE findings_counts SET n = n + 1 WHERE " FC_MATCH(p) ";"
const char ch_sq_findq_counts_schema[] =
    "CREATE TABLE findings_counts("
    " severity_label TEXT NOT NULL,"
    " record_state TEXT NOT NULL,"
    " workflow_status TEXT NOT NULL,"
    " compliance_status TEXT NOT NULL,"
    " aws_account_id TEXT NOT NULL,"
    " n INTEGER NOT NULL,"
    " PRIMARY KEY(severity_label, record_state, workflow_status,"
    " compliance_status, aws_account_id)) WITHOUT ROWID;"
    "INSERT INTO findings_counts SELECT " FC_KEY("") ", count(*)"
    " FROM findings GROUP BY 1, 2, 3, 4, 5;"
    "CREATE TRIGGER findings_counts_insert AFTER INSERT ON findings BEGIN"
    FC_ADD("NEW.")
    " END;"
    /* The writer rewrites every column: only a change of a dimension
     * moves a finding between counts. */
    "CREATE TRIGGER findings_counts_update AFTER UPDATE ON findings"
    " WHEN OLD.severity_label IS NOT NEW.severity_label"
    " OR OLD.record_state IS NOT NEW.record_state"
    " OR OLD.workflow_status IS NOT NEW.workflow_status"
    " OR OLD.compliance_status IS NOT NEW.compliance_status"
    " OR OLD.aws_account_id IS NOT NEW.aws_account_id BEGIN"
    " UPDATE findings_counts SET n = n - 1 WHERE " FC_MATCH("OLD.") ";"
    FC_ADD("NEW.")
    " END;"
    "CREATE TRIGGER findings_counts_delete AFTER DELETE ON findings BEGIN"
    " UPDATE findings_counts SET n = n - 1 WHERE " FC_MATCH("OLD.") ";"
    " END;"
    "CREATE INDEX findings_by_dims ON findings(aws_account_id,"
    " compliance_status, severity_label, workflow_status, record_state,"
    " region, updated_at);"
    "DROP INDEX findings_by_compliance;"
    "DROP INDEX findings_by_state_severity;";
/* clang-format on */

/* Migration 19: a new finding's count is its writer's (the importer adds
 * the counts of a call's new findings with one statement per distinct
 * combination, certhub_store_findings_count_add; any other insert counts
 * itself in ch_sq_finding_put). The trigger ran two statements in a
 * sub-program for every inserted finding, a third of an insert's
 * instructions. The update and delete triggers stay. */
const char ch_sq_findq_counts19_schema[] =
    "DROP TRIGGER IF EXISTS findings_counts_insert;";

/* Migration 18: findings_by_region and findings_by_resource_type become
 * one index, so "Region = X, ResourceType = Y, WorkflowStatus = Z"
 * seeks the rows matching all three instead of reading every finding of
 * the region (125,000 of 1,000,000 in the bench), and the importer
 * writes one index entry less per finding. Region leads, so region-only
 * filters and GroupBy Region use it as they used findings_by_region; a
 * resource-type filter without a usable region filter seeks each
 * distinct region (REGION_ALL below). Severity after the three filters
 * gives their matches in severity order (the SQL sort then orders one
 * severity at a time and stops at the LIMIT); updated_at last for the
 * default sort. IF EXISTS: another migration may have dropped them. */
const char ch_sq_findq_region_type_schema[] =
    "DROP INDEX IF EXISTS findings_by_region;"
    "DROP INDEX IF EXISTS findings_by_resource_type;"
    "CREATE INDEX findings_by_region_type ON findings(region, resource_type,"
    " workflow_status, severity_label, updated_at);";

/* For tests (store_sqlite_int.h). */
int ch_sq_findq_mode;
unsigned long ch_sq_findq_combos;
unsigned long ch_sq_findq_region_type;
unsigned long ch_sq_findq_walks;

/* How a field reads in SQL. expr: over the findings row; for arrays, the
 * JSON path of the array and elem over json_each's `value`; for maps, the
 * path of the object. notnull: expr is never NULL (sorts and groups use it
 * bare, so an index serves them). */
typedef struct fq_sql {
  certhub_fq_kind kind;
  const char *expr;
  const char *path; /* arrays and maps */
  const char *elem; /* arrays */
  bool notnull;
} fq_sql;

/* Fields with an index of their own (leading column), ranked by how
 * selective it usually is, 1 (an Id) to 6 (two values); 0: no such
 * index (ComplianceStatus's went in migration 16). ResourceType's index
 * is findings_by_region_type's second column (migration 18): without a
 * region filter it is reached through every region (REGION_ALL).
 * AwsAccountId's is findings_by_dims (its leading column); SeverityLabel,
 * WorkflowStatus and RecordState lost theirs in migration 17 (their ranks
 * stay, for the plain plan: SQLite finds no index and drives by another,
 * or walks findings_by_updated for the sort). The store
 * keeps no planner statistics (ANALYZE of millions of rows would hold the
 * write lock for seconds), so without a choice SQLite may walk record_state's
 * index (90% of the rows) when aws_account_id's (2%) is there: only the
 * driving field keeps its index; the others are written "+column", which
 * SQLite then checks row by row. choose_plan picks the driver by counting
 * (the rank is the plain plan's choice, kept for comparison in tests). */
static int rank_of(certhub_fq_field f)
{
  switch(f) {
  case CERTHUB_FQ_ID:
  case CERTHUB_FQ_RESOURCE_ID:
    return 1;
  case CERTHUB_FQ_TITLE:
  case CERTHUB_FQ_GENERATOR_ID:
  case CERTHUB_FQ_AWS_ACCOUNT_ID:
    return 2;
  case CERTHUB_FQ_PRODUCT_ARN:
  case CERTHUB_FQ_REGION:
  case CERTHUB_FQ_RESOURCE_TYPE:
  case CERTHUB_FQ_PRODUCT_NAME:
    return 3;
  case CERTHUB_FQ_SEVERITY_LABEL:
    return 4;
  case CERTHUB_FQ_WORKFLOW_STATUS:
    return 5;
  case CERTHUB_FQ_RECORD_STATE:
    return 6;
  default:
    return 0;
  }
}

#define JX(p) "json_extract(finding, '" p "')"
/* An ASFF timestamp string as milliseconds. */
#define JMS(p)                                                                \
  "CAST(round((julianday(" JX(p) ") - 2440587.5) * 86400000) AS INTEGER)"

static const fq_sql fields[CERTHUB_FQ__COUNT] = {
    [CERTHUB_FQ_ID] = {CERTHUB_FQK_STRING, "id", NULL, NULL, true},
    [CERTHUB_FQ_PRODUCT_ARN] = {CERTHUB_FQK_STRING, "product_arn", NULL, NULL,
                                true},
    [CERTHUB_FQ_GENERATOR_ID] = {CERTHUB_FQK_STRING, "generator_id", NULL,
                                 NULL, true},
    [CERTHUB_FQ_AWS_ACCOUNT_ID] = {CERTHUB_FQK_STRING, "aws_account_id", NULL,
                                   NULL, true},
    [CERTHUB_FQ_REGION] = {CERTHUB_FQK_STRING, "region", NULL, NULL, true},
    [CERTHUB_FQ_TITLE] = {CERTHUB_FQK_STRING, "title", NULL, NULL, false},
    [CERTHUB_FQ_DESCRIPTION] = {CERTHUB_FQK_STRING, JX("$.Description"), NULL,
                                NULL, false},
    [CERTHUB_FQ_TYPE] = {CERTHUB_FQK_STRING, NULL, "$.Types", "value", false},
    [CERTHUB_FQ_SEVERITY_LABEL] = {CERTHUB_FQK_STRING, "severity_label", NULL,
                                   NULL, true},
    [CERTHUB_FQ_WORKFLOW_STATUS] = {CERTHUB_FQK_STRING, "workflow_status",
                                    NULL, NULL, true},
    [CERTHUB_FQ_RECORD_STATE] = {CERTHUB_FQK_STRING, "record_state", NULL,
                                 NULL, true},
    [CERTHUB_FQ_COMPLIANCE_STATUS] = {CERTHUB_FQK_STRING, "compliance_status",
                                      NULL, NULL, false},
    [CERTHUB_FQ_RESOURCE_ID] = {CERTHUB_FQK_STRING, "resource_id", NULL, NULL,
                                true},
    [CERTHUB_FQ_RESOURCE_TYPE] = {CERTHUB_FQK_STRING, "resource_type", NULL,
                                  NULL, false},
    [CERTHUB_FQ_RESOURCE_REGION] = {CERTHUB_FQK_STRING,
                                    JX("$.Resources[0].Region"), NULL, NULL,
                                    false},
    [CERTHUB_FQ_RESOURCE_PARTITION] = {CERTHUB_FQK_STRING,
                                       JX("$.Resources[0].Partition"), NULL,
                                       NULL, false},
    [CERTHUB_FQ_PRODUCT_NAME] = {CERTHUB_FQK_STRING, "product_name", NULL,
                                 NULL, false},
    [CERTHUB_FQ_COMPANY_NAME] = {CERTHUB_FQK_STRING, JX("$.CompanyName"), NULL,
                                 NULL, false},
    [CERTHUB_FQ_VERIFICATION_STATE] = {CERTHUB_FQK_STRING,
                                       JX("$.VerificationState"), NULL, NULL,
                                       false},
    [CERTHUB_FQ_NOTE_TEXT] = {CERTHUB_FQK_STRING, JX("$.Note.Text"), NULL,
                              NULL, false},
    [CERTHUB_FQ_NOTE_UPDATED_BY] = {CERTHUB_FQK_STRING, JX("$.Note.UpdatedBy"),
                                    NULL, NULL, false},
    [CERTHUB_FQ_SOURCE_URL] = {CERTHUB_FQK_STRING, JX("$.SourceUrl"), NULL,
                               NULL, false},
    [CERTHUB_FQ_RELATED_FINDINGS_ID] = {CERTHUB_FQK_STRING, NULL,
                                        "$.RelatedFindings",
                                        "json_extract(value, '$.Id')", false},
    [CERTHUB_FQ_SEVERITY_NORMALIZED] = {CERTHUB_FQK_NUMBER,
                                        JX("$.Severity.Normalized"), NULL,
                                        NULL, false},
    [CERTHUB_FQ_CONFIDENCE] = {CERTHUB_FQK_NUMBER, JX("$.Confidence"), NULL,
                               NULL, false},
    [CERTHUB_FQ_CRITICALITY] = {CERTHUB_FQK_NUMBER, JX("$.Criticality"), NULL,
                                NULL, false},
    [CERTHUB_FQ_CREATED_AT] = {CERTHUB_FQK_DATE, "created_at", NULL, NULL,
                               false},
    [CERTHUB_FQ_UPDATED_AT] = {CERTHUB_FQK_DATE, "updated_at", NULL, NULL,
                               true},
    [CERTHUB_FQ_FIRST_OBSERVED_AT] = {CERTHUB_FQK_DATE, "first_observed_at",
                                      NULL, NULL, false},
    [CERTHUB_FQ_LAST_OBSERVED_AT] = {CERTHUB_FQK_DATE, "last_observed_at",
                                     NULL, NULL, false},
    [CERTHUB_FQ_NOTE_UPDATED_AT] = {CERTHUB_FQK_DATE, JMS("$.Note.UpdatedAt"),
                                    NULL, NULL, false},
    [CERTHUB_FQ_RESOURCE_TAGS] = {CERTHUB_FQK_MAP, NULL, "$.Resources[0].Tags",
                                  NULL, false},
    [CERTHUB_FQ_USER_DEFINED_FIELDS] = {CERTHUB_FQK_MAP, NULL,
                                        "$.UserDefinedFields", NULL, false},
    [CERTHUB_FQ_PRODUCT_FIELDS] = {CERTHUB_FQK_MAP, NULL, "$.ProductFields",
                                   NULL, false},
    [CERTHUB_FQ_SAMPLE] = {CERTHUB_FQK_BOOL, "coalesce(" JX("$.Sample") ", 0)",
                           NULL, NULL, true},
};

certhub_fq_kind certhub_fq_kind_of(certhub_fq_field f)
{
  return (unsigned)f < CERTHUB_FQ__COUNT ? fields[f].kind : CERTHUB_FQK_STRING;
}

/* ---- statement building ---------------------------------------------- */

#define SQL_CAP ((size_t)4 << 20)

typedef struct bindv {
  enum { B_TEXT, B_INT, B_REAL } t;
  const char *s; /* borrowed from the query or owned in `owned` */
  int64_t i;
  double d;
} bindv;

typedef struct qb {
  ch_buf sql;
  bindv *b;
  size_t n, alloc;
  char **owned; /* prefix upper bounds */
  size_t n_owned;
} qb;

static void qb_free(qb *q)
{
  ch_buf_free(&q->sql);
  free(q->b);
  for(size_t i = 0; i < q->n_owned; i++)
    free(q->owned[i]);
  free(q->owned);
}

static ch_err qb_push(qb *q, bindv v)
{
  if(q->n == q->alloc) {
    size_t na = q->alloc ? q->alloc * 2 : 32;
    bindv *nb = realloc(q->b, na * sizeof(*nb));
    if(!nb)
      return CH_ERR_NOMEM;
    q->b = nb;
    q->alloc = na;
  }
  q->b[q->n++] = v;
  return CH_OK;
}

/* Append text and a "?N" placeholder bound to v. */
static ch_err qb_param(qb *q, bindv v)
{
  ch_err rc = qb_push(q, v);
  return rc ? rc : ch_buf_printf(&q->sql, "?%zu", q->n);
}

static ch_err qb_text(qb *q, const char *s)
{
  return qb_param(q, (bindv){.t = B_TEXT, .s = s});
}

static ch_err qb_real(qb *q, double d)
{
  return qb_param(q, (bindv){.t = B_REAL, .d = d});
}

static ch_err qb_int(qb *q, int64_t i)
{
  return qb_param(q, (bindv){.t = B_INT, .i = i});
}

/* The smallest string greater than every string starting with p, in
 * SQLite's BINARY (memcmp) order: p with its last byte incremented. Valid
 * UTF-8 never holds 0xf5..0xff, so the increment cannot overflow; NULL
 * (owned by q) when it would. */
static ch_err prefix_upper(qb *q, const char *p, const char **out)
{
  size_t n = strlen(p);
  *out = NULL;
  if(!n || (unsigned char)p[n - 1] == 0xff)
    return CH_OK;
  char **no = realloc(q->owned, (q->n_owned + 1) * sizeof(*no));
  if(!no)
    return CH_ERR_NOMEM;
  q->owned = no;
  char *u = strdup(p);
  if(!u)
    return CH_ERR_NOMEM;
  u[n - 1] = (char)((unsigned char)u[n - 1] + 1);
  q->owned[q->n_owned++] = u;
  *out = u;
  return CH_OK;
}

/* The positive form of a string comparison on expression e. */
static ch_err str_atom(qb *q, const char *e, certhub_fq_cmp cmp, const char *v)
{
  ch_buf *b = &q->sql;
  ch_err rc = CH_OK;
  const char *up = NULL;
  switch(cmp) {
  case CERTHUB_FQ_EQUALS:
  case CERTHUB_FQ_NOT_EQUALS:
    if(!(rc = ch_buf_printf(b, "%s = ", e)))
      rc = qb_text(q, v);
    break;
  case CERTHUB_FQ_PREFIX:
  case CERTHUB_FQ_PREFIX_NOT_EQUALS:
    /* A range an index can serve. */
    if((rc = prefix_upper(q, v, &up)))
      break;
    if(!*v) {
      rc = ch_buf_printf(b, "%s IS NOT NULL", e);
      break;
    }
    if(!(rc = ch_buf_printf(b, "(%s >= ", e)) && !(rc = qb_text(q, v))) {
      if(up) {
        if(!(rc = ch_buf_printf(b, " AND %s < ", e)))
          rc = qb_text(q, up);
      }
      else if(!(rc = ch_buf_printf(b, " AND substr(%s, 1, length(", e)) &&
              !(rc = qb_text(q, v)) && !(rc = ch_buf_addstr(b, ")) = ")))
        rc = qb_text(q, v);
      if(!rc)
        rc = ch_buf_addc(b, ')');
    }
    break;
  case CERTHUB_FQ_CONTAINS:
  case CERTHUB_FQ_NOT_CONTAINS:
    if(!(rc = ch_buf_printf(b, "instr(%s, ", e)) && !(rc = qb_text(q, v)))
      rc = ch_buf_addstr(b, ") > 0");
    break;
  }
  return rc;
}

/* One string or map condition, positive form; the caller negates. */
static ch_err cond_positive(qb *q, const fq_sql *fs, const certhub_fq_cond *c)
{
  ch_buf *b = &q->sql;
  ch_err rc;
  if(fs->kind == CERTHUB_FQK_MAP) {
    if((rc = ch_buf_printf(
            b, "EXISTS(SELECT 1 FROM json_each(finding, '%s') WHERE key = ",
            fs->path)) ||
       (rc = qb_text(q, c->key ? c->key : "")) ||
       (rc = ch_buf_addstr(b, " AND ")) ||
       (rc = str_atom(q, "value", c->cmp, c->value ? c->value : "")))
      return rc;
    return ch_buf_addc(b, ')');
  }
  if(fs->path) { /* array: any element */
    if((rc = ch_buf_printf(
            b, "EXISTS(SELECT 1 FROM json_each(finding, '%s') WHERE ",
            fs->path)) ||
       (rc = str_atom(q, fs->elem, c->cmp, c->value ? c->value : "")))
      return rc;
    return ch_buf_addc(b, ')');
  }
  return str_atom(q, fs->expr, c->cmp, c->value ? c->value : "");
}

/* Number, date and boolean conditions: bounds AND'ed. */
static ch_err cond_range(qb *q, const fq_sql *fs, const certhub_fq_cond *c)
{
  ch_buf *b = &q->sql;
  ch_err rc = CH_OK;
  bool date = fs->kind == CERTHUB_FQK_DATE;
  if(fs->kind == CERTHUB_FQK_BOOL) {
    if(!(rc = ch_buf_printf(b, "%s = ", fs->expr)))
      rc = qb_int(q, c->b ? 1 : 0);
    return rc;
  }
  static const struct {
    unsigned bit;
    const char *op;
  } ops[] = {{CERTHUB_FQ_GTE, ">="},
             {CERTHUB_FQ_LTE, "<="},
             {CERTHUB_FQ_GT, ">"},
             {CERTHUB_FQ_LT, "<"},
             {CERTHUB_FQ_EQ, "="}};
  const double vals[] = {c->gte, c->lte, c->gt, c->lt, c->eq};
  bool first = true;
  if((rc = ch_buf_addc(b, '(')))
    return rc;
  for(size_t i = 0; i < CH_ARRAY_LEN(ops) && !rc; i++) {
    if(!(c->bounds & ops[i].bit))
      continue;
    if(!(rc = ch_buf_printf(b, "%s%s %s ", first ? "" : " AND ", fs->expr,
                            ops[i].op)))
      rc = date ? qb_int(q, (int64_t)vals[i]) : qb_real(q, vals[i]);
    first = false;
  }
  if(!rc && first) /* no bounds: the field must be present */
    rc = ch_buf_printf(b, "%s IS NOT NULL", fs->expr);
  return rc ? rc : ch_buf_addc(b, ')');
}

/* The best rank (rank_of) among fields whose conditions an index can
 * serve: all positive, none CONTAINS; 0 when there is none. */
static int best_rank(const certhub_findings_query *fq)
{
  int best = 0;
  for(int f = 0; f < CERTHUB_FQ__COUNT; f++) {
    int r = rank_of((certhub_fq_field)f);
    bool any = false, usable = r > 0;
    for(size_t i = 0; i < fq->n_conds && usable; i++) {
      const certhub_fq_cond *c = &fq->conds[i];
      if((int)c->field != f)
        continue;
      any = true;
      usable = c->cmp == CERTHUB_FQ_EQUALS || c->cmp == CERTHUB_FQ_PREFIX;
    }
    if(any && usable && (!best || r < best))
      best = r;
  }
  return best;
}

/* The column of findings_counts that holds field f; NULL when it is not
 * one of that table's dimensions. */
static const char *counts_col(certhub_fq_field f)
{
  switch(f) {
  case CERTHUB_FQ_AWS_ACCOUNT_ID:
    return "fc.aws_account_id";
  case CERTHUB_FQ_SEVERITY_LABEL:
    return "fc.severity_label";
  case CERTHUB_FQ_WORKFLOW_STATUS:
    return "fc.workflow_status";
  case CERTHUB_FQ_RECORD_STATE:
    return "fc.record_state";
  case CERTHUB_FQ_COMPLIANCE_STATUS:
    return "fc.compliance_status";
  default:
    return NULL;
  }
}

/* Where where_conds writes its conditions: findings (the fields other
 * than the driver marked "+", see rank_of), findings_counts AS fc (its
 * dimensions only), or findings AS f in combo_plan's join (bare columns
 * only). */
enum wmode { W_FINDINGS, W_COUNTS, W_F };
#define ALL_FIELDS (~(uint64_t)0)
#define BIT(f) ((uint64_t)1 << (f))

/* Whether f's conditions can all be served by its index (positive EQUALS
 * or PREFIX, which rank_of's indexes serve), and f has some. */
static bool index_usable(const certhub_findings_query *fq, int f)
{
  bool any = false;
  if(!rank_of((certhub_fq_field)f))
    return false;
  for(size_t i = 0; i < fq->n_conds; i++) {
    const certhub_fq_cond *c = &fq->conds[i];
    if((int)c->field != f)
      continue;
    if(c->cmp != CERTHUB_FQ_EQUALS && c->cmp != CERTHUB_FQ_PREFIX)
      return false;
    any = true;
  }
  return any;
}

static bool has_conds(const certhub_findings_query *fq, int f)
{
  for(size_t i = 0; i < fq->n_conds; i++)
    if((int)fq->conds[i].field == f)
      return true;
  return false;
}

/* The columns of findings_by_region_type a plan driven by it leaves bare
 * (the index checks them; updated_at has no rank, so is bare anyway). */
#define RT_COLS                                                               \
  (BIT(CERTHUB_FQ_REGION) | BIT(CERTHUB_FQ_RESOURCE_TYPE) |                   \
   BIT(CERTHUB_FQ_WORKFLOW_STATUS) | BIT(CERTHUB_FQ_SEVERITY_LABEL))

/* Every region in the store, one seek of findings_by_region_type each
 * (the loose index scan SQLite does not do by itself): "region IN" this
 * lets a resource-type filter seek (region, resource_type) per region.
 * Always true (region is NOT NULL), so it changes no result. */
#define REGION_ALL                                                            \
  "region IN (WITH RECURSIVE r(v) AS (SELECT (SELECT region FROM findings"    \
  " INDEXED BY findings_by_region_type ORDER BY region LIMIT 1) UNION ALL"    \
  " SELECT (SELECT region FROM findings INDEXED BY findings_by_region_type"   \
  " WHERE region > r.v ORDER BY region LIMIT 1) FROM r WHERE v IS NOT NULL)"  \
  " SELECT v FROM r WHERE v IS NOT NULL)"

/* Whether a plan driven by `driver` (see where_conds) reads
 * findings_by_region_type through a resource-type filter alone: then
 * REGION_ALL supplies the leading column. */
static bool region_all(const certhub_findings_query *fq, int driver)
{
  if(index_usable(fq, CERTHUB_FQ_REGION) ||
     !index_usable(fq, CERTHUB_FQ_RESOURCE_TYPE))
    return false;
  if(driver == CERTHUB_FQ_REGION || driver == CERTHUB_FQ_RESOURCE_TYPE)
    return true;
  return driver == -2 && best_rank(fq) == rank_of(CERTHUB_FQ_RESOURCE_TYPE);
}

/* " AND (...)" for every field in mask with conditions. driver: the field
 * whose index should drive a W_FINDINGS plan (-1: none; -2: the best by
 * rank_of, the plain plan; CERTHUB_FQ_REGION or _RESOURCE_TYPE:
 * findings_by_region_type, its columns bare, RT_COLS). */
static ch_err where_conds(qb *q, const certhub_findings_query *fq,
                          enum wmode mode, uint64_t mask, int driver)
{
  ch_err rc = CH_OK;
  ch_buf *b = &q->sql;
  int best = driver == -2 ? best_rank(fq) : 0;
  uint64_t bare = 0;
  if(driver == CERTHUB_FQ_REGION || driver == CERTHUB_FQ_RESOURCE_TYPE)
    bare = RT_COLS;
  else if(driver >= 0)
    bare = BIT(driver);
  if(mode == W_FINDINGS &&
     (mask & (BIT(CERTHUB_FQ_REGION) | BIT(CERTHUB_FQ_RESOURCE_TYPE))) &&
     region_all(fq, driver))
    rc = ch_buf_addstr(b, " AND " REGION_ALL);
  for(int f = 0; f < CERTHUB_FQ__COUNT && !rc; f++) {
    fq_sql fsv = fields[f];
    const fq_sql *fs = &fsv;
    char hinted[64];
    int r = rank_of((certhub_fq_field)f);
    if(!(mask & BIT(f)))
      continue;
    if(mode == W_COUNTS) {
      /* Filters see NULL for an absent status, as over findings. */
      const char *c = counts_col((certhub_fq_field)f);
      fsv.expr = f == CERTHUB_FQ_COMPLIANCE_STATUS
                     ? "nullif(fc.compliance_status, '')"
                     : c;
    }
    else if(mode == W_F) {
      snprintf(hinted, sizeof(hinted), "f.%s", fields[f].expr);
      fsv.expr = hinted;
    }
    else if(r && (driver == -2 ? r != best : !(bare & BIT(f)))) {
      snprintf(hinted, sizeof(hinted), "+%s", fields[f].expr);
      fsv.expr = hinted;
    }
    size_t npos = 0, nneg = 0;
    for(size_t i = 0; i < fq->n_conds; i++) {
      const certhub_fq_cond *c = &fq->conds[i];
      if((int)c->field != f)
        continue;
      bool strish =
          fs->kind == CERTHUB_FQK_STRING || fs->kind == CERTHUB_FQK_MAP;
      if(strish && certhub_fq_negative(c->cmp))
        nneg++;
      else
        npos++;
    }
    if(!npos && !nneg)
      continue;
    bool strish =
        fs->kind == CERTHUB_FQK_STRING || fs->kind == CERTHUB_FQK_MAP;
    if((rc = ch_buf_addstr(b, " AND (")))
      break;
    /* Positive conditions OR'ed (for numbers, dates and booleans every
     * entry is positive). */
    if(npos) {
      size_t k = 0;
      rc = ch_buf_addc(b, '(');
      for(size_t i = 0; i < fq->n_conds && !rc; i++) {
        const certhub_fq_cond *c = &fq->conds[i];
        if((int)c->field != f || (strish && certhub_fq_negative(c->cmp)))
          continue;
        if(k++ && (rc = ch_buf_addstr(b, " OR ")))
          break;
        rc = strish ? cond_positive(q, fs, c) : cond_range(q, fs, c);
      }
      if(!rc)
        rc = ch_buf_addc(b, ')');
    }
    /* Negative ones AND'ed; a missing value matches them. */
    size_t k = 0;
    for(size_t i = 0; i < fq->n_conds && !rc && nneg; i++) {
      const certhub_fq_cond *c = &fq->conds[i];
      if((int)c->field != f || !certhub_fq_negative(c->cmp))
        continue;
      if((npos || k) && (rc = ch_buf_addstr(b, " AND ")))
        break;
      k++;
      if(!(rc = ch_buf_addstr(b, "NOT coalesce(")) &&
         !(rc = cond_positive(q, fs, c)))
        rc = ch_buf_addstr(b, ", 0)");
    }
    if(!rc)
      rc = ch_buf_addc(b, ')');
  }
  return rc;
}

/* Whether the query's conditions on f admit only rows where f is present:
 * any positive condition does (a comparison with NULL is never true). */
static bool present_by_filter(const certhub_findings_query *fq,
                              certhub_fq_field f)
{
  certhub_fq_kind k = fields[f].kind;
  for(size_t i = 0; i < fq->n_conds; i++)
    if(fq->conds[i].field == f &&
       ((k != CERTHUB_FQK_STRING && k != CERTHUB_FQK_MAP) ||
        !certhub_fq_negative(fq->conds[i].cmp)))
      return true;
  return false;
}

/* The sort expression of field f: never NULL, so keyset comparisons work
 * (an absent value sorts as "" or -1). Bare when the column cannot be NULL
 * or the filters exclude NULL (the same order and values then), so that
 * the field's index can deliver the order: "Title PREFIX x, sort Title"
 * walks 101 entries of findings_by_title instead of sorting every match. */
static ch_err sort_expr(certhub_store *s, const certhub_findings_query *fq,
                        certhub_fq_field f, ch_buf *out)
{
  if((unsigned)f >= CERTHUB_FQ__COUNT)
    return ch_store_err(s, CH_ERR_USAGE, "unknown sort field %d", (int)f);
  const fq_sql *fs = &fields[f];
  if(!fs->expr || fs->kind == CERTHUB_FQK_MAP)
    return ch_store_err(s, CH_ERR_USAGE, "this field cannot be sorted on");
  if(fs->notnull ||
     (ch_sq_findq_mode != CH_SQ_FINDQ_PLAIN && present_by_filter(fq, f)))
    return ch_buf_addstr(out, fs->expr);
  return ch_buf_printf(out, "coalesce(%s, %s)", fs->expr,
                       fs->kind == CERTHUB_FQK_STRING ? "''" : "-1");
}

static ch_err bind_all(certhub_store *s, qb *q, sqlite3_stmt *st)
{
  for(size_t i = 0; i < q->n; i++) {
    int r;
    int idx = (int)i + 1;
    switch(q->b[i].t) {
    case B_TEXT:
      r = sqlite3_bind_text(st, idx, q->b[i].s, -1, SQLITE_STATIC);
      break;
    case B_INT:
      r = sqlite3_bind_int64(st, idx, q->b[i].i);
      break;
    default:
      r = sqlite3_bind_double(st, idx, q->b[i].d);
      break;
    }
    if(r != SQLITE_OK)
      return ch_sq_dberr(s, r, "binding a findings query");
  }
  return CH_OK;
}

static ch_err bind_key(qb *q, const certhub_fq_value *v)
{
  switch(v->type) {
  case CERTHUB_FQV_INT:
    return qb_int(q, v->i);
  case CERTHUB_FQV_REAL:
    return qb_real(q, v->d);
  default:
    return qb_text(q, v->s ? v->s : "");
  }
}

/* Keyset position: rows after (k1..kn, product_arn, id) in the sort
 * order, as nested ORs (directions may differ per key), plus a redundant
 * bound on the first key so an index range serves deep pages. */
static ch_err where_after(qb *q, const certhub_findings_query *fq,
                          char keys[][320], size_t nk)
{
  ch_buf *b = &q->sql;
  ch_err rc = CH_OK;
  if(!fq->after_product_arn || !fq->after_id)
    return CH_OK;
  if(nk) {
    if(!(rc = ch_buf_printf(b, " AND %s %s ", keys[0],
                            fq->desc[0] ? "<=" : ">=")))
      rc = bind_key(q, &fq->after[0]);
    if(rc)
      return rc;
  }
  if((rc = ch_buf_addstr(b, " AND (")))
    return rc;
  for(size_t i = 0; i < nk && !rc; i++) {
    if(!(rc = ch_buf_printf(b, "%s %s ", keys[i], fq->desc[i] ? "<" : ">")) &&
       !(rc = bind_key(q, &fq->after[i])) &&
       !(rc = ch_buf_printf(b, " OR (%s = ", keys[i])) &&
       !(rc = bind_key(q, &fq->after[i])))
      rc = ch_buf_addstr(b, " AND (");
  }
  if(!rc && !(rc = ch_buf_addstr(b, "(product_arn, id) > (")) &&
     !(rc = qb_text(q, fq->after_product_arn)) &&
     !(rc = ch_buf_addstr(b, ", ")) && !(rc = qb_text(q, fq->after_id)))
    rc = ch_buf_addstr(b, ")");
  for(size_t i = 0; i < nk && !rc; i++)
    rc = ch_buf_addstr(b, "))");
  return rc ? rc : ch_buf_addc(b, ')');
}

/* ---- planning --------------------------------------------------------- */

/* The combo plan fetches at most this many rows (matches of the
 * dimensions' filters); the capped counts stop here. */
#define COMBO_MAX 20000
#define COUNT_CAP 50000

/* Run q (one row of integers) into out[0..n-1]. */
static ch_err run_counts(certhub_store *s, qb *q, int64_t *out, int n)
{
  sqlite3_stmt *st = NULL;
  ch_err rc;
  if(q->sql.len == 0 || !q->sql.data)
    return ch_store_err(s, CH_ERR_INTERNAL, "empty findings plan query");
  if((rc = ch_sq_prepare(s, q->sql.data, &st)) || (rc = bind_all(s, q, st)))
    goto out;
  int r = sqlite3_step(st);
  if(r != SQLITE_ROW) {
    rc = ch_sq_dberr(s, r, "planning a findings query");
    goto out;
  }
  for(int i = 0; i < n; i++)
    out[i] = sqlite3_column_int64(st, i);
out:
  sqlite3_finalize(st);
  return rc;
}

/* The last few results of choose_plan's pass over findings_counts (~8,000
 * rows at 1,000,000 findings, ~2 ms), per thread: the NextToken pages of a
 * query and a repeated query ask the same while nothing changed. Valid
 * while the connection's data version (SQLITE_FCNTL_DATA_VERSION: any
 * commit, this connection's or another's, seen at the next read) and its
 * change count stay; keyed by the statement and its bound values. A stale
 * entry (a new connection at a freed one's address, at the same version)
 * could only change the plan, never the rows: every plan gives the same. */
#define CC_SLOTS 8
#define CC_KEY 2048
typedef struct cc_slot {
  sqlite3 *db;
  unsigned ver;
  int64_t changes;
  size_t klen;
  char key[CC_KEY];
  int64_t v[CERTHUB_FQ__COUNT + 2];
} cc_slot;
static _Thread_local cc_slot cc[CC_SLOTS];
static _Thread_local unsigned cc_next;
/* For tests and the bench: 0 turns the cache off. */
int ch_sq_findq_cache = 1;
unsigned long ch_sq_findq_cache_hits;

/* q's statement and bound values as one key; 0 when it does not fit. */
static size_t cc_keyof(const qb *q, char *k)
{
  size_t n = q->sql.len;
  if(n + 1 > CC_KEY)
    return 0;
  memcpy(k, q->sql.data, n);
  k[n++] = '\0';
  for(size_t i = 0; i < q->n; i++) {
    int w;
    if(q->b[i].t == B_TEXT)
      w = snprintf(k + n, CC_KEY - n, "t%s", q->b[i].s);
    else if(q->b[i].t == B_INT)
      w = snprintf(k + n, CC_KEY - n, "i%lld", (long long)q->b[i].i);
    else
      w = snprintf(k + n, CC_KEY - n, "r%.17g", q->b[i].d);
    if(w < 0 || (size_t)w + 1 >= CC_KEY - n)
      return 0;
    n += (size_t)w + 1; /* the '\0' written after it separates */
  }
  return n;
}

/* run_counts through the cache. */
static ch_err cached_counts(certhub_store *s, qb *q, int64_t *out, int n)
{
  sqlite3 *db = ch_sq_db(s);
  unsigned ver = 0;
  char key[CC_KEY];
  size_t klen = 0;
  if(ch_sq_findq_cache &&
     sqlite3_file_control(db, "main", SQLITE_FCNTL_DATA_VERSION, &ver) ==
         SQLITE_OK)
    klen = cc_keyof(q, key);
  int64_t changes = sqlite3_total_changes64(db);
  for(int i = 0; i < CC_SLOTS && klen; i++) {
    cc_slot *c = &cc[i];
    if(c->db == db && c->ver == ver && c->changes == changes &&
       c->klen == klen && !memcmp(c->key, key, klen)) {
      memcpy(out, c->v, (size_t)n * sizeof(*out));
      ch_sq_findq_cache_hits++;
      return CH_OK;
    }
  }
  ch_err rc = run_counts(s, q, out, n);
  if(!rc && klen) {
    cc_slot *c = &cc[cc_next++ % CC_SLOTS];
    c->db = db;
    c->ver = ver;
    c->changes = changes;
    c->klen = klen;
    memcpy(c->key, key, klen);
    memcpy(c->v, out, (size_t)n * sizeof(*out));
  }
  return rc;
}

typedef struct plan {
  bool combo;    /* the join of choose_plan, else one index (driver) */
  bool walk;     /* findings_by_updated in the sort's order, every filter
                    checked row by row (driver -1) */
  bool dims_idx; /* the driver (account) through findings_by_dims */
  int driver;    /* for where_conds (CERTHUB_FQ_REGION: by
                    findings_by_region_type) */
  int64_t est;   /* rows the chosen plan reads, estimated */
} plan;

/* Sorting a row costs about a quarter of reading it (the sorter's copy
 * of the columns and its comparisons), in quarters. */
#define SORT_Q 5
/* The walk's estimate assumes the matches spread evenly over time; data
 * where they do not (a region whose findings are all old) can make it
 * read many times more: it must win by this factor. */
#define WALK_MARGIN 2

/* Whether to walk findings_by_updated instead (p->walk): with the default
 * sort (UpdatedAt alone) and a LIMIT, the walk from the newest row (or
 * the NextToken's keys, where_after) reads about (LIMIT + 1) / share rows,
 * a table lookup and the filters' checks each, and needs no sort; the
 * chosen plan reads its driver's matches (p->est; `plain` when its index
 * gives the sort's order and stops early) and sorts them. Filters nothing
 * counted (negative or CONTAINS filters off the dimensions, maps, dates
 * other than UpdatedAt, which the walk seeks) count as keeping half, and
 * the walk is taken with them only if reading every row would still do. */
static void walk_or_not(const certhub_findings_query *fq,
                        const certhub_fq_field *sort, size_t nk, int64_t total,
                        double share, uint64_t counted, int64_t plain, plan *p)
{
  if(nk != 1 || sort[0] != CERTHUB_FQ_UPDATED_AT || !fq->limit || total <= 0)
    return;
  bool ordered = !p->combo && !p->dims_idx && plain < p->est;
  bool unknown = false;
  for(int f = 0; f < CERTHUB_FQ__COUNT; f++)
    if(f != CERTHUB_FQ_UPDATED_AT && has_conds(fq, f) && !(counted & BIT(f))) {
      share /= 2;
      unknown = true;
    }
  double walk = share > 0 ? ((double)fq->limit + 1) / share : (double)total;
  if(walk > (double)total)
    walk = (double)total;
  double cur = ordered ? (double)plain : (double)p->est * SORT_Q / 4;
  /* Such a filter may keep next to nothing, and then the walk reads every
   * row: only when even that stays within the margin. */
  if(unknown && (double)total > cur * WALK_MARGIN)
    walk = (double)total;
  if(ch_sq_findq_mode == CH_SQ_FINDQ_WALK || walk * WALK_MARGIN <= cur) {
    p->walk = true;
    p->combo = false;
    p->dims_idx = false;
    p->driver = -1;
    p->est = (int64_t)walk;
    ch_sq_findq_walks++;
  }
}

/* Choose how to run fq. The plain plan lets the field with the fewest
 * matching rows drive (its index), the others checked row by row. Counts
 * come from the data, not guesses: findings_counts for its dimensions (one
 * pass over a few thousand rows), a count of index entries capped at
 * COUNT_CAP for the other indexed fields. When the filters findings_by_dims
 * can check (the dimensions, region, updated_at) together match far fewer
 * rows than the best single index yields (or than it reads before the
 * LIMIT when it is in the sort's order), only those rows are read: with
 * the account filtered, through findings_by_dims from the account on
 * (counted there first); without, by the combination plan: each matching
 * combination of findings_counts is one range of findings_by_dims. */
static ch_err choose_plan(certhub_store *s, const certhub_findings_query *fq,
                          const certhub_fq_field *sort, size_t nk, plan *p)
{
  qb q = {0};
  ch_err rc = CH_OK;
  int64_t cnt[CERTHUB_FQ__COUNT + 2];
  int col[CERTHUB_FQ__COUNT];
  int ncol = 0;
  uint64_t dims = 0;
  p->combo = false;
  p->walk = false;
  p->dims_idx = false;
  p->driver = -2;
  p->est = -1;
  if(ch_sq_findq_mode == CH_SQ_FINDQ_PLAIN)
    return CH_OK;
  bool usable = false;
  for(int f = 0; f < CERTHUB_FQ__COUNT; f++) {
    if(counts_col((certhub_fq_field)f) && has_conds(fq, f))
      dims |= BIT(f);
    usable = usable || index_usable(fq, f);
  }
  /* No field an index can serve (negative filters, maps, dates): nothing
   * to choose, SQLite walks the sort's index or scans. */
  if(!usable)
    return CH_OK;
  ch_buf_init(&q.sql, SQL_CAP);
  /* One pass over findings_counts: all rows, those matching every
   * dimension's conditions, those matching each usable dimension's. */
  rc = ch_buf_addstr(&q.sql, "SELECT coalesce(sum(n), 0),"
                             " coalesce(sum(n) FILTER (WHERE 1");
  if(!rc)
    rc = where_conds(&q, fq, W_COUNTS, dims, -1);
  if(!rc)
    rc = ch_buf_addstr(&q.sql, "), 0)");
  for(int f = 0; f < CERTHUB_FQ__COUNT && !rc; f++) {
    if(!(dims & BIT(f)) || !index_usable(fq, f))
      continue;
    col[ncol++] = f;
    if(!(rc = ch_buf_addstr(&q.sql, ", coalesce(sum(n) FILTER (WHERE 1")) &&
       !(rc = where_conds(&q, fq, W_COUNTS, BIT(f), -1)))
      rc = ch_buf_addstr(&q.sql, "), 0)");
  }
  if(!rc)
    rc = ch_buf_addstr(&q.sql, " FROM findings_counts AS fc WHERE n > 0");
  if(!rc)
    rc = cached_counts(s, &q, cnt, ncol + 2);
  if(rc)
    goto out;
  int64_t total = cnt[0], m = cnt[1];
  int64_t best = total;
  /* The share of the findings the filters keep, for the walk below: the
   * dimensions' (m, exact) times each other counted field's, taken as
   * independent; a capped count gives its lower bound (a smaller share
   * means a longer walk: the estimate errs against the walk). */
  double share = total > 0 ? (double)m / (double)total : 0;
  uint64_t counted = dims;
  int bestf = -1;
  for(int i = 0; i < ncol; i++)
    if(cnt[i + 2] < best) {
      best = cnt[i + 2];
      bestf = col[i];
    }
  /* The other indexed fields: index entries, capped. Region and resource
   * type share findings_by_region_type: counted last (f == COUNT; the
   * smallest cap by then), with the filters of its columns it can seek
   * (workflow and severity too), as the plan driven by it reads them. */
  bool rt_usable = index_usable(fq, CERTHUB_FQ_REGION) ||
                   index_usable(fq, CERTHUB_FQ_RESOURCE_TYPE);
  /* Only the filters it seeks on: a negative one, checked entry by entry,
   * doubled the count's cost and changes the estimate little. */
  uint64_t rt_seek = 0;
  for(int f = 0; f < CERTHUB_FQ__COUNT; f++)
    if((RT_COLS & BIT(f)) && index_usable(fq, f))
      rt_seek |= BIT(f);
  for(int f = 0; f <= CERTHUB_FQ__COUNT && !rc; f++) {
    bool rt = f == CERTHUB_FQ__COUNT;
    if(rt ? !rt_usable
          : (dims & BIT(f)) || f == CERTHUB_FQ_REGION ||
                f == CERTHUB_FQ_RESOURCE_TYPE || !index_usable(fq, f))
      continue;
    /* Only a count well under the best so far changes the choice: stop
     * counting at half of it (each entry counted costs ~50 ns). */
    int64_t c = 0, cap = best / 2 + 1;
    if(cap > COUNT_CAP)
      cap = COUNT_CAP;
    qb_free(&q);
    memset(&q, 0, sizeof(q));
    ch_buf_init(&q.sql, SQL_CAP);
    if(!(rc = ch_buf_addstr(&q.sql,
                            rt ? "SELECT count(*) FROM (SELECT 1 FROM findings"
                                 " INDEXED BY findings_by_region_type WHERE 1"
                               : "SELECT count(*) FROM (SELECT 1 FROM findings"
                                 " WHERE 1")) &&
       !(rc = rt ? where_conds(&q, fq, W_FINDINGS, rt_seek, CERTHUB_FQ_REGION)
                 : where_conds(&q, fq, W_FINDINGS, BIT(f), f)) &&
       !(rc = ch_buf_printf(&q.sql, " LIMIT %lld)", (long long)cap)))
      rc = run_counts(s, &q, &c, 1);
    /* Stopped at COUNT_CAP: somewhere above; taken as twice the cap, so
     * such a field still beats a dimension counted far above it (the
     * first of equals, in field order, wins). */
    if(!rc && total > 0) {
      double sh = (double)c / (double)total;
      /* rt also counted the dimensions it seeks (workflow, severity),
       * already in m: divide their shares out */
      for(int i = 0; rt && i < ncol; i++)
        if((rt_seek & BIT(col[i])) && cnt[i + 2] > 0)
          sh = sh * (double)total / (double)cnt[i + 2];
      share *= sh < 1 ? sh : 1;
      counted |= rt ? rt_seek : BIT(f);
    }
    if(!rc && c >= cap)
      c = cap == COUNT_CAP ? 2 * (int64_t)COUNT_CAP : best;
    if(!rc && c < best) {
      best = c;
      bestf = rt ? CERTHUB_FQ_REGION : f;
    }
  }
  if(rc)
    goto out;
  p->driver = bestf;
  p->est = best;
  /* What the plain plan reads: the driver's matches. (No driver index is
   * in UpdatedAt order since migration 17 dropped the (field,
   * updated_at) indexes, so none stops early at the LIMIT; the walk of
   * findings_by_updated below is the plan that does.) */
  int64_t plain = best;
  bool force = ch_sq_findq_mode == CH_SQ_FINDQ_COMBO;
  if(index_usable(fq, CERTHUB_FQ_AWS_ACCOUNT_ID)) {
    /* findings_by_dims starts with the account and holds every field in
     * inner: count the rows matching all their filters there (index
     * entries only, capped). Reading just those, then sorting, beats
     * walking the driver's index when they are few. */
    uint64_t inner =
        dims | BIT(CERTHUB_FQ_REGION) | BIT(CERTHUB_FQ_UPDATED_AT);
    int64_t m2 = m;
    qb_free(&q);
    memset(&q, 0, sizeof(q));
    ch_buf_init(&q.sql, SQL_CAP);
    /* Without region or UpdatedAt filters the index holds only what
     * findings_counts did: m is its count (counting 20,000 entries of an
     * account costs ~4 ms). */
    bool recount = has_conds(fq, CERTHUB_FQ_REGION) ||
                   has_conds(fq, CERTHUB_FQ_UPDATED_AT);
    if(recount &&
       !(rc = ch_buf_addstr(&q.sql,
                            "SELECT count(*) FROM (SELECT 1 FROM findings"
                            " INDEXED BY findings_by_dims WHERE 1")) &&
       !(rc = where_conds(&q, fq, W_FINDINGS, inner,
                          CERTHUB_FQ_AWS_ACCOUNT_ID)) &&
       !(rc = ch_buf_printf(&q.sql, " LIMIT %d)", COUNT_CAP)))
      rc = run_counts(s, &q, &m2, 1);
    if(rc)
      goto out;
    if(m2 * 4 <= plain || force) {
      p->dims_idx = true;
      p->driver = CERTHUB_FQ_AWS_ACCOUNT_ID;
      p->est = m2;
    }
  }
  else if(dims && m <= COMBO_MAX && (m * 4 <= plain || force)) {
    p->combo = true;
    p->est = m;
  }
  if(!force)
    walk_or_not(fq, sort, nk, total, share, counted, plain, p);
  if(p->combo || p->dims_idx)
    ch_sq_findq_combos++;
out:
  qb_free(&q);
  return rc;
}

#define QUERY_COLS                                                            \
  "SELECT product_arn, id, generator_id, aws_account_id, region,"             \
  " severity_label, workflow_status, record_state, resource_id, created_at,"  \
  " updated_at, first_observed_at, last_observed_at, finding"
#define QUERY_NCOLS 14

ch_err ch_sq_findings_query(certhub_store *s, const certhub_findings_query *fq,
                            certhub_fq_row_cb cb, void *ctx)
{
  qb q = {0};
  sqlite3_stmt *st = NULL;
  ch_err rc = CH_OK;
  certhub_fq_field sort[CERTHUB_FQ_SORT_MAX];
  bool desc[CERTHUB_FQ_SORT_MAX];
  size_t nk = fq->n_sort;
  char keys[CERTHUB_FQ_SORT_MAX][320];
  certhub_fq_value kv[CERTHUB_FQ_SORT_MAX];
  ch_buf kb;
  ch_buf_init(&q.sql, SQL_CAP);
  ch_buf_init(&kb, 320);
  if(nk > CERTHUB_FQ_SORT_MAX) {
    rc = ch_store_err(s, CH_ERR_USAGE, "at most %d sort keys",
                      CERTHUB_FQ_SORT_MAX);
    goto out;
  }
  if(nk) {
    memcpy(sort, fq->sort, nk * sizeof(*sort));
    memcpy(desc, fq->desc, nk * sizeof(*desc));
  }
  else {
    sort[0] = CERTHUB_FQ_UPDATED_AT;
    desc[0] = true;
    nk = 1;
  }
  certhub_findings_query eff = *fq;
  memcpy(eff.sort, sort, nk * sizeof(*sort));
  memcpy(eff.desc, desc, nk * sizeof(*desc));
  eff.n_sort = nk;
  for(size_t i = 0; i < nk; i++) {
    ch_buf_reset(&kb);
    if((rc = sort_expr(s, fq, sort[i], &kb)))
      goto out;
    if(kb.len >= sizeof(keys[i])) {
      rc = ch_store_err(s, CH_ERR_INTERNAL, "sort expression too long");
      goto out;
    }
    memcpy(keys[i], kb.data, kb.len + 1);
  }
  if((rc = ch_buf_addstr(&q.sql, QUERY_COLS)))
    goto out;
  for(size_t i = 0; i < nk && !rc; i++)
    rc = ch_buf_printf(&q.sql, ", %s", keys[i]);
  plan pl;
  if(!rc)
    rc = choose_plan(s, fq, sort, nk, &pl);
  if(!rc && pl.combo) {
    /* The dimensions' filters over findings_counts, each matching
     * combination a range of findings_by_dims; region and updated_at
     * checked there too. Rows are read only for what passes. */
    uint64_t dims = 0,
             inner = BIT(CERTHUB_FQ_REGION) | BIT(CERTHUB_FQ_UPDATED_AT);
    for(int f = 0; f < CERTHUB_FQ__COUNT; f++)
      if(counts_col((certhub_fq_field)f))
        dims |= BIT(f);
    rc = ch_buf_addstr(
        &q.sql, " FROM findings NOT INDEXED WHERE rowid IN (SELECT f.rowid"
                " FROM findings_counts AS fc CROSS JOIN findings AS f"
                " INDEXED BY findings_by_dims"
                " ON f.aws_account_id = fc.aws_account_id"
                " AND f.compliance_status IS nullif(fc.compliance_status, '')"
                " AND f.severity_label = fc.severity_label"
                " AND f.workflow_status = fc.workflow_status"
                " AND f.record_state = fc.record_state WHERE fc.n > 0");
    if(!rc)
      rc = where_conds(&q, fq, W_COUNTS, dims, -1);
    if(!rc)
      rc = where_conds(&q, fq, W_F, inner, -1);
    if(!rc)
      rc = ch_buf_addc(&q.sql, ')');
    if(!rc)
      rc = where_conds(&q, fq, W_FINDINGS, ~(dims | inner), -1);
  }
  else {
    /* Driven by findings_by_region_type, its other columns are bare: the
     * workflow and severity indexes must not be taken instead. */
    if(!rc && !pl.dims_idx && pl.driver == CERTHUB_FQ_REGION)
      ch_sq_findq_region_type++;
    /* The walk: every ranked field "+", so no other index is taken. */
    if(!rc)
      rc = ch_buf_addstr(
          &q.sql,
          pl.walk       ? " FROM findings INDEXED BY findings_by_updated"
                          " WHERE 1"
          : pl.dims_idx ? " FROM findings INDEXED BY findings_by_dims"
                          " WHERE 1"
          : pl.driver == CERTHUB_FQ_REGION
              ? " FROM findings INDEXED BY findings_by_region_type WHERE 1"
              : " FROM findings WHERE 1");
    if(!rc)
      rc = where_conds(&q, fq, W_FINDINGS, ALL_FIELDS, pl.driver);
  }
  if(!rc && fq->after)
    rc = where_after(&q, &eff, keys, nk);
  if(!rc)
    rc = ch_buf_addstr(&q.sql, " ORDER BY ");
  for(size_t i = 0; i < nk && !rc; i++)
    rc = ch_buf_printf(&q.sql, "%s%s, ", keys[i], desc[i] ? " DESC" : "");
  if(!rc)
    rc = ch_buf_addstr(&q.sql, "product_arn, id LIMIT ");
  if(!rc)
    rc = qb_int(&q, fq->limit ? (int64_t)fq->limit : -1);
  if(rc) {
    if(rc == CH_ERR_TOOBIG)
      rc = ch_store_err(s, CH_ERR_TOOBIG, "findings query too large");
    goto out;
  }
  if((rc = ch_sq_prepare(s, q.sql.data, &st)) || (rc = bind_all(s, &q, st)))
    goto out;
  int r;
  while((r = sqlite3_step(st)) == SQLITE_ROW) {
    certhub_finding_row f = {
        .product_arn = ch_sq_col_str(st, 0),
        .id = ch_sq_col_str(st, 1),
        .generator_id = ch_sq_col_str(st, 2),
        .aws_account_id = ch_sq_col_str(st, 3),
        .region = ch_sq_col_str(st, 4),
        .severity_label = ch_sq_col_str(st, 5),
        .workflow_status = ch_sq_col_str(st, 6),
        .record_state = ch_sq_col_str(st, 7),
        .resource_id = ch_sq_col_str(st, 8),
        .created_at = sqlite3_column_int64(st, 9),
        .updated_at = sqlite3_column_int64(st, 10),
        .first_observed_at = sqlite3_column_int64(st, 11),
        .last_observed_at = sqlite3_column_int64(st, 12),
        .json = ch_sq_col_str(st, 13),
    };
    for(size_t i = 0; i < nk; i++) {
      int col = QUERY_NCOLS + (int)i;
      memset(&kv[i], 0, sizeof(kv[i]));
      switch(sqlite3_column_type(st, col)) {
      case SQLITE_INTEGER:
        kv[i].type = CERTHUB_FQV_INT;
        kv[i].i = sqlite3_column_int64(st, col);
        break;
      case SQLITE_FLOAT:
        kv[i].type = CERTHUB_FQV_REAL;
        kv[i].d = sqlite3_column_double(st, col);
        break;
      default:
        kv[i].type = CERTHUB_FQV_TEXT;
        kv[i].s = ch_sq_col_str(st, col);
        break;
      }
    }
    if((rc = cb(ctx, &f, kv, nk)))
      goto out;
  }
  if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "querying findings");
out:
  sqlite3_finalize(st);
  ch_buf_free(&kb);
  qb_free(&q);
  return rc;
}

ch_err ch_sq_findings_group(certhub_store *s, const certhub_findings_query *fq,
                            certhub_fq_field by, size_t limit,
                            certhub_fq_group_cb cb, void *ctx)
{
  qb q = {0};
  sqlite3_stmt *st = NULL;
  ch_err rc = CH_OK;
  ch_buf_init(&q.sql, SQL_CAP);
  if((unsigned)by >= CERTHUB_FQ__COUNT || !fields[by].expr ||
     fields[by].kind != CERTHUB_FQK_STRING) {
    rc = ch_store_err(s, CH_ERR_USAGE, "cannot group findings by field %d",
                      (int)by);
    goto out;
  }
  const fq_sql *fs = &fields[by];
  bool counts = ch_sq_findq_mode != CH_SQ_FINDQ_PLAIN && counts_col(by);
  for(size_t i = 0; i < fq->n_conds && counts; i++)
    counts = counts_col(fq->conds[i].field) != NULL;
  if(counts) /* an absent status is '' there, as coalesce gives here */
    rc = ch_buf_printf(&q.sql,
                       "SELECT %s AS v, sum(n) AS c FROM findings_counts"
                       " AS fc WHERE 1",
                       counts_col(by));
  /* A bare NOT NULL column lets a covering index answer the count. */
  else if(fs->notnull)
    rc = ch_buf_printf(&q.sql,
                       "SELECT %s AS v, count(*) AS c FROM findings"
                       " WHERE 1",
                       fs->expr);
  else
    rc = ch_buf_printf(&q.sql,
                       "SELECT coalesce(%s, '') AS v, count(*) AS c"
                       " FROM findings WHERE 1",
                       fs->expr);
  if(!rc)
    rc = where_conds(&q, fq, counts ? W_COUNTS : W_FINDINGS, ALL_FIELDS, -2);
  if(!rc)
    rc = ch_buf_addstr(&q.sql,
                       counts ? " GROUP BY v HAVING c > 0" : " GROUP BY v");
  if(!rc)
    rc = ch_buf_addstr(&q.sql, " ORDER BY c DESC, v LIMIT ");
  if(!rc)
    rc = qb_int(&q, limit ? (int64_t)limit : -1);
  if(rc) {
    if(rc == CH_ERR_TOOBIG)
      rc = ch_store_err(s, CH_ERR_TOOBIG, "findings query too large");
    goto out;
  }
  if((rc = ch_sq_prepare(s, q.sql.data, &st)) || (rc = bind_all(s, &q, st)))
    goto out;
  int r;
  while((r = sqlite3_step(st)) == SQLITE_ROW)
    if((rc = cb(ctx, ch_sq_col_str(st, 0),
                (uint64_t)sqlite3_column_int64(st, 1))))
      goto out;
  if(r != SQLITE_DONE)
    rc = ch_sq_dberr(s, r, "grouping findings");
out:
  sqlite3_finalize(st);
  qb_free(&q);
  return rc;
}

/* findings deleted per transaction by a prune */
#define PRUNE_BATCH 2000

ch_err ch_sq_findings_prune(certhub_store *s, int64_t before, uint64_t *n)
{
  sqlite3_stmt *st = NULL;
  uint64_t total = 0;
  /* imported_at (seconds) is the last write, import or customer update;
   * UpdatedAt (ms) only moves with the provider's imports. Deleted in
   * batches, each its own transaction, so that a prune of many findings
   * (a store that was idle for weeks) does not hold the write lock long
   * enough to stall the API's imports. */
  ch_err rc = ch_sq_prepare(
      s,
      "DELETE FROM findings WHERE rowid IN (SELECT rowid FROM findings"
      " WHERE updated_at < ?1 AND imported_at < ?1 / 1000 LIMIT ?2)",
      &st);
  if(rc)
    goto out;
  sqlite3_bind_int64(st, 1, before);
  sqlite3_bind_int(st, 2, PRUNE_BATCH);
  for(;;) {
    int r = sqlite3_step(st);
    if(r != SQLITE_DONE) {
      rc = ch_sq_dberr(s, r, "pruning findings");
      goto out;
    }
    int64_t k = sqlite3_changes64(ch_sq_db(s));
    total += (uint64_t)k;
    if(k < PRUNE_BATCH)
      break;
    sqlite3_reset(st);
  }
out:
  if(n)
    *n = total;
  sqlite3_finalize(st);
  return rc;
}
