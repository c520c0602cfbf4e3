/* Content blocks for attached files; see acp_prompt.h. */
#include "acp/acp_prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agent-broker/errors.h>

/* Read all of @f (at most @max bytes) into a malloc'd buffer: through its descriptor
 * when it has one, else opened once without following a link or waiting on a FIFO;
 * checked and read on that descriptor. */
static int
acp_prompt_read(const struct acp_file *f, size_t max, char **out, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd = f->has_fd ? f->fd
                       : open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY),
        rc = 0;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        rc = AB_EINVAL;
        goto fail;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = AB_ENOMEM;
        goto fail;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : AB_EIO;
            goto fail;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    if (!f->has_fd)
        close(fd);
    *out = buf;
    *len = got;
    return 0;

fail:
    free(buf);
    if (!f->has_fd)
        close(fd);
    return rc;
}

/* Base64 (RFC 4648, padded) of @data[0..len), malloc'd and NUL-terminated. */
static char *
acp_prompt_base64(const unsigned char *data, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
    size_t i;

    if (!out)
        return NULL;
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = tab[v >> 6 & 63];
        *o++ = tab[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < len ? tab[v >> 6 & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

/* "file://" + @path, malloc'd. Paths are ours (sanitised names), so no escaping beyond
 * spaces and percent signs is needed. */
static char *
acp_prompt_uri(const char *path)
{
    size_t n = strlen(path);
    char *u = malloc(7 + n * 3 + 1), *o = u;

    if (!u)
        return NULL;
    memcpy(o, "file://", 7);
    o += 7;
    for (const char *p = path; *p; p++) {
        if (*p == ' ' || *p == '%' || *p == '#' || *p == '?') {
            static const char hex[] = "0123456789ABCDEF";
            *o++ = '%';
            *o++ = hex[(unsigned char)*p >> 4];
            *o++ = hex[(unsigned char)*p & 15];
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return u;
}

/* Append a resource_link block for @f. */
static int
acp_prompt_link(cJSON *prompt, const struct acp_file *f, const char *uri)
{
    cJSON *b = cJSON_CreateObject();

    if (!b || !cJSON_AddStringToObject(b, "type", "resource_link") ||
        !cJSON_AddStringToObject(b, "uri", uri) || !cJSON_AddStringToObject(b, "name", f->name) ||
        !cJSON_AddStringToObject(b, "mimeType", f->mime) ||
        !cJSON_AddNumberToObject(b, "size", (double)f->bytes)) {
        cJSON_Delete(b);
        return AB_ENOMEM;
    }
    cJSON_AddItemToArray(prompt, b);
    return 0;
}

/* Append an image block with @f's bytes. */
static int
acp_prompt_image(cJSON *prompt, const struct acp_file *f, const char *uri)
{
    char *raw = NULL, *b64 = NULL;
    size_t len = 0;
    cJSON *b = NULL;
    int rc;

    if ((rc = acp_prompt_read(f, ACP_PROMPT_MAX_IMAGE, &raw, &len)) < 0)
        return rc;
    rc = AB_ENOMEM;
    if (!(b64 = acp_prompt_base64((const unsigned char *)raw, len)) ||
        !(b = cJSON_CreateObject()) || !cJSON_AddStringToObject(b, "type", "image") ||
        !cJSON_AddStringToObject(b, "mimeType", f->mime) ||
        !cJSON_AddStringToObject(b, "data", b64) || !cJSON_AddStringToObject(b, "uri", uri))
        goto done;
    cJSON_AddItemToArray(prompt, b);
    b = NULL;
    rc = 0;
done:
    cJSON_Delete(b);
    free(b64);
    free(raw);
    return rc;
}

/* Append an embedded text resource with @f's contents. */
static int
acp_prompt_text(cJSON *prompt, const struct acp_file *f, const char *uri)
{
    char *raw = NULL;
    size_t len = 0;
    cJSON *b = NULL, *r;
    int rc;

    if ((rc = acp_prompt_read(f, ACP_PROMPT_MAX_TEXT, &raw, &len)) < 0)
        return rc;
    rc = AB_ENOMEM;
    if (!(b = cJSON_CreateObject()) || !cJSON_AddStringToObject(b, "type", "resource") ||
        !(r = cJSON_AddObjectToObject(b, "resource")) || !cJSON_AddStringToObject(r, "uri", uri) ||
        !cJSON_AddStringToObject(r, "mimeType", f->mime) ||
        !cJSON_AddStringToObject(r, "text", raw))
        goto done;
    cJSON_AddItemToArray(prompt, b);
    b = NULL;
    rc = 0;
done:
    cJSON_Delete(b);
    free(raw);
    return rc;
}

/* See the header. */
int
acp_prompt_files(cJSON *prompt, const struct acp_prompt_caps *caps, const struct acp_file *files,
                 size_t n, size_t *images_linked)
{
    int rc = 0;

    *images_linked = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct acp_file *f = &files[i];
        char *uri = acp_prompt_uri(f->path);

        if (!uri)
            return AB_ENOMEM;
        if (f->is_image && caps->image && f->bytes <= ACP_PROMPT_MAX_IMAGE)
            rc = acp_prompt_image(prompt, f, uri);
        else if (f->is_text && caps->embedded && f->bytes <= ACP_PROMPT_MAX_TEXT)
            rc = acp_prompt_text(prompt, f, uri);
        if (rc == 0 && !(f->is_text && caps->embedded && f->bytes <= ACP_PROMPT_MAX_TEXT))
            rc = acp_prompt_link(prompt, f, uri); /* images too: tools can open the file */
        if (f->is_image && !caps->image)
            (*images_linked)++;
        free(uri);
    }
    return rc;
}

/* See the header. */
int
acp_files_copy(const struct acp_file *in, size_t n, struct acp_file **out)
{
    struct acp_file *f;

    *out = NULL;
    if (n == 0)
        return 0;
    if (!(f = calloc(n, sizeof(*f))))
        return AB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        f[i] = in[i];
        f[i].path = strdup(in[i].path);
        f[i].name = strdup(in[i].name);
        f[i].mime = strdup(in[i].mime);
        f[i].has_fd = in[i].has_fd && (f[i].fd = fcntl(in[i].fd, F_DUPFD_CLOEXEC, 3)) >= 0;
        if (!f[i].path || !f[i].name || !f[i].mime || f[i].has_fd != in[i].has_fd) {
            acp_files_free(f, i + 1);
            return AB_ENOMEM;
        }
    }
    *out = f;
    return 0;
}

/* See the header. */
void
acp_files_free(struct acp_file *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++) {
        free(f[i].path);
        free(f[i].name);
        free(f[i].mime);
        if (f[i].has_fd)
            close(f[i].fd);
    }
    free(f);
}
