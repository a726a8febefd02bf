/*
 * Private to lib/findings: what import.c shares with event.c.
 */
#ifndef CH_FINDINGS_INT_H
#define CH_FINDINGS_INT_H

#include <jansson.h>

#include "certhub/findings.h"
#include "certhub/store_hub.h"
#include "core/core.h"

/* BatchImportFindings over an already parsed array (borrowed; entries may
 * be modified). *r must be zeroed or freed before. */
ch_err ch_findings_import_array(certhub_store *s, json_t *arr, int64_t now,
                                certhub_import_result *r);

/* For tests: CH_FINDINGS_IMPORT_PLAIN makes import take its plain path
 * (no new-finding form prepared before the writer, every stored finding
 * parsed with json_loads and its UpdatedAt compared, every write an update
 * then an insert), to compare the default path's stored rows and answers
 * with. Set it only while no import runs. */
enum { CH_FINDINGS_IMPORT_AUTO, CH_FINDINGS_IMPORT_PLAIN };
extern int ch_findings_import_mode;

/* ASFF timestamp (RFC 3339, fraction kept to the millisecond) to
 * milliseconds since the epoch. CH_ERR_PARSE when malformed. */
ch_err ch_findings_time_ms(const char *s, int64_t *ms);

/* ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (25 bytes with NUL). */
void ch_findings_time_format(int64_t ms, char out[32]);

/* The stored finding (ProductArn, Id) parsed, or NULL in *out when there
 * is none. */
ch_err ch_findings_stored(certhub_store *s, const char *product_arn,
                          const char *id, json_t **out);

/* row's query columns (title, compliance_status, resource_type,
 * product_name) pointed into f (borrowed from f). */
void ch_findings_row_query_fields(json_t *f, certhub_finding_row *row);

/* j as compact JSON text, byte for byte what json_dumps(j, JSON_COMPACT)
 * gives, into b (reset first; NUL-terminated, len excludes the NUL);
 * json_out.c. ch_findings_json_size: the length of that text, nothing
 * built. */
ch_err ch_findings_json_text(json_t *j, ch_buf *b);
/* The same text appended to b (NUL-terminated, len excludes the NUL); on
 * failure b's len is where it was. */
ch_err ch_findings_json_append(json_t *j, ch_buf *b);
size_t ch_findings_json_size(json_t *j);
/* json_in.c: json_loadb(text, len, JSON_REJECT_DUPLICATES, err), the
 * same tree or the same error, parsed faster; the caller owns the tree. */
json_t *ch_findings_json_parse(const char *text, size_t len,
                               json_error_t *err);
/* Its own parser alone: NULL for what it hands to json_loadb (tests). */
json_t *ch_findings_json_parse_fast(const char *text, size_t len);

/* s cut to at most max bytes without splitting a UTF-8 sequence (findings
 * and messages must stay valid UTF-8), into buf of at least max + 1
 * bytes; returns buf. */
const char *ch_findings_cut(char *buf, const char *s, size_t max);

/* The expiry severity shared by event and probe findings: expired or at
 * most b->critical days CRITICAL (90), at most b->high HIGH (70), at most
 * b->medium MEDIUM (40), else LOW (1); b NULL: the default bands. */
const char *ch_findings_expiry_severity(const certhub_expiry_bands *b,
                                        bool expired, bool has_days,
                                        int64_t days, int *normalized);

/* certhub serve's base URL for Remediation.Recommendation.Url, without a
 * trailing '/': given when not NULL or "", else $CERTHUB_BASE_URL, else
 * CERTHUB_DEFAULT_BASE_URL. */
const char *ch_findings_base_url(const char *given, char *buf, size_t n);
/* An ASFF type "namespace[/category[/classifier]]" with a known
 * namespace. */
bool ch_findings_valid_type(const char *t);

#endif
