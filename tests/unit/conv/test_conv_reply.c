/* The conversation engine, how the reply appears: one live message paced by the edit
 * interval, its tail while too long, the final split with balanced code fences, tool
 * lines, platforms without edit, and the lines that say how a turn ended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "../support/check_runner.h"
#include "../support/conv_fixture.h"

#define FLAGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define STREAM_CHUNKS 600

/* The posts after the live message @live in @thread, in order (the final parts). */
static int
later_posts(const struct conv_fx *f, const char *thread, const char *live, const char **out,
            int max)
{
    int n = 0;

    for (size_t i = 0; i < fake_chat_count(f->fake); i++) {
        const struct fake_call *c = fake_chat_call(f->fake, i);
        if (c->kind == FAKE_SEND && c->message_id && c->thread_id &&
            strcmp(c->thread_id, thread) == 0 && strcmp(c->message_id, live) != 0 && n < max)
            out[n++] = c->message_id;
    }
    return n;
}

/* Whether every chunk1 … chunk@n appears once, in order, in @text. */
static bool
has_chunks_in_order(const char *text, int n)
{
    const char *at = text;
    char word[32];

    for (int k = 1; k <= n; k++) {
        snprintf(word, sizeof(word), "chunk%d ", k);
        if (!(at = strstr(at, word)))
            return false;
        at += strlen(word);
    }
    return !strstr(at, "chunk");
}

START_TEST(live_message_created_once_and_edited_at_most_once_per_interval)
{
    struct conv_fx f;
    const char *m, *live, *parts[8];
    const struct fake_call *c, *prev = NULL;
    char prompt[64], *thread;
    uint64_t first_ms = 0, last_live_ms = 0;
    int edits = 0, nparts, last_edit = -1;
    bool showed_tail = false;

    conv_fx_init(&f, NULL);
    f.ecfg.edit_interval_ms = 150;
    conv_fx_start(&f);
    /* About 1000 chunks a second. */
    snprintf(prompt, sizeof(prompt), "[[stream %d]] [[tick 1]]", STREAM_CHUNKS);
    m = conv_fx_mention(&f, "U1", prompt);
    ck_assert(conv_fx_idle(&f, 20000));
    live = conv_fx_first_post(&f, m);
    ck_assert_ptr_nonnull(live);
    for (size_t i = 0; i < fake_chat_count(f.fake); i++)
        if (fake_chat_call(f.fake, i)->kind == FAKE_EDIT)
            last_edit = (int)i;
    ck_assert_int_gt(last_edit, 0);
    for (int i = 0; i < last_edit; i++) {
        c = fake_chat_call(f.fake, (size_t)i);
        if (!(c->kind == FAKE_SEND && c->message_id && strcmp(c->message_id, live) == 0) &&
            c->kind != FAKE_EDIT)
            continue;
        ck_assert_str_eq(c->message_id, live); /* one live message, nothing else edited */
        if (prev)
            ck_assert_msg(c->at_ms - prev->at_ms >= 150, "live edits %llu ms apart",
                          (unsigned long long)(c->at_ms - prev->at_ms));
        else
            first_ms = c->at_ms;
        ck_assert_uint_le(conv_fx_chars(c->text), 2000);
        showed_tail |= strncmp(c->text, "…", strlen("…")) == 0;
        edits += c->kind == FAKE_EDIT;
        last_live_ms = c->at_ms;
        prev = c;
    }
    ck_assert_int_ge(edits, 2);
    ck_assert_uint_le((uint64_t)edits, (last_live_ms - first_ms) / 150 + 1);
    ck_assert(showed_tail); /* the render outgrew 2000 characters while streaming */
    /* The final render replaced the live message; the rest follows in new messages. */
    ck_assert_str_eq(fake_chat_call(f.fake, (size_t)last_edit)->message_id, live);
    ck_assert_int_eq(strncmp(fake_chat_message_text(f.fake, live), "chunk1 ", 7), 0);
    nparts = later_posts(&f, m, live, parts, 8);
    ck_assert_int_ge(nparts, 2);
    for (int i = 0; i < nparts; i++)
        ck_assert_uint_le(conv_fx_chars(fake_chat_message_text(f.fake, parts[i])), 2000);
    thread = conv_fx_thread_text(&f, m);
    ck_assert(has_chunks_in_order(thread, STREAM_CHUNKS));
    free(thread);
    conv_fx_close(&f);
}
END_TEST

/* Occurrences of ``` in @s. */
static int
fences(const char *s)
{
    int n = 0;

    while ((s = strstr(s, "```"))) {
        n++;
        s += 3;
    }
    return n;
}

START_TEST(final_split_at_max_chars_keeps_code_fences_balanced)
{
    struct conv_fx f;
    const char *m, *live, *parts[32], *text, *env[2];
    char code[4096], lines[30][32];
    const char *needles[31];
    size_t len = 0;
    int nparts;

    conv_fx_init(&f, NULL);
    f.chat.max_chars = 200;
    /* The scripted agent collapses whitespace when it echoes, but [[env]] prints its
     * environment verbatim: a multi-line value is how it writes a code block. */
    len += (size_t)snprintf(code, sizeof(code), "CODE_SAMPLE=intro\n```python\n");
    for (int k = 0; k < 30; k++) {
        snprintf(lines[k], sizeof(lines[k]), "print('line %02d')", k);
        needles[k] = lines[k];
        len += (size_t)snprintf(code + len, sizeof(code) - len, "%s\n", lines[k]);
    }
    needles[30] = NULL;
    snprintf(code + len, sizeof(code) - len, "```\nafter the code");
    env[0] = code;
    env[1] = NULL;
    f.acp.launch.config_env = env;
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[env]]");
    ck_assert(conv_fx_idle(&f, 10000));
    live = conv_fx_first_post(&f, m);
    ck_assert_ptr_nonnull(live);
    parts[0] = live;
    nparts = 1 + later_posts(&f, m, live, parts + 1, 31);
    ck_assert_int_ge(nparts, 3);
    for (int i = 0; i < nparts; i++) {
        const char *code_line, *fence;
        text = fake_chat_message_text(f.fake, parts[i]);
        ck_assert_uint_le(conv_fx_chars(text), 200);
        ck_assert_msg(fences(text) % 2 == 0, "part %d has an open fence:\n%s", i, text);
        /* A part holding code lines opens its fence (with the language) first. */
        if ((code_line = strstr(text, "print('line"))) {
            fence = strstr(text, "```python\n");
            ck_assert_msg(fence && fence < code_line, "part %d:\n%s", i, text);
        }
    }
    {
        char *thread = conv_fx_thread_text(&f, m);
        ck_assert(conv_fx_in_order(thread, needles));
        ck_assert_ptr_nonnull(strstr(thread, "after the code"));
        free(thread);
    }
    conv_fx_close(&f);
}
END_TEST

START_TEST(platform_without_edit_gets_one_message_per_chunk_at_the_end)
{
    struct conv_fx f;
    const char *m;
    char *thread;
    uint64_t t0;
    int posts = 0;

    conv_fx_init(&f, NULL);
    f.chat.no_edit = true;
    f.chat.max_chars = 200;
    conv_fx_start(&f);
    uv_update_time(&f.acp.loop);
    t0 = uv_now(&f.acp.loop);
    m = conv_fx_mention(&f, "U1", "[[stream 40]] [[tick 10]]");
    ck_assert(conv_fx_idle(&f, 10000));
    for (size_t i = 0; i < fake_chat_count(f.fake); i++) {
        const struct fake_call *c = fake_chat_call(f.fake, i);
        if (c->kind != FAKE_SEND)
            continue;
        posts++;
        ck_assert_uint_le(conv_fx_chars(c->text), 200);
        ck_assert_msg(c->at_ms - t0 >= 390, "posted %llu ms after the message, mid-stream",
                      (unsigned long long)(c->at_ms - t0));
    }
    ck_assert_int_eq(posts, 2); /* 31 + 40 chunk words: about 330 characters */
    thread = conv_fx_thread_text(&f, m);
    ck_assert(has_chunks_in_order(thread, 40));
    free(thread);
    conv_fx_close(&f);
}
END_TEST

/* Digits 0-9 in @text. */
static size_t
count_digits(const char *text)
{
    size_t n = 0;

    for (; text && *text; text++)
        n += *text >= '0' && *text <= '9';
    return n;
}

START_TEST(huge_reply_is_cut_after_max_parts_with_one_line_saying_how_much)
{
    struct conv_fx f;
    const char *m, *live, *parts[64], *last;
    size_t shown = 0, cut = 0;
    int nparts;

    conv_fx_init(&f, NULL);
    f.chat.max_chars = 2000;
    f.ecfg.max_parts = 10;
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[big 100000]]");
    ck_assert(conv_fx_idle(&f, 20000));
    live = conv_fx_first_post(&f, m);
    ck_assert_ptr_nonnull(live);
    parts[0] = live;
    nparts = 1 + later_posts(&f, m, live, parts + 1, 63);
    ck_assert_int_eq(nparts, 10); /* not 50 */
    for (int i = 0; i < nparts - 1; i++)
        shown += count_digits(fake_chat_message_text(f.fake, parts[i]));
    last = fake_chat_message_text(f.fake, parts[nparts - 1]);
    ck_assert_msg(sscanf(last, "…truncated (%zu more characters)", &cut) == 1, "last: %s", last);
    ck_assert_uint_gt(cut, 0);
    ck_assert_uint_eq(shown + cut, 100000); /* nothing cut without saying so */
    conv_fx_close(&f);
}
END_TEST

START_TEST(platform_without_threads_or_reactions_replies_in_the_channel)
{
    struct conv_fx f;
    const struct fake_call *c;
    int i;

    conv_fx_init(&f, NULL);
    f.chat.no_threads = true;
    f.chat.no_react = true;
    conv_fx_start(&f);
    conv_fx_mention(&f, "U1", "hello");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_ge(i = fake_chat_find(f.fake, 0, FAKE_SEND, NULL, NULL, NULL), 0);
    c = fake_chat_call(f.fake, (size_t)i);
    ck_assert_str_eq(c->channel_id, CONV_FX_CHANNEL);
    ck_assert_ptr_null(c->thread_id);
    ck_assert_ptr_nonnull(strstr(fake_chat_message_text(f.fake, c->message_id), "> hello"));
    ck_assert_int_eq(fake_chat_count_kind(f.fake, FAKE_SEND, NULL), 1);
    ck_assert_int_eq(fake_chat_count_kind(f.fake, FAKE_REACT, NULL), 0);
    ck_assert_int_eq(fake_chat_count_kind(f.fake, FAKE_OPEN_THREAD, NULL), 0);
    conv_fx_close(&f);
}
END_TEST

START_TEST(tool_display_compact_and_none)
{
    static const struct {
        enum render_tool_display mode;
        const char *final;
    } cases[] = {
        {RENDER_TOOLS_COMPACT, "✅ 3 tools: 3 done\n\ndone"},
        {RENDER_TOOLS_NONE, "done"},
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct conv_fx f;
        const char *m;

        conv_fx_init(&f, NULL);
        f.ecfg.tool_display = cases[k].mode;
        conv_fx_start(&f);
        m = conv_fx_mention(&f, "U1", "[[tools 3]]");
        ck_assert(conv_fx_idle(&f, 10000));
        ck_assert_str_eq(fake_chat_message_text(f.fake, conv_fx_first_post(&f, m)), cases[k].final);
        conv_fx_close(&f);
    }
}
END_TEST

START_TEST(tool_lines_appear_and_flip_to_done)
{
    struct conv_fx f;
    const char *m, *live, *text;

    conv_fx_init(&f, NULL);
    f.ecfg.edit_interval_ms = 50;
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[tool]] [[tick 200]]");
    ck_assert_int_ge(conv_fx_wait_call(&f, 5000, FAKE_EDIT, "🔧 `Read README.md`…", NULL, NULL), 0);
    ck_assert(conv_fx_idle(&f, 10000));
    live = conv_fx_first_post(&f, m);
    text = fake_chat_message_text(f.fake, live);
    ck_assert_str_eq(text, "✅ `Read README.md`\n\ndone");
    ck_assert(fake_chat_has_reaction(f.fake, m, "😊"));
    conv_fx_close(&f);
}
END_TEST

START_TEST(failed_tool_flips_to_cross)
{
    struct conv_fx f;
    const char *m, *text;

    conv_fx_init(&f, NULL);
    f.acp.cfg.perm_mode = ACP_PERM_DENY; /* the agent's tool is refused: it fails */
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[permission]]");
    ck_assert(conv_fx_idle(&f, 10000));
    text = fake_chat_message_text(f.fake, conv_fx_first_post(&f, m));
    ck_assert_str_eq(text, "❌ `Write x.txt`\n\npermission rejected: opt-reject");
    ck_assert(fake_chat_has_reaction(f.fake, m, "😅"));
    conv_fx_close(&f);
}
END_TEST

START_TEST(stop_reasons_other_than_end_turn_are_shown)
{
    static const char *const cases[][2] = {
        {"[[stop max_tokens]]", "max_tokens"},
        {"[[stop refusal]]", "refusal"},
        {"[[stop max_turn_requests]]", "max_turn_requests"},
    };
    struct conv_fx f;
    const char *m, *q;
    char *thread;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "plain");
    ck_assert(conv_fx_idle(&f, 10000));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        q = conv_fx_follow_up(&f, m, "U1", cases[i][0]);
        ck_assert(conv_fx_idle(&f, 10000));
        ck_assert_int_ge(fake_chat_find(f.fake, 0, FAKE_EDIT, cases[i][1], NULL, NULL), 0);
        ck_assert(fake_chat_has_reaction(f.fake, q, "🆗"));
    }
    thread = conv_fx_thread_text(&f, m);
    ck_assert(conv_fx_in_order(thread,
                               FLAGS("plain", "(max_tokens)", "(refusal)", "(max_turn_requests)")));
    ck_assert_ptr_null(strstr(thread, "end_turn")); /* a plain end says nothing */
    free(thread);
    conv_fx_close(&f);
}
END_TEST

START_TEST(agent_crash_mid_turn_keeps_partial_text_and_says_so)
{
    struct conv_fx f;
    const char *m, *text;
    char *thread;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "[[crash]]");
    ck_assert(conv_fx_idle(&f, 10000));
    text = fake_chat_message_text(f.fake, conv_fx_first_post(&f, m));
    ck_assert_str_eq(text, "chunk1 \n\n⚠️ The agent stopped unexpectedly (exit 3); the next "
                           "message starts a fresh session");
    ck_assert(fake_chat_has_reaction(f.fake, m, "😱"));
    conv_fx_follow_up(&f, m, "U1", "again");
    ck_assert(conv_fx_idle(&f, 10000));
    thread = conv_fx_thread_text(&f, m);
    ck_assert(conv_fx_in_order(
        thread, FLAGS("stopped unexpectedly",
                      "⚠️ The agent stopped during an earlier turn, so this is a fresh "
                      "session",
                      "> again")));
    free(thread);
    conv_fx_close(&f);
}
END_TEST

START_TEST(agent_that_cannot_start_says_failed_to_start_with_auth_hint)
{
    struct conv_fx f;
    const char *m, *text;

    conv_fx_init(&f, FLAGS("--crash-on-start"));
    f.acp.launch.auth_hint = "scripted-agent login";
    f.ecfg.auth_hint = "scripted-agent login";
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "hello");
    ck_assert(conv_fx_idle(&f, 10000));
    text = fake_chat_message_text(f.fake, conv_fx_first_post(&f, m));
    ck_assert_msg(strncmp(text, "⚠️ Failed to start agent: ",
                          strlen("⚠️ Failed to start agent: ")) == 0,
                  "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "fatal: not logged in"));
    ck_assert_ptr_nonnull(strstr(text, "To log in: scripted-agent login"));
    ck_assert_ptr_null(strstr(text, "stopped unexpectedly"));
    ck_assert_ptr_null(strstr(text, "failed to start agent")); /* said once, not twice */
    ck_assert(fake_chat_has_reaction(f.fake, m, "😱"));
    conv_fx_close(&f);
}
END_TEST

START_TEST(missing_agent_command_says_failed_to_start_with_auth_hint)
{
    struct conv_fx f;
    const char *m, *text;

    conv_fx_init(&f, NULL);
    f.acp.launch.command = "/nonexistent/agent-binary";
    f.ecfg.auth_hint = "agent-binary login";
    conv_fx_start(&f);
    m = conv_fx_mention(&f, "U1", "hello");
    ck_assert(conv_fx_idle(&f, 10000));
    ck_assert_int_ge(fake_chat_find(f.fake, 0, FAKE_SEND, NULL, NULL, NULL), 0);
    text = conv_fx_thread_text(&f, m);
    ck_assert_msg(
        strstr(text, "⚠️ Failed to start agent: cannot run '/nonexistent/agent-binary'"), "%s",
        text);
    ck_assert_ptr_nonnull(strstr(text, "To log in: agent-binary login"));
    ck_assert(fake_chat_has_reaction(f.fake, m, "😱"));
    free((char *)text);
    conv_fx_close(&f);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        live_message_created_once_and_edited_at_most_once_per_interval,
        final_split_at_max_chars_keeps_code_fences_balanced,
        platform_without_edit_gets_one_message_per_chunk_at_the_end,
        platform_without_threads_or_reactions_replies_in_the_channel,
        huge_reply_is_cut_after_max_parts_with_one_line_saying_how_much,
        tool_display_compact_and_none,
        tool_lines_appear_and_flip_to_done,
        failed_tool_flips_to_cross,
        stop_reasons_other_than_end_turn_are_shown,
        agent_crash_mid_turn_keeps_partial_text_and_says_so,
        agent_that_cannot_start_says_failed_to_start_with_auth_hint,
        missing_agent_command_says_failed_to_start_with_auth_hint,
        NULL,
    };

    return check_run_list("conv_reply", 30, tests);
}
