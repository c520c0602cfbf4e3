/* chat-teams: JWKS parsing and JWT checks with OpenSSL's libcrypto. */
#include "teams_jwt.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include <agent-broker/errors.h>

#define TEAMS_JWT_MIN_RSA_BITS 2048

/* Decode base64url (RFC 4648 §5), padding optional. */
int
teams_b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t acc = 0;
    size_t bits = 0, n = 0;

    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return AB_EINVAL;
    for (size_t i = 0; i < len; i++) {
        const char *p = in[i] ? strchr(alphabet, in[i]) : NULL;
        if (!p)
            return AB_EINVAL;
        acc = (acc << 6) | (uint32_t)(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return AB_EINVAL;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    /* the leftover bits must be zero: one encoding per value */
    if (bits && (acc & ((1u << bits) - 1)))
        return AB_EINVAL;
    return (int)n;
}

/* A big number from a base64url member of @jwk, or NULL. */
static BIGNUM *
teams_jwk_bn(const cJSON *jwk, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(jwk, name);
    unsigned char buf[1024];
    int n;

    if (!cJSON_IsString(v) ||
        (n = teams_b64url_decode(v->valuestring, strlen(v->valuestring), buf, sizeof(buf))) <= 0)
        return NULL;
    return BN_bin2bn(buf, n, NULL);
}

/* An RSA public key from n and e. */
static EVP_PKEY *
teams_jwk_rsa(const cJSON *jwk)
{
    BIGNUM *n = teams_jwk_bn(jwk, "n"), *e = teams_jwk_bn(jwk, "e");
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;

    if (!n || !e || !(bld = OSSL_PARAM_BLD_new()) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
        EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        key = NULL;
    if (key && EVP_PKEY_get_bits(key) < TEAMS_JWT_MIN_RSA_BITS) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return key;
}

/* Copy the key's endorsements (channel ids), if it lists any. */
static int
teams_jwk_endorsements(const cJSON *jwk, struct teams_jwk *k)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(jwk, "endorsements"), *it;
    size_t n = 0;

    if (!cJSON_IsArray(list))
        return 0;
    if (!(k->endorsements = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(char *))))
        return AB_ENOMEM;
    cJSON_ArrayForEach(it, list)
    {
        if (cJSON_IsString(it) && !(k->endorsements[n++] = strdup(it->valuestring)))
            return AB_ENOMEM;
    }
    k->nendorsements = n;
    return 0;
}

/* Parse a JWKS. */
int
teams_jwks_parse(const char *json, size_t len, struct teams_jwks *out)
{
    cJSON *doc = cJSON_ParseWithLength(json, len), *jwk;
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");

    memset(out, 0, sizeof(*out));
    cJSON_ArrayForEach(jwk, keys)
    {
        const cJSON *kty = cJSON_GetObjectItemCaseSensitive(jwk, "kty");
        const cJSON *kid = cJSON_GetObjectItemCaseSensitive(jwk, "kid");
        struct teams_jwk *k = &out->keys[out->n];

        if (out->n >= TEAMS_JWKS_MAX_KEYS)
            break;
        if (!cJSON_IsString(kty) || strcmp(kty->valuestring, "RSA") || !cJSON_IsString(kid) ||
            strlen(kid->valuestring) >= sizeof(k->kid) || !(k->key = teams_jwk_rsa(jwk)))
            continue;
        strcpy(k->kid, kid->valuestring);
        out->n++;
        if (teams_jwk_endorsements(jwk, k) < 0)
            break;
    }
    cJSON_Delete(doc);
    if (out->n == 0)
        return AB_EPROTO;
    return 0;
}

/* Release the keys. */
void
teams_jwks_free(struct teams_jwks *ks)
{
    for (size_t i = 0; i < ks->n; i++) {
        EVP_PKEY_free(ks->keys[i].key);
        for (size_t j = 0; ks->keys[i].endorsements && ks->keys[i].endorsements[j]; j++)
            free(ks->keys[i].endorsements[j]);
        free(ks->keys[i].endorsements);
    }
    memset(ks, 0, sizeof(*ks));
}

/* Decode one base64url JSON segment of the token. */
static cJSON *
teams_jwt_segment(const char *p, size_t len)
{
    unsigned char buf[TEAMS_JWT_MAX];
    int n = teams_b64url_decode(p, len, buf, sizeof(buf));
    cJSON *j;

    if (n <= 0)
        return NULL;
    j = cJSON_ParseWithLength((const char *)buf, (size_t)n);
    if (j && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* A NumericDate claim, or false when absent or not a number. */
static bool
teams_jwt_time(const cJSON *claims, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);

    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e11)
        return false;
    *out = (int64_t)v->valuedouble;
    return true;
}

/* Whether the `aud` claim (a string or an array of them) names @aud. */
static bool
teams_jwt_has_audience(const cJSON *claims, const char *aud)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, "aud"), *it;

    if (cJSON_IsString(v))
        return !strcmp(v->valuestring, aud);
    cJSON_ArrayForEach(it, v)
    {
        if (cJSON_IsString(it) && !strcmp(it->valuestring, aud))
            return true;
    }
    return false;
}

/* Compare two service URLs, ignoring one trailing '/' on either. */
static bool
teams_jwt_same_url(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la && a[la - 1] == '/')
        la--;
    if (lb && b[lb - 1] == '/')
        lb--;
    return la == lb && !strncmp(a, b, la);
}

/* Check the claims and the endorsements once the signature holds. */
static int
teams_jwt_claims(const cJSON *claims, const struct teams_jwk *k, const struct teams_jwt_expect *e,
                 const char **why)
{
    const cJSON *iss = cJSON_GetObjectItemCaseSensitive(claims, "iss");
    const cJSON *surl = cJSON_GetObjectItemCaseSensitive(claims, "serviceurl");
    int64_t exp, nbf;
    bool endorsed = false;

    if (!cJSON_IsString(surl))
        surl = cJSON_GetObjectItemCaseSensitive(claims, "serviceUrl");
    if (!cJSON_IsString(iss) || strcmp(iss->valuestring, e->issuer))
        return *why = "wrong issuer", AB_EAUTH;
    if (!teams_jwt_has_audience(claims, e->audience))
        return *why = "wrong audience", AB_EAUTH;
    if (!teams_jwt_time(claims, "exp", &exp))
        return *why = "no expiry", AB_EAUTH;
    if (e->now_s > exp + e->skew_s)
        return *why = "expired", AB_EAUTH;
    if (teams_jwt_time(claims, "nbf", &nbf) && e->now_s + e->skew_s < nbf)
        return *why = "not valid yet", AB_EAUTH;
    if (k->endorsements) {
        for (size_t i = 0; i < k->nendorsements && !endorsed; i++)
            endorsed = e->channel_id && !strcmp(k->endorsements[i], e->channel_id);
        if (!endorsed)
            return *why = "the signing key does not endorse this channel", AB_EAUTH;
    }
    if (!cJSON_IsString(surl) || !e->service_url ||
        !teams_jwt_same_url(surl->valuestring, e->service_url))
        return *why = "serviceurl claim does not match the activity", AB_EAUTH;
    return 0;
}

/* Check a token. */
int
teams_jwt_verify(const char *token, const struct teams_jwks *ks, const struct teams_jwt_expect *e,
                 const char **why)
{
    const char *dot1, *dot2;
    cJSON *head = NULL, *claims = NULL;
    const cJSON *alg, *kid;
    const struct teams_jwk *k = NULL;
    const EVP_MD *md = NULL;
    unsigned char sig[1024];
    EVP_MD_CTX *mctx = NULL;
    int siglen, rc = AB_EAUTH;
    size_t len = token ? strlen(token) : 0;

    *why = "malformed token";
    if (!token || len == 0 || len > TEAMS_JWT_MAX || !(dot1 = strchr(token, '.')) ||
        !(dot2 = strchr(dot1 + 1, '.')) || strchr(dot2 + 1, '.'))
        return AB_EAUTH;
    if (!(head = teams_jwt_segment(token, (size_t)(dot1 - token))))
        goto out;
    alg = cJSON_GetObjectItemCaseSensitive(head, "alg");
    kid = cJSON_GetObjectItemCaseSensitive(head, "kid");
    if (cJSON_IsString(alg) && !strcmp(alg->valuestring, "RS256"))
        md = EVP_sha256();
    else if (cJSON_IsString(alg) && !strcmp(alg->valuestring, "RS384"))
        md = EVP_sha384();
    else if (cJSON_IsString(alg) && !strcmp(alg->valuestring, "RS512"))
        md = EVP_sha512();
    if (!md) {
        *why = "signing algorithm not accepted";
        goto out;
    }
    if (!cJSON_IsString(kid)) {
        *why = "no key id";
        goto out;
    }
    for (size_t i = 0; i < ks->n && !k; i++)
        if (!strcmp(ks->keys[i].kid, kid->valuestring))
            k = &ks->keys[i];
    if (!k) {
        *why = "unknown signing key";
        rc = AB_ENOENT;
        goto out;
    }
    if ((siglen = teams_b64url_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof(sig))) <= 0)
        goto out;
    if (!(mctx = EVP_MD_CTX_new()) || EVP_DigestVerifyInit(mctx, NULL, md, NULL, k->key) != 1 ||
        EVP_DigestVerify(mctx, sig, (size_t)siglen, (const unsigned char *)token,
                         (size_t)(dot2 - token)) != 1) {
        *why = "bad signature";
        goto out;
    }
    if (!(claims = teams_jwt_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1))))
        goto out;
    rc = teams_jwt_claims(claims, k, e, why);
out:
    ERR_clear_error(); /* libcrypto's reasons stay out of the next caller's way */
    EVP_MD_CTX_free(mctx);
    cJSON_Delete(head);
    cJSON_Delete(claims);
    return rc;
}
