/* The acceptance journal: every message the engine accepts is recorded in <[state]
 * dir> (journal.json, a snapshot, and journal.log, the changes since) before its
 * platform is told it may ack it, and cleared once its final reply or failure line is
 * posted. Entries left by a previous process (crash, kill -9) are handed back at start
 * so the user hears of them; recently answered messages are remembered so that a
 * platform's replay is not answered twice. A change costs its caller only memory: the
 * disk write goes at the next loop turn, on a libuv worker. */
#ifndef AB_STATE_JOURNAL_H
#define AB_STATE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Messages remembered as answered (dedupe across restarts). */
#define JOURNAL_RECENT_MAX 512

/* Bounds on what is read back: entries beyond JOURNAL_PENDING_MAX, and entries with a
 * string longer than JOURNAL_FIELD_MAX bytes or holding a control character, are logged
 * and dropped (the file lives in a directory the agent's uid can write). */
#define JOURNAL_PENDING_MAX 1024
#define JOURNAL_FIELD_MAX 256

/* One accepted message. Strings owned by the journal (NULL where noted). */
struct journal_entry {
    uint64_t id;
    char *platform;      /* chat instance name */
    char *conversation;  /* engine key "platform:conversation" */
    char *reply_channel; /* where its answer goes */
    char *reply_thread;  /* or NULL */
    char *channel_id;    /* where the message itself is */
    char *message_id;
    char *event_id; /* or NULL */
    /* Who sent it and where, as the policy judged it (a recovered entry is judged
     * again before anything is posted): */
    char *sender_id; /* NULL only in entries of an older journal: they are dropped */
    char *parent_id; /* the thread's parent channel, or NULL */
    bool is_thread, is_dm, is_bot;
    bool is_recovered; /* left by a previous process */
    uint64_t seq;      /* the journal's own: the number of the change that added it */
    struct journal_entry *next;
};

/* Completion of journal_add: 0 once the entry is on disk, or -errno. */
typedef void (*journal_recorded_fn)(void *arg, int status);

struct journal;

/* Open the journal in @state_dir (lent) on @loop, reading what a previous process
 * left (within the bounds above). Returns 0, AB_ENOMEM, or -errno when the file cannot be read (a
 * malformed file is logged and started afresh). */
int journal_open(uv_loop_t *loop, const char *state_dir, struct journal **out);

/* Record an accepted message (@e's strings lent, copied; id and flags ignored). *id
 * names it from now on. The write is issued at the next loop turn (after the caller's
 * callback returns); @cb (may be NULL) runs once, later, when the entry is on disk (0)
 * or its write failed (-errno; the journal keeps retrying). Returns 0 or AB_ENOMEM. */
int journal_add(struct journal *j, const struct journal_entry *e, journal_recorded_fn cb, void *arg,
                uint64_t *id);

/* The conversation's answers now go in @thread (lent): update its entries. */
void journal_set_thread(struct journal *j, const char *conversation, const char *thread);

/* The message @id got its answer or failure line: forget it, remember it as answered.
 * Unknown ids are ignored. */
void journal_done(struct journal *j, uint64_t id);

/* Forget entry @id without remembering it as answered (a recovered entry found not
 * to be one the daemon may answer). Unknown ids are ignored. */
void journal_drop(struct journal *j, uint64_t id);

/* Entries left by a previous process, oldest first (lent; valid until journal_done
 * of that entry). */
const struct journal_entry *journal_recovered(const struct journal *j);

/* Call @fn for every message of @platform known to the journal (pending or recently
 * answered): its dedupe keys. */
void journal_each_known(const struct journal *j, const char *platform,
                        void (*fn)(void *arg, const char *event_id, const char *channel_id,
                                   const char *message_id),
                        void *arg);

/* Finish writing (the snapshot rewritten once more, so a clean stop leaves no log) and
 * free once the loop has run; completions still owed run with AB_ECANCELED first. */
void journal_close(struct journal *j);

#endif
