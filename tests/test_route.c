/* tests/test_route.c: the routing of recipients (pipeline/route.h) —
 * local users, aliases, postmaster, unknown users, and every open-relay
 * pattern, with and without authentication. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/lookup/aliases.h"
#include "common/config/config.h"
#include "common/config/config_load.h"
#include "common/users/userdb.h"
#include "pipeline/route.h"
#include "tests/helpers/testutil.h"

static char *dir;
static struct config *cfg;
static struct userdb *db;
static struct aliases *al;

static void setup(void)
{
	static const char conf[] =
		"data_dir /tmp\nuser_db users\nlocal_domain example.test\n"
		"local_domain example.net\nrelayhost smtp.provider.example:587\n";
	static const char aliases[] = "sales: alice, bob\n";
	char *err = NULL, *users;

	dir = tu_tmpdir();
	cfg = config_parse("t.conf", "/", conf, strlen(conf), &err);
	cr_assert_not_null(cfg, "%s", err ? err : "");
	users = tu_path(dir, "users");
	tu_write_file(users, "alice@example.test:x\nbob@example.test:x\n");
	cr_assert_eq(userdb_open(users, &db), 0);
	free(users);
	cr_assert_eq(aliases_parse("a", aliases, strlen(aliases), cfg, &al, &err),
		     0, "%s", err ? err : "");
}

static void teardown(void)
{
	aliases_free(al);
	userdb_free(db);
	config_free(cfg);
	tu_rmrf(dir);
	free(dir);
}

TestSuite(route, .init = setup, .fini = teardown);

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

struct row {
	const char *arg; /* RCPT TO: argument */
	int code;        /* expected reply: 250, 550, 554, 501 (parse) */
	const char *enh;
	const char *keys;
};

static void check_rows(const struct row *rows, size_t n, bool authenticated)
{
	struct route_ctx ctx = { cfg, db, al, authenticated };

	for (size_t i = 0; i < n; i++) {
		struct addr_path path;
		struct addr_error aerr;
		struct route_decision d;
		char keys[256] = "";
		int rc;

		if (addr_parse_path(rows[i].arg, strlen(rows[i].arg),
				    ADDR_OPT_POSTMASTER, &path, &aerr) < 0) {
			cr_assert_eq(rows[i].code, 501, "row %zu \"%s\": parse: %s", i,
				     rows[i].arg, aerr.why);
			continue;
		}
		rc = route_check(&ctx, &path, &d);
		cr_assert_eq(d.code, rows[i].code, "row %zu \"%s\" (auth %d): %d %s",
			     i, rows[i].arg, authenticated, d.code, d.text);
		cr_assert_str_eq(d.enh, rows[i].enh, "row %zu", i);
		cr_assert_eq(rc, d.code == 250, "row %zu", i);
		/* Local users have targets; the queue routes have none. */
		cr_assert_eq(d.route == PIPE_ROUTE_LOCAL, d.n_targets > 0,
			     "row %zu", i);
		cr_assert_eq(d.route == PIPE_ROUTE_NONE, rc == 0, "row %zu", i);
		for (size_t k = 0; k < d.n_targets; k++) {
			strcat(keys, d.targets[k].key);
			if (k + 1 < d.n_targets)
				strcat(keys, ",");
		}
		cr_assert_str_eq(keys, rows[i].keys, "row %zu \"%s\"", i, rows[i].arg);
		free(d.targets);
	}
}

/* Local delivery and postmaster (RFC 5321 §4.5.1). */
static const struct row local_rows[] = {
	{ "<alice@example.test>", 250, "2.1.5", "alice@example.test" },
	{ "<Alice@EXAMPLE.test>", 250, "2.1.5", "alice@example.test" },
	{ " <alice@example.test>", 250, "2.1.5", "alice@example.test" },
	{ "<sales@example.test>", 250, "2.1.5", "alice@example.test,bob@example.test" },
	{ "<nobody@example.test>", 550, "5.1.1", "" },
	{ "<postmaster>", 250, "2.1.5", "postmaster@example.test" },
	{ "<PostMaster@example.net>", 250, "2.1.5", "postmaster@example.net" },
	{ "<@relay.example,@r2.example:alice@example.test>", 250, "2.1.5",
	  "alice@example.test" },
	{ "<\"../../tmp/x\"@example.test>", 550, "5.1.1", "" },
	{ "<a/b@example.test>", 550, "5.1.1", "" },
	{ "<>", 501, "5.1.3", "" },
};

/* CONFORMANCE 3.3: none of these may ever leave the server. */
static const struct row relay_rows[] = {
	{ "<victim@elsewhere.test>", 554, "5.7.1", "" },
	{ "<victim%elsewhere.test@example.test>", 550, "5.7.1", "" },
	{ "<elsewhere.test!victim@example.test>", 550, "5.7.1", "" },
	{ "<\"victim@elsewhere.test\"@example.test>", 550, "5.7.1", "" },
	{ "<\"victim%elsewhere.test\"@example.test>", 550, "5.7.1", "" },
	{ "<victim@elsewhere.test@example.test>", 501, "", "" },
	{ "<@example.test:victim@elsewhere.test>", 554, "5.7.1", "" },
	{ "<victim@[192.0.2.1]>", 554, "5.7.1", "" },
	{ "<victim@[127.0.0.1]>", 554, "5.7.1", "" },
	{ "<victim@ELSEWHERE.TEST>", 554, "5.7.1", "" },
	{ "<victim@example.test.elsewhere.test>", 554, "5.7.1", "" },
	{ "<victim@elsewhereexample.test>", 554, "5.7.1", "" },
	{ "<victim@sub.example.test>", 554, "5.7.1", "" },
	{ "<victim@xample.test>", 554, "5.7.1", "" },
};

Test(route, local_unauthenticated)
{
	check_rows(local_rows, N_ROWS(local_rows), false);
}

Test(route, local_authenticated)
{
	check_rows(local_rows, N_ROWS(local_rows), true);
}

Test(route, relay_patterns_unauthenticated)
{
	check_rows(relay_rows, N_ROWS(relay_rows), false);
}

/* Authenticated users' mail for other domains is queued for the relay
 * host; address literals and routing syntax still never leave. */
static const struct row auth_relay_rows[] = {
	{ "<victim@elsewhere.test>", 250, "2.1.5", "" },
	{ "<victim%elsewhere.test@example.test>", 550, "5.7.1", "" },
	{ "<elsewhere.test!victim@example.test>", 550, "5.7.1", "" },
	{ "<\"victim@elsewhere.test\"@example.test>", 550, "5.7.1", "" },
	{ "<\"victim%elsewhere.test\"@example.test>", 550, "5.7.1", "" },
	{ "<victim@elsewhere.test@example.test>", 501, "", "" },
	{ "<@example.test:victim@elsewhere.test>", 250, "2.1.5", "" },
	{ "<victim@[192.0.2.1]>", 554, "5.7.1", "" },
	{ "<victim@[127.0.0.1]>", 554, "5.7.1", "" },
	{ "<a%b@elsewhere.test>", 550, "5.7.1", "" },
	{ "<victim@sub.example.test>", 250, "2.1.5", "" },
};

Test(route, relay_patterns_authenticated)
{
	check_rows(auth_relay_rows, N_ROWS(auth_relay_rows), true);
}

/* ETRN: held domains take any local part from anyone, into the queue;
 * without a relayhost authenticated users' mail for other domains goes to
 * their MX hosts. */
Test(route, etrn_domains_are_queued)
{
	static const char conf[] =
		"data_dir /tmp\nuser_db users\nlocal_domain example.test\n"
		"etrn_domain backup.test deliver_to client subdomains\n";
	static const struct row rows[] = {
		{ "<anyone@backup.test>", 250, "2.1.5", "" },
		{ "<Any.One@SUB.backup.test>", 250, "2.1.5", "" },
		{ "<a%b@backup.test>", 550, "5.7.1", "" },
		{ "<x@[192.0.2.1]>", 554, "5.7.1", "" },
	};
	static const struct row foreign[] = {
		{ "<x@backup.test.elsewhere.test>", 554, "5.7.1", "" },
	};
	static const struct row foreign_auth[] = {
		{ "<x@backup.test.elsewhere.test>", 250, "2.1.5", "" },
	};
	struct config *saved = cfg;
	struct aliases *saved_al = al;
	char *err = NULL;

	cfg = config_parse("t.conf", "/", conf, strlen(conf), &err);
	cr_assert_not_null(cfg, "%s", err ? err : "");
	al = NULL;
	check_rows(rows, N_ROWS(rows), false);
	check_rows(rows, N_ROWS(rows), true);
	check_rows(foreign, N_ROWS(foreign), false);
	check_rows(foreign_auth, N_ROWS(foreign_auth), true);
	struct route_ctx ctx = { cfg, db, NULL, true };
	struct addr_path path;
	struct route_decision d;

	cr_assert_eq(addr_parse_path("<v@elsewhere.test>", 18, 0, &path, NULL), 0);
	cr_assert_eq(route_check(&ctx, &path, &d), 1);
	cr_assert_eq(d.route, PIPE_ROUTE_DIRECT);
	ctx.authenticated = false;
	cr_assert_eq(route_check(&ctx, &path, &d), 0);
	cr_assert_eq(d.code, 554);
	cr_assert_str_eq(d.text, "Relay access denied");
	ctx.authenticated = true;
	cr_assert_eq(addr_parse_path("<v@backup.test>", 15, 0, &path, NULL), 0);
	cr_assert_eq(route_check(&ctx, &path, &d), 1);
	cr_assert_eq(d.route, PIPE_ROUTE_HELD);
	config_free(cfg);
	cfg = saved;
	al = saved_al;
}

/* relayhost_domains: the relayhost takes those domains and their
 * subdomains, the rest goes direct; unauthenticated mail for either is
 * refused as before. */
Test(route, relayhost_domains_split_the_routes)
{
	static const char conf[] =
		"data_dir /tmp\nuser_db users\nlocal_domain example.test\n"
		"relayhost smtp.provider.example:587\n"
		"relayhost_domains corp.example\n";
	static const struct {
		const char *arg;
		bool auth;
		int code;
		enum pipe_route route;
	} rows[] = {
		{ "<a@corp.example>", true, 250, PIPE_ROUTE_RELAY },
		{ "<a@EU.Corp.Example>", true, 250, PIPE_ROUTE_RELAY },
		{ "<a@xcorp.example>", true, 250, PIPE_ROUTE_DIRECT },
		{ "<a@elsewhere.test>", true, 250, PIPE_ROUTE_DIRECT },
		{ "<a%b@elsewhere.test>", true, 550, PIPE_ROUTE_NONE },
		{ "<a@[192.0.2.1]>", true, 554, PIPE_ROUTE_NONE },
		{ "<a@corp.example>", false, 554, PIPE_ROUTE_NONE },
		{ "<a@elsewhere.test>", false, 554, PIPE_ROUTE_NONE },
		{ "<alice@example.test>", true, 250, PIPE_ROUTE_LOCAL },
	};
	struct config *saved = cfg;
	char *err = NULL;

	cfg = config_parse("t.conf", "/", conf, strlen(conf), &err);
	cr_assert_not_null(cfg, "%s", err ? err : "");
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct route_ctx ctx = { cfg, db, NULL, rows[i].auth };
		struct addr_path path;
		struct route_decision d;

		cr_assert_eq(addr_parse_path(rows[i].arg, strlen(rows[i].arg), 0,
					     &path, NULL), 0);
		route_check(&ctx, &path, &d);
		cr_assert_eq(d.code, rows[i].code, "row %zu: %d %s", i, d.code,
			     d.text);
		cr_assert_eq(d.route, rows[i].route, "row %zu", i);
		free(d.targets);
	}
	config_free(cfg);
	cfg = saved;
}

/* With a relayhost and no relayhost_domains, every foreign domain of an
 * authenticated user goes to it. */
Test(route, relayhost_takes_all_by_default)
{
	struct route_ctx ctx = { cfg, db, al, true };
	struct addr_path path;
	struct route_decision d;

	cr_assert_eq(addr_parse_path("<v@elsewhere.test>", 18, 0, &path, NULL), 0);
	cr_assert_eq(route_check(&ctx, &path, &d), 1);
	cr_assert_eq(d.route, PIPE_ROUTE_RELAY);
}

Test(route, trailing_dot_is_refused)
{
	static const struct row rows[] = {
		{ "<victim@elsewhere.test.>", 501, "", "" },
		{ "<alice@example.test.>", 501, "", "" },
	};

	check_rows(rows, N_ROWS(rows), false);
}

Test(route, percent_as_delimiter_stays_local)
{
	static const char conf[] =
		"data_dir /tmp\nuser_db users\nlocal_domain example.test\n"
		"recipient_delimiter %\n";
	static const struct row rows[] = {
		{ "<alice%elsewhere.test@example.test>", 250, "2.1.5",
		  "alice@example.test" },
		{ "<alice!x@example.test>", 550, "5.7.1", "" },
	};
	struct config *saved = cfg;
	struct aliases *saved_al = al;
	char *err = NULL;

	cfg = config_parse("t.conf", "/", conf, strlen(conf), &err);
	cr_assert_not_null(cfg, "%s", err ? err : "");
	al = NULL;
	check_rows(rows, N_ROWS(rows), false);
	config_free(cfg);
	cfg = saved;
	al = saved_al;
}
