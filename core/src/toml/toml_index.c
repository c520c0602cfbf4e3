/* A hash index of (table, key) pairs used by the parser for duplicate checks. */
#include <stdlib.h>
#include <string.h>

#include "agent-broker/errors.h"
#include "toml_index.h"

/* FNV-1a over the key, mixed with the table's address and a per-parse seed. */
static uint64_t
toml_index_hash(const struct toml_index *ix, const struct toml_table *t, const char *key,
                size_t len)
{
    uint64_t h =
        0xcbf29ce484222325ULL ^ ix->seed ^ ((uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15ULL);

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 29;
    return h;
}

/* Linear probing lookup. */
struct toml_kv *
toml_index_find(const struct toml_index *ix, const struct toml_table *t, const char *key,
                size_t len)
{
    uint64_t h;

    if (ix->cap == 0)
        return NULL;
    h = toml_index_hash(ix, t, key, len);
    for (size_t i = h & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        const struct toml_index_slot *s = &ix->slots[i];
        if (s->t == NULL)
            return NULL;
        if (s->hash == h && s->t == t) {
            struct toml_kv *kv = &t->items[s->item];
            if (kv->key_len == len && memcmp(kv->key, key, len) == 0)
                return kv;
        }
    }
}

/* Put a slot into a table known to have room. */
static void
toml_index_place(struct toml_index_slot *slots, size_t cap, const struct toml_index_slot *s)
{
    size_t i = s->hash & (cap - 1);

    while (slots[i].t != NULL)
        i = (i + 1) & (cap - 1);
    slots[i] = *s;
}

/* Insert, doubling the slot array at half load. */
int
toml_index_add(struct toml_index *ix, const struct toml_table *t, size_t item)
{
    struct toml_index_slot s;

    if (ix->count + 1 > ix->cap / 2) {
        size_t cap = ix->cap ? ix->cap * 2 : 64;
        struct toml_index_slot *slots = calloc(cap, sizeof(*slots));
        if (slots == NULL)
            return AB_ENOMEM;
        for (size_t i = 0; i < ix->cap; i++)
            if (ix->slots[i].t != NULL)
                toml_index_place(slots, cap, &ix->slots[i]);
        free(ix->slots);
        ix->slots = slots;
        ix->cap = cap;
        if (ix->seed == 0)
            ix->seed = (uint64_t)(uintptr_t)slots * 0xff51afd7ed558ccdULL;
    }
    s.t = t;
    s.item = item;
    s.hash = toml_index_hash(ix, t, t->items[item].key, t->items[item].key_len);
    toml_index_place(ix->slots, ix->cap, &s);
    ix->count++;
    return 0;
}

/* Release the slot array. */
void
toml_index_free(struct toml_index *ix)
{
    free(ix->slots);
    memset(ix, 0, sizeof(*ix));
}
