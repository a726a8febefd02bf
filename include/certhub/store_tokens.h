/*
 * The store's side of API tokens (certhub tokens, lib/http): plain rows,
 * no secrets. A token is kept as the SHA-256 of its secret; lib/http makes
 * and checks secrets. Dispatched through the backend table.
 *
 * Ownership as in store.h: rows passed to callbacks are borrowed for the
 * callback; arguments are borrowed for the call.
 */
#ifndef CERTHUB_STORE_TOKENS_H
#define CERTHUB_STORE_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include "findings.h"
#include "store.h"

#define CERTHUB_TOKEN_NAME_MAX 128

/* One stored token. */
typedef struct certhub_token_row {
  const char *name;
  const char *hash;   /* hex SHA-256 of the secret */
  const char *prefix; /* the secret's first characters, to recognise it */
  const char *scopes; /* space-separated, e.g. "read findings:write" */
  int64_t created;
  int64_t expires; /* 0: never */
} certhub_token_row;

typedef ch_err (*certhub_token_cb)(void *ctx, const certhub_token_row *t);

/* Insert t; CH_ERR_EXISTS when a token of that name exists. */
ch_err certhub_store_token_put(certhub_store *s, const certhub_token_row *t);
/* The token whose hash is hash; CH_ERR_NOTFOUND when none. */
ch_err certhub_store_token_find(certhub_store *s, const char *hash,
                                certhub_token_cb cb, void *ctx);
/* Every token, by name. */
ch_err certhub_store_token_list(certhub_store *s, certhub_token_cb cb,
                                void *ctx);
/* Delete the token; CH_ERR_NOTFOUND when absent. */
ch_err certhub_store_token_revoke(certhub_store *s, const char *name);

/* The findings whose Id is id, whatever their ProductArn (at most two:
 * enough to tell one from several), by ProductArn. None is not an error
 * (cb is not called). */
ch_err certhub_store_findings_by_id(certhub_store *s, const char *id,
                                    certhub_finding_cb cb, void *ctx);

#endif
