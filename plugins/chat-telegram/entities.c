/* chat-telegram rendering: the agent's Markdown, walked by the host (md_walk), becomes
 * plain text plus a MessageEntity array. Nothing is escaped, so no agent text can make
 * Telegram answer "can't parse entities": every entity is built from the tree, nests
 * inside its parent, is never empty and never passes the text's end; offsets and
 * lengths are UTF-16 code units, as Telegram counts them. Invalid UTF-8 becomes U+FFFD
 * (Telegram refuses a body that is not UTF-8). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, strtok_r: built on its own against the installed headers too */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telegram.h"

#define TG_STACK_MAX 64 /* open containers deeper than this get no entity */

/* An open container waiting for its end. */
struct tg_open {
    uint32_t kind;
    size_t start; /* UTF-16 offset */
    size_t byte_start;
    char *url; /* LINK, IMAGE: owned */
    bool has_entity;
};

struct tg_render {
    char *buf;
    size_t len, cap;
    size_t units; /* UTF-16 length of buf */
    cJSON *entities;
    struct tg_open stack[TG_STACK_MAX];
    size_t depth;
    uint32_t quotes; /* open block quotes (only the outermost gets an entity) */
    uint32_t lists;  /* open lists */
    int err;
};

/* Append raw bytes known to be valid UTF-8. */
static void
tg_put_raw(struct tg_render *r, const char *s, size_t n)
{
    if (r->err)
        return;
    if (r->len + n + 1 > r->cap) {
        size_t cap = (r->cap ? r->cap * 2 : 256) + n;
        char *b = realloc(r->buf, cap);
        if (!b) {
            r->err = AB_ENOMEM;
            return;
        }
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, s, n);
    r->len += n;
    r->buf[r->len] = '\0';
    r->units += tg_utf16_len(s, n);
}

/* Append agent text: invalid UTF-8 bytes become U+FFFD. */
static void
tg_put(struct tg_render *r, const char *s, size_t n)
{
    size_t i = 0, run = 0;

    while (i < n) {
        size_t clean = tg_utf8_valid_len(s + i, n - i); /* one code point's bytes, or 0 */
        bool bad = clean == 0 || s[i] == '\0';
        if (bad) {
            tg_put_raw(r, s + run, i - run);
            tg_put_raw(r, "\xEF\xBF\xBD", 3);
            i += 1;
            run = i;
        } else {
            i += clean;
        }
    }
    tg_put_raw(r, s + run, n - run);
}

static void
tg_puts(struct tg_render *r, const char *s)
{
    tg_put_raw(r, s, strlen(s));
}

/* Make sure the text ends with at least @n newlines (none when it is empty). */
static void
tg_newlines(struct tg_render *r, size_t n)
{
    size_t have = 0;

    if (r->len == 0)
        return;
    while (have < r->len && have < n && r->buf[r->len - 1 - have] == '\n')
        have++;
    for (; have < n; have++)
        tg_puts(r, "\n");
}

/* Add an entity of @type over [start, units) with an optional extra member. */
static void
tg_entity(struct tg_render *r, const char *type, size_t start, const char *extra_key,
          const char *extra)
{
    cJSON *e;

    if (r->err || r->units <= start)
        return;
    if (!(e = cJSON_CreateObject()) || !cJSON_AddStringToObject(e, "type", type) ||
        !cJSON_AddNumberToObject(e, "offset", (double)start) ||
        !cJSON_AddNumberToObject(e, "length", (double)(r->units - start)) ||
        (extra_key && !cJSON_AddStringToObject(e, extra_key, extra))) {
        cJSON_Delete(e);
        r->err = AB_ENOMEM;
        return;
    }
    cJSON_AddItemToArray(r->entities, e);
}

/* Keep the entities that start at or after @from inside the text as it is now (white
 * space was trimmed off its end): shorten them, drop the empty ones. */
static void
tg_clamp(struct tg_render *r, size_t from)
{
    cJSON *e = r->entities ? r->entities->child : NULL, *next;

    for (; e; e = next) {
        double off = cJSON_GetObjectItem(e, "offset")->valuedouble;
        double len = cJSON_GetObjectItem(e, "length")->valuedouble;
        next = e->next;
        if (off < (double)from || off + len <= (double)r->units)
            continue;
        if ((double)r->units <= off)
            cJSON_Delete(cJSON_DetachItemViaPointer(r->entities, e));
        else
            cJSON_SetNumberValue(cJSON_GetObjectItem(e, "length"), (double)r->units - off);
    }
}

/* True for a URL Telegram takes in a text_link. */
static bool
tg_linkable(const char *url)
{
    if (!url || strlen(url) > 2048)
        return false;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return false;
    return strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0;
}

/* A fence's language, when it is a plain word. */
static bool
tg_language_ok(const char *info, size_t n)
{
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = info[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '#' || c == '.'))
            return false;
    }
    return true;
}

/* Separate a block from what came before. */
static void
tg_block_start(struct tg_render *r, const struct ab_md_node *n)
{
    if (n->parent_kind == AB_MD_ITEM && n->index == 0)
        return; /* right after the bullet */
    if (n->parent_kind == AB_MD_ITEM && n->tight)
        tg_newlines(r, 1);
    else
        tg_newlines(r, n->kind == AB_MD_LIST && n->parent_kind == AB_MD_ITEM ? 1 : 2);
}

/* Entering a node. */
static int
tg_enter(void *arg, const struct ab_md_node *n)
{
    struct tg_render *r = arg;
    struct tg_open *o = r->depth < TG_STACK_MAX ? &r->stack[r->depth] : NULL;
    char bullet[32];

    if (o)
        *o = (struct tg_open){.kind = n->kind, .start = r->units, .byte_start = r->len};
    r->depth++;
    switch (n->kind) {
    case AB_MD_PARAGRAPH:
    case AB_MD_HEADING:
    case AB_MD_TABLE:
    case AB_MD_HTML_BLOCK:
    case AB_MD_THEMATIC_BREAK:
        tg_block_start(r, n);
        if (o)
            o->start = r->units;
        if (n->kind == AB_MD_HTML_BLOCK && n->literal)
            tg_put(r, n->literal, n->literal_len);
        else if (n->kind == AB_MD_THEMATIC_BREAK)
            tg_puts(r, "———");
        break;
    case AB_MD_BLOCK_QUOTE:
        tg_block_start(r, n);
        if (o)
            o->start = r->units;
        r->quotes++;
        break;
    case AB_MD_LIST:
        if (r->lists == 0 || n->parent_kind != AB_MD_ITEM)
            tg_block_start(r, n);
        r->lists++;
        break;
    case AB_MD_ITEM:
        if (n->index > 0 || n->parent_kind != AB_MD_LIST)
            tg_newlines(r, n->tight ? 1 : 2);
        else
            tg_newlines(r, 1);
        for (uint32_t i = 1; i < r->lists; i++)
            tg_puts(r, "   ");
        if (n->ordered)
            snprintf(bullet, sizeof(bullet), "%u. ", n->start + n->index);
        else
            snprintf(bullet, sizeof(bullet), "• ");
        tg_puts(r, bullet);
        if (n->task)
            tg_puts(r, n->checked ? "☑ " : "☐ ");
        if (o)
            o->start = r->units;
        break;
    case AB_MD_CODE_BLOCK: {
        size_t len = n->literal_len, info_len = 0;
        tg_block_start(r, n);
        while (len > 0 && n->literal[len - 1] == '\n')
            len--;
        size_t start = r->units;
        const char *rest = n->info ? n->info : "";
        if (n->info)
            while (n->info[info_len] && n->info[info_len] != ' ')
                info_len++;
        if (tg_language_ok(rest, info_len))
            rest += info_len;
        while (*rest == ' ')
            rest++;
        if (*rest) {
            /* an info string that is no language: its words stay, as the first line */
            tg_put(r, rest, strlen(rest));
            if (len > 0)
                tg_puts(r, "\n");
        }
        tg_put(r, n->literal ? n->literal : "", len);
        if (n->info && tg_language_ok(n->info, info_len)) {
            char lang[40];
            snprintf(lang, sizeof(lang), "%.*s", (int)info_len, n->info);
            tg_entity(r, "pre", start, "language", lang);
        } else {
            tg_entity(r, "pre", start, NULL, NULL);
        }
        break;
    }
    case AB_MD_TABLE_ROW: tg_newlines(r, 1); break;
    case AB_MD_TABLE_CELL:
        if (n->index > 0)
            tg_puts(r, " | ");
        if (o)
            o->start = r->units;
        break;
    case AB_MD_TEXT:
    case AB_MD_HTML_INLINE:
        if (n->literal)
            tg_put(r, n->literal, n->literal_len);
        break;
    case AB_MD_CODE: {
        size_t start = r->units;
        tg_put(r, n->literal ? n->literal : "", n->literal_len);
        tg_entity(r, "code", start, NULL, NULL);
        break;
    }
    case AB_MD_SOFT_BREAK:
    case AB_MD_LINE_BREAK: tg_puts(r, "\n"); break;
    case AB_MD_LINK:
    case AB_MD_IMAGE:
        if (o && n->url && !(o->url = strdup(n->url)))
            r->err = AB_ENOMEM;
        break;
    default: break;
    }
    return r->err ? r->err : AB_MD_CONTINUE;
}

/* Leaving a node: close its entity. */
static int
tg_leave(void *arg, const struct ab_md_node *n)
{
    struct tg_render *r = arg;
    struct tg_open *o;

    r->depth--;
    o = r->depth < TG_STACK_MAX ? &r->stack[r->depth] : NULL;
    switch (n->kind) {
    case AB_MD_HEADING:
    case AB_MD_STRONG:
        if (o)
            tg_entity(r, "bold", o->start, NULL, NULL);
        break;
    case AB_MD_EMPHASIS:
        if (o)
            tg_entity(r, "italic", o->start, NULL, NULL);
        break;
    case AB_MD_STRIKETHROUGH:
        if (o)
            tg_entity(r, "strikethrough", o->start, NULL, NULL);
        break;
    case AB_MD_BLOCK_QUOTE:
        r->quotes--;
        if (o && r->quotes == 0) {
            /* the quote's own trailing newlines stay outside it */
            size_t units = r->units;
            while (r->len > o->byte_start && r->buf[r->len - 1] == '\n') {
                r->len--;
                r->units--;
            }
            tg_clamp(r, o->start);
            tg_entity(r, "blockquote", o->start, NULL, NULL);
            for (; r->units < units;)
                tg_puts(r, "\n");
        }
        break;
    case AB_MD_LIST: r->lists--; break;
    case AB_MD_LINK:
    case AB_MD_IMAGE:
        if (!o)
            break;
        if (r->units > o->start && tg_linkable(o->url)) {
            tg_entity(r, "text_link", o->start, "url", o->url);
        } else if (o->url && *o->url) {
            /* the URL in words when it cannot be a link (or the text is empty) */
            size_t shown = r->len - o->byte_start;
            if (shown != strlen(o->url) || memcmp(r->buf + o->byte_start, o->url, shown) != 0) {
                tg_puts(r, shown ? " (" : "");
                tg_put(r, o->url, strlen(o->url));
                tg_puts(r, shown ? ")" : "");
            }
        }
        free(o->url);
        o->url = NULL;
        break;
    default: break;
    }
    return r->err ? r->err : AB_MD_CONTINUE;
}

/* Order entities by offset, the longer (outer) first. */
static int
tg_entity_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    double xo = cJSON_GetObjectItem(x, "offset")->valuedouble;
    double yo = cJSON_GetObjectItem(y, "offset")->valuedouble;
    double xl = cJSON_GetObjectItem(x, "length")->valuedouble;
    double yl = cJSON_GetObjectItem(y, "length")->valuedouble;

    return xo < yo ? -1 : xo > yo ? 1 : xl > yl ? -1 : xl < yl ? 1 : 0;
}

/* Trim trailing white space and keep every entity inside the text, sorted. */
static int
tg_finish(struct tg_render *r)
{
    size_t n = (size_t)cJSON_GetArraySize(r->entities), k = 0;
    cJSON **items, *e, *sorted;

    while (r->len > 0 && (r->buf[r->len - 1] == '\n' || r->buf[r->len - 1] == ' ')) {
        r->len--;
        r->units--;
    }
    if (r->buf)
        r->buf[r->len] = '\0';
    if (n == 0)
        return 0;
    if (!(items = calloc(n, sizeof(*items))) || !(sorted = cJSON_CreateArray())) {
        free(items);
        return AB_ENOMEM;
    }
    while ((e = cJSON_DetachItemFromArray(r->entities, 0))) {
        double off = cJSON_GetObjectItem(e, "offset")->valuedouble;
        double len = cJSON_GetObjectItem(e, "length")->valuedouble;
        if (off + len > (double)r->units)
            len = (double)r->units - off;
        if (len <= 0) {
            cJSON_Delete(e);
            continue;
        }
        cJSON_SetNumberValue(cJSON_GetObjectItem(e, "length"), len);
        items[k++] = e;
    }
    qsort(items, k, sizeof(*items), tg_entity_cmp);
    for (size_t i = 0; i < k; i++)
        cJSON_AddItemToArray(sorted, items[i]);
    free(items);
    cJSON_Delete(r->entities);
    r->entities = sorted;
    return 0;
}

/* Render Markdown as text + entities. */
int
tg_entities_render(const struct ab_host_services *svc, struct ab_host *h, const char *md,
                   char **text, cJSON **entities)
{
    struct tg_render r = {0};
    const struct ab_md_visitor v = {.size = sizeof(v), .enter = tg_enter, .leave = tg_leave};
    int rc;

    if (!AB_HAS(svc, struct ab_host_services, md_walk) || !svc->md_walk)
        return AB_ENOTSUP;
    if (!(r.entities = cJSON_CreateArray()))
        return AB_ENOMEM;
    rc = svc->md_walk(h, md, strlen(md), &v, &r);
    for (size_t i = 0; i < TG_STACK_MAX; i++)
        free(r.stack[i].url);
    if (rc == 0)
        rc = r.err;
    if (rc == 0)
        rc = tg_finish(&r);
    if (rc == 0 && r.len == 0) {
        /* nothing visible (an image without text, white space): the words as written */
        cJSON_Delete(r.entities);
        r.entities = cJSON_CreateArray();
        r.len = r.units = 0;
        tg_put(&r, md, strlen(md));
        rc = r.err ? r.err : tg_finish(&r);
        if (rc == 0 && r.len == 0)
            tg_puts(&r, "…");
        if (rc == 0)
            rc = r.err;
    }
    if (rc < 0 || !r.entities) {
        free(r.buf);
        cJSON_Delete(r.entities);
        return rc < 0 ? rc : AB_ENOMEM;
    }
    *text = r.buf;
    *entities = r.entities;
    return 0;
}
