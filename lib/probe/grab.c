/*
 * grab: certhub's own minimal TLS client handshake, a ch_tls_engine_ops.
 *
 * Why not libssl: on this class of machine an OpenSSL 3.0 full client
 * handshake costs 530-650 us of CPU (without verification), and it
 * d2i_X509()s every certificate (~120 us each), while a probe should cost
 * <= 300 us all-in. We only inventory what the server presents, so this
 * engine sends one ClientHello and stops as soon as the certificate chain
 * (and OCSP staple) is in:
 *
 *   TLS 1.2 and older: ServerHello, Certificate, CertificateStatus are
 *   plaintext; no crypto at all besides the random bytes. Done right
 *   after Certificate unless the server acknowledged status_request; then
 *   at CertificateStatus or whatever message comes instead (the staple is
 *   optional even when acknowledged).
 *   TLS 1.3: one X25519 exchange (a second one on HelloRetryRequest for
 *   P-256/384/521), the handshake key schedule (HKDF with HMAC), and AEAD
 *   decryption of EncryptedExtensions..Certificate.
 *
 * Measured: ~100 us of CPU per TLS 1.3 handshake, ~50 us for TLS 1.2, of
 * which ~85 us were the two X25519 operations (key generation and the
 * shared secret); the key share is now reused (see SHARE_USES), which
 * leaves one.
 *
 * On DONE the engine queues user_canceled and close_notify (encrypted
 * with the client handshake key in TLS 1.3) so servers log a clean close.
 *
 * CertificateVerify and Finished are NOT checked: the engine does not
 * authenticate the server, it reports what was presented (chain analysis
 * happens later, in verify.c). Never use it to protect data.
 *
 * OpenSSL 3.0 looks algorithms up by name on every implicit fetch, which is
 * slow, so digests, HMAC and ciphers are fetched once (CRYPTO_THREAD_run_once)
 * and reused read-only by every connection.
 *
 * Hostile input: records are reassembled byte by byte, every length is
 * checked against what is left, handshake bytes are capped by
 * params->max_bytes and the chain by params->max_chain. A chain longer
 * than max_chain is not an error: the first max_chain certificates are
 * kept and the probe succeeds (the inventory wants the leaf; 100-cert
 * chains exist in the wild); ch_tls_info.chain_sent says how many came.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "probe_int.h"

#define REC_MAX (16384 + 2048) /* RFC 5246 ciphertext bound, the largest */
#define REC13_MAX (16384 + 256)
#define TR_CAP (256u * 1024) /* ClientHellos + HRR + ServerHello */
#define DEFAULT_MAX_CHAIN 32
#define DEFAULT_MAX_BYTES (1u << 20)
#define MAX_WARNINGS 8

enum { CT_CCS = 20, CT_ALERT = 21, CT_HANDSHAKE = 22, CT_APPDATA = 23 };
enum {
  HS_SERVER_HELLO = 2,
  HS_ENCRYPTED_EXTENSIONS = 8,
  HS_CERTIFICATE = 11,
  HS_CERTIFICATE_REQUEST = 13,
  HS_CERTIFICATE_STATUS = 22,
  HS_MESSAGE_HASH = 254
};

/* ---- algorithms, fetched once ------------------------------------------- */

typedef struct hash_alg {
  EVP_MD *md;
  EVP_MAC_CTX *hmac; /* template with the digest set; dup'd per use */
  size_t len;
  uint8_t derived[48]; /* Derive-Secret(early secret (no PSK), "derived") */
} hash_alg;

static CRYPTO_ONCE algs_once = CRYPTO_ONCE_STATIC_INIT;
static int algs_ok;
static hash_alg sha256, sha384;
static EVP_CIPHER *aes128gcm, *aes256gcm, *chacha;

/* The key-exchange groups offered, in preference order. */
typedef struct group {
  uint16_t id;
  const char *type;  /* keymgmt name */
  const char *curve; /* NULL for X25519 */
  size_t pub_len;
  EVP_PKEY *params; /* parameter template, made once */
} group;

static group groups[] = {
    {0x001d, "X25519", NULL, 32, NULL},
    {0x0017, "EC", "P-256", 65, NULL},
    {0x0018, "EC", "P-384", 97, NULL},
    {0x0019, "EC", "P-521", 133, NULL},
};

static const group *group_find(uint16_t id)
{
  for(size_t i = 0; i < CH_ARRAY_LEN(groups); i++) {
    if(groups[i].id == id && groups[i].params)
      return &groups[i];
  }
  return NULL;
}

static int hmac(const hash_alg *h, const uint8_t *key, size_t klen,
                const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2,
                uint8_t *out)
{
  size_t olen = 0;
  EVP_MAC_CTX *c = EVP_MAC_CTX_dup(h->hmac);
  int ok = c && EVP_MAC_init(c, key, klen, NULL) &&
           EVP_MAC_update(c, d1, l1) && (!l2 || EVP_MAC_update(c, d2, l2)) &&
           EVP_MAC_final(c, out, &olen, h->len) && olen == h->len;
  EVP_MAC_CTX_free(c);
  return ok;
}

/* HKDF-Expand-Label (RFC 8446 7.1) for outputs of at most one hash block,
 * which is all the handshake needs (secrets, keys, IVs). */
static int expand_label(const hash_alg *h, const uint8_t *secret,
                        const char *label, const uint8_t *ctx, size_t ctxlen,
                        uint8_t *out, size_t outlen)
{
  uint8_t info[2 + 1 + 6 + 16 + 1 + 48 + 1], t[48];
  size_t ll = strlen(label), n = 0;
  if(ll > 16 || ctxlen > 48 || outlen > h->len)
    return 0;
  info[n++] = (uint8_t)(outlen >> 8);
  info[n++] = (uint8_t)outlen;
  info[n++] = (uint8_t)(6 + ll);
  memcpy(info + n, "tls13 ", 6);
  n += 6;
  memcpy(info + n, label, ll);
  n += ll;
  info[n++] = (uint8_t)ctxlen;
  if(ctxlen)
    memcpy(info + n, ctx, ctxlen);
  n += ctxlen;
  info[n++] = 1; /* HKDF-Expand counter, one block */
  if(!hmac(h, secret, h->len, info, n, NULL, 0, t))
    return 0;
  memcpy(out, t, outlen);
  OPENSSL_cleanse(t, sizeof(t));
  return 1;
}

static int hash_init(hash_alg *h, const char *name)
{
  static EVP_MAC *mac;
  uint8_t zeros[48] = {0}, early[48], empty_hash[48];
  if(!mac && !(mac = EVP_MAC_fetch(NULL, "HMAC", NULL)))
    return 0;
  if(!(h->md = EVP_MD_fetch(NULL, name, NULL)))
    return 0;
  h->len = (size_t)EVP_MD_get_size(h->md);
  if(h->len > sizeof(h->derived) || !(h->hmac = EVP_MAC_CTX_new(mac)))
    return 0;
  OSSL_PARAM ps[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)name, 0),
      OSSL_PARAM_construct_end()};
  if(!EVP_MAC_CTX_set_params(h->hmac, ps))
    return 0;
  /* Without a PSK the early secret and the "derived" secret are constants
   * of the hash: compute them once. */
  return hmac(h, zeros, h->len, zeros, h->len, NULL, 0, early) &&
         EVP_Digest("", 0, empty_hash, NULL, h->md, NULL) &&
         expand_label(h, early, "derived", empty_hash, h->len, h->derived,
                      h->len);
}

static EVP_PKEY *group_params(const group *g)
{
  EVP_PKEY *pk = NULL;
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, g->type, NULL);
  if(c && EVP_PKEY_paramgen_init(c) > 0 &&
     (!g->curve || EVP_PKEY_CTX_set_group_name(c, g->curve) > 0))
    (void)EVP_PKEY_paramgen(c, &pk);
  EVP_PKEY_CTX_free(c);
  return pk;
}

/* The X25519 key share is reused for up to SHARE_USES handshakes or
 * SHARE_SECONDS, whichever comes first. Key generation is ~40 us of the
 * ~100 us a TLS 1.3 probe costs, and reuse is harmless here: the engine
 * never sends data under the handshake keys (it stops at the server's
 * Certificate), so there is nothing for forward secrecy to protect. */
#define SHARE_USES 256
#define SHARE_SECONDS 60
static CRYPTO_RWLOCK *share_lock;
static EVP_PKEY *share_key; /* reachable until exit, by design */
static unsigned share_uses;
static time_t share_born;

static void algs_init(void)
{
  share_lock = CRYPTO_THREAD_lock_new();
  aes128gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
  aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
  chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
  for(size_t i = 0; i < CH_ARRAY_LEN(groups); i++)
    groups[i].params = group_params(&groups[i]);
  /* X25519 is what we offer first; the others are only for HRR. */
  algs_ok = hash_init(&sha256, "SHA256") && hash_init(&sha384, "SHA384") &&
            aes128gcm && aes256gcm && groups[0].params && share_lock;
}

/* ---- cipher suites ------------------------------------------------------ */

typedef struct suite13 {
  uint16_t id;
  const hash_alg *hash;
  EVP_CIPHER **cipher;
  size_t keylen;
} suite13;

static const suite13 suites13[] = {
    {0x1301, &sha256, &aes128gcm, 16},
    {0x1302, &sha384, &aes256gcm, 32},
    {0x1303, &sha256, &chacha, 32},
};

/* Offered TLS 1.2 and older suites, in a browser-like preference order,
 * plus some legacy ones so old servers answer and report what they pick. */
static const uint16_t suites12[] = {
    0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc023, 0xc027, 0xc024,
    0xc028, 0xc009, 0xc013, 0xc00a, 0xc014, 0x009e, 0x009f, 0xccaa, 0x0067,
    0x006b, 0x0033, 0x0039, 0x009c, 0x009d, 0x003c, 0x003d, 0x002f, 0x0035,
    0x0041, 0x0084, 0xc012, 0x0016, 0x000a, 0xc011, 0xc007, 0x0005, 0x0004,
};

static const uint16_t sigalgs[] = {
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806,
    0x0601, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b,
    0x0303, 0x0301, 0x0302, 0x0203, 0x0201, 0x0402, 0x0202,
};

static const suite13 *suite13_find(uint16_t id)
{
  for(size_t i = 0; i < CH_ARRAY_LEN(suites13); i++) {
    if(suites13[i].id == id && *suites13[i].cipher)
      return &suites13[i];
  }
  return NULL;
}

static bool suite12_offered(uint16_t id)
{
  for(size_t i = 0; i < CH_ARRAY_LEN(suites12); i++) {
    if(suites12[i] == id)
      return true;
  }
  return false;
}

/* ---- names for messages ------------------------------------------------- */


static const char *hs_name(unsigned t)
{
  switch(t) {
  case 0:
    return "HelloRequest";
  case 1:
    return "ClientHello";
  case 2:
    return "ServerHello";
  case 4:
    return "NewSessionTicket";
  case 5:
    return "EndOfEarlyData";
  case 8:
    return "EncryptedExtensions";
  case 11:
    return "Certificate";
  case 12:
    return "ServerKeyExchange";
  case 13:
    return "CertificateRequest";
  case 14:
    return "ServerHelloDone";
  case 15:
    return "CertificateVerify";
  case 16:
    return "ClientKeyExchange";
  case 20:
    return "Finished";
  case 22:
    return "CertificateStatus";
  case 24:
    return "KeyUpdate";
  default:
    return "unknown";
  }
}

static const char *version_str(uint16_t v)
{
  const char *s = certhub_tls_version_name(v);
  return *s ? s : "an unknown version";
}

/* ---- bounded reader and writer ------------------------------------------ */

typedef struct rd {
  const uint8_t *p;
  size_t n;
  bool bad;
} rd;

static uint32_t rd_int(rd *r, size_t bytes)
{
  uint32_t v = 0;
  if(r->bad || r->n < bytes) {
    r->bad = true;
    r->n = 0;
    return 0;
  }
  for(size_t i = 0; i < bytes; i++)
    v = v << 8 | r->p[i];
  r->p += bytes;
  r->n -= bytes;
  return v;
}

static const uint8_t *rd_bytes(rd *r, size_t n)
{
  const uint8_t *p = r->p;
  if(r->bad || r->n < n) {
    r->bad = true;
    r->n = 0;
    return NULL;
  }
  r->p += n;
  r->n -= n;
  return p;
}

/* A vector with a `bytes`-byte length prefix, as a sub-reader. */
static rd rd_vec(rd *r, size_t bytes)
{
  rd sub = {NULL, 0, false};
  size_t n = rd_int(r, bytes);
  sub.p = rd_bytes(r, n);
  sub.n = sub.p ? n : 0;
  sub.bad = r->bad;
  return sub;
}

typedef struct wr {
  uint8_t *p;
  size_t len, cap;
  bool bad;
} wr;

static void w_int(wr *w, uint32_t v, size_t bytes)
{
  if(w->bad || w->cap - w->len < bytes) {
    w->bad = true;
    return;
  }
  for(size_t i = bytes; i-- > 0; v >>= 8)
    w->p[w->len + i] = (uint8_t)v;
  w->len += bytes;
}

static void w_bytes(wr *w, const void *p, size_t n)
{
  if(w->bad || w->cap - w->len < n) {
    w->bad = true;
    return;
  }
  if(n)
    memcpy(w->p + w->len, p, n);
  w->len += n;
}

/* Start a vector: reserve its length prefix; w_close() fills it in. */
static size_t w_open(wr *w, size_t bytes)
{
  size_t at = w->len;
  w_int(w, 0, bytes);
  return at;
}

static void w_close(wr *w, size_t at, size_t bytes)
{
  if(w->bad)
    return;
  size_t n = w->len - at - bytes;
  if(bytes < 4 && n >> (8 * bytes)) {
    w->bad = true;
    return;
  }
  for(size_t i = bytes; i-- > 0; n >>= 8)
    w->p[at + i] = (uint8_t)n;
}

/* ---- per-connection state ----------------------------------------------- */

typedef enum phase {
  PH_HELLO,    /* waiting for ServerHello or HelloRetryRequest */
  PH_HELLO2,   /* after HRR: waiting for ServerHello */
  PH12_CERT,   /* TLS <= 1.2: waiting for Certificate */
  PH12_STATUS, /* TLS <= 1.2: Certificate in; CertificateStatus next? */
  PH13_EE,     /* TLS 1.3: waiting for EncryptedExtensions */
  PH13_CERT,   /* TLS 1.3: waiting for (CertificateRequest,) Certificate */
  PH_DONE,
  PH_FAILED
} phase;

typedef struct grab {
  uint16_t min_ver, max_ver;
  size_t max_chain, max_bytes, total;
  char sni[256];
  phase ph;
  uint8_t random[32], session_id[32];
  /* first bytes from the server, for "not a TLS server" messages */
  uint8_t first[16];
  size_t first_n;
  /* key exchange and transcript (TLS 1.3) */
  EVP_PKEY *key;
  const group *key_group;
  ch_buf tr; /* handshake messages up to ServerHello */
  bool hrr;
  uint16_t hrr_suite;
  /* negotiated */
  uint16_t version, suite;
  bool status_acked;
  const suite13 *s13;
  /* record layer */
  uint8_t hdr[5];
  size_t hdr_len;
  bool first_record_ok;
  uint8_t *rec;
  size_t rec_len, rec_have;
  int warnings;
  /* TLS 1.3 read protection; handshake secret kept for the closing alert */
  EVP_CIPHER_CTX *aead;
  uint8_t iv[12];
  uint64_t seq;
  uint8_t hs_secret[48], th[48];
  /* handshake reassembly */
  ch_buf hs;
  size_t hs_off;
  /* results: chain entries point into cert_msg */
  uint8_t *cert_msg;
  const uint8_t **chain;
  size_t *chain_len;
  size_t chain_n, chain_sent;
  uint8_t *ocsp;
  size_t ocsp_len;
} grab;

static ch_step fail_nomem(ch_fail *f)
{
  ch_fail_set(f, CERTHUB_PROBE_ERROR, "out of memory in the TLS engine");
  return CH_STEP_FAIL;
}

static ch_step fail_crypto(ch_fail *f, const char *what)
{
  ch_fail_set(f, CERTHUB_PROBE_ERROR, "TLS engine: %s failed in OpenSSL",
              what);
  return CH_STEP_FAIL;
}

static ch_step fail_malformed(ch_fail *f, const char *what)
{
  ch_fail_set(f, CERTHUB_PROBE_PROTOCOL, "malformed TLS %s from the server",
              what);
  return CH_STEP_FAIL;
}

/* ---- key exchange ------------------------------------------------------- */

static EVP_PKEY *keygen(const group *g)
{
  EVP_PKEY *k = NULL;
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, g->params, NULL);
  if(c && EVP_PKEY_keygen_init(c) > 0)
    (void)EVP_PKEY_keygen(c, &k);
  EVP_PKEY_CTX_free(c);
  return k;
}

/* A reference to the current X25519 share (see SHARE_USES), or NULL. */
static EVP_PKEY *x25519_share(void)
{
  EVP_PKEY *k = NULL;
  time_t now = time(NULL);
  if(!CRYPTO_THREAD_write_lock(share_lock))
    return NULL;
  if(!share_key || share_uses >= SHARE_USES ||
     now - share_born >= SHARE_SECONDS || now < share_born) {
    EVP_PKEY *fresh = keygen(&groups[0]);
    if(fresh) {
      EVP_PKEY_free(share_key);
      share_key = fresh;
      share_uses = 0;
      share_born = now;
    }
  }
  if(share_key && EVP_PKEY_up_ref(share_key)) {
    k = share_key;
    share_uses++;
  }
  CRYPTO_THREAD_unlock(share_lock);
  return k;
}

/* ECDH(E) with the server's share; out gets the shared secret. 0 when the
 * share is invalid or OpenSSL fails. */
static int derive(EVP_PKEY *mine, const uint8_t *pub, size_t publen,
                  uint8_t *out, size_t *outlen)
{
  EVP_PKEY *peer = EVP_PKEY_new();
  EVP_PKEY_CTX *c = NULL;
  int ok = peer && EVP_PKEY_copy_parameters(peer, mine) > 0 &&
           EVP_PKEY_set1_encoded_public_key(peer, pub, publen) > 0 &&
           (c = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL)) &&
           EVP_PKEY_derive_init(c) > 0 &&
           EVP_PKEY_derive_set_peer(c, peer) > 0 &&
           EVP_PKEY_derive(c, out, outlen) > 0;
  EVP_PKEY_CTX_free(c);
  EVP_PKEY_free(peer);
  return ok;
}

/* ---- ClientHello -------------------------------------------------------- */

static ch_step client_hello(grab *g, const uint8_t *cookie, size_t cookie_len,
                            ch_buf *out, ch_fail *f)
{
  bool tls13 = g->max_ver >= 0x0304;
  size_t sni_len = strlen(g->sni);
  uint8_t pub[160];
  size_t pub_len = 0;
  ch_step st = CH_STEP_FAIL;
  wr w = {NULL, 0, 1024 + sni_len + cookie_len + sizeof(pub), false};

  if(tls13 && (!EVP_PKEY_get_octet_string_param(
                   g->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
                   sizeof(pub), &pub_len) ||
               pub_len != g->key_group->pub_len))
    return fail_crypto(f, "encoding the key share");
  if(!(w.p = malloc(w.cap)))
    return fail_nomem(f);

  w_int(&w, 1, 1); /* client_hello */
  size_t body = w_open(&w, 3);
  w_int(&w, tls13 ? 0x0303 : g->max_ver, 2);
  w_bytes(&w, g->random, 32);
  w_int(&w, 32, 1);
  w_bytes(&w, g->session_id, 32);
  size_t v = w_open(&w, 2);
  for(size_t i = 0; tls13 && i < CH_ARRAY_LEN(suites13); i++) {
    if(*suites13[i].cipher)
      w_int(&w, suites13[i].id, 2);
  }
  for(size_t i = 0; i < CH_ARRAY_LEN(suites12); i++)
    w_int(&w, suites12[i], 2);
  w_close(&w, v, 2);
  w_bytes(&w, "\x01\x00", 2); /* compression: null only */

  size_t exts = w_open(&w, 2);
  if(sni_len) {
    w_int(&w, 0x0000, 2);
    size_t e = w_open(&w, 2), l = w_open(&w, 2);
    w_int(&w, 0, 1); /* host_name */
    w_int(&w, (uint32_t)sni_len, 2);
    w_bytes(&w, g->sni, sni_len);
    w_close(&w, l, 2);
    w_close(&w, e, 2);
  }
  w_bytes(&w, "\x00\x17\x00\x00", 4);     /* extended_master_secret */
  w_bytes(&w, "\xff\x01\x00\x01\x00", 5); /* renegotiation_info */
  w_int(&w, 0x000a, 2);                   /* supported_groups */
  size_t e = w_open(&w, 2), l = w_open(&w, 2);
  for(size_t i = 0; i < CH_ARRAY_LEN(groups); i++) {
    if(groups[i].params)
      w_int(&w, groups[i].id, 2);
  }
  w_close(&w, l, 2);
  w_close(&w, e, 2);
  w_bytes(&w, "\x00\x0b\x00\x02\x01\x00", 6); /* ec_point_formats */
  /* status_request: OCSP, no responder ids, no extensions */
  w_bytes(&w, "\x00\x05\x00\x05\x01\x00\x00\x00\x00", 9);
  w_int(&w, 0x000d, 2); /* signature_algorithms */
  e = w_open(&w, 2);
  l = w_open(&w, 2);
  for(size_t i = 0; i < CH_ARRAY_LEN(sigalgs); i++)
    w_int(&w, sigalgs[i], 2);
  w_close(&w, l, 2);
  w_close(&w, e, 2);
  if(tls13) {
    w_int(&w, 0x002b, 2); /* supported_versions */
    e = w_open(&w, 2);
    l = w_open(&w, 1);
    for(uint16_t ver = g->max_ver; ver >= g->min_ver; ver--)
      w_int(&w, ver, 2);
    w_close(&w, l, 1);
    w_close(&w, e, 2);
    if(cookie) {
      w_int(&w, 0x002c, 2);
      e = w_open(&w, 2);
      w_int(&w, (uint32_t)cookie_len, 2);
      w_bytes(&w, cookie, cookie_len);
      w_close(&w, e, 2);
    }
    w_bytes(&w, "\x00\x2d\x00\x02\x01\x01", 6); /* psk_dhe_ke only */
    w_int(&w, 0x0033, 2);                       /* key_share */
    e = w_open(&w, 2);
    l = w_open(&w, 2);
    w_int(&w, g->key_group->id, 2);
    w_int(&w, (uint32_t)pub_len, 2);
    w_bytes(&w, pub, pub_len);
    w_close(&w, l, 2);
    w_close(&w, e, 2);
  }
  w_close(&w, exts, 2);
  w_close(&w, body, 3);
  if(w.bad) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR, "TLS engine: ClientHello too large");
    goto out;
  }
  if(tls13 && ch_buf_add(&g->tr, w.p, w.len)) {
    st = fail_nomem(f);
    goto out;
  }
  /* Records of at most 2^14 bytes; only a huge HRR cookie needs two. */
  for(size_t off = 0; off < w.len;) {
    size_t n = w.len - off < 16384 ? w.len - off : 16384;
    uint8_t h[5] = {CT_HANDSHAKE, 3, 1, (uint8_t)(n >> 8), (uint8_t)n};
    if(ch_buf_add(out, h, 5) || ch_buf_add(out, w.p + off, n)) {
      st = fail_nomem(f);
      goto out;
    }
    off += n;
  }
  st = CH_STEP_MORE;
out:
  free(w.p);
  return st;
}

/* ---- TLS 1.3 key schedule and record protection ------------------------- */

static int aead_init(EVP_CIPHER_CTX **ctx, const suite13 *s, const hash_alg *h,
                     const uint8_t *secret, int enc, uint8_t iv[12])
{
  uint8_t key[32];
  int ok = expand_label(h, secret, "key", NULL, 0, key, s->keylen) &&
           expand_label(h, secret, "iv", NULL, 0, iv, 12) &&
           (*ctx || (*ctx = EVP_CIPHER_CTX_new())) &&
           EVP_CipherInit_ex2(*ctx, *s->cipher, key, NULL, enc, NULL);
  OPENSSL_cleanse(key, sizeof(key));
  return ok;
}

static void nonce(const uint8_t iv[12], uint64_t seq, uint8_t out[12])
{
  memcpy(out, iv, 12);
  for(int i = 11; i >= 4; i--, seq >>= 8)
    out[i] ^= (uint8_t)seq;
}

/* Server handshake traffic keys from the (EC)DHE secret and CH..SH. */
static int key_schedule(grab *g, const uint8_t *shared, size_t shared_len)
{
  const hash_alg *h = g->s13->hash;
  uint8_t s_hs[48];
  int ok =
      EVP_Digest(g->tr.data, g->tr.len, g->th, NULL, h->md, NULL) &&
      hmac(h, h->derived, h->len, shared, shared_len, NULL, 0, g->hs_secret) &&
      expand_label(h, g->hs_secret, "s hs traffic", g->th, h->len, s_hs,
                   h->len) &&
      aead_init(&g->aead, g->s13, h, s_hs, 0, g->iv);
  OPENSSL_cleanse(s_hs, sizeof(s_hs));
  return ok;
}

/* Decrypt the record in g->rec in place; *type and *len get the inner
 * content type and plaintext length. */
static ch_step decrypt(grab *g, uint8_t *type, size_t *len, ch_fail *f)
{
  uint8_t n[12];
  int outl = 0, finl = 0;
  size_t clen = g->rec_len;
  if(clen < 17 || clen > REC13_MAX)
    return fail_malformed(f, "encrypted record (bad length)");
  clen -= 16;
  nonce(g->iv, g->seq++, n);
  if(!EVP_DecryptInit_ex2(g->aead, NULL, NULL, n, NULL) ||
     !EVP_DecryptUpdate(g->aead, NULL, &outl, g->hdr, 5) ||
     !EVP_DecryptUpdate(g->aead, g->rec, &outl, g->rec, (int)clen) ||
     !EVP_CIPHER_CTX_ctrl(g->aead, EVP_CTRL_AEAD_SET_TAG, 16, g->rec + clen) ||
     EVP_DecryptFinal_ex(g->aead, g->rec + outl, &finl) <= 0) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "could not decrypt the server's TLS 1.3 handshake record "
                "(bad record MAC)");
    return CH_STEP_FAIL;
  }
  /* TLSInnerPlaintext: content, type, zero padding */
  while(clen > 0 && g->rec[clen - 1] == 0)
    clen--;
  if(clen == 0)
    return fail_malformed(f, "encrypted record (no content type)");
  *type = g->rec[clen - 1];
  *len = clen - 1;
  return CH_STEP_MORE;
}

/* Encrypted alerts with the client handshake key: the server is waiting
 * for our Finished and would otherwise log a decryption error. */
static int close13(grab *g, ch_buf *out)
{
  const hash_alg *h = g->s13->hash;
  uint8_t c_hs[48], iv[12], n[12];
  static const uint8_t alerts[2][3] = {{1, 90, CT_ALERT}, {1, 0, CT_ALERT}};
  EVP_CIPHER_CTX *c = NULL;
  int ok = expand_label(h, g->hs_secret, "c hs traffic", g->th, h->len, c_hs,
                        h->len) &&
           aead_init(&c, g->s13, h, c_hs, 1, iv) &&
           !ch_buf_add(out, "\x14\x03\x03\x00\x01\x01", 6);
  for(uint64_t seq = 0; ok && seq < 2; seq++) {
    uint8_t rec[5 + 3 + 16] = {CT_APPDATA, 3, 3, 0, 3 + 16};
    int outl = 0, finl = 0;
    nonce(iv, seq, n);
    ok = EVP_EncryptInit_ex2(c, NULL, NULL, n, NULL) &&
         EVP_EncryptUpdate(c, NULL, &outl, rec, 5) &&
         EVP_EncryptUpdate(c, rec + 5, &outl, alerts[seq], 3) &&
         EVP_EncryptFinal_ex(c, rec + 5 + outl, &finl) &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, rec + 8) &&
         !ch_buf_add(out, rec, sizeof(rec));
  }
  EVP_CIPHER_CTX_free(c);
  OPENSSL_cleanse(c_hs, sizeof(c_hs));
  return ok;
}

/* ---- handshake messages ------------------------------------------------- */

static void fill_info(const grab *g, ch_tls_info *info)
{
  info->version = g->version;
  info->cipher_id = g->suite;
  info->cipher = ch_tls_cipher_name(g->suite);
  info->chain_n = g->chain_n;
  info->chain_sent = g->chain_sent;
  info->chain_der = g->chain;
  info->chain_len = g->chain_len;
  info->ocsp_der = g->ocsp;
  info->ocsp_len = g->ocsp_len;
}

static ch_step done(grab *g, ch_buf *out, ch_tls_info *info)
{
  g->ph = PH_DONE;
  fill_info(g, info);
  /* Polite close: user_canceled then close_notify. Best effort: the
   * result does not depend on the server reading it. */
  if(g->version >= 0x0304) {
    (void)close13(g, out);
  }
  else {
    uint8_t a[14] = {CT_ALERT, 3, (uint8_t)g->version, 0, 2, 1, 90,
                     CT_ALERT, 3, (uint8_t)g->version, 0, 2, 1, 0};
    (void)ch_buf_add(out, a, sizeof(a));
  }
  return CH_STEP_DONE;
}

static ch_step server_hello(grab *g, const uint8_t *m, size_t mlen,
                            ch_buf *out, ch_fail *f)
{
  static const uint8_t hrr_random[32] = {
      0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
      0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
      0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
  rd r = {m + 4, mlen - 4, false};
  uint16_t legacy = (uint16_t)rd_int(&r, 2);
  const uint8_t *random = rd_bytes(&r, 32);
  rd sid = rd_vec(&r, 1);
  uint16_t suite = (uint16_t)rd_int(&r, 2);
  unsigned comp = rd_int(&r, 1);
  rd exts = {NULL, 0, false};
  if(r.n > 0) {
    exts = rd_vec(&r, 2);
    if(r.n)
      r.bad = true;
  }
  if(r.bad || sid.n > 32)
    return fail_malformed(f, "ServerHello");

  /* Extensions we act on; any duplicate is malformed. */
  rd sv = {NULL, 0, false}, ks = sv, cookie = sv;
  bool have_sv = false, have_ks = false, have_cookie = false, status = false;
  while(exts.n > 0) {
    uint16_t type = (uint16_t)rd_int(&exts, 2);
    rd data = rd_vec(&exts, 2);
    if(exts.bad)
      return fail_malformed(f, "ServerHello extensions");
    bool *seen = type == 43   ? &have_sv
                 : type == 51 ? &have_ks
                 : type == 44 ? &have_cookie
                 : type == 5  ? &status
                              : NULL;
    if(seen && *seen)
      return fail_malformed(f, "ServerHello (duplicate extension)");
    if(seen)
      *seen = true;
    if(type == 43)
      sv = data;
    else if(type == 51)
      ks = data;
    else if(type == 44)
      cookie = data;
  }

  uint16_t version = legacy;
  if(have_sv) {
    version = (uint16_t)rd_int(&sv, 2);
    if(sv.bad || sv.n)
      return fail_malformed(f, "ServerHello (supported_versions)");
    if(version != 0x0304 || g->max_ver < 0x0304) {
      ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                  "server selected %s (0x%04x) through supported_versions, "
                  "which was not offered",
                  version_str(version), version);
      return CH_STEP_FAIL;
    }
  }
  else if(version > 0x0303) {
    return fail_malformed(f, "ServerHello (TLS 1.3 without "
                             "supported_versions)");
  }
  if(version < g->min_ver || version > g->max_ver) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server selected %s (0x%04x), outside the offered %s..%s",
                version_str(version), version, version_str(g->min_ver),
                version_str(g->max_ver));
    return CH_STEP_FAIL;
  }
  if(comp != 0)
    return fail_malformed(f, "ServerHello (compression selected)");
  const suite13 *s13 = suite13_find(suite);
  if(version >= 0x0304 ? !s13 : (s13 || !suite12_offered(suite))) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server selected cipher suite 0x%04x, which was not offered "
                "for %s",
                suite, version_str(version));
    return CH_STEP_FAIL;
  }
  if(g->hrr && (version != 0x0304 || suite != g->hrr_suite))
    return fail_malformed(f, "ServerHello (differs from the "
                             "HelloRetryRequest)");

  if(memcmp(random, hrr_random, 32) == 0) {
    /* HelloRetryRequest: the server wants another group (or a cookie). */
    uint8_t mh[4 + 48];
    uint16_t gid = (uint16_t)rd_int(&ks, 2);
    const group *grp = group_find(gid);
    if(version != 0x0304 || g->hrr)
      return fail_malformed(f, "HelloRetryRequest (unexpected)");
    if(ks.bad || ks.n || !grp || grp == g->key_group) {
      ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                  "server asked for key exchange group 0x%04x in its "
                  "HelloRetryRequest, which was not offered",
                  gid);
      return CH_STEP_FAIL;
    }
    if(have_cookie) {
      cookie = rd_vec(&cookie, 2);
      if(cookie.bad || cookie.n == 0)
        return fail_malformed(f, "HelloRetryRequest (cookie)");
    }
    g->hrr = true;
    g->hrr_suite = suite;
    /* The transcript restarts with message_hash(ClientHello1) (RFC 8446
     * 4.4.1). */
    const hash_alg *h = s13->hash;
    mh[0] = HS_MESSAGE_HASH;
    mh[1] = mh[2] = 0;
    mh[3] = (uint8_t)h->len;
    if(!EVP_Digest(g->tr.data, g->tr.len, mh + 4, NULL, h->md, NULL))
      return fail_crypto(f, "hashing");
    ch_buf_reset(&g->tr);
    if(ch_buf_add(&g->tr, mh, 4 + h->len) || ch_buf_add(&g->tr, m, mlen))
      return fail_nomem(f);
    EVP_PKEY_free(g->key);
    g->key_group = grp;
    if(!(g->key = keygen(grp)))
      return fail_crypto(f, "key generation");
    g->ph = PH_HELLO2;
    return client_hello(g, have_cookie ? cookie.p : NULL, cookie.n, out, f);
  }

  g->version = version;
  g->suite = suite;
  if(version < 0x0304) {
    g->status_acked = status;
    g->ph = PH12_CERT;
    ch_buf_free(&g->tr);
    return CH_STEP_MORE;
  }

  /* TLS 1.3: the server's share for our group, then the key schedule. */
  uint16_t gid = (uint16_t)rd_int(&ks, 2);
  rd pub = rd_vec(&ks, 2);
  uint8_t shared[80];
  size_t shared_len = sizeof(shared);
  if(!have_ks || ks.bad || ks.n || gid != g->key_group->id ||
     pub.n != g->key_group->pub_len)
    return fail_malformed(f, "ServerHello (key_share)");
  if(!derive(g->key, pub.p, pub.n, shared, &shared_len)) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server sent an invalid key share for group 0x%04x", gid);
    return CH_STEP_FAIL;
  }
  g->s13 = s13;
  int ok = !ch_buf_add(&g->tr, m, mlen) && key_schedule(g, shared, shared_len);
  OPENSSL_cleanse(shared, sizeof(shared));
  EVP_PKEY_free(g->key);
  g->key = NULL;
  ch_buf_free(&g->tr);
  if(!ok)
    return fail_crypto(f, "the TLS 1.3 key schedule");
  g->ph = PH13_EE;
  return CH_STEP_MORE;
}

/* Keep a copy of the Certificate message body and point the chain into
 * it. tls13: entries carry extensions; the leaf's status_request is the
 * OCSP staple. */
static ch_step certificate(grab *g, const uint8_t *m, size_t mlen, bool tls13,
                           ch_fail *f)
{
  size_t blen = mlen - 4;
  if(!(g->cert_msg = malloc(blen ? blen : 1)))
    return fail_nomem(f);
  memcpy(g->cert_msg, m + 4, blen);
  rd r = {g->cert_msg, blen, false};
  if(tls13)
    (void)rd_vec(&r, 1); /* certificate_request_context */
  rd list = rd_vec(&r, 3);
  if(r.bad || r.n)
    return fail_malformed(f, "Certificate message");

  /* First pass: validate and count. */
  size_t n = 0;
  for(rd l = list; l.n > 0; n++) {
    rd cert = rd_vec(&l, 3);
    if(tls13)
      (void)rd_vec(&l, 2);
    if(l.bad || cert.n == 0)
      return fail_malformed(f, "Certificate message (entry)");
  }
  if(n == 0) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server sent an empty certificate chain");
    return CH_STEP_FAIL;
  }
  g->chain_sent = n;
  size_t keep = n < g->max_chain ? n : g->max_chain;
  g->chain = calloc(keep, sizeof(*g->chain));
  g->chain_len = calloc(keep, sizeof(*g->chain_len));
  if(!g->chain || !g->chain_len)
    return fail_nomem(f);
  for(rd l = list; g->chain_n < keep;) {
    rd cert = rd_vec(&l, 3);
    g->chain[g->chain_n] = cert.p;
    g->chain_len[g->chain_n] = cert.n;
    if(tls13) {
      rd exts = rd_vec(&l, 2);
      while(g->chain_n == 0 && exts.n > 0) {
        uint16_t type = (uint16_t)rd_int(&exts, 2);
        rd data = rd_vec(&exts, 2);
        if(exts.bad)
          return fail_malformed(f, "Certificate entry extensions");
        if(type != 5 || g->ocsp)
          continue;
        unsigned status_type = rd_int(&data, 1);
        rd resp = rd_vec(&data, 3);
        if(data.bad || data.n || status_type != 1 || resp.n == 0)
          return fail_malformed(f, "OCSP staple (status_request)");
        g->ocsp = (uint8_t *)resp.p; /* inside cert_msg */
        g->ocsp_len = resp.n;
      }
    }
    g->chain_n++;
  }
  return CH_STEP_MORE;
}

static ch_step cert_status(grab *g, const uint8_t *m, size_t mlen, ch_fail *f)
{
  rd r = {m + 4, mlen - 4, false};
  unsigned type = rd_int(&r, 1);
  rd resp = rd_vec(&r, 3);
  if(r.bad || r.n || resp.n == 0)
    return fail_malformed(f, "CertificateStatus message");
  if(type != 1)
    return CH_STEP_MORE; /* not OCSP: nothing we know to keep */
  if(!(g->ocsp = malloc(resp.n)))
    return fail_nomem(f);
  memcpy(g->ocsp, resp.p, resp.n);
  g->ocsp_len = resp.n;
  return CH_STEP_MORE;
}

static ch_step unexpected(unsigned type, const char *wanted, ch_fail *f)
{
  ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
              "server sent handshake message %s (%u) where %s was expected",
              hs_name(type), type, wanted);
  return CH_STEP_FAIL;
}

static ch_step message(grab *g, const uint8_t *m, size_t mlen, ch_buf *out,
                       ch_tls_info *info, ch_fail *f)
{
  ch_step st;
  unsigned type = m[0];
  switch(g->ph) {
  case PH_HELLO:
  case PH_HELLO2:
    if(type != HS_SERVER_HELLO)
      return unexpected(type, "ServerHello", f);
    return server_hello(g, m, mlen, out, f);
  case PH12_CERT:
    if(type != HS_CERTIFICATE)
      return unexpected(type, "Certificate (anonymous or PSK cipher suite?)",
                        f);
    if((st = certificate(g, m, mlen, false, f)) != CH_STEP_MORE)
      return st;
    if(!g->status_acked)
      return done(g, out, info);
    g->ph = PH12_STATUS;
    return CH_STEP_MORE;
  case PH12_STATUS: /* only CertificateStatus gets here, see handshake() */
    if((st = cert_status(g, m, mlen, f)) != CH_STEP_MORE)
      return st;
    return done(g, out, info);
  case PH13_EE:
    if(type != HS_ENCRYPTED_EXTENSIONS)
      return unexpected(type, "EncryptedExtensions", f);
    g->ph = PH13_CERT;
    return CH_STEP_MORE;
  case PH13_CERT:
    if(type == HS_CERTIFICATE_REQUEST)
      return CH_STEP_MORE; /* the server wants mTLS; we only look */
    if(type != HS_CERTIFICATE)
      return unexpected(type, "Certificate", f);
    if((st = certificate(g, m, mlen, true, f)) != CH_STEP_MORE)
      return st;
    return done(g, out, info);
  default:
    return fail_malformed(f, "handshake (engine state)");
  }
}

/* Process every complete handshake message buffered in g->hs. */
static ch_step handshake(grab *g, ch_buf *out, ch_tls_info *info, ch_fail *f)
{
  ch_step st = CH_STEP_MORE;
  while(st == CH_STEP_MORE && g->hs.len - g->hs_off >= 4) {
    const uint8_t *m = (const uint8_t *)g->hs.data + g->hs_off;
    size_t len = (size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3];
    /* TLS <= 1.2: CertificateStatus is optional even when acknowledged;
     * any other message after Certificate means there is none. */
    if(g->ph == PH12_STATUS && m[0] != HS_CERTIFICATE_STATUS)
      return done(g, out, info);
    if(len > g->max_bytes) {
      ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                  "server's %s message is %zu bytes, more than the limit of "
                  "%zu",
                  hs_name(m[0]), len, g->max_bytes);
      return CH_STEP_FAIL;
    }
    if(g->hs.len - g->hs_off - 4 < len)
      break;
    g->hs_off += 4 + len;
    phase before = g->ph;
    st = message(g, m, 4 + len, out, info, f);
    /* RFC 8446 5.1: a key change must fall on a record boundary. */
    if(st == CH_STEP_MORE && before != PH13_EE && g->ph == PH13_EE &&
       g->hs_off != g->hs.len)
      return fail_malformed(f, "record (ServerHello shares a record with "
                               "encrypted data)");
  }
  if(st == CH_STEP_MORE && g->hs_off > 0) {
    memmove(g->hs.data, g->hs.data + g->hs_off, g->hs.len - g->hs_off);
    g->hs.len -= g->hs_off;
    g->hs_off = 0;
  }
  return st;
}

static ch_step alert(grab *g, const uint8_t *p, size_t n, ch_fail *f)
{
  if(n == 0 || n % 2)
    return fail_malformed(f, "alert");
  for(size_t i = 0; i < n; i += 2) {
    unsigned level = p[i], desc = p[i + 1];
    /* TLS <= 1.2 servers may warn (unrecognized_name) and go on. */
    if(level == 1 && desc != 0 && g->version < 0x0304 &&
       ++g->warnings <= MAX_WARNINGS)
      continue;
    ch_fail_set(f, CERTHUB_PROBE_TLS_ALERT, "server sent TLS alert %s (%u)",
                ch_tls_alert_name(desc), desc);
    return CH_STEP_FAIL;
  }
  return CH_STEP_MORE;
}

static bool in_tls13(const grab *g)
{
  return g->ph == PH_HELLO2 || g->ph == PH13_EE || g->ph == PH13_CERT;
}

/* A complete record is in g->hdr and g->rec. */
static ch_step record(grab *g, ch_buf *out, ch_tls_info *info, ch_fail *f)
{
  uint8_t type = g->hdr[0];
  size_t len = g->rec_len;
  if(type == CT_APPDATA && g->aead) {
    ch_step st = decrypt(g, &type, &len, f);
    if(st != CH_STEP_MORE)
      return st;
  }
  else if(type == CT_CCS) {
    /* TLS 1.3 middlebox compatibility: a dummy ChangeCipherSpec. */
    if(in_tls13(g) && len == 1 && g->rec[0] == 1)
      return CH_STEP_MORE;
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server sent ChangeCipherSpec before its certificate");
    return CH_STEP_FAIL;
  }
  else if(type == CT_APPDATA) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server sent application data before its certificate");
    return CH_STEP_FAIL;
  }
  else if(type == CT_HANDSHAKE && g->aead) {
    return fail_malformed(f, "record (plaintext handshake after the TLS 1.3 "
                             "ServerHello)");
  }
  if(type == CT_ALERT)
    return alert(g, g->rec, len, f);
  if(type != CT_HANDSHAKE) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server sent an unexpected TLS record (content type %u)",
                type);
    return CH_STEP_FAIL;
  }
  if(len == 0)
    return fail_malformed(f, "record (empty handshake fragment)");
  ch_err rc = ch_buf_add(&g->hs, g->rec, len);
  if(rc == CH_ERR_TOOBIG) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server's handshake exceeds the limit of %zu bytes",
                g->max_bytes);
    return CH_STEP_FAIL;
  }
  if(rc)
    return fail_nomem(f);
  return handshake(g, out, info, f);
}

/* "not a TLS server: it sent "HTTP/1.1 400 Bad..."" from the first bytes. */
static ch_step not_tls(const grab *g, ch_fail *f)
{
  char show[4 * sizeof(g->first) + 4];
  size_t n = 0;
  bool sslv2 = g->first_n >= 3 && (g->first[0] & 0x80) && g->first[2] == 4;
  if(sslv2) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server answered in SSLv2, which is not supported");
    return CH_STEP_FAIL;
  }
  for(size_t i = 0; i < g->first_n; i++) {
    uint8_t c = g->first[i];
    if(c == '\r' || c == '\n')
      n += (size_t)snprintf(show + n, sizeof(show) - n, "\\%c",
                            c == '\r' ? 'r' : 'n');
    else if(c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
      show[n++] = (char)c;
    else
      n += (size_t)snprintf(show + n, sizeof(show) - n, "\\x%02x", c);
  }
  show[n] = '\0';
  ch_fail_set(f, CERTHUB_PROBE_PROTOCOL, "not a TLS server: it sent \"%s%s\"",
              show, g->first_n == sizeof(g->first) ? "..." : "");
  return CH_STEP_FAIL;
}

/* The 5-byte header is in g->hdr: check it. */
static ch_step header(grab *g, ch_fail *f)
{
  uint8_t t = g->hdr[0];
  bool type_ok = t >= CT_CCS && t <= CT_APPDATA;
  g->rec_len = (size_t)g->hdr[3] << 8 | g->hdr[4];
  g->rec_have = 0;
  if(!g->first_record_ok) {
    /* Only an alert or a handshake makes sense as the first record. */
    if((t != CT_ALERT && t != CT_HANDSHAKE) || g->hdr[1] != 3)
      return not_tls(g, f);
    g->first_record_ok = true;
  }
  if(!type_ok || g->hdr[1] != 3) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server sent a malformed TLS record header "
                "(%02x %02x %02x)",
                g->hdr[0], g->hdr[1], g->hdr[2]);
    return CH_STEP_FAIL;
  }
  if(g->rec_len > REC_MAX) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server sent a TLS record of %zu bytes (limit %d)", g->rec_len,
                REC_MAX);
    return CH_STEP_FAIL;
  }
  if(g->rec_len == 0)
    return fail_malformed(f, "record (empty)");
  return CH_STEP_MORE;
}

static ch_step feed(grab *g, const uint8_t *in, size_t len, ch_buf *out,
                    ch_tls_info *info, ch_fail *f)
{
  size_t i = 0;
  ch_step st;
  while(i < len) {
    if(g->hdr_len < 5) {
      size_t n = 5 - g->hdr_len < len - i ? 5 - g->hdr_len : len - i;
      memcpy(g->hdr + g->hdr_len, in + i, n);
      g->hdr_len += n;
      i += n;
      if(!g->first_record_ok) {
        /* Fail early on plainly non-TLS bytes ("220 smtp ready"); an
         * SSLv2 reply needs three bytes to recognise. */
        uint8_t t = g->hdr[0];
        if(t != CT_ALERT && t != CT_HANDSHAKE &&
           (!(t & 0x80) || g->hdr_len >= 3))
          return not_tls(g, f);
      }
      if(g->hdr_len < 5)
        break;
      if((st = header(g, f)) != CH_STEP_MORE)
        return st;
      continue;
    }
    size_t n = g->rec_len - g->rec_have < len - i ? g->rec_len - g->rec_have
                                                  : len - i;
    memcpy(g->rec + g->rec_have, in + i, n);
    g->rec_have += n;
    i += n;
    if(g->rec_have == g->rec_len) {
      g->hdr_len = 0;
      if((st = record(g, out, info, f)) != CH_STEP_MORE)
        return st;
    }
  }
  return CH_STEP_MORE;
}

static ch_step gr_input(void *stv, const uint8_t *in, size_t len, ch_buf *out,
                        ch_tls_info *info, ch_fail *f)
{
  grab *g = stv;
  if(g->ph == PH_DONE) {
    fill_info(g, info);
    return CH_STEP_DONE;
  }
  if(g->ph == PH_FAILED) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR, "TLS engine used after a failure");
    return CH_STEP_FAIL;
  }
  for(size_t i = 0; i < len && g->first_n < sizeof(g->first); i++)
    g->first[g->first_n++] = in[i];
  /* Never read past max_bytes, but finish if the handshake completes
   * within the allowance. */
  size_t allow = g->max_bytes - g->total;
  size_t n = len < allow ? len : allow;
  g->total += n;
  ch_step st = feed(g, in, n, out, info, f);
  if(st == CH_STEP_MORE && n < len) {
    ch_fail_set(f, CERTHUB_PROBE_PROTOCOL,
                "server sent more than %zu bytes without presenting its "
                "certificate",
                g->max_bytes);
    st = CH_STEP_FAIL;
  }
  if(st == CH_STEP_FAIL)
    g->ph = PH_FAILED;
  return st;
}

static void gr_destroy(void *stv)
{
  grab *g = stv;
  if(!g)
    return;
  EVP_PKEY_free(g->key);
  EVP_CIPHER_CTX_free(g->aead);
  OPENSSL_cleanse(g->hs_secret, sizeof(g->hs_secret));
  ch_buf_free(&g->tr);
  ch_buf_free(&g->hs);
  free(g->rec);
  /* The TLS 1.3 staple points into cert_msg; the TLS 1.2 one is a copy. */
  if(g->ocsp && g->version < 0x0304)
    free(g->ocsp);
  free(g->cert_msg);
  free(g->chain);
  free(g->chain_len);
  free(g);
}

static ch_err gr_create(const ch_tls_params *p, void **st, ch_buf *out,
                        ch_fail *f)
{
  ch_err rc = CH_OK;
  grab *g = NULL;
  *st = NULL;
  if(!CRYPTO_THREAD_run_once(&algs_once, algs_init) || !algs_ok) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR,
                "TLS engine: OpenSSL lacks SHA-256/384, HMAC, AES-GCM or "
                "X25519");
    return CH_ERR_UNSUPPORTED;
  }
  if(!(g = calloc(1, sizeof(*g)))) {
    fail_nomem(f);
    return CH_ERR_NOMEM;
  }
  g->max_ver = p->max_version ? p->max_version : 0x0304;
  g->min_ver = p->min_version ? p->min_version : 0x0301;
  if(g->max_ver > 0x0304)
    g->max_ver = 0x0304;
  if(g->min_ver < 0x0301)
    g->min_ver = 0x0301;
  g->max_chain = p->max_chain ? p->max_chain : DEFAULT_MAX_CHAIN;
  g->max_bytes = p->max_bytes ? p->max_bytes : DEFAULT_MAX_BYTES;
  ch_buf_init(&g->tr, TR_CAP);
  ch_buf_init(&g->hs, g->max_bytes);
  if(g->min_ver > g->max_ver) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR,
                "TLS engine: minimum version 0x%04x above maximum 0x%04x",
                g->min_ver, g->max_ver);
    rc = CH_ERR_USAGE;
    goto out;
  }
  if(p->sni && *p->sni) {
    size_t n = strlen(p->sni);
    if(p->sni[n - 1] == '.') /* servers reject the absolute form */
      n--;
    if(n >= sizeof(g->sni)) {
      ch_fail_set(f, CERTHUB_PROBE_ERROR, "server name too long for SNI");
      rc = CH_ERR_USAGE;
      goto out;
    }
    memcpy(g->sni, p->sni, n);
  }
  if(!(g->rec = malloc(REC_MAX))) {
    fail_nomem(f);
    rc = CH_ERR_NOMEM;
    goto out;
  }
  if(RAND_bytes(g->random, 32) != 1 || RAND_bytes(g->session_id, 32) != 1) {
    ch_fail_set(f, CERTHUB_PROBE_ERROR, "TLS engine: no random bytes");
    rc = CH_ERR_INTERNAL;
    goto out;
  }
  if(g->max_ver >= 0x0304) {
    g->key_group = &groups[0];
    if(!(g->key = x25519_share())) {
      fail_crypto(f, "X25519 key generation");
      rc = CH_ERR_INTERNAL;
      goto out;
    }
  }
  if(client_hello(g, NULL, 0, out, f) != CH_STEP_MORE) {
    rc = CH_ERR_INTERNAL; /* f says what: memory, OpenSSL */
    goto out;
  }
out:
  if(rc) {
    gr_destroy(g);
    return rc;
  }
  *st = g;
  return CH_OK;
}

const ch_tls_engine_ops ch_tls_grab = {
    .name = "grab",
    .create = gr_create,
    .input = gr_input,
    .destroy = gr_destroy,
};
