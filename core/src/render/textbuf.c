/* Growable text buffer used by the renderer's builders. */
#include "render/textbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "render/utf8.h"

/* Grow geometrically so appends are amortised O(1). */
int
textbuf_reserve(struct textbuf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > SIZE_MAX / 2 - b->len)
        return AB_ENOMEM;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if ((p = realloc(b->data, cap)) == NULL)
        return AB_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

/* Copy bytes in and keep the terminator. */
int
textbuf_append(struct textbuf *b, const char *s, size_t n)
{
    int rc;

    if ((rc = textbuf_reserve(b, n)) < 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Convenience for literals. */
int
textbuf_append_str(struct textbuf *b, const char *s)
{
    return textbuf_append(b, s, strlen(s));
}

/* Copy valid runs in one go; substitute U+FFFD for each bad byte. */
int
textbuf_append_utf8(struct textbuf *b, const char *s, size_t n)
{
    size_t off = 0, run = 0, unit;
    uint32_t cp;
    int rc;

    while (off < n) {
        unsigned char c = (unsigned char)s[off];
        if (c != 0 && c < 0x80) {
            off++;
            continue;
        }
        unit = c ? utf8_decode(s + off, n - off, &cp) : 0;
        if (unit) {
            off += unit;
            continue;
        }
        if ((rc = textbuf_append(b, s + run, off - run)) < 0 ||
            (rc = textbuf_append_str(b, UTF8_REPLACEMENT)) < 0)
            return rc;
        run = ++off;
    }
    return textbuf_append(b, s + run, off - run);
}

/* Transfer ownership of the bytes. */
char *
textbuf_take(struct textbuf *b)
{
    char *p = b->data;

    if (p == NULL)
        p = strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

/* Free and zero. */
void
textbuf_free(struct textbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
