/*
 * Structured findings queries: what lib/findings makes of a Security Hub
 * GetFindings / GetInsightResults request, and the store functions that run
 * it. No SQL crosses this interface: the store translates each field to its
 * own column or expression (lib/store/store_sqlite_findq.c).
 *
 * Ownership: a query and its conditions are borrowed for the call; rows and
 * key values passed to callbacks are borrowed for the callback only.
 */
#ifndef CERTHUB_FINDINGS_QUERY_H
#define CERTHUB_FINDINGS_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "findings.h"

/* The filterable ASFF attributes. Resource* fields are those of
 * Resources[0] (certhub's findings have one resource). */
typedef enum certhub_fq_field {
  /* StringFilter */
  CERTHUB_FQ_ID,
  CERTHUB_FQ_PRODUCT_ARN,
  CERTHUB_FQ_GENERATOR_ID,
  CERTHUB_FQ_AWS_ACCOUNT_ID,
  CERTHUB_FQ_REGION,
  CERTHUB_FQ_TITLE,
  CERTHUB_FQ_DESCRIPTION,
  CERTHUB_FQ_TYPE, /* any entry of Types */
  CERTHUB_FQ_SEVERITY_LABEL,
  CERTHUB_FQ_WORKFLOW_STATUS,
  CERTHUB_FQ_RECORD_STATE,
  CERTHUB_FQ_COMPLIANCE_STATUS,
  CERTHUB_FQ_RESOURCE_ID,
  CERTHUB_FQ_RESOURCE_TYPE,
  CERTHUB_FQ_RESOURCE_REGION,
  CERTHUB_FQ_RESOURCE_PARTITION,
  CERTHUB_FQ_PRODUCT_NAME,
  CERTHUB_FQ_COMPANY_NAME,
  CERTHUB_FQ_VERIFICATION_STATE,
  CERTHUB_FQ_NOTE_TEXT,
  CERTHUB_FQ_NOTE_UPDATED_BY,
  CERTHUB_FQ_SOURCE_URL,
  CERTHUB_FQ_RELATED_FINDINGS_ID, /* any RelatedFindings[].Id */
  /* NumberFilter */
  CERTHUB_FQ_SEVERITY_NORMALIZED,
  CERTHUB_FQ_CONFIDENCE,
  CERTHUB_FQ_CRITICALITY,
  /* DateFilter (milliseconds) */
  CERTHUB_FQ_CREATED_AT,
  CERTHUB_FQ_UPDATED_AT,
  CERTHUB_FQ_FIRST_OBSERVED_AT,
  CERTHUB_FQ_LAST_OBSERVED_AT,
  CERTHUB_FQ_NOTE_UPDATED_AT,
  /* MapFilter */
  CERTHUB_FQ_RESOURCE_TAGS,
  CERTHUB_FQ_USER_DEFINED_FIELDS,
  CERTHUB_FQ_PRODUCT_FIELDS,
  /* BooleanFilter */
  CERTHUB_FQ_SAMPLE,
  CERTHUB_FQ__COUNT
} certhub_fq_field;

typedef enum certhub_fq_kind {
  CERTHUB_FQK_STRING,
  CERTHUB_FQK_NUMBER,
  CERTHUB_FQK_DATE,
  CERTHUB_FQK_MAP,
  CERTHUB_FQK_BOOL,
} certhub_fq_kind;

/* The field's filter kind. */
certhub_fq_kind certhub_fq_kind_of(certhub_fq_field f);

/* StringFilter / MapFilter comparisons. Positive ones (EQUALS, PREFIX,
 * CONTAINS) on one field are OR'ed; negative ones are AND'ed with each
 * other and with that OR; fields are AND'ed. */
typedef enum certhub_fq_cmp {
  CERTHUB_FQ_EQUALS,
  CERTHUB_FQ_PREFIX,
  CERTHUB_FQ_CONTAINS,
  CERTHUB_FQ_NOT_EQUALS,
  CERTHUB_FQ_PREFIX_NOT_EQUALS,
  CERTHUB_FQ_NOT_CONTAINS,
} certhub_fq_cmp;

static inline bool certhub_fq_negative(certhub_fq_cmp c)
{
  return c >= CERTHUB_FQ_NOT_EQUALS;
}

/* Bounds set in a number or date condition. */
enum {
  CERTHUB_FQ_GTE = 1,
  CERTHUB_FQ_LTE = 2,
  CERTHUB_FQ_GT = 4,
  CERTHUB_FQ_LT = 8,
  CERTHUB_FQ_EQ = 16,
};

/* One filter entry. Number and date conditions of one field are OR'ed
 * (each one's bounds AND'ed); boolean ones too. */
typedef struct certhub_fq_cond {
  certhub_fq_field field;
  certhub_fq_cmp cmp;          /* string and map */
  const char *key;             /* map */
  const char *value;           /* string and map */
  unsigned bounds;             /* number and date: CERTHUB_FQ_GTE... */
  double gte, lte, gt, lt, eq; /* number; dates use gte (Start), lte (End) */
  bool b;                      /* boolean */
} certhub_fq_cond;

/* A sort key's value, as the store compares it. */
typedef struct certhub_fq_value {
  enum { CERTHUB_FQV_INT, CERTHUB_FQV_REAL, CERTHUB_FQV_TEXT } type;
  int64_t i;
  double d;
  const char *s;
} certhub_fq_value;

#define CERTHUB_FQ_SORT_MAX 3

typedef struct certhub_findings_query {
  const certhub_fq_cond *conds;
  size_t n_conds;
  /* Sort keys (string, number or date fields), then (ProductArn, Id)
   * ascending as the tie-break; no keys: UpdatedAt descending. */
  certhub_fq_field sort[CERTHUB_FQ_SORT_MAX];
  bool desc[CERTHUB_FQ_SORT_MAX];
  size_t n_sort;
  size_t limit; /* rows, 1..; 0: no limit */
  /* Keyset paging: rows strictly after this position (n_sort values, then
   * ProductArn and Id); after NULL: from the first row. */
  const certhub_fq_value *after;
  const char *after_product_arn, *after_id;
} certhub_findings_query;

/* A row of a query: the finding and its sort-key values (n_sort of them,
 * for the next page's position). */
typedef ch_err (*certhub_fq_row_cb)(void *ctx, const certhub_finding_row *f,
                                    const certhub_fq_value *keys,
                                    size_t n_keys);

/* Matching findings in sort order. q->n_sort keys with an UpdatedAt
 * default; CH_ERR_USAGE for a field that cannot be sorted (maps, Type). */
ch_err certhub_store_findings_query(certhub_store *s,
                                    const certhub_findings_query *q,
                                    certhub_fq_row_cb cb, void *ctx);

/* A group of an insight: the attribute's value ("" when absent) and the
 * number of matching findings. */
typedef ch_err (*certhub_fq_group_cb)(void *ctx, const char *value,
                                      uint64_t count);

/* Matching findings grouped by a string field, largest count first (ties:
 * value ascending), at most limit groups (0: all). Sorting, paging and
 * limit in q are ignored. */
ch_err certhub_store_findings_group(certhub_store *s,
                                    const certhub_findings_query *q,
                                    certhub_fq_field by, size_t limit,
                                    certhub_fq_group_cb cb, void *ctx);

/* Delete findings whose UpdatedAt is before `before` (ms) and that nothing
 * wrote (import or customer update) since; *n (may be NULL) counts them. */
ch_err certhub_store_findings_prune(certhub_store *s, int64_t before,
                                    uint64_t *n /* OUT */);

#endif
