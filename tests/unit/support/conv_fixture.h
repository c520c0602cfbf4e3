/* The conversation engine wired as the daemon wires it — a real host, policy, session
 * pool on the scripted ACP agent (tests/acp/scripted-agent.js, through the ACP tests'
 * fixture) — in front of the fake chat plugin, with Discord-shaped inbound helpers.
 * Users U1 and U2 are allowed, U9 is not; every channel is allowed. */
#ifndef AB_TEST_CONV_FIXTURE_H
#define AB_TEST_CONV_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "../acp/acp_fixture.h"
#include "broker_setup.h"
#include "config/config.h"
#include "conv/chat_instance.h"
#include "conv/engine.h"
#include "fake_chat.h"

#define CONV_FX_CHANNEL "C1"
#define CONV_FX_BOT_MENTION "<@4242>"
#define CONV_FX_MAX_IDS 64
#define CONV_FX_MAX_AGENTS 3 /* besides the default */

/* Another agent: the same scripted agent with its own log and session map. */
struct conv_fx_agent {
    char name[32];
    struct agent_launch launch;
    const char *args[FX_MAX_ARGS];
    char log[300];
    char state_file[64];
};

struct conv_fx {
    struct fx acp;                         /* loop, pool, scratch dir, the agent's log */
    struct config cfg;                     /* a config file's defaults: ecfg's strings point here */
    struct engine_config ecfg;             /* edit before conv_fx_start */
    struct fake_chat_options chat;         /* edit before conv_fx_start */
    const struct ab_rate_rule *rate_rules; /* lent: the plugin's static rules, or NULL; set
                                              before conv_fx_start */
    uint32_t rate_rule_count;
    struct ab_chat_ops ops;
    struct ab_plugin_desc desc;
    struct broker *broker;                           /* owned: built by conv_fx_start */
    struct chat_instance *ci;                        /* lent: the broker's one chat instance */
    struct engine *engine;                           /* lent: the broker's */
    struct ab_chat *fake;                            /* lent: ci->chat */
    struct conv_fx_agent agents[CONV_FX_MAX_AGENTS]; /* conv_fx_add_agent */
    int nagents;
    struct config_route routes[8]; /* conv_fx_route; strings lent from the test */
    size_t nroutes;
    unsigned next_id;
    char ids[CONV_FX_MAX_IDS][24]; /* inbound message ids handed out */
    int nids;
};

/* Loop, scratch dir and defaults: the agent gets @flags (NULL-terminated, lent); small
 * timings (edit interval 100 ms, debounce 50, stalls 5 s / 10 s, holds 100 ms). */
void conv_fx_init(struct conv_fx *f, const char *const *flags);
/* Ask mode, as the daemon configures it (call before conv_fx_start): questions are
 * posted in the thread and the engine times them out after @timeout_ms itself. */
void conv_fx_ask_mode(struct conv_fx *f, uint64_t timeout_ms);
/* Before conv_fx_start: another agent @name (the scripted agent with the default's
 * flags, its own log; its session map in the same state dir). */
void conv_fx_add_agent(struct conv_fx *f, const char *name);
/* Before conv_fx_start: a [[routes]] entry (strings lent, must outlive the start). */
void conv_fx_route(struct conv_fx *f, const char *channel, const char *role, const char *agent);
/* Prompts agent @name received ("default": the fixture's own agent). */
int conv_fx_agent_prompts(const struct conv_fx *f, const char *name);
/* Text block @block of prompt @n (0-based) agent @name received, owned, or NULL. */
char *conv_fx_agent_prompt_block(const struct conv_fx *f, const char *name, int n, int block);
/* Pool, engine, host, policy; open and start the fake chat. */
void conv_fx_start(struct conv_fx *f);
/* Wait until nothing runs or waits, free everything, assert uv_loop_close() == 0. */
void conv_fx_close(struct conv_fx *f);
/* Close the broker (agents first, then the chat, engine, policy, host) and free the
 * rest at once, whatever still runs; asserts uv_loop_close() == 0. */
void conv_fx_free(struct conv_fx *f);

/* A top-level message in CONV_FX_CHANNEL from @user mentioning the bot; @text is what
 * remains without the mention. Returns its id (lent from @f): also the conversation. */
const char *conv_fx_mention(struct conv_fx *f, const char *user, const char *text);
/* A top-level message in @channel like conv_fx_mention, mentioning @role (may be NULL). */
const char *conv_fx_mention_in(struct conv_fx *f, const char *channel, const char *role,
                               const char *user, const char *text);
/* A message with id @id (lent for the call) from @user: in @thread (NULL: top level,
 * where @id is the conversation), mentioning the bot when @mention. */
void conv_fx_deliver_id(struct conv_fx *f, const char *id, const char *user, const char *thread,
                        const char *text, bool mention);
/* A message from @user in the bot's thread @thread, without a mention. Returns its id. */
const char *conv_fx_follow_up(struct conv_fx *f, const char *thread, const char *user,
                              const char *text);
/* @user adds @emoji on message @msg in @channel. */
void conv_fx_react(struct conv_fx *f, const char *channel, const char *msg, const char *user,
                   const char *emoji);

/* Run the loop for @ms. */
void conv_fx_run(struct conv_fx *f, uint64_t ms);
/* Run until nothing runs or waits in the engine (and the chat answers that follow
 * have landed); false after @ms. */
bool conv_fx_idle(struct conv_fx *f, uint64_t ms);
/* Run until a call like fake_chat_find(@kind, @text, @msg, @emoji) exists; its index,
 * or -1 after @ms. */
int conv_fx_wait_call(struct conv_fx *f, uint64_t ms, enum fake_kind kind, const char *text,
                      const char *msg, const char *emoji);

/* Prompts the agent received (session/prompt lines in its log). */
int conv_fx_prompts(const struct conv_fx *f);
/* Text block @block (0: sender context, 1: the text) of prompt @n (0-based), owned by
 * the caller, or NULL. */
char *conv_fx_prompt_block(const struct conv_fx *f, int n, int block);

/* The id of the first message the bot posted in @thread (the live reply), or NULL. */
const char *conv_fx_first_post(const struct conv_fx *f, const char *thread);

/* Unicode code points in @s. */
size_t conv_fx_chars(const char *s);

/* Whether @needles (NULL-terminated) all occur in @text, each exactly once, in order. */
bool conv_fx_in_order(const char *text, const char *const *needles);

/* The text of every successful send or final edit in the thread, joined in order:
 * what the user reads, with the live message at its final state. Owned by the caller. */
char *conv_fx_thread_text(const struct conv_fx *f, const char *thread);

#endif
