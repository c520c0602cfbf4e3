/* A hostile agent cannot make the daemon hold unbounded memory: a reply's text past
 * what [stream] max_parts can show is counted, not kept (the user reads "…truncated
 * (N more characters)"); tool calls past RENDER_TOOLS_MAX are counted, not kept (a line
 * says how many were not shown); permission requests past ACP_PERM_PENDING_MAX waiting
 * in one turn are rejected at once. Live heap is measured from the allocator (ASan's
 * count, else mallinfo2), so not under valgrind. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "../support/conv_fixture.h"
#include "../support/check_runner.h"
#include "acp/acp_permission.h"
#include "render/render.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOSTILE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HOSTILE_ASAN 1
#endif
#ifdef HOSTILE_ASAN
/* The sanitizer runtime's count (sanitizer/allocator_interface.h, not installed with
 * every compiler). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* Bytes the process has allocated and not freed now. */
static size_t
live_bytes(void)
{
#ifdef HOSTILE_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

/* The agent streams 300 chunks of 64 KiB (19.7 MB) with max_parts 3 on a 2000-character
 * platform: the heap never holds the flood (measured between loop rounds, it stays
 * within a few MB of where it started), the reply is 3 messages, the last one the
 * truncation line counting everything that was not shown. */
START_TEST(text_flood_is_counted_not_held)
{
    enum { CHUNKS = 300, CHUNK = 65536 };
    struct conv_fx f;
    const char *m, *last = NULL;
    size_t base, peak = 0, cut = 0;
    int sends = 0;

    conv_fx_init(&f, NULL);
    f.ecfg.max_parts = 3;
    conv_fx_start(&f);
    fake_chat_keep_calls(f.fake, true);
    conv_fx_run(&f, 200);
    base = live_bytes();
    m = conv_fx_mention(&f, "U1", "[[flood 300]]");
    for (int i = 0; i < 3000 && !conv_fx_idle(&f, 20); i++) {
        size_t now = live_bytes();
        peak = now > peak ? now : peak;
    }
    ck_assert(conv_fx_idle(&f, 60000));
    ck_assert_msg(peak < base + (size_t)8 * 1024 * 1024,
                  "the heap grew by %zu bytes during a %d-byte reply", peak - base, CHUNKS * CHUNK);
    for (size_t i = 0; i < fake_chat_count(f.fake); i++) {
        const struct fake_call *c = fake_chat_call(f.fake, i);
        if (c->kind == FAKE_SEND && c->status == 0 && c->thread_id && strcmp(c->thread_id, m) == 0)
            sends++;
    }
    ck_assert_int_le(sends, 3);
    for (size_t i = 0; i < fake_chat_count(f.fake); i++) {
        const struct fake_call *c = fake_chat_call(f.fake, i);
        if ((c->kind == FAKE_SEND || c->kind == FAKE_EDIT) && c->text &&
            strstr(c->text, "…truncated ("))
            last = c->text;
    }
    ck_assert_ptr_nonnull(last);
    ck_assert_int_eq(sscanf(strstr(last, "…truncated ("), "…truncated (%zu more characters)", &cut),
                     1);
    /* shown: two parts of at most 2000 characters; the rest is counted */
    ck_assert_uint_ge(cut, (size_t)CHUNKS * CHUNK - 2 * 2000);
    ck_assert_uint_le(cut, (size_t)CHUNKS * CHUNK);
    conv_fx_close(&f);
}
END_TEST

/* 600 tool calls in one turn: the reply shows RENDER_TOOLS_MAX of them and one line
 * saying how many more were not shown; the turn ends normally. */
START_TEST(tool_flood_is_counted_not_held)
{
    struct conv_fx f;
    const char *m;
    char *thread, line[64];

    conv_fx_init(&f, NULL);
    f.ecfg.max_parts = 10;
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[tools 600]]");
    ck_assert(conv_fx_idle(&f, 60000));
    thread = conv_fx_thread_text(&f, m);
    snprintf(line, sizeof(line), "…%d more tool calls not shown", 600 - RENDER_TOOLS_MAX);
    ck_assert_msg(strstr(thread, line), "%.300s", thread);
    ck_assert_ptr_nonnull(strstr(thread, "Read file256.txt"));
    ck_assert_ptr_null(strstr(thread, "Read file257.txt"));
    ck_assert(fake_chat_has_reaction(f.fake, m, "🆗"));
    free(thread);
    conv_fx_close(&f);
}
END_TEST

/* Ask mode: 30 permission requests at once. ACP_PERM_PENDING_MAX of them are asked in
 * the thread (and time out unanswered); the others are rejected at once; the agent
 * hears 30 rejections and the turn ends. */
START_TEST(permission_flood_is_capped)
{
    struct conv_fx f;
    const char *m;
    char *thread;

    conv_fx_init(&f, NULL);
    conv_fx_ask_mode(&f, 1500);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[permissions 30]]");
    ck_assert(conv_fx_idle(&f, 60000));
    ck_assert_int_eq(fake_chat_count_kind(f.fake, FAKE_SEND, "🔐"), ACP_PERM_PENDING_MAX);
    thread = conv_fx_thread_text(&f, m);
    ck_assert_msg(strstr(thread, "permissions: 0 allowed, 30 rejected, 0 cancelled, 0 invalid"),
                  "%.500s", thread);
    free(thread);
    conv_fx_close(&f);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        text_flood_is_counted_not_held,
        tool_flood_is_counted_not_held,
        permission_flood_is_capped,
        NULL,
    };

    return check_run_list("conv_hostile", 120, tests);
}
