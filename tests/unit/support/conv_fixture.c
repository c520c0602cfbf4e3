/* The engine fixture; see conv_fixture.h. */
#include "conv_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "broker_setup.h"
#include "host/host.h"
#include "outbound/ratelimit.h"
#include "policy/policy.h"

/* Host sink: a message from the fake plugin. */
static int
conv_fx_sink_deliver(void *arg, struct ab_host *h, const struct ab_inbound *msg)
{
    struct conv_fx *f = arg;

    (void)h;
    return engine_inbound(f->engine, &f->ci, msg);
}

/* Host sink: a user's reaction. */
static int
conv_fx_sink_reaction(void *arg, struct ab_host *h, const struct ab_reaction_event *ev)
{
    struct conv_fx *f = arg;

    (void)h;
    return engine_reaction(f->engine, &f->ci, ev);
}

/* Host sink: rate-limit facts go to the engine's scheduler, as in the daemon. */
static void
conv_fx_sink_rate(void *arg, struct ab_host *h, const struct ab_rate_info *info)
{
    struct conv_fx *f = arg;

    (void)h;
    chat_rate_report(&f->ci, info);
}

/* Host sink: connection changes are of no interest here. */
static void
conv_fx_sink_connected(void *arg, struct ab_host *h, bool connected, const char *detail)
{
    (void)arg;
    (void)h;
    (void)connected;
    (void)detail;
}

/* Set up; see the header. */
void
conv_fx_init(struct conv_fx *f, const char *const *flags)
{
    memset(f, 0, sizeof(*f));
    fx_init(&f->acp, flags);
    ck_assert_int_eq(config_defaults(&f->cfg), 0);
    broker_setup_engine_config(&f->cfg, &f->ecfg);
    f->ecfg.reactions.debounce_ms = 50;
    f->ecfg.reactions.stall_soft_ms = 5000;
    f->ecfg.reactions.stall_hard_ms = 10000;
    f->ecfg.reactions.done_hold_ms = 100;
    f->ecfg.reactions.error_hold_ms = 100;
    f->ecfg.edit_interval_ms = 100;
    f->ecfg.perm_timeout_ms = 5000;
    /* No cut of long replies and no waiting line for a session unless a test asks. */
    f->ecfg.max_parts = 0;
    f->ecfg.max_sessions = 0;
    f->ecfg.pool_queue_max = 0;
    f->ecfg.pool_queue_wait_ms = 0;
    f->ecfg.pool_queue_notice_ms = 0;
    f->next_id = 1000;
}

/* Wire everything; see the header. */
void
conv_fx_start(struct conv_fx *f)
{
    static char u1[] = "U1", u2[] = "U2";
    static char *users[] = {u1, u2};
    struct host_sink sink = {f,
                             conv_fx_sink_deliver,
                             conv_fx_sink_reaction,
                             conv_fx_sink_rate,
                             conv_fx_sink_connected,
                             NULL,
                             NULL,
                             NULL,
                             NULL};
    struct policy_config pc;
    struct chat_instance *ci = &f->ci;

    fx_pool(&f->acp);
    ck_assert_int_eq(engine_new(&f->acp.loop, f->acp.pool, &f->ecfg, &f->engine), 0);
    fake_chat_ops(&f->chat, &f->ops);
    f->desc = (struct ab_plugin_desc){
        .abi_major = AB_ABI_MAJOR,
        .abi_minor = AB_ABI_MINOR,
        .struct_size = sizeof(struct ab_plugin_desc),
        .kind = AB_PLUGIN_CHAT,
        .name = "discord",
        .version = "test",
        .chat = &f->ops,
    };
    ci->name = strdup("discord");
    ck_assert_ptr_nonnull(ci->name);
    ci->desc = &f->desc;
    ci->ops = &f->ops;
    ci->can_edit = f->ops.edit != NULL;
    ci->can_react = f->ops.react != NULL;
    ci->can_thread = f->ops.open_thread != NULL;
    ck_assert_int_eq(host_new(&f->acp.loop, "chat", "discord", NULL, NULL, &sink, &ci->host), 0);
    policy_config_default(&pc);
    pc.allowed_users = users;
    pc.allowed_user_count = 2;
    pc.allow_all_users = POLICY_ALLOW_ALL_FALSE;
    ck_assert_int_eq(policy_new(&pc, &ci->policy), 0);
    ck_assert_int_eq(engine_add_chat(f->engine, ci), 0);
    ck_assert_int_eq(ci->ops->open(ci->host, &host_services, &ci->chat), 0);
    fake_chat_configure(ci->chat, &f->chat);
    ck_assert_int_eq(ci->ops->start(ci->chat), 0);
    ci->is_started = true;
    f->fake = ci->chat;
}

/* Ask mode; see the header. */
void
conv_fx_ask_mode(struct conv_fx *f, uint64_t timeout_ms)
{
    f->ecfg.perm_ask = true;
    f->ecfg.perm_timeout_ms = timeout_ms;
    f->acp.cfg.perm_mode = ACP_PERM_ASK;
    f->acp.cfg.perm_timeout_ms = 0;
}

/* engine_when_idle fired. */
static void
conv_fx_on_idle(void *arg)
{
    *(bool *)arg = true;
}

/* Run the loop one step and let time pass a little. */
static void
conv_fx_step(struct conv_fx *f)
{
    uv_run(&f->acp.loop, UV_RUN_NOWAIT);
    usleep(1000);
    uv_update_time(&f->acp.loop);
}

/* Nothing queued or in flight in the outbound scheduler. */
static bool
conv_fx_outbox_empty(const struct conv_fx *f)
{
    struct ratelimit_stats rs;

    ratelimit_get_stats(engine_ratelimit(f->engine), &rs);
    return rs.queued == 0 && rs.in_flight == 0;
}

/* Run until idle; see the header. */
bool
conv_fx_idle(struct conv_fx *f, uint64_t ms)
{
    bool idle = false;
    uint64_t end;

    uv_update_time(&f->acp.loop);
    end = uv_now(&f->acp.loop) + ms;
    engine_when_idle(f->engine, conv_fx_on_idle, &idle);
    while (!(idle && conv_fx_outbox_empty(f)) && uv_now(&f->acp.loop) < end)
        conv_fx_step(f);
    if (!idle)
        engine_when_idle(f->engine, NULL, NULL);
    return idle && conv_fx_outbox_empty(f);
}

/* Run for a while. */
void
conv_fx_run(struct conv_fx *f, uint64_t ms)
{
    uint64_t end;

    uv_update_time(&f->acp.loop);
    end = uv_now(&f->acp.loop) + ms;
    while (uv_now(&f->acp.loop) < end)
        conv_fx_step(f);
}

/* Wait for a call; see the header. */
int
conv_fx_wait_call(struct conv_fx *f, uint64_t ms, enum fake_kind kind, const char *text,
                  const char *msg, const char *emoji)
{
    uint64_t end;
    int i;

    uv_update_time(&f->acp.loop);
    end = uv_now(&f->acp.loop) + ms;
    while ((i = fake_chat_find(f->fake, 0, kind, text, msg, emoji)) < 0 &&
           uv_now(&f->acp.loop) < end)
        conv_fx_step(f);
    return i;
}

/* Tear down; see the header. */
void
conv_fx_close(struct conv_fx *f)
{
    struct chat_instance *ci = &f->ci;

    ck_assert_msg(conv_fx_idle(f, 15000), "the engine did not become idle");
    ci->ops->close(ci->chat);
    ci->chat = NULL;
    engine_free(f->engine);
    fx_pool_close(&f->acp);
    policy_free(ci->policy);
    host_free(ci->host);
    free(ci->name);
    config_free(&f->cfg);
    fx_close(&f->acp);
}

/* A new inbound id, kept in @f. */
static const char *
conv_fx_new_id(struct conv_fx *f)
{
    ck_assert_int_lt(f->nids, CONV_FX_MAX_IDS);
    snprintf(f->ids[f->nids], sizeof(f->ids[0]), "%u", f->next_id++);
    return f->ids[f->nids++];
}

/* Deliver a message from @user as the Discord plugin would. */
void
conv_fx_deliver_id(struct conv_fx *f, const char *id, const char *user, const char *thread,
                   const char *text, bool mention)
{
    char raw[8192], name[32], display[32];
    struct ab_inbound m = {
        .size = sizeof(m),
        .conversation = thread ? thread : id,
        .channel_id = thread ? thread : CONV_FX_CHANNEL,
        .parent_id = thread ? CONV_FX_CHANNEL : NULL,
        .message_id = id,
        .sender_id = user,
        .sender_name = name,
        .display_name = display,
        .text = raw,
        .clean_text = text,
        .is_thread = thread != NULL,
        .mentions_bot = mention,
        .is_human_turn = true,
        .thread_is_ours = thread != NULL,
        .thread_id = thread,
    };

    snprintf(name, sizeof(name), "user-%s", user);
    snprintf(display, sizeof(display), "User %s", user);
    snprintf(raw, sizeof(raw), "%s%s%s", mention ? CONV_FX_BOT_MENTION : "", mention ? " " : "",
             text);
    ck_assert_int_eq(f->ci.host->sink.deliver(f->ci.host->sink.arg, f->ci.host, &m), 0);
}

/* Deliver a message with a new id, kept in @f. */
static const char *
conv_fx_deliver(struct conv_fx *f, const char *user, const char *thread, const char *text,
                bool mention)
{
    const char *id = conv_fx_new_id(f);

    conv_fx_deliver_id(f, id, user, thread, text, mention);
    return id;
}

/* A top-level mention. */
const char *
conv_fx_mention(struct conv_fx *f, const char *user, const char *text)
{
    return conv_fx_deliver(f, user, NULL, text, true);
}

/* A follow-up in a thread. */
const char *
conv_fx_follow_up(struct conv_fx *f, const char *thread, const char *user, const char *text)
{
    return conv_fx_deliver(f, user, thread, text, false);
}

/* A user's reaction. */
void
conv_fx_react(struct conv_fx *f, const char *channel, const char *msg, const char *user,
              const char *emoji)
{
    struct ab_reaction_event ev = {
        .size = sizeof(ev),
        .msg = {channel, msg},
        .user_id = user,
        .emoji = emoji,
        .added = true,
    };

    ck_assert_int_eq(f->ci.host->sink.deliver_reaction(f->ci.host->sink.arg, f->ci.host, &ev), 0);
}

/* Call @fn on every session/prompt in the agent's log until it returns true. */
static void
conv_fx_each_prompt(const struct conv_fx *f, bool (*fn)(void *arg, const cJSON *params), void *arg)
{
    FILE *fp = fopen(f->acp.log, "r");
    char *line = NULL;
    size_t cap = 0;
    bool stop = false;

    if (!fp)
        return;
    while (!stop && getline(&line, &cap, fp) > 0) {
        cJSON *msg = cJSON_Parse(line);
        const cJSON *method = cJSON_GetObjectItemCaseSensitive(msg, "method");
        if (cJSON_IsString(method) && strcmp(method->valuestring, "session/prompt") == 0)
            stop = fn(arg, cJSON_GetObjectItemCaseSensitive(msg, "params"));
        cJSON_Delete(msg);
    }
    free(line);
    fclose(fp);
}

/* Counting prompts. */
static bool
conv_fx_count_one(void *arg, const cJSON *params)
{
    (void)params;
    ++*(int *)arg;
    return false;
}

/* Prompts so far. */
int
conv_fx_prompts(const struct conv_fx *f)
{
    int n = 0;

    conv_fx_each_prompt(f, conv_fx_count_one, &n);
    return n;
}

/* Looking for one block of one prompt. */
struct conv_fx_block {
    int n, block;
    char *out;
};

/* Copy the wanted block when the wanted prompt comes. */
static bool
conv_fx_take_block(void *arg, const cJSON *params)
{
    struct conv_fx_block *b = arg;
    const cJSON *block, *text;

    if (b->n-- > 0)
        return false;
    block = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(params, "prompt"), b->block);
    text = cJSON_GetObjectItemCaseSensitive(block, "text");
    if (cJSON_IsString(text))
        b->out = strdup(text->valuestring);
    return true;
}

/* One block of one prompt. */
char *
conv_fx_prompt_block(const struct conv_fx *f, int n, int block)
{
    struct conv_fx_block b = {n, block, NULL};

    conv_fx_each_prompt(f, conv_fx_take_block, &b);
    return b.out;
}

/* What a reader of the thread sees, top to bottom. */
char *
conv_fx_thread_text(const struct conv_fx *f, const char *thread)
{
    size_t len = 0;
    char *out = calloc(1, 1);

    ck_assert_ptr_nonnull(out);
    if (getenv("CONV_FX_DUMP"))
        fake_chat_dump(f->fake);
    for (size_t i = 0; i < fake_chat_count(f->fake); i++) {
        const struct fake_call *c = fake_chat_call(f->fake, i);
        const char *text;
        char *grown;
        if (c->kind != FAKE_SEND || !c->message_id || !c->thread_id ||
            strcmp(c->thread_id, thread) != 0)
            continue;
        text = fake_chat_message_text(f->fake, c->message_id);
        grown = realloc(out, len + strlen(text) + 2);
        ck_assert_ptr_nonnull(grown);
        out = grown;
        len += (size_t)sprintf(out + len, "%s%s", len ? "\n" : "", text);
    }
    return out;
}

/* The bot's first post in a thread. */
const char *
conv_fx_first_post(const struct conv_fx *f, const char *thread)
{
    for (size_t i = 0; i < fake_chat_count(f->fake); i++) {
        const struct fake_call *c = fake_chat_call(f->fake, i);
        if (c->kind == FAKE_SEND && c->message_id && c->thread_id &&
            strcmp(c->thread_id, thread) == 0)
            return c->message_id;
    }
    return NULL;
}

/* Count code points: every byte that does not continue a sequence. */
size_t
conv_fx_chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Each needle once, in order. */
bool
conv_fx_in_order(const char *text, const char *const *needles)
{
    const char *at = text;

    for (; *needles; needles++) {
        const char *hit = strstr(at, *needles);
        if (!hit || strstr(hit + 1, *needles))
            return false;
        at = hit + strlen(*needles);
    }
    return true;
}
