/*
 * Targets: parsing what users write (host:port, URLs, [v6]:port, lines of
 * a targets file) and expanding bounded CIDR sweeps.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "probe_int.h"

#define TARGET_MAX 1024 /* longest target spec accepted */

/* URL schemes: which port, and which STARTTLS dialect (NULL: direct TLS). */
static const struct scheme {
  const char *name;
  uint16_t port;
  const char *starttls;
} schemes[] = {
    {"https", 443, NULL},        {"tls", 443, NULL},
    {"smtps", 465, NULL},        {"imaps", 993, NULL},
    {"pop3s", 995, NULL},        {"ldaps", 636, NULL},
    {"ftps", 990, NULL},         {"xmpps", 5223, NULL},
    {"smtp", 25, "smtp"},        {"submission", 587, "smtp"},
    {"imap", 143, "imap"},       {"pop3", 110, "pop3"},
    {"ftp", 21, "ftp"},          {"ldap", 389, "ldap"},
    {"xmpp", 5222, "xmpp"},      {"postgres", 5432, "postgres"},
    {"postgresql", 5432, "postgres"},
};

static ch_err fail(char **errmsg, ch_err rc, const char *spec,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static ch_err fail(char **errmsg, ch_err rc, const char *spec,
                   const char *fmt, ...)
{
  char what[256];
  va_list ap;
  if(!errmsg)
    return rc;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  /* Quote at most 80 characters of the spec: a hostile line stays short. */
  if(asprintf(errmsg, "'%.80s%s': %s", spec, strlen(spec) > 80 ? "..." : "",
              what) < 0)
    *errmsg = NULL;
  return rc;
}

static bool is_ip(const char *h)
{
  unsigned char buf[16];
  return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* A DNS name as found in certificates and hosts files: labels of letters,
 * digits, '-' and '_' (internal names use it), 1-63 bytes, 253 in all. */
static bool is_dns_name(const char *h)
{
  size_t n = strlen(h), label = 0;
  if(n == 0 || n > 253)
    return false;
  for(size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)h[i];
    if(c == '.') {
      if(label == 0)
        return false;
      label = 0;
      continue;
    }
    if(!isalnum(c) && c != '-' && c != '_')
      return false;
    if(++label > 63)
      return false;
  }
  return true;
}

static ch_err parse_port(const char *s, size_t n, uint16_t *port)
{
  unsigned long v = 0;
  if(n == 0 || n > 5)
    return CH_ERR_PARSE;
  for(size_t i = 0; i < n; i++) {
    if(!isdigit((unsigned char)s[i]))
      return CH_ERR_PARSE;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if(v == 0 || v > 65535)
    return CH_ERR_PARSE;
  *port = (uint16_t)v;
  return CH_OK;
}

static const struct scheme *find_scheme(const char *s, size_t n)
{
  for(size_t i = 0; i < CH_ARRAY_LEN(schemes); i++)
    if(strlen(schemes[i].name) == n && !strncasecmp(schemes[i].name, s, n))
      return &schemes[i];
  return NULL;
}

void certhub_target_free(certhub_target *t)
{
  if(!t)
    return;
  free(t->spec);
  free(t->host);
  free(t->sni);
  free(t->starttls);
  for(size_t i = 0; i < t->n_tags; i++) {
    free(t->tag_keys[i]);
    free(t->tag_values[i]);
  }
  free(t->tag_keys);
  free(t->tag_values);
  memset(t, 0, sizeof(*t));
}

ch_err certhub_target_parse(const char *spec, const char *sni,
                            const char *starttls, certhub_target *out,
                            char **errmsg)
{
  ch_err rc = CH_OK;
  const struct scheme *sch = NULL;
  const char *p = spec, *end, *host, *hend, *portp = NULL;
  size_t portn = 0;
  char hostbuf[256];
  certhub_target t;

  memset(&t, 0, sizeof(t));
  memset(out, 0, sizeof(*out));
  if(errmsg)
    *errmsg = NULL;
  if(!*spec)
    return fail(errmsg, CH_ERR_PARSE, spec, "empty target");
  if(strlen(spec) > TARGET_MAX)
    return fail(errmsg, CH_ERR_PARSE, spec, "longer than %d bytes",
                TARGET_MAX);
  for(const char *c = spec; *c; c++)
    if((unsigned char)*c <= ' ' || *c == 0x7f)
      return fail(errmsg, CH_ERR_PARSE, spec,
                  "contains a space or control character");

  /* scheme://authority/anything */
  const char *sep = strstr(spec, "://");
  if(sep) {
    sch = find_scheme(spec, (size_t)(sep - spec));
    if(!sch)
      return fail(errmsg, CH_ERR_PARSE, spec,
                  "unknown scheme '%.*s' (https, smtp, submission, imap, "
                  "pop3, ftp, ldap, xmpp, postgres, smtps, imaps, pop3s, "
                  "ldaps, ftps, xmpps)",
                  (int)(sep - spec) > 20 ? 20 : (int)(sep - spec), spec);
    p = sep + 3;
  }
  end = p + strcspn(p, "/?#");
  if(memchr(p, '@', (size_t)(end - p)))
    return fail(errmsg, CH_ERR_PARSE, spec,
                "user names in targets are not supported");

  if(*p == '[') {
    host = p + 1;
    hend = memchr(host, ']', (size_t)(end - host));
    if(!hend)
      return fail(errmsg, CH_ERR_PARSE, spec, "'[' without a closing ']'");
    if(hend + 1 < end) {
      if(hend[1] != ':')
        return fail(errmsg, CH_ERR_PARSE, spec, "junk after ']'");
      portp = hend + 2;
      portn = (size_t)(end - portp);
    }
  }
  else {
    const char *colon = memchr(p, ':', (size_t)(end - p));
    host = p;
    hend = end;
    /* More than one colon without brackets: a bare IPv6 address. */
    if(colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
      hend = colon;
      portp = colon + 1;
      portn = (size_t)(end - portp);
    }
  }
  if(hend == host)
    return fail(errmsg, CH_ERR_PARSE, spec, "no host name");
  if((size_t)(hend - host) >= sizeof(hostbuf))
    return fail(errmsg, CH_ERR_PARSE, spec, "host name too long");
  memcpy(hostbuf, host, (size_t)(hend - host));
  hostbuf[hend - host] = '\0';
  /* A trailing dot (absolute name) is the same host. */
  size_t hl = strlen(hostbuf);
  if(hl > 1 && hostbuf[hl - 1] == '.' && !is_ip(hostbuf))
    hostbuf[hl - 1] = '\0';
  if(*p == '[') {
    unsigned char a6[16];
    if(inet_pton(AF_INET6, hostbuf, a6) != 1)
      return fail(errmsg, CH_ERR_PARSE, spec, "'%s' is not an IPv6 address",
                  hostbuf);
  }
  else if(!is_ip(hostbuf) && !is_dns_name(hostbuf))
    return fail(errmsg, CH_ERR_PARSE, spec,
                "'%s' is not a valid host name or address", hostbuf);

  if(portp && parse_port(portp, portn, &t.port))
    return fail(errmsg, CH_ERR_PARSE, spec, "port '%.*s' out of range (1-65535)",
                (int)(portn > 10 ? 10 : portn), portp);

  if(starttls && *starttls) {
    if(sch && !sch->starttls && strcmp(sch->name, "tls"))
      return fail(errmsg, CH_ERR_PARSE, spec,
                  "--starttls %s conflicts with the %s:// scheme", starttls,
                  sch->name);
    if(!ch_starttls_find(starttls))
      return fail(errmsg, CH_ERR_PARSE, spec,
                  "unknown STARTTLS protocol '%.20s' (smtp, imap, pop3, ftp, "
                  "ldap, xmpp, postgres)",
                  starttls);
  }
  else if(sch && sch->starttls)
    starttls = sch->starttls;
  else
    starttls = NULL;

  if(!t.port) {
    const ch_starttls_ops *ops = starttls ? ch_starttls_find(starttls) : NULL;
    if(sch)
      t.port = sch->port;
    else if(ops)
      t.port = ops->default_port;
    else
      t.port = 443;
    /* An explicit --starttls on a scheme-less target uses its own port. */
    if(ops && sch && !sch->starttls)
      t.port = ops->default_port;
  }

  if(sni && *sni) {
    if(!is_dns_name(sni) || is_ip(sni))
      return fail(errmsg, CH_ERR_PARSE, spec,
                  "SNI '%.80s' is not a DNS name", sni);
  }
  else
    sni = is_ip(hostbuf) ? NULL : hostbuf;

  t.spec = strdup(spec);
  t.host = strdup(hostbuf);
  t.sni = sni ? strdup(sni) : NULL;
  t.starttls = starttls ? strdup(starttls) : NULL;
  if(!t.spec || !t.host || (sni && !t.sni) || (starttls && !t.starttls)) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  /* Lower-case the names: DNS is case-insensitive and locators compare. */
  for(char *c = t.host; *c; c++)
    *c = (char)tolower((unsigned char)*c);
  if(t.sni)
    for(char *c = t.sni; *c; c++)
      *c = (char)tolower((unsigned char)*c);
  if(t.starttls)
    for(char *c = t.starttls; *c; c++)
      *c = (char)tolower((unsigned char)*c);
  *out = t;
  memset(&t, 0, sizeof(t));
out:
  certhub_target_free(&t);
  if(rc == CH_ERR_NOMEM)
    fail(errmsg, rc, spec, "out of memory");
  return rc;
}

static ch_err add_tag(certhub_target *t, const char *k, size_t kn,
                      const char *v)
{
  char **nk = realloc(t->tag_keys, (t->n_tags + 1) * sizeof(*nk));
  if(!nk)
    return CH_ERR_NOMEM;
  t->tag_keys = nk;
  char **nv = realloc(t->tag_values, (t->n_tags + 1) * sizeof(*nv));
  if(!nv)
    return CH_ERR_NOMEM;
  t->tag_values = nv;
  nk[t->n_tags] = strndup(k, kn);
  nv[t->n_tags] = strdup(v);
  if(!nk[t->n_tags] || !nv[t->n_tags]) {
    free(nk[t->n_tags]);
    free(nv[t->n_tags]);
    return CH_ERR_NOMEM;
  }
  t->n_tags++;
  return CH_OK;
}

#define LINE_MAX_TOKENS 64

ch_err certhub_target_parse_line(const char *line, certhub_target *out,
                                 bool *blank, char **errmsg)
{
  ch_err rc = CH_OK;
  char *copy = NULL, *save = NULL, *tok;
  char *toks[LINE_MAX_TOKENS];
  size_t n = 0;
  const char *sni = NULL, *starttls = NULL;
  bool all = false;

  memset(out, 0, sizeof(*out));
  *blank = false;
  if(errmsg)
    *errmsg = NULL;
  if(strlen(line) > 4 * TARGET_MAX)
    return fail(errmsg, CH_ERR_PARSE, line, "line longer than %d bytes",
                4 * TARGET_MAX);
  copy = strdup(line);
  if(!copy)
    return CH_ERR_NOMEM;
  char *hash = strchr(copy, '#');
  if(hash)
    *hash = '\0';
  for(tok = strtok_r(copy, " \t\r\n", &save); tok;
      tok = strtok_r(NULL, " \t\r\n", &save)) {
    if(n == LINE_MAX_TOKENS) {
      rc = fail(errmsg, CH_ERR_PARSE, line, "more than %d words",
                LINE_MAX_TOKENS);
      goto out;
    }
    toks[n++] = tok;
  }
  if(n == 0) {
    *blank = true;
    goto out;
  }
  for(size_t i = 1; i < n; i++) {
    if(!strncmp(toks[i], "sni=", 4))
      sni = toks[i] + 4;
    else if(!strncmp(toks[i], "starttls=", 9))
      starttls = toks[i] + 9;
    else if(!strcmp(toks[i], "all-addresses"))
      all = true;
    else if(!strncmp(toks[i], "tag.", 4) && strchr(toks[i] + 4, '=') &&
            strchr(toks[i] + 4, '=') != toks[i] + 4)
      ;
    else {
      rc = fail(errmsg, CH_ERR_PARSE, toks[0],
                "unknown option '%.40s' (sni=NAME, starttls=PROTO, "
                "all-addresses, tag.KEY=VALUE)",
                toks[i]);
      goto out;
    }
  }
  rc = certhub_target_parse(toks[0], sni, starttls, out, errmsg);
  if(rc)
    goto out;
  out->all_addresses = all;
  for(size_t i = 1; i < n; i++) {
    if(strncmp(toks[i], "tag.", 4))
      continue;
    const char *k = toks[i] + 4, *eq = strchr(k, '=');
    rc = add_tag(out, k, (size_t)(eq - k), eq + 1);
    if(rc) {
      certhub_target_free(out);
      goto out;
    }
  }
out:
  free(copy);
  return rc;
}

ch_err certhub_target_locator(const certhub_target *t, const char *address,
                              char *buf, size_t n)
{
  const bool v6 = strchr(t->host, ':') != NULL;
  int w = snprintf(buf, n, "%s%s%s%s%s:%u", t->starttls ? t->starttls : "",
                   t->starttls ? "://" : "", v6 ? "[" : "", t->host,
                   v6 ? "]" : "", t->port);
  if(w < 0 || (size_t)w >= n)
    return CH_ERR_TOOBIG;
  if(t->sni && strcmp(t->sni, t->host)) {
    int m = snprintf(buf + w, n - (size_t)w, " sni=%s", t->sni);
    if(m < 0 || (size_t)m >= n - (size_t)w)
      return CH_ERR_TOOBIG;
    w += m;
  }
  if(t->all_addresses && address) {
    int m = snprintf(buf + w, n - (size_t)w, " addr=%s", address);
    if(m < 0 || (size_t)m >= n - (size_t)w)
      return CH_ERR_TOOBIG;
  }
  return CH_OK;
}

/* Add one to a big-endian address of len bytes. */
static void addr_inc(unsigned char *a, size_t len)
{
  for(size_t i = len; i-- > 0;)
    if(++a[i])
      break;
}

ch_err certhub_target_sweep(const char *cidr, const uint16_t *ports,
                            size_t n_ports, size_t max_targets,
                            certhub_target **out, size_t *n, char **errmsg)
{
  ch_err rc = CH_OK;
  char addr[64];
  unsigned char a[16];
  int family, bits;
  size_t alen, count, skip_first = 0, skip_last = 0, k = 0;
  certhub_target *v = NULL;
  const char *slash = strchr(cidr, '/');
  char *endp;

  *out = NULL;
  *n = 0;
  if(errmsg)
    *errmsg = NULL;
  if(!slash || (size_t)(slash - cidr) >= sizeof(addr))
    return fail(errmsg, CH_ERR_PARSE, cidr, "not a CIDR range (ADDRESS/BITS)");
  memcpy(addr, cidr, (size_t)(slash - cidr));
  addr[slash - cidr] = '\0';
  if(inet_pton(AF_INET, addr, a) == 1) {
    family = AF_INET;
    alen = 4;
  }
  else if(inet_pton(AF_INET6, addr, a) == 1) {
    family = AF_INET6;
    alen = 16;
  }
  else
    return fail(errmsg, CH_ERR_PARSE, cidr, "'%s' is not an IP address",
                addr);
  errno = 0;
  long b = strtol(slash + 1, &endp, 10);
  if(errno || *endp || endp == slash + 1 || b < 0 || b > (long)(alen * 8))
    return fail(errmsg, CH_ERR_PARSE, cidr, "prefix length must be 0-%zu",
                alen * 8);
  bits = (int)b;
  if(n_ports == 0)
    return fail(errmsg, CH_ERR_USAGE, cidr, "no ports to sweep");
  /* Host bits beyond what max_targets allows cannot fit anyway. */
  int host_bits = (int)(alen * 8) - bits;
  if(host_bits >= 32 ||
     ((size_t)1 << host_bits) > max_targets / n_ports + 2)
    return fail(errmsg, CH_ERR_TOOBIG, cidr,
                "the range over %zu port(s) is more than the limit of %zu "
                "targets; use a longer prefix",
                n_ports, max_targets);
  count = (size_t)1 << host_bits;
  /* IPv4: skip the network and broadcast addresses of real subnets. */
  if(family == AF_INET && host_bits >= 2) {
    skip_first = 1;
    skip_last = 1;
  }
  count -= skip_first + skip_last;
  if(count * n_ports > max_targets)
    return fail(errmsg, CH_ERR_TOOBIG, cidr,
                "the range over %zu port(s) is %zu targets, more than the "
                "limit of %zu",
                n_ports, count * n_ports, max_targets);
  /* Clear the host bits: 10.0.0.7/24 means 10.0.0.0/24. */
  for(size_t i = 0; i < alen; i++) {
    int keep = bits - (int)(i * 8);
    if(keep <= 0)
      a[i] = 0;
    else if(keep < 8)
      a[i] &= (unsigned char)(0xff << (8 - keep));
  }
  for(size_t i = 0; i < skip_first; i++)
    addr_inc(a, alen);
  v = calloc((count * n_ports) > 0 ? count * n_ports : 1, sizeof(*v));
  if(!v)
    return CH_ERR_NOMEM;
  for(size_t i = 0; i < count; i++, addr_inc(a, alen)) {
    char text[INET6_ADDRSTRLEN];
    inet_ntop(family, a, text, sizeof(text));
    for(size_t j = 0; j < n_ports; j++) {
      char spec[INET6_ADDRSTRLEN + 10];
      snprintf(spec, sizeof(spec), family == AF_INET6 ? "[%s]:%u" : "%s:%u",
               text, ports[j]);
      rc = certhub_target_parse(spec, NULL, NULL, &v[k], errmsg);
      if(rc)
        goto out;
      k++;
    }
  }
  *out = v;
  *n = k;
  v = NULL;
out:
  if(v) {
    for(size_t i = 0; i < k; i++)
      certhub_target_free(&v[i]);
    free(v);
  }
  return rc;
}
