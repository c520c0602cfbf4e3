/* Atomic small files. */
#include "state/state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agent-broker/errors.h>

/* mkdir -p with 0700. */
int
state_dir_ensure(const char *dir)
{
    char buf[PATH_MAX];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, dir, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* fsync the directory holding @path so the rename itself is durable. */
void
state_dir_sync(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd;

    if (!slash || (size_t)(slash - path) >= sizeof(dir))
        return;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Write to a temp file next to @path, fsync, rename over it. */
int
state_file_write(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    const char *p = data;
    int fd, rc = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto fail_tmp;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) < 0) {
        rc = -errno;
        goto fail_tmp;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = -errno;
        goto fail_tmp;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        rc = -errno;
        goto fail_tmp;
    }
    state_dir_sync(path);
    return 0;

fail_tmp:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

/* Read a whole file, bounded. */
int
state_file_read(const char *path, char **out, size_t *len)
{
    struct stat st;
    char *buf;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return errno == ENOENT ? AB_ENOENT : -errno;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if ((size_t)st.st_size > STATE_FILE_MAX) {
        rc = AB_EFULL;
        goto out;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = AB_ENOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
out:
    close(fd);
    return rc;
}

/* Keys become file names: keep them boring. */
int
state_key_valid(const char *key)
{
    if (!key || !*key || key[0] == '.' || strlen(key) > 128)
        return 0;
    for (const char *c = key; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            return 0;
    return 1;
}
