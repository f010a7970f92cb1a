/* tests/test_dsn.c: the delivery status notifications of the queue (RFC
 * 3461 §6, RFC 3464) as a table of situations — what the sender asked
 * (NOTIFY, RET, ENVID, ORCPT), what happened (the next hop's reply, whether
 * it offers DSN, how long the message waited) — and the report that comes
 * of it (none, or its Action, Status, fields and returned part), through
 * the real queue steps (outbound/items.h) with an injected clock; then the
 * delivered report of the local route and the delay report sent once. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/users/userdb.h"
#include "outbound/items.h"
#include "store/queue.h"
#include "tests/helpers/queuefix.h"
#include "tests/helpers/testutil.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define T0 1700000000
#define HOUR 3600

static struct qf_fixture fx;

static void setup(void)
{
	qf_setup(&fx);
}

static void teardown(void)
{
	qf_teardown(&fx);
}

TestSuite(dsn, .init = setup, .fini = teardown);

/* What the sender asked for. */
struct ask {
	const char *sender;
	enum dsn_ret ret;
	const char *envid, *orcpt;
	unsigned notify;
	bool big;        /* a message over the 1 MiB cap */
	bool delay_sent; /* a delay report went out already */
};

static char *enqueue(const char *domain, const char *rcpt,
		     const struct ask *a)
{
	static const char head[] = "Subject: t\r\nFrom: a@example.test\r\n\r\n";
	struct queue_env env;
	struct queue_tx *tx;
	char *id, line[1000]; /* 1100 of them are over the 1 MiB cap */

	memset(&env, 0, sizeof(env));
	queue_env_set(&env.sender, a->sender);
	queue_env_set(&env.domain, domain);
	env.arrival = env.next_attempt = T0;
	env.ret = a->ret;
	queue_env_set(&env.envid, a->envid);
	queue_env_add_rcpt(&env, rcpt);
	env.rcpts[0].notify = a->notify;
	env.rcpts[0].delay_sent = a->delay_sent;
	queue_env_set(&env.rcpts[0].orcpt, a->orcpt);
	cr_assert_eq(queue_tx_begin(fx.q, &tx), 0);
	cr_assert_eq(queue_tx_write(tx, head, strlen(head)), 0);
	memset(line, 'x', sizeof(line));
	memcpy(line, "the body, a line", 16);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	for (int i = 0; i < (a->big ? 1100 : 1); i++)
		cr_assert_eq(queue_tx_write(tx, line, sizeof(line)), 0);
	cr_assert_eq(queue_tx_commit(tx, &env, 1), 0);
	id = strdup(env.id);
	queue_env_clear(&env);
	return id;
}

/* The reports in the queue (items from <>), the first one's text. */
struct reports {
	int n;
	char *text;
};

static int find_report(const struct queue_env *env, void *arg)
{
	struct reports *r = arg;
	struct queue_item *it;
	uint64_t size;

	/* A report is from <> to the sender of the situations. */
	if (env->sender[0] != '\0' ||
	    strcmp(env->rcpts[0].addr, "a@example.test") != 0)
		return 0;
	if (r->n++ > 0)
		return 0;
	cr_assert_eq(queue_lock(fx.q, env->id, &it), 1);
	size = queue_item_size(it);
	r->text = calloc(1, size + 1);
	cr_assert_eq(pread(queue_item_fd(it), r->text, size, 0), (ssize_t)size);
	queue_item_release(it);
	return 0;
}

static struct reports reports(void)
{
	struct reports r = { 0, NULL };

	cr_assert_eq(queue_walk(fx.q, NULL, false, find_report, &r), 0);
	return r;
}

static void remove_all(void)
{
	char *cmd;

	cr_assert(asprintf(&cmd, "rm -rf %s/queue/items/*", fx.dir) > 0);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
}

Test(dsn, situations)
{
	static const struct {
		const char *name;
		struct ask ask;
		int code;          /* the next hop's reply to the RCPT */
		bool hop_dsn;      /* it offers DSN */
		time_t after;      /* when, after the arrival */
		const char *want[8]; /* in the report; {NULL}: no report */
		const char *absent;  /* not in it */
	} rows[] = {
		{ "failure, no NOTIFY: failed, whole message back",
		  { .sender = "a@example.test" }, 550, false, 60,
		  { "Action: failed\r\nStatus: 5.1.1\r\n",
		    "Diagnostic-Code: smtp; 550 5.1.1 unknown\r\n",
		    "Remote-MTA: dns; mx.backup.test\r\n",
		    "Content-Type: message/rfc822\r\n\r\nSubject: t\r\n",
		    "the body, a line", NULL },
		  "Original-" },
		{ "failure, NOTIFY=FAILURE RET=HDRS: headers only",
		  { .sender = "a@example.test", .ret = DSN_RET_HDRS, .notify = DSN_NOTIFY_FAILURE },
		  550, false, 60,
		  { "Action: failed\r\n",
		    "Content-Type: text/rfc822-headers\r\n\r\nSubject: t\r\n"
		    "From: a@example.test\r\n\r\n--", NULL },
		  "the body" },
		{ "failure, ENVID and ORCPT: given back",
		  { .sender = "a@example.test", .ret = DSN_RET_FULL, .envid = "QQ+2B1",
		    .orcpt = "rfc822;x+2Btag@backup.test",
		    .notify = DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY },
		  550, false, 60,
		  { "Original-Envelope-Id: QQ+2B1\r\nReporting-MTA: dns; mx.example.test\r\n",
		    "\r\nOriginal-Recipient: rfc822;x+tag@backup.test\r\n"
		    "Final-Recipient: rfc822; x@backup.test\r\n", NULL },
		  NULL },
		{ "failure, NOTIFY=NEVER: none",
		  { .sender = "a@example.test", .notify = DSN_NOTIFY_NEVER }, 550, false, 60,
		  { NULL }, NULL },
		{ "failure, NOTIFY=SUCCESS,DELAY: none",
		  { .sender = "a@example.test", .notify = DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY },
		  550, false, 60, { NULL }, NULL },
		{ "failure, sender <>: none",
		  { .sender = "" }, 550, false, 60, { NULL }, NULL },
		{ "RET=FULL over the cap: headers, and part 1 says so",
		  { .sender = "a@example.test", .ret = DSN_RET_FULL, .big = true }, 550, false, 60,
		  { "larger than 1024 KiB, so only its header\r\nsection is returned",
		    "Content-Type: text/rfc822-headers\r\n", NULL },
		  "the body" },
		{ "accepted, NOTIFY=SUCCESS, no DSN beyond: relayed",
		  { .sender = "a@example.test", .notify = DSN_NOTIFY_SUCCESS }, 250, false, 60,
		  { "Subject: Successful Mail Delivery Report\r\n",
		    "Action: relayed\r\nStatus: 2.0.0\r\nRemote-MTA: dns; mx.backup.test\r\n"
		    "Diagnostic-Code: smtp; 250 2.0.0 ok\r\n",
		    "Content-Type: text/rfc822-headers\r\n", NULL },
		  "Will-Retry-Until" },
		{ "accepted, NOTIFY=SUCCESS, DSN beyond: passed on, none",
		  { .sender = "a@example.test", .notify = DSN_NOTIFY_SUCCESS }, 250, true, 60,
		  { NULL }, NULL },
		{ "accepted, no NOTIFY: none",
		  { .sender = "a@example.test" }, 250, false, 60, { NULL }, NULL },
		{ "4xx after queue_delay_warning, no NOTIFY: delayed",
		  { .sender = "a@example.test", .envid = "E1" }, 451, false, 4 * HOUR,
		  { "Subject: Delayed Mail (still being retried)\r\n",
		    "Original-Envelope-Id: E1\r\n",
		    "Action: delayed\r\nStatus: 4.3.0\r\n",
		    "Will-Retry-Until: Wed, 15 Nov 2023 22:13:20 +0000\r\n",
		    "Delivery will be tried until Wed, 15 Nov 2023 22:13:20 +0000.",
		    "Content-Type: text/rfc822-headers\r\n" },
		  "the body" },
		{ "4xx after the warning time, NOTIFY=DELAY: delayed",
		  { .sender = "a@example.test", .notify = DSN_NOTIFY_DELAY }, 451, false,
		  5 * HOUR, { "Action: delayed\r\n", NULL }, NULL },
		{ "4xx after the warning time, NOTIFY=FAILURE: none",
		  { .sender = "a@example.test", .notify = DSN_NOTIFY_FAILURE }, 451, false,
		  5 * HOUR, { NULL }, NULL },
		{ "4xx after the warning time, one sent before: none",
		  { .sender = "a@example.test", .delay_sent = true }, 451, false, 5 * HOUR,
		  { NULL }, NULL },
		{ "4xx before the warning time: none",
		  { .sender = "a@example.test" }, 451, false, 4 * HOUR - 1, { NULL }, NULL },
		{ "4xx after the warning time, sender <>: none",
		  { .sender = "" }, 451, false, 5 * HOUR, { NULL }, NULL },
	};

	for (size_t i = 0; i < N(rows); i++) {
		struct outb_ctx ctx = { .cfg = fx.cfg, .q = fx.q,
					.now = T0 + rows[i].after,
					.next_hop_dsn = rows[i].hop_dsn };
		char *id = enqueue("backup.test", "x@backup.test", &rows[i].ask);
		struct smtpc_reply r = { .code = rows[i].code };
		size_t map = 0;
		struct queue_item *it;
		struct reports got;
		unsigned kick = 0;

		snprintf(r.text, sizeof(r.text), "%d %s", rows[i].code,
			 rows[i].code == 250   ? "2.0.0 ok"
			 : rows[i].code == 550 ? "5.1.1 unknown"
					       : "4.3.0 later");
		cr_assert_eq(outb_item_take(&ctx, id, false, &it, &kick), 1,
			     "%s", rows[i].name);
		cr_assert_eq(outb_item_record(&ctx, it, &map, &r, 1,
					      "mx.backup.test", &kick), 0,
			     "%s", rows[i].name);
		got = reports();
		if (rows[i].want[0] == NULL) {
			cr_assert_eq(got.n, 0, "%s: a report\n%s", rows[i].name,
				     got.text);
		} else {
			cr_assert_eq(got.n, 1, "%s", rows[i].name);
			for (size_t k = 0; rows[i].want[k] != NULL; k++)
				cr_assert_not_null(strstr(got.text, rows[i].want[k]),
						   "%s: no\n%s\nin\n%s", rows[i].name,
						   rows[i].want[k], got.text);
			if (rows[i].absent != NULL)
				cr_assert_null(strstr(got.text, rows[i].absent),
					       "%s: %s in\n%s", rows[i].name,
					       rows[i].absent, got.text);
			cr_assert(kick & OUTB_KICK_LOCAL, "%s", rows[i].name);
		}
		free(got.text);
		free(id);
		remove_all();
	}
}

/* Still waiting after queue_delay_warning: one delayed report, recorded
 * in the envelope, never a second; 0 turns them off. */
Test(dsn, delay_report_once)
{
	struct outb_ctx ctx = { .cfg = fx.cfg, .q = fx.q, .now = T0 + 5 * HOUR };
	struct ask ask = { .sender = "a@example.test" };
	char *id = enqueue("backup.test", "x@backup.test", &ask);
	struct queue_item *it;
	unsigned kick = 0;

	cr_assert_eq(outb_item_defer(&ctx, id, "connect: refused", &kick), 0);
	cr_assert_eq(reports().n, 1);
	cr_assert_eq(queue_lock(fx.q, id, &it), 1);
	cr_assert(queue_item_env(it)->rcpts[0].delay_sent);
	queue_item_release(it);
	ctx.now += HOUR;
	cr_assert_eq(outb_item_defer(&ctx, id, "connect: refused", &kick), 0);
	cr_assert_eq(reports().n, 1, "a second delayed report");
	free(id);
	remove_all();

	fx.cfg->queue_delay_warning = 0;
	id = enqueue("backup.test", "x@backup.test", &ask);
	cr_assert_eq(outb_item_defer(&ctx, id, "connect: refused", &kick), 0);
	cr_assert_eq(reports().n, 0, "queue_delay_warning 0");
	free(id);
}

/* The local route: NOTIFY=SUCCESS gets "delivered" once the Maildir has
 * it (RFC 3461 §6.2); without it, no report. */
Test(dsn, local_delivery_reported)
{
	struct outb_ctx ctx = { .cfg = fx.cfg, .q = fx.q, .now = T0 };
	char *users = tu_path(fx.dir, "users"), *id;
	struct ask ask = { .sender = "a@example.test", .notify = DSN_NOTIFY_SUCCESS,
			   .orcpt = "rfc822;alice@example.test" };
	struct userdb *db;
	struct reports got;
	unsigned kick = 0;

	tu_write_file(users, "alice@example.test:x\n");
	cr_assert_eq(userdb_open(users, &db), 0);
	ctx.db = db;
	id = enqueue("example.test", "alice@example.test", &ask);
	cr_assert_eq(outb_item_local(&ctx, id, false, &kick), 1);
	got = reports();
	cr_assert_eq(got.n, 1);
	cr_assert_not_null(strstr(got.text,
				  "Original-Recipient: rfc822;alice@example.test\r\n"
				  "Final-Recipient: rfc822; alice@example.test\r\n"
				  "Action: delivered\r\nStatus: 2.0.0\r\n"),
			   "%s", got.text);
	cr_assert_null(strstr(got.text, "Remote-MTA"), "%s", got.text);
	/* RFC 3461 §4.3: the whole message only in a failed report. */
	cr_assert_not_null(strstr(got.text, "Content-Type: text/rfc822-headers\r\n"));
	cr_assert_null(strstr(got.text, "the body"));
	free(got.text);
	free(id);
	remove_all();

	ask.notify = DSN_NOTIFY_FAILURE;
	id = enqueue("example.test", "alice@example.test", &ask);
	cr_assert_eq(outb_item_local(&ctx, id, false, &kick), 1);
	cr_assert_eq(reports().n, 0);
	free(id);
	userdb_free(db);
	free(users);
}
