/* libFuzzer target: the acceptance journal read back at start (core/src/state/journal.c).
 * journal.json and journal.log live in a directory the agent's uid can write, so
 * whatever they hold is read within bounds (entry count, field lengths, no control
 * characters) and never crashes the daemon. Each input is split at its first NUL byte:
 * what comes before is written as journal.json, what follows (when there is a NUL) as
 * journal.log, in a scratch directory (tmpfs); the journal is opened, walked (recovered
 * entries and every known message), one entry dropped, then closed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "state/journal.h"

static uv_loop_t journal_fuzz_loop;
static char journal_fuzz_dir[] = "/dev/shm/ab-journal-fuzz-XXXXXX";
static char journal_fuzz_path[64];
static char journal_fuzz_log[64];

/* Write @size bytes of @data as @path; remove @path when @data is NULL. */
static void
journal_fuzz_put(const char *path, const uint8_t *data, size_t size)
{
    FILE *f;

    if (!data) {
        unlink(path);
        return;
    }
    if (!(f = fopen(path, "wb")) || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort(); /* a plain write: fsync per input would slow the fuzzer down */
}

/* Touch a known message's keys as the policy would. */
static void
journal_fuzz_known(void *arg, const char *event_id, const char *channel_id, const char *message_id)
{
    size_t *sum = arg;

    *sum += (event_id ? strlen(event_id) : 0) + (channel_id ? strlen(channel_id) : 0) +
            (message_id ? strlen(message_id) : 0);
}

/* Remove the scratch directory when the fuzzer exits. */
static void
journal_fuzz_cleanup(void)
{
    char tmp[128];

    unlink(journal_fuzz_path);
    unlink(journal_fuzz_log);
    /* the snapshot's temp file, should one be left */
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", journal_fuzz_path, (long)getpid());
    unlink(tmp);
    rmdir(journal_fuzz_dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = size ? memchr(data, 0, size) : NULL;
    struct journal *j;
    const struct journal_entry *e;
    uint64_t first = 0;
    size_t sum = 0, n = 0;

    if (!journal_fuzz_path[0]) {
        if (!mkdtemp(journal_fuzz_dir) || uv_loop_init(&journal_fuzz_loop) != 0)
            abort();
        atexit(journal_fuzz_cleanup);
        snprintf(journal_fuzz_path, sizeof(journal_fuzz_path), "%s/journal.json", journal_fuzz_dir);
        snprintf(journal_fuzz_log, sizeof(journal_fuzz_log), "%s/journal.log", journal_fuzz_dir);
    }
    journal_fuzz_put(journal_fuzz_path, data, nul ? (size_t)(nul - data) : size);
    journal_fuzz_put(journal_fuzz_log, nul ? nul + 1 : NULL,
                     nul ? size - (size_t)(nul - data) - 1 : 0);
    if (journal_open(&journal_fuzz_loop, journal_fuzz_dir, &j) < 0)
        return 0;
    for (e = journal_recovered(j); e; e = e->next, n++) {
        if (!e->platform || !e->conversation || !e->reply_channel || !e->channel_id ||
            !e->message_id || !e->sender_id || strlen(e->message_id) > JOURNAL_FIELD_MAX)
            abort(); /* the reader promised complete, bounded entries */
        sum += strlen(e->platform) + strlen(e->conversation);
        if (n == 0)
            first = e->id;
    }
    if (n > JOURNAL_PENDING_MAX)
        abort();
    journal_each_known(j, "discord", journal_fuzz_known, &sum);
    journal_each_known(j, "slack", journal_fuzz_known, &sum);
    if (first)
        journal_drop(j, first);
    journal_close(j);
    uv_run(&journal_fuzz_loop, UV_RUN_DEFAULT);
    return sum == (size_t)-1; /* keep sum alive */
}
