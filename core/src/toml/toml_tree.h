/* Internal to core/src/toml: building the value tree (tables, arrays, values). */
#ifndef AB_TOML_TREE_H
#define AB_TOML_TREE_H

#include "toml.h"

/* struct toml_table.flags: how a table came to exist, which decides what may
 * later add to it. */
enum toml_table_flag {
    TOML_TAB_EXPLICIT = 1 << 0, /* defined by a [header], the root, or a [[header]] element */
    TOML_TAB_IMPLICIT = 1 << 1, /* created as a parent by a header; may be defined once later */
    TOML_TAB_DOTTED = 1 << 2,   /* created by a dotted key */
    TOML_TAB_INLINE = 1 << 3,   /* an inline table: complete and immutable */
};

/* A new empty table (owned by the caller), or NULL when out of memory. */
struct toml_table *toml_tree_table_new(int line, unsigned flags);

/* A new empty array (owned by the caller), or NULL when out of memory. */
struct toml_array *toml_tree_array_new(void);

/* The pair whose key is exactly @key (@len bytes, may hold NUL) in @t, or NULL.
 * Lent: valid until @t is next appended to. */
struct toml_kv *toml_tree_find(const struct toml_table *t, const char *key, size_t len);

/* Append a pair with a copy of @key and a zeroed value to @t; *out (lent) points at
 * it until @t is next appended to. 0 or AB_ENOMEM. */
int toml_tree_append(struct toml_table *t, const char *key, size_t len, int line, int col,
                     struct toml_kv **out);

/* Move @v into the end of @a (@a owns what @v owned on success). 0 or AB_ENOMEM. */
int toml_tree_push(struct toml_array *a, const struct toml_value *v);

/* Free what @v owns and leave it an empty integer. */
void toml_tree_value_clear(struct toml_value *v);

#endif
