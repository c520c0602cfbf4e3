/* The system's CA certificates, looked up by hash; see tls_trust.h. */
#include "net/tls_trust.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <agent-broker/errors.h>

/* Whether @name is an OpenSSL hash link: 8 hex digits, '.', a decimal suffix. */
static bool
tls_trust_is_hash_name(const char *name)
{
    size_t i;

    for (i = 0; i < 8; i++)
        if (!strchr("0123456789abcdef", name[i]) || !name[i])
            return false;
    if (name[8] != '.' || !name[9])
        return false;
    for (i = 9; name[i]; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    return true;
}

/* Whether the first directory of the ':'-separated list @dirs holds a hash link. */
static bool
tls_trust_dir_is_hashed(const char *dirs)
{
    char first[4096];
    size_t n = strcspn(dirs, ":");
    struct dirent *e;
    bool found = false;
    DIR *d;

    if (n == 0 || n >= sizeof(first))
        return false;
    memcpy(first, dirs, n);
    first[n] = '\0';
    if (!(d = opendir(first)))
        return false;
    while (!found && (e = readdir(d)))
        found = tls_trust_is_hash_name(e->d_name);
    closedir(d);
    return found;
}

/* Trust the system's CAs; see the header. */
int
tls_trust_system(SSL_CTX *ctx)
{
    const char *dirs = getenv(X509_get_default_cert_dir_env());

    if (!dirs || !*dirs)
        dirs = X509_get_default_cert_dir();
    if (!getenv(X509_get_default_cert_file_env()) && tls_trust_dir_is_hashed(dirs)) {
        if (SSL_CTX_load_verify_dir(ctx, dirs) == 1)
            return 0;
        ERR_clear_error();
    }
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ERR_clear_error();
        return AB_EIO;
    }
    return 0;
}
