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
#include "state/state_file.h"

struct state_map {
    uv_loop_t *loop;
    uv_work_t work;
    char *dir, *path; /* owned */
    char *writing;    /* owned: text being written by the worker */
    char *waiting;    /* owned: the next text to write */
    int result;       /* the worker's outcome */
    bool busy, closing;
    uv_idle_t idle; /* defers the close callback when nothing is in flight */
    void (*done)(void *arg);
    void *done_arg;
};

/* Worker thread: the atomic write (temp file, fsync, rename, fsync of the dir). */
static void
state_map_work(uv_work_t *w)
{
    struct state_map *m = w->data;

    m->result = state_file_write(m->path, m->writing, strlen(m->writing));
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
    char *buf = NULL;
    size_t len = 0;
    int rc = state_file_read(path, &buf, &len);

    if (rc < 0) {
        if (rc != AB_ENOENT)
            log_warn("state", "cannot read %s: %s; starting empty", path, ab_strerror(rc));
        return cJSON_CreateObject();
    }
    doc = cJSON_ParseWithLength(buf, len);
    free(buf);
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
    int rc;

    if ((rc = state_dir_ensure(dir)) < 0)
        return rc;
    rc = AB_ENOMEM;
    if (!(m = calloc(1, sizeof(*m))))
        return AB_ENOMEM;
    m->loop = loop;
    if (!(m->dir = strdup(dir)) || !(m->path = malloc(n)))
        goto fail;
    snprintf(m->path, n, "%s/%s", dir, name);
    if (!(*doc = state_map_read(m->path)))
        goto fail;
    uv_idle_init(loop, &m->idle);
    m->idle.data = m;
    *out = m;
    return 0;

fail:
    free(m->dir);
    free(m->path);
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
