/* The broker as daemon.c assembles it, inside a benchmark (see broker.h). */
#include "broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

/* See broker.h. */
void
bench_broker_engine_config(const struct bench_broker *b, struct engine_config *ec)
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

/* What the broker's chat instance declares: an in-process platform. */
static const struct ab_plugin_desc bench_broker_desc = {
    .abi_major = AB_ABI_MAJOR,
    .abi_minor = AB_ABI_MINOR,
    .struct_size = sizeof(struct ab_plugin_desc),
    .kind = AB_PLUGIN_CHAT,
    .name = "bench",
    .version = "bench",
    .chat = &fake_chat_ops,
};

/* The engine has nothing running or waiting. */
static void
bench_broker_on_idle(void *arg)
{
    ((struct bench_broker *)arg)->is_idle = true;
}

/* The pool has stopped every agent. */
static void
bench_broker_on_closed(void *arg)
{
    ((struct bench_broker *)arg)->is_closed = true;
}

/* Build the broker. */
int
bench_broker_new(uv_loop_t *loop, const struct pool_config *pc, const struct agent_launch *launch,
                 fake_chat_text_fn on_text, void *arg, struct bench_broker **out)
{
    struct bench_broker *b = calloc(1, sizeof(*b));
    struct broker_agent_spec agent = {.name = "default", .launch = launch, .pool = *pc};
    struct broker_chat_spec chat = {
        .name = "bench",
        .desc = &bench_broker_desc,
        .ops = &fake_chat_ops,
    };
    struct broker_spec spec = {.agents = &agent, .nagents = 1, .chats = &chat, .nchats = 1};
    int rc;

    if (!b)
        return AB_ENOMEM;
    b->loop = loop;
    uv_timer_init(loop, &b->deadline);
    b->deadline.data = b;
    if ((rc = config_defaults(&b->cfg)) < 0)
        goto fail;
    bench_broker_engine_config(b, &spec.engine);
    policy_config_default(&chat.policy);
    if ((rc = fake_chat_new(loop, on_text, arg, &chat.chat)) < 0)
        goto fail;
    if ((rc = broker_new(loop, &spec, &b->broker)) < 0)
        goto fail; /* it closed the chat */
    b->pool = b->broker->agents[0].pool;
    b->engine = b->broker->engine;
    b->ci = &b->broker->chats[0];
    *out = b;
    return 0;

fail:
    config_free(&b->cfg);
    uv_close((uv_handle_t *)&b->deadline, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    free(b);
    return rc;
}

/* Deliver one message in an involved thread. */
int
bench_broker_deliver(struct bench_broker *b, const char *parent, const char *conversation,
                     const char *text)
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
    return engine_inbound(b->engine, b->ci, &m);
}

/* The wait for idleness ran out of time. */
static void
bench_broker_on_timeout(uv_timer_t *t)
{
    ((struct bench_broker *)t->data)->is_late = true;
}

/* Run the loop until the engine is idle or @timeout_ms passed. */
int
bench_broker_wait_idle(struct bench_broker *b, uint64_t timeout_ms)
{
    b->is_idle = b->is_late = false;
    uv_timer_start(&b->deadline, bench_broker_on_timeout, timeout_ms, 0);
    engine_when_idle(b->engine, bench_broker_on_idle, b);
    while (!b->is_idle && !b->is_late)
        uv_run(b->loop, UV_RUN_ONCE);
    uv_timer_stop(&b->deadline);
    if (!b->is_idle)
        engine_when_idle(b->engine, NULL, NULL);
    return b->is_idle ? 0 : AB_ETIMEDOUT;
}

/* Stop the agents, then free the rest as daemon.c does (broker_close). */
void
bench_broker_free(struct bench_broker *b)
{
    if (!b)
        return;
    broker_close(b->broker, bench_broker_on_closed, b);
    while (!b->is_closed)
        uv_run(b->loop, UV_RUN_ONCE);
    config_free(&b->cfg);
    uv_close((uv_handle_t *)&b->deadline, NULL);
    uv_run(b->loop, UV_RUN_DEFAULT);
    free(b);
}
