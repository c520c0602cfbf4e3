/* chat-teams' token checks (plugins/chat-teams/teams_jwt.c) against tokens this test signs
 * itself with OpenSSL: the good one passes; a tampered payload, another key under the
 * same kid, `alg: none`/HS256, an unknown kid, the wrong issuer or audience, expiry and
 * nbf beyond the skew (and within it), a key that does not endorse the channel, and a
 * serviceurl claim that differs from the activity's are each refused with their reason.
 * Also base64url strictness and the mention removal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <agent-broker/errors.h>

#include "teams.h"
#include "teams_jwt.h"
#include "../unit/support/check_runner.h"

#define NOW 1900000000
#define SURL "https://smba.trafficmanager.net/amer/"

static EVP_PKEY *key_a, *key_b;

/* Two RSA keys made for this test only (openssl genpkey, 2048 bits): generating keys at
 * run time is too slow under valgrind. */
static const char key_a_pem[] = "-----BEGIN PRIVATE KEY-----\n"
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

static const char key_b_pem[] = "-----BEGIN PRIVATE KEY-----\n"
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

/* base64url without padding. */
static void
b64url(const unsigned char *in, size_t n, char *out)
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

static EVP_PKEY *
rsa_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);

    BIO_free(b);
    ck_assert_ptr_nonnull(k);
    return k;
}

/* A JWKS with @k under kid "k1", endorsing @endorse (NULL: no endorsements member). */
static void
jwks_of(EVP_PKEY *k, const char *endorse, struct teams_jwks *out)
{
    BIGNUM *n = NULL, *e = NULL;
    unsigned char nb[512], eb[8];
    char n64[800], e64[16], json[2048];
    int nl, el;

    ck_assert(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n));
    ck_assert(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e));
    nl = BN_bn2bin(n, nb);
    el = BN_bn2bin(e, eb);
    b64url(nb, (size_t)nl, n64);
    b64url(eb, (size_t)el, e64);
    snprintf(json, sizeof(json),
             "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"ec\"},{\"kty\":\"RSA\",\"use\":\"sig\","
             "\"kid\":\"k1\",\"n\":\"%s\",\"e\":\"%s\"%s%s%s}]}",
             n64, e64, endorse ? ",\"endorsements\":[\"" : "", endorse ? endorse : "",
             endorse ? "\"]" : "");
    ck_assert_int_eq(teams_jwks_parse(json, strlen(json), out), 0);
    ck_assert_uint_eq(out->n, 1);
    BN_free(n);
    BN_free(e);
}

/* A compact JWS of @header and @claims signed RS256 with @k. */
static char *
sign(EVP_PKEY *k, const char *header, const char *claims)
{
    char h64[512], c64[2048], *out = malloc(8192);
    unsigned char sig[512];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *m = EVP_MD_CTX_new();

    b64url((const unsigned char *)header, strlen(header), h64);
    b64url((const unsigned char *)claims, strlen(claims), c64);
    snprintf(out, 8192, "%s.%s", h64, c64);
    ck_assert(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k) == 1);
    ck_assert(EVP_DigestSign(m, sig, &siglen, (unsigned char *)out, strlen(out)) == 1);
    EVP_MD_CTX_free(m);
    strcat(out, ".");
    b64url(sig, siglen, out + strlen(out));
    return out;
}

static char *
claims_token(EVP_PKEY *k, const char *iss, const char *aud, long exp, long nbf, const char *surl)
{
    char c[1024];

    snprintf(c, sizeof(c),
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%ld,\"nbf\":%ld,\"serviceurl\":\"%s\"}", iss,
             aud, exp, nbf, surl);
    return sign(k, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}", c);
}

static const struct teams_jwt_expect expect = {
    .issuer = "https://api.botframework.com",
    .audience = "app-1",
    .channel_id = "msteams",
    .service_url = SURL,
    .now_s = NOW,
    .skew_s = 300,
};

/* Verify @tok (freed) against @ks; return the code and put the reason in @why. */
static int
check(char *tok, const struct teams_jwks *ks, const struct teams_jwt_expect *e, const char **why)
{
    int rc = teams_jwt_verify(tok, ks, e, why);

    free(tok);
    return rc;
}

static void
setup(void)
{
    key_a = rsa_key(key_a_pem);
    key_b = rsa_key(key_b_pem);
}

static void
teardown(void)
{
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
}

START_TEST(a_good_token_passes_and_each_fault_is_refused_with_its_reason)
{
    struct teams_jwks ks;
    const char *why = "";
    const char *iss = expect.issuer;

    jwks_of(key_a, "msteams", &ks);
    ck_assert_int_eq(
        check(claims_token(key_a, iss, "app-1", NOW + 600, NOW - 10, SURL), &ks, &expect, &why), 0);
    /* a trailing '/' on one side only is the same service URL */
    ck_assert_int_eq(check(claims_token(key_a, iss, "app-1", NOW + 600, NOW - 10,
                                        "https://smba.trafficmanager.net/amer"),
                           &ks, &expect, &why),
                     0);
    /* within the skew: expired 200 s ago, valid from 200 s on */
    ck_assert_int_eq(
        check(claims_token(key_a, iss, "app-1", NOW - 200, NOW - 900, SURL), &ks, &expect, &why),
        0);
    ck_assert_int_eq(
        check(claims_token(key_a, iss, "app-1", NOW + 900, NOW + 200, SURL), &ks, &expect, &why),
        0);
    ck_assert_int_eq(
        check(claims_token(key_a, iss, "app-1", NOW - 400, NOW - 900, SURL), &ks, &expect, &why),
        AB_EAUTH);
    ck_assert_str_eq(why, "expired");
    ck_assert_int_eq(
        check(claims_token(key_a, iss, "app-1", NOW + 900, NOW + 400, SURL), &ks, &expect, &why),
        AB_EAUTH);
    ck_assert_str_eq(why, "not valid yet");
    ck_assert_int_eq(
        check(claims_token(key_a, iss, "app-2", NOW + 600, NOW, SURL), &ks, &expect, &why),
        AB_EAUTH);
    ck_assert_str_eq(why, "wrong audience");
    ck_assert_int_eq(
        check(claims_token(key_a, "https://sts.windows.net/x/", "app-1", NOW + 600, NOW, SURL), &ks,
              &expect, &why),
        AB_EAUTH);
    ck_assert_str_eq(why, "wrong issuer");
    ck_assert_int_eq(
        check(claims_token(key_a, iss, "app-1", NOW + 600, NOW, "https://evil.example/"), &ks,
              &expect, &why),
        AB_EAUTH);
    ck_assert_str_eq(why, "serviceurl claim does not match the activity");
    /* another key under the known kid */
    ck_assert_int_eq(
        check(claims_token(key_b, iss, "app-1", NOW + 600, NOW, SURL), &ks, &expect, &why),
        AB_EAUTH);
    ck_assert_str_eq(why, "bad signature");
    teams_jwks_free(&ks);
}
END_TEST

START_TEST(tampering_algorithms_kids_and_endorsements)
{
    struct teams_jwks ks, other;
    const char *why = "";
    char *tok = claims_token(key_a, expect.issuer, "app-1", NOW + 600, NOW, SURL);
    char *dot = strchr(tok, '.');
    struct teams_jwt_expect e = expect;
    char none[1024], h64[128];

    jwks_of(key_a, "msteams", &ks);
    /* flip one payload character: the signature no longer holds */
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(teams_jwt_verify(tok, &ks, &expect, &why), AB_EAUTH);
    free(tok);
    /* alg none / HS256 are never accepted */
    b64url((const unsigned char *)"{\"alg\":\"none\",\"kid\":\"k1\"}", 25, h64);
    snprintf(none, sizeof(none), "%s.eyJpc3MiOiJ4In0.", h64);
    ck_assert_int_eq(teams_jwt_verify(none, &ks, &expect, &why), AB_EAUTH);
    ck_assert_str_eq(why, "signing algorithm not accepted");
    tok = sign(key_a, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", "{}");
    ck_assert_int_eq(check(tok, &ks, &expect, &why), AB_EAUTH);
    /* an unknown kid asks for the keys again */
    tok = sign(key_a, "{\"alg\":\"RS256\",\"kid\":\"k9\"}", "{}");
    ck_assert_int_eq(check(tok, &ks, &expect, &why), AB_ENOENT);
    /* a key endorsing another channel */
    jwks_of(key_a, "skype", &other);
    ck_assert_int_eq(
        check(claims_token(key_a, expect.issuer, "app-1", NOW + 600, NOW, SURL), &other, &e, &why),
        AB_EAUTH);
    ck_assert_str_eq(why, "the signing key does not endorse this channel");
    teams_jwks_free(&other);
    /* malformed shapes */
    ck_assert_int_eq(teams_jwt_verify("a.b", &ks, &expect, &why), AB_EAUTH);
    ck_assert_int_eq(teams_jwt_verify("a.b.c.d", &ks, &expect, &why), AB_EAUTH);
    ck_assert_int_eq(teams_jwt_verify("", &ks, &expect, &why), AB_EAUTH);
    teams_jwks_free(&ks);
}
END_TEST

START_TEST(base64url_is_strict)
{
    unsigned char out[16];

    ck_assert_int_eq(teams_b64url_decode("aGk", 3, out, sizeof(out)), 2);
    ck_assert(!memcmp(out, "hi", 2));
    ck_assert_int_eq(teams_b64url_decode("aGk=", 4, out, sizeof(out)), 2);
    ck_assert_int_eq(teams_b64url_decode("a+k", 3, out, sizeof(out)), AB_EINVAL); /* not url */
    ck_assert_int_eq(teams_b64url_decode("aGl", 3, out, sizeof(out)), AB_EINVAL); /* stray bits */
    ck_assert_int_eq(teams_b64url_decode("a", 1, out, sizeof(out)), AB_EINVAL);
    ck_assert_int_eq(teams_b64url_decode("aGVsbG8gd29ybGQhISE", 19, out, 4), AB_EINVAL);
}
END_TEST

START_TEST(the_bots_own_mention_is_removed_and_others_kept)
{
    const char *ents =
        "[{\"type\":\"mention\",\"mentioned\":{\"id\":\"28:bot\"},\"text\":\"<at>Broker</at>\"},"
        "{\"type\":\"mention\",\"mentioned\":{\"id\":\"29:bob\"},\"text\":\"<at>Bob</at>\"},"
        "{\"type\":\"clientInfo\",\"locale\":\"en-US\"}]";
    cJSON *e = cJSON_Parse(ents);
    char *s = teams_strip_mention("<at>Broker</at> ask <at>Bob</at> about it  ", e, "28:bot");

    ck_assert_str_eq(s, "ask <at>Bob</at> about it");
    free(s);
    s = teams_strip_mention("no entity for <at>Broker</at>", NULL, "28:bot");
    ck_assert_str_eq(s, "no entity for <at>Broker</at>"); /* names in text are not trusted */
    free(s);
    cJSON_Delete(e);
}
END_TEST

int
main(void)
{
    TCase *tc = tcase_create("jwt");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 100);
    tcase_add_test(tc, a_good_token_passes_and_each_fault_is_refused_with_its_reason);
    tcase_add_test(tc, tampering_algorithms_kids_and_endorsements);
    tcase_add_test(tc, base64url_is_strict);
    tcase_add_test(tc, the_bots_own_mention_is_removed_and_others_kept);
    return check_run_case("teams-jwt", tc);
}
