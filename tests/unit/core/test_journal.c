/* The acceptance journal: an entry is reported recorded only after it is on disk (never
 * inside journal_add), survives a reopen as recovered, is cleared by journal_done and
 * then remembered as answered; a change is one line appended to journal.log (the
 * snapshot is not rewritten) and what a crash left there is replayed, skipping what the
 * snapshot already holds; a malformed file starts afresh; a failed write says so; a
 * close with a record still owed reports it cancelled. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <agent-broker/errors.h>

#include "state/journal.h"
#include "state/state_file.h"
#include "../support/check_runner.h"

struct rec {
    int calls, status;
};

/* Count a recorded callback. */
static void
recorded(void *arg, int status)
{
    struct rec *r = arg;

    r->calls++;
    r->status = status;
}

/* One known message: append its ids to the string @arg. */
static void
known(void *arg, const char *event_id, const char *channel_id, const char *message_id)
{
    char *out = arg;

    snprintf(out + strlen(out), 256 - strlen(out), "[%s|%s|%s]", event_id ? event_id : "-",
             channel_id ? channel_id : "-", message_id ? message_id : "-");
}

/* Remove the journal files and their directory. */
static void
cleanup(const char *dir)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/journal.json", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/journal.log", dir);
    unlink(path);
    rmdir(dir);
}

/* Close @j, run @loop until its handles are gone, close it and remove @dir. */
static void
finish(struct journal *j, uv_loop_t *loop, const char *dir)
{
    journal_close(j);
    uv_run(loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(loop), 0);
    cleanup(dir);
}

/* The content of @dir/@name (malloc'd), or NULL when absent. */
static char *
slurp(const char *dir, const char *name)
{
    char path[256], *text = NULL;
    size_t len;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return state_file_read(path, &text, &len) == 0 ? text : NULL;
}

/* Put @text (NULL: remove the file) back as @dir/@name. */
static void
restore(const char *dir, const char *name, const char *text)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (text)
        ck_assert_int_eq(state_file_write(path, text, strlen(text)), 0);
    else
        unlink(path);
}

/* Lines in @text. */
static int
count_lines(const char *text)
{
    int n = 0;

    for (; text && *text; text++)
        n += *text == '\n';
    return n;
}

static const struct journal_entry sample = {
    .platform = "discord",
    .conversation = "discord:m1",
    .reply_channel = "c1",
    .reply_thread = NULL,
    .channel_id = "c1",
    .message_id = "m1",
    .event_id = NULL,
    .sender_id = "u1",
};

START_TEST(recorded_after_the_write_and_recovered_after_a_reopen)
{
    char dir[] = "/tmp/ab-journal-XXXXXX", ids[256] = "";
    struct journal *j;
    const struct journal_entry *e;
    struct rec r = {0};
    uv_loop_t loop;
    uint64_t id = 0;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(journal_open(&loop, dir, &j), 0);
    ck_assert_ptr_null(journal_recovered(j));
    ck_assert_int_eq(journal_add(j, &sample, recorded, &r, &id), 0);
    ck_assert_int_eq(r.calls, 0); /* never inside the call */
    journal_set_thread(j, "discord:m1", "t1");
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.status, 0);
    journal_close(j); /* as after kill -9: nothing cleared */
    uv_run(&loop, UV_RUN_DEFAULT);

    ck_assert_int_eq(journal_open(&loop, dir, &j), 0);
    ck_assert_ptr_nonnull(e = journal_recovered(j));
    ck_assert_str_eq(e->message_id, "m1");
    ck_assert_str_eq(e->reply_thread, "t1");
    ck_assert(e->is_recovered);
    journal_done(j, e->id);
    ck_assert_ptr_null(journal_recovered(j));
    journal_each_known(j, "discord", known, ids);
    ck_assert_str_eq(ids, "[-|c1|m1]"); /* remembered as answered */
    journal_close(j);
    uv_run(&loop, UV_RUN_DEFAULT);

    ck_assert_int_eq(journal_open(&loop, dir, &j), 0);
    ck_assert_ptr_null(journal_recovered(j));
    ids[0] = '\0';
    journal_each_known(j, "slack", known, ids);
    ck_assert_str_eq(ids, "");
    finish(j, &loop, dir);
}
END_TEST

static const struct journal_entry sample2 = {
    .platform = "discord",
    .conversation = "discord:m2",
    .reply_channel = "c1",
    .channel_id = "c1",
    .message_id = "m2",
    .event_id = "ev2",
    .sender_id = "u1",
};

/* Every change is a line appended to journal.log, written once the loop turns (never
 * inside journal_add); the snapshot is not rewritten. A crash (the files as they were
 * before the close, put back) leaves the log, and a reopen replays it. */
START_TEST(changes_are_appended_and_replayed_after_a_crash)
{
    char dir[] = "/tmp/ab-journal-XXXXXX", ids[256] = "";
    char *log, *snap;
    struct journal *j;
    const struct journal_entry *e;
    struct rec r1 = {0}, r2 = {0};
    uv_loop_t loop;
    uint64_t id1, id2;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(journal_open(&loop, dir, &j), 0);
    ck_assert_int_eq(journal_add(j, &sample, recorded, &r1, &id1), 0);
    ck_assert_int_eq(journal_add(j, &sample2, recorded, &r2, &id2), 0);
    ck_assert_ptr_null(log = slurp(dir, "journal.log")); /* nothing inside the call */
    while (r1.calls == 0 || r2.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    ck_assert_int_eq(r1.status, 0);
    ck_assert_int_eq(r2.status, 0);
    ck_assert_ptr_nonnull(log = slurp(dir, "journal.log"));
    ck_assert_int_eq(count_lines(log), 2);
    ck_assert_ptr_nonnull(strstr(log, "\"m\":\"m2\""));
    free(log);
    journal_set_thread(j, "discord:m1", "t1");
    journal_done(j, id2);
    ck_assert_int_eq(journal_add(j, &sample2, recorded, &r2, &id2), 0);
    journal_drop(j, id2); /* added and dropped in one loop turn */
    for (int i = 0; i < 20 && (!(log = slurp(dir, "journal.log")) || count_lines(log) < 6); i++) {
        free(log);
        uv_run(&loop, UV_RUN_ONCE);
    }
    ck_assert_int_eq(count_lines(log), 6);
    ck_assert_ptr_null(snap = slurp(dir, "journal.json")); /* no whole rewrite */
    journal_close(j); /* kill -9 instead: the files stay as they are */
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_ptr_null(slurp(dir, "journal.log")); /* a clean close folds the log in */
    restore(dir, "journal.log", log);
    restore(dir, "journal.json", NULL);
    free(log);

    ck_assert_int_eq(journal_open(&loop, dir, &j), 0);
    ck_assert_ptr_nonnull(e = journal_recovered(j));
    ck_assert_str_eq(e->message_id, "m1");
    ck_assert_str_eq(e->reply_thread, "t1");
    ck_assert_ptr_null(e->next); /* m2: answered, then added again and dropped */
    journal_each_known(j, "discord", known, ids);
    ck_assert_str_eq(ids, "[-|c1|m1][ev2|c1|m2]");
    uv_run(&loop, UV_RUN_NOWAIT); /* the log left behind goes into the snapshot */
    while (!(snap = slurp(dir, "journal.json")))
        uv_run(&loop, UV_RUN_ONCE);
    ck_assert_ptr_nonnull(strstr(snap, "\"seq\":6"));
    free(snap);
    finish(j, &loop, dir);
}
END_TEST

/* A log line numbered at most the snapshot's "seq" is already in it (a crash between
 * the snapshot's rename and the log's removal): skipped. A torn or malformed line is
 * skipped; the lines after it count. */
START_TEST(log_lines_the_snapshot_holds_are_skipped)
{
    char dir[] = "/tmp/ab-journal-XXXXXX", ids[256] = "";
    struct journal *j;
    const struct journal_entry *e;
    uv_loop_t loop;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    restore(dir, "journal.json",
            "{\"version\":1,\"seq\":5,\"pending\":[{\"p\":\"discord\",\"k\":\"discord:m1\","
            "\"rc\":\"c1\",\"c\":\"c1\",\"m\":\"m1\",\"u\":\"u1\"}],\"recent\":[]}");
    restore(dir, "journal.log",
            "{\"s\":4,\"a\":{\"p\":\"discord\",\"k\":\"discord:m0\",\"rc\":\"c1\",\"c\":\"c1\","
            "\"m\":\"m0\",\"u\":\"u1\"}}\n"
            "{\"s\":5,\"d\":{\"p\":\"discord\",\"c\":\"c1\",\"m\":\"m1\"}}\n"
            "{\"s\":6,\"a\":{\"p\":\"discord\",\"k\":\"discord:m3\",\"rc\":\"c1\",\"c\":\"c1\","
            "\"m\":\"m3\",\"u\":\"u1\"}}\n"
            "{\"s\":7,\"a\":{\"p\":\"disc\n"
            "{\"s\":1e300,\"d\":{\"p\":\"discord\",\"c\":\"c1\",\"m\":\"m1\"}}\n"
            "{\"s\":8,\"t\":{\"k\":\"discord:m3\",\"rt\":\"t3\"}}\n"
            "{\"s\":8,\"d\":{\"p\":\"discord\",\"c\":\"c1\",\"m\":\"m3\"}}");
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(journal_open(&loop, dir, &j), 0);
    ck_assert_ptr_nonnull(e = journal_recovered(j));
    ck_assert_str_eq(e->message_id, "m1");
    ck_assert_ptr_nonnull(e = e->next);
    ck_assert_str_eq(e->message_id, "m3");
    ck_assert_str_eq(e->reply_thread, "t3");
    ck_assert_ptr_null(e->next);
    journal_each_known(j, "discord", known, ids);
    ck_assert_str_eq(ids, "[-|c1|m1][-|c1|m3]"); /* nothing answered */
    finish(j, &loop, dir);
}
END_TEST

/* Past JOURNAL_COMPACT_RECORDS changes the next write is a snapshot, which removes the
 * log. */
START_TEST(a_long_log_is_folded_into_the_snapshot)
{
    char dir[] = "/tmp/ab-journal-XXXXXX", mid[32], *snap;
    struct journal *j;
    struct journal_entry e = sample;
    uv_loop_t loop;
    uint64_t id;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(journal_open(&loop, dir, &j), 0);
    e.message_id = mid;
    for (int i = 0; i < 600; i++) {
        snprintf(mid, sizeof(mid), "m%d", i);
        ck_assert_int_eq(journal_add(j, &e, NULL, NULL, &id), 0);
        journal_done(j, id);
    }
    while (!(snap = slurp(dir, "journal.json")))
        uv_run(&loop, UV_RUN_ONCE);
    ck_assert_ptr_nonnull(strstr(snap, "\"seq\":1200"));
    ck_assert_ptr_nonnull(strstr(snap, "\"m\":\"m599\""));
    ck_assert_ptr_null(slurp(dir, "journal.log"));
    free(snap);
    finish(j, &loop, dir);
}
END_TEST

START_TEST(malformed_file_starts_afresh)
{
    char dir[] = "/tmp/ab-journal-XXXXXX", path[256];
    struct journal *j;
    uv_loop_t loop;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/journal.json", dir);
    ck_assert_int_eq(state_file_write(path, "{\"pending\":[{\"p\":1},{\"m\":\"x\"}", 30), 0);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(journal_open(&loop, dir, &j), 0);
    ck_assert_ptr_null(journal_recovered(j));
    journal_close(j);
    ck_assert_int_eq(state_file_write(path, "{\"pending\":[{\"p\":\"discord\"},7]}", 31), 0);
    ck_assert_int_eq(journal_open(&loop, dir, &j), 0);
    ck_assert_ptr_null(journal_recovered(j)); /* incomplete entries are skipped */
    finish(j, &loop, dir);
}
END_TEST

START_TEST(failed_write_and_close_are_reported)
{
    char dir[] = "/tmp/ab-journal-XXXXXX";
    struct journal *j;
    struct rec r1 = {0}, r2 = {0};
    uv_loop_t loop;
    uint64_t id;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ck_assert_int_eq(journal_open(&loop, dir, &j), 0);
    ck_assert_int_eq(rmdir(dir), 0); /* the directory is gone: the write fails */
    ck_assert_int_eq(journal_add(j, &sample, recorded, &r1, &id), 0);
    while (r1.calls == 0) /* the writer keeps retrying: do not wait for the loop to end */
        uv_run(&loop, UV_RUN_ONCE);
    ck_assert_int_eq(r1.calls, 1);
    ck_assert_int_lt(r1.status, 0);
    ck_assert_int_eq(journal_add(j, &sample, recorded, &r2, &id), 0);
    journal_close(j); /* owed: cancelled, at once */
    ck_assert_int_eq(r2.calls, 1);
    ck_assert_int_eq(r2.status, AB_ECANCELED);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(r2.calls, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* Append to @out (capacity @cap) a journal entry as JSON: message @m from u1 in @channel.
 */
static void
forged_entry(char *out, size_t cap, const char *m, const char *channel)
{
    size_t n = strlen(out);

    snprintf(out + n, cap - n,
             "%s{\"p\":\"discord\",\"k\":\"discord:%s\",\"rc\":\"%s\",\"c\":\"%s\","
             "\"m\":\"%s\",\"u\":\"u1\"}",
             n > 0 && out[n - 1] != '[' ? "," : "", m, channel, channel, m);
}

/* Count the entries left by a previous process. */
static size_t
count_recovered(const struct journal *j)
{
    size_t n = 0;

    for (const struct journal_entry *e = journal_recovered(j); e; e = e->next)
        n += e->is_recovered;
    return n;
}

/* A journal rewritten by someone else is read back within bounds: at most
 * JOURNAL_PENDING_MAX entries, no field longer than JOURNAL_FIELD_MAX bytes or holding a
 * control character, no entry without its sender (it could not be judged by the
 * policy). The rest are dropped; a sane entry among them survives. */
START_TEST(forged_entries_are_bounded)
{
    char dir[] = "/tmp/ab-journal-XXXXXX", path[256], id[32];
    char *big = calloc(1, 4 * 1024 * 1024), *longf = calloc(1, JOURNAL_FIELD_MAX + 2);
    struct journal *j;
    const struct journal_entry *e;
    uv_loop_t loop;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/journal.json", dir);
    ck_assert_int_eq(uv_loop_init(&loop), 0);

    /* too many */
    strcpy(big, "{\"version\":1,\"pending\":[");
    for (int i = 0; i < JOURNAL_PENDING_MAX + 500; i++) {
        snprintf(id, sizeof(id), "m%d", i);
        forged_entry(big, 4 * 1024 * 1024, id, "c1");
    }
    strcat(big, "],\"recent\":[]}");
    ck_assert_int_eq(state_file_write(path, big, strlen(big)), 0);
    ck_assert_int_eq(journal_open(&loop, dir, &j), 0);
    ck_assert_uint_eq(count_recovered(j), JOURNAL_PENDING_MAX);
    journal_close(j);
    uv_run(&loop, UV_RUN_DEFAULT);

    /* an overlong field, a control character, no sender; one sane entry */
    memset(longf, 'x', JOURNAL_FIELD_MAX + 1);
    strcpy(big, "{\"version\":1,\"pending\":[");
    forged_entry(big, 4 * 1024 * 1024, "long", longf);
    forged_entry(big, 4 * 1024 * 1024, "ctl\\u001b[2J", "c1");
    strcat(big, ",{\"p\":\"discord\",\"k\":\"discord:nosender\",\"rc\":\"c1\",\"c\":\"c1\","
                "\"m\":\"nosender\"}");
    forged_entry(big, 4 * 1024 * 1024, "sane", "c1");
    strcat(big, "],\"recent\":[]}");
    ck_assert_int_eq(state_file_write(path, big, strlen(big)), 0);
    ck_assert_int_eq(journal_open(&loop, dir, &j), 0);
    ck_assert_uint_eq(count_recovered(j), 1);
    ck_assert_ptr_nonnull(e = journal_recovered(j));
    ck_assert_str_eq(e->message_id, "sane");
    ck_assert_str_eq(e->sender_id, "u1");
    journal_close(j);
    uv_run(&loop, UV_RUN_DEFAULT);

    ck_assert_int_eq(uv_loop_close(&loop), 0);
    cleanup(dir);
    free(big);
    free(longf);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        recorded_after_the_write_and_recovered_after_a_reopen,
        changes_are_appended_and_replayed_after_a_crash,
        log_lines_the_snapshot_holds_are_skipped,
        a_long_log_is_folded_into_the_snapshot,
        malformed_file_starts_afresh,
        failed_write_and_close_are_reported,
        forged_entries_are_bounded,
        NULL,
    };

    return check_run_list("journal", 0, tests);
}
