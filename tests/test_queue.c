/* tests/test_queue.c: the outbound queue — envelope text round-trip and
 * hostile input, durable commits (one and several items), crash leftovers,
 * per-item locks across processes, walks by domain, updates and removal,
 * links in the queue refused. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/fsutil.h"
#include "store/queue.h"
#include "store/queue_env.h"
#include "tests/helpers/testutil.h"

static char *dir;
static struct queue *q;

static void setup(void)
{
	dir = tu_tmpdir();
	cr_assert_eq(queue_open(dir, "host.test", &q), 0);
}

static void teardown(void)
{
	queue_free(q);
	tu_rmrf(dir);
	free(dir);
}

TestSuite(queue, .init = setup, .fini = teardown);

static void make_env(struct queue_env *env, const char *sender,
		     const char *domain, const char *rcpt1, const char *rcpt2)
{
	memset(env, 0, sizeof(*env));
	cr_assert_eq(queue_env_set(&env->sender, sender), 0);
	cr_assert_eq(queue_env_set(&env->domain, domain), 0);
	env->arrival = 1700000000;
	env->next_attempt = 1700000000;
	cr_assert_eq(queue_env_add_rcpt(env, rcpt1), 0);
	if (rcpt2 != NULL)
		cr_assert_eq(queue_env_add_rcpt(env, rcpt2), 0);
}

/* Queue one message with the given body for domain; returns its id. */
static char *enqueue(const char *domain, const char *body)
{
	struct queue_tx *tx;
	struct queue_env env;
	char *id;

	make_env(&env, "alice@example.test", domain, "bob@x.test", NULL);
	cr_assert_eq(queue_tx_begin(q, &tx), 0);
	cr_assert_eq(queue_tx_write(tx, body, strlen(body)), 0);
	cr_assert_eq(queue_tx_commit(tx, &env, 1), 0);
	id = strdup(env.id);
	queue_env_clear(&env);
	return id;
}

static int count_entries(const char *sub)
{
	char *path = tu_path(queue_path(q), sub);
	int n = tu_count_dir(path);

	free(path);
	return n;
}

Test(queue, envelope_round_trip)
{
	struct queue_env env, back;
	const char *why = NULL;
	char *text, *text2;
	size_t len, len2;

	make_env(&env, "", "backup.test", "bob@backup.test",
		 "\"odd name\"@backup.test");
	env.attempts = 3;
	env.next_attempt = 1700000600;
	cr_assert_eq(queue_env_set(&env.last_error, "line1\r\nline2\tx"), 0);
	cr_assert_eq(queue_env_set(&env.remote_mta, "mx.backup.test"), 0);
	cr_assert_eq(queue_env_set(&env.last_tls, "dane"), 0);
	env.rcpts[1].state = QUEUE_RCPT_FAILED;
	cr_assert_eq(queue_env_set(&env.rcpts[1].status, "5.1.1"), 0);
	cr_assert_eq(queue_env_set(&env.rcpts[1].diag, "550 5.1.1 unknown"), 0);
	cr_assert_eq(queue_env_format(&env, &text, &len), 0);
	cr_assert_eq(queue_env_parse(text, len, &back, &why), 0, "%s", why);
	cr_assert_str_eq(back.sender, "");
	cr_assert_str_eq(back.domain, "backup.test");
	cr_assert_eq(back.arrival, 1700000000);
	cr_assert_eq(back.next_attempt, 1700000600);
	cr_assert_eq(back.attempts, 3);
	cr_assert_str_eq(back.last_error, "line1  line2 x");
	cr_assert_str_eq(back.remote_mta, "mx.backup.test");
	cr_assert_str_eq(back.last_tls, "dane");
	cr_assert_eq(back.n_rcpts, 2);
	cr_assert_str_eq(back.rcpts[0].addr, "bob@backup.test");
	cr_assert_eq(back.rcpts[0].state, QUEUE_RCPT_PENDING);
	cr_assert_null(back.rcpts[0].status);
	cr_assert_str_eq(back.rcpts[1].addr, "\"odd name\"@backup.test");
	cr_assert_eq(back.rcpts[1].state, QUEUE_RCPT_FAILED);
	cr_assert_str_eq(back.rcpts[1].status, "5.1.1");
	cr_assert_str_eq(back.rcpts[1].diag, "550 5.1.1 unknown");
	cr_assert_eq(queue_env_pending(&back), 1);
	cr_assert_eq(queue_env_format(&back, &text2, &len2), 0);
	cr_assert_eq(len, len2);
	cr_assert_eq(memcmp(text, text2, len), 0);
	free(text);
	free(text2);
	queue_env_clear(&env);
	queue_env_clear(&back);
}

Test(queue, envelope_hostile_input)
{
	static const char head[] = "kantorpos-queue\t1\nsender\ta@b\n"
				   "domain\td.test\narrival\t1\n";
	static const struct {
		const char *text;
		bool ok;
	} rows[] = {
		{ "", false },
		{ "kantorpos-queue\t2\n", false },
		{ "kantorpos-queue\t1\nsender\ta@b\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\n", true },
		{ "rcpt\tQ\t-\tx@d.test\t-\n", false },
		{ "rcpt\tP\t-\t\t-\n", false },
		{ "rcpt\tP\t-\tx@d.test\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\nbogus\t1\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\narrival\tx\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\nattempts\t99999999999\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\nnext\t99999999999999999999\n", false },
		{ "rcpt\tP\t-\tx\x01@d.test\t-\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-", false },
		{ "rcpt\tP\t-\tx@d.test\t-\nsender\tagain\n", false },
		/* RFC 3461 fields: optional, each checked */
		{ "ret\tHDRS\nenvid\tQQ+2B1\nrcpt\tP\t-\tx@d.test\t-\n", true },
		{ "ret\tFULL\nret\tFULL\nrcpt\tP\t-\tx@d.test\t-\n", false },
		{ "ret\thdrs\nrcpt\tP\t-\tx@d.test\t-\n", false },
		{ "envid\t\nrcpt\tP\t-\tx@d.test\t-\n", false },
		{ "envid\ta\nenvid\tb\nrcpt\tP\t-\tx@d.test\t-\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\ndsn\tNEVER\t-\t-\n", true },
		{ "rcpt\tP\t-\tx@d.test\t-\ndsn\tSUCCESS,FAILURE,DELAY\t"
		  "rfc822;x@d.test\tdelayed\n", true },
		{ "rcpt\tP\t-\tx@d.test\t-\ndsn\t-\trfc822;x@d.test\t-\n", true },
		{ "dsn\tNEVER\t-\t-\nrcpt\tP\t-\tx@d.test\t-\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\ndsn\tNEVER\t-\t-\n"
		  "dsn\tNEVER\t-\t-\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\ndsn\tNEVER,DELAY\t-\t-\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\ndsn\tDELAY,DELAY\t-\t-\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\ndsn\tSUCCESS,\t-\t-\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\ndsn\tsuccess\t-\t-\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\ndsn\t-\t\t-\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\ndsn\t-\t-\tsent\n", false },
		{ "rcpt\tP\t-\tx@d.test\t-\ndsn\t-\t-\n", false },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct queue_env env;
		const char *why = NULL;
		char *text;
		bool whole = strncmp(rows[i].text, "kantorpos", 9) == 0 ||
			     rows[i].text[0] == '\0';

		cr_assert(asprintf(&text, "%s%s", whole ? "" : head,
				   rows[i].text) >= 0);
		int rc = queue_env_parse(text, strlen(text), &env, &why);

		cr_assert_eq(rc, rows[i].ok ? 0 : -1, "row %zu: %s", i,
			     why != NULL ? why : "accepted");
		if (!rows[i].ok)
			cr_assert_not_null(why, "row %zu", i);
		queue_env_clear(&env);
		free(text);
	}
	/* A NUL byte anywhere is refused. */
	struct queue_env env;
	const char *why;
	char nul[] = "kantorpos-queue\t1\n\0";

	cr_assert_eq(queue_env_parse(nul, sizeof(nul) - 1, &env, &why), -1);
}

Test(queue, domain_match)
{
	static const struct {
		const char *domain, *want;
		bool sub, match;
	} rows[] = {
		{ "backup.test", "backup.test", false, true },
		{ "Backup.TEST", "backup.test", false, true },
		{ "a.backup.test", "backup.test", false, false },
		{ "a.backup.test", "backup.test", true, true },
		{ "xbackup.test", "backup.test", true, false },
		{ "backup.test", "a.backup.test", true, false },
		{ "backup.test", NULL, false, true },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cr_assert_eq(queue_domain_match(rows[i].domain, rows[i].want,
						rows[i].sub),
			     rows[i].match, "row %zu", i);
}

Test(queue, route_domain)
{
	static const struct {
		const char *addr, *domain; /* domain NULL: refused */
	} rows[] = {
		{ "bob@Backup.TEST", "backup.test" },
		{ "\"a@b\"@x.test", "x.test" },
		{ "bob@", NULL },
		{ "bob", NULL },
		{ "bob@abcdefgh.ijklmnop", NULL }, /* 17: over the buffer */
		{ "bob@abcdefgh.ijklmno", "abcdefgh.ijklmno" }, /* 16 fits */
	};
	char buf[17];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = queue_route_domain(rows[i].addr, buf, sizeof(buf));

		if (rows[i].domain == NULL) {
			cr_assert_eq(rc, -1, "row %zu", i);
			cr_assert_eq(errno, EINVAL, "row %zu", i);
		} else {
			cr_assert_eq(rc, 0, "row %zu", i);
			cr_assert_str_eq(buf, rows[i].domain, "row %zu", i);
		}
	}
}

Test(queue, commit_is_durable_and_complete)
{
	struct queue_item *it;
	char *id = enqueue("backup.test", "Subject: hi\r\n\r\nbody\r\n");
	char buf[64] = { 0 };

	cr_assert_eq(count_entries("items"), 1);
	cr_assert_eq(count_entries("tmp"), 0);
	cr_assert_eq(queue_lock(q, id, &it), 1);
	cr_assert_str_eq(queue_item_env(it)->id, id);
	cr_assert_str_eq(queue_item_env(it)->domain, "backup.test");
	cr_assert_eq(queue_item_size(it), 21);
	cr_assert_eq(pread(queue_item_fd(it), buf, sizeof(buf) - 1, 0), 21);
	cr_assert_str_eq(buf, "Subject: hi\r\n\r\nbody\r\n");
	queue_item_release(it);
	free(id);
}

Test(queue, one_message_several_items)
{
	struct queue_env envs[2];
	struct queue_tx *tx;
	struct stat a, b;
	char *pa, *pb, *ia, *ib;

	make_env(&envs[0], "s@x.test", "one.test", "a@one.test", NULL);
	make_env(&envs[1], "s@x.test", "two.test", "b@two.test", NULL);
	cr_assert_eq(queue_tx_begin(q, &tx), 0);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(queue_tx_write(tx, "0123456789abcdef\r\n", 18), 0);
	cr_assert_eq(queue_tx_size(tx), 18000);
	cr_assert_eq(queue_tx_commit(tx, envs, 2), 0);
	cr_assert_str_neq(envs[0].id, envs[1].id);
	cr_assert_eq(queue_count(q, NULL, false), 2);
	cr_assert_eq(queue_count(q, "two.test", false), 1);
	ia = tu_path(queue_path(q), "items");
	pa = tu_path(ia, envs[0].id);
	pb = tu_path(ia, envs[1].id);
	free(ia);
	ia = tu_path(pa, "msg");
	ib = tu_path(pb, "msg");
	cr_assert_eq(stat(ia, &a), 0);
	cr_assert_eq(stat(ib, &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino, "one copy of the body");
	cr_assert_eq(a.st_size, 18000);
	free(ia);
	free(ib);
	free(pa);
	free(pb);
	/* The items share the body but not the lock: one route's runner
	 * never keeps the other's item waiting. */
	{
		struct queue_item *ita, *itb;

		cr_assert_eq(queue_lock(q, envs[0].id, &ita), 1);
		cr_assert_eq(queue_lock(q, envs[1].id, &itb), 1,
			     "the second item of one commit locks too");
		cr_assert_eq(queue_item_size(itb), 18000);
		queue_item_release(itb);
		queue_item_release(ita);
	}
	queue_env_clear(&envs[0]);
	queue_env_clear(&envs[1]);
}

Test(queue, abort_and_bad_commit_leave_nothing)
{
	struct queue_env empty;
	struct queue_tx *tx;

	cr_assert_eq(queue_tx_begin(q, &tx), 0);
	cr_assert_eq(queue_tx_write(tx, "x", 1), 0);
	cr_assert_eq(count_entries("tmp"), 1);
	queue_tx_abort(tx);
	cr_assert_eq(count_entries("tmp"), 0);

	memset(&empty, 0, sizeof(empty));
	cr_assert_eq(queue_tx_begin(q, &tx), 0);
	cr_assert_eq(queue_tx_commit(tx, &empty, 1), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(count_entries("tmp"), 0);
	cr_assert_eq(count_entries("items"), 0);
}

/* items/ removed (or replaced) while the queue is open: writes and walks
 * fail with ENOENT instead of going into a directory nobody reads. */
static int count_walk(const struct queue_env *env, void *arg)
{
	(void)env;
	++*(int *)arg;
	return 0;
}

Test(queue, a_removed_items_directory_fails_writes)
{
	struct queue_env env;
	struct queue_tx *tx;
	char *items = tu_path(queue_path(q), "items");
	int seen = 0;

	free(enqueue("x.test", "one\r\n"));
	cr_assert_eq(queue_tx_begin(q, &tx), 0);
	cr_assert_eq(queue_tx_write(tx, "x", 1), 0);
	tu_rmrf(items);
	cr_assert_eq(mkdir(items, 0700), 0);
	make_env(&env, "alice@example.test", "x.test", "bob@x.test", NULL);
	cr_assert_eq(queue_tx_commit(tx, &env, 1), -1);
	cr_assert_eq(errno, ENOENT);
	queue_env_clear(&env);
	cr_assert_eq(queue_tx_begin(q, &tx), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(queue_walk(q, NULL, false, count_walk, &seen), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(seen, 0);
	cr_assert_eq(tu_count_dir(items), 0);
	free(items);
}

/* A writer killed mid-message leaves only a tmp/ staging directory: it is
 * not an item, and recovery removes it. */
Test(queue, crash_leftovers)
{
	pid_t pid = fork();
	size_t removed = 99;
	int status;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct queue_tx *tx;

		if (queue_tx_begin(q, &tx) < 0)
			_exit(1);
		queue_tx_write(tx, "partial", 7);
		raise(SIGKILL);
		_exit(2);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status));
	cr_assert_eq(count_entries("tmp"), 1);
	cr_assert_eq(queue_count(q, NULL, false), 0);
	/* Young leftovers are kept (a writer may still be busy)... */
	cr_assert_eq(queue_recover(q, 3600, &removed), 0);
	cr_assert_eq(removed, 0);
	cr_assert_eq(count_entries("tmp"), 1);
	/* ...and all go at start-up. */
	cr_assert_eq(queue_recover(q, 0, &removed), 0);
	cr_assert_eq(removed, 1);
	cr_assert_eq(count_entries("tmp"), 0);
}

/* A removal cut short after its rename is finished by recovery at any
 * age, and the item is no longer visible. */
Test(queue, half_removed_item)
{
	char *id = enqueue("backup.test", "x\r\n");
	char *items = tu_path(queue_path(q), "items");
	char *tmp = tu_path(queue_path(q), "tmp");
	char *from = tu_path(items, id), *to, *rm;
	size_t removed = 0;

	cr_assert(asprintf(&rm, "%s.rm", id) > 0);
	to = tu_path(tmp, rm);
	cr_assert_eq(rename(from, to), 0);
	cr_assert_eq(queue_count(q, NULL, false), 0);
	cr_assert_eq(queue_recover(q, 3600, &removed), 0);
	cr_assert_eq(removed, 1);
	cr_assert_eq(count_entries("tmp"), 0);
	free(items);
	free(tmp);
	free(from);
	free(to);
	free(rm);
	free(id);
}

/* The lock excludes another process; it goes when the holder dies. */
Test(queue, lock_across_processes)
{
	char *id = enqueue("backup.test", "x\r\n");
	struct queue_item *it;
	int to_child[2], from_child[2], status;
	char c;
	pid_t pid;

	cr_assert_eq(pipe(to_child), 0);
	cr_assert_eq(pipe(from_child), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct queue_item *mine;

		if (queue_lock(q, id, &mine) != 1)
			_exit(1);
		if (write(from_child[1], "L", 1) != 1)
			_exit(2);
		if (read(to_child[0], &c, 1) != 1)
			_exit(3);
		raise(SIGKILL); /* die holding the lock */
		_exit(4);
	}
	cr_assert_eq(read(from_child[0], &c, 1), 1);
	cr_assert_eq(queue_lock(q, id, &it), 0, "held by the child");
	cr_assert_eq(write(to_child[1], "G", 1), 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status));
	cr_assert_eq(queue_lock(q, id, &it), 1, "free after the crash");
	queue_item_release(it);
	free(id);
}

/* Two handles in one process exclude each other too (OFD locks). */
Test(queue, lock_within_process)
{
	char *id = enqueue("backup.test", "x\r\n");
	struct queue_item *a, *b;

	cr_assert_eq(queue_lock(q, id, &a), 1);
	cr_assert_eq(queue_lock(q, id, &b), 0);
	queue_item_release(a);
	cr_assert_eq(queue_lock(q, id, &b), 1);
	queue_item_release(b);
	cr_assert_eq(queue_lock(q, "../escape", &b), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(queue_lock(q, "no-such-id", &b), 0);
	free(id);
}

Test(queue, update_and_remove)
{
	char *id = enqueue("backup.test", "x\r\n");
	struct queue_item *it, *again;
	struct queue_env *env;

	cr_assert_eq(queue_lock(q, id, &it), 1);
	env = queue_item_env(it);
	env->attempts = 4;
	env->next_attempt = 1700003600;
	env->rcpts[0].state = QUEUE_RCPT_DONE;
	cr_assert_eq(queue_env_set(&env->last_error, "421 busy"), 0);
	cr_assert_eq(queue_item_update(it), 0);
	queue_item_release(it);

	cr_assert_eq(queue_lock(q, id, &it), 1);
	env = queue_item_env(it);
	cr_assert_eq(env->attempts, 4);
	cr_assert_eq(env->next_attempt, 1700003600);
	cr_assert_eq(env->rcpts[0].state, QUEUE_RCPT_DONE);
	cr_assert_str_eq(env->last_error, "421 busy");
	cr_assert_eq(queue_item_remove(it), 0);
	cr_assert_eq(queue_count(q, NULL, false), 0);
	cr_assert_eq(count_entries("tmp"), 0);
	cr_assert_eq(queue_lock(q, id, &again), 0);
	free(id);
}

struct seen {
	char ids[8][QUEUE_ID_MAX + 1];
	int n;
	int stop_after;
};

static int collect(const struct queue_env *env, void *arg)
{
	struct seen *s = arg;

	snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", env->domain);
	return s->n == s->stop_after ? 7 : 0;
}

Test(queue, walk_by_domain)
{
	const char *domains[] = { "backup.test", "a.backup.test",
				  "other.test", "b.a.backup.test" };
	struct seen s = { .n = 0 };

	for (size_t i = 0; i < 4; i++)
		free(enqueue(domains[i], "x\r\n"));
	cr_assert_eq(queue_walk(q, "backup.test", false, collect, &s), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.ids[0], "backup.test");
	s.n = 0;
	cr_assert_eq(queue_walk(q, "backup.test", true, collect, &s), 0);
	cr_assert_eq(s.n, 3);
	/* Arrival order. */
	cr_assert_str_eq(s.ids[0], "backup.test");
	cr_assert_str_eq(s.ids[1], "a.backup.test");
	cr_assert_str_eq(s.ids[2], "b.a.backup.test");
	s.n = 0;
	s.stop_after = 2;
	cr_assert_eq(queue_walk(q, NULL, false, collect, &s), 7);
	cr_assert_eq(s.n, 2);
	cr_assert_eq(queue_count(q, "nothing.test", true), 0);
	cr_assert_eq(queue_count(q, NULL, false), 4);
}

/* A damaged envelope is skipped by walks, never fatal. */
Test(queue, bad_envelope_skipped)
{
	char *id = enqueue("backup.test", "x\r\n");
	char *items = tu_path(queue_path(q), "items");
	char *item = tu_path(items, id);
	char *env = tu_path(item, "env");
	struct queue_item *it;

	free(enqueue("backup.test", "y\r\n"));
	tu_write_file(env, "garbage\n");
	cr_assert_eq(queue_count(q, NULL, false), 1);
	cr_assert_eq(queue_lock(q, id, &it), -1);
	free(items);
	free(item);
	free(env);
	free(id);
}

/* Items survive reopening the queue (a restart). */
Test(queue, reopen_keeps_items)
{
	char *id = enqueue("backup.test", "x\r\n");
	struct queue_item *it;

	queue_free(q);
	cr_assert_eq(queue_open(dir, NULL, &q), 0);
	cr_assert_eq(queue_recover(q, 0, NULL), 0);
	cr_assert_eq(queue_count(q, "backup.test", false), 1);
	cr_assert_eq(queue_lock(q, id, &it), 1);
	queue_item_release(it);
	free(id);
}

/* RFC 3461: RET, ENVID and each recipient's NOTIFY, ORCPT and delay
 * state survive the envelope file, which has a dsn line only for a
 * recipient with something in it; a file of the format before them reads
 * as asking nothing. */
Test(queue, envelope_dsn_fields)
{
	static const char old[] = "kantorpos-queue\t1\nsender\ta@x.test\n"
				  "domain\tbackup.test\narrival\t1\nattempts\t0\n"
				  "next\t1\nerror\t-\nremote\t-\n"
				  "rcpt\tP\t-\tbob@backup.test\t-\n";
	struct queue_env env, back;
	const char *why = NULL;
	char *text, *text2;
	size_t len, len2;

	make_env(&env, "a@x.test", "backup.test", "bob@backup.test",
		 "carol@backup.test");
	queue_env_add_rcpt(&env, "dave@backup.test");
	env.ret = DSN_RET_HDRS;
	cr_assert_eq(queue_env_set(&env.envid, "QQ+2B1"), 0);
	env.rcpts[0].notify = DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY;
	cr_assert_eq(queue_env_set(&env.rcpts[0].orcpt,
				   "rfc822;bob+2Bx@backup.test"), 0);
	env.rcpts[0].delay_sent = true;
	env.rcpts[2].notify = DSN_NOTIFY_NEVER;
	cr_assert_eq(queue_env_format(&env, &text, &len), 0);
	cr_assert_not_null(strstr(text, "\nret\tHDRS\nenvid\tQQ+2B1\n"), "%s",
			   text);
	cr_assert_not_null(strstr(text, "\nrcpt\tP\t-\tbob@backup.test\t-\n"
				  "dsn\tSUCCESS,DELAY\trfc822;bob+2Bx@backup.test"
				  "\tdelayed\n"), "%s", text);
	cr_assert_not_null(strstr(text, "carol@backup.test\t-\nrcpt\t"), "%s",
			   text);
	cr_assert_not_null(strstr(text, "dave@backup.test\t-\n"
				  "dsn\tNEVER\t-\t-\n"), "%s", text);
	cr_assert_eq(queue_env_parse(text, len, &back, &why), 0, "%s", why);
	cr_assert_eq(back.ret, DSN_RET_HDRS);
	cr_assert_str_eq(back.envid, "QQ+2B1");
	cr_assert_eq(back.rcpts[0].notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY);
	cr_assert_str_eq(back.rcpts[0].orcpt, "rfc822;bob+2Bx@backup.test");
	cr_assert(back.rcpts[0].delay_sent);
	cr_assert_eq(back.rcpts[1].notify, 0);
	cr_assert_null(back.rcpts[1].orcpt);
	cr_assert(!back.rcpts[1].delay_sent);
	cr_assert_eq(back.rcpts[2].notify, DSN_NOTIFY_NEVER);
	cr_assert_eq(queue_env_format(&back, &text2, &len2), 0);
	cr_assert_eq(len, len2);
	cr_assert_eq(memcmp(text, text2, len), 0);
	free(text);
	free(text2);
	queue_env_clear(&env);
	queue_env_clear(&back);

	cr_assert_eq(queue_env_parse(old, sizeof(old) - 1, &back, &why), 0, "%s",
		     why);
	cr_assert_eq(back.ret, DSN_RET_NONE);
	cr_assert_null(back.envid);
	cr_assert_eq(back.rcpts[0].notify, 0);
	cr_assert_null(back.rcpts[0].orcpt);
	cr_assert_eq(queue_env_format(&back, &text, &len), 0);
	cr_assert_eq(len, sizeof(old) - 1);
	cr_assert_eq(memcmp(text, old, len), 0);
	free(text);
	queue_env_clear(&back);
}

/* BODY and SMTPUTF8 of the original MAIL survive the envelope file. */
Test(queue, envelope_body_type)
{
	static const struct {
		enum queue_body body;
		bool utf8;
		const char *line; /* expected in the text, or NULL for none */
	} rows[] = {
		{ QUEUE_BODY_7BIT, false, NULL },
		{ QUEUE_BODY_8BITMIME, false, "\nbody\t8BITMIME\n" },
		{ QUEUE_BODY_BINARYMIME, true, "\nbody\tBINARYMIME\n" },
		{ QUEUE_BODY_7BIT, true, "\nsmtputf8\t1\n" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct queue_env env, back;
		const char *why = NULL;
		char *text;
		size_t len;

		make_env(&env, "a@x.test", "backup.test", "bob@backup.test", NULL);
		env.body = rows[i].body;
		env.smtputf8 = rows[i].utf8;
		cr_assert_eq(queue_env_format(&env, &text, &len), 0);
		if (rows[i].line != NULL)
			cr_assert_not_null(strstr(text, rows[i].line), "%s", text);
		else
			cr_assert_null(strstr(text, "\nbody\t"), "%s", text);
		cr_assert_eq(queue_env_parse(text, len, &back, &why), 0, "%s", why);
		cr_assert_eq(back.body, rows[i].body);
		cr_assert_eq(back.smtputf8, rows[i].utf8);
		free(text);
		queue_env_clear(&env);
		queue_env_clear(&back);
	}
	{
		static const char bad[] = "kantorpos-queue\t1\nsender\t\ndomain\tb.test\n"
					  "arrival\t1\nbody\tFOO\nrcpt\tP\t-\tx@b.test\t-\n";
		struct queue_env env;
		const char *why = NULL;

		cr_assert_eq(queue_env_parse(bad, sizeof(bad) - 1, &env, &why), -1);
		cr_assert_str_eq(why, "bad body");
	}
}

/* ---- links in the queue ------------------------------------------------ */

Test(queue, open_refuses_a_link_at_any_level)
{
	static const char *const levels[] = { "queue", "queue/tmp", "queue/items" };

	for (int resolver = 0; resolver < 2; resolver++) {
		fs_use_openat2(resolver == 0);
		for (size_t i = 0; i < 3; i++) {
			char name[32], *data, *level, *outside;
			struct queue *other = NULL;
			int before;

			snprintf(name, sizeof(name), "d%d-%zu", resolver, i);
			data = tu_path(dir, name);
			cr_assert_eq(mkdir(data, 0700), 0);
			cr_assert_eq(queue_open(data, "h", &other), 0);
			queue_free(other);
			level = tu_path(data, levels[i]);
			outside = tu_path(data, "outside");
			tu_replace_with_link(level, outside);
			before = tu_count_dir(outside);
			cr_expect_eq(queue_open(data, "h", &other), -1, "%s opened",
				     levels[i]);
			cr_expect_eq(errno, ELOOP, "%s: %s", levels[i],
				     strerror(errno));
			cr_expect_eq(tu_count_dir(outside), before, "%s", levels[i]);
			free(data);
			free(level);
			free(outside);
		}
	}
}

/* The only entry of queue/tmp (heap). */
static char *staging_id(void)
{
	char *tmp = tu_path(queue_path(q), "tmp"), *id = NULL;
	DIR *d = opendir(tmp);
	struct dirent *de;

	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			free(id);
			id = strdup(de->d_name);
		}
	closedir(d);
	free(tmp);
	cr_assert_not_null(id);
	return id;
}

Test(queue, item_and_staging_links_are_refused_not_followed)
{
	for (int resolver = 0; resolver < 2; resolver++) {
		char *id, *path, *outside, *msg;
		struct queue_item *it = NULL;
		struct queue_tx *tx;
		struct queue_env env;
		uint64_t size;
		size_t removed = 0;

		fs_use_openat2(resolver == 0);
		/* A committed item replaced by a link to a copy of itself. */
		id = enqueue("backup.test", "x\r\n");
		cr_assert(asprintf(&path, "%s/items/%s", queue_path(q), id) > 0);
		outside = tu_path(dir, resolver == 0 ? "out-item" : "out-item2");
		tu_replace_with_link(path, outside);
		cr_expect_eq(queue_lock(q, id, &it), -1);
		cr_expect_eq(errno, ELOOP);
		cr_expect_eq(queue_msg_size(q, id, &size), -1);
		cr_expect_eq(errno, ELOOP);
		cr_expect_eq(queue_count(q, NULL, false), 0, "walked through");
		msg = tu_path(outside, "msg");
		cr_expect_eq(access(msg, F_OK), 0);
		cr_assert_eq(unlink(path), 0);
		free(msg);
		free(path);
		free(outside);
		free(id);

		/* A staging directory swapped for a link before the commit. */
		cr_assert_eq(queue_tx_begin(q, &tx), 0);
		cr_assert_eq(queue_tx_write(tx, "y\r\n", 3), 0);
		id = staging_id();
		cr_assert(asprintf(&path, "%s/tmp/%s", queue_path(q), id) > 0);
		outside = tu_path(dir, resolver == 0 ? "out-tx" : "out-tx2");
		tu_replace_with_link(path, outside);
		make_env(&env, "a@example.test", "backup.test", "b@x.test", NULL);
		cr_expect_eq(queue_tx_commit(tx, &env, 1), -1);
		cr_expect_eq(errno, ELOOP);
		queue_env_clear(&env);
		cr_expect_eq(tu_count_dir(outside), 1, "only msg, as before");
		cr_expect_eq(queue_count(q, NULL, false), 0);
		/* Recovery removes the link itself, not what it points to. */
		cr_assert_eq(queue_recover(q, 0, &removed), 0);
		cr_expect_eq(removed, 1);
		cr_expect_eq(count_entries("tmp"), 0);
		cr_expect_eq(tu_count_dir(outside), 1);
		free(path);
		free(outside);
		free(id);
	}
}
