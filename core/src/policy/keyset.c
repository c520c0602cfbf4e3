/* A bounded set of short string keys with recency order (see keyset.h). */
#include "policy/keyset.h"

#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "random_bytes.h"

/* FNV-1a over the key, started from the set's seed and finished with a 64-bit mixer
 * so the low bits used for the bucket depend on every byte. */
static uint64_t
keyset_hash(const struct keyset *ks, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ ks->seed;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

/* Reserve every array up front; only the keys' copies are allocated later. */
int
keyset_init(struct keyset *ks, uint32_t cap, size_t key_max)
{
    uint32_t buckets = 1;

    memset(ks, 0, sizeof(*ks));
    if (cap == 0 || cap > (UINT32_MAX >> 2) || key_max < 2)
        return AB_EINVAL;
    while (buckets < 2 * cap)
        buckets <<= 1;
    ks->cap = cap;
    ks->key_max = key_max;
    ks->mask = buckets - 1;
    ks->oldest = ks->newest = KEYSET_NONE;
    random_bytes(&ks->seed, sizeof(ks->seed));
    ks->keys = calloc(cap, sizeof(*ks->keys));
    ks->hashes = calloc(cap, sizeof(*ks->hashes));
    ks->older = calloc(cap, sizeof(*ks->older));
    ks->newer = calloc(cap, sizeof(*ks->newer));
    ks->table = calloc(buckets, sizeof(*ks->table));
    if (!ks->keys || !ks->hashes || !ks->older || !ks->newer || !ks->table)
        goto fail_alloc;
    return 0;

fail_alloc:
    keyset_free(ks);
    return AB_ENOMEM;
}

/* Free the arrays and leave the set empty. */
void
keyset_free(struct keyset *ks)
{
    for (uint32_t i = 0; ks->keys && i < ks->count; i++)
        free(ks->keys[i]);
    free(ks->keys);
    free(ks->hashes);
    free(ks->older);
    free(ks->newer);
    free(ks->table);
    memset(ks, 0, sizeof(*ks));
    ks->oldest = ks->newest = KEYSET_NONE;
}

/* Probe from the key's home bucket until the key or an empty bucket. */
uint32_t
keyset_find(const struct keyset *ks, const char *key)
{
    uint64_t h = keyset_hash(ks, key);

    for (uint32_t b = (uint32_t)h & ks->mask;; b = (b + 1) & ks->mask) {
        uint32_t slot = ks->table[b];

        if (slot == 0)
            return KEYSET_NONE;
        slot--;
        if (ks->hashes[slot] == h && strcmp(ks->keys[slot], key) == 0)
            return slot;
    }
}

/* Take @slot out of the recency list. */
static void
keyset_unlink(struct keyset *ks, uint32_t slot)
{
    uint32_t o = ks->older[slot], n = ks->newer[slot];

    if (o != KEYSET_NONE)
        ks->newer[o] = n;
    else
        ks->oldest = n;
    if (n != KEYSET_NONE)
        ks->older[n] = o;
    else
        ks->newest = o;
}

/* Put @slot at the newest end of the recency list. */
static void
keyset_link_newest(struct keyset *ks, uint32_t slot)
{
    ks->older[slot] = ks->newest;
    ks->newer[slot] = KEYSET_NONE;
    if (ks->newest != KEYSET_NONE)
        ks->newer[ks->newest] = slot;
    else
        ks->oldest = slot;
    ks->newest = slot;
}

/* Remove @slot's bucket with backward-shift deletion, so probe chains stay unbroken
 * without tombstones (a long-running daemon would otherwise fill the table with them). */
static void
keyset_unbucket(struct keyset *ks, uint32_t slot)
{
    uint32_t i = (uint32_t)ks->hashes[slot] & ks->mask;

    while (ks->table[i] != slot + 1)
        i = (i + 1) & ks->mask;
    for (uint32_t j = (i + 1) & ks->mask; ks->table[j] != 0; j = (j + 1) & ks->mask) {
        uint32_t home = (uint32_t)ks->hashes[ks->table[j] - 1] & ks->mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);

        if (stays)
            continue;
        ks->table[i] = ks->table[j];
        i = j;
    }
    ks->table[i] = 0;
}

/* Insert into a free slot, evicting the oldest key when every slot is taken. */
uint32_t
keyset_add(struct keyset *ks, const char *key, bool *evicted)
{
    uint32_t slot;
    uint32_t b;
    char *copy = strndup(key, ks->key_max - 1);

    if (evicted)
        *evicted = false;
    if (!copy)
        return KEYSET_NONE;
    if (ks->count < ks->cap) {
        slot = ks->count++;
    } else {
        slot = ks->oldest;
        keyset_unlink(ks, slot);
        keyset_unbucket(ks, slot);
        free(ks->keys[slot]);
        ks->evictions++;
        if (evicted)
            *evicted = true;
    }
    ks->keys[slot] = copy;
    ks->hashes[slot] = keyset_hash(ks, copy);
    for (b = (uint32_t)ks->hashes[slot] & ks->mask; ks->table[b] != 0; b = (b + 1) & ks->mask)
        ;
    ks->table[b] = slot + 1;
    keyset_link_newest(ks, slot);
    return slot;
}

/* Move @slot to the newest end. */
void
keyset_touch(struct keyset *ks, uint32_t slot)
{
    if (ks->newest == slot)
        return;
    keyset_unlink(ks, slot);
    keyset_link_newest(ks, slot);
}

/* The key stored in @slot. */
const char *
keyset_key(const struct keyset *ks, uint32_t slot)
{
    return ks->keys[slot];
}
