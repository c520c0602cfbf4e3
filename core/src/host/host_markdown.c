/* The md_walk service: libcmark-gfm parses the agent's Markdown (CommonMark plus
 * GitHub's tables, strikethrough, autolinks and task lists) and the tree is walked
 * into a plugin's visitor as neutral nodes (agent-broker/markdown.h). */
#include "host/services.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>
#include <stdlib.h>
#include <string.h>

/* The GitHub extensions attached to every parser. */
static const char *const md_extensions[] = {"table", "strikethrough", "autolink", "tasklist"};

/* The walk in progress. */
struct md_walk {
    const struct ab_md_visitor *v; /* lent */
    void *arg;
    bool has_leave;
    uint32_t *next_index; /* owned: per depth, the index the next child gets */
    size_t depth_cap;
    const char *md; /* lent: the source */
    size_t len;
    size_t *line_at; /* owned: byte offset of each source line (line k at [k - 1]) */
    size_t lines;    /* entries in line_at */
};

/* Index where every source line starts (\n, \r\n and \r end a line, as in cmark). */
static int
md_index_lines(struct md_walk *w)
{
    size_t n = 1;

    for (size_t i = 0; i < w->len; i++)
        if (w->md[i] == '\n' || (w->md[i] == '\r' && (i + 1 == w->len || w->md[i + 1] != '\n')))
            n++;
    if (!(w->line_at = malloc(n * sizeof(*w->line_at))))
        return AB_ENOMEM;
    w->line_at[0] = 0;
    w->lines = 1;
    for (size_t i = 0; i < w->len; i++)
        if (w->md[i] == '\n' || (w->md[i] == '\r' && (i + 1 == w->len || w->md[i + 1] != '\n')))
            w->line_at[w->lines++] = i + 1;
    return 0;
}

/* Whether source line @k (from 1) holds nothing but white space and quote markers. */
static bool
md_line_blank(const struct md_walk *w, size_t k)
{
    size_t end;

    if (k == 0 || k > w->lines)
        return false;
    end = k < w->lines ? w->line_at[k] : w->len;
    for (size_t i = w->line_at[k - 1]; i < end; i++)
        if (!strchr(" \t\r\n>", w->md[i]) || w->md[i] == '\0')
            return false;
    return true;
}

/* The neutral kind of a cmark node, or 0 for kinds walked through transparently. */
static uint32_t
md_kind(cmark_node *n)
{
    const char *ext;

    switch (cmark_node_get_type(n)) {
    case CMARK_NODE_DOCUMENT: return AB_MD_DOCUMENT;
    case CMARK_NODE_BLOCK_QUOTE: return AB_MD_BLOCK_QUOTE;
    case CMARK_NODE_LIST: return AB_MD_LIST;
    case CMARK_NODE_ITEM: return AB_MD_ITEM;
    case CMARK_NODE_CODE_BLOCK: return AB_MD_CODE_BLOCK;
    case CMARK_NODE_HTML_BLOCK: return AB_MD_HTML_BLOCK;
    case CMARK_NODE_PARAGRAPH: return AB_MD_PARAGRAPH;
    case CMARK_NODE_HEADING: return AB_MD_HEADING;
    case CMARK_NODE_THEMATIC_BREAK: return AB_MD_THEMATIC_BREAK;
    case CMARK_NODE_TEXT: return AB_MD_TEXT;
    case CMARK_NODE_SOFTBREAK: return AB_MD_SOFT_BREAK;
    case CMARK_NODE_LINEBREAK: return AB_MD_LINE_BREAK;
    case CMARK_NODE_CODE: return AB_MD_CODE;
    case CMARK_NODE_HTML_INLINE: return AB_MD_HTML_INLINE;
    case CMARK_NODE_EMPH: return AB_MD_EMPHASIS;
    case CMARK_NODE_STRONG: return AB_MD_STRONG;
    case CMARK_NODE_LINK: return AB_MD_LINK;
    case CMARK_NODE_IMAGE: return AB_MD_IMAGE;
    default: break;
    }
    /* Extension node types are run-time values; their names are stable. */
    ext = cmark_node_get_type_string(n);
    if (strcmp(ext, "table") == 0)
        return AB_MD_TABLE;
    if (strcmp(ext, "table_row") == 0 || strcmp(ext, "table_header") == 0)
        return AB_MD_TABLE_ROW;
    if (strcmp(ext, "table_cell") == 0)
        return AB_MD_TABLE_CELL;
    if (strcmp(ext, "strikethrough") == 0)
        return AB_MD_STRIKETHROUGH;
    return 0;
}

/* Whether cmark's iterator reports @n once (enter only): the leaf types. */
static bool
md_is_leaf(cmark_node *n)
{
    switch (cmark_node_get_type(n)) {
    case CMARK_NODE_HTML_BLOCK:
    case CMARK_NODE_THEMATIC_BREAK:
    case CMARK_NODE_CODE_BLOCK:
    case CMARK_NODE_TEXT:
    case CMARK_NODE_SOFTBREAK:
    case CMARK_NODE_LINEBREAK:
    case CMARK_NODE_CODE:
    case CMARK_NODE_HTML_INLINE: return true;
    default: return false;
    }
}

/* The nearest ancestor of @n (or @n itself) that the walk shows, or NULL. */
static cmark_node *
md_shown(cmark_node *n)
{
    while (n && md_kind(n) == 0)
        n = cmark_node_parent(n);
    return n;
}

/* Fill the list fields of @out from the list node @list. */
static void
md_list_fields(cmark_node *list, struct ab_md_node *out)
{
    int start = cmark_node_get_list_start(list);

    out->ordered = cmark_node_get_list_type(list) == CMARK_ORDERED_LIST;
    out->tight = cmark_node_get_list_tight(list) != 0;
    out->start = out->ordered && start > 0 ? (uint32_t)start : 0;
}

/* The table that @n (a table, row or cell) belongs to. */
static cmark_node *
md_table_of(cmark_node *n)
{
    while (n && strcmp(cmark_node_get_type_string(n), "table") != 0)
        n = cmark_node_parent(n);
    return n;
}

/* Describe cmark node @n of neutral @kind as the visitor sees it. */
static void
md_describe(const struct md_walk *w, cmark_node *n, uint32_t kind, uint32_t depth, uint32_t index,
            struct ab_md_node *out)
{
    cmark_node *parent = md_shown(cmark_node_parent(n)), *table;
    const char *s;

    memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    out->kind = kind;
    out->depth = depth;
    out->index = index;
    out->parent_kind = parent ? md_kind(parent) : 0;
    if ((cmark_node_get_type(n) & CMARK_NODE_TYPE_MASK) == CMARK_NODE_TYPE_BLOCK) {
        int start = cmark_node_get_start_line(n), end = cmark_node_get_end_line(n);
        out->start_line = start > 0 ? (uint32_t)start : 0;
        out->end_line = end > 0 ? (uint32_t)end : out->start_line;
        /* cmark counts the blank lines that closed some blocks as theirs */
        while (out->end_line > out->start_line && md_line_blank(w, out->end_line))
            out->end_line--;
    }
    switch (kind) {
    case AB_MD_TEXT:
    case AB_MD_CODE:
    case AB_MD_CODE_BLOCK:
    case AB_MD_HTML_BLOCK:
    case AB_MD_HTML_INLINE:
        s = cmark_node_get_literal(n);
        out->literal = s ? s : "";
        out->literal_len = strlen(out->literal);
        if (kind == AB_MD_CODE_BLOCK) {
            s = cmark_node_get_fence_info(n);
            out->info = s ? s : "";
            int fence_len, fence_offset;
            char fence_char;
            out->fenced = cmark_node_get_fenced(n, &fence_len, &fence_offset, &fence_char) != 0;
        }
        break;
    case AB_MD_HEADING: out->level = (uint32_t)cmark_node_get_heading_level(n); break;
    case AB_MD_LIST: md_list_fields(n, out); break;
    case AB_MD_ITEM:
        if (cmark_node_parent(n))
            md_list_fields(cmark_node_parent(n), out);
        s = cmark_node_get_type_string(n);
        out->task = strcmp(s, "tasklist") == 0;
        out->checked = out->task && cmark_gfm_extensions_get_tasklist_item_checked(n);
        break;
    case AB_MD_LINK:
    case AB_MD_IMAGE:
        s = cmark_node_get_url(n);
        out->url = s ? s : "";
        s = cmark_node_get_title(n);
        out->title = s && *s ? s : NULL;
        break;
    case AB_MD_TABLE:
    case AB_MD_TABLE_ROW:
    case AB_MD_TABLE_CELL:
        if (!(table = md_table_of(n)))
            break;
        out->columns = cmark_gfm_extensions_get_table_columns(table);
        if (kind == AB_MD_TABLE_ROW)
            out->header = cmark_gfm_extensions_get_table_row_is_header(n) != 0;
        if (kind == AB_MD_TABLE_CELL && cmark_node_parent(n)) {
            uint8_t *al = cmark_gfm_extensions_get_table_alignments(table);
            out->header = cmark_gfm_extensions_get_table_row_is_header(cmark_node_parent(n)) != 0;
            if (al && index < out->columns)
                out->align = al[index] == 'l'   ? AB_MD_ALIGN_LEFT
                             : al[index] == 'c' ? AB_MD_ALIGN_CENTER
                             : al[index] == 'r' ? AB_MD_ALIGN_RIGHT
                                                : AB_MD_ALIGN_NONE;
        }
        break;
    default: break;
    }
}

/* Make room for depth @depth in the index stack. */
static int
md_depth_reserve(struct md_walk *w, size_t depth)
{
    uint32_t *grown;
    size_t cap;

    if (depth < w->depth_cap)
        return 0;
    cap = w->depth_cap ? w->depth_cap * 2 : 32;
    while (cap <= depth)
        cap *= 2;
    if (!(grown = realloc(w->next_index, cap * sizeof(*grown))))
        return AB_ENOMEM;
    w->next_index = grown;
    w->depth_cap = cap;
    return 0;
}

/* Call leave() for @node. */
static int
md_leave(struct md_walk *w, const struct ab_md_node *node)
{
    int rc = w->has_leave && w->v->leave ? w->v->leave(w->arg, node) : 0;

    return rc < 0 ? rc : 0;
}

/* Walk the parsed @doc through the visitor. */
static int
md_walk_tree(struct md_walk *w, cmark_node *doc)
{
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    struct ab_md_node node;
    size_t depth = 0;
    int rc = 0;

    if (!it)
        return AB_ENOMEM;
    while (rc == 0 && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it);
        uint32_t kind = md_kind(n);
        bool leaf = md_is_leaf(n);

        if (kind == 0)
            continue; /* an unknown extension node: its children are walked in place */
        if (ev == CMARK_EVENT_EXIT) {
            depth--;
            md_describe(w, n, kind, (uint32_t)depth, 0, &node);
            node.index = depth > 0 ? w->next_index[depth] - 1 : 0;
            rc = md_leave(w, &node);
            continue;
        }
        if ((rc = md_depth_reserve(w, depth + 1)) < 0)
            break;
        md_describe(w, n, kind, (uint32_t)depth, depth > 0 ? w->next_index[depth]++ : 0, &node);
        rc = w->v->enter ? w->v->enter(w->arg, &node) : AB_MD_CONTINUE;
        if (rc < 0)
            break;
        if (leaf) {
            rc = md_leave(w, &node);
            continue;
        }
        if (rc == AB_MD_SKIP_CHILDREN) {
            cmark_iter_reset(it, n, CMARK_EVENT_EXIT);
            rc = md_leave(w, &node);
            continue;
        }
        rc = 0;
        depth++;
        w->next_index[depth] = 0;
    }
    cmark_iter_free(it);
    return rc;
}

/* Parse @md into a cmark document with the GitHub extensions; NULL on failure. */
static cmark_node *
md_parse(const char *md, size_t len)
{
    cmark_parser *p;
    cmark_node *doc;

    cmark_gfm_core_extensions_ensure_registered();
    if (!(p = cmark_parser_new(CMARK_OPT_DEFAULT)))
        return NULL;
    for (size_t i = 0; i < sizeof(md_extensions) / sizeof(md_extensions[0]); i++) {
        cmark_syntax_extension *ext = cmark_find_syntax_extension(md_extensions[i]);
        if (ext)
            cmark_parser_attach_syntax_extension(p, ext);
    }
    cmark_parser_feed(p, md, len);
    doc = cmark_parser_finish(p);
    cmark_parser_free(p);
    return doc;
}

/* service: parse Markdown and walk it into a visitor. */
int
host_md_walk(struct ab_host *h, const char *md, size_t len, const struct ab_md_visitor *v,
             void *arg)
{
    struct md_walk w = {.v = v, .arg = arg, .md = md, .len = len};
    cmark_node *doc;
    int rc;

    (void)h;
    if (!md || !v || v->size < offsetof(struct ab_md_visitor, enter) + sizeof(v->enter))
        return AB_EINVAL;
    w.has_leave = AB_HAS(v, struct ab_md_visitor, leave);
    if (!(doc = md_parse(md, len)))
        return AB_ENOMEM;
    if ((rc = md_depth_reserve(&w, 1)) == 0 && (rc = md_index_lines(&w)) == 0)
        rc = md_walk_tree(&w, doc);
    cmark_node_free(doc);
    free(w.next_index);
    free(w.line_at);
    return rc;
}
