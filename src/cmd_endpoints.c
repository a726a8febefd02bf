/*
 * certhub endpoints list|describe: the probed endpoints and what their
 * last probes found.
 */
#include <stdlib.h>
#include <string.h>

#include "certhub/probe.h"
#include "cli.h"

#define HISTORY 10 /* probe summaries shown by describe */

static bool has_chain(const certhub_probe_row *p)
{
  return p->status == CERTHUB_PROBE_OK && p->chain_n > 0;
}

static json_t *time_json(int64_t t)
{
  char buf[32];
  if(!t)
    return json_null();
  certhub_time_format(t, buf, sizeof(buf));
  return json_string(buf);
}

static json_t *probe_json(const certhub_probe_row *p, int64_t now)
{
  bool chain = has_chain(p);
  json_t *problems = json_array();
  for(unsigned bit = 1; problems && bit; bit <<= 1) {
    const char *name = (chain && (p->problems & bit))
                           ? certhub_chain_problem_name(bit)
                           : NULL;
    if(name)
      json_array_append_new(problems, json_string(name));
  }
  json_t *legacy = json_array();
  if(legacy && (p->legacy_accepted & 1u))
    json_array_append_new(legacy, json_string("TLSv1.0"));
  if(legacy && (p->legacy_accepted & 2u))
    json_array_append_new(legacy, json_string("TLSv1.1"));
  return json_pack(
      "{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:b, s:o, s:s, s:b,"
      " s:o, s:o, s:s, s:I, s:s, s:o}",
      "ProbeId", (json_int_t)p->id, "Started", time_json(p->started), "Status",
      certhub_probe_status_name(p->status), "Reason", p->reason, "Address",
      p->address, "TlsVersion", certhub_tls_version_name(p->tls_version),
      "Cipher", p->cipher, "ConnectMs", p->connect_us / 1000.0, "HandshakeMs",
      p->handshake_us / 1000.0, "Trusted", chain && p->trusted, "Problems",
      problems, "VerifyError", p->verify_error, "HostnameMatch",
      chain && p->hostname_match, "EarliestExpiry",
      time_json(chain ? p->earliest_not_after : 0), "DaysToExpiry",
      chain ? json_integer(certhub_days_to_expiry(p->earliest_not_after, now))
            : json_null(),
      "OcspStatus", certhub_ocsp_status_name(chain ? p->ocsp : 0),
      "ChainLength", (json_int_t)p->chain_n, "ChainSha256", p->chain_sha256,
      "LegacyTls", legacy);
}

static json_t *endpoint_json(const certhub_endpoint_row *e, int64_t now)
{
  json_t *tags = json_array();
  for(size_t i = 0; tags && i < e->n_tags; i++)
    json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", e->tags[i].key,
                                          "Value", e->tags[i].value));
  return json_pack(
      "{s:I, s:s, s:s, s:s, s:I, s:s?, s:s?, s:s, s:o, s:o, s:o}", "Id",
      (json_int_t)e->id, "Endpoint", e->locator, "Spec", e->spec, "Host",
      e->host, "Port", (json_int_t)e->port, "Sni", *e->sni ? e->sni : NULL,
      "StartTls", *e->starttls ? e->starttls : NULL, "Address", e->address,
      "FirstSeen", time_json(e->first_seen), "Tags", tags, "LastProbe",
      e->has_probe ? probe_json(&e->last, now) : json_null());
}

/* ---- list -------------------------------------------------------------- */

typedef struct list_state {
  cli_ctx *c;
  out_table *table;
  out_json_stream js;
  size_t n;
} list_state;

/* The cells of one endpoint for the table and CSV. */
static void row_cells(const certhub_endpoint_row *e, int64_t now,
                      char days[32], char when[32], char detail[512],
                      const char *cells[8], enum out_color colors[8])
{
  const certhub_probe_row *p = &e->last;
  bool chain = e->has_probe && has_chain(p);
  memset(colors, 0, 8 * sizeof(*colors));
  snprintf(days, 32, "-");
  snprintf(when, 32, "-");
  detail[0] = '\0';
  if(e->has_probe)
    certhub_time_format(p->started, when, 32);
  if(chain) {
    int64_t d = certhub_days_to_expiry(p->earliest_not_after, now);
    snprintf(days, 32, "%lld", (long long)d);
    colors[4] = d < 0 ? OUT_RED : d <= 30 ? OUT_YELLOW : OUT_PLAIN;
    certhub_chain_problems_text(p->problems, detail, 512);
  }
  else if(e->has_probe)
    snprintf(detail, 512, "%s", p->reason);
  colors[2] = !e->has_probe                   ? OUT_PLAIN
              : p->status == CERTHUB_PROBE_OK ? OUT_GREEN
                                              : OUT_RED;
  cells[0] = e->locator;
  cells[1] = *e->address ? e->address : "-";
  cells[2] = e->has_probe ? certhub_probe_status_name(p->status) : "-";
  cells[3] = e->has_probe && *certhub_tls_version_name(p->tls_version)
                 ? certhub_tls_version_name(p->tls_version)
                 : "-";
  cells[4] = days;
  cells[5] = chain ? (p->trusted ? "yes" : "no") : "-";
  cells[6] = when;
  cells[7] = *detail ? detail : "-";
}

static ch_err list_cb(void *ctx, const certhub_endpoint_row *e)
{
  list_state *st = ctx;
  st->n++;
  if(st->c->format == OUT_JSON) {
    json_t *o = endpoint_json(e, st->c->now);
    ch_err rc = o ? out_json_item(&st->js, o) : CH_ERR_NOMEM;
    json_decref(o);
    return rc;
  }
  char days[32], when[32], detail[512];
  const char *cells[8];
  enum out_color colors[8];
  row_cells(e, st->c->now, days, when, detail, cells, colors);
  if(st->c->format == OUT_CSV) {
    /* Empty, not "-": a spreadsheet would read "-" as a formula. */
    for(size_t i = 0; i < 8; i++)
      if(!strcmp(cells[i], "-"))
        cells[i] = "";
    out_csv_row(stdout, cells, 8);
    return CH_OK;
  }
  return out_table_add(st->table, cells, colors);
}

static int parse_status(cli_ctx *c, const char *s, int *out)
{
  for(int i = CERTHUB_PROBE_OK; i <= CERTHUB_PROBE_ERROR; i++) {
    if(!strcmp(s, certhub_probe_status_name((certhub_probe_status)i))) {
      *out = i;
      return 0;
    }
  }
  return cli_usage(c,
                   "--status: '%s' is not ok, dns, refused, timeout, "
                   "tls_alert, protocol or error",
                   s);
}

static int parse_problem(cli_ctx *c, const char *s, unsigned *out)
{
  for(unsigned bit = 1; bit; bit <<= 1) {
    const char *name = certhub_chain_problem_name(bit);
    if(name && !strcmp(s, name)) {
      *out |= bit;
      return 0;
    }
  }
  return cli_usage(c,
                   "--problem: '%s' is not a chain problem (unknown_issuer, "
                   "self_signed, missing_intermediate, wrong_order, expired, "
                   "expired_intermediate, not_yet_valid, bad_signature, "
                   "other)",
                   s);
}

enum { OPT_STATUS = 0x100, OPT_PROBLEM, OPT_OWNER };

static int endpoints_list(cli_ctx *c, const certhub_endpoint_filter *f)
{
  certhub_store *s = NULL;
  list_state st = {.c = c};
  int code = 0;
  code = cli_open_store(c, &s);
  if(code)
    return code;
  static const char *const heads[] = {"ENDPOINT", "ADDRESS", "STATUS",
                                      "TLS",      "DAYS",    "TRUSTED",
                                      "PROBED",   "PROBLEMS"};
  if(c->format == OUT_JSON)
    out_json_begin(&st.js, stdout);
  else if(c->format == OUT_CSV)
    out_csv_row(stdout, heads, 8);
  else if(!(st.table = out_table_new(heads, 8))) {
    code = cli_fail(c, CLI_EXIT_INTERNAL, "out of memory");
    goto out;
  }
  ch_err rc = certhub_store_endpoints(s, f, list_cb, &st);
  if(c->format == OUT_JSON)
    out_json_end(&st.js);
  else if(st.table && out_table_rows(st.table))
    out_table_print(st.table, stdout, c->color);
  if(rc)
    code = cli_store_fail(c, s, rc, "listing endpoints");
  else if(!c->quiet && c->format == OUT_TABLE)
    fprintf(stderr, "certhub: endpoints: %zu endpoint%s\n", st.n,
            st.n == 1 ? "" : "s");
out:
  out_table_free(st.table);
  certhub_store_close(s);
  return code;
}

/* ---- describe ---------------------------------------------------------- */

typedef struct describe_state {
  cli_ctx *c;
  ch_err rc;
} describe_state;

static json_t *detail_json(const certhub_endpoint_detail *d, int64_t now)
{
  json_t *o = endpoint_json(&d->ep, now);
  json_t *chain = json_array(), *hist = json_array();
  for(size_t i = 0; chain && i < d->chain_n; i++) {
    const certhub_chain_entry *c = &d->chain[i];
    char na[32];
    certhub_time_format(c->not_after, na, sizeof(na));
    json_array_append_new(
        chain, json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s}", "Position",
                         (json_int_t)c->position, "CertificateId", c->id,
                         "Subject", c->subject, "Issuer", c->issuer,
                         "NotAfter", na, "DaysToExpiry",
                         (json_int_t)certhub_days_to_expiry(c->not_after, now),
                         "Sha256", c->sha256));
  }
  for(size_t i = 0; hist && i < d->n_history; i++)
    json_array_append_new(hist, probe_json(&d->history[i], now));
  if(o) {
    json_object_set_new(o, "Chain", chain ? chain : json_null());
    json_object_set_new(o, "History", hist ? hist : json_null());
  }
  else {
    json_decref(chain);
    json_decref(hist);
  }
  return o;
}

static void print_probe_line(const certhub_probe_row *p, int64_t now)
{
  char when[32], detail[512] = "";
  certhub_time_format(p->started, when, sizeof(when));
  if(has_chain(p)) {
    certhub_chain_problems_text(p->problems, detail, sizeof(detail));
    printf("  %s  %-9s %-7s  %s  %lld days  trusted=%s%s%s\n", when,
           certhub_probe_status_name(p->status),
           certhub_tls_version_name(p->tls_version),
           *p->address ? p->address : "-",
           (long long)certhub_days_to_expiry(p->earliest_not_after, now),
           p->trusted ? "yes" : "no", *detail ? "  " : "", detail);
  }
  else {
    printf("  %s  %-9s ", when, certhub_probe_status_name(p->status));
    out_safe_puts(stdout, p->reason);
    putchar('\n');
  }
}

static ch_err describe_cb(void *ctx, const certhub_endpoint_detail *d)
{
  describe_state *st = ctx;
  cli_ctx *c = st->c;
  const certhub_endpoint_row *e = &d->ep;
  if(c->format == OUT_JSON) {
    json_t *o = detail_json(d, c->now);
    ch_err rc = o ? out_json_print(stdout, o) : CH_ERR_NOMEM;
    json_decref(o);
    return rc;
  }
  char t[32];
  fputs("Endpoint:    ", stdout);
  out_safe_puts(stdout, e->locator);
  printf("\nId:          %lld\nTarget:      ", (long long)e->id);
  out_safe_puts(stdout, e->spec);
  printf("\nHost:        ");
  out_safe_puts(stdout, e->host);
  printf(":%u\n", e->port);
  if(*e->sni) {
    fputs("SNI:         ", stdout);
    out_safe_puts(stdout, e->sni);
    putchar('\n');
  }
  if(*e->starttls)
    printf("STARTTLS:    %s\n", e->starttls);
  if(*e->address)
    printf("Address:     %s\n", e->address);
  certhub_time_format(e->first_seen, t, sizeof(t));
  printf("First seen:  %s\n", t);
  for(size_t i = 0; i < e->n_tags; i++) {
    fputs(i ? "             " : "Tags:        ", stdout);
    out_safe_puts(stdout, e->tags[i].key);
    putchar('=');
    out_safe_puts(stdout, e->tags[i].value);
    putchar('\n');
  }
  if(e->has_probe) {
    const certhub_probe_row *p = &e->last;
    certhub_time_format(p->started, t, sizeof(t));
    printf("Last probe:  %s %s\n", t, certhub_probe_status_name(p->status));
    if(!has_chain(p)) {
      fputs("Reason:      ", stdout);
      out_safe_puts(stdout, p->reason);
      putchar('\n');
    }
    else {
      char probs[512];
      certhub_chain_problems_text(p->problems, probs, sizeof(probs));
      printf("TLS:         %s %s\n", certhub_tls_version_name(p->tls_version),
             p->cipher);
      printf("Handshake:   %.1f ms\n", p->handshake_us / 1000.0);
      printf("Trusted:     %s%s", p->trusted ? "yes" : "no",
             *p->verify_error ? " (" : "");
      if(*p->verify_error) {
        out_safe_puts(stdout, p->verify_error);
        putchar(')');
      }
      printf("\nHostname:    %s\n", p->hostname_match ? "match" : "MISMATCH");
      printf("Problems:    %s\n", *probs ? probs : "none");
      certhub_time_format(p->earliest_not_after, t, sizeof(t));
      printf("Earliest:    %s (%lld days, certificate %d)\n", t,
             (long long)certhub_days_to_expiry(p->earliest_not_after, c->now),
             p->earliest_index + 1);
      printf("OCSP:        %s\n", certhub_ocsp_status_name(p->ocsp));
      if(p->legacy_accepted)
        printf("Legacy TLS:  %s%s%s\n",
               (p->legacy_accepted & 1u) ? "TLSv1.0" : "",
               (p->legacy_accepted & 3u) == 3u ? "," : "",
               (p->legacy_accepted & 2u) ? "TLSv1.1" : "");
    }
  }
  else
    fputs("Last probe:  never\n", stdout);
  if(d->chain_n) {
    fputs("Chain:\n", stdout);
    for(size_t i = 0; i < d->chain_n; i++) {
      const certhub_chain_entry *ce = &d->chain[i];
      certhub_date_format(ce->not_after, t, sizeof(t));
      printf("  %u  %s  %s  %5lld  ", ce->position, ce->id, t,
             (long long)certhub_days_to_expiry(ce->not_after, c->now));
      out_safe_puts(stdout, ce->common_name ? ce->common_name : ce->subject);
      putchar('\n');
    }
  }
  if(d->n_history) {
    fputs("History:\n", stdout);
    for(size_t i = 0; i < d->n_history; i++)
      print_probe_line(&d->history[i], c->now);
  }
  return CH_OK;
}

static int endpoints_describe(cli_ctx *c, const char *ref)
{
  certhub_store *s = NULL;
  int64_t id = 0;
  int code;
  if(c->format == OUT_CSV)
    return cli_usage(c, "--output: csv is not supported here (table, json)");
  code = cli_open_store(c, &s);
  if(code)
    return code;
  ch_err rc = certhub_store_endpoint_resolve(s, ref, &id);
  if(rc == CH_ERR_NOTFOUND)
    code = cli_fail(c, CLI_EXIT_USAGE, "no endpoint matches '%.200s%s'", ref,
                    strlen(ref) > 200 ? "..." : "");
  else if(rc == CH_ERR_AMBIGUOUS)
    code = cli_fail(c, CLI_EXIT_USAGE,
                    "'%s' matches several endpoints; use the locator or id "
                    "from 'certhub endpoints list'",
                    ref);
  else if(rc)
    code = cli_store_fail(c, s, rc, ref);
  else {
    describe_state st = {.c = c};
    rc = certhub_store_endpoint_describe(s, id, HISTORY, describe_cb, &st);
    if(rc)
      code = cli_store_fail(c, s, rc, ref);
  }
  certhub_store_close(s);
  return code;
}

int cmd_endpoints(cli_ctx *c, int argc, char **argv)
{
  static const struct option longopts[] = {
      {"status", required_argument, NULL, OPT_STATUS},
      {"problem", required_argument, NULL, OPT_PROBLEM},
      {"owner", required_argument, NULL, OPT_OWNER},
      {NULL, 0, NULL, 0},
  };
  certhub_endpoint_filter f = {.status = -1};
  bool filtered = false;
  int r;
  /* Options may come before or after the subcommand. */
  while((r = cli_getopt(c, argc, argv, "", longopts)) != -1) {
    switch(r) {
    case CLI_OPT_STOP:
      return c->exit_code;
    case OPT_STATUS:
      if(parse_status(c, optarg, &f.status))
        return c->exit_code;
      break;
    case OPT_PROBLEM:
      if(parse_problem(c, optarg, &f.problems))
        return c->exit_code;
      break;
    case OPT_OWNER:
      f.owner = optarg;
      break;
    default:
      return cli_usage(c, "unexpected option");
    }
    filtered = true;
  }
  if(optind >= argc)
    return cli_usage(c, "missing subcommand (list or describe)");
  const char *sub = argv[optind++];
  if(!strcmp(sub, "list")) {
    if(optind < argc)
      return cli_usage(c, "unexpected argument '%s'", argv[optind]);
    return endpoints_list(c, &f);
  }
  if(strcmp(sub, "describe"))
    return cli_usage(c, "unknown subcommand '%s' (list or describe)", sub);
  if(filtered)
    return cli_usage(c, "--status, --problem and --owner are for 'list'");
  if(optind >= argc)
    return cli_usage(c, "missing ENDPOINT");
  if(argc - optind > 1)
    return cli_usage(c, "unexpected argument '%s'", argv[optind + 1]);
  return endpoints_describe(c, argv[optind]);
}
