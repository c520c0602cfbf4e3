/* A minimal ACP agent for the latency benchmark. It answers initialize and session/new,
 * and answers each session/prompt with one agent_message_chunk "stamp NS", where NS is
 * CLOCK_MONOTONIC (shared by every process on the machine) read the moment the prompt
 * line was complete on stdin. With --save FILE it also writes each prompt line, verbatim,
 * to FILE, so the benchmark's baseline can replay exactly what the broker wrote.
 *
 * Usage: bench_stamp_agent [--save FILE]. Exits 0 on stdin EOF. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_clock.h"

#define STAMP_LINE_MAX (1u << 20)

struct stamp_agent {
    const char *save_path; /* lent from argv, or NULL */
    unsigned sessions;     /* sessions opened so far: "sess-1", "sess-2", ... */
};

/* Write all of @s to stdout; 0 or -errno. */
static int
stamp_write(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -errno;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Send @reply (consumed) as one line; 0 or a negative code. */
static int
stamp_send(cJSON *reply)
{
    char *text = reply ? cJSON_PrintUnformatted(reply) : NULL;
    int rc = -ENOMEM;

    if (text) {
        size_t n = strlen(text);
        text[n] = '\n'; /* cJSON allocated n + 1 bytes: the NUL becomes the newline */
        rc = stamp_write(text, n + 1);
    }
    free(text);
    cJSON_Delete(reply);
    return rc;
}

/* A response envelope for request @id (copied) with @result or an error. */
static cJSON *
stamp_response(const cJSON *id, cJSON *result, int code, const char *message)
{
    cJSON *r = cJSON_CreateObject(), *err;

    cJSON_AddStringToObject(r, "jsonrpc", "2.0");
    cJSON_AddItemToObject(r, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
    if (result) {
        cJSON_AddItemToObject(r, "result", result);
        return r;
    }
    err = cJSON_AddObjectToObject(r, "error");
    cJSON_AddNumberToObject(err, "code", code);
    cJSON_AddStringToObject(err, "message", message);
    return r;
}

/* The prompt's update (the stamp as text) then its end_turn reply, in one write. */
static int
stamp_prompt(const cJSON *id, const char *session, uint64_t stamp)
{
    char text[64];
    cJSON *up = cJSON_CreateObject(), *params, *update, *content;
    char *a, *b, *both;
    int rc = -ENOMEM;

    snprintf(text, sizeof(text), "stamp %" PRIu64, stamp);
    cJSON_AddStringToObject(up, "jsonrpc", "2.0");
    cJSON_AddStringToObject(up, "method", "session/update");
    params = cJSON_AddObjectToObject(up, "params");
    cJSON_AddStringToObject(params, "sessionId", session);
    update = cJSON_AddObjectToObject(params, "update");
    cJSON_AddStringToObject(update, "sessionUpdate", "agent_message_chunk");
    content = cJSON_AddObjectToObject(update, "content");
    cJSON_AddStringToObject(content, "type", "text");
    cJSON_AddStringToObject(content, "text", text);
    cJSON *done = cJSON_CreateObject();
    cJSON_AddStringToObject(done, "stopReason", "end_turn");
    cJSON *reply = stamp_response(id, done, 0, NULL);
    a = cJSON_PrintUnformatted(up);
    b = cJSON_PrintUnformatted(reply);
    if (a && b && (both = malloc(strlen(a) + strlen(b) + 3))) {
        int n = sprintf(both, "%s\n%s\n", a, b);
        rc = stamp_write(both, (size_t)n);
        free(both);
    }
    free(a);
    free(b);
    cJSON_Delete(up);
    cJSON_Delete(reply);
    return rc;
}

/* Keep the prompt line for the baseline (overwritten by every prompt). */
static void
stamp_save(const struct stamp_agent *a, const char *line, size_t len)
{
    FILE *f;

    if (!a->save_path || !(f = fopen(a->save_path, "w")))
        return;
    fwrite(line, 1, len, f);
    fputc('\n', f);
    fclose(f);
}

/* Whether @session names a session this process opened. */
static bool
stamp_known_session(const struct stamp_agent *a, const char *session)
{
    unsigned n;

    return session && sscanf(session, "sess-%u", &n) == 1 && n >= 1 && n <= a->sessions;
}

/* Handle one line read at @stamp; 0 or a negative code (stdout is gone). */
static int
stamp_line(struct stamp_agent *a, const char *line, size_t len, uint64_t stamp)
{
    cJSON *m = cJSON_ParseWithLength(line, len), *result;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
    const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "method"));
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params");
    const char *session =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "sessionId"));
    char sid[32];
    int rc = 0;

    if (!m) {
        rc = stamp_send(stamp_response(NULL, NULL, -32700, "parse error"));
    } else if (!method || !id) {
        /* a response or a notification (session/cancel): nothing to answer */
    } else if (strcmp(method, "initialize") == 0) {
        result = cJSON_CreateObject();
        cJSON_AddNumberToObject(result, "protocolVersion", 1);
        cJSON_AddObjectToObject(result, "agentCapabilities");
        cJSON_AddArrayToObject(result, "authMethods");
        rc = stamp_send(stamp_response(id, result, 0, NULL));
    } else if (strcmp(method, "session/new") == 0) {
        snprintf(sid, sizeof(sid), "sess-%u", ++a->sessions);
        result = cJSON_CreateObject();
        cJSON_AddStringToObject(result, "sessionId", sid);
        rc = stamp_send(stamp_response(id, result, 0, NULL));
    } else if (strcmp(method, "session/prompt") == 0 && stamp_known_session(a, session)) {
        stamp_save(a, line, len);
        rc = stamp_prompt(id, session, stamp);
    } else if (strcmp(method, "session/prompt") == 0) {
        rc = stamp_send(stamp_response(id, NULL, -32002, "unknown session"));
    } else {
        rc = stamp_send(stamp_response(id, NULL, -32601, "method not found"));
    }
    cJSON_Delete(m);
    return rc;
}

int
main(int argc, char **argv)
{
    struct stamp_agent a = {0};
    char *buf = malloc(STAMP_LINE_MAX);
    size_t len = 0;

    if (argc == 3 && strcmp(argv[1], "--save") == 0) {
        a.save_path = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--save FILE]\n", argv[0]);
        return 2;
    }
    if (!buf)
        return 1;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf + len, STAMP_LINE_MAX - len);
        uint64_t stamp = bench_clock_ns(); /* the bytes just arrived */
        size_t start = 0;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        for (size_t i = 0; i < len; i++) {
            if (buf[i] != '\n')
                continue;
            if (i > start && stamp_line(&a, buf + start, i - start, stamp) < 0)
                goto out;
            start = i + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len == STAMP_LINE_MAX) {
            fprintf(stderr, "bench_stamp_agent: line longer than %u bytes\n", STAMP_LINE_MAX);
            break;
        }
    }
out:
    free(buf);
    return 0;
}
