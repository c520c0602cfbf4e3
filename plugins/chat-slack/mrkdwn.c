/* chat-slack mrkdwn: the agent's Markdown as Slack shows it. **b** → *b*, *i* → _i_,
 * ~~s~~ → ~s~, [t](u) → <u|t>, headings → bold lines, list bullets → •, code spans
 * and fences kept as they are (a fence's language tag dropped: Slack shows it
 * literally), and & < > escaped everywhere else, because Slack reads them as markup. */
#include <stdlib.h>
#include <string.h>

#include "slack.h"

/* The output; sized up front for the worst case (6 bytes per input byte). */
struct mrkdwn_out {
    char *s;
    size_t len;
};

static void mrkdwn_inline(struct mrkdwn_out *o, const char *p, const char *end, bool in_bold);

/* Append @n bytes. */
static void
mrkdwn_put(struct mrkdwn_out *o, const char *s, size_t n)
{
    memcpy(o->s + o->len, s, n);
    o->len += n;
}

/* Append one literal character, escaped when Slack would read it as markup. */
static void
mrkdwn_literal(struct mrkdwn_out *o, char c)
{
    if (c == '&')
        mrkdwn_put(o, "&amp;", 5);
    else if (c == '<')
        mrkdwn_put(o, "&lt;", 4);
    else if (c == '>')
        mrkdwn_put(o, "&gt;", 4);
    else
        o->s[o->len++] = c;
}

/* The first @marker (length @n) in [p, end), or NULL. */
static const char *
mrkdwn_find(const char *p, const char *end, const char *marker, size_t n)
{
    for (; p + n <= end; p++)
        if (memcmp(p, marker, n) == 0)
            return p;
    return NULL;
}

/* A code span at @p (a run of backticks): copy it through its closing run; returns
 * the end, or NULL when it is not closed on this line. */
static const char *
mrkdwn_code_span(struct mrkdwn_out *o, const char *p, const char *end)
{
    size_t run = 0;
    const char *q;

    while (p + run < end && p[run] == '`')
        run++;
    for (q = p + run; q < end; q++) {
        size_t k = 0;
        while (q + k < end && q[k] == '`')
            k++;
        if (k == run) {
            mrkdwn_put(o, p, (size_t)(q + k - p));
            return q + k;
        }
        q += k ? k - 1 : 0;
    }
    return NULL;
}

/* [text](url) at @p: emit <url|text>; returns the end, or NULL when it is not a link. */
static const char *
mrkdwn_link(struct mrkdwn_out *o, const char *p, const char *end)
{
    const char *mid = mrkdwn_find(p, end, "](", 2), *close;

    if (!mid || mid == p + 1 || !(close = memchr(mid + 2, ')', (size_t)(end - mid - 2))) ||
        close == mid + 2 || memchr(mid + 2, ' ', (size_t)(close - mid - 2)))
        return NULL;
    o->s[o->len++] = '<';
    for (const char *u = mid + 2; u < close; u++) {
        if (*u == '|')
            mrkdwn_put(o, "%7C", 3);
        else
            mrkdwn_literal(o, *u);
    }
    o->s[o->len++] = '|';
    for (const char *t = p + 1; t < mid; t++)
        mrkdwn_literal(o, *t);
    o->s[o->len++] = '>';
    return close + 1;
}

/* An autolink <scheme:…> at @p kept as Slack's own link syntax; returns the end or NULL. */
static const char *
mrkdwn_autolink(struct mrkdwn_out *o, const char *p, const char *end)
{
    const char *close = memchr(p, '>', (size_t)(end - p));

    if (!close || memchr(p, ' ', (size_t)(close - p)) ||
        (strncmp(p + 1, "http://", 7) != 0 && strncmp(p + 1, "https://", 8) != 0 &&
         strncmp(p + 1, "mailto:", 7) != 0))
        return NULL;
    mrkdwn_put(o, p, (size_t)(close + 1 - p));
    return close + 1;
}

/* Emphasis at @p with @marker (length @n): emit @slack around the converted inside
 * (nothing when @in_bold and it is bold already); returns the end or NULL. */
static const char *
mrkdwn_emphasis(struct mrkdwn_out *o, const char *p, const char *end, const char *marker, size_t n,
                const char *slack, bool in_bold)
{
    const char *inner = p + n, *close = mrkdwn_find(inner, end, marker, n);
    bool is_bold = *slack == '*';

    if (!close || close == inner || *inner == ' ' || close[-1] == ' ')
        return NULL;
    if (!(is_bold && in_bold))
        mrkdwn_put(o, slack, 1);
    mrkdwn_inline(o, inner, close, in_bold || is_bold);
    if (!(is_bold && in_bold))
        mrkdwn_put(o, slack, 1);
    return close + n;
}

/* Convert the inline Markdown of [p, end). */
static void
mrkdwn_inline(struct mrkdwn_out *o, const char *p, const char *end, bool in_bold)
{
    const char *start = p;

    while (p < end) {
        const char *next = NULL;
        bool word_start = p == start || p[-1] == ' ' || p[-1] == '(';

        if (*p == '`')
            next = mrkdwn_code_span(o, p, end);
        else if (*p == '[')
            next = mrkdwn_link(o, p, end);
        else if (*p == '<')
            next = mrkdwn_autolink(o, p, end);
        else if (end - p >= 2 && (memcmp(p, "**", 2) == 0 || memcmp(p, "__", 2) == 0))
            next = mrkdwn_emphasis(o, p, end, p[0] == '*' ? "**" : "__", 2, "*", in_bold);
        else if (end - p >= 2 && memcmp(p, "~~", 2) == 0)
            next = mrkdwn_emphasis(o, p, end, "~~", 2, "~", in_bold);
        else if (*p == '*' || (*p == '_' && word_start))
            next = mrkdwn_emphasis(o, p, end, *p == '*' ? "*" : "_", 1, "_", in_bold);
        if (next) {
            p = next;
            continue;
        }
        /* not markup after all: a run of the same marker stays literal as a whole */
        if (*p == '*' || *p == '_' || *p == '~' || *p == '`') {
            char c = *p;
            while (p < end && *p == c)
                o->s[o->len++] = *p++;
            continue;
        }
        mrkdwn_literal(o, *p++);
    }
}

/* The length of a fence opener or closer at @p (``` or ~~~ after ≤ 3 spaces), else 0. */
static size_t
mrkdwn_fence(const char *p, const char *end)
{
    const char *q = p;

    while (q < end && q - p < 3 && *q == ' ')
        q++;
    if (end - q >= 3 && (memcmp(q, "```", 3) == 0 || memcmp(q, "~~~", 3) == 0))
        return (size_t)(q - p) + 3;
    return 0;
}

/* Convert one line outside code blocks (without its newline). */
static void
mrkdwn_line(struct mrkdwn_out *o, const char *p, const char *end)
{
    const char *q = p;
    size_t hashes = 0;

    while (q < end && *q == '#' && hashes < 7)
        q++, hashes++;
    if (hashes >= 1 && hashes <= 6 && q < end && *q == ' ') {
        while (q < end && *q == ' ')
            q++;
        while (end > q && (end[-1] == '#' || end[-1] == ' '))
            end--;
        o->s[o->len++] = '*';
        mrkdwn_inline(o, q, end, true);
        o->s[o->len++] = '*';
        return;
    }
    if (*p == '>' && (p + 1 == end || p[1] == ' ')) {
        /* a quote stays a quote: Slack reads a leading > as one */
        mrkdwn_put(o, "> ", 2);
        mrkdwn_inline(o, p + 1 + (p + 1 < end), end, false);
        return;
    }
    for (q = p; q < end && *q == ' '; q++)
        ;
    if (end - q >= 2 && (*q == '-' || *q == '*' || *q == '+') && q[1] == ' ') {
        mrkdwn_put(o, p, (size_t)(q - p));
        mrkdwn_put(o, "\xE2\x80\xA2 ", 4); /* • */
        mrkdwn_inline(o, q + 2, end, false);
        return;
    }
    mrkdwn_inline(o, p, end, false);
}

/* Convert a whole Markdown text. */
int
mrkdwn_from_markdown(const char *md, char **out)
{
    size_t n = strlen(md);
    struct mrkdwn_out o = {.s = malloc(6 * n + 16)};
    bool in_fence = false;

    if (!o.s)
        return AB_ENOMEM;
    for (const char *p = md, *eol; p <= md + n; p = eol + 1) {
        size_t fence;

        eol = strchr(p, '\n');
        if (!eol)
            eol = md + n;
        fence = mrkdwn_fence(p, eol);
        if (fence) {
            /* Slack shows a language tag literally: drop it from the opener */
            mrkdwn_put(&o, "```", 3);
            if (in_fence)
                mrkdwn_put(&o, p + fence, (size_t)(eol - p - fence));
            in_fence = !in_fence;
        } else if (in_fence) {
            mrkdwn_put(&o, p, (size_t)(eol - p));
        } else {
            mrkdwn_line(&o, p, eol);
        }
        if (eol < md + n)
            o.s[o.len++] = '\n';
    }
    o.s[o.len] = '\0';
    *out = o.s;
    return 0;
}
