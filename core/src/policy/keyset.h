/* A bounded set of short string keys with recency order: a fixed-capacity open-addressing
 * hash table over slots. When full, adding a key evicts the oldest one: at most `cap`
 * keys are held, each copied at its own length when added and freed when evicted (a
 * fixed key_max-byte slot per key made a busy daemon resident in 128-byte steps for ids
 * of 20-40). Used for duplicate suppression (first in, first out) and per-conversation
 * state (least recently used). */
#ifndef AB_POLICY_KEYSET_H
#define AB_POLICY_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYSET_NONE UINT32_MAX

struct keyset {
    uint32_t cap;     /* slots; at most this many keys are held */
    uint32_t count;   /* slots in use */
    size_t key_max;   /* longest key + 1: longer ones are cut */
    char **keys;      /* owned: cap slots, each an owned copy of its key (count in use) */
    uint64_t *hashes; /* owned: the hash of each slot's key */
    uint32_t *older;  /* owned: recency list, slot -> next older slot or KEYSET_NONE */
    uint32_t *newer;  /* owned: slot -> next newer slot or KEYSET_NONE */
    uint32_t *table;  /* owned: hash bucket -> slot + 1, 0 = empty */
    uint32_t mask;    /* buckets - 1 (a power of two, at least 2 * cap) */
    uint32_t oldest;  /* slot evicted next, KEYSET_NONE when empty */
    uint32_t newest;
    uint64_t seed; /* per-set random hash seed: ids cannot be crafted to collide */
    uint64_t evictions;
};

/* Reserve room for @cap keys of at most @key_max - 1 bytes. 0, AB_EINVAL or AB_ENOMEM. */
int keyset_init(struct keyset *ks, uint32_t cap, size_t key_max);

/* Release everything keyset_init reserved. NULL members are allowed (never initialised). */
void keyset_free(struct keyset *ks);

/* The slot holding @key (lent), or KEYSET_NONE. Does not change the recency order. */
uint32_t keyset_find(const struct keyset *ks, const char *key);

/* Add @key (lent, copied; must not be present and must fit key_max). When the set is
 * full the oldest key is evicted first and its slot reused. Returns the slot, which
 * is the newest from now on, or KEYSET_NONE when the copy cannot be made (nothing
 * changed); *evicted (may be NULL) says whether a key was dropped. */
uint32_t keyset_add(struct keyset *ks, const char *key, bool *evicted);

/* Make @slot the newest (least-recently-used order). */
void keyset_touch(struct keyset *ks, uint32_t slot);

/* The key held in @slot (owned by the set; valid until the slot is reused). */
const char *keyset_key(const struct keyset *ks, uint32_t slot);

#endif
