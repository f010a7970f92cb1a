/* tests/test_privdrop.c: dropping root for an unprivileged account. Criterion
 * runs each test in its own process, so a test may drop for good; the tests
 * that need root skip themselves (with a message) when run as a user. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/base/privdrop.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(privdrop, .init = setup, .fini = teardown);

/* The scratch dir must stay removable by the test process once it has
 * dropped to `pw`, so hand it over first. */
static const struct passwd *nobody_or_skip(void)
{
	static struct passwd copy;
	const struct passwd *pw;

	if (geteuid() != 0)
		cr_skip_test("not running as root: dropping privileges cannot be tested");
	pw = getpwnam("nobody");
	if (pw == NULL)
		cr_skip_test("no user \"nobody\" on this system");
	copy = *pw;
	cr_assert_eq(chown(dir, copy.pw_uid, copy.pw_gid), 0);
	return &copy;
}

Test(privdrop, root_drops_to_nobody_for_good)
{
	const struct passwd *pw = nobody_or_skip();
	uid_t ru, eu, su;
	gid_t rg, eg, sg, root_group = 0;
	char err[256] = "untouched";
	gid_t groups[256];
	int n;

	/* Start with root's group in the supplementary list, so the test sees
	 * initgroups replace it. */
	cr_assert_eq(setgroups(1, &root_group), 0);
	cr_assert_eq(privdrop_to("nobody", true, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(err, "", "no reason on success");

	cr_assert_eq(getuid(), pw->pw_uid);
	cr_assert_eq(geteuid(), pw->pw_uid);
	cr_assert_eq(getgid(), pw->pw_gid);
	cr_assert_eq(getegid(), pw->pw_gid);
	cr_assert_eq(getresuid(&ru, &eu, &su), 0);
	cr_assert_eq(su, pw->pw_uid, "saved uid dropped too");
	cr_assert_eq(getresgid(&rg, &eg, &sg), 0);
	cr_assert_eq(sg, pw->pw_gid, "saved gid dropped too");

	n = getgroups(256, groups);
	cr_assert_geq(n, 0);
	for (int i = 0; i < n; i++)
		cr_assert_neq(groups[i], 0, "root's group is gone");

	errno = 0;
	cr_assert_eq(setuid(0), -1, "no way back to root");
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(seteuid(0), -1);
	cr_assert_eq(setgid(0), -1);

	/* Now unprivileged: further calls change nothing and succeed. */
	cr_assert_eq(privdrop_to("nobody", true, err, sizeof(err)), 0);
	cr_assert_eq(privdrop_to("no-such-user-kantorpos", true, err, sizeof(err)), 0);
	cr_assert_eq(privdrop_to(NULL, true, err, sizeof(err)), 0);
	cr_assert_eq(getuid(), pw->pw_uid);
}

Test(privdrop, unknown_user_is_an_error)
{
	char err[256] = "";

	if (geteuid() != 0)
		cr_skip_test("not running as root: an unprivileged call never looks up the user");
	cr_assert_eq(privdrop_to("no-such-user-kantorpos", true, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "unknown user no-such-user-kantorpos"), "%s", err);
	cr_assert_eq(getuid(), 0, "still root, nothing half done");
	cr_assert_eq(geteuid(), 0);
}

Test(privdrop, root_account_is_refused)
{
	char err[256] = "";

	if (geteuid() != 0)
		cr_skip_test("not running as root: nothing to refuse");
	cr_assert_eq(privdrop_to("root", false, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "refusing"), "%s", err);
	cr_assert_eq(geteuid(), 0);
}

Test(privdrop, no_user_configured)
{
	char err[256] = "";
	uid_t before = geteuid();

	if (before == 0) {
		cr_assert_eq(privdrop_to(NULL, true, err, sizeof(err)), -1);
		cr_assert_not_null(strstr(err, "refusing to continue as root"), "%s", err);
		cr_assert_eq(privdrop_to("", true, err, sizeof(err)), -1);
		cr_assert_eq(privdrop_to(NULL, false, err, sizeof(err)), 0,
			"staying root is allowed when not forbidden");
		cr_assert_str_eq(err, "");
	} else {
		cr_assert_eq(privdrop_to(NULL, true, err, sizeof(err)), 0,
			"not root: nothing to refuse");
		cr_assert_eq(privdrop_to("no-such-user-kantorpos", true, err,
			sizeof(err)), 0, "not root: the user is not even looked up");
	}
	cr_assert_eq(geteuid(), before, "ids unchanged");
	/* A zero-sized buffer is accepted. */
	cr_assert_eq(privdrop_to(NULL, false, NULL, 0), 0);
}
