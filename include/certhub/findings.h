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
  /* Copies of JSON fields that queries filter, sort and group on (stored
   * columns since migration 15; the writer fills them from json): Title,
   * Compliance.Status, Resources[0].Type, ProductName; NULL when absent
   * or not a string. */
  const char *title;
  const char *compliance_status;
  const char *resource_type;
  const char *product_name;
  /* For a write: the writer has seen, in this transaction, that no
   * finding (product_arn, id) is stored, so the store inserts without
   * trying an update first (a stored one makes the write fail). Ignored
   * (false) in rows the store reads. */
  bool is_new;
  /* For a write of a stored finding: generator_id, resource_id, title and
   * product_name are the stored ones, so the store leaves them (and
   * their indexes) as they are. Ignored (false) in rows the store reads. */
  bool same_keys;
  /* For a write with is_new: the writer adds the new finding's insight
   * count itself (certhub_store_findings_count_add, in the same
   * transaction, before the finding is written again or the counts are
   * read), so the store does not count it. */
  bool count_later;
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

/* certhub_findings_import in two steps, so a server can parse and
 * validate a call without holding the store's writer:
 * _prepare parses and validates json (no store; the same refusals as
 * certhub_findings_import, and the invalid findings in r->failures) into
 * *b, owned by the caller (certhub_import_batch_free); on an error *b is
 * NULL. *r is reset first.
 * _apply stores b's valid findings into s in one savepoint, counting them
 * in r (which keeps _prepare's failures); b is spent: apply it once. */
typedef struct certhub_import_batch certhub_import_batch;
ch_err certhub_findings_import_prepare(const char *json, size_t len,
                                       certhub_import_batch **b /* OUT */,
                                       certhub_import_result *r /* OUT */);
ch_err certhub_findings_import_apply(certhub_store *s, certhub_import_batch *b,
                                     int64_t now, certhub_import_result *r);
void certhub_import_batch_free(certhub_import_batch *b);

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
 * 0..7 HIGH, 8..30 MEDIUM, else LOW (CERTHUB_EXPIRY_BANDS_DEFAULT; other
 * bands through certhub_findings_from_event_opts). Compliance has
 * SecurityControlId certhub/expiry (or certhub/renewal);
 * Remediation.Recommendation.Url is certhub serve's page of the
 * certificate ($CERTHUB_BASE_URL, else CERTHUB_DEFAULT_BASE_URL, +
 * "/certificates/<short id>", which serve's API answers like
 * /v1/certificates/<id>) when the inventory knows it. Other detail-types fail
 * with "no finding mapping for detail-type X". *n_imported counts findings
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

/* The severity of an expiry finding by days left (config `findings:
 * expiry_severity:`): DaysToExpiry at or below critical is CRITICAL, at or
 * below high HIGH, at or below medium MEDIUM, else LOW; an expired
 * certificate is always CRITICAL. -1 <= critical <= high <= medium. */
typedef struct certhub_expiry_bands {
  int critical; /* -1: only expired certificates */
  int high;
  int medium;
} certhub_expiry_bands;
#define CERTHUB_EXPIRY_BANDS_DEFAULT                                          \
  {                                                                           \
    -1, 7, 30                                                                 \
  }

/* How certhub makes its own findings (from events and probes). Everything
 * borrowed; NULL or zeroed members are the defaults. */
typedef struct certhub_event_findings_opts {
  const char *product;               /* ProductName; NULL or "": "certhub" */
  const char *base_url;              /* Remediation Url base; NULL or "": as
                                      * certhub_findings_from_event */
  const certhub_expiry_bands *bands; /* NULL: CERTHUB_EXPIRY_BANDS_DEFAULT */
} certhub_event_findings_opts;

/* certhub_findings_from_event with options (o may be NULL). */
ch_err certhub_findings_from_event_opts(
    certhub_store *s, const certhub_event_findings_opts *o,
    const char *event_json, size_t len, int64_t now,
    size_t *n_imported /* OUT, may be NULL */,
    char **detail /* OUT, may be NULL */);

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

/* ---- OCSF (lib/findings/ocsf.c) ---------------------------------------- */

#define CERTHUB_OCSF_VERSION "1.6.0"
#define CERTHUB_OCSF_VULNERABILITY 2002
#define CERTHUB_OCSF_COMPLIANCE 2003
#define CERTHUB_OCSF_DETECTION 2004

/*
 * One ASFF finding (a JSON object) as an OCSF 1.6.0 finding, compact JSON
 * in *out (malloc'd, NUL-terminated, *out_len bytes). The class:
 *   - Vulnerability Finding (2002) when it has Vulnerabilities (CVEs);
 *   - Detection Finding (2004) when its Types are all in the TTPs,
 *     Effects, Unusual Behaviors or Sensitive Data Identifications
 *     namespaces (something observed happening, not a state to fix);
 *   - Compliance Finding (2003) otherwise: every certhub finding (expiry,
 *     renewal and the probe checks are controls with a pass/fail state).
 * activity_id: Close (3) when RecordState is ARCHIVED or the workflow is
 * RESOLVED, Create (1) when CreatedAt equals UpdatedAt, else Update (2).
 * What OCSF has no place for (ProductArn, GeneratorId, RecordState,
 * Severity.Normalized, ProductFields, Note, UserDefinedFields, ...) goes to
 * "unmapped" under its ASFF name, so that import gives it back.
 * CH_ERR_PARSE when asff_json is not a JSON object with a string Id.
 */
ch_err certhub_findings_ocsf_json(const char *asff_json, size_t len,
                                  char **out /* OUT */,
                                  size_t *out_len /* OUT, may be NULL */);

/*
 * The reverse: one OCSF 2002/2003/2004 finding to ASFF (compact JSON,
 * malloc'd). Fields come back from where ocsf_json put them; an OCSF
 * finding from another producer gets what the ASFF import requires from
 * its nearest OCSF fields (ProductArn from metadata.product, AwsAccountId
 * from cloud.account.uid or 000000000000, Types from finding_info.types
 * or the class). On CH_ERR_PARSE / CH_ERR_UNSUPPORTED (another class),
 * *errmsg (malloc'd) says why.
 */
ch_err certhub_findings_asff_from_ocsf(const char *ocsf_json, size_t len,
                                       char **out /* OUT */,
                                       char **errmsg /* OUT, caller frees */);

/*
 * Import OCSF findings: json is a JSON array of OCSF findings, a single
 * finding object, or JSON lines (one finding per line). Each is mapped to
 * ASFF and imported with certhub_findings_import()'s rules and limits (at
 * most CERTHUB_FINDINGS_BATCH_MAX findings); a finding that cannot be
 * mapped is a failure in r (code "InvalidInput") like an invalid ASFF one.
 */
ch_err certhub_findings_import_ocsf(certhub_store *s, const char *json,
                                    size_t len, int64_t now,
                                    certhub_import_result *r /* OUT */);

/* ---- findings from probes (lib/findings/probe.c) ----------------------- */

#include "probe.h"

#define CERTHUB_PROBE_GENERATOR "certhub-probe"
#define CERTHUB_DEFAULT_BASE_URL "http://localhost:8080"

typedef struct certhub_probe_findings_opts {
  /* certhub serve's base URL: Remediation.Recommendation.Url is it plus
   * "/certificates/<short id>". NULL or "": $CERTHUB_BASE_URL, else
   * CERTHUB_DEFAULT_BASE_URL (the event findings use the same). */
  const char *base_url;
  const char *account; /* 12 digits; NULL: "000000000000" */
  const char *region;  /* NULL: "local" */
  const char *product; /* ProductName; NULL: "certhub" */
  int threshold_days;  /* expiry fails at or below this; <= 0: 45 */
  /* Severity of the expiry check; NULL: CERTHUB_EXPIRY_BANDS_DEFAULT. */
  const certhub_expiry_bands *bands;
  /* The probe tested TLS 1.0/1.1 (certhub_probe_opts.legacy_check):
   * without it the legacy-tls finding is left as it is. */
  bool legacy_checked;
} certhub_probe_findings_opts;

/*
 * The checks of one probe result as findings on its endpoint, Id
 * "<endpoint URI>/<check>" (certhub_findings_endpoint_uri), GeneratorId
 * CERTHUB_PROBE_GENERATOR, ProductArn as the event findings'. Checks and
 * severities (expiry uses the event findings' bands):
 *   expiry               leaf expired (CRITICAL) or within threshold_days
 *                        (bands: by default 0..7 HIGH, 8..30 MEDIUM,
 *                        else LOW)
 *   not-yet-valid        leaf notBefore in the future, HIGH
 *   hostname-mismatch    leaf does not match the SNI name / host, HIGH
 *   untrusted-chain      unknown issuer, self-signed, bad signature, HIGH
 *   missing-intermediate the server does not send an intermediate, MEDIUM
 *   chain-order          sent out of order, LOW
 *   expired-intermediate a CA certificate in the path expired, HIGH
 *   weak-key             RSA/DSA under 2048 bits or EC under 224, HIGH
 *   sha1-signature       a presented non-root certificate is signed with
 *                        SHA-1 or MD5, HIGH
 *   legacy-tls           TLS 1.0 or 1.1 accepted (legacy_checked), MEDIUM
 *   ocsp-revoked         the stapled OCSP response says revoked, CRITICAL
 * A failing check upserts its finding (Compliance FAILED, ACTIVE; an
 * archived one reopens); a passing check whose finding is stored and not
 * yet resolved archives it (Compliance PASSED, RecordState ARCHIVED;
 * import's rules make Workflow RESOLVED). Resources: the leaf certificate
 * (its inventory ARN, or "sha256:<hex>" when not stored) and the endpoint
 * (Type "Other", Id the endpoint URI). A probe that got no chain changes
 * nothing. *n_written counts findings created, updated or archived;
 * *detail (malloc'd, may be NULL) says what failed.
 */
ch_err certhub_findings_from_probe(certhub_store *s,
                                   const certhub_probe_result *r,
                                   const certhub_probe_findings_opts *o,
                                   int64_t now,
                                   size_t *n_written /* OUT, may be NULL */,
                                   char **detail /* OUT, may be NULL */);

/* The endpoint's URI: "tls://HOST:PORT" ("<dialect>://" with STARTTLS,
 * IPv6 in brackets), then ";sni=NAME" when the SNI differs from the host
 * and ";addr=ADDRESS" when address is given (all_addresses). CH_ERR_TOOBIG
 * when it does not fit in n bytes. */
ch_err certhub_findings_endpoint_uri(const certhub_target *t,
                                     const char *address, char *buf, size_t n);
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
