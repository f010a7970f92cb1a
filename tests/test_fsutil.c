/* tests/test_fsutil.c: durable file helpers (atomic replace, mkdir -p,
 * reads) and fs_openat_safe's link rule, with and without openat2. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/fsutil.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(fsutil, .init = setup, .fini = teardown);

Test(fsutil, atomic_write_replaces_and_sets_mode)
{
	char *path = tu_path(dir, "file");
	struct stat st;
	char *text;

	tu_write_file(path, "old contents");
	cr_assert_eq(fs_write_file_atomic(path, "new", 3, 0600), 0);
	text = tu_read_file(path, NULL);
	cr_assert_str_eq(text, "new");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(tu_count_dir(dir), 1, "no temporary file is left");
	free(text);
	free(path);
}

Test(fsutil, atomic_write_failure_keeps_old_file)
{
	char *path = tu_path(dir, "missing-dir/file");

	cr_assert_eq(fs_write_file_atomic(path, "x", 1, 0600), -1);
	cr_assert_eq(errno, ENOENT);
	free(path);
}

/* A rewrite shows in the stat even at the same size within one second:
 * a new inode (rename) or the nanoseconds of mtime and ctime. */
Test(fsutil, same_file_sees_every_rewrite)
{
	char *path = tu_path(dir, "file");
	struct stat a, b, c;

	tu_write_file(path, "one");
	cr_assert_eq(stat(path, &a), 0);
	cr_assert_eq(stat(path, &b), 0);
	cr_assert(fs_same_file(&a, &b));
	cr_assert_eq(fs_write_file_atomic(path, "two", 3, 0600), 0);
	cr_assert_eq(stat(path, &c), 0);
	cr_assert_not(fs_same_file(&a, &c), "replaced by rename");
	b = a;
	b.st_mtim.tv_nsec ^= 1;
	cr_assert_not(fs_same_file(&a, &b), "mtime nanoseconds");
	b = a;
	b.st_ctim.tv_nsec ^= 1;
	cr_assert_not(fs_same_file(&a, &b), "ctime nanoseconds");
	b = a;
	b.st_size++;
	cr_assert_not(fs_same_file(&a, &b), "size");
	free(path);
}

Test(fsutil, mkdir_p_creates_every_level)
{
	char *path = tu_path(dir, "a/b/c");
	struct stat st;

	cr_assert_eq(fs_mkdir_p(path, 0700), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(fs_mkdir_p(path, 0700), 0, "existing tree is fine");
	cr_assert_eq(fs_fsync_dir(path), 0);
	cr_assert_eq(fs_fsync_parent(path), 0);
	free(path);
}

Test(fsutil, mkdir_p_refuses_a_file_in_the_way)
{
	char *path = tu_path(dir, "f");

	tu_write_file(path, "x");
	cr_assert_eq(fs_mkdir_p(path, 0700), -1);
	cr_assert_eq(errno, ENOTDIR);
	free(path);
}

Test(fsutil, read_file_limits_size)
{
	char *path = tu_path(dir, "big");
	char *data = NULL;
	size_t len = 0;

	tu_write_file(path, "0123456789");
	cr_assert_eq(fs_read_file(path, 64, &data, &len), 0);
	cr_assert_eq(len, 10);
	cr_assert_str_eq(data, "0123456789");
	free(data);
	data = NULL;
	cr_assert_eq(fs_read_file(path, 4, &data, &len), -1);
	cr_assert_eq(errno, EFBIG);
	cr_assert_null(data);
	free(path);
}

Test(fsutil, atomic_write_as_root_keeps_the_owner)
{
	char *path = tu_path(dir, "users");
	struct stat st;

	if (geteuid() != 0)
		cr_skip_test("needs root to give the file another owner");
	tu_write_file(path, "old");
	cr_assert_eq(chown(path, 65534, 65534), 0);
	cr_assert_eq(fs_write_file_atomic(path, "new", 3, 0600), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_uid, 65534);
	cr_expect_eq(st.st_gid, 65534);
	cr_expect_eq(st.st_mode & 0777, 0600);
	free(path);
}

/* ---- links ------------------------------------------------------------- */

/* The fixture of the link tests, under dir/<name>:
 *   real/file      "inside"
 *   outside/file   "outside" (what a link would reach)
 *   t/             a directory the store's user owns, holding
 *   t/lnk -> ../outside     and   t/flink -> ../outside/file */
static char *links_fixture(const char *name)
{
	char *top = tu_path(dir, name), *p;
	const char *const dirs[] = { top, NULL };

	tu_mkdirs(dirs);
	cr_assert_eq(chdir(top), 0);
	cr_assert_eq(mkdir("real", 0700), 0);
	cr_assert_eq(mkdir("outside", 0700), 0);
	cr_assert_eq(mkdir("t", 0700), 0);
	tu_write_file("real/file", "inside");
	tu_write_file("outside/file", "outside");
	p = tu_path(top, "outside");
	tu_plant_link(p, "t/lnk");
	free(p);
	tu_plant_link("../outside/file", "t/flink");
	return top;
}

/* The link tests run with openat2 and with the walk that replaces it. */
#define BOTH_RESOLVERS(test)                                                \
	static void test##_body(void);                                      \
	Test(fsutil, test)                                                  \
	{                                                                   \
		fs_use_openat2(true);                                       \
		test##_body();                                              \
	}                                                                   \
	Test(fsutil, test##_walk)                                           \
	{                                                                   \
		fs_use_openat2(false);                                      \
		test##_body();                                              \
	}                                                                   \
	static void test##_body(void)

BOTH_RESOLVERS(open_safe_refuses_links_the_store_user_made)
{
	static const struct {
		const char *path;
		int flags;
		int err; /* 0: opens */
	} rows[] = {
		{ "real/file", O_RDONLY, 0 },
		{ "real/./file", O_RDONLY, 0 },
		{ "./real/../real/file", O_RDONLY, 0 },
		{ "real", O_RDONLY | O_DIRECTORY, 0 },
		{ "t/lnk/file", O_RDONLY, ELOOP },
		{ "t/lnk/new", O_WRONLY | O_CREAT, ELOOP },
		{ "t/lnk/./new", O_WRONLY | O_CREAT | O_EXCL, ELOOP },
		{ "t/lnk", O_RDONLY | O_DIRECTORY, ELOOP },
		{ "t/lnk", O_PATH | O_DIRECTORY, ELOOP },
		{ "t/flink", O_RDONLY, ELOOP },
		{ "t/flink", O_WRONLY | O_TRUNC, ELOOP },
		{ "t/flink", O_WRONLY | O_CREAT, ELOOP },
		{ "t/flink", O_PATH, ELOOP },
		{ "t/flink", O_WRONLY | O_CREAT | O_EXCL, EEXIST },
		{ "t/missing/x", O_RDONLY, ENOENT },
		{ "real/file/x", O_RDONLY, ENOTDIR },
	};
	char *top = links_fixture("open");
	int topfd = open(top, O_PATH | O_DIRECTORY);

	cr_assert_geq(topfd, 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *abs = tu_path(top, rows[i].path);
		/* relative to the working directory, to a handle, absolute */
		const struct { int dirfd; const char *path; } how[] = {
			{ AT_FDCWD, rows[i].path }, { topfd, rows[i].path },
			{ AT_FDCWD, abs },
		};

		for (size_t k = 0; k < 3; k++) {
			int fd = fs_openat_safe(how[k].dirfd, how[k].path,
						rows[i].flags, 0600);

			if (rows[i].err == 0) {
				cr_expect_geq(fd, 0, "%s (%zu): %s", rows[i].path,
					      k, strerror(errno));
			} else {
				cr_expect_eq(fd, -1, "%s (%zu) opened", rows[i].path, k);
				cr_expect_eq(errno, rows[i].err, "%s (%zu): %s",
					     rows[i].path, k, strerror(errno));
			}
			if (fd >= 0)
				close(fd);
		}
		free(abs);
	}
	/* Nothing was created or truncated through a link. */
	cr_expect_eq(tu_count_dir("outside"), 1);
	char *text = tu_read_file("outside/file", NULL);

	cr_expect_str_eq(text, "outside");
	free(text);
	close(topfd);
	free(top);
}

BOTH_RESOLVERS(links_root_made_in_root_only_directories_are_followed)
{
	char *top, *abs;
	int fd;

	if (geteuid() != 0)
		cr_skip_test("needs root: only root's links are followed");
	top = links_fixture("trusted");
	/* "r" is root's, mode 0700: only root can have put links there. */
	cr_assert_eq(mkdir("r", 0700), 0);
	abs = tu_path(top, "real");
	cr_assert_eq(symlink(abs, "r/abs"), 0);
	cr_assert_eq(symlink("../real", "r/rel"), 0);
	cr_assert_eq(symlink("abs", "r/chain"), 0);
	cr_assert_eq(symlink("../real/file", "r/file"), 0);
	cr_assert_eq(symlink("../t/lnk", "r/via"), 0);
	cr_assert_eq(symlink("loop2", "r/loop1"), 0);
	cr_assert_eq(symlink("loop1", "r/loop2"), 0);
	const char *const ok[] = { "r/abs/file", "r/rel/file", "r/chain/file",
				   "r/file" };

	for (size_t i = 0; i < 4; i++) {
		fd = fs_openat_safe(AT_FDCWD, ok[i], O_RDONLY, 0);
		cr_expect_geq(fd, 0, "%s: %s", ok[i], strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	/* Root's link into the store user's directory meets their link. */
	cr_expect_eq(fs_openat_safe(AT_FDCWD, "r/via/file", O_RDONLY, 0), -1);
	cr_expect_eq(errno, ELOOP);
	cr_expect_eq(fs_openat_safe(AT_FDCWD, "r/loop1", O_RDONLY, 0), -1);
	cr_expect_eq(errno, ELOOP);
	/* Writable by the group: no longer only root's. */
	cr_assert_eq(chmod("r", 0770), 0);
	cr_expect_eq(fs_openat_safe(AT_FDCWD, "r/abs/file", O_RDONLY, 0), -1);
	cr_expect_eq(errno, ELOOP);
	free(abs);
	free(top);
}

BOTH_RESOLVERS(mkdir_p_and_atomic_write_do_not_go_through_links)
{
	char *top = links_fixture("mkdir");
	struct stat st;

	cr_expect_eq(fs_mkdir_p("t/lnk/a/b", 0700), -1);
	cr_expect_eq(errno, ELOOP);
	cr_expect_eq(fs_mkdir_p("t/lnk", 0700), -1);
	cr_expect_eq(errno, ELOOP);
	cr_expect_eq(fs_write_file_atomic("t/lnk/state", "x", 1, 0600), -1);
	cr_expect_eq(errno, ELOOP);
	cr_expect_eq(fs_fsync_dir("t/lnk"), -1);
	cr_expect_eq(errno, ELOOP);
	cr_expect_eq(tu_count_dir("outside"), 1, "made through a link");
	/* A link as the file itself is replaced, its target left alone. */
	cr_assert_eq(fs_write_file_atomic("t/flink", "new", 3, 0600), 0);
	cr_assert_eq(lstat("t/flink", &st), 0);
	cr_expect(S_ISREG(st.st_mode));
	char *text = tu_read_file("outside/file", NULL);

	cr_expect_str_eq(text, "outside");
	free(text);
	cr_expect_eq(fs_mkdir_p("t/a/b/c", 0700), 0);
	cr_expect_eq(stat("t/a/b/c", &st), 0);
	free(top);
}
