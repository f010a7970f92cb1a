/* tests/test_server.c: the daemon runtime with a tiny line-echo daemon on
 * 127.0.0.1: accept, per-address limit, graceful stop, reload of the user
 * db and of the config, start-up errors. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <getopt.h>
#include <sodium.h>

#include "common/config/config.h"
#include "common/net/conn.h"
#include "common/base/log.h"
#include "common/users/password.h"
#include "common/runtime/server.h"
#include "common/users/userdb.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void)
{
	log_init("test_server", true);
	dir = tu_tmpdir();
}

static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(server, .init = setup, .fini = teardown, .timeout = 20);

/* ---- the echo daemon ---- */

struct echo {
	struct server_client cl; /* first: the shutdown hook finds us */
	struct server *srv;
	struct conn *conn;
};

static int echo_sessions;
static struct echo *last_session;

static void echo_readable(struct conn *c, void *arg)
{
	struct conn_line line;

	(void)arg;
	while (conn_next_line(c, &line) == 1)
		conn_printf(c, "echo %s\r\n", line.data);
}

static void echo_close(struct conn *c, void *arg,
		       enum conn_close_reason reason, const char *detail)
{
	struct echo *e = arg;

	(void)c;
	(void)reason;
	(void)detail;
	server_client_unregister(e->srv, &e->cl);
	echo_sessions--;
	if (last_session == e)
		last_session = NULL;
	free(e);
}

static const struct conn_cb echo_cb = {
	.on_readable = echo_readable,
	.on_close = echo_close,
};

static void echo_shutdown(struct server_client *cl)
{
	struct echo *e = (struct echo *)cl;

	conn_printf(e->conn, "bye\r\n");
	conn_close_after_flush(e->conn, "shutdown");
}

static void echo_accept(struct server *srv, const struct config_listen *lc,
			int fd, const char *peer)
{
	struct echo *e = calloc(1, sizeof *e);

	(void)lc;
	cr_assert_not_null(e);
	e->srv = srv;
	e->cl.shutdown = echo_shutdown;
	e->conn = conn_new(server_loop(srv), fd, &echo_cb, e);
	cr_assert_not_null(e->conn);
	cr_assert_eq(server_client_register(srv, &e->cl, peer), 0);
	echo_sessions++;
	last_session = e;
	conn_printf(e->conn, "hello\r\n");
}

static void echo_refuse(struct server *srv, const struct config_listen *lc,
			int fd, const char *peer)
{
	static const char line[] = "-ERR [SYS/TEMP] too many connections\r\n";

	(void)srv;
	(void)lc;
	(void)peer;
	cr_assert_eq(write(fd, line, sizeof line - 1), (ssize_t)(sizeof line - 1));
}

static const struct server_ops echo_ops = {
	.name = "test-echo",
	.proto = CONFIG_PROTO_POP3,
	.accept = echo_accept,
	.refuse = echo_refuse,
};

/* ---- helpers ---- */

/* The config with its user_db at dir/users_name. */
static char *write_config_users(unsigned port, const char *users_name,
				const char *extra)
{
	char *path = tu_path(dir, "kantorpos.conf");
	char text[2048];

	snprintf(text, sizeof text,
		 "hostname test.example\n"
		 "data_dir %s/data\n"
		 "user_db %s/%s\n"
		 "local_domain example.test\n"
		 "listen pop3 127.0.0.1:%u\n"
		 "workers 1\n"
		 "password_opslimit %llu\n"
		 "password_memlimit %zu\n"
		 "%s",
		 dir, dir, users_name, port,
		 (unsigned long long)crypto_pwhash_OPSLIMIT_MIN,
		 (size_t)crypto_pwhash_MEMLIMIT_MIN, extra);
	tu_write_file(path, text);
	return path;
}

static char *write_config(unsigned port, const char *extra)
{
	return write_config_users(port, "users", extra);
}

static void write_users(const char *const *names)
{
	char hash[PASSWORD_HASH_SIZE], *path = tu_path(dir, "users");
	char text[4096] = "";

	for (; *names != NULL; names++) {
		cr_assert_eq(password_hash("secret", 6, crypto_pwhash_OPSLIMIT_MIN,
					   crypto_pwhash_MEMLIMIT_MIN, hash,
					   sizeof hash), 0);
		strcat(text, *names);
		strcat(text, ":");
		strcat(text, hash);
		strcat(text, "\n");
	}
	tu_write_file(path, text);
	free(path);
}

static struct server *start(const char *conf)
{
	char *err = NULL;
	struct server *srv = server_new(conf, &echo_ops, SERVER_KEEP_PRIVS,
					&err);

	cr_assert_not_null(srv, "server_new: %s", err != NULL ? err : "?");
	return srv;
}

static int connect_port(unsigned port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0,
		     "connect: %s", strerror(errno));
	return fd;
}

/* Run the loop until fd has a whole line (returned) or EOF (""). */
static char *read_line(struct server *srv, int fd)
{
	static char buf[256];
	size_t len = 0;
	ssize_t n;
	int i;

	for (i = 0; i < 20000; i++) {
		ev_run(server_loop(srv), EVRUN_NOWAIT);
		n = recv(fd, buf + len, 1, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n < 0) {
			cr_assert(errno == EAGAIN || errno == EWOULDBLOCK,
				  "recv: %s", strerror(errno));
			usleep(500);
			continue;
		}
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return buf;
		}
		cr_assert_lt(++len, sizeof buf - 1);
	}
	buf[len] = '\0';
	cr_assert_eq(len, 0, "partial line \"%s\"", buf);
	return buf;
}

static void pump_until_count(struct server *srv, size_t want)
{
	int i;

	for (i = 0; i < 20000 && server_client_count(srv) != want; i++) {
		ev_run(server_loop(srv), EVRUN_NOWAIT);
		usleep(200);
	}
	cr_assert_eq(server_client_count(srv), want);
}

/* max_connections_per_ip of the config the last session was pinned to. */
static unsigned long long echo_pinned_limit(struct server *srv)
{
	(void)srv;
	cr_assert_not_null(last_session);
	return server_client_config(&last_session->cl)->max_connections_per_ip;
}

/* ---- tests ---- */

Test(server, accepts_and_serves)
{
	unsigned port = tu_free_port();
	char *conf = write_config(port, "");
	struct server *srv = start(conf);
	int fd;

	cr_assert_eq(server_listener_port(srv, 0), port);
	cr_assert_eq(server_listener_port(srv, 1), 0);
	cr_assert_null(server_userdb(srv)); /* missing file: empty */
	cr_assert_not_null(server_worker(srv));
	cr_assert_null(server_tls_ctx(srv));
	cr_assert_not(server_trace_on(srv));
	cr_assert_str_eq(server_config(srv)->hostname, "test.example");

	fd = connect_port(port);
	cr_assert_str_eq(read_line(srv, fd), "hello\r");
	cr_assert_eq(server_client_count(srv), 1);
	cr_assert_eq(server_client_count_ip(srv, "127.0.0.1"), 1);
	cr_assert_eq(write(fd, "ping\r\n", 6), 6);
	cr_assert_str_eq(read_line(srv, fd), "echo ping\r");
	close(fd);
	pump_until_count(srv, 0);
	cr_assert_eq(server_client_count_ip(srv, "127.0.0.1"), 0);
	server_free(srv);
	cr_assert_eq(echo_sessions, 0);
	free(conf);
}

Test(server, per_address_limit_refuses_with_the_daemon_line)
{
	unsigned port = tu_free_port();
	char *conf = write_config(port, "max_connections_per_ip 2\n");
	struct server *srv = start(conf);
	int a, b, c, d;

	a = connect_port(port);
	cr_assert_str_eq(read_line(srv, a), "hello\r");
	b = connect_port(port);
	cr_assert_str_eq(read_line(srv, b), "hello\r");
	c = connect_port(port);
	cr_assert_str_eq(read_line(srv, c),
			 "-ERR [SYS/TEMP] too many connections\r");
	cr_assert_str_eq(read_line(srv, c), ""); /* then closed */
	cr_assert_eq(server_client_count(srv), 2);
	close(c);

	/* a slot frees when a client leaves */
	close(a);
	pump_until_count(srv, 1);
	d = connect_port(port);
	cr_assert_str_eq(read_line(srv, d), "hello\r");
	cr_assert_eq(server_client_count_ip(srv, "127.0.0.1"), 2);
	close(b);
	close(d);
	pump_until_count(srv, 0);
	server_free(srv);
	free(conf);
}

Test(server, total_limit_refuses)
{
	unsigned port = tu_free_port();
	char *conf = write_config(port, "max_connections 1\n");
	struct server *srv = start(conf);
	int a, b;

	a = connect_port(port);
	cr_assert_str_eq(read_line(srv, a), "hello\r");
	b = connect_port(port);
	cr_assert_str_eq(read_line(srv, b),
			 "-ERR [SYS/TEMP] too many connections\r");
	close(a);
	close(b);
	pump_until_count(srv, 0);
	server_free(srv);
	free(conf);
}

Test(server, graceful_stop_shuts_every_client_down)
{
	unsigned port = tu_free_port();
	char *conf = write_config(port, "");
	struct server *srv = start(conf);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int a, b, fd;

	a = connect_port(port);
	cr_assert_str_eq(read_line(srv, a), "hello\r");
	b = connect_port(port);
	cr_assert_str_eq(read_line(srv, b), "hello\r");
	server_stop(srv);
	cr_assert(server_stopping(srv));
	server_stop(srv); /* repeated: ignored */
	/* the listener is closed at once */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	cr_assert_neq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	close(fd);
	cr_assert_eq(server_run(srv), 0); /* returns once all are gone */
	cr_assert_eq(server_client_count(srv), 0);
	cr_assert_eq(echo_sessions, 0);
	cr_assert_str_eq(read_line(srv, a), "bye\r");
	cr_assert_str_eq(read_line(srv, b), "bye\r");
	close(a);
	close(b);
	server_free(srv);
	free(conf);
}

Test(server, sighup_reloads_the_user_db)
{
	static const char *const one[] = { "alice@example.test", NULL };
	static const char *const two[] = { "alice@example.test",
					   "bob@example.test", NULL };
	unsigned port = tu_free_port();
	char *conf, *users = tu_path(dir, "users");
	struct server *srv;
	int i;

	write_users(one);
	conf = write_config(port, "");
	srv = start(conf);
	cr_assert_not_null(server_userdb(srv));
	cr_assert_eq(userdb_lookup(server_userdb(srv), "alice@example.test",
				   NULL), 1);
	cr_assert_eq(userdb_lookup(server_userdb(srv), "bob@example.test",
				   NULL), 0);
	write_users(two);
	cr_assert_eq(raise(SIGHUP), 0);
	for (i = 0; i < 20000 && userdb_lookup(server_userdb(srv),
					       "bob@example.test", NULL) != 1;
	     i++) {
		ev_run(server_loop(srv), EVRUN_NOWAIT);
		usleep(200);
	}
	cr_assert_eq(userdb_lookup(server_userdb(srv), "bob@example.test",
				   NULL), 1);
	server_free(srv);
	free(users);
	free(conf);
}

Test(server, missing_user_db_appears_later)
{
	static const char *const one[] = { "alice@example.test", NULL };
	unsigned port = tu_free_port();
	char *conf = write_config(port, "");
	struct server *srv = start(conf);

	cr_assert_null(server_userdb(srv));
	server_userdb_refresh(srv);
	cr_assert_null(server_userdb(srv));
	write_users(one);
	server_userdb_refresh(srv);
	cr_assert_not_null(server_userdb(srv));
	cr_assert_eq(userdb_count(server_userdb(srv)), 1);
	server_free(srv);
	free(conf);
}

/* Run the loop until the log file has text (bounded); returns the file. */
static char *wait_log(struct server *srv, const char *logf, const char *text)
{
	char *got = NULL;
	int i;

	for (i = 0; i < 20000; i++) {
		ev_run(server_loop(srv), EVRUN_NOWAIT);
		free(got);
		got = tu_read_file(logf, NULL);
		if (got != NULL && strstr(got, text) != NULL)
			return got;
		usleep(200);
	}
	cr_assert_fail("no \"%s\" in the log:\n%s", text,
		       got != NULL ? got : "(none)");
	return NULL;
}

/* The user db part of a reload runs on the storage pool: a new path that
 * cannot be read keeps the loaded db, says so, and the summary counts it;
 * a good one replaces it. */
Test(server, reload_of_the_user_db_keeps_the_loaded_one_on_error)
{
	static const char *const one[] = { "alice@example.test", NULL };
	static const char *const two[] = { "bob@example.test", NULL };
	unsigned port = tu_free_port();
	char *conf, *logf = tu_path(dir, "server.log"), *users, *users2, *moved;
	char *text;
	struct server *srv;

	write_users(one);
	conf = write_config_users(port, "users", "log_file server.log\n");
	srv = start(conf);
	cr_assert_eq(userdb_lookup(server_userdb(srv), "alice@example.test",
				   NULL), 1);
	/* A directory is no user db. */
	moved = tu_path(dir, "users.d");
	cr_assert_eq(mkdir(moved, 0700), 0);
	free(write_config_users(port, "users.d", "log_file server.log\n"));
	cr_assert_eq(server_reload(srv), 0, "the parts applied at once");
	text = wait_log(srv, logf, "applied except for 1 part kept");
	cr_assert_not_null(strstr(text, "error: reload: user_db "), "%s", text);
	cr_assert_not_null(strstr(text, "users.d: Is a directory; keeping the "
				  "user database "), "%s", text);
	free(text);
	cr_assert_eq(userdb_lookup(server_userdb(srv), "alice@example.test",
				   NULL), 1);
	/* A good file at a new path replaces it. */
	users = tu_path(dir, "users");
	users2 = tu_path(dir, "users2");
	write_users(two);
	cr_assert_eq(rename(users, users2), 0);
	free(write_config_users(port, "users2", "log_file server.log\n"));
	cr_assert_eq(server_reload(srv), 0);
	free(wait_log(srv, logf, "info: reloaded "));
	cr_assert_eq(userdb_lookup(server_userdb(srv), "bob@example.test",
				   NULL), 1);
	cr_assert_eq(userdb_lookup(server_userdb(srv), "alice@example.test",
				   NULL), 0);
	server_free(srv);
	free(users);
	free(users2);
	free(moved);
	free(logf);
	free(conf);
}

Test(server, bad_reload_keeps_the_config_and_pins_survive)
{
	unsigned port = tu_free_port();
	char *conf = write_config(port, "max_connections_per_ip 7\n");
	struct server *srv = start(conf);
	const struct config *first = server_config(srv);
	int a;

	a = connect_port(port);
	cr_assert_str_eq(read_line(srv, a), "hello\r");
	cr_assert_eq(server_client_count(srv), 1);

	/* a broken file is refused whole */
	tu_write_file(conf, "bogus line\n");
	cr_assert_eq(server_reload(srv), -1);
	cr_assert_eq(server_config(srv), first);
	cr_assert_eq(server_config(srv)->max_connections_per_ip, 7);

	/* a good one replaces it; the session keeps the config it began with */
	free(write_config(port, "max_connections_per_ip 9\n"));
	cr_assert_eq(server_reload(srv), 0);
	cr_assert_eq(server_config(srv)->max_connections_per_ip, 9);
	cr_assert_eq(echo_pinned_limit(srv), 7);
	close(a);
	pump_until_count(srv, 0);
	server_free(srv);
	free(conf);
}

Test(server, startup_errors_are_reported)
{
	unsigned port = tu_free_port();
	char *conf, *err = NULL;
	struct server *srv;

	/* no pop3 listener */
	conf = tu_path(dir, "kantorpos.conf");
	tu_write_file(conf, "data_dir data\nuser_db users\n"
			    "local_domain example.test\n"
			    "listen smtp 127.0.0.1:2525\n");
	srv = server_new(conf, &echo_ops, SERVER_KEEP_PRIVS, &err);
	cr_assert_null(srv);
	cr_assert_not_null(strstr(err, "no \"listen pop3\" line"), "%s", err);
	free(err);
	err = NULL;

	/* config errors: every one of them */
	tu_write_file(conf, "bogus 1\nalso_bogus 2\n");
	srv = server_new(conf, &echo_ops, SERVER_KEEP_PRIVS, &err);
	cr_assert_null(srv);
	cr_assert_not_null(strstr(err, ":1:"), "%s", err);
	cr_assert_not_null(strstr(err, ":2:"), "%s", err);
	free(err);
	err = NULL;
	free(conf);

	/* port taken */
	conf = write_config(port, "");
	srv = start(conf);
	cr_assert_null(server_new(conf, &echo_ops, SERVER_KEEP_PRIVS, &err));
	cr_assert_not_null(strstr(err, "bind"), "%s", err);
	free(err);
	server_free(srv);
	free(conf);
}

Test(server, session_ids_are_16_hex_digits)
{
	unsigned port = tu_free_port();
	char *conf = write_config(port, "");
	struct server *srv = start(conf);
	char a[SERVER_SID_SIZE], b[SERVER_SID_SIZE];

	server_new_sid(srv, a);
	server_new_sid(srv, b);
	cr_assert_eq(strlen(a), 16);
	cr_assert_eq(strspn(a, "0123456789abcdef"), 16);
	cr_assert_str_neq(a, b);
	server_free(srv);
	free(conf);
}

Test(server, main_options_and_exit_codes)
{
	char *conf = tu_path(dir, "missing.conf");
	char *help[] = { "test-echo", "-h", NULL };
	char *bad[] = { "test-echo", "-x", NULL };
	char *extra[] = { "test-echo", "stray", NULL };
	char *noconf[] = { "test-echo", "-f", "-c", conf, NULL };

	cr_assert_eq(server_main(2, help, &echo_ops), 0);
	optind = 1;
	cr_assert_eq(server_main(2, bad, &echo_ops), 2);
	optind = 1;
	cr_assert_eq(server_main(2, extra, &echo_ops), 2);
	optind = 1;
	cr_assert_eq(server_main(4, noconf, &echo_ops), 1);
	free(conf);
}

static void setup_redirected(void)
{
	cr_redirect_stderr();
	setup();
}

Test(server, trace_escapes_control_bytes, .init = setup_redirected)
{
	unsigned port = tu_free_port();
	char *conf = write_config(port, "");
	struct server *srv;
	char *err = NULL, text[8192];
	size_t n;
	FILE *f;

	srv = server_new(conf, &echo_ops, SERVER_KEEP_PRIVS | SERVER_TRACE,
			 &err);
	cr_assert_not_null(srv, "%s", err != NULL ? err : "?");
	cr_assert(server_trace_on(srv));
	server_trace(srv, "00000000000000aa", true, "USER a\r\nb\\", 10);
	server_trace(srv, "00000000000000aa", false, "+OK", 3);
	server_free(srv);
	fflush(stderr);
	f = cr_get_redirected_stderr();
	n = fread(text, 1, sizeof text - 1, f);
	text[n] = '\0';
	cr_assert_not_null(strstr(text, "00000000000000aa < USER a\\x0d\\x0ab\\x5c\n"),
			   "%s", text);
	cr_assert_not_null(strstr(text, "00000000000000aa > +OK\n"), "%s", text);
	free(conf);
}
