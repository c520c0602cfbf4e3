/* libFuzzer target for Markdown → Slack mrkdwn (the host's md_walk over libcmark-gfm,
 * plugins/chat-slack/mrkdwn.c rendering it) and the host's md_plain: any input must
 * convert without a sanitizer report, every & < > of the mrkdwn must be Slack syntax,
 * and valid UTF-8 in must give valid UTF-8 out. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "mrkdwn_check.h"
#include "render/utf8.h"
#include "slack.h"

/* Stop the run on a broken invariant, so libFuzzer records the input. */
static void
mrkdwn_fuzz_check(int ok, const char *why, const char *out)
{
    if (ok)
        return;
    fprintf(stderr, "mrkdwn_fuzz: %s\n--- output\n%s\n", why, out ? out : "");
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *md = malloc(size + 1), *out = NULL, *plain = NULL;
    const char *why;
    size_t at, len;
    bool valid;
    int rc;

    if (!md)
        return 0;
    memcpy(md, data, size);
    md[size] = '\0';
    len = strlen(md); /* the plugin gets C strings: the text up to a NUL */
    valid = utf8_valid(md, len);
    rc = mrkdwn_from_markdown(&host_services, NULL, md, &out);
    mrkdwn_fuzz_check(rc == 0 && out != NULL, "conversion failed", NULL);
    why = mrkdwn_check_escaping(out, &at);
    mrkdwn_fuzz_check(why == NULL, why, out);
    mrkdwn_fuzz_check(!valid || utf8_valid(out, strlen(out)), "invalid UTF-8 out", out);
    rc = host_services.md_plain(NULL, md, size, &plain);
    mrkdwn_fuzz_check(rc == 0 && plain != NULL, "md_plain failed", NULL);
    free(plain);
    free(out);
    free(md);
    return 0;
}
