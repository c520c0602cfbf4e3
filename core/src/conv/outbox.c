/* Posting the files an agent left in its conversation's outbox; see outbox.h. */
#include "conv/outbox.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <agent-broker/chat.h>
#include <agent-broker/errors.h>

#include "conv/attachments.h"
#include "conv/chat_instance.h"
#include "log.h"

#define OUTBOX_SCAN_MAX 100 /* files looked at per turn */

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

/* Queue one message with @n files. */
static void
outbox_post(struct chat_instance *ci, const char *channel, const char *thread,
            struct ab_upload_file *files, size_t n)
{
    struct outbox_batch *b = calloc(1, sizeof(*b));
    int rc = AB_ENOMEM;

    if (b && (b->channel = strdup(channel)) && (!thread || (b->thread = strdup(thread)))) {
        b->ci = ci;
        for (size_t i = 0; i < n; i++)
            outbox_name(b->names, sizeof(b->names), files[i].name, NULL);
        if ((rc = chat_upload(ci, channel, thread, NULL, files, n, &b->owner, outbox_uploaded,
                              b)) == 0)
            return;
    }
    log_warn("outbox", "%s: cannot queue an upload: %s", ci->name, ab_strerror(rc));
    if (b) {
        free(b->channel);
        free(b->thread);
        free(b);
    }
}

/* Free the collected files' strings. */
static void
outbox_files_free(struct ab_upload_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)files[i].path);
        free((char *)files[i].name);
    }
}

/* See the header. */
int
outbox_flush(struct chat_instance *ci, const char *outbox, const char *channel, const char *thread)
{
    return outbox_flush_since(ci, outbox, channel, thread, 0);
}

/* See the header. */
int
outbox_flush_since(struct chat_instance *ci, const char *outbox, const char *channel,
                   const char *thread, int64_t since)
{
    const struct ab_chat_ops *ops = ci->ops;
    bool can = chat_can_upload(ci);
    uint64_t max_bytes = can ? ops->max_upload_bytes : 0;
    uint32_t per_msg = can && ops->max_upload_files ? ops->max_upload_files : 1;
    struct ab_upload_file files[OUTBOX_SCAN_MAX];
    char skipped[768] = "", sent[4096];
    size_t n = 0, seen = 0;
    struct dirent *de;
    DIR *d = opendir(outbox);

    if (!d)
        return errno == ENOENT ? 0 : -errno;
    snprintf(sent, sizeof(sent), "%s/.sent", outbox);
    while ((de = readdir(d)) && seen < OUTBOX_SCAN_MAX) {
        char from[4096], to[4096 + 300];
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(from, sizeof(from), "%s/%s", outbox, de->d_name);
        if (lstat(from, &st) < 0 || !S_ISREG(st.st_mode) || (since && st.st_mtime < since))
            continue;
        seen++;
        if (!can || !max_bytes) {
            outbox_name(skipped, sizeof(skipped), de->d_name, "this platform takes no files");
            continue;
        }
        if ((uint64_t)st.st_size > max_bytes || st.st_size == 0) {
            outbox_name(skipped, sizeof(skipped), de->d_name,
                        st.st_size ? "too big for the platform" : "empty");
            continue;
        }
        snprintf(to, sizeof(to), "%s/%s", since ? outbox : sent, de->d_name);
        if (!since && ((mkdir(sent, 0700) < 0 && errno != EEXIST) || rename(from, to) < 0)) {
            outbox_name(skipped, sizeof(skipped), de->d_name, strerror(errno));
            continue;
        }
        files[n] = (struct ab_upload_file){.size = sizeof(files[n]),
                                           .path = strdup(to),
                                           .name = strdup(de->d_name),
                                           .bytes = (uint64_t)st.st_size};
        if (!files[n].path || !files[n].name) {
            outbox_files_free(&files[n], 1);
            continue;
        }
        n++;
    }
    closedir(d);
    for (size_t at = 0; at < n; at += per_msg)
        outbox_post(ci, channel, thread, files + at, n - at < per_msg ? n - at : per_msg);
    outbox_files_free(files, n);
    if (*skipped) {
        char line[900];
        snprintf(line, sizeof(line), "📎 Not posted: %s", skipped);
        chat_send(ci, channel, thread, line, RATELIMIT_FINAL_TEXT, NULL, NULL, NULL);
    }
    return 0;
}
