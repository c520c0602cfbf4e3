/* fault_enospc.so: an LD_PRELOAD shim that fills the disk under one directory, so the
 * fault tests can run "disk full" on any machine without root or a tmpfs.
 *
 *   AB_ENOSPC_DIR=/abs/dir   the directory whose files "live on the full disk"
 *   AB_ENOSPC_FLAG=/abs/file while this file exists, the disk is full
 *
 * While full: write/writev/pwrite on a regular file under the directory, fsync and
 * fdatasync of such a file, and rename/renameat/renameat2 onto a path under it fail
 * with ENOSPC (creating and truncating files still works, as on a real full disk with
 * free inodes). Everything else passes through to the next definition (libc, or the
 * sanitizer's interceptor). Built without sanitizers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef int (*fsync_fn)(int);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned int);

static write_fn real_write;
static writev_fn real_writev;
static pwrite_fn real_pwrite;
static fsync_fn real_fsync, real_fdatasync;
static rename_fn real_rename;
static renameat_fn real_renameat;
static renameat2_fn real_renameat2;

/* Resolve the next definitions once, at load. */
__attribute__((constructor)) static void
shim_init(void)
{
    real_write = (write_fn)dlsym(RTLD_NEXT, "write");
    real_writev = (writev_fn)dlsym(RTLD_NEXT, "writev");
    real_pwrite = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
    real_fsync = (fsync_fn)dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (fsync_fn)dlsym(RTLD_NEXT, "fdatasync");
    real_rename = (rename_fn)dlsym(RTLD_NEXT, "rename");
    real_renameat = (renameat_fn)dlsym(RTLD_NEXT, "renameat");
    real_renameat2 = (renameat2_fn)dlsym(RTLD_NEXT, "renameat2");
}

/* Whether the disk is full right now (the flag file exists). */
static bool
shim_full(void)
{
    const char *flag = getenv("AB_ENOSPC_FLAG");
    struct stat st;

    return flag && *flag && stat(flag, &st) == 0;
}

/* Whether absolute path @p lies under AB_ENOSPC_DIR. */
static bool
shim_under(const char *p)
{
    const char *dir = getenv("AB_ENOSPC_DIR");
    size_t n;

    if (!dir || !*dir || !p)
        return false;
    n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return strncmp(p, dir, n) == 0 && (p[n] == '/' || p[n] == '\0');
}

/* Whether writes to descriptor @fd must fail now: a regular file under the dir. */
static bool
shim_fd_full(int fd)
{
    char link[64], path[PATH_MAX];
    struct stat st;
    ssize_t n;

    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !shim_full())
        return false;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    if ((n = readlink(link, path, sizeof(path) - 1)) < 0)
        return false;
    path[n] = '\0';
    return shim_under(path);
}

/* Whether a rename onto @to (relative to @dirfd) must fail now. */
static bool
shim_path_full(int dirfd, const char *to)
{
    char link[64], base[PATH_MAX], path[PATH_MAX];
    ssize_t n;

    if (!to || !shim_full())
        return false;
    if (to[0] == '/')
        return shim_under(to);
    if (dirfd == AT_FDCWD) {
        if (!getcwd(base, sizeof(base)))
            return false;
    } else {
        snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
        if ((n = readlink(link, base, sizeof(base) - 1)) < 0)
            return false;
        base[n] = '\0';
    }
    if (snprintf(path, sizeof(path), "%s/%s", base, to) >= (int)sizeof(path))
        return false;
    return shim_under(path);
}

/* write(2), failing with ENOSPC on the full disk. */
ssize_t
write(int fd, const void *buf, size_t n)
{
    if (n > 0 && shim_fd_full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_write(fd, buf, n);
}

/* writev(2), likewise. */
ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
    if (cnt > 0 && shim_fd_full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_writev(fd, iov, cnt);
}

/* pwrite(2), likewise. */
ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (n > 0 && shim_fd_full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwrite(fd, buf, n, off);
}

/* fsync(2): dirty pages that cannot be written back. */
int
fsync(int fd)
{
    if (shim_fd_full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_fsync(fd);
}

/* fdatasync(2), likewise. */
int
fdatasync(int fd)
{
    if (shim_fd_full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_fdatasync(fd);
}

/* rename(2): the directory entry cannot grow. */
int
rename(const char *from, const char *to)
{
    if (shim_path_full(AT_FDCWD, to)) {
        errno = ENOSPC;
        return -1;
    }
    return real_rename(from, to);
}

/* renameat(2), likewise. */
int
renameat(int fromfd, const char *from, int tofd, const char *to)
{
    if (shim_path_full(tofd, to)) {
        errno = ENOSPC;
        return -1;
    }
    return real_renameat(fromfd, from, tofd, to);
}

/* renameat2(2), likewise. */
int
renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags)
{
    if (shim_path_full(tofd, to)) {
        errno = ENOSPC;
        return -1;
    }
    return real_renameat2(fromfd, from, tofd, to, flags);
}
