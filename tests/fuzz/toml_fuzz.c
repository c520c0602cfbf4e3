/* libFuzzer target for the TOML parser: any input must parse or fail cleanly, and
 * either way the result must be self-consistent (positions inside the document,
 * strings terminated at their length, messages set). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "toml/toml.h"

static void toml_fuzz_table(const struct toml_table *t, int lines, int depth);

/* Stop the run on a broken invariant, so libFuzzer records the input. */
static void
toml_fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* Check one value and everything below it. */
static void
toml_fuzz_value(const struct toml_value *v, int lines, int depth)
{
    toml_fuzz_check(v->line >= 1 && v->line <= lines && v->col >= 1);
    toml_fuzz_check(toml_type_name(v->type)[0] != 'u');
    toml_fuzz_check(depth < 1000);
    switch (v->type) {
    case TOML_STRING:
        toml_fuzz_check(v->u.str.ptr != NULL && v->u.str.ptr[v->u.str.len] == '\0');
        break;
    case TOML_DATETIME:
    case TOML_DATETIME_LOCAL:
    case TOML_DATE_LOCAL:
    case TOML_TIME_LOCAL: toml_fuzz_check(strlen(v->u.datetime) >= 8); break;
    case TOML_ARRAY:
        for (size_t i = 0; i < v->u.arr->count; i++)
            toml_fuzz_value(&v->u.arr->items[i], lines, depth + 1);
        break;
    case TOML_TABLE: toml_fuzz_table(v->u.tab, lines, depth + 1); break;
    case TOML_INTEGER:
    case TOML_FLOAT:
    case TOML_BOOL: break;
    }
}

/* Check a table's pairs, that keys are unique, and that lookups find them. */
static void
toml_fuzz_table(const struct toml_table *t, int lines, int depth)
{
    for (size_t i = 0; i < t->count; i++) {
        const struct toml_kv *kv = &t->items[i];
        toml_fuzz_check(kv->key[kv->key_len] == '\0' && kv->line >= 1 && kv->line <= lines);
        for (size_t j = 0; j < i; j++)
            toml_fuzz_check(t->items[j].key_len != kv->key_len ||
                            memcmp(t->items[j].key, kv->key, kv->key_len) != 0);
        if (strlen(kv->key) == kv->key_len)
            toml_fuzz_check(toml_table_get(t, kv->key) == &kv->val);
        toml_fuzz_value(&kv->val, lines, depth);
    }
}

/* The fuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct toml_table *root = NULL;
    struct toml_error err;
    int lines = 1;

    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (toml_parse((const char *)data, size, &root, &err) < 0) {
        toml_fuzz_check(root == NULL && err.msg[0] != '\0');
        toml_fuzz_check(err.line >= 1 && err.line <= lines && err.col >= 1);
        toml_fuzz_check(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
        return 0;
    }
    toml_fuzz_table(root, lines, 0);
    (void)toml_get_path(root, "a.b.c");
    toml_free(root);
    return 0;
}
