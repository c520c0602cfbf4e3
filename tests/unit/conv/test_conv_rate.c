/* Rate facts crossing the plugin boundary (ABI 1.3 rate_report): facts tied to an
 * operation travel with its completion; a 1.2-sized report and a pointer that names no
 * operation in flight are taken as reports about the plugin as a whole, never
 * dereferenced. */
#include <stddef.h>
#include <string.h>

#include <check.h>

#include "../support/conv_fixture.h"
#include "host/host.h"
#include "../support/check_runner.h"

/* A 1.2 plugin's global 429 (its ab_rate_info ends before .op) pauses every operation
 * of the plugin for retry_after; a stray .op (not an operation in flight) changes
 * nothing else and is never followed. */
START_TEST(untied_and_old_sized_reports_pause_the_plugin)
{
    struct conv_fx f;
    struct ab_rate_info old = {
        .size = offsetof(struct ab_rate_info, op),
        .remaining = -1,
        .retry_after_ms = 800,
        .global = true,
    };
    struct ab_rate_info stray = {
        .size = sizeof(stray),
        .remaining = 5,
        .op = &stray, /* not an operation of the core's */
        .limit = -1,
    };
    uint64_t t0;
    int i;

    conv_fx_init(&f, NULL);
    conv_fx_start(&f);
    t0 = host_services.now_ms(f.ci->host);
    host_services.rate_report(f.ci->host, &old);
    host_services.rate_report(f.ci->host, &stray);
    conv_fx_mention(&f, "U1", "hello");
    i = conv_fx_wait_call(&f, 5000, FAKE_OPEN_THREAD, NULL, NULL, NULL);
    ck_assert_int_ge(i, 0);
    ck_assert_uint_ge(fake_chat_call(f.fake, (size_t)i)->at_ms, t0 + 800);
    /* the 👀 on the mention was held by the pause too */
    i = fake_chat_find(f.fake, 0, FAKE_REACT, NULL, NULL, NULL);
    ck_assert_int_ge(i, 0);
    ck_assert_uint_ge(fake_chat_call(f.fake, (size_t)i)->at_ms, t0 + 800);
    ck_assert(conv_fx_idle(&f, 10000));
    conv_fx_close(&f);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {
        untied_and_old_sized_reports_pause_the_plugin,
        NULL,
    };

    return check_run_list("conv_rate", 60, tests);
}
