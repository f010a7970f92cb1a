/* tests/test_pipeline.c: the message pipeline (pipeline/pipeline.h) — a
 * stage list with a test stage that rejects, tempfails, discards and
 * waits; the routing table through pipe_tx_rcpt; the Maildir and queue
 * sinks, with failing commits that leave nothing behind and answer per
 * recipient; content no stage changes written once, without a copy;
 * Return-Path from the Maildir sink only; the quota stage and the commit
 * on a real io pool. This suite supplies its own stage list: the test
 * stage first, then the real ones (stage_list is the one function of
 * pipeline/stages.c, so the library's list is not linked in). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config/config.h"
#include "common/config/config_load.h"
#include "common/net/worker.h"
#include "common/users/userdb.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"
#include "store/maildir.h"
#include "store/queue.h"
#include "tests/helpers/testutil.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the test stage ---- */

enum { AT_MAIL, AT_RCPT, AT_BEGIN, AT_CONTENT, AT_END, AT_N };

static struct {
	int verdict[AT_N];        /* what each hook returns */
	struct pipe_tx *waiting;  /* the tx a WAIT left */
	struct pipe_reply *wait_reply; /* where its verdict's reply goes */
	const char *content_seen; /* the last content pointer it got */
	size_t content_calls;
	bool active;              /* wants: take part at all */
} ts;

static int test_hook(struct pipe_tx *tx, int at, struct pipe_reply *r)
{
	int v = ts.verdict[at];

	if (v == STAGE_WAIT) {
		ts.waiting = tx;
		ts.wait_reply = r;
	}
	if (v == STAGE_REJECT)
		return stage_reply(r, v, 550, "5.7.0", "test stage refuses");
	if (v == STAGE_TEMPFAIL)
		return stage_reply(r, v, 451, "4.7.0", "test stage defers");
	return v;
}

static bool t_wants(struct pipe_tx *tx)
{
	(void)tx;
	return ts.active;
}

static int t_mail(struct pipe_tx *tx, void **st, struct pipe_reply *r)
{
	(void)st;
	return test_hook(tx, AT_MAIL, r);
}

static int t_rcpt(struct pipe_tx *tx, void **st, struct pipe_rcpt *rcpt,
		  struct pipe_reply *r)
{
	(void)st;
	(void)rcpt;
	return test_hook(tx, AT_RCPT, r);
}

static int t_begin(struct pipe_tx *tx, void **st, struct stage_out *out,
		   struct pipe_reply *r)
{
	(void)st;
	(void)out;
	return test_hook(tx, AT_BEGIN, r);
}

static int t_content(struct pipe_tx *tx, void **st, const char *buf,
		     size_t len, struct stage_out *out, struct pipe_reply *r)
{
	(void)st;
	ts.content_seen = buf;
	ts.content_calls++;
	stage_out_write(out, buf, len);
	return test_hook(tx, AT_CONTENT, r);
}

static int t_end(struct pipe_tx *tx, void **st, struct stage_out *out,
		 struct pipe_reply *r)
{
	(void)st;
	(void)out;
	return test_hook(tx, AT_END, r);
}

static const struct stage stage_test = {
	.name = "test",
	.wants = t_wants,
	.mail = t_mail,
	.rcpt = t_rcpt,
	.begin = t_begin,
	.content = t_content,
	.end = t_end,
};

extern const struct stage stage_size, stage_sender, stage_quota,
	stage_hops, stage_received, stage_submit;

/* The real stages, then the test stage: its content hook sees what the
 * real ones passed on. */
const struct stage *const *stage_list(void)
{
	static const struct stage *const list[] = {
		&stage_size, &stage_sender, &stage_quota, &stage_hops,
		&stage_received, &stage_submit, &stage_test, NULL,
	};

	return list;
}

/* ---- fixture ---- */

static char *dir, *data;
static struct config *cfg;
static struct userdb *db;
static struct queue *q;
static struct pipe_env env;
static int callbacks;

static void on_done(struct pipe_tx *tx, void *arg)
{
	(void)tx;
	(void)arg;
	callbacks++;
}

static void load_config(const char *extra)
{
	char *text = NULL, *err = NULL;

	config_free(cfg);
	cr_assert_geq(asprintf(&text,
			       "hostname mx.example.test\ndata_dir %s\n"
			       "user_db users\nlocal_domain example.test\n"
			       "etrn_domain backup.test deliver_to 127.0.0.1:1\n"
			       "relayhost smtp.provider.example:587\n%s",
			       data, extra != NULL ? extra : ""), 0);
	cfg = config_parse("t.conf", dir, text, strlen(text), &err);
	cr_assert_not_null(cfg, "%s", err != NULL ? err : "");
	free(text);
	env.cfg = cfg;
}

static void setup(void)
{
	char *users;

	memset(&ts, 0, sizeof(ts));
	ts.active = true;
	callbacks = 0;
	dir = tu_tmpdir();
	data = tu_path(dir, "data");
	cr_assert_eq(mkdir(data, 0700), 0);
	load_config(NULL);
	users = tu_path(dir, "users");
	tu_write_file(users, "alice@example.test:x\nbob@example.test:x\n");
	cr_assert_eq(userdb_open(users, &db), 0);
	free(users);
	cr_assert_eq(queue_open(data, "mx.example.test", &q), 0);
	env = (struct pipe_env){ .cfg = cfg, .db = db, .queue = q };
}

static void teardown(void)
{
	queue_free(q);
	userdb_free(db);
	config_free(cfg);
	cfg = NULL;
	tu_rmrf(dir);
	free(dir);
	free(data);
}

TestSuite(pipeline, .init = setup, .fini = teardown);

static struct pipe_tx *new_tx(enum pipe_origin origin, const char *login)
{
	struct pipe_client c = { .addr = "192.0.2.7", .helo = "client.example",
				 .esmtp = true };
	struct pipe_facts f = { origin, &c, "test" };
	struct pipe_tx *tx;

	if (login != NULL)
		snprintf(c.login, sizeof(c.login), "%s", login);
	tx = pipe_tx_new(&env, &f, on_done, NULL);
	cr_assert_not_null(tx);
	return tx;
}

static int mail(struct pipe_tx *tx, const char *addr)
{
	struct addr_path p;

	cr_assert_eq(addr_parse_path(addr, strlen(addr), ADDR_OPT_POSTMASTER,
				     &p, NULL), 0, "%s", addr);
	return pipe_tx_mail(tx, &p, NULL);
}

static int rcpt(struct pipe_tx *tx, const char *addr)
{
	struct addr_path p;

	cr_assert_eq(addr_parse_path(addr, strlen(addr), ADDR_OPT_POSTMASTER,
				     &p, NULL), 0, "%s", addr);
	return pipe_tx_rcpt(tx, &p);
}

static int code(struct pipe_tx *tx)
{
	return pipe_tx_reply(tx)->code;
}

/* Files in the new/ (or tmp/) of a user's Maildir; -1 when missing. */
static int count(const char *local, const char *sub)
{
	char *p = NULL;
	int n;

	cr_assert_geq(asprintf(&p, "%s/mail/example.test/%s/%s", data, local,
			       sub), 0);
	n = tu_count_dir(p);
	free(p);
	return n;
}

/* The one message in a user's new/ (heap). */
static char *stored(const char *local)
{
	char *p = NULL, *path, *text;
	struct dirent *de;
	DIR *d;

	cr_assert_geq(asprintf(&p, "%s/mail/example.test/%s/new", data,
			       local), 0);
	d = opendir(p);
	cr_assert_not_null(d, "%s", p);
	while ((de = readdir(d)) != NULL && de->d_name[0] == '.')
		;
	cr_assert_not_null(de, "nothing in %s", p);
	path = tu_path(p, de->d_name);
	closedir(d);
	text = tu_read_file(path, NULL);
	cr_assert_not_null(text);
	free(path);
	free(p);
	return text;
}

/* Send one whole message: MAIL, each RCPT (all accepted), content, end.
 * Returns the end's reply code; tx is the caller's to free. */
static int send_all(struct pipe_tx *tx, const char *from,
		    const char *const *to, const char *content)
{
	cr_assert_eq(mail(tx, from), PIPE_DONE);
	cr_assert_eq(code(tx), 250, "MAIL: %s", pipe_tx_reply(tx)->text);
	for (size_t i = 0; to[i] != NULL; i++) {
		cr_assert_eq(rcpt(tx, to[i]), PIPE_DONE);
		cr_assert_eq(code(tx), 250, "RCPT %s: %d %s", to[i], code(tx),
			     pipe_tx_reply(tx)->text);
	}
	cr_assert_eq(pipe_tx_begin(tx, "id1"), PIPE_DONE);
	if (code(tx) >= 300)
		return code(tx);
	pipe_tx_write(tx, content, strlen(content));
	cr_assert_eq(pipe_tx_end(tx), PIPE_DONE);
	return code(tx);
}

/* ---- stages ---- */

/* Each step refused by the test stage, with the reply it gave; nothing
 * stored. */
Test(pipeline, stage_verdicts_per_step)
{
	static const struct {
		int at, verdict, code;
	} rows[] = {
		{ AT_MAIL, STAGE_REJECT, 550 },
		{ AT_MAIL, STAGE_TEMPFAIL, 451 },
		{ AT_RCPT, STAGE_REJECT, 550 },
		{ AT_RCPT, STAGE_TEMPFAIL, 451 },
		{ AT_BEGIN, STAGE_REJECT, 550 },
		{ AT_CONTENT, STAGE_REJECT, 550 },
		{ AT_CONTENT, STAGE_TEMPFAIL, 451 },
		{ AT_END, STAGE_REJECT, 550 },
		{ AT_END, STAGE_TEMPFAIL, 451 },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct pipe_tx *tx = new_tx(PIPE_MX, NULL);
		int got = 0;

		memset(ts.verdict, 0, sizeof(ts.verdict));
		ts.verdict[rows[i].at] = rows[i].verdict;
		mail(tx, "<a@b.example>");
		if (rows[i].at == AT_MAIL) {
			got = code(tx);
		} else {
			rcpt(tx, "<alice@example.test>");
			if (rows[i].at == AT_RCPT) {
				got = code(tx);
				cr_expect_eq(pipe_tx_msg(tx)->n_rcpts, 0,
					     "row %zu: a refused recipient was added", i);
			} else {
				pipe_tx_begin(tx, "id");
				got = code(tx);
				if (rows[i].at != AT_BEGIN) {
					pipe_tx_write(tx, "x\r\n", 3);
					pipe_tx_end(tx);
					got = code(tx);
					cr_expect_eq(pipe_tx_msg(tx)->rcpts[0].state,
						     rows[i].verdict == STAGE_REJECT
							     ? PIPE_RCPT_REJECTED
							     : PIPE_RCPT_TEMPFAIL,
						     "row %zu", i);
				}
			}
		}
		cr_expect_eq(got, rows[i].code, "row %zu: %d %s", i, got,
			     pipe_tx_reply(tx)->text);
		cr_expect_str_eq(pipe_tx_reply(tx)->text,
				 rows[i].code == 550 ? "test stage refuses"
						     : "test stage defers",
				 "row %zu", i);
		pipe_tx_free(tx);
		cr_expect_leq(count("alice", "new"), 0, "row %zu stored", i);
	}
	cr_expect_eq(callbacks, 0, "nothing waited");
}

/* DISCARD: accepted (250), dropped, nothing stored. */
Test(pipeline, stage_discards)
{
	static const int ats[] = { AT_MAIL, AT_RCPT, AT_CONTENT, AT_END };

	for (size_t i = 0; i < N_ROWS(ats); i++) {
		struct pipe_tx *tx = new_tx(PIPE_MX, NULL);

		memset(ts.verdict, 0, sizeof(ts.verdict));
		ts.verdict[ats[i]] = STAGE_DISCARD;
		cr_expect_eq(send_all(tx, "<a@b.example>",
				      (const char *const[]){
					      "<alice@example.test>", NULL },
				      "Subject: x\r\n\r\nbody\r\n"),
			     250, "row %zu", i);
		cr_expect_eq(pipe_tx_msg(tx)->rcpts[0].state,
			     PIPE_RCPT_DISCARDED, "row %zu", i);
		pipe_tx_free(tx);
		cr_expect_leq(count("alice", "new"), 0, "row %zu stored", i);
	}
}

/* WAIT suspends the step; pipe_stage_done finishes it and calls back. */
Test(pipeline, stage_waits)
{
	struct pipe_tx *tx = new_tx(PIPE_MX, NULL);

	ts.verdict[AT_RCPT] = STAGE_WAIT;
	mail(tx, "<a@b.example>");
	cr_assert_eq(rcpt(tx, "<alice@example.test>"), PIPE_WAIT);
	cr_assert_eq(ts.waiting, tx);
	cr_expect_eq(callbacks, 0);
	pipe_stage_done(tx, STAGE_CONTINUE);
	cr_expect_eq(callbacks, 1);
	cr_expect_eq(code(tx), 250);
	cr_expect_eq(pipe_tx_msg(tx)->n_rcpts, 1);

	/* A wait that ends in a refusal: the recipient is not added. */
	cr_assert_eq(rcpt(tx, "<bob@example.test>"), PIPE_WAIT);
	pipe_stage_done(tx, stage_reply(ts.wait_reply, STAGE_TEMPFAIL, 452,
					"4.2.2", "Mailbox full, try again later"));
	cr_expect_eq(callbacks, 2);
	cr_expect_eq(code(tx), 452);
	cr_expect_eq(pipe_tx_msg(tx)->n_rcpts, 1);

	/* And at the end: the commit follows the wait. */
	ts.verdict[AT_RCPT] = STAGE_CONTINUE;
	ts.verdict[AT_END] = STAGE_WAIT;
	cr_assert_eq(pipe_tx_begin(tx, "id"), PIPE_DONE);
	pipe_tx_write(tx, "x\r\n", 3);
	cr_assert_eq(pipe_tx_end(tx), PIPE_WAIT);
	cr_expect_leq(count("alice", "new"), 0, "stored before the stage said");
	pipe_stage_done(tx, STAGE_CONTINUE);
	cr_expect_eq(callbacks, 3);
	cr_expect_eq(code(tx), 250, "%s", pipe_tx_reply(tx)->text);
	cr_expect_eq(count("alice", "new"), 1);
	pipe_tx_free(tx);
}

/* ---- routing ---- */

Test(pipeline, routing_table)
{
	static const struct {
		const char *addr;
		bool login;
		int code;
		enum pipe_route route;
		const char *keys;
	} rows[] = {
		{ "<alice@example.test>", false, 250, PIPE_ROUTE_LOCAL, "alice@example.test" },
		{ "<Alice+tag@EXAMPLE.test>", false, 250, PIPE_ROUTE_LOCAL, "alice@example.test" },
		{ "<postmaster>", false, 250, PIPE_ROUTE_LOCAL, "postmaster@example.test" },
		{ "<nobody@example.test>", false, 550, PIPE_ROUTE_NONE, "" },
		{ "<anyone@backup.test>", false, 250, PIPE_ROUTE_HELD, "" },
		{ "<a%b@backup.test>", false, 550, PIPE_ROUTE_NONE, "" },
		{ "<victim@elsewhere.test>", false, 554, PIPE_ROUTE_NONE, "" },
		{ "<victim@elsewhere.test>", true, 250, PIPE_ROUTE_RELAY, "" },
		{ "<victim@[192.0.2.1]>", true, 554, PIPE_ROUTE_NONE, "" },
		{ "<victim%elsewhere.test@example.test>", true, 550, PIPE_ROUTE_NONE, "" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct pipe_tx *tx = new_tx(rows[i].login ? PIPE_SUBMISSION
							  : PIPE_MX,
					    rows[i].login ? "alice@example.test"
							  : NULL);
		const struct pipe_msg *m = pipe_tx_msg(tx);
		char keys[256] = "";

		mail(tx, rows[i].login ? "<alice@example.test>" : "<a@b.example>");
		cr_assert_eq(code(tx), 250, "row %zu: MAIL %s", i,
			     pipe_tx_reply(tx)->text);
		rcpt(tx, rows[i].addr);
		cr_expect_eq(code(tx), rows[i].code, "row %zu %s: %d %s", i,
			     rows[i].addr, code(tx), pipe_tx_reply(tx)->text);
		if (rows[i].route == PIPE_ROUTE_NONE) {
			cr_expect_eq(m->n_rcpts, 0, "row %zu", i);
		} else {
			cr_assert_eq(m->n_rcpts, 1, "row %zu", i);
			cr_expect_eq(m->rcpts[0].route, rows[i].route, "row %zu", i);
			for (size_t k = 0; k < m->rcpts[0].n_targets; k++)
				strcat(keys, m->rcpts[0].targets[k].key);
		}
		cr_expect_str_eq(keys, rows[i].keys, "row %zu", i);
		pipe_tx_free(tx);
	}
}

/* ---- sinks ---- */

/* Content no stage changes reaches the last stage as the caller's own
 * buffer (no copy) and is stored once, after Return-Path and Received. */
Test(pipeline, content_written_once)
{
	static const char content[] = "Subject: once\r\n\r\nonly once\r\n";
	struct pipe_tx *tx = new_tx(PIPE_MX, NULL);
	char *m;

	cr_assert_eq(mail(tx, "<a@b.example>"), PIPE_DONE);
	cr_assert_eq(rcpt(tx, "<alice@example.test>"), PIPE_DONE);
	cr_assert_eq(pipe_tx_begin(tx, "id1"), PIPE_DONE);
	pipe_tx_write(tx, content, sizeof(content) - 1);
	cr_expect_eq(ts.content_seen, content, "the content was copied");
	cr_expect_eq(ts.content_calls, 1);
	cr_assert_eq(pipe_tx_end(tx), PIPE_DONE);
	cr_assert_eq(code(tx), 250, "%s", pipe_tx_reply(tx)->text);
	pipe_tx_free(tx);
	m = stored("alice");
	cr_expect(strncmp(m, "Return-Path: <a@b.example>\r\nReceived: from client.example ([192.0.2.7])", 71) == 0, "%s", m);
	cr_expect_str_eq(strstr(m, "Subject:"), content);
	cr_expect_null(strstr(strstr(m, "only once") + 1, "only once"));
	free(m);
}

/* The queue sink: no Return-Path (RFC 5321 §4.4); the local recipient of
 * the same message becomes a local item of the one commit. */
Test(pipeline, return_path_only_in_the_maildir_sink)
{
	struct pipe_tx *tx = new_tx(PIPE_MX, NULL);
	char *items, *msgs = NULL;
	FILE *f;

	cr_assert_eq(send_all(tx, "<a@b.example>",
			      (const char *const[]){ "<x@backup.test>",
						     "<alice@example.test>", NULL },
			      "Subject: q\r\n\r\nbody\r\n"), 250,
		     "%s", pipe_tx_reply(tx)->text);
	cr_expect_eq(count("alice", "new"), -1, "a Maildir copy besides the queue");
	cr_expect_not_null(strstr(pipe_tx_stored(tx), "queue:"));
	pipe_tx_free(tx);
	cr_expect_eq(queue_count(q, NULL, false), 2);
	items = tu_path(data, "queue/items");
	cr_assert_geq(asprintf(&msgs, "cat %s/*/msg", items), 0);
	f = popen(msgs, "r");
	cr_assert_not_null(f);
	{
		char buf[8192];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = '\0';
		cr_expect_null(strstr(buf, "Return-Path"), "%s", buf);
		cr_expect_not_null(strstr(buf, "Received: from client.example"));
	}
	pclose(f);
	free(msgs);
	free(items);

	/* Final delivery writes it, the null sender too. */
	tx = new_tx(PIPE_MX, NULL);
	cr_assert_eq(send_all(tx, "<>", (const char *const[]){
				      "<bob@example.test>", NULL },
			      "x\r\n"), 250);
	pipe_tx_free(tx);
	msgs = stored("bob");
	cr_expect(strncmp(msgs, "Return-Path: <>\r\n", 17) == 0, "%s", msgs);
	free(msgs);
}

/* A Maildir commit that fails for one recipient stores nothing for any:
 * the one it failed for gets the store's reply, the others a temporary
 * failure; no file is left in any new/ or tmp/. */
Test(pipeline, maildir_commit_failure_leaves_nothing)
{
	char *bob = NULL;
	struct pipe_tx *tx;
	const struct pipe_msg *m;
	const char *failed;

	/* A file where bob's Maildir should be. */
	cr_assert_geq(asprintf(&bob, "%s/mail/example.test", data), 0);
	tu_mkdirs((const char *const[]){ bob, NULL });
	free(bob);
	cr_assert_geq(asprintf(&bob, "%s/mail/example.test/bob", data), 0);
	tu_write_file(bob, "in the way\n");
	free(bob);
	tx = new_tx(PIPE_MX, NULL);
	cr_expect_eq(send_all(tx, "<a@b.example>",
			      (const char *const[]){ "<alice@example.test>",
						     "<bob@example.test>", NULL },
			      "x\r\n"), 451);
	m = pipe_tx_msg(tx);
	cr_expect_eq(pipe_tx_store_result(tx, &failed), MD_ERR_IO);
	cr_expect_str_eq(failed, "bob@example.test");
	cr_expect_eq(m->rcpts[1].state, PIPE_RCPT_TEMPFAIL);
	cr_expect_eq(m->rcpts[1].reply.code, 451);
	cr_expect_eq(m->rcpts[0].state, PIPE_RCPT_TEMPFAIL);
	cr_expect_str_eq(m->rcpts[0].reply.text,
			 "Not stored: another recipient failed, try again later");
	pipe_tx_free(tx);
	cr_expect_leq(count("alice", "new"), 0);
	cr_expect_leq(count("alice", "tmp"), 0);
}

/* Over quota at the commit: 452 4.2.2 for that user (552 5.2.2 when the
 * quota is permanent), nothing stored for the other. */
Test(pipeline, maildir_quota_at_commit)
{
	static const struct {
		const char *extra;
		int code;
		enum pipe_rcpt_state state;
	} rows[] = {
		{ "quota_messages 1\n", 452, PIPE_RCPT_TEMPFAIL },
		{ "quota_messages 1\nquota_permanent yes\n", 552, PIPE_RCPT_REJECTED },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct pipe_tx *tx;
		const struct pipe_msg *m;

		load_config(rows[i].extra);
		tx = new_tx(PIPE_DELIVER, NULL);
		cr_assert_eq(send_all(tx, "<a@b.example>", (const char *const[]){
					      "<alice@example.test>", NULL },
				      "one\r\n"), 250, "row %zu", i);
		pipe_tx_free(tx);
		tx = new_tx(PIPE_DELIVER, NULL);
		cr_expect_eq(send_all(tx, "<a@b.example>", (const char *const[]){
					      "<bob@example.test>",
					      "<alice@example.test>", NULL },
				      "two\r\n"), rows[i].code, "row %zu", i);
		m = pipe_tx_msg(tx);
		cr_expect_eq(m->rcpts[1].state, rows[i].state, "row %zu", i);
		cr_expect_eq(m->rcpts[0].state, PIPE_RCPT_TEMPFAIL, "row %zu", i);
		pipe_tx_free(tx);
		cr_expect_eq(count("alice", "new"), 1, "row %zu", i);
		cr_expect_leq(count("bob", "new"), 0, "row %zu", i);
		tu_rmrf(data);
		cr_assert_eq(mkdir(data, 0700), 0);
	}
}

/* pipe_env.queued: the items one commit made, each with its route
 * domain. */
struct seen_items {
	size_t n;
	char id[4][QUEUE_ID_MAX + 1];
	char domain[4][64];
};

static void on_queued(void *arg, const char *id, const char *domain)
{
	struct seen_items *s = arg;

	cr_assert_lt(s->n, 4);
	snprintf(s->id[s->n], sizeof(s->id[s->n]), "%s", id);
	snprintf(s->domain[s->n], sizeof(s->domain[s->n]), "%s", domain);
	s->n++;
}

/* Recipients routed to the queue: one item per route domain (lower
 * case), in the order of the recipients, each reported once. */
Test(pipeline, queue_commit_names_its_items)
{
	static const char *const to[] = { "a@Backup.TEST", "b@example.test",
					  "c@backup.test" };
	struct seen_items seen = { 0 };
	struct pipe_mail m = { .sender = "alice@example.test" };
	struct pipe_tx *tx;
	uint64_t size;

	env.queued = on_queued;
	env.queued_arg = &seen;
	tx = new_tx(PIPE_DELIVER, NULL);
	pipe_tx_mail(tx, NULL, &m);
	for (size_t i = 0; i < 3; i++)
		pipe_tx_rcpt_routed(tx, to[i], PIPE_ROUTE_QUEUE, NULL, 0);
	cr_assert_eq(pipe_tx_begin(tx, "add"), PIPE_DONE);
	pipe_tx_write(tx, "x\r\n", 3);
	cr_assert_eq(pipe_tx_end(tx), PIPE_DONE);
	cr_expect_eq(code(tx), 250, "%s", pipe_tx_reply(tx)->text);
	cr_expect_eq(pipe_tx_store_errno(tx), 0);
	pipe_tx_free(tx);
	cr_assert_eq(seen.n, 2);
	cr_expect_str_eq(seen.domain[0], "backup.test");
	cr_expect_str_eq(seen.domain[1], "example.test");
	for (size_t i = 0; i < seen.n; i++)
		cr_expect_eq(queue_msg_size(q, seen.id[i], &size), 0, "%s",
			     seen.id[i]);
	cr_expect_eq(queue_count(q, NULL, false), 2);
}

/* The DSN request of one envelope, as the walk saw it. */
struct seen_dsn {
	int ret;
	char envid[32];
	char rcpts[256]; /* "addr notify orcpt;..." */
};

static int dsn_of(const struct queue_env *e, void *arg)
{
	struct seen_dsn *s = arg;
	size_t o = strlen(s->rcpts);

	s->ret = (int)e->ret;
	snprintf(s->envid, sizeof(s->envid), "%s", e->envid ? e->envid : "-");
	for (size_t i = 0; i < e->n_rcpts; i++)
		o += (size_t)snprintf(s->rcpts + o, sizeof(s->rcpts) - o,
				      "%s %u %s;", e->rcpts[i].addr,
				      e->rcpts[i].notify,
				      e->rcpts[i].orcpt ? e->rcpts[i].orcpt : "-");
	return 0;
}

/* One message through MAIL, RCPTs with DSN requests, a line of content. */
static int send_dsn(const char *sender, const char *const *to,
		    const unsigned *notify, const char *const *orcpt)
{
	struct pipe_tx *tx = new_tx(PIPE_MX, NULL);
	struct pipe_mail pm = { .ret = DSN_RET_HDRS, .envid = "QQ+2B1" };
	struct addr_path p;
	int c;

	cr_assert_eq(addr_parse_path(sender, strlen(sender), 0, &p, NULL), 0);
	pipe_tx_mail(tx, &p, &pm);
	for (size_t i = 0; to[i] != NULL; i++) {
		struct pipe_rcpt_dsn d = { notify[i], orcpt[i] };

		cr_assert_eq(addr_parse_path(to[i], strlen(to[i]),
					     ADDR_OPT_POSTMASTER, &p, NULL), 0);
		pipe_tx_rcpt_dsn(tx, &p, &d);
		cr_assert_eq(code(tx), 250, "%s", to[i]);
	}
	pipe_tx_begin(tx, "dsn");
	pipe_tx_write(tx, "x\r\n", 3);
	pipe_tx_end(tx);
	c = code(tx);
	pipe_tx_free(tx);
	return c;
}

/* RFC 3461: RET, ENVID and each recipient's NOTIFY and ORCPT reach the
 * queue's envelopes, local items too; a local recipient that asks
 * NOTIFY=SUCCESS is delivered by the queue (which reports it), unless the
 * sender is <> (nobody to report to). */
Test(pipeline, dsn_request_reaches_the_queue)
{
	static const char *const to[] = { "<x@backup.test>", "<alice@example.test>",
					  NULL };
	static const char *const orcpt[] = { "rfc822;x+2B1@backup.test", NULL };
	static const unsigned notify[] = { DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE,
					   DSN_NOTIFY_NEVER };
	static const char *const local[] = { "<alice@example.test>", NULL };
	static const unsigned success[] = { DSN_NOTIFY_SUCCESS };
	static const char *const none[] = { NULL };
	struct seen_dsn sd = { 0 };

	cr_assert_eq(send_dsn("<a@b.example>", to, notify, orcpt), 250);
	cr_expect_eq(count("alice", "new"), -1);
	cr_assert_eq(queue_walk(q, "backup.test", false, dsn_of, &sd), 0);
	cr_expect_eq(sd.ret, DSN_RET_HDRS);
	cr_expect_str_eq(sd.envid, "QQ+2B1");
	cr_expect_str_eq(sd.rcpts, "x@backup.test 6 rfc822;x+2B1@backup.test;");
	memset(&sd, 0, sizeof(sd));
	cr_assert_eq(queue_walk(q, "example.test", false, dsn_of, &sd), 0);
	cr_expect_str_eq(sd.rcpts, "alice@example.test 1 -;");
	cr_expect_eq(queue_count(q, NULL, false), 2);

	/* Only local, and a success report asked: through the queue. */
	cr_assert_eq(send_dsn("<a@b.example>", local, success, none), 250);
	cr_expect_eq(count("alice", "new"), -1);
	cr_expect_eq(queue_count(q, NULL, false), 3);
	/* ... but not for <>, nor for failures only. */
	cr_assert_eq(send_dsn("<>", local, success, none), 250);
	cr_assert_eq(send_dsn("<a@b.example>", local,
			      (const unsigned[]){ DSN_NOTIFY_FAILURE }, none), 250);
	cr_expect_eq(count("alice", "new"), 2);
	cr_expect_eq(queue_count(q, NULL, false), 3);
}

/* A queue commit that fails (an envelope it cannot write) leaves no item
 * and nothing in the queue's tmp/; without a queue the start fails. */
Test(pipeline, queue_commit_failure_leaves_nothing)
{
	struct pipe_tx *tx = new_tx(PIPE_DSN, NULL);
	char *tmp = tu_path(data, "queue/tmp");
	struct addr_path null_path = { .flags = ADDR_PATH_NULL };

	struct seen_items seen = { 0 };

	env.queued = on_queued;
	env.queued_arg = &seen;
	pipe_tx_mail(tx, &null_path, NULL);
	pipe_tx_rcpt_routed(tx, "x@backup.test", PIPE_ROUTE_QUEUE, NULL, 0);
	pipe_tx_rcpt_routed(tx, "no-at-sign", PIPE_ROUTE_QUEUE, NULL, 0);
	cr_assert_eq(pipe_tx_msg(tx)->n_rcpts, 2);
	cr_assert_eq(pipe_tx_begin(tx, "dsn"), PIPE_DONE);
	cr_assert_eq(code(tx), 250);
	pipe_tx_write(tx, "x\r\n", 3);
	cr_assert_eq(pipe_tx_end(tx), PIPE_DONE);
	cr_expect_eq(code(tx), 451);
	for (size_t i = 0; i < 2; i++)
		cr_expect_eq(pipe_tx_msg(tx)->rcpts[i].state,
			     PIPE_RCPT_TEMPFAIL, "rcpt %zu", i);
	cr_expect_eq(pipe_tx_store_errno(tx), EINVAL);
	pipe_tx_free(tx);
	cr_expect_eq(seen.n, 0, "an item reported of a failed commit");
	cr_expect_eq(queue_count(q, NULL, false), 0);
	cr_expect_eq(tu_count_dir(tmp), 0);
	free(tmp);

	env.queue = NULL;
	tx = new_tx(PIPE_MX, NULL);
	cr_expect_eq(send_all(tx, "<a@b.example>", (const char *const[]){
				      "<x@backup.test>", NULL }, "x\r\n"),
		     451);
	pipe_tx_free(tx);
}

/* ---- the io pool ---- */

static void run_until(struct ev_loop *loop, int n)
{
	for (int i = 0; i < 1000 && callbacks < n; i++)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(callbacks, n);
}

/* The quota stage waits for its check on the pool; the commit runs
 * there too, and a message above the buffer gets its file first. */
Test(pipeline, quota_and_commit_on_the_pool)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct worker *io = worker_new(loop, 1, 0);
	struct pipe_tx *tx;
	size_t big = 100 * 1000;
	char *body = malloc(big);

	cr_assert_not_null(io);
	load_config("quota_messages 1\n");
	env.io = io;
	tx = new_tx(PIPE_MX, NULL);
	mail(tx, "<a@b.example>");
	cr_assert_eq(rcpt(tx, "<alice@example.test>"), PIPE_WAIT);
	run_until(loop, 1);
	cr_expect_eq(code(tx), 250);
	cr_assert_eq(pipe_tx_begin(tx, "id"), PIPE_DONE);
	memset(body, 'x', big);
	for (size_t i = 78; i < big; i += 80)
		memcpy(body + i, "\r\n", 2);
	cr_assert_eq(pipe_tx_reserve(tx, big), PIPE_WAIT);
	run_until(loop, 2);
	cr_expect_eq(pipe_tx_reserve(tx, big), PIPE_DONE);
	pipe_tx_write(tx, body, big);
	cr_assert_eq(pipe_tx_end(tx), PIPE_WAIT);
	run_until(loop, 3);
	cr_expect_eq(code(tx), 250, "%s", pipe_tx_reply(tx)->text);
	pipe_tx_free(tx);
	cr_expect_eq(count("alice", "new"), 1);

	/* Full now: 452 at RCPT time, from the pool. */
	tx = new_tx(PIPE_MX, NULL);
	mail(tx, "<a@b.example>");
	cr_assert_eq(rcpt(tx, "<alice@example.test>"), PIPE_WAIT);
	run_until(loop, 4);
	cr_expect_eq(code(tx), 452);
	cr_expect_str_eq(pipe_tx_reply(tx)->enh, "4.2.2");
	pipe_tx_free(tx);
	worker_free(io);
	ev_loop_destroy(loop);
	free(body);
}

/* The size stage: a declared SIZE= above the limit at MAIL, and content
 * above it at the end (read to its end, not stored). */
Test(pipeline, size_limit)
{
	struct pipe_mail pm = { .has_size = true, .size = 2000 };
	struct addr_path p;
	struct pipe_tx *tx;
	char big[1500];

	load_config("max_message_size 1K\n");
	tx = new_tx(PIPE_MX, NULL);
	cr_assert_eq(addr_parse_path("<a@b.example>", 13, 0, &p, NULL), 0);
	pipe_tx_mail(tx, &p, &pm);
	cr_expect_eq(code(tx), 552);
	cr_expect_str_eq(pipe_tx_reply(tx)->enh, "5.3.4");
	pm.size = 500;
	pipe_tx_mail(tx, &p, &pm);
	cr_expect_eq(code(tx), 250);
	rcpt(tx, "<alice@example.test>");
	pipe_tx_begin(tx, "id");
	memset(big, 'y', sizeof(big));
	pipe_tx_write(tx, big, 700);
	pipe_tx_write(tx, big, 700);
	pipe_tx_end(tx);
	cr_expect_eq(code(tx), 552);
	pipe_tx_free(tx);
	cr_expect_leq(count("alice", "new"), 0);
}

/* The hop limit: more Received fields than hop_limit in the header section
 * as it came is refused at the end with 554 5.4.6 and nothing is stored;
 * exactly hop_limit passes (the server's own Received is not counted). */
static char *hops_message(int n)
{
	size_t size = (size_t)n * 40 + 64, len = 0;
	char *text = malloc(size);

	cr_assert_not_null(text);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, size - len,
					"Received: from h%d by h%d\r\n", i, i + 1);
	snprintf(text + len, size - len, "Subject: loop\r\n\r\nbody\r\n");
	return text;
}

Test(pipeline, hop_limit)
{
	static const char *const to[] = { "<alice@example.test>", NULL };
	static const struct {
		enum pipe_origin origin;
		int n, code;
	} rows[] = {
		{ PIPE_MX, 3, 250 },
		{ PIPE_MX, 4, 554 },
		{ PIPE_SUBMISSION, 4, 554 },
		{ PIPE_DELIVER, 4, 554 },
		{ PIPE_QUEUE, 4, 250 },
	};

	load_config("hop_limit 3\n");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct pipe_tx *tx = new_tx(rows[i].origin, NULL);
		char *text = hops_message(rows[i].n);
		int before = count("alice", "new");

		cr_assert_eq(send_all(tx, "<a@b.example>", to, text), rows[i].code,
			     "row %zu: %d %s", i, code(tx), pipe_tx_reply(tx)->text);
		if (rows[i].code == 554) {
			cr_assert_str_eq(pipe_tx_reply(tx)->enh, "5.4.6");
			cr_assert_not_null(strstr(pipe_tx_reply(tx)->text,
						  "Too many hops"));
			cr_assert_eq(count("alice", "new"), before, "row %zu", i);
		} else {
			cr_assert_eq(count("alice", "new"), (before < 0 ? 0 : before) + 1,
				     "row %zu", i);
		}
		pipe_tx_free(tx);
		free(text);
	}
}

/* The queue sink's begin makes a staging directory: on the pool too. */
Test(pipeline, queue_begin_on_the_pool)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct worker *io = worker_new(loop, 1, 0);
	struct pipe_tx *tx;

	cr_assert_not_null(io);
	env.io = io;
	tx = new_tx(PIPE_MX, NULL);
	mail(tx, "<a@b.example>");
	cr_assert_eq(rcpt(tx, "<x@backup.test>"), PIPE_DONE);
	cr_assert_eq(pipe_tx_begin(tx, "id"), PIPE_WAIT);
	run_until(loop, 1);
	cr_expect_eq(code(tx), 250, "%s", pipe_tx_reply(tx)->text);
	pipe_tx_write(tx, "Subject: q\r\n\r\nx\r\n", 17);
	cr_assert_eq(pipe_tx_end(tx), PIPE_WAIT);
	run_until(loop, 2);
	cr_expect_eq(code(tx), 250, "%s", pipe_tx_reply(tx)->text);
	pipe_tx_free(tx);
	cr_expect_eq(queue_count(q, NULL, false), 1);
	worker_free(io);
	ev_loop_destroy(loop);
}

/* Content in pieces of 32 KiB, as smtpd reads it: each time the sink's
 * buffer would overflow, reserve waits while the pool empties it, so no
 * write on the loop touches the disk; the message arrives byte-exact. */
Test(pipeline, big_content_emptied_by_the_pool)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct worker *io = worker_new(loop, 1, 0);
	size_t len = 300 * 1000, piece = 32768;
	char *body = malloc(len), *text;
	struct pipe_tx *tx;
	int waits = 0;

	cr_assert_not_null(io);
	cr_assert_not_null(body);
	for (size_t i = 0; i < len; i++)
		body[i] = (char)('a' + i % 26);
	for (size_t i = 70; i < len; i += 72)
		memcpy(body + i, "\r\n", 2);
	env.io = io;
	tx = new_tx(PIPE_MX, NULL);
	mail(tx, "<a@b.example>");
	cr_assert_eq(rcpt(tx, "<bob@example.test>"), PIPE_DONE);
	cr_assert_eq(pipe_tx_begin(tx, "id"), PIPE_DONE);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;

		if (pipe_tx_reserve(tx, n) == PIPE_WAIT) {
			run_until(loop, ++waits);
			cr_assert_eq(pipe_tx_reserve(tx, n), PIPE_DONE);
		}
		pipe_tx_write(tx, body + off, n);
	}
	cr_expect_geq(waits, (int)(len / MD_DELIVERY_BUFFER));
	cr_assert_eq(pipe_tx_end(tx), PIPE_WAIT);
	run_until(loop, waits + 1);
	cr_expect_eq(code(tx), 250, "%s", pipe_tx_reply(tx)->text);
	pipe_tx_free(tx);
	text = stored("bob");
	cr_expect(strlen(text) > len &&
		  memcmp(text + strlen(text) - len, body, len) == 0,
		  "the content arrived byte-exact");
	free(text);
	worker_free(io);
	ev_loop_destroy(loop);
	free(body);
}

/* A content stage that waits, as a scanner that sends each piece away
 * first: it takes the octets, holds the entry point, and passes them on
 * when the test says the scanner answered. */
static struct {
	struct pipe_tx *tx;
	struct stage_out out;
	struct pipe_reply *r;
	char buf[8192];
	size_t len;
	int verdict; /* what the scanner says at the end of its pieces */
} held;

static int hold_content(struct pipe_tx *tx, void **st, const char *buf,
			size_t len, struct stage_out *out, struct pipe_reply *r)
{
	(void)st;
	cr_assert_leq(held.len + len, sizeof(held.buf));
	memcpy(held.buf + held.len, buf, len);
	held.len += len;
	held.tx = tx;
	held.out = *out;
	held.r = r;
	return STAGE_WAIT;
}

static const struct stage stage_hold = { .name = "hold",
					 .content = hold_content };
static const struct stage *const hold_list[] = { &stage_hold, NULL };

/* The scanner answered: the held octets go on, then its verdict. */
static void release_held(void)
{
	int v = held.verdict;

	stage_out_write(&held.out, held.buf, held.len);
	held.len = 0;
	if (v != STAGE_CONTINUE)
		stage_reply(held.r, v, 554, "5.7.1", "Scanner says no");
	pipe_stage_resume(held.tx, v);
}

static void hold_run(int verdict, int want_code)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct worker *io = worker_new(loop, 1, 0);
	static const char *const pieces[] = { "Subject: held\r\n\r\n",
					      "first line\r\n", "second\r\n" };
	struct pipe_tx *tx;

	cr_assert_not_null(io);
	memset(&held, 0, sizeof(held));
	held.verdict = verdict;
	callbacks = 0;
	env.io = io;
	env.stages = hold_list;
	tx = new_tx(PIPE_MX, NULL);
	mail(tx, "<a@b.example>");
	cr_assert_eq(rcpt(tx, "<bob@example.test>"), PIPE_DONE);
	cr_assert_eq(pipe_tx_begin(tx, "id"), PIPE_DONE);
	cr_assert_eq(pipe_tx_reserve(tx, 100), PIPE_DONE);
	pipe_tx_write(tx, pieces[0], strlen(pieces[0]));
	for (size_t i = 1; i < 3; i++) {
		/* Held: no room until the scanner answers. */
		cr_assert_eq(pipe_tx_reserve(tx, 100), PIPE_WAIT);
		held.verdict = STAGE_CONTINUE;
		release_held();
		cr_assert_eq(callbacks, (int)i, "the reserve goes on");
		cr_assert_eq(pipe_tx_reserve(tx, 100), PIPE_DONE);
		pipe_tx_write(tx, pieces[i], strlen(pieces[i]));
	}
	/* The end waits for the last piece's answer, then commits. */
	cr_assert_eq(pipe_tx_end(tx), PIPE_WAIT);
	held.verdict = verdict;
	release_held();
	run_until(loop, 3); /* two reserves, and the end or its commit */
	cr_expect_eq(code(tx), want_code, "%s", pipe_tx_reply(tx)->text);
	pipe_tx_free(tx);
	if (want_code == 250) {
		char *text = stored("bob");

		cr_expect(strstr(text, "Subject: held\r\n\r\nfirst line\r\n"
				 "second\r\n") != NULL, "%s", text);
		free(text);
	} else {
		cr_expect_leq(count("bob", "new"), 0, "nothing stored");
	}
	env.stages = NULL;
	worker_free(io);
	ev_loop_destroy(loop);
}

Test(pipeline, content_stage_holds_the_entry_point)
{
	hold_run(STAGE_CONTINUE, 250);
}

Test(pipeline, content_stage_rejects_after_waiting)
{
	hold_run(STAGE_REJECT, 554);
}
