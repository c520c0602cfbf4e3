/* The long-running modes: `run` (chat platforms) and `console` (the terminal). */
#ifndef AB_DAEMON_H
#define AB_DAEMON_H

enum daemon_mode {
    DAEMON_RUN,
    DAEMON_CONSOLE,
};

/* Run until stopped; returns the process exit code. @config may be NULL (run:
 * ./config.toml, or the console when it does not exist; console: defaults). @preset
 * (may be NULL) replaces the default agent's preset; @agent (may be NULL) names the
 * configured agent every new conversation goes to instead of the routes. */
int daemon_main(enum daemon_mode mode, const char *config, const char *preset, const char *agent);

#endif
