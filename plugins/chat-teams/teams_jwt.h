/* chat-teams: the Bot Framework's JSON Web Tokens (auth-doc "Authenticate requests from
 * the Bot Connector service"): a JWKS parsed into OpenSSL public keys, and a token
 * checked against it — RS256/384/512 signature by libcrypto (never by hand), the key
 * named by `kid`, issuer, audience (the bot's app id), `exp`/`nbf` within a bounded
 * clock skew, the key's endorsements naming the activity's channel, and the
 * `serviceurl` claim equal to the activity's serviceUrl. Pure functions: no I/O. */
#ifndef CHAT_TEAMS_JWT_H
#define CHAT_TEAMS_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define TEAMS_JWT_MAX 16384 /* longest token accepted, bytes */
#define TEAMS_JWKS_MAX_KEYS 32

/* One signing key of the JWKS. */
struct teams_jwk {
    char kid[128];
    EVP_PKEY *key;        /* owned */
    char **endorsements;  /* owned, NULL when the key lists none */
    size_t nendorsements; /* 0 with endorsements set: endorses nothing */
};

/* The JWKS as parsed. Zero-initialise; free with teams_jwks_free(). */
struct teams_jwks {
    struct teams_jwk keys[TEAMS_JWKS_MAX_KEYS];
    size_t n;
};

/* What a token must say. Pointers lent for the call. */
struct teams_jwt_expect {
    const char *issuer;      /* "https://api.botframework.com" */
    const char *audience;    /* the bot's app id */
    const char *channel_id;  /* the activity's channelId ("msteams") */
    const char *service_url; /* the activity's serviceUrl */
    int64_t now_s;           /* Unix time */
    int64_t skew_s;          /* allowed clock skew (300) */
};

/* Parse a JWKS document (@json[0..len), lent) into @out (zeroed first): RSA keys with
 * kid, n, e (others skipped). Returns 0 with at least one key, AB_EPROTO otherwise. */
int teams_jwks_parse(const char *json, size_t len, struct teams_jwks *out);

/* Release @ks's keys and zero it. */
void teams_jwks_free(struct teams_jwks *ks);

/* Check the compact JWS @token (lent) against @ks and @e. Returns 0; AB_ENOENT when its
 * kid is not in @ks (fetch the keys again); AB_EAUTH otherwise. *why (static text, never
 * containing the token) says what failed. */
int teams_jwt_verify(const char *token, const struct teams_jwks *ks,
                     const struct teams_jwt_expect *e, const char **why);

/* Decode base64url (no padding needed) @in[0..len) into @out (capacity @cap). Returns
 * the length decoded or AB_EINVAL. */
int teams_b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap);

#endif
