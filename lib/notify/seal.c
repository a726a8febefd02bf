/*
 * AES-256-GCM sealing of message bodies (certhub/notify_seal.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "certhub/notify_seal.h"
#include "core/core.h"

#define MAGIC "chs"
#define KEYID_LEN 8
#define NONCE_LEN 12
#define KEYFILE_MAX 4096

struct certhub_seal_key {
  uint8_t k[CERTHUB_SEAL_KEY_LEN];
  uint8_t id[KEYID_LEN];
};

static ch_err sfail(char **why, ch_err rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ch_err sfail(char **why, ch_err rc, const char *fmt, ...)
{
  if(why && !*why) {
    va_list ap;
    va_start(ap, fmt);
    if(vasprintf(why, fmt, ap) < 0)
      *why = NULL;
    va_end(ap);
  }
  return rc;
}

ch_err certhub_seal_key_from_bytes(const uint8_t *k, size_t n,
                                   certhub_seal_key **out)
{
  static const char label[] = "certhub seal key id";
  uint8_t h[SHA256_DIGEST_LENGTH],
      in[sizeof(label) - 1 + CERTHUB_SEAL_KEY_LEN];
  *out = NULL;
  if(!k || n != CERTHUB_SEAL_KEY_LEN)
    return CH_ERR_USAGE;
  certhub_seal_key *key = calloc(1, sizeof(*key));
  if(!key)
    return CH_ERR_NOMEM;
  memcpy(key->k, k, n);
  memcpy(in, label, sizeof(label) - 1);
  memcpy(in + sizeof(label) - 1, k, n);
  int ok = EVP_Digest(in, sizeof(in), h, NULL, EVP_sha256(), NULL);
  OPENSSL_cleanse(in, sizeof(in));
  if(ok != 1) {
    certhub_seal_key_free(key);
    return CH_ERR_INTERNAL;
  }
  memcpy(key->id, h, KEYID_LEN);
  *out = key;
  return CH_OK;
}

void certhub_seal_key_free(certhub_seal_key *k)
{
  if(!k)
    return;
  OPENSSL_cleanse(k, sizeof(*k));
  free(k);
}

void certhub_seal_key_id(const certhub_seal_key *k, char out[17])
{
  ch_hex_encode(k->id, KEYID_LEN, out);
}

/* The 32 key bytes from the file's contents: raw, hex or base64. */
static bool decode_key(const uint8_t *buf, size_t n,
                       uint8_t key[CERTHUB_SEAL_KEY_LEN])
{
  if(n == CERTHUB_SEAL_KEY_LEN) {
    memcpy(key, buf, n);
    return true;
  }
  size_t a = 0, b = n;
  while(a < b && strchr(" \t\r\n", buf[a]))
    a++;
  while(b > a && strchr(" \t\r\n", buf[b - 1]))
    b--;
  if(b - a == 2 * CERTHUB_SEAL_KEY_LEN) {
    for(size_t i = 0; i < CERTHUB_SEAL_KEY_LEN; i++) {
      int hi = ch_hex_val(buf[a + 2 * i]), lo = ch_hex_val(buf[a + 2 * i + 1]);
      if(hi < 0 || lo < 0)
        return false;
      key[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
  }
  if(b - a == 44) { /* base64 of 32 bytes, one '=' of padding */
    uint8_t tmp[36];
    int m = EVP_DecodeBlock(tmp, buf + a, 44);
    if(m != 33 || buf[a + 43] != '=' || buf[a + 42] == '=')
      return false;
    memcpy(key, tmp, CERTHUB_SEAL_KEY_LEN);
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return true;
  }
  return false;
}

ch_err certhub_seal_key_load(const char *path, certhub_seal_key **out,
                             char **why)
{
  uint8_t buf[KEYFILE_MAX + 1], key[CERTHUB_SEAL_KEY_LEN];
  struct stat st;
  ch_err rc = CH_OK;
  ssize_t n = 0;
  if(why)
    *why = NULL;
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if(fd < 0)
    return sfail(why, CH_ERR_IO, "key file %s: %s", path, strerror(errno));
  if(fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    rc = sfail(why, CH_ERR_IO, "key file %s: not a regular file", path);
    goto out;
  }
  if(st.st_mode & 077) {
    rc = sfail(why, CH_ERR_USAGE,
               "key file %s: readable or writable by group or others (mode "
               "%04o); make it 0600",
               path, (unsigned)(st.st_mode & 07777));
    goto out;
  }
  size_t got = 0;
  while(got < sizeof(buf) && (n = read(fd, buf + got, sizeof(buf) - got)) > 0)
    got += (size_t)n;
  if(n < 0) {
    rc = sfail(why, CH_ERR_IO, "key file %s: %s", path, strerror(errno));
    goto out;
  }
  if(got > KEYFILE_MAX || !decode_key(buf, got, key)) {
    rc = sfail(why, CH_ERR_PARSE,
               "key file %s: not a key (32 bytes, 64 hex digits or 44 "
               "characters of base64; create one with `certhub topics "
               "keygen FILE`)",
               path);
    goto out;
  }
  rc = certhub_seal_key_from_bytes(key, sizeof(key), out);
out:
  OPENSSL_cleanse(buf, sizeof(buf));
  OPENSSL_cleanse(key, sizeof(key));
  close(fd);
  return rc;
}

ch_err certhub_seal_keygen(const char *path, char **why)
{
  uint8_t k[CERTHUB_SEAL_KEY_LEN];
  char hex[2 * CERTHUB_SEAL_KEY_LEN + 2];
  ch_err rc = CH_OK;
  if(why)
    *why = NULL;
  if(RAND_priv_bytes(k, sizeof(k)) != 1)
    return sfail(why, CH_ERR_INTERNAL, "no random bytes for a key");
  ch_hex_encode(k, sizeof(k), hex);
  OPENSSL_cleanse(k, sizeof(k));
  hex[2 * CERTHUB_SEAL_KEY_LEN] = '\n';
  int fd =
      open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if(fd < 0) {
    rc = sfail(why, CH_ERR_IO, "key file %s: %s%s", path, strerror(errno),
               errno == EEXIST ? " (an existing key is never overwritten)"
                               : "");
    goto out;
  }
  /* the umask may have taken bits away, never added: still set it */
  if(fchmod(fd, 0600) ||
     write(fd, hex, sizeof(hex) - 1) != (ssize_t)(sizeof(hex) - 1) ||
     fsync(fd)) {
    rc = sfail(why, CH_ERR_IO, "key file %s: %s", path, strerror(errno));
    close(fd);
    unlink(path);
    goto out;
  }
  if(close(fd)) {
    rc = sfail(why, CH_ERR_IO, "key file %s: %s", path, strerror(errno));
    unlink(path);
  }
out:
  OPENSSL_cleanse(hex, sizeof(hex));
  return rc;
}

bool certhub_seal_is_sealed(const void *p, size_t n)
{
  return p && n >= 4 && !memcmp(p, MAGIC, 3) &&
         ((const uint8_t *)p)[3] == CERTHUB_SEAL_VERSION;
}

/* header || topic_arn || NUL || message_id */
static bool add_aad(EVP_CIPHER_CTX *c, const uint8_t *hdr,
                    const char *topic_arn, const char *message_id)
{
  int n;
  const char *t = topic_arn ? topic_arn : "";
  const char *m = message_id ? message_id : "";
  return EVP_CipherUpdate(c, NULL, &n, hdr, CERTHUB_SEAL_HEADER) == 1 &&
         EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)t,
                          (int)strlen(t) + 1) == 1 &&
         EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)m, (int)strlen(m)) ==
             1;
}

ch_err certhub_seal(const certhub_seal_key *k, const char *topic_arn,
                    const char *message_id, const void *plain, size_t n,
                    uint8_t **out, size_t *outlen)
{
  ch_err rc = CH_ERR_INTERNAL;
  int m = 0, f = 0;
  *out = NULL;
  *outlen = 0;
  if(!k || (!plain && n))
    return CH_ERR_USAGE;
  if(n > CERTHUB_SEAL_MAX || (topic_arn && strlen(topic_arn) > 4096) ||
     (message_id && strlen(message_id) > 4096))
    return CH_ERR_TOOBIG;
  uint8_t *o = malloc(n + CERTHUB_SEAL_OVERHEAD);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if(!o || !c) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  memcpy(o, MAGIC, 3);
  o[3] = CERTHUB_SEAL_VERSION;
  memcpy(o + 4, k->id, KEYID_LEN);
  /* random 96-bit nonces: far below the 2^32 messages per key where
   * their collision becomes a concern */
  if(RAND_bytes(o + 4 + KEYID_LEN, NONCE_LEN) != 1)
    goto out;
  if(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
     EVP_EncryptInit_ex(c, NULL, NULL, k->k, o + 4 + KEYID_LEN) != 1 ||
     !add_aad(c, o, topic_arn, message_id) ||
     EVP_EncryptUpdate(c, o + CERTHUB_SEAL_HEADER, &m, plain, (int)n) != 1 ||
     EVP_EncryptFinal_ex(c, o + CERTHUB_SEAL_HEADER + m, &f) != 1 ||
     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CERTHUB_SEAL_TAG,
                         o + CERTHUB_SEAL_HEADER + n) != 1)
    goto out;
  *out = o;
  *outlen = n + CERTHUB_SEAL_OVERHEAD;
  o = NULL;
  rc = CH_OK;
out:
  EVP_CIPHER_CTX_free(c);
  free(o);
  return rc;
}

ch_err certhub_seal_open(const certhub_seal_key *k, const char *topic_arn,
                         const char *message_id, const uint8_t *sealed,
                         size_t n, char **plain, size_t *plen, char **why)
{
  ch_err rc = CH_OK;
  int m = 0, f = 0;
  char *p = NULL;
  EVP_CIPHER_CTX *c = NULL;
  if(why)
    *why = NULL;
  *plain = NULL;
  *plen = 0;
  if(!k || !sealed)
    return CH_ERR_USAGE;
  if(n < 4 || memcmp(sealed, MAGIC, 3))
    return sfail(why, CH_ERR_PARSE, "sealed message: not a sealed body");
  if(sealed[3] != CERTHUB_SEAL_VERSION)
    return sfail(why, CH_ERR_PARSE,
                 "sealed message: unknown format version %u (this certhub "
                 "reads version %d)",
                 sealed[3], CERTHUB_SEAL_VERSION);
  if(n < CERTHUB_SEAL_OVERHEAD)
    return sfail(why, CH_ERR_TRUNCATED,
                 "sealed message: truncated (%zu bytes, a sealed body has at "
                 "least %d)",
                 n, CERTHUB_SEAL_OVERHEAD);
  if(n - CERTHUB_SEAL_OVERHEAD > CERTHUB_SEAL_MAX)
    return sfail(why, CH_ERR_TOOBIG, "sealed message: larger than %zu bytes",
                 CERTHUB_SEAL_MAX);
  if(CRYPTO_memcmp(sealed + 4, k->id, KEYID_LEN)) {
    char have[17], want[17];
    ch_hex_encode(sealed + 4, KEYID_LEN, have);
    ch_hex_encode(k->id, KEYID_LEN, want);
    return sfail(why, CH_ERR_PASSWORD,
                 "sealed message: sealed under key %s, not under this key "
                 "(%s): wrong key file",
                 have, want);
  }
  size_t clen = n - CERTHUB_SEAL_OVERHEAD;
  uint8_t tag[CERTHUB_SEAL_TAG];
  memcpy(tag, sealed + CERTHUB_SEAL_HEADER + clen, sizeof(tag));
  if(!(p = malloc(clen + 1)) || !(c = EVP_CIPHER_CTX_new())) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
     EVP_DecryptInit_ex(c, NULL, NULL, k->k, sealed + 4 + KEYID_LEN) != 1 ||
     !add_aad(c, sealed, topic_arn, message_id) ||
     EVP_DecryptUpdate(c, (uint8_t *)p, &m, sealed + CERTHUB_SEAL_HEADER,
                       (int)clen) != 1 ||
     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CERTHUB_SEAL_TAG, tag) !=
         1) {
    rc = sfail(why, CH_ERR_INTERNAL, "sealed message: cipher setup failed");
    goto out;
  }
  if(EVP_DecryptFinal_ex(c, (uint8_t *)p + m, &f) != 1) {
    rc = sfail(why, CH_ERR_PASSWORD,
               "sealed message: authentication failed: the body was "
               "modified, or belongs to another topic or message");
    goto out;
  }
  p[clen] = '\0';
  *plain = p;
  *plen = clen;
  p = NULL;
out:
  if(p) {
    OPENSSL_cleanse(p, clen);
    free(p);
  }
  EVP_CIPHER_CTX_free(c);
  return rc;
}
