/* The conversation engine: inbound messages through the policy into conversations,
 * one turn at a time per conversation, replies rendered and streamed back, status
 * reactions, permission requests in chat. Shared by every chat plugin. */
#ifndef AB_CONV_ENGINE_H
#define AB_CONV_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include <agent-broker/plugin.h>

#include "acp/pool.h"
#include "conv/attachments.h"
#include "conv/chat_instance.h"
#include "clock/clock.h"
#include "conv/reactions.h"
#include "health/health_text.h"
#include "health/metrics.h"
#include "render/render.h"

/* Messages waiting behind a running turn, per conversation. */
#define ENGINE_QUEUE_CAP 16

/* The emoji a user reacts with to steer a turn, and the one the broker reacts with to
 * refuse a user; all lent from the config ([reactions.emojis]). */
struct engine_emojis {
    const char *cancel;       /* 🛑 on the message, the live reply or a question: cancel */
    const char *deny;         /* 🚫 the broker's answer to a user outside allowed_users */
    const char *allow_once;   /* ✅ on a permission question */
    const char *allow_always; /* ♾️ on a permission question (for this session) */
    const char *reject;       /* ❌ on a permission question */
};

struct engine_config {
    enum render_tool_display tool_display;
    struct reactions_config reactions; /* emoji strings lent from the config */
    struct engine_emojis emojis;       /* lent strings */
    uint64_t edit_interval_ms;
    uint32_t max_parts; /* reply messages at most; the rest becomes one truncation line
                           (0 = no limit) */
    bool perm_ask;      /* [permissions] mode = "ask" */
    uint64_t perm_timeout_ms;
    const char *const *approvers; /* lent: who may answer a question; none = allowed users */
    size_t napprovers;
    const char *auth_hint;         /* lent: the preset's login hint, or NULL */
    uint64_t conv_idle_ms;         /* forget a conversation with nothing running or waiting after
                                      this long without a message (0: ENGINE_CONV_IDLE_MS) */
    uint32_t max_sessions;         /* [pool] max_sessions, for the waiting line */
    uint32_t pool_queue_max;       /* conversations waiting for a free session at most (0 =
                                      refuse at once) */
    uint64_t pool_queue_wait_ms;   /* a wait longer than this is refused */
    uint64_t pool_queue_notice_ms; /* a wait longer than this gets one line */
    /* The agent plugin's classify_tool (ABI 1.0 optional op), or NULL: the core's own
     * classification by ACP kind and title words. */
    enum ab_tool_class (*classify_tool)(const char *kind, const char *title);
    bool usage_footer;           /* [stream] usage_footer: a usage line under each final reply */
    struct attach_config attach; /* [attachments]; strings lent from the config */
};

/* Ten minutes: a thread's next message after that starts a fresh conversation record
 * (its agent session lives on in the pool; policy keeps "involved" on its own). */
#define ENGINE_CONV_IDLE_MS (10 * 60 * 1000)

struct engine_stats {
    uint64_t received, accepted, denied, ignored, enqueued, rejected, turns, turn_errors;
    uint64_t turns_ok, turns_cancelled; /* finished turns by outcome (errors: turn_errors) */
    /* Seconds from the prompt to the agent's end of turn, and to its first reply text. */
    struct metrics_histogram turn_seconds, first_reply_seconds;
    uint64_t commands; /* chat commands run (never prompted) */
    uint32_t conversations, running, queued;
    uint32_t waiting;          /* conversations waiting for a free agent session */
    uint32_t status_reactions; /* messages whose status reactions are still tracked */
};

struct engine;

/* Create an engine on @loop using @pool (lent, must outlive it) for the agent named
 * "default" (cfg->auth_hint and cfg->classify_tool are its). @cfg is copied (its
 * strings stay lent). */
int engine_new(uv_loop_t *loop, struct pool *pool, const struct engine_config *cfg,
               struct engine **out);

/* Several agents. A new conversation talks to the agent whose pool already knows its
 * key (a restart, a record forgotten after ENGINE_CONV_IDLE_MS), else to the one the
 * routes choose (conv/route.h: channel, name prefix, role, fallback); it keeps it for
 * life. */

/* Add agent @name (copied) with @pool (lent, must outlive the engine), its login hint
 * (lent, may be NULL) and tool classifier (may be NULL). AB_EEXIST for a name taken. */
int engine_add_agent(struct engine *e, const char *name, struct pool *pool, const char *auth_hint,
                     enum ab_tool_class (*classify_tool)(const char *kind, const char *title));
/* Route new conversations in channel @channel (and its threads), or mentioning role
 * @role — exactly one of them, copied — to agent @agent. AB_ENOENT for an unknown agent. */
int engine_add_route(struct engine *e, const char *channel, const char *role, const char *agent);
/* The agent no route chooses (initially "default"; the console's --agent). AB_ENOENT
 * for an unknown agent. */
int engine_set_fallback(struct engine *e, const char *agent);
/* Switch conversation @conversation of @ci (the plugin's conversation id, as in
 * ab_inbound.conversation) to agent @agent from its next turn; the old agent's session
 * is forgotten. The hook of a `/agent NAME` command. Returns 0, AB_ENOENT (unknown
 * agent, or no such conversation right now), or AB_EAGAIN while a turn runs or waits. */
int engine_set_agent(struct engine *e, struct chat_instance *ci, const char *conversation,
                     const char *agent);
/* The name of the agent @ci's conversation @conversation talks to (lent), or NULL when
 * the engine has no record of it. */
const char *engine_agent_of(struct engine *e, struct chat_instance *ci, const char *conversation);
/* Agents, for /metrics and /readyz: @i below engine_agent_count(). Every out lent. */
size_t engine_agent_count(const struct engine *e);
void engine_agent_stats(const struct engine *e, size_t i, const char **name, struct pool **pool,
                        uint64_t *turns, uint64_t *turn_errors);

/* Replace timing, reactions and display settings (SIGHUP). */
void engine_set_config(struct engine *e, const struct engine_config *cfg);

/* The engine's clock and scheduler, for chat instances. Lent. */
struct clock *engine_clock(struct engine *e);
struct ratelimit *engine_ratelimit(struct engine *e);

struct journal;

/* Record accepted messages in @j (lent, must outlive the engine; NULL = none). */
void engine_set_journal(struct engine *e, struct journal *j);

/* After @ci started: messages a previous process accepted in @ci but never answered
 * get a visible line in their thread (and 😱); every message the journal knows of is
 * marked seen so that a platform's replay is not answered twice. */
void engine_recover(struct engine *e, struct chat_instance *ci);

/* Register a started chat instance (lent; must outlive the engine's use of it). */
int engine_add_chat(struct engine *e, struct chat_instance *ci);

/* What a chat plugin delivers (host sink callbacks). */
int engine_inbound(struct engine *e, struct chat_instance *ci, const struct ab_inbound *msg);
/* Like engine_inbound, and @recorded(@arg, status) runs exactly once when 0 is
 * returned: with 0 once the message is in the acceptance journal (or needs no record:
 * ignored, refused with a line, no journal), < 0 (-errno, AB_EIO) when the record failed, or
 * AB_ECANCELED at shutdown. It may run before this returns (callers defer it). */
int engine_inbound_held(struct engine *e, struct chat_instance *ci, const struct ab_inbound *msg,
                        void (*recorded)(void *arg, int status), void *arg);
/* A message the broker itself posted for the operator's config (a [[cron.jobs]] run),
 * @m (lent) shaped as the plugin would deliver it, sent by a trusted sender: only the
 * channel policy applies (policy_decide_trusted); then the same path as a user's
 * message (a thread opened from it at top level, the routes' agent, the queue).
 * Returns 0, AB_ECONFIG (the policy refused it: logged), or < 0. */
int engine_inbound_trusted(struct engine *e, struct chat_instance *ci, const struct ab_inbound *m);
int engine_reaction(struct engine *e, struct chat_instance *ci, const struct ab_reaction_event *ev);
/* A native command invocation (ABI 1.3 deliver_command): policy, then the command; 0
 * means it will be answered through ci's command_reply. */
int engine_command(struct engine *e, struct chat_instance *ci, const struct ab_command_event *ev);

/* Stop taking new turns; tell every queued message it will not be answered; let
 * running turns end (the pool drains them); @done(@arg) when none runs. */
void engine_drain(struct engine *e, uint64_t timeout_ms, void (*done)(void *arg), void *arg);

/* Call @idle(@arg) once nothing runs or waits (console EOF). */
void engine_when_idle(struct engine *e, void (*idle)(void *arg), void *arg);

/* Counters for /metrics. */
void engine_get_stats(const struct engine *e, struct engine_stats *out);

/* Free everything; turns must have ended (after engine_drain). */
void engine_free(struct engine *e);

#endif
