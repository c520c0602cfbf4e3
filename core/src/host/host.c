/* The services the host lends to plugins. */
#include "host/host.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/schema.h"
#include "outbound/backoff.h"
#include "host/services.h"
#include "log.h"
#include "ingress/ingress.h"
#include "net/http_client.h"
#include "net/ws_client.h"
#include "render/utf8.h"
#include "state/state_file.h"
#include "state/state_writer.h"

/* Reconnect delays handed out by backoff_next: 1 s doubling to 60 s, full jitter. */
#define HOST_BACKOFF_BASE_MS 1000
#define HOST_BACKOFF_CAP_MS 60000

/* Arrays handed to plugins by config_strings: kept until the host is freed. */
struct host_string_cache {
    struct host_string_cache *next;
    char *key;
    const char **items; /* NULL-terminated; strings lent from the config tree */
};

/* One backoff_next key of a plugin. */
struct host_backoff {
    struct host_backoff *next;
    char *key; /* owned */
    struct backoff b;
};

/* The process's HTTP and WebSocket clients: one HTTP client and one lws context,
 * shared by every plugin, created on first use and closed with the last host. */
static struct {
    uv_loop_t *loop;              /* lent: the loop of the hosts */
    int hosts;                    /* hosts alive */
    struct http_client *http;     /* owned, or NULL until the first request */
    struct ws_client *ws;         /* owned, or NULL until the first connect */
    struct ws_client *ws_closing; /* closed, waiting for host_net_finish() */
    struct ingress *ingress;      /* lent: the daemon's [ingress] listener, or NULL */
} host_net;

struct ab_timer {
    uv_timer_t handle;
    struct ab_host *host;
    ab_timer_cb cb;
    void *arg;
};

struct ab_fd_watch {
    union {
        uv_poll_t poll;
        uv_idle_t idle; /* regular files cannot be polled: they are always readable */
    } h;
    bool is_idle;
    ab_fd_cb cb;
    void *arg;
};

/* service: log with the plugin's name and redaction. */
static void
host_log(struct ab_host *h, enum ab_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(level, h ? h->component : "plugin", fmt, ap);
    va_end(ap);
}

/* The value at a dotted @key of the plugin's table, or NULL. */
static const struct toml_value *
host_config_value(struct ab_host *h, const char *key)
{
    return h->table && key ? toml_get_path(h->table, key) : NULL;
}

/* The schema's default for an absent @key (dotted keys have none), or NULL. */
static const char *
host_config_default(struct ab_host *h, const char *key)
{
    const struct ab_config_key *k = key ? schema_find(h->desc, key) : NULL;

    return k ? k->def : NULL;
}

/* Report a config type problem with its line. */
static int
host_config_type_error(struct ab_host *h, const struct toml_value *v, const char *key,
                       const char *want)
{
    log_error(h->component, "config line %d: %s.%s: expected %s, found %s", v->line, h->name, key,
              want, toml_type_name(v->type));
    return AB_ECONFIG;
}

/* service: a string key of the plugin's table. */
static int
host_config_string(struct ab_host *h, const char *key, const char *def, const char **out)
{
    const struct toml_value *v = host_config_value(h, key);

    if (!v) {
        const char *schema_def = host_config_default(h, key);
        *out = schema_def ? schema_def : def;
        return 0;
    }
    if (v->type != TOML_STRING)
        return host_config_type_error(h, v, key, "a string");
    *out = v->u.str.ptr;
    return 0;
}

/* service: an integer key. */
static int
host_config_int(struct ab_host *h, const char *key, int64_t def, int64_t *out)
{
    const struct toml_value *v = host_config_value(h, key);

    if (!v) {
        const char *schema_def = host_config_default(h, key);
        char *end = NULL;
        long long n = schema_def ? strtoll(schema_def, &end, 10) : 0;
        *out = schema_def && end && *end == '\0' && end != schema_def ? n : def;
        return 0;
    }
    if (v->type != TOML_INTEGER)
        return host_config_type_error(h, v, key, "an integer");
    *out = v->u.i;
    return 0;
}

/* service: a boolean key. */
static int
host_config_bool(struct ab_host *h, const char *key, bool def, bool *out)
{
    const struct toml_value *v = host_config_value(h, key);

    if (!v) {
        const char *schema_def = host_config_default(h, key);
        *out = schema_def ? strcmp(schema_def, "true") == 0 : def;
        return 0;
    }
    if (v->type != TOML_BOOL)
        return host_config_type_error(h, v, key, "true or false");
    *out = v->u.b;
    return 0;
}

/* service: an array of strings (integers become their decimal text: ids). */
static int
host_config_strings(struct ab_host *h, const char *key, const char *const **out, size_t *count)
{
    static const char *const empty[] = {NULL};
    const struct toml_value *v = host_config_value(h, key);
    struct host_string_cache *c;

    *out = empty;
    *count = 0;
    if (!v)
        return 0;
    if (v->type != TOML_ARRAY)
        return host_config_type_error(h, v, key, "an array of strings");
    for (c = h->cache; c; c = c->next) {
        if (strcmp(c->key, key) == 0) {
            *out = c->items;
            for (*count = 0; c->items[*count]; (*count)++)
                ;
            return 0;
        }
    }
    for (size_t i = 0; i < v->u.arr->count; i++)
        if (v->u.arr->items[i].type != TOML_STRING)
            return host_config_type_error(h, &v->u.arr->items[i], key, "strings");
    if (!(c = calloc(1, sizeof(*c))) || !(c->key = strdup(key)) ||
        !(c->items = calloc(v->u.arr->count + 1, sizeof(char *)))) {
        if (c)
            free(c->key);
        free(c);
        return AB_ENOMEM;
    }
    for (size_t i = 0; i < v->u.arr->count; i++)
        c->items[i] = v->u.arr->items[i].u.str.ptr;
    c->next = h->cache;
    h->cache = c;
    *out = c->items;
    *count = v->u.arr->count;
    return 0;
}

/* service: register a secret for redaction. */
static void
host_add_secret(struct ab_host *h, const char *secret)
{
    (void)h;
    log_add_secret(secret);
}

/* service: loop time in ms. */
static uint64_t
host_now_ms(struct ab_host *h)
{
    return uv_now(h->loop);
}

/* uv timer callback → plugin callback. */
static void
host_timer_fire(uv_timer_t *handle)
{
    struct ab_timer *t = handle->data;

    t->cb(t->arg);
}

/* service: start a timer. */
static int
host_timer_start(struct ab_host *h, uint64_t timeout_ms, uint64_t repeat_ms, ab_timer_cb cb,
                 void *arg, struct ab_timer **out)
{
    struct ab_timer *t = calloc(1, sizeof(*t));
    int rc;

    if (!t)
        return AB_ENOMEM;
    if ((rc = uv_timer_init(h->loop, &t->handle)) < 0) {
        free(t);
        return rc;
    }
    t->handle.data = t;
    t->host = h;
    t->cb = cb;
    t->arg = arg;
    if ((rc = uv_timer_start(&t->handle, host_timer_fire, timeout_ms, repeat_ms)) < 0) {
        uv_close((uv_handle_t *)&t->handle, (uv_close_cb)free);
        return rc;
    }
    h->open_timers++;
    *out = t;
    return 0;
}

/* Free a timer once libuv has closed it. */
static void
host_timer_closed(uv_handle_t *handle)
{
    free(handle->data);
}

/* service: stop and release a timer. */
static void
host_timer_stop(struct ab_timer *t)
{
    if (!t)
        return;
    t->host->open_timers--;
    uv_timer_stop(&t->handle);
    uv_close((uv_handle_t *)&t->handle, host_timer_closed);
}

/* Copy a plugin's struct of @have bytes (its own leading size) into the zeroed host
 * struct @dst of @full bytes: the boundary where sizes are checked, once. Members the
 * plugin's ABI lacked read as 0 / NULL; the copy's size says @full. */
static void
host_copy_in(void *dst, size_t full, const void *src, uint32_t have)
{
    memset(dst, 0, full);
    memcpy(dst, src, have < full ? have : full);
    *(uint32_t *)dst = (uint32_t)full;
}

/* service: an inbound message to the engine, as a full-size host copy. */
static int
host_deliver(struct ab_host *h, const struct ab_inbound *msg)
{
    struct ab_inbound full;

    /* 1.0 plugins end at thread_is_ours: anything shorter is malformed */
    if (!msg || msg->size < offsetof(struct ab_inbound, thread_is_ours))
        return AB_EINVAL;
    host_copy_in(&full, sizeof(full), msg, msg->size);
    return h->sink.deliver ? h->sink.deliver(h->sink.arg, h, &full) : AB_ENOTSUP;
}

/* One owed deliver_held completion. */
struct host_hold {
    uv_timer_t timer;  /* runs the plugin's callback on a later loop turn */
    struct ab_host *h; /* lent; NULL once the host is freed */
    void (*cb)(void *arg, int status);
    void *arg;
    int status;
    bool is_released;              /* the sink is done with it */
    bool is_fired;                 /* the plugin's callback ran (or will never run) */
    struct host_hold *prev, *next; /* the host's list while owed */
};

/* Take @hold off its host's list. */
static void
host_hold_unlink(struct host_hold *hold)
{
    if (!hold->h)
        return;
    if (hold->prev)
        hold->prev->next = hold->next;
    else
        hold->h->holds = hold->next;
    if (hold->next)
        hold->next->prev = hold->prev;
    hold->prev = hold->next = NULL;
}

/* The hold's timer handle is closed: free it. */
static void
host_hold_closed(uv_handle_t *handle)
{
    free(handle->data);
}

/* A later loop turn: tell the plugin, then free the hold. */
static void
host_hold_fire(uv_timer_t *t)
{
    struct host_hold *hold = t->data;

    host_hold_unlink(hold);
    if (!hold->is_fired && hold->cb) {
        hold->is_fired = true;
        hold->cb(hold->arg, hold->status);
    }
    uv_close((uv_handle_t *)&hold->timer, host_hold_closed);
}

/* The sink is done with @hold. */
void
host_hold_release(struct host_hold *hold, int status)
{
    if (!hold || hold->is_released)
        return;
    hold->is_released = true;
    hold->status = status;
    if (hold->is_fired) { /* cancelled before: nothing more to tell */
        host_hold_unlink(hold);
        uv_close((uv_handle_t *)&hold->timer, host_hold_closed);
        return;
    }
    uv_timer_start(&hold->timer, host_hold_fire, 0, 0);
}

/* The plugin is about to close: every owed completion says so now. */
void
host_holds_cancel(struct ab_host *h)
{
    for (struct host_hold *hold = h->holds; hold; hold = hold->next) {
        if (hold->is_fired)
            continue;
        hold->is_fired = true;
        if (hold->cb)
            hold->cb(hold->arg, AB_ECANCELED);
    }
}

/* service (1.3): an inbound message whose ack the plugin holds until it is recorded. */
static int
host_deliver_held(struct ab_host *h, const struct ab_inbound *msg,
                  void (*cb)(void *arg, int status), void *arg)
{
    struct host_hold *hold;
    struct ab_inbound full;
    int rc;

    if (!msg || msg->size < offsetof(struct ab_inbound, thread_is_ours) || !cb)
        return AB_EINVAL;
    host_copy_in(&full, sizeof(full), msg, msg->size);
    msg = &full;
    if (!h->sink.deliver_held) {
        if ((rc = host_deliver(h, msg)) < 0)
            return rc;
    }
    if (!(hold = calloc(1, sizeof(*hold))))
        return AB_ENOMEM;
    uv_timer_init(h->loop, &hold->timer);
    hold->timer.data = hold;
    hold->h = h;
    hold->cb = cb;
    hold->arg = arg;
    hold->next = h->holds;
    if (h->holds)
        h->holds->prev = hold;
    h->holds = hold;
    if (!h->sink.deliver_held) {
        host_hold_release(hold, 0);
        return 0;
    }
    if ((rc = h->sink.deliver_held(h->sink.arg, h, msg, hold)) < 0) {
        hold->is_fired = true; /* the plugin hears of it through the return value */
        host_hold_release(hold, rc);
    }
    return rc;
}

/* service: a reaction to the engine, as a full-size host copy. */
static int
host_deliver_reaction(struct ab_host *h, const struct ab_reaction_event *ev)
{
    struct ab_reaction_event full;

    if (!ev || ev->size < offsetof(struct ab_reaction_event, added))
        return AB_EINVAL;
    host_copy_in(&full, sizeof(full), ev, ev->size);
    return h->sink.deliver_reaction ? h->sink.deliver_reaction(h->sink.arg, h, &full) : AB_ENOTSUP;
}

/* service: the core's commands (ABI 1.3). */
static int
host_commands_list(struct ab_host *h, const struct ab_command_info **out, size_t *count)
{
    if (!h || !out || !count)
        return AB_EINVAL;
    *out = NULL;
    *count = 0;
    return h->sink.commands_list ? h->sink.commands_list(h->sink.arg, out, count) : AB_ENOTSUP;
}

/* service: a native command to the engine, as full-size host copies (ABI 1.3). */
static int
host_deliver_command(struct ab_host *h, const struct ab_command_event *ev)
{
    struct ab_command_event full;
    struct ab_inbound where;

    if (!h || !ev || ev->size < offsetof(struct ab_command_event, reply_token) + sizeof(char *))
        return AB_EINVAL;
    host_copy_in(&full, sizeof(full), ev, ev->size);
    if (!full.where || full.where->size < offsetof(struct ab_inbound, thread_is_ours) ||
        !full.name || !full.reply_token)
        return AB_EINVAL;
    host_copy_in(&where, sizeof(where), full.where, full.where->size);
    full.where = &where;
    return h->sink.deliver_command ? h->sink.deliver_command(h->sink.arg, h, &full) : AB_ENOTSUP;
}

/* service: connection state for /readyz. */
static void
host_set_connected(struct ab_host *h, bool connected, const char *detail)
{
    char *copy = detail ? strdup(detail) : NULL;

    if (connected != h->connected)
        log_info(h->component, "%s%s%s", connected ? "connected" : "not connected",
                 detail ? ": " : "", detail ? detail : "");
    free(h->detail);
    h->detail = copy;
    if (connected != h->connected)
        h->changed_ms = uv_now(h->loop);
    h->connected = connected;
    if (h->sink.connected)
        h->sink.connected(h->sink.arg, h, connected, detail);
}

/* service: the plugin gave up for good; it is reported not connected with @why. */
static void
host_fatal(struct ab_host *h, int status, const char *why)
{
    log_error(h->component, "stopped for good: %s (%s)", why ? why : "no reason given",
              ab_strerror(status));
    host_set_connected(h, false, why);
    if (h->sink.fatal)
        h->sink.fatal(h->sink.arg, h, status, why);
}

/* service: rate-limit facts to the core's limiter. */
static void
host_rate_report(struct ab_host *h, const struct ab_rate_info *info)
{
    if (info && host_sched_take_report(h, info))
        return;
    if (info && h->sink.rate_report)
        h->sink.rate_report(h->sink.arg, h, info);
}

/* The file for a state key, or an error for keys that are not file-name safe. */
static int
host_state_path(struct ab_host *h, const char *key, char *path, size_t cap)
{
    if (!h->state_dir)
        return AB_ENOTSUP;
    if (!state_key_valid(key))
        return AB_EINVAL;
    if ((size_t)snprintf(path, cap, "%s/%s", h->state_dir, key) >= cap)
        return AB_EINVAL;
    return 0;
}

/* The writer of the state file at @path, or NULL. */
static struct host_state *
host_state_find(struct ab_host *h, const char *path)
{
    for (struct host_state *s = h->states; s; s = s->next)
        if (strcmp(state_writer_path(s->writer), path) == 0)
            return s;
    return NULL;
}

/* service: read durable state; a write still on its way is read back as written. */
static int
host_state_get(struct ab_host *h, const char *key, char **out, size_t *len)
{
    char path[PATH_MAX];
    int rc = host_state_path(h, key, path, sizeof(path));
    struct host_state *s;
    const char *pending;

    if (rc < 0)
        return rc;
    if ((s = host_state_find(h, path)) && (pending = state_writer_pending(s->writer, len))) {
        if (!(*out = malloc(*len + 1)))
            return AB_ENOMEM;
        memcpy(*out, pending, *len);
        (*out)[*len] = '\0';
        return 0;
    }
    return state_file_read(path, out, len);
}

/* service: write durable state atomically, off the loop thread (fsync blocks). */
static int
host_state_put(struct ab_host *h, const char *key, const void *data, size_t len)
{
    char path[PATH_MAX];
    int rc = host_state_path(h, key, path, sizeof(path));
    struct host_state *s;
    char *copy;

    if (rc < 0)
        return rc;
    if (!(s = host_state_find(h, path))) {
        if ((rc = state_dir_ensure(h->state_dir)) < 0)
            return rc;
        if (!(s = calloc(1, sizeof(*s))))
            return AB_ENOMEM;
        if ((rc = state_writer_open(h->loop, path, &s->writer)) < 0) {
            free(s);
            return rc;
        }
        s->next = h->states;
        h->states = s;
    }
    if (!(copy = malloc(len + 1)))
        return AB_ENOMEM;
    memcpy(copy, data, len);
    copy[len] = '\0';
    return state_writer_put(s->writer, copy, len);
}

/* uv poll callback → plugin callback (errors and hang-ups too: read() tells). */
static void
host_fd_polled(uv_poll_t *handle, int status, int events)
{
    struct ab_fd_watch *w = handle->data;

    (void)status;
    (void)events;
    w->cb(w->arg);
}

/* Regular files: offer a read on every loop turn. */
static void
host_fd_idle(uv_idle_t *handle)
{
    struct ab_fd_watch *w = handle->data;

    w->cb(w->arg);
}

/* service: watch an fd for readability. */
static int
host_fd_watch(struct ab_host *h, int fd, ab_fd_cb cb, void *arg, struct ab_fd_watch **out)
{
    struct ab_fd_watch *w = calloc(1, sizeof(*w));
    struct stat st;
    int rc;

    if (!w)
        return AB_ENOMEM;
    w->cb = cb;
    w->arg = arg;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        w->is_idle = true;
        uv_idle_init(h->loop, &w->h.idle);
        w->h.idle.data = w;
        uv_idle_start(&w->h.idle, host_fd_idle);
    } else {
        if ((rc = uv_poll_init(h->loop, &w->h.poll, fd)) < 0) {
            free(w);
            return rc;
        }
        w->h.poll.data = w;
        if ((rc = uv_poll_start(&w->h.poll, UV_READABLE | UV_DISCONNECT, host_fd_polled)) < 0) {
            uv_close((uv_handle_t *)&w->h.poll, (uv_close_cb)free);
            return rc;
        }
    }
    *out = w;
    return 0;
}

/* service: stop watching. */
static void
host_fd_unwatch(struct ab_fd_watch *w)
{
    if (!w)
        return;
    if (w->is_idle) {
        uv_idle_stop(&w->h.idle);
        uv_close((uv_handle_t *)&w->h.idle, (uv_close_cb)free);
    } else {
        uv_poll_stop(&w->h.poll);
        uv_close((uv_handle_t *)&w->h.poll, (uv_close_cb)free);
    }
}

/* The policy for a plugin's request: its config's ca_file and insecure keys. */
static int
host_net_policy(struct ab_host *h, struct net_policy *pol)
{
    int rc;

    memset(pol, 0, sizeof(*pol));
    pol->owner = h;
    if ((rc = host_config_string(h, "ca_file", NULL, &pol->ca_file)) < 0)
        return rc;
    return host_config_bool(h, "insecure", false, &pol->insecure);
}

/* The shared HTTP client (made on first use) and @h's policy for a request. */
static int
host_http_ready(struct ab_host *h, struct net_policy *pol)
{
    int rc;

    if (!h || h->loop != host_net.loop)
        return AB_EINVAL;
    if ((rc = host_net_policy(h, pol)) < 0)
        return rc;
    if (!host_net.http && (rc = http_client_new(h->loop, NULL, &host_net.http)) < 0)
        return rc;
    return 0;
}

/* service: an HTTP request on the shared client. */
int
host_http_request(struct ab_host *h, const struct ab_http_request *req, ab_http_cb cb, void *arg,
                  struct ab_http **out)
{
    struct net_policy pol;
    int rc = host_http_ready(h, &pol);

    return rc < 0 ? rc : http_client_request(host_net.http, req, &pol, cb, arg, out);
}

/* service: an HTTP download into a file on the shared client. */
static int
host_http_download(struct ab_host *h, const struct ab_http_request *req, const char *path,
                   uint64_t max_bytes, ab_http_cb cb, void *arg, struct ab_http **out)
{
    struct net_policy pol;
    int rc = host_http_ready(h, &pol);

    return rc < 0 ? rc
                  : http_client_download(host_net.http, req, &pol, path, max_bytes, cb, arg, out);
}

/* service: a multipart upload on the shared client. */
static int
host_http_upload(struct ab_host *h, const struct ab_http_request *req,
                 const struct ab_form_part *parts, size_t nparts, ab_http_cb cb, void *arg,
                 struct ab_http **out)
{
    struct net_policy pol;
    int rc = host_http_ready(h, &pol);

    return rc < 0 ? rc : http_client_upload(host_net.http, req, &pol, parts, nparts, cb, arg, out);
}

/* service: abandon a request. */
static void
host_http_cancel(struct ab_http *req)
{
    http_client_cancel(req);
}

/* service: open a WebSocket on the shared client. */
static int
host_ws_connect(struct ab_host *h, const struct ab_ws_options *opt,
                const struct ab_ws_callbacks *cb, void *arg, struct ab_ws **out)
{
    struct net_policy pol;
    int rc;

    if (!h || h->loop != host_net.loop)
        return AB_EINVAL;
    if (host_net.ws_closing)
        return AB_ECLOSED; /* lws allows one context per process, not one per restart */
    if ((rc = host_net_policy(h, &pol)) < 0)
        return rc;
    if (!host_net.ws && (rc = ws_client_new(h->loop, &host_net.ws)) < 0)
        return rc;
    return ws_client_connect(host_net.ws, opt, &pol, cb, arg, out);
}

/* service: queue a text message. */
static int
host_ws_send(struct ab_ws *ws, const char *data, size_t len)
{
    return ws_client_send(ws, data, len);
}

/* service: close a WebSocket with a code. */
static int
host_ws_close(struct ab_ws *ws, int code, const char *reason)
{
    return ws_client_disconnect(ws, code, reason);
}

/* The backoff state of @key, created on first use. */
static struct host_backoff *
host_backoff_find(struct ab_host *h, const char *key, bool create)
{
    struct host_backoff *b;

    for (b = h->backoffs; b; b = b->next)
        if (strcmp(b->key, key) == 0)
            return b;
    if (!create || !(b = calloc(1, sizeof(*b))))
        return NULL;
    if (!(b->key = strdup(key))) {
        free(b);
        return NULL;
    }
    backoff_init(&b->b, HOST_BACKOFF_BASE_MS, HOST_BACKOFF_CAP_MS);
    b->next = h->backoffs;
    h->backoffs = b;
    return b;
}

/* service: the next reconnect delay for a key. */
static uint64_t
host_backoff_next(struct ab_host *h, const char *key)
{
    struct host_backoff *b = h && key ? host_backoff_find(h, key, true) : NULL;

    if (h)
        h->reconnects++;
    if (!b) /* out of memory: still never hammer the server */
        return HOST_BACKOFF_CAP_MS;
    return backoff_next_ms(&b->b, backoff_rand_xorshift, &h->rand_state);
}

/* service: a connection proved good. */
static void
host_backoff_reset(struct ab_host *h, const char *key)
{
    struct host_backoff *b = h && key ? host_backoff_find(h, key, false) : NULL;

    if (b)
        backoff_reset(&b->b);
}

/* service: serve a path prefix on the daemon's ingress listener. */
static int
host_http_route_add(struct ab_host *h, const struct ab_http_route_options *opt, ab_http_route_cb cb,
                    void *arg, struct ab_http_route **out)
{
    struct ab_http_route_options o = {0};

    if (!h || !opt || !out)
        return AB_EINVAL;
    if (!host_net.ingress) {
        log_error(h->component, "needs inbound HTTP, and no [ingress] listen is configured: "
                                "set [ingress] listen = \"0.0.0.0:3978\" (for example)");
        return AB_ECONFIG;
    }
    host_copy_in(&o, sizeof(o), opt, opt->size);
    o.size = sizeof(o);
    return ingress_route_add(host_net.ingress, h, &o, cb, arg, out);
}

/* Lend the daemon's ingress listener to every plugin's http_route_add (NULL: none). */
void
host_set_ingress(struct ingress *in)
{
    host_net.ingress = in;
}

const struct ab_host_services host_services = {
    .size = sizeof(struct ab_host_services),
    .log = host_log,
    .config_string = host_config_string,
    .config_int = host_config_int,
    .config_bool = host_config_bool,
    .config_strings = host_config_strings,
    .add_secret = host_add_secret,
    .now_ms = host_now_ms,
    .timer_start = host_timer_start,
    .timer_stop = host_timer_stop,
    .deliver = host_deliver,
    .deliver_reaction = host_deliver_reaction,
    .set_connected = host_set_connected,
    .rate_report = host_rate_report,
    .state_get = host_state_get,
    .state_put = host_state_put,
    .fd_watch = host_fd_watch,
    .fd_unwatch = host_fd_unwatch,
    .http_request = host_http_request,
    .http_cancel = host_http_cancel,
    .ws_connect = host_ws_connect,
    .ws_send = host_ws_send,
    .ws_close = host_ws_close,
    .backoff_next = host_backoff_next,
    .backoff_reset = host_backoff_reset,
    .fatal = host_fatal,
    /* ABI 1.3: services */
    .defer = host_defer,
    .defer_cancel = host_defer_cancel,
    .utf8_count = utf8_count,
    .utf8_truncate = host_utf8_truncate,
    .md_walk = host_md_walk,
    .md_plain = host_md_plain,
    .deliver_held = host_deliver_held,
    /* ABI 1.3: inbound HTTP */
    .http_route_add = host_http_route_add,
    .http_route_remove = ingress_route_remove,
    .http_respond = ingress_respond,
    /* ABI 1.3: scheduled requests */
    .http_scheduled = host_http_scheduled,
    .http_scheduled_cancel = host_http_scheduled_cancel,
    /* ABI 1.3: native commands */
    .commands_list = host_commands_list,
    .deliver_command = host_deliver_command,
    /* ABI 1.3: attachments */
    .http_download = host_http_download,
    .http_upload = host_http_upload,
};

/* Make a host for one plugin instance. */
int
host_new(uv_loop_t *loop, const char *kind, const char *name, const struct toml_table *table,
         const char *state_root, const struct host_sink *sink, struct ab_host **out)
{
    struct ab_host *h = calloc(1, sizeof(*h));

    if (!h)
        return AB_ENOMEM;
    if (host_net.hosts > 0 && host_net.loop != loop) {
        free(h);
        return AB_EINVAL; /* one loop per process: the network clients live on it */
    }
    host_net.loop = loop;
    host_net.hosts++;
    h->loop = loop;
    h->rand_state = uv_hrtime() ^ (uint64_t)(uintptr_t)h;
    h->table = table;
    if (sink)
        h->sink = *sink;
    if (!(h->name = strdup(name)))
        goto fail;
    snprintf(h->component, sizeof(h->component), "%s-%s", kind, name);
    if (state_root && asprintf(&h->state_dir, "%s/plugins/%s", state_root, name) < 0) {
        h->state_dir = NULL;
        goto fail;
    }
    *out = h;
    return 0;

fail:
    host_free(h);
    return AB_ENOMEM;
}

/* Drop a freed host's network work; close the shared clients with the last host. */
static void
host_net_release(struct ab_host *h)
{
    http_client_cancel_owner(host_net.http, h);
    ws_client_abandon_owner(host_net.ws, h);
    ingress_remove_owner(host_net.ingress, h);
    if (--host_net.hosts > 0)
        return;
    http_client_close(host_net.http);
    host_net.http = NULL;
    if (host_net.ws) {
        ws_client_close(host_net.ws);
        if (ws_client_has_context(host_net.ws))
            host_net.ws_closing = host_net.ws;
        else
            ws_client_finish(host_net.ws); /* lws never started: nothing to wait for */
        host_net.ws = NULL;
    }
}

/* Finish the WebSocket client's two-step teardown. */
void
host_net_finish(void)
{
    ws_client_finish(host_net.ws_closing);
    host_net.ws_closing = NULL;
}

/* Free a host; warns about timers the plugin never released. */
void
host_free(struct ab_host *h)
{
    struct host_string_cache *c, *next;
    struct host_backoff *b, *bnext;

    if (!h)
        return;
    /* Holds the sink still has: they outlive the host and free themselves on release. */
    while (h->holds) {
        struct host_hold *hold = h->holds;
        h->holds = hold->next;
        hold->prev = hold->next = NULL;
        hold->h = NULL;
        hold->is_fired = true;
        if (hold->is_released) /* its callback was pending: it will not run */
            uv_close((uv_handle_t *)&hold->timer, host_hold_closed);
    }
    host_sched_cancel_all(h);
    host_net_release(h);
    host_defer_cancel_all(h);
    /* Pending state writes finish on the loop after the host is gone. */
    while (h->states) {
        struct host_state *s = h->states;
        h->states = s->next;
        state_writer_close(s->writer, NULL, NULL);
        free(s);
    }
    for (b = h->backoffs; b; b = bnext) {
        bnext = b->next;
        free(b->key);
        free(b);
    }
    if (h->open_timers > 0)
        log_warn(h->component, "closed with %d timer(s) never stopped", h->open_timers);
    for (c = h->cache; c; c = next) {
        next = c->next;
        free(c->key);
        free(c->items);
        free(c);
    }
    free(h->name);
    free(h->rl_scope);
    free(h->detail);
    free(h->state_dir);
    free(h);
}
