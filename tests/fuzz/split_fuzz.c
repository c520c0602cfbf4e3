/* libFuzzer target: the final-reply splitter and fence handling (core/src/render/split.c,
 * fence.c). The first two bytes pick max_chars (1..4096), the rest is the reply. For
 * valid UTF-8, every chunk must be valid UTF-8 within max_chars, and dropping each
 * chunk's inserted fence lines (head, tail) must give the text back exactly. Invalid
 * UTF-8 must be refused with AB_EINVAL. Each line also goes through the fence scanner. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "render/fence.h"
#include "render/split.h"
#include "render/utf8.h"

/* Fence scanning and the reopen line on every line of @text. */
static void
split_fuzz_fences(const char *text, size_t len)
{
    struct fence state = {0}, f;
    char buf[1024];

    fence_scan(&state, text, len, 0, len);
    if (state.mark && fence_reopen_len(&state, true) <= sizeof(buf))
        fence_write_reopen(&state, text, true, buf);
    for (size_t start = 0; start < len;) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (fence_opens(text + start, end - start, &f)) {
            if (f.info + f.info_len > end - start || f.width < 3)
                abort();
            (void)fence_closes(&f, text + start, end - start);
        }
        (void)fence_like(text + start, end - start);
        start = end + 1;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct split_result r = {0};
    size_t max_chars, at = 0, len;
    char *text, *back;
    int rc;

    if (size < 2)
        return 0;
    max_chars = ((size_t)data[0] << 8 | data[1]) % 4096 + 1;
    data += 2, size -= 2;
    if (!(text = malloc(size + 1)))
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    len = strlen(text); /* an embedded NUL ends the text, as for any C string */
    split_fuzz_fences(text, len);
    rc = split_message(text, max_chars, &r);
    if (!utf8_valid(text, len)) {
        if (rc != AB_EINVAL)
            abort();
    } else if (rc == 0) {
        if (!(back = malloc(len + 1)))
            abort();
        for (size_t i = 0; i < r.count; i++) {
            const struct split_chunk *c = &r.chunks[i];
            if (c->len != strlen(c->text) || !utf8_valid(c->text, c->len) ||
                c->chars != utf8_count(c->text, c->len) || c->chars > max_chars ||
                c->head + c->tail > c->len || at + c->len - c->head - c->tail > len)
                abort();
            memcpy(back + at, c->text + c->head, c->len - c->head - c->tail);
            at += c->len - c->head - c->tail;
        }
        if (at != len || memcmp(back, text, len) != 0)
            abort();
        free(back);
    } else if (rc != AB_ENOMEM) {
        abort();
    }
    split_result_free(&r);
    free(text);
    return 0;
}
