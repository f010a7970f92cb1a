/* tests/test_throttle.c: failed-login throttling with synthetic time. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>

#include "common/users/throttle.h"

Test(throttle, delays_double_up_to_the_cap)
{
	static const double want[] = { 2, 4, 8, 16, 30, 30, 30, 30 };
	struct throttle *t = throttle_new(2, 30, 100, 900, 0);
	size_t i;

	cr_assert_not_null(t);
	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		cr_expect(throttle_allowed(t, "192.0.2.1", 10 + i));
		cr_expect_eq(throttle_fail(t, "192.0.2.1", 10 + i, NULL),
			     want[i], "failure %zu", i + 1);
	}
	throttle_free(t);
}

Test(throttle, zero_base_means_no_delay)
{
	struct throttle *t = throttle_new(0, 30, 3, 60, 0);

	cr_assert_eq(throttle_fail(t, "192.0.2.1", 0, NULL), 0);
	cr_assert_eq(throttle_fail(t, "192.0.2.1", 0, NULL), 0);
	throttle_free(t);
}

Test(throttle, limit_refuses_until_the_window_passes)
{
	struct throttle *t = throttle_new(1, 30, 3, 100, 0);
	bool limited;
	int i;

	for (i = 0; i < 3; i++) {
		cr_assert(throttle_allowed(t, "192.0.2.1", 1000 + i));
		throttle_fail(t, "192.0.2.1", 1000 + i, &limited);
		cr_assert_eq(limited, i == 2, "failure %d", i + 1);
	}
	/* refused for the rest of the window, from its first failure */
	cr_assert_not(throttle_allowed(t, "192.0.2.1", 1003));
	cr_assert_not(throttle_allowed(t, "192.0.2.1", 1099.9));
	/* another address is unaffected */
	cr_assert(throttle_allowed(t, "192.0.2.2", 1003));
	/* after the window: allowed, and counting starts over */
	cr_assert(throttle_allowed(t, "192.0.2.1", 1100));
	cr_assert_eq(throttle_fail(t, "192.0.2.1", 1100, &limited), 1);
	cr_assert_not(limited);
	throttle_free(t);
}

Test(throttle, success_clears_only_its_address)
{
	struct throttle *t = throttle_new(2, 30, 2, 100, 0);

	throttle_fail(t, "192.0.2.1", 0, NULL);
	throttle_fail(t, "192.0.2.1", 1, NULL);
	throttle_fail(t, "192.0.2.9", 1, NULL);
	cr_assert_not(throttle_allowed(t, "192.0.2.1", 2));
	cr_assert_eq(throttle_count(t), 2);
	throttle_success(t, "192.0.2.1");
	cr_assert(throttle_allowed(t, "192.0.2.1", 2));
	cr_assert_eq(throttle_fail(t, "192.0.2.1", 3, NULL), 2); /* base again */
	cr_assert_eq(throttle_fail(t, "192.0.2.9", 3, NULL), 4); /* kept */
	throttle_success(t, "192.0.2.77"); /* unknown: harmless */
	throttle_free(t);
}

Test(throttle, clock_going_back_resets)
{
	struct throttle *t = throttle_new(1, 30, 2, 100, 0);

	throttle_fail(t, "::1", 500, NULL);
	throttle_fail(t, "::1", 501, NULL);
	cr_assert_not(throttle_allowed(t, "::1", 502));
	cr_assert(throttle_allowed(t, "::1", 100));
	throttle_free(t);
}

Test(throttle, memory_is_bounded_and_the_oldest_goes)
{
	struct throttle *t = throttle_new(1, 30, 1, 1000, 100);
	char addr[32];
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(addr, sizeof addr, "10.0.%d.%d", i / 256, i % 256);
		throttle_fail(t, addr, i, NULL);
		cr_assert_leq(throttle_count(t), 100);
	}
	cr_assert_eq(throttle_count(t), 100);
	/* the newest are remembered, the oldest forgotten */
	cr_assert_not(throttle_allowed(t, "10.0.3.231", 1000)); /* i = 999 */
	cr_assert(throttle_allowed(t, "10.0.0.0", 1000));
	/* touching an entry makes it young again */
	throttle_fail(t, "10.0.3.132", 1000, NULL); /* i = 900, the oldest */
	throttle_fail(t, "172.16.0.1", 1000, NULL); /* evicts i = 901 */
	cr_assert_not(throttle_allowed(t, "10.0.3.132", 1000));
	cr_assert(throttle_allowed(t, "10.0.3.133", 1000));
	throttle_free(t);
}

Test(throttle, reconfigure_keeps_counts)
{
	struct throttle *t = throttle_new(2, 30, 10, 100, 0);

	throttle_fail(t, "192.0.2.1", 0, NULL);
	throttle_fail(t, "192.0.2.1", 0, NULL);
	throttle_configure(t, 1, 30, 2, 100);
	cr_assert_not(throttle_allowed(t, "192.0.2.1", 1));
	cr_assert_eq(throttle_fail(t, "192.0.2.2", 1, NULL), 1);
	throttle_free(t);
}
