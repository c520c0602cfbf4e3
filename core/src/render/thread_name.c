/* Thread titles from prompts. */
#include "render/thread_name.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "render/textbuf.h"
#include "render/utf8.h"

/* Length of the run at @s of characters allowed in a GitHub owner or repo name. */
static size_t
thread_name_ident(const char *s)
{
    size_t n = 0;

    while (isalnum((unsigned char)s[n]) || s[n] == '-' || s[n] == '_' || s[n] == '.')
        n++;
    return n;
}

/* If @s starts a GitHub issue/PR URL, write owner/repo#N into @b and return the bytes
 * it spans (including a wrapping "<…>" and any trailing path up to whitespace); else 0. */
static size_t
thread_name_github(const char *s, struct textbuf *b, int *rc)
{
    static const char *const hosts[] = {"https://github.com/", "http://github.com/",
                                        "https://www.github.com/"};
    size_t i = s[0] == '<', h, owner, repo, kind, num, end;
    const char *o, *r;

    for (h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++) {
        if (strncmp(s + i, hosts[h], strlen(hosts[h])) == 0)
            break;
    }
    if (h == sizeof(hosts) / sizeof(hosts[0]))
        return 0;
    i += strlen(hosts[h]);
    o = s + i;
    if ((owner = thread_name_ident(o)) == 0 || o[owner] != '/')
        return 0;
    r = o + owner + 1;
    if ((repo = thread_name_ident(r)) == 0 || r[repo] != '/')
        return 0;
    i += owner + 1 + repo + 1;
    if (strncmp(s + i, "issues/", 7) == 0)
        kind = 7;
    else if (strncmp(s + i, "pull/", 5) == 0)
        kind = 5;
    else
        return 0;
    i += kind;
    for (num = 0; isdigit((unsigned char)s[i + num]); num++)
        ;
    if (num == 0)
        return 0;
    end = i + num;
    while (s[end] && !isspace((unsigned char)s[end]) && s[end] != '>' &&
           (s[0] == '<' || s[end] == '/' || s[end] == '#' || s[end] == '?' ||
            thread_name_ident(s + end) > 0))
        end++;
    if (s[0] == '<') {
        if (s[end] != '>')
            return 0;
        end++;
    }
    if ((*rc = textbuf_append(b, o, owner)) < 0 || (*rc = textbuf_append(b, "/", 1)) < 0 ||
        (*rc = textbuf_append(b, r, repo)) < 0 || (*rc = textbuf_append(b, "#", 1)) < 0 ||
        (*rc = textbuf_append(b, s + i, num)) < 0)
        return 0;
    return end;
}

/* Collapse whitespace and shorten URLs in one pass. */
static int
thread_name_normalize(const char *s, struct textbuf *b)
{
    bool space = false;
    size_t n;
    int rc = 0;

    while (*s && rc == 0) {
        if (isspace((unsigned char)*s)) {
            space = b->len > 0;
            s++;
            continue;
        }
        if (space && (rc = textbuf_append(b, " ", 1)) < 0)
            break;
        space = false;
        if ((n = thread_name_github(s, b, &rc)) > 0) {
            s += n;
            continue;
        }
        if (rc == 0)
            rc = textbuf_append(b, s++, 1);
    }
    return rc;
}

/* Normalise, cut, and fall back. */
int
thread_name_from_prompt(const char *prompt, char **out)
{
    struct textbuf b = {0};
    char *text = NULL;
    size_t cut, space;
    int rc;

    if (out)
        *out = NULL;
    if (prompt == NULL || out == NULL)
        return AB_EINVAL;
    if ((rc = textbuf_append_utf8(&b, prompt, strlen(prompt))) < 0)
        goto fail;
    text = textbuf_take(&b);
    if (text == NULL)
        return AB_ENOMEM;
    if ((rc = thread_name_normalize(text, &b)) < 0)
        goto fail;
    if (b.len == 0 && (rc = textbuf_append_str(&b, THREAD_NAME_FALLBACK)) < 0)
        goto fail;
    if (utf8_count(b.data, b.len) > THREAD_NAME_MAX_CHARS) {
        cut = utf8_truncate(b.data, b.len, THREAD_NAME_MAX_CHARS - 1);
        for (space = cut; b.data[cut] != ' ' && space > 0 && b.data[space - 1] != ' '; space--)
            ;
        if (b.data[cut] != ' ' && space > 1 &&
            utf8_count(b.data, space - 1) >= THREAD_NAME_MAX_CHARS / 2)
            cut = space - 1;
        while (cut > 0 && b.data[cut - 1] == ' ')
            cut--;
        b.len = cut;
        if ((rc = textbuf_append_str(&b, UTF8_ELLIPSIS)) < 0)
            goto fail;
    }
    free(text);
    if ((*out = textbuf_take(&b)) == NULL)
        return AB_ENOMEM;
    return 0;

fail:
    free(text);
    textbuf_free(&b);
    return rc;
}
