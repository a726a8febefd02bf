/*
 * API tokens: making secrets, hashing, checking. The store keeps only the
 * SHA-256 of a secret; a check hashes the presented secret, finds the row
 * by hash (unique index) and compares the hashes again in constant time,
 * so the result does not depend on how much of a guess was right.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certhub/store_hub.h"
#include "http_int.h"

static const struct {
  const char *name;
  unsigned bit;
} scope_names[] = {
    {"read", CERTHUB_SCOPE_READ},
    {"findings:write", CERTHUB_SCOPE_FINDINGS_WRITE},
    {"admin", CERTHUB_SCOPE_ADMIN},
};

ch_err certhub_scope_parse(const char *name, unsigned *scope)
{
  for(size_t i = 0; name && i < CH_ARRAY_LEN(scope_names); i++) {
    if(!strcmp(name, scope_names[i].name)) {
      *scope = scope_names[i].bit;
      return CH_OK;
    }
  }
  return CH_ERR_PARSE;
}

unsigned certhub_scopes_from_text(const char *text)
{
  unsigned bits = 0;
  char word[32];
  while(text && *text) {
    size_t n = strcspn(text, " ");
    if(n && n < sizeof(word)) {
      unsigned b;
      memcpy(word, text, n);
      word[n] = '\0';
      if(!certhub_scope_parse(word, &b))
        bits |= b;
    }
    text += n;
    while(*text == ' ')
      text++;
  }
  return bits;
}

void certhub_scopes_text(unsigned scopes, char *buf, size_t len)
{
  size_t used = 0;
  if(!len)
    return;
  buf[0] = '\0';
  for(size_t i = 0; i < CH_ARRAY_LEN(scope_names); i++) {
    if(!(scopes & scope_names[i].bit))
      continue;
    int w = snprintf(buf + used, len - used, "%s%s", used ? " " : "",
                     scope_names[i].name);
    if(w < 0 || (size_t)w >= len - used)
      return;
    used += (size_t)w;
  }
}

void certhub_token_hash(const char *secret, size_t len, char hex[65])
{
  uint8_t md[32];
  unsigned n = 0;
  if(!EVP_Digest(secret, len, md, &n, EVP_sha256(), NULL) || n != 32)
    memset(md, 0, sizeof(md)); /* never matches a stored hash of a secret */
  ch_hex_encode(md, 32, hex);
}

static bool name_ok(const char *name)
{
  size_t n = name ? strlen(name) : 0;
  if(!n || n > CERTHUB_TOKEN_NAME_MAX)
    return false;
  for(size_t i = 0; i < n; i++) {
    char c = name[i];
    if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

/* base64url without padding: 32 bytes -> 43 characters. */
static void b64url(const uint8_t *p, size_t n, char *out)
{
  static const char al[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t j = 0;
  uint32_t acc = 0;
  int bits = 0;
  for(size_t i = 0; i < n; i++) {
    acc = (acc << 8) | p[i];
    bits += 8;
    while(bits >= 6) {
      bits -= 6;
      out[j++] = al[(acc >> bits) & 63];
    }
  }
  if(bits)
    out[j++] = al[(acc << (6 - bits)) & 63];
  out[j] = '\0';
}

ch_err certhub_token_create(certhub_store *s, const char *name,
                            unsigned scopes, int64_t expires, int64_t now,
                            char **secret)
{
  uint8_t raw[32];
  char text[CERTHUB_TOKEN_LEN + 1], hash[65], prefix[13], sc[64];
  if(!s || !secret)
    return CH_ERR_USAGE;
  *secret = NULL;
  if(!name_ok(name))
    return certhub_store_fail(s, CH_ERR_USAGE,
                              "token name '%.64s': 1 to %d characters of "
                              "A-Z a-z 0-9 . _ -",
                              name ? name : "", CERTHUB_TOKEN_NAME_MAX);
  if(!(scopes & CERTHUB_SCOPE_ALL) || (scopes & ~CERTHUB_SCOPE_ALL))
    return certhub_store_fail(s, CH_ERR_USAGE, "no valid scope given");
  if(expires && expires <= now)
    return certhub_store_fail(s, CH_ERR_USAGE,
                              "the expiry is not in the future");
  if(RAND_bytes(raw, sizeof(raw)) != 1)
    return certhub_store_fail(s, CH_ERR_INTERNAL,
                              "no random bytes from OpenSSL");
  memcpy(text, CERTHUB_TOKEN_PREFIX, 4);
  b64url(raw, sizeof(raw), text + 4);
  OPENSSL_cleanse(raw, sizeof(raw));
  certhub_token_hash(text, strlen(text), hash);
  memcpy(prefix, text, 12);
  prefix[12] = '\0';
  certhub_scopes_text(scopes, sc, sizeof(sc));
  certhub_token_row row = {.name = name,
                           .hash = hash,
                           .prefix = prefix,
                           .scopes = sc,
                           .created = now,
                           .expires = expires};
  ch_err rc = certhub_store_token_put(s, &row);
  if(!rc && !(*secret = strdup(text)))
    rc = CH_ERR_NOMEM;
  OPENSSL_cleanse(text, sizeof(text));
  return rc;
}

typedef struct verify_ctx {
  const char *hash;
  bool match;
  unsigned scopes;
  int64_t expires;
  char name[CERTHUB_TOKEN_NAME_MAX + 1];
} verify_ctx;

static ch_err verify_cb(void *ctx, const certhub_token_row *t)
{
  verify_ctx *v = ctx;
  v->match = strlen(t->hash) == 64 && CRYPTO_memcmp(t->hash, v->hash, 64) == 0;
  v->scopes = certhub_scopes_from_text(t->scopes);
  v->expires = t->expires;
  snprintf(v->name, sizeof(v->name), "%s", t->name);
  return CH_OK;
}

ch_err certhub_token_verify(certhub_store *s, const char *secret, size_t len,
                            int64_t now, unsigned *scopes, char *name,
                            const char **why)
{
  char hash[65];
  verify_ctx v = {.hash = hash};
  *scopes = 0;
  *why = "invalid token";
  if(len != CERTHUB_TOKEN_LEN || memcmp(secret, CERTHUB_TOKEN_PREFIX, 4)) {
    *why = "malformed token (expected chk_ and 43 characters)";
    return CH_ERR_NOTFOUND;
  }
  certhub_token_hash(secret, len, hash);
  ch_err rc = certhub_store_token_find(s, hash, verify_cb, &v);
  if(rc)
    return rc;
  if(!v.match)
    return CH_ERR_NOTFOUND;
  if(v.expires && v.expires <= now) {
    *why = "token expired";
    return CH_ERR_NOTFOUND;
  }
  *scopes = v.scopes;
  if(name)
    memcpy(name, v.name, sizeof(v.name));
  return CH_OK;
}
