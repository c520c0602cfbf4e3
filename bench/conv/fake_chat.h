/* An in-process chat platform for benchmarks: the ab_chat_ops of a platform with edits,
 * reactions and threads, answering every operation on the next loop iteration (never
 * inside the call, as the ABI asks) and showing each posted or edited text to the bench. */
#ifndef AB_BENCH_FAKE_CHAT_H
#define AB_BENCH_FAKE_CHAT_H

#include <stdint.h>

#include <uv.h>

#include <agent-broker/chat.h>
#include <agent-broker/errors.h>

/* A text posted or edited in @where (the thread, else the channel). Both lent for the call. */
typedef void (*fake_chat_text_fn)(void *arg, const char *where, const char *text);

/* What the platform was asked to do. */
struct fake_chat_stats {
    uint64_t sends, edits, reactions, threads;
};

/* The operations, for chat_instance.ops. open and start are NULL: an instance is made by
 * fake_chat_new, not by the plugin loader. */
extern const struct ab_chat_ops fake_chat_ops;

/* Create an instance on @loop; @on_text(@arg) sees every text. *out is owned by the
 * caller: fake_chat_ops.close() frees it (owed completions are dropped). */
int fake_chat_new(uv_loop_t *loop, fake_chat_text_fn on_text, void *arg, struct ab_chat **out);

/* Counters so far. */
void fake_chat_get_stats(const struct ab_chat *c, struct fake_chat_stats *out);

#endif
