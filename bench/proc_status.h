/* Reading /proc/PID/status for the benchmarks: memory fields of a process and the
 * processes whose parent is a given one. Linux only. */
#ifndef AB_BENCH_PROC_STATUS_H
#define AB_BENCH_PROC_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Field @name (lent, e.g. "VmRSS", "VmHWM") of process @pid (0 = this one) in kB.
 * 0, -ENOENT when the process or the field does not exist, or -errno. */
int proc_status_kb(pid_t pid, const char *name, uint64_t *out_kb);

/* The children of @parent: how many, and their summed VmRSS in kB. 0 or -errno. */
int proc_status_children(pid_t parent, size_t *out_count, uint64_t *out_rss_kb);

#endif
