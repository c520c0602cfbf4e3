/* OpenSSL's error texts, loaded when an error first needs describing. */
#ifndef AB_TLS_ERRORS_H
#define AB_TLS_ERRORS_H

#include <stddef.h>

/* Tell OpenSSL not to load its error texts when it initialises (~0.4 MB of memory for
 * tables of thousands of strings an idle daemon never reads). Call before anything
 * else uses OpenSSL; tls_error_describe brings them in when one is needed. */
void tls_errors_defer(void);

/* The text of OpenSSL error @e in @buf (@n bytes), the texts of the libraries a TLS
 * client meets loaded first (once). */
void tls_error_describe(unsigned long e, char *buf, size_t n);

#endif
