/* tests/test_auth.c: the asynchronous login end to end on a real libev loop
 * with a temporary user db at the minimum Argon2id cost. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/runtime/auth.h"
#include "common/base/log.h"
#include "common/users/password.h"
#include "common/runtime/server.h"
#include "common/users/throttle.h"
#include "common/net/worker.h"
#include "tests/helpers/testutil.h"

static char *dir;
static struct server *srv;

static void teardown(void)
{
	server_free(srv);
	srv = NULL;
	tu_rmrf(dir);
	free(dir);
}

TestSuite(auth, .fini = teardown, .timeout = 20);

static void accept_nothing(struct server *s, const struct config_listen *lc,
			   int fd, const char *peer)
{
	(void)s;
	(void)lc;
	(void)peer;
	close(fd);
}

static const struct server_ops ops = {
	.name = "test-auth",
	.proto = CONFIG_PROTO_POP3,
	.accept = accept_nothing,
};

/* A server with alice@example.test / "secret" and these extra lines. */
/* The user db: just this user, with password pw. */
static void write_user(const char *user, const char *pw)
{
	char hash[PASSWORD_HASH_SIZE], text[1024], *path;

	cr_assert_eq(password_hash(pw, strlen(pw), crypto_pwhash_OPSLIMIT_MIN,
				   crypto_pwhash_MEMLIMIT_MIN, hash,
				   sizeof hash), 0);
	path = tu_path(dir, "users");
	snprintf(text, sizeof text, "%s:%s\n", user, hash);
	tu_write_file(path, text);
	free(path);
}

static void start(const char *extra)
{
	char text[2048], *path, *err = NULL;

	log_init("test_auth", true);
	dir = tu_tmpdir();
	write_user("alice@example.test", "secret");
	path = tu_path(dir, "kantorpos.conf");
	snprintf(text, sizeof text,
		 "hostname test.example\n"
		 "data_dir %s/data\n"
		 "user_db %s/users\n"
		 "local_domain example.test\n"
		 "listen pop3 127.0.0.1:%u\n"
		 "workers 2\n"
		 "password_opslimit %llu\n"
		 "password_memlimit %zu\n"
		 "%s",
		 dir, dir, tu_free_port(),
		 (unsigned long long)crypto_pwhash_OPSLIMIT_MIN,
		 (size_t)crypto_pwhash_MEMLIMIT_MIN, extra);
	tu_write_file(path, text);
	srv = server_new(path, &ops, SERVER_KEEP_PRIVS, &err);
	cr_assert_not_null(srv, "%s", err != NULL ? err : "?");
	free(path);
}

struct outcome {
	int calls;
	enum auth_result result;
	char mailbox[128];
};

static void done(void *arg, enum auth_result result, const char *mailbox)
{
	struct outcome *o = arg;

	o->calls++;
	o->result = result;
	snprintf(o->mailbox, sizeof o->mailbox, "%s",
		 mailbox != NULL ? mailbox : "(null)");
}

static void run_until(const struct outcome *o)
{
	while (o->calls == 0)
		ev_run(server_loop(srv), EVRUN_ONCE);
}

/* Run the loop until the verification is on the CPU pool: the user db is
 * looked at on the storage pool first. */
static void until_verifying(void)
{
	int i;

	for (i = 0; i < 20000 && worker_in_flight(server_worker(srv)) == 0;
	     i++) {
		ev_run(server_loop(srv), EVRUN_NOWAIT);
		usleep(100);
	}
	cr_assert_gt(worker_in_flight(server_worker(srv)), 0);
}

/* Run the loop until both pools are idle: the refresh and the
 * verification have come back. */
static void until_idle(void)
{
	while (worker_in_flight(server_worker(srv)) +
	       worker_in_flight(server_io_worker(srv)) > 0)
		ev_run(server_loop(srv), EVRUN_ONCE);
}

static enum auth_result login(const char *peer, const char *user,
			      const char *pw, struct outcome *o)
{
	char pwbuf[64];

	memset(o, 0, sizeof *o);
	/* The caller's buffer may be wiped right after auth_start. */
	snprintf(pwbuf, sizeof pwbuf, "%s", pw);
	cr_assert_not_null(auth_start(srv, peer, "0123456789abcdef", "PLAIN",
				      user, pwbuf, strlen(pwbuf), done, o));
	memset(pwbuf, 'x', sizeof pwbuf);
	cr_assert_eq(o->calls, 0); /* never from inside auth_start */
	run_until(o);
	cr_assert_eq(o->calls, 1);
	return o->result;
}

Test(auth, right_wrong_and_unknown)
{
	struct outcome o;

	start("login_fail_delay 0s\n");
	cr_assert_eq(login("192.0.2.1", "alice@example.test", "secret", &o),
		     AUTH_OK);
	cr_assert_str_eq(o.mailbox, "alice@example.test");
	/* the canonical key, whatever the case typed */
	cr_assert_eq(login("192.0.2.1", "Alice@Example.TEST", "secret", &o),
		     AUTH_OK);
	cr_assert_str_eq(o.mailbox, "alice@example.test");
	cr_assert_eq(login("192.0.2.1", "alice@example.test", "wrong", &o),
		     AUTH_FAIL);
	cr_assert_str_eq(o.mailbox, "(null)");
	cr_assert_eq(login("192.0.2.1", "nobody@example.test", "secret", &o),
		     AUTH_FAIL);
	cr_assert_eq(login("192.0.2.1", "not an address", "secret", &o),
		     AUTH_FAIL);
	cr_assert_eq(login("192.0.2.1", "alice@example.test", "", &o),
		     AUTH_FAIL);
}

Test(auth, throttled_address_is_refused_and_others_are_not)
{
	struct outcome o;

	start("login_fail_delay 0s\nlogin_fail_limit 2\n");
	cr_assert_eq(login("192.0.2.1", "alice@example.test", "x", &o),
		     AUTH_FAIL);
	cr_assert_eq(login("192.0.2.1", "alice@example.test", "y", &o),
		     AUTH_FAIL);
	/* limit reached: even the right password is not checked */
	cr_assert_eq(login("192.0.2.1", "alice@example.test", "secret", &o),
		     AUTH_THROTTLED);
	cr_assert_eq(login("192.0.2.1", "alice@example.test", "z", &o),
		     AUTH_THROTTLED);
	/* another address logs in at once */
	cr_assert_eq(login("192.0.2.2", "alice@example.test", "secret", &o),
		     AUTH_OK);
	cr_assert_eq(worker_in_flight(server_worker(srv)), 0);
}

Test(auth, success_clears_the_address)
{
	struct outcome o;

	start("login_fail_delay 0s\nlogin_fail_limit 2\n");
	cr_assert_eq(login("192.0.2.1", "alice@example.test", "x", &o),
		     AUTH_FAIL);
	cr_assert_eq(login("192.0.2.1", "alice@example.test", "secret", &o),
		     AUTH_OK);
	cr_assert_eq(login("192.0.2.1", "alice@example.test", "x", &o),
		     AUTH_FAIL);
	cr_assert_eq(login("192.0.2.1", "alice@example.test", "secret", &o),
		     AUTH_OK);
}

Test(auth, failure_reply_waits_for_the_delay)
{
	struct outcome o = { 0 };

	start("login_fail_delay 1s\n");
	cr_assert_not_null(auth_start(srv, "192.0.2.1", "0123456789abcdef",
				      "PLAIN", "alice@example.test", "wrong",
				      5, done, &o));
	/* the verification finishes, the answer is still held back */
	until_idle();
	cr_assert_eq(o.calls, 0);
	run_until(&o);
	cr_assert_eq(o.result, AUTH_FAIL);
}

/* Cancel a login while its user db is read (verifying false: nothing
 * reaches the CPU pool) or while it is verified. */
static void cancel_at(bool verifying)
{
	struct outcome o = { 0 };
	struct auth *a;

	start("login_fail_delay 0s\n");
	a = auth_start(srv, "192.0.2.1", "0123456789abcdef", "PLAIN",
		       "alice@example.test", "secret", 6, done, &o);
	cr_assert_not_null(a);
	if (verifying)
		until_verifying();
	else
		cr_assert_eq(worker_in_flight(server_worker(srv)), 0);
	auth_cancel(a);
	until_idle();
	ev_run(server_loop(srv), EVRUN_NOWAIT);
	cr_assert_eq(o.calls, 0);
	/* the address was not touched by the cancelled attempt */
	cr_assert_eq(throttle_count(server_throttle(srv)), 0);
}

Test(auth, cancel_while_verifying)
{
	cancel_at(true);
}

Test(auth, cancel_while_the_user_db_is_read)
{
	cancel_at(false);
}

Test(auth, cancel_during_the_delay_and_when_throttled)
{
	struct outcome o = { 0 };
	struct auth *a;

	start("login_fail_delay 1m\nlogin_fail_limit 1\n");
	a = auth_start(srv, "192.0.2.1", "0123456789abcdef", "PLAIN",
		       "alice@example.test", "wrong", 5, done, &o);
	until_idle();
	auth_cancel(a); /* the minute-long timer goes with it */
	a = auth_start(srv, "192.0.2.1", "0123456789abcdef", "PLAIN",
		       "alice@example.test", "secret", 6, done, &o);
	cr_assert_not_null(a);
	auth_cancel(a); /* throttled, answer not yet delivered */
	ev_run(server_loop(srv), EVRUN_NOWAIT);
	cr_assert_eq(o.calls, 0);
	auth_cancel(NULL);
}

/* A user added while the server runs logs in at once: the login reads
 * the changed file on the storage pool, not on the loop. */
Test(auth, a_user_added_later_logs_in)
{
	struct outcome o;

	start("login_fail_delay 0s\n");
	cr_assert_eq(login("192.0.2.1", "bob@example.test", "pw", &o),
		     AUTH_FAIL);
	write_user("bob@example.test", "pw");
	cr_assert_eq(login("192.0.2.1", "bob@example.test", "pw", &o), AUTH_OK);
	cr_assert_eq(login("192.0.2.1", "alice@example.test", "secret", &o),
		     AUTH_FAIL, "the new file replaced the old one");
}

#define MANY 1500

static sem_t gate, started;

static void blocked_job(void *arg)
{
	(void)arg;
	sem_post(&started);
	while (sem_wait(&gate) != 0)
		;
}

/* More logins than the worker queue holds: the rest wait on a timer. */
Test(auth, full_worker_queue_is_retried)
{
	static struct outcome o[MANY];
	char peer[32];
	int i, total;

	start("login_fail_delay 0s\n");
	/* Both threads busy, so the queue really fills. */
	cr_assert_eq(sem_init(&gate, 0, 0), 0);
	cr_assert_eq(sem_init(&started, 0, 0), 0);
	for (i = 0; i < 2; i++)
		cr_assert_eq(worker_submit(server_worker(srv), blocked_job, NULL,
					   NULL), 0);
	for (i = 0; i < 2; i++)
		while (sem_wait(&started) != 0)
			;
	for (i = 0; i < MANY; i++) {
		snprintf(peer, sizeof peer, "10.%d.%d.1", i / 256, i % 256);
		cr_assert_not_null(auth_start(srv, peer, "0123456789abcdef",
					      "PLAIN", "alice@example.test",
					      "secret", 6, done, &o[i]));
	}
	/* Once the user db has been looked at, the queue is full. */
	for (i = 0; i < 20000 && worker_in_flight(server_io_worker(srv)) > 0;
	     i++) {
		ev_run(server_loop(srv), EVRUN_NOWAIT);
		usleep(100);
	}
	ev_run(server_loop(srv), EVRUN_NOWAIT);
	cr_assert_eq(worker_in_flight(server_worker(srv)),
		     WORKER_QUEUE_DEFAULT + 2);
	sem_post(&gate);
	sem_post(&gate);
	do {
		ev_run(server_loop(srv), EVRUN_ONCE);
		for (i = 0, total = 0; i < MANY; i++)
			total += o[i].calls;
	} while (total < MANY);
	for (i = 0; i < MANY; i++)
		cr_assert_eq(o[i].result, AUTH_OK, "login %d", i);
	sem_destroy(&gate);
	sem_destroy(&started);
}

/* The one line per attempt, as the fail2ban filter reads it: warn for a
 * failure, info for a success, the client's name escaped into one token. */
Test(auth, one_log_line_per_attempt)
{
	char *text, *logf;
	struct outcome o;

	/* A relative path: beside the configuration, in the test's dir. */
	start("login_fail_delay 0s\nlog_file auth.log\n");
	logf = tu_path(dir, "auth.log");
	cr_assert_eq(login("192.0.2.7", "alice@example.test", "secret", &o),
		     AUTH_OK);
	cr_assert_eq(login("192.0.2.8", "alice@example.test", "wrong", &o),
		     AUTH_FAIL);
	cr_assert_eq(login("192.0.2.9", "x client=198.51.100.1\r\n\xe2\x80\xae",
			   "pw", &o), AUTH_FAIL);
	text = tu_read_file(logf, NULL);
	cr_assert_not_null(text);
	cr_assert_not_null(strstr(text, " info: 0123456789abcdef login "
		"user=alice@example.test client=192.0.2.7 result=ok "
		"service=pop3 mechanism=PLAIN\n"), "%s", text);
	cr_assert_not_null(strstr(text, " warn: 0123456789abcdef login "
		"user=alice@example.test client=192.0.2.8 result=fail "
		"service=pop3 mechanism=PLAIN\n"), "%s", text);
	cr_assert_not_null(strstr(text, " warn: 0123456789abcdef login "
		"user=x\\x20client=198.51.100.1\\x0d\\x0a\\xe2\\x80\\xae "
		"client=192.0.2.9 result=fail service=pop3 mechanism=PLAIN\n"),
		"%s", text);
	free(text);
	free(logf);
}
