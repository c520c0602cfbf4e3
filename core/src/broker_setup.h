/* Assembling the broker: the pool's, the engine's and each chat's policy settings from
 * a loaded config, and the one function that builds the whole broker from them (session
 * pools, engine, chat instances with their hosts and policies) and its teardown — used
 * by the daemon, the benchmarks and the test fixtures alike. */
#ifndef AB_BROKER_SETUP_H
#define AB_BROKER_SETUP_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "acp/pool.h"
#include "config/config.h"
#include "conv/chat_instance.h"
#include "conv/engine.h"
#include "policy/policy.h"

/* Fill *ec from @c (lent: every emoji string in *ec points into it, so @c must outlive
 * the engine). The agent's auth_hint and classify_tool are left NULL for the caller. */
void broker_setup_engine_config(const struct config *c, struct engine_config *ec);

/* Fill *pc from @c (lent: state_dir points into it). Ask mode's questions time out in
 * the engine, so the pool's own permission timeout is 0. */
void broker_setup_pool_config(const struct config *c, struct pool_config *pc);

/* Fill *pc from chat section @cc (lent: the lists stay the config's); NULL: the
 * policy's defaults. */
void broker_setup_policy_config(const struct config_chat *cc, struct policy_config *pc);

/* One agent of the broker: the first one given is the default. */
struct broker_agent_spec {
    const char *name;                  /* lent: "default" */
    const struct agent_launch *launch; /* lent: must outlive the broker */
    struct pool_config pool;           /* copied (its state_dir too) */
    /* Not the default's (engine.auth_hint, engine.classify_tool are): its preset's. */
    const char *auth_hint; /* lent, or NULL */
    enum ab_tool_class (*classify_tool)(const char *kind, const char *title);
};

/* One chat instance of the broker. */
struct broker_chat_spec {
    const char *name;                  /* lent: the plugin's name, "console" */
    const struct ab_plugin_desc *desc; /* lent: must outlive the broker */
    const struct ab_chat_ops *ops;     /* lent: must outlive the broker */
    const struct toml_table *table;    /* lent: the plugin's section, or NULL */
    const char *state_dir;             /* lent: the plugin's state root, or NULL */
    struct policy_config policy;       /* copied (its lists stay lent) */
    bool warn_policy;                  /* log the policy's start-up warnings */
    /* An instance the caller made itself (an in-process chat without open/start): the
     * broker owns it from now on and calls neither open nor start. NULL: ops->open. */
    struct ab_chat *chat;
};

struct broker;

/* What the assembled broker tells its owner; every member may be NULL. */
struct broker_events {
    void *arg;
    /* @ci was opened and is about to be started (configure an in-process fake). */
    void (*opened)(void *arg, struct broker *b, struct chat_instance *ci);
    /* A chat plugin's connection changed. */
    void (*connected)(void *arg, struct broker *b, struct chat_instance *ci, bool connected,
                      const char *detail);
    /* A chat plugin gave up for good (ci->is_started is already false). */
    void (*fatal)(void *arg, struct broker *b, struct chat_instance *ci, int status,
                  const char *why);
};

struct broker_spec {
    struct engine_config engine;            /* copied (its strings stay lent) */
    const struct broker_agent_spec *agents; /* lent for the call; at least one */
    size_t nagents;
    const struct broker_chat_spec *chats; /* lent for the call */
    size_t nchats;
    const struct config_route *routes; /* lent for the call: [[routes]] */
    size_t nroutes;
    const char *fallback;        /* lent: the agent no route chooses, or NULL (the first) */
    struct journal *journal;     /* lent, or NULL: must outlive the broker */
    struct broker_events events; /* copied */
};

/* One agent with its session pool. */
struct broker_agent {
    char *name;        /* owned */
    struct pool *pool; /* owned */
};

/* The assembled broker. Read its members; change them only through the functions. */
struct broker {
    uv_loop_t *loop;             /* lent */
    struct broker_agent *agents; /* owned, nagents of them; agents[0] is the default */
    size_t nagents;
    struct engine *engine;       /* owned */
    struct chat_instance *chats; /* owned, nchats of them, in the spec's order */
    size_t nchats;
    size_t started; /* chat instances that started */
    struct broker_events events;
    size_t closing;            /* pools still closing */
    void (*closed)(void *arg); /* broker_close's callback */
    void *closed_arg;
};

/* Build the broker on @loop from @spec: one session pool per agent, the engine, the
 * journal attached, then each chat instance (host, policy, registered with the engine,
 * opened, started, its unanswered messages recovered). A chat that fails to open or
 * start is logged and stays in b->chats with is_started false (b->started counts the
 * others). Returns 0, or < 0 when a pool or the engine cannot be made (then nothing is
 * left but closing pools: run the loop before uv_loop_close). *out is owned: close it
 * with broker_close. */
int broker_new(uv_loop_t *loop, const struct broker_spec *spec, struct broker **out);

/* The chat instance whose host is @h, or NULL. Lent. */
struct chat_instance *broker_chat_of(struct broker *b, const struct ab_host *h);

/* Stop every agent (each pool closes), then close the chat plugins, free the engine,
 * policies and hosts, free @b and call @done(@arg) (may be NULL) from a loop callback.
 * Callers drain first (engine_drain) when turns may still run. */
void broker_close(struct broker *b, void (*done)(void *arg), void *arg);

#endif
