/* Reading /proc/PID/status for the benchmarks (see proc_status.h). */
#include "proc_status.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Read "NAME:   VALUE" from /proc/@pid/status as an unsigned number (kB for Vm*). */
int
proc_status_kb(pid_t pid, const char *name, uint64_t *out)
{
    char path[64], line[256];
    size_t n = strlen(name);
    FILE *f;
    int rc = -ENOENT;

    if (pid)
        snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    else
        snprintf(path, sizeof(path), "/proc/self/status");
    if (!(f = fopen(path, "r")))
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            *out = strtoull(line + n + 1, NULL, 10);
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* Count the children of @parent and sum their resident memory. */
int
proc_status_children(pid_t parent, size_t *out_count, uint64_t *out_rss_kb)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    uint64_t ppid, rss;

    *out_count = 0;
    *out_rss_kb = 0;
    if (!d)
        return -errno;
    while ((e = readdir(d))) {
        pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
        if (pid <= 0 || proc_status_kb(pid, "PPid", &ppid) < 0 || ppid != (uint64_t)parent)
            continue;
        (*out_count)++;
        if (proc_status_kb(pid, "VmRSS", &rss) == 0)
            *out_rss_kb += rss;
    }
    closedir(d);
    return 0;
}
