/* Posting the files an agent left in its conversation's outbox; see outbox.h. */
#include "conv/outbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agent-broker/chat.h>
#include <agent-broker/errors.h>

#include "conv/attachments.h"
#include "conv/chat_instance.h"
#include "log.h"

#define OUTBOX_SCAN_MAX 100                  /* files looked at per turn */
#define OUTBOX_SCAN_BYTES (1024u * 1024)     /* files up to this size are checked for secrets */
#define OUTBOX_SCAN_TOTAL (4u * 1024 * 1024) /* bytes checked per turn (read on the loop) */

/* One upload in flight: its files named for the failure line. */
struct outbox_batch {
    struct chat_owner owner;
    struct chat_instance *ci; /* lent */
    char *channel, *thread;   /* owned */
    char names[512];          /* "a.png, b.txt" */
};

/* See the header. */
int
outbox_dir(const char *dir, const char *key, int create, char **out)
{
    char safe[160], *p;
    size_t len;

    attach_safe_name(key, safe, sizeof(safe));
    len = strlen(dir) + strlen(safe) + 32;
    if (!(p = malloc(len)))
        return AB_ENOMEM;
    snprintf(p, len, "%s/.chat-outbox", dir);
    if (create && mkdir(p, 0700) < 0 && errno != EEXIST)
        goto fail;
    snprintf(p, len, "%s/.chat-outbox/%s", dir, safe);
    if (create && mkdir(p, 0700) < 0 && errno != EEXIST)
        goto fail;
    *out = p;
    return 0;

fail:
    free(p);
    return -errno;
}

/* An upload finished: name its files in the thread when it failed. */
static void
outbox_uploaded(void *arg, int status)
{
    struct outbox_batch *b = arg;
    char line[768];

    if (status < 0) {
        snprintf(line, sizeof(line), "📎 Could not post the agent's files: %s (%s)", b->names,
                 status == AB_EFULL ? "too big for the platform" : ab_strerror(status));
        chat_send(b->ci, b->channel, b->thread, line, RATELIMIT_FINAL_TEXT, NULL, NULL, NULL);
    }
    chat_owner_detach(&b->owner);
    free(b->channel);
    free(b->thread);
    free(b);
}

/* Append @name to @buf (cap bytes) as a list item. */
static void
outbox_name(char *buf, size_t cap, const char *name, const char *why)
{
    size_t len = strlen(buf);

    if (len + 8 < cap)
        snprintf(buf + len, cap - len, "%s%s%s%s%s", len ? ", " : "", name, why ? " (" : "",
                 why ? why : "", why ? ")" : "");
}

/* Queue one message with @n files and their descriptors (@fds: handed over). */
static void
outbox_post(struct chat_instance *ci, const char *channel, const char *thread,
            struct ab_upload_file *files, int *fds, size_t n)
{
    struct outbox_batch *b = calloc(1, sizeof(*b));
    int rc = AB_ENOMEM;

    if (b && (b->channel = strdup(channel)) && (!thread || (b->thread = strdup(thread)))) {
        b->ci = ci;
        for (size_t i = 0; i < n; i++)
            outbox_name(b->names, sizeof(b->names), files[i].name, NULL);
        if ((rc = chat_upload(ci, channel, thread, NULL, files, n, fds, &b->owner, outbox_uploaded,
                              b)) == 0)
            return;
        fds = NULL; /* chat_upload closed them */
    }
    log_warn("outbox", "%s: cannot queue an upload: %s", ci->name, ab_strerror(rc));
    for (size_t i = 0; fds && i < n; i++)
        close(fds[i]);
    if (b) {
        free(b->channel);
        free(b->thread);
        free(b);
    }
}

/* Free the collected files' strings and close their descriptors (@fds may be NULL). */
static void
outbox_files_free(struct ab_upload_file *files, const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)files[i].path);
        free((char *)files[i].name);
        if (fds && fds[i] >= 0)
            close(fds[i]);
    }
}

/* True when @fd's file (@size bytes, at most OUTBOX_SCAN_BYTES and what is left of
 * *@budget, which it uses up) holds a registered secret: the agent cannot know one, but
 * a file goes to chat unredacted. Read on the loop: page-cache reads, bounded per turn. */
static bool
outbox_has_secret(int fd, size_t size, size_t *budget)
{
    char *buf;
    bool found = false;
    ssize_t n;

    if (size > OUTBOX_SCAN_BYTES || size > *budget || !(buf = malloc(size)))
        return false;
    *budget -= size;
    if ((n = pread(fd, buf, size, 0)) > 0)
        found = log_has_secret(buf, (size_t)n);
    free(buf);
    return found;
}

/* The .sent folder of the outbox @dfd, made when missing; a descriptor or < 0. */
static int
outbox_sent_dir(int dfd)
{
    int fd;

    if (mkdirat(dfd, ".sent", 0700) < 0 && errno != EEXIST)
        return -errno;
    fd = openat(dfd, ".sent", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Open entry @name of @dfd for posting: a regular file, opened once without following a
 * link and without blocking on a FIFO, within the platform's size. Returns the
 * descriptor, -1 to pass over it silently, or -2 with *@why set. */
static int
outbox_open_file(int dfd, const char *name, uint64_t max_bytes, int64_t since, struct stat *st,
                 size_t *budget, const char **why)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

    if (fd < 0)
        return -1; /* a link (ELOOP), gone, unreadable */
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || (since && st->st_mtime < since)) {
        close(fd);
        return -1;
    }
    *why = !max_bytes                          ? "this platform takes no files"
           : (uint64_t)st->st_size > max_bytes ? "too big for the platform"
           : st->st_size == 0                  ? "empty"
           : outbox_has_secret(fd, (size_t)st->st_size, budget)
               ? "it holds a secret of the broker's configuration"
               : NULL;
    if (*why) {
        close(fd);
        return -2;
    }
    return fd;
}

/* Post the regular files of @path (lent; every component past its first @trusted bytes
 * refusing a link): each opened once and posted through /proc/self/fd/N, a name that
 * can only mean the file opened. */
static int
outbox_post_dir(struct chat_instance *ci, const char *path, size_t trusted, const char *channel,
                const char *thread, int64_t since)
{
    const struct ab_chat_ops *ops = ci->ops;
    bool can = chat_can_upload(ci);
    uint64_t max_bytes = can ? ops->max_upload_bytes : 0;
    uint32_t per_msg = can && ops->max_upload_files ? ops->max_upload_files : 1;
    struct ab_upload_file files[OUTBOX_SCAN_MAX];
    int fds[OUTBOX_SCAN_MAX], dfd, sent = -1;
    char skipped[768] = "";
    size_t n = 0, seen = 0, budget = OUTBOX_SCAN_TOTAL;
    struct dirent *de;
    DIR *d;

    if ((dfd = attach_open_dir(path, trusted)) < 0)
        return dfd == -ENOENT ? 0 : dfd;
    if (!(d = fdopendir(fcntl(dfd, F_DUPFD_CLOEXEC, 3)))) {
        close(dfd);
        return -errno;
    }
    while ((de = readdir(d)) && seen < OUTBOX_SCAN_MAX) {
        char proc[32];
        const char *why = NULL;
        struct stat st;
        int fd;
        if (de->d_name[0] == '.')
            continue;
        if ((fd = outbox_open_file(dfd, de->d_name, max_bytes, since, &st, &budget, &why)) == -1)
            continue;
        seen++;
        if (fd < 0) {
            outbox_name(skipped, sizeof(skipped), de->d_name, why);
            continue;
        }
        if (!since && ((sent < 0 && (sent = outbox_sent_dir(dfd)) < 0) ||
                       renameat(dfd, de->d_name, sent, de->d_name) < 0)) {
            outbox_name(skipped, sizeof(skipped), de->d_name, strerror(sent < 0 ? -sent : errno));
            close(fd);
            continue;
        }
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        fds[n] = fd;
        files[n] = (struct ab_upload_file){.size = sizeof(files[n]),
                                           .path = strdup(proc),
                                           .name = strdup(de->d_name),
                                           .bytes = (uint64_t)st.st_size};
        if (!files[n].path || !files[n].name) {
            outbox_files_free(&files[n], &fds[n], 1);
            continue;
        }
        n++;
    }
    closedir(d);
    if (sent >= 0)
        close(sent);
    close(dfd);
    for (size_t at = 0; at < n; at += per_msg)
        outbox_post(ci, channel, thread, files + at, fds + at, n - at < per_msg ? n - at : per_msg);
    outbox_files_free(files, NULL, n); /* the descriptors went with the uploads */
    if (*skipped) {
        char line[900];
        snprintf(line, sizeof(line), "📎 Not posted: %s", skipped);
        chat_send(ci, channel, thread, line, RATELIMIT_FINAL_TEXT, NULL, NULL, NULL);
    }
    return 0;
}

/* See the header. */
int
outbox_flush(struct chat_instance *ci, const char *dir, const char *key, const char *channel,
             const char *thread)
{
    char *path = NULL;
    int rc;

    if ((rc = outbox_dir(dir, key, 0, &path)) < 0)
        return rc;
    rc = outbox_post_dir(ci, path, strlen(dir), channel, thread, 0);
    free(path);
    return rc;
}

/* See the header. */
int
outbox_flush_since(struct chat_instance *ci, const char *dir, const char *sub, const char *channel,
                   const char *thread, int64_t since)
{
    char *path = NULL;
    size_t trusted;
    int rc;

    if (sub[0] == '/') {
        /* the operator's path but its last step (trailing slashes do not count) */
        for (trusted = strlen(sub); trusted > 0 && sub[trusted - 1] == '/'; trusted--)
            ;
        while (trusted > 0 && sub[trusted - 1] != '/')
            trusted--;
        trusted = trusted > 0 ? trusted - 1 : 0;
        return outbox_post_dir(ci, sub, trusted, channel, thread, since);
    }
    if (!dir)
        return AB_EINVAL;
    if (asprintf(&path, "%s/%s", dir, sub) < 0)
        return AB_ENOMEM;
    rc = outbox_post_dir(ci, path, strlen(dir), channel, thread, since);
    free(path);
    return rc;
}
