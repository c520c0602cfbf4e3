/* The broker as daemon.c assembles it (broker_new), inside a benchmark: a session pool,
 * the conversation engine and one in-process chat instance (fake_chat) with the default
 * policy, on the caller's loop. Messages go in through engine_inbound() exactly as a
 * plugin's deliver() sends them. */
#ifndef AB_BENCH_BROKER_H
#define AB_BENCH_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "acp/pool.h"
#include "broker_setup.h"
#include "config/config.h"
#include "conv/engine.h"
#include "fake_chat.h"

struct bench_broker {
    uv_loop_t *loop;          /* lent */
    struct broker *broker;    /* owned: assembled by broker_new (broker_setup.h) */
    struct pool *pool;        /* lent: the broker's one pool */
    struct engine *engine;    /* lent: the broker's */
    struct chat_instance *ci; /* lent: the broker's one chat instance */
    struct config cfg;        /* owned: a config file's defaults; the engine borrows from it */
    uv_timer_t deadline;      /* bounds bench_broker_wait_idle */
    uint64_t next_message;    /* message ids "msg-N" */
    bool is_idle;             /* set by engine_when_idle */
    bool is_late;             /* set by the deadline */
    bool is_closed;           /* set by pool_close */
};

/* The engine settings bench_broker_new uses: b->cfg, a config file with no [reactions] or
 * [stream]. The strings in *ec are lent from @b. */
void bench_broker_engine_config(const struct bench_broker *b, struct engine_config *ec);

/* Build the broker on @loop. @pc is copied; @launch is lent and must outlive it;
 * @on_text(@arg) sees every text the engine posts or edits. *out is owned by the caller:
 * bench_broker_free. */
int bench_broker_new(uv_loop_t *loop, const struct pool_config *pc,
                     const struct agent_launch *launch, fake_chat_text_fn on_text, void *arg,
                     struct bench_broker **out);

/* Deliver a message with @text in thread @conversation of channel @parent (all lent), as a
 * user of an involved thread writes it (the console plugin's shape). Returns
 * engine_inbound's code. */
int bench_broker_deliver(struct bench_broker *b, const char *parent, const char *conversation,
                         const char *text);

/* Run the loop until nothing runs or waits in the engine; AB_ETIMEDOUT after @timeout_ms. */
int bench_broker_wait_idle(struct bench_broker *b, uint64_t timeout_ms);

/* Stop every agent, free everything and run the loop until its handles are closed. */
void bench_broker_free(struct bench_broker *b);

#endif
