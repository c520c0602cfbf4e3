/* One durable file written off the loop thread: each write is atomic (state_file_write
 * on a libuv worker), writes never overlap, and while one runs only the newest waiting
 * content is kept; a failed write is retried (backoff up to 30 s) until it lands or newer
 * content replaces it. Used by the session pool's map and by plugins' state_put. */
#ifndef AB_STATE_WRITER_H
#define AB_STATE_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct state_writer;

/* A writer for @path (lent, copied) on @loop. Returns 0 or AB_ENOMEM. */
int state_writer_open(uv_loop_t *loop, const char *path, struct state_writer **out);

/* Replace the file's content with @len bytes of @data (owned: malloc'd, freed by the
 * writer) asynchronously. Returns 0. */
int state_writer_put(struct state_writer *w, char *data, size_t len);

/* Like state_writer_put, tagging the content with @tag: the on_written hook hears of
 * it once that content (or a newer one, which replaced it) is on disk. */
int state_writer_put_tagged(struct state_writer *w, char *data, size_t len, uint64_t tag);

/* After each write: @cb(@arg, tag of the content written, 0 or -errno), on the loop.
 * NULL stops it (do so before freeing @arg). */
void state_writer_on_written(struct state_writer *w,
                             void (*cb)(void *arg, uint64_t tag, int status), void *arg);

/* The newest content not yet known to be on disk (lent until the next put), or NULL
 * when everything written is durable: readers see their own writes at once. */
const char *state_writer_pending(const struct state_writer *w, size_t *len);

/* Finish the pending writes, free @w, then call @done(@arg) (may be NULL) from a loop
 * callback. The loop must run until then. */
void state_writer_close(struct state_writer *w, void (*done)(void *arg), void *arg);

/* The file's path (lent). */
const char *state_writer_path(const struct state_writer *w);

#endif
