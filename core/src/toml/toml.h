/* A complete TOML 1.0 parser producing a tree of values that remember where they
 * were written (line, column), so config errors can name file:line. */
#ifndef AB_TOML_H
#define AB_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum toml_type {
    TOML_STRING,
    TOML_INTEGER,
    TOML_FLOAT,
    TOML_BOOL,
    TOML_DATETIME,       /* offset date-time */
    TOML_DATETIME_LOCAL, /* local date-time */
    TOML_DATE_LOCAL,
    TOML_TIME_LOCAL,
    TOML_ARRAY,
    TOML_TABLE,
};

struct toml_table;
struct toml_array;

/* One value. Strings are UTF-8, NUL-terminated, and may contain NUL (use len). */
struct toml_value {
    enum toml_type type;
    int line; /* 1-based line where the value starts */
    int col;  /* 1-based column (in bytes) */
    union {
        struct {
            char *ptr; /* owned by the tree */
            size_t len;
        } str;                  /* TOML_STRING */
        int64_t i;              /* TOML_INTEGER */
        double f;               /* TOML_FLOAT */
        bool b;                 /* TOML_BOOL */
        char *datetime;         /* the four date/time types: the text as written, with 'T'
                                   for a space separator and 'Z' upper-cased; owned */
        struct toml_array *arr; /* TOML_ARRAY, owned */
        struct toml_table *tab; /* TOML_TABLE, owned */
    } u;
};

/* A key/value pair of a table, in the order written. */
struct toml_kv {
    char *key; /* owned; UTF-8, NUL-terminated */
    size_t key_len;
    int line; /* where the key was written */
    int col;
    struct toml_value val;
};

struct toml_table {
    struct toml_kv *items; /* owned */
    size_t count;
    size_t cap;
    int line;       /* header line for [x] tables, key line otherwise, 1 for the root */
    unsigned flags; /* parser bookkeeping */
};

struct toml_array {
    struct toml_value *items; /* owned */
    size_t count;
    size_t cap;
};

struct toml_error {
    int line;
    int col;
    char msg[256]; /* "expected ... but found ..." */
};

/* Parse @len bytes of TOML. On success *out is a new root table (free with
 * toml_free) and 0 is returned; on failure -1 with @err filled. */
int toml_parse(const char *src, size_t len, struct toml_table **out, struct toml_error *err);

/* Free a tree returned by toml_parse. NULL is allowed. */
void toml_free(struct toml_table *root);

/* Look up @key (an exact, not dotted, key) in @t; NULL when absent. Lent. */
const struct toml_value *toml_table_get(const struct toml_table *t, const char *key);

/* Look up a dotted path like "reactions.timing.debounce_ms" (bare key segments
 * only); NULL when absent or when an intermediate is not a table. Lent. */
const struct toml_value *toml_get_path(const struct toml_table *root, const char *path);

/* The name of a type for messages: "string", "integer", ... */
const char *toml_type_name(enum toml_type type);

#endif
