/* Status reactions on one user message: 👀 queued → 🤔 thinking → 🔥/👨‍💻/⚡ tool
 * → 🆗 + mood, or 😱; 🥱/😨 when the agent stalls. Debounced and coalesced, so a state
 * that would be overtaken before it shows is never sent. */
#ifndef AB_CONV_REACTIONS_H
#define AB_CONV_REACTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "clock/clock.h"

/* Emoji strings are lent: they must outlive every struct reactions using them (they
 * normally live in the loaded config). */
struct reactions_emojis {
    const char *queued;     /* 👀 the message waits for the agent */
    const char *thinking;   /* 🤔 the turn started */
    const char *tool;       /* 🔥 a tool of no particular class runs */
    const char *coding;     /* 👨‍💻 exec, read, write, edit, bash, shell… */
    const char *web;        /* ⚡ search, fetch, browser… */
    const char *done;       /* 🆗 the turn ended, shown with a mood face */
    const char *error;      /* 😱 the turn failed */
    const char *stall_soft; /* 🥱 no progress for stall_soft_ms */
    const char *stall_hard; /* 😨 no progress for stall_hard_ms */
    /* Mood faces added next to `done` (not in CONFIG.md; fixed defaults): */
    const char *mood_ok;          /* 😊 a normal reply */
    const char *mood_empty;       /* 🤷 the agent ended the turn without any text */
    const char *mood_tool_errors; /* 😅 a reply, but some tool calls failed */
    const char *mood_cancelled;   /* 🫡 a user cancelled the turn */
};

/* [reactions] and [reactions.timing]. */
struct reactions_config {
    bool enabled;            /* false: nothing is ever emitted */
    bool remove_after_reply; /* remove done/error (and the mood) after their hold */
    struct reactions_emojis emojis;
    uint64_t debounce_ms;   /* a state shows only after holding this long */
    uint64_t stall_soft_ms; /* since the last progress */
    uint64_t stall_hard_ms; /* since the last progress */
    uint64_t done_hold_ms;  /* before removing done + mood */
    uint64_t error_hold_ms; /* before removing error */
};

/* How a turn ended, choosing the mood face. */
enum reactions_outcome {
    REACTIONS_OUTCOME_OK = 0,      /* 😊 */
    REACTIONS_OUTCOME_EMPTY,       /* 🤷 */
    REACTIONS_OUTCOME_TOOL_ERRORS, /* 😅 */
    REACTIONS_OUTCOME_CANCELLED,   /* 🫡 */
};

/* Which emoji a tool call gets. */
enum reactions_tool_class {
    REACTIONS_TOOL_GENERIC = 0,
    REACTIONS_TOOL_CODING,
    REACTIONS_TOOL_WEB,
};

enum reactions_state {
    REACTIONS_NONE = 0,
    REACTIONS_QUEUED,
    REACTIONS_THINKING,
    REACTIONS_TOOL,
    REACTIONS_CODING,
    REACTIONS_WEB,
    REACTIONS_STALL_SOFT,
    REACTIONS_STALL_HARD,
    REACTIONS_DONE,
    REACTIONS_ERROR,
    REACTIONS_REMOVED, /* done/error taken away after the hold */
};

/* Add (@add true) or remove @emoji (lent for the call) on the user's message. */
typedef void (*reactions_emit_cb)(void *arg, const char *emoji, bool add);

/* One user message's reactions; embed it, owned by the caller. Fields are private. */
struct reactions {
    struct reactions_config cfg;
    struct clock *clock; /* lent; outlives this */
    reactions_emit_cb emit;
    void *arg;                     /* lent to emit */
    enum reactions_state shown;    /* what the message carries now */
    const char *shown_mood;        /* lent from cfg; the mood face shown with done */
    enum reactions_state desired;  /* what it should carry once the debounce passes */
    enum reactions_state working;  /* thinking or the tool class: where progress returns */
    struct clock_timer debounce;   /* desired → shown */
    struct clock_timer stall_soft; /* since last progress */
    struct clock_timer stall_hard; /* since last progress */
    struct clock_timer hold;       /* done/error → removed */
};

/* The CONFIG.md defaults: enabled, not removed after reply, debounce 700 ms, stalls at
 * 10 s and 30 s, done held 1.5 s, error 2.5 s, the emojis above. */
struct reactions_config reactions_config_default(void);

/* The class of a tool from its ACP kind (execute, read, edit, delete, move, search,
 * fetch, think, other…) or, failing that, words in its title. Either may be NULL. */
enum reactions_tool_class reactions_classify_tool(const char *kind, const char *title);

/* Prepare @r for one message. @cfg is copied (its strings stay lent). Emits nothing. */
int reactions_init(struct reactions *r, struct clock *clock, const struct reactions_config *cfg,
                   reactions_emit_cb emit, void *arg);

/* The message entered the queue: 👀 at once. */
void reactions_queued(struct reactions *r);

/* The turn started: 🤔 once it has held for the debounce; stall timers start. */
void reactions_thinking(struct reactions *r);

/* A tool call started or updated: its class's emoji (debounced); counts as progress. */
void reactions_tool(struct reactions *r, enum reactions_tool_class cls);

/* The agent produced output (text, thought, tool update): restart the stall timers and
 * leave a stall state. */
void reactions_progress(struct reactions *r);

/* The turn ended: at once remove the current reaction, add done and the @outcome's mood;
 * after done_hold_ms remove both if remove_after_reply. */
void reactions_done(struct reactions *r, enum reactions_outcome outcome);

/* The turn failed: at once 😱, removed after error_hold_ms if remove_after_reply. */
void reactions_error(struct reactions *r);

/* Stop every timer; emits nothing more. */
void reactions_stop(struct reactions *r);

/* The state currently shown on the message. */
enum reactions_state reactions_shown(const struct reactions *r);

/* The mood face shown next to done (lent from the config), or NULL. */
const char *reactions_shown_mood(const struct reactions *r);

#endif
