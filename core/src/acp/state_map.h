/* A small JSON document persisted in the state directory, written atomically off the
 * loop thread (temp file, fsync, rename, fsync of the directory). The pool keeps its
 * conversation -> sessionId map in one. */
#ifndef AB_ACP_STATE_MAP_H
#define AB_ACP_STATE_MAP_H

#include <cjson/cJSON.h>
#include <uv.h>

struct state_map;

/* Open @dir/@name (both lent), creating @dir with mode 0700 if missing. Reading the
 * current document happens here, once, at start-up, before the loop serves anything:
 * *@doc receives it (owned; an empty object when the file is absent or unreadable,
 * which is logged). Returns 0 or a negative errno code. */
int state_map_open(uv_loop_t *loop, const char *dir, const char *name, struct state_map **out,
                   cJSON **doc);

/* Persist @doc (owned) asynchronously. Writes never overlap: while one runs, the newest
 * document waits and older waiting ones are dropped. Returns 0 or AB_ENOMEM. */
int state_map_write(struct state_map *m, cJSON *doc);

/* Finish the pending writes, free @m, then call @done(@arg) (from a loop callback). */
void state_map_close(struct state_map *m, void (*done)(void *arg), void *arg);

/* The file's path (lent). */
const char *state_map_path(const struct state_map *m);

#endif
