/* chat-e2e: a chat platform played by a test. The test writes JSON lines into a FIFO
 * ([e2e] control) to deliver messages and reactions or to report the connection
 * lost or back; every send, edit, reaction and thread the core asks for is appended
 * as one JSON line to [e2e] output. Built only with the installed plugin header (and
 * cJSON for the wire format), like a third-party plugin. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <agent-broker/plugin.h>

#define E2E_LINE_MAX (1u << 20)

/* A completion owed to the core: callbacks never run inside the call. */
struct e2e_pending {
    struct ab_chat *chat;
    struct ab_defer *defer; /* owned by the host until it fires or is cancelled */
    ab_sent_cb sent;
    ab_done_cb done;
    ab_thread_cb thread;
    void *arg;
    char channel[64]; /* where the new message or thread lives */
    char id[64];      /* the new message id or thread id */
    struct e2e_pending *next;
};

struct ab_chat {
    struct ab_host *host;
    const struct ab_host_services *svc;
    const char *control_path; /* lent from the host's config */
    const char *output_path;  /* lent from the host's config */
    int control_fd;           /* owned: the FIFO, opened read-write so it never reads EOF */
    int output_fd;            /* owned */
    struct ab_fd_watch *watch;
    char *buf; /* owned: the partial control line */
    size_t len;
    unsigned next_out;
    struct e2e_pending *pending; /* owned */
};

/* Append one JSON object as a line to the output file; @obj is consumed. */
static void
e2e_emit(struct ab_chat *c, cJSON *obj)
{
    char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
    size_t n;

    cJSON_Delete(obj);
    if (!s) {
        c->svc->log(c->host, AB_LOG_ERROR, "out of memory writing %s", c->output_path);
        return;
    }
    n = strlen(s);
    s[n] = '\n'; /* replaces the terminator: the line is written with one write() */
    if (write(c->output_fd, s, n + 1) != (ssize_t)(n + 1))
        c->svc->log(c->host, AB_LOG_ERROR, "cannot append to %s: %s", c->output_path,
                    strerror(errno));
    free(s);
}

/* A new output record {"op": @op} with string fields from @kv (name, value pairs,
 * NULL-terminated; a NULL value becomes JSON null). */
static cJSON *
e2e_record(const char *op, const char *const *kv)
{
    cJSON *obj = cJSON_CreateObject();

    if (!obj || !cJSON_AddStringToObject(obj, "op", op)) {
        cJSON_Delete(obj);
        return NULL;
    }
    for (; kv && kv[0]; kv += 2) {
        cJSON *v = kv[1] ? cJSON_CreateString(kv[1]) : cJSON_CreateNull();
        if (!v || !cJSON_AddItemToObject(obj, kv[0], v)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            return NULL;
        }
    }
    return obj;
}

/* Run the owed callback on the next loop turn. */
static void
e2e_pending_fire(void *arg)
{
    struct e2e_pending *p = arg, **link;
    struct ab_chat *c = p->chat;

    for (link = &c->pending; *link && *link != p; link = &(*link)->next)
        ;
    if (*link)
        *link = p->next;
    if (p->sent)
        p->sent(p->arg, 0, &(struct ab_msg_ref){p->channel, p->id});
    else if (p->thread)
        p->thread(p->arg, 0, p->id);
    else if (p->done)
        p->done(p->arg, 0);
    free(p);
}

/* Owe a completion; @channel and @id (may be NULL) name what it reports. */
static int
e2e_defer(struct ab_chat *c, const struct e2e_pending *what, const char *channel, const char *id)
{
    struct e2e_pending *p = calloc(1, sizeof(*p));
    int rc;

    if (!p)
        return AB_ENOMEM;
    *p = *what;
    p->chat = c;
    snprintf(p->channel, sizeof(p->channel), "%s", channel ? channel : "");
    snprintf(p->id, sizeof(p->id), "%s", id ? id : "");
    if ((rc = c->svc->defer(c->host, e2e_pending_fire, p, &p->defer)) < 0) {
        free(p);
        return rc;
    }
    p->next = c->pending;
    c->pending = p;
    return 0;
}

/* A string member of @obj, or @def when absent or not a string. */
static const char *
e2e_str(const cJSON *obj, const char *key, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) ? v->valuestring : def;
}

/* A boolean member of @obj, or @def when absent or not a boolean. */
static bool
e2e_bool(const cJSON *obj, const char *key, bool def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* A message held with deliver_held (ABI 1.3) until the core recorded it. */
struct e2e_held {
    struct ab_chat *chat;
    char id[64];
};

/* The core has the message: "ack" it, as a platform would be told (record "ack"). */
static void
e2e_recorded(void *arg, int status)
{
    struct e2e_held *h = arg;
    char st[16];

    snprintf(st, sizeof(st), "%d", status);
    if (status != AB_ECANCELED)
        e2e_emit(h->chat,
                 e2e_record("ack", (const char *const[]){"acked", h->id, "status", st, NULL}));
    free(h);
}

/* {"op":"message", "id", "user", "text", optional "conversation" (default id),
 * "channel" (default "chan-1"), "thread" (posted inside that thread), "name",
 * "mention" (default true), "bot"}: hand a message to the core. */
static int
e2e_control_message(struct ab_chat *c, const cJSON *cmd)
{
    const char *id = e2e_str(cmd, "id", NULL), *channel = e2e_str(cmd, "channel", "chan-1");
    const char *thread = e2e_str(cmd, "thread", NULL), *user = e2e_str(cmd, "user", NULL);
    const char *name = e2e_str(cmd, "name", user);
    struct ab_inbound m = {
        .size = sizeof(m),
        .conversation = e2e_str(cmd, "conversation", thread ? thread : id),
        .channel_id = thread ? thread : channel,
        .parent_id = thread ? channel : NULL,
        .message_id = id,
        .sender_id = user,
        .sender_name = name,
        .display_name = e2e_str(cmd, "display_name", name),
        .text = e2e_str(cmd, "text", ""),
        .is_thread = thread != NULL,
        .is_bot = e2e_bool(cmd, "bot", false),
        .mentions_bot = e2e_bool(cmd, "mention", true),
        .is_human_turn = true,
        .thread_is_ours = thread != NULL,
        .thread_id = thread,
    };

    struct e2e_held *h;
    int rc;

    if (!id || !user)
        return AB_EINVAL;
    if (!AB_HAS(c->svc, struct ab_host_services, deliver_held) || !c->svc->deliver_held)
        return c->svc->deliver(c->host, &m);
    if (!(h = calloc(1, sizeof(*h))))
        return AB_ENOMEM;
    h->chat = c;
    snprintf(h->id, sizeof(h->id), "%s", id);
    if ((rc = c->svc->deliver_held(c->host, &m, e2e_recorded, h)) < 0)
        free(h);
    return rc;
}

/* {"op":"reaction", "message", "user", "emoji", optional "channel", "conversation",
 * "added" (default true)}: hand a user's reaction to the core. */
static int
e2e_control_reaction(struct ab_chat *c, const cJSON *cmd)
{
    struct ab_reaction_event ev = {
        .size = sizeof(ev),
        .msg = {e2e_str(cmd, "channel", "chan-1"), e2e_str(cmd, "message", NULL)},
        .conversation = e2e_str(cmd, "conversation", NULL),
        .user_id = e2e_str(cmd, "user", NULL),
        .emoji = e2e_str(cmd, "emoji", NULL),
        .added = e2e_bool(cmd, "added", true),
    };

    if (!ev.msg.message_id || !ev.user_id || !ev.emoji)
        return AB_EINVAL;
    return c->svc->deliver_reaction(c->host, &ev);
}

/* Act on one control line; a bad one is logged and recorded, never fatal. */
static void
e2e_control_line(struct ab_chat *c, const char *line)
{
    cJSON *cmd = cJSON_Parse(line);
    const char *op = e2e_str(cmd, "op", "");
    int rc = AB_EINVAL;

    if (!cmd) {
        rc = AB_EPROTO;
    } else if (strcmp(op, "message") == 0) {
        rc = e2e_control_message(c, cmd);
    } else if (strcmp(op, "reaction") == 0) {
        rc = e2e_control_reaction(c, cmd);
    } else if (strcmp(op, "connected") == 0) {
        c->svc->set_connected(c->host, e2e_bool(cmd, "value", true), e2e_str(cmd, "detail", NULL));
        rc = 0;
    }
    if (rc < 0) {
        c->svc->log(c->host, AB_LOG_WARN, "control line refused (%s): %.200s", ab_strerror(rc),
                    line);
        e2e_emit(c, e2e_record("refused", (const char *const[]){"line", line, NULL}));
    }
    cJSON_Delete(cmd);
}

/* The FIFO is readable: read what is there and act on whole lines. */
static void
e2e_control_readable(void *arg)
{
    struct ab_chat *c = arg;
    char chunk[4096];
    ssize_t n = read(c->control_fd, chunk, sizeof(chunk));

    if (n <= 0) /* EAGAIN or EINTR: the FIFO is held open read-write, so never EOF */
        return;
    for (ssize_t i = 0; i < n; i++) {
        if (chunk[i] == '\n') {
            c->buf[c->len] = '\0';
            c->len = 0;
            if (c->buf[0])
                e2e_control_line(c, c->buf);
        } else if (c->len < E2E_LINE_MAX) {
            c->buf[c->len++] = chunk[i];
        }
    }
}

/* Create the instance from [e2e] control and output. */
static int
e2e_open(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out)
{
    struct ab_chat *c = calloc(1, sizeof(*c));
    int rc;

    if (!c)
        return AB_ENOMEM;
    c->host = host;
    c->svc = svc;
    c->control_fd = c->output_fd = -1;
    if ((rc = svc->config_string(host, "control", NULL, &c->control_path)) < 0 ||
        (rc = svc->config_string(host, "output", NULL, &c->output_path)) < 0)
        goto fail;
    if (!c->control_path || !c->output_path) {
        svc->log(host, AB_LOG_ERROR, "[e2e] needs control (a FIFO) and output (a file) paths");
        rc = AB_ECONFIG;
        goto fail;
    }
    if (!(c->buf = malloc(E2E_LINE_MAX + 1))) {
        rc = AB_ENOMEM;
        goto fail;
    }
    *out = c;
    return 0;

fail:
    free(c);
    return rc;
}

/* Open the FIFO and the output file, watch the FIFO, report connected. */
static int
e2e_start(struct ab_chat *c)
{
    struct stat st;
    int rc;

    c->control_fd = open(c->control_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (c->control_fd < 0 || fstat(c->control_fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
        rc = c->control_fd < 0 ? -errno : AB_EINVAL;
        c->svc->log(c->host, AB_LOG_ERROR, "%s is not a FIFO: %s", c->control_path,
                    ab_strerror(rc));
        goto fail;
    }
    c->output_fd = open(c->output_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (c->output_fd < 0) {
        rc = -errno;
        c->svc->log(c->host, AB_LOG_ERROR, "cannot open %s: %s", c->output_path, ab_strerror(rc));
        goto fail;
    }
    if ((rc = c->svc->fd_watch(c->host, c->control_fd, e2e_control_readable, c, &c->watch)) < 0)
        goto fail;
    c->svc->set_connected(c->host, true, "control FIFO open");
    e2e_emit(c, e2e_record("started", NULL));
    return 0;

fail:
    c->svc->set_connected(c->host, false, "cannot open the control FIFO or output file");
    return rc;
}

/* Stop and free; owed callbacks are dropped (the core is shutting down). */
static void
e2e_close(struct ab_chat *c)
{
    struct e2e_pending *p, *next;

    c->svc->fd_unwatch(c->watch);
    for (p = c->pending; p; p = next) {
        next = p->next;
        c->svc->defer_cancel(p->defer);
        free(p);
    }
    if (c->output_fd >= 0) {
        e2e_emit(c, e2e_record("closed", NULL));
        close(c->output_fd);
    }
    if (c->control_fd >= 0)
        close(c->control_fd);
    free(c->buf);
    free(c);
}

/* Post a message: record it and name it out-N. */
static int
e2e_send(struct ab_chat *c, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    char id[32];

    snprintf(id, sizeof(id), "out-%u", ++c->next_out);
    e2e_emit(
        c, e2e_record("send", (const char *const[]){"id", id, "channel", msg->channel_id, "thread",
                                                    msg->thread_id, "text", msg->text, NULL}));
    return e2e_defer(c, &(struct e2e_pending){.sent = cb, .arg = arg},
                     msg->thread_id ? msg->thread_id : msg->channel_id, id);
}

/* Edit a message: record the new text. */
static int
e2e_edit(struct ab_chat *c, const struct ab_msg_ref *ref, const char *text, ab_done_cb cb,
         void *arg)
{
    e2e_emit(c, e2e_record("edit", (const char *const[]){"channel", ref->channel_id, "id",
                                                         ref->message_id, "text", text, NULL}));
    return e2e_defer(c, &(struct e2e_pending){.done = cb, .arg = arg}, NULL, NULL);
}

/* Add or remove a reaction: record it. */
static int
e2e_react(struct ab_chat *c, const struct ab_msg_ref *ref, const char *emoji, bool add,
          ab_done_cb cb, void *arg)
{
    e2e_emit(c, e2e_record(add ? "react" : "unreact",
                           (const char *const[]){"channel", ref->channel_id, "message",
                                                 ref->message_id, "emoji", emoji, NULL}));
    return e2e_defer(c, &(struct e2e_pending){.done = cb, .arg = arg}, NULL, NULL);
}

/* Open a thread from a message: record it. As on Discord, the thread takes the id of
 * the message it starts from, so the conversation key stays the same. */
static int
e2e_open_thread(struct ab_chat *c, const struct ab_msg_ref *origin, const char *name,
                ab_thread_cb cb, void *arg)
{
    e2e_emit(c, e2e_record("open_thread",
                           (const char *const[]){"channel", origin->channel_id, "message",
                                                 origin->message_id, "name", name, NULL}));
    return e2e_defer(c, &(struct e2e_pending){.thread = cb, .arg = arg}, origin->channel_id,
                     origin->message_id);
}

static const struct ab_chat_ops e2e_ops = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = 2000,
    .open = e2e_open,
    .start = e2e_start,
    .close = e2e_close,
    .send = e2e_send,
    .edit = e2e_edit,
    .react = e2e_react,
    .open_thread = e2e_open_thread,
};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_CHAT,
    .name = "e2e",
    .version = "0.1.0",
    .description = "End-to-end test platform: a FIFO in, JSON lines out",
    .caps = AB_CHAT_EDIT | AB_CHAT_REACT | AB_CHAT_THREADS,
    .chat = &e2e_ops,
};
