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

/* The fake chat was opened: give it the test's options before it starts. */
static void
conv_fx_opened(void *arg, struct broker *b, struct chat_instance *ci)
{
    struct conv_fx *f = arg;

    (void)b;
    fake_chat_configure(ci->chat, &f->chat);
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
    struct broker_agent_spec agents[1 + CONV_FX_MAX_AGENTS] = {
        {.name = "default", .launch = &f->acp.launch, .pool = f->acp.cfg}};
    struct broker_chat_spec chat = {.name = "discord", .desc = &f->desc, .ops = &f->ops};
    struct broker_spec spec = {
        .engine = f->ecfg,
        .agents = agents,
        .nagents = 1 + (size_t)f->nagents,
        .chats = &chat,
        .nchats = 1,
        .routes = f->routes,
        .nroutes = f->nroutes,
        .events = {.arg = f, .opened = conv_fx_opened},
    };

    for (int i = 0; i < f->nagents; i++) {
        agents[1 + i] = (struct broker_agent_spec){
            .name = f->agents[i].name, .launch = &f->agents[i].launch, .pool = f->acp.cfg};
        agents[1 + i].pool.state_file = f->agents[i].state_file;
    }

    fake_chat_ops(&f->chat, &f->ops);
    f->ops.rate_rules = f->rate_rules;
    f->ops.rate_rule_count = f->rate_rule_count;
    f->desc = (struct ab_plugin_desc){
        .abi_major = AB_ABI_MAJOR,
        .abi_minor = AB_ABI_MINOR,
        .struct_size = sizeof(struct ab_plugin_desc),
        .kind = AB_PLUGIN_CHAT,
        .name = "discord",
        .version = "test",
        .chat = &f->ops,
    };
    policy_config_default(&chat.policy);
    chat.policy.allowed_users = users;
    chat.policy.allowed_user_count = 2;
    chat.policy.allow_all_users = POLICY_ALLOW_ALL_FALSE;
    ck_assert_int_eq(broker_new(&f->acp.loop, &spec, &f->broker), 0);
    ck_assert_int_eq(f->broker->started, 1);
    f->engine = f->broker->engine;
    f->ci = &f->broker->chats[0];
    f->fake = f->ci->chat;
    f->acp.pool = f->broker->agents[0].pool;
}

/* Another agent; see the header. */
void
conv_fx_add_agent(struct conv_fx *f, const char *name)
{
    struct conv_fx_agent *a = &f->agents[f->nagents];

    ck_assert_int_lt(f->nagents, CONV_FX_MAX_AGENTS);
    f->nagents++;
    snprintf(a->name, sizeof(a->name), "%s", name);
    snprintf(a->log, sizeof(a->log), "%s/agent-%s.log", f->acp.dir, name);
    snprintf(a->state_file, sizeof(a->state_file), "sessions-%s.json", name);
    for (int i = 0; i < f->acp.nargs; i++) /* args[2] is the default's log */
        a->args[i] = i == 2 ? a->log : f->acp.args[i];
    a->launch = f->acp.launch;
    a->launch.args = a->args;
    a->launch.name = a->name;
}

/* A route; see the header. */
void
conv_fx_route(struct conv_fx *f, const char *channel, const char *role, const char *agent)
{
    ck_assert_uint_lt(f->nroutes, sizeof(f->routes) / sizeof(f->routes[0]));
    f->routes[f->nroutes++] = (struct config_route){
        .channel = (char *)channel, .role = (char *)role, .agent = (char *)agent};
}

/* The log file of agent @name. */
static const char *
conv_fx_agent_log(const struct conv_fx *f, const char *name)
{
    for (int i = 0; i < f->nagents; i++)
        if (strcmp(f->agents[i].name, name) == 0)
            return f->agents[i].log;
    ck_assert_str_eq(name, "default");
    return f->acp.log;
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

/* The broker closed. */
static void
conv_fx_on_closed(void *arg)
{
    *(bool *)arg = true;
}

/* Free without waiting; see the header. */
void
conv_fx_free(struct conv_fx *f)
{
    bool closed = false;

    broker_close(f->broker, conv_fx_on_closed, &closed);
    ck_assert_msg(fx_wait(&f->acp, &closed, 30000), "broker_close did not finish");
    f->broker = NULL;
    f->engine = NULL;
    f->ci = NULL;
    f->fake = NULL;
    f->acp.pool = NULL;
    config_free(&f->cfg);
    fx_close(&f->acp);
}

/* Tear down; see the header. */
void
conv_fx_close(struct conv_fx *f)
{
    ck_assert_msg(conv_fx_idle(f, 15000), "the engine did not become idle");
    conv_fx_free(f);
}

/* A new inbound id, kept in @f. */
static const char *
conv_fx_new_id(struct conv_fx *f)
{
    ck_assert_int_lt(f->nids, CONV_FX_MAX_IDS);
    snprintf(f->ids[f->nids], sizeof(f->ids[0]), "%u", f->next_id++);
    return f->ids[f->nids++];
}

/* Deliver a message from @user in @channel as the Discord plugin would. */
static void
conv_fx_deliver_full(struct conv_fx *f, const char *channel, const char *role, const char *id,
                     const char *user, const char *thread, const char *text, bool mention)
{
    const char *roles[] = {role};
    char raw[8192], name[32], display[32];
    struct ab_inbound m = {
        .size = sizeof(m),
        .conversation = thread ? thread : id,
        .channel_id = thread ? thread : channel,
        .parent_id = thread ? channel : NULL,
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
        .role_ids = role ? roles : NULL,
        .role_count = role ? 1 : 0,
    };

    snprintf(name, sizeof(name), "user-%s", user);
    snprintf(display, sizeof(display), "User %s", user);
    snprintf(raw, sizeof(raw), "%s%s%s", mention ? CONV_FX_BOT_MENTION : "", mention ? " " : "",
             text);
    ck_assert_int_eq(f->ci->host->sink.deliver(f->ci->host->sink.arg, f->ci->host, &m), 0);
}

/* A message in CONV_FX_CHANNEL; see the header. */
void
conv_fx_deliver_id(struct conv_fx *f, const char *id, const char *user, const char *thread,
                   const char *text, bool mention)
{
    conv_fx_deliver_full(f, CONV_FX_CHANNEL, NULL, id, user, thread, text, mention);
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

/* A top-level mention in another channel. */
const char *
conv_fx_mention_in(struct conv_fx *f, const char *channel, const char *role, const char *user,
                   const char *text)
{
    const char *id = conv_fx_new_id(f);

    conv_fx_deliver_full(f, channel, role, id, user, NULL, text, true);
    return id;
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

    ck_assert_int_eq(f->ci->host->sink.deliver_reaction(f->ci->host->sink.arg, f->ci->host, &ev),
                     0);
}

/* Call @fn on every session/prompt in the log @path until it returns true. */
static void
conv_fx_each_prompt(const char *path, bool (*fn)(void *arg, const cJSON *params), void *arg)
{
    FILE *fp = fopen(path, "r");
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

    conv_fx_each_prompt(f->acp.log, conv_fx_count_one, &n);
    return n;
}

/* Prompts of one agent. */
int
conv_fx_agent_prompts(const struct conv_fx *f, const char *name)
{
    int n = 0;

    conv_fx_each_prompt(conv_fx_agent_log(f, name), conv_fx_count_one, &n);
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

    conv_fx_each_prompt(f->acp.log, conv_fx_take_block, &b);
    return b.out;
}

/* One block of one prompt of one agent. */
char *
conv_fx_agent_prompt_block(const struct conv_fx *f, const char *name, int n, int block)
{
    struct conv_fx_block b = {n, block, NULL};

    conv_fx_each_prompt(conv_fx_agent_log(f, name), conv_fx_take_block, &b);
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
