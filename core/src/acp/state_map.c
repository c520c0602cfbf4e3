/* Atomic JSON state file; see state_map.h. */
#include "acp/state_map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agent-broker/errors.h>

#include "log.h"

/* The state file larger than this is not ours to parse. */
#define STATE_MAP_MAX_BYTES ((size_t)16 << 20)

struct state_map {
    uv_loop_t *loop;
    uv_work_t work;
    char *dir, *path, *tmp; /* owned */
    char *writing;          /* owned: text being written by the worker */
    char *waiting;          /* owned: the next text to write */
    int result;             /* the worker's outcome */
    bool busy, closing;
    uv_idle_t idle; /* defers the close callback when nothing is in flight */
    void (*done)(void *arg);
    void *done_arg;
};

/* Write all of @len bytes to @fd. */
static int
state_map_write_all(int fd, const char *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Worker thread: temp file, fsync, rename over the old one, fsync the directory. */
static void
state_map_work(uv_work_t *w)
{
    struct state_map *m = w->data;
    int fd, rc;

    fd = open(m->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        m->result = -errno;
        return;
    }
    rc = state_map_write_all(fd, m->writing, strlen(m->writing));
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(m->tmp, m->path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(m->tmp);
        m->result = rc;
        return;
    }
    if ((fd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(fd);
        close(fd);
    }
    m->result = 0;
}

static void state_map_start(struct state_map *m);

/* Free @m and report the close. */
static void
state_map_finish(struct state_map *m)
{
    void (*done)(void *) = m->done;
    void *arg = m->done_arg;

    free(m->waiting);
    free(m->dir);
    free(m->path);
    free(m->tmp);
    free(m);
    if (done)
        done(arg);
}

/* The idle handle closed: the close can complete. */
static void
state_map_on_idle_closed(uv_handle_t *h)
{
    state_map_finish(h->data);
}

/* Back on the loop: log a failure, start the next write or finish closing. */
static void
state_map_after(uv_work_t *w, int status)
{
    struct state_map *m = w->data;

    free(m->writing);
    m->writing = NULL;
    m->busy = false;
    if (status < 0 || m->result < 0)
        log_error("state", "cannot write %s: %s", m->path,
                  strerror(-(status < 0 ? status : m->result)));
    if (m->waiting)
        state_map_start(m);
    else if (m->closing)
        uv_close((uv_handle_t *)&m->idle, state_map_on_idle_closed);
}

/* Hand the waiting text to a worker. */
static void
state_map_start(struct state_map *m)
{
    int rc;

    m->writing = m->waiting;
    m->waiting = NULL;
    m->busy = true;
    m->work.data = m;
    if ((rc = uv_queue_work(m->loop, &m->work, state_map_work, state_map_after)) < 0) {
        log_error("state", "cannot queue a write of %s: %s", m->path, uv_strerror(rc));
        free(m->writing);
        m->writing = NULL;
        m->busy = false;
    }
}

/* Persist a document; see the header. */
int
state_map_write(struct state_map *m, cJSON *doc)
{
    char *text = cJSON_Print(doc);

    cJSON_Delete(doc);
    if (!text)
        return AB_ENOMEM;
    free(m->waiting);
    m->waiting = text;
    if (!m->busy)
        state_map_start(m);
    return 0;
}

/* Read the current file into a document (start-up only). */
static cJSON *
state_map_read(const char *path)
{
    cJSON *doc = NULL;
    struct stat st;
    char *buf;
    FILE *f;

    if (!(f = fopen(path, "rbe"))) {
        if (errno != ENOENT)
            log_warn("state", "cannot read %s: %s; starting empty", path, strerror(errno));
        return cJSON_CreateObject();
    }
    if (fstat(fileno(f), &st) == 0 && (size_t)st.st_size <= STATE_MAP_MAX_BYTES &&
        (buf = malloc((size_t)st.st_size + 1))) {
        if (fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size)
            doc = cJSON_ParseWithLength(buf, (size_t)st.st_size);
        free(buf);
    }
    fclose(f);
    if (!cJSON_IsObject(doc)) {
        log_warn("state", "%s is not a JSON object; starting empty", path);
        cJSON_Delete(doc);
        doc = cJSON_CreateObject();
    }
    return doc;
}

/* Open the file; see the header. */
int
state_map_open(uv_loop_t *loop, const char *dir, const char *name, struct state_map **out,
               cJSON **doc)
{
    struct state_map *m;
    size_t n = strlen(dir) + strlen(name) + 8;
    int rc = AB_ENOMEM;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    if (!(m = calloc(1, sizeof(*m))))
        return AB_ENOMEM;
    m->loop = loop;
    if (!(m->dir = strdup(dir)) || !(m->path = malloc(n)) || !(m->tmp = malloc(n)))
        goto fail;
    snprintf(m->path, n, "%s/%s", dir, name);
    snprintf(m->tmp, n, "%s/.%s.tmp", dir, name);
    if (!(*doc = state_map_read(m->path)))
        goto fail;
    uv_idle_init(loop, &m->idle);
    m->idle.data = m;
    *out = m;
    return 0;

fail:
    free(m->dir);
    free(m->path);
    free(m->tmp);
    free(m);
    return rc;
}

/* Close after the pending writes. */
void
state_map_close(struct state_map *m, void (*done)(void *arg), void *arg)
{
    m->closing = true;
    m->done = done;
    m->done_arg = arg;
    if (!m->busy)
        uv_close((uv_handle_t *)&m->idle, state_map_on_idle_closed);
}

/* The file's path. */
const char *
state_map_path(const struct state_map *m)
{
    return m->path;
}
