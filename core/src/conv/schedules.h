/* [[cron.jobs]] at work: every enabled job on a cron scheduler on the engine's clock.
 * At a job's time the broker posts "🕐 SENDER: MESSAGE" in the job's channel (or its
 * thread_id) on its platform and hands that post to the engine as a message from a
 * trusted sender (engine_inbound_trusted): at top level it opens a thread from the post,
 * the routes choose the agent for the channel, the answer streams into the thread and
 * follow-ups there are an ordinary conversation. Each job's last run is kept in the
 * state dir (cron.json, written atomically off the loop) so [cron] catch_up holds across
 * restarts. Loop thread only. */
#ifndef AB_CONV_SCHEDULES_H
#define AB_CONV_SCHEDULES_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config/config.h"
#include "conv/chat_instance.h"
#include "conv/engine.h"

/* The file under [state] dir holding each job's last run. */
#define SCHEDULES_STATE_FILE "cron.json"

/* Test-only: shift the schedules' wall clock by this many seconds (an integer), so a
 * test can start a daemon just before a minute or hours after its last run. Never set
 * in production; the daemon logs a warning when it is. */
#define SCHEDULES_TEST_SHIFT_ENV "AGENT_BROKER_TEST_CRON_SHIFT_S"

struct schedules;

/* Run the enabled jobs of @jobs (@njobs, lent for the call: copied) with [cron]
 * @catch_up, posting through @chats (lent, @nchats of them: must outlive @out; a job
 * without platform uses the first) and @e (lent, must outlive @out). @state_dir (lent,
 * may be NULL: last runs are then not kept) holds SCHEDULES_STATE_FILE. A job whose
 * platform is not running or whose channel the platform's policy refuses is logged and
 * skipped. Returns 0 or AB_ENOMEM; *out owned: schedules_close(). */
int schedules_new(uv_loop_t *loop, struct engine *e, struct chat_instance *chats, size_t nchats,
                  const struct config_cron_job *jobs, size_t njobs, int catch_up,
                  const char *state_dir, struct schedules **out);

/* Replace the jobs with @jobs (SIGHUP): the last runs stay (a job keeps its record as long
 * as its schedule, platform, channel, thread and message stay the same). Runs being
 * posted finish. Returns 0 or AB_ENOMEM (the old jobs keep running). */
int schedules_reload(struct schedules *s, const struct config_cron_job *jobs, size_t njobs,
                     int catch_up);

/* No more runs (the daemon drains): timers stopped, posts in flight forgotten. */
void schedules_stop(struct schedules *s);

/* Stop and free @s; its last write finishes on the loop (run it until it is empty).
 * NULL is fine. */
void schedules_close(struct schedules *s);

/* The last run (UTC seconds) @s keeps for a job with @job's schedule, platform, channel,
 * thread and message (lent), or 0. */
int64_t schedules_last_run(const struct schedules *s, const struct config_cron_job *job);

#endif
