/* [state] dir ownership and placement checks; see state_dir.h. */
#include "state/state_dir.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agent-broker/errors.h>

/* Ours and private enough. */
int
state_dir_check(const char *dir, char *why, size_t cap)
{
    struct stat st;

    if (stat(dir, &st) < 0) {
        if (errno == ENOENT)
            return AB_ENOENT;
        snprintf(why, cap, "state dir %s: %s", dir, strerror(errno));
        return -errno;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, cap, "state dir %s is not a directory — set [state] dir to a directory", dir);
        return -ENOTDIR;
    }
    if (st.st_uid != geteuid()) {
        snprintf(why, cap,
                 "state dir %s belongs to uid %u, not to agent-broker's uid %u: another user "
                 "could rewrite the sessions it resumes — chown it to this user or set [state] "
                 "dir to a directory of this user's",
                 dir, (unsigned)st.st_uid, (unsigned)geteuid());
        return -EPERM;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(why, cap,
                 "state dir %s is writable by %s (mode %03o): others could rewrite the "
                 "sessions it resumes — run chmod 700 %s",
                 dir, st.st_mode & S_IWOTH ? "every user" : "its group",
                 (unsigned)(st.st_mode & 0777), dir);
        return -EPERM;
    }
    return 0;
}

/* Compare resolved paths by prefix, on a path-component boundary. */
bool
state_dir_inside(const char *dir, const char *root)
{
    char d[PATH_MAX], r[PATH_MAX];
    size_t n;

    if (!dir || !root || !realpath(dir, d) || !realpath(root, r))
        return false;
    n = strlen(r);
    if (n == 1) /* the root directory holds everything */
        return true;
    return strncmp(d, r, n) == 0 && (d[n] == '\0' || d[n] == '/');
}

/* Inside the agent's directory, unless that directory is $HOME. */
bool
state_dir_exposed(const char *dir, const char *agent_cwd)
{
    const char *home = getenv("HOME");

    if (!state_dir_inside(dir, agent_cwd))
        return false;
    return !(home && *home && state_dir_inside(agent_cwd, home) &&
             state_dir_inside(home, agent_cwd));
}
