/* tests/test_maildrop.c: the POP3 maildrop view — lock, snapshot, sizes,
 * unique-ids, the CRLF reader (RETR and TOP) and the UPDATE commit. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/fsutil.h"
#include "store/maildir.h"
#include "store/maildrop.h"
#include "tests/helpers/testutil.h"

static char *dir, *md;

static void setup(void)
{
	dir = tu_tmpdir();
	md = tu_path(dir, "mail/example.test/alice");
}

static void teardown(void)
{
	tu_rmrf(dir);
	free(md);
	free(dir);
}

TestSuite(maildrop, .init = setup, .fini = teardown);

/* Deliver text through the store; the name used in new/ goes to name. */
static void deliver(const char *text, char *name, size_t size)
{
	struct md_target t = { md, 0, 0 };
	struct md_delivery *d;

	cr_assert_eq(md_delivery_begin(md, "h", &d), MD_OK);
	cr_assert_eq(md_delivery_write(d, text, strlen(text)), MD_OK);
	cr_assert_eq(md_delivery_commit(d, &t, 1, NULL, name, size), MD_OK);
}

/* Put a file as another Maildir tool would (no W=). */
static void put_raw(const char *sub_name, const char *text)
{
	char *path = tu_path(md, sub_name);

	cr_assert_eq(md_create(md), 0);
	tu_write_file(path, text);
	free(path);
}

static int count_sub(const char *sub)
{
	char *path = tu_path(md, sub);
	int n = tu_count_dir(path);

	free(path);
	return n;
}

/* Read message i through the reader in chunks of step bytes into a heap
 * string; *len_r gets its length. */
static char *read_msg(struct mdrop *m, size_t i, long long lines,
		      size_t step, size_t *len_r)
{
	struct mdrop_reader *r;
	size_t cap = 1024, len = 0;
	char *out = malloc(cap);
	ssize_t n;

	cr_assert_not_null(out);
	cr_assert_eq(mdrop_reader_open(m, i, lines, &r), 0);
	for (;;) {
		if (len + step + 1 > cap) {
			cap = (len + step + 1) * 2;
			out = realloc(out, cap);
			cr_assert_not_null(out);
		}
		n = mdrop_read(r, out + len, step);
		cr_assert_geq(n, 0);
		cr_assert_leq((size_t)n, step);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	mdrop_reader_close(r);
	out[len] = '\0';
	*len_r = len;
	return out;
}

static struct mdrop *open_ok(void)
{
	struct mdrop *m = NULL;

	cr_assert_eq(mdrop_open(md, &m), 1);
	cr_assert_not_null(m);
	return m;
}

Test(maildrop, missing_maildir_is_empty)
{
	struct mdrop *m = open_ok();
	size_t count = 9;
	uint64_t bytes = 9;

	mdrop_stat(m, &count, &bytes);
	cr_expect_eq(count, 0);
	cr_expect_eq(bytes, 0);
	cr_expect_eq(mdrop_count(m), 0);
	mdrop_release(m);
	cr_expect_eq(count_sub("new"), 0);
}

Test(maildrop, second_open_in_same_process_is_busy)
{
	struct mdrop *m = open_ok(), *other = NULL;

	cr_expect_eq(mdrop_open(md, &other), 0);
	cr_expect_null(other);
	mdrop_release(m);
	m = open_ok();
	mdrop_release(m);
}

Test(maildrop, second_open_in_other_process_is_busy)
{
	struct mdrop *m = open_ok();
	pid_t pid = fork();
	int status;

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct mdrop *other = NULL;

		_exit(mdrop_open(md, &other) == 0 ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_expect_eq(WEXITSTATUS(status), 0, "the other process saw busy");
	mdrop_release(m);
}

Test(maildrop, lock_dies_with_holder)
{
	int ready[2], hold[2];
	struct mdrop *m = NULL;
	pid_t pid;
	char c;
	int status;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(hold), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct mdrop *mine = NULL;

		close(ready[0]);
		close(hold[1]);
		c = mdrop_open(md, &mine) == 1 ? 'L' : 'E';
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		(void)read(hold[0], &c, 1);   /* wait to be killed */
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	cr_assert_eq(read(ready[0], &c, 1), 1);
	cr_assert_eq(c, 'L');
	cr_expect_eq(mdrop_open(md, &m), 0, "held by the child");
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status));
	cr_expect_eq(mdrop_open(md, &m), 1, "released when the holder died");
	mdrop_release(m);
	close(ready[0]);
	close(hold[1]);
}

Test(maildrop, snapshot_ignores_later_delivery)
{
	char name[256], late[256];
	struct mdrop *m;
	size_t removed = 0;

	deliver("one\r\n", name, sizeof(name));
	deliver("two\r\n", name, sizeof(name));
	m = open_ok();
	deliver("late\r\n", late, sizeof(late));
	cr_assert_eq(mdrop_count(m), 2);
	mdrop_set_deleted(m, 0, true);
	mdrop_set_deleted(m, 1, true);
	cr_assert_eq(mdrop_commit(m, &removed), 0);
	cr_expect_eq(removed, 2);
	cr_expect_eq(count_sub("new"), 1);
	m = open_ok();
	cr_assert_eq(mdrop_count(m), 1);
	cr_expect_eq(strncmp(mdrop_uidl(m, 0), late, strlen(mdrop_uidl(m, 0))),
		     0, "the late message survived");
	mdrop_release(m);
}

Test(maildrop, order_sizes_and_uidls)
{
	char name[256];
	struct mdrop *m;
	size_t count;
	uint64_t bytes;

	put_raw("cur/2000.b:2,S", "x\n");          /* LF only: 3 octets */
	put_raw("new/1000.b", "abc");               /* closed: 5 octets */
	put_raw("new/1000.a,S=5,W=7", "a\nb\n\n");  /* W= trusted */
	put_raw("new/.hidden", "ignored");
	deliver("Subject: x\r\n\r\nbody\r\n", name, sizeof(name));
	m = open_ok();
	cr_assert_eq(mdrop_count(m), 4);
	cr_expect_str_eq(mdrop_uidl(m, 0), "1000.a,S=5,W=7");
	cr_expect_str_eq(mdrop_uidl(m, 1), "1000.b");
	cr_expect_str_eq(mdrop_uidl(m, 2), "2000.b");
	cr_expect_str_eq(mdrop_uidl(m, 3), name, "delivered now, sorts last");
	cr_expect_eq(mdrop_size(m, 0), 7);
	cr_expect_eq(mdrop_size(m, 1), 5);
	cr_expect_eq(mdrop_size(m, 2), 3);
	cr_expect_eq(mdrop_size(m, 3), 20);
	mdrop_stat(m, &count, &bytes);
	cr_expect_eq(count, 4);
	cr_expect_eq(bytes, 35);
	mdrop_set_deleted(m, 1, true);
	cr_expect(mdrop_is_deleted(m, 1));
	mdrop_stat(m, &count, &bytes);
	cr_expect_eq(count, 3);
	cr_expect_eq(bytes, 30);
	mdrop_release(m);
}

Test(maildrop, long_name_gets_hashed_uidl)
{
	char host[120], name[300];
	struct mdrop *m;
	const char *uidl;

	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(name, sizeof(name), "new/1700000000.M1P1Q1.%s,S=3,W=3", host);
	put_raw(name, "x\r\n");
	m = open_ok();
	uidl = mdrop_uidl(m, 0);
	cr_expect_eq(strlen(uidl), 32);
	for (const char *p = uidl; *p; p++)
		cr_expect(*p > 0x20 && *p < 0x7f);
	mdrop_release(m);
}

Test(maildrop, uidl_stable_after_move_to_cur)
{
	char name[256], uidl[80], *from, *to, *sub;
	struct mdrop *m;
	char *text;
	size_t len;

	deliver("Subject: x\r\n\r\nhi\r\n", name, sizeof(name));
	m = open_ok();
	snprintf(uidl, sizeof(uidl), "%s", mdrop_uidl(m, 0));
	cr_expect_str_eq(uidl, name);
	mdrop_release(m);

	cr_assert_eq(asprintf(&sub, "new/%s", name) > 0, 1);
	from = tu_path(md, sub);
	free(sub);
	cr_assert_eq(asprintf(&sub, "cur/%s:2,S", name) > 0, 1);
	to = tu_path(md, sub);
	free(sub);
	cr_assert_eq(rename(from, to), 0);
	m = open_ok();
	cr_assert_eq(mdrop_count(m), 1);
	cr_expect_str_eq(mdrop_uidl(m, 0), uidl);
	text = read_msg(m, 0, -1, 4096, &len);
	cr_expect_str_eq(text, "Subject: x\r\n\r\nhi\r\n");
	cr_expect_eq(mdrop_size(m, 0), len);
	free(text);
	mdrop_release(m);
	free(from);
	free(to);
}

Test(maildrop, reader_whole_and_top)
{
	static const char crlf[] = "H1: a\r\nH2: b\r\n\r\nl1\r\nl2\r\nl3\r\n";
	static const char lf[] = "H1: a\nH2: b\n\nl1\nl2\nl3";
	static const struct {
		long long lines;
		const char *expect;
	} rows[] = {
		{ -1, crlf },
		{ 0, "H1: a\r\nH2: b\r\n\r\n" },
		{ 2, "H1: a\r\nH2: b\r\n\r\nl1\r\nl2\r\n" },
		{ 3, crlf },
		{ 99999999, crlf },
	};
	static const size_t steps[] = { 1, 2, 3, 4096 };
	struct mdrop *m;

	put_raw("new/1.crlf", crlf);
	put_raw("new/2.lf", lf);
	put_raw("new/3.nobody", "H: only\nX: y");
	m = open_ok();
	cr_assert_eq(mdrop_count(m), 3);
	for (size_t msg = 0; msg < 2; msg++)
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			for (size_t s = 0; s < 4; s++) {
				size_t len;
				char *got = read_msg(m, msg, rows[i].lines,
						     steps[s], &len);

				cr_expect_str_eq(got, rows[i].expect,
						 "msg %zu lines %lld step %zu",
						 msg, rows[i].lines, steps[s]);
				if (rows[i].lines < 0)
					cr_expect_eq(len, mdrop_size(m, msg));
				free(got);
			}
	for (long long lines = -1; lines < 2; lines++) {
		size_t len;
		char *got = read_msg(m, 2, lines, 5, &len);

		cr_expect_str_eq(got, "H: only\r\nX: y\r\n",
				 "no blank line: all header");
		free(got);
	}
	cr_expect_eq(mdrop_size(m, 2), 15);
	mdrop_release(m);
}

/* The reader's rules one byte at a time, as plainly as they can be
 * written: every LF leaves as CRLF (a CR already before it is kept), a
 * last line without LF gets CRLF, and TOP (lines >= 0) stops after the
 * header, the blank line and that many body lines. */
static size_t model_read(const char *in, size_t len, long long lines,
			 char *out)
{
	bool header = true;
	size_t o = 0, line_len = 0;
	char last = 0;

	if (lines == 0)
		lines = -2; /* the blank line itself ends it */
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '\n') {
			out[o++] = in[i];
			line_len++;
			last = in[i];
			continue;
		}
		if (!(last == '\r' && line_len > 0))
			out[o++] = '\r';
		out[o++] = '\n';
		bool empty = line_len == 0 || (line_len == 1 && last == '\r');

		line_len = 0;
		last = '\n';
		if (header) {
			if (empty) {
				header = false;
				if (lines == -2)
					return o;
			}
		} else if (lines > 0 && --lines == 0) {
			return o;
		}
	}
	if (len > 0 && last != '\n') {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

Test(maildrop, random_texts_match_the_model)
{
	/* Texts made of the bytes that matter, read whole and as TOP with
	 * several output sizes; the long ones cross the reader's 64 KiB
	 * input buffer, one with its CRLF split across the edge. A fixed
	 * seed, so a failure repeats. */
	static const char alphabet[] = { '\r', '\n', 'a', '.', '\n' };
	static const long long tops[] = { -1, 0, 1, 3 };
	static const size_t steps[] = { 1, 7, 100, 70000 };
	unsigned seed = 4242;
	size_t cap = 140000;
	char *in = malloc(cap + 1), *want = malloc(2 * cap + 2);

	cr_assert_not_null(in);
	cr_assert_not_null(want);
	for (int round = 0; round < 120; round++) {
		size_t len = round < 3 ? 65536 + (size_t)round * 30000
				       : (size_t)rand_r(&seed) % 200;
		struct mdrop *m;

		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[(size_t)rand_r(&seed) % sizeof alphabet];
		if (round == 1) {
			in[65535] = '\r';
			in[65536] = '\n';
		}
		in[len] = '\0';
		put_raw("cur/1.r:2,", in);
		m = open_ok();
		for (size_t t = 0; t < sizeof tops / sizeof tops[0]; t++) {
			size_t wlen = model_read(in, len, tops[t], want);
			size_t s = (size_t)rand_r(&seed) % 4, glen;
			char *got = read_msg(m, 0, tops[t], steps[s], &glen);

			cr_assert_eq(glen, wlen, "round %d top %lld step %zu: "
				     "%zu bytes, want %zu", round, tops[t],
				     steps[s], glen, wlen);
			cr_assert_arr_eq(got, want, wlen, "round %d top %lld",
					 round, tops[t]);
			if (tops[t] < 0)
				cr_assert_eq(mdrop_size(m, 0), wlen);
			free(got);
		}
		mdrop_release(m);
	}
	free(in);
	free(want);
}

Test(maildrop, lf_file_read_as_crlf)
{
	struct mdrop *m;
	size_t len;
	char *got;

	put_raw("new/1.x", "a\nb\n");
	put_raw("new/2.y", "");
	put_raw("new/3.z", "c\r\n.\nd\r");
	m = open_ok();
	cr_expect_eq(mdrop_size(m, 0), 6);
	got = read_msg(m, 0, -1, 7, &len);
	cr_expect_eq(len, 6);
	cr_expect_str_eq(got, "a\r\nb\r\n");
	free(got);
	cr_expect_eq(mdrop_size(m, 1), 0);
	got = read_msg(m, 1, -1, 7, &len);
	cr_expect_eq(len, 0);
	free(got);
	got = read_msg(m, 2, -1, 1, &len);
	cr_expect_str_eq(got, "c\r\n.\r\nd\r\r\n");
	cr_expect_eq(mdrop_size(m, 2), len);
	free(got);
	mdrop_release(m);
}

Test(maildrop, commit_removes_exactly_the_marked)
{
	char names[4][256];
	struct mdrop *m;
	size_t removed = 0;

	for (int i = 0; i < 4; i++) {
		char text[32];

		snprintf(text, sizeof(text), "msg %d\r\n", i);
		deliver(text, names[i], sizeof(names[i]));
	}
	m = open_ok();
	cr_assert_eq(mdrop_count(m), 4);
	mdrop_set_deleted(m, 1, true);
	mdrop_set_deleted(m, 3, true);
	mdrop_set_deleted(m, 2, true);
	mdrop_set_deleted(m, 2, false);   /* RSET-like unmark */
	cr_assert_eq(mdrop_commit(m, &removed), 0);
	cr_expect_eq(removed, 2);
	m = open_ok();
	cr_assert_eq(mdrop_count(m), 2);
	cr_expect_str_eq(mdrop_uidl(m, 0), names[0]);
	cr_expect_str_eq(mdrop_uidl(m, 1), names[2]);
	mdrop_release(m);
}

Test(maildrop, release_without_commit_changes_nothing)
{
	char name[256];
	struct mdrop *m;

	deliver("a\r\n", name, sizeof(name));
	deliver("b\r\n", name, sizeof(name));
	m = open_ok();
	mdrop_set_deleted(m, 0, true);
	mdrop_set_deleted(m, 1, true);
	mdrop_release(m);
	cr_expect_eq(count_sub("new"), 2);
	m = open_ok();
	cr_expect_eq(mdrop_count(m), 2);
	cr_expect(!mdrop_is_deleted(m, 0));
	mdrop_release(m);
	mdrop_release(NULL);
}

Test(maildrop, crash_changes_nothing)
{
	char name[256];
	pid_t pid;
	int status;
	struct mdrop *m;

	deliver("a\r\n", name, sizeof(name));
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct mdrop *mine = NULL;

		if (mdrop_open(md, &mine) != 1)
			_exit(1);
		mdrop_set_deleted(mine, 0, true);
		_exit(0);   /* no commit */
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	m = open_ok();
	cr_expect_eq(mdrop_count(m), 1);
	mdrop_release(m);
}

Test(maildrop, moved_and_vanished_messages)
{
	char names[3][256], *from, *to, *sub, *got;
	struct mdrop *m;
	struct mdrop_reader *r;
	size_t removed = 0, len;

	for (int i = 0; i < 3; i++)
		deliver("x\r\n", names[i], sizeof(names[i]));
	m = open_ok();
	/* Another Maildir client marks message 0 read and deletes 1. */
	cr_assert_eq(asprintf(&sub, "new/%s", names[0]) > 0, 1);
	from = tu_path(md, sub);
	free(sub);
	cr_assert_eq(asprintf(&sub, "cur/%s:2,S", names[0]) > 0, 1);
	to = tu_path(md, sub);
	free(sub);
	cr_assert_eq(rename(from, to), 0);
	cr_assert_eq(asprintf(&sub, "new/%s", names[1]) > 0, 1);
	free(from);
	from = tu_path(md, sub);
	free(sub);
	cr_assert_eq(unlink(from), 0);

	got = read_msg(m, 0, -1, 100, &len);
	cr_expect_str_eq(got, "x\r\n", "found in cur/ by its base name");
	free(got);
	errno = 0;
	cr_expect_eq(mdrop_reader_open(m, 1, -1, &r), -1);
	cr_expect_eq(errno, ENOENT);
	cr_expect_eq(mdrop_reader_open(m, 3, -1, &r), -1, "out of range");
	for (size_t i = 0; i < 3; i++)
		mdrop_set_deleted(m, i, true);
	cr_assert_eq(mdrop_commit(m, &removed), 0, "a gone file is fine");
	cr_expect_eq(removed, 2);
	cr_expect_eq(count_sub("new"), 0);
	cr_expect_eq(count_sub("cur"), 0);
	free(from);
	free(to);
}

Test(maildrop, commit_reports_failed_unlink_and_releases)
{
	char names[3][256], *path, *inner, *sub;
	struct mdrop *m;
	size_t removed = 99;

	for (int i = 0; i < 3; i++)
		deliver("x\r\n", names[i], sizeof(names[i]));
	m = open_ok();
	/* Replace message 1 by a non-empty directory: unlink() fails. */
	cr_assert_eq(asprintf(&sub, "new/%s", names[1]) > 0, 1);
	path = tu_path(md, sub);
	free(sub);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(mkdir(path, 0700), 0);
	inner = tu_path(path, "f");
	tu_write_file(inner, "keep");
	mdrop_set_deleted(m, 0, true);
	mdrop_set_deleted(m, 1, true);
	errno = 0;
	cr_expect_eq(mdrop_commit(m, &removed), -1);
	cr_expect_neq(errno, 0);
	cr_expect_eq(removed, 1);
	cr_expect_eq(access(inner, F_OK), 0);
	m = open_ok();   /* the lock was released anyway */
	cr_expect_eq(mdrop_count(m), 1, "the unmarked message stays");
	cr_expect_str_eq(mdrop_uidl(m, 0), names[2]);
	mdrop_release(m);
	free(inner);
	free(path);
}

Test(maildrop, open_removes_stale_tmp_files)
{
	char *old = tu_path(md, "tmp/1.crashed.h");
	char *fresh = tu_path(md, "tmp/2.writing.h");
	struct timeval tv[2] = { { time(NULL) - MD_TMP_MAX_AGE - 60, 0 },
				 { time(NULL) - MD_TMP_MAX_AGE - 60, 0 } };
	struct mdrop *m;

	cr_assert_eq(md_create(md), 0);
	tu_write_file(old, "left by a crash");
	tu_write_file(fresh, "a delivery in progress");
	cr_assert_eq(utimes(old, tv), 0);
	m = open_ok();
	cr_expect_eq(mdrop_count(m), 0, "tmp/ files are never messages");
	mdrop_release(m);
	cr_expect_eq(access(old, F_OK), -1, "the stale file is gone");
	cr_expect_eq(access(fresh, F_OK), 0, "a fresh file stays");
	free(old);
	free(fresh);
}

/* ---- links in the store ------------------------------------------------ */

Test(maildrop, open_refuses_a_link_at_any_level)
{
	static const char *const levels[] = {
		"mail", "mail/example.test", "mail/example.test/alice",
		"mail/example.test/alice/tmp", "mail/example.test/alice/new",
		"mail/example.test/alice/cur",
	};
	char name[256];

	deliver("kept\r\n", name, sizeof(name));
	for (int resolver = 0; resolver < 2; resolver++) {
		fs_use_openat2(resolver == 0);
		for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
			char *level = tu_path(dir, levels[i]);
			char *outside = tu_path(dir, "outside");
			struct mdrop *m = NULL;
			int files;

			tu_replace_with_link(level, outside);
			files = tu_count_files(outside);
			cr_expect_eq(mdrop_open(md, &m), -1, "%s opened",
				     levels[i]);
			cr_expect_eq(errno, ELOOP, "%s: %s", levels[i],
				     strerror(errno));
			/* No lock file, nothing moved or removed there. */
			cr_expect_eq(tu_count_files(outside), files, "%s",
				     levels[i]);
			cr_assert_eq(unlink(level), 0);
			cr_assert_eq(rename(outside, level), 0);
			free(level);
			free(outside);
		}
	}
	/* The lock file itself as a link. */
	char *lock = tu_path(md, MDROP_LOCK_NAME);
	char *target = tu_path(dir, "lock-target");
	struct mdrop *m = NULL;

	tu_plant_link(target, lock);
	cr_expect_eq(mdrop_open(md, &m), -1);
	cr_expect_eq(errno, ELOOP);
	cr_expect_eq(access(target, F_OK), -1, "created through the link");
	free(lock);
	free(target);
}

Test(maildrop, commit_uses_the_directories_opened_at_login)
{
	char name[256], *newdir = tu_path(md, "new"), *moved, *outside, *decoy;
	struct mdrop *m;
	size_t removed = 0;

	deliver("one\r\n", name, sizeof(name));
	m = open_ok();
	cr_assert_eq(mdrop_count(m), 1);
	mdrop_set_deleted(m, 0, true);
	/* During the session new/ is swapped for a link to a directory that
	 * holds a file of the same name. */
	moved = tu_path(dir, "moved-new");
	outside = tu_path(dir, "outside");
	cr_assert_eq(rename(newdir, moved), 0);
	cr_assert_eq(mkdir(outside, 0700), 0);
	decoy = tu_path(outside, name);
	tu_write_file(decoy, "not yours\n");
	tu_plant_link(outside, newdir);
	size_t len;
	char *text = read_msg(m, 0, -1, 7, &len);

	cr_expect_str_eq(text, "one\r\n");
	free(text);
	cr_assert_eq(mdrop_commit(m, &removed), 0);
	cr_expect_eq(removed, 1);
	cr_expect_eq(tu_count_dir(moved), 0, "the message was not removed");
	cr_expect_eq(access(decoy, F_OK), 0, "the decoy was removed");
	free(newdir);
	free(moved);
	free(outside);
	free(decoy);
}
