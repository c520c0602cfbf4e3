/* The broker as daemon.c assembles it, inside a benchmark (see broker.h). */
#include "broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_setup.h"
#include "policy/policy.h"

/* See broker.h. */
void
broker_engine_config(const struct broker *b, struct engine_config *ec)
{
    broker_setup_engine_config(&b->cfg, ec);
    /* The benchmarks measure replies and refusals, not the cut of long replies or the
     * waiting line for a session (bench_churn runs one session for thousands). */
    ec->max_parts = 0;
    ec->max_sessions = 0;
    ec->pool_queue_max = 0;
    ec->pool_queue_wait_ms = 0;
    ec->pool_queue_notice_ms = 0;
}

/* The engine has nothing running or waiting. */
static void
broker_on_idle(void *arg)
{
    ((struct broker *)arg)->is_idle = true;
}

/* The pool has stopped every agent. */
static void
broker_on_closed(void *arg)
{
    ((struct broker *)arg)->is_closed = true;
}

/* Build the broker. */
int
broker_new(uv_loop_t *loop, const struct pool_config *pc, const struct agent_launch *launch,
           fake_chat_text_fn on_text, void *arg, struct broker **out)
{
    struct broker *b = calloc(1, sizeof(*b));
    struct engine_config ec;
    struct policy_config policy;
    int rc;

    if (!b)
        return AB_ENOMEM;
    b->loop = loop;
    uv_timer_init(loop, &b->deadline);
    b->deadline.data = b;
    if ((rc = config_defaults(&b->cfg)) < 0)
        goto fail;
    broker_engine_config(b, &ec);
    policy_config_default(&policy);
    b->ci = (struct chat_instance){
        .ops = &fake_chat_ops,
        .can_edit = true,
        .can_react = true,
        .can_thread = true,
        .is_started = true,
    };
    if (!(b->ci.name = strdup("bench"))) {
        rc = AB_ENOMEM;
        goto fail;
    }
    if ((rc = policy_new(&policy, &b->ci.policy)) < 0)
        goto fail_name;
    if ((rc = fake_chat_new(loop, on_text, arg, &b->ci.chat)) < 0)
        goto fail_policy;
    if ((rc = pool_new(loop, pc, launch, &b->pool)) < 0)
        goto fail_chat;
    if ((rc = engine_new(loop, b->pool, &ec, &b->engine)) < 0)
        goto fail_pool;
    if ((rc = engine_add_chat(b->engine, &b->ci)) < 0)
        goto fail_engine;
    *out = b;
    return 0;

fail_engine:
    engine_free(b->engine);
fail_pool:
    pool_close(b->pool, NULL, NULL);
fail_chat:
    fake_chat_ops.close(b->ci.chat);
fail_policy:
    policy_free(b->ci.policy);
fail_name:
    free(b->ci.name);
fail:
    config_free(&b->cfg);
    uv_close((uv_handle_t *)&b->deadline, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    free(b);
    return rc;
}

/* Deliver one message in an involved thread. */
int
broker_deliver(struct broker *b, const char *parent, const char *conversation, const char *text)
{
    char id[32];

    snprintf(id, sizeof(id), "msg-%llu", (unsigned long long)++b->next_message);
    struct ab_inbound m = {
        .size = sizeof(m),
        .conversation = conversation,
        .channel_id = conversation,
        .parent_id = parent,
        .message_id = id,
        .sender_id = "u-1",
        .sender_name = "bench-user",
        .text = text,
        .clean_text = text,
        .is_thread = true,
        .mentions_bot = true,
        .is_human_turn = true,
        .thread_is_ours = true,
        .thread_id = conversation,
    };
    return engine_inbound(b->engine, &b->ci, &m);
}

/* The wait for idleness ran out of time. */
static void
broker_on_timeout(uv_timer_t *t)
{
    ((struct broker *)t->data)->is_late = true;
}

/* Run the loop until the engine is idle or @timeout_ms passed. */
int
broker_wait_idle(struct broker *b, uint64_t timeout_ms)
{
    b->is_idle = b->is_late = false;
    uv_timer_start(&b->deadline, broker_on_timeout, timeout_ms, 0);
    engine_when_idle(b->engine, broker_on_idle, b);
    while (!b->is_idle && !b->is_late)
        uv_run(b->loop, UV_RUN_ONCE);
    uv_timer_stop(&b->deadline);
    if (!b->is_idle)
        engine_when_idle(b->engine, NULL, NULL);
    return b->is_idle ? 0 : AB_ETIMEDOUT;
}

/* Stop the agents, then free in daemon.c's order: chat, engine, policy. */
void
broker_free(struct broker *b)
{
    if (!b)
        return;
    pool_close(b->pool, broker_on_closed, b);
    while (!b->is_closed)
        uv_run(b->loop, UV_RUN_ONCE);
    fake_chat_ops.close(b->ci.chat);
    engine_free(b->engine);
    policy_free(b->ci.policy);
    free(b->ci.name);
    config_free(&b->cfg);
    uv_close((uv_handle_t *)&b->deadline, NULL);
    uv_run(b->loop, UV_RUN_DEFAULT);
    free(b);
}
