/* A growable, always NUL-terminated byte buffer for building rendered text. */
#ifndef AB_RENDER_TEXTBUF_H
#define AB_RENDER_TEXTBUF_H

#include <stddef.h>

struct textbuf {
    char *data; /* owned; NUL-terminated once anything was appended, else NULL */
    size_t len; /* bytes, excluding the NUL */
    size_t cap; /* bytes allocated */
};

/* Make room for @extra more bytes (plus the NUL). 0 or AB_ENOMEM. */
int textbuf_reserve(struct textbuf *b, size_t extra);

/* Append @s[0..n) (lent) as is. 0 or AB_ENOMEM. */
int textbuf_append(struct textbuf *b, const char *s, size_t n);

/* Append a NUL-terminated string (lent). 0 or AB_ENOMEM. */
int textbuf_append_str(struct textbuf *b, const char *s);

/* Append @s[0..n) (lent) replacing every byte that is not valid UTF-8, and NUL, with
 * U+FFFD, so the buffer stays valid text whatever the input. 0 or AB_ENOMEM. */
int textbuf_append_utf8(struct textbuf *b, const char *s, size_t n);

/* Hand the contents to the caller (owned; "" when empty, NULL on AB_ENOMEM) and reset
 * the buffer. */
char *textbuf_take(struct textbuf *b);

/* Release the contents. */
void textbuf_free(struct textbuf *b);

#endif
