/* The status-reaction state machine of one user message. */
#include "conv/reactions.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <agent-broker/errors.h>

/* The CONFIG.md [reactions] defaults. */
struct reactions_config
reactions_config_default(void)
{
    return (struct reactions_config){
        .enabled = true,
        .remove_after_reply = false,
        .emojis =
            {
                .queued = "👀",
                .thinking = "🤔",
                .tool = "🔥",
                .coding = "👨‍💻",
                .web = "⚡",
                .done = "🆗",
                .error = "😱",
                .stall_soft = "🥱",
                .stall_hard = "😨",
                .mood_ok = "😊",
                .mood_empty = "🤷",
                .mood_tool_errors = "😅",
                .mood_cancelled = "🫡",
            },
        .debounce_ms = 700,
        .stall_soft_ms = 10000,
        .stall_hard_ms = 30000,
        .done_hold_ms = 1500,
        .error_hold_ms = 2500,
    };
}

/* Whether @text contains any of @words, ignoring case. */
static bool
reactions_has_word(const char *text, const char *const *words)
{
    for (; *words; words++) {
        size_t n = strlen(*words);
        for (const char *p = text; *p; p++) {
            if (strncasecmp(p, *words, n) == 0)
                return true;
        }
    }
    return false;
}

/* Classify by ACP kind first; titles decide only for think/other/unknown kinds. */
enum reactions_tool_class
reactions_classify_tool(const char *kind, const char *title)
{
    static const char *const coding_kinds[] = {"execute", "read", "edit", "delete", "move", NULL};
    static const char *const web_kinds[] = {"search", "fetch", NULL};
    static const char *const coding_words[] = {"exec",  "read",     "write",   "edit",  "bash",
                                               "shell", "terminal", "command", "patch", NULL};
    static const char *const web_words[] = {"search", "fetch", "browse", "web", "http", NULL};

    if (kind) {
        for (const char *const *k = coding_kinds; *k; k++) {
            if (strcmp(kind, *k) == 0)
                return REACTIONS_TOOL_CODING;
        }
        for (const char *const *k = web_kinds; *k; k++) {
            if (strcmp(kind, *k) == 0)
                return REACTIONS_TOOL_WEB;
        }
    }
    if (title && reactions_has_word(title, coding_words))
        return REACTIONS_TOOL_CODING;
    if (title && reactions_has_word(title, web_words))
        return REACTIONS_TOOL_WEB;
    return REACTIONS_TOOL_GENERIC;
}

/* The emoji standing for @state, or NULL for none. */
static const char *
reactions_emoji(const struct reactions *r, enum reactions_state state)
{
    const struct reactions_emojis *e = &r->cfg.emojis;

    switch (state) {
    case REACTIONS_QUEUED: return e->queued;
    case REACTIONS_THINKING: return e->thinking;
    case REACTIONS_TOOL: return e->tool;
    case REACTIONS_CODING: return e->coding;
    case REACTIONS_WEB: return e->web;
    case REACTIONS_STALL_SOFT: return e->stall_soft;
    case REACTIONS_STALL_HARD: return e->stall_hard;
    case REACTIONS_DONE: return e->done;
    case REACTIONS_ERROR: return e->error;
    default: return NULL;
    }
}

/* Emit @emoji when it is set (an empty string in the config disables that state). */
static void
reactions_emit(struct reactions *r, const char *emoji, bool add)
{
    if (emoji && *emoji)
        r->emit(r->arg, emoji, add);
}

/* Make the message carry @state: remove what it shows, then add the new emoji(s). */
static void
reactions_show(struct reactions *r, enum reactions_state state, const char *mood)
{
    if (state == r->shown)
        return;
    reactions_emit(r, reactions_emoji(r, r->shown), false);
    reactions_emit(r, r->shown_mood, false);
    r->shown = state;
    r->shown_mood = mood;
    reactions_emit(r, reactions_emoji(r, state), true);
    reactions_emit(r, mood, true);
}

/* True once done or error was reached (or the object stopped): nothing changes then. */
static bool
reactions_is_over(const struct reactions *r)
{
    return !r->cfg.enabled || r->shown >= REACTIONS_DONE;
}

/* The debounce passed with the desired state unchanged: show it. */
static void
reactions_debounce_fired(void *arg)
{
    struct reactions *r = arg;

    reactions_show(r, r->desired, NULL);
}

/* Want @state shown; it goes out only if it is still wanted after debounce_ms. */
static void
reactions_want(struct reactions *r, enum reactions_state state)
{
    if (state == r->desired && (clock_timer_is_active(&r->debounce) || state == r->shown))
        return;
    r->desired = state;
    if (state == r->shown) {
        /* Back to what is shown before the change became visible: nothing to send. */
        clock_timer_stop(&r->debounce);
        return;
    }
    clock_timer_start(r->clock, &r->debounce, r->cfg.debounce_ms, reactions_debounce_fired, r);
}

/* No progress for a while: show @state at once (it has held long enough by definition). */
static void
reactions_stall(struct reactions *r, enum reactions_state state)
{
    clock_timer_stop(&r->debounce);
    r->desired = state;
    reactions_show(r, state, NULL);
}

/* No progress for stall_soft_ms. */
static void
reactions_stall_soft_fired(void *arg)
{
    reactions_stall(arg, REACTIONS_STALL_SOFT);
}

/* No progress for stall_hard_ms. */
static void
reactions_stall_hard_fired(void *arg)
{
    reactions_stall(arg, REACTIONS_STALL_HARD);
}

/* Remove done/error after their hold. */
static void
reactions_hold_fired(void *arg)
{
    reactions_show(arg, REACTIONS_REMOVED, NULL);
}

/* Copy the config and start with nothing shown. */
int
reactions_init(struct reactions *r, struct clock *clock, const struct reactions_config *cfg,
               reactions_emit_cb emit, void *arg)
{
    if (!r || !clock || !cfg || !emit)
        return AB_EINVAL;
    if (cfg->stall_hard_ms < cfg->stall_soft_ms)
        return AB_ECONFIG;
    *r = (struct reactions){.cfg = *cfg, .clock = clock, .emit = emit, .arg = arg};
    clock_timer_init(&r->debounce);
    clock_timer_init(&r->stall_soft);
    clock_timer_init(&r->stall_hard);
    clock_timer_init(&r->hold);
    return 0;
}

/* 👀 goes out at once: the user must see the message was taken. */
void
reactions_queued(struct reactions *r)
{
    if (reactions_is_over(r) || r->working != REACTIONS_NONE)
        return;
    clock_timer_stop(&r->debounce);
    r->desired = REACTIONS_QUEUED;
    reactions_show(r, REACTIONS_QUEUED, NULL);
}

/* Restart both stall timers from now. */
static void
reactions_restart_stall(struct reactions *r)
{
    clock_timer_start(r->clock, &r->stall_soft, r->cfg.stall_soft_ms, reactions_stall_soft_fired,
                      r);
    clock_timer_start(r->clock, &r->stall_hard, r->cfg.stall_hard_ms, reactions_stall_hard_fired,
                      r);
}

/* Enter a working state (thinking or a tool class): progress, then the debounced change. */
static void
reactions_work(struct reactions *r, enum reactions_state state)
{
    if (reactions_is_over(r))
        return;
    r->working = state;
    reactions_restart_stall(r);
    reactions_want(r, state);
}

/* The turn started. */
void
reactions_thinking(struct reactions *r)
{
    reactions_work(r, REACTIONS_THINKING);
}

/* A tool runs. */
void
reactions_tool(struct reactions *r, enum reactions_tool_class cls)
{
    static const enum reactions_state states[] = {
        [REACTIONS_TOOL_GENERIC] = REACTIONS_TOOL,
        [REACTIONS_TOOL_CODING] = REACTIONS_CODING,
        [REACTIONS_TOOL_WEB] = REACTIONS_WEB,
    };

    if ((unsigned)cls > REACTIONS_TOOL_WEB)
        cls = REACTIONS_TOOL_GENERIC;
    reactions_work(r, states[cls]);
}

/* Output arrived: the agent is alive again. */
void
reactions_progress(struct reactions *r)
{
    if (reactions_is_over(r) || r->working == REACTIONS_NONE)
        return;
    reactions_work(r, r->working);
}

/* Stop the timers that belong to a running turn. */
static void
reactions_stop_turn_timers(struct reactions *r)
{
    clock_timer_stop(&r->debounce);
    clock_timer_stop(&r->stall_soft);
    clock_timer_stop(&r->stall_hard);
}

/* Show a terminal state now, and schedule its removal when configured. */
static void
reactions_end(struct reactions *r, enum reactions_state state, const char *mood, uint64_t hold_ms)
{
    if (reactions_is_over(r))
        return;
    reactions_stop_turn_timers(r);
    r->desired = state;
    reactions_show(r, state, mood);
    if (r->cfg.remove_after_reply)
        clock_timer_start(r->clock, &r->hold, hold_ms, reactions_hold_fired, r);
}

/* The turn ended normally (or was cancelled). */
void
reactions_done(struct reactions *r, enum reactions_outcome outcome)
{
    const struct reactions_emojis *e = &r->cfg.emojis;
    const char *mood = e->mood_ok;

    switch (outcome) {
    case REACTIONS_OUTCOME_EMPTY: mood = e->mood_empty; break;
    case REACTIONS_OUTCOME_TOOL_ERRORS: mood = e->mood_tool_errors; break;
    case REACTIONS_OUTCOME_CANCELLED: mood = e->mood_cancelled; break;
    default: break;
    }
    reactions_end(r, REACTIONS_DONE, mood, r->cfg.done_hold_ms);
}

/* The turn failed. */
void
reactions_error(struct reactions *r)
{
    reactions_end(r, REACTIONS_ERROR, NULL, r->cfg.error_hold_ms);
}

/* Silence @r for good. */
void
reactions_stop(struct reactions *r)
{
    reactions_stop_turn_timers(r);
    clock_timer_stop(&r->hold);
    r->cfg.enabled = false;
}

/* What the message carries. */
enum reactions_state
reactions_shown(const struct reactions *r)
{
    return r->shown;
}

/* The mood face shown with done. */
const char *
reactions_shown_mood(const struct reactions *r)
{
    return r->shown_mood;
}
