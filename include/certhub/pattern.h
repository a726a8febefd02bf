/*
 * EventBridge event patterns: parse and validate a pattern, and match one
 * event against it. This is the reference matcher: a direct reading of
 * the semantics, kept simple so a faster compiled matcher can be checked
 * against it.
 *
 * Semantics (decisions where EventBridge's documentation is silent or
 * loose are marked "certhub:"):
 *
 * - The pattern is a JSON object; {} matches every event. A field's value
 *   is an object (nested fields) or a non-empty array of alternatives.
 *   Nested keys are joined with '.', so {"a.b":[1]} and {"a":{"b":[1]}}
 *   are the same pattern and match both {"a":{"b":1}} and {"a.b":1}
 *   (as aws/event-ruler documents).
 * - The event is read as leaves: every string, number, true, false and
 *   null reached through objects and arrays. An object or an empty array
 *   is not a leaf. A field matches when some leaf at its path matches one
 *   of its alternatives; so an event array matches when any element does.
 * - Array consistency: all the leaves chosen for one match must agree on
 *   the element of every array they both pass through; fields inside
 *   objects of one event array match from the same element (event-ruler's
 *   rulesForJSONEvent). certhub: exists:false only asks that no leaf exists
 *   at the path, whatever the array element.
 * - Exact values: strings byte for byte; numbers by value (300 = 3.0e2 =
 *   300.0); true, false and null only match themselves; "" only "".
 * - prefix, suffix (each also as {"equals-ignore-case": s}),
 *   equals-ignore-case, wildcard, cidr: strings only. certhub: case is
 *   folded for ASCII letters only.
 * - wildcard: '*' matches any run of characters; "\*" is a literal '*',
 *   "\\" a literal backslash; any other escape and "**" are errors.
 * - anything-but (a string, a number, a non-empty list of only strings or
 *   only numbers, or {"prefix"|"suffix": s} or {"equals-ignore-case"|
 *   "wildcard": s or list of s}): matches a leaf that is present and not
 *   excluded, of any type (so null matches, as on AWS; a number matches an
 *   anything-but prefix). certhub: on an array, like every matcher, it
 *   matches when some element is not excluded (event-ruler's flattened
 *   model; not verified against AWS itself).
 * - numeric: ["=", n], or one or two bounds (">"/">=" first, then
 *   "<"/"<="), operands in [-5e9, 5e9]; matches JSON numbers only.
 * - exists: true matches any leaf at the path (null included); false
 *   matches when there is none (absent, an object, an empty array).
 * - cidr: "a.b.c.d/n" or an IPv6 prefix "x::/n"; host bits are ignored;
 *   matches string leaves holding an address of the same family.
 * - $or: an array of at least two objects whose keys are not operator
 *   names (otherwise "$or" is an ordinary field name, as event-ruler);
 *   may nest and appear at any level.
 *
 * Limits (errors, each naming the field): pattern longer than
 * CERTHUB_PATTERN_MAX_LEN characters, more than CERTHUB_PATTERN_MAX_COMBOS
 * $or combinations, a wildcard with more than CERTHUB_PATTERN_MAX_STARS
 * '*' or a pattern with more than CERTHUB_PATTERN_MAX_ALL_STARS (certhub's
 * stand-in for EventBridge's wildcard complexity limit), duplicate keys
 * (certhub). The length counts Unicode characters (UTF-8 code points).
 * Events: a JSON object of at most CERTHUB_EVENT_MAX_LEN bytes; only the
 * parts on the pattern's paths are read, at most 100 levels deep there,
 * and a match that needs more than a few million binding steps (array
 * consistency is a search) is CH_ERR_TOOBIG rather than a long stall.
 */
#ifndef CERTHUB_PATTERN_H
#define CERTHUB_PATTERN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "certhub/certhub.h"

#define CERTHUB_PATTERN_MAX_LEN 2048     /* characters, EventBridge default */
#define CERTHUB_PATTERN_MAX_COMBOS 1000  /* $or combinations */
#define CERTHUB_PATTERN_MAX_STARS 16     /* '*' in one wildcard value */
#define CERTHUB_PATTERN_MAX_ALL_STARS 64 /* '*' in one pattern */
#define CERTHUB_EVENT_MAX_LEN (256 * 1024) /* PutEvents entry size */

typedef struct certhub_pattern certhub_pattern;

/* Parse and validate json[0..len). On success *out is owned by the caller
 * (certhub_pattern_free). On CH_ERR_PARSE / CH_ERR_TOOBIG *errmsg (if
 * errmsg is not NULL) is a malloc'd message the caller frees. */
ch_err certhub_pattern_compile(const char *json, size_t len,
                               certhub_pattern **out, char **errmsg);

/* Match the event text event_json[0..len). An event that is not a JSON
 * object is CH_ERR_PARSE with *errmsg set (malloc'd); CH_ERR_TOOBIG when
 * it is too large or too complex to match within the bounds. */
ch_err certhub_pattern_match(const certhub_pattern *p, const char *event_json,
                             size_t len, bool *matched, char **errmsg);

/* Same, for an already parsed event (borrowed). */
ch_err certhub_pattern_match_json(const certhub_pattern *p,
                                  const json_t *event, bool *matched,
                                  char **errmsg);

/* Number of $or alternatives the pattern expands to (at least 1). */
size_t certhub_pattern_alternatives(const certhub_pattern *p);

void certhub_pattern_free(certhub_pattern *p);

#endif
