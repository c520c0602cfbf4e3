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
#include "jwt_sign.h"

#define NOW 1900000000
#define SURL "https://smba.trafficmanager.net/amer/"

static EVP_PKEY *key_a, *key_b;

/* Two RSA keys made for this test only (openssl genpkey, 2048 bits): generating keys at
 * run time is too slow under valgrind. */
static EVP_PKEY *
rsa_key(const char *pem)
{
    EVP_PKEY *k = jwt_rsa_key(pem);

    ck_assert_ptr_nonnull(k);
    return k;
}

/* A JWKS with @k under kid "k1", endorsing @endorse (NULL: no endorsements member). */
static void
jwks_of(EVP_PKEY *k, const char *endorse, struct teams_jwks *out)
{
    char json[2048];

    ck_assert_int_eq(jwt_jwks_json(k, "k1", endorse, json, sizeof(json)), 0);
    ck_assert_int_eq(teams_jwks_parse(json, strlen(json), out), 0);
    ck_assert_uint_eq(out->n, 1);
}

/* A compact JWS of @header and @claims signed RS256 with @k. */
static char *
sign(EVP_PKEY *k, const char *header, const char *claims)
{
    char *out = jwt_sign(k, header, claims);

    ck_assert_ptr_nonnull(out);
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
    key_a = rsa_key(jwt_key_a_pem);
    key_b = rsa_key(jwt_key_b_pem);
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
    jwt_b64url((const unsigned char *)"{\"alg\":\"none\",\"kid\":\"k1\"}", 25, h64);
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
