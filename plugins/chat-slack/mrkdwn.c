/* chat-slack mrkdwn: the agent's Markdown, parsed by the host (md_walk), rendered as
 * Slack shows it. **b** and headings → *b*, *i* → _i_, ~~s~~ → ~s~, [t](u) → <u|t>,
 * lists as "• " or "N. ", quotes "> ", code spans and blocks kept (a fence's language
 * tag dropped: Slack shows it literally; backticks that would end the code shown as
 * look-alikes), and & < > escaped everywhere, because Slack reads them as markup. Formatting
 * markers are emitted in pairs around non-empty content on one line (Slack formats nothing across a
 * newline). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slack.h"

/* One open quote or list item: @first prefixes its first line, @rest the others. */
struct mrkdwn_prefix {
    char first[24];
    char rest[24];
    bool first_done;
};

struct mrkdwn {
    char *s; /* owned: the output, NUL-terminated */
    size_t len, cap;
    struct mrkdwn_prefix *pre; /* owned: open quotes and items, outermost first */
    size_t npre, precap;
    bool line_start;          /* the next byte starts a line: prefixes first */
    bool started;             /* a block has been written */
    uint32_t last_end;        /* the source line the last finished block ended on */
    bool open;                /* a quote's or item's first block has not started */
    int bold, italic, strike; /* open formatting (a heading counts as bold) */
    int link;                 /* inside a link's label: plain text only */
    size_t link_at;           /* where the open link's "<" is */
    size_t label_at;          /* where its label starts (after "|") */
    size_t *marks;            /* owned: where each open marker's content starts */
    size_t nmarks, markcap;
    int rc; /* the first error: AB_ENOMEM */
};

/* Make room for @n more bytes and the NUL. */
static bool
mrkdwn_room(struct mrkdwn *m, size_t n)
{
    char *grown;
    size_t cap;

    if (m->rc < 0)
        return false;
    if (m->len + n + 1 <= m->cap)
        return true;
    for (cap = m->cap ? m->cap : 256; cap < m->len + n + 1; cap *= 2)
        ;
    if (!(grown = realloc(m->s, cap))) {
        m->rc = AB_ENOMEM;
        return false;
    }
    m->s = grown;
    m->cap = cap;
    return true;
}

/* Append @n bytes as they are. */
static void
mrkdwn_raw(struct mrkdwn *m, const char *s, size_t n)
{
    if (!mrkdwn_room(m, n))
        return;
    memcpy(m->s + m->len, s, n);
    m->len += n;
    m->s[m->len] = '\0';
}

/* Write the open containers' prefixes (@blank: for an empty line, no trailing space). */
static void
mrkdwn_prefixes(struct mrkdwn *m, bool blank)
{
    for (size_t i = 0; i < m->npre; i++) {
        struct mrkdwn_prefix *x = &m->pre[i];
        if (blank) {
            size_t n = strlen(x->rest);
            while (n > 0 && x->rest[n - 1] == ' ')
                n--;
            mrkdwn_raw(m, x->rest, n);
            continue;
        }
        mrkdwn_raw(m, x->first_done ? x->rest : x->first,
                   strlen(x->first_done ? x->rest : x->first));
        x->first_done = true;
    }
    m->line_start = false;
}

/* Append content @s[0..n): prefixes at line starts; & < > escaped when @escape, a
 * newline as a space inside formatting or a link (Slack ends both at a newline). */
static void
mrkdwn_put(struct mrkdwn *m, const char *s, size_t n, bool escape)
{
    bool inline_only = m->bold || m->italic || m->strike || m->link;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n' && inline_only)
            c = ' ';
        if (c == '\n') {
            if (m->line_start)
                mrkdwn_prefixes(m, true);
            mrkdwn_raw(m, "\n", 1);
            m->line_start = true;
            continue;
        }
        if (m->line_start)
            mrkdwn_prefixes(m, false);
        if (escape && c == '&')
            mrkdwn_raw(m, "&amp;", 5);
        else if (escape && c == '<')
            mrkdwn_raw(m, "&lt;", 4);
        else if (escape && c == '>')
            mrkdwn_raw(m, "&gt;", 4);
        else
            mrkdwn_raw(m, &c, 1);
    }
}

/* Start block @n: end the previous one's line, and keep a blank line before it. */
static void
mrkdwn_block(struct mrkdwn *m, const struct ab_md_node *n)
{
    if (m->open) {
        m->open = false;
        return;
    }
    if (m->started) {
        if (!m->line_start)
            mrkdwn_put(m, "\n", 1, false);
        /* a blank line where the author left one */
        if (n->start_line > m->last_end + 1 && (n->kind != AB_MD_TABLE_ROW || n->index == 0))
            mrkdwn_put(m, "\n", 1, false);
    }
    m->started = true;
    if (n->start_line > m->last_end)
        m->last_end = n->start_line; /* an empty item ends where it starts */
}

/* Open a quote or an item. */
static void
mrkdwn_push(struct mrkdwn *m, const char *first, const char *rest)
{
    if (m->npre == m->precap) {
        size_t cap = m->precap ? m->precap * 2 : 8;
        struct mrkdwn_prefix *grown = realloc(m->pre, cap * sizeof(*grown));
        if (!grown) {
            m->rc = AB_ENOMEM;
            return;
        }
        m->pre = grown;
        m->precap = cap;
    }
    snprintf(m->pre[m->npre].first, sizeof(m->pre[m->npre].first), "%s", first);
    snprintf(m->pre[m->npre].rest, sizeof(m->pre[m->npre].rest), "%s", rest);
    m->pre[m->npre].first_done = false;
    m->npre++;
    m->open = true;
}

/* An item's marker: "• " or "N. ", then "[ ] " or "[x] " for a task. */
static void
mrkdwn_item(struct mrkdwn *m, const struct ab_md_node *n)
{
    char first[24], rest[24];
    int len;

    if (n->ordered)
        len = snprintf(first, sizeof(first), "%lu. ", (unsigned long)n->start + n->index);
    else
        len = snprintf(first, sizeof(first), "\xE2\x80\xA2 ");
    if (n->task)
        snprintf(first + len, sizeof(first) - (size_t)len, "%s", n->checked ? "[x] " : "[ ] ");
    len = n->ordered ? len : 2; /* the bullet is one column wide */
    memset(rest, ' ', (size_t)len);
    rest[len] = '\0';
    mrkdwn_push(m, first, rest);
}

/* Open a formatting marker unless the same one is open (or a link label is). */
static void
mrkdwn_mark_open(struct mrkdwn *m, int *depth, const char *marker)
{
    if (m->nmarks == m->markcap) {
        size_t cap = m->markcap ? m->markcap * 2 : 16;
        size_t *grown = realloc(m->marks, cap * sizeof(*grown));
        if (!grown) {
            m->rc = AB_ENOMEM;
            return;
        }
        m->marks = grown;
        m->markcap = cap;
    }
    if (*depth == 0 && !m->link) {
        mrkdwn_put(m, marker, 1, false);
        m->marks[m->nmarks++] = m->len;
    } else {
        m->marks[m->nmarks++] = SIZE_MAX; /* nothing emitted */
    }
    (*depth)++;
}

/* Close a marker: nothing around empty content, and spaces moved outside the pair. */
static void
mrkdwn_mark_close(struct mrkdwn *m, int *depth, const char *marker)
{
    size_t at, spaces = 0;

    (*depth)--;
    if (m->nmarks == 0 || (at = m->marks[--m->nmarks]) == SIZE_MAX || m->rc < 0)
        return;
    while (m->len - spaces > at && m->s[m->len - spaces - 1] == ' ')
        spaces++;
    if (m->len - spaces == at) { /* empty: drop the opening marker, keep the spaces */
        memmove(m->s + at - 1, m->s + at, spaces);
        m->s[--m->len] = '\0';
        return;
    }
    m->len -= spaces;
    mrkdwn_raw(m, marker, 1);
    for (size_t i = 0; i < spaces; i++)
        mrkdwn_raw(m, " ", 1);
}

/* A link's or image's opening: "<url|" (| in the URL as %7C, & < > escaped). */
static void
mrkdwn_link_open(struct mrkdwn *m, const struct ab_md_node *n)
{
    if (m->link++ || !*n->url)
        return;
    if (m->line_start)
        mrkdwn_prefixes(m, false);
    m->link_at = m->len;
    mrkdwn_raw(m, "<", 1);
    for (const char *u = n->url; *u; u++) {
        if (*u == '|')
            mrkdwn_raw(m, "%7C", 3);
        else if ((unsigned char)*u <= ' ')
            mrkdwn_put(m, "%20", 3, false);
        else
            mrkdwn_put(m, u, 1, true);
    }
    mrkdwn_raw(m, "|", 1);
    m->label_at = m->len;
}

/* A link's closing ">": <url> alone when the label is empty or the URL itself. */
static void
mrkdwn_link_close(struct mrkdwn *m, const struct ab_md_node *n)
{
    size_t url_len;

    if (--m->link || !*n->url || m->rc < 0)
        return;
    url_len = m->label_at - 1 - (m->link_at + 1);
    if (m->len == m->label_at ||
        (m->len - m->label_at == url_len &&
         memcmp(m->s + m->label_at, m->s + m->link_at + 1, url_len) == 0)) {
        m->len = m->label_at - 1;
        m->s[m->len] = '\0';
    }
    mrkdwn_raw(m, ">", 1);
}

/* Code text: Slack has no escape for a backtick inside code, so in a span every
 * backtick, in a block every run of three or more, is shown as U+02CB (a look-alike)
 * instead of ending the code early. */
static void
mrkdwn_code_text(struct mrkdwn *m, const char *s, size_t n, bool block)
{
    for (size_t i = 0, run; i < n; i += run) {
        for (run = 0; i + run < n && s[i + run] == '`'; run++)
            ;
        if (run == 0) {
            run = 1;
            mrkdwn_put(m, s + i, 1, true);
            continue;
        }
        for (size_t k = 0; k < run; k++)
            mrkdwn_put(m, block && run < 3 ? "`" : "\xCB\x8B", block && run < 3 ? 1 : 2, false);
    }
}

/* A code span in backticks; plain text in a link label. */
static void
mrkdwn_code(struct mrkdwn *m, const struct ab_md_node *n)
{
    if (!m->link)
        mrkdwn_put(m, "`", 1, false);
    mrkdwn_code_text(m, n->literal, n->literal_len, false);
    if (!m->link)
        mrkdwn_put(m, "`", 1, false);
}

/* enter(): open blocks, containers and formatting; write leaves. */
static int
mrkdwn_enter(void *arg, const struct ab_md_node *n)
{
    struct mrkdwn *m = arg;

    switch (n->kind) {
    case AB_MD_PARAGRAPH:
    case AB_MD_TABLE_ROW: mrkdwn_block(m, n); break;
    case AB_MD_HEADING:
        mrkdwn_block(m, n);
        mrkdwn_mark_open(m, &m->bold, "*");
        break;
    case AB_MD_THEMATIC_BREAK:
        mrkdwn_block(m, n);
        mrkdwn_put(m, "---", 3, false);
        break;
    case AB_MD_CODE_BLOCK:
        mrkdwn_block(m, n);
        mrkdwn_put(m, "```\n", 4, false);
        mrkdwn_code_text(m, n->literal, n->literal_len, true);
        if (!m->line_start)
            mrkdwn_put(m, "\n", 1, false);
        mrkdwn_put(m, "```", 3, false);
        break;
    case AB_MD_HTML_BLOCK:
        mrkdwn_block(m, n);
        mrkdwn_put(m, n->literal, n->literal_len, true);
        if (m->line_start && m->len > 0 && m->s[m->len - 1] == '\n') {
            m->s[--m->len] = '\0'; /* the next block ends the line */
            m->line_start = false;
        }
        break;
    case AB_MD_BLOCK_QUOTE:
        mrkdwn_block(m, n);
        mrkdwn_push(m, "> ", "> ");
        break;
    case AB_MD_ITEM:
        mrkdwn_block(m, n);
        mrkdwn_item(m, n);
        break;
    case AB_MD_TABLE_CELL:
        if (n->index > 0)
            mrkdwn_put(m, " | ", 3, false);
        break;
    case AB_MD_TEXT:
    case AB_MD_HTML_INLINE: mrkdwn_put(m, n->literal, n->literal_len, true); break;
    case AB_MD_CODE: mrkdwn_code(m, n); break;
    case AB_MD_SOFT_BREAK:
    case AB_MD_LINE_BREAK: mrkdwn_put(m, "\n", 1, false); break;
    case AB_MD_STRONG: mrkdwn_mark_open(m, &m->bold, "*"); break;
    case AB_MD_EMPHASIS: mrkdwn_mark_open(m, &m->italic, "_"); break;
    case AB_MD_STRIKETHROUGH: mrkdwn_mark_open(m, &m->strike, "~"); break;
    case AB_MD_LINK:
    case AB_MD_IMAGE: mrkdwn_link_open(m, n); break;
    default: break;
    }
    return m->rc;
}

/* leave(): close formatting and containers, remember where the last block ended. */
static int
mrkdwn_leave(void *arg, const struct ab_md_node *n)
{
    struct mrkdwn *m = arg;

    switch (n->kind) {
    case AB_MD_HEADING:
        mrkdwn_mark_close(m, &m->bold, "*");
        m->last_end = n->end_line;
        break;
    case AB_MD_PARAGRAPH:
    case AB_MD_THEMATIC_BREAK:
    case AB_MD_CODE_BLOCK:
    case AB_MD_HTML_BLOCK:
    case AB_MD_TABLE_ROW: m->last_end = n->end_line; break;
    case AB_MD_BLOCK_QUOTE:
    case AB_MD_ITEM:
        if (m->open) { /* an empty item still shows its marker */
            m->open = false;
            mrkdwn_prefixes(m, false);
        }
        if (m->npre > 0)
            m->npre--;
        break;
    case AB_MD_STRONG: mrkdwn_mark_close(m, &m->bold, "*"); break;
    case AB_MD_EMPHASIS: mrkdwn_mark_close(m, &m->italic, "_"); break;
    case AB_MD_STRIKETHROUGH: mrkdwn_mark_close(m, &m->strike, "~"); break;
    case AB_MD_LINK:
    case AB_MD_IMAGE: mrkdwn_link_close(m, n); break;
    default: break;
    }
    return m->rc;
}

/* Convert a whole Markdown text through the host's parser. */
int
mrkdwn_from_markdown(const struct ab_host_services *svc, struct ab_host *h, const char *md,
                     char **out)
{
    static const struct ab_md_visitor visitor = {
        .size = sizeof(visitor), .enter = mrkdwn_enter, .leave = mrkdwn_leave};
    struct mrkdwn m = {.line_start = true};
    int rc;

    *out = NULL;
    if (!AB_HAS(svc, struct ab_host_services, md_walk) || !svc->md_walk)
        return AB_ENOTSUP;
    if (!mrkdwn_room(&m, 0))
        return AB_ENOMEM;
    m.s[0] = '\0';
    rc = svc->md_walk(h, md, strlen(md), &visitor, &m);
    free(m.pre);
    free(m.marks);
    if (rc < 0) {
        free(m.s);
        return rc;
    }
    *out = m.s;
    return 0;
}
