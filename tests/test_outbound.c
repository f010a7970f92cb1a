/* tests/test_outbound.c: DSN format and status mapping, routing, back-off,
 * and the queue-delivery steps with an injected clock: recording mixed
 * SMTP results, deferral, expiry bounces, no DSN to <>, local delivery of
 * notifications; the relayhost's password file. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config/config.h"
#include "common/config/config_load.h"
#include "common/config/secret.h"
#include "common/lookup/aliases.h"
#include "common/users/userdb.h"
#include "outbound/dsn.h"
#include "outbound/etrn.h"
#include "outbound/items.h"
#include "outbound/relayauth.h"
#include "store/queue.h"
#include "tests/helpers/queuefix.h"
#include "tests/helpers/testutil.h"

#define T0 1700000000

static struct qf_fixture fx;

static void setup(void)
{
	qf_setup(&fx);
}

static void teardown(void)
{
	qf_teardown(&fx);
}

TestSuite(outbound, .init = setup, .fini = teardown);

Test(outbound, status_of_replies)
{
	static const struct {
		const char *reply, *status;
	} rows[] = {
		{ "550 5.1.1 no such user", "5.1.1" },
		{ "552 5.3.4 too big", "5.3.4" },
		{ "554 transaction failed", "5.0.0" },
		{ "450 4.2.0 busy", "4.2.0" },
		{ "550 4.1.1 class mismatch", "5.0.0" },
		{ "550 5.1.1000 detail too long", "5.0.0" },
		{ "421", "4.0.0" },
		{ "", "4.4.1" },
		{ "connect to 192.0.2.1 port 25: refused", "4.4.1" },
	};
	char buf[16];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cr_assert_str_eq(dsn_status_of(rows[i].reply, buf, sizeof(buf)),
				 rows[i].status, "row %zu", i);
	cr_assert_str_eq(dsn_status_of(NULL, buf, sizeof(buf)), "4.4.1");
}

Test(outbound, header_len)
{
	static const char a[] = "A: 1\r\nB: 2\r\n\r\nbody\r\n";
	static const char b[] = "A: 1\nB: 2\n\nbody\n";
	static const char c[] = "A: 1\r\nno body";

	cr_assert_eq(dsn_header_len(a, strlen(a)), 14);
	cr_assert_eq(dsn_header_len(b, strlen(b)), 11);
	cr_assert_eq(dsn_header_len(c, strlen(c)), strlen(c));
}

Test(outbound, dsn_format)
{
	static const char headers[] = "Subject: hi\nFrom: a@example.test\n\n";
	struct dsn_rcpt rcpts[] = {
		{ .addr = "x@backup.test", .diag = "550 5.1.1 unknown user",
		  .remote_mta = "mx.backup.test" },
		{ .addr = "y@backup.test", .status = "5.2.2",
		  .diag = "mailbox quota exceeded" },
	};
	struct dsn_info in = {
		.reporting_mta = "mx.example.test", .sender = "a@example.test",
		.msgid = "123.abc", .arrival = T0, .now = T0 + 60,
		.content = headers, .content_len = strlen(headers),
		.rcpts = rcpts, .n_rcpts = 2,
	};
	char *text;
	size_t len;

	cr_assert_eq(dsn_build(&in, &text, &len), 0);
	cr_assert_eq(strlen(text), len);
	static const char *const want[] = {
		"From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\n",
		"To: <a@example.test>\r\n",
		"Message-ID: <123.abc@mx.example.test>\r\n",
		"Date: Tue, 14 Nov 2023 22:14:20 +0000\r\n",
		"Auto-Submitted: auto-replied\r\n",
		"Content-Type: multipart/report; report-type=delivery-status;\r\n"
		"\tboundary=\"123.abc/mx.example.test\"\r\n",
		"\r\n--123.abc/mx.example.test\r\n"
		"Content-Description: Delivery report\r\n"
		"Content-Type: message/delivery-status\r\n\r\n"
		"Reporting-MTA: dns; mx.example.test\r\n"
		"Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\r\n"
		"Final-Recipient: rfc822; x@backup.test\r\n"
		"Action: failed\r\n"
		"Status: 5.1.1\r\n"
		"Remote-MTA: dns; mx.backup.test\r\n"
		"Diagnostic-Code: smtp; 550 5.1.1 unknown user\r\n"
		"Last-Attempt-Date: Tue, 14 Nov 2023 22:14:20 +0000\r\n\r\n"
		"Final-Recipient: rfc822; y@backup.test\r\n"
		"Action: failed\r\n"
		"Status: 5.2.2\r\n"
		"Last-Attempt-Date: ",
		"Content-Type: text/rfc822-headers\r\n\r\n"
		"Subject: hi\r\nFrom: a@example.test\r\n\r\n"
		"--123.abc/mx.example.test--\r\n",
		"<x@backup.test>: 550 5.1.1 unknown user\r\n",
		"<y@backup.test>: mailbox quota exceeded\r\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert_not_null(strstr(text, want[i]), "missing:\n%s\nin:\n%s",
				   want[i], text);
	/* No bare LF anywhere. */
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n')
			cr_assert(i > 0 && text[i - 1] == '\r', "bare LF at %zu", i);
	free(text);

	in.n_rcpts = 0;
	cr_assert_eq(dsn_build(&in, &text, &len), -1);
}

Test(outbound, routes_and_backoff)
{
	const struct config_etrn_domain *e = NULL;

	cr_assert_eq(outb_route_of(fx.cfg, "backup.test", &e), OUTB_ROUTE_ETRN);
	cr_assert_not_null(e);
	cr_assert_eq(outb_route_of(fx.cfg, "EXAMPLE.test", NULL), OUTB_ROUTE_LOCAL);
	cr_assert_eq(outb_route_of(fx.cfg, "elsewhere.test", NULL), OUTB_ROUTE_DIRECT);
	cr_assert_eq(outb_route_of(fx.cfg, "[192.0.2.1]", NULL), OUTB_ROUTE_NONE);
	cr_assert_eq(outb_lifetime(fx.cfg, "backup.test"), 86400);
	cr_assert_eq(outb_lifetime(fx.cfg, "elsewhere.test"), 5 * 86400);
	static const unsigned want[] = { 60, 60, 120, 240, 480, 600, 600 };
	for (unsigned i = 0; i < 7; i++)
		cr_assert_eq(outb_backoff(fx.cfg, i), want[i], "attempts %u", i);
}

static char *enqueue(const char *sender, const char *r1, const char *r2)
{
	static const char body[] = "Subject: t\r\n\r\nbody\r\n";
	struct queue_env env;
	struct queue_tx *tx;
	char *id;

	memset(&env, 0, sizeof(env));
	queue_env_set(&env.sender, sender);
	queue_env_set(&env.domain, "backup.test");
	env.arrival = env.next_attempt = T0;
	queue_env_add_rcpt(&env, r1);
	if (r2 != NULL)
		queue_env_add_rcpt(&env, r2);
	cr_assert_eq(queue_tx_begin(fx.q, &tx), 0);
	cr_assert_eq(queue_tx_write(tx, body, strlen(body)), 0);
	cr_assert_eq(queue_tx_commit(tx, &env, 1), 0);
	id = strdup(env.id);
	queue_env_clear(&env);
	return id;
}

struct found {
	int n;
	char domain[64], rcpt[128], sender[64];
};

static int find_dsn(const struct queue_env *env, void *arg)
{
	struct found *f = arg;

	if (env->sender[0] != '\0')
		return 0;
	f->n++;
	snprintf(f->domain, sizeof(f->domain), "%s", env->domain);
	snprintf(f->rcpt, sizeof(f->rcpt), "%s", env->rcpts[0].addr);
	return 0;
}

Test(outbound, record_mixed_results)
{
	struct outb_ctx ctx = { .cfg = fx.cfg, .q = fx.q, .now = T0 + 100 };
	char *id = enqueue("a@example.test", "ok@backup.test", "bad@backup.test");
	struct smtpc_reply replies[2] = {
		{ .code = 250, .text = "250 2.0.0 ok" },
		{ .code = 550, .text = "550 5.1.1 unknown" },
	};
	size_t map[2] = { 0, 1 };
	struct queue_item *it;
	struct found f = { 0 };
	unsigned kick = 0;

	cr_assert_eq(outb_item_take(&ctx, id, false, &it, &kick), 1);
	cr_assert_eq(outb_item_record(&ctx, it, map, replies, 2, "mx", &kick), 0);
	cr_assert_eq(queue_count(fx.q, "backup.test", false), 0, "item done");
	cr_assert_eq(queue_walk(fx.q, NULL, false, find_dsn, &f), 0);
	cr_assert_eq(f.n, 1);
	cr_assert_str_eq(f.domain, "example.test");
	cr_assert_str_eq(f.rcpt, "a@example.test");
	cr_assert(kick & OUTB_KICK_LOCAL);
	free(id);
}

Test(outbound, temporary_failure_backs_off)
{
	struct outb_ctx ctx = { .cfg = fx.cfg, .q = fx.q, .now = T0 + 100 };
	char *id = enqueue("a@example.test", "x@backup.test", NULL);
	struct smtpc_reply r = { .code = 451, .text = "451 4.3.0 later" };
	size_t map = 0;
	struct queue_item *it;
	unsigned kick = 0;

	cr_assert_eq(outb_item_take(&ctx, id, false, &it, &kick), 1);
	cr_assert_eq(outb_item_record(&ctx, it, &map, &r, 1, "mx", &kick), 0);
	cr_assert_eq(queue_lock(fx.q, id, &it), 1);
	cr_assert_eq(queue_item_env(it)->attempts, 1);
	cr_assert_eq(queue_item_env(it)->next_attempt, T0 + 160);
	cr_assert_str_eq(queue_item_env(it)->last_error, "451 4.3.0 later");
	cr_assert_str_eq(queue_item_env(it)->remote_mta, "mx");
	queue_item_release(it);
	/* Not due yet for a periodic run, due later. */
	cr_assert_eq(outb_item_take(&ctx, id, true, &it, &kick), 0);
	ctx.now = T0 + 160;
	cr_assert_eq(outb_item_take(&ctx, id, true, &it, &kick), 1);
	queue_item_release(it);
	cr_assert_eq(outb_item_defer(&ctx, id, "connection refused", &kick), 0);
	cr_assert_eq(queue_lock(fx.q, id, &it), 1);
	cr_assert_eq(queue_item_env(it)->attempts, 2);
	cr_assert_eq(queue_item_env(it)->next_attempt, T0 + 160 + 120);
	queue_item_release(it);
	cr_assert_eq(kick, 0);
	free(id);
}

Test(outbound, expiry_with_injected_clock)
{
	struct outb_ctx ctx = { .cfg = fx.cfg, .q = fx.q, .now = T0 + 86399 };
	char *id = enqueue("a@example.test", "x@backup.test", NULL);
	struct queue_item *it;
	struct found f = { 0 };
	size_t count = 9;
	unsigned kick = 0;

	cr_assert_eq(outb_sweep_expired(&ctx, &count, &kick), 0);
	cr_assert_eq(count, 0, "one second before the lifetime");
	cr_assert_eq(queue_count(fx.q, "backup.test", false), 1);
	ctx.now = T0 + 86400;
	cr_assert_eq(outb_sweep_expired(&ctx, &count, &kick), 0);
	cr_assert_eq(count, 1);
	cr_assert_eq(queue_count(fx.q, "backup.test", false), 0);
	cr_assert_eq(queue_walk(fx.q, NULL, false, find_dsn, &f), 0);
	cr_assert_eq(f.n, 1);
	cr_assert_eq(outb_item_take(&ctx, id, false, &it, &kick), 0);
	free(id);
}

/* A verdict of the DNS for every pending recipient: 5xx bounces them
 * all in one DSN without a Remote-MTA, 4xx keeps them with its reply. */
static int find_dsn_id(const struct queue_env *env, void *arg)
{
	char *id = arg;

	if (env->sender[0] == '\0')
		memcpy(id, env->id, sizeof(env->id));
	return 0;
}

static char *read_fd(int fd)
{
	static char buf[65536];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	cr_assert(n > 0);
	buf[n] = '\0';
	return strdup(buf);
}

Test(outbound, reply_all_from_the_dns)
{
	struct outb_ctx ctx = { .cfg = fx.cfg, .q = fx.q, .now = T0 + 100 };
	char *id = enqueue("a@example.test", "x@backup.test", "y@backup.test");
	struct queue_item *it;
	char dsn[QUEUE_ID_MAX + 1] = "";
	unsigned kick = 0;
	char *text;

	cr_assert_eq(outb_item_reply_all(&ctx, id, 451,
		"451 4.4.3 Temporary DNS failure looking up the MX records of backup.test",
		&kick), 0);
	cr_assert_eq(queue_lock(fx.q, id, &it), 1);
	cr_assert_eq(queue_env_pending(queue_item_env(it)), 2);
	cr_assert_eq(queue_item_env(it)->attempts, 1);
	cr_assert_str_eq(queue_item_env(it)->rcpts[1].diag,
		"451 4.4.3 Temporary DNS failure looking up the MX records of backup.test");
	/* an earlier attempt's remote MTA */
	queue_env_set(&queue_item_env(it)->remote_mta, "old.mx.test");
	cr_assert_eq(queue_item_update(it), 0);
	queue_item_release(it);
	cr_assert_eq(outb_item_reply_all(&ctx, id, 556,
		"556 5.1.10 Recipient address has null MX", &kick), 0);
	cr_assert_eq(queue_count(fx.q, "backup.test", false), 0, "both bounced");
	cr_assert_eq(queue_walk(fx.q, NULL, false, find_dsn_id, dsn), 0);
	cr_assert_neq(dsn[0], '\0', "one DSN");
	cr_assert_eq(queue_lock(fx.q, dsn, &it), 1);
	text = read_fd(queue_item_fd(it));
	cr_assert_not_null(strstr(text, "Status: 5.1.10"), "%s", text);
	cr_assert_not_null(strstr(text, "Diagnostic-Code: smtp; 556 5.1.10 Recipient address has null MX"));
	cr_assert_null(strstr(text, "Remote-MTA"), "%s", text);
	cr_assert_not_null(strstr(text, "Final-Recipient: rfc822; x@backup.test"));
	cr_assert_not_null(strstr(text, "Final-Recipient: rfc822; y@backup.test"));
	free(text);
	queue_item_release(it);
	cr_assert(kick & OUTB_KICK_LOCAL);
	free(id);
}

Test(outbound, no_dsn_to_null_sender)
{
	struct outb_ctx ctx = { .cfg = fx.cfg, .q = fx.q, .now = T0 + 2 * 86400 };
	char *id = enqueue("", "x@backup.test", NULL);
	unsigned kick = 0;

	cr_assert_eq(outb_sweep_expired(&ctx, NULL, &kick), 0);
	cr_assert_eq(queue_count(fx.q, NULL, false), 0, "dropped, no DSN");
	cr_assert_eq(kick, 0);
	free(id);
}

Test(outbound, local_delivery_of_a_notification)
{
	struct outb_ctx ctx = { .cfg = fx.cfg, .q = fx.q, .now = T0 };
	struct userdb *db;
	char *users = tu_path(fx.dir, "users"), *id, *maildir;
	struct queue_env env;
	struct queue_tx *tx;
	unsigned kick = 0;

	tu_write_file(users, "alice@example.test:{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\n");
	cr_assert_eq(userdb_open(users, &db), 0);
	ctx.db = db;
	memset(&env, 0, sizeof(env));
	queue_env_set(&env.sender, "");
	queue_env_set(&env.domain, "example.test");
	env.arrival = env.next_attempt = T0;
	queue_env_add_rcpt(&env, "alice@example.test");
	queue_env_add_rcpt(&env, "ghost@example.test");
	cr_assert_eq(queue_tx_begin(fx.q, &tx), 0);
	cr_assert_eq(queue_tx_write(tx, "Subject: n\r\n\r\nx\r\n", 17), 0);
	cr_assert_eq(queue_tx_commit(tx, &env, 1), 0);
	id = strdup(env.id);
	queue_env_clear(&env);
	cr_assert_eq(outb_item_local(&ctx, id, false, &kick), 1);
	cr_assert_eq(queue_count(fx.q, NULL, false), 0,
		     "delivered, and the unknown user failed without a DSN");
	cr_assert(asprintf(&maildir, "%s/mail/example.test/alice/new", fx.dir) > 0);
	cr_assert_eq(tu_count_dir(maildir), 1);
	free(maildir);
	userdb_free(db);
	free(users);
	free(id);
}

/* The local route resolves aliases as RCPT does (rcpt_expand): an alias
 * reaches its users; one whose target is no user is a lookup failure
 * there (451), so the recipient stays queued here. */
Test(outbound, local_delivery_through_aliases)
{
	static const struct {
		const char *rcpt;
		int alice, bob; /* messages in each Maildir afterwards */
		size_t queued;
	} rows[] = {
		{ "team@example.test", 1, 1, 0 },
		{ "sales@example.test", 2, 1, 0 },
		{ "broken@example.test", 2, 1, 1 },
	};
	static const char users_text[] =
		"alice@example.test:{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\n"
		"bob@example.test:{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\n";
	static const char aliases_text[] =
		"team: alice, bob\nsales: alice\nbroken: ghost\n";
	struct outb_ctx ctx = { .cfg = fx.cfg, .q = fx.q, .now = T0 };
	char *users = tu_path(fx.dir, "users"), *err = NULL;
	struct aliases *al;
	struct userdb *db;

	tu_write_file(users, users_text);
	cr_assert_eq(userdb_open(users, &db), 0);
	cr_assert_eq(aliases_parse("aliases", aliases_text,
				   strlen(aliases_text), fx.cfg, &al, &err),
		     0, "%s", err);
	ctx.db = db;
	ctx.al = al;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct queue_env env;
		struct queue_tx *tx;
		unsigned kick = 0;
		char *dir;

		memset(&env, 0, sizeof(env));
		queue_env_set(&env.sender, "");
		queue_env_set(&env.domain, "example.test");
		env.arrival = env.next_attempt = T0;
		queue_env_add_rcpt(&env, rows[i].rcpt);
		cr_assert_eq(queue_tx_begin(fx.q, &tx), 0);
		cr_assert_eq(queue_tx_write(tx, "Subject: n\r\n\r\nx\r\n", 17), 0);
		cr_assert_eq(queue_tx_commit(tx, &env, 1), 0);
		cr_assert_eq(outb_item_local(&ctx, env.id, false, &kick), 1,
			     "%s", rows[i].rcpt);
		queue_env_clear(&env);
		cr_assert_eq(queue_count(fx.q, NULL, false), rows[i].queued,
			     "%s", rows[i].rcpt);
		cr_assert(asprintf(&dir, "%s/mail/example.test/alice/new", fx.dir) > 0);
		cr_assert_eq(tu_count_dir(dir), rows[i].alice, "%s", rows[i].rcpt);
		free(dir);
		cr_assert(asprintf(&dir, "%s/mail/example.test/bob/new", fx.dir) > 0);
		cr_assert_eq(tu_count_dir(dir), rows[i].bob, "%s", rows[i].rcpt);
		free(dir);
	}
	aliases_free(al);
	userdb_free(db);
	free(users);
}

Test(outbound, etrn_policy_and_replies)
{
	static const char conf[] =
		"data_dir /d\nuser_db /u\nlocal_domain example.test\n"
		"etrn_domain backup.test deliver_to client subdomains allow 192.0.2.0/24,::1 user office@example.test\n"
		"etrn_domain nobody.test deliver_to h.test\n";
	static const struct {
		const char *args, *client, *user;
		int ok, code;
		const char *enh, *text;
		const char *domain;
		bool sub;
	} rows[] = {
		{ "backup.test", "192.0.2.9", NULL, 1, 0, NULL, NULL, "backup.test", false },
		{ "BACKUP.Test.", "::1", NULL, 1, 0, NULL, NULL, "backup.test", false },
		{ "@backup.test", "192.0.2.9", NULL, 1, 0, NULL, NULL, "backup.test", true },
		{ "a.backup.test", "192.0.2.9", NULL, 1, 0, NULL, NULL, "a.backup.test", false },
		{ "backup.test", "203.0.113.5", "office@example.test", 1, 0, NULL, NULL, "backup.test", false },
		{ "backup.test", "203.0.113.5", NULL, 0, 459, "4.7.1", "Node backup.test not allowed: this client may not ask for it", NULL, false },
		{ "backup.test", "203.0.113.5", "bob@example.test", 0, 459, "4.7.1", "Node backup.test not allowed: this client may not ask for it", NULL, false },
		{ "nobody.test", "192.0.2.9", NULL, 0, 459, "4.7.1", "Node nobody.test not allowed: this client may not ask for it", NULL, false },
		{ "elsewhere.test", "192.0.2.9", NULL, 0, 459, "4.7.1", "Node elsewhere.test not allowed: mail for it is not held here", NULL, false },
		{ "", "192.0.2.9", NULL, 0, 501, "5.5.4", "Syntax: ETRN domain or ETRN @domain", NULL, false },
		{ "a b", "192.0.2.9", NULL, 0, 501, "5.5.4", "Syntax: ETRN domain or ETRN @domain", NULL, false },
		{ "bad..name", "192.0.2.9", NULL, 0, 501, "5.5.4", "Syntax error in parameters", NULL, false },
		{ "@", "192.0.2.9", NULL, 0, 501, "5.5.4", "Syntax error in parameters", NULL, false },
		{ "#holdq", "192.0.2.9", NULL, 0, 501, "5.5.4", "Queue names (#...) are not supported, use ETRN domain or ETRN @domain", NULL, false },
	};
	char *err = NULL;
	struct config *c = config_parse("e.conf", "/", conf, strlen(conf), &err);

	cr_assert_not_null(c, "%s", err);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct etrn_request req;
		struct etrn_reply rep;
		int ok = etrn_check(c, rows[i].args, rows[i].client, rows[i].user,
				    &req, &rep);

		cr_assert_eq(ok, rows[i].ok, "row %zu", i);
		if (ok) {
			cr_assert_str_eq(req.domain, rows[i].domain, "row %zu", i);
			cr_assert_eq(req.subdomains, rows[i].sub, "row %zu", i);
			cr_assert_not_null(req.entry);
		} else {
			cr_assert_eq(rep.code, rows[i].code, "row %zu", i);
			cr_assert_str_eq(rep.enh, rows[i].enh, "row %zu", i);
			cr_assert_str_eq(rep.text, rows[i].text, "row %zu", i);
		}
	}
	struct etrn_request req = { .domain = "backup.test" };
	struct etrn_reply rep;

	etrn_result(&req, false, false, 0, &rep);
	cr_assert_eq(rep.code, 251);
	cr_assert_str_eq(rep.text, "OK, no messages waiting for node backup.test");
	etrn_result(&req, false, false, 3, &rep);
	cr_assert_eq(rep.code, 253);
	cr_assert_str_eq(rep.enh, "2.0.0");
	cr_assert_str_eq(rep.text, "OK, 3 pending messages for node backup.test started");
	etrn_result(&req, false, true, 0, &rep);
	cr_assert_eq(rep.code, 250);
	cr_assert_str_eq(rep.text, "OK, queuing for node backup.test started");
	etrn_result(&req, true, false, 0, &rep);
	cr_assert_eq(rep.code, 458);
	cr_assert_str_eq(rep.enh, "4.3.0");
	cr_assert_str_eq(rep.text, "Unable to queue messages for node backup.test");
	config_free(c);
}

/* The relayhost's password, read by whoever builds a runner: its first
 * line; a file others may read, a missing or empty one, refused with the
 * relayhost line. */
Test(outbound, relay_password)
{
	static const struct {
		const char *content;
		mode_t mode;
		const char *want, *error;
	} rows[] = {
		{ "s3cret pw\r\nsecond line\n", 0600, "s3cret pw", NULL },
		{ "pw", 0400, "pw", NULL },
		{ "s3cret\n", 0644, NULL, "the password file is readable by" },
		{ "\nlater\n", 0600, NULL, "the first line (the password) is empty" },
		{ NULL, 0600, NULL, "No such file or directory" },
	};
	char *pwfile = tu_path(fx.dir, "relay.pw"), *text, *err = NULL, *pw;
	char msg[1024], prefix[64];
	struct config *c;

	pw = (char *)"not touched";
	cr_assert_eq(relay_password_read(fx.cfg, &pw, msg, sizeof(msg)), 0);
	cr_assert_null(pw, "no relayhost, no auth: no password");
	cr_assert(asprintf(&text, "data_dir /d\nuser_db /u\nlocal_domain example.test\n"
			   "relayhost smtp.isp.example:465 auth me %s\n", pwfile) > 0);
	c = config_parse("t.conf", "/", text, strlen(text), &err);
	cr_assert_not_null(c, "%s", err);
	snprintf(prefix, sizeof(prefix), "t.conf:4: relayhost: password_file ");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unlink(pwfile);
		if (rows[i].content != NULL) {
			tu_write_file(pwfile, rows[i].content);
			cr_assert_eq(chmod(pwfile, rows[i].mode), 0);
		}
		msg[0] = '\0';
		if (rows[i].want != NULL) {
			cr_assert_eq(relay_password_read(c, &pw, msg, sizeof(msg)),
				     0, "row %zu: %s", i, msg);
			cr_assert_str_eq(pw, rows[i].want, "row %zu", i);
			secret_free(pw);
			continue;
		}
		cr_assert_eq(relay_password_read(c, &pw, msg, sizeof(msg)), -1,
			     "row %zu", i);
		cr_assert_null(pw);
		cr_assert(strncmp(msg, prefix, strlen(prefix)) == 0 &&
				  strstr(msg, rows[i].error) != NULL,
			  "row %zu: %s", i, msg);
	}
	config_free(c);
	free(text);
	free(pwfile);
}
