/* Atomic JSON state file; see state_map.h. */
#include "acp/state_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "log.h"
#include "state/state_file.h"
#include "state/state_writer.h"

struct state_map {
    struct state_writer *writer; /* owned */
    void (*done)(void *arg);
    void *done_arg;
};

/* Persist a document; see the header. */
int
state_map_write(struct state_map *m, cJSON *doc)
{
    char *text = cJSON_Print(doc);

    cJSON_Delete(doc);
    if (!text)
        return AB_ENOMEM;
    return state_writer_put(m->writer, text, strlen(text));
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
    char *path;
    int rc;

    if ((rc = state_dir_ensure(dir)) < 0)
        return rc;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return AB_ENOMEM;
    rc = AB_ENOMEM;
    if (!(m = calloc(1, sizeof(*m))) || (rc = state_writer_open(loop, path, &m->writer)) < 0 ||
        !(*doc = state_map_read(path))) {
        if (m && m->writer)
            state_writer_close(m->writer, NULL, NULL);
        free(m);
        free(path);
        return rc < 0 ? rc : AB_ENOMEM;
    }
    free(path);
    *out = m;
    return 0;
}

/* The writer has finished: free the map and report. */
static void
state_map_closed(void *arg)
{
    struct state_map *m = arg;
    void (*done)(void *) = m->done;
    void *done_arg = m->done_arg;

    free(m);
    if (done)
        done(done_arg);
}

/* Close after the pending writes. */
void
state_map_close(struct state_map *m, void (*done)(void *arg), void *arg)
{
    m->done = done;
    m->done_arg = arg;
    state_writer_close(m->writer, state_map_closed, m);
}

/* The file's path. */
const char *
state_map_path(const struct state_map *m)
{
    return state_writer_path(m->writer);
}
