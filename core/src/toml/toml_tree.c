/* The TOML value tree: building it, looking things up in it, and freeing it. */
#include <stdlib.h>
#include <string.h>

#include "agent-broker/errors.h"
#include "toml_tree.h"

/* Allocate an empty table. */
struct toml_table *
toml_tree_table_new(int line, unsigned flags)
{
    struct toml_table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->line = line;
    t->flags = flags;
    return t;
}

/* Allocate an empty array. */
struct toml_array *
toml_tree_array_new(void)
{
    return calloc(1, sizeof(struct toml_array));
}

/* Linear search: tables in configs are small, and order must be kept anyway. */
struct toml_kv *
toml_tree_find(const struct toml_table *t, const char *key, size_t len)
{
    for (size_t i = 0; i < t->count; i++) {
        struct toml_kv *kv = &t->items[i];
        if (kv->key_len == len && memcmp(kv->key, key, len) == 0)
            return kv;
    }
    return NULL;
}

/* Grow @t if needed and add a pair holding a copy of the key. */
int
toml_tree_append(struct toml_table *t, const char *key, size_t len, int line, int col,
                 struct toml_kv **out)
{
    struct toml_kv *kv;
    char *copy;

    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        struct toml_kv *items = realloc(t->items, cap * sizeof(*items));
        if (items == NULL)
            return AB_ENOMEM;
        t->items = items;
        t->cap = cap;
    }
    copy = malloc(len + 1);
    if (copy == NULL)
        return AB_ENOMEM;
    memcpy(copy, key, len);
    copy[len] = '\0';
    kv = &t->items[t->count++];
    memset(kv, 0, sizeof(*kv));
    kv->key = copy;
    kv->key_len = len;
    kv->line = line;
    kv->col = col;
    kv->val.type = TOML_INTEGER;
    *out = kv;
    return 0;
}

/* Grow @a if needed and move @v in. */
int
toml_tree_push(struct toml_array *a, const struct toml_value *v)
{
    if (a->count == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        struct toml_value *items = realloc(a->items, cap * sizeof(*items));
        if (items == NULL)
            return AB_ENOMEM;
        a->items = items;
        a->cap = cap;
    }
    a->items[a->count++] = *v;
    return 0;
}

/* Free an array and everything in it. */
static void
toml_tree_array_free(struct toml_array *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->count; i++)
        toml_tree_value_clear(&a->items[i]);
    free(a->items);
    free(a);
}

/* Release what a value owns; the value itself belongs to its container. */
void
toml_tree_value_clear(struct toml_value *v)
{
    switch (v->type) {
    case TOML_STRING: free(v->u.str.ptr); break;
    case TOML_DATETIME:
    case TOML_DATETIME_LOCAL:
    case TOML_DATE_LOCAL:
    case TOML_TIME_LOCAL: free(v->u.datetime); break;
    case TOML_ARRAY: toml_tree_array_free(v->u.arr); break;
    case TOML_TABLE: toml_free(v->u.tab); break;
    case TOML_INTEGER:
    case TOML_FLOAT:
    case TOML_BOOL: break;
    }
    memset(&v->u, 0, sizeof(v->u));
    v->type = TOML_INTEGER;
}

/* Free a table and everything in it. */
void
toml_free(struct toml_table *root)
{
    if (root == NULL)
        return;
    for (size_t i = 0; i < root->count; i++) {
        free(root->items[i].key);
        toml_tree_value_clear(&root->items[i].val);
    }
    free(root->items);
    free(root);
}

/* Exact lookup of one key (keys containing NUL cannot be named here). */
const struct toml_value *
toml_table_get(const struct toml_table *t, const char *key)
{
    const struct toml_kv *kv;

    if (t == NULL || key == NULL)
        return NULL;
    kv = toml_tree_find(t, key, strlen(key));
    return kv ? &kv->val : NULL;
}

/* Walk a dotted path of bare key segments from @root. */
const struct toml_value *
toml_get_path(const struct toml_table *root, const char *path)
{
    const struct toml_table *t = root;
    const struct toml_kv *kv;
    const char *seg = path, *dot;

    if (root == NULL || path == NULL)
        return NULL;
    for (;;) {
        dot = strchr(seg, '.');
        size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
        if (len == 0)
            return NULL;
        kv = toml_tree_find(t, seg, len);
        if (kv == NULL)
            return NULL;
        if (dot == NULL)
            return &kv->val;
        if (kv->val.type != TOML_TABLE)
            return NULL;
        t = kv->val.u.tab;
        seg = dot + 1;
    }
}

/* Names as toml-test and error messages spell them. */
const char *
toml_type_name(enum toml_type type)
{
    switch (type) {
    case TOML_STRING: return "string";
    case TOML_INTEGER: return "integer";
    case TOML_FLOAT: return "float";
    case TOML_BOOL: return "bool";
    case TOML_DATETIME: return "datetime";
    case TOML_DATETIME_LOCAL: return "datetime-local";
    case TOML_DATE_LOCAL: return "date-local";
    case TOML_TIME_LOCAL: return "time-local";
    case TOML_ARRAY: return "array";
    case TOML_TABLE: return "table";
    }
    return "unknown";
}
