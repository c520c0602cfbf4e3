/* Giving freed heap back to the kernel. glibc keeps pages freed in the middle of its
 * arenas (start-up's parsing, TLS set-up, a burst of conversations); malloc_trim(0)
 * returns them. A timer on the loop trims shortly after start and then now and then,
 * only when the allocator holds enough free memory to be worth it. */
#ifndef AB_HEAP_TRIM_H
#define AB_HEAP_TRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct heap_trim {
    uv_timer_t timer; /* unref'd: it never keeps the loop alive */
    size_t min_free;  /* trim only when at least this many freed bytes are held */
    uint64_t trims;   /* trims done */
    bool has_timer;   /* the timer is initialised (close it) */
};

/* Trim @first_ms after now, then every @every_ms, when the allocator holds at least
 * @min_free freed bytes. @t is caller-owned and must stay put until heap_trim_close()'s
 * handle is closed (run the loop). Returns 0 or a negative uv code. */
int heap_trim_start(uv_loop_t *loop, uint64_t first_ms, uint64_t every_ms, size_t min_free,
                    struct heap_trim *t);

/* Stop and close the timer, if heap_trim_start() initialised it (its memory is the
 * caller's: free it after the loop ran). @t must have been zeroed or started. */
void heap_trim_close(struct heap_trim *t);

/* Set the allocator up for a long-running daemon that is idle most of the time, before
 * the first allocation: grow the heap by what is asked (no 128 KiB pad at each growth,
 * about 1 MiB of idle RSS) and keep blocks of 128 KiB and more in their own mappings
 * (no dynamic threshold: big zeroed tables stay untouched, hence not resident, until
 * used). No-op outside glibc. */
void heap_tune(void);

/* Trim now if the allocator holds at least @min_free freed bytes; true when it did. */
bool heap_trim_now(size_t min_free);

#endif
