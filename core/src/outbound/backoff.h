/* Exponential backoff with full jitter up to a cap, reset on success. Used for retries
 * of outbound requests and, through the host, for chat plugins' reconnects. */
#ifndef AB_OUTBOUND_BACKOFF_H
#define AB_OUTBOUND_BACKOFF_H

#include <stdint.h>

/* A source of uniform 32-bit random numbers. @state is lent for the call. */
typedef uint32_t (*backoff_rand_fn)(void *state);

/* Backoff state; plain data, owned by the caller (embed it). */
struct backoff {
    uint64_t base_ms;  /* ceiling of the first delay */
    uint64_t cap_ms;   /* no delay ever exceeds this */
    uint32_t attempts; /* delays handed out since the last reset */
};

/* Start at @base_ms (> 0), doubling per attempt, never above @cap_ms (>= base_ms). */
int backoff_init(struct backoff *b, uint64_t base_ms, uint64_t cap_ms);

/* The next delay: uniform in [0, min(cap, base * 2^attempts)] ("full jitter"), drawn
 * from @rand(@state). Counts one attempt. */
uint64_t backoff_next_ms(struct backoff *b, backoff_rand_fn rand, void *state);

/* Back to the first delay (after a success). */
void backoff_reset(struct backoff *b);

/* A xorshift64* generator for backoff_next_ms. @state points at a uint64_t seed
 * (any value; 0 is replaced by a fixed constant). Not for secrets. */
uint32_t backoff_rand_xorshift(void *state);

#endif
