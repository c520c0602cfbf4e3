/* The live view of one turn: tool lines plus streamed text, and its tail preview. */
#include "render/render.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>

#include "render/fence.h"
#include "render/textbuf.h"
#include "render/utf8.h"

#define RENDER_ICON_RUNNING "\xF0\x9F\x94\xA7" /* 🔧 */
#define RENDER_ICON_DONE "\xE2\x9C\x85"        /* ✅ */
#define RENDER_ICON_FAILED "\xE2\x9D\x8C"      /* ❌ */

struct render_tool {
    char *id;    /* owned */
    char *title; /* owned, sanitised; NULL until known */
    enum render_tool_status status;
};

/* A code fence in the text: opened by the line at open, body from body, closed by the
 * line ending before close (SIZE_MAX while still open). */
struct render_span {
    size_t open;
    size_t body;
    size_t close;
    struct fence f; /* offsets into the text */
};

struct render_state {
    enum render_tool_display display;
    struct render_tool *tools; /* owned array, first-seen order */
    size_t ntools, tools_cap;
    struct textbuf tool_lines; /* the tool section, no trailing newline */
    size_t tool_chars;
    struct textbuf text; /* the streamed text */
    size_t text_chars;
    struct fence fence;        /* fence open after the last complete line */
    size_t scan_line;          /* start of the first line not yet judged */
    struct render_span *spans; /* owned array */
    size_t nspans, spans_cap;
    uint64_t generation;
    struct textbuf full; /* cached full render */
    uint64_t full_generation;
    bool full_valid;
};

/* Map the config spelling to the enum. */
int
render_tool_display_parse(const char *name, enum render_tool_display *out)
{
    static const char *const names[] = {"full", "compact", "none"};
    size_t i;

    for (i = 0; name && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum render_tool_display)i;
            return 0;
        }
    }
    return AB_EINVAL;
}

/* Map ACP's status strings to the enum. */
int
render_tool_status_parse(const char *name, enum render_tool_status *out)
{
    static const char *const names[] = {"pending", "in_progress", "completed", "failed"};
    size_t i;

    if (name == NULL) {
        *out = RENDER_TOOL_KEEP;
        return 0;
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum render_tool_status)i;
            return 0;
        }
    }
    return AB_EINVAL;
}

/* Allocate an empty render. */
struct render_state *
render_new(enum render_tool_display display)
{
    struct render_state *r;

    if (display != RENDER_TOOLS_FULL && display != RENDER_TOOLS_COMPACT &&
        display != RENDER_TOOLS_NONE)
        return NULL;
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    r->display = display;
    return r;
}

/* Free the render and all it owns. */
void
render_free(struct render_state *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->ntools; i++) {
        free(r->tools[i].id);
        free(r->tools[i].title);
    }
    free(r->tools);
    free(r->spans);
    textbuf_free(&r->tool_lines);
    textbuf_free(&r->text);
    textbuf_free(&r->full);
    free(r);
}

/* Make a title safe inside an inline code span on one line (see render.h). Returns an
 * owned string, NULL for an empty title; *rc gets AB_ENOMEM on failure. */
static char *
render_sanitize_title(const char *title, int *rc)
{
    struct textbuf clean = {0}, out = {0};
    size_t i, cut;
    bool space = false;

    *rc = textbuf_append_utf8(&clean, title, strlen(title));
    for (i = 0; *rc == 0 && i < clean.len; i++) {
        char c = clean.data[i];
        if ((unsigned char)c < 0x20 || c == 0x7F || c == ' ') {
            space = out.len > 0;
            continue;
        }
        if (space && (*rc = textbuf_append(&out, " ", 1)) < 0)
            break;
        space = false;
        *rc = textbuf_append(&out, c == '`' ? "'" : &c, 1);
    }
    textbuf_free(&clean);
    if (*rc == 0 && out.len > 0 && utf8_count(out.data, out.len) > RENDER_TITLE_MAX_CHARS) {
        cut = utf8_truncate(out.data, out.len, RENDER_TITLE_MAX_CHARS - 1);
        out.len = cut;
        *rc = textbuf_append_str(&out, UTF8_ELLIPSIS);
    }
    if (*rc < 0 || out.len == 0) {
        textbuf_free(&out);
        return NULL;
    }
    return textbuf_take(&out);
}

/* Whether a status means the tool is still running. */
static bool
render_is_running(enum render_tool_status s)
{
    return s == RENDER_TOOL_PENDING || s == RENDER_TOOL_IN_PROGRESS;
}

/* One full-mode line for @t. */
static int
render_tool_line(struct textbuf *b, const struct render_tool *t)
{
    const char *icon = render_is_running(t->status)      ? RENDER_ICON_RUNNING
                       : t->status == RENDER_TOOL_FAILED ? RENDER_ICON_FAILED
                                                         : RENDER_ICON_DONE;
    int rc;

    if ((rc = textbuf_append_str(b, icon)) < 0 || (rc = textbuf_append_str(b, " `")) < 0 ||
        (rc = textbuf_append_str(b, t->title ? t->title : "tool")) < 0 ||
        (rc = textbuf_append_str(b, "`")) < 0)
        return rc;
    return render_is_running(t->status) ? textbuf_append_str(b, UTF8_ELLIPSIS) : 0;
}

/* The compact summary line (format in render.h). */
static int
render_tool_summary(struct textbuf *b, const struct render_state *r)
{
    size_t done = 0, failed = 0, running = 0, i;
    const struct render_tool *newest = NULL;
    char line[160];
    int n, rc;

    for (i = 0; i < r->ntools; i++) {
        if (render_is_running(r->tools[i].status)) {
            running++;
            newest = &r->tools[i];
        } else if (r->tools[i].status == RENDER_TOOL_FAILED) {
            failed++;
        } else {
            done++;
        }
    }
    n = snprintf(line, sizeof(line), "%s %zu tool%s:",
                 running  ? RENDER_ICON_RUNNING
                 : failed ? RENDER_ICON_FAILED
                          : RENDER_ICON_DONE,
                 r->ntools, r->ntools == 1 ? "" : "s");
    if (done)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %zu done,", done);
    if (failed)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %zu failed,", failed);
    if (running)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %zu running,", running);
    if ((rc = textbuf_append(b, line, (size_t)n - 1)) < 0 || newest == NULL)
        return rc;
    if ((rc = textbuf_append_str(b, " \xC2\xB7 `")) < 0 ||
        (rc = textbuf_append_str(b, newest->title ? newest->title : "tool")) < 0)
        return rc;
    return textbuf_append_str(b, "`");
}

/* Rebuild the tool section; bump the generation only when it reads differently. */
static int
render_rebuild_tools(struct render_state *r)
{
    struct textbuf b = {0};
    size_t i;
    int rc = 0;

    if (r->display == RENDER_TOOLS_COMPACT && r->ntools > 0) {
        rc = render_tool_summary(&b, r);
    } else if (r->display == RENDER_TOOLS_FULL) {
        for (i = 0; rc == 0 && i < r->ntools; i++) {
            if (i > 0)
                rc = textbuf_append(&b, "\n", 1);
            if (rc == 0)
                rc = render_tool_line(&b, &r->tools[i]);
        }
    }
    if (rc < 0) {
        textbuf_free(&b);
        return rc;
    }
    if (b.len == r->tool_lines.len &&
        (b.len == 0 || memcmp(b.data, r->tool_lines.data, b.len) == 0)) {
        textbuf_free(&b);
        return 0;
    }
    textbuf_free(&r->tool_lines);
    r->tool_lines = b;
    r->tool_chars = utf8_count(b.data, b.len);
    r->generation++;
    return 0;
}

/* Find or append the tool @id. */
static int
render_tool_find(struct render_state *r, const char *id, struct render_tool **out)
{
    struct render_tool *t;
    size_t i;

    for (i = 0; i < r->ntools; i++) {
        if (strcmp(r->tools[i].id, id) == 0) {
            *out = &r->tools[i];
            return 0;
        }
    }
    if (r->ntools >= RENDER_TOOLS_MAX)
        return AB_EFULL;
    if (r->ntools == r->tools_cap) {
        size_t cap = r->tools_cap ? r->tools_cap * 2 : 8;
        if ((t = realloc(r->tools, cap * sizeof(*t))) == NULL)
            return AB_ENOMEM;
        r->tools = t;
        r->tools_cap = cap;
    }
    t = &r->tools[r->ntools];
    *t = (struct render_tool){.id = strdup(id), .status = RENDER_TOOL_PENDING};
    if (t->id == NULL)
        return AB_ENOMEM;
    r->ntools++;
    *out = t;
    return 0;
}

/* Upsert a tool and refresh the tool section. */
int
render_tool_upsert(struct render_state *r, const char *id, const char *title,
                   enum render_tool_status status)
{
    struct render_tool *t;
    char *clean = NULL;
    int rc;

    if (r == NULL || id == NULL || *id == '\0' || status < RENDER_TOOL_KEEP ||
        status > RENDER_TOOL_FAILED)
        return AB_EINVAL;
    if (title && (clean = render_sanitize_title(title, &rc)) == NULL && rc < 0)
        return rc;
    if ((rc = render_tool_find(r, id, &t)) < 0) {
        free(clean);
        return rc;
    }
    if (clean) {
        free(t->title);
        t->title = clean;
    }
    if (status != RENDER_TOOL_KEEP && render_is_running(t->status))
        t->status = status;
    else if (status == RENDER_TOOL_COMPLETED || status == RENDER_TOOL_FAILED)
        t->status = status;
    return render_rebuild_tools(r);
}

/* Judge the lines completed since the last append, recording fence spans. */
static int
render_scan_fences(struct render_state *r)
{
    const char *s = r->text.data, *nl;
    size_t le;

    while ((nl = memchr(s + r->scan_line, '\n', r->text.len - r->scan_line)) != NULL) {
        le = (size_t)(nl - s);
        if (r->fence.mark) {
            if (fence_closes(&r->fence, s + r->scan_line, le - r->scan_line)) {
                r->fence.mark = 0;
                r->spans[r->nspans - 1].close = le + 1;
            }
        } else if (fence_opens(s + r->scan_line, le - r->scan_line, &r->fence)) {
            if (r->nspans == r->spans_cap) {
                size_t cap = r->spans_cap ? r->spans_cap * 2 : 8;
                struct render_span *p = realloc(r->spans, cap * sizeof(*p));
                if (p == NULL) {
                    r->fence.mark = 0;
                    return AB_ENOMEM;
                }
                r->spans = p;
                r->spans_cap = cap;
            }
            r->fence.line = r->scan_line;
            r->fence.info += r->scan_line;
            r->spans[r->nspans++] = (struct render_span){
                .open = r->scan_line, .body = le + 1, .close = SIZE_MAX, .f = r->fence};
        }
        r->scan_line = le + 1;
    }
    return 0;
}

/* Append streamed text. */
int
render_append_text(struct render_state *r, const char *text, size_t len)
{
    size_t before;
    int rc;

    if (r == NULL || (text == NULL && len > 0))
        return AB_EINVAL;
    if (len == 0)
        return 0;
    before = r->text.len;
    if ((rc = textbuf_append_utf8(&r->text, text, len)) < 0)
        return rc;
    r->text_chars += utf8_count(r->text.data + before, r->text.len - before);
    r->generation++;
    return render_scan_fences(r);
}

/* Whether the tool section and the text are separated by a blank line. */
static size_t
render_separator(const struct render_state *r)
{
    return r->tool_lines.len > 0 && r->text.len > 0 ? 2 : 0;
}

/* Build (or reuse) the full render. */
const char *
render_text(struct render_state *r)
{
    if (r == NULL)
        return NULL;
    if (r->full_valid && r->full_generation == r->generation)
        return r->full.data ? r->full.data : "";
    r->full.len = 0;
    if (textbuf_reserve(&r->full, r->tool_lines.len + 2 + r->text.len) < 0)
        return NULL;
    textbuf_append(&r->full, r->tool_lines.data, r->tool_lines.len);
    textbuf_append(&r->full, "\n\n", render_separator(r));
    textbuf_append(&r->full, r->text.data, r->text.len);
    r->full_valid = true;
    r->full_generation = r->generation;
    return r->full.data;
}

/* Code points of the full render. */
size_t
render_chars(const struct render_state *r)
{
    return r ? r->tool_chars + render_separator(r) + r->text_chars : 0;
}

/* The generation counter. */
uint64_t
render_generation(const struct render_state *r)
{
    return r ? r->generation : 0;
}

/* The fence open at text offset @x, if any; moves *x past an opening line it falls in. */
static const struct fence *
render_fence_at(const struct render_state *r, size_t *x)
{
    size_t i = r->nspans;

    while (i > 0 && r->spans[i - 1].open >= *x)
        i--;
    if (i == 0)
        return NULL;
    if (*x < r->spans[i - 1].body) {
        *x = r->spans[i - 1].body;
        return *x < r->text.len ? &r->spans[i - 1].f : NULL;
    }
    return *x < r->spans[i - 1].close ? &r->spans[i - 1].f : NULL;
}

/* Emit "…", the reopening line of @f when not NULL, and @s[start..len). */
static int
render_emit_tail(const struct render_state *r, const char *s, size_t len, size_t start,
                 const struct fence *f, char **out)
{
    struct textbuf b = {0};
    size_t reopen = f ? fence_reopen_len(f, true) : 0;
    int rc;

    if ((rc = textbuf_reserve(&b, 4 + reopen + len - start)) < 0)
        return rc;
    textbuf_append_str(&b, UTF8_ELLIPSIS);
    if (f) {
        textbuf_append(&b, "\n", 1);
        fence_write_reopen(f, r->text.data, true, b.data + b.len);
        b.len += reopen;
    }
    textbuf_append(&b, s + start, len - start);
    *out = textbuf_take(&b);
    return 0;
}

/* The tail of @s[0..len) within @max code points (see render_live). @shift is where the
 * text starts in @s, so fence spans (text offsets) apply to s[shift..]. */
static int
render_tail(struct render_state *r, const char *s, size_t len, size_t shift, size_t max, char **out)
{
    size_t budget = max - 1, start, at, half, attempt, reopen;
    const struct fence *f = NULL;
    const char *nl;

    for (attempt = 0; attempt < 3; attempt++) {
        start = utf8_skip_back(s, len, len, budget);
        start = utf8_cut_after(s, len, start);
        half = utf8_skip(s, len, start, budget / 2, NULL);
        nl = memchr(s + start, '\n', half - start);
        if (nl && (size_t)(nl - s) + 1 < len)
            start = (size_t)(nl - s) + 1;
        if (start < shift)
            return render_emit_tail(r, s, len, start, NULL, out);
        at = start - shift;
        f = render_fence_at(r, &at);
        start = at + shift;
        if (f == NULL)
            return render_emit_tail(r, s, len, start, NULL, out);
        reopen = 1 + f->width + 1 + utf8_count(r->text.data + f->info, f->info_len);
        if (1 + reopen + utf8_count(s + start, len - start) <= max)
            return render_emit_tail(r, s, len, start, f, out);
        if (1 + reopen >= max)
            break;
        budget = max - 1 - reopen;
    }
    /* The limit is too small for the reopening line: show the plain tail. */
    start = utf8_cut_after(s, len, utf8_skip_back(s, len, len, max - 1));
    return render_emit_tail(r, s, len, start, NULL, out);
}

/* The live message: everything, or the tail. */
int
render_live(struct render_state *r, size_t max_chars, char **out)
{
    const char *full;

    if (out)
        *out = NULL;
    if (r == NULL || out == NULL || max_chars == 0)
        return AB_EINVAL;
    if (render_chars(r) <= max_chars || (r->text.len > 0 && r->text_chars >= max_chars - 1)) {
        if (render_chars(r) > max_chars)
            return render_tail(r, r->text.data, r->text.len, 0, max_chars, out);
        if ((full = render_text(r)) == NULL || (*out = strdup(full)) == NULL)
            return AB_ENOMEM;
        return 0;
    }
    if ((full = render_text(r)) == NULL)
        return AB_ENOMEM;
    return render_tail(r, full, r->full.len, r->tool_lines.len + render_separator(r), max_chars,
                       out);
}
