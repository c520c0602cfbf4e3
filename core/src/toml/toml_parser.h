/* Internal to core/src/toml: the parser's cursor and the entry points of the lexers
 * for strings, numbers and date-times, which all share it. Not for other modules. */
#ifndef AB_TOML_PARSER_H
#define AB_TOML_PARSER_H

#include <locale.h>

#include "toml.h"
#include "toml_index.h"

/* Nesting of arrays and inline tables is bounded so hostile input cannot overflow
 * the stack. */
#define TOML_MAX_DEPTH 128

struct toml_parser {
    const char *src; /* lent: the whole document */
    const char *end; /* one past the last byte */
    const char *p;   /* the next byte to read */
    int depth;       /* current nesting of arrays and inline tables */
    /* toml_parser_pos() walks forward from here: values are recorded in order,
     * so finding their line stays linear in the document size. */
    const char *mark;
    const char *mark_line_start;
    int mark_line;
    struct toml_index index; /* owned: every (table, key) made so far */
    locale_t c_locale;       /* owned; "C" numeric locale for strtod_l, made on demand */
    struct toml_error *err;  /* lent for the parse */
};

/* Record an error at @at (a pointer into the document) unless one is already
 * recorded; always returns -1 so callers can `return toml_parser_fail(...)`. */
int toml_parser_fail(struct toml_parser *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The 1-based line and byte column of @at. */
void toml_parser_pos(struct toml_parser *ps, const char *at, int *line, int *col);

/* Scan any of the four string forms at ps->p into @out (a TOML_STRING value whose
 * ptr is owned by the caller on success). @allow_multiline is false for keys. */
int toml_string_scan(struct toml_parser *ps, bool allow_multiline, struct toml_value *out);

/* Scan an integer or float (including inf and nan) at ps->p into @out. */
int toml_number_scan(struct toml_parser *ps, struct toml_value *out);

/* True when the text at ps->p starts a date or a time rather than a number. */
bool toml_datetime_ahead(const struct toml_parser *ps);

/* Scan one of the four date/time forms at ps->p into @out (datetime owned by the
 * caller on success). */
int toml_datetime_scan(struct toml_parser *ps, struct toml_value *out);

#endif
