/* Giving freed heap back to the kernel; see heap_trim.h. */
#include "heap_trim.h"

#include <stdbool.h>

#include "log.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* See the header. */
bool
heap_trim_now(size_t min_free)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();

    if (mi.fordblks < min_free) {
        log_debug("core", "heap: %zu KiB free in the allocator, not trimmed", mi.fordblks / 1024);
        return false;
    }
    malloc_trim(0);
    log_debug("core", "heap: %zu KiB free in the allocator, trimmed", mi.fordblks / 1024);
    return true;
#else
    (void)min_free;
    return false;
#endif
}

/* See the header. */
void
heap_tune(void)
{
#if defined(__GLIBC__)
    (void)mallopt(M_TOP_PAD, 0);
    (void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

/* The timer fired: trim if worth it. */
static void
heap_trim_fired(uv_timer_t *timer)
{
    struct heap_trim *t = timer->data;

    if (heap_trim_now(t->min_free))
        t->trims++;
}

/* See the header. */
int
heap_trim_start(uv_loop_t *loop, uint64_t first_ms, uint64_t every_ms, size_t min_free,
                struct heap_trim *t)
{
    int rc;

    t->min_free = min_free;
    t->trims = 0;
    t->has_timer = false;
    if ((rc = uv_timer_init(loop, &t->timer)) < 0)
        return rc;
    t->has_timer = true;
    t->timer.data = t;
    if ((rc = uv_timer_start(&t->timer, heap_trim_fired, first_ms, every_ms)) < 0)
        return rc; /* heap_trim_close() still closes the handle */
    uv_unref((uv_handle_t *)&t->timer);
    return 0;
}

/* See the header. */
void
heap_trim_close(struct heap_trim *t)
{
    if (t->has_timer && !uv_is_closing((uv_handle_t *)&t->timer))
        uv_close((uv_handle_t *)&t->timer, NULL);
}
