/* Shared by the mention fuzz targets: split an input into the bot's id (first line)
 * and the message text (the rest), and check what a strip function returned. */
#ifndef AB_FUZZ_MENTION_H
#define AB_FUZZ_MENTION_H

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/utf8.h"

/* Stop the run on a broken invariant, so libFuzzer records the input. */
static inline void
mention_fuzz_check(bool ok, const char *why, const char *text, const char *out)
{
    if (ok)
        return;
    fprintf(stderr, "mention fuzz: %s\n--- text\n%s\n--- out\n%s\n", why, text,
            out ? out : "(null)");
    abort();
}

/* Copy @data into a NUL-terminated id (up to the first newline) and text (after it). */
static inline bool
mention_fuzz_split(const uint8_t *data, size_t size, char **id, char **text)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t id_len = nl ? (size_t)(nl - data) : 0, off = nl ? id_len + 1 : 0;

    *id = strndup((const char *)data, id_len);
    *text = malloc(size - off + 1);
    if (!*id || !*text) {
        free(*id);
        free(*text);
        return false;
    }
    memcpy(*text, data + off, size - off);
    (*text)[size - off] = '\0';
    return true;
}

/* Whether @out is @text with white space trimmed at both ends. */
static inline bool
mention_fuzz_is_trimmed(const char *text, const char *out)
{
    size_t len = strlen(text);

    while (*text && isspace((unsigned char)*text))
        text++, len--;
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    return strlen(out) == len && memcmp(out, text, len) == 0;
}

/* The invariants every strip result keeps: no error, never longer, unchanged but for
 * trimming when nothing was removed, and valid UTF-8 kept valid. */
static inline void
mention_fuzz_common(const char *text, const char *out, int removed)
{
    mention_fuzz_check(removed >= 0 && out, "strip failed", text, out);
    mention_fuzz_check(strlen(out) <= strlen(text), "output longer than input", text, out);
    mention_fuzz_check(removed > 0 || mention_fuzz_is_trimmed(text, out),
                       "text changed though nothing was removed", text, out);
    mention_fuzz_check(!utf8_valid(text, strlen(text)) || utf8_valid(out, strlen(out)),
                       "valid UTF-8 in, invalid out", text, out);
}

#endif
