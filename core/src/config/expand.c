/* `${NAME}` substitution after parsing. */
#include "config/expand.h"

#include "config/secret_env.h"

#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

/* A growable byte buffer for the expansion. */
struct expand_buf {
    char *data;
    size_t len, cap;
};

/* Append @n bytes. */
static int
expand_buf_put(struct expand_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return AB_ENOMEM;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* True for [A-Za-z_][A-Za-z0-9_]* characters at position @i. */
static int
expand_name_char(char c, int first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* Expand one string value. */
int
expand_string(const char *in, size_t len, int line, const char *key, struct diag *diag, char **out,
              size_t *out_len)
{
    struct expand_buf b = {0};
    size_t i = 0;
    int rc = 0;

    if ((rc = expand_buf_put(&b, "", 0)) < 0)
        return rc;
    while (i < len && rc == 0) {
        if (in[i] == '$' && i + 2 < len && in[i + 1] == '$' && in[i + 2] == '{') {
            rc = expand_buf_put(&b, "${", 2);
            i += 3;
            continue;
        }
        if (in[i] == '$' && i + 1 < len && in[i + 1] == '{') {
            size_t j = i + 2;
            while (j < len && expand_name_char(in[j], j == i + 2))
                j++;
            if (j < len && in[j] == '}' && j > i + 2) {
                char name[256];
                size_t n = j - i - 2 < sizeof(name) - 1 ? j - i - 2 : sizeof(name) - 1;
                const char *val;
                memcpy(name, in + i + 2, n);
                name[n] = '\0';
                val = secret_env_get(name); /* a SIGHUP reload finds wiped tokens */
                if (!val)
                    diag_add(diag, false, line, key,
                             "environment variable %s is not set; using \"\" — export it or "
                             "remove ${%s}",
                             name, name);
                else
                    rc = expand_buf_put(&b, val, strlen(val));
                i = j + 1;
                continue;
            }
        }
        rc = expand_buf_put(&b, in + i, 1);
        i++;
    }
    if (rc < 0) {
        free(b.data);
        return rc;
    }
    *out = b.data;
    *out_len = b.len;
    return 0;
}

static int expand_value(struct toml_value *v, const char *key, struct diag *diag);

/* Expand every value of a table, naming keys by their dotted path. */
static int
expand_table(struct toml_table *t, const char *prefix, struct diag *diag)
{
    int rc;

    for (size_t i = 0; i < t->count; i++) {
        char key[512];
        snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", t->items[i].key);
        if ((rc = expand_value(&t->items[i].val, key, diag)) < 0)
            return rc;
    }
    return 0;
}

/* Expand one value, recursing into arrays and tables. */
static int
expand_value(struct toml_value *v, const char *key, struct diag *diag)
{
    int rc;

    switch (v->type) {
    case TOML_STRING: {
        char *out;
        size_t out_len;
        if (!memchr(v->u.str.ptr, '$', v->u.str.len))
            return 0;
        if ((rc = expand_string(v->u.str.ptr, v->u.str.len, v->line, key, diag, &out, &out_len)) <
            0)
            return rc;
        free(v->u.str.ptr);
        v->u.str.ptr = out;
        v->u.str.len = out_len;
        return 0;
    }
    case TOML_ARRAY:
        for (size_t i = 0; i < v->u.arr->count; i++)
            if ((rc = expand_value(&v->u.arr->items[i], key, diag)) < 0)
                return rc;
        return 0;
    case TOML_TABLE: return expand_table(v->u.tab, key, diag);
    default: return 0;
    }
}

/* Expand the whole tree. */
int
expand_tree(struct toml_table *root, struct diag *diag)
{
    return expand_table(root, "", diag);
}
