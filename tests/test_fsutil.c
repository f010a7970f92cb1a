/* tests/test_fsutil.c: durable file helpers (atomic replace, mkdir -p, reads). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
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
