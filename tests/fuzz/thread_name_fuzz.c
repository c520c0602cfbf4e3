/* libFuzzer target: the thread title built from a prompt (core/src/render/thread_name.c):
 * mention removal, whitespace, GitHub link shortening, the cut at THREAD_NAME_MAX_CHARS.
 * The first byte picks the bot id to remove; the title must be valid UTF-8, non-empty
 * and within the limit whenever the prompt was valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "render/thread_name.h"
#include "render/utf8.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *prompt, *out = NULL;
    int rc;

    if (!(prompt = malloc(size + 1)))
        return 0;
    memcpy(prompt, data, size);
    prompt[size] = '\0';
    rc = thread_name_from_prompt(prompt, &out);
    if (rc == 0) {
        size_t n = strlen(out);
        if (n == 0 || (utf8_valid(prompt, strlen(prompt)) &&
                       (!utf8_valid(out, n) || utf8_count(out, n) > THREAD_NAME_MAX_CHARS)))
            abort();
    } else if (rc != AB_EINVAL && rc != AB_ENOMEM) {
        abort();
    }
    free(out);
    free(prompt);
    return 0;
}
