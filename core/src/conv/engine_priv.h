/* Private structures of the engine shared by its files. */
#ifndef AB_CONV_ENGINE_PRIV_H
#define AB_CONV_ENGINE_PRIV_H

#include "acp/acp_permission.h"
#include "conv/chat_instance.h"
#include "conv/attachments.h"
#include "conv/engine.h"
#include "conv/route.h"
#include "outbound/pacer.h"
#include "outbound/ratelimit.h"

#define STATUS_RX_WANT 2 /* the state's emoji and the mood */
#define STATUS_RX_HAVE 6 /* ours on the message: the wanted ones and some left to remove */
#define STATUS_RX_STEPS 2

/* One reaction change on its way to the platform (status_reactions.c). */
struct status_step {
    struct status_reactions *rx; /* lent: the owner */
    const char *emoji;           /* lent from the reactions config */
    bool add;
    bool is_busy; /* submitted, its completion not yet in */
    enum ratelimit_priority prio;
};

/* Status reactions on one user message: what the state machine wants shown, what the
 * platform has, and the one change (two while a final overtakes a queued intermediate)
 * on its way. Lives until its final state is on the message (and, with remove_after_reply,
 * its hold has run). */
struct status_reactions {
    struct reactions r;
    struct engine *e;
    struct chat_instance *ci;         /* lent */
    char *channel_id;                 /* owned */
    char *message_id;                 /* owned */
    struct clock_timer reap;          /* the done/error hold */
    struct clock_timer sync;          /* the next change goes on a later loop round */
    struct chat_owner owner;          /* the steps in the scheduler */
    const char *want[STATUS_RX_WANT]; /* lent from cfg: what the state machine shows */
    const char *have[STATUS_RX_HAVE]; /* lent from cfg: ours on the message, as far as known */
    struct status_step steps[STATUS_RX_STEPS];
    uint64_t gen;      /* bumped when `want` changes */
    uint64_t skip_gen; /* `skip` holds for this generation only */
    const char
        *skip[STATUS_RX_WANT + STATUS_RX_HAVE]; /* intermediate changes dropped this generation */
    bool skip_add[STATUS_RX_WANT + STATUS_RX_HAVE];
    unsigned final_failures;              /* final changes that failed: given up past a few */
    bool is_released;                     /* final state set: free once shown and held */
    struct status_reactions *prev, *next; /* the engine's list of live ones */
};

/* One accepted user message, queued or part of a turn. */
struct pending {
    struct pending *next;
    char *message_id;            /* owned */
    char *channel_id;            /* owned: where the message is (its reactions go there) */
    char *text;                  /* owned: mention removed */
    char *sender_context;        /* owned: the <sender_context> block */
    struct status_reactions *rx; /* owned until handed to a turn or released */
    uint64_t journal_id;         /* its acceptance journal entry, 0 = none */
    struct attach_fetch *fetch;  /* owned: its attachments being fetched, or NULL */
};

/* One permission request posted in the thread (ask mode). */
struct ask {
    struct ask *next;
    struct turn *turn;
    struct acp_permission *req; /* lent from the ACP layer until resolved */
    char *message_id;           /* owned: the posted question, NULL until sent */
    char *channel_id;           /* owned */
    char *text;                 /* owned: the question as posted */
    struct clock_timer timeout;
    bool is_resolved;
};

struct conversation {
    struct conversation *next;                /* hash chain */
    struct conversation *lru_prev, *lru_next; /* the engine's LRU, least recently used first */
    struct conversation *run_prev, *run_next; /* the engine's conversations with a turn */
    uint64_t last_used_ms;                    /* engine clock: the last message or turn end */
    char *key;                                /* owned: "platform:conversation" */
    struct engine *e;
    struct chat_instance *ci; /* lent */
    size_t agent;             /* index into the engine's agents: its agent for life */
    char *reply_channel;      /* owned: the channel replies go to */
    char *reply_thread;       /* owned: the thread replies go in, or NULL */
    bool is_opening_thread;   /* open_thread in flight: turns wait */
    char *held_notices;       /* owned: lines for the thread being opened, or NULL */
    bool is_reset_pending;    /* /reset: forget the session once the turn has ended */
    bool is_multibot;
    struct pending *queue; /* owned FIFO */
    size_t queued;
    struct turn *turn;      /* owned: the running turn, or NULL */
    struct chat_owner chat; /* open_thread in flight */
    /* Waiting for a free agent session (every one busy), in the engine's FIFO. */
    struct conversation *wait_next; /* the engine's FIFO link */
    bool is_waiting;
    bool is_wait_noticed;          /* its position line was posted */
    uint64_t wait_since;           /* loop time it started waiting */
    struct clock_timer wait_timer; /* the position line, then the bound */
};

struct turn {
    struct engine *e;
    struct conversation *conv;   /* lent */
    struct pending *msgs;        /* owned: the batch this turn answers */
    struct status_reactions *rx; /* owned until done: reactions of the newest message */
    struct render_state *render; /* owned */
    struct pacer pacer;
    bool use_live;      /* edit one live message while streaming */
    uint64_t gen;       /* render generation handed to the pacer */
    char *live_channel; /* owned: the live message, once posted */
    char *live_id;      /* owned */
    bool is_agent_done; /* on_done arrived */
    bool is_finalizing; /* the final messages are being sent */
    bool had_text, had_tool_error;
    bool is_cancelled_by_user;
    bool had_first_reply; /* first_reply_seconds observed */
    uint64_t started_ms;  /* engine clock when the prompt went to the agent */
    int64_t started_wall; /* wall-clock seconds then ([agent] auto_upload_dirs) */
    char *outcome_line;   /* owned: the line appended after the text, or NULL */
    size_t dropped_chars; /* agent text past the cap, never held (turn_text_cap) */
    size_t dropped_tools; /* tool calls past RENDER_TOOLS_MAX, never shown */
    char *footer;         /* owned: [stream] usage_footer's line, or NULL */
    bool is_error;
    int final_pending; /* final chunks not yet delivered */
    struct ask *asks;  /* owned */
    struct pool_turn *pool_turn;
    struct chat_owner chat; /* every send/edit of the turn and its questions */
};

/* One agent the engine talks to, with its session pool. */
struct engine_agent {
    char *name;            /* owned */
    struct pool *pool;     /* lent */
    const char *auth_hint; /* lent, or NULL (the default's comes from the config) */
    enum ab_tool_class (*classify_tool)(const char *kind, const char *title);
    uint64_t turns, turn_errors;
};

struct engine {
    uv_loop_t *loop;
    struct clock *clock;         /* owned */
    struct ratelimit *rl;        /* owned */
    struct engine_agent *agents; /* owned, nagents >= 1: agents[0] is the default */
    size_t nagents;
    size_t fallback;           /* the agent a conversation no rule routes goes to */
    struct route_table routes; /* owned */
    size_t draining;           /* pools still draining */
    void (*drained)(void *arg);
    void *drained_arg;
    struct engine_config cfg;
    struct chat_instance **chats; /* lent instances */
    size_t nchats;
    struct conversation **buckets; /* owned hash table, a power of two, grown at load 1 */
    size_t nbuckets;
    size_t nconvs;
    struct conversation *lru_head, *lru_tail;     /* every conversation, oldest use first */
    struct conversation *running;                 /* conversations with a turn */
    uint32_t nrunning, nqueued, nopening;         /* turns, queued messages, threads opening */
    struct clock_timer sweep;                     /* evicts idle conversations */
    struct status_reactions *rxs;                 /* owned: every status_reactions still alive */
    struct conversation *waiting, **waiting_tail; /* FIFO for a free session (lent) */
    size_t nwaiting;
    bool is_draining;
    struct journal *journal;            /* lent, or NULL: acceptance is not recorded */
    struct engine_recovery *recoveries; /* owned: restart lines in flight */
    void (*idle)(void *arg);
    void *idle_arg;
    struct engine_stats stats;
    struct command_call *calls; /* commands still answering (lent to their handlers) */
};

/* A reaction's emoji is the configured one; a trailing VS16 (U+FE0F) on either side is
 * ignored, since platforms add or drop it (♾ / ♾️). False when want is NULL or empty. */
bool engine_emoji_is(const char *got, const char *want);

/* status_reactions.c */
struct status_reactions *status_reactions_new(struct engine *e, struct chat_instance *ci,
                                              const char *channel_id, const char *message_id);
void status_reactions_release(struct status_reactions *rx);
void status_reactions_free(struct status_reactions *rx);

/* turn.c */
/* Start a turn with everything queued in @c. AB_EFULL (messages still queued) when every
 * session is busy and engine_may_wait(@c) said it may wait. */
int turn_start(struct conversation *c);
bool turn_owns_message(const struct turn *t, const char *message_id);
/* A reaction (or button) @emoji on question @message_id by @user (lent). */
int turn_answer_ask(struct turn *t, const char *message_id, const char *emoji, const char *user);
/* Is @message_id one of @t's permission questions? */
bool turn_is_question(const struct turn *t, const char *message_id);
void turn_cancel(struct turn *t);
void turn_abandon(struct turn *t);

/* engine.c */
/* @c's agent (lent). */
struct engine_agent *engine_conv_agent(const struct conversation *c);
/* The index of agent @name (lent), or e->nagents when there is none. */
size_t engine_agent_index(const struct engine *e, const char *name);
/* Switch @c to agent @agent (lent) from its next turn, the old agent's session
 * forgotten: 0, AB_ENOENT (unknown agent) or AB_EAGAIN (a turn runs or waits). */
int engine_conv_set_agent(struct conversation *c, const char *agent);
/* The login hint and tool classifier of @c's agent. */
const char *engine_conv_auth_hint(const struct conversation *c);
struct conversation *engine_find_conversation(struct engine *e, const char *key);
void engine_post_notice(struct conversation *c, const char *text);
struct pending *engine_queue_take(struct conversation *c);
void engine_queue_put_back(struct conversation *c, struct pending *msgs);
void engine_turn_began(struct conversation *c);
void engine_running_remove(struct conversation *c);
void engine_turn_finished(struct conversation *c);
void pending_free(struct pending *p);
void engine_answered(struct engine *e, struct pending *msgs);
bool engine_may_wait(struct conversation *c);

#endif
