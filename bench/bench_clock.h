/* The benchmarks' clock: CLOCK_MONOTONIC, one clock for every process on the machine, so
 * a stamp taken in one process can be compared with one taken in another. */
#ifndef AB_BENCH_CLOCK_H
#define AB_BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic nanoseconds since an arbitrary point. */
static inline uint64_t
bench_clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The same in milliseconds, with the fraction. */
static inline double
bench_clock_ms(void)
{
    return (double)bench_clock_ns() / 1e6;
}

#endif
