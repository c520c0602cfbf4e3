/* Small durable files under [state] dir: written whole and atomically (temp file,
 * fsync, rename, fsync of the directory), so a crash leaves the old or the new
 * content, never a torn one. */
#ifndef AB_STATE_FILE_H
#define AB_STATE_FILE_H

#include <stddef.h>

/* Largest state file read back (16 MiB). */
#define STATE_FILE_MAX ((size_t)16 << 20)

/* Create @dir and its parents with mode 0700 where missing. Returns 0 or -errno. */
int state_dir_ensure(const char *dir);

/* fsync the directory holding @path: a file created or renamed there stays. */
void state_dir_sync(const char *path);

/* Replace @path with @len bytes of @data atomically. Returns 0 or -errno. */
int state_file_write(const char *path, const void *data, size_t len);

/* Read @path whole: *out is malloc'd (NUL-terminated, caller frees), *len its size.
 * Returns 0, AB_ENOENT when absent, AB_EFULL when over STATE_FILE_MAX, or -errno. */
int state_file_read(const char *path, char **out, size_t *len);

/* True for keys usable as file names: [A-Za-z0-9._-]+, not starting with '.'. */
int state_key_valid(const char *key);

#endif
