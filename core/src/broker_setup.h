/* What the daemon, the benchmarks and the test fixtures share when they assemble the
 * broker: the engine's settings from a loaded config. */
#ifndef AB_BROKER_SETUP_H
#define AB_BROKER_SETUP_H

#include "config/config.h"
#include "conv/engine.h"

/* Fill *ec from @c (lent: every emoji string in *ec points into it, so @c must outlive
 * the engine). The agent's auth_hint and classify_tool are left NULL for the caller. */
void broker_setup_engine_config(const struct config *c, struct engine_config *ec);

#endif
