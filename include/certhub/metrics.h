/*
 * certhub_metrics: the inventory and the last probe of every endpoint in
 * the Prometheus text exposition format (version 0.0.4), for
 * `certhub metrics` and, later, the /metrics page of `certhub serve`.
 *
 * Families (all gauges; see certhub-metrics(1) for the full description):
 *   certhub_certificate_not_after_timestamp_seconds   per certificate
 *   certhub_certificate_not_before_timestamp_seconds  per certificate
 *   certhub_certificate_expiry_days                   per certificate
 *   certhub_certificates{status}                      counts
 *   certhub_probe_*                                   per endpoint
 * With compat also the names blackbox_exporter (probe_success,
 * probe_ssl_earliest_cert_expiry, probe_ssl_last_chain_expiry_timestamp_
 * seconds, probe_tls_version_info) and x509-certificate-exporter
 * (x509_cert_not_after, x509_cert_not_before, x509_cert_expired) expose.
 *
 * Ownership: nothing is kept; the caller owns the store and the stream.
 */
#ifndef CERTHUB_METRICS_H
#define CERTHUB_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "certhub.h"
#include "store.h"

/* Bytes of one family's samples held before writing; larger is
 * CH_ERR_TOOBIG (about a million certificates). */
#define CERTHUB_METRICS_FAMILY_CAP ((size_t)512 << 20)

typedef struct certhub_metrics_opts {
  bool compat; /* also emit the blackbox / x509-certificate-exporter names */
} certhub_metrics_opts;

/* Write every family to out, each with # HELP and # TYPE before its
 * samples. Expiry is evaluated at now. Store errors come back as the
 * store's ch_err (text in certhub_store_errmsg()); CH_ERR_IO when out
 * fails. Families are built whole before any is written, so a failure
 * leaves out untouched. */
ch_err certhub_metrics_write(certhub_store *s, int64_t now,
                             const certhub_metrics_opts *opts /* may be NULL */,
                             FILE *out);

#endif
