/* Unpredictable bytes; see random_bytes.h. */
#include "random_bytes.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Fill @buf from getrandom(2), else from a mix of clocks, pid and address. */
void
random_bytes(void *buf, size_t len)
{
    unsigned char *p = buf;
    struct timespec real, mono;
    uint64_t x;

    if (getrandom(buf, len, GRND_NONBLOCK) == (ssize_t)len)
        return;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    x = (uint64_t)real.tv_nsec ^ ((uint64_t)real.tv_sec << 30) ^ ((uint64_t)mono.tv_nsec << 7) ^
        ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)buf;
    for (size_t i = 0; i < len; i++) {
        x ^= x >> 12; /* xorshift64*: spreads the few changing bits over every byte */
        x ^= x << 25;
        x ^= x >> 27;
        p[i] = (unsigned char)((x * 0x2545F4914F6CDD1Dull) >> 56);
    }
}
