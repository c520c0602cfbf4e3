/* Close-on-exec sweep over /proc/self/fd; see fd_cloexec.h. */
#include "fd_cloexec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Walk /proc/self/fd (its own descriptor excepted). */
int
fd_cloexec_sweep(fd_cloexec_report_fn report, void *arg)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    int fixed = 0;

    if (!dir)
        return -errno;
    while ((de = readdir(dir))) {
        char *end, link[64], target[PATH_MAX];
        long fd = strtol(de->d_name, &end, 10);
        int flags;
        ssize_t n;

        if (*end || end == de->d_name || fd <= 2 || fd == dirfd(dir))
            continue;
        if ((flags = fcntl((int)fd, F_GETFD)) < 0 || (flags & FD_CLOEXEC))
            continue;
        if (fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC) < 0)
            continue;
        fixed++;
        if (!report)
            continue;
        snprintf(link, sizeof(link), "/proc/self/fd/%ld", fd);
        n = readlink(link, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        report(arg, (int)fd, target);
    }
    closedir(dir);
    return fixed;
}
