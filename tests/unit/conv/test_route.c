/* route_pick: channel routes, then a name prefix, then role routes, then the fallback,
 * over a table of cases. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "../support/check_runner.h"
#include "conv/route.h"

static const char *const names[] = {"default", "codex", "claude"};

struct route_case {
    const char *channel, *role, *text;
    size_t agent;
    enum route_why why;
    const char *rest; /* the text after the cut */
};

static const struct route_case cases[] = {
    {"C2", NULL, "hello", 1, ROUTE_CHANNEL, "hello"},
    {"C2", "R9", "claude: hi", 1, ROUTE_CHANNEL, "claude: hi"}, /* channel first */
    {"C1", NULL, "claude: hi", 2, ROUTE_PREFIX, "hi"},
    {"C1", NULL, "  CoDeX:\t\n fix it", 1, ROUTE_PREFIX, "fix it"},
    {"C1", NULL, "codex:", 1, ROUTE_PREFIX, ""},
    {"C1", "R9", "codex: x", 1, ROUTE_PREFIX, "x"}, /* prefix before role */
    {"C1", NULL, "codexx: no", 0, ROUTE_DEFAULT, "codexx: no"},
    {"C1", NULL, "codex fix", 0, ROUTE_DEFAULT, "codex fix"},
    {"C1", NULL, "codex : no", 0, ROUTE_DEFAULT, "codex : no"},
    {"C1", NULL, "ask codex: later", 0, ROUTE_DEFAULT, "ask codex: later"},
    {"C1", "R9", "hello", 2, ROUTE_ROLE, "hello"},
    {"C1", "R0", "hello", 0, ROUTE_DEFAULT, "hello"},
    {NULL, NULL, NULL, 0, ROUTE_DEFAULT, NULL},
    {"C4", NULL, "default: back home", 0, ROUTE_PREFIX, "back home"},
    {"C3", NULL, "default: no", 2, ROUTE_CHANNEL, "default: no"},
};

START_TEST(table)
{
    struct route_table t = {0};
    struct route_choice rc;

    ck_assert_int_eq(route_add(&t, "C2", NULL, 1), 0);
    ck_assert_int_eq(route_add(&t, NULL, "R9", 2), 0);
    ck_assert_int_eq(route_add(&t, "C3", NULL, 2), 0);
    ck_assert_int_eq(route_add(&t, NULL, "R9", 1), 0); /* a later duplicate loses */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct route_case *c = &cases[i];
        const char *roles[] = {"R-other", c->role};
        route_pick(&t, names, 3, 0, c->channel, roles, c->role ? 2 : 1, c->text, &rc);
        ck_assert_msg(rc.agent == c->agent && rc.why == c->why, "case %zu: agent %zu why %d", i,
                      rc.agent, (int)rc.why);
        if (c->text)
            ck_assert_msg(strcmp(c->text + rc.strip, c->rest) == 0, "case %zu: rest \"%s\"", i,
                          c->text + rc.strip);
    }
    /* the fallback is whichever agent the caller names */
    route_pick(&t, names, 3, 2, "C1", NULL, 0, "plain", &rc);
    ck_assert_int_eq(rc.agent, 2);
    ck_assert_int_eq(rc.why, ROUTE_DEFAULT);
    route_table_free(&t);
    ck_assert_ptr_null(t.rules);
}
END_TEST

int
main(void)
{
    const TTest *tests[] = {table, NULL};

    return check_run_list("route", 10, tests);
}
