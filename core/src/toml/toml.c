/* The TOML 1.0 document parser: statements, keys, tables, arrays of tables,
 * arrays and inline tables, and every rule about what may be defined where.
 * Strings, numbers and date-times are lexed by toml_string.c, toml_number.c and
 * toml_datetime.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml_parser.h"
#include "toml_tree.h"
#include "toml_utf8.h"

/* One segment of a (possibly dotted) key. */
struct toml_key_seg {
    char *ptr; /* owned; decoded, NUL-terminated, may hold NUL */
    size_t len;
    const char *at; /* lent: where it was written */
};

/* A dotted key as written: a.b."c d" */
struct toml_key {
    struct toml_key_seg *segs; /* owned */
    size_t count;
    size_t cap;
};

static int toml_value_parse(struct toml_parser *ps, struct toml_value *out);

/* Record the first error only: later ones are consequences of it. */
int
toml_parser_fail(struct toml_parser *ps, const char *at, const char *fmt, ...)
{
    va_list ap;

    if (ps->err->msg[0] != '\0')
        return -1;
    toml_parser_pos(ps, at, &ps->err->line, &ps->err->col);
    va_start(ap, fmt);
    vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
    va_end(ap);
    if (ps->err->msg[0] == '\0')
        snprintf(ps->err->msg, sizeof(ps->err->msg), "syntax error");
    return -1;
}

/* Count lines from the last position asked for (or from the start when @at lies
 * before it). */
void
toml_parser_pos(struct toml_parser *ps, const char *at, int *line, int *col)
{
    const char *nl;

    if (at > ps->end)
        at = ps->end;
    if (at < ps->mark) {
        ps->mark = ps->src;
        ps->mark_line_start = ps->src;
        ps->mark_line = 1;
    }
    while ((nl = memchr(ps->mark, '\n', (size_t)(at - ps->mark))) != NULL) {
        ps->mark_line++;
        ps->mark_line_start = nl + 1;
        ps->mark = nl + 1;
    }
    ps->mark = at;
    *line = ps->mark_line;
    *col = (int)(at - ps->mark_line_start) + 1;
}

/* Describe the byte at @p for messages: 'x', newline, end of input... */
static const char *
toml_describe(const struct toml_parser *ps, const char *p, char buf[32])
{
    unsigned char c;

    if (p >= ps->end)
        return "end of input";
    c = (unsigned char)*p;
    if (c == '\n' || (c == '\r' && p + 1 < ps->end && p[1] == '\n'))
        return "newline";
    if (c == '\r')
        return "a carriage return not followed by a newline";
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, 32, "'%c'", c);
    else if (c >= 0x80)
        snprintf(buf, 32, "a non-ASCII character");
    else
        snprintf(buf, 32, "control character U+%04X", c);
    return buf;
}

/* Skip spaces and tabs. */
static void
toml_skip_ws(struct toml_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
        ps->p++;
}

/* Consume one newline (LF or CRLF); false when there is none. */
static bool
toml_skip_newline(struct toml_parser *ps)
{
    if (ps->p < ps->end && *ps->p == '\n') {
        ps->p++;
        return true;
    }
    if (ps->end - ps->p >= 2 && ps->p[0] == '\r' && ps->p[1] == '\n') {
        ps->p += 2;
        return true;
    }
    return false;
}

/* Skip a comment up to (not including) its newline; comments may hold any
 * character but controls other than tab. */
static int
toml_skip_comment(struct toml_parser *ps)
{
    if (ps->p >= ps->end || *ps->p != '#')
        return 0;
    for (ps->p++; ps->p < ps->end; ps->p++) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '\n' || (c == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n'))
            return 0;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return toml_parser_fail(ps, ps->p, "control character U+%04X in comment", c);
    }
    return 0;
}

/* Skip whitespace, comments and newlines (inside arrays). */
static int
toml_skip_blank(struct toml_parser *ps)
{
    for (;;) {
        toml_skip_ws(ps);
        if (toml_skip_comment(ps) < 0)
            return -1;
        if (!toml_skip_newline(ps))
            return 0;
    }
}

/* Free the segments of a key. */
static void
toml_key_clear(struct toml_key *k)
{
    for (size_t i = 0; i < k->count; i++)
        free(k->segs[i].ptr);
    free(k->segs);
    memset(k, 0, sizeof(*k));
}

/* Write "a.b.c" (first @n segments of @k) into @buf for messages. */
static const char *
toml_key_name(const struct toml_key *k, size_t n, char *buf, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 1 < size; i++) {
        if (i > 0)
            buf[o++] = '.';
        for (size_t j = 0; j < k->segs[i].len && o + 1 < size; j++) {
            unsigned char c = (unsigned char)k->segs[i].ptr[j];
            buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        }
    }
    buf[o] = '\0';
    if (o + 1 >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
    return buf;
}

/* True for A-Z a-z 0-9 _ - */
static bool
toml_is_bare(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Read one key segment (bare, "basic" or 'literal') at ps->p. */
static int
toml_key_segment(struct toml_parser *ps, struct toml_key_seg *seg)
{
    struct toml_value v = {0};
    const char *start = ps->p;
    char buf[32];

    seg->at = start;
    if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) {
        if (toml_string_scan(ps, false, &v) < 0)
            return -1;
        seg->ptr = v.u.str.ptr;
        seg->len = v.u.str.len;
        return 0;
    }
    while (ps->p < ps->end && toml_is_bare(*ps->p))
        ps->p++;
    if (ps->p == start)
        return toml_parser_fail(ps, start, "expected a key, found %s",
                                toml_describe(ps, start, buf));
    seg->len = (size_t)(ps->p - start);
    seg->ptr = malloc(seg->len + 1);
    if (seg->ptr == NULL)
        return toml_parser_fail(ps, start, "out of memory");
    memcpy(seg->ptr, start, seg->len);
    seg->ptr[seg->len] = '\0';
    return 0;
}

/* Read a dotted key; whitespace may surround the dots and trails the key. */
static int
toml_key_parse(struct toml_parser *ps, struct toml_key *k)
{
    for (;;) {
        if (k->count == k->cap) {
            size_t cap = k->cap ? k->cap * 2 : 4;
            struct toml_key_seg *segs = realloc(k->segs, cap * sizeof(*segs));
            if (segs == NULL)
                return toml_parser_fail(ps, ps->p, "out of memory");
            k->segs = segs;
            k->cap = cap;
        }
        if (toml_key_segment(ps, &k->segs[k->count]) < 0)
            return -1;
        k->count++;
        toml_skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '.')
            return 0;
        ps->p++;
        toml_skip_ws(ps);
    }
}

/* Find @key in @t through the parse's index. */
static struct toml_kv *
toml_find(struct toml_parser *ps, const struct toml_table *t, const char *key, size_t len)
{
    return toml_index_find(&ps->index, t, key, len);
}

/* Append a pair to @t (see toml_tree_append) and index it. */
static int
toml_append(struct toml_parser *ps, struct toml_table *t, const char *key, size_t len, int line,
            int col, struct toml_kv **out)
{
    int rc = toml_tree_append(t, key, len, line, col, out);

    if (rc < 0)
        return rc;
    return toml_index_add(&ps->index, t, t->count - 1);
}

/* Add segment @seg of a key to @t as a new table and return it in *out. */
static int
toml_add_table(struct toml_parser *ps, struct toml_table *t, const struct toml_key_seg *seg,
               unsigned flags, struct toml_table **out)
{
    struct toml_kv *kv;
    int line, col;
    struct toml_table *sub;

    toml_parser_pos(ps, seg->at, &line, &col);
    sub = toml_tree_table_new(line, flags);
    if (sub == NULL || toml_append(ps, t, seg->ptr, seg->len, line, col, &kv) < 0) {
        free(sub);
        return toml_parser_fail(ps, seg->at, "out of memory");
    }
    kv->val.type = TOML_TABLE;
    kv->val.line = line;
    kv->val.col = col;
    kv->val.u.tab = sub;
    *out = sub;
    return 0;
}

/* True for an array made by [[headers]]: its elements are non-inline tables. A
 * static array of inline tables, or an empty one, is not. */
static bool
toml_is_table_array(const struct toml_value *v)
{
    const struct toml_value *last;

    if (v->type != TOML_ARRAY || v->u.arr->count == 0)
        return false;
    last = &v->u.arr->items[v->u.arr->count - 1];
    return last->type == TOML_TABLE && !(last->u.tab->flags & TOML_TAB_INLINE);
}

/* Walk the first @n segments of a dotted key from @t, creating tables, for a
 * key/value line. Only tables made by dotted keys in this same table may be
 * extended this way. */
static int
toml_dotted_walk(struct toml_parser *ps, struct toml_table *t, const struct toml_key *k, size_t n,
                 struct toml_table **out)
{
    char name[96];

    for (size_t i = 0; i < n; i++) {
        const struct toml_key_seg *seg = &k->segs[i];
        struct toml_kv *kv = toml_find(ps, t, seg->ptr, seg->len);
        if (kv == NULL) {
            if (toml_add_table(ps, t, seg, TOML_TAB_DOTTED, &t) < 0)
                return -1;
            continue;
        }
        toml_key_name(k, i + 1, name, sizeof(name));
        if (kv->val.type != TOML_TABLE)
            return toml_parser_fail(ps, seg->at,
                                    "key \"%s\" already defined at line %d as %s; it cannot "
                                    "also be a table",
                                    name, kv->line, toml_type_name(kv->val.type));
        if (kv->val.u.tab->flags & TOML_TAB_INLINE)
            return toml_parser_fail(ps, seg->at,
                                    "cannot add keys to inline table \"%s\" (line %d): inline "
                                    "tables are complete as written",
                                    name, kv->line);
        if (!(kv->val.u.tab->flags & TOML_TAB_DOTTED))
            return toml_parser_fail(ps, seg->at,
                                    "cannot add keys with a dotted key to table \"%s\": it "
                                    "was created by the [table] header at line %d",
                                    name, kv->val.u.tab->line);
        t = kv->val.u.tab;
    }
    *out = t;
    return 0;
}

/* key = value, added to @t (the current table or an inline table being read). */
static int
toml_keyval(struct toml_parser *ps, struct toml_table *t)
{
    struct toml_key k = {0};
    struct toml_value v = {0};
    struct toml_kv *kv;
    const struct toml_key_seg *last;
    char name[96], buf[32];
    int line, col;

    if (toml_key_parse(ps, &k) < 0)
        goto fail;
    toml_parser_pos(ps, k.segs[0].at, &line, &col);
    toml_key_name(&k, k.count, name, sizeof(name));
    if (ps->p >= ps->end || *ps->p != '=') {
        toml_parser_fail(ps, ps->p, "expected '=' after key \"%s\", found %s", name,
                         toml_describe(ps, ps->p, buf));
        goto fail;
    }
    ps->p++;
    toml_skip_ws(ps);
    if (toml_dotted_walk(ps, t, &k, k.count - 1, &t) < 0)
        goto fail;
    last = &k.segs[k.count - 1];
    kv = toml_find(ps, t, last->ptr, last->len);
    if (kv != NULL) {
        toml_parser_fail(ps, last->at, "key \"%s\" already defined at line %d", name, kv->line);
        goto fail;
    }
    if (toml_value_parse(ps, &v) < 0)
        goto fail;
    if (toml_append(ps, t, last->ptr, last->len, line, col, &kv) < 0) {
        toml_parser_fail(ps, last->at, "out of memory");
        goto fail_value;
    }
    kv->val = v;
    toml_key_clear(&k);
    return 0;

fail_value:
    toml_tree_value_clear(&v);
fail:
    toml_key_clear(&k);
    return -1;
}

/* Enter one more level of array/inline-table nesting. */
static int
toml_nest(struct toml_parser *ps)
{
    if (++ps->depth > TOML_MAX_DEPTH)
        return toml_parser_fail(ps, ps->p, "arrays and inline tables nested deeper than %d",
                                TOML_MAX_DEPTH);
    return 0;
}

/* [ value, value, ... ] with newlines, comments and a trailing comma allowed. */
static int
toml_array_parse(struct toml_parser *ps, struct toml_value *out)
{
    struct toml_array *a;
    struct toml_value v;
    char buf[32];

    if (toml_nest(ps) < 0)
        return -1;
    a = toml_tree_array_new();
    if (a == NULL)
        return toml_parser_fail(ps, ps->p, "out of memory");
    out->type = TOML_ARRAY;
    out->u.arr = a;
    ps->p++;
    for (;;) {
        if (toml_skip_blank(ps) < 0)
            goto fail;
        if (ps->p < ps->end && *ps->p == ']')
            break;
        memset(&v, 0, sizeof(v));
        if (toml_value_parse(ps, &v) < 0)
            goto fail;
        if (toml_tree_push(a, &v) < 0) {
            toml_tree_value_clear(&v);
            toml_parser_fail(ps, ps->p, "out of memory");
            goto fail;
        }
        if (toml_skip_blank(ps) < 0)
            goto fail;
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']')
            break;
        toml_parser_fail(ps, ps->p, "expected ',' or ']' in array, found %s",
                         toml_describe(ps, ps->p, buf));
        goto fail;
    }
    ps->p++;
    ps->depth--;
    return 0;

fail:
    toml_tree_value_clear(out);
    return -1;
}

/* { key = value, ... } on one line, no trailing comma; immutable once closed. */
static int
toml_inline_parse(struct toml_parser *ps, struct toml_value *out)
{
    struct toml_table *t;
    int line, col;
    char buf[32];

    if (toml_nest(ps) < 0)
        return -1;
    toml_parser_pos(ps, ps->p, &line, &col);
    t = toml_tree_table_new(line, TOML_TAB_INLINE);
    if (t == NULL)
        return toml_parser_fail(ps, ps->p, "out of memory");
    out->type = TOML_TABLE;
    out->u.tab = t;
    ps->p++;
    toml_skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}')
        goto done;
    for (;;) {
        if (toml_keyval(ps, t) < 0)
            goto fail;
        toml_skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '}')
            break;
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            toml_skip_ws(ps);
            if (ps->p < ps->end && *ps->p == '}') {
                toml_parser_fail(ps, ps->p, "trailing comma is not allowed in an inline table");
                goto fail;
            }
            continue;
        }
        toml_parser_fail(ps, ps->p,
                         "expected ',' or '}' in inline table, found %s (inline tables must "
                         "be on one line)",
                         toml_describe(ps, ps->p, buf));
        goto fail;
    }
done:
    ps->p++;
    ps->depth--;
    return 0;

fail:
    toml_tree_value_clear(out);
    return -1;
}

/* true or false, spelled exactly. */
static int
toml_bool_parse(struct toml_parser *ps, struct toml_value *out)
{
    size_t left = (size_t)(ps->end - ps->p);

    if (left >= 4 && memcmp(ps->p, "true", 4) == 0) {
        ps->p += 4;
        out->u.b = true;
    } else if (left >= 5 && memcmp(ps->p, "false", 5) == 0) {
        ps->p += 5;
        out->u.b = false;
    } else {
        return toml_parser_fail(ps, ps->p,
                                "expected a value, found an unquoted word (strings "
                                "need quotes; booleans are true or false)");
    }
    out->type = TOML_BOOL;
    return 0;
}

/* Any value, dispatched on its first character; records where it starts. */
static int
toml_value_parse(struct toml_parser *ps, struct toml_value *out)
{
    const char *start = ps->p;
    char c = ps->p < ps->end ? *ps->p : '\0';
    char buf[32];
    int rc;

    toml_parser_pos(ps, start, &out->line, &out->col);
    if (c == '"' || c == '\'')
        rc = toml_string_scan(ps, true, out);
    else if (c == 't' || c == 'f')
        rc = toml_bool_parse(ps, out);
    else if (c == '[')
        rc = toml_array_parse(ps, out);
    else if (c == '{')
        rc = toml_inline_parse(ps, out);
    else if (c >= '0' && c <= '9' && toml_datetime_ahead(ps))
        rc = toml_datetime_scan(ps, out);
    else if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'i' || c == 'n')
        rc = toml_number_scan(ps, out);
    else
        rc = toml_parser_fail(ps, start, "expected a value, found %s",
                              toml_describe(ps, start, buf));
    return rc;
}

/* Walk a header's parent segments from the root: missing tables are created
 * implicitly, arrays of tables lead into their last element. */
static int
toml_header_walk(struct toml_parser *ps, struct toml_table *t, const struct toml_key *k,
                 struct toml_table **out)
{
    char name[96];

    for (size_t i = 0; i + 1 < k->count; i++) {
        const struct toml_key_seg *seg = &k->segs[i];
        struct toml_kv *kv = toml_find(ps, t, seg->ptr, seg->len);
        if (kv == NULL) {
            if (toml_add_table(ps, t, seg, TOML_TAB_IMPLICIT, &t) < 0)
                return -1;
            continue;
        }
        toml_key_name(k, i + 1, name, sizeof(name));
        if (toml_is_table_array(&kv->val)) {
            struct toml_array *a = kv->val.u.arr;
            t = a->items[a->count - 1].u.tab;
        } else if (kv->val.type == TOML_TABLE && !(kv->val.u.tab->flags & TOML_TAB_INLINE)) {
            t = kv->val.u.tab;
        } else if (kv->val.type == TOML_TABLE) {
            return toml_parser_fail(ps, seg->at,
                                    "cannot add a table under inline table \"%s\" (line %d): "
                                    "inline tables are complete as written",
                                    name, kv->line);
        } else {
            return toml_parser_fail(ps, seg->at,
                                    "key \"%s\" already defined at line %d as %s; it cannot "
                                    "hold a table",
                                    name, kv->line, toml_type_name(kv->val.type));
        }
    }
    *out = t;
    return 0;
}

/* [[a.b]]: append a new table to the array of tables a.b (creating it). */
static int
toml_header_array(struct toml_parser *ps, struct toml_table *parent, const struct toml_key *k,
                  int line, struct toml_table **out)
{
    const struct toml_key_seg *seg = &k->segs[k->count - 1];
    struct toml_kv *kv = toml_find(ps, parent, seg->ptr, seg->len);
    struct toml_value v = {.type = TOML_TABLE, .line = line};
    char name[96];
    int key_line, col;

    toml_key_name(k, k->count, name, sizeof(name));
    if (kv != NULL && !toml_is_table_array(&kv->val))
        return toml_parser_fail(ps, seg->at,
                                "cannot append to \"%s\" with [[%s]]: it is already defined at "
                                "line %d as %s",
                                name, name, kv->line,
                                kv->val.type == TOML_ARRAY ? "a static array"
                                                           : toml_type_name(kv->val.type));
    toml_parser_pos(ps, seg->at, &key_line, &col);
    v.col = col;
    if (kv == NULL) {
        if (toml_append(ps, parent, seg->ptr, seg->len, key_line, col, &kv) < 0)
            return toml_parser_fail(ps, seg->at, "out of memory");
        kv->val.type = TOML_ARRAY;
        kv->val.line = key_line;
        kv->val.col = col;
        kv->val.u.arr = toml_tree_array_new();
        if (kv->val.u.arr == NULL)
            return toml_parser_fail(ps, seg->at, "out of memory");
    }
    v.u.tab = toml_tree_table_new(line, TOML_TAB_EXPLICIT);
    if (v.u.tab == NULL || toml_tree_push(kv->val.u.arr, &v) < 0) {
        free(v.u.tab);
        return toml_parser_fail(ps, seg->at, "out of memory");
    }
    *out = v.u.tab;
    return 0;
}

/* [a.b]: define table a.b, once; a table created implicitly by an earlier header
 * may be defined now, one made by dotted keys or inline may not. */
static int
toml_header_table(struct toml_parser *ps, struct toml_table *parent, const struct toml_key *k,
                  int line, struct toml_table **out)
{
    const struct toml_key_seg *seg = &k->segs[k->count - 1];
    struct toml_kv *kv = toml_find(ps, parent, seg->ptr, seg->len);
    struct toml_table *t;
    char name[96];

    if (kv == NULL) {
        if (toml_add_table(ps, parent, seg, TOML_TAB_EXPLICIT, &t) < 0)
            return -1;
        *out = t;
        return 0;
    }
    toml_key_name(k, k->count, name, sizeof(name));
    if (kv->val.type != TOML_TABLE)
        return toml_parser_fail(
            ps, seg->at, "key \"%s\" already defined at line %d as %s", name, kv->line,
            toml_is_table_array(&kv->val) ? "an array of tables" : toml_type_name(kv->val.type));
    t = kv->val.u.tab;
    if (t->flags != TOML_TAB_IMPLICIT)
        return toml_parser_fail(ps, seg->at, "table [%s] already defined at line %d%s", name,
                                t->line,
                                (t->flags & TOML_TAB_INLINE)   ? " as an inline table"
                                : (t->flags & TOML_TAB_DOTTED) ? " by dotted keys"
                                                               : "");
    t->flags = TOML_TAB_EXPLICIT;
    t->line = line;
    *out = t;
    return 0;
}

/* A [table] or [[array of tables]] header line; sets *current. */
static int
toml_header(struct toml_parser *ps, struct toml_table *root, struct toml_table **current)
{
    struct toml_key k = {0};
    struct toml_table *parent = NULL;
    const char *start = ps->p;
    bool is_array = ps->end - ps->p >= 2 && ps->p[1] == '[';
    char buf[32];
    int line, col, rc;

    toml_parser_pos(ps, start, &line, &col);
    ps->p += is_array ? 2 : 1;
    toml_skip_ws(ps);
    if (toml_key_parse(ps, &k) < 0)
        goto fail;
    if (ps->p >= ps->end || *ps->p != ']' ||
        (is_array && (ps->end - ps->p < 2 || ps->p[1] != ']'))) {
        toml_parser_fail(ps, ps->p, "expected '%s' to close the table header, found %s",
                         is_array ? "]]" : "]", toml_describe(ps, ps->p, buf));
        goto fail;
    }
    ps->p += is_array ? 2 : 1;
    if (toml_header_walk(ps, root, &k, &parent) < 0)
        goto fail;
    rc = is_array ? toml_header_array(ps, parent, &k, line, current)
                  : toml_header_table(ps, parent, &k, line, current);
    if (rc < 0)
        goto fail;
    toml_key_clear(&k);
    return 0;

fail:
    toml_key_clear(&k);
    return -1;
}

/* After a statement: optional whitespace and comment, then a newline or the end. */
static int
toml_line_end(struct toml_parser *ps, const char *after)
{
    char buf[32];

    toml_skip_ws(ps);
    if (toml_skip_comment(ps) < 0)
        return -1;
    if (ps->p >= ps->end || toml_skip_newline(ps))
        return 0;
    return toml_parser_fail(ps, ps->p, "expected a newline after %s, found %s", after,
                            toml_describe(ps, ps->p, buf));
}

/* The statement loop over the whole document. */
static int
toml_document(struct toml_parser *ps, struct toml_table *root)
{
    struct toml_table *current = root;

    while (ps->p < ps->end) {
        toml_skip_ws(ps);
        if (ps->p >= ps->end)
            break;
        if (*ps->p == '[') {
            if (toml_header(ps, root, &current) < 0 || toml_line_end(ps, "the table header") < 0)
                return -1;
        } else if (*ps->p == '#' || *ps->p == '\n' || *ps->p == '\r') {
            if (toml_line_end(ps, "a comment") < 0)
                return -1;
        } else {
            if (toml_keyval(ps, current) < 0 || toml_line_end(ps, "the value") < 0)
                return -1;
        }
    }
    return 0;
}

/* Validate the encoding, skip a BOM, and parse. */
int
toml_parse(const char *src, size_t len, struct toml_table **out, struct toml_error *err)
{
    struct toml_error local;
    struct toml_parser ps = {0};
    struct toml_table *root;
    size_t bad;

    if (err == NULL)
        err = &local;
    memset(err, 0, sizeof(*err));
    *out = NULL;
    if (len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0) {
        src += 3;
        len -= 3;
    }
    ps.src = ps.p = ps.mark = ps.mark_line_start = src;
    ps.end = src + len;
    ps.mark_line = 1;
    ps.err = err;
    if (toml_utf8_validate(src, len, &bad) < 0)
        return toml_parser_fail(&ps, src + bad, "invalid UTF-8 (byte 0x%02X)",
                                (unsigned char)src[bad]);
    root = toml_tree_table_new(1, TOML_TAB_EXPLICIT);
    if (root == NULL)
        return toml_parser_fail(&ps, src, "out of memory");
    if (toml_document(&ps, root) < 0)
        goto fail;
    if (ps.c_locale != (locale_t)0)
        freelocale(ps.c_locale);
    toml_index_free(&ps.index);
    *out = root;
    return 0;

fail:
    if (ps.c_locale != (locale_t)0)
        freelocale(ps.c_locale);
    toml_index_free(&ps.index);
    toml_free(root);
    return -1;
}
