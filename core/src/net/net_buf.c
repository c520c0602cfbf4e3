/* Capped growable buffer. */
#include "net/net_buf.h"

#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

/* Grow by doubling (from 4 KiB) so long messages cost few reallocations. */
int
net_buf_append(struct net_buf *b, const void *p, size_t n, size_t max)
{
    if (b->len > max || n > max - b->len)
        return AB_EFULL;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *grown;

        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(grown = realloc(b->data, cap)))
            return AB_ENOMEM;
        b->data = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Free and reset. */
void
net_buf_free(struct net_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
