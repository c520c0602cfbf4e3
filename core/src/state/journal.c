/* The acceptance journal, kept whole in memory and written whole (atomically, off the
 * loop) at every change: it holds only the messages in flight and a bounded list of
 * recently answered ones, so it stays small. */
#include "state/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agent-broker/errors.h>
#include <cjson/cJSON.h>

#include "log.h"
#include "state/state_file.h"
#include "state/state_writer.h"

#define JOURNAL_FILE "journal.json"

/* A message answered lately: its dedupe keys. Strings owned. */
struct journal_recent {
    char *platform, *event_id, *channel_id, *message_id;
};

/* A completion owed to journal_add's caller once generation @gen is on disk. */
struct journal_waiter {
    uint64_t gen;
    journal_recorded_fn cb;
    void *arg;
    struct journal_waiter *next;
};

struct journal {
    struct state_writer *writer;   /* owned */
    struct journal_entry *entries; /* owned, oldest first */
    struct journal_recent recent[JOURNAL_RECENT_MAX];
    size_t recent_next, recent_count;
    uint64_t next_id;
    uint64_t gen;                   /* bumped at every change */
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

/* The whole journal as JSON text (malloc'd), or NULL. */
static char *
journal_serialize(const struct journal *j)
{
    cJSON *root = cJSON_CreateObject(), *pending, *recent;
    char *text = NULL;

    if (!root || !cJSON_AddNumberToObject(root, "version", 1) ||
        !(pending = cJSON_AddArrayToObject(root, "pending")) ||
        !(recent = cJSON_AddArrayToObject(root, "recent")))
        goto out;
    for (const struct journal_entry *e = j->entries; e; e = e->next) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(pending, o) || !journal_put_str(o, "p", e->platform) ||
            !journal_put_str(o, "k", e->conversation) ||
            !journal_put_str(o, "rc", e->reply_channel) ||
            !journal_put_str(o, "rt", e->reply_thread) || !journal_put_str(o, "c", e->channel_id) ||
            !journal_put_str(o, "m", e->message_id) || !journal_put_str(o, "e", e->event_id) ||
            !journal_put_str(o, "u", e->sender_id) || !journal_put_str(o, "pc", e->parent_id) ||
            !cJSON_AddBoolToObject(o, "t", e->is_thread) ||
            !cJSON_AddBoolToObject(o, "d", e->is_dm) || !cJSON_AddBoolToObject(o, "b", e->is_bot))
            goto out;
    }
    for (size_t i = 0; i < j->recent_count; i++) {
        size_t at =
            (j->recent_next + JOURNAL_RECENT_MAX - j->recent_count + i) % JOURNAL_RECENT_MAX;
        const struct journal_recent *r = &j->recent[at];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(recent, o) || !journal_put_str(o, "p", r->platform) ||
            !journal_put_str(o, "c", r->channel_id) || !journal_put_str(o, "m", r->message_id) ||
            !journal_put_str(o, "e", r->event_id))
            goto out;
    }
    text = cJSON_PrintUnformatted(root);
out:
    cJSON_Delete(root);
    return text;
}

/* Write the journal's new content (generation @j->gen). */
static void
journal_write(struct journal *j)
{
    char *text = journal_serialize(j);

    if (!text) {
        log_error("journal", "out of memory writing the journal");
        return;
    }
    state_writer_put_tagged(j->writer, text, strlen(text), j->gen);
}

/* A write finished: every waiter whose entry it covers is told. */
static void
journal_written(void *arg, uint64_t tag, int status)
{
    struct journal *j = arg;

    while (j->waiters && j->waiters->gen <= tag) {
        struct journal_waiter *w = j->waiters;
        j->waiters = w->next;
        if (!j->waiters)
            j->wtail = &j->waiters;
        w->cb(w->arg, status);
        free(w);
    }
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

/* Take in what a previous process left. Malformed items are skipped. */
static void
journal_load(struct journal *j, const char *text, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *item;
    size_t seen = 0, skipped = 0;

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
    {
        if (++seen > JOURNAL_PENDING_MAX) {
            skipped++;
            continue;
        }
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
        if (!journal_entry_ok(&src)) {
            log_warn("journal", "dropping a journal entry with an overlong or binary field");
            continue;
        }
        struct journal_entry *e = journal_entry_copy(&src);
        if (!e) {
            log_warn("journal", "dropping an incomplete journal entry");
            continue;
        }
        e->id = ++j->next_id;
        e->is_recovered = true;
        journal_append(j, e);
    }
    if (skipped)
        log_warn("journal", "dropping %zu journal entries past the first %d", skipped,
                 JOURNAL_PENDING_MAX);
    cJSON_Delete(root);
}

/* Open the journal. */
int
journal_open(uv_loop_t *loop, const char *state_dir, struct journal **out)
{
    struct journal *j = calloc(1, sizeof(*j));
    char *path = NULL, *text = NULL;
    size_t len = 0;
    int rc;

    if (!j || asprintf(&path, "%s/%s", state_dir, JOURNAL_FILE) < 0) {
        free(j);
        return AB_ENOMEM;
    }
    j->wtail = &j->waiters;
    rc = state_file_read(path, &text, &len);
    if (rc == 0)
        journal_load(j, text, len);
    free(text);
    if (rc < 0 && rc != AB_ENOENT) {
        log_error("journal", "cannot read %s: %s", path, ab_strerror(rc));
        free(path);
        free(j);
        return rc;
    }
    if ((rc = state_writer_open(loop, path, &j->writer)) < 0) {
        free(path);
        journal_close(j);
        return rc;
    }
    free(path);
    state_writer_on_written(j->writer, journal_written, j);
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
    journal_append(j, e);
    j->gen++;
    if (w) {
        w->gen = j->gen;
        w->cb = cb;
        w->arg = arg;
        *j->wtail = w;
        j->wtail = &w->next;
    }
    *id = e->id;
    journal_write(j);
    return 0;
}

/* Answers of @conversation now go in @thread. */
void
journal_set_thread(struct journal *j, const char *conversation, const char *thread)
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
    if (changed) {
        j->gen++;
        journal_write(j);
    }
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
    struct journal_entry *e = journal_unlink(j, id);

    if (!e)
        return;
    journal_remember(j, e->platform, e->event_id, e->channel_id, e->message_id);
    journal_entry_free(e);
    j->gen++;
    journal_write(j);
}

/* Forget an entry that must not be answered. */
void
journal_drop(struct journal *j, uint64_t id)
{
    struct journal_entry *e = journal_unlink(j, id);

    if (!e)
        return;
    journal_entry_free(e);
    j->gen++;
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

/* Finish writing and free. */
void
journal_close(struct journal *j)
{
    struct journal_entry *e, *next;

    if (!j)
        return;
    while (j->waiters) {
        struct journal_waiter *w = j->waiters;
        j->waiters = w->next;
        w->cb(w->arg, AB_ECANCELED);
        free(w);
    }
    if (j->writer) {
        state_writer_on_written(j->writer, NULL, NULL);
        state_writer_close(j->writer, NULL, NULL);
    }
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
    free(j);
}
