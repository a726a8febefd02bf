/*
 * certhub: public API umbrella header.
 *
 * Every fallible function returns a ch_err and hands results back through
 * out-parameters (marked OUT). Strings returned through OUT parameters are
 * owned by the caller unless the comment says "borrowed".
 */
#ifndef CERTHUB_CERTHUB_H
#define CERTHUB_CERTHUB_H

#include <stddef.h>
#include <stdint.h>

#define CERTHUB_VERSION "0.1.0"

/* The one error enum of the project. Keep certhub_strerror() in step. */
typedef enum ch_err {
  CH_OK = 0,
  CH_ERR_NOMEM,      /* allocation failed */
  CH_ERR_IO,         /* read/write/stat failed (errno is meaningful) */
  CH_ERR_PARSE,      /* malformed input (DER, PEM, YAML, JSON, time) */
  CH_ERR_TRUNCATED,  /* input ended inside a structure */
  CH_ERR_TOOBIG,     /* a cap on size or count was hit */
  CH_ERR_UNSUPPORTED,/* well-formed but not something we handle */
  CH_ERR_PASSWORD,   /* PKCS#12 MAC/decryption failed */
  CH_ERR_NOTFOUND,   /* no such certificate, source, key */
  CH_ERR_AMBIGUOUS,  /* a short reference matched more than one row */
  CH_ERR_EXISTS,     /* unique constraint */
  CH_ERR_USAGE,      /* bad arguments from the caller */
  CH_ERR_CONFIG,     /* configuration invalid */
  CH_ERR_DB,         /* storage backend failure */
  CH_ERR_BUSY,       /* storage locked by another writer */
  CH_ERR_LOOP,       /* symlink or directory loop */
  CH_ERR_INTERNAL,   /* a bug: invariant broken */
  CH_ERR__MAX
} ch_err;

/* Static English text for an error code; never NULL. */
const char *certhub_strerror(ch_err e);

/* Library version string, borrowed. */
const char *certhub_version(void);

#endif
