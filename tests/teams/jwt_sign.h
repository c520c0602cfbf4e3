/* Tokens signed for tests of chat-teams' JWT checks (tests/teams/test_jwt.c, the
 * fuzz targets teams and teams_jwt): two RSA keys made for tests only (openssl genpkey,
 * 2048 bits: generating keys at run time is too slow under valgrind), a JWKS naming one,
 * and compact JWS tokens signed RS256 with it. Header-only; needs libcrypto. */
#ifndef AB_TEST_TEAMS_JWT_SIGN_H
#define AB_TEST_TEAMS_JWT_SIGN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static const char jwt_key_a_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC/rgaABxR/DqrK\n"
    "qfeGSbkUEmzpnYXVC7fM1VZi1qOIDcI8nsJsnIyrpF4bfqlHDlQgKgKH6/O7ru97\n"
    "nVUQjqv4Pe73seLutFTuAPHNqlPkrhqG+f+NofHRyixdMavKQKO3q4lkDWm1UkAV\n"
    "zr8zkPWR9MuS5UX69+VudVyAwijQ3QyFokTJvFwhlkedtQ0Gt7vz2ZvcqT9NAoq+\n"
    "GoL97fLqIkpFqL2fYcQ6YX7ObnDHYP6IU6znWKES6Sq3xICvN/lURVsnoR0Ykmbw\n"
    "RK5u+0PjXIQcoCSnj46pLY330SfLQ7gO5/GVRKnam3Z3eaEvGqWA3uGJ0cfkz4Zx\n"
    "kZiEul5pAgMBAAECggEAJbP6bVZ3LqLY73JNUOnRcORK7gzhFU3vwme4TUrA8fMa\n"
    "4MetoKWOefij1i6s52AnJgh9ZPUBhUpcqukAoXge1X6BMdGYvLFV/1bKOVUmmVWx\n"
    "vBkSrm5LXaOx5Ebv7qGWUnt4U+jbgSIDnwaCz4bU9ve6z1Mv17TJOVf2cRE/7A0n\n"
    "0rRN0cab+v+cSrMplf27leXN/6mSSgb+FPhbz1/tcmbeHjgiKG8Nskd6O/W6nm8d\n"
    "lAhG++6A2E0fqAGyr8MIohTOVuMYyivSTvA016LUhRmOW5Qj9FlTLeHY8icPIOvJ\n"
    "fiMunzIioXezcWJnpGFJYTPuGR6aM0cWJCBoA0XrXQKBgQDe7mfUj4549/VdnneC\n"
    "ROH8Fajv7pguCyoFx+Ng+CEjyg/q04OQyPcGhcb/oRhahv3HsZuGhMcIQVTUNjeG\n"
    "bMja8OBuJZhf9tLi8EsKJtEkJx/vFO43z7j+1kK97nme2fwxSBmoGbiQoCipzjyA\n"
    "ZetltmfQCREjpxunDFunHzDaFwKBgQDcHOAmWdNgLoCJ1aCNakp87mMddBo0E+MK\n"
    "2cTPYCSbw4sVkcFln10279vXika5fNzoptKfFTBpjv5TRDg56vERI+CEy4NVbHwL\n"
    "szDVb4Lo3eVVUf8va4XJF7UoVCt7hLFs4dcRxWgyfyIsqCtfrtpqxobjzouhzP+G\n"
    "wt+2lMhbfwKBgQCJwwPQ3CGr6XbsMoghrVWFRRFPq77I/UcrqVl+y/cWucBaWfj8\n"
    "mOPmWPcfczqsfq0HIV89ooGoPU8hkJuBa2o3uhDGoF7oNowdh2an0FL/p1nZkbKg\n"
    "NLJacKdv3ZW0r3pkLe0E71gZr49RV8wVgGYWRcEjUucPhC3XbhCZVvIGYwKBgG70\n"
    "b1lltlOpnUnd0gz3I41ObdAPEpZl3/E8TSVsBYgvThEVZDPh3Y8v4dYI8hXWh1UP\n"
    "ouRmPf04A6Pdo6oucE5/k1HddNq+0Njk/xzYFVllYZFcwBIbVVlFBiDKLREaloWY\n"
    "Yl2m8RtjUsrICvU0ow1n/d8f4usw9y3rVfInlcfpAoGAbe25scMRToNZYEVjWaG4\n"
    "SW9i14Kym9JStaGt7lqcwi70U6lIhAfNagmaDh1rkPkUaSLTwr+DIxmqa6tVxIKP\n"
    "GdPbip/WB8vrOpdrwnyN+SyrrHBkj8LEAYqwvKsfIrnyBaq1wceuOoj9bwfYGHQ4\n"
    "Sk0zYHpiokDkJbqH2Nt1Yu8=\n"
    "-----END PRIVATE KEY-----\n";

static const char jwt_key_b_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCj+CFYXmBUtAbi\n"
    "6arl3mO/X3Jq+4cXHMs6FdG5BHBAC+CNKkLA9cKE9JYP7GqFv5PwUqsjVuyWOzSn\n"
    "SywD6AYMuh6mZv0L9QNsiX2YFt1nyrtYsklE6Rp1M1wCKTmJF9KiTbw31QjGQ+lj\n"
    "gL0oLiggIu4kcG3mhOCGbOH2PCriymPfHcWR6B/FjG2EDemO6xwc82v2y01/4B0V\n"
    "56wcxd6q2TZ/vH5NGas/Vb0R6wvRF0ywcjpzJ9rVdBMOubZVntQ1H40VA2WBInst\n"
    "qWAWP9OQzrFyWYx2a1KPmqh/GsXl3Je6XvdkWn4WrnElfpdsXQUtOWaxzxO8pV3N\n"
    "xkHVG9YFAgMBAAECggEASOhZR1Y7hh5AW6Ajxa8zchIKKaiqwiui77Jo/NgM42WE\n"
    "lLBAW1VLh1vL58uq98qeCMNxZjbN3uT3fhWOPjRqkDknzLzJcoog2h9ucXRlQTPj\n"
    "RsaLjrEJeyh5llpnQ16M4W8oLDk0/BeRTJWfRiDz5YoykpBNRa06unrqpFbPiORX\n"
    "himrTGvrnlFclBKPfpQSBvqv93T0z2fcffXtmh6R5XLmSo9aT/MNdEA82xcLyJ9/\n"
    "hRBytsH1tDGRZTpTd4y57zpcz9ADkRb63LX3fGhL9BIjFVhurrslSM5Ez7et5ZiC\n"
    "7Bj6+SUMhFEKhFLDOkajiP/uj8ZxyUWKcBTtrH0PRwKBgQDcF/XVSBkbXYsDvQmh\n"
    "st5806Rj/jdSR+yy50Gg8kZzI37FUoMI/U8F6AQtttsvmNpJn774H3wsKevbovMK\n"
    "PNRTPyB0WV0dRjIj8zcFwQ7Hr6+JBlfy/urt0ORi9bjYYSj5j7ff+mA1v0v9pPL6\n"
    "PbVpnsTChXkorCZw1j9ibkjBQwKBgQC+uC4kJUCTk/8oBsb3DJ8Csn+rfoLE5Kd0\n"
    "uc749WiHz9uej3mSjeujjPiwkspl7YcrZHB6L0Jzg8XolgM0KQ8niv8lA0991wWe\n"
    "VSZ4cc5rDHh6cGTsN0V2pRcKwrR0DMBwfgg/slS39e1qBjdBXp9DdqKkvy1f8oFY\n"
    "FgVV0fOTFwKBgQC1I/st6ELRpPFuyDyPGpnGfqGDsoxxacTDkVUQU5Xr2UDSwhAa\n"
    "a/CH2ebmgOJwkArIIXOY3sDh0DbP85K30EynnwLk/0+Fcmp98ARO9g9mBZAg5Fmq\n"
    "ImfUBuKRF89kNsL0cnZRHs3kLmcqgIGBtxwBq6wgtJ18/gI9R/eu2TmD5QKBgC+z\n"
    "Et85bfA7GJrjLwoE3xQmnqW+q2ghI/yeqDQ99JnbE7uReL99vUyXam+HFxXtFVx1\n"
    "72evwDfx4iKsujpmdoLWUb/pFw2LJL2X4FpJZG4DnXJKAAPQQxBMc/nd/pHzyoGY\n"
    "E+oSaPvlhy54RYOU7dJKrpzzr56KoWztfQIc04WbAoGBAJa8YnYdjDwKZzmZWj2c\n"
    "3n4XMd63bJpU//c91K2s3litxhWQI/OXDcrmt9Hqb54WoRxLbrkE93l1Z0EBZQ/u\n"
    "gz92GIj8XqONqdKj++S9eGqU+6Fp/tkAusL+THhdqzmmcDfud1hib5ol/WEIkWYN\n"
    "UFQdG2z57vkOqIdbEhG4UWFs\n"
    "-----END PRIVATE KEY-----\n";

/* base64url of @in[0..n) without padding into @out (room for 4 * n / 3 + 4 bytes). */
static inline void
jwt_b64url(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = a[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
}

/* The private key in @pem (lent), or NULL. */
static inline EVP_PKEY *
jwt_rsa_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

    BIO_free(b);
    return k;
}

/* A JWKS document with @k's public half under kid @kid (after an EC key to skip),
 * endorsing @endorse (NULL: no endorsements member), into @json (@cap bytes). Returns 0
 * or -1. */
static inline int
jwt_jwks_json(EVP_PKEY *k, const char *kid, const char *endorse, char *json, size_t cap)
{
    BIGNUM *n = NULL, *e = NULL;
    unsigned char nb[512], eb[8];
    char n64[800], e64[16];
    int nl, el, rc = -1;

    if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n) &&
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e) && BN_num_bytes(n) <= 512 &&
        BN_num_bytes(e) <= 8) {
        nl = BN_bn2bin(n, nb);
        el = BN_bn2bin(e, eb);
        jwt_b64url(nb, (size_t)nl, n64);
        jwt_b64url(eb, (size_t)el, e64);
        rc = (size_t)snprintf(json, cap,
                              "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"ec\"},{\"kty\":\"RSA\","
                              "\"use\":\"sig\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s%s%s}]}",
                              kid, n64, e64, endorse ? ",\"endorsements\":[\"" : "",
                              endorse ? endorse : "", endorse ? "\"]" : "") < cap
                 ? 0
                 : -1;
    }
    BN_free(n);
    BN_free(e);
    return rc;
}

/* A compact JWS of @header and @claims (lent, any bytes up to NUL) signed RS256 with
 * @k: malloc'd, or NULL. */
static inline char *
jwt_sign(EVP_PKEY *k, const char *header, const char *claims)
{
    size_t hl = strlen(header), cl = strlen(claims), cap = (hl + cl) * 4 / 3 + 1024;
    char *out = malloc(cap);
    unsigned char sig[512];
    size_t siglen = sizeof(sig), at;
    EVP_MD_CTX *m = EVP_MD_CTX_new();

    if (!out || !m)
        goto fail;
    jwt_b64url((const unsigned char *)header, hl, out);
    at = strlen(out);
    out[at++] = '.';
    jwt_b64url((const unsigned char *)claims, cl, out + at);
    if (EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k) != 1 ||
        EVP_DigestSign(m, sig, &siglen, (unsigned char *)out, strlen(out)) != 1)
        goto fail;
    EVP_MD_CTX_free(m);
    at = strlen(out);
    out[at++] = '.';
    jwt_b64url(sig, siglen, out + at);
    return out;

fail:
    EVP_MD_CTX_free(m);
    free(out);
    return NULL;
}

#endif
