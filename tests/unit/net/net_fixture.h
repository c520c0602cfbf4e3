/* Loopback servers written in Python (an independent implementation of the wire side),
 * started per test and killed by pid, plus a bounded way to run a loop until a
 * condition holds. */
#ifndef AB_TEST_NET_FIXTURE_H
#define AB_TEST_NET_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <check.h>
#include <uv.h>

#include "../support/check_runner.h"

struct net_server {
    pid_t pid;
    int port;
};

/* Start tests/unit/net/@script with Debian's python3 (AB_TEST_PYTHON overrides) and read
 * the port it prints. Fails the test when it does not start within 10 s. */
void net_server_start(struct net_server *s, const char *script);

/* Kill the server and reap it. */
void net_server_stop(struct net_server *s);

/* Run @loop until *@done is true or @timeout_ms passed; returns *@done. */
bool net_run_until(uv_loop_t *loop, const bool *done, uint64_t timeout_ms);

/* Run @loop for @ms whatever happens. */
void net_run_for(uv_loop_t *loop, uint64_t ms);

/* A TCP port on 127.0.0.1 nothing listens on (bound, then closed). */
int net_free_port(void);

/* A self-signed certificate for @san (its own CA) at @dir/@name.pem, its key at
 * @dir/@name.key (the openssl command). */
void net_make_cert(const char *dir, const char *name, const char *san);

/* A scratch directory with two self-signed certificates: "good" for localhost and
 * 127.0.0.1, the one the servers present (AB_TEST_TLS_CERT/KEY are set to it), and
 * "other", named by @other_san, signed by another key. */
struct net_tls {
    char dir[256];
    char cert[300], key[300]; /* good.pem, good.key */
    char other[300];          /* other.pem */
};

/* Make @t's directory (named after @tag and the pid) and certificates; set the env. */
void net_tls_init(struct net_tls *t, const char *tag, const char *other_san);

/* Unset AB_TEST_TLS_CERT/KEY and SSL_CERT_DIR; remove @t's directory. */
void net_tls_free(struct net_tls *t);

/* A fresh certificate directory @t->dir/certsN holding only @cert's hash link, made
 * the system's (SSL_CERT_DIR). */
void net_tls_trust_only(struct net_tls *t, int n, const char *cert);

/* Link PEM @cert into @dir under its OpenSSL subject hash (HASH.0, or .1 when taken), as
 * c_rehash would. */
void net_hash_link(const char *cert, const char *dir);

#endif
