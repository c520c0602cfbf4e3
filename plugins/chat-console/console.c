/* chat-console: the terminal as a chat platform. Each line on stdin is a message in
 * one conversation; replies are written to stdout as they stream (a live message is
 * shown by printing what it gained since the last edit). EOF ends the conversation:
 * the plugin reports itself disconnected and the daemon stops once the last reply is
 * out. Needs no account, so a newcomer can try an agent preset and tests can drive
 * the whole core. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <agent-broker/plugin.h>

#include "attach.h"

#define CONSOLE_LINE_MAX (1u << 20)
#define CONSOLE_SHOWN 8 /* recent messages remembered for edits */

/* A message already printed, so an edit can print only what changed. */
struct console_shown {
    unsigned id;
    char *text; /* owned */
};

/* A completion owed to the core: callbacks never run inside the call. */
struct console_pending {
    struct ab_chat *chat;
    struct ab_defer *defer; /* owned by the host until it fires or is cancelled */
    ab_sent_cb sent;
    ab_done_cb done;
    void *arg;
    int status;
    unsigned id;
    struct console_pending *next;
};

struct ab_chat {
    struct ab_host *host;
    const struct ab_host_services *svc;
    struct ab_fd_watch *watch;
    char *buf; /* owned: the partial input line */
    size_t len;
    unsigned next_in, next_out;
    struct console_shown shown[CONSOLE_SHOWN];
    struct console_pending *pending; /* owned */
    bool at_line_start;
    bool is_eof;
    const char *user;              /* lent from the environment */
    bool is_tty;                   /* stdout is a terminal */
    struct ab_timer *eol;          /* ends the line once output pauses (terminals only) */
    char conversation[64];         /* one conversation per run: "console-<time>-<pid>" */
    struct console_attach *attach; /* owned: `/attach` files for the next message */
};

/* Write all of @s to stdout (blocking on a terminal is the terminal's nature). */
static void
console_write(struct ab_chat *c, const char *s, size_t n)
{
    if (n == 0)
        return;
    c->at_line_start = s[n - 1] == '\n';
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Output paused: end the line so what the user types next starts on its own line. */
static void
console_eol(void *arg)
{
    struct ab_chat *c = arg;

    c->svc->timer_stop(c->eol);
    c->eol = NULL;
    if (!c->at_line_start)
        console_write(c, "\n", 1);
}

/* On a terminal, (re)arm the end-of-line timer after each piece of output. */
static void
console_output_paused_later(struct ab_chat *c)
{
    if (!c->is_tty)
        return;
    c->svc->timer_stop(c->eol);
    c->eol = NULL;
    c->svc->timer_start(c->host, 2000, 0, console_eol, c, &c->eol);
}

/* Start a fresh line unless we are at one. */
static void
console_newline(struct ab_chat *c)
{
    if (!c->at_line_start)
        console_write(c, "\n", 1);
}

/* Run the owed callback on the next loop turn. */
static void
console_pending_fire(void *arg)
{
    struct console_pending *p = arg, **link;
    struct ab_chat *c = p->chat;
    char id[32], chan[] = "console";

    for (link = &c->pending; *link && *link != p; link = &(*link)->next)
        ;
    if (*link)
        *link = p->next;
    snprintf(id, sizeof(id), "out-%u", p->id);
    if (p->sent)
        p->sent(p->arg, p->status, &(struct ab_msg_ref){chan, id});
    else if (p->done)
        p->done(p->arg, p->status);
    free(p);
}

/* Owe a completion. */
static int
console_defer(struct ab_chat *c, ab_sent_cb sent, ab_done_cb done, void *arg, int status,
              unsigned id)
{
    struct console_pending *p = calloc(1, sizeof(*p));
    int rc;

    if (!p)
        return AB_ENOMEM;
    *p = (struct console_pending){c, NULL, sent, done, arg, status, id, c->pending};
    if ((rc = c->svc->defer(c->host, console_pending_fire, p, &p->defer)) < 0) {
        free(p);
        return rc;
    }
    c->pending = p;
    return 0;
}

/* Remember what message @id shows now. */
static void
console_remember(struct ab_chat *c, unsigned id, const char *text)
{
    struct console_shown *slot = &c->shown[id % CONSOLE_SHOWN];

    free(slot->text);
    slot->id = id;
    slot->text = strdup(text);
}

/* Print one line of our own (console_attach_line's answers). */
static void
console_say(void *arg, const char *text)
{
    struct ab_chat *c = arg;

    console_newline(c);
    console_write(c, text, strlen(text));
    console_write(c, "\n", 1);
    c->at_line_start = true;
}

/* Hand one input line to the core as a message. */
static void
console_deliver(struct ab_chat *c, char *line)
{
    char id[32];
    size_t n = strlen(line);

    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
        line[--n] = '\0';
    if (n == 0 || console_attach_line(c->attach, line, console_say, c))
        return;
    snprintf(id, sizeof(id), "in-%u", ++c->next_in);
    struct ab_inbound m = {
        .size = sizeof(m),
        .conversation = c->conversation,
        .channel_id = "console",
        .parent_id = "console",
        .message_id = id,
        .sender_id = c->user,
        .sender_name = c->user,
        .display_name = c->user,
        .text = line,
        .clean_text = line,
        .is_thread = true,
        .mentions_bot = true,
        .is_human_turn = true,
        .thread_is_ours = true,
    };
    m.attachment_count = console_attach_take(c->attach, (struct ab_attachment **)&m.attachments);
    c->svc->deliver(c->host, &m);
    free((void *)m.attachments);
}

/* stdin is readable: read what is there, deliver whole lines; EOF ends input. */
static void
console_readable(void *arg)
{
    struct ab_chat *c = arg;
    char chunk[4096];
    ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        if (c->len > 0) {
            c->buf[c->len] = '\0';
            c->len = 0;
            console_deliver(c, c->buf);
        }
        c->svc->fd_unwatch(c->watch);
        c->watch = NULL;
        c->is_eof = true;
        c->svc->set_connected(c->host, false, "stdin closed");
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (chunk[i] == '\n') {
            c->buf[c->len] = '\0';
            c->len = 0;
            console_deliver(c, c->buf);
        } else if (c->len < CONSOLE_LINE_MAX) {
            c->buf[c->len++] = chunk[i];
        }
    }
}

/* Create the instance. */
static int
console_open(struct ab_host *host, const struct ab_host_services *svc, struct ab_chat **out)
{
    struct ab_chat *c = calloc(1, sizeof(*c));

    if (!c)
        return AB_ENOMEM;
    if (!(c->buf = malloc(CONSOLE_LINE_MAX + 1)) || !(c->attach = console_attach_new(host, svc))) {
        free(c->buf);
        free(c);
        return AB_ENOMEM;
    }
    c->host = host;
    c->svc = svc;
    c->at_line_start = true;
    c->is_tty = isatty(STDOUT_FILENO) == 1;
    snprintf(c->conversation, sizeof(c->conversation), "console-%llu-%ld",
             (unsigned long long)time(NULL), (long)getpid());
    c->user = getenv("USER");
    if (!c->user || !*c->user)
        c->user = "console-user";
    *out = c;
    return 0;
}

/* Start reading stdin. */
static int
console_start(struct ab_chat *c)
{
    int rc = c->svc->fd_watch(c->host, STDIN_FILENO, console_readable, c, &c->watch);

    if (rc < 0)
        return rc;
    c->svc->set_connected(c->host, true, "reading stdin");
    return 0;
}

/* Stop and free; owed callbacks are dropped (the core is shutting down). */
static void
console_close(struct ab_chat *c)
{
    struct console_pending *p, *next;

    c->svc->fd_unwatch(c->watch);
    c->svc->timer_stop(c->eol);
    for (p = c->pending; p; p = next) {
        next = p->next;
        c->svc->defer_cancel(p->defer);
        free(p);
    }
    for (size_t i = 0; i < CONSOLE_SHOWN; i++)
        free(c->shown[i].text);
    console_newline(c);
    console_attach_free(c->attach);
    free(c->buf);
    free(c);
}

/* A new message: a new paragraph. A bare placeholder ("…") is not printed: the
 * first edit prints the real text in its place. */
static int
console_send(struct ab_chat *c, const struct ab_send *msg, ab_sent_cb cb, void *arg)
{
    unsigned id = ++c->next_out;
    bool is_placeholder = strcmp(msg->text, "…") == 0;

    if (!is_placeholder) {
        console_newline(c);
        console_write(c, msg->text, strlen(msg->text));
    }
    console_remember(c, id, is_placeholder ? "" : msg->text);
    console_output_paused_later(c);
    return console_defer(c, cb, NULL, arg, 0, id);
}

/* An edit: print what the message gained; when earlier lines changed (a tool line
 * finished), reprint from the first changed line. */
static int
console_edit(struct ab_chat *c, const struct ab_msg_ref *ref, const char *text, ab_done_cb cb,
             void *arg)
{
    unsigned id = 0;
    struct console_shown *slot;
    const char *old;
    size_t same = 0, line_start = 0;

    if (!ref->message_id || sscanf(ref->message_id, "out-%u", &id) != 1)
        return AB_ENOENT;
    slot = &c->shown[id % CONSOLE_SHOWN];
    old = slot->id == id && slot->text ? slot->text : "";
    while (old[same] && old[same] == text[same])
        same++;
    if (old[same] == '\0') {
        if (!*old)
            console_newline(c);
        console_write(c, text + same, strlen(text + same));
    } else {
        for (size_t i = 0; i < same; i++)
            if (text[i] == '\n')
                line_start = i + 1;
        console_newline(c);
        console_write(c, text + line_start, strlen(text + line_start));
    }
    console_remember(c, id, text);
    console_output_paused_later(c);
    return console_defer(c, NULL, cb, arg, 0, id);
}

/* ab_chat_ops.download: copy a file queued with /attach. */
static int
console_download(struct ab_chat *c, const struct ab_attachment *att, const char *path,
                 uint64_t max_bytes, ab_done_cb cb, void *arg)
{
    return console_attach_download(c->attach, att, path, max_bytes, cb, arg);
}

static const struct ab_chat_ops console_ops = {
    .size = sizeof(struct ab_chat_ops),
    .max_chars = 100000,
    .open = console_open,
    .start = console_start,
    .close = console_close,
    .send = console_send,
    .edit = console_edit,
    .download = console_download,
};

/* No keys of its own: only the end marker, so a typo in [console] warns. */
static const struct ab_config_key console_keys[] = {{.name = NULL}};

AB_PLUGIN_EXPORT const struct ab_plugin_desc ab_plugin = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_CHAT,
    .name = "console",
    .version = AB_VERSION_STRING,
    .description = "Console: stdin lines in, replies on stdout",
    .caps = AB_CHAT_EDIT | AB_CHAT_INTERACTIVE,
    .chat = &console_ops,
    .config_keys = console_keys,
    .config_key_size = sizeof(struct ab_config_key),
};
