/* Splitting a final render into platform-sized messages with balanced code fences. */
#include "render/split.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "render/fence.h"
#include "render/utf8.h"

struct splitter {
    const char *s;      /* lent: the whole text */
    size_t len;         /* bytes of s */
    size_t max;         /* code points per chunk */
    size_t pos;         /* start of the next chunk's content */
    size_t line_start;  /* start of the line holding pos */
    struct fence state; /* fence open at pos, offsets into s */
    size_t cap;         /* chunks allocated in out */
    struct split_result *out;
};

/* Code points of the reopening line of @f. */
static size_t
split_reopen_chars(const struct splitter *sp, const struct fence *f, bool with_info)
{
    return f->width + 1 + (with_info ? utf8_count(sp->s + f->info, f->info_len) : 0);
}

/* Whether the line ending with the '\n' just before @p opens a fence, seen from pos. */
static bool
split_ends_with_opener(const struct splitter *sp, size_t p)
{
    struct fence st = sp->state;
    size_t ls = p - 1;

    while (ls > sp->pos && sp->s[ls - 1] != '\n')
        ls--;
    if (!fence_like(sp->s + ls, p - 1 - ls))
        return false;
    fence_scan(&st, sp->s, sp->len, sp->pos, p);
    return st.mark && st.line == ls;
}

/* The best cut after pos within @budget code points: the last line boundary, else the
 * last space on the last line (unless it is a fence line), else the last grapheme
 * boundary, else a code point boundary. A line boundary right after a fence opener
 * would leave an empty code block, so an earlier one, or a cut on the next line, wins. */
static size_t
split_find_cut(const struct splitter *sp, size_t budget)
{
    const char *s = sp->s;
    size_t hard = utf8_skip(s, sp->len, sp->pos, budget, NULL), p, line = 0, floor, ls;

    if (hard >= sp->len)
        return sp->len;
    for (p = hard; p > sp->pos; p--) {
        if (s[p - 1] != '\n' || !utf8_is_cut(s, sp->len, p))
            continue;
        if (line == 0)
            line = p;
        if (!split_ends_with_opener(sp, p))
            return p;
    }
    /* Every remaining candidate lies on the line holding hard. */
    floor = line ? line : sp->pos;
    ls = line ? line : sp->line_start;
    if (!fence_like(s + ls, sp->len - ls)) {
        for (p = hard; p > floor; p--) {
            if ((s[p - 1] == ' ' || s[p - 1] == '\t') && utf8_is_cut(s, sp->len, p))
                return p;
        }
    }
    p = utf8_cut_before(s, sp->len, hard, floor);
    if (p > floor)
        return p;
    return line ? line : hard;
}

/* Append one chunk: @head_f's reopening line (if any), s[pos..cut), the closing run of
 * @tail_f (if any). */
static int
split_emit(struct splitter *sp, const struct fence *head_f, bool with_info, size_t cut,
           const struct fence *tail_f, size_t chars)
{
    size_t head = head_f ? fence_reopen_len(head_f, with_info) : 0;
    size_t nl = tail_f && sp->s[cut - 1] != '\n' ? 1 : 0;
    size_t tail = tail_f ? nl + tail_f->width : 0;
    size_t body = cut - sp->pos;
    struct split_chunk *c;
    char *t;

    if (sp->out->count == sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 8;
        c = realloc(sp->out->chunks, cap * sizeof(*c));
        if (c == NULL)
            return AB_ENOMEM;
        sp->out->chunks = c;
        sp->cap = cap;
    }
    if ((t = malloc(head + body + tail + 1)) == NULL)
        return AB_ENOMEM;
    if (head_f)
        fence_write_reopen(head_f, sp->s, with_info, t);
    memcpy(t + head, sp->s + sp->pos, body);
    if (nl)
        t[head + body] = '\n';
    if (tail_f)
        memset(t + head + body + nl, tail_f->mark, tail_f->width);
    t[head + body + tail] = '\0';
    sp->out->chunks[sp->out->count++] = (struct split_chunk){
        .text = t, .len = head + body + tail, .chars = chars, .head = head, .tail = tail};
    return 0;
}

/* Choose and emit the chunk starting at pos, shrinking its budget until the fence lines
 * it needs fit; advance pos, line_start and the fence state past it. */
static int
split_next(struct splitter *sp)
{
    const struct fence *head_f = sp->state.mark ? &sp->state : NULL;
    bool with_info = true, repair = true;
    size_t head_chars = 0, budget, cut, body_chars, tail_chars, first, shrunk;
    struct fence end;
    const char *nl;
    int rc;

    /* The chunk must hold its fence lines plus at least one grapheme; drop the info
     * string, then the repair itself, when the limit is too small for that. */
    first = utf8_cut_after(sp->s, sp->len, sp->pos + utf8_unit_len(sp->s, sp->len, sp->pos));
    first = utf8_count(sp->s + sp->pos, first - sp->pos);
    if (head_f) {
        head_chars = split_reopen_chars(sp, head_f, true);
        if (head_chars + first + head_f->width + 1 > sp->max) {
            with_info = false;
            head_chars = split_reopen_chars(sp, head_f, false);
        }
        if (head_chars + first + head_f->width + 1 > sp->max) {
            head_f = NULL;
            head_chars = 0;
            repair = false;
        }
    }
    budget = sp->max - head_chars;
    for (;;) {
        cut = split_find_cut(sp, budget);
        end = sp->state;
        fence_scan(&end, sp->s, sp->len, sp->pos, cut);
        tail_chars = repair && end.mark ? end.width + (sp->s[cut - 1] != '\n') : 0;
        body_chars = utf8_count(sp->s + sp->pos, cut - sp->pos);
        if (head_chars + body_chars + tail_chars <= sp->max)
            break;
        shrunk = head_chars + tail_chars < sp->max ? sp->max - head_chars - tail_chars : 0;
        if (shrunk >= budget)
            shrunk = budget - 1;
        if (shrunk == 0) {
            /* Not even one code point fits beside the fence lines: cut plainly. */
            head_f = NULL;
            head_chars = 0;
            repair = false;
            shrunk = sp->max;
        }
        budget = shrunk;
    }
    rc = split_emit(sp, head_f, with_info, cut, tail_chars ? &end : NULL,
                    head_chars + body_chars + tail_chars);
    if (rc < 0)
        return rc;
    nl = memrchr(sp->s + sp->pos, '\n', cut - sp->pos);
    if (nl)
        sp->line_start = (size_t)(nl - sp->s) + 1;
    sp->state = end;
    sp->pos = cut;
    return 0;
}

/* Split the whole text, chunk after chunk. */
int
split_message(const char *text, size_t max_chars, struct split_result *out)
{
    struct splitter sp;
    int rc;

    if (out == NULL)
        return AB_EINVAL;
    *out = (struct split_result){0};
    if (text == NULL || max_chars == 0)
        return AB_EINVAL;
    sp = (struct splitter){.s = text, .len = strlen(text), .max = max_chars, .out = out};
    if (!utf8_valid(sp.s, sp.len))
        return AB_EINVAL;
    while (sp.pos < sp.len) {
        if ((rc = split_next(&sp)) < 0) {
            split_result_free(out);
            return rc;
        }
    }
    return 0;
}

/* Release every chunk. */
void
split_result_free(struct split_result *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->count; i++)
        free(r->chunks[i].text);
    free(r->chunks);
    *r = (struct split_result){0};
}
