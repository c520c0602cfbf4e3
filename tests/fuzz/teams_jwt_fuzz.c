/* libFuzzer target: chat-teams' token checks (plugins/chat-teams/teams_jwt.c), pure
 * functions fed any bytes. Each line of the input is one of:
 *   "JWKS <document>"            parsed as a JWKS; when it holds keys, tokens are checked
 *                                against it from then on (else against the test key's);
 *   "SIGN <header>\t<claims>"    both JSON texts as the fuzzer wrote them, base64url'ed
 *                                and signed RS256 by the harness with the test key, so
 *                                the header (alg, kid) and the claims parser (iss, aud,
 *                                exp/nbf, serviceurl, odd types) are reached past the
 *                                signature;
 *   anything else                a compact token as it would arrive in the header.
 * Oracle: a token passes only when its claims say what the expectation asks (checked
 * again here with cJSON), and teams_b64url_decode never writes past its capacity. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <agent-broker/errors.h>

#include "../teams/jwt_sign.h"
#include "fuzz_lines.h"
#include "teams_jwt.h"

#define NOW 1900000000

static EVP_PKEY *jwt_fuzz_key;
static struct teams_jwks jwt_fuzz_good;

static const struct teams_jwt_expect jwt_fuzz_expect = {
    .issuer = "https://api.botframework.com",
    .audience = "app-1",
    .channel_id = "msteams",
    .service_url = "https://smba.trafficmanager.net/amer/",
    .now_s = NOW,
    .skew_s = 300,
};

struct jwt_fuzz {
    struct teams_jwks ks; /* from a JWKS line */
    bool has_ks;
};

/* A passing token's claims segment, decoded again: it must name the expected issuer and
 * audience and an exp within the skew. */
static void
jwt_fuzz_oracle(const char *token)
{
    const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    unsigned char buf[TEAMS_JWT_MAX];
    int n;
    cJSON *c;
    const cJSON *iss, *exp;

    if (!d2 || (n = teams_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf, sizeof(buf))) <= 0 ||
        !(c = cJSON_ParseWithLength((const char *)buf, (size_t)n)))
        abort();
    iss = cJSON_GetObjectItemCaseSensitive(c, "iss");
    exp = cJSON_GetObjectItemCaseSensitive(c, "exp");
    if (!cJSON_IsString(iss) || strcmp(iss->valuestring, jwt_fuzz_expect.issuer) ||
        !cJSON_IsNumber(exp) || exp->valuedouble + jwt_fuzz_expect.skew_s < NOW)
        abort();
    cJSON_Delete(c);
}

/* Check @token against the keys in force. */
static void
jwt_fuzz_check(struct jwt_fuzz *f, const char *token)
{
    const char *why = NULL;
    int rc = teams_jwt_verify(token, f->has_ks ? &f->ks : &jwt_fuzz_good, &jwt_fuzz_expect, &why);

    if (!why || (rc != 0 && rc != AB_EAUTH && rc != AB_ENOENT))
        abort();
    if (rc == 0)
        jwt_fuzz_oracle(token);
}

/* One line of the input. */
static void
jwt_fuzz_line(void *arg, const char *line, size_t len)
{
    struct jwt_fuzz *f = arg;
    char *copy = malloc(len + 1), *tab, *tok;
    unsigned char out[64];

    if (!copy)
        abort();
    memcpy(copy, line, len); /* NUL bytes too: a string parser then stops at the first */
    copy[len] = '\0';
    if (len > 5 && !memcmp(copy, "JWKS ", 5)) {
        struct teams_jwks ks;
        if (teams_jwks_parse(copy + 5, len - 5, &ks) == 0) {
            if (ks.n == 0)
                abort();
            teams_jwks_free(&f->ks);
            f->ks = ks;
            f->has_ks = true;
        }
    } else if (len > 5 && !memcmp(copy, "SIGN ", 5) && (tab = strchr(copy + 5, '\t'))) {
        *tab = '\0';
        if ((tok = jwt_sign(jwt_fuzz_key, copy + 5, tab + 1))) {
            jwt_fuzz_check(f, tok);
            free(tok);
        }
    } else {
        jwt_fuzz_check(f, copy);
        /* a short output buffer: the decoder must refuse, never overrun */
        int n = teams_b64url_decode(line, len, out, sizeof(out));
        if (n > (int)sizeof(out))
            abort();
    }
    free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jwt_fuzz f = {0};

    if (!jwt_fuzz_key) {
        char json[4000];
        if (!(jwt_fuzz_key = jwt_rsa_key(jwt_key_a_pem)) ||
            jwt_jwks_json(jwt_fuzz_key, "k1", "msteams", json, sizeof(json)) < 0 ||
            teams_jwks_parse(json, strlen(json), &jwt_fuzz_good) < 0)
            abort();
    }
    fuzz_lines((const char *)data, size, jwt_fuzz_line, &f);
    teams_jwks_free(&f.ks);
    return 0;
}
