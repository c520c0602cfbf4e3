/* Shared fixture of the ACP unit tests: a loop, a pool on the scripted agent
 * (tests/acp/scripted-agent.js), turn recorders, and process-death checks. */
#ifndef AB_TEST_ACP_FIXTURE_H
#define AB_TEST_ACP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>
#include <uv.h>

#include "acp/pool.h"
#include "../support/check_runner.h"

#define FX_MAX_ARGS 24

struct fx {
    uv_loop_t loop;
    struct pool *pool;
    struct pool_config cfg;
    struct agent_launch launch;
    const char *args[FX_MAX_ARGS]; /* scripted-agent.js, --log FILE, flags..., NULL */
    int nargs;
    char script[512];
    char dir[128];         /* scratch directory, removed at the end */
    char log[256];         /* what the agent received */
    char state[256];       /* the pool's state dir */
    char agent_state[256]; /* the agent's --state file */
    bool closed;
};

/* What one turn produced. */
struct rec {
    char *text; /* owned: agent_message_chunk texts joined */
    size_t len;
    int kinds[16]; /* events seen, by kind */
    int tool_new, tool_completed, tool_failed, tool_in_progress;
    char last_tool_title[128];
    bool has_reset;
    enum acp_reset_reason reset;
    bool reset_before_text;
    int permissions;
    struct acp_permission *perm;   /* the last request handed out (ask mode) */
    enum acp_perm_decision answer; /* answer it with this at once, unless -1 */
    int auto_answer;
    char perm_title[128];
    size_t perm_options;
    bool got_chunk;         /* a message chunk arrived */
    const char *cancel_key; /* pool_cancel this key after the first chunk */
    struct fx *f;
    bool done;
    int rc;
    char stop[32];
    char message[1024];
    bool exited;
    int64_t exit_status;
    char stderr_tail[2048];
    char auth_hint[128];
};

/* Set up a fixture whose agent gets @flags (NULL-terminated, lent). */
void fx_init(struct fx *f, const char *const *flags);
/* Create the pool from f->cfg and f->launch. */
void fx_pool(struct fx *f);
/* Start a turn on @key; asserts pool_prompt returned 0. */
void fx_turn(struct fx *f, const char *key, const char *text, struct rec *r);
/* Start a turn and wait for it (at most @ms). */
void fx_turn_wait(struct fx *f, const char *key, const char *text, struct rec *r, uint64_t ms);
/* Run the loop until *@flag or @ms pass; returns *@flag. */
bool fx_wait(struct fx *f, const bool *flag, uint64_t ms);
/* fx_init(@f, @flags), fx_pool, then one turn of @text on "discord:1" into @r, waited for
 * (10 s). */
void fx_one_turn(struct fx *f, const char *const *flags, const char *text, struct rec *r);
/* Close the pool, run the loop dry, assert uv_loop_close() == 0, remove the scratch dir. */
void fx_close(struct fx *f);
/* rec_reset(@r), then fx_close(@f): the end of most tests. */
void fx_close_rec(struct fx *f, struct rec *r);
/* Close the pool only (the loop stays), e.g. before a restart. */
void fx_pool_close(struct fx *f);
/* Whether the agent's log contains @needle. */
bool fx_log_has(const struct fx *f, const char *needle);
/* Count occurrences of @needle in the agent's log. */
int fx_log_count(const struct fx *f, const char *needle);
/* Free a recorder's text and reset it. */
void rec_reset(struct rec *r);
/* Assert that @pid is dead: gone, or a zombie we reap now (we are a subreaper). */
void fx_assert_dead(int pid);
/* The pid in a "pid: N" or "grandchild: N" text. */
int fx_pid_in(const char *text);
extern const struct turn_callbacks fx_callbacks;

#endif
