/* The command line: run, check, plugins, console, health, --version, --help. */
#ifndef AB_CLI_H
#define AB_CLI_H

/* Exit codes of the CLI contract. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_RUNTIME = 1,
    CLI_EXIT_USAGE = 2,
};

/* Parse @argv and run the chosen command; returns the process exit code. */
int cli_main(int argc, char **argv);

#endif
