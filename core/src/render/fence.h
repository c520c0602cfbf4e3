/* Markdown code fences (CommonMark rules, simplified): which lines open and close
 * them, so a split or a tail view can close and reopen a fence it cuts. */
#ifndef AB_RENDER_FENCE_H
#define AB_RENDER_FENCE_H

#include <stdbool.h>
#include <stddef.h>

/* An open fence. mark == 0 means "no fence open". */
struct fence {
    char mark;       /* '`' or '~' */
    size_t width;    /* length of the opening run, >= 3 */
    size_t line;     /* offset of the opening line in the scanned text */
    size_t info;     /* offset of the info string (e.g. "python") in the scanned text */
    size_t info_len; /* bytes of the info string, trimmed */
};

/* Whether the line @line[0..len) (lent, without its '\n') opens a fence: up to three
 * spaces, then three or more backticks or tildes; a backtick fence's info string may
 * not contain a backtick. On success fills @f with offsets relative to @line. */
bool fence_opens(const char *line, size_t len, struct fence *f);

/* Whether the line @line[0..len) (lent, without its '\n') closes @f: up to three
 * spaces, a run of at least f->width of f->mark, then only spaces or tabs. */
bool fence_closes(const struct fence *f, const char *line, size_t len);

/* Whether the line could be a fence line at all (starts with ``` or ~~~ after up to
 * three spaces): splitting inside such a line would change how fences pair up. */
bool fence_like(const char *line, size_t len);

/* Update @state over the lines of @text[0..len) (lent) that start in [from, to). A line
 * starts at 0 or after a '\n' and is judged whole, even past @to. */
void fence_scan(struct fence *state, const char *text, size_t len, size_t from, size_t to);

/* Bytes needed for the line that reopens @f, "```python\n" (info included when
 * @with_info), or closes it, "```". */
size_t fence_reopen_len(const struct fence *f, bool with_info);

/* Write the reopening line of @f, taking the info string from @text (lent), into @out
 * (fence_reopen_len bytes, no NUL). */
void fence_write_reopen(const struct fence *f, const char *text, bool with_info, char *out);

#endif
