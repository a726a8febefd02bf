/*
 * STARTTLS dialects: small sans-IO state machines that speak a plaintext
 * protocol up to the point where the server expects a TLS ClientHello.
 *
 * Each dialect is one ch_starttls_ops entry in the table below. The state
 * is a fixed-size struct (the loop allocates state_size zeroed bytes and
 * frees it; there is no destroy hook, so nothing here owns heap memory).
 * Hostile servers are bounded twice: one line (or LDAP message, or XML tag)
 * is at most STLS_LINE_MAX bytes and all plaintext at most STLS_TOTAL_MAX.
 * Server text quoted in a reason is printable-escaped and shortened.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "probe_int.h"

#define STLS_LINE_MAX 4096
#define STLS_TOTAL_MAX (64 * 1024)
#define STLS_QUOTE_MAX 100 /* characters of server text in a reason */
#define STLS_SUM_MAX 160   /* EHLO / stream features summary */

/* ---- helpers ------------------------------------------------------------ */

/* Printable-escape s[0..n) into out (cap bytes, NUL-terminated); longer text
 * is cut and ends with "...". */
static void quote(char *out, size_t cap, const char *s, size_t n)
{
  size_t o = 0;
  for(size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char tmp[5];
    size_t k;
    if(c >= 0x20 && c < 0x7f && c != '\\') {
      tmp[0] = (char)c;
      k = 1;
    }
    else if(c == '\\') {
      tmp[0] = tmp[1] = '\\';
      k = 2;
    }
    else {
      snprintf(tmp, sizeof(tmp), "\\x%02x", c);
      k = 4;
    }
    if(o + k + 4 > cap) { /* room for "..." and NUL */
      if(o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
      }
      break;
    }
    memcpy(out + o, tmp, k);
    o += k;
  }
  if(cap)
    out[o < cap ? o : cap - 1] = '\0';
}

/* Append ", " and quoted s[0..n) to the summary sum (size cap). Once full it
 * ends in "..." and stays so. */
static void sum_add(char *sum, size_t cap, const char *s, size_t n)
{
  size_t l = strlen(sum);
  if(l >= 3 && !strcmp(sum + l - 3, "..."))
    return;
  if(l && l + 2 < cap) {
    memcpy(sum + l, ", ", 3);
    l += 2;
  }
  if(l + 1 < cap)
    quote(sum + l, cap - l, s, n);
}

static bool has_prefix_ci(const char *s, size_t n, const char *p)
{
  size_t pl = strlen(p);
  return n >= pl && !strncasecmp(s, p, pl);
}

/* s starts with keyword p followed by end, space or tab. */
static bool has_word_ci(const char *s, size_t n, const char *p)
{
  size_t pl = strlen(p);
  return has_prefix_ci(s, n, p) && (n == pl || s[pl] == ' ' || s[pl] == '\t');
}

static ch_step queue(ch_buf *out, const void *p, size_t n, ch_fail *f)
{
  if(ch_buf_add(out, p, n) != CH_OK) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR, "out of memory queueing a command");
    return CH_STEP_FAIL;
  }
  return CH_STEP_MORE;
}

static ch_step queue_str(ch_buf *out, const char *s, ch_fail *f)
{
  return queue(out, s, strlen(s), f);
}

static ch_step fail_quote(ch_fail *f, const char *what, const char *s,
                          size_t n)
{
  char q[STLS_QUOTE_MAX];
  quote(q, sizeof(q), s, n);
  ch_fail_set(f, CERTHUB_PROBE_PROTOCOL, "%s: %s", what, q);
  return CH_STEP_FAIL;
}

static ch_step fail_total(ch_fail *f)
{
  ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
              "server sent more than %d bytes of plaintext before TLS",
              STLS_TOTAL_MAX);
  return CH_STEP_FAIL;
}

/* ---- line-based dialects ------------------------------------------------ */

/* Common head of every line-based state: the line being read. */
typedef struct line_st {
  int phase;
  size_t total; /* plaintext bytes consumed */
  size_t n;     /* bytes in line */
  char line[STLS_LINE_MAX + 1];
} line_st;

typedef ch_step (*line_fn)(void *st, const char *line, size_t n, ch_buf *out,
                           ch_fail *f);

/* Split input into lines (LF, an optional CR before it is dropped) and hand
 * each to fn. Stops at the line that finishes or fails the dialect, so
 * bytes after it stay unconsumed for TLS. */
static ch_step feed_lines(line_st *ls, line_fn fn, const uint8_t *in,
                          size_t len, size_t *used, ch_buf *out, ch_fail *f)
{
  for(size_t i = 0; i < len; i++) {
    if(++ls->total > STLS_TOTAL_MAX)
      return fail_total(f);
    if(in[i] == '\n') {
      size_t n = ls->n;
      if(n && ls->line[n - 1] == '\r')
        n--;
      ls->line[n] = '\0';
      ls->n = 0;
      ch_step s = fn(ls, ls->line, n, out, f);
      if(s != CH_STEP_MORE) {
        *used = i + 1;
        return s;
      }
      continue;
    }
    if(ls->n >= STLS_LINE_MAX) {
      char q[40];
      quote(q, sizeof(q), ls->line, ls->n);
      ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                  "server sent a line longer than %d bytes: %s", STLS_LINE_MAX,
                  q);
      return CH_STEP_FAIL;
    }
    ls->line[ls->n++] = (char)in[i];
  }
  *used = len;
  return CH_STEP_MORE;
}

/* A numeric reply line (SMTP, FTP): "250-text", "250 text" or "250".
 * Returns the code or -1 when malformed; *last is false for "250-". */
static int reply_code(const char *s, size_t n, bool *last)
{
  if(n < 3)
    return -1;
  for(int i = 0; i < 3; i++)
    if(s[i] < '0' || s[i] > '9')
      return -1;
  if(n > 3 && s[3] != ' ' && s[3] != '-')
    return -1;
  *last = n == 3 || s[3] == ' ';
  return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

static ch_step no_start(void *st, const char *host, ch_buf *out, ch_fail *f)
{
  (void)st;
  (void)host;
  (void)out;
  (void)f;
  return CH_STEP_MORE;
}

/* ---- smtp (RFC 3207) ---------------------------------------------------- */

enum { SMTP_GREET, SMTP_EHLO, SMTP_STLS };

typedef struct smtp_st {
  line_st ls;
  bool offer;             /* STARTTLS among the EHLO keywords */
  char sum[STLS_SUM_MAX]; /* the EHLO reply, for the reason */
} smtp_st;

static ch_step smtp_line(void *vst, const char *s, size_t n, ch_buf *out,
                         ch_fail *f)
{
  smtp_st *st = vst;
  bool last;
  int code = reply_code(s, n, &last);
  if(code < 0)
    return fail_quote(f, "malformed SMTP reply", s, n);
  const char *text = n > 4 ? s + 4 : "";
  size_t tn = n > 4 ? n - 4 : 0;
  switch(st->ls.phase) {
  case SMTP_GREET:
    if(code != 220)
      return fail_quote(f, "server greeting was not 220", s, n);
    if(!last)
      return CH_STEP_MORE;
    st->ls.phase = SMTP_EHLO;
    return queue_str(out, "EHLO certhub.invalid\r\n", f);
  case SMTP_EHLO:
    if(code != 250)
      return fail_quote(f, "server rejected EHLO", s, n);
    sum_add(st->sum, sizeof(st->sum), text, tn);
    if(has_word_ci(text, tn, "STARTTLS"))
      st->offer = true;
    if(!last)
      return CH_STEP_MORE;
    if(!st->offer) {
      ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                  "server does not offer STARTTLS (EHLO reply: %s)", st->sum);
      return CH_STEP_FAIL;
    }
    st->ls.phase = SMTP_STLS;
    return queue_str(out, "STARTTLS\r\n", f);
  default:
    if(code != 220)
      return fail_quote(f, "server refused STARTTLS", s, n);
    return last ? CH_STEP_DONE : CH_STEP_MORE;
  }
}

static ch_step smtp_input(void *st, const uint8_t *in, size_t len,
                          size_t *used, ch_buf *out, ch_fail *f)
{
  return feed_lines(st, smtp_line, in, len, used, out, f);
}

/* ---- imap (RFC 3501 6.2.1) ---------------------------------------------- */

enum { IMAP_GREET, IMAP_STLS };

static ch_step imap_line(void *vst, const char *s, size_t n, ch_buf *out,
                         ch_fail *f)
{
  line_st *st = vst;
  if(st->phase == IMAP_GREET) {
    if(!has_word_ci(s, n, "* OK"))
      return fail_quote(f, "server greeting was not * OK", s, n);
    st->phase = IMAP_STLS;
    return queue_str(out, "a1 STARTTLS\r\n", f);
  }
  if(has_prefix_ci(s, n, "* ") || has_prefix_ci(s, n, "+"))
    return CH_STEP_MORE; /* untagged data or continuation: not our answer */
  if(has_word_ci(s, n, "a1 OK"))
    return CH_STEP_DONE;
  if(has_prefix_ci(s, n, "a1 "))
    return fail_quote(f, "server refused STARTTLS", s, n);
  return fail_quote(f, "unexpected IMAP reply", s, n);
}

static ch_step imap_input(void *st, const uint8_t *in, size_t len,
                          size_t *used, ch_buf *out, ch_fail *f)
{
  return feed_lines(st, imap_line, in, len, used, out, f);
}

/* ---- pop3 (RFC 2595 4) -------------------------------------------------- */

enum { POP3_GREET, POP3_STLS };

static ch_step pop3_line(void *vst, const char *s, size_t n, ch_buf *out,
                         ch_fail *f)
{
  line_st *st = vst;
  if(st->phase == POP3_GREET) {
    if(!has_word_ci(s, n, "+OK"))
      return fail_quote(f, "server greeting was not +OK", s, n);
    st->phase = POP3_STLS;
    return queue_str(out, "STLS\r\n", f);
  }
  if(has_word_ci(s, n, "+OK"))
    return CH_STEP_DONE;
  return fail_quote(f, "server refused STLS", s, n);
}

static ch_step pop3_input(void *st, const uint8_t *in, size_t len,
                          size_t *used, ch_buf *out, ch_fail *f)
{
  return feed_lines(st, pop3_line, in, len, used, out, f);
}

/* ---- ftp (RFC 4217) ----------------------------------------------------- */

enum { FTP_GREET, FTP_AUTH };

typedef struct ftp_st {
  line_st ls;
  int ml_code; /* inside a "220-" multi-line reply: its code, else 0 */
} ftp_st;

static ch_step ftp_line(void *vst, const char *s, size_t n, ch_buf *out,
                        ch_fail *f)
{
  ftp_st *st = vst;
  bool last = false;
  int code;
  if(st->ml_code) {
    /* Inner lines of an FTP multi-line reply need not carry a code; only
     * "CODE " (same code, space) ends it. */
    code = reply_code(s, n, &last);
    if(code != st->ml_code || !last)
      return CH_STEP_MORE;
    st->ml_code = 0;
  }
  else {
    code = reply_code(s, n, &last);
    if(code < 0)
      return fail_quote(f, "malformed FTP reply", s, n);
    int want = st->ls.phase == FTP_GREET ? 220 : 234;
    if(code != want)
      return fail_quote(f,
                        st->ls.phase == FTP_GREET
                            ? "server greeting was not 220"
                            : "server refused AUTH TLS",
                        s, n);
    if(!last) {
      st->ml_code = code;
      return CH_STEP_MORE;
    }
  }
  if(st->ls.phase == FTP_GREET) {
    st->ls.phase = FTP_AUTH;
    return queue_str(out, "AUTH TLS\r\n", f);
  }
  return CH_STEP_DONE;
}

static ch_step ftp_input(void *st, const uint8_t *in, size_t len, size_t *used,
                         ch_buf *out, ch_fail *f)
{
  return feed_lines(st, ftp_line, in, len, used, out, f);
}

/* ---- ldap (RFC 4511 4.14) ----------------------------------------------- */

#define LDAP_STARTTLS_OID "1.3.6.1.4.1.1466.20037"

typedef struct ldap_st {
  size_t n;    /* bytes of the response collected */
  size_t need; /* its full size once the header is in, else 0 */
  uint8_t msg[STLS_LINE_MAX];
} ldap_st;

static ch_step ldap_start(void *st, const char *host, ch_buf *out, ch_fail *f)
{
  (void)st;
  (void)host;
  /* LDAPMessage { messageID 1, [APPLICATION 23] ExtendedRequest {
   *   [0] requestName LDAP_STARTTLS_OID } } */
  static const uint8_t req[] = {0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80,
                                0x16, '1',  '.',  '3',  '.',  '6',  '.',  '1',
                                '.',  '4',  '.',  '1',  '.',  '1',  '4',  '6',
                                '6',  '.',  '2',  '0',  '0',  '3',  '7'};
  return queue(out, req, sizeof(req), f);
}

/* BER header at p[0..n): 1 when more bytes are needed, -1 when malformed
 * (or longer than 4 length bytes), else 0 with header and content sizes. */
static int ber_head(const uint8_t *p, size_t n, size_t *hlen, size_t *clen)
{
  if(n < 2)
    return 1;
  if((p[0] & 0x1f) == 0x1f)
    return -1; /* high tag numbers do not occur in LDAP */
  if(!(p[1] & 0x80)) {
    *hlen = 2;
    *clen = p[1];
    return 0;
  }
  size_t k = p[1] & 0x7f;
  if(k == 0 || k > 4)
    return -1;
  if(n < 2 + k)
    return 1;
  size_t v = 0;
  for(size_t i = 0; i < k; i++)
    v = (v << 8) | p[2 + i];
  *hlen = 2 + k;
  *clen = v;
  return 0;
}

/* Read one complete TLV at p[*pos..end); -1 when malformed. */
static int ber_next(const uint8_t *p, size_t end, size_t *pos, uint8_t *tag,
                    const uint8_t **val, size_t *vlen)
{
  size_t h, c;
  if(*pos >= end || ber_head(p + *pos, end - *pos, &h, &c) != 0)
    return -1;
  if(c > end - *pos - h)
    return -1;
  *tag = p[*pos];
  *val = p + *pos + h;
  *vlen = c;
  *pos += h + c;
  return 0;
}

static const char *ldap_result_name(unsigned long c)
{
  switch(c) {
  case 1:
    return "operationsError";
  case 2:
    return "protocolError";
  case 3:
    return "timeLimitExceeded";
  case 7:
    return "authMethodNotSupported";
  case 8:
    return "strongerAuthRequired";
  case 12:
    return "unavailableCriticalExtension";
  case 13:
    return "confidentialityRequired";
  case 50:
    return "insufficientAccessRights";
  case 51:
    return "busy";
  case 52:
    return "unavailable";
  case 53:
    return "unwillingToPerform";
  case 80:
    return "other";
  default:
    return "unknown";
  }
}

static ch_step ldap_fail_malformed(ch_fail *f, const char *what)
{
  ch_fail_set(f, CERTHUB_PROBE_PROTOCOL, "malformed LDAP response: %s", what);
  return CH_STEP_FAIL;
}

static ch_step ldap_parse(const ldap_st *st, ch_fail *f)
{
  size_t h = 0, c = 0, pos, p2 = 0;
  uint8_t tag;
  const uint8_t *v, *op;
  size_t vn, opn;
  unsigned long id = 0, code = 0;
  if(st->msg[0] != 0x30)
    return ldap_fail_malformed(f, "not an LDAPMessage");
  ber_head(st->msg, st->n, &h, &c);
  pos = h;
  if(ber_next(st->msg, st->n, &pos, &tag, &v, &vn) || tag != 0x02 || vn < 1 ||
     vn > 4)
    return ldap_fail_malformed(f, "bad messageID");
  for(size_t i = 0; i < vn; i++)
    id = (id << 8) | v[i];
  if(ber_next(st->msg, st->n, &pos, &tag, &op, &opn))
    return ldap_fail_malformed(f, "no protocolOp");
  if(tag != 0x78) { /* [APPLICATION 24] ExtendedResponse */
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "unexpected LDAP response (protocolOp tag 0x%02x)", tag);
    return CH_STEP_FAIL;
  }
  if(ber_next(op, opn, &p2, &tag, &v, &vn) || tag != 0x0a || vn < 1 || vn > 4)
    return ldap_fail_malformed(f, "bad resultCode");
  for(size_t i = 0; i < vn; i++)
    code = (code << 8) | v[i];
  /* matchedDN, then diagnosticMessage (both OCTET STRING) */
  const uint8_t *diag = NULL;
  size_t diag_n = 0;
  if(ber_next(op, opn, &p2, &tag, &v, &vn) == 0 && tag == 0x04 &&
     ber_next(op, opn, &p2, &tag, &v, &vn) == 0 && tag == 0x04) {
    diag = v;
    diag_n = vn;
  }
  if(id == 1 && code == 0)
    return CH_STEP_DONE;
  char q[STLS_QUOTE_MAX] = "";
  if(diag)
    quote(q, sizeof(q), (const char *)diag, diag_n);
  if(id == 0) /* unsolicited notification, e.g. notice of disconnection */
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server sent a notice of disconnection: resultCode %lu "
                "(%s)%s%s",
                code, ldap_result_name(code), q[0] ? ": " : "", q);
  else if(id != 1)
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "unexpected LDAP messageID %lu in the StartTLS response", id);
  else
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server refused StartTLS: resultCode %lu (%s)%s%s", code,
                ldap_result_name(code), q[0] ? ": " : "", q);
  return CH_STEP_FAIL;
}

static ch_step ldap_input(void *vst, const uint8_t *in, size_t len,
                          size_t *used, ch_buf *out, ch_fail *f)
{
  ldap_st *st = vst;
  (void)out;
  for(size_t i = 0; i < len; i++) {
    if(st->n >= sizeof(st->msg)) {
      ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                  "LDAP response longer than %zu bytes", sizeof(st->msg));
      return CH_STEP_FAIL;
    }
    st->msg[st->n++] = in[i];
    if(!st->need) {
      size_t h, c;
      int r = ber_head(st->msg, st->n, &h, &c);
      if(r < 0)
        return ldap_fail_malformed(f, "bad BER header");
      if(r > 0)
        continue;
      if(st->msg[0] != 0x30)
        return fail_quote(f, "server did not answer in LDAP",
                          (const char *)st->msg, st->n);
      if(c > sizeof(st->msg) - h) {
        ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                    "LDAP response of %zu bytes is longer than %zu", h + c,
                    sizeof(st->msg));
        return CH_STEP_FAIL;
      }
      st->need = h + c;
    }
    if(st->n == st->need) {
      *used = i + 1;
      return ldap_parse(st, f);
    }
  }
  *used = len;
  return CH_STEP_MORE;
}

/* ---- xmpp (RFC 6120 5.4) ------------------------------------------------ */

#define XMPP_TLS_NS "urn:ietf:params:xml:ns:xmpp-tls"

enum { XMPP_FEATURES, XMPP_PROCEED };

typedef struct xmpp_st {
  int phase;
  size_t total;
  int depth;     /* open elements: 1 inside the stream */
  bool in_tag;   /* collecting a tag in buf */
  char quote_ch; /* inside an attribute value quoted by this */
  bool in_features, in_error, offer;
  bool garbage; /* text before the stream: collecting to quote */
  size_t n;
  char buf[STLS_LINE_MAX + 1];
  char sum[STLS_SUM_MAX]; /* names of the stream features */
} xmpp_st;

static ch_step xmpp_start(void *vst, const char *host, ch_buf *out, ch_fail *f)
{
  (void)vst;
  ch_step s = queue_str(out,
                        "<?xml version='1.0'?><stream:stream"
                        " xmlns='jabber:client'"
                        " xmlns:stream='http://etherx.jabber.org/streams'",
                        f);
  if(s == CH_STEP_MORE && host && *host) {
    s = queue_str(out, " to='", f);
    /* host names carry no XML specials, but escape rather than trust */
    for(const char *p = host; *p && s == CH_STEP_MORE; p++) {
      switch(*p) {
      case '\'':
        s = queue_str(out, "&apos;", f);
        break;
      case '&':
        s = queue_str(out, "&amp;", f);
        break;
      case '<':
        s = queue_str(out, "&lt;", f);
        break;
      default:
        s = queue(out, p, 1, f);
        break;
      }
    }
    if(s == CH_STEP_MORE)
      s = queue_str(out, "'", f);
  }
  if(s == CH_STEP_MORE)
    s = queue_str(out, " version='1.0'>", f);
  return s;
}

/* The value of attribute `name` in tag t (no entity decoding), or NULL. */
static const char *xml_attr(const char *t, const char *name, size_t *vn)
{
  size_t nl = strlen(name);
  for(const char *p = t; (p = strstr(p, name)) != NULL; p += nl) {
    if(p == t ||
       (p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n' && p[-1] != '\r'))
      continue;
    const char *q = p + nl;
    while(*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
      q++;
    if(*q++ != '=')
      continue;
    while(*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
      q++;
    if(*q != '\'' && *q != '"')
      continue;
    const char *e = strchr(q + 1, *q);
    if(!e)
      return NULL;
    *vn = (size_t)(e - q - 1);
    return q + 1;
  }
  return NULL;
}

static bool xml_ns_is(const char *t, const char *ns)
{
  size_t vn;
  const char *v = xml_attr(t, "xmlns", &vn);
  return v && vn == strlen(ns) && !memcmp(v, ns, vn);
}

/* Handle one complete tag in st->buf ("<...>", NUL-terminated). */
static ch_step xmpp_tag(xmpp_st *st, ch_buf *out, ch_fail *f)
{
  const char *t = st->buf;
  size_t n = st->n;
  if(t[1] == '?' || t[1] == '!')
    return CH_STEP_MORE; /* XML declaration, comment, DOCTYPE */
  bool closing = t[1] == '/';
  bool empty = !closing && n >= 3 && t[n - 2] == '/';
  const char *name = t + (closing ? 2 : 1);
  size_t name_n = strcspn(name, " \t\r\n/>");
  const char *colon = memchr(name, ':', name_n);
  const char *local = colon ? colon + 1 : name;
  size_t local_n = name_n - (size_t)(local - name);
#define LOCAL_IS(s) (local_n == strlen(s) && !memcmp(local, s, local_n))
  if(closing) {
    if(st->depth <= 1) {
      ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                  "server closed the XMPP stream before TLS");
      return CH_STEP_FAIL;
    }
    st->depth--;
    if(st->depth == 1 && st->in_error) {
      ch_fail_set(f, CERTHUB_PROBE_PROTOCOL, "server sent a stream error");
      return CH_STEP_FAIL;
    }
    if(st->depth == 1 && st->in_features)
      goto features_end;
    return CH_STEP_MORE;
  }
  if(st->depth == 0) {
    if(!LOCAL_IS("stream"))
      return fail_quote(f, "server did not open an XMPP stream", t, n);
    st->depth = empty ? 0 : 1;
    if(empty) {
      ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                  "server closed the XMPP stream before TLS");
      return CH_STEP_FAIL;
    }
    return CH_STEP_MORE;
  }
  if(st->depth == 1) {
    if(st->phase == XMPP_PROCEED) {
      if(LOCAL_IS("proceed"))
        return CH_STEP_DONE;
      if(LOCAL_IS("failure")) {
        ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                    "server refused STARTTLS (<failure/>)");
        return CH_STEP_FAIL;
      }
    }
    if(LOCAL_IS("error")) {
      if(empty) {
        ch_fail_set(f, CERTHUB_PROBE_PROTOCOL, "server sent a stream error");
        return CH_STEP_FAIL;
      }
      st->in_error = true;
    }
    else if(LOCAL_IS("features") && st->phase == XMPP_FEATURES) {
      st->in_features = true;
      if(empty)
        goto features_end;
    }
  }
  else if(st->depth == 2 && st->in_error) {
    /* the first child names the condition, e.g. host-unknown */
    char q[64];
    quote(q, sizeof(q), local, local_n);
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL, "server sent stream error: %s", q);
    return CH_STEP_FAIL;
  }
  else if(st->depth == 2 && st->in_features) {
    sum_add(st->sum, sizeof(st->sum), local, local_n);
    if(LOCAL_IS("starttls") && xml_ns_is(t, XMPP_TLS_NS))
      st->offer = true;
  }
  if(!empty)
    st->depth++;
  return CH_STEP_MORE;
#undef LOCAL_IS

features_end:
  st->in_features = false;
  if(!st->offer) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server does not offer STARTTLS (stream features: %s)",
                st->sum[0] ? st->sum : "none");
    return CH_STEP_FAIL;
  }
  st->phase = XMPP_PROCEED;
  return queue_str(out, "<starttls xmlns='" XMPP_TLS_NS "'/>", f);
}

static ch_step xmpp_input(void *vst, const uint8_t *in, size_t len,
                          size_t *used, ch_buf *out, ch_fail *f)
{
  xmpp_st *st = vst;
  for(size_t i = 0; i < len; i++) {
    char c = (char)in[i];
    if(++st->total > STLS_TOTAL_MAX)
      return fail_total(f);
    if(st->garbage) {
      /* Not XML at all (an SSH banner, HTTP): quote up to a line of it. */
      if(c != '\n' && c != '<' && st->n < 40) {
        st->buf[st->n++] = c;
        continue;
      }
      return fail_quote(f, "server did not open an XMPP stream", st->buf,
                        st->n);
    }
    if(!st->in_tag) {
      if(c != '<' && st->depth == 0 && c != ' ' && c != '\t' && c != '\r' &&
         c != '\n') {
        st->garbage = true;
        st->n = 0;
        st->buf[st->n++] = c;
        continue;
      }
      if(c != '<')
        continue; /* character data between tags: whitespace keepalives */
      st->in_tag = true;
      st->n = 0;
      st->quote_ch = 0;
    }
    if(st->n >= STLS_LINE_MAX) {
      char q[40];
      quote(q, sizeof(q), st->buf, st->n);
      ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                  "server sent an XML tag longer than %d bytes: %s",
                  STLS_LINE_MAX, q);
      return CH_STEP_FAIL;
    }
    if(c == '\0')
      return fail_quote(f, "server sent a NUL byte in XML", st->buf, st->n);
    st->buf[st->n++] = c;
    bool comment = st->n >= 4 && !memcmp(st->buf, "<!--", 4);
    if(st->quote_ch) {
      if(c == st->quote_ch)
        st->quote_ch = 0;
      continue;
    }
    if(!comment && (c == '\'' || c == '"') && st->n > 2) {
      st->quote_ch = c;
      continue;
    }
    if(c != '>')
      continue;
    if(comment && (st->n < 7 || memcmp(st->buf + st->n - 3, "-->", 3)))
      continue;
    st->buf[st->n] = '\0';
    st->in_tag = false;
    ch_step s = xmpp_tag(st, out, f);
    if(s != CH_STEP_MORE) {
      *used = i + 1;
      return s;
    }
  }
  *used = len;
  return CH_STEP_MORE;
}

/* ---- postgres (protocol 3, SSLRequest) ---------------------------------- */

static ch_step pg_start(void *st, const char *host, ch_buf *out, ch_fail *f)
{
  (void)st;
  (void)host;
  /* length 8, then the SSLRequest code 1234 << 16 | 5679 = 80877103 */
  static const uint8_t req[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
  return queue(out, req, sizeof(req), f);
}

static ch_step pg_input(void *st, const uint8_t *in, size_t len, size_t *used,
                        ch_buf *out, ch_fail *f)
{
  (void)st;
  (void)out;
  if(!len) {
    *used = 0;
    return CH_STEP_MORE;
  }
  *used = 1;
  if(in[0] == 'S')
    return CH_STEP_DONE;
  if(in[0] == 'N') {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL, "server does not accept SSL");
    return CH_STEP_FAIL;
  }
  /* One byte only: the answer is one byte, and what follows depends on
   * how the reads happened to split. */
  char q[8];
  quote(q, sizeof(q), (const char *)in, 1);
  ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
              "unexpected answer to the PostgreSQL SSLRequest: '%s' (0x%02x)",
              q, in[0]);
  return CH_STEP_FAIL;
}

/* ---- the table ---------------------------------------------------------- */

static const ch_starttls_ops dialects[] = {
    {"smtp", 25, sizeof(smtp_st), no_start, smtp_input},
    {"imap", 143, sizeof(line_st), no_start, imap_input},
    {"pop3", 110, sizeof(line_st), no_start, pop3_input},
    {"ftp", 21, sizeof(ftp_st), no_start, ftp_input},
    {"ldap", 389, sizeof(ldap_st), ldap_start, ldap_input},
    {"xmpp", 5222, sizeof(xmpp_st), xmpp_start, xmpp_input},
    {"postgres", 5432, 1, pg_start, pg_input},
};

/* Mail submission speaks smtp on its own port. */
static const ch_starttls_ops submission = {"smtp", 587, sizeof(smtp_st),
                                           no_start, smtp_input};

const ch_starttls_ops *ch_starttls_find(const char *name)
{
  if(!name)
    return NULL;
  for(size_t i = 0; i < CH_ARRAY_LEN(dialects); i++)
    if(!strcasecmp(name, dialects[i].name))
      return &dialects[i];
  return NULL;
}

const ch_starttls_ops *ch_starttls_for_scheme(const char *scheme)
{
  if(!scheme)
    return NULL;
  if(!strcasecmp(scheme, "submission"))
    return &submission;
  if(!strcasecmp(scheme, "postgresql"))
    return ch_starttls_find("postgres");
  return ch_starttls_find(scheme);
}

const char *const *certhub_starttls_names(void)
{
  static const char *const names[] = {"smtp", "imap", "pop3",     "ftp",
                                      "ldap", "xmpp", "postgres", NULL};
  return names;
}
