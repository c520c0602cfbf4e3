/* The floor of bench/daemon/discord_latency.py: the least a bridge can do between the
 * Discord gateway and an ACP agent, in one blocking process. It spawns the agent
 * (bench_stamp_agent), opens its session, connects to the (fake) gateway on 127.0.0.1
 * (plain WebSocket, no TLS), identifies, heartbeats, and for every MESSAGE_CREATE from a
 * user writes one session/prompt line with its content to the agent's stdin pipe.
 * Prints "ready" once identified, then "stamp NS ID" for each agent reply (NS: when the
 * agent had read the prompt; ID: the Discord message id).
 *
 * Usage: bench_floor_discord PORT TOKEN AGENT_PATH. Exits when the gateway closes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_clock.h"

#define FLOOR_BUF (1u << 20)

struct floor {
    int sock, to_agent, from_agent;
    char *rx;    /* socket bytes not yet framed */
    size_t nrx;  /* in rx */
    char *arx;   /* agent bytes not yet a line */
    size_t narx; /* in arx */
    char session[128];
    char last_id[32]; /* the Discord id of the last prompt */
    long seq;         /* the last dispatch's s, or -1 */
    int heartbeat_ms; /* 0 until HELLO */
    uint64_t next_beat;
};

/* Write all of @n bytes of @s to @fd, or exit. */
static void
floor_write(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            perror("floor: write");
            exit(1);
        }
        s += w;
        n -= (size_t)w;
    }
}

/* Send @text as one masked text frame (clients must mask). */
static void
floor_ws_send(struct floor *f, const char *text)
{
    size_t n = strlen(text), h = 2;
    unsigned char *fr = malloc(n + 14), mask[4] = {0x12, 0x34, 0x56, 0x78};

    if (!fr)
        exit(1);
    fr[0] = 0x81;
    if (n < 126) {
        fr[1] = (unsigned char)(0x80 | n);
    } else {
        fr[1] = 0x80 | 126;
        fr[2] = (unsigned char)(n >> 8);
        fr[3] = (unsigned char)n;
        h = 4;
    }
    memcpy(fr + h, mask, 4);
    for (size_t i = 0; i < n; i++)
        fr[h + 4 + i] = (unsigned char)text[i] ^ mask[i % 4];
    floor_write(f->sock, (const char *)fr, h + 4 + n);
    free(fr);
}

/* A gateway payload: HELLO, READY, MESSAGE_CREATE matter. */
static void
floor_on_payload(struct floor *f, const char *json, size_t len)
{
    cJSON *p = cJSON_ParseWithLength(json, len), *d, *a;
    const cJSON *op = cJSON_GetObjectItem(p, "op"), *t = cJSON_GetObjectItem(p, "t"),
                *s = cJSON_GetObjectItem(p, "s");
    char buf[512];

    if (!p)
        return;
    d = cJSON_GetObjectItem(p, "d");
    if (cJSON_IsNumber(s))
        f->seq = (long)s->valuedouble;
    if (cJSON_IsNumber(op) && op->valueint == 10) {
        f->heartbeat_ms = cJSON_GetObjectItem(d, "heartbeat_interval")->valueint;
        f->next_beat = bench_clock_ns() / 1000000 + (uint64_t)f->heartbeat_ms;
        snprintf(buf, sizeof(buf),
                 "{\"op\":2,\"d\":{\"token\":\"%s\",\"intents\":37377,\"properties\":"
                 "{\"os\":\"linux\",\"browser\":\"floor\",\"device\":\"floor\"}}}",
                 getenv("FLOOR_TOKEN"));
        floor_ws_send(f, buf);
    } else if (cJSON_IsString(t) && strcmp(t->valuestring, "READY") == 0) {
        printf("ready\n");
        fflush(stdout);
    } else if (cJSON_IsString(t) && strcmp(t->valuestring, "MESSAGE_CREATE") == 0 &&
               (a = cJSON_GetObjectItem(d, "author")) &&
               !cJSON_IsTrue(cJSON_GetObjectItem(a, "bot"))) {
        cJSON *req = cJSON_CreateObject(), *params, *block;
        char *line;

        snprintf(f->last_id, sizeof(f->last_id), "%s",
                 cJSON_GetStringValue(cJSON_GetObjectItem(d, "id")));
        cJSON_AddStringToObject(req, "jsonrpc", "2.0");
        cJSON_AddNumberToObject(req, "id", 100);
        cJSON_AddStringToObject(req, "method", "session/prompt");
        params = cJSON_AddObjectToObject(req, "params");
        cJSON_AddStringToObject(params, "sessionId", f->session);
        block = cJSON_CreateObject();
        cJSON_AddStringToObject(block, "type", "text");
        cJSON_AddStringToObject(block, "text",
                                cJSON_GetStringValue(cJSON_GetObjectItem(d, "content")));
        cJSON_AddItemToArray(cJSON_AddArrayToObject(params, "prompt"), block);
        line = cJSON_PrintUnformatted(req);
        if (line) {
            size_t n = strlen(line);
            line[n] = '\n'; /* cJSON allocated n + 1 bytes */
            floor_write(f->to_agent, line, n + 1);
        }
        free(line);
        cJSON_Delete(req);
    }
    cJSON_Delete(p);
}

/* Handle the whole frames in rx; 0, or -1 on a close frame. */
static int
floor_frames(struct floor *f)
{
    for (;;) {
        unsigned char *b = (unsigned char *)f->rx;
        size_t h = 2, len;

        if (f->nrx < 2)
            return 0;
        len = b[1] & 0x7f;
        if (len == 126) {
            if (f->nrx < 4)
                return 0;
            len = (size_t)b[2] << 8 | b[3];
            h = 4;
        } else if (len == 127) {
            if (f->nrx < 10)
                return 0;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | b[2 + i];
            h = 10;
        }
        if (f->nrx < h + len)
            return 0;
        if ((b[0] & 0x0f) == 0x8)
            return -1;
        if ((b[0] & 0x0f) == 0x1)
            floor_on_payload(f, f->rx + h, len);
        memmove(f->rx, f->rx + h + len, f->nrx - h - len);
        f->nrx -= h + len;
    }
}

/* Read what the socket gave and frame it; 0, or -1 when the gateway closed. */
static int
floor_on_socket(struct floor *f)
{
    ssize_t n = read(f->sock, f->rx + f->nrx, FLOOR_BUF - f->nrx);

    if (n <= 0)
        return -1;
    f->nrx += (size_t)n;
    return floor_frames(f);
}

/* Lines from the agent: the session id, then the stamps. 0, or -1 on EOF. */
static int
floor_on_agent(struct floor *f, bool print)
{
    ssize_t n = read(f->from_agent, f->arx + f->narx, FLOOR_BUF - f->narx);
    char *nl;

    if (n <= 0)
        return -1;
    f->narx += (size_t)n;
    while ((nl = memchr(f->arx, '\n', f->narx))) {
        char *st = memmem(f->arx, (size_t)(nl - f->arx), "\"stamp ", 7),
             *sid = memmem(f->arx, (size_t)(nl - f->arx), "\"sessionId\":\"sess-", 18);

        if (st && print)
            printf("stamp %llu %s\n", strtoull(st + 7, NULL, 10), f->last_id);
        else if (sid && !f->session[0])
            sscanf(sid + 13, "%127[^\"]", f->session);
        fflush(stdout);
        size_t used = (size_t)(nl + 1 - f->arx);

        memmove(f->arx, nl + 1, f->narx - used);
        f->narx -= used;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct floor f = {.seq = -1};
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int in[2], out[2], one = 1;
    char req[256], beat[64];
    pid_t pid;

    if (argc != 4) {
        fprintf(stderr, "usage: bench_floor_discord PORT TOKEN AGENT_PATH\n");
        return 2;
    }
    setenv("FLOOR_TOKEN", argv[2], 1);
    signal(SIGPIPE, SIG_IGN);
    f.rx = malloc(FLOOR_BUF);
    f.arx = malloc(FLOOR_BUF);
    if (!f.rx || !f.arx || pipe(in) < 0 || pipe(out) < 0 || (pid = fork()) < 0)
        return 1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execl(argv[3], argv[3], (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    f.to_agent = in[1];
    f.from_agent = out[0];
    static const char setup[] =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":1}"
        "}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"session/new\",\"params\":{\"cwd\":\"/\","
        "\"mcpServers\":[]}}\n";
    floor_write(f.to_agent, setup, sizeof(setup) - 1);
    while (!f.session[0])
        if (floor_on_agent(&f, false) < 0)
            return 1;

    sa.sin_port = htons((uint16_t)atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((f.sock = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
        connect(f.sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("floor: connect");
        return 1;
    }
    setsockopt(f.sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    snprintf(req, sizeof(req),
             "GET /gateway?v=10&encoding=json HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n"
             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
             argv[1]);
    floor_write(f.sock, req, strlen(req));
    for (char *end = NULL; !end;) { /* the 101 response; frames may follow in the same read */
        ssize_t n = read(f.sock, f.rx + f.nrx, FLOOR_BUF - f.nrx);

        if (n <= 0)
            return 1;
        f.nrx += (size_t)n;
        if ((end = memmem(f.rx, f.nrx, "\r\n\r\n", 4))) {
            size_t hdr = (size_t)(end + 4 - f.rx);

            memmove(f.rx, f.rx + hdr, f.nrx - hdr);
            f.nrx -= hdr;
        }
    }
    if (floor_frames(&f) < 0) /* frames that came with the 101 */
        return 1;
    for (;;) {
        struct pollfd p[2] = {{.fd = f.sock, .events = POLLIN},
                              {.fd = f.from_agent, .events = POLLIN}};
        uint64_t now = bench_clock_ns() / 1000000;
        int timeout = f.heartbeat_ms ? (int)(f.next_beat > now ? f.next_beat - now : 0) : -1;

        if (poll(p, 2, timeout) < 0 && errno != EINTR)
            return 1;
        if (f.heartbeat_ms && bench_clock_ns() / 1000000 >= f.next_beat) {
            snprintf(beat, sizeof(beat), "{\"op\":1,\"d\":%ld}", f.seq);
            floor_ws_send(&f, f.seq < 0 ? "{\"op\":1,\"d\":null}" : beat);
            f.next_beat += (uint64_t)f.heartbeat_ms;
        }
        if ((p[0].revents & (POLLIN | POLLHUP)) && floor_on_socket(&f) < 0)
            break;
        if ((p[1].revents & (POLLIN | POLLHUP)) && floor_on_agent(&f, true) < 0)
            break;
    }
    close(f.to_agent);
    waitpid(pid, NULL, 0);
    return 0;
}
