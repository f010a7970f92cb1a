/* tests/test_mtasts_cache.c: the MTA-STS cache rules (outbound/
 * mtasts_cache.h) on a fake clock — when a policy applies, when it is
 * fetched again (T-STS-11, T-STS-13), that a vanished record does not end
 * it (T-STS-12), mode none (T-STS-15) — and the cache file. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "outbound/mtasts_cache.h"

#define T0 ((time_t)1800000000)

static struct mtasts_policy policy(enum mtasts_mode mode,
				   unsigned long max_age)
{
	struct mtasts_policy p = { .mode = mode, .max_age = max_age, .n_mx = 1 };

	strcpy(p.mx[0], "mail.sts.test");
	return p;
}

struct clock_row {
	unsigned long max_age;
	const char *id;          /* the TXT id seen */
	time_t at;               /* seconds after the fetch */
	bool valid, fetch;
};

/* Fetched at T0 with id "a". */
static const struct clock_row clock_rows[] = {
	/* T-STS-11: the same id, well before expiry: no fetch. */
	{ 600, "a", 0, true, false },
	{ 600, "a", 500, true, false },
	/* A tenth of max_age left: refreshed ahead (T-STS-13). */
	{ 600, "a", 540, true, true },
	{ 600, "a", 599, true, true },
	/* Expired: no policy, fetched. */
	{ 600, "a", 600, false, true },
	{ 600, "a", 100000, false, true },
	/* A new id: fetched at once, the old policy applies meanwhile. */
	{ 600, "b", 1, true, true },
	/* A week: a tenth of it (60480 s) is less than a day. */
	{ 604800, "a", 604800 - 60481, true, false },
	{ 604800, "a", 604800 - 60480, true, true },
	/* A year: the margin is capped at a day. */
	{ 31536000, "a", 31536000 - 86401, true, false },
	{ 31536000, "a", 31536000 - 86400, true, true },
};

Test(mtasts_cache, clock)
{
	for (size_t i = 0; i < sizeof(clock_rows) / sizeof(clock_rows[0]); i++) {
		const struct clock_row *r = &clock_rows[i];
		struct mtasts_policy p = policy(MTASTS_ENFORCE, r->max_age);
		struct mtasts_entry e = { 0 };
		time_t now = T0 + r->at;

		mtasts_entry_take(&e, &p, "a", T0);
		cr_expect_eq(mtasts_entry_valid(&e, now), r->valid, "row %zu", i);
		cr_expect_eq(mtasts_entry_current(&e, now) != NULL, r->valid,
			     "row %zu", i);
		cr_expect_eq(mtasts_entry_wants_fetch(&e, r->id, now), r->fetch,
			     "row %zu", i);
	}
}

Test(mtasts_cache, nothing_cached)
{
	struct mtasts_entry e = { 0 };

	cr_expect_not(mtasts_entry_valid(&e, T0));
	cr_expect_null(mtasts_entry_current(&e, T0));
	cr_expect(mtasts_entry_wants_fetch(&e, "a", T0));
}

/* T-STS-12: what the TXT record does is not the entry's business; only
 * the clock ends a policy. T-STS-15: mode none is cached but applies as
 * no policy. */
Test(mtasts_cache, kept_until_max_age_and_mode_none)
{
	struct mtasts_policy p = policy(MTASTS_TESTING, 3600), none;
	struct mtasts_entry e = { 0 };

	mtasts_entry_take(&e, &p, "a", T0);
	cr_expect_eq(mtasts_entry_current(&e, T0 + 3599)->mode, MTASTS_TESTING);
	cr_expect_null(mtasts_entry_current(&e, T0 + 3600));
	none = policy(MTASTS_NONE, 3600);
	none.n_mx = 0;
	mtasts_entry_take(&e, &none, "b", T0 + 10);
	cr_expect(mtasts_entry_valid(&e, T0 + 20));
	cr_expect_null(mtasts_entry_current(&e, T0 + 20));
	cr_expect_not(mtasts_entry_wants_fetch(&e, "b", T0 + 20));
}

static const char body[] =
	"version: STSv1\r\nmode: enforce\r\nmx: mail.sts.test\r\n"
	"max_age: 86400\r\n";

Test(mtasts_cache, file_round_trip)
{
	struct mtasts_policy p = policy(MTASTS_ENFORCE, 86400);
	struct mtasts_entry e = { 0 }, back = { 0 };
	size_t len;
	char *data;

	mtasts_entry_take(&e, &p, "20260101T000000", T0);
	data = mtasts_entry_format(&e, body, strlen(body), &len);
	cr_assert_not_null(data);
	cr_expect_eq(strncmp(data, "kantorpos-mta-sts 1 20260101T000000 1800000000\n",
			     47), 0, "%s", data);
	cr_assert_eq(mtasts_entry_parse(data, len, &back), 0);
	cr_expect_str_eq(back.id, "20260101T000000");
	cr_expect_eq(back.fetched, T0);
	cr_expect_eq(back.expires, T0 + 86400);
	cr_expect_eq(back.pol.mode, MTASTS_ENFORCE);
	cr_expect_str_eq(back.pol.mx[0], "mail.sts.test");
	free(data);
}

static const char *const bad_files[] = {
	"",
	"kantorpos-mta-sts 2 a 1800000000\nversion: STSv1\n",
	"kantorpos-mta-sts 1 a\nversion: STSv1\n",
	"kantorpos-mta-sts 1 a 1800000000",
	"kantorpos-mta-sts 1 a 1800000000\nversion: STSv1\r\nmode: strict\r\n"
	"mx: a.test\r\nmax_age: 60\r\n",
};

Test(mtasts_cache, bad_files)
{
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		struct mtasts_entry e = { 0 };

		cr_expect_eq(mtasts_entry_parse(bad_files[i], strlen(bad_files[i]),
						&e), -1, "file %zu", i);
		cr_expect_not(e.have, "file %zu", i);
	}
}
