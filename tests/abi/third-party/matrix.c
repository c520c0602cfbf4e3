/* chat-matrix: a third-party chat plugin for the out-of-tree test. It is built outside
 * the tree with only the installed headers and pkg-config, and declares its keys in its
 * descriptor: a secret (access_token), a ranged integer (sync_timeout_ms) and two
 * paths. "Matrix" here is a file protocol: each line of `inbox` is a message from
 * @alice in room !room; each post goes to `outbox` as "POST <room>: <text>". The core
 * is not changed for it in any way.
 *
 * The compatibility test builds the same file against the 1.0, 1.1 and 1.2 header sets
 * (tests/abi/compat) with -DMATRIX_NAME="compat10" etc.: it uses only 1.0 services,
 * and declares its schema only where the headers have one. With -DMATRIX_INTERACTIVE it
 * states the AB_CHAT_INTERACTIVE fact and reports itself disconnected at the inbox's
 * end. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agent-broker/plugin.h>

#ifndef MATRIX_NAME
#define MATRIX_NAME "matrix"
#endif

/* One send completion, reported from a timer (never inside send()). */
struct matrix_op {
    struct matrix_op *next;
    struct ab_chat *c;
    struct ab_timer *timer;
    ab_sent_cb cb;
    void *arg;
    char id[32];
};

struct ab_chat {
    struct ab_host *host;
    const struct ab_host_services *svc;
    const char *token, *inbox, *outbox;
    int64_t sync_timeout_ms;
    int in_fd;
    FILE *out;
    struct ab_fd_watch *watch;
    struct matrix_op *ops;
    char line[4096];
    size_t len;
    unsigned posted, received;
};

/* Read the config the core validated against the schema below. */
static int
matrix_open(struct ab_host *h, const struct ab_host_services *svc, struct ab_chat **out)
{
    struct ab_chat *c = calloc(1, sizeof(*c));
    int rc;

    if (!c)
        return AB_ENOMEM;
    c->host = h;
    c->svc = svc;
    c->in_fd = -1;
    if ((rc = svc->config_string(h, "access_token", NULL, &c->token)) < 0 ||
        (rc = svc->config_string(h, "inbox", NULL, &c->inbox)) < 0 ||
        (rc = svc->config_string(h, "outbox", NULL, &c->outbox)) < 0 ||
        (rc = svc->config_int(h, "sync_timeout_ms", 0, &c->sync_timeout_ms)) < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Deliver one inbox line as a message. */
static void
matrix_deliver(struct ab_chat *c)
{
    char id[32];
    struct ab_inbound m = {
        .size = sizeof(m),
        .conversation = "!room",
        .channel_id = "!room",
        .message_id = id,
        .sender_id = "@alice:example.org",
        .sender_name = "alice",
        .text = c->line,
        .mentions_bot = true,
        .is_human_turn = true,
    };

    snprintf(id, sizeof(id), "$ev%u", ++c->received);
    c->svc->deliver(c->host, &m);
}

/* The inbox is readable: deliver each complete line; stop watching at EOF. */
static void
matrix_readable(void *arg)
{
    struct ab_chat *c = arg;
    char buf[1024];
    ssize_t n = read(c->in_fd, buf, sizeof(buf));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        c->svc->fd_unwatch(c->watch);
        c->watch = NULL;
#ifdef MATRIX_INTERACTIVE
        c->svc->set_connected(c->host, false, "inbox ended");
#endif
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            c->line[c->len] = '\0';
            if (c->len > 0)
                matrix_deliver(c);
            c->len = 0;
        } else if (c->len + 1 < sizeof(c->line)) {
            c->line[c->len++] = buf[i];
        }
    }
}

/* "Log in" (the token goes through the host's log, which must redact it) and start
 * reading the inbox. */
static int
matrix_start(struct ab_chat *c)
{
    int rc;

    c->svc->log(c->host, AB_LOG_INFO, "logging in with access token %s (sync timeout %lld ms)",
                c->token, (long long)c->sync_timeout_ms);
    if (!(c->out = fopen(c->outbox, "a")))
        return AB_EIO;
    if ((c->in_fd = open(c->inbox, O_RDONLY | O_NONBLOCK)) < 0)
        return AB_EIO;
    if ((rc = c->svc->fd_watch(c->host, c->in_fd, matrix_readable, c, &c->watch)) < 0)
        return rc;
    c->svc->set_connected(c->host, true, "synced");
    return 0;
}

/* Release one op. */
static void
matrix_op_free(struct matrix_op *op)
{
    for (struct matrix_op **p = &op->c->ops; *p; p = &(*p)->next) {
        if (*p == op) {
            *p = op->next;
            break;
        }
    }
    op->c->svc->timer_stop(op->timer);
    free(op);
}

/* Report a post as done, later than the call. */
static void
matrix_sent(void *arg)
{
    struct matrix_op *op = arg;
    char id[sizeof(op->id)];
    struct ab_msg_ref ref = {"!room", id};
    ab_sent_cb cb = op->cb;
    void *cb_arg = op->arg;

    memcpy(id, op->id, sizeof(id));
    matrix_op_free(op);
    if (cb)
        cb(cb_arg, 0, &ref);
}

/* Post: one line in the outbox. */
static int
matrix_send(struct ab_chat *c, const struct ab_send *m, ab_sent_cb cb, void *arg)
{
    struct matrix_op *op = calloc(1, sizeof(*op));
    int rc;

    if (!op)
        return AB_ENOMEM;
    op->c = c;
    op->cb = cb;
    op->arg = arg;
    snprintf(op->id, sizeof(op->id), "$out%u", ++c->posted);
    fprintf(c->out, "POST %s: %s\n", m->channel_id, m->text);
    fflush(c->out);
    if ((rc = c->svc->timer_start(c->host, 0, 0, matrix_sent, op, &op->timer)) < 0) {
        free(op);
        return rc;
    }
    op->next = c->ops;
    c->ops = op;
    return 0;
}

/* Disconnect and free; pending completions are never called. */
static void
matrix_close(struct ab_chat *c)
{
    while (c->ops)
        matrix_op_free(c->ops);
    c->svc->fd_unwatch(c->watch);
    if (c->in_fd >= 0)
        close(c->in_fd);
    if (c->out)
        fclose(c->out);
    free(c);
}

static const struct ab_chat_ops matrix_ops = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = 4000,
    .open = matrix_open,
    .start = matrix_start,
    .close = matrix_close,
    .send = matrix_send,
};

#if AB_ABI_MINOR >= 3
static const struct ab_config_key matrix_keys[] = {
    {.name = "access_token",
     .type = AB_KEY_STRING,
     .flags = AB_KEY_REQUIRED | AB_KEY_SECRET,
     .prefix = "syt_",
     .env = "MATRIX_ACCESS_TOKEN",
     .help = "the bot account's access token"},
    {.name = "sync_timeout_ms",
     .type = AB_KEY_INT,
     .def = "30000",
     .min = 1000,
     .max = 60000,
     .help = "long-poll timeout of /sync"},
    {.name = "inbox", .type = AB_KEY_STRING, .flags = AB_KEY_REQUIRED, .help = "file of messages"},
    {.name = "outbox", .type = AB_KEY_STRING, .flags = AB_KEY_REQUIRED, .help = "file of posts"},
    {.name = NULL},
};
#endif

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_CHAT,
    .name = MATRIX_NAME,
    .version = "0.1.0",
    .description = "Matrix (file protocol, for tests)",
    .chat = &matrix_ops,
#ifdef MATRIX_INTERACTIVE
    .caps = AB_CHAT_INTERACTIVE, /* built as "term": its end of input ends the run */
#endif
#if AB_ABI_MINOR >= 3
    .config_keys = matrix_keys,
    .config_key_size = sizeof(struct ab_config_key),
#endif
};
