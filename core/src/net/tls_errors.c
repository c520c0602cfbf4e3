/* OpenSSL's error texts on demand. OpenSSL 3 loads every library's texts into a hash
 * table when it initialises, unless told not to first; the per-library loaders it
 * keeps (deprecated in 3.0, still exported) load them later. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "net/tls_errors.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>

/* Set once the texts are loaded (the loop thread only). */
static bool tls_texts_loaded;

/* Initialise OpenSSL without its error texts. */
void
tls_errors_defer(void)
{
    (void)OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
                           NULL);
}

/* Load the texts of the libraries a TLS client's errors come from. */
static void
tls_error_texts_load(void)
{
    if (tls_texts_loaded)
        return;
    tls_texts_loaded = true;
    ERR_load_ERR_strings(); /* library names and the common reasons */
    ERR_load_SSL_strings();
    ERR_load_X509_strings();
    ERR_load_X509V3_strings();
    ERR_load_PEM_strings();
    ERR_load_ASN1_strings();
    ERR_load_EVP_strings();
    ERR_load_BIO_strings();
    ERR_load_BUF_strings();
    ERR_load_CRYPTO_strings();
    ERR_load_RSA_strings();
    ERR_load_EC_strings();
}

/* Describe @e with the texts loaded. */
void
tls_error_describe(unsigned long e, char *buf, size_t n)
{
    tls_error_texts_load();
    ERR_error_string_n(e, buf, n);
}
