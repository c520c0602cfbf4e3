/* Descriptor hygiene: nothing the daemon opens may reach an exec'd agent. */
#ifndef AB_FD_CLOEXEC_H
#define AB_FD_CLOEXEC_H

/* Called for each descriptor fixed: @fd and what it is (lent, e.g. "socket:[123]"). */
typedef void (*fd_cloexec_report_fn)(void *arg, int fd, const char *target);

/* Set FD_CLOEXEC on every open descriptor above 2 that lacks it, calling @report
 * (may be NULL) for each. Returns how many were fixed, or a negative errno when
 * /proc/self/fd cannot be read. */
int fd_cloexec_sweep(fd_cloexec_report_fn report, void *arg);

#endif
