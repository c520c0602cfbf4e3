/* The bounded key set under the policy: lookups survive eviction and reuse. */
#include <check.h>
#include <stdio.h>

#include <agent-broker/errors.h>

#include "policy/keyset.h"
#include "../support/check_runner.h"

START_TEST(eviction_keeps_every_remaining_key_findable)
{
    struct keyset ks;
    char key[32];
    bool evicted;

    ck_assert_int_eq(keyset_init(&ks, 64, 32), 0);
    for (unsigned i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k%u", i);
        ck_assert_uint_eq(keyset_find(&ks, key), KEYSET_NONE);
        keyset_add(&ks, key, &evicted);
        ck_assert(evicted == (i >= 64));
        /* Every key still held must be reachable through its probe chain. */
        for (unsigned j = i >= 63 ? i - 63 : 0; j <= i; j++) {
            snprintf(key, sizeof(key), "k%u", j);
            ck_assert_uint_ne(keyset_find(&ks, key), KEYSET_NONE);
        }
    }
    ck_assert_uint_eq(ks.count, 64);
    ck_assert_uint_eq(ks.evictions, 5000 - 64);
    ck_assert_uint_eq(keyset_find(&ks, "k4935"), KEYSET_NONE);
    keyset_free(&ks);
}
END_TEST

START_TEST(touch_moves_a_key_to_the_back_of_the_eviction_queue)
{
    struct keyset ks;
    uint32_t a;

    ck_assert_int_eq(keyset_init(&ks, 3, 16), 0);
    a = keyset_add(&ks, "a", NULL);
    keyset_add(&ks, "b", NULL);
    keyset_add(&ks, "c", NULL);
    keyset_touch(&ks, a);
    keyset_add(&ks, "d", NULL);
    ck_assert_uint_eq(keyset_find(&ks, "b"), KEYSET_NONE);
    ck_assert_uint_eq(keyset_find(&ks, "a"), a);
    ck_assert_str_eq(keyset_key(&ks, a), "a");
    keyset_free(&ks);
}
END_TEST

START_TEST(invalid_sizes_are_refused)
{
    struct keyset ks;

    ck_assert_int_eq(keyset_init(&ks, 0, 16), AB_EINVAL);
    ck_assert_int_eq(keyset_init(&ks, 4, 1), AB_EINVAL);
    keyset_free(&ks);
}
END_TEST

int
main(void)
{
    TCase *tc = tcase_create("keyset");

    tcase_add_test(tc, eviction_keeps_every_remaining_key_findable);
    tcase_add_test(tc, touch_moves_a_key_to_the_back_of_the_eviction_queue);
    tcase_add_test(tc, invalid_sizes_are_refused);
    return check_run_case("keyset", tc);
}
