/* One turn: the prompt to the agent, the live render, the final split, the status
 * reactions and the permission questions asked in the thread. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conv/commands.h"
#include "conv/engine_priv.h"
#include "conv/outbox.h"
#include "log.h"
#include "render/split.h"

#define TURN_PLACEHOLDER "…"
/* Agent text a turn holds at most without [stream] max_parts, in code points. */
#define TURN_TEXT_MAX_CHARS ((size_t)1 << 20)

static void turn_flush(void *arg, uint64_t generation, bool is_final);

/* The render changed: tell the pacer. */
static void
turn_changed(struct turn *t)
{
    t->gen++;
    if (t->use_live)
        pacer_update(&t->pacer, t->gen);
}

/* Free a turn and what it owns (its conversation is told separately). */
static void
turn_free(struct turn *t)
{
    struct pending *p, *next;
    struct ask *a, *an;

    chat_owner_detach(&t->chat); /* late completions must not reach a freed turn */
    pacer_stop(&t->pacer);
    for (p = t->msgs; p; p = next) {
        next = p->next;
        pending_free(p);
    }
    for (a = t->asks; a; a = an) {
        an = a->next;
        clock_timer_stop(&a->timeout);
        free(a->message_id);
        free(a->channel_id);
        free(a->text);
        free(a);
    }
    status_reactions_free(t->rx);
    render_free(t->render);
    free(t->live_channel);
    free(t->live_id);
    free(t->outcome_line);
    free(t->footer);
    free(t);
}

/* Post what the agent left in the conversation's outbox. */
static void
turn_outbox(struct turn *t)
{
    const struct attach_config *ac = &t->e->cfg.attach;
    struct conversation *c = t->conv;

    for (size_t i = 0; i < ac->auto_upload_count; i++) {
        const char *d = ac->auto_upload_dirs[i];
        if (!ac->dir && d[0] != '/')
            continue;
        /* files written during this turn (one second of margin: mtime granularity) */
        outbox_flush_since(c->ci, ac->dir, d, c->reply_channel, c->reply_thread,
                           (int64_t)t->started_wall - 1);
    }
    if (!ac->outbox || !ac->dir)
        return;
    if (outbox_flush(c->ci, ac->dir, c->key, c->reply_channel, c->reply_thread) < 0)
        log_warn("engine", "%s: cannot read the outbox", c->key);
}

/* Every final message was delivered (or failed): the turn is over. */
static void
turn_complete(struct turn *t)
{
    struct conversation *c = t->conv;
    struct pending *p;

    if (t->rx) {
        if (t->is_error)
            reactions_error(&t->rx->r);
        else
            reactions_done(&t->rx->r, t->is_cancelled_by_user ? REACTIONS_OUTCOME_CANCELLED
                                      : t->had_tool_error     ? REACTIONS_OUTCOME_TOOL_ERRORS
                                      : t->had_text           ? REACTIONS_OUTCOME_OK
                                                              : REACTIONS_OUTCOME_EMPTY);
        status_reactions_release(t->rx);
        t->rx = NULL;
    }
    /* Older messages of a batch were only ever 👀: settle them too. */
    for (p = t->msgs; p; p = p->next) {
        if (!p->rx)
            continue;
        if (t->is_error)
            reactions_error(&p->rx->r);
        else
            reactions_done(&p->rx->r, REACTIONS_OUTCOME_OK);
        status_reactions_release(p->rx);
        p->rx = NULL;
    }
    engine_answered(t->e, t->msgs); /* its journal entries are done */
    turn_outbox(t);
    c->turn = NULL;
    turn_free(t);
    engine_turn_finished(c);
}

/* One final chunk was delivered (or failed: it was logged and counted). */
static void
turn_final_sent(void *arg, int status, const struct ab_msg_ref *ref)
{
    struct turn *t = arg;

    (void)ref;
    if (status < 0 && status != AB_ECANCELED)
        t->is_error = true;
    if (--t->final_pending == 0)
        turn_complete(t);
}

/* An edit of the live message into its final first chunk finished. */
static void
turn_final_edited(void *arg, int status)
{
    turn_final_sent(arg, status, NULL);
}

/* The whole reply: the render plus the line saying how the turn ended. */
static char *
turn_final_text(struct turn *t)
{
    const char *body = render_text(t->render);
    char *out, *redacted;

    char cut[160] = "";

    if (!body)
        return NULL;
    if (!*body && !t->outcome_line && !t->footer)
        return strdup("_(the agent finished without a reply)_");
    /* What was never held says so (past max_parts the split's own line counts it). */
    if (t->dropped_tools)
        snprintf(cut, sizeof(cut), "\n\n…%zu more tool calls not shown", t->dropped_tools);
    if (t->dropped_chars && t->e->cfg.max_parts == 0)
        snprintf(cut + strlen(cut), sizeof(cut) - strlen(cut),
                 "\n\n…truncated (%zu more characters)", t->dropped_chars);
    if (asprintf(&out, "%s%s%s%s%s%s", body, cut, *body && t->outcome_line ? "\n\n" : "",
                 t->outcome_line ? t->outcome_line : "",
                 t->footer && (*body || t->outcome_line) ? "\n\n" : "",
                 t->footer ? t->footer : "") < 0)
        return NULL;
    /* Redact before the split: a token across a chunk boundary would leave halves. */
    redacted = log_redact_dup(out);
    free(out);
    return redacted;
}

/* Past [stream] max_parts, the parts beyond it become one line saying how much was cut
 * (never a flood of messages, never a silent cut). */
static void
turn_truncate(struct turn *t, struct split_result *parts)
{
    size_t keep = t->e->cfg.max_parts, cut = t->dropped_chars;
    char *line = NULL;

    if (keep == 0 || parts->count <= keep)
        return;
    keep = keep > 1 ? keep - 1 : 1; /* the line takes the last part's place */
    for (size_t i = keep; i < parts->count; i++) {
        cut += parts->chunks[i].chars - parts->chunks[i].head - parts->chunks[i].tail;
        free(parts->chunks[i].text);
        parts->chunks[i].text = NULL;
    }
    if (asprintf(&line, "…truncated (%zu more characters)", cut) < 0)
        line = NULL;
    log_info("engine", "%s: reply cut after %zu messages (%zu characters)", t->conv->key, keep,
             cut);
    parts->chunks[keep].text = line;
    parts->chunks[keep].len = line ? strlen(line) : 0;
    parts->count = line ? keep + 1 : keep;
}

/* The reply file was posted (or not: logged and counted). */
static void
turn_final_uploaded(void *arg, int status)
{
    turn_final_sent(arg, status, NULL);
}

/* Past [stream] max_parts on a platform that takes files: the whole reply, redacted as
 * every text to chat is, in an anonymous memory file (never in the agent's directory: it
 * could swap the file before the upload reads it); *@fd its descriptor, posted as
 * /proc/self/fd/N after the first part (the other parts are dropped), or -1 when it
 * stays a truncation. */
static void
turn_reply_file(struct turn *t, const char *text, struct split_result *parts, int *fd)
{
    const struct ab_chat_ops *ops = t->conv->ci->ops;
    char *clean;
    size_t len, off = 0;

    *fd = -1;
    if (!t->e->cfg.max_parts || parts->count <= t->e->cfg.max_parts ||
        !chat_can_upload(t->conv->ci) || ops->max_upload_bytes < strlen(text))
        return;
    if (!(clean = log_redact_dup(text)) ||
        (*fd = memfd_create("reply.md", MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0) {
        log_warn("engine", "%s: cannot keep the long reply as a file", t->conv->key);
        free(clean);
        *fd = -1;
        return;
    }
    len = strlen(clean);
    while (off < len) {
        ssize_t n = write(*fd, clean + off, len - off); /* memory: never waits on a disk */
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(clean);
    if (off < len || fcntl(*fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) < 0) {
        log_warn("engine", "%s: cannot keep the long reply as a file", t->conv->key);
        close(*fd);
        *fd = -1;
        return;
    }
    for (size_t i = 1; i < parts->count; i++) {
        free(parts->chunks[i].text);
        parts->chunks[i].text = NULL;
    }
    parts->count = 1;
}

/* Split the reply at the platform's limit: the first chunk replaces the live message,
 * the others follow in order. */
static void
turn_send_final(struct turn *t)
{
    struct conversation *c = t->conv;
    struct chat_instance *ci = c->ci;
    struct split_result parts = {0};
    char *text = turn_final_text(t);
    int rc, file = -1;

    t->is_finalizing = true;
    if (!text || (rc = split_message(text, ci->ops->max_chars, &parts)) < 0 || parts.count == 0) {
        log_error("engine", "%s: cannot render the reply", c->key);
        free(text);
        split_result_free(&parts);
        t->is_error = true;
        turn_complete(t);
        return;
    }
    turn_reply_file(t, text, &parts, &file);
    free(text);
    turn_truncate(t, &parts);
    t->final_pending = (int)parts.count + 1 + (file >= 0); /* +1: synchronous completion */
    for (size_t i = 0; i < parts.count; i++) {
        if (i == 0 && t->live_id) {
            struct ab_msg_ref ref = {t->live_channel, t->live_id};
            rc = chat_edit(ci, &ref, parts.chunks[0].text, true, &t->chat, turn_final_edited, t);
        } else {
            rc = chat_send(ci, c->reply_channel, c->reply_thread, parts.chunks[i].text,
                           RATELIMIT_FINAL_TEXT, &t->chat, turn_final_sent, t);
        }
        if (rc < 0) {
            log_error("engine", "%s: cannot queue reply part %zu: %s", c->key, i + 1,
                      ab_strerror(rc));
            t->is_error = true;
            t->final_pending--;
        }
    }
    split_result_free(&parts);
    if (file >= 0) {
        char proc[32];
        struct ab_upload_file up = {.size = sizeof(up),
                                    .path = proc,
                                    .name = "reply.md",
                                    .content_type = "text/markdown",
                                    .bytes = 0};
        struct stat st;
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", file);
        if (fstat(file, &st) == 0)
            up.bytes = (uint64_t)st.st_size;
        if ((rc = chat_upload(ci, c->reply_channel, c->reply_thread, NULL, &up, 1, &file, &t->chat,
                              turn_final_uploaded, t)) < 0) {
            log_error("engine", "%s: cannot queue the reply file: %s", c->key, ab_strerror(rc));
            t->final_pending--;
        }
    }
    if (--t->final_pending == 0)
        turn_complete(t);
}

/* The placeholder / first live message was posted. */
static void
turn_live_sent(void *arg, int status, const struct ab_msg_ref *ref)
{
    struct turn *t = arg;

    if (status == 0 && ref && ref->message_id) {
        t->live_channel = strdup(ref->channel_id ? ref->channel_id : t->conv->reply_channel);
        t->live_id = strdup(ref->message_id);
    }
    pacer_flush_done(&t->pacer);
}

/* A live edit finished. */
static void
turn_live_edited(void *arg, int status)
{
    struct turn *t = arg;

    (void)status;
    pacer_flush_done(&t->pacer);
}

/* The live text as it is at the moment the post or edit goes out (after any wait in
 * the scheduler): the newest render, and the moment the pacer counts its interval from. */
static int
turn_live_text(void *arg, char **out)
{
    struct turn *t = arg;
    char *live = NULL;
    int rc;

    if ((rc = render_live(t->render, t->conv->ci->ops->max_chars, &live)) < 0)
        return rc;
    if (!*live) {
        free(live);
        if (!(live = strdup(TURN_PLACEHOLDER)))
            return AB_ENOMEM;
    } else {
        /* whole secrets first, then the piece of one the tail's cut may have left */
        char *clean = log_redact_dup(live);
        if (clean) {
            log_redact_cut_pieces(clean, 256);
            free(live);
            live = clean;
        }
    }
    pacer_flush_started(&t->pacer);
    *out = live;
    return 0;
}

/* The pacer says: show the latest render now (or, finally, the whole reply). */
static void
turn_flush(void *arg, uint64_t generation, bool is_final)
{
    struct turn *t = arg;
    struct chat_instance *ci = t->conv->ci;
    int rc;

    (void)generation;
    if (is_final) {
        turn_send_final(t);
        return;
    }
    if (!t->live_id)
        rc = chat_send_live(ci, t->conv->reply_channel, t->conv->reply_thread, turn_live_text,
                            &t->chat, turn_live_sent, t);
    else
        rc = chat_edit_live(ci, &(struct ab_msg_ref){t->live_channel, t->live_id}, turn_live_text,
                            &t->chat, turn_live_edited, t);
    if (rc < 0)
        pacer_flush_done(&t->pacer);
}

/* Map the ACP tool status to the renderer's. */
static enum render_tool_status
turn_tool_status(enum acp_tool_status s)
{
    switch (s) {
    case ACP_TOOL_PENDING: return RENDER_TOOL_PENDING;
    case ACP_TOOL_IN_PROGRESS: return RENDER_TOOL_IN_PROGRESS;
    case ACP_TOOL_COMPLETED: return RENDER_TOOL_COMPLETED;
    case ACP_TOOL_FAILED: return RENDER_TOOL_FAILED;
    default: return RENDER_TOOL_KEEP;
    }
}

/* The reaction class of a tool: the agent plugin's classify_tool when it has one (an
 * answer outside the enum counts as a generic tool), else the core's own. */
static enum reactions_tool_class
turn_classify_tool(const struct turn *t, const char *kind, const char *title)
{
    enum ab_tool_class (*classify)(const char *, const char *) =
        t->conv->agent == 0 ? t->e->cfg.classify_tool : engine_conv_agent(t->conv)->classify_tool;

    if (!classify)
        return reactions_classify_tool(kind, title);
    switch (classify(kind, title)) {
    case AB_TOOL_CODING: return REACTIONS_TOOL_CODING;
    case AB_TOOL_WEB: return REACTIONS_TOOL_WEB;
    default: return REACTIONS_TOOL_GENERIC;
    }
}
/* Code points in @len bytes of UTF-8 at @s (continuation bytes not counted). */
static size_t
turn_chars(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* The most agent text a turn holds, in code points: one part more than [stream]
 * max_parts can show (so the cut is always seen and counted), else TURN_TEXT_MAX_CHARS;
 * where a long reply goes out whole as reply.md (turn_reply_file), what the platform's
 * upload takes, within TURN_TEXT_MAX_CHARS. */
static size_t
turn_text_cap(const struct turn *t)
{
    const struct ab_chat_ops *ops = t->conv->ci->ops;
    size_t parts = t->e->cfg.max_parts, chars = ops->max_chars;

    if (parts && chat_can_upload(t->conv->ci) && ops->max_upload_bytes && t->e->cfg.attach.dir)
        return ops->max_upload_bytes < TURN_TEXT_MAX_CHARS ? (size_t)ops->max_upload_bytes
                                                           : TURN_TEXT_MAX_CHARS;
    if (parts == 0 || chars == 0 || (parts + 1) * chars > TURN_TEXT_MAX_CHARS)
        return TURN_TEXT_MAX_CHARS;
    return (parts + 1) * chars;
}

/* Append agent text up to the cap; what is past it is only counted. */
static void
turn_append_text(struct turn *t, const char *text, size_t len)
{
    size_t held = render_chars(t->render), cap = turn_text_cap(t), room, take = 0, n = 0;

    room = held < cap ? cap - held : 0;
    /* Take whole code points while they fit. */
    while (take < len) {
        size_t next = take + 1;
        while (next < len && ((unsigned char)text[next] & 0xC0) == 0x80)
            next++;
        if (n + 1 > room)
            break;
        n++;
        take = next;
    }
    if (take > 0)
        render_append_text(t->render, text, take);
    if (take < len) {
        if (t->dropped_chars == 0)
            log_warn("engine", "%s: the agent's reply passed %zu characters: the rest is cut",
                     t->conv->key, cap);
        t->dropped_chars += turn_chars(text + take, len - take);
    }
}

/* One event of the agent's turn. */
static void
turn_on_event(void *arg, const struct acp_event *ev)
{
    struct turn *t = arg;
    struct reactions *r = t->rx ? &t->rx->r : NULL;

    switch (ev->kind) {
    case ACP_EV_MESSAGE_CHUNK:
        if (ev->u.chunk.text && ev->u.chunk.len > 0) {
            turn_append_text(t, ev->u.chunk.text, ev->u.chunk.len);
            t->had_text = true;
            if (!t->had_first_reply) {
                t->had_first_reply = true;
                metrics_histogram_observe(&t->e->stats.first_reply_seconds,
                                          (double)(clock_now_ms(t->e->clock) - t->started_ms) /
                                              1000.0);
            }
            turn_changed(t);
        }
        if (r)
            reactions_progress(r);
        break;
    case ACP_EV_THOUGHT_CHUNK:
    case ACP_EV_PLAN:
    case ACP_EV_USAGE:
        if (r)
            reactions_progress(r);
        break;
    case ACP_EV_TOOL_CALL:
        if (render_tool_upsert(t->render, ev->u.tool.id, ev->u.tool.title,
                               turn_tool_status(ev->u.tool.status)) == AB_EFULL &&
            ev->u.tool.is_new && t->dropped_tools++ == 0)
            log_warn("engine",
                     "%s: the agent passed %d tool calls in one turn: the rest are "
                     "not shown",
                     t->conv->key, RENDER_TOOLS_MAX);
        if (ev->u.tool.status == ACP_TOOL_FAILED)
            t->had_tool_error = true;
        if (r) {
            reactions_progress(r);
            /* An update naming neither kind nor title is the same tool going on: its
             * class stays (classifying nothing would say "generic tool"). */
            if ((ev->u.tool.status == ACP_TOOL_PENDING ||
                 ev->u.tool.status == ACP_TOOL_IN_PROGRESS || ev->u.tool.is_new) &&
                (ev->u.tool.kind || ev->u.tool.title))
                reactions_tool(r, turn_classify_tool(t, ev->u.tool.kind, ev->u.tool.title));
            else if (ev->u.tool.status == ACP_TOOL_COMPLETED ||
                     ev->u.tool.status == ACP_TOOL_FAILED)
                reactions_thinking(r);
        }
        turn_changed(t);
        break;
    case ACP_EV_SESSION_RESET: {
        /* Say what happened to the context this thread had. */
        const char *line =
            ev->u.reset == ACP_RESET_CRASHED
                ? "⚠️ The agent stopped during an earlier turn, so this is a fresh session: it "
                  "does not remember this thread's earlier messages.\n\n"
            : ev->u.reset == ACP_RESET_LOAD_FAILED
                ? "⚠️ The earlier session could not be restored, so this is a fresh session: "
                  "it "
                  "does not remember this thread's earlier messages.\n\n"
                : "⚠️ Session expired, starting fresh…\n\n";
        render_append_text(t->render, line, strlen(line));
        turn_changed(t);
        break;
    }
    case ACP_EV_NOTICE:
        if (ev->u.notice)
            engine_post_notice(t->conv, ev->u.notice);
        break;
    default: break;
    }
}

/* The pool's start-failure message without its own "failed to start agent: " lead,
 * which the user-facing line already says. */
static const char *
turn_start_reason(const char *message)
{
    static const char lead[] = "failed to start agent: ";

    return strncasecmp(message, lead, sizeof(lead) - 1) == 0 ? message + sizeof(lead) - 1 : message;
}

/* The line that says how a turn ended when it is not a plain end_turn. */
static char *
turn_outcome_line(struct turn *t, const struct turn_result *r, const char *auth_hint)
{
    char *out = NULL;
    int n = 0;

    if (r->rc == 0) {
        const char *s = r->stop_reason ? r->stop_reason : "end_turn";
        if (strcmp(s, "end_turn") == 0)
            return NULL;
        /* A cancel nobody asked for while draining is the shutdown's: say so, or the
         * thread reads it as a user's 🛑. */
        if (strcmp(s, "cancelled") == 0 && t->e->is_draining && !t->is_cancelled_by_user)
            n = asprintf(&out,
                         "⚠️ agent-broker is shutting down; this turn was stopped — send "
                         "the message again in a minute.");
        else if (strcmp(s, "cancelled") == 0)
            n = asprintf(&out, "%s Cancelled.", t->e->cfg.emojis.cancel);
        else if (strcmp(s, "max_tokens") == 0)
            n = asprintf(&out, "⚠️ Stopped: the agent reached its token limit (max_tokens).");
        else if (strcmp(s, "max_turn_requests") == 0)
            n = asprintf(&out, "⚠️ Stopped: the agent reached its request limit for one turn "
                               "(max_turn_requests).");
        else if (strcmp(s, "refusal") == 0)
            n = asprintf(&out, "⚠️ The agent refused to continue (refusal).");
        else
            n = asprintf(&out, "⚠️ Stopped: %s.", s);
        return n < 0 ? NULL : out;
    }
    t->is_error = true;
    /* Timeouts and start failures first: the pool kills the agent in both cases, and
     * "stopped unexpectedly" would hide the reason (and the login hint). */
    if (r->rc == AB_ETIMEDOUT) {
        n = asprintf(&out, "⚠️ The agent made no progress for too long; the turn was stopped "
                           "(turn timed out).");
    } else if (r->auth_hint || r->rc == AB_EAUTH) {
        n = asprintf(&out, "⚠️ Failed to start agent: %s\nTo log in: %s",
                     turn_start_reason(r->message ? r->message : ab_strerror(r->rc)),
                     r->auth_hint ? r->auth_hint
                     : auth_hint  ? auth_hint
                                  : "see the agent's docs");
    } else if (r->agent_exited) {
        if (r->term_signal)
            n = asprintf(&out,
                         "⚠️ The agent stopped unexpectedly (killed by signal %d); the next "
                         "message starts a fresh session",
                         r->term_signal);
        else
            n = asprintf(&out,
                         "⚠️ The agent stopped unexpectedly (exit %" PRId64 "); the next "
                         "message starts a fresh session",
                         r->exit_status);
    } else if (r->rc == AB_ECLOSED) {
        n = asprintf(&out,
                     "⚠️ agent-broker is shutting down; this turn was stopped — send the "
                     "message again in a minute.");
    } else {
        n = asprintf(&out, "⚠️ The agent failed: %s",
                     r->message ? r->message : ab_strerror(r->rc));
    }
    return n < 0 ? NULL : out;
}

/* The ACP layer answers or frees every open question of @t (turn over, or cancelled):
 * drop our pointers to them so that a late reaction or timeout cannot use one. */
static void
turn_forget_asks(struct turn *t)
{
    for (struct ask *a = t->asks; a; a = a->next) {
        a->is_resolved = true;
        a->req = NULL;
        clock_timer_stop(&a->timeout);
    }
}

/* The agent finished the turn (or failed): finish the reply. */
static void
turn_on_done(void *arg, const struct turn_result *r)
{
    struct turn *t = arg;

    t->is_agent_done = true;
    t->pool_turn = NULL;
    turn_forget_asks(t); /* the ACP layer answered or dropped them with the turn */
    t->outcome_line = turn_outcome_line(t, r, engine_conv_auth_hint(t->conv));
    if (t->e->cfg.usage_footer) {
        char line[256];
        commands_usage_line(&r->usage, line, sizeof(line));
        if (line[0] && asprintf(&t->footer, "📊 %s", line) < 0)
            t->footer = NULL;
    }
    if (r->rc == 0 && r->stop_reason && strcmp(r->stop_reason, "cancelled") == 0)
        t->is_cancelled_by_user = true;
    metrics_histogram_observe(&t->e->stats.turn_seconds,
                              (double)(clock_now_ms(t->e->clock) - t->started_ms) / 1000.0);
    if (r->rc >= 0 && t->is_cancelled_by_user)
        t->e->stats.turns_cancelled++;
    else if (r->rc >= 0)
        t->e->stats.turns_ok++;
    if (r->rc < 0) {
        t->e->stats.turn_errors++;
        engine_conv_agent(t->conv)->turn_errors++;
        log_warn("engine", "%s: turn failed: %s%s%s", t->conv->key,
                 r->message ? r->message : ab_strerror(r->rc), r->stderr_tail ? " — stderr: " : "",
                 r->stderr_tail ? r->stderr_tail : "");
    }
    if (t->use_live)
        pacer_finish(&t->pacer); /* the final flush sends the reply */
    else
        turn_send_final(t);
}

/* The question was posted: remember it and offer the answers as reactions. */
static void
turn_ask_posted(void *arg, int status, const struct ab_msg_ref *ref)
{
    struct ask *a = arg;
    struct chat_instance *ci = a->turn->conv->ci;
    const struct engine_emojis *em = &a->turn->e->cfg.emojis;
    const char *const offers[] = {em->allow_once, em->allow_always, em->reject};

    if (status < 0 || !ref || !ref->message_id || a->is_resolved)
        return;
    a->message_id = strdup(ref->message_id);
    a->channel_id = strdup(ref->channel_id ? ref->channel_id : a->turn->conv->reply_channel);
    for (size_t i = 0; i < 3 && ci->can_react; i++)
        if (*offers[i])
            chat_react(ci, ref, offers[i], true, NULL, NULL, NULL);
}

/* Answer a question: tell the agent, say so in the thread, and edit the question to
 * show who decided what (@user lent, NULL = nobody: the timeout). */
static void
turn_ask_resolve(struct ask *a, enum acp_perm_decision d, const char *why, const char *user)
{
    struct conversation *c = a->turn->conv;
    const struct engine_emojis *em = &a->turn->e->cfg.emojis;
    const char *mark = d == ACP_PERM_REJECT         ? em->reject
                       : d == ACP_PERM_ALLOW_ALWAYS ? em->allow_always
                                                    : em->allow_once;
    char line[512], *edited = NULL;

    if (a->is_resolved || !a->req)
        return;
    a->is_resolved = true;
    clock_timer_stop(&a->timeout);
    snprintf(line, sizeof(line), "%s %s%s%s%s%s",
             d == ACP_PERM_REJECT ? em->reject : em->allow_once,
             d == ACP_PERM_REJECT ? "Permission denied" : "Allowed", *why ? " " : "", why,
             user ? " by " : "", user ? user : "");
    acp_permission_resolve(a->req, d);
    a->req = NULL;
    engine_post_notice(c, line);
    if (a->message_id && a->text && c->ci->can_edit) {
        const char *nl = strchr(a->text, '\n'); /* the question, without the how-to line */
        if (asprintf(&edited, "%.*s\n→ %s %s%s%s", nl ? (int)(nl - a->text) : (int)strlen(a->text),
                     a->text, mark,
                     d == ACP_PERM_REJECT         ? "rejected"
                     : d == ACP_PERM_ALLOW_ALWAYS ? "allowed always"
                                                  : "allowed once",
                     user ? " by " : " (no answer in time)", user ? user : "") < 0)
            edited = NULL;
        if (edited)
            chat_edit(c->ci, &(struct ab_msg_ref){a->channel_id, a->message_id}, edited, true, NULL,
                      NULL, NULL);
        free(edited);
    }
}

/* Nobody answered in time: reject. */
static void
turn_ask_timeout(void *arg)
{
    turn_ask_resolve(arg, ACP_PERM_REJECT, "(no answer in time)", NULL);
}

/* Ask mode: post the request in the thread; the first allowed user's reaction decides. */
static void
turn_on_permission(void *arg, struct acp_permission *req)
{
    struct turn *t = arg;
    struct conversation *c = t->conv;
    struct ask *a = calloc(1, sizeof(*a));
    char text[1024];

    if (!a) {
        acp_permission_resolve(req, ACP_PERM_REJECT);
        return;
    }
    a->turn = t;
    a->req = req;
    clock_timer_init(&a->timeout);
    a->next = t->asks;
    t->asks = a;
    log_format_redacted(
        text, sizeof(text), "🔐 %s (%s)\nReact %s to allow once, %s to allow always, %s to reject.",
        req->title ? req->title : "a tool", req->tool_kind ? req->tool_kind : "other",
        t->e->cfg.emojis.allow_once, t->e->cfg.emojis.allow_always, t->e->cfg.emojis.reject);
    if (t->rx)
        reactions_progress(&t->rx->r);
    a->text = strdup(text);
    clock_timer_start(t->e->clock, &a->timeout, t->e->cfg.perm_timeout_ms, turn_ask_timeout, a);
    const char *const choices[] = {t->e->cfg.emojis.allow_once, t->e->cfg.emojis.allow_always,
                                   t->e->cfg.emojis.reject, NULL};
    if (chat_send_choices(c->ci, c->reply_channel, c->reply_thread, text, choices,
                          RATELIMIT_FINAL_TEXT, &t->chat, turn_ask_posted, a) < 0)
        turn_ask_resolve(a, ACP_PERM_REJECT, "(the question could not be posted)", NULL);
}

/* A reaction on one of this turn's questions. Returns 1 when it answered one. */
int
turn_answer_ask(struct turn *t, const char *message_id, const char *emoji, const char *user)
{
    const struct engine_emojis *em = &t->e->cfg.emojis;

    for (struct ask *a = t->asks; a; a = a->next) {
        if (a->is_resolved || !a->message_id || strcmp(a->message_id, message_id) != 0)
            continue;
        if (engine_emoji_is(emoji, em->allow_once))
            turn_ask_resolve(a, ACP_PERM_ALLOW_ONCE, "once", user);
        else if (engine_emoji_is(emoji, em->allow_always))
            turn_ask_resolve(a, ACP_PERM_ALLOW_ALWAYS, "for this session", user);
        else if (engine_emoji_is(emoji, em->reject))
            turn_ask_resolve(a, ACP_PERM_REJECT, "", user);
        else
            return 0;
        return 1;
    }
    return 0;
}

/* See engine_priv.h. */
bool
turn_is_question(const struct turn *t, const char *message_id)
{
    for (const struct ask *a = t->asks; a; a = a->next)
        if (a->message_id && strcmp(a->message_id, message_id) == 0)
            return true;
    return false;
}

/* True when @message_id is the user's message, the live reply or a question of @t. */
bool
turn_owns_message(const struct turn *t, const char *message_id)
{
    if (t->live_id && strcmp(t->live_id, message_id) == 0)
        return true;
    for (const struct pending *p = t->msgs; p; p = p->next)
        if (strcmp(p->message_id, message_id) == 0)
            return true;
    for (const struct ask *a = t->asks; a; a = a->next)
        if (a->message_id && strcmp(a->message_id, message_id) == 0)
            return true;
    return false;
}

/* A user asked to stop: session/cancel now. */
void
turn_cancel(struct turn *t)
{
    if (t->is_agent_done)
        return;
    t->is_cancelled_by_user = true;
    turn_forget_asks(t); /* pool_cancel answers them "cancelled" and frees them */
    pool_cancel(engine_conv_agent(t->conv)->pool, t->conv->key);
}

/* The engine is going away with @t still there (shutdown stopped waiting for its
 * replies): nothing of @t may run again. Freed unless the pool still holds it. */
void
turn_abandon(struct turn *t)
{
    t->conv->turn = NULL;
    chat_owner_detach(&t->chat);
    pacer_stop(&t->pacer);
    turn_forget_asks(t);
    if (t->is_agent_done)
        turn_free(t);
    else
        log_warn("engine", "%s: freed with a turn still running", t->conv->key);
}

static const struct turn_callbacks turn_callbacks = {
    .on_event = turn_on_event,
    .on_permission = turn_on_permission,
    .on_done = turn_on_done,
};

/* Join the queued messages into one prompt: one message as it is; several joined by
 * blank lines, each preceded by its sender's block when the senders differ, so the
 * agent knows who said what. */
static int
turn_prompt_text(const struct pending *msgs, char **ctx, char **text)
{
    size_t n = 0, len = 1;
    const struct pending *last = NULL;

    for (const struct pending *p = msgs; p; p = p->next, n++) {
        len += strlen(p->text) + strlen(p->sender_context) + 2;
        last = p;
    }
    if (!last)
        return AB_EINVAL;
    if (n == 1) {
        *ctx = strdup(last->sender_context);
        *text = strdup(last->text);
        return *ctx && *text ? 0 : AB_ENOMEM;
    }
    *ctx = strdup(last->sender_context);
    *text = calloc(1, len);
    if (!*ctx || !*text)
        return AB_ENOMEM;
    for (const struct pending *p = msgs; p; p = p->next) {
        if (p != msgs)
            strcat(*text, "\n\n");
        if (p != last && strcmp(p->sender_context, last->sender_context) != 0) {
            strcat(*text, p->sender_context);
            strcat(*text, "\n");
        }
        strcat(*text, p->text);
    }
    return 0;
}

/* The files of every message of @msgs, as one array (shallow: the strings stay the
 * fetches'); *@out malloc'd (NULL when none). */
static int
turn_prompt_files(const struct pending *msgs, struct acp_file **out, size_t *n)
{
    size_t total = 0, k, at = 0;

    *out = NULL;
    *n = 0;
    for (const struct pending *p = msgs; p; p = p->next) {
        attach_fetch_files(p->fetch, &k);
        total += k;
    }
    if (total == 0)
        return 0;
    if (!(*out = calloc(total, sizeof(**out))))
        return AB_ENOMEM;
    for (const struct pending *p = msgs; p; p = p->next) {
        const struct acp_file *f = attach_fetch_files(p->fetch, &k);
        memcpy(*out + at, f, k * sizeof(*f));
        at += k;
    }
    *n = total;
    return 0;
}

/* Start a turn with everything queued in @c. */
int
turn_start(struct conversation *c)
{
    struct engine *e = c->e;
    struct turn *t = calloc(1, sizeof(*t));
    struct pending *p;
    char *ctx = NULL, *text = NULL;
    struct acp_file *files = NULL;
    size_t nfiles = 0;
    int rc;

    if (!t)
        return AB_ENOMEM;
    t->e = e;
    t->conv = c;
    t->msgs = engine_queue_take(c);
    for (p = t->msgs; p && p->next; p = p->next)
        ;
    t->rx = p ? p->rx : NULL; /* the newest message shows the turn's progress */
    if (p)
        p->rx = NULL;
    t->render = render_new(e->cfg.tool_display);
    t->use_live = c->ci->can_edit && !c->is_multibot;
    if (!t->render || pacer_init(&t->pacer, e->clock, e->cfg.edit_interval_ms, turn_flush, t) < 0 ||
        (rc = turn_prompt_text(t->msgs, &ctx, &text)) < 0) {
        rc = AB_ENOMEM;
        goto fail;
    }
    c->turn = t;
    engine_turn_began(c);
    e->stats.turns++;
    engine_conv_agent(c)->turns++;
    t->started_ms = clock_now_ms(e->clock);
    t->started_wall = time(NULL);
    if ((rc = turn_prompt_files(t->msgs, &files, &nfiles)) == 0)
        rc = pool_prompt_files(engine_conv_agent(c)->pool, c->key, ctx, text, files, nfiles,
                               &turn_callbacks, t, &t->pool_turn);
    free(files);
    free(ctx);
    free(text);
    ctx = text = NULL;
    if (rc == AB_EFULL && engine_may_wait(c)) {
        /* Every session is busy: the messages go back and the conversation waits in
         * the engine's FIFO for a free one. */
        for (p = t->msgs; p; p = p->next)
            if (!p->next) {
                p->rx = t->rx;
                t->rx = NULL;
            }
        c->turn = NULL;
        engine_running_remove(c);
        engine_queue_put_back(c, t->msgs);
        t->msgs = NULL;
        e->stats.turns--;
        engine_conv_agent(c)->turns--;
        turn_free(t);
        return AB_EFULL;
    }
    if (t->rx)
        reactions_queued(&t->rx->r); /* 👀 now the prompt is out (engine_kick_first) */
    if (rc < 0) {
        char line[1024];
        if (rc == AB_EFULL)
            snprintf(line, sizeof(line),
                     "⚠️ All agent sessions are busy (pool exhausted); this "
                     "message was not answered — try again in a moment.");
        else
            log_format_redacted(line, sizeof(line), "⚠️ Failed to start agent: %s%s%s",
                                turn_start_reason(pool_error(engine_conv_agent(c)->pool)),
                                engine_conv_auth_hint(c) ? "\nTo log in: " : "",
                                engine_conv_auth_hint(c) ? engine_conv_auth_hint(c) : "");
        t->outcome_line = strdup(line);
        t->is_error = true;
        e->stats.turn_errors++;
        engine_conv_agent(c)->turn_errors++;
        log_warn("engine", "%s: %s", c->key, line);
        turn_send_final(t);
        return 0;
    }
    if (t->rx)
        reactions_thinking(&t->rx->r);
    if (t->use_live)
        turn_changed(t); /* the placeholder goes out at once */
    return 0;

fail:
    free(ctx);
    free(text);
    c->turn = NULL;
    engine_queue_put_back(c, t->msgs); /* nothing was lost: the messages stay queued */
    t->msgs = NULL;
    turn_free(t);
    return rc;
}
