/* tests/test_quota.c: per-user quota from Maildir names, and deliveries
 * refused by it without leaving anything behind. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/maildir.h"
#include "store/quota.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(quota, .init = setup, .fini = teardown);

static int count_sub(const char *maildir, const char *sub)
{
	char *path = tu_path(maildir, sub);
	int n = tu_count_dir(path);

	free(path);
	return n;
}

static enum md_result deliver(const char *maildir, size_t len,
			      uint64_t max_bytes, uint64_t max_messages)
{
	struct md_target t = { maildir, max_bytes, max_messages };
	struct md_delivery *d;
	char *data = malloc(len + 1);
	enum md_result r;

	cr_assert_not_null(data);
	memset(data, 'q', len);
	r = md_delivery_begin(maildir, "h", &d);
	if (r == MD_OK)
		r = md_delivery_write(d, data, len);
	if (r == MD_OK)
		r = md_delivery_commit(d, &t, 1, NULL, NULL, 0);
	else
		md_delivery_abort(d);
	free(data);
	return r;
}

Test(quota, usage_from_names)
{
	char *maildir = tu_path(dir, "alice"), *p;
	struct quota_usage u = { 99, 99 };
	const struct {
		const char *name, *content;
	} files[] = {
		{ "cur/1.a,S=100,W=102:2,S", "x" },  /* S= wins over the size */
		{ "new/2.b,S=50", "y" },
		{ "new/3.c", "12345" },               /* no S=: stat() */
		{ "cur/.hidden,S=1000", "z" },        /* not a message */
		{ "tmp/4.d,S=7000", "z" },            /* not delivered yet */
	};

	cr_assert_eq(quota_usage_get(maildir, &u), 0, "missing maildir");
	cr_expect_eq(u.bytes, 0);
	cr_expect_eq(u.messages, 0);
	cr_assert_eq(md_create(maildir), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		p = tu_path(maildir, files[i].name);
		tu_write_file(p, files[i].content);
		free(p);
	}
	cr_assert_eq(quota_usage_get(maildir, &u), 0);
	cr_expect_eq(u.bytes, 155);
	cr_expect_eq(u.messages, 3);
	free(maildir);
}

Test(quota, fits_table)
{
	static const struct {
		uint64_t bytes, msgs, max_bytes, max_msgs, add;
		bool fits;
	} rows[] = {
		{ 0, 0, 0, 0, 1000000, true },          /* unlimited */
		{ 90, 1, 100, 0, 10, true },            /* exact byte boundary */
		{ 90, 1, 100, 0, 11, false },
		{ 0, 0, 100, 0, 101, false },
		{ 0, 0, 100, 0, UINT64_MAX, false },   /* no overflow */
		{ 5, 2, 0, 3, 1, true },                /* third message fits */
		{ 5, 3, 0, 3, 1, false },               /* fourth does not */
		{ 5, 3, 1000, 0, 1, true },
		{ 100, 0, 100, 0, 0, true },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct quota_usage u = { rows[i].bytes, rows[i].msgs };

		cr_expect_eq(quota_fits(&u, rows[i].max_bytes, rows[i].max_msgs,
					rows[i].add),
			     rows[i].fits, "row %zu", i);
	}
}

Test(quota, byte_quota_on_delivery)
{
	char *maildir = tu_path(dir, "alice");

	cr_assert_eq(deliver(maildir, 10, 25, 0), MD_OK);
	cr_assert_eq(deliver(maildir, 10, 25, 0), MD_OK);
	cr_assert_eq(deliver(maildir, 6, 25, 0), MD_ERR_QUOTA);
	cr_expect_eq(errno, EDQUOT);
	cr_expect_eq(count_sub(maildir, "new"), 2, "nothing left behind");
	cr_expect_eq(count_sub(maildir, "tmp"), 0);
	cr_assert_eq(deliver(maildir, 5, 25, 0), MD_OK, "exactly at the limit");
	cr_assert_eq(deliver(maildir, 1, 25, 0), MD_ERR_QUOTA);
	cr_expect_eq(count_sub(maildir, "new"), 3);
	cr_expect_eq(count_sub(maildir, "tmp"), 0);
	cr_expect_eq(quota_check(maildir, 25, 0, 0), 1);
	cr_expect_eq(quota_check(maildir, 25, 0, 1), 0);
	free(maildir);
}

Test(quota, message_quota_on_delivery)
{
	char *maildir = tu_path(dir, "alice");

	for (int i = 0; i < 3; i++)
		cr_assert_eq(deliver(maildir, 1, 0, 3), MD_OK, "message %d", i);
	cr_assert_eq(deliver(maildir, 1, 0, 3), MD_ERR_QUOTA);
	cr_expect_eq(count_sub(maildir, "new"), 3);
	cr_expect_eq(count_sub(maildir, "tmp"), 0);
	cr_assert_eq(deliver(maildir, 1, 0, 0), MD_OK, "unlimited");
	free(maildir);
}

Test(quota, quota_of_second_recipient_undoes_first)
{
	char *a = tu_path(dir, "alice"), *b = tu_path(dir, "bob");
	struct md_target t[] = { { a, 0, 0 }, { b, 0, 1 } };
	struct md_delivery *d;
	size_t failed = 99;

	cr_assert_eq(deliver(b, 3, 0, 0), MD_OK);
	cr_assert_eq(md_delivery_begin(a, "h", &d), MD_OK);
	cr_assert_eq(md_delivery_write(d, "msg", 3), MD_OK);
	cr_assert_eq(md_delivery_commit(d, t, 2, &failed, NULL, 0),
		     MD_ERR_QUOTA);
	cr_expect_eq(failed, 1);
	cr_expect_eq(count_sub(a, "new"), 0);
	cr_expect_eq(count_sub(a, "tmp"), 0);
	cr_expect_eq(count_sub(b, "new"), 1);
	free(a);
	free(b);
}
