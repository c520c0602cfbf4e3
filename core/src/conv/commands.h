/* Chat commands (/cancel, /reset, /status, /usage, /model, /mode, /agent, /help): parsed in the
 * core for every platform, never prompted to the agent. A command acts on the
 * conversation of the place it was typed (a thread's, the console's); its answer goes
 * back through a reply target, so that a platform's native commands (a slash command
 * with its own reply handle) and the text form share one implementation. */
#ifndef AB_CONV_COMMANDS_H
#define AB_CONV_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "acp/pool.h"
#include "conv/chat_instance.h"

struct engine;

/* Longest command name, NUL included. */
#define COMMANDS_NAME_MAX 32

/* Where a command's answer goes: the plugin's native reply handle, or (text form) a
 * post in the conversation's thread. */
struct command_target {
    struct chat_instance *ci; /* lent */
    char *channel;            /* owned: where to post (text form) */
    char *thread;             /* owned, or NULL */
    char *reply_token;        /* owned: ab_chat_ops.command_reply's handle, or NULL */
};

/* One command invocation; lives until its last (possibly asynchronous) answer. */
struct command_call {
    struct engine *e;             /* NULL once the engine is gone: answer nothing */
    char key[POLICY_KEY_MAX];     /* the conversation acted on */
    struct command_target target; /* owned strings */
    char *arg;                    /* owned: what followed the name ("" if nothing) */
    struct command_call *next;    /* the engine's calls in flight */
    enum acp_option_kind kind;    /* /model or /mode in flight */
};

/* One entry of the command table. Extend the table in commands.c to add a command
 * (its argument, if any, named in `usage`). */
struct command {
    const char *name;  /* without the slash */
    const char *usage; /* the argument, for /help ("[NAME]"), or NULL */
    const char *help;  /* one line */
    /* Run with @call (owned by the handler: finish it with commands_done). */
    void (*run)(struct command_call *call);
};

/* Does @text (lent) read as a command: optional blanks, '/', a name of letters,
 * digits, '_' or '-', then a blank or the end? ("/etc/hosts is odd" is not.) */
bool commands_is_command(const char *text);

/* Run the command line @text (lent) typed for conversation @key (lent), answering to
 * @ci through @reply_token (lent; a native invocation's handle) or, when it is NULL,
 * in @channel / @thread (lent, @thread may be NULL). Every invocation gets exactly one
 * answer; unknown commands get a short help line. Returns 0 or AB_ENOMEM. */
int commands_run(struct engine *e, struct chat_instance *ci, const char *key, const char *channel,
                 const char *thread, const char *reply_token, const char *text);

/* Answer native invocation @reply_token with @text (both lent, copied) on a later loop
 * turn (refusals, and every answer of commands_reply). */
void commands_answer(struct chat_instance *ci, const char *reply_token, const char *text);

/* The command table as the ABI lists it (ab_host_services.commands_list): static. */
const struct ab_command_info *commands_info(size_t *count);

/* Post @text (lent) as @call's answer. */
void commands_reply(struct command_call *call, const char *text);

/* @call is finished: unlink and free it. */
void commands_done(struct command_call *call);

/* The engine is going away: calls still waiting on the agent will answer nothing. */
void commands_orphan_all(struct engine *e);

/* "12 in · 34 out tokens · 0.0012 USD · context 1200/200000" for @u (lent) into @buf;
 * "" when @u holds nothing. */
void commands_usage_line(const struct pool_usage *u, char *buf, size_t size);

#endif
