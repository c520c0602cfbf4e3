/* The fake plugin host: see plugin_host.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"

struct plugin_host_timer {
    struct plugin_host_timer *next;
    struct plugin_host *h;
    uint64_t at, repeat;
    ab_timer_cb cb;
    void *arg;
    bool is_active;
};

struct ab_http {
    struct ab_http *next;
    struct plugin_host *h;
    char *method, *url, *body;
    ab_http_cb cb;
    void *arg;
};

struct plugin_host_http {
    struct ab_http *first;
};

/* The fake host behind a plugin's handle. */
static struct plugin_host *
ph_of(struct ab_host *host)
{
    return (struct plugin_host *)(void *)host;
}

/* The handle to give the plugin's open(). */
struct ab_host *
plugin_host_handle(struct plugin_host *h)
{
    return (struct ab_host *)(void *)h;
}

/* A copy of @s, or NULL; every byte up to the terminator is read (ASan sees over-reads). */
static char *
ph_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Log: format the line (every argument is read) and keep the last one. */
__attribute__((format(printf, 3, 4))) static void
ph_log(struct ab_host *host, enum ab_log_level level, const char *fmt, ...)
{
    struct plugin_host *h = ph_of(host);
    char line[2048];
    va_list ap;

    (void)level;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    free(h->logs[h->logged % PLUGIN_HOST_KEEP]);
    h->logs[h->logged % PLUGIN_HOST_KEEP] = strdup(line);
    h->logged++;
    if (getenv("PLUGIN_HOST_LOG"))
        fprintf(stderr, "plugin: %s\n", line);
}

/* The value of config @key, or NULL. */
static const char *
ph_config(struct plugin_host *h, const char *key)
{
    for (size_t i = 0; h->config && h->config[i] && h->config[i + 1]; i += 2)
        if (strcmp(h->config[i], key) == 0)
            return h->config[i + 1];
    return NULL;
}

static int
ph_config_string(struct ab_host *host, const char *key, const char *def, const char **out)
{
    const char *v = ph_config(ph_of(host), key);

    *out = v ? v : def;
    return 0;
}

static int
ph_config_int(struct ab_host *host, const char *key, int64_t def, int64_t *out)
{
    const char *v = ph_config(ph_of(host), key);

    *out = v ? strtoll(v, NULL, 10) : def;
    return 0;
}

static int
ph_config_bool(struct ab_host *host, const char *key, bool def, bool *out)
{
    const char *v = ph_config(ph_of(host), key);

    *out = v ? strcmp(v, "true") == 0 : def;
    return 0;
}

static int
ph_config_strings(struct ab_host *host, const char *key, const char *const **out, size_t *count)
{
    static const char *const none[] = {NULL};

    (void)host;
    (void)key;
    *out = none;
    *count = 0;
    return 0;
}

static void
ph_add_secret(struct ab_host *host, const char *secret)
{
    (void)host;
    (void)strlen(secret);
}

static uint64_t
ph_now_ms(struct ab_host *host)
{
    return ph_of(host)->now;
}

static int
ph_timer_start(struct ab_host *host, uint64_t timeout_ms, uint64_t repeat_ms, ab_timer_cb cb,
               void *arg, struct ab_timer **out)
{
    struct plugin_host *h = ph_of(host);
    struct plugin_host_timer *t = calloc(1, sizeof(*t));

    if (!t)
        return AB_ENOMEM;
    t->h = h;
    t->at = h->now + timeout_ms;
    t->repeat = repeat_ms;
    t->cb = cb;
    t->arg = arg;
    t->is_active = true;
    t->next = h->timers;
    h->timers = t;
    *out = (struct ab_timer *)t;
    return 0;
}

static void
ph_timer_stop(struct ab_timer *timer)
{
    struct plugin_host_timer *t = (struct plugin_host_timer *)timer, **link;

    if (!t)
        return;
    for (link = &t->h->timers; *link && *link != t; link = &(*link)->next)
        ;
    if (*link)
        *link = t->next;
    free(t);
}

/* Free the strings of a kept delivery. */
static void
ph_inbound_clear(struct plugin_host_inbound *in)
{
    char **fields[] = {&in->conversation, &in->channel_id, &in->parent_id,   &in->message_id,
                       &in->event_id,     &in->sender_id,  &in->sender_name, &in->display_name,
                       &in->text,         &in->clean_text, &in->thread_id};

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}

/* Free the strings of a kept reaction. */
static void
ph_reaction_clear(struct plugin_host_reaction *r)
{
    char **fields[] = {&r->channel_id, &r->message_id, &r->conversation, &r->user_id, &r->emoji};

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}

static int
ph_deliver(struct ab_host *host, const struct ab_inbound *m)
{
    struct plugin_host *h = ph_of(host);
    struct plugin_host_inbound *in = &h->in[h->delivered % PLUGIN_HOST_KEEP];

    ph_inbound_clear(in);
    *in = (struct plugin_host_inbound){
        .conversation = ph_dup(m->conversation),
        .channel_id = ph_dup(m->channel_id),
        .parent_id = ph_dup(m->parent_id),
        .message_id = ph_dup(m->message_id),
        .event_id = ph_dup(m->event_id),
        .sender_id = ph_dup(m->sender_id),
        .sender_name = ph_dup(m->sender_name),
        .display_name = ph_dup(m->display_name),
        .text = ph_dup(m->text),
        .clean_text = ph_dup(m->clean_text),
        .thread_id = ph_dup(m->thread_id),
        .role_count = m->role_count,
        .is_thread = m->is_thread,
        .is_dm = m->is_dm,
        .is_bot = m->is_bot,
        .is_unresolved = AB_HAS(m, struct ab_inbound, is_unresolved) && m->is_unresolved,
        .is_self = m->is_self,
        .mentions_bot = m->mentions_bot,
        .is_human_turn = m->is_human_turn,
        .thread_is_ours = m->thread_is_ours,
    };
    for (size_t i = 0; i < m->role_count; i++)
        (void)strlen(m->role_ids[i]);
    h->delivered++;
    return 0;
}

static int
ph_deliver_reaction(struct ab_host *host, const struct ab_reaction_event *ev)
{
    struct plugin_host *h = ph_of(host);
    struct plugin_host_reaction *r = &h->re[h->reacted % PLUGIN_HOST_KEEP];

    ph_reaction_clear(r);
    *r = (struct plugin_host_reaction){
        .channel_id = ph_dup(ev->msg.channel_id),
        .message_id = ph_dup(ev->msg.message_id),
        .conversation = ph_dup(ev->conversation),
        .user_id = ph_dup(ev->user_id),
        .emoji = ph_dup(ev->emoji),
        .added = ev->added,
        .is_self = ev->is_self,
    };
    h->reacted++;
    return 0;
}

static void
ph_set_connected(struct ab_host *host, bool connected, const char *detail)
{
    ph_of(host)->connected = connected;
    (void)strlen(detail);
}

static void
ph_rate_report(struct ab_host *host, const struct ab_rate_info *info)
{
    struct plugin_host *h = ph_of(host);

    if (info->bucket)
        (void)strlen(info->bucket);
    if (AB_HAS(info, struct ab_rate_info, op) && info->op && info->op == (void *)h->judging) {
        h->sched_facts++;
        h->sched_retry_after_ms = info->retry_after_ms;
    }
}

static int
ph_state_get(struct ab_host *host, const char *key, char **out, size_t *len)
{
    struct plugin_host *h = ph_of(host);

    if (!h->state_key || strcmp(h->state_key, key) != 0 || !h->state_value)
        return AB_ENOENT;
    if (!(*out = strdup(h->state_value)))
        return AB_ENOMEM;
    *len = strlen(*out);
    return 0;
}

static int
ph_state_put(struct ab_host *host, const char *key, const void *data, size_t len)
{
    struct plugin_host *h = ph_of(host);
    char *k = strdup(key), *v = malloc(len + 1);

    if (!k || !v) {
        free(k);
        free(v);
        return AB_ENOMEM;
    }
    memcpy(v, data, len);
    v[len] = '\0';
    free(h->state_key);
    free(h->state_value);
    h->state_key = k;
    h->state_value = v;
    return 0;
}

static int
ph_fd_watch(struct ab_host *host, int fd, ab_fd_cb cb, void *arg, struct ab_fd_watch **out)
{
    (void)host, (void)fd, (void)cb, (void)arg, (void)out;
    return AB_ENOTSUP;
}

static void
ph_fd_unwatch(struct ab_fd_watch *w)
{
    (void)w;
}

static int
ph_http_request(struct ab_host *host, const struct ab_http_request *req, ab_http_cb cb, void *arg,
                struct ab_http **out)
{
    struct plugin_host *h = ph_of(host);
    struct ab_http *r = calloc(1, sizeof(*r)), **link;

    if (!r)
        return AB_ENOMEM;
    r->h = h;
    r->method = strdup(req->method ? req->method : "GET");
    r->url = strdup(req->url);
    r->body = req->body ? strndup(req->body, req->body_len) : NULL;
    r->cb = cb;
    r->arg = arg;
    for (size_t i = 0; req->headers && req->headers[i]; i++)
        (void)strlen(req->headers[i]);
    free(h->last_url);
    h->last_url = strdup(req->url);
    h->http_count++;
    for (link = &h->https->first; *link; link = &(*link)->next)
        ; /* oldest first */
    *link = r;
    *out = r;
    return 0;
}

/* Unlink and free @r. */
static void
ph_http_free(struct ab_http *r)
{
    struct ab_http **link;

    for (link = &r->h->https->first; *link && *link != r; link = &(*link)->next)
        ;
    if (*link)
        *link = r->next;
    free(r->method);
    free(r->url);
    free(r->body);
    free(r);
}

static void
ph_http_cancel(struct ab_http *r)
{
    if (r)
        ph_http_free(r);
}

/* One http_scheduled call: performed at once (the fake has no scheduler to wait in), its
 * answers judged, a 429 retried after its reported retry_after and a 5xx or transport
 * error after 500 ms on the virtual clock, at most PH_SCHED_ATTEMPTS tries. */
#define PH_SCHED_ATTEMPTS 4
struct ab_http_sched {
    struct plugin_host *h;
    struct ab_http_request req; /* strings point at the copies below */
    char *method, *url, *body;
    ab_http_judge_cb judge;
    ab_http_cb cb;
    void *arg;
    struct ab_http *http;   /* the attempt in flight, or NULL */
    struct ab_timer *retry; /* the wait before the next attempt, or NULL */
    int attempts;
};

static void ph_sched_answered(void *arg, const struct ab_http_response *resp);

/* Free a scheduled call and whatever of it is pending. */
static void
ph_sched_free(struct ab_http_sched *q)
{
    ph_http_cancel(q->http);
    ph_timer_stop(q->retry);
    free(q->method);
    free(q->url);
    free(q->body);
    free(q);
}

/* Start the next attempt; false when it could not start. */
static bool
ph_sched_attempt(struct ab_http_sched *q)
{
    q->attempts++;
    return ph_http_request(plugin_host_handle(q->h), &q->req, ph_sched_answered, q, &q->http) == 0;
}

/* The retry wait is over. */
static void
ph_sched_retry(void *arg)
{
    struct ab_http_sched *q = arg;
    struct ab_http_response none = {.size = sizeof(none),
                                    .error = AB_ENOMEM,
                                    .error_text = "",
                                    .body = "",
                                    .ratelimit_remaining = -1};

    ph_timer_stop(q->retry);
    q->retry = NULL;
    if (!ph_sched_attempt(q)) {
        ab_http_cb cb = q->cb;
        void *cb_arg = q->arg;
        ph_sched_free(q);
        cb(cb_arg, &none);
    }
}

/* An attempt's answer: judge it, retry or hand it over. */
static void
ph_sched_answered(void *arg, const struct ab_http_response *resp)
{
    struct ab_http_sched *q = arg;
    struct plugin_host *h = q->h;
    int status = resp->error;
    uint64_t wait = 500;

    q->http = NULL;
    h->sched_retry_after_ms = 0;
    if (!status && q->judge) {
        h->judging = q;
        status = q->judge(q->arg, q, resp);
        h->judging = NULL;
    } else if (!status) {
        status = resp->status == 429 ? AB_ERATELIMIT : resp->status >= 500 ? AB_EIO : 0;
    }
    if (status == AB_ERATELIMIT)
        wait = h->sched_retry_after_ms ? h->sched_retry_after_ms : 1000;
    if ((status == AB_ERATELIMIT || status == AB_EIO || status == AB_ETIMEDOUT) &&
        q->attempts < PH_SCHED_ATTEMPTS &&
        ph_timer_start(plugin_host_handle(h), wait, 0, ph_sched_retry, q, &q->retry) == 0) {
        h->sched_retries++;
        return;
    }
    ab_http_cb cb = q->cb;
    void *cb_arg = q->arg;
    ph_sched_free(q);
    cb(cb_arg, resp);
}

/* http_scheduled: record the route, copy the request, start the first attempt. */
static int
ph_http_scheduled(struct ab_host *host, const char *route, const struct ab_http_request *req,
                  ab_http_judge_cb judge, ab_http_cb cb, void *arg, struct ab_http_sched **out)
{
    struct plugin_host *h = ph_of(host);
    struct ab_http_sched *q;

    if (!route || !*route || !req || !req->url || !cb || !out)
        return AB_EINVAL;
    if (!(q = calloc(1, sizeof(*q))))
        return AB_ENOMEM;
    *q = (struct ab_http_sched){.h = h, .req = *req, .judge = judge, .cb = cb, .arg = arg};
    q->method = ph_dup(req->method ? req->method : "GET");
    q->url = ph_dup(req->url);
    q->body = req->body ? strndup(req->body, req->body_len) : NULL;
    q->req.method = q->method;
    q->req.url = q->url;
    q->req.body = q->body;
    q->req.headers = NULL; /* read (and checked) by the first attempt only */
    for (size_t i = 0; req->headers && req->headers[i]; i++)
        (void)strlen(req->headers[i]);
    if (!q->method || !q->url || (req->body && !q->body) || !ph_sched_attempt(q)) {
        ph_sched_free(q);
        return AB_ENOMEM;
    }
    free(h->last_route);
    h->last_route = ph_dup(route);
    h->sched_count++;
    *out = q;
    return 0;
}

/* http_scheduled_cancel: the callback will not run. */
static void
ph_http_scheduled_cancel(struct ab_http_sched *q)
{
    if (q)
        ph_sched_free(q);
}

static int
ph_ws_connect(struct ab_host *host, const struct ab_ws_options *opt,
              const struct ab_ws_callbacks *cb, void *arg, struct ab_ws **out)
{
    struct plugin_host *h = ph_of(host);
    struct ab_ws *ws = calloc(1, sizeof(*ws));

    if (!ws || !(ws->url = strdup(opt->url))) {
        free(ws);
        return AB_ENOMEM;
    }
    ws->h = h;
    memcpy(&ws->cbs, cb, cb->size < sizeof(ws->cbs) ? cb->size : sizeof(ws->cbs));
    ws->arg = arg;
    ws->next = h->wss;
    h->wss = ws;
    *out = ws;
    return 0;
}

static int
ph_ws_send(struct ab_ws *ws, const char *data, size_t len)
{
    struct plugin_host *h = ws->h;

    if (ws->is_closing || ws->is_closed)
        return AB_ECLOSED;
    free(h->last_frame);
    h->last_frame = strndup(data, len);
    h->sent_frames++;
    return 0;
}

static int
ph_ws_close(struct ab_ws *ws, int code, const char *reason)
{
    (void)strlen(reason);
    if (ws->is_closing || ws->is_closed)
        return AB_ECLOSED;
    ws->is_closing = true;
    ws->close_code = code;
    return 0;
}

static uint64_t
ph_backoff_next(struct ab_host *host, const char *key)
{
    (void)host;
    (void)strlen(key);
    return 1000;
}

static void
ph_backoff_reset(struct ab_host *host, const char *key)
{
    (void)host;
    (void)strlen(key);
}

static void
ph_fatal(struct ab_host *host, int status, const char *why)
{
    (void)status;
    (void)strlen(why);
    ph_of(host)->fatal_count++;
}

/* defer: a 0 ms virtual timer, run when the test next advances the clock. */
static int
ph_defer(struct ab_host *host, ab_defer_cb cb, void *arg, struct ab_defer **out)
{
    struct ab_timer *t;
    int rc = ph_timer_start(host, 0, 0, cb, arg, &t);

    if (rc == 0 && out)
        *out = (struct ab_defer *)t;
    return rc;
}

/* defer_cancel: drop the timer. */
static void
ph_defer_cancel(struct ab_defer *d)
{
    ph_timer_stop((struct ab_timer *)d);
}

/* utf8_count: bytes that do not continue a sequence. */
static size_t
ph_utf8_count(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* utf8_truncate: whole code points within both limits (graphemes not considered). */
static size_t
ph_utf8_truncate(const char *s, size_t len, size_t max_chars, size_t max_bytes, unsigned flags)
{
    size_t i = 0, chars = 0;

    (void)flags;
    while (i < len && chars < max_chars) {
        size_t j = i + 1;
        while (j < len && ((unsigned char)s[j] & 0xC0) == 0x80)
            j++;
        if (j > max_bytes)
            break;
        i = j;
        chars++;
    }
    return i;
}

/* md_walk / md_plain: no Markdown parser in the fake host; callers must cope. */
static int
ph_md_walk(struct ab_host *h, const char *md, size_t len, const struct ab_md_visitor *v, void *arg)
{
    (void)h, (void)md, (void)len, (void)v, (void)arg;
    return AB_ENOTSUP;
}

static int
ph_md_plain(struct ab_host *h, const char *md, size_t len, char **out)
{
    (void)h, (void)md, (void)len, (void)out;
    return AB_ENOTSUP;
}

/* http_download: no files in the fake host; callers must cope. */
static int
ph_http_download(struct ab_host *h, const struct ab_http_request *req, const char *path,
                 uint64_t max_bytes, ab_http_cb cb, void *arg, struct ab_http **out)
{
    (void)h, (void)req, (void)path, (void)max_bytes, (void)cb, (void)arg, (void)out;
    return AB_ENOTSUP;
}

/* http_upload: no multipart bodies in the fake host; callers must cope. */
static int
ph_http_upload(struct ab_host *h, const struct ab_http_request *req,
               const struct ab_form_part *parts, size_t nparts, ab_http_cb cb, void *arg,
               struct ab_http **out)
{
    (void)h, (void)req, (void)parts, (void)nparts, (void)cb, (void)arg, (void)out;
    return AB_ENOTSUP;
}

/* A held delivery's completion, run on a later virtual tick. */
struct ph_held {
    void (*cb)(void *arg, int status);
    void *arg;
};

/* Report the held message recorded. */
static void
ph_held_done(void *arg)
{
    struct ph_held *held = arg;

    held->cb(held->arg, 0);
    free(held);
}

/* deliver_held: deliver, then say "recorded" on the next tick. */
static int
ph_deliver_held(struct ab_host *host, const struct ab_inbound *m, void (*cb)(void *, int),
                void *arg)
{
    struct ph_held *held;
    struct ab_timer *t;
    int rc;

    if ((rc = ph_deliver(host, m)) < 0)
        return rc;
    if (!(held = malloc(sizeof(*held))))
        return AB_ENOMEM;
    held->cb = cb;
    held->arg = arg;
    if ((rc = ph_timer_start(host, 0, 0, ph_held_done, held, &t)) < 0)
        free(held);
    return rc;
}

/* The plugin's route in the fake host. */
struct ab_http_route {
    struct plugin_host *h;
    char *prefix;
    ab_http_route_cb cb;
    void *arg;
};

/* One request handed to the route, until answered. */
struct ab_http_exchange {
    struct plugin_host *h;
    struct ab_http_exchange *next; /* in h->exchanges */
};

/* Take @ex off its host's list and free it. */
static void
ph_exchange_free(struct ab_http_exchange *ex)
{
    for (struct ab_http_exchange **link = &ex->h->exchanges; *link; link = &(*link)->next)
        if (*link == ex) {
            *link = ex->next;
            break;
        }
    free(ex);
}

/* http_route_add: one route per fake host. */
static int
ph_http_route_add(struct ab_host *host, const struct ab_http_route_options *opt,
                  ab_http_route_cb cb, void *arg, struct ab_http_route **out)
{
    struct plugin_host *h = (struct plugin_host *)host;
    struct ab_http_route *r;

    if (!opt || !opt->prefix || opt->prefix[0] != '/' || !cb)
        return AB_EINVAL;
    if (h->route)
        return AB_EEXIST;
    if (!(r = calloc(1, sizeof(*r))) || !(r->prefix = strdup(opt->prefix))) {
        free(r);
        return AB_ENOMEM;
    }
    r->h = h;
    r->cb = cb;
    r->arg = arg;
    h->route = *out = r;
    return 0;
}

/* http_route_remove. */
static void
ph_http_route_remove(struct ab_http_route *r)
{
    if (!r)
        return;
    while (r->h->exchanges) /* the real host answers what the route still holds (503) */
        ph_exchange_free(r->h->exchanges);
    r->h->route = NULL;
    free(r->prefix);
    free(r);
}

/* http_respond: record the answer. */
static int
ph_http_respond(struct ab_http_exchange *ex, int status, const char *const *headers,
                const char *body, size_t len)
{
    struct plugin_host *h = ex->h;

    (void)headers;
    ph_exchange_free(ex);
    h->answered_status = status;
    free(h->answered_body);
    h->answered_body = strndup(body ? body : "", len);
    return status < 100 || status > 599 ? AB_EINVAL : 0;
}

/* Hand one request to the route. */
int
plugin_host_http_in(struct plugin_host *h, const char *method, const char *path,
                    const char *const *headers, const char *body, size_t len)
{
    struct ab_http_header hdrs[16];
    size_t n = 0;
    struct ab_http_exchange *ex;
    char *copy;

    if (!h->route || strncmp(path, h->route->prefix, strlen(h->route->prefix)))
        return AB_ENOENT;
    for (; headers && headers[2 * n] && n < 16; n++)
        hdrs[n] = (struct ab_http_header){headers[2 * n], headers[2 * n + 1]};
    if (!(ex = calloc(1, sizeof(*ex))) || !(copy = malloc(len + 1))) {
        free(ex);
        return AB_ENOMEM;
    }
    if (len)
        memcpy(copy, body, len); /* NUL bytes too: the listener hands the body as sent */
    copy[len] = '\0';
    ex->h = h;
    ex->next = h->exchanges;
    h->exchanges = ex;
    h->answered_status = 0;
    h->route->cb(h->route->arg, ex,
                 &(struct ab_http_inbound){.size = sizeof(struct ab_http_inbound),
                                           .method = method,
                                           .path = path,
                                           .headers = hdrs,
                                           .header_count = n,
                                           .body = copy,
                                           .body_len = len,
                                           .peer = "127.0.0.1"});
    free(copy);
    return 0;
}

/* commands_list: a fixed list like the core's (two of them). */
static int
ph_commands_list(struct ab_host *host, const struct ab_command_info **out, size_t *count)
{
    static const struct ab_command_info list[] = {
        {sizeof(struct ab_command_info), "reset", NULL, "end this conversation's session"},
        {sizeof(struct ab_command_info), "model", "NAME", "list or switch models"},
    };

    (void)host;
    *out = list;
    *count = sizeof(list) / sizeof(list[0]);
    return 0;
}

/* deliver_command: count it and keep its name, args and reply token. */
static int
ph_deliver_command(struct ab_host *host, const struct ab_command_event *ev)
{
    struct plugin_host *h = (struct plugin_host *)host;

    if (!ev || !ev->where || !ev->name || !ev->reply_token)
        return AB_EINVAL;
    h->commands++;
    snprintf(h->last_command, sizeof(h->last_command), "%s", ev->name);
    snprintf(h->last_command_arg, sizeof(h->last_command_arg), "%s", ev->args ? ev->args : "");
    snprintf(h->last_reply_token, sizeof(h->last_reply_token), "%s", ev->reply_token);
    return 0;
}

/* Fill the services table. */
void
plugin_host_init(struct plugin_host *h, const char *const *config)
{
    memset(h, 0, sizeof(*h));
    h->svc = (struct ab_host_services){
        .size = sizeof(struct ab_host_services),
        .log = ph_log,
        .config_string = ph_config_string,
        .config_int = ph_config_int,
        .config_bool = ph_config_bool,
        .config_strings = ph_config_strings,
        .add_secret = ph_add_secret,
        .now_ms = ph_now_ms,
        .timer_start = ph_timer_start,
        .timer_stop = ph_timer_stop,
        .deliver = ph_deliver,
        .deliver_reaction = ph_deliver_reaction,
        .set_connected = ph_set_connected,
        .rate_report = ph_rate_report,
        .state_get = ph_state_get,
        .state_put = ph_state_put,
        .fd_watch = ph_fd_watch,
        .fd_unwatch = ph_fd_unwatch,
        .http_request = ph_http_request,
        .http_cancel = ph_http_cancel,
        .ws_connect = ph_ws_connect,
        .ws_send = ph_ws_send,
        .ws_close = ph_ws_close,
        .backoff_next = ph_backoff_next,
        .backoff_reset = ph_backoff_reset,
        .fatal = ph_fatal,
        .defer = ph_defer,
        .defer_cancel = ph_defer_cancel,
        .utf8_count = ph_utf8_count,
        .utf8_truncate = ph_utf8_truncate,
        .md_walk = ph_md_walk,
        .md_plain = ph_md_plain,
        .deliver_held = ph_deliver_held,
        .http_route_add = ph_http_route_add,
        .http_route_remove = ph_http_route_remove,
        .http_respond = ph_http_respond,
        .http_scheduled = ph_http_scheduled,
        .http_scheduled_cancel = ph_http_scheduled_cancel,
        .commands_list = ph_commands_list,
        .deliver_command = ph_deliver_command,
        .http_download = ph_http_download,
        .http_upload = ph_http_upload,
    };
    h->config = config;
    h->https = calloc(1, sizeof(*h->https));
    h->now = 1000000;
}

/* Answer the oldest pending HTTP request; false when none could be answered. */
static bool
ph_answer_one(struct plugin_host *h)
{
    struct ab_http *r = h->https->first;
    const char *body = NULL;
    const char *const *hdrs = NULL;
    struct ab_http_header headers[16];
    size_t nh = 0;
    long status = 0;

    if (r && h->queued_status) {
        status = h->queued_status;
        body = h->queued_body;
        h->queued_status = 0;
    } else if (!r || !h->respond ||
               !h->respond(h->respond_arg, r->method, r->url, r->body, &status, &body, &hdrs)) {
        return false;
    }
    for (; hdrs && nh < 16 && hdrs[2 * nh] && hdrs[2 * nh + 1]; nh++)
        headers[nh] = (struct ab_http_header){hdrs[2 * nh], hdrs[2 * nh + 1]};
    struct ab_http_response resp = {
        .size = sizeof(resp),
        .error = status ? 0 : AB_EIO,
        .error_text = status ? "" : "connection refused",
        .status = status,
        .headers = headers,
        .header_count = nh,
        .body = body ? body : "",
        .body_len = body ? strlen(body) : 0,
        .ratelimit_remaining = -1,
    };
    resp.ratelimit_bucket = ab_http_header(&resp, "X-RateLimit-Bucket");
    ab_http_cb cb = r->cb;
    void *arg = r->arg;
    ph_http_free(r); /* the handle is done before the callback, as the real host */
    cb(arg, &resp);
    if (body && body == h->queued_body && !h->queued_status) {
        free(h->queued_body);
        h->queued_body = NULL;
    }
    return true;
}

/* Fire the earliest timer due by @until; false when none. */
static bool
ph_fire_one(struct plugin_host *h, uint64_t until)
{
    struct plugin_host_timer *t, *best = NULL;

    for (t = h->timers; t; t = t->next)
        if (t->is_active && t->at <= until && (!best || t->at < best->at))
            best = t;
    if (!best)
        return false;
    if (best->at > h->now)
        h->now = best->at;
    if (best->repeat)
        best->at = h->now + best->repeat;
    else
        best->is_active = false;
    best->cb(best->arg);
    return true;
}

/* Finish one socket the plugin is closing: its on_close, as the real host does. */
static bool
ph_close_one(struct plugin_host *h)
{
    for (struct ab_ws *ws = h->wss; ws; ws = ws->next)
        if (ws->is_closing && !ws->is_closed) {
            ws->is_closed = true;
            ws->cbs.on_close(ws->arg, ws, ws->close_code, "closed by the plugin", true);
            return true;
        }
    return false;
}

void
plugin_host_run(struct plugin_host *h, uint64_t advance_ms, int rounds)
{
    uint64_t until = h->now + advance_ms;

    for (int i = 0; i < rounds; i++)
        if (!ph_answer_one(h) && !ph_close_one(h) && !ph_fire_one(h, until))
            break;
    if (h->now < until)
        h->now = until;
}

struct ab_ws *
plugin_host_ws(struct plugin_host *h)
{
    for (struct ab_ws *ws = h->wss; ws; ws = ws->next)
        if (!ws->is_closed && !ws->is_closing)
            return ws;
    return NULL;
}

void
plugin_host_queue_response(struct plugin_host *h, long status, const char *body, size_t len)
{
    free(h->queued_body);
    h->queued_body = strndup(body, len);
    h->queued_status = h->queued_body ? status : 0;
}

bool
plugin_host_log_has(const struct plugin_host *h, const char *needle)
{
    for (size_t i = 0; i < PLUGIN_HOST_KEEP; i++)
        if (h->logs[i] && strstr(h->logs[i], needle))
            return true;
    return false;
}

void
plugin_host_ws_open(struct ab_ws *ws)
{
    ws->is_open = true;
    if (ws->cbs.on_open)
        ws->cbs.on_open(ws->arg, ws);
}

void
plugin_host_ws_message(struct ab_ws *ws, const char *data, size_t len)
{
    char *copy = malloc(len + 1);

    if (!copy)
        return;
    memcpy(copy, data, len);
    copy[len] = '\0';
    ws->cbs.on_message(ws->arg, ws, copy, len, false);
    free(copy);
}

/* Release what the plugin left (its close() is over: no callback runs). */
void
plugin_host_free(struct plugin_host *h)
{
    ph_http_route_remove(h->route);
    free(h->answered_body);
    h->answered_body = NULL;
    while (h->timers)
        ph_timer_stop((struct ab_timer *)h->timers);
    while (h->https && h->https->first)
        ph_http_free(h->https->first);
    free(h->https);
    while (h->wss) {
        struct ab_ws *ws = h->wss;
        h->wss = ws->next;
        free(ws->url);
        free(ws);
    }
    for (size_t i = 0; i < PLUGIN_HOST_KEEP; i++) {
        ph_inbound_clear(&h->in[i]);
        ph_reaction_clear(&h->re[i]);
    }
    free(h->queued_body);
    free(h->last_frame);
    free(h->last_url);
    free(h->last_route);
    for (size_t i = 0; i < PLUGIN_HOST_KEEP; i++)
        free(h->logs[i]);
    free(h->state_key);
    free(h->state_value);
}
