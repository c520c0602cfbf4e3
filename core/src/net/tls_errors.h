/* OpenSSL's error texts, loaded when an error first needs describing. */
#ifndef AB_TLS_ERRORS_H
#define AB_TLS_ERRORS_H

#include <stddef.h>

/* Initialise OpenSSL (once; later calls cost nothing) without its error texts: ~0.4 MB
 * of memory for tables of thousands of strings an idle daemon never reads. Called
 * before each TLS context is made, so a process that makes none (the console) never
 * initialises OpenSSL; tls_error_describe brings the texts in when one is needed. */
void tls_errors_defer(void);

/* The text of OpenSSL error @e in @buf (@n bytes), the texts of the libraries a TLS
 * client meets loaded first (once). */
void tls_error_describe(unsigned long e, char *buf, size_t n);

#endif
