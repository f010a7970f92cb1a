/* tests/test_maildir.c: durable Maildir delivery — byte-exact streaming,
 * names, write-once multi-recipient commits, crashes, stale tmp/ cleanup,
 * all-or-nothing failures, path safety and links in the store. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/fsutil.h"
#include "store/maildir.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(maildir, .init = setup, .fini = teardown);

/* Whether the test runs with named tmp/ files (the path taken where the
 * file system has no O_TMPFILE) instead of unnamed ones. */
static bool named;

/* A test run twice: with unnamed tmp/ files (the default where they work)
 * and with named ones. Each Criterion test runs in its own process, so the
 * store's setting starts fresh in each. */
#define BOTH_MODES(test)                                                    \
	static void test##_body(void);                                      \
	Test(maildir, test)                                                 \
	{                                                                   \
		named = false;                                              \
		md_use_unnamed_files(true);                                 \
		test##_body();                                              \
	}                                                                   \
	Test(maildir, test##_named)                                         \
	{                                                                   \
		named = true;                                               \
		md_use_unnamed_files(false);                                \
		test##_body();                                              \
	}                                                                   \
	static void test##_body(void)

/* The name of the only entry of maildir/sub (heap), or NULL. */
static char *only_entry(const char *maildir, const char *sub)
{
	char *path = tu_path(maildir, sub);
	DIR *d = opendir(path);
	struct dirent *de;
	char *name = NULL;
	int n = 0;

	free(path);
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		free(name);
		name = strdup(de->d_name);
	}
	closedir(d);
	if (n != 1) {
		free(name);
		return NULL;
	}
	return name;
}

static int count_sub(const char *maildir, const char *sub)
{
	char *path = tu_path(maildir, sub);
	int n = tu_count_dir(path);

	free(path);
	return n;
}

/* Deliver data to one maildir in chunks of the given sizes (cycled). */
static enum md_result deliver_chunked(const char *maildir, const char *data,
				      size_t len, const size_t *chunks,
				      size_t nchunks, char *name, size_t size)
{
	struct md_delivery *d;
	struct md_target t = { maildir, 0, 0 };
	enum md_result r = md_delivery_begin(maildir, "test.host", &d);
	size_t off = 0, k = 0;

	if (r != MD_OK)
		return r;
	while (off < len) {
		size_t n = chunks[k++ % nchunks];

		if (n > len - off)
			n = len - off;
		r = md_delivery_write(d, data + off, n);
		if (r != MD_OK) {
			md_delivery_abort(d);
			return r;
		}
		off += n;
	}
	cr_assert_eq(md_delivery_size(d), len);
	return md_delivery_commit(d, &t, 1, NULL, name, size);
}

static void assert_delivered(const char *maildir, const char *data,
			     size_t len)
{
	char *name = only_entry(maildir, "new"), *path, *sub;
	char *got;
	size_t got_len;

	cr_assert_not_null(name, "exactly one message in new/");
	cr_assert_eq(asprintf(&sub, "new/%s", name), (int)strlen(name) + 4);
	path = tu_path(maildir, sub);
	got = tu_read_file(path, &got_len);
	cr_assert_not_null(got);
	cr_assert_eq(got_len, len);
	cr_assert(memcmp(got, data, len) == 0, "content is byte-exact");
	cr_assert_eq(count_sub(maildir, "tmp"), 0, "tmp/ is empty");
	cr_assert_eq(count_sub(maildir, "cur"), 0);
	free(got);
	free(path);
	free(sub);
	free(name);
}

BOTH_MODES(delivery_is_byte_exact)
{
	static const size_t one[] = { 1 }, odd[] = { 1, 7, 4093, 65537, 100003 },
			    whole[] = { 1 << 21 };
	static const char binary[] = "From: a\r\n\0\x01\xff\r\rbare\nend";
	size_t big_len = 1 << 20;
	char *big = malloc(big_len);
	const struct {
		const char *data;
		size_t len;
		const size_t *chunks;
		size_t nchunks;
	} rows[] = {
		{ "", 0, whole, 1 },
		{ binary, sizeof(binary) - 1, one, 1 },
		{ binary, sizeof(binary) - 1, whole, 1 },
		{ big, big_len, odd, 5 },
		{ big, big_len, whole, 1 },
	};

	cr_assert_not_null(big);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)((i * 131 + i / 977) & 0xff);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char md[64], name[256];
		char *maildir;

		snprintf(md, sizeof(md), "mail/example.test/u%zu", i);
		maildir = tu_path(dir, md);
		cr_assert_eq(deliver_chunked(maildir, rows[i].data, rows[i].len,
					     rows[i].chunks, rows[i].nchunks,
					     name, sizeof(name)), MD_OK,
			     "row %zu", i);
		cr_assert_neq(name[0], '\0');
		assert_delivered(maildir, rows[i].data, rows[i].len);
		free(maildir);
	}
	free(big);
}

Test(maildir, name_carries_sizes)
{
	static const size_t whole[] = { 4096 };
	static const struct {
		const char *data, *suffix;
	} rows[] = {
		{ "x\r\ny\r\n", ",S=6,W=6" },
		{ "a\nb\r\nc", ",S=6,W=9" },  /* bare LF +1, open last line +2 */
		{ "", ",S=0,W=0" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char md[32], name[256];
		char *maildir, *found;
		size_t len = strlen(rows[i].data), slen = strlen(rows[i].suffix);

		snprintf(md, sizeof(md), "m%zu", i);
		maildir = tu_path(dir, md);
		cr_assert_eq(deliver_chunked(maildir, rows[i].data, len, whole,
					     1, name, sizeof(name)), MD_OK);
		cr_assert_gt(strlen(name), slen);
		cr_expect_str_eq(name + strlen(name) - slen, rows[i].suffix,
				 "row %zu: %s", i, name);
		cr_expect_not_null(strstr(name, ".test.host,"), "%s", name);
		found = only_entry(maildir, "new");
		cr_assert_not_null(found);
		cr_expect_str_eq(found, name);
		free(found);
		free(maildir);
	}
}

Test(maildir, maildir_created_with_mode_0700)
{
	char *maildir = tu_path(dir, "data/mail/example.test/alice");
	char *sub;
	struct stat st;
	const char *levels[] = { "data", "data/mail", "data/mail/example.test",
				 "data/mail/example.test/alice",
				 "data/mail/example.test/alice/tmp",
				 "data/mail/example.test/alice/new",
				 "data/mail/example.test/alice/cur" };

	cr_assert_eq(md_create(maildir), 0);
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		sub = tu_path(dir, levels[i]);
		cr_assert_eq(stat(sub, &st), 0, "%s", levels[i]);
		cr_expect(S_ISDIR(st.st_mode));
		cr_expect_eq(st.st_mode & 0777, 0700, "%s", levels[i]);
		free(sub);
	}
	cr_assert_eq(md_create(maildir), 0, "existing maildir is fine");
	free(maildir);
}

BOTH_MODES(multi_recipient_is_write_once)
{
	char *a = tu_path(dir, "mail/example.test/alice");
	char *b = tu_path(dir, "mail/example.test/bob");
	struct md_target t[] = { { a, 0, 0 }, { b, 0, 0 }, { a, 0, 0 } };
	struct md_delivery *d;
	char name[256], *pa, *pb;
	struct stat sa, sb;
	size_t failed = 99;

	cr_assert_eq(md_delivery_begin(a, NULL, &d), MD_OK);
	cr_assert_eq(md_delivery_write(d, "hello\r\n", 7), MD_OK);
	cr_assert_eq(md_delivery_commit(d, t, 3, &failed, name, sizeof(name)),
		     MD_OK);
	cr_assert_eq(asprintf(&pa, "%s/new/%s", a, name) > 0, 1);
	cr_assert_eq(asprintf(&pb, "%s/new/%s", b, name) > 0, 1);
	cr_assert_eq(stat(pa, &sa), 0);
	cr_assert_eq(stat(pb, &sb), 0);
	cr_expect_eq(sa.st_ino, sb.st_ino, "one inode, two links");
	cr_expect_eq(sa.st_nlink, 2);
	cr_expect_eq(sa.st_mode & 0777, 0600);
	cr_expect_eq(count_sub(a, "new"), 1, "a duplicate target gets one copy");
	cr_expect_eq(count_sub(a, "tmp"), 0);
	cr_expect_eq(count_sub(b, "tmp"), 0);
	free(pa);
	free(pb);
	free(a);
	free(b);
}

/* The same maildir under two spellings: one copy, no error. */
BOTH_MODES(same_maildir_two_spellings_one_copy)
{
	/* Not through a link (the store refuses those): with a "." in it. */
	char *a = tu_path(dir, "alice"), *other = tu_path(dir, "./alice");
	struct md_target t[2] = { { a, 0, 0 }, { other, 0, 0 } };
	struct md_delivery *d;
	size_t failed = 99;

	cr_assert_eq(md_create(a), 0);
	cr_assert_eq(md_delivery_begin(a, "h", &d), MD_OK);
	cr_assert_eq(md_delivery_write(d, "one\r\n", 5), MD_OK);
	cr_assert_eq(md_delivery_commit(d, t, 2, &failed, NULL, 0), MD_OK);
	cr_expect_eq(count_sub(a, "new"), 1);
	cr_expect_eq(count_sub(a, "tmp"), 0);
	free(a);
	free(other);
}

BOTH_MODES(cross_device_target_is_copied)
{
	char shm[] = "/dev/shm/kantorpos-test.XXXXXX";
	char *a = tu_path(dir, "alice"), *b, *pa, *pb, *got;
	struct md_target t[2];
	struct md_delivery *d;
	struct stat sa, sb;
	char name[256];
	size_t len;

	if (mkdtemp(shm) == NULL)
		cr_skip_test("no /dev/shm");
	b = tu_path(shm, "bob");
	t[0] = (struct md_target){ a, 0, 0 };
	t[1] = (struct md_target){ b, 0, 0 };
	cr_assert_eq(md_delivery_begin(a, "h", &d), MD_OK);
	cr_assert_eq(md_delivery_write(d, "body\r\n", 6), MD_OK);
	cr_assert_eq(md_delivery_commit(d, t, 2, NULL, name, sizeof(name)),
		     MD_OK);
	cr_assert_eq(asprintf(&pa, "%s/new/%s", a, name) > 0, 1);
	cr_assert_eq(asprintf(&pb, "%s/new/%s", b, name) > 0, 1);
	cr_assert_eq(stat(pa, &sa), 0);
	cr_assert_eq(stat(pb, &sb), 0);
	got = tu_read_file(pb, &len);
	cr_expect(got != NULL && len == 6 && memcmp(got, "body\r\n", 6) == 0);
	cr_expect_eq(count_sub(b, "tmp"), 0);
	if (sa.st_dev == sb.st_dev)
		cr_expect_eq(sa.st_ino, sb.st_ino);
	free(got);
	free(pa);
	free(pb);
	free(a);
	free(b);
	tu_rmrf(shm);
}

Test(maildir, concurrent_processes_get_unique_names)
{
	/* 4000 fsyncs take seconds on a disk; uniqueness does not depend
	 * on the file system, so use tmpfs when there is one. */
	char shm[] = "/dev/shm/kantorpos-test.XXXXXX";
	bool on_shm = mkdtemp(shm) != NULL;
	char *maildir = tu_path(on_shm ? shm : dir, "alice");
	pid_t pids[2];

	cr_assert_eq(md_create(maildir), 0);
	for (int p = 0; p < 2; p++) {
		pids[p] = fork();
		cr_assert_neq(pids[p], -1);
		if (pids[p] == 0) {
			static const size_t one[] = { 64 };

			for (int i = 0; i < 1000; i++) {
				char msg[64], name[256];
				int len = snprintf(msg, sizeof(msg),
						   "proc %d msg %d\r\n", p, i);

				if (deliver_chunked(maildir, msg, (size_t)len,
						    one, 1, name,
						    sizeof(name)) != MD_OK)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (int p = 0; p < 2; p++) {
		int status;

		cr_assert_eq(waitpid(pids[p], &status, 0), pids[p]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	cr_expect_eq(count_sub(maildir, "new"), 2000);
	cr_expect_eq(count_sub(maildir, "tmp"), 0);
	free(maildir);
	if (on_shm)
		tu_rmrf(shm);
}

/* A crash before the commit leaves nothing in new/ or cur/: at most the
 * named file in tmp/, removed later by md_clean_tmp. */
BOTH_MODES(crash_before_commit_leaves_only_tmp)
{
	char *maildir = tu_path(dir, "alice");
	pid_t pid = fork();
	int status;

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct md_delivery *d;

		if (md_delivery_begin(maildir, "h", &d) != MD_OK ||
		    md_delivery_write(d, "partial", 7) != MD_OK)
			_exit(1);
		_exit(0);   /* dies without commit or abort */
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_expect_eq(count_sub(maildir, "tmp"), named ? 1 : 0);
	cr_expect_eq(count_sub(maildir, "new"), 0);
	cr_expect_eq(count_sub(maildir, "cur"), 0);
	free(maildir);
}

BOTH_MODES(abort_removes_tmp_file)
{
	char *maildir = tu_path(dir, "alice");
	struct md_delivery *d;

	cr_assert_eq(md_delivery_begin(maildir, "h", &d), MD_OK);
	cr_assert_eq(md_delivery_write(d, "x", 1), MD_OK);
	cr_assert_eq(md_delivery_write(d, NULL, 0), MD_OK);
	cr_assert_eq(md_delivery_size(d), 1);
	cr_assert_eq(count_sub(maildir, "tmp"), named ? 1 : 0);
	md_delivery_abort(d);
	cr_expect_eq(count_sub(maildir, "tmp"), 0);
	cr_expect_eq(count_sub(maildir, "new"), 0);
	md_delivery_abort(NULL);
	free(maildir);
}

Test(maildir, stale_tmp_cleanup)
{
	char *maildir = tu_path(dir, "alice");
	char *old, *fresh;
	struct timeval tv[2];
	size_t removed = 99;

	cr_assert_eq(md_create(maildir), 0);
	old = tu_path(maildir, "tmp/old");
	fresh = tu_path(maildir, "tmp/fresh");
	tu_write_file(old, "old");
	tu_write_file(fresh, "fresh");
	tv[0].tv_sec = tv[1].tv_sec = time(NULL) - MD_TMP_MAX_AGE - 3600;
	tv[0].tv_usec = tv[1].tv_usec = 0;
	cr_assert_eq(utimes(old, tv), 0);
	cr_assert_eq(md_clean_tmp(maildir, MD_TMP_MAX_AGE, &removed), 0);
	cr_expect_eq(removed, 1);
	cr_expect_eq(access(old, F_OK), -1);
	cr_expect_eq(access(fresh, F_OK), 0);
	free(old);
	old = tu_path(dir, "none");
	cr_expect_eq(md_clean_tmp(old, MD_TMP_MAX_AGE, NULL), 0,
		     "a missing maildir is fine");
	free(old);
	free(fresh);
	free(maildir);
}

BOTH_MODES(commit_is_all_or_nothing)
{
	static const char *const blockers[] = { "blocker", "bob/new" };

	for (size_t i = 0; i < 2; i++) {
		char *a = tu_path(dir, "alice");
		char *block = tu_path(dir, blockers[i]);
		char *b = tu_path(dir, i == 0 ? "blocker/bob" : "bob");
		char *bdir = tu_path(dir, "bob");
		struct md_target t[] = { { a, 0, 0 }, { b, 0, 0 } };
		struct md_delivery *d;
		size_t failed = 99;

		/* A plain file where the second maildir (or its new/)
		 * must be. */
		if (i == 1)
			cr_assert_eq(mkdir(bdir, 0700), 0);
		tu_write_file(block, "in the way");
		cr_assert_eq(md_delivery_begin(a, "h", &d), MD_OK);
		cr_assert_eq(md_delivery_write(d, "msg\r\n", 5), MD_OK);
		cr_expect_eq(md_delivery_commit(d, t, 2, &failed, NULL, 0),
			     MD_ERR_IO);
		cr_expect_eq(errno, ENOTDIR);
		cr_expect_eq(failed, 1);
		cr_expect_eq(count_sub(a, "new"), 0, "first link undone");
		cr_expect_eq(count_sub(a, "tmp"), 0);
		cr_expect_eq(count_sub(a, "cur"), 0);
		tu_rmrf(a);
		tu_rmrf(block);
		tu_rmrf(bdir);
		free(a);
		free(b);
		free(bdir);
		free(block);
	}
}

BOTH_MODES(write_failure_leaves_nothing)
{
	char *maildir = tu_path(dir, "alice");
	pid_t pid = fork();
	int status;

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct rlimit rl = { 4096, 4096 };
		struct md_target t = { maildir, 0, 0 };
		struct md_delivery *d;
		static char big[200000];
		enum md_result r;

		/* RLIMIT_FSIZE makes write() fail with EFBIG, standing in
		 * for a full disk. */
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(10);
		if (md_delivery_begin(maildir, "h", &d) != MD_OK)
			_exit(11);
		r = md_delivery_write(d, big, sizeof(big));
		if (r != MD_ERR_NOSPACE || errno != EFBIG)
			_exit(12);
		if (md_delivery_write(d, "x", 1) != MD_ERR_NOSPACE)
			_exit(13);  /* the error is sticky */
		if (md_delivery_commit(d, &t, 1, NULL, NULL, 0) !=
		    MD_ERR_NOSPACE)
			_exit(14);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0);
	cr_expect_eq(count_sub(maildir, "tmp"), 0);
	cr_expect_eq(count_sub(maildir, "new"), 0);
	cr_expect_eq(count_sub(maildir, "cur"), 0);
	free(maildir);
}

Test(maildir, unsafe_components_refused)
{
	static const struct {
		const char *s;
		bool safe;
	} rows[] = {
		{ "alice", true }, { "example.test", true }, { "a-b_c+d", true },
		{ "", false }, { ".", false }, { "..", false }, { ".alice", false },
		{ "a/b", false }, { "../x", false }, { "a\\b", false },
		{ "a\nb", false }, { "a\x7f", false }, { "\x01", false },
	};
	char *path = NULL;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		errno = 0;
		cr_expect_eq(md_path(dir, "example.test", rows[i].s, &path),
			     rows[i].safe ? 0 : -1, "row %zu", i);
		if (rows[i].safe) {
			cr_expect_not_null(strstr(path, "/mail/example.test/"));
			free(path);
			path = NULL;
		} else {
			cr_expect_eq(errno, EINVAL);
		}
		cr_expect_eq(md_path(dir, rows[i].s, "alice", &path),
			     rows[i].safe ? 0 : -1, "row %zu", i);
		free(path);
		path = NULL;
	}
	char longname[300];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_expect_eq(md_path(dir, "example.test", longname, &path), -1);
	cr_expect_eq(tu_count_dir(dir), 0, "nothing was created");
}

/* Each level of a maildir path that someone with the store's rights could
 * replace by a link, relative to DATA. */
static const char *const link_levels[] = {
	"mail", "mail/example.test", "mail/example.test/alice",
	"mail/example.test/alice/tmp", "mail/example.test/alice/new",
};

BOTH_MODES(delivery_refuses_a_link_at_any_level)
{
	for (int resolver = 0; resolver < 2; resolver++) {
		fs_use_openat2(resolver == 0);
		for (size_t i = 0; i < sizeof(link_levels) / sizeof(link_levels[0]);
		     i++) {
			char name[32], *top, *data, *outside, *level, *bob, *alice;
			struct md_target t[2] = { { NULL, 0, 0 }, { NULL, 0, 0 } };
			struct md_delivery *d = NULL;
			enum md_result r;

			snprintf(name, sizeof(name), "r%d-%zu", resolver, i);
			top = tu_path(dir, name);
			data = tu_path(top, "data");
			outside = tu_path(top, "outside");
			level = tu_path(data, link_levels[i]);
			cr_assert_eq(md_path(data, "example.test", "bob", &bob), 0);
			cr_assert_eq(md_path(data, "example.test", "alice", &alice), 0);
			cr_assert_eq(md_create(bob), 0);
			cr_assert_eq(md_create(alice), 0);
			tu_replace_with_link(level, outside);
			/* The file starts in alice's tmp/; bob is linked first,
			 * so alice's refusal must undo his copy too. */
			t[0].maildir = bob;
			t[1].maildir = alice;
			r = md_delivery_begin(alice, "test.host", &d);
			if (r == MD_OK && md_delivery_write(d, "x\r\n", 3) == MD_OK)
				r = md_delivery_commit(d, t, 2, NULL, NULL, 0);
			else if (d != NULL)
				md_delivery_abort(d);
			cr_expect_eq(r, MD_ERR_IO, "%s: %s", link_levels[i],
				     md_result_str(r));
			cr_expect_eq(errno, ELOOP, "%s: %s", link_levels[i],
				     strerror(errno));
			cr_expect_eq(tu_count_files(outside), 0,
				     "%s: written through the link", link_levels[i]);
			cr_expect_eq(tu_count_files(data), 0, "%s: a copy was left",
				     link_levels[i]);
			/* Nor is a maildir made through it, nor tmp/ cleaned. */
			cr_expect_eq(md_create(alice), -1);
			cr_expect_eq(errno, ELOOP);
			if (i < 4)
				cr_expect_eq(md_clean_tmp(alice, 0, NULL), -1);
			free(top);
			free(data);
			free(outside);
			free(level);
			free(bob);
			free(alice);
		}
	}
}

Test(maildir, result_mapping)
{
	cr_expect_eq(md_result_from_errno(ENOSPC), MD_ERR_NOSPACE);
	cr_expect_eq(md_result_from_errno(EFBIG), MD_ERR_NOSPACE);
	cr_expect_eq(md_result_from_errno(EDQUOT), MD_ERR_FSQUOTA);
	cr_expect_eq(md_result_from_errno(EIO), MD_ERR_IO);
	cr_expect_eq(md_result_from_errno(EACCES), MD_ERR_IO);
	cr_expect_str_eq(md_result_str(MD_ERR_QUOTA), "mailbox quota exceeded");
}

/* Where the kernel and the file system have O_TMPFILE (ext4, xfs, btrfs,
 * tmpfs), a delivery in progress has no name in tmp/ at all. */
Test(maildir, unnamed_file_where_supported)
{
	char *maildir = tu_path(dir, "alice"), *tmp = tu_path(maildir, "tmp");
	struct md_target t = { maildir, 0, 0 };
	struct md_delivery *d;
	int probe;

	cr_assert_eq(md_create(maildir), 0);
	probe = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (probe < 0)
		cr_skip_test("no O_TMPFILE here: %s", strerror(errno));
	close(probe);
	cr_assert_eq(md_delivery_begin(maildir, "h", &d), MD_OK);
	cr_assert_eq(md_delivery_write(d, "msg\r\n", 5), MD_OK);
	cr_expect_eq(count_sub(maildir, "tmp"), 0, "no name in tmp/");
	cr_assert_eq(md_delivery_commit(d, &t, 1, NULL, NULL, 0), MD_OK);
	assert_delivered(maildir, "msg\r\n", 5);
	free(tmp);
	free(maildir);
}

/* md_delivery_start: nothing on disk until the commit for a message that
 * fits the buffer; the commit makes the maildir too. */
BOTH_MODES(deferred_start_touches_nothing_until_commit)
{
	char *maildir = tu_path(dir, "mail/example.test/alice");
	struct md_target t = { maildir, 0, 0 };
	struct md_delivery *d;
	struct stat st;

	cr_assert_eq(md_delivery_start(maildir, "h", &d), MD_OK);
	cr_expect_eq(md_delivery_room(d), 65536);
	cr_assert_eq(md_delivery_write(d, "abc\r\n", 5), MD_OK);
	cr_expect_eq(md_delivery_room(d), 65531);
	cr_expect_eq(stat(maildir, &st), -1, "no maildir before the commit");
	cr_assert_eq(md_delivery_commit(d, &t, 1, NULL, NULL, 0), MD_OK);
	assert_delivered(maildir, "abc\r\n", 5);
	free(maildir);
}

/* A message that outgrows the buffer gets its file at that write (or
 * before, from md_delivery_open) and is stored byte-exact. */
BOTH_MODES(deferred_start_opens_when_the_buffer_is_outgrown)
{
	size_t len = 200000;
	char *big = malloc(len);

	cr_assert_not_null(big);
	for (size_t i = 0; i < len; i++)
		big[i] = (char)('a' + i % 26);
	for (int early = 0; early < 2; early++) {
		char *maildir = tu_path(dir, early ? "early" : "late");
		struct md_target t = { maildir, 0, 0 };
		struct md_delivery *d;
		size_t off = 0;

		cr_assert_eq(md_delivery_start(maildir, "h", &d), MD_OK);
		if (early) {
			cr_assert_eq(md_delivery_open(d), MD_OK);
			cr_expect_eq(md_delivery_room(d), MD_DELIVERY_BUFFER);
		}
		while (off < len) {
			size_t n = len - off < 4093 ? len - off : 4093;

			cr_assert_eq(md_delivery_write(d, big + off, n), MD_OK);
			off += n;
		}
		cr_expect_lt(md_delivery_room(d), MD_DELIVERY_BUFFER,
			     "the buffer holds the tail");
		cr_expect_eq(count_sub(maildir, "tmp"), named ? 1 : 0);
		cr_assert_eq(md_delivery_commit(d, &t, 1, NULL, NULL, 0), MD_OK);
		assert_delivered(maildir, big, len);
		free(maildir);
	}
	free(big);
}

/* Size of the one named file in maildir/tmp/ (named mode only). */
static off_t tmp_size(const char *maildir)
{
	char *name = only_entry(maildir, "tmp"), *sub, *path;
	struct stat st;

	cr_assert_not_null(name);
	cr_assert_geq(asprintf(&sub, "tmp/%s", name), 0);
	path = tu_path(maildir, sub);
	cr_assert_eq(stat(path, &st), 0);
	free(path);
	free(sub);
	free(name);
	return st.st_size;
}

/* The protocol of a caller that must not block: md_delivery_open (on a
 * pool) whenever a piece outgrows md_delivery_room, and md_delivery_write
 * never writes to the file itself. Pieces of every size up to the
 * buffer's. */
BOTH_MODES(flush_protocol_keeps_writes_in_the_buffer)
{
	static const size_t pieces[] = { 1, 2, 7, 4093, 30000,
					 MD_DELIVERY_BUFFER };
	size_t len = 3 * MD_DELIVERY_BUFFER + 12345, flushes = 0;
	char *big = malloc(len);

	cr_assert_not_null(big);
	for (size_t i = 0; i < len; i++)
		big[i] = (char)('a' + i % 23);
	for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
		char *maildir = tu_path(dir, "flush");
		struct md_target t = { maildir, 0, 0 };
		struct md_delivery *d;
		size_t off = 0, n;
		off_t on_disk = 0;

		cr_assert_eq(md_delivery_start(maildir, "h", &d), MD_OK);
		cr_expect_eq(md_delivery_room(d), MD_DELIVERY_BUFFER,
			     "an empty buffer takes a whole piece");
		for (; off < len; off += n) {
			n = len - off < pieces[p] ? len - off : pieces[p];
			if (md_delivery_room(d) < n) {
				cr_assert_eq(md_delivery_open(d), MD_OK);
				cr_assert_geq(md_delivery_room(d), n);
				flushes++;
				if (named)
					on_disk = tmp_size(maildir);
			}
			cr_assert_eq(md_delivery_write(d, big + off, n), MD_OK);
			if (named && on_disk > 0)
				cr_assert_eq(tmp_size(maildir), on_disk,
					     "the write stayed in the buffer");
		}
		cr_assert_eq(md_delivery_commit(d, &t, 1, NULL, NULL, 0), MD_OK);
		assert_delivered(maildir, big, len);
		tu_rmrf(maildir);
		free(maildir);
	}
	cr_expect_geq(flushes, 3 * (sizeof pieces / sizeof pieces[0]));
	free(big);
}

/* A deferred start whose maildir cannot be made: the error is sticky from
 * the moment the file is needed, and nothing is left anywhere. Aborting a
 * deferred start leaves nothing either. */
BOTH_MODES(deferred_start_failure_is_sticky)
{
	char *block = tu_path(dir, "blocker");
	char *maildir = tu_path(dir, "blocker/alice");
	char *other = tu_path(dir, "other");
	struct md_target t = { maildir, 0, 0 };
	struct md_delivery *d;
	struct stat st;

	tu_write_file(block, "in the way");
	cr_assert_eq(md_delivery_start(maildir, "h", &d), MD_OK);
	cr_assert_eq(md_delivery_write(d, "x\r\n", 3), MD_OK, "buffered");
	errno = 0;
	cr_expect_eq(md_delivery_open(d), MD_ERR_IO);
	cr_expect_eq(errno, ENOTDIR);
	cr_expect_eq(md_delivery_write(d, "y", 1), MD_ERR_IO, "sticky");
	cr_expect_eq(md_delivery_commit(d, &t, 1, NULL, NULL, 0), MD_ERR_IO);

	cr_assert_eq(md_delivery_start(other, "h", &d), MD_OK);
	cr_assert_eq(md_delivery_write(d, "x\r\n", 3), MD_OK);
	md_delivery_abort(d);
	cr_expect_eq(stat(other, &st), -1, "nothing made");
	free(block);
	free(maildir);
	free(other);
}
