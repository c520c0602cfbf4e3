/* Code fence recognition for the splitter and the live view. */
#include "render/fence.h"

#include <string.h>

/* Skip the up-to-three spaces of indentation a fence line may have. */
static size_t
fence_indent(const char *line, size_t len)
{
    size_t i = 0;

    while (i < 3 && i < len && line[i] == ' ')
        i++;
    return i;
}

/* Length of the run of @mark starting at @line[i]. */
static size_t
fence_run(const char *line, size_t len, size_t i, char mark)
{
    size_t n = 0;

    while (i + n < len && line[i + n] == mark)
        n++;
    return n;
}

/* Cheap pre-check shared by the splitter's cut rules. */
bool
fence_like(const char *line, size_t len)
{
    size_t i = fence_indent(line, len);

    return i < len && (line[i] == '`' || line[i] == '~') && fence_run(line, len, i, line[i]) >= 3;
}

/* Recognise an opening fence line and its info string. */
bool
fence_opens(const char *line, size_t len, struct fence *f)
{
    size_t i = fence_indent(line, len), n, a, b;
    char mark;

    if (i >= len || (line[i] != '`' && line[i] != '~'))
        return false;
    mark = line[i];
    if ((n = fence_run(line, len, i, mark)) < 3)
        return false;
    a = i + n;
    b = len;
    if (mark == '`' && memchr(line + a, '`', b - a) != NULL)
        return false;
    while (a < b && (line[a] == ' ' || line[a] == '\t'))
        a++;
    while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t' || line[b - 1] == '\r'))
        b--;
    *f = (struct fence){.mark = mark, .width = n, .line = 0, .info = a, .info_len = b - a};
    return true;
}

/* Recognise the line that closes @f. */
bool
fence_closes(const struct fence *f, const char *line, size_t len)
{
    size_t i = fence_indent(line, len), n;

    if (i >= len || line[i] != f->mark)
        return false;
    if ((n = fence_run(line, len, i, f->mark)) < f->width)
        return false;
    for (i += n; i < len; i++) {
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return false;
    }
    return true;
}

/* Walk the lines that start in [from, to), opening and closing as we go. */
void
fence_scan(struct fence *state, const char *text, size_t len, size_t from, size_t to)
{
    size_t ls = from, le;
    const char *nl;

    if (ls > 0 && text[ls - 1] != '\n') {
        nl = memchr(text + ls, '\n', len - ls);
        ls = nl ? (size_t)(nl - text) + 1 : len;
    }
    while (ls < to && ls < len) {
        nl = memchr(text + ls, '\n', len - ls);
        le = nl ? (size_t)(nl - text) : len;
        if (state->mark) {
            if (fence_closes(state, text + ls, le - ls))
                state->mark = 0;
        } else if (fence_opens(text + ls, le - ls, state)) {
            state->line = ls;
            state->info += ls;
        }
        ls = le + 1;
    }
}

/* The reopening line is the run, the info string, a newline. */
size_t
fence_reopen_len(const struct fence *f, bool with_info)
{
    return f->width + (with_info ? f->info_len : 0) + 1;
}

/* Emit the reopening line. */
void
fence_write_reopen(const struct fence *f, const char *text, bool with_info, char *out)
{
    memset(out, f->mark, f->width);
    if (with_info && f->info_len)
        memcpy(out + f->width, text + f->info, f->info_len);
    out[f->width + (with_info ? f->info_len : 0)] = '\n';
}
