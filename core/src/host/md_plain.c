/* The md_plain service: the agent's Markdown as plain text, for platforms that show no
 * markup. A visitor over md_walk: blocks on their own lines (a blank line between
 * them where the author left one), quotes prefixed "> ", list items "• " or "N. " with
 * their continuation lines indented, links as "text (url)", code kept verbatim. */
#include "host/services.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/textbuf.h"

/* One container's line prefix: @first on its first line, @rest on the others. */
struct plain_prefix {
    char first[24];
    char rest[24];
    bool first_done;
};

struct plain {
    struct textbuf b;
    struct plain_prefix *pre; /* owned: the open quotes and items, outermost first */
    size_t npre, cap;
    bool line_start;   /* the next byte starts a line: write the prefixes first */
    bool started;      /* a block has been written */
    uint32_t last_end; /* the source line the last finished block ended on */
    bool open;         /* a quote's or item's first block has not started yet */
    size_t link_at;    /* where the open link's text starts in b */
};

/* Write the open containers' prefixes (@blank: a blank line, no trailing spaces). */
static int
plain_prefixes(struct plain *p, bool blank)
{
    size_t len0 = p->b.len;
    int rc = 0;

    for (size_t i = 0; i < p->npre && rc == 0; i++) {
        struct plain_prefix *x = &p->pre[i];
        rc = textbuf_append_str(&p->b, x->first_done || blank ? x->rest : x->first);
        if (!blank)
            x->first_done = true;
    }
    if (blank)
        while (p->b.len > len0 && p->b.data[p->b.len - 1] == ' ')
            p->b.data[--p->b.len] = '\0';
    return rc;
}

/* Append @s[0..n) as content: prefixes at each line start. */
static int
plain_put(struct plain *p, const char *s, size_t n)
{
    int rc = 0;

    while (n > 0 && rc == 0) {
        const char *nl = memchr(s, '\n', n);
        size_t k = nl ? (size_t)(nl - s) + 1 : n;
        if (p->line_start && k > (nl ? 1u : 0u) && (rc = plain_prefixes(p, false)) < 0)
            break;
        if (p->line_start && nl && k == 1 && (rc = plain_prefixes(p, true)) < 0)
            break;
        rc = textbuf_append(&p->b, s, k);
        p->line_start = nl != NULL;
        s += k;
        n -= k;
    }
    return rc;
}

/* Start block @n: end the previous one's line, and keep a blank line before it. */
static int
plain_block(struct plain *p, const struct ab_md_node *n)
{
    int rc = 0;

    if (p->open) {
        p->open = false;
        return 0;
    }
    if (p->started) {
        if (!p->line_start)
            rc = plain_put(p, "\n", 1);
        /* a blank line where the author left one */
        if (rc == 0 && n->start_line > p->last_end + 1 &&
            (n->kind != AB_MD_TABLE_ROW || n->index == 0))
            rc = plain_put(p, "\n", 1);
    }
    p->started = true;
    if (n->start_line > p->last_end)
        p->last_end = n->start_line; /* an empty item ends where it starts */
    return rc;
}

/* Open a container prefix. */
static int
plain_push(struct plain *p, const char *first, const char *rest)
{
    if (p->npre == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct plain_prefix *grown = realloc(p->pre, cap * sizeof(*grown));
        if (!grown)
            return AB_ENOMEM;
        p->pre = grown;
        p->cap = cap;
    }
    snprintf(p->pre[p->npre].first, sizeof(p->pre[p->npre].first), "%s", first);
    snprintf(p->pre[p->npre].rest, sizeof(p->pre[p->npre].rest), "%s", rest);
    p->pre[p->npre++].first_done = false;
    p->open = true;
    return 0;
}

/* An item's marker: "• ", "3. ", with "[ ] " or "[x] " for tasks. */
static int
plain_item(struct plain *p, const struct ab_md_node *n)
{
    char first[24], rest[24];
    int len;

    if (n->ordered)
        len = snprintf(first, sizeof(first), "%lu. ", (unsigned long)n->start + n->index);
    else
        len = snprintf(first, sizeof(first), "\xE2\x80\xA2 ");
    if (n->task)
        snprintf(first + len, sizeof(first) - (size_t)len, "%s", n->checked ? "[x] " : "[ ] ");
    /* continuation lines line up under the text (the bullet is one column wide) */
    len = n->ordered ? len : 2;
    memset(rest, ' ', (size_t)len);
    rest[len] = '\0';
    return plain_push(p, first, rest);
}

/* enter(): open blocks and containers, write leaves. */
static int
plain_enter(void *arg, const struct ab_md_node *n)
{
    struct plain *p = arg;
    int rc = 0;

    switch (n->kind) {
    case AB_MD_PARAGRAPH:
    case AB_MD_HEADING:
    case AB_MD_TABLE_ROW: return plain_block(p, n);
    case AB_MD_THEMATIC_BREAK: return (rc = plain_block(p, n)) < 0 ? rc : plain_put(p, "---", 3);
    case AB_MD_CODE_BLOCK:
    case AB_MD_HTML_BLOCK:
        if ((rc = plain_block(p, n)) < 0 || (rc = plain_put(p, n->literal, n->literal_len)) < 0)
            return rc;
        /* the block's last newline is the line end the next block starts with */
        if (p->line_start && p->b.len > 0 && p->b.data[p->b.len - 1] == '\n') {
            p->b.data[--p->b.len] = '\0';
            p->line_start = false;
        }
        return 0;
    case AB_MD_BLOCK_QUOTE: return (rc = plain_block(p, n)) < 0 ? rc : plain_push(p, "> ", "> ");
    case AB_MD_ITEM: return (rc = plain_block(p, n)) < 0 ? rc : plain_item(p, n);
    case AB_MD_TABLE_CELL: return n->index > 0 ? plain_put(p, " | ", 3) : 0;
    case AB_MD_TEXT:
    case AB_MD_CODE:
    case AB_MD_HTML_INLINE: return plain_put(p, n->literal, n->literal_len);
    case AB_MD_SOFT_BREAK:
    case AB_MD_LINE_BREAK: return plain_put(p, "\n", 1);
    case AB_MD_LINK:
    case AB_MD_IMAGE: p->link_at = p->b.len; return 0;
    default: return 0;
    }
}

/* leave(): close containers, remember where the last block ended. */
static int
plain_leave(void *arg, const struct ab_md_node *n)
{
    struct plain *p = arg;
    size_t text;

    switch (n->kind) {
    case AB_MD_PARAGRAPH:
    case AB_MD_HEADING:
    case AB_MD_THEMATIC_BREAK:
    case AB_MD_CODE_BLOCK:
    case AB_MD_HTML_BLOCK:
    case AB_MD_TABLE_ROW: p->last_end = n->end_line; return 0;
    case AB_MD_BLOCK_QUOTE:
    case AB_MD_ITEM:
        if (p->open) { /* an empty item still shows its marker */
            p->open = false;
            if (plain_prefixes(p, false) < 0)
                return AB_ENOMEM;
            p->line_start = false;
        }
        if (p->npre > 0)
            p->npre--;
        return 0;
    case AB_MD_LINK:
    case AB_MD_IMAGE:
        text = p->b.len - p->link_at;
        if (!*n->url ||
            (text == strlen(n->url) && memcmp(p->b.data + p->link_at, n->url, text) == 0))
            return 0;
        if (text > 0 && plain_put(p, " (", 2) < 0)
            return AB_ENOMEM;
        if (plain_put(p, n->url, strlen(n->url)) < 0 || (text > 0 && plain_put(p, ")", 1) < 0))
            return AB_ENOMEM;
        return 0;
    default: return 0;
    }
}

/* service: Markdown as plain text. */
int
host_md_plain(struct ab_host *h, const char *md, size_t len, char **out)
{
    static const struct ab_md_visitor visitor = {
        .size = sizeof(visitor), .enter = plain_enter, .leave = plain_leave};
    struct plain p = {.line_start = true};
    int rc;

    if (!out)
        return AB_EINVAL;
    *out = NULL;
    rc = host_md_walk(h, md, len, &visitor, &p);
    free(p.pre);
    if (rc == 0 && !(*out = textbuf_take(&p.b)))
        rc = AB_ENOMEM;
    textbuf_free(&p.b);
    return rc;
}
