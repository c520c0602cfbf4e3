/* A health server running on its own loop thread, and blocking raw-socket clients, so a
 * test can talk to the server exactly as a probe or curl would. */
#ifndef AB_TEST_HEALTH_FIXTURE_H
#define AB_TEST_HEALTH_FIXTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <check.h>

#include <uv.h>

#include "health/health_server.h"
#include "../support/check_runner.h"

/* The reasons the fixture's source gives while not ready. */
#define FIXTURE_REASONS "discord: not connected\nslack: no hello yet"
/* The label value of the fixture's custom gauge: a quote, a backslash and a newline. */
#define FIXTURE_LABEL "dis\"co\\rd\nx"

struct fixture {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t stop;
    struct health_server *srv; /* owned until stop */
    int port;
    atomic_bool is_ready;    /* what the source's ready() answers */
    atomic_int ready_calls;  /* how often ready() ran */
    atomic_bool closed_done; /* health_server_close() called back */
};

/* Start a server on 127.0.0.1:0 with @limits (may be NULL) and run its loop on a thread. */
void fixture_start(struct fixture *f, const struct health_limits *limits);

/* Close the server from its loop, join the thread, and assert the loop closes cleanly. */
void fixture_stop(struct fixture *f);

/* A blocking TCP connection to 127.0.0.1:@port with a 5 s receive timeout; fd or -1. */
int fixture_connect(int port);

/* Read until EOF, error or timeout into @resp (capacity @cap, NUL-terminated).
 * Returns the byte count, or -errno when the read failed before any byte arrived. */
long fixture_read_all(int fd, char *resp, size_t cap);

/* Send @req (@len bytes) on a new connection and read the whole answer into @resp.
 * Returns the HTTP status, or -1 when there was no status line. */
int fixture_http(int port, const char *req, size_t len, char *resp, size_t cap);

/* GET @path with HTTP/1.1 and a Host header; returns the status. */
int fixture_get(int port, const char *path, char *resp, size_t cap);

/* The body of the answer in @resp (after the empty line), or NULL. */
const char *fixture_body(const char *resp);

/* Run @tests (@n of them) as suite @name in fork mode, 30 s each; the exit status for main. */
int fixture_main(const char *name, const TTest *const *tests, size_t n);

/* Milliseconds on a monotonic clock. */
double fixture_now_ms(void);

#endif
