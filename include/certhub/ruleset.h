/*
 * A compiled set of event patterns (rules): every rule is added once, then
 * events are matched against all of them in one pass over the event. The
 * cost of a match grows with the event's values on the rules' field paths
 * and with the rules they hit, not with the number of rules (exact values
 * are a hash lookup per value, whatever the number of rules).
 *
 * Semantics are those of certhub_pattern_match (include/certhub/pattern.h)
 * for every operator; tests/unit/test_rules_ruleset.c checks the two agree.
 * Differences in bounds only: a match the reference gives up as too
 * complex (CH_ERR_TOOBIG after millions of binding steps) may be answered
 * here, since the search runs over fewer candidates; and the caps on the
 * scratch memory (leaves, hits, array positions per event) are not the
 * reference's arena size, so an event near them (hundreds of thousands of
 * values on rules' paths, nested deep in arrays) may be refused by one
 * and not the other, always as CH_ERR_TOOBIG.
 *
 * Ownership and threads: the ruleset owns copies of the names and the
 * compiled patterns. Adding rules mutates it; matching takes it const and
 * never writes to it, so once built it can be shared by any number of
 * threads, each with its own certhub_match_scratch (per-thread memory,
 * reused across events, bounded by the rules and by the event caps, not
 * by how many events were matched).
 */
#ifndef CERTHUB_RULESET_H
#define CERTHUB_RULESET_H

#include <stdbool.h>
#include <stddef.h>

#include "certhub/certhub.h"

#define CERTHUB_RULESET_MAX_RULES 1000000

typedef struct certhub_ruleset certhub_ruleset;
typedef struct certhub_match_scratch certhub_match_scratch;

/* An empty ruleset, owned by the caller (certhub_ruleset_free). */
ch_err certhub_ruleset_new(certhub_ruleset **out);

/* Compile pattern_json[0..len) (same validation and errors as
 * certhub_pattern_compile: CH_ERR_PARSE / CH_ERR_TOOBIG with a malloc'd
 * *errmsg the caller frees) and add it as rule `name` (copied; any string,
 * names need not be unique). *index (OUT, may be NULL) is the rule's
 * index: rules are numbered 0, 1, ... in the order added. After a
 * compile error (CH_ERR_PARSE, CH_ERR_TOOBIG) the ruleset is unchanged;
 * after CH_ERR_NOMEM it may hold part of the rule: free it. */
ch_err certhub_ruleset_add(certhub_ruleset *rs, const char *name,
                           const char *pattern_json, size_t len, size_t *index,
                           char **errmsg);

size_t certhub_ruleset_count(const certhub_ruleset *rs);

/* The name of rule index (borrowed), or NULL when out of range. */
const char *certhub_ruleset_name(const certhub_ruleset *rs, size_t index);

void certhub_ruleset_free(certhub_ruleset *rs);

/* Per-thread match memory, owned by the caller; usable with any ruleset
 * (it grows to the largest ruleset it has been used with). */
ch_err certhub_match_scratch_new(certhub_match_scratch **out);
void certhub_match_scratch_free(certhub_match_scratch *s);

/* Match the event event_json[0..len) against every rule. *matched (OUT,
 * borrowed from scratch, valid until its next use) lists the indices of
 * the matching rules in increasing order, *nmatched of them. Errors, with
 * a malloc'd *errmsg (if errmsg is not NULL) the caller frees:
 * CH_ERR_PARSE when the event is not valid JSON or not an object (the
 * message names the byte offset and the problem; the whole event is
 * validated, also the parts no rule reads), CH_ERR_TOOBIG when it is
 * larger than CERTHUB_EVENT_MAX_LEN, nested deeper than the limit on a
 * rule's path, or too complex to match within the bounds. */
ch_err certhub_ruleset_match(const certhub_ruleset *rs,
                             certhub_match_scratch *scratch,
                             const char *event_json, size_t len,
                             const size_t **matched, size_t *nmatched,
                             char **errmsg);

#endif
