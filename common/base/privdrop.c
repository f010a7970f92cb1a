/* common/base/privdrop.c: switch from root to one unprivileged account and verify
 * that root cannot be regained. */
#include "autoconf.h"

#include "common/base/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool is_root(void);
static int lookup(const char *user, struct passwd *pw, char **buf_r,
	char *err, size_t errlen);
static int drop(const struct passwd *pw, char *err, size_t errlen);
static int verify(const struct passwd *pw, char *err, size_t errlen);

/* Format the reason into err and return -1. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A saved uid of 0 counts: setuid(0) would bring root back. */
static bool is_root(void)
{
	uid_t r, e, s;

	if (getresuid(&r, &e, &s) != 0)
		return getuid() == 0 || geteuid() == 0;
	return r == 0 || e == 0 || s == 0;
}

static int lookup(const char *user, struct passwd *pw, char **buf_r,
	char *err, size_t errlen)
{
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t size = hint > 0 ? (size_t)hint : 1024;
	struct passwd *res = NULL;
	char *buf = NULL;
	int rc;

	for (;;) {
		char *nbuf = realloc(buf, size);

		if (nbuf == NULL) {
			free(buf);
			return fail(err, errlen, "cannot look up user %s: %s", user,
				strerror(ENOMEM));
		}
		buf = nbuf;
		rc = getpwnam_r(user, pw, buf, size, &res);
		if (rc != ERANGE || size >= (size_t)1 << 20)
			break;
		size *= 2;
	}
	if (res == NULL) {
		free(buf);
		/* POSIX lets "not found" come back as 0, ENOENT, ESRCH, EBADF
		 * or EPERM depending on the libc and name service. */
		if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
			return fail(err, errlen, "unknown user %s", user);
		return fail(err, errlen, "cannot look up user %s: %s", user,
			strerror(rc));
	}
	*buf_r = buf;
	return 0;
}

static int drop(const struct passwd *pw, char *err, size_t errlen)
{
	/* Groups first: once the uid is gone, they cannot be changed. */
	if (initgroups(pw->pw_name, pw->pw_gid) != 0)
		return fail(err, errlen, "initgroups for user %s: %s", pw->pw_name,
			strerror(errno));
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0)
		return fail(err, errlen, "setresgid %lu: %s",
			(unsigned long)pw->pw_gid, strerror(errno));
	/* All three uids, so the saved uid cannot restore root. */
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0)
		return fail(err, errlen, "setresuid %lu: %s",
			(unsigned long)pw->pw_uid, strerror(errno));
	return 0;
}

static int verify(const struct passwd *pw, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	gid_t *groups;
	int n;

	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return fail(err, errlen, "cannot read back ids: %s", strerror(errno));
	if (ru != pw->pw_uid || eu != pw->pw_uid || su != pw->pw_uid ||
	    getuid() != pw->pw_uid || geteuid() != pw->pw_uid)
		return fail(err, errlen, "uid is %lu/%lu/%lu after dropping to %lu",
			(unsigned long)ru, (unsigned long)eu, (unsigned long)su,
			(unsigned long)pw->pw_uid);
	if (rg != pw->pw_gid || eg != pw->pw_gid || sg != pw->pw_gid ||
	    getgid() != pw->pw_gid || getegid() != pw->pw_gid)
		return fail(err, errlen, "gid is %lu/%lu/%lu after dropping to %lu",
			(unsigned long)rg, (unsigned long)eg, (unsigned long)sg,
			(unsigned long)pw->pw_gid);
	n = getgroups(0, NULL);
	groups = n < 0 ? NULL : calloc((size_t)n + 1, sizeof(*groups));
	if (groups == NULL || (n = getgroups(n, groups)) < 0) {
		free(groups);
		return fail(err, errlen, "getgroups: %s", strerror(errno));
	}
	for (int i = 0; i < n; i++) {
		if (groups[i] == 0) {
			free(groups);
			return fail(err, errlen, "user %s is a member of group 0",
				pw->pw_name);
		}
	}
	free(groups);
	/* The proof that matters: no way back, as qmail-pop3d insists. */
	if (setuid(0) != -1 || seteuid(0) != -1)
		return fail(err, errlen, "root can be regained after dropping to %s",
			pw->pw_name);
	return 0;
}

int privdrop_to(const char *user, bool must_not_be_root, char *err,
	size_t errlen)
{
	struct passwd pw;
	char *buf = NULL;
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	if (!is_root())
		return 0;
	if (user == NULL || *user == '\0') {
		if (must_not_be_root)
			return fail(err, errlen,
				"running as root and no user is configured to drop "
				"privileges to; refusing to continue as root");
		return 0;
	}
	if (lookup(user, &pw, &buf, err, errlen) != 0)
		return -1;
	if (pw.pw_uid == 0 || pw.pw_gid == 0) {
		rc = fail(err, errlen, "user %s has uid %lu gid %lu; refusing to "
			"run with root ids", user, (unsigned long)pw.pw_uid,
			(unsigned long)pw.pw_gid);
	} else {
		rc = drop(&pw, err, errlen);
		if (rc == 0)
			rc = verify(&pw, err, errlen);
	}
	free(buf);
	return rc;
}
