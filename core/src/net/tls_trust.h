/* The system's CA certificates for a client TLS context, read as they are needed. */
#ifndef AB_TLS_TRUST_H
#define AB_TLS_TRUST_H

#include <openssl/ssl.h>

/* Make @ctx (lent) trust the system's CAs. With SSL_CERT_FILE set, that bundle, as
 * OpenSSL's defaults read it. Otherwise, when the certificate directory (SSL_CERT_DIR,
 * else OpenSSL's default, /etc/ssl/certs on Debian) holds hash links, only that
 * directory: a handshake reads the one CA its chain needs, instead of the whole bundle
 * (~150 certificates, ~1.3 MB of memory) parsed up front. Without hash links, the
 * defaults (the bundle file). Returns 0, or AB_EIO when none could be set. */
int tls_trust_system(SSL_CTX *ctx);

#endif
