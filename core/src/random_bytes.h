/* Unpredictable bytes for keys that must not repeat across processes and restarts
 * (idempotency keys, hash seeds, multipart boundaries). Not for secrets. */
#ifndef AB_RANDOM_BYTES_H
#define AB_RANDOM_BYTES_H

#include <stddef.h>

/* Fill @buf (@len bytes, written) from the kernel's generator without waiting; when it
 * has no entropy ready yet, from the clocks, the process id and @buf's address. */
void random_bytes(void *buf, size_t len);

#endif
