/* Checks on Slack mrkdwn output shared by the property test and the fuzz target. */
#include "mrkdwn_check.h"

#include <stdbool.h>
#include <string.h>

/* The length of a Slack link "<url>" or "<url|label>" at @p, or 0. */
size_t
mrkdwn_check_link_len(const char *p)
{
    size_t i = 1;

    while (p[i] && !strchr("<>| \n", p[i]))
        i++;
    if (i == 1)
        return 0;
    if (p[i] == '|')
        for (i++; p[i] && p[i] != '<' && p[i] != '>' && p[i] != '\n'; i++)
            ;
    return p[i] == '>' ? i + 1 : 0;
}

/* Whether only quote and list prefixes precede @p on its line. */
static bool
only_prefix_before(const char *start, const char *p)
{
    const char *q = p;

    while (q > start && q[-1] != '\n')
        q--;
    for (; q < p; q++) {
        if (strchr(" >.0123456789[]x", *q))
            continue;
        if (memcmp(q, "\xE2\x80\xA2", 3) == 0) {
            q += 2;
            continue;
        }
        return false;
    }
    return true;
}

/* Scan for the first byte that breaks the rules. */
const char *
mrkdwn_check_escaping(const char *out, size_t *at)
{
    for (const char *p = out; *p; p++) {
        size_t n;
        *at = (size_t)(p - out);
        if (*p == '&' && strncmp(p, "&amp;", 5) != 0 && strncmp(p, "&lt;", 4) != 0 &&
            strncmp(p, "&gt;", 4) != 0)
            return "bare &";
        if (*p == '<') {
            if (!(n = mrkdwn_check_link_len(p)))
                return "< that opens no link";
            p += n - 1;
            continue;
        }
        if (*p == '>' && !only_prefix_before(out, p))
            return "> that is no quote marker";
    }
    return NULL;
}
