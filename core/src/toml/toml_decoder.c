/* toml-decoder: the toml-test decoder interface for our parser. Reads TOML on
 * stdin and prints toml-test's tagged JSON on stdout; exits 1 with the error on
 * stderr when the input is not valid TOML. A test tool, not installed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml.h"

static void toml_decoder_table(const struct toml_table *t);

/* Print @len bytes as a JSON string literal. */
static void
toml_decoder_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\b': fputs("\\b", stdout); break;
        case '\f': fputs("\\f", stdout); break;
        default:
            if (c < 0x20 || c == 0x7f)
                printf("\\u%04x", c);
            else
                putchar(c);
        }
    }
    putchar('"');
}

/* Print {"type": @type, "value": @value}. */
static void
toml_decoder_tagged(const char *type, const char *value, size_t len)
{
    printf("{\"type\":\"%s\",\"value\":", type);
    toml_decoder_string(value, len);
    putchar('}');
}

/* Print a float so that it reads back as the same double. */
static void
toml_decoder_float(double f)
{
    char buf[64];

    if (isnan(f))
        snprintf(buf, sizeof(buf), "nan");
    else if (isinf(f))
        snprintf(buf, sizeof(buf), "%sinf", f < 0 ? "-" : "");
    else
        snprintf(buf, sizeof(buf), "%.17g", f);
    toml_decoder_tagged("float", buf, strlen(buf));
}

/* Print any value: arrays as JSON arrays, tables as objects, the rest tagged. */
static void
toml_decoder_value(const struct toml_value *v)
{
    char buf[32];

    switch (v->type) {
    case TOML_STRING: toml_decoder_tagged("string", v->u.str.ptr, v->u.str.len); break;
    case TOML_INTEGER:
        snprintf(buf, sizeof(buf), "%lld", (long long)v->u.i);
        toml_decoder_tagged("integer", buf, strlen(buf));
        break;
    case TOML_FLOAT: toml_decoder_float(v->u.f); break;
    case TOML_BOOL: toml_decoder_tagged("bool", v->u.b ? "true" : "false", v->u.b ? 4 : 5); break;
    case TOML_DATETIME:
    case TOML_DATETIME_LOCAL:
    case TOML_DATE_LOCAL:
    case TOML_TIME_LOCAL:
        toml_decoder_tagged(toml_type_name(v->type), v->u.datetime, strlen(v->u.datetime));
        break;
    case TOML_ARRAY:
        putchar('[');
        for (size_t i = 0; i < v->u.arr->count; i++) {
            if (i > 0)
                putchar(',');
            toml_decoder_value(&v->u.arr->items[i]);
        }
        putchar(']');
        break;
    case TOML_TABLE: toml_decoder_table(v->u.tab); break;
    }
}

/* Print a table as a JSON object in the order written. */
static void
toml_decoder_table(const struct toml_table *t)
{
    putchar('{');
    for (size_t i = 0; i < t->count; i++) {
        if (i > 0)
            putchar(',');
        toml_decoder_string(t->items[i].key, t->items[i].key_len);
        putchar(':');
        toml_decoder_value(&t->items[i].val);
    }
    putchar('}');
}

/* Read all of stdin into a new buffer (owned by the caller). */
static char *
toml_decoder_read(size_t *len)
{
    size_t cap = 65536, n = 0, got;
    char *buf = malloc(cap), *grown;

    if (buf == NULL)
        return NULL;
    while ((got = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) {
            grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                return NULL;
            }
            buf = grown;
            cap *= 2;
        }
    }
    if (ferror(stdin)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Decode stdin; exit 0 with JSON, 1 on invalid TOML, 2 on I/O failure. */
int
main(void)
{
    struct toml_table *root;
    struct toml_error err;
    size_t len = 0;
    char *src = toml_decoder_read(&len);

    if (src == NULL) {
        fprintf(stderr, "toml-decoder: cannot read stdin\n");
        return 2;
    }
    if (toml_parse(src, len, &root, &err) < 0) {
        fprintf(stderr, "toml-decoder: line %d, column %d: %s\n", err.line, err.col, err.msg);
        free(src);
        return 1;
    }
    toml_decoder_table(root);
    putchar('\n');
    toml_free(root);
    free(src);
    return fflush(stdout) == 0 ? 0 : 2;
}
