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

#endif
