/* The final split of a reply into messages a platform accepts (the plugin's max_chars,
 * e.g. 2000 or 4000 characters): each chunk holds at most max_chars Unicode code points, is cut at
 * a line boundary when one fits, else after a space, else at a grapheme boundary (never inside a
 * UTF-8 sequence, a ZWJ emoji sequence, or before a variation selector or combining mark). A code
 * fence the cut leaves open is closed at the end of the chunk ("```") and reopened with the same
 * info string ("```python") at the start of the next; those lines count toward the limit. A fence
 * left open at the end of the text is closed too.
 *
 * Removing each chunk's first `head` and last `tail` bytes (the inserted fence lines)
 * and concatenating gives the input back exactly. */
#ifndef AB_RENDER_SPLIT_H
#define AB_RENDER_SPLIT_H

#include <stddef.h>

struct split_chunk {
    char *text;   /* owned; NUL-terminated */
    size_t len;   /* bytes of text */
    size_t chars; /* code points of text, <= max_chars */
    size_t head;  /* bytes at the start reopening a fence the previous chunk cut, or 0 */
    size_t tail;  /* bytes at the end closing a fence this chunk leaves open, or 0 */
};

struct split_result {
    struct split_chunk *chunks; /* owned array of count chunks; NULL when count == 0 */
    size_t count;
};

/* Split @text (lent, NUL-terminated, valid UTF-8) into @out (filled; release with
 * split_result_free, also after an error). Empty text gives zero chunks. Returns 0,
 * AB_EINVAL (NULL argument, max_chars == 0, invalid UTF-8) or AB_ENOMEM. Fences are
 * only repaired where the limit leaves room for the fence lines plus one grapheme;
 * below that (max_chars under about 10) chunks are cut plainly. */
int split_message(const char *text, size_t max_chars, struct split_result *out);

/* Free every chunk and reset @r to empty. */
void split_result_free(struct split_result *r);

#endif
