/* The live view of one turn: tool lines keyed by toolCallId, then the streamed text.
 *
 * The render is the tool section, a blank line, then the text (either part alone when
 * the other is empty). Tool lines depend on the display mode ([reactions] tool_display):
 *   full     one line per tool, in first-seen order:
 *              running (pending or in progress)  🔧 `title`…
 *              completed                         ✅ `title`
 *              failed                            ❌ `title`
 *   compact  one summary line; its icon is 🔧 while a tool runs, else ❌ if one failed,
 *            else ✅; counts are listed done, failed, running (zero counts left out),
 *            then the newest running tool's title:
 *              🔧 3 tools: 2 done, 1 running · `cargo test`
 *              ✅ 1 tool: 1 done
 *   none     no tool lines.
 * Titles are sanitised: backticks become ', control characters and runs of whitespace
 * one space, invalid UTF-8 U+FFFD; they are cut at 100 characters with …; a tool whose
 * title is not known yet shows as `tool`. Thought chunks are never passed here.
 *
 * Pure and synchronous; one render_state per turn, used from one thread. */
#ifndef AB_RENDER_RENDER_H
#define AB_RENDER_RENDER_H

#include <stddef.h>
#include <stdint.h>

enum render_tool_display {
    RENDER_TOOLS_FULL = 0,
    RENDER_TOOLS_COMPACT = 1,
    RENDER_TOOLS_NONE = 2,
};

enum render_tool_status {
    RENDER_TOOL_KEEP = -1, /* leave the status as it is (a new tool starts pending) */
    RENDER_TOOL_PENDING = 0,
    RENDER_TOOL_IN_PROGRESS = 1,
    RENDER_TOOL_COMPLETED = 2,
    RENDER_TOOL_FAILED = 3,
};

/* Longest sanitised tool title, in code points, before it is cut with …. */
#define RENDER_TITLE_MAX_CHARS 100

/* Tools one render keeps; a new id past them is refused (AB_EFULL). */
#define RENDER_TOOLS_MAX 256

struct render_state;

/* Parse "full" | "compact" | "none" into *out. 0 or AB_EINVAL. */
int render_tool_display_parse(const char *name, enum render_tool_display *out);

/* Parse an ACP tool status ("pending", "in_progress", "completed", "failed"); NULL
 * gives RENDER_TOOL_KEEP. 0 or AB_EINVAL for anything else. */
int render_tool_status_parse(const char *name, enum render_tool_status *out);

/* A new, empty render (owned by the caller; free with render_free), or NULL when out
 * of memory or @display is not a known mode. */
struct render_state *render_new(enum render_tool_display display);

/* Free @r and everything it holds; NULL is fine. */
void render_free(struct render_state *r);

/* Create or update the tool @id (lent; copied). @title (lent, may be NULL) replaces the
 * known title when not NULL. @status RENDER_TOOL_KEEP leaves it as it is; a finished
 * tool (completed or failed) stays finished when a late pending/in_progress update
 * arrives. Returns 0, AB_EINVAL (NULL/empty id, unknown status), AB_EFULL (a new id
 * past RENDER_TOOLS_MAX: nothing changes) or AB_ENOMEM. */
int render_tool_upsert(struct render_state *r, const char *id, const char *title,
                       enum render_tool_status status);

/* Append @len bytes of agent message text (lent; copied; invalid UTF-8 and NUL bytes
 * become U+FFFD). Returns 0, AB_EINVAL or AB_ENOMEM. */
int render_append_text(struct render_state *r, const char *text, size_t len);

/* The full render, NUL-terminated; lent until the next call that changes @r. NULL only
 * when out of memory. */
const char *render_text(struct render_state *r);

/* Code points of the full render. */
size_t render_chars(const struct render_state *r);

/* What the one live message shows, at most @max_chars code points, into *out (owned by
 * the caller; free()). The full render when it fits; else its tail, prefixed with "…":
 * the tail starts at the first line boundary in its first half when there is one, else
 * at a grapheme boundary, and when it starts inside a code fence the fence is reopened
 * ("…\n```python\n" + tail) so the preview still renders as code. The live view shows
 * the text, not the tool lines, once the text alone fills it. Returns 0, AB_EINVAL
 * (NULL argument, max_chars == 0) or AB_ENOMEM. */
int render_live(struct render_state *r, size_t max_chars, char **out);

/* A counter that changes exactly when the render changes, so a pacer can skip an edit
 * that would show the same thing. */
uint64_t render_generation(const struct render_state *r);

#endif
