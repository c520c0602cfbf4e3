/* Internal to core/src/toml: a hash index over every (table, key) pair created
 * while parsing, so checking for duplicate keys stays linear in the document size
 * (a table of 100 000 keys would otherwise take seconds). */
#ifndef AB_TOML_INDEX_H
#define AB_TOML_INDEX_H

#include "toml.h"

struct toml_index_slot {
    const struct toml_table *t; /* lent; NULL marks an empty slot */
    size_t item;                /* index into t->items (stable across realloc) */
    uint64_t hash;
};

struct toml_index {
    struct toml_index_slot *slots; /* owned */
    size_t cap;                    /* a power of two, or 0 */
    size_t count;
    uint64_t seed;
};

/* The pair keyed @key (@len bytes) in @t, or NULL. Lent until @t is appended to. */
struct toml_kv *toml_index_find(const struct toml_index *ix, const struct toml_table *t,
                                const char *key, size_t len);

/* Index t->items[item]. 0 or AB_ENOMEM. */
int toml_index_add(struct toml_index *ix, const struct toml_table *t, size_t item);

/* Free the slots (the tables are not touched). */
void toml_index_free(struct toml_index *ix);

#endif
