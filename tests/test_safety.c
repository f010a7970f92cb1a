/* tests/test_safety.c: the start-up owner and mode checks (common/config/safety),
 * as a table of kinds, modes and owners built in a scratch directory. */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "common/config/config.h"
#include "common/config/config_load.h"
#include "common/config/safety.h"
#include "tests/helpers/testutil.h"

/* Who owns the path in a row, relative to the owner the check expects. */
enum owner_case {
	OWN_SELF,  /* the expected owner itself */
	OWN_OTHER, /* some unrelated account */
	OWN_ROOT,  /* root, while the expected owner is not root (needs root) */
};

struct row {
	enum safety_kind kind;
	mode_t mode;
	enum owner_case owner;
	bool ok;
	const char *want; /* substring of the message when !ok */
};

static const struct row rows[] = {
	/* data directory: no write for group or others */
	{ SAFETY_DATA_DIR, 0700, OWN_SELF, true, NULL },
	{ SAFETY_DATA_DIR, 0755, OWN_SELF, true, NULL },
	{ SAFETY_DATA_DIR, 0775, OWN_SELF, false,
	  "the data directory is writable by its group (mode 0775); "
	  "fix: chmod go-w " },
	{ SAFETY_DATA_DIR, 0757, OWN_SELF, false, "writable by others" },
	{ SAFETY_DATA_DIR, 01777, OWN_SELF, false,
	  "writable by group and others (mode 1777)" },
	{ SAFETY_DATA_DIR, 0700, OWN_OTHER, false, "fix: chown " },
	{ SAFETY_DATA_DIR, 0700, OWN_ROOT, true, NULL },
	/* user database: no read or write for group or others */
	{ SAFETY_USER_DB, 0600, OWN_SELF, true, NULL },
	{ SAFETY_USER_DB, 0400, OWN_SELF, true, NULL },
	{ SAFETY_USER_DB, 0640, OWN_SELF, false,
	  "the user database is readable by its group (mode 0640); "
	  "fix: chmod 600 " },
	{ SAFETY_USER_DB, 0644, OWN_SELF, false,
	  "readable by group and others" },
	{ SAFETY_USER_DB, 0602, OWN_SELF, false, "writable by others" },
	{ SAFETY_USER_DB, 0666, OWN_SELF, false,
	  "readable and writable by group and others" },
	{ SAFETY_USER_DB, 0600, OWN_OTHER, false, "the user database is owned by" },
	{ SAFETY_USER_DB, 0644, OWN_OTHER, false, ", and is readable by" },
	{ SAFETY_USER_DB, 0600, OWN_ROOT, true, NULL },
	/* TLS key */
	{ SAFETY_TLS_KEY, 0600, OWN_SELF, true, NULL },
	{ SAFETY_TLS_KEY, 0400, OWN_ROOT, true, NULL },
	{ SAFETY_TLS_KEY, 0644, OWN_SELF, false,
	  "the TLS key is readable by group and others (mode 0644); "
	  "fix: chmod 600 " },
	{ SAFETY_TLS_KEY, 0640, OWN_ROOT, false, "readable by its group" },
	{ SAFETY_TLS_KEY, 0600, OWN_OTHER, false, "the TLS key is owned by" },
	/* aliases and the config: readable, but not writable, by others */
	{ SAFETY_ALIASES, 0644, OWN_SELF, true, NULL },
	{ SAFETY_ALIASES, 0664, OWN_SELF, false,
	  "the aliases file is writable by its group" },
	{ SAFETY_CONFIG, 0644, OWN_ROOT, true, NULL },
	{ SAFETY_CONFIG, 0646, OWN_SELF, false,
	  "the configuration file is writable by others" },
	/* fetch passwords: owned by the account or root, no access at all
	 * for group or others (the rule kantorpos fetch applies too) */
	{ SAFETY_SECRET, 0600, OWN_SELF, true, NULL },
	{ SAFETY_SECRET, 0400, OWN_ROOT, true, NULL },
	{ SAFETY_SECRET, 0600, OWN_OTHER, false,
	  "the password file is owned by" },
	{ SAFETY_SECRET, 0604, OWN_SELF, false,
	  "the password file is readable by others" },
	{ SAFETY_SECRET, 0610, OWN_SELF, false,
	  "the password file is executable by its group (mode 0610); "
	  "fix: chmod 600 " },
	/* the drop directory: users write, nobody lists, nobody removes
	 * another's file; the account itself owns it (root cannot do) */
	{ SAFETY_DROP_DIR, 01733, OWN_SELF, true, NULL },
	{ SAFETY_DROP_DIR, 0700, OWN_SELF, true, NULL },
	{ SAFETY_DROP_DIR, 01777, OWN_SELF, false,
	  "the drop directory is readable by group and others (mode 1777); "
	  "fix: chmod 1733 " },
	{ SAFETY_DROP_DIR, 0733, OWN_SELF, false,
	  "the drop directory is writable by group and others (mode 0733)" },
	{ SAFETY_DROP_DIR, 01733, OWN_ROOT, false,
	  "the drop directory is owned by root (uid 0), not kantorpos (mode" },
	{ SAFETY_DROP_DIR, 01733, OWN_OTHER, false, "fix: chown " },
};

/* Build the path of a row owned as the row says; fill the expected owner.
 * Returns false when the row needs root and we are not. */
static bool make_path(const char *dir, const struct row *r, char **path_r,
		      struct safety_owner *own)
{
	uid_t me = geteuid();
	char *path = tu_path(dir, "subject");

	if (r->kind == SAFETY_DATA_DIR || r->kind == SAFETY_DROP_DIR)
		cr_assert_eq(mkdir(path, 0700), 0);
	else
		tu_write_file(path, "x\n");
	cr_assert_eq(chmod(path, r->mode), 0);
	memset(own, 0, sizeof *own);
	strcpy(own->name, "kantorpos");
	own->uid = me;
	switch (r->owner) {
	case OWN_SELF:
		break;
	case OWN_OTHER:
		/* As root: hand the file to another account. Otherwise the
		 * file is ours and the expected owner somebody else. */
		if (me == 0)
			cr_assert_eq(chown(path, 65534, (gid_t)-1), 0);
		else
			own->uid = me + 1;
		break;
	case OWN_ROOT:
		if (me != 0) {
			free(path);
			return false;
		}
		own->uid = 65534;
		break;
	}
	*path_r = path;
	return true;
}

Test(safety, table)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		char *dir = tu_tmpdir(), *path;
		struct safety_owner own;
		char err[1024] = "";
		int rc;

		if (!make_path(dir, r, &path, &own)) {
			tu_rmrf(dir);
			free(dir);
			continue;
		}
		rc = safety_check_path(r->kind, path, &own, err, sizeof err);
		cr_expect_eq(rc, r->ok ? 0 : -1, "row %zu: rc %d (%s)", i, rc,
			     err);
		if (!r->ok) {
			cr_expect(strstr(err, r->want) != NULL,
				  "row %zu: \"%s\" lacks \"%s\"", i, err,
				  r->want);
			/* Every message names the file first and ends with
			 * the fix for that file. */
			cr_expect(strncmp(err, path, strlen(path)) == 0,
				  "row %zu: %s", i, err);
			cr_expect(strstr(err, "fix: ") != NULL &&
					  strcmp(err + strlen(err) -
							 strlen(path),
						 path) == 0,
				  "row %zu: %s", i, err);
		}
		free(path);
		tu_rmrf(dir);
		free(dir);
	}
}

Test(safety, wrong_type_and_missing)
{
	char *dir = tu_tmpdir(), *file = tu_path(dir, "f"),
	     *missing = tu_path(dir, "none");
	struct safety_owner own = { .uid = geteuid(), .name = "me" };
	char err[512] = "";

	tu_write_file(file, "x");
	cr_assert_eq(safety_check_path(SAFETY_DATA_DIR, file, &own, err,
				       sizeof err), -1);
	cr_assert(strstr(err, "is not a directory") != NULL, "%s", err);
	cr_assert_eq(safety_check_path(SAFETY_USER_DB, dir, &own, err,
				       sizeof err), -1);
	cr_assert(strstr(err, "is not a regular file") != NULL, "%s", err);
	/* A missing file is the loaders' business. */
	cr_assert_eq(safety_check_path(SAFETY_TLS_KEY, missing, &own, err,
				       sizeof err), 0);
	free(file);
	free(missing);
	tu_rmrf(dir);
	free(dir);
}

/* The whole config: every unsafe file reported at once, one per line. */
Test(safety, config_reports_every_problem)
{
	char *dir = tu_tmpdir(), *conf = tu_path(dir, "kantorpos.conf"),
	     *data = tu_path(dir, "data"), *users = tu_path(dir, "users"),
	     *key = tu_path(dir, "key.pem"), *pw = tu_path(dir, "pw");
	char text[2048], *err = NULL;
	struct config *cfg;
	size_t lines = 0;

	snprintf(text, sizeof text,
		 "data_dir %s\nuser_db %s\nlocal_domain example.org\n"
		 "tls_cert %s/cert.pem\ntls_key %s\n"
		 "fetch_account isp host pop.example.net user u "
		 "password_file %s multipop a@example.org\n",
		 data, users, dir, key, pw);
	tu_write_file(conf, text);
	cr_assert_eq(mkdir(data, 0700), 0);
	tu_write_file(users, "");
	tu_write_file(key, "");
	tu_write_file(pw, "secret\n");
	cfg = config_load(conf, &err);
	cr_assert_not_null(cfg, "%s", err);
	cr_assert_eq(safety_check_config(cfg, &err), 0, "%s", err);
	cr_assert_null(err);

	cr_assert_eq(chmod(data, 0770), 0);
	cr_assert_eq(chmod(users, 0644), 0);
	cr_assert_eq(chmod(key, 0640), 0);
	cr_assert_eq(chmod(pw, 0666), 0);
	cr_assert_eq(chmod(conf, 0666), 0);
	cr_assert_eq(safety_check_config(cfg, &err), -1);
	cr_assert_not_null(err);
	for (const char *p = err; *p != '\0'; p++)
		lines += *p == '\n';
	cr_expect_eq(lines, 5, "%s", err);
	cr_expect(strstr(err, "the data directory is writable by its group") !=
			  NULL, "%s", err);
	cr_expect(strstr(err, "the user database is readable") != NULL, "%s",
		  err);
	cr_expect(strstr(err, "the TLS key is readable by its group") != NULL,
		  "%s", err);
	cr_expect(strstr(err, "the password file is readable and "
			      "writable") != NULL, "%s", err);
	cr_expect(strstr(err, "the configuration file is writable") != NULL,
		  "%s", err);
	free(err);
	config_free(cfg);
	free(conf);
	free(data);
	free(users);
	free(key);
	free(pw);
	tu_rmrf(dir);
	free(dir);
}

Test(safety, run_as_unknown)
{
	char *dir = tu_tmpdir(), *conf = tu_path(dir, "kantorpos.conf");
	char *err = NULL;
	struct config *cfg;

	if (geteuid() != 0) {
		/* Not root: run_as is ignored, so there is nothing to test. */
		free(conf);
		tu_rmrf(dir);
		free(dir);
		return;
	}
	tu_write_file(conf, "data_dir /nonexistent-kp\nuser_db /nonexistent-kp/u\n"
			    "local_domain example.org\n"
			    "run_as no-such-user-kp\n");
	cfg = config_load(conf, &err);
	cr_assert_not_null(cfg, "%s", err);
	cr_assert_eq(safety_check_config(cfg, &err), -1);
	cr_assert(strstr(err, "run_as no-such-user-kp: no such user") != NULL,
		  "%s", err);
	free(err);
	config_free(cfg);
	free(conf);
	tu_rmrf(dir);
	free(dir);
}

/* safety_check_stat judges what a reader has fstat()ed: no file needed. */
Test(safety, rule_on_a_stat)
{
	static const struct {
		mode_t mode;
		uid_t uid;
		int rc;
		const char *want;
	} stat_rows[] = {
		{ S_IFREG | 0600, 1000, 0, NULL },
		{ S_IFREG | 0400, 0, 0, NULL },
		{ S_IFREG | 0640, 1000, -1, "is readable by its group (mode 0640)" },
		{ S_IFREG | 0601, 1000, -1, "is executable by others" },
		{ S_IFREG | 0600, 4242, -1, "is owned by " },
		{ S_IFDIR | 0700, 1000, -1, "is not a regular file" },
	};
	struct safety_owner own = { .uid = 1000, .name = "kantorpos" };

	for (size_t i = 0; i < sizeof stat_rows / sizeof stat_rows[0]; i++) {
		struct stat st = { .st_mode = stat_rows[i].mode, .st_uid = stat_rows[i].uid };
		char err[512] = "";

		cr_expect_eq(safety_check_stat(SAFETY_SECRET, "/p", &st, &own, err,
					       sizeof err), stat_rows[i].rc,
			     "row %zu: %s", i, err);
		if (stat_rows[i].want != NULL)
			cr_expect(strstr(err, stat_rows[i].want) != NULL,
				  "row %zu: %s", i, err);
	}
}

static void collect(const struct safety_item *item, void *arg)
{
	char *buf = arg;
	char one[128];

	snprintf(one, sizeof one, "%d:%s:%u;", (int)item->kind,
		 strrchr(item->path, '/') + 1, item->line);
	strncat(buf, one, 1024 - strlen(buf) - 1);
}

/* safety_each_path: every path with the config line that names it. */
Test(safety, each_path_with_its_line)
{
	static const char text[] =
		"user_db /x/users\n"
		"data_dir /x/data\n"
		"local_domain example.org\n"
		"aliases /x/aliases\n"
		"fetch_account isp host pop.example.net user u password_file "
		"/x/pw multipop a@example.org\n"
		"relayhost smtp.isp.example:465 auth me /x/relay.pw\n";
	char *err = NULL, got[1024] = "", want[256];
	struct config *cfg = config_parse("/x/k.conf", NULL, text,
					  strlen(text), &err);

	cr_assert_not_null(cfg, "%s", err);
	safety_each_path(cfg, collect, got);
	snprintf(want, sizeof want, "%d:k.conf:0;%d:data:2;%d:users:1;"
		 "%d:aliases:4;%d:drop:0;%d:pw:5;%d:relay.pw:6;", SAFETY_CONFIG,
		 SAFETY_DATA_DIR, SAFETY_USER_DB, SAFETY_ALIASES,
		 SAFETY_DROP_DIR, SAFETY_SECRET, SAFETY_SECRET);
	cr_expect_str_eq(got, want);
	config_free(cfg);
}
