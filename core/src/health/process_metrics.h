/* Metrics about this process: memory, file descriptors, CPU, build. */
#ifndef AB_PROCESS_METRICS_H
#define AB_PROCESS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "health/health_text.h"

/* Resident set size in bytes. Returns 0 or a negative error. */
int process_metrics_rss(uint64_t *bytes);

/* Number of open file descriptors (entries of /proc/self/fd, not counting the one used
 * to read it). Returns 0 or a negative error (e.g. -ENOENT without /proc). */
int process_metrics_open_fds(uint64_t *count);

/* Append agent_broker_process_resident_memory_bytes, _open_fds, _max_fds,
 * _cpu_seconds_total and agent_broker_build_info{version="..."} 1 to @out. A value the
 * system cannot give is left out rather than reported as 0. Returns 0 or the buffer's
 * error. */
int process_metrics_write(struct health_text *out);

/* The summed resident memory of every process whose process group is one of @pgids
 * (@n of them, lent): an agent and whatever it started. Reads /proc. */
int process_metrics_groups_rss(const int *pgids, size_t n, uint64_t *bytes);

#endif
