/* OID tables: signature algorithms named as OpenSSL's long names, key
 * algorithms, named curves, EKU purposes and RFC 4514 attribute types. */
#include <string.h>

#include "x509_int.h"

#define E(l, d, n)                                                            \
  {                                                                           \
    l, d, n, 0                                                                \
  }
#define C(l, d, n, b)                                                         \
  {                                                                           \
    l, d, n, b                                                                \
  }

const ch_oid_name ch_x509_sig_algs[] = {
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b", "sha256WithRSAEncryption"),
    E(8, "\x2a\x86\x48\xce\x3d\x04\x03\x02", "ecdsa-with-SHA256"),
    E(8, "\x2a\x86\x48\xce\x3d\x04\x03\x03", "ecdsa-with-SHA384"),
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c", "sha384WithRSAEncryption"),
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0d", "sha512WithRSAEncryption"),
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x05", "sha1WithRSAEncryption"),
    E(3, "\x2b\x65\x70", "ED25519"),
    E(3, "\x2b\x65\x71", "ED448"),
    /* OpenSSL's long name is "rsassaPss"; we use its short name, which is
     * what people search for. */
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a", "RSASSA-PSS"),
    E(8, "\x2a\x86\x48\xce\x3d\x04\x03\x04", "ecdsa-with-SHA512"),
    E(8, "\x2a\x86\x48\xce\x3d\x04\x03\x01", "ecdsa-with-SHA224"),
    E(7, "\x2a\x86\x48\xce\x3d\x04\x01", "ecdsa-with-SHA1"),
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0e", "sha224WithRSAEncryption"),
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x04", "md5WithRSAEncryption"),
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x02", "md2WithRSAEncryption"),
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0f",
      "sha512-224WithRSAEncryption"),
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x10",
      "sha512-256WithRSAEncryption"),
    E(9, "\x60\x86\x48\x01\x65\x03\x04\x03\x0d", "RSA-SHA3-224"),
    E(9, "\x60\x86\x48\x01\x65\x03\x04\x03\x0e", "RSA-SHA3-256"),
    E(9, "\x60\x86\x48\x01\x65\x03\x04\x03\x0f", "RSA-SHA3-384"),
    E(9, "\x60\x86\x48\x01\x65\x03\x04\x03\x10", "RSA-SHA3-512"),
    E(9, "\x60\x86\x48\x01\x65\x03\x04\x03\x09", "ecdsa_with_SHA3-224"),
    E(9, "\x60\x86\x48\x01\x65\x03\x04\x03\x0a", "ecdsa_with_SHA3-256"),
    E(9, "\x60\x86\x48\x01\x65\x03\x04\x03\x0b", "ecdsa_with_SHA3-384"),
    E(9, "\x60\x86\x48\x01\x65\x03\x04\x03\x0c", "ecdsa_with_SHA3-512"),
    E(7, "\x2a\x86\x48\xce\x38\x04\x03", "dsaWithSHA1"),
    E(9, "\x60\x86\x48\x01\x65\x03\x04\x03\x01", "dsa_with_SHA224"),
    E(9, "\x60\x86\x48\x01\x65\x03\x04\x03\x02", "dsa_with_SHA256"),
    E(8, "\x2a\x81\x1c\xcf\x55\x01\x83\x75", "SM2-with-SM3"),
    E(5, "\x2b\x0e\x03\x02\x1d", "sha1WithRSA"),
};
const size_t ch_x509_n_sig_algs = CH_ARRAY_LEN(ch_x509_sig_algs);

const ch_oid_name ch_x509_key_algs[] = {
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", "RSA"),
    E(7, "\x2a\x86\x48\xce\x3d\x02\x01", "EC"),
    C(3, "\x2b\x65\x70", "Ed25519", 256),
    C(3, "\x2b\x65\x71", "Ed448", 456),
    C(3, "\x2b\x65\x6e", "X25519", 253),
    C(3, "\x2b\x65\x6f", "X448", 448),
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a", "RSA-PSS"),
    E(7, "\x2a\x86\x48\xce\x38\x04\x01", "DSA"),
};
const size_t ch_x509_n_key_algs = CH_ARRAY_LEN(ch_x509_key_algs);

const ch_oid_name ch_x509_curves[] = {
    C(8, "\x2a\x86\x48\xce\x3d\x03\x01\x07", "P-256", 256),
    C(5, "\x2b\x81\x04\x00\x22", "P-384", 384),
    C(5, "\x2b\x81\x04\x00\x23", "P-521", 521),
    C(5, "\x2b\x81\x04\x00\x21", "P-224", 224),
    C(8, "\x2a\x86\x48\xce\x3d\x03\x01\x01", "P-192", 192),
    C(5, "\x2b\x81\x04\x00\x0a", "secp256k1", 256),
    C(9, "\x2b\x24\x03\x03\x02\x08\x01\x01\x01", "brainpoolP160r1", 160),
    C(9, "\x2b\x24\x03\x03\x02\x08\x01\x01\x03", "brainpoolP192r1", 192),
    C(9, "\x2b\x24\x03\x03\x02\x08\x01\x01\x05", "brainpoolP224r1", 224),
    C(9, "\x2b\x24\x03\x03\x02\x08\x01\x01\x07", "brainpoolP256r1", 256),
    C(9, "\x2b\x24\x03\x03\x02\x08\x01\x01\x09", "brainpoolP320r1", 320),
    C(9, "\x2b\x24\x03\x03\x02\x08\x01\x01\x0b", "brainpoolP384r1", 384),
    C(9, "\x2b\x24\x03\x03\x02\x08\x01\x01\x0d", "brainpoolP512r1", 512),
    C(8, "\x2a\x81\x1c\xcf\x55\x01\x82\x2d", "SM2", 256),
};
const size_t ch_x509_n_curves = CH_ARRAY_LEN(ch_x509_curves);

const ch_oid_name ch_x509_ekus[] = {
    E(8, "\x2b\x06\x01\x05\x05\x07\x03\x01", "serverAuth"),
    E(8, "\x2b\x06\x01\x05\x05\x07\x03\x02", "clientAuth"),
    E(8, "\x2b\x06\x01\x05\x05\x07\x03\x03", "codeSigning"),
    E(8, "\x2b\x06\x01\x05\x05\x07\x03\x04", "emailProtection"),
    E(8, "\x2b\x06\x01\x05\x05\x07\x03\x05", "ipsecEndSystem"),
    E(8, "\x2b\x06\x01\x05\x05\x07\x03\x06", "ipsecTunnel"),
    E(8, "\x2b\x06\x01\x05\x05\x07\x03\x07", "ipsecUser"),
    E(8, "\x2b\x06\x01\x05\x05\x07\x03\x08", "timeStamping"),
    E(8, "\x2b\x06\x01\x05\x05\x07\x03\x09", "OCSPSigning"),
    E(8, "\x2b\x06\x01\x05\x05\x07\x03\x11", "ipsecIKE"),
    E(4, "\x55\x1d\x25\x00", "anyExtendedKeyUsage"),
    E(10, "\x2b\x06\x01\x04\x01\x82\x37\x14\x02\x02", "msSmartcardLogin"),
    E(10, "\x2b\x06\x01\x04\x01\x82\x37\x0a\x03\x04", "msEFS"),
    E(10, "\x2b\x06\x01\x04\x01\x82\x37\x02\x01\x15", "msCodeInd"),
    E(10, "\x2b\x06\x01\x04\x01\x82\x37\x02\x01\x16", "msCodeCom"),
};
const size_t ch_x509_n_ekus = CH_ARRAY_LEN(ch_x509_ekus);

const ch_oid_name ch_x509_name_attrs[] = {
    E(3, "\x55\x04\x03", "CN"),
    E(3, "\x55\x04\x0a", "O"),
    E(3, "\x55\x04\x0b", "OU"),
    E(3, "\x55\x04\x06", "C"),
    E(3, "\x55\x04\x08", "ST"),
    E(3, "\x55\x04\x07", "L"),
    E(3, "\x55\x04\x09", "STREET"),
    E(10, "\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x19", "DC"),
    E(10, "\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x01", "UID"),
    E(9, "\x2a\x86\x48\x86\xf7\x0d\x01\x09\x01", "emailAddress"),
};
const size_t ch_x509_n_name_attrs = CH_ARRAY_LEN(ch_x509_name_attrs);

const ch_oid_name *ch_x509_oid_find(const ch_oid_name *table, size_t n,
                                    const ch_der_tlv *t)
{
  for(size_t i = 0; i < n; i++) {
    if(table[i].len == t->len && memcmp(table[i].der, t->val, t->len) == 0)
      return &table[i];
  }
  return NULL;
}

const char *ch_x509_oid_name(struct ch_arena *a, const ch_oid_name *table,
                             size_t n, const ch_der_tlv *t, ch_err *rc)
{
  const ch_oid_name *e = ch_x509_oid_find(table, n, t);
  if(e)
    return e->name;
  char buf[256];
  *rc = ch_der_oid_text(t->val, t->len, buf, sizeof(buf));
  if(*rc)
    return NULL;
  const char *s = ch_arena_strdup(a, buf);
  if(!s)
    *rc = CH_ERR_TOOBIG;
  return s;
}
