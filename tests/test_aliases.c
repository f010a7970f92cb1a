/* tests/test_aliases.c: the aliases file (syntax, domains, expansion,
 * loops and duplicates as FILE:LINE errors, reload) and rcpt_expand. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/lookup/aliases.h"
#include "common/config/config.h"
#include "common/config/config_load.h"
#include "common/lookup/recipient.h"
#include "common/users/userdb.h"
#include "tests/helpers/testutil.h"

static char *dir;
static struct config *cfg;

static const char CONF[] =
	"data_dir /tmp\nuser_db users\nlocal_domain example.test\n"
	"local_domain example.net catchall bob\nrecipient_delimiter +\n";

static void setup(void)
{
	char *err = NULL;

	dir = tu_tmpdir();
	cfg = config_parse("test.conf", "/", CONF, strlen(CONF), &err);
	cr_assert_not_null(cfg, "%s", err ? err : "");
}

static void teardown(void)
{
	config_free(cfg);
	tu_rmrf(dir);
	free(dir);
}

TestSuite(aliases, .init = setup, .fini = teardown);

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

/* "a,b" of the final targets of key, or "" when not an alias. */
static void targets_of(const struct aliases *al, const char *key, char *buf,
		       size_t size)
{
	const char *const *t = NULL;
	size_t n = aliases_lookup(al, key, &t);

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strncat(buf, t[i], size - strlen(buf) - 2);
		if (i + 1 < n)
			strcat(buf, ",");
	}
}

Test(aliases, expansion_table)
{
	static const char text[] =
		"# staff\n"
		"\n"
		"sales: alice, Bob@Example.NET\n"
		"team@example.test: sales, carol@example.test, alice\n"
		"all@example.net:team@example.test,dave\n"
		"  info  :  alice+info  \n";
	static const struct {
		const char *key;
		const char *targets;
	} rows[] = {
		{ "sales@example.test", "alice@example.test,bob@example.net" },
		{ "sales@example.net", "alice@example.net,bob@example.net" },
		{ "team@example.test",
		  "alice@example.test,bob@example.net,carol@example.test" },
		{ "all@example.net",
		  "alice@example.test,bob@example.net,carol@example.test,dave@example.net" },
		{ "info@example.test", "alice+info@example.test" },
		{ "team@example.net", "" },
		{ "alice@example.test", "" },
	};
	struct aliases *al = NULL;
	char *err = NULL, buf[512];

	cr_assert_eq(aliases_parse("aliases", text, strlen(text), cfg, &al, &err),
		     0, "%s", err ? err : "");
	cr_assert_eq(aliases_count(al), 6);
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		targets_of(al, rows[i].key, buf, sizeof(buf));
		cr_assert_str_eq(buf, rows[i].targets, "row %zu", i);
	}
	aliases_free(al);
}

Test(aliases, errors_table)
{
	static const struct {
		const char *text;
		const char *err; /* a line the errors must hold */
	} rows[] = {
		{ "a: b\nb: a\n", "F:1: alias loop: a@example.net -> b@example.net\n" },
		{ "a: b\nb: a\n", "F:2: alias loop: b@example.net -> a@example.net\n" },
		{ "x@example.test: x@example.test\n",
		  "F:1: alias loop: x@example.test -> x@example.test\n" },
		{ "ok: alice\nnocolon alice\n",
		  "F:2: expected \"alias: target[, target...]\"\n" },
		{ "a: victim@elsewhere.test\n",
		  "F:1: target \"victim@elsewhere.test\": not in a local domain\n" },
		{ "a@elsewhere.test: alice\n",
		  "F:1: alias \"a@elsewhere.test\": not in a local domain\n" },
		{ "a: alice\n\na: bob\n",
		  "F:3: duplicate alias a@example.test (already on line 1)\n" },
		{ ": alice\n", "F:1: expected an alias name before \":\"\n" },
		{ "a:\n", "F:1: alias a@example.test has no usable target\n" },
		{ "a: alice,,bob\n", "F:1: empty target in the list\n" },
		{ "a: ../x\n", "F:1: target \"../x\": " },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct aliases *al = NULL;
		char *err = NULL;

		cr_assert_eq(aliases_parse("F", rows[i].text, strlen(rows[i].text),
					   cfg, &al, &err), -1, "row %zu", i);
		cr_assert_null(al, "row %zu", i);
		cr_assert_not_null(err, "row %zu", i);
		cr_assert_not_null(strstr(err, rows[i].err), "row %zu: %s", i, err);
		free(err);
	}
}

Test(aliases, three_step_loop_is_found)
{
	static const char text[] = "a: b\nb: c\nc: alice, a\n";
	struct aliases *al = NULL;
	char *err = NULL;

	cr_assert_eq(aliases_parse("F", text, strlen(text), cfg, &al, &err), -1);
	cr_assert_not_null(strstr(err, "alias loop"), "%s", err);
	free(err);
}

Test(aliases, load_and_reload)
{
	char *path = tu_path(dir, "aliases"), *err = NULL, buf[256];
	struct aliases *al = NULL;

	tu_write_file(path, "sales: alice\n");
	cr_assert_eq(aliases_load(path, cfg, &al, &err), 0, "%s", err ? err : "");
	cr_assert_eq(aliases_reload(al, cfg, &err), 0);
	targets_of(al, "sales@example.test", buf, sizeof(buf));
	cr_assert_str_eq(buf, "alice@example.test");

	/* A broken edit keeps the old table. */
	tu_write_file(path, "sales: alice\nloop: loop\n");
	cr_assert_eq(aliases_reload(al, cfg, &err), -1);
	cr_assert_not_null(strstr(err, ":2: alias loop"), "%s", err);
	free(err);
	targets_of(al, "sales@example.test", buf, sizeof(buf));
	cr_assert_str_eq(buf, "alice@example.test");

	tu_write_file(path, "sales: bob, carol\n\n");
	cr_assert_eq(aliases_reload(al, cfg, &err), 1);
	targets_of(al, "sales@example.test", buf, sizeof(buf));
	cr_assert_str_eq(buf, "bob@example.test,carol@example.test");
	aliases_free(al);

	unlink(path);
	cr_assert_eq(aliases_load(path, cfg, &al, &err), -1);
	cr_assert_not_null(strstr(err, ": cannot read: "), "%s", err);
	free(err);
	free(path);
}

/* rcpt_expand: aliases, users, subaddresses, catch-all. */
Test(aliases, rcpt_expand_table)
{
	static const char users[] =
		"alice@example.test:x\nbob@example.net:x\ncarol@example.test:x\n";
	static const char text[] =
		"sales: alice, bob@example.net\n"
		"broken@example.test: nobody\n"
		"info@example.test: alice+info\n";
	static const struct {
		const char *addr;
		enum rcpt_status st;
		const char *keys;
	} rows[] = {
		{ "alice@example.test", RCPT_LOCAL, "alice@example.test" },
		{ "Alice+tag@Example.TEST", RCPT_LOCAL, "alice@example.test" },
		{ "sales@example.test", RCPT_LOCAL,
		  "alice@example.test,bob@example.net" },
		{ "sales+x@example.test", RCPT_LOCAL,
		  "alice@example.test,bob@example.net" },
		{ "info@example.test", RCPT_LOCAL, "alice@example.test" },
		{ "nobody@example.test", RCPT_UNKNOWN, "" },
		{ "nobody@example.net", RCPT_LOCAL, "bob@example.net" }, /* catch-all */
		{ "broken@example.test", RCPT_ERROR, "" },
		{ "alice@elsewhere.test", RCPT_FOREIGN, "" },
		{ "alice@[127.0.0.1]", RCPT_FOREIGN, "" },
	};
	char *upath = tu_path(dir, "users");
	struct userdb *db = NULL;
	struct aliases *al = NULL;
	char *err = NULL;

	tu_write_file(upath, users);
	cr_assert_eq(userdb_open(upath, &db), 0);
	cr_assert_eq(aliases_parse("F", text, strlen(text), cfg, &al, &err), 0,
		     "%s", err ? err : "");
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct addr_mailbox mb;
		struct rcpt_target *t = NULL;
		size_t n = 0;
		const char *why = NULL;
		char keys[512] = "";

		cr_assert_eq(addr_parse_mailbox(rows[i].addr, strlen(rows[i].addr),
						0, &mb, NULL), 0, "row %zu", i);
		cr_assert_eq(rcpt_expand(cfg, db, al, &mb, &t, &n, &why),
			     rows[i].st, "row %zu", i);
		for (size_t k = 0; k < n; k++) {
			strcat(keys, t[k].key);
			if (k + 1 < n)
				strcat(keys, ",");
		}
		cr_assert_str_eq(keys, rows[i].keys, "row %zu", i);
		if (rows[i].st == RCPT_ERROR)
			cr_assert_str_eq(why, "alias target is not a local user");
		free(t);
	}
	aliases_free(al);
	userdb_free(db);
	free(upath);
}

/* Every error its own line with one "FILE:LINE: " prefix; bytes from the
 * file that are control characters cannot start a second line. */
Test(aliases, errors_one_per_line)
{
	static const char text[] =
		"sales: alice, , x@elsewhere.test\n"
		"no colon\n"
		"odd: a\x1b[2Jb@elsewhere.test\n";
	static const char want[] =
		"F:1: empty target in the list\n"
		"F:1: target \"x@elsewhere.test\": not in a local domain\n"
		"F:2: expected \"alias: target[, target...]\"\n"
		"F:3: target \"a\\x1b[2Jb@elsewhere.test\": control character in address\n"
		"F:3: alias odd@example.test has no usable target\n";
	struct aliases *al = NULL;
	char *err = NULL;

	cr_assert_eq(aliases_parse("F", text, strlen(text), cfg, &al, &err), -1);
	cr_assert_not_null(err);
	cr_expect_str_eq(err, want);
	free(err);
}

/* aliases_entry: each alias with its line and the targets as written. */
Test(aliases, entries_in_key_order)
{
	static const char text[] = "team@example.test: sales, carol\n"
				   "sales@example.net: alice@example.test\n";
	const char *const *targets;
	struct aliases *al = NULL;
	char *err = NULL;
	unsigned line;
	size_t n;

	cr_assert_eq(aliases_parse("F", text, strlen(text), cfg, &al, &err), 0,
		     "%s", err ? err : "");
	cr_assert_eq(aliases_count(al), 2);
	cr_expect_str_eq(aliases_entry(al, 0, &line, &targets, &n),
			 "sales@example.net");
	cr_expect_eq(line, 2);
	cr_assert_eq(n, 1);
	cr_expect_str_eq(targets[0], "alice@example.test");
	cr_expect_str_eq(aliases_entry(al, 1, &line, &targets, &n),
			 "team@example.test");
	cr_expect_eq(line, 1);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(targets[0], "sales@example.test");
	cr_expect_str_eq(targets[1], "carol@example.test");
	aliases_free(al);
}

/* aliases_log_errors: one log line per error, the context and what is
 * kept once each. */
Test(aliases, errors_logged_one_line_each)
{
	char *path = tu_path(dir, "log"), *logged;
	int saved = dup(2), fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_geq(dup2(fd, 2), 0);
	close(fd);
	log_init("test", true);
	aliases_log_errors(LOG_LVL_WARN, "aliases not reloaded",
			   "F:1: one\nF:2: two\n", "; keeping the old aliases");
	aliases_log_errors(LOG_LVL_WARN, "aliases not loaded", NULL, "");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	logged = tu_read_file(path, NULL);
	cr_assert_not_null(logged);
	cr_expect_not_null(strstr(logged, "warn: aliases not reloaded: F:1: one; "
				  "keeping the old aliases\n"), "%s", logged);
	cr_expect_not_null(strstr(logged, "warn: aliases not reloaded: F:2: two; "
				  "keeping the old aliases\n"), "%s", logged);
	cr_expect_not_null(strstr(logged, "warn: aliases not loaded: out of memory\n"),
			   "%s", logged);
	cr_expect_null(strchr(logged, '?'), "%s", logged);
	free(logged);
	free(path);
}
