/* Process metrics. The values come from procfs and getrlimit/getrusage: procfs reads are
 * served from kernel memory and never wait on a disk, so they are done on the loop. */
#include "health/process_metrics.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

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
