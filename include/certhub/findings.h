/*
 * certhub findings: the Security Hub analogue, first layer. Findings are
 * AWS Security Finding Format (ASFF, SchemaVersion 2018-10-08) JSON
 * objects, stored whole with indexed columns, upserted by (ProductArn, Id)
 * with BatchImportFindings' rules; certhub bus events are mapped to
 * findings (one per certificate).
 *
 * Ownership: rows passed to callbacks are borrowed for the callback only;
 * certhub_import_result owns its failure list (certhub_import_result_free).
 */
#ifndef CERTHUB_FINDINGS_H
#define CERTHUB_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certhub.h"

typedef struct certhub_store certhub_store;

#define CERTHUB_ASFF_SCHEMA_VERSION "2018-10-08"
#define CERTHUB_FINDINGS_BATCH_MAX 100                 /* per import call */
#define CERTHUB_FINDING_MAX_BYTES (240 * 1024)         /* one finding */
#define CERTHUB_FINDINGS_REQUEST_MAX (6 * 1024 * 1024) /* one import call */
#define CERTHUB_FINDINGS_GENERATOR "certhub-lifecycle"

/* One stored finding: the indexed columns and the whole ASFF JSON. Times
 * are milliseconds since the epoch, 0 when absent. */
typedef struct certhub_finding_row {
  const char *product_arn;
  const char *id;
  const char *generator_id;
  const char *aws_account_id;
  const char *region;          /* "" when unknown */
  const char *severity_label;  /* INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL */
  const char *workflow_status; /* NEW, NOTIFIED, RESOLVED, SUPPRESSED */
  const char *record_state;    /* ACTIVE, ARCHIVED */
  const char *resource_id;     /* Resources[0].Id */
  int64_t created_at;
  int64_t updated_at;
  int64_t first_observed_at;
  int64_t last_observed_at;
  const char *json; /* the finding, compact JSON */
} certhub_finding_row;

typedef ch_err (*certhub_finding_cb)(void *ctx, const certhub_finding_row *f);

/* List filter; NULL members match anything. */
typedef struct certhub_findings_filter {
  const char *severity_label;
  const char *workflow_status;
  const char *record_state;
  const char *product_arn;
  const char *resource_id;
  size_t limit; /* 0: no limit */
} certhub_findings_filter;

/* Findings, most recently updated first. */
ch_err certhub_findings_list(certhub_store *s,
                             const certhub_findings_filter *f /* NULL all */,
                             certhub_finding_cb cb, void *ctx);

/* One finding by (ProductArn, Id); CH_ERR_NOTFOUND when absent. */
ch_err certhub_findings_get(certhub_store *s, const char *product_arn,
                            const char *id, certhub_finding_cb cb, void *ctx);

/* A finding BatchImportFindings refused. */
typedef struct certhub_finding_failure {
  char *id;   /* the finding's Id, "" when it had none */
  char *code; /* e.g. "MissingRequiredField", "InvalidInput" */
  char *message;
} certhub_finding_failure;

typedef struct certhub_import_result {
  size_t success;   /* accepted (stored, or ignored as not newer) */
  size_t created;   /* of those, new findings */
  size_t unchanged; /* of those, ignored: UpdatedAt not newer */
  size_t failed;
  certhub_finding_failure *failures; /* failed entries */
  /* When the call itself fails (not JSON, over 100 findings, storage),
   * the reason; "" otherwise. */
  char error[512];
} certhub_import_result;

void certhub_import_result_free(certhub_import_result *r);

/*
 * BatchImportFindings. json is a JSON array of findings or an object
 * {"Findings": [...]}; at most CERTHUB_FINDINGS_BATCH_MAX findings and
 * CERTHUB_FINDINGS_REQUEST_MAX bytes, else the whole call is refused
 * (CH_ERR_TOOBIG; CH_ERR_PARSE for malformed JSON) and nothing is stored.
 * Each finding is validated (the required ASFF fields and their limits);
 * an invalid one is reported in r->failures and the valid ones are stored:
 *   - new (ProductArn, Id): stored; Workflow.Status defaults to NEW,
 *     RecordState to ACTIVE, Severity.Label is derived from Normalized;
 *   - known: ignored unless UpdatedAt is newer than the stored one;
 *     otherwise replaced, keeping the stored customer fields (Note,
 *     UserDefinedFields, VerificationState, Workflow), with Security Hub's
 *     automatic workflow changes (Compliance.Status becomes PASSED:
 *     NEW/NOTIFIED become RESOLVED, as for control findings; RecordState
 *     ARCHIVED->ACTIVE or Compliance PASSED->FAILED/WARNING/NOT_AVAILABLE:
 *     NOTIFIED/RESOLVED become NEW; SUPPRESSED stays).
 * Confidence, Criticality, RelatedFindings, Severity and Types are the
 * provider's: FindingProviderFields holds them (filled from the top level
 * when absent; when given, they set the top level); a re-import updates
 * the top level too, except where the customer changed it
 * (BatchUpdateFindings).
 * All stored findings of one call are written in one savepoint: a storage
 * error stores none of them. *r is reset first.
 */
ch_err certhub_findings_import(certhub_store *s, const char *json, size_t len,
                               int64_t now,
                               certhub_import_result *r /* OUT */);

/*
 * Map one certhub bus event (EventBridge envelope) to findings and import
 * them. One finding per certificate, Id "<certificate ARN>/expiry" (or
 * "/renewal" for Renewal Action Required), so a certificate's daily
 * events update one finding:
 *   - "ACM Certificate Approaching Expiration": resources[0], detail
 *     {DaysToExpiry, CommonName};
 *   - "ACM Certificate Expired": resources[0], CRITICAL;
 *   - "ACM Certificate Renewal Action Required": the "/renewal" finding;
 *   - "Scheduled Event" whose detail has "certificates": [{Arn, CommonName,
 *     DaysToExpiry, NotAfter, Issuer, owner, Sources, ...}]: one finding per
 *     entry;
 *   - "ACM Certificate Available" with Action REIMPORT or RENEWAL:
 *     archives (RecordState ARCHIVED, Compliance PASSED) the expiry and
 *     renewal findings of the certificates it replaced: the resources
 *     themselves (ACM renews in place) and the certificates the inventory
 *     records as replaced by resources[0]. Other Actions change nothing.
 * Severity by days left: expired (< 0, or the Expired event) CRITICAL,
 * 0..7 HIGH, 8..30 MEDIUM, else LOW. Other detail-types fail with "no
 * finding mapping for detail-type X". *n_imported counts findings
 * written (created, updated or archived). *detail (malloc'd, may be NULL)
 * says what was done, or why it failed.
 */
ch_err certhub_findings_from_event(certhub_store *s, const char *event_json,
                                   size_t len, int64_t now,
                                   size_t *n_imported /* OUT, may be NULL */,
                                   char **detail /* OUT, may be NULL */);

/* The same with the findings' ProductName set to product (NULL or "":
 * "certhub"; cut to 128 bytes). ProductArn and Ids do not depend on it. */
ch_err certhub_findings_from_event_product(
    certhub_store *s, const char *product, const char *event_json, size_t len,
    int64_t now, size_t *n_imported /* OUT */, char **detail /* OUT */);

/* The event bus's `findings` target hook (certhub_target_hooks'
 * import_findings in target.h): certhub_findings_from_event_product with
 * ctx the certhub_store * and the time certhub_now(). Calls are
 * serialized by a process-wide mutex, because the bus may call hooks from
 * several threads with the same ctx and one store handle's savepoints
 * must not interleave; give the hooks a store handle of their own. Errors
 * follow target.h: PARSE/UNSUPPORTED/TOOBIG (the event cannot become
 * findings: FAILED), storage errors (RETRY). */
ch_err certhub_findings_event_hook(void *ctx, const char *product,
                                   const char *event_json, size_t len,
                                   char **detail /* OUT */);

/* ---- Security Hub API over JSON (lib/findings/query.c, update.c) ------
 * Requests and responses are Security Hub's JSON; *out is malloc'd (the
 * caller frees), *out_len its length. An invalid request updates nothing
 * and fails with CH_ERR_PARSE (not JSON), CH_ERR_USAGE (a member invalid)
 * or CH_ERR_TOOBIG (over 1 MiB), the reason in certhub_store_errmsg(s);
 * storage errors are the store's. */

/* GetFindings. req: {"Filters": {...}, "SortCriteria": [{"Field": ..,
 * "SortOrder": "asc|desc"}], "MaxResults": 1..100, "NextToken": ".."};
 * *out {"Findings": [...], "NextToken": ".."} (NextToken only when more
 * findings follow). Filters are AwsSecurityFindingFilters (see
 * docs/man/certhub-findings.1 for the supported fields); at most 20
 * entries per field; unknown fields are refused by name. Default order:
 * UpdatedAt descending; ties by (ProductArn, Id). Paging is by position
 * (keyset): findings stored meanwhile neither repeat nor shift pages. */
ch_err certhub_findings_query_json(certhub_store *s, const char *req,
                                   size_t len, char **out, size_t *out_len);

/* BatchUpdateFindings. req: {"FindingIdentifiers": [{"Id", "ProductArn"}]
 * (1..100), and any of Note {Text, UpdatedBy}, Severity {Label |
 * Normalized, Product}, VerificationState, Confidence, Criticality,
 * Types, UserDefinedFields (merged), Workflow {Status}, RelatedFindings};
 * *out {"ProcessedFindings": [{Id, ProductArn}], "UnprocessedFindings":
 * [{FindingIdentifier, ErrorCode, ErrorMessage}]} with Security Hub's
 * codes (FindingNotFound, DuplicatedFindingIdentifier,
 * FindingSizeExceeded, InternalFailure). As in Security Hub, UpdatedAt
 * stays the provider's; Note.UpdatedAt becomes now (seconds). The
 * provider's own Severity, Confidence, Criticality, Types and
 * RelatedFindings stay in FindingProviderFields, and a provider's later
 * import does not undo the customer's values. All updates of a call in
 * one savepoint. */
ch_err certhub_findings_update_json(certhub_store *s, const char *req,
                                    size_t len, int64_t now, char **out,
                                    size_t *out_len);

/* An insight (GetInsightResults of an ad-hoc insight). req:
 * {"GroupByAttribute": "SeverityLabel" | "AwsAccountId" | "Region" |
 * "ResourceType" | "Title" | "GeneratorId" | "ProductName" |
 * "WorkflowStatus" | "ComplianceStatus" | "RecordState" | "ResourceId" |
 * "ProductArn" | "CompanyName" | "VerificationState", "Filters": {...}};
 * *out {"InsightResults": {"GroupByAttribute": .., "ResultValues":
 * [{"GroupByAttributeValue": .., "Count": n}]}}, largest count first, at
 * most 100 groups; an absent attribute groups as "". */
ch_err certhub_findings_insight_json(certhub_store *s, const char *req,
                                     size_t len, char **out, size_t *out_len);

/* A BatchImportFindings result as Security Hub's response: {"FailedCount",
 * "SuccessCount", "FailedFindings": [{Id, ErrorCode, ErrorMessage}]}. */
ch_err certhub_import_result_json(const certhub_import_result *r, char **out,
                                  size_t *out_len);

/* Retention: delete findings neither imported nor updated in the last
 * max_age_days before now (seconds); Security Hub keeps findings 90 days
 * (CERTHUB_FINDINGS_RETENTION_DAYS). *n (may be NULL) counts them. */
#define CERTHUB_FINDINGS_RETENTION_DAYS 90
ch_err certhub_findings_prune(certhub_store *s, int64_t now,
                              unsigned max_age_days, uint64_t *n /* OUT */);

#endif
