/* The long-running modes. */
#include "daemon.h"

#include <stdio.h>

#include "cli.h"

/* Not wired to the engine yet. */
int
daemon_main(enum daemon_mode mode, const char *config, const char *preset)
{
    (void)config;
    (void)preset;
    fprintf(stderr, "agent-broker %s: not yet available in this build\n",
            mode == DAEMON_CONSOLE ? "console" : "run");
    return CLI_EXIT_RUNTIME;
}
