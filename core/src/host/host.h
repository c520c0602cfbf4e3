/* The host side of the plugin ABI: one struct ab_host per plugin instance, and the
 * services table every plugin receives. */
#ifndef AB_HOST_H
#define AB_HOST_H

#include <stdbool.h>
#include <uv.h>

#include <agent-broker/plugin.h>

#include "toml/toml.h"

/* A message delivered with deliver_held whose completion its plugin is owed. Owned by
 * the host; the sink keeps a lent pointer until host_hold_release(). */
struct host_hold;

/* Where a plugin's events go: the engine fills these. Every callback runs on the
 * loop thread; pointers are lent for the call. */
struct host_sink {
    void *arg;
    int (*deliver)(void *arg, struct ab_host *h, const struct ab_inbound *msg);
    int (*deliver_reaction)(void *arg, struct ab_host *h, const struct ab_reaction_event *ev);
    void (*rate_report)(void *arg, struct ab_host *h, const struct ab_rate_info *info);
    void (*connected)(void *arg, struct ab_host *h, bool connected, const char *detail);
    void (*fatal)(void *arg, struct ab_host *h, int status, const char *why);
    /* A message the plugin acks only once @hold is released (ABI 1.3 deliver_held).
     * Returns 0: the sink owns the duty to call host_hold_release(@hold) exactly once
     * (from any later point; the plugin hears of it on a later loop turn); < 0: the
     * hold was not taken. NULL: deliver is used and the hold released at once. */
    int (*deliver_held)(void *arg, struct ab_host *h, const struct ab_inbound *msg,
                        struct host_hold *hold);
    /* Native commands (ABI 1.3): the core's list, and one invocation (a full-size copy
     * whose `where` is full-size too). NULL: AB_ENOTSUP. */
    int (*commands_list)(void *arg, const struct ab_command_info **out, size_t *count);
    int (*deliver_command)(void *arg, struct ab_host *h, const struct ab_command_event *ev);
};

struct host_string_cache;

struct state_writer;

/* One plugin state file with its asynchronous writer. */
struct host_state {
    struct host_state *next;
    struct state_writer *writer; /* owned */
};
struct host_backoff;
struct defer_queue;
struct ratelimit;

struct ab_host {
    uv_loop_t *loop;                   /* lent */
    char *name;                        /* owned: the plugin's name, "console" */
    char component[80];                /* "chat-console" for log lines */
    const struct toml_table *table;    /* lent: the plugin's own [NAME] table, or NULL */
    const struct ab_plugin_desc *desc; /* lent: the loader's copy (its schema gives the
                                          defaults of absent keys), or NULL */
    char *state_dir;                   /* owned: <[state] dir>/plugins/<name> */
    struct host_sink sink;
    bool connected;
    char *detail;                    /* owned: the latest set_connected detail */
    uint64_t changed_ms;             /* loop time of the last connected change */
    struct host_string_cache *cache; /* owned: arrays handed out by config_strings */
    struct host_state *states;       /* owned: state files written so far */
    int open_timers;                 /* timers not yet released (leak check at close) */
    struct host_backoff *backoffs;   /* owned: backoff_next state per key */
    uint64_t rand_state;             /* jitter for backoff_next */
    struct defer_queue *defer_queue; /* owned: host_defer.c's calls not yet run, or NULL */
    struct host_hold *holds;         /* owned: deliver_held completions still owed */
    uint64_t reconnects;             /* backoff_next calls: the plugin's reconnect attempts */
    struct ratelimit *rl;            /* lent: the scheduler of the plugin's operations, which
                                        http_scheduled queues its own calls in; or NULL */
    char *rl_scope;                  /* owned: the plugin's scope and route prefix there */
    struct ab_http_sched *scheds;    /* owned: http_scheduled calls that may still answer */
};

/* The services table (static, shared by every plugin). */
extern const struct ab_host_services host_services;

/* Make a host for plugin @name. @table and @loop are lent and must outlive it;
 * @state_root may be NULL (no state_get/put). */
int host_new(uv_loop_t *loop, const char *kind, const char *name, const struct toml_table *table,
             const char *state_root, const struct host_sink *sink, struct ab_host **out);

/* The message of @hold is recorded (@status 0) or could not be (AB_EIO): its plugin's
 * completion runs on a later loop turn. Exactly once per hold the sink took; NULL is
 * allowed. */
void host_hold_release(struct host_hold *hold, int status);

/* Before the plugin's close(): every completion still owed runs now with AB_ECANCELED
 * (the sink's pointers stay valid until it releases them). */
void host_holds_cancel(struct ab_host *h);

/* Queue the plugin's own calls (http_scheduled) in @rl (lent) under @scope (copied; NULL
 * = the host's name): the scheduler and scope its chat operations use, so both wait for
 * the same buckets. Before @rl is closed, call it again with NULL: the calls in flight
 * end then (AB_ECANCELED to the plugin), and ratelimit_close() ends the queued ones.
 * NULL @h is allowed. */
int host_set_scheduler(struct ab_host *h, struct ratelimit *rl, const char *scope);

/* Free a host after its plugin was closed. Its HTTP requests and WebSockets still open
 * are dropped without callbacks; its state writes still pending finish on the loop (run
 * it before uv_loop_close). Freeing the last host closes the process's HTTP and
 * WebSocket clients (do it from a loop callback, then let the loop run). */
void host_free(struct ab_host *h);

struct ingress;

/* Lend the daemon's `[ingress] listen` listener (core/src/ingress/) to the plugins'
 * http_route_add service; NULL withdraws it (routes of hosts freed later are already
 * gone with the listener). @in must outlive every route made through it. */
void host_set_ingress(struct ingress *in);

/* After the loop has run past the last host_free(): finish the WebSocket client's
 * teardown (libwebsockets needs a second step outside its own callbacks). Run the loop
 * once more before uv_loop_close(). Does nothing when no WebSocket was ever opened. */
void host_net_finish(void);

#endif
