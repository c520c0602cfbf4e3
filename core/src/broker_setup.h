/* What the daemon, the benchmarks and the test fixtures share when they assemble the
 * broker: the pool's and the engine's settings from a loaded config. */
#ifndef AB_BROKER_SETUP_H
#define AB_BROKER_SETUP_H

#include "acp/pool.h"
#include "config/config.h"
#include "conv/engine.h"

/* Fill *ec from @c (lent: every emoji string in *ec points into it, so @c must outlive
 * the engine). The agent's auth_hint and classify_tool are left NULL for the caller. */
void broker_setup_engine_config(const struct config *c, struct engine_config *ec);

/* Fill *pc from @c (lent: state_dir points into it). Ask mode's questions time out in
 * the engine, so the pool's own permission timeout is 0. */
void broker_setup_pool_config(const struct config *c, struct pool_config *pc);

#endif
