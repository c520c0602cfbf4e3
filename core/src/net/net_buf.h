/* A growable byte buffer with a size cap: HTTP response bodies and reassembled
 * WebSocket messages. */
#ifndef AB_NET_BUF_H
#define AB_NET_BUF_H

#include <stddef.h>

/* Plain data owned by its embedder; zero-initialise before first use. */
struct net_buf {
    char *data; /* owned; NUL-terminated once anything was appended */
    size_t len;
    size_t cap;
};

/* Append @n bytes of @p (lent for the call), keeping a NUL after them. Returns 0,
 * AB_EFULL when the content would exceed @max bytes (nothing is appended), or AB_ENOMEM. */
int net_buf_append(struct net_buf *b, const void *p, size_t n, size_t max);

/* Release the storage and zero @b. */
void net_buf_free(struct net_buf *b);

#endif
