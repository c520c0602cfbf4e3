/* agent-broker plugin ABI (1.3): the agent's Markdown as a tree a plugin renders into
 * its platform's dialect (Slack mrkdwn, Telegram entities, Teams, Discord's subset).
 *
 * The host parses CommonMark with the GitHub extensions (tables, strikethrough,
 * autolinks, task lists) and walks the document depth-first, calling the plugin's
 * visitor on entering and on leaving every node, leaves included. No parser type
 * crosses the boundary: a node is the neutral struct below, lent for the call. */
#ifndef AGENT_BROKER_MARKDOWN_H
#define AGENT_BROKER_MARKDOWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a node is. Values never change; new kinds are only added at the end, so a
 * visitor treats an unknown kind as a container of its children (or skips it). */
enum ab_md_kind {
    AB_MD_DOCUMENT = 1,   /* the root; entered first, left last */
    AB_MD_PARAGRAPH,      /* block */
    AB_MD_HEADING,        /* block: level 1..6 */
    AB_MD_BLOCK_QUOTE,    /* block container */
    AB_MD_LIST,           /* block container of ITEMs: ordered, start, tight */
    AB_MD_ITEM,           /* block container; carries its list's fields and its index */
    AB_MD_CODE_BLOCK,     /* leaf: literal = the code (ends with \n), info = "c" etc. */
    AB_MD_HTML_BLOCK,     /* leaf: literal = the raw HTML lines */
    AB_MD_THEMATIC_BREAK, /* leaf: *** or --- */
    AB_MD_TABLE,          /* block container of TABLE_ROWs: columns */
    AB_MD_TABLE_ROW,      /* container of TABLE_CELLs: header */
    AB_MD_TABLE_CELL,     /* inline container: align, index = column */
    AB_MD_TEXT,           /* leaf: literal = text, entities and escapes already decoded */
    AB_MD_SOFT_BREAK,     /* leaf: a newline inside a paragraph */
    AB_MD_LINE_BREAK,     /* leaf: a hard line break (two spaces or \ at line end) */
    AB_MD_CODE,           /* leaf: code span, literal = its content */
    AB_MD_HTML_INLINE,    /* leaf: literal = a raw inline tag */
    AB_MD_EMPHASIS,       /* inline container: *x* or _x_ */
    AB_MD_STRONG,         /* inline container: **x** or __x__ */
    AB_MD_STRIKETHROUGH,  /* inline container: ~~x~~ */
    AB_MD_LINK,           /* inline container: url, title (autolinks too) */
    AB_MD_IMAGE,          /* inline container of the alt text: url, title */
};

/* Table cell alignment. */
enum ab_md_align {
    AB_MD_ALIGN_NONE = 0,
    AB_MD_ALIGN_LEFT = 1,
    AB_MD_ALIGN_CENTER = 2,
    AB_MD_ALIGN_RIGHT = 3,
};

/* One node, lent to the visitor for the call only (copy what you keep). Fields that do
 * not apply to the kind are 0, false or NULL. Strings are NUL-terminated UTF-8 as the
 * agent wrote them (possibly invalid UTF-8: the parser does not validate). */
struct ab_md_node {
    uint32_t size;        /* sizeof(struct ab_md_node) at the host's build */
    uint32_t kind;        /* enum ab_md_kind */
    uint32_t depth;       /* 0 for the document, its children 1, ... */
    uint32_t index;       /* position among its siblings, from 0 (a cell: its column) */
    const char *literal;  /* TEXT, CODE, CODE_BLOCK, HTML_*: the content; else NULL */
    size_t literal_len;   /* bytes of literal */
    const char *url;      /* LINK, IMAGE: the destination (may be ""); else NULL */
    const char *title;    /* LINK, IMAGE: the title, or NULL */
    const char *info;     /* CODE_BLOCK: the fence's info string (may be ""); else NULL */
    uint32_t level;       /* HEADING: 1..6 */
    bool ordered;         /* LIST, ITEM: 1. rather than - */
    bool tight;           /* LIST, ITEM: no blank lines between items */
    bool fenced;          /* CODE_BLOCK: ``` or ~~~ rather than indented */
    bool header;          /* TABLE_ROW, TABLE_CELL: the header row */
    bool task;            /* ITEM: a task list item ([ ] or [x]) */
    bool checked;         /* ITEM: a task item that is ticked */
    uint32_t start;       /* LIST, ITEM: the first number of an ordered list */
    uint32_t columns;     /* TABLE, TABLE_ROW, TABLE_CELL: the table's column count */
    uint32_t align;       /* TABLE_CELL: enum ab_md_align */
    uint32_t parent_kind; /* the parent's kind, 0 for the document */
    uint32_t start_line;  /* blocks: the first and last source line (from 1); a renderer */
    uint32_t end_line;    /* keeps the author's blank lines by comparing them; else 0 */
};

/* What enter() returns: go on, or do not descend into this node's children (its
 * leave() still runs). A negative AB_E* value stops the walk; md_walk returns it. */
#define AB_MD_CONTINUE 0
#define AB_MD_SKIP_CHILDREN 1

/* The plugin's visitor, lent for the walk. Either callback may be NULL. @arg is the
 * pointer given to md_walk. Callbacks run inside md_walk, on the caller's thread. */
struct ab_md_visitor {
    uint32_t size; /* sizeof(struct ab_md_visitor) at the plugin's build */
    int (*enter)(void *arg, const struct ab_md_node *node);
    int (*leave)(void *arg, const struct ab_md_node *node);
};

#endif
