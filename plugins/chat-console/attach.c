/* chat-console attachments; see attach.h. */
#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ATTACH_MAX 10
#define ATTACH_STEP (1u << 20) /* bytes copied per loop iteration */

/* One file copy in flight. */
struct console_copy {
    struct console_copy *next;
    struct console_attach *a;
    struct ab_defer *defer;
    int in, out;
    uint64_t done, max;
    ab_done_cb cb;
    void *arg;
};

struct console_attach {
    struct ab_host *host;
    const struct ab_host_services *svc;
    char *queued[ATTACH_MAX]; /* owned: absolute paths for the next message */
    size_t nqueued;
    char *taken[ATTACH_MAX * 3]; /* owned: strings of the last take (urls, names) */
    size_t ntaken;
    struct console_copy *copies; /* owned */
};

/* See attach.h. */
struct console_attach *
console_attach_new(struct ab_host *host, const struct ab_host_services *svc)
{
    struct console_attach *a = calloc(1, sizeof(*a));

    if (a) {
        a->host = host;
        a->svc = svc;
    }
    return a;
}

/* Drop @cp from the list, close its files and free it. */
static void
console_copy_free(struct console_copy *cp)
{
    for (struct console_copy **l = &cp->a->copies; *l; l = &(*l)->next)
        if (*l == cp) {
            *l = cp->next;
            break;
        }
    close(cp->in);
    close(cp->out);
    free(cp);
}

/* Free the strings of the last take. */
static void
console_attach_untake(struct console_attach *a)
{
    for (size_t i = 0; i < a->ntaken; i++)
        free(a->taken[i]);
    a->ntaken = 0;
}

/* See attach.h. */
void
console_attach_free(struct console_attach *a)
{
    if (!a)
        return;
    while (a->copies) {
        a->svc->defer_cancel(a->copies->defer);
        console_copy_free(a->copies);
    }
    for (size_t i = 0; i < a->nqueued; i++)
        free(a->queued[i]);
    console_attach_untake(a);
    free(a);
}

/* See attach.h. */
bool
console_attach_line(struct console_attach *a, const char *line,
                    void (*say)(void *arg, const char *text), void *arg)
{
    char real[PATH_MAX], text[PATH_MAX + 128];
    struct stat st;
    const char *p;

    if (strncmp(line, "/attach", 7) != 0 || (line[7] != ' ' && line[7] != '\0'))
        return false;
    for (p = line + 7; *p == ' '; p++)
        ;
    if (!*p) {
        say(arg, "usage: /attach PATH (the file goes with your next message)");
        return true;
    }
    if (!realpath(p, real) || stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(text, sizeof(text), "📎 cannot attach %s: not a readable file", p);
        say(arg, text);
        return true;
    }
    if (a->nqueued >= ATTACH_MAX || !(a->queued[a->nqueued] = strdup(real))) {
        say(arg, "📎 too many files queued for one message");
        return true;
    }
    a->nqueued++;
    snprintf(text, sizeof(text), "📎 %s goes with your next message", real);
    say(arg, text);
    return true;
}

/* See attach.h. */
size_t
console_attach_take(struct console_attach *a, struct ab_attachment **out)
{
    size_t n = 0;

    *out = NULL;
    console_attach_untake(a);
    if (a->nqueued == 0 || !(*out = calloc(a->nqueued, sizeof(**out))))
        return 0;
    for (size_t i = 0; i < a->nqueued; i++) {
        struct stat st;
        const char *path = a->queued[i], *slash = strrchr(path, '/');
        size_t len = strlen(path) + 8;
        char *url = malloc(len);
        if (!url || stat(path, &st) < 0) {
            free(url);
            free(a->queued[i]);
            continue;
        }
        snprintf(url, len, "file://%s", path);
        a->taken[a->ntaken++] = url;
        a->taken[a->ntaken++] = a->queued[i]; /* the path: its basename is the name */
        (*out)[n++] = (struct ab_attachment){
            .size = sizeof(struct ab_attachment),
            .name = slash ? slash + 1 : path,
            .bytes = (uint64_t)st.st_size,
            .url = url,
            .needs_auth = true, /* only this plugin can read it */
        };
    }
    a->nqueued = 0;
    if (n == 0) {
        free(*out);
        *out = NULL;
    }
    return n;
}

/* Copy the next step of @cp; finish or defer the rest. */
static void
console_copy_step(void *arg)
{
    struct console_copy *cp = arg;
    static char buf[64 * 1024];
    uint64_t step = 0;
    int status = 1;

    cp->defer = NULL;
    while (step < ATTACH_STEP) {
        ssize_t n = read(cp->in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            status = -errno;
            break;
        }
        if (n == 0) {
            status = 0;
            break;
        }
        if (cp->max && cp->done + (uint64_t)n > cp->max) {
            status = AB_EFULL;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(cp->out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                status = w < 0 ? -errno : AB_EIO;
                goto end;
            }
            off += w;
        }
        cp->done += (uint64_t)n;
        step += (uint64_t)n;
    }
end:
    if (status == 1 && cp->a->svc->defer(cp->a->host, console_copy_step, cp, &cp->defer) == 0)
        return;
    ab_done_cb cb = cp->cb;
    void *cb_arg = cp->arg;
    console_copy_free(cp);
    cb(cb_arg, status == 1 ? AB_ENOMEM : status);
}

/* See attach.h. */
int
console_attach_download(struct console_attach *a, const struct ab_attachment *att, const char *path,
                        uint64_t max_bytes, ab_done_cb cb, void *arg)
{
    struct console_copy *cp;
    int rc;

    /* The core passes back only attachments this plugin delivered: local paths. */
    if (!att || !att->url || strncmp(att->url, "file://", 7) != 0 || !path || !cb)
        return AB_EINVAL;
    if (!(cp = calloc(1, sizeof(*cp))))
        return AB_ENOMEM;
    cp->a = a;
    cp->cb = cb;
    cp->arg = arg;
    cp->max = max_bytes;
    cp->in = open(att->url + 7, O_RDONLY | O_CLOEXEC);
    cp->out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (cp->in < 0 || cp->out < 0) {
        rc = -errno;
        if (cp->in >= 0)
            close(cp->in);
        if (cp->out >= 0)
            close(cp->out);
        free(cp);
        return rc;
    }
    if ((rc = a->svc->defer(a->host, console_copy_step, cp, &cp->defer)) < 0) {
        close(cp->in);
        close(cp->out);
        free(cp);
        return rc;
    }
    cp->next = a->copies;
    a->copies = cp;
    return 0;
}
