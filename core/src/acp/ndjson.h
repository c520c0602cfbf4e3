/* Newline-delimited line framer for the agent's stdout: a growable carry-over buffer
 * with a hard cap on one line. */
#ifndef AB_ACP_NDJSON_H
#define AB_ACP_NDJSON_H

#include <stddef.h>

/* The largest line an agent may send; a longer one is a protocol error. */
#define NDJSON_MAX_LINE ((size_t)64 << 20)

struct ndjson {
    char *buf;  /* owned: the unfinished line carried between reads */
    size_t len; /* bytes of that line held */
    size_t cap; /* allocated bytes of buf */
    size_t max; /* cap on one line, in bytes, '\n' excluded */
};

/* Called once per complete line, '\n' (and a trailing '\r') stripped, never for empty
 * lines. @line is lent for the call and not NUL-terminated. A negative return stops
 * the feed and is returned by ndjson_feed. */
typedef int (*ndjson_line_fn)(void *arg, const char *line, size_t len);

/* Prepare an empty framer whose lines may be at most @max_line bytes. */
void ndjson_init(struct ndjson *fr, size_t max_line);

/* Split @data (lent) into lines and hand each complete one to @fn; keep the rest.
 * Returns 0, AB_EPROTO when a line exceeds the cap (the framer is then reset and the
 * stream should be dropped), AB_ENOMEM, or @fn's negative code. */
int ndjson_feed(struct ndjson *fr, const char *data, size_t n, ndjson_line_fn fn, void *arg);

/* Bytes of an unfinished line held (a stream ending with these is truncated). */
size_t ndjson_pending(const struct ndjson *fr);

/* Release the buffer; the framer may be initialised again. */
void ndjson_free(struct ndjson *fr);

#endif
