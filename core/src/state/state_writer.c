/* Durable files written off the loop thread. */
#include "state/state_writer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "log.h"
#include "state/state_file.h"

struct state_writer {
    uv_loop_t *loop;
    uv_work_t work;
    uv_timer_t timer; /* retries a failed write; its close defers the close callback */
    char *path;       /* owned */
    char *writing;    /* owned: content the worker is writing */
    size_t writing_len;
    char *waiting; /* owned: the next content to write */
    size_t waiting_len;
    uint64_t writing_tag, waiting_tag; /* state_writer_put_tagged's tags */
    void (*on_written)(void *arg, uint64_t tag, int status);
    void *on_written_arg;
    int result;        /* the worker's outcome */
    uint64_t retry_ms; /* the wait before the next retry of a failed write; 0 = none failed */
    bool is_busy, is_closing;
    void (*done)(void *arg);
    void *done_arg;
};

/* Worker thread: the atomic write. */
static void
state_writer_work(uv_work_t *work)
{
    struct state_writer *w = work->data;

    w->result = state_file_write(w->path, w->writing, w->writing_len);
}

/* Free @w and report the close. */
static void
state_writer_finish(uv_handle_t *h)
{
    struct state_writer *w = h->data;
    void (*done)(void *) = w->done;
    void *arg = w->done_arg;

    free(w->waiting);
    free(w->path);
    free(w);
    if (done)
        done(arg);
}

static void state_writer_start(struct state_writer *w);

/* The retry timer: write the kept content again. */
static void
state_writer_retry(uv_timer_t *t)
{
    struct state_writer *w = t->data;

    if (!w->is_busy && w->waiting)
        state_writer_start(w);
}

/* Back on the loop: log a failure, write the next content or finish closing. A failed
 * write (a full disk) is kept and retried with backoff (0.5 s doubling to 30 s) until
 * it lands or newer content replaces it, so the file catches up once space returns
 * even when nothing changes any more. */
static void
state_writer_after(uv_work_t *work, int status)
{
    struct state_writer *w = work->data;
    int rc = status < 0 ? status : w->result;

    w->is_busy = false;
    if (rc < 0) {
        log_error("state", "cannot write %s: %s", w->path, strerror(-rc));
        if (!w->waiting && !w->is_closing) {
            w->waiting = w->writing;
            w->waiting_len = w->writing_len;
            w->waiting_tag = w->writing_tag;
            w->writing = NULL;
            w->retry_ms = w->retry_ms ? w->retry_ms * 2 : 500;
            if (w->retry_ms > 30000)
                w->retry_ms = 30000;
            uv_timer_start(&w->timer, state_writer_retry, w->retry_ms, 0);
            if (w->on_written) /* waiters hear of the failure now; the retry goes on */
                w->on_written(w->on_written_arg, w->writing_tag, rc);
            return;
        }
    } else if (w->retry_ms) {
        log_info("state", "%s written again", w->path);
        w->retry_ms = 0;
    }
    free(w->writing);
    w->writing = NULL;
    if (w->on_written) /* after the bookkeeping: the hook may put new content */
        w->on_written(w->on_written_arg, w->writing_tag, rc < 0 ? rc : 0);
    if (w->waiting)
        state_writer_start(w);
    else if (w->is_closing)
        uv_close((uv_handle_t *)&w->timer, state_writer_finish);
}

/* Hand the waiting content to a worker. */
static void
state_writer_start(struct state_writer *w)
{
    int rc;

    uv_timer_stop(&w->timer);
    w->writing = w->waiting;
    w->writing_len = w->waiting_len;
    w->writing_tag = w->waiting_tag;
    w->waiting = NULL;
    w->is_busy = true;
    w->work.data = w;
    if ((rc = uv_queue_work(w->loop, &w->work, state_writer_work, state_writer_after)) < 0) {
        log_error("state", "cannot queue a write of %s: %s", w->path, uv_strerror(rc));
        free(w->writing);
        w->writing = NULL;
        w->is_busy = false;
        if (w->on_written)
            w->on_written(w->on_written_arg, w->writing_tag, rc);
    }
}

/* Make a writer. */
int
state_writer_open(uv_loop_t *loop, const char *path, struct state_writer **out)
{
    struct state_writer *w = calloc(1, sizeof(*w));

    if (!w || !(w->path = strdup(path))) {
        free(w);
        return AB_ENOMEM;
    }
    w->loop = loop;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    *out = w;
    return 0;
}

/* Queue new content; older waiting content is dropped. */
int
state_writer_put(struct state_writer *w, char *data, size_t len)
{
    free(w->waiting);
    w->waiting = data;
    w->waiting_len = len;
    if (!w->is_busy)
        state_writer_start(w);
    return 0;
}

/* Queue new content with a tag for the on_written hook. */
int
state_writer_put_tagged(struct state_writer *w, char *data, size_t len, uint64_t tag)
{
    w->waiting_tag = tag;
    return state_writer_put(w, data, len);
}

/* Set the hook told after each write. */
void
state_writer_on_written(struct state_writer *w, void (*cb)(void *arg, uint64_t tag, int status),
                        void *arg)
{
    w->on_written = cb;
    w->on_written_arg = arg;
}

/* The newest content not yet durable. */
const char *
state_writer_pending(const struct state_writer *w, size_t *len)
{
    if (w->waiting) {
        *len = w->waiting_len;
        return w->waiting;
    }
    if (w->writing) {
        *len = w->writing_len;
        return w->writing;
    }
    return NULL;
}

/* Close once the pending writes are done. */
void
state_writer_close(struct state_writer *w, void (*done)(void *arg), void *arg)
{
    w->is_closing = true;
    w->done = done;
    w->done_arg = arg;
    if (!w->is_busy && w->waiting)
        state_writer_start(w); /* a failed write waiting for its retry: once more now */
    else if (!w->is_busy)
        uv_close((uv_handle_t *)&w->timer, state_writer_finish);
}

/* The file's path. */
const char *
state_writer_path(const struct state_writer *w)
{
    return w->path;
}
