/* libFuzzer target: the live view of a turn (core/src/render/render.c) fed what an
 * agent streams: tool calls with ids, titles and statuses, and message text (any bytes).
 * Byte 0 picks the tool display; then records: an opcode byte, a length byte, that many
 * bytes. After each record the live preview is taken at a limit picked by the opcode;
 * the preview must be valid UTF-8 within the limit and the full render valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"
#include "render/utf8.h"

/* A NUL-terminated copy of @len bytes at @p. */
static char *
render_fuzz_str(const uint8_t *p, size_t len)
{
    char *s = malloc(len + 1);

    if (s) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

/* Check the views of @r. */
static void
render_fuzz_check(struct render_state *r, size_t max_chars)
{
    const char *all = render_text(r);
    char *live = NULL;

    if (all && (!utf8_valid(all, strlen(all)) || utf8_count(all, strlen(all)) != render_chars(r)))
        abort();
    if (render_live(r, max_chars, &live) == 0 &&
        (!utf8_valid(live, strlen(live)) || utf8_count(live, strlen(live)) > max_chars))
        abort();
    free(live);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t limits[] = {1, 2, 5, 12, 40, 100, 2000, 4000};
    struct render_state *r;
    size_t at = 1;

    if (size < 1 || !(r = render_new((enum render_tool_display)(data[0] % 3))))
        return 0;
    while (at + 2 <= size) {
        uint8_t op = data[at], len = data[at + 1];
        const uint8_t *arg = data + at + 2;
        size_t n = len < size - at - 2 ? len : size - at - 2;
        at += 2 + n;
        if (op & 1) { /* a tool: id = first half, title = second half */
            char *id = render_fuzz_str(arg, n / 2),
                 *title = render_fuzz_str(arg + n / 2, n - n / 2);
            if (id && title)
                render_tool_upsert(r, id, (op & 2) ? title : NULL,
                                   (enum render_tool_status)((op >> 2) % 5) - 1);
            free(id);
            free(title);
        } else {
            render_append_text(r, (const char *)arg, n);
        }
        render_fuzz_check(r, limits[(op >> 5) % 8]);
    }
    render_free(r);
    return 0;
}
