/* tests/test_fetch_state.c: the fetcher's UIDL state file (parse, format,
 * atomic save and load, lookups, pruning) and the password file checks. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch/secrets.h"
#include "fetch/state.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(fetch_state, .init = setup, .fini = teardown);

Test(fetch_state, parse_table)
{
	static const struct {
		const char *text;
		int rc;
		size_t n;
		const char *err; /* substring */
	} rows[] = {
		{ "", 0, 0, NULL },
		{ "kantorpos-fetch-state 1\n", 0, 0, NULL },
		{ "kantorpos-fetch-state 1\nU1 100 D <m@x> a@x.test b@x.test\nU2 5 S -\n",
		  0, 2, NULL },
		{ "kantorpos-fetch-state 2\n", -1, 0, "line 1" },
		{ "garbage\n", -1, 0, "line 1" },
		{ "kantorpos-fetch-state 1\nU1 100 X -\n", -1, 0, "line 2" },
		{ "kantorpos-fetch-state 1\nU1 -5 D -\n", -1, 0, "line 2" },
		{ "kantorpos-fetch-state 1\nU1 12x D -\n", -1, 0, "line 2" },
		{ "kantorpos-fetch-state 1\nU1 1 D\n", -1, 0, "line 2" },
		{ "kantorpos-fetch-state 1\nU1 99999999999999999999999 D -\n", -1,
		  0, "line 2" },
		{ "kantorpos-fetch-state 1\n"
		  "01234567890123456789012345678901234567890123456789012345678901234567890 1 D -\n",
		  -1, 0, "line 2" },
		/* A later line for the same uid replaces the earlier one. */
		{ "kantorpos-fetch-state 1\nU1 1 S -\nU1 2 D -\n", 0, 1, NULL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fst st = { 0 };
		char err[256] = "";

		cr_expect_eq(fst_parse(rows[i].text, strlen(rows[i].text), &st,
				       err, sizeof(err)),
			     rows[i].rc, "row %zu", i);
		cr_expect_eq(st.n, rows[i].n, "row %zu", i);
		if (rows[i].err != NULL)
			cr_expect_not_null(strstr(err, rows[i].err),
					   "row %zu: %s", i, err);
		fst_free(&st);
	}
}

Test(fetch_state, round_trip_through_the_file)
{
	struct fst st = { 0 }, back = { 0 };
	const char *rcpts[] = { "alice@x.test", "bad key", "bob@x.test" };
	char *path = tu_path(dir, "sub-missing/../acct.state");
	char err[256];
	struct stat sb;
	struct fst_entry *e;

	free(path);
	path = tu_path(dir, "acct.state");
	cr_assert_eq(fst_load(path, &st, err, sizeof(err)), 0, "missing = empty");
	cr_assert_eq(st.n, 0);
	cr_assert_eq(fst_set(&st, "UID-1", 1000, FST_DELIVERED, "<m1@x>", rcpts,
			     3), 0);
	cr_assert_eq(fst_set(&st, "UID-2", 2000, FST_SKIPPED, NULL, NULL, 0), 0);
	cr_assert_eq(fst_set(&st, "bad uid", 1, FST_DELIVERED, NULL, NULL, 0),
		     -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(fst_set(&st, "U3", 1, 'Q', NULL, NULL, 0), -1);
	cr_assert_eq(fst_save(path, &st), 0);
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_mode & 0777, 0600);
	cr_assert_eq(fst_load(path, &back, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(back.n, 2);
	e = fst_find(&back, "UID-1");
	cr_assert_not_null(e);
	cr_expect_eq(e->time, 1000);
	cr_expect_eq(e->flag, FST_DELIVERED);
	cr_expect_str_eq(e->msgid, "<m1@x>");
	cr_assert_eq(e->n_rcpts, 2, "the key with a blank is left out");
	cr_expect_str_eq(e->rcpts[1], "bob@x.test");
	e = fst_find(&back, "UID-2");
	cr_assert_not_null(e);
	cr_expect_null(e->msgid);
	cr_expect_eq(e->flag, FST_SKIPPED);
	cr_expect_null(fst_find(&back, "UID-3"));
	/* No temporary file is left beside it. */
	cr_expect_eq(tu_count_dir(dir), 1);
	fst_free(&st);
	fst_free(&back);
	free(path);
}

Test(fetch_state, corrupt_file_is_an_error_with_its_path)
{
	char *path = tu_path(dir, "bad.state");
	struct fst st = { 0 };
	char err[512];

	tu_write_file(path, "kantorpos-fetch-state 1\nU1 zz D -\n");
	cr_assert_eq(fst_load(path, &st, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, path));
	cr_expect_not_null(strstr(err, "line 2"));
	cr_expect_eq(st.n, 0);
	free(path);
}

Test(fetch_state, duplicates_by_message_id_and_recipient)
{
	struct fst st = { 0 };
	const char *alice[] = { "alice@x.test" };

	cr_assert_eq(fst_set(&st, "U1", 1, FST_DELIVERED, "<m@x>", alice, 1), 0);
	cr_assert_eq(fst_set(&st, "U2", 1, FST_SKIPPED, "<s@x>", alice, 1), 0);
	cr_expect(fst_delivered(&st, "<m@x>", "alice@x.test"));
	cr_expect_not(fst_delivered(&st, "<m@x>", "bob@x.test"));
	cr_expect_not(fst_delivered(&st, "<other@x>", "alice@x.test"));
	cr_expect_not(fst_delivered(&st, NULL, "alice@x.test"));
	cr_expect_not(fst_delivered(&st, "<s@x>", "alice@x.test"),
		      "skipped entries are not deliveries");
	fst_free(&st);
}

Test(fetch_state, retain_drops_what_the_server_no_longer_lists)
{
	struct fst st = { 0 };
	const char *listing[] = { "U2", "U9" };

	for (int i = 1; i <= 4; i++) {
		char uid[16];

		snprintf(uid, sizeof(uid), "U%d", i);
		cr_assert_eq(fst_set(&st, uid, i, FST_DELIVERED, NULL, NULL, 0),
			     0);
	}
	cr_expect_eq(fst_retain(&st, listing, 2), 3);
	cr_assert_eq(st.n, 1);
	cr_expect_str_eq(st.e[0].uid, "U2");
	cr_expect_eq(fst_retain(&st, NULL, 0), 1);
	cr_expect_eq(st.n, 0);
	fst_free(&st);
}

/* ---- password files ---------------------------------------------- */

Test(fetch_state, password_file_checks)
{
	static const struct {
		const char *content;
		mode_t mode;
		bool wrong_owner;
		const char *want; /* password, or NULL when refused */
		const char *why;  /* substring of the refusal */
	} rows[] = {
		{ "secret\n", 0600, false, "secret", NULL },
		{ "secret", 0400, false, "secret", NULL },
		{ "with spaces \r\nsecond line\n", 0600, false, "with spaces ",
		  NULL },
		{ "secret\n", 0644, false, NULL, "mode 0644" },
		{ "secret\n", 0640, false, NULL, "readable by its group" },
		{ "secret\n", 0610, false, NULL, "executable by its group" },
		{ "secret\n", 0602, false, NULL, "chmod 600" },
		{ "secret\n", 0620, false, NULL, "mode 0620" },
		{ "secret\n", 0600, true, NULL, "is owned by " },
		{ "\nsecret\n", 0600, false, NULL, "empty" },
		{ "", 0600, false, NULL, "empty" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *path = tu_path(dir, "pw");
		char *pw = NULL, err[512] = "";
		int rc;

		unlink(path);
		tu_write_file(path, rows[i].content);
		cr_assert_eq(chmod(path, rows[i].mode), 0);
		/* Another owner: as root, hand the file to nobody; else
		 * expect the file of a user we are not. */
		if (rows[i].wrong_owner && geteuid() == 0)
			cr_assert_eq(chown(path, 65534, (gid_t)-1), 0);
		rc = fsec_read(path,
			       rows[i].wrong_owner && geteuid() != 0
				       ? geteuid() + 1
				       : geteuid(),
			       &pw, err, sizeof(err));
		if (rows[i].want != NULL) {
			cr_expect_eq(rc, 0, "row %zu: %s", i, err);
			cr_expect_str_eq(pw, rows[i].want, "row %zu", i);
		} else {
			cr_expect_eq(rc, -1, "row %zu", i);
			cr_expect_null(pw);
			cr_expect_not_null(strstr(err, rows[i].why),
					   "row %zu: %s", i, err);
			cr_expect_not_null(strstr(err, path), "row %zu", i);
		}
		free(pw);
		free(path);
	}
}

/* The one rule of common/safety.c: root may own the file too (a process
 * run as root reads it for its run_as account). */
Test(fetch_state, password_file_owned_by_root_is_accepted)
{
	char *path = tu_path(dir, "pw");
	char *pw = NULL, err[512] = "";

	if (geteuid() != 0) {
		free(path);
		cr_skip_test("needs root to own a file as root");
	}
	tu_write_file(path, "secret\n");
	cr_assert_eq(chmod(path, 0600), 0);
	cr_expect_eq(fsec_read(path, 65534, &pw, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect_str_eq(pw, "secret");
	free(pw);
	free(path);
}

Test(fetch_state, password_file_not_regular_or_symlink)
{
	char *target = tu_path(dir, "real");
	char *link = tu_path(dir, "link");
	char *pw = NULL, err[512];

	tu_write_file(target, "secret\n");
	cr_assert_eq(chmod(target, 0600), 0);
	cr_assert_eq(symlink(target, link), 0);
	cr_expect_eq(fsec_read(link, geteuid(), &pw, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "symbolic link"), "%s", err);
	cr_expect_eq(fsec_read(dir, geteuid(), &pw, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "not a regular file"), "%s", err);
	cr_expect_null(pw);
	free(target);
	free(link);
}

Test(fetch_state, password_file_too_large)
{
	char *path = tu_path(dir, "big");
	char *big = malloc(FSEC_MAX + 10), *pw = NULL, err[512];

	memset(big, 'a', FSEC_MAX + 9);
	big[FSEC_MAX + 9] = '\0';
	tu_write_file(path, big);
	cr_assert_eq(chmod(path, 0600), 0);
	cr_expect_eq(fsec_read(path, geteuid(), &pw, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "larger"), "%s", err);
	free(big);
	free(path);
}
