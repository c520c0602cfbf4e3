/* Lexing TOML's four string forms: basic, literal, and their multi-line variants. */
#include <stdlib.h>
#include <string.h>

#include "toml_parser.h"
#include "toml_utf8.h"

/* The decoded bytes of one string as they are produced. */
struct toml_string_buf {
    char *ptr; /* owned */
    size_t len;
    size_t cap;
};

/* Append @n bytes, keeping a NUL after them. */
static int
toml_string_put(struct toml_parser *ps, struct toml_string_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ptr = realloc(b->ptr, cap);
        if (ptr == NULL)
            return toml_parser_fail(ps, ps->p, "out of memory");
        b->ptr = ptr;
        b->cap = cap;
    }
    memcpy(b->ptr + b->len, s, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return 0;
}

/* True for the control characters no string or comment may hold raw (tab aside). */
static bool
toml_string_is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Reject a raw control character at ps->p with a message naming it. */
static int
toml_string_control_error(struct toml_parser *ps, const char *what, bool multiline)
{
    unsigned char c = (unsigned char)*ps->p;

    if (c == '\r' && multiline)
        return toml_parser_fail(ps, ps->p, "carriage return not followed by a newline in %s", what);
    if (c == '\n' || c == '\r')
        return toml_parser_fail(ps, ps->p, "newline in a single-line %s; use \"\"\" or '''", what);
    return toml_parser_fail(ps, ps->p, "control character U+%04X in %s; write it as an escape", c,
                            what);
}

/* Decode @digits hex digits after \u or \U at ps->p into UTF-8. */
static int
toml_string_unicode(struct toml_parser *ps, struct toml_string_buf *b, int digits)
{
    const char *start = ps->p - 2;
    uint32_t cp = 0;
    char utf8[4];
    size_t n;

    for (int i = 0; i < digits; i++) {
        char c = ps->p < ps->end ? *ps->p : '\0';
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return toml_parser_fail(ps, start, "escape \\%c needs %d hex digits", start[1], digits);
        cp = cp * 16 + (uint32_t)v;
        ps->p++;
    }
    n = toml_utf8_encode(cp, utf8);
    if (n == 0)
        return toml_parser_fail(ps, start,
                                "escape \\%c%.*s is not a Unicode scalar value (surrogate or "
                                "above U+10FFFF)",
                                start[1], digits, start + 2);
    return toml_string_put(ps, b, utf8, n);
}

/* After a backslash at the end of a line in a multi-line basic string: skip the
 * newline and all whitespace up to the next non-blank character. Returns 1 when
 * this was such a line ending, 0 when it was not (ps->p unchanged). */
static int
toml_string_line_end(struct toml_parser *ps)
{
    const char *q = ps->p;

    while (q < ps->end && (*q == ' ' || *q == '\t'))
        q++;
    if (q < ps->end && *q == '\r' && q + 1 < ps->end && q[1] == '\n')
        q++;
    if (q >= ps->end || *q != '\n')
        return 0;
    for (;;) {
        if (q < ps->end && (*q == ' ' || *q == '\t' || *q == '\n'))
            q++;
        else if (q + 1 < ps->end && q[0] == '\r' && q[1] == '\n')
            q += 2;
        else
            break;
    }
    ps->p = q;
    return 1;
}

/* Decode one escape sequence; ps->p is on the backslash. */
static int
toml_string_escape(struct toml_parser *ps, struct toml_string_buf *b, bool multiline)
{
    const char *start = ps->p;
    char c, out;

    ps->p++;
    if (ps->p >= ps->end)
        return toml_parser_fail(ps, start, "unterminated escape at end of input");
    c = *ps->p++;
    switch (c) {
    case 'b': out = '\b'; break;
    case 't': out = '\t'; break;
    case 'n': out = '\n'; break;
    case 'f': out = '\f'; break;
    case 'r': out = '\r'; break;
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case 'u': return toml_string_unicode(ps, b, 4);
    case 'U': return toml_string_unicode(ps, b, 8);
    default:
        ps->p--;
        if (multiline && toml_string_line_end(ps))
            return 0;
        if ((unsigned char)c >= 0x21 && (unsigned char)c < 0x7f)
            return toml_parser_fail(ps, start, "invalid escape '\\%c' in string", c);
        return toml_parser_fail(ps, start, "invalid escape: '\\' followed by byte 0x%02X in string",
                                (unsigned char)c);
    }
    return toml_string_put(ps, b, &out, 1);
}

/* Count the run of @q quote characters at ps->p. */
static size_t
toml_string_quote_run(const struct toml_parser *ps, char q)
{
    size_t n = 0;

    while (ps->p + n < ps->end && ps->p[n] == q)
        n++;
    return n;
}

/* Scan the body of a string opened by @delim_len copies of @q (already consumed).
 * Multi-line bodies normalise CRLF to LF. */
static int
toml_string_body(struct toml_parser *ps, const char *start, char q, bool multiline,
                 struct toml_string_buf *b)
{
    const char *what = multiline ? "multi-line string" : "string";
    bool escapes = q == '"';

    if (multiline) {
        /* A newline right after the opening delimiter is trimmed. */
        if (ps->p < ps->end && *ps->p == '\n')
            ps->p++;
        else if (ps->end - ps->p >= 2 && ps->p[0] == '\r' && ps->p[1] == '\n')
            ps->p += 2;
    }
    for (;;) {
        if (ps->p >= ps->end)
            return toml_parser_fail(ps, start, "unterminated %s: expected closing %s", what,
                                    q == '"' ? (multiline ? "\"\"\"" : "'\"'")
                                             : (multiline ? "'''" : "\"'\""));
        unsigned char c = (unsigned char)*ps->p;
        if (c == (unsigned char)q) {
            size_t n = multiline ? toml_string_quote_run(ps, q) : 1;
            if (!multiline) {
                ps->p++;
                return 0;
            }
            if (n >= 3) {
                /* Up to two quotes may sit right before the closing delimiter. */
                size_t keep = (n > 5 ? 5 : n) - 3;
                if (keep && toml_string_put(ps, b, ps->p, keep) < 0)
                    return -1;
                ps->p += keep + 3;
                return 0;
            }
            if (toml_string_put(ps, b, ps->p, n) < 0)
                return -1;
            ps->p += n;
            continue;
        }
        if (c == '\\' && escapes) {
            if (toml_string_escape(ps, b, multiline) < 0)
                return -1;
            continue;
        }
        if (multiline && c == '\n') {
            if (toml_string_put(ps, b, "\n", 1) < 0)
                return -1;
            ps->p++;
            continue;
        }
        if (multiline && c == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n') {
            if (toml_string_put(ps, b, "\n", 1) < 0)
                return -1;
            ps->p += 2;
            continue;
        }
        if (toml_string_is_control(c))
            return toml_string_control_error(ps, what, multiline);
        /* Copy a run of ordinary bytes at once. */
        const char *run = ps->p++;
        while (ps->p < ps->end && *ps->p != q && (*ps->p != '\\' || !escapes) &&
               !toml_string_is_control((unsigned char)*ps->p))
            ps->p++;
        if (toml_string_put(ps, b, run, (size_t)(ps->p - run)) < 0)
            return -1;
    }
}

/* Scan a string of any form at ps->p. */
int
toml_string_scan(struct toml_parser *ps, bool allow_multiline, struct toml_value *out)
{
    struct toml_string_buf b = {0};
    const char *start = ps->p;
    char q = *ps->p;
    bool multiline = false;

    if (allow_multiline && ps->end - ps->p >= 3 && ps->p[1] == q && ps->p[2] == q) {
        multiline = true;
        ps->p += 3;
    } else {
        ps->p++;
    }
    if (toml_string_put(ps, &b, "", 0) < 0 || toml_string_body(ps, start, q, multiline, &b) < 0)
        goto fail;
    out->type = TOML_STRING;
    out->u.str.ptr = b.ptr;
    out->u.str.len = b.len;
    return 0;

fail:
    free(b.ptr);
    return -1;
}
