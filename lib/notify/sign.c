/*
 * SNS message signatures: the string to sign, RSA-SHA1 (SignatureVersion
 * 1) and RSA-SHA256 (2) signatures, and the instance's signing key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "certhub/deliver.h"
#include "core/core.h"
#include "notify_int.h"

#define STS_CAP ((size_t)CERTHUB_MESSAGE_MAX + 8192)

static ch_err field(ch_buf *b, const char *name, const char *v, size_t n)
{
  ch_err rc = ch_buf_addstr(b, name);
  if(!rc)
    rc = ch_buf_addc(b, '\n');
  if(!rc)
    rc = ch_buf_add(b, v ? v : "", v ? n : 0);
  if(!rc)
    rc = ch_buf_addc(b, '\n');
  return rc;
}

#define FIELD(b, name, v) field(b, name, v, (v) ? strlen(v) : 0)

ch_err certhub_sns_string_to_sign(const certhub_sns_fields *f, char **out,
                                  size_t *outlen)
{
  ch_buf b;
  ch_err rc;
  if(!f || !f->type || !out || !outlen)
    return CH_ERR_USAGE;
  *out = NULL;
  *outlen = 0;
  ch_buf_init(&b, STS_CAP);
  /* Keys in byte order, as SNS signs them; Subject only when present. */
  bool note = !strcmp(f->type, "Notification");
  rc = field(&b, "Message", f->message, f->message_len);
  if(!rc)
    rc = FIELD(&b, "MessageId", f->message_id);
  if(!rc && note && f->subject)
    rc = FIELD(&b, "Subject", f->subject);
  if(!rc && !note)
    rc = FIELD(&b, "SubscribeURL", f->subscribe_url);
  if(!rc)
    rc = FIELD(&b, "Timestamp", f->timestamp);
  if(!rc && !note)
    rc = FIELD(&b, "Token", f->token);
  if(!rc)
    rc = FIELD(&b, "TopicArn", f->topic_arn);
  if(!rc)
    rc = FIELD(&b, "Type", f->type);
  if(rc)
    return rc;
  *outlen = b.len;
  *out = ch_buf_take(&b);
  return *out ? CH_OK : CH_ERR_NOMEM;
}

ch_err ch_notify_sign(EVP_PKEY *key, int version, const char *data, size_t len,
                      char **b64_out)
{
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned char *sig = NULL;
  size_t siglen = 0;
  ch_err rc = CH_ERR_INTERNAL;
  *b64_out = NULL;
  if(!md)
    return CH_ERR_NOMEM;
  const EVP_MD *alg = version == 2 ? EVP_sha256() : EVP_sha1();
  if(EVP_DigestSignInit(md, NULL, alg, NULL, key) != 1 ||
     EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)data, len) != 1)
    goto out;
  sig = malloc(siglen);
  if(!sig) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)data, len) != 1)
    goto out;
  char *b64 = malloc(4 * ((siglen + 2) / 3) + 1);
  if(!b64) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
  *b64_out = b64;
  rc = CH_OK;
out:
  free(sig);
  EVP_MD_CTX_free(md);
  return rc;
}

/* A new RSA 2048 key and a self-signed certificate for it (10 years). */
static ch_err generate(EVP_PKEY **key_out, X509 **cert_out)
{
  EVP_PKEY *key = EVP_RSA_gen(2048);
  X509 *x = X509_new();
  ch_err rc = CH_ERR_INTERNAL;
  if(!key || !x)
    goto out;
  X509_NAME *name = X509_get_subject_name(x);
  if(X509_set_version(x, 2) != 1 ||
     ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL)) != 1 ||
     !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
     !X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) ||
     X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                (const unsigned char *)"certhub", -1, -1,
                                0) != 1 ||
     X509_NAME_add_entry_by_txt(
         name, "CN", MBSTRING_ASC,
         (const unsigned char *)"certhub notification signing", -1, -1,
         0) != 1 ||
     X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1 ||
     !X509_sign(x, key, EVP_sha256()))
    goto out;
  *key_out = key;
  *cert_out = x;
  key = NULL;
  x = NULL;
  rc = CH_OK;
out:
  EVP_PKEY_free(key);
  X509_free(x);
  return rc;
}

/* Write the PEM of key or cert to path, created 0600 and exclusive (two
 * processes generating at once: one wins, the other reads its files). */
static ch_err write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if(fd < 0)
    return errno == EEXIST ? CH_ERR_EXISTS : CH_ERR_IO;
  FILE *f = fdopen(fd, "w");
  if(!f) {
    close(fd);
    return CH_ERR_IO;
  }
  int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
               : PEM_write_X509(f, cert);
  if(fflush(f) != 0 || fsync(fileno(f)) != 0)
    ok = 0;
  fclose(f);
  if(!ok) {
    unlink(path);
    return CH_ERR_IO;
  }
  return CH_OK;
}

static char *cert_pem(X509 *x)
{
  BIO *b = BIO_new(BIO_s_mem());
  char *out = NULL, *p;
  if(b && PEM_write_bio_X509(b, x)) {
    long n = BIO_get_mem_data(b, &p);
    out = strndup(p, (size_t)n);
  }
  BIO_free(b);
  return out;
}

ch_err certhub_notify_signing_load(const char *key_file, const char *cert_file,
                                   const char *data_dir, void **key_out,
                                   char **pem_out, char *why, size_t whylen)
{
  char kp[4096], cp[4096];
  EVP_PKEY *key = NULL;
  X509 *x = NULL;
  FILE *f = NULL;
  ch_err rc = CH_OK;
  *key_out = NULL;
  *pem_out = NULL;
  if(why && whylen)
    why[0] = '\0';
  if((key_file && !cert_file) || (!key_file && cert_file)) {
    snprintf(why, whylen,
             "notify: signing_key_file and signing_cert_file go together");
    return CH_ERR_CONFIG;
  }
  if(key_file) {
    snprintf(kp, sizeof(kp), "%s", key_file);
    snprintf(cp, sizeof(cp), "%s", cert_file);
  }
  else {
    if(!data_dir)
      data_dir = ".";
    if(snprintf(kp, sizeof(kp), "%s/sns-signing.key", data_dir) >=
           (int)sizeof(kp) ||
       snprintf(cp, sizeof(cp), "%s/sns-signing.crt", data_dir) >=
           (int)sizeof(cp)) {
      snprintf(why, whylen, "data directory path too long");
      return CH_ERR_USAGE;
    }
    if(access(kp, F_OK) != 0 && errno == ENOENT) {
      if((rc = generate(&key, &x))) {
        snprintf(why, whylen, "cannot generate a signing key");
        goto out;
      }
      /* The certificate first: a reader that sees the key sees both. */
      rc = write_pem(cp, NULL, x);
      if(!rc)
        rc = write_pem(kp, key, NULL);
      if(rc == CH_ERR_EXISTS) {
        rc = CH_OK; /* another process made them: use theirs */
        EVP_PKEY_free(key);
        X509_free(x);
        key = NULL;
        x = NULL;
        usleep(100000);
      }
      else if(rc) {
        snprintf(why, whylen, "cannot write the signing key to %s: %s", kp,
                 strerror(errno));
        goto out;
      }
    }
  }
  if(!key) {
    if(!(f = fopen(kp, "r"))) {
      snprintf(why, whylen, "cannot read signing key %s: %s", kp,
               strerror(errno));
      rc = CH_ERR_IO;
      goto out;
    }
    key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    f = NULL;
    if(!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
      snprintf(why, whylen, "%s: not an RSA private key in PEM", kp);
      rc = CH_ERR_PARSE;
      goto out;
    }
    if(!(f = fopen(cp, "r"))) {
      snprintf(why, whylen, "cannot read signing certificate %s: %s", cp,
               strerror(errno));
      rc = CH_ERR_IO;
      goto out;
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    f = NULL;
    if(!x) {
      snprintf(why, whylen, "%s: not a PEM certificate", cp);
      rc = CH_ERR_PARSE;
      goto out;
    }
    if(X509_check_private_key(x, key) != 1) {
      snprintf(why, whylen, "%s does not match the key %s", cp, kp);
      rc = CH_ERR_PARSE;
      goto out;
    }
  }
  if(!(*pem_out = cert_pem(x))) {
    rc = CH_ERR_NOMEM;
    goto out;
  }
  *key_out = key;
  key = NULL;
out:
  EVP_PKEY_free(key);
  X509_free(x);
  return rc;
}

void certhub_notify_signing_free(void *key)
{
  EVP_PKEY_free(key);
}

ch_err certhub_notify_signing_cert_pem(const char *key_file,
                                       const char *cert_file,
                                       const char *data_dir, char **pem_out)
{
  void *key = NULL;
  char why[256];
  ch_err rc = certhub_notify_signing_load(key_file, cert_file, data_dir, &key,
                                          pem_out, why, sizeof(why));
  EVP_PKEY_free(key);
  return rc;
}
