/* Process metrics. The values come from procfs and getrlimit/getrusage: procfs reads are
 * served from kernel memory and never wait on a disk, so they are done on the loop. */
#include "health/process_metrics.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>

#include <agent-broker/errors.h>
#include <agent-broker/version.h>

#include "health/metrics.h"

/* Resident set size, as libuv reads it from /proc/self/stat. */
int
process_metrics_rss(uint64_t *bytes)
{
    size_t rss = 0;
    int rc;

    if ((rc = uv_resident_set_memory(&rss)) < 0)
        return rc;
    *bytes = rss;
    return 0;
}

/* Count /proc/self/fd entries. */
int
process_metrics_open_fds(uint64_t *count)
{
    struct dirent *e;
    uint64_t n = 0;
    DIR *dir;

    if (!(dir = opendir("/proc/self/fd")))
        return -errno;
    while ((e = readdir(dir))) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(dir);
    /* The directory stream holds one descriptor of its own while it is read. */
    *count = n ? n - 1 : 0;
    return 0;
}

/* The process group and resident pages of /proc/@name/stat; false when unreadable. */
static bool
process_metrics_stat(const char *name, long *pgrp, unsigned long long *pages)
{
    char path[64], buf[1024], *p;
    size_t n;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%s/stat", name);
    if (!(f = fopen(path, "re")))
        return false;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) state ppid pgrp ... rss": comm may hold anything, so read after the
     * last ')'; pgrp is the 3rd field after it, rss the 22nd. */
    if (!(p = strrchr(buf, ')')))
        return false;
    return sscanf(p + 1,
                  " %*c %*d %ld %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d "
                  "%*u %*u %llu",
                  pgrp, pages) == 2;
}

/* Sum the RSS of every process in one of @pgids. */
int
process_metrics_groups_rss(const int *pgids, size_t n, uint64_t *bytes)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long pages;
    struct dirent *e;
    uint64_t sum = 0;
    long pgrp;
    DIR *dir;

    if (!(dir = opendir("/proc")))
        return -errno;
    while ((e = readdir(dir))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9' ||
            !process_metrics_stat(e->d_name, &pgrp, &pages))
            continue;
        for (size_t i = 0; i < n; i++)
            if (pgids[i] == pgrp) {
                sum += (uint64_t)pages * (uint64_t)(page > 0 ? page : 4096);
                break;
            }
    }
    closedir(dir);
    *bytes = sum;
    return 0;
}

/* Append every process metric. */
int
process_metrics_write(struct health_text *out)
{
    const struct metrics_label version = {"version", AB_VERSION_STRING};
    uv_rusage_t ru;
    struct rlimit lim;
    uint64_t v;
    int rc = 0;

    if (process_metrics_rss(&v) == 0 &&
        (rc = metrics_gauge(out, "agent_broker_process_resident_memory_bytes",
                            "Resident memory size in bytes.", NULL, 0, (double)v)) < 0)
        return rc;
    if (process_metrics_open_fds(&v) == 0 &&
        (rc = metrics_gauge(out, "agent_broker_process_open_fds",
                            "Number of open file descriptors.", NULL, 0, (double)v)) < 0)
        return rc;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
        (rc = metrics_gauge(out, "agent_broker_process_max_fds",
                            "Maximum number of open file descriptors.", NULL, 0,
                            (double)lim.rlim_cur)) < 0)
        return rc;
    if (uv_getrusage(&ru) == 0 &&
        (rc = metrics_counter(out, "agent_broker_process_cpu_seconds_total",
                              "Total user and system CPU time spent in seconds.", NULL, 0,
                              (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6)) < 0)
        return rc;
    return metrics_gauge(out, "agent_broker_build_info",
                         "Build information; the value is always 1.", &version, 1, 1);
}
