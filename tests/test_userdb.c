/* tests/test_userdb.c: passwd-file loading, lookup, verification, reload and
 * locked edits (including two processes editing at once). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/users/password.h"
#include "common/users/userdb.h"
#include "common/users/userdb_edit.h"
#include "tests/helpers/testutil.h"

#define OPS crypto_pwhash_OPSLIMIT_MIN
#define MEM crypto_pwhash_MEMLIMIT_MIN

static char *dir, *path;
static char h1[PASSWORD_HASH_SIZE], h2[PASSWORD_HASH_SIZE];

static void setup(void)
{
	dir = tu_tmpdir();
	path = tu_path(dir, "users");
	cr_assert_eq(password_hash("pw1", 3, OPS, MEM, h1, sizeof(h1)), 0);
	cr_assert_eq(password_hash("pw2", 3, OPS, MEM, h2, sizeof(h2)), 0);
}

static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
	free(path);
}

TestSuite(userdb, .init = setup, .fini = teardown);

static struct userdb *open_db(void)
{
	struct userdb *db;

	cr_assert_eq(userdb_open(path, &db), 0, "open: %s", strerror(errno));
	userdb_set_cost(db, OPS, MEM);
	return db;
}

static void write_users(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void write_users(const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&text, fmt, ap), 0);
	va_end(ap);
	tu_write_file(path, text);
	free(text);
}

static mode_t file_mode(const char *p)
{
	struct stat st;

	cr_assert_eq(stat(p, &st), 0);
	return st.st_mode & 07777;
}

Test(userdb, add_and_verify)
{
	const char *why = NULL;
	struct userdb *db;
	char *text, *expect;

	cr_assert_eq(userdb_add(path, "Alice@Example.ORG", h1, &why), 0, "%s", why);
	cr_assert_eq(file_mode(path), 0600);
	text = tu_read_file(path, NULL);
	cr_assert_geq(asprintf(&expect, "alice@example.org:%s\n", h1), 0);
	cr_assert_str_eq(text, expect, "the key is stored");
	free(text);
	free(expect);

	db = open_db();
	struct {
		const char *name, *pw;
		int rc;
	} rows[] = {
		{ "alice@example.org", "pw1", 1 },
		{ "ALICE@example.ORG", "pw1", 1 },
		{ "\"alice\"@example.org", "pw1", 1 },
		{ "alice@example.org", "pw2", 0 },
		{ "alice@example.org", "", 0 },
		{ "bob@example.org", "pw1", 0 },
		{ "alice", "pw1", 0 },
		{ "../alice@example.org", "pw1", 0 },
		{ "", "pw1", 0 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rehash = -1;

		cr_assert_eq(userdb_verify(db, rows[i].name, rows[i].pw,
					   strlen(rows[i].pw), &rehash, &why),
			     rows[i].rc, "row %zu", i);
		cr_assert_eq(rehash, 0, "row %zu", i);
	}
	cr_assert_eq(userdb_count(db), 1);
	cr_assert_eq(userdb_warning_count(db), 0);
	userdb_free(db);

	errno = 0;
	cr_assert_eq(userdb_add(path, "alice@EXAMPLE.org", h2, &why), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert_str_eq(why, "user already exists");
}

Test(userdb, lookup_copies_hash)
{
	struct userdb *db;
	char *hash = NULL;

	cr_assert_eq(userdb_add(path, "bob@example.org", h2, NULL), 0);
	db = open_db();
	cr_assert_eq(userdb_lookup(db, "Bob@Example.org", &hash), 1);
	cr_assert_str_eq(hash, h2);
	free(hash);
	cr_assert_eq(userdb_lookup(db, "carol@example.org", &hash), 0);
	cr_assert_eq(userdb_lookup(db, "not an address", NULL), 0);
	userdb_free(db);
}

Test(userdb, rehash_flag_and_bad_scheme)
{
	char old[PASSWORD_HASH_SIZE];
	const char *why = NULL;
	struct userdb *db;
	int rehash = 0;

	cr_assert_eq(password_hash("pw1", 3, OPS + 1, MEM, old, sizeof(old)), 0);
	write_users("old@x.org:%s\nplain@x.org:{PLAIN}pw1\n", old);
	db = open_db();
	cr_assert_eq(userdb_verify(db, "old@x.org", "pw1", 3, &rehash, &why), 1);
	cr_assert_eq(rehash, 1, "made at another cost");
	cr_assert_eq(userdb_verify(db, "plain@x.org", "pw1", 3, &rehash, &why),
		     -1);
	cr_assert_str_eq(why, "password scheme not supported (only {ARGON2ID})");
	cr_assert_eq(userdb_warning_count(db), 1);
	cr_assert(strstr(userdb_warning(db, 0), ":2: password hash of plain@x.org") !=
		  NULL, "%s", userdb_warning(db, 0));
	userdb_free(db);
}

Test(userdb, malformed_lines_reported_rest_loads)
{
	struct userdb *db;
	char *expect[5];

	write_users("# users\n"
		    "alice@example.org:%s:uid=1000::extra\n"
		    "nocolon\n"
		    "bad name@x.org:%s\n"
		    "empty@x.org:\n"
		    "   \n"
		    "../evil@x.org:%s\n"
		    "ALICE@example.org:%s\n"
		    "bob@example.org:%s\r\n",
		    h1, h1, h1, h2, h2);
	db = open_db();
	cr_assert_geq(asprintf(&expect[0], "%s:3: no ':' after the user name", path), 0);
	cr_assert_geq(asprintf(&expect[1], "%s:4: bad user name: unquoted space in local part", path), 0);
	cr_assert_geq(asprintf(&expect[2], "%s:5: empty password hash for empty@x.org", path), 0);
	cr_assert_geq(asprintf(&expect[3], "%s:7: bad user name: local part starts with a dot", path), 0);
	cr_assert_geq(asprintf(&expect[4], "%s:8: duplicate user alice@example.org (first on line 2)", path), 0);
	cr_assert_eq(userdb_warning_count(db), 5);
	for (size_t i = 0; i < 5; i++) {
		cr_assert_str_eq(userdb_warning(db, i), expect[i]);
		free(expect[i]);
	}
	cr_assert_null(userdb_warning(db, 5));
	cr_assert_eq(userdb_count(db), 2);
	cr_assert_eq(userdb_verify(db, "alice@example.org", "pw1", 3, NULL, NULL),
		     1, "extra fields do not disturb the hash");
	cr_assert_eq(userdb_verify(db, "alice@example.org", "pw2", 3, NULL, NULL),
		     0, "the first line of a duplicate wins");
	cr_assert_eq(userdb_verify(db, "bob@example.org", "pw2", 3, NULL, NULL),
		     1, "CRLF line end tolerated");
	userdb_free(db);
}

static void collect(const char *name, void *arg)
{
	char *buf = arg;

	strcat(buf, name);
	strcat(buf, ";");
}

Test(userdb, list_sorted)
{
	char names[256] = "";
	struct userdb *db;

	cr_assert_eq(userdb_add(path, "carol@b.org", h1, NULL), 0);
	cr_assert_eq(userdb_add(path, "alice@b.org", h1, NULL), 0);
	cr_assert_eq(userdb_add(path, "bob@a.org", h1, NULL), 0);
	db = open_db();
	userdb_list(db, collect, names);
	cr_assert_str_eq(names, "alice@b.org;bob@a.org;carol@b.org;");
	userdb_free(db);
}

Test(userdb, edits_preserve_other_bytes)
{
	const char *why = NULL;
	char *text, *expect;

	/* Comments, blank lines, a malformed line, extra fields, CRLF and a
	 * last line without a newline. */
	write_users("# kantorpos users\n"
		    "\n"
		    "Alice@Example.org:%s:1000:1000::/home/alice::userdb_quota_rule=*:storage=1G\n"
		    "garbage line\r\n"
		    "bob@example.org:%s::x\r\n"
		    "  # indented comment\n"
		    "dave@example.org:%s",
		    h1, h1, h1);
	chmod(path, 0644);
	cr_assert_eq(userdb_set_hash(path, "ALICE@example.org", h2, &why), 0, "%s", why);
	cr_assert_eq(userdb_set_hash(path, "bob@example.org", h2, &why), 0, "%s", why);
	cr_assert_eq(userdb_add(path, "carol@example.org", h1, &why), 0, "%s", why);
	cr_assert_eq(userdb_delete(path, "Dave@example.org", &why), 0, "%s", why);
	text = tu_read_file(path, NULL);
	cr_assert_geq(asprintf(&expect,
			       "# kantorpos users\n"
			       "\n"
			       "Alice@Example.org:%s:1000:1000::/home/alice::userdb_quota_rule=*:storage=1G\n"
			       "garbage line\r\n"
			       "bob@example.org:%s::x\r\n"
			       "  # indented comment\n"
			       "carol@example.org:%s\n",
			       h2, h2, h1), 0);
	cr_assert_str_eq(text, expect);
	cr_assert_eq(file_mode(path), 0600);
	cr_assert_eq(tu_count_dir(dir), 2, "users and users.lock, no temporary");
	free(text);
	free(expect);
}

Test(userdb, edit_errors)
{
	const char *why = NULL;

	errno = 0;
	cr_assert_eq(userdb_set_hash(path, "nobody@x.org", h1, &why), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_str_eq(why, "no such user");
	cr_assert_eq(userdb_delete(path, "nobody@x.org", &why), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(userdb_add(path, "a/b@x.org", h1, &why), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_str_eq(why, "slash or backslash in name");
	cr_assert_eq(userdb_add(path, "alice@x.org", "{PLAIN}pw", &why), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(userdb_add(path, "alice@x.org", "{ARGON2ID}$argon2id$a:b", &why),
		     -1, "a colon would change the fields");
	cr_assert_eq(access(path, F_OK), -1, "nothing was written");
}

Test(userdb, reload_on_change)
{
	struct userdb *db;
	char *moved = tu_path(dir, "moved");

	cr_assert_eq(userdb_add(path, "alice@x.org", h1, NULL), 0);
	db = open_db();
	cr_assert_eq(userdb_reload(db), 0, "unchanged");
	cr_assert_eq(userdb_lookup(db, "bob@x.org", NULL), 0);

	cr_assert_eq(userdb_add(path, "bob@x.org", h2, NULL), 0);
	cr_assert_eq(userdb_reload(db), 1);
	cr_assert_eq(userdb_lookup(db, "bob@x.org", NULL), 1);
	cr_assert_eq(userdb_verify(db, "bob@x.org", "pw2", 3, NULL, NULL), 1);
	cr_assert_eq(userdb_reload(db), 0);

	/* A reload that fails keeps the old contents. */
	cr_assert_eq(rename(path, moved), 0);
	cr_assert_eq(userdb_reload(db), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(userdb_reload(db), -1, "a directory cannot be read");
	cr_assert_eq(userdb_lookup(db, "alice@x.org", NULL), 1);
	cr_assert_eq(userdb_verify(db, "bob@x.org", "pw2", 3, NULL, NULL), 1);

	cr_assert_eq(rmdir(path), 0);
	write_users("carol@x.org:%s\n", h1);
	cr_assert_eq(userdb_reload(db), 1);
	cr_assert_eq(userdb_lookup(db, "alice@x.org", NULL), 0);
	cr_assert_eq(userdb_lookup(db, "carol@x.org", NULL), 1);
	userdb_free(db);
	free(moved);
}

/* The two halves a daemon uses: prepare on a pool thread, commit on the
 * loop; a prepared version older than the db's contents is dropped. */
Test(userdb, reload_in_two_halves)
{
	struct userdb_fresh *fresh, *stale;
	struct userdb *db;

	write_users("alice@x.org:%s\n", h1);
	db = open_db();
	cr_assert_eq(userdb_reload_prepare(db, &fresh), 0, "unchanged");
	cr_assert_null(fresh);

	write_users("alice@x.org:%s\nbob@x.org:%s\n", h1, h2);
	cr_assert_eq(userdb_reload_prepare(db, &fresh), 1);
	cr_assert_not_null(fresh);
	cr_assert_eq(userdb_lookup(db, "bob@x.org", NULL), 0,
		     "nothing changes before the commit");
	cr_assert_eq(userdb_reload_commit(db, fresh), 1);
	cr_assert_eq(userdb_lookup(db, "bob@x.org", NULL), 1);

	/* Two prepares of the same version: the second commit is dropped. */
	write_users("carol@x.org:%s\n", h1);
	cr_assert_eq(userdb_reload_prepare(db, &stale), 1);
	cr_assert_eq(userdb_reload_prepare(db, &fresh), 1);
	cr_assert_eq(userdb_reload_commit(db, fresh), 1);
	write_users("dave@x.org:%s\n", h1);
	cr_assert_eq(userdb_reload(db), 1);
	cr_assert_eq(userdb_reload_commit(db, stale), 0, "older than the db");
	cr_assert_eq(userdb_lookup(db, "dave@x.org", NULL), 1);
	cr_assert_eq(userdb_lookup(db, "carol@x.org", NULL), 0);

	/* A failed prepare leaves the db alone; discard takes NULL. */
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(userdb_reload_prepare(db, &fresh), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_null(fresh);
	userdb_reload_discard(NULL);
	write_users("erin@x.org:%s\n", h1);
	cr_assert_eq(userdb_reload_prepare(db, &fresh), 1);
	userdb_reload_discard(fresh);
	cr_assert_eq(userdb_lookup(db, "dave@x.org", NULL), 1);
	userdb_free(db);
}

Test(userdb, open_missing_file)
{
	struct userdb *db = NULL;

	cr_assert_eq(userdb_open(path, &db), -1);
	cr_assert_eq(errno, ENOENT);
}

/* Two processes each add 25 users at the same time: the lock serialises the
 * read-modify-write cycles, so none is lost. */
Test(userdb, concurrent_adds_from_two_processes)
{
	pid_t pids[2];
	struct userdb *db;
	char name[64];

	for (int p = 0; p < 2; p++) {
		pids[p] = fork();
		cr_assert_geq(pids[p], 0);
		if (pids[p] == 0) {
			int bad = 0;

			for (int i = 0; i < 25; i++) {
				snprintf(name, sizeof(name), "p%d-user%d@example.org", p, i);
				if (userdb_add(path, name, h1, NULL) < 0)
					bad++;
			}
			_exit(bad == 0 ? 0 : 1);
		}
	}
	for (int p = 0; p < 2; p++) {
		int status;

		cr_assert_eq(waitpid(pids[p], &status, 0), pids[p]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "child %d failed", p);
	}
	db = open_db();
	cr_assert_eq(userdb_count(db), 50);
	cr_assert_eq(userdb_warning_count(db), 0);
	for (int p = 0; p < 2; p++) {
		for (int i = 0; i < 25; i++) {
			snprintf(name, sizeof(name), "p%d-user%d@example.org", p, i);
			cr_assert_eq(userdb_lookup(db, name, NULL), 1, "%s", name);
		}
	}
	userdb_free(db);
	cr_assert_eq(file_mode(path), 0600);
}

/* userdb_parse: the same parser on a buffer, with no file behind it. The
 * buffer is not NUL-terminated and may hold NUL bytes. */
Test(userdb, parse_buffer)
{
	char text[1024];
	struct userdb *db;
	char *hash = NULL;
	int n;

	n = snprintf(text, sizeof(text),
		     "# users\nBob@Example.org:%s\nnocolon\nbob@example.org:%s\nx",
		     h1, h2);
	cr_assert(n > 0 && (size_t)n < sizeof(text));
	/* Line 5 carries a NUL byte: "x\0y@example.org:z". */
	n += snprintf(text + n + 1, sizeof(text) - (size_t)n - 1,
		      "y@example.org:z\ncarol@example.org:%s", h2) + 1;
	cr_assert_eq(userdb_parse("mem", text, (size_t)n, &db), 0);
	cr_assert_eq(userdb_count(db), 2);
	cr_assert_eq(userdb_lookup(db, "bob@example.org", &hash), 1);
	cr_assert_str_eq(hash, h1, "first line of a user wins");
	free(hash);
	cr_assert_eq(userdb_lookup(db, "carol@example.org", NULL), 1);
	cr_assert_eq(userdb_warning_count(db), 3);
	cr_assert_str_eq(userdb_warning(db, 0), "mem:3: no ':' after the user name");
	cr_assert(strstr(userdb_warning(db, 1), "mem:4: duplicate user") != NULL,
		  "%s", userdb_warning(db, 1));
	cr_assert_str_eq(userdb_warning(db, 2), "mem:5: NUL byte in line");
	cr_assert_eq(userdb_reload(db), 0, "a parsed db has no file to reload");
	userdb_free(db);

	cr_assert_eq(userdb_parse("empty", "", 0, &db), 0);
	cr_assert_eq(userdb_count(db), 0);
	cr_assert_eq(userdb_warning_count(db), 0);
	userdb_free(db);
}
