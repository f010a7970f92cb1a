/* tests/test_drop.c: the drop directory of local submission — the
 * envelope (store/drop_env.h) written and read back, hostile envelopes
 * as a table, cut at every length; the writer (a file appears under its
 * "m." name only at the commit, mode 0644) and the pickup's checked open
 * (links, FIFOs and hard links set aside into bad/). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/drop.h"
#include "store/drop_env.h"
#include "tests/helpers/testutil.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(drop, .init = setup, .fini = teardown);

static struct addr_mailbox mailbox(const char *s)
{
	struct addr_mailbox mb;

	cr_assert_eq(addr_parse_mailbox(s, strlen(s), ADDR_OPT_UTF8, &mb, NULL),
		     0, "%s", s);
	return mb;
}

Test(drop, envelope_round_trip)
{
	struct addr_mailbox rcpts[] = { mailbox("bob@example.org"),
					mailbox("\"j doe\"@example.org"),
					mailbox("j\xc3\xb6rg@b\xc3\xbc.example") };
	struct drop_env env = { .has_sender = true,
				.sender = mailbox("me@example.org"),
				.rcpts = rcpts, .n_rcpts = 3, .eightbit = true };
	struct drop_env back;
	const char *why = NULL;
	char *text;
	size_t len;

	cr_assert_eq(drop_env_format(&env, &text, &len), 0);
	cr_assert_str_eq(text, "KANTORPOS-DROP 1\nB 8BIT\nS me@example.org\n"
			       "R bob@example.org\nR \"j doe\"@example.org\n"
			       "R j\xc3\xb6rg@b\xc3\xbc.example\n\n");
	cr_assert_eq(text[DROP_ENV_BODY_AT], '8');
	cr_assert_eq(drop_env_parse(text, len, &back, &why), 1, "%s", why);
	cr_assert_eq(back.len, len);
	cr_assert(back.has_sender && !back.null_sender && back.eightbit);
	cr_assert_str_eq(back.sender.local, "me");
	cr_assert_eq(back.n_rcpts, 3);
	cr_assert_str_eq(back.rcpts[1].local, "j doe");
	cr_assert_str_eq(back.rcpts[2].domain, "b\xc3\xbc.example");
	drop_env_free(&back);
	free(text);
	/* The null sender, no sender; a message after the envelope. */
	env.null_sender = true;
	env.eightbit = false;
	env.n_rcpts = 1;
	cr_assert_eq(drop_env_format(&env, &text, &len), 0);
	cr_assert_str_eq(text, "KANTORPOS-DROP 1\nB 7BIT\nS <>\n"
			       "R bob@example.org\n\n");
	free(text);
	env.has_sender = false;
	cr_assert_eq(drop_env_format(&env, &text, &len), 0);
	text = realloc(text, len + 20);
	memcpy(text + len, "Subject: x\r\n\r\n", 15);
	cr_assert_eq(drop_env_parse(text, len + 14, &back, &why), 1);
	cr_assert(!back.has_sender && !back.eightbit);
	cr_assert_eq(back.len, len);
	drop_env_free(&back);
	free(text);
	env.n_rcpts = 0;
	cr_assert_eq(drop_env_format(&env, &text, &len), -1);
	cr_assert_eq(errno, EINVAL);
}

Test(drop, hostile_envelopes)
{
	static const struct {
		const char *in;
		const char *why; /* NULL: wants more */
	} rows[] = {
		{ "From: x\n\n", "not a drop file (no version line)" },
		{ "KANTORPOS-DROP 2\nR a@b\n\n", "not a drop file (no version line)" },
		{ "KANTORPOS-DROP 1\n\n", "no recipient" },
		{ "KANTORPOS-DROP 1\nB 7BIT\n\n", "no recipient" },
		{ "KANTORPOS-DROP 1\nR nobody\n\n", "a recipient is not an address" },
		{ "KANTORPOS-DROP 1\nR a@b\r\n\n", "a recipient is not an address" },
		{ "KANTORPOS-DROP 1\nS a@b\nS c@d\nR a@b\n\n", "two senders" },
		{ "KANTORPOS-DROP 1\nS root\nR a@b\n\n", "the sender is not an address" },
		{ "KANTORPOS-DROP 1\nB 8BITMIME\nR a@b\n\n", "an unknown body type" },
		{ "KANTORPOS-DROP 1\nX y\nR a@b\n\n", "an unknown field" },
		{ "KANTORPOS-DROP 1\nRa@b\n\n", "a line is not a field" },
		{ "KANTORPOS-DROP 1\nR a@b\n", NULL },
		{ "KANTORPOS-DRO", NULL },
	};
	struct drop_env env;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		const char *why = NULL;
		int rc = drop_env_parse(rows[i].in, strlen(rows[i].in), &env,
					&why);

		if (rows[i].why == NULL) {
			cr_expect_eq(rc, 0, "row %zu", i);
			continue;
		}
		cr_expect_eq(rc, -1, "row %zu", i);
		cr_expect_str_eq(why ? why : "-", rows[i].why, "row %zu", i);
	}
	/* Every prefix of a good one wants more; a long line is refused. */
	static const char good[] = "KANTORPOS-DROP 1\nS <>\nR a@b.test\n\n";
	for (size_t n = 0; n < strlen(good); n++) {
		const char *why = NULL;

		cr_expect_eq(drop_env_parse(good, n, &env, &why), 0, "%zu", n);
	}
	char *longline = malloc(DROP_ENV_LINE_MAX + 40);
	const char *why = NULL;

	strcpy(longline, "KANTORPOS-DROP 1\nR ");
	memset(longline + 19, 'a', DROP_ENV_LINE_MAX);
	strcpy(longline + 19 + DROP_ENV_LINE_MAX, "@b\n\n");
	cr_expect_eq(drop_env_parse(longline, strlen(longline), &env, &why), -1);
	cr_expect_str_eq(why, "a line is too long");
	free(longline);
}

Test(drop, names)
{
	cr_assert(drop_name_is_msg("m.0123456789abcdef"));
	cr_assert(!drop_name_is_msg("m."));
	cr_assert(!drop_name_is_msg("m.ABC"));
	cr_assert(!drop_name_is_msg("m.12/x"));
	cr_assert(!drop_name_is_msg("t.12"));
	cr_assert(drop_name_is_tmp("t.12"));
	cr_assert(!drop_name_is_msg("m.00000000000000000000000000000000000000"));
}

/* The one "m." file of the directory, into name (empty when none). */
static int only_file(const char *d, char *name, size_t size)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	int n = 0;

	name[0] = '\0';
	cr_assert_not_null(dp);
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		if (strncmp(de->d_name, "m.", 2) == 0 &&
		    strlen(de->d_name) < size)
			memcpy(name, de->d_name, strlen(de->d_name) + 1);
	}
	closedir(dp);
	return n;
}

Test(drop, write_commit_and_open)
{
	struct drop_writer *w;
	char name[64], *path, *text;
	struct stat st;
	const char *why;
	int dfd, fd;

	umask(077); /* the file is 0644 whatever the umask */
	cr_assert_eq(drop_create(dir, &w), 0);
	cr_assert_eq(drop_write(w, "KANTORPOS-DROP 1\nB 7BIT\n", 24), 0);
	cr_assert_eq(drop_write(w, "R a@b.test\n\nbody\r\n", 18), 0);
	cr_assert_eq(drop_rewrite(w, (off_t)DROP_ENV_BODY_AT, "8", 1), 0);
	cr_assert_eq(only_file(dir, name, sizeof(name)), 1);
	cr_assert_str_eq(name, "", "visible before the commit");
	cr_assert_eq(drop_commit(w), 0);
	cr_assert_eq(only_file(dir, name, sizeof(name)), 1);
	cr_assert(drop_name_is_msg(name), "%s", name);
	path = tu_path(dir, name);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0644);
	text = tu_read_file(path, NULL);
	cr_assert_str_eq(text, "KANTORPOS-DROP 1\nB 8BIT\nR a@b.test\n\nbody\r\n");
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	fd = drop_open(dfd, name, &st, &why);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(drop_remove(dfd, name), 0);
	cr_assert_eq(drop_open(dfd, name, &st, &why), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_null(why);
	/* An abort leaves nothing; a missing directory says ENOENT. */
	cr_assert_eq(drop_create(dir, &w), 0);
	drop_abort(w);
	cr_assert_eq(only_file(dir, name, sizeof(name)), 0);
	free(path);
	path = tu_path(dir, "missing");
	cr_assert_eq(drop_create(path, &w), -1);
	cr_assert_eq(errno, ENOENT);
	close(dfd);
	free(path);
	free(text);
}

/* What a user could plant: each is refused and set aside into bad/. */
Test(drop, planted_files_are_set_aside)
{
	static const char *const why_want[] = {
		"a symbolic link", "a hard link", "not a regular file",
	};
	char *target = tu_path(dir, "elsewhere"), *p;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct stat st;

	tu_write_file(target, "KANTORPOS-DROP 1\nR a@b\n\n");
	p = tu_path(dir, "m.01");
	cr_assert_eq(symlink(target, p), 0);
	free(p);
	p = tu_path(dir, "m.02");
	cr_assert_eq(link(target, p), 0);
	free(p);
	p = tu_path(dir, "m.03");
	cr_assert_eq(mkfifo(p, 0644), 0);
	free(p);
	for (int i = 0; i < 3; i++) {
		char name[16];
		const char *why = NULL;
		bool removed = true;

		snprintf(name, sizeof(name), "m.0%d", i + 1);
		cr_assert_eq(drop_open(dfd, name, &st, &why), -1);
		cr_assert(why != NULL && strstr(why, why_want[i]) == why,
			  "%s: %s", name, why ? why : "-");
		cr_assert_eq(drop_set_aside(dfd, name, &removed), 0);
		cr_assert(!removed);
	}
	p = tu_path(dir, "bad");
	cr_assert_eq(tu_count_dir(p), 3);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	free(p);
	/* A bad/ that is not a private directory: removed instead. */
	p = tu_path(dir, "bad");
	tu_rmrf(p);
	cr_assert_eq(mkdir(p, 0755), 0);
	cr_assert_eq(drop_bad_dir(dfd), -1);
	cr_assert_eq(errno, EPERM);
	free(p);
	p = tu_path(dir, "m.04");
	cr_assert_eq(symlink(target, p), 0);
	{
		bool removed = false;

		cr_assert_eq(drop_set_aside(dfd, "m.04", &removed), 0);
		cr_assert(removed);
		cr_assert_eq(lstat(p, &st), -1);
	}
	cr_assert_eq(stat(target, &st), 0, "the target is untouched");
	free(p);
	free(target);
	close(dfd);
}
