/* An in-process fake chat plugin for engine tests: Discord-shaped (threads take the id
 * of the message they start from, a message posted in a thread lives in the thread
 * channel), it records every call with the loop time it was made, answers on a later
 * loop turn through the host's timer service (never inside the call), can be built
 * without edit, react or threads, and can fail the next calls of a kind on command. */
#ifndef AB_TEST_FAKE_CHAT_H
#define AB_TEST_FAKE_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agent-broker/plugin.h>

enum fake_kind {
    FAKE_SEND,
    FAKE_EDIT,
    FAKE_REACT,   /* a reaction added */
    FAKE_UNREACT, /* a reaction removed */
    FAKE_OPEN_THREAD,
    FAKE_KINDS,
};

/* One call the core made. Strings owned by the fake. */
struct fake_call {
    enum fake_kind kind;
    uint64_t at_ms;   /* host now_ms when the plugin was called */
    char *channel_id; /* send: the channel; others: the target message's channel */
    char *thread_id;  /* send: the thread posted in, or NULL */
    char *message_id; /* send: the new message's id (NULL when failed); others: the target */
    char *text;       /* send/edit: the text; open_thread: the name */
    char *emoji;      /* react/unreact */
    char *nonce;      /* send: the idempotency key the core passed, or NULL */
    int status;       /* what the fake answered */
};

/* What the fake platform can do. */
struct fake_chat_options {
    uint32_t max_chars; /* 0 = 2000 */
    bool no_edit, no_react, no_threads;
    bool slack_refs; /* Slack-shaped: a post in a thread lives in the channel (its edits
                        go to the channel's bucket, its thread's posts to the thread's) */
};

/* Fill @ops (owned by the caller) with the fake's operations, leaving out what @opt
 * says the platform lacks. */
void fake_chat_ops(const struct fake_chat_options *opt, struct ab_chat_ops *ops);

/* Calls recorded so far, and the @i-th (lent until the chat is closed). */
size_t fake_chat_count(const struct ab_chat *c);
const struct fake_call *fake_chat_call(const struct ab_chat *c, size_t i);

/* The next @times calls of @kind answer @status instead of 0. */
void fake_chat_fail(struct ab_chat *c, enum fake_kind kind, int status, int times);

/* The next @times calls of @kind are refused inside the call with @status (< 0), as a
 * plugin refusing a malformed request does; nothing is recorded for them. */
void fake_chat_refuse(struct ab_chat *c, enum fake_kind kind, int status, int times);

/* Index of the first call at or after @from of @kind whose text contains @text (NULL:
 * any) and, for reactions, on message @message_id with @emoji (NULL: any); -1 if none. */
int fake_chat_find(const struct ab_chat *c, size_t from, enum fake_kind kind, const char *text,
                   const char *message_id, const char *emoji);

/* Count calls of @kind (texts containing @text when not NULL). */
int fake_chat_count_kind(const struct ab_chat *c, enum fake_kind kind, const char *text);

/* The reaction changes on @message_id in order, as "+👀 -👀 +🤔 …" (lent until the next
 * call). */
const char *fake_chat_trail(const struct ab_chat *c, const char *message_id);

/* Whether @emoji is on @message_id now (adds minus removes that succeeded). */
bool fake_chat_has_reaction(const struct ab_chat *c, const char *message_id, const char *emoji);

/* What message @message_id shows now: the latest successful send or edit (lent), or NULL. */
const char *fake_chat_message_text(const struct ab_chat *c, const char *message_id);

/* Call @fn(@arg, the call) inside every call the core makes, once it is recorded (NULL
 * stops it): what the core had done by then. */
void fake_chat_on_call(struct ab_chat *c, void (*fn)(void *arg, const struct fake_call *call),
                       void *arg);

/* Stop (or resume) keeping calls: a long run then uses constant memory; counts,
 * trails and finds see only the calls kept. */
void fake_chat_keep_calls(struct ab_chat *c, bool keep);

/* Apply the instance options of @opt (slack_refs) to an open chat. */
void fake_chat_configure(struct ab_chat *c, const struct fake_chat_options *opt);

/* From now on, hold the answers to calls of @kind whose text contains @text (NULL:
 * any) instead of delivering them, until fake_chat_release(). */
void fake_chat_hold(struct ab_chat *c, enum fake_kind kind, const char *text);

/* Stop holding, and deliver every held answer on a later loop turn. Returns how many. */
int fake_chat_release(struct ab_chat *c);

/* Answers held now. */
size_t fake_chat_held(const struct ab_chat *c);

/* Print every call, one a line, to stderr (debugging a failing test). */
void fake_chat_dump(const struct ab_chat *c);

#endif
