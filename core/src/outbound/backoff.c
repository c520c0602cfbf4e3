/* Full-jitter exponential backoff (delay = random(0, min(cap, base * 2^n))). */
#include "outbound/backoff.h"

#include <stddef.h>

#include <agent-broker/errors.h>

/* Set the parameters and start from the first attempt. */
int
backoff_init(struct backoff *b, uint64_t base_ms, uint64_t cap_ms)
{
    if (!b || base_ms == 0 || cap_ms < base_ms)
        return AB_EINVAL;
    b->base_ms = base_ms;
    b->cap_ms = cap_ms;
    b->attempts = 0;
    return 0;
}

/* Map a 32-bit random value onto [0, ceiling]: floor((ceiling + 1) * r / 2^32), split in
 * two 64-bit products so no ceiling can overflow. */
static uint64_t
backoff_scale(uint32_t r, uint64_t ceiling)
{
    uint64_t n = ceiling == UINT64_MAX ? ceiling : ceiling + 1;

    return (n >> 32) * r + (((n & 0xFFFFFFFFu) * r) >> 32);
}

/* Draw the next jittered delay and count the attempt. */
uint64_t
backoff_next_ms(struct backoff *b, backoff_rand_fn rand, void *state)
{
    uint64_t ceiling = b->base_ms;

    /* Double step by step so a long outage cannot overflow the shift. */
    for (uint32_t i = 0; i < b->attempts && ceiling < b->cap_ms; i++)
        ceiling = ceiling > b->cap_ms / 2 ? b->cap_ms : ceiling * 2;
    if (ceiling > b->cap_ms)
        ceiling = b->cap_ms;
    if (b->attempts < UINT32_MAX)
        b->attempts++;
    return backoff_scale(rand(state), ceiling);
}

/* Forget past attempts. */
void
backoff_reset(struct backoff *b)
{
    b->attempts = 0;
}

/* xorshift64*: fast, small state, good enough to spread retries apart. */
uint32_t
backoff_rand_xorshift(void *state)
{
    uint64_t *s = state;
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ULL;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}
