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

#include "common/config/secret.h"
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

Test(fetch_state, prune_drops_what_the_server_no_longer_has)
{
	struct fst st = { 0 };
	const char *text = "kantorpos-fetch-state 1\nU1 1 D -\nU2 2 D <a@x>\n"
			   "U3 3 S -\n~hdr:0123 4 D <k@x> a@x.test\n"
			   "~hdr:4567 5 D -\n";
	char err[128];

	cr_assert_eq(fst_parse(text, strlen(text), &st, err, sizeof(err)), 0);
	for (size_t i = 0; i < st.n; i++)
		cr_expect_not(st.e[i].seen, "loaded entries start unseen");
	fst_find(&st, "U2")->seen = true;
	fst_find(&st, "~hdr:0123")->seen = true;
	/* Server uids only: the fallback keys stay, seen or not. */
	cr_expect_eq(fst_prune(&st, true, false), 2);
	cr_assert_eq(st.n, 3);
	cr_expect_null(fst_find(&st, "U1"));
	cr_expect_null(fst_find(&st, "U3"));
	cr_expect_not_null(fst_find(&st, "~hdr:4567"));
	cr_expect(fst_delivered(&st, "<k@x>", "a@x.test"),
		  "the Message-ID index survives the pruning");
	/* A new entry counts as seen. */
	cr_assert_eq(fst_set(&st, "U9", 9, FST_DELIVERED, NULL, NULL, 0), 0);
	cr_expect_eq(fst_prune(&st, true, true), 1);
	cr_expect_null(fst_find(&st, "~hdr:4567"));
	cr_expect_not_null(fst_find(&st, "U2"));
	cr_expect_not_null(fst_find(&st, "U9"));
	cr_expect_not_null(fst_find(&st, "~hdr:0123"));
	fst_free(&st);
}

Test(fetch_state, fallback_keys)
{
	static const char hdr[] = "From: a@x\r\nSubject: s\r\n\r\n";
	char k1[FST_KEY_SIZE], k2[FST_KEY_SIZE], k3[FST_KEY_SIZE];

	fst_key(hdr, strlen(hdr), 100, k1);
	fst_key(hdr, strlen(hdr), 100, k2);
	fst_key(hdr, strlen(hdr), 101, k3);
	cr_expect_str_eq(k1, k2, "stable");
	cr_expect_str_neq(k1, k3, "the size counts");
	cr_expect_eq(strlen(k1), FST_KEY_SIZE - 1);
	cr_expect(fst_uid_ok(k1), "a key is a valid state word");
	cr_expect(fst_is_key(k1));
	cr_expect_not(fst_is_key("hdr:1234"));
	fst_key(hdr, strlen(hdr) - 2, 100, k3);
	cr_expect_str_neq(k1, k3, "the header counts");
}

/* Lookups are indexed: 200,000 entries parse, find and prune in far less
 * than the minutes a linear scan per entry would take. */
Test(fetch_state, many_entries_stay_linear, .timeout = 20)
{
	enum { N = 200000 };
	struct fst st = { 0 }, st2 = { 0 };
	char uid[32], msgid[48], err[128], *text;
	size_t len;
	const char *rcpt[] = { "a@x.test" };

	for (int i = 0; i < N; i++) {
		snprintf(uid, sizeof(uid), "uid-%d", i);
		snprintf(msgid, sizeof(msgid), "<m%d@x>", i);
		cr_assert_eq(fst_set(&st, uid, i, FST_DELIVERED, msgid, rcpt, 1),
			     0);
	}
	cr_assert_eq(st.n, N);
	text = fst_format(&st, &len);
	cr_assert_not_null(text);
	cr_assert_eq(fst_parse(text, len, &st2, err, sizeof(err)), 0, "%s",
		     err);
	free(text);
	cr_assert_eq(st2.n, N);
	for (int i = 0; i < N; i += 2) {
		snprintf(uid, sizeof(uid), "uid-%d", i);
		snprintf(msgid, sizeof(msgid), "<m%d@x>", i);
		cr_assert_not_null(fst_find(&st2, uid));
		fst_find(&st2, uid)->seen = true;
		cr_assert(fst_delivered(&st2, msgid, "a@x.test"));
	}
	cr_expect_null(fst_find(&st2, "uid-x"));
	cr_expect_eq(fst_prune(&st2, true, true), N / 2);
	cr_expect_not_null(fst_find(&st2, "uid-0"));
	cr_expect_null(fst_find(&st2, "uid-1"));
	fst_free(&st);
	fst_free(&st2);
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
		rc = secret_read(path,
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

/* The one rule of common/config/safety.c: root may own the file too (a process
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
	cr_expect_eq(secret_read(path, 65534, &pw, err, sizeof(err)), 0, "%s",
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
	cr_expect_eq(secret_read(link, geteuid(), &pw, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "symbolic link"), "%s", err);
	cr_expect_eq(secret_read(dir, geteuid(), &pw, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "not a regular file"), "%s", err);
	cr_expect_null(pw);
	free(target);
	free(link);
}

Test(fetch_state, password_file_too_large)
{
	char *path = tu_path(dir, "big");
	char *big = malloc(SECRET_MAX + 10), *pw = NULL, err[512];

	memset(big, 'a', SECRET_MAX + 9);
	big[SECRET_MAX + 9] = '\0';
	tu_write_file(path, big);
	cr_assert_eq(chmod(path, 0600), 0);
	cr_expect_eq(secret_read(path, geteuid(), &pw, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "larger"), "%s", err);
	free(big);
	free(path);
}
