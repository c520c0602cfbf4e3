/* The `[health] listen` address: "host:port" or "[v6]:port" with a numeric host. */
#ifndef AB_HEALTH_ADDR_H
#define AB_HEALTH_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Longest text health_addr_format() writes, with its NUL: "[v6 address]:65535". */
#define HEALTH_ADDR_MAX 56

/* Parse @listen (lent): "127.0.0.1:9464", "0.0.0.0:9464", "[::1]:9464", "[::]:0";
 * "localhost" stands for 127.0.0.1. Names are not resolved (that could block).
 * Returns 0 and fills @out, or AB_EINVAL. */
int health_addr_parse(const char *listen, struct sockaddr_storage *out);

/* Write @addr as "a.b.c.d:port" or "[v6]:port" into @out (capacity @cap).
 * Returns 0, AB_EINVAL (not IPv4/IPv6) or -ENOBUFS. */
int health_addr_format(const struct sockaddr *addr, char *out, size_t cap);

#endif
