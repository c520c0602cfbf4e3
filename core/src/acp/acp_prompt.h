/* Files in a session/prompt: the content blocks each saved attachment becomes, by the
 * agent's promptCapabilities (image, embeddedContext): images as `image` blocks (plus a
 * resource_link to the saved file), small UTF-8 text as an embedded `resource`, and
 * everything else (or what the agent cannot take) as a `resource_link`. */
#ifndef AB_ACP_PROMPT_H
#define AB_ACP_PROMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Images larger than this go as a link only (base64 grows them by 4/3 on one line). */
#define ACP_PROMPT_MAX_IMAGE (5u * 1024 * 1024)
/* Text files up to this size are embedded when the agent takes embedded context. */
#define ACP_PROMPT_MAX_TEXT (256u * 1024)

/* One downloaded attachment. Strings owned by whoever holds the array. */
struct acp_file {
    char *path;     /* absolute path of the saved file */
    char *name;     /* the name shown to the agent */
    char *mime;     /* the sniffed media type */
    uint64_t bytes; /* its size */
    bool is_image;  /* png, jpeg, gif or webp by its magic bytes */
    bool is_text;   /* valid UTF-8 without NUL bytes */
    bool has_fd;    /* fd is set: the file as opened once saved (read through it, never
                       through the path, which the agent may swap) */
    int fd;         /* owned by whoever holds the array, like the strings */
};

/* What the agent's initialize reply advertised (each false when omitted). */
struct acp_prompt_caps {
    bool image, audio, embedded;
};

/* Append the blocks for @files (lent, @n of them) to the JSON array @prompt (lent). It
 * reads the files: the ACP client calls it in libuv's threadpool (it touches no loop
 * state), never on the loop.
 * *@images_linked counts images that went as links only because the agent does not
 * take images. Returns 0 or AB_ENOMEM / a negated errno from reading a file. */
int acp_prompt_files(cJSON *prompt, const struct acp_prompt_caps *caps,
                     const struct acp_file *files, size_t n, size_t *images_linked);

/* Deep copy of @n files into *@out (malloc'd; NULL when @n is 0; descriptors dup'ed). */
int acp_files_copy(const struct acp_file *in, size_t n, struct acp_file **out);

/* Free @n files (closing their descriptors) and the array. NULL is allowed. */
void acp_files_free(struct acp_file *f, size_t n);

#endif
