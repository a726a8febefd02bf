/*
 * The route table: one line per endpoint. Order matters only when two
 * patterns match the same path (the first wins).
 */
#include "http_int.h"

#define R CERTHUB_SCOPE_READ
#define FW CERTHUB_SCOPE_FINDINGS_WRITE

const ch_http_route ch_http_routes[] = {
    {"GET", "/healthz", CH_HTTP_PUBLIC, CH_HTTP_NOSTORE, ch_http_healthz},
    {"GET", "/metrics", R, CH_HTTP_METRICS, ch_http_metrics},
    {"GET", "/v1/certificates", R, 0, ch_http_certs_list},
    {"GET", "/v1/certificates/{id}", R, 0, ch_http_cert_get},
    {"GET", "/v1/endpoints", R, 0, ch_http_endpoints_list},
    {"GET", "/v1/events", R, 0, ch_http_events_list},
    {"GET", "/v1/events/{id}", R, 0, ch_http_event_get},
    {"POST", "/v1/findings/import", FW, CH_HTTP_WRITE | CH_HTTP_BODY,
     ch_http_findings_import},
    {"POST", "/v1/findings/get", R, CH_HTTP_BODY, ch_http_findings_query},
    {"POST", "/v1/findings/update", FW, CH_HTTP_WRITE | CH_HTTP_BODY,
     ch_http_findings_update},
    {"POST", "/v1/insights/results", R, CH_HTTP_BODY, ch_http_insight_results},
    {"GET", "/v1/findings/{id*}", R, 0, ch_http_finding_get},
    /* SNS receivers' links: the token in the URL is the credential. */
    {"GET", "/", CH_HTTP_PUBLIC, CH_HTTP_WRITE, ch_http_sns_action},
    {"GET", "/sns/signing-cert.pem", CH_HTTP_PUBLIC, CH_HTTP_NOSTORE,
     ch_http_sns_signing_cert},
};

const size_t ch_http_n_routes = CH_ARRAY_LEN(ch_http_routes);

static const ch_http_prep preps[] = {
    {ch_http_findings_import, ch_http_findings_import_prep,
     ch_http_findings_import_free},
};

const ch_http_prep *ch_http_prep_of(const ch_http_route *route)
{
  for(size_t i = 0; i < CH_ARRAY_LEN(preps); i++)
    if(preps[i].fn == route->fn)
      return &preps[i];
  return NULL;
}
