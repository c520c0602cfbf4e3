/* Newline-delimited line framer. Complete lines found inside one read are handed out
 * straight from the caller's buffer; only a line split across reads is copied. */
#include "acp/ndjson.h"

#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

/* Prepare an empty framer. */
void
ndjson_init(struct ndjson *fr, size_t max_line)
{
    memset(fr, 0, sizeof(*fr));
    fr->max = max_line ? max_line : NDJSON_MAX_LINE;
}

/* Make room for @need bytes in the carry-over buffer, doubling up to the cap. */
static int
ndjson_reserve(struct ndjson *fr, size_t need)
{
    size_t cap;
    char *nb;

    if (need <= fr->cap)
        return 0;
    cap = fr->cap ? fr->cap : 4096;
    while (cap < need)
        cap *= 2;
    if (cap > fr->max + 1)
        cap = fr->max + 1;
    nb = realloc(fr->buf, cap);
    if (!nb)
        return AB_ENOMEM;
    fr->buf = nb;
    fr->cap = cap;
    return 0;
}

/* Append @n bytes of an unfinished line, enforcing the line cap. */
static int
ndjson_append(struct ndjson *fr, const char *data, size_t n)
{
    int rc;

    if (fr->len + n > fr->max) {
        fr->len = 0;
        return AB_EPROTO;
    }
    if ((rc = ndjson_reserve(fr, fr->len + n)) < 0)
        return rc;
    memcpy(fr->buf + fr->len, data, n);
    fr->len += n;
    return 0;
}

/* Strip a trailing '\r' and hand a non-empty line to @fn. */
static int
ndjson_emit(const char *line, size_t len, ndjson_line_fn fn, void *arg)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return 0;
    return fn(arg, line, len);
}

/* Split @data into lines; see the header. */
int
ndjson_feed(struct ndjson *fr, const char *data, size_t n, ndjson_line_fn fn, void *arg)
{
    const char *nl;
    size_t seg, len;
    int rc;

    while (n > 0) {
        nl = memchr(data, '\n', n);
        if (!nl)
            return ndjson_append(fr, data, n);
        seg = (size_t)(nl - data);
        if (fr->len > 0) {
            if ((rc = ndjson_append(fr, data, seg)) < 0)
                return rc;
            /* Reset before the call: the buffer is ours again once @fn returns. */
            len = fr->len;
            fr->len = 0;
            rc = ndjson_emit(fr->buf, len, fn, arg);
        } else if (seg > fr->max) {
            rc = AB_EPROTO;
        } else {
            rc = ndjson_emit(data, seg, fn, arg);
        }
        if (rc < 0)
            return rc;
        data += seg + 1;
        n -= seg + 1;
    }
    return 0;
}

/* Bytes of an unfinished line held. */
size_t
ndjson_pending(const struct ndjson *fr)
{
    return fr->len;
}

/* Release the buffer. */
void
ndjson_free(struct ndjson *fr)
{
    free(fr->buf);
    fr->buf = NULL;
    fr->len = fr->cap = 0;
}
