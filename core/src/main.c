/* agent-broker: the command-line entry point. */
#include <sys/prctl.h>

#include "cli.h"
#include "heap_trim.h"

/* Not dumpable before anything reads a token: /proc/PID/environ, mem, maps, fd/ and
 * ptrace become closed to processes of the same uid (the agent's shell commands), and
 * no core dump is written. An exec'd agent is dumpable again (execve resets it). The
 * allocator is tuned before the first allocation (heap_tune). */
int
main(int argc, char **argv)
{
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    heap_tune();
    return cli_main(argc, argv);
}
