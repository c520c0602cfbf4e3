/* The command line. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include <agent-broker/version.h>

/* Print usage to @f. */
static void
cli_usage(FILE *f)
{
    fputs("usage: agent-broker [run] [CONFIG]\n"
          "       agent-broker check [CONFIG]\n"
          "       agent-broker plugins [CONFIG]\n"
          "       agent-broker console [CONFIG] [--preset NAME]\n"
          "       agent-broker health [URL] [--config FILE]\n"
          "       agent-broker --version | --help\n",
          f);
}

/* Dispatch the command line. */
int
cli_main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("agent-broker %s\n", AB_VERSION_STRING);
        return CLI_EXIT_OK;
    }
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        cli_usage(stdout);
        return CLI_EXIT_OK;
    }
    cli_usage(stderr);
    return CLI_EXIT_USAGE;
}
