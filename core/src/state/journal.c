/* The acceptance journal, kept whole in memory. On disk: journal.json, a snapshot, and
 * journal.log, the changes made since, one numbered JSON line each (the snapshot names
 * the last number it holds, so a log a crash left behind a newer snapshot is skipped).
 * A change costs the caller only memory: it goes to disk at the next loop turn
 * (never inside the call that made it, so an accepted message's prompt reaches its agent
 * first), appended by one write and fdatasync on a libuv worker together with the
 * changes made meanwhile. The snapshot is rewritten whole (atomically) and the log
 * removed every JOURNAL_COMPACT_RECORDS changes, after a failed write, at open when a
 * log was left, and at close. */
#include "state/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agent-broker/errors.h>
#include <cjson/cJSON.h>

#include "log.h"
#include "state/state_file.h"

#define JOURNAL_FILE "journal.json"
#define JOURNAL_LOG "journal.log"
#define JOURNAL_COMPACT_RECORDS 1024       /* changes in the log before the snapshot is rewritten */
#define JOURNAL_SEQ_MAX 9007199254740992.0 /* 2^53: change numbers stay exact in JSON */

/* A message answered lately: its dedupe keys. Strings owned. */
struct journal_recent {
    char *platform, *event_id, *channel_id, *message_id;
};

/* A completion owed to journal_add's caller once change @seq is on disk. */
struct journal_waiter {
    uint64_t seq;
    journal_recorded_fn cb;
    void *arg;
    struct journal_waiter *next;
};

struct journal {
    uv_loop_t *loop;
    uv_work_t work;
    uv_idle_t flush;               /* writes the changes at the next loop turn */
    uv_timer_t retry;              /* a failed write goes again (as a snapshot) */
    char *path, *log_path;         /* owned */
    struct journal_entry *entries; /* owned, oldest first */
    struct journal_recent recent[JOURNAL_RECENT_MAX];
    size_t recent_next, recent_count;
    uint64_t next_id;
    uint64_t seq;                   /* the number of the last change */
    struct journal_entry *unlogged; /* in entries: it and those after it have no log line yet */
    char *buf;                      /* owned: log lines not yet handed to a worker */
    size_t len, cap;                /* of buf */
    size_t log_records;             /* changes since the snapshot */
    bool needs_snapshot, has_log;
    /* The write a worker runs: */
    char *wdata; /* owned */
    size_t wlen;
    uint64_t wseq; /* the last change it holds */
    bool is_wsnapshot;
    int wresult;
    /* The worker's between writes (never touched by the loop while one runs): */
    int log_fd;        /* -1: the log holds nothing needed (absent, or in the snapshot) */
    uint64_t retry_ms; /* the wait before the next retry; 0 = none failed */
    bool is_busy, is_closing, is_closed;
    int handles;                    /* not yet closed */
    struct journal_waiter *waiters; /* owned, oldest first */
    struct journal_waiter **wtail;  /* where the next waiter goes */
};

/* Free one entry. */
static void
journal_entry_free(struct journal_entry *e)
{
    if (!e)
        return;
    free(e->platform);
    free(e->conversation);
    free(e->reply_channel);
    free(e->reply_thread);
    free(e->channel_id);
    free(e->message_id);
    free(e->event_id);
    free(e->sender_id);
    free(e->parent_id);
    free(e);
}

/* strdup that keeps NULL. */
static char *
journal_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A copy of @src's strings; NULL when out of memory or a mandatory one is missing. */
static struct journal_entry *
journal_entry_copy(const struct journal_entry *src)
{
    struct journal_entry *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->platform = journal_dup(src->platform);
    e->conversation = journal_dup(src->conversation);
    e->reply_channel = journal_dup(src->reply_channel);
    e->reply_thread = journal_dup(src->reply_thread);
    e->channel_id = journal_dup(src->channel_id);
    e->message_id = journal_dup(src->message_id);
    e->event_id = journal_dup(src->event_id);
    e->sender_id = journal_dup(src->sender_id);
    e->parent_id = journal_dup(src->parent_id);
    e->is_thread = src->is_thread;
    e->is_dm = src->is_dm;
    e->is_bot = src->is_bot;
    if (!e->platform || !e->conversation || !e->reply_channel || !e->channel_id || !e->message_id ||
        !e->sender_id || (src->reply_thread && !e->reply_thread) ||
        (src->event_id && !e->event_id) || (src->parent_id && !e->parent_id)) {
        journal_entry_free(e);
        return NULL;
    }
    return e;
}

/* Append @e to the list. */
static void
journal_append(struct journal *j, struct journal_entry *e)
{
    struct journal_entry **tail;

    for (tail = &j->entries; *tail; tail = &(*tail)->next)
        ;
    e->next = NULL;
    *tail = e;
}

/* Add a string member when @v is not NULL. */
static bool
journal_put_str(cJSON *o, const char *k, const char *v)
{
    return !v || cJSON_AddStringToObject(o, k, v) != NULL;
}

/* @e as a JSON object (the snapshot's pending item, a log line's "a"), or NULL. */
static cJSON *
journal_entry_json(const struct journal_entry *e)
{
    cJSON *o = cJSON_CreateObject();

    if (!o || !journal_put_str(o, "p", e->platform) || !journal_put_str(o, "k", e->conversation) ||
        !journal_put_str(o, "rc", e->reply_channel) || !journal_put_str(o, "rt", e->reply_thread) ||
        !journal_put_str(o, "c", e->channel_id) || !journal_put_str(o, "m", e->message_id) ||
        !journal_put_str(o, "e", e->event_id) || !journal_put_str(o, "u", e->sender_id) ||
        !journal_put_str(o, "pc", e->parent_id) || !cJSON_AddBoolToObject(o, "t", e->is_thread) ||
        !cJSON_AddBoolToObject(o, "d", e->is_dm) || !cJSON_AddBoolToObject(o, "b", e->is_bot)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* A message's keys as a JSON object (a log line's "d" or "x"), or NULL. */
static cJSON *
journal_keys_json(const char *platform, const char *event_id, const char *channel_id,
                  const char *message_id)
{
    cJSON *o = cJSON_CreateObject();

    if (!o || !journal_put_str(o, "p", platform) || !journal_put_str(o, "e", event_id) ||
        !journal_put_str(o, "c", channel_id) || !journal_put_str(o, "m", message_id)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The whole journal as JSON text (malloc'd), or NULL. */
static char *
journal_serialize(const struct journal *j)
{
    cJSON *root = cJSON_CreateObject(), *pending, *recent;
    char *text = NULL;

    if (!root || !cJSON_AddNumberToObject(root, "version", 1) ||
        !cJSON_AddNumberToObject(root, "seq", (double)j->seq) ||
        !(pending = cJSON_AddArrayToObject(root, "pending")) ||
        !(recent = cJSON_AddArrayToObject(root, "recent")))
        goto out;
    for (const struct journal_entry *e = j->entries; e; e = e->next) {
        cJSON *o = journal_entry_json(e);
        if (!o || !cJSON_AddItemToArray(pending, o)) {
            cJSON_Delete(o);
            goto out;
        }
    }
    for (size_t i = 0; i < j->recent_count; i++) {
        size_t at =
            (j->recent_next + JOURNAL_RECENT_MAX - j->recent_count + i) % JOURNAL_RECENT_MAX;
        const struct journal_recent *r = &j->recent[at];
        cJSON *o = journal_keys_json(r->platform, r->event_id, r->channel_id, r->message_id);
        if (!o || !cJSON_AddItemToArray(recent, o)) {
            cJSON_Delete(o);
            goto out;
        }
    }
    text = cJSON_PrintUnformatted(root);
out:
    cJSON_Delete(root);
    return text;
}

/* Tell every waiter whose change is in the write that ended (@seq) its @status. */
static void
journal_tell(struct journal *j, uint64_t seq, int status)
{
    while (j->waiters && j->waiters->seq <= seq) {
        struct journal_waiter *w = j->waiters;
        j->waiters = w->next;
        if (!j->waiters)
            j->wtail = &j->waiters;
        w->cb(w->arg, status);
        free(w);
    }
}

/* Worker thread: append the lines to the log and make them durable. A failed append
 * is never followed by another (the next write is a snapshot, which starts a new log),
 * so a torn line can only be the last. */
static int
journal_append_log(struct journal *j)
{
    size_t done = 0;

    if (j->log_fd < 0) {
        /* Nothing in an older log is needed (it is in the snapshot): start it afresh. */
        j->log_fd = open(j->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        if (j->log_fd < 0)
            return -errno;
        state_dir_sync(j->log_path);
    }
    while (done < j->wlen) {
        ssize_t n = write(j->log_fd, j->wdata + done, j->wlen - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        done += (size_t)n;
    }
    return fdatasync(j->log_fd) < 0 ? -errno : 0;
}

/* Worker thread: replace the snapshot, then drop the log it now holds. */
static int
journal_put_snapshot(struct journal *j)
{
    int rc = state_file_write(j->path, j->wdata, j->wlen);

    if (rc < 0)
        return rc;
    /* Should the removal not last, the log's changes are numbered at most the
     * snapshot's: they are skipped when read back. */
    if (j->log_fd >= 0)
        close(j->log_fd);
    j->log_fd = -1;
    unlink(j->log_path); /* left: the next log opened truncates it */
    return 0;
}

/* Worker thread: the write. */
static void
journal_work(uv_work_t *work)
{
    struct journal *j = work->data;

    j->wresult = j->is_wsnapshot ? journal_put_snapshot(j) : journal_append_log(j);
}

static void journal_write_start(struct journal *j);
static void journal_close_handles(struct journal *j);
static void journal_log_adds(struct journal *j);

/* Whether changes wait to be written. */
static bool
journal_has_changes(const struct journal *j)
{
    return j->len || j->unlogged || j->needs_snapshot;
}

/* The retry timer: write again. */
static void
journal_retry(uv_timer_t *t)
{
    journal_write_start(t->data);
}

/* Back on the loop: tell the waiters, then write what came meanwhile or finish closing.
 * A failed write (a full disk) is not retried as such: the next one is a snapshot, which
 * holds every change (after 0.5 s doubling to 30 s, or at the next change). */
static void
journal_written(uv_work_t *work, int status)
{
    struct journal *j = work->data;
    int rc = status < 0 ? status : j->wresult;

    j->is_busy = false;
    free(j->wdata);
    j->wdata = NULL;
    if (rc < 0) {
        log_error("journal", "cannot write %s: %s", j->is_wsnapshot ? j->path : j->log_path,
                  strerror(-rc));
        j->needs_snapshot = true;
        if (!j->is_closing) {
            j->retry_ms = j->retry_ms ? j->retry_ms * 2 : 500;
            if (j->retry_ms > 30000)
                j->retry_ms = 30000;
            uv_timer_start(&j->retry, journal_retry, j->retry_ms, 0);
        }
    } else {
        if (j->retry_ms)
            log_info("journal", "%s written again", j->path);
        j->retry_ms = 0;
        if (j->is_wsnapshot)
            j->has_log = false;
    }
    journal_tell(j, j->wseq, rc < 0 ? rc : 0);
    if (j->is_closing) {
        if (rc == 0 && (journal_has_changes(j) || j->has_log)) {
            j->needs_snapshot = true;
            journal_write_start(j);
        }
        if (!j->is_busy)
            journal_close_handles(j);
    } else if (rc == 0 && journal_has_changes(j)) {
        journal_write_start(j);
    }
}

/* Hand the changes to a worker: the log lines, or the whole journal when a snapshot is
 * due. */
static void
journal_write_start(struct journal *j)
{
    int rc;

    if (j->is_busy)
        return; /* journal_written starts the next */
    uv_timer_stop(&j->retry);
    j->wseq = j->seq;
    if (!j->needs_snapshot && j->log_records < JOURNAL_COMPACT_RECORDS)
        journal_log_adds(j);
    if (j->needs_snapshot || j->log_records >= JOURNAL_COMPACT_RECORDS) {
        if (!(j->wdata = journal_serialize(j))) {
            log_error("journal", "out of memory writing the journal");
            j->needs_snapshot = true;
            uv_timer_start(&j->retry, journal_retry, 1000, 0);
            return;
        }
        j->wlen = strlen(j->wdata);
        j->is_wsnapshot = true;
        j->needs_snapshot = false;
        j->log_records = 0;
        j->unlogged = NULL; /* the snapshot holds them */
        free(j->buf);
        j->buf = NULL;
        j->len = j->cap = 0;
    } else if (j->len) {
        j->wdata = j->buf;
        j->wlen = j->len;
        j->is_wsnapshot = false;
        j->has_log = true;
        j->buf = NULL;
        j->len = j->cap = 0;
    } else {
        return;
    }
    j->is_busy = true;
    j->work.data = j;
    if ((rc = uv_queue_work(j->loop, &j->work, journal_work, journal_written)) < 0)
        journal_written(&j->work, rc);
}

/* The idle turn after a change: write. */
static void
journal_flush(uv_idle_t *idle)
{
    struct journal *j = idle->data;

    uv_idle_stop(idle);
    journal_write_start(j);
}

/* A change was made: write it at the next loop turn (once the caller's callback, which
 * may write a prompt to an agent, has returned). */
static void
journal_schedule(struct journal *j)
{
    if (!j->is_busy && !j->is_closing)
        uv_idle_start(&j->flush, journal_flush);
}

/* Append log line {"s":@seq,@kind:@body} (@body owned; NULL when out of memory) to the
 * lines not yet written; when it cannot be, the next write is a snapshot. */
static void
journal_line(struct journal *j, uint64_t seq, const char *kind, cJSON *body)
{
    cJSON *rec = cJSON_CreateObject();
    char *line = NULL;
    size_t n;

    j->log_records++;
    if (body && rec && cJSON_AddNumberToObject(rec, "s", (double)seq) &&
        cJSON_AddItemToObject(rec, kind, body))
        body = NULL;
    if (!body && rec)
        line = cJSON_PrintUnformatted(rec);
    cJSON_Delete(body);
    cJSON_Delete(rec);
    if (line && (n = strlen(line)) + 1 > j->cap - j->len) {
        size_t cap = j->cap ? j->cap : 512;
        char *buf;
        while (cap < j->len + n + 1)
            cap *= 2;
        if ((buf = realloc(j->buf, cap))) {
            j->buf = buf;
            j->cap = cap;
        }
    }
    if (line && n + 1 <= j->cap - j->len) {
        memcpy(j->buf + j->len, line, n);
        j->buf[j->len + n] = '\n';
        j->len += n + 1;
    } else {
        j->needs_snapshot = true;
    }
    free(line);
}

/* Write the log lines of the entries added since the last line: journal_add leaves
 * that to the next loop turn (or the next change, whose line must come after). */
static void
journal_log_adds(struct journal *j)
{
    for (const struct journal_entry *e = j->unlogged; e; e = e->next)
        journal_line(j, e->seq, "a", journal_entry_json(e));
    j->unlogged = NULL;
}

/* Note change number ++seq, @kind with @body (owned; NULL when out of memory), after
 * the adds not yet written down. */
static void
journal_note(struct journal *j, const char *kind, cJSON *body)
{
    journal_log_adds(j);
    journal_line(j, ++j->seq, kind, body);
    journal_schedule(j);
}

/* Remember a message as answered (the oldest falls out). */
static void
journal_remember(struct journal *j, const char *platform, const char *event_id,
                 const char *channel_id, const char *message_id)
{
    struct journal_recent *r = &j->recent[j->recent_next];

    free(r->platform);
    free(r->event_id);
    free(r->channel_id);
    free(r->message_id);
    r->platform = journal_dup(platform);
    r->event_id = journal_dup(event_id);
    r->channel_id = journal_dup(channel_id);
    r->message_id = journal_dup(message_id);
    j->recent_next = (j->recent_next + 1) % JOURNAL_RECENT_MAX;
    if (j->recent_count < JOURNAL_RECENT_MAX)
        j->recent_count++;
}

/* A string member of @o, or NULL. */
static const char *
journal_get_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A boolean member of @o (false when absent or not a boolean). */
static bool
journal_get_bool(const cJSON *o, const char *k)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* Whether @s (may be NULL) is within the bounds of a field read back: at most
 * JOURNAL_FIELD_MAX bytes, no control character. */
static bool
journal_field_ok(const char *s)
{
    size_t n = 0;

    for (; s && *s; s++, n++) {
        if (n >= JOURNAL_FIELD_MAX || (unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    }
    return true;
}

/* Whether every string of @e is within bounds. */
static bool
journal_entry_ok(const struct journal_entry *e)
{
    const char *const fields[] = {e->platform,     e->conversation, e->reply_channel,
                                  e->reply_thread, e->channel_id,   e->message_id,
                                  e->event_id,     e->sender_id,    e->parent_id};

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (!journal_field_ok(fields[i]))
            return false;
    }
    return true;
}

/* What a read-back has taken in so far. */
struct journal_load_state {
    size_t pending, skipped;
};

/* Take in pending item @item (a snapshot's or a log line's) within the bounds. */
static void
journal_load_entry(struct journal *j, struct journal_load_state *ls, const cJSON *item)
{
    struct journal_entry src = {
        .platform = (char *)journal_get_str(item, "p"),
        .conversation = (char *)journal_get_str(item, "k"),
        .reply_channel = (char *)journal_get_str(item, "rc"),
        .reply_thread = (char *)journal_get_str(item, "rt"),
        .channel_id = (char *)journal_get_str(item, "c"),
        .message_id = (char *)journal_get_str(item, "m"),
        .event_id = (char *)journal_get_str(item, "e"),
        .sender_id = (char *)journal_get_str(item, "u"),
        .parent_id = (char *)journal_get_str(item, "pc"),
        .is_thread = journal_get_bool(item, "t"),
        .is_dm = journal_get_bool(item, "d"),
        .is_bot = journal_get_bool(item, "b"),
    };
    struct journal_entry *e;

    if (ls->pending >= JOURNAL_PENDING_MAX) {
        ls->skipped++;
        return;
    }
    if (!journal_entry_ok(&src)) {
        log_warn("journal", "dropping a journal entry with an overlong or binary field");
        return;
    }
    if (!(e = journal_entry_copy(&src))) {
        log_warn("journal", "dropping an incomplete journal entry");
        return;
    }
    e->id = ++j->next_id;
    e->is_recovered = true;
    journal_append(j, e);
    ls->pending++;
}

/* The first entry of @platform for message @message_id in @channel_id, or NULL. */
static struct journal_entry *
journal_find(const struct journal *j, const char *platform, const char *channel_id,
             const char *message_id)
{
    for (struct journal_entry *e = j->entries; e; e = e->next)
        if (strcmp(e->platform, platform) == 0 && strcmp(e->channel_id, channel_id) == 0 &&
            strcmp(e->message_id, message_id) == 0)
            return e;
    return NULL;
}

static struct journal_entry *journal_unlink(struct journal *j, uint64_t id);
static bool journal_rethread(struct journal *j, const char *conversation, const char *thread);

/* Replay log line @rec (a change newer than the snapshot); what does not make sense
 * is skipped. */
static void
journal_replay(struct journal *j, struct journal_load_state *ls, const cJSON *rec)
{
    const cJSON *o;
    struct journal_entry *e;

    if ((o = cJSON_GetObjectItemCaseSensitive(rec, "a"))) {
        journal_load_entry(j, ls, o);
    } else if ((o = cJSON_GetObjectItemCaseSensitive(rec, "d")) ||
               (o = cJSON_GetObjectItemCaseSensitive(rec, "x"))) {
        const char *p = journal_get_str(o, "p"), *ev = journal_get_str(o, "e");
        const char *c = journal_get_str(o, "c"), *m = journal_get_str(o, "m");
        if (!p || !c || !m)
            return;
        if ((e = journal_find(j, p, c, m))) {
            journal_entry_free(journal_unlink(j, e->id));
            ls->pending--;
        }
        if (strcmp(o->string, "d") == 0 && journal_field_ok(p) && journal_field_ok(ev) &&
            journal_field_ok(c) && journal_field_ok(m))
            journal_remember(j, p, ev, c, m);
    } else if ((o = cJSON_GetObjectItemCaseSensitive(rec, "t"))) {
        const char *k = journal_get_str(o, "k"), *rt = journal_get_str(o, "rt");
        if (k && rt && journal_field_ok(rt))
            journal_rethread(j, k, rt);
    }
}

/* A change number (the snapshot's "seq", a log line's "s"), or 0 when absent or not a
 * whole number in range. */
static uint64_t
journal_get_seq(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1 && v->valuedouble < JOURNAL_SEQ_MAX) ||
        v->valuedouble != (double)(uint64_t)v->valuedouble)
        return 0;
    return (uint64_t)v->valuedouble;
}

/* Take in the log a previous process left: every line numbered past what is already in,
 * in order. A torn or malformed line is skipped. */
static void
journal_load_log(struct journal *j, struct journal_load_state *ls, const char *text, size_t len)
{
    const char *at = text, *end = text + len;

    while (at < end) {
        const char *nl = memchr(at, '\n', (size_t)(end - at));
        size_t n = nl ? (size_t)(nl - at) : (size_t)(end - at);
        cJSON *rec = cJSON_ParseWithLength(at, n);
        uint64_t seq = journal_get_seq(rec, "s");
        if (cJSON_IsObject(rec) && seq > j->seq) {
            j->seq = seq;
            journal_replay(j, ls, rec);
        }
        cJSON_Delete(rec);
        at += n + 1;
    }
}

/* Take in the snapshot a previous process left. Malformed items are skipped. */
static void
journal_load(struct journal *j, struct journal_load_state *ls, const char *text, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *item;

    if (!cJSON_IsObject(root)) {
        log_warn("journal", "the journal is not valid JSON; starting afresh");
        cJSON_Delete(root);
        return;
    }
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "recent"))
    {
        const char *p = journal_get_str(item, "p"), *ev = journal_get_str(item, "e");
        const char *c = journal_get_str(item, "c"), *m = journal_get_str(item, "m");
        if (p && journal_field_ok(p) && journal_field_ok(ev) && journal_field_ok(c) &&
            journal_field_ok(m))
            journal_remember(j, p, ev, c, m);
    }
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "pending"))
        journal_load_entry(j, ls, item);
    j->seq = journal_get_seq(root, "seq");
    cJSON_Delete(root);
}

/* Free @j and what it holds (its handles closed, no write running). */
static void
journal_free(struct journal *j)
{
    struct journal_entry *e, *next;

    for (e = j->entries; e; e = next) {
        next = e->next;
        journal_entry_free(e);
    }
    for (size_t i = 0; i < JOURNAL_RECENT_MAX; i++) {
        free(j->recent[i].platform);
        free(j->recent[i].event_id);
        free(j->recent[i].channel_id);
        free(j->recent[i].message_id);
    }
    if (j->log_fd >= 0)
        close(j->log_fd);
    free(j->buf);
    free(j->path);
    free(j->log_path);
    free(j);
}

/* Read what a previous process left: the snapshot, then the log. Returns 0 or -errno
 * when a file cannot be read (an oversized log is logged and dropped). */
static int
journal_read(struct journal *j)
{
    struct journal_load_state ls = {0};
    char *text = NULL;
    size_t len = 0;
    int rc;

    if ((rc = state_file_read(j->path, &text, &len)) == 0)
        journal_load(j, &ls, text, len);
    free(text);
    text = NULL;
    if (rc < 0 && rc != AB_ENOENT) {
        log_error("journal", "cannot read %s: %s", j->path, ab_strerror(rc));
        return rc;
    }
    if ((rc = state_file_read(j->log_path, &text, &len)) == 0)
        journal_load_log(j, &ls, text, len);
    free(text);
    if (rc == 0 || rc == AB_EFULL)
        j->needs_snapshot = true; /* fold the log in before anything is appended */
    if (rc == AB_EFULL)
        log_warn("journal", "%s is too large; dropped", j->log_path);
    else if (rc < 0 && rc != AB_ENOENT) {
        log_error("journal", "cannot read %s: %s", j->log_path, ab_strerror(rc));
        return rc;
    }
    if (ls.skipped)
        log_warn("journal", "dropping %zu journal entries past the first %d", ls.skipped,
                 JOURNAL_PENDING_MAX);
    return 0;
}

/* Open the journal. */
int
journal_open(uv_loop_t *loop, const char *state_dir, struct journal **out)
{
    struct journal *j = calloc(1, sizeof(*j));
    int rc;

    if (!j)
        return AB_ENOMEM;
    j->log_fd = -1;
    j->wtail = &j->waiters;
    if (asprintf(&j->path, "%s/%s", state_dir, JOURNAL_FILE) < 0 ||
        asprintf(&j->log_path, "%s/%s", state_dir, JOURNAL_LOG) < 0) {
        j->path = j->log_path = NULL; /* asprintf leaves them undefined on failure */
        journal_free(j);
        return AB_ENOMEM;
    }
    if ((rc = journal_read(j)) < 0) {
        journal_free(j);
        return rc;
    }
    j->loop = loop;
    uv_idle_init(loop, &j->flush);
    uv_timer_init(loop, &j->retry);
    j->flush.data = j->retry.data = j;
    j->handles = 2;
    if (j->needs_snapshot)
        journal_schedule(j);
    *out = j;
    return 0;
}

/* Record an accepted message. */
int
journal_add(struct journal *j, const struct journal_entry *src, journal_recorded_fn cb, void *arg,
            uint64_t *id)
{
    struct journal_entry *e = journal_entry_copy(src);
    struct journal_waiter *w = NULL;

    if (!e || (cb && !(w = calloc(1, sizeof(*w))))) {
        journal_entry_free(e);
        return AB_ENOMEM;
    }
    e->id = ++j->next_id;
    e->seq = ++j->seq;
    journal_append(j, e);
    if (!j->unlogged)
        j->unlogged = e; /* its line is made at the next loop turn, off the caller's path */
    journal_schedule(j);
    if (w) {
        w->seq = j->seq;
        w->cb = cb;
        w->arg = arg;
        *j->wtail = w;
        j->wtail = &w->next;
    }
    *id = e->id;
    return 0;
}

/* Point the entries of @conversation at @thread; false when none changed. */
static bool
journal_rethread(struct journal *j, const char *conversation, const char *thread)
{
    bool changed = false;

    for (struct journal_entry *e = j->entries; e; e = e->next) {
        if (strcmp(e->conversation, conversation) != 0 ||
            (e->reply_thread && strcmp(e->reply_thread, thread) == 0))
            continue;
        char *t = strdup(thread);
        if (!t)
            continue;
        free(e->reply_thread);
        e->reply_thread = t;
        changed = true;
    }
    return changed;
}

/* Answers of @conversation now go in @thread. */
void
journal_set_thread(struct journal *j, const char *conversation, const char *thread)
{
    cJSON *o;

    journal_log_adds(j); /* their lines say what they were before this change */
    if (!journal_rethread(j, conversation, thread))
        return;
    if ((o = cJSON_CreateObject()) &&
        (!journal_put_str(o, "k", conversation) || !journal_put_str(o, "rt", thread))) {
        cJSON_Delete(o);
        o = NULL;
    }
    journal_note(j, "t", o);
}

/* Take entry @id out of the list (owned by the caller now), or NULL when unknown. */
static struct journal_entry *
journal_unlink(struct journal *j, uint64_t id)
{
    struct journal_entry **link, *e;

    for (link = &j->entries; *link && (*link)->id != id; link = &(*link)->next)
        ;
    if ((e = *link))
        *link = e->next;
    return e;
}

/* The message got its answer. */
void
journal_done(struct journal *j, uint64_t id)
{
    struct journal_entry *e;

    journal_log_adds(j); /* before the unlink: @id may be one of them */
    e = journal_unlink(j, id);

    if (!e)
        return;
    journal_remember(j, e->platform, e->event_id, e->channel_id, e->message_id);
    journal_note(j, "d", journal_keys_json(e->platform, e->event_id, e->channel_id, e->message_id));
    journal_entry_free(e);
}

/* Forget an entry that must not be answered. */
void
journal_drop(struct journal *j, uint64_t id)
{
    struct journal_entry *e;

    journal_log_adds(j); /* before the unlink: @id may be one of them */
    e = journal_unlink(j, id);

    if (!e)
        return;
    journal_note(j, "x", journal_keys_json(e->platform, NULL, e->channel_id, e->message_id));
    journal_entry_free(e);
}

/* The first entry left by a previous process. */
const struct journal_entry *
journal_recovered(const struct journal *j)
{
    for (const struct journal_entry *e = j->entries; e; e = e->next)
        if (e->is_recovered)
            return e;
    return NULL;
}

/* Every known message of @platform. */
void
journal_each_known(const struct journal *j, const char *platform,
                   void (*fn)(void *arg, const char *event_id, const char *channel_id,
                              const char *message_id),
                   void *arg)
{
    for (const struct journal_entry *e = j->entries; e; e = e->next)
        if (strcmp(e->platform, platform) == 0)
            fn(arg, e->event_id, e->channel_id, e->message_id);
    for (size_t i = 0; i < j->recent_count; i++) {
        const struct journal_recent *r = &j->recent[i];
        if (r->platform && strcmp(r->platform, platform) == 0)
            fn(arg, r->event_id, r->channel_id, r->message_id);
    }
}

/* One of the journal's handles closed: free it after the last. */
static void
journal_handle_closed(uv_handle_t *h)
{
    struct journal *j = h->data;

    if (--j->handles == 0)
        journal_free(j);
}

/* Close the handles; the journal is freed once they are. */
static void
journal_close_handles(struct journal *j)
{
    if (j->is_closed)
        return;
    j->is_closed = true;
    uv_close((uv_handle_t *)&j->flush, journal_handle_closed);
    uv_close((uv_handle_t *)&j->retry, journal_handle_closed);
}

/* Finish writing (a last snapshot, so a clean stop leaves no log) and free. */
void
journal_close(struct journal *j)
{
    if (!j)
        return;
    while (j->waiters) {
        struct journal_waiter *w = j->waiters;
        j->waiters = w->next;
        w->cb(w->arg, AB_ECANCELED);
        free(w);
    }
    j->wtail = &j->waiters;
    j->is_closing = true;
    uv_idle_stop(&j->flush);
    uv_timer_stop(&j->retry);
    if (j->is_busy)
        return; /* journal_written goes on */
    if (journal_has_changes(j) || j->has_log) {
        j->needs_snapshot = true;
        journal_write_start(j);
    }
    if (!j->is_busy)
        journal_close_handles(j);
}
