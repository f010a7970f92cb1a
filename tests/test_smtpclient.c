/* tests/test_smtpclient.c: the outbound SMTP client against a scripted
 * server thread — pipelined and lock-step envelopes, per-recipient results,
 * dot-stuffing, HELO fallback, RSET after failures, SIZE, STARTTLS
 * (opportunistic, required, pinned, DANE and its unauthenticated
 * ENCRYPT mode), implicit TLS, AUTH PLAIN and LOGIN
 * (and when not to send them), a dropped connection mid-data,
 * connect failures and timeouts, and replies out of step with the
 * commands (protocol errors) with the server's writes fed in chunks. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>
#include <netinet/tcp.h>

#include <ev.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/base/log.h"
#include "common/client/smtpclient.h"
#include "common/proto/sasl.h"
#include "common/net/tls.h"
#include "common/net/worker.h"
#include "tests/helpers/dotmodel.h"
#include "tests/helpers/testutil.h"
#include "tests/helpers/tlscert.h"

/* One step of the server: read a line starting with expect (NULL: read
 * nothing), then send reply (NULL: nothing; "<CLOSE>": hang up; "<TLS>":
 * handshake as server; "<WAIT>": read until the client hangs up, kept in
 * rest). expect "<DATA>" reads a body up to CRLF.CRLF. */
struct step {
	const char *expect;
	const char *reply;
};

struct server {
	int lfd;
	unsigned port;
	const struct step *steps;
	SSL_CTX *tls;
	pthread_t thread;
	char transcript[65536]; /* every line received, CRLF kept */
	char body[65536];
	uint64_t data_len, data_hash; /* of every data line, as sent */
	char rest[8192];        /* what <WAIT> read (the start of it) */
	size_t rest_len;
	size_t chunk;           /* >0: each reply written in pieces this big */
	int client_fd;          /* the client's socket (same process) or -1 */
	char peer[64];          /* the client's address (IPv4) */
	char fail[256];
};

struct client {
	struct ev_loop *loop;
	struct worker *pool;
	struct smtpc *s;
	const struct smtpc_msg *msg;
	int sent;
	bool closed, quit_after;
	char error[SMTPC_TEXT_MAX];
	struct smtpc_reply results[4];
	size_t n_results;
	bool tls;
	bool pipelining;
	const char *command;    /* sent with smtpc_command before the message */
	bool command_sent;
	struct smtpc_reply reply; /* its reply */
	bool no_pool;           /* start without a pool (address literals) */
};

static char *dir;

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	dir = tu_tmpdir();
}

static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(smtpclient, .init = setup, .fini = teardown, .timeout = 20);

struct io {
	int fd;
	SSL *ssl;
	char buf[8192];
	size_t len;
};

static ssize_t io_read(struct io *io, char *b, size_t n)
{
	return io->ssl != NULL ? SSL_read(io->ssl, b, (int)n) : read(io->fd, b, n);
}

static int io_send(struct io *io, const char *p, size_t n)
{
	if (io->ssl != NULL)
		return SSL_write(io->ssl, p, (int)n) == (int)n ? 0 : -1;
	return write(io->fd, p, n) == (ssize_t)n ? 0 : -1;
}

static bool same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_family == b->sin_family && a->sin_port == b->sin_port &&
	       a->sin_addr.s_addr == b->sin_addr.s_addr;
}

/* The client's socket is in this process: the fd whose local address is
 * the peer of ours (-1 when it is gone). */
static int find_client_fd(int fd)
{
	struct sockaddr_in peer, mine;
	socklen_t len = sizeof(peer);

	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
		return -1;
	for (int c = 3; c < 1024; c++) {
		len = sizeof(mine);
		if (c != fd && getsockname(c, (struct sockaddr *)&mine, &len) == 0 &&
		    same_addr(&mine, &peer))
			return c;
	}
	return -1;
}

/* Until the client has read everything written (at most 2 s): first the
 * bytes reach its socket (acknowledged), then its loop takes them. */
static void wait_taken(struct server *sv, struct io *io)
{
	for (int i = 0; i < 10000; i++) {
		int unacked = 0, unread = 0;
		struct timespec ts = { 0, 200000 };

		if (ioctl(io->fd, SIOCOUTQ, &unacked) < 0 ||
		    find_client_fd(io->fd) != sv->client_fd ||
		    ioctl(sv->client_fd, FIONREAD, &unread) < 0)
			return;
		if (unacked == 0 && unread == 0)
			return;
		nanosleep(&ts, NULL);
	}
}

/* One write of the script. In pieces of sv->chunk bytes, each taken by
 * the client before the next is written, except that the byte after a
 * line feed goes with it: a client acts when a line is complete, and
 * what one write holds behind that line was there when it did. */
static void io_write(struct server *sv, struct io *io, const char *s)
{
	size_t len = strlen(s), pos = 0;

	if (sv->chunk == 0 || io->ssl != NULL) {
		io_send(io, s, len);
		return;
	}
	while (pos < len) {
		size_t end = pos + sv->chunk < len ? pos + sv->chunk : len;

		if (end < len && s[end - 1] == '\n')
			end++;
		if (io_send(io, s + pos, end - pos) < 0)
			return;
		wait_taken(sv, io);
		pos = end;
	}
}

/* A line with CRLF into out; -1 at EOF. */
static int io_line(struct io *io, char *out, size_t outlen)
{
	for (;;) {
		char *lf = memchr(io->buf, '\n', io->len);

		if (lf != NULL) {
			size_t l = (size_t)(lf - io->buf) + 1;

			snprintf(out, outlen, "%.*s", (int)l, io->buf);
			memmove(io->buf, lf + 1, io->len - l);
			io->len -= l;
			return 0;
		}
		ssize_t n = io_read(io, io->buf + io->len,
				    sizeof(io->buf) - io->len - 1);
		if (n <= 0)
			return -1;
		io->len += (size_t)n;
	}
}

/* FNV-1a over len more bytes. */
static uint64_t fnv(uint64_t h, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211u;
	}
	return h;
}

/* Accept the client, noting its address. */
static int accept_client(struct server *sv)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int fd = accept(sv->lfd, (struct sockaddr *)&peer, &plen);

	if (fd >= 0 && peer.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr,
			  sv->peer, sizeof(sv->peer));
	return fd;
}

static void *server_main(void *arg)
{
	struct server *sv = arg;
	struct io io = { .fd = -1 };
	char line[4096];

	io.fd = accept_client(sv);
	if (io.fd < 0)
		return NULL;
	if (sv->chunk > 0) {
		int one = 1;

		setsockopt(io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		sv->client_fd = find_client_fd(io.fd);
	}
	for (const struct step *st = sv->steps;
	     st->expect != NULL || st->reply != NULL; st++) {
		if (st->expect != NULL && strcmp(st->expect, "<DATA>") == 0) {
			for (;;) {
				if (io_line(&io, line, sizeof(line)) < 0) {
					snprintf(sv->fail, sizeof(sv->fail),
						 "EOF in data");
					goto out;
				}
				if (strcmp(line, ".\r\n") == 0)
					break;
				sv->data_len += strlen(line);
				sv->data_hash = fnv(sv->data_hash, line,
						    strlen(line));
				strncat(sv->body, line,
					sizeof(sv->body) - strlen(sv->body) - 1);
			}
		} else if (st->expect != NULL) {
			if (io_line(&io, line, sizeof(line)) < 0) {
				snprintf(sv->fail, sizeof(sv->fail),
					 "EOF, expected %s", st->expect);
				goto out;
			}
			strncat(sv->transcript, line,
				sizeof(sv->transcript) - strlen(sv->transcript) - 1);
			if (strncmp(line, st->expect, strlen(st->expect)) != 0) {
				snprintf(sv->fail, sizeof(sv->fail),
					 "expected %s, got %.100s", st->expect, line);
				goto out;
			}
		}
		if (st->reply == NULL)
			continue;
		if (strcmp(st->reply, "<CLOSE>") == 0)
			goto out;
		if (strcmp(st->reply, "<TLS>") == 0) {
			io.ssl = SSL_new(sv->tls);
			SSL_set_fd(io.ssl, io.fd);
			if (SSL_accept(io.ssl) != 1) {
				snprintf(sv->fail, sizeof(sv->fail),
					 "TLS handshake failed");
				goto out;
			}
			continue;
		}
		if (strcmp(st->reply, "<WAIT>") == 0) {
			/* Say nothing until the client hangs up. */
			ssize_t n;

			memcpy(sv->rest, io.buf, io.len);
			sv->rest_len = io.len;
			while ((n = io_read(&io, line, sizeof(line))) > 0) {
				size_t room = sizeof(sv->rest) - sv->rest_len;
				size_t k = (size_t)n < room ? (size_t)n : room;

				memcpy(sv->rest + sv->rest_len, line, k);
				sv->rest_len += k;
			}
			goto out;
		}
		io_write(sv, &io, st->reply);
	}
	/* Drain until the client closes. */
	while (io_read(&io, line, sizeof(line)) > 0)
		;
out:
	if (io.ssl != NULL) {
		SSL_shutdown(io.ssl);
		SSL_free(io.ssl);
	}
	close(io.fd);
	return NULL;
}

static void server_start(struct server *sv, const struct step *steps)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	memset(sv, 0, sizeof(*sv));
	sv->data_hash = 14695981039346656037u;
	sv->steps = steps;
	sv->client_fd = -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(sv->lfd, 0);
	cr_assert_eq(bind(sv->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(sv->lfd, 4), 0);
	cr_assert_eq(getsockname(sv->lfd, (struct sockaddr *)&sa, &len), 0);
	sv->port = ntohs(sa.sin_port);
}

static void server_run(struct server *sv)
{
	cr_assert_eq(pthread_create(&sv->thread, NULL, server_main, sv), 0);
}

static void server_join(struct server *sv)
{
	pthread_join(sv->thread, NULL);
	close(sv->lfd);
	cr_assert_eq(sv->fail[0], '\0', "server: %s", sv->fail);
}

static void on_ready(struct smtpc *s, void *arg)
{
	struct client *cl = arg;

	cl->tls = smtpc_tls_active(s);
	cl->pipelining = smtpc_has_ext(s, "PIPELINING");
	if (cl->command != NULL && !cl->command_sent) {
		cl->command_sent = true;
		cr_assert_eq(smtpc_command(s, cl->command, false), 0);
		return;
	}
	if (cl->msg != NULL && cl->sent == 0) {
		cl->sent = 1;
		cr_assert_eq(smtpc_send(s, cl->msg), 0);
		return;
	}
	smtpc_quit(s);
}

static void on_result(struct smtpc *s, void *arg,
		      const struct smtpc_reply *replies, size_t n)
{
	struct client *cl = arg;

	(void)s;
	cr_assert_leq(n, 4);
	memcpy(cl->results, replies, n * sizeof(*replies));
	cl->n_results = n;
}

static void on_reply(struct smtpc *s, void *arg, const struct smtpc_reply *r)
{
	struct client *cl = arg;

	(void)s;
	cl->reply = *r;
}

static void on_close(struct smtpc *s, void *arg, const char *error,
		     const struct smtpc_reply *last)
{
	struct client *cl = arg;

	(void)s;
	(void)last;
	cl->closed = true;
	snprintf(cl->error, sizeof(cl->error), "%s", error != NULL ? error : "");
}

static const struct smtpc_cb test_cb = {
	.on_ready = on_ready,
	.on_result = on_result,
	.on_reply = on_reply,
	.on_close = on_close,
};

/* Run a session against port with opts adjustments; returns when closed. */
static void run_client(struct client *cl, struct smtpc_opts *opts)
{
	cl->loop = ev_loop_new(EVFLAG_AUTO);
	cl->pool = cl->no_pool ? NULL : worker_new(cl->loop, 1, 0);
	cr_assert(cl->no_pool || cl->pool != NULL);
	cl->s = smtpc_start(cl->loop, cl->pool, opts, &test_cb, cl);
	cr_assert_not_null(cl->s);
	cr_assert_not(cl->closed, "no callback inside smtpc_start");
	while (!cl->closed)
		ev_run(cl->loop, EVRUN_ONCE);
	if (cl->pool != NULL)
		worker_free(cl->pool);
	ev_loop_destroy(cl->loop);
}

/* A message file with the given text; returns the fd. */
static int body_fd(const char *text)
{
	char *path = tu_path(dir, "msg");
	int fd;

	tu_write_file(path, text);
	fd = open(path, O_RDONLY);
	free(path);
	cr_assert_geq(fd, 0);
	return fd;
}

/* A message file of size bytes in lines of 100 ("xx...x\n"). */
static int big_body_fd(size_t size)
{
	char *big = malloc(size + 1);
	int fd;

	cr_assert_not_null(big);
	memset(big, 'x', size);
	for (size_t i = 99; i < size; i += 100)
		big[i] = '\n';
	big[size] = '\0';
	fd = body_fd(big);
	free(big);
	return fd;
}

static struct smtpc_opts plain_opts(unsigned port)
{
	return (struct smtpc_opts){ .host = "127.0.0.1", .port = port,
				    .helo = "client.test",
				    .tls = SMTPC_TLS_NONE, .timeout = 5 };
}

/* One session: a server thread plays steps (its writes in pieces of
 * chunk bytes, 0: whole) and cl runs with o, the port being the
 * server's; returns when both are done and the server kept to its
 * script. */
static void converse(struct server *sv, const struct step *steps,
		     size_t chunk, struct client *cl, struct smtpc_opts o)
{
	server_start(sv, steps);
	sv->chunk = chunk;
	server_run(sv);
	o.port = sv->port;
	run_client(cl, &o);
	server_join(sv);
}

/* A session that sends a message of size bytes (big_body_fd) from
 * s@x.test to a@b.test; its results are in cl. */
static void send_big(const struct step *steps, size_t size, struct client *cl)
{
	const char *rcpts[] = { "a@b.test" };
	struct smtpc_msg msg = { .sender = "s@x.test", .rcpts = rcpts,
				 .n_rcpts = 1, .fd = big_body_fd(size),
				 .size = size };
	struct server sv;

	cl->msg = &msg;
	converse(&sv, steps, 0, cl, plain_opts(0));
	cl->msg = NULL;
	close(msg.fd);
}

Test(smtpclient, pipelined_message_with_one_rejected_recipient)
{
	static const struct step steps[] = {
		{ NULL, "220 sink.test ESMTP\r\n" },
		{ "EHLO client.test", "250-sink.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250 8BITMIME\r\n" },
		{ "MAIL FROM:<alice@example.test> SIZE=", "250 2.1.0 ok\r\n" },
		{ "RCPT TO:<bob@backup.test>", "250 2.1.5 ok\r\n" },
		{ "RCPT TO:<nobody@backup.test>", "550 5.1.1 no such user\r\n" },
		{ "DATA", "354 go\r\n" },
		{ "<DATA>", "250 2.0.0 queued as X\r\n" },
		{ "QUIT", "221 2.0.0 bye\r\n" },
		{ NULL, NULL },
	};
	const char *rcpts[] = { "bob@backup.test", "nobody@backup.test" };
	const char *text = "Subject: t\r\n\r\n.leading dot\r\nbare lf\n..two\r\nlast";
	struct smtpc_msg msg = { .sender = "alice@example.test", .rcpts = rcpts,
				 .n_rcpts = 2, .fd = body_fd(text),
				 .size = strlen(text) };
	struct client cl = { .msg = &msg };
	struct server sv;

	converse(&sv, steps, 0, &cl, plain_opts(0));
	cr_assert_str_eq(cl.error, "");
	cr_assert(cl.pipelining);
	cr_assert_eq(cl.n_results, 2);
	cr_assert_eq(cl.results[0].code, 250);
	cr_assert_str_eq(cl.results[0].text, "250 2.0.0 queued as X");
	cr_assert_eq(cl.results[1].code, 550);
	cr_assert_str_eq(cl.results[1].text, "550 5.1.1 no such user");
	cr_assert_str_eq(sv.body, "Subject: t\r\n\r\n..leading dot\r\nbare lf\r\n"
				  "...two\r\nlast\r\n");
	close(msg.fd);
}

Test(smtpclient, lock_step_mail_refused_then_rset)
{
	static const struct step steps[] = {
		{ NULL, "220 sink.test\r\n" },
		{ "EHLO", "250 sink.test\r\n" },
		{ "MAIL FROM:<>", "451 4.3.0 try later\r\n" },
		{ "RSET", "250 2.0.0 ok\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	const char *rcpts[] = { "a@b.test", "c@b.test" };
	struct smtpc_msg msg = { .sender = "", .rcpts = rcpts, .n_rcpts = 2,
				 .fd = body_fd("x\r\n"), .size = 3 };
	struct client cl = { .msg = &msg };
	struct server sv;

	converse(&sv, steps, 0, &cl, plain_opts(0));
	cr_assert_str_eq(cl.error, "");
	cr_assert_not(cl.pipelining);
	cr_assert_eq(cl.n_results, 2);
	cr_assert_eq(cl.results[0].code, 451);
	cr_assert_eq(cl.results[1].code, 451);
	close(msg.fd);
}

Test(smtpclient, lock_step_all_recipients_refused_no_data)
{
	static const struct step steps[] = {
		{ NULL, "220 sink.test\r\n" },
		{ "EHLO", "250 sink.test\r\n" },
		{ "MAIL FROM:<s@x.test>", "250 ok\r\n" },
		{ "RCPT TO:<a@b.test>", "550 5.1.1 no\r\n" },
		{ "RSET", "250 ok\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	const char *rcpts[] = { "a@b.test" };
	struct smtpc_msg msg = { .sender = "s@x.test", .rcpts = rcpts,
				 .n_rcpts = 1, .fd = body_fd("x\r\n"), .size = 3 };
	struct client cl = { .msg = &msg };
	struct server sv;

	converse(&sv, steps, 0, &cl, plain_opts(0));
	cr_assert_eq(cl.n_results, 1);
	cr_assert_eq(cl.results[0].code, 550);
	close(msg.fd);
}

Test(smtpclient, helo_fallback)
{
	static const struct step steps[] = {
		{ NULL, "220 old.test\r\n" },
		{ "EHLO client.test", "502 5.5.1 what\r\n" },
		{ "HELO client.test", "250 old.test\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	struct client cl = { .msg = NULL };
	struct server sv;

	converse(&sv, steps, 0, &cl, plain_opts(0));
	cr_assert_str_eq(cl.error, "");
}

Test(smtpclient, greeting_refused)
{
	static const struct step steps[] = {
		{ NULL, "554 5.7.1 go away\r\n" },
		{ NULL, "<WAIT>" },
		{ NULL, NULL },
	};
	struct client cl = { .msg = NULL };
	struct server sv;

	converse(&sv, steps, 0, &cl, plain_opts(0));
	cr_assert(strstr(cl.error, "refused the session: 554 5.7.1 go away") != NULL,
		  "%s", cl.error);
}

Test(smtpclient, size_limit_refused_locally)
{
	static const struct step steps[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO", "250-s\r\n250 SIZE 10\r\n" },
		{ "RSET", "250 ok\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	const char *rcpts[] = { "a@b.test" };
	const char *text = "0123456789abcdef\r\n";
	struct smtpc_msg msg = { .sender = "s@x.test", .rcpts = rcpts,
				 .n_rcpts = 1, .fd = body_fd(text),
				 .size = strlen(text) };
	struct client cl = { .msg = &msg };
	struct server sv;

	converse(&sv, steps, 0, &cl, plain_opts(0));
	cr_assert_eq(cl.n_results, 1);
	cr_assert_eq(cl.results[0].code, 552);
	cr_assert(strstr(cl.results[0].text, "5.3.4") != NULL);
	close(msg.fd);
}

/* The server hangs up after 354: the accepted recipient has no final
 * reply and is reported as a temporary failure (code 0). */
Test(smtpclient, connection_lost_in_data)
{
	static const struct step steps[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO", "250 s\r\n" },
		{ "MAIL", "250 ok\r\n" },
		{ "RCPT", "250 ok\r\n" },
		{ "DATA", "354 go\r\n" },
		{ NULL, "<CLOSE>" },
		{ NULL, NULL },
	};
	struct client cl = { .msg = NULL };

	send_big(steps, 300000, &cl);
	cr_assert_eq(cl.n_results, 1);
	cr_assert_eq(cl.results[0].code, 0);
	cr_assert_str_neq(cl.error, "");
}

/* A body of several read-ahead pieces (lines that start with a dot and
 * bare line feeds on both sides of every 64 KiB boundary) arrives whole
 * and in order, as the wire form of the file says. */
Test(smtpclient, big_body_read_ahead_arrives_whole)
{
	static const struct step steps[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO", "250 s\r\n" },
		{ "MAIL", "250 ok\r\n" },
		{ "RCPT", "250 ok\r\n" },
		{ "DATA", "354 go\r\n" },
		{ "<DATA>", "250 2.0.0 queued\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	const char *rcpts[] = { "a@b.test" };
	size_t size = 5 * 65536 + 777, wire_len = 0;
	char *text = malloc(size + 1), *path = tu_path(dir, "big");
	uint64_t hash = 14695981039346656037u;
	struct client cl = { .msg = NULL };
	struct smtpc_msg msg = { .sender = "s@x.test", .rcpts = rcpts,
				 .n_rcpts = 1, .size = size };
	char *wire = malloc(2 * size + 5);
	struct server sv;

	cr_assert_not_null(text);
	cr_assert_not_null(wire);
	for (size_t i = 0; i < size; i++)
		text[i] = i % 80 == 79 ? '\n' : (char)('a' + i % 26);
	for (size_t i = 80; i < size; i += 7 * 80)
		text[i] = '.';
	for (size_t k = 1; k * 65536 < size; k++) {
		text[k * 65536 - 1] = '\n';
		text[k * 65536] = '.';
	}
	text[size] = '\0';
	tu_write_file(path, text);
	msg.fd = open(path, O_RDONLY);
	cr_assert_geq(msg.fd, 0);
	/* The data lines the server reads: the wire form without ".\r\n". */
	wire_len = dotmodel_stuff(true, text, size, wire) - 3;
	hash = fnv(hash, wire, wire_len);
	cl.msg = &msg;
	converse(&sv, steps, 0, &cl, plain_opts(0));
	cr_assert_str_eq(sv.fail, "");
	cr_assert_eq(cl.n_results, 1);
	cr_assert_eq(cl.results[0].code, 250, "%s", cl.results[0].text);
	cr_assert_eq(sv.data_len, wire_len);
	cr_assert_eq(sv.data_hash, hash, "the body arrived as the file says");
	close(msg.fd);
	free(path);
	free(wire);
	free(text);
}

Test(smtpclient, connect_refused)
{
	struct server sv;
	struct client cl = { .msg = NULL };
	struct smtpc_opts o;

	/* A port that was just free: nothing listens there. */
	server_start(&sv, NULL);
	close(sv.lfd);
	o = plain_opts(sv.port);
	run_client(&cl, &o);
	cr_assert(strstr(cl.error, "Connection refused") != NULL, "%s",
		  cl.error);
}

/* An address literal needs no resolution: the session starts from the
 * loop, without the pool (none is given here). */
Test(smtpclient, literal_needs_no_pool)
{
	static const struct step steps[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO client.test", "250 s\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	struct client cl = { .msg = NULL, .no_pool = true };
	struct server sv;

	converse(&sv, steps, 0, &cl, plain_opts(0));
	cr_assert_str_eq(cl.error, "");
}

/* outbound_bind: connections leave from the bind address of their family;
 * one that is not this host's fails the connect (the next address would
 * be tried). */
Test(smtpclient, bind_address)
{
	static const struct step steps[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO client.test", "250 s\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	struct client cl = { .msg = NULL };
	struct server sv;
	struct smtpc_opts o = plain_opts(0);

	o.bind4 = "127.0.0.9";
	o.bind6 = "::1";
	converse(&sv, steps, 0, &cl, o);
	cr_assert_str_eq(cl.error, "");
	cr_assert_str_eq(sv.peer, "127.0.0.9");

	struct client cl2 = { .msg = NULL };

	server_start(&sv, NULL);
	o = plain_opts(sv.port);
	o.bind4 = "192.0.2.1"; /* TEST-NET-1: not an address of this host */
	run_client(&cl2, &o);
	close(sv.lfd);
	cr_assert(strstr(cl2.error, "Cannot assign requested address") != NULL,
		  "%s", cl2.error);

	/* not a literal: refused at the start */
	o.bind4 = "localhost";
	cr_assert_null(smtpc_start(EV_DEFAULT, NULL, &o, &test_cb, &cl2));
}

Test(smtpclient, unresolvable_host)
{
	struct client cl = { .msg = NULL };
	struct smtpc_opts o = plain_opts(25);

	o.host = "no-such-host.invalid";
	run_client(&cl, &o);
	cr_assert_str_neq(cl.error, "");
}

Test(smtpclient, timeout_waiting_for_reply)
{
	static const struct step steps[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO", "<WAIT>" },
		{ NULL, NULL },
	};
	struct client cl = { .msg = NULL };
	struct server sv;
	struct smtpc_opts o;

	o = plain_opts(0);
	o.timeout = 1;
	converse(&sv, steps, 0, &cl, o);
	cr_assert(strstr(cl.error, "timeout waiting for the EHLO reply") != NULL,
		  "%s", cl.error);
}

Test(smtpclient, starttls_required_but_not_offered)
{
	static const struct step steps[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO", "250 s\r\n" },
		{ NULL, "<WAIT>" },
		{ NULL, NULL },
	};
	struct client cl = { .msg = NULL };
	struct server sv;
	struct smtpc_opts o;

	o = plain_opts(0);
	o.tls = SMTPC_TLS_REQUIRED;
	converse(&sv, steps, 0, &cl, o);
	cr_assert(strstr(cl.error, "does not offer STARTTLS") != NULL, "%s",
		  cl.error);
}

/* One session against a server with a self-signed certificate for
 * "localhost" (and 127.0.0.1) playing steps; o's TLS mode, name and login
 * as given, its contexts made here (verifying against that certificate
 * with_ca, else the system store), its port the server's; with_pin: the
 * certificate's pin. The server's script is not judged (sv->fail). */
static void tls_converse_cert(struct server *sv, const struct step *steps,
			      const char *cert, const char *key,
			      const char *fp, bool with_ca, struct client *cl,
			      struct smtpc_opts o)
{
	char err[256];
	SSL_CTX *verify, *any;

	server_start(sv, steps);
	sv->tls = tls_server_ctx_new(cert, key, err, sizeof(err));
	cr_assert_not_null(sv->tls, "%s", err);
	verify = tls_client_ctx_new(with_ca ? cert : NULL, err, sizeof(err));
	any = smtpc_ctx_any_new(err, sizeof(err));
	cr_assert_not_null(verify);
	cr_assert_not_null(any);
	server_run(sv);
	o.port = sv->port;
	o.verify_ctx = verify;
	o.any_ctx = any;
	o.pin = fp;
	run_client(cl, &o);
	pthread_join(sv->thread, NULL);
	close(sv->lfd);
	SSL_CTX_free(sv->tls);
	SSL_CTX_free(verify);
	SSL_CTX_free(any);
}

static void tls_converse(struct server *sv, const struct step *steps,
			 bool with_pin, bool with_ca, struct client *cl,
			 struct smtpc_opts o)
{
	char *cert, *key, fp[TLS_FP_STRLEN];

	tu_make_cert(dir, &cert, &key, fp);
	tls_converse_cert(sv, steps, cert, key, with_pin ? fp : NULL, with_ca,
			  cl, o);
	free(cert);
	free(key);
}

/* STARTTLS variants against a self-signed certificate for "localhost". */
static void tls_session(enum smtpc_tls mode, bool with_pin, bool with_ca,
			const char *name, struct client *cl, struct server *sv)
{
	static const struct step steps[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO", "250-s\r\n250 STARTTLS\r\n" },
		{ "STARTTLS", "220 2.0.0 go\r\n" },
		{ NULL, "<TLS>" },
		{ "EHLO", "250-s\r\n250 PIPELINING\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	struct smtpc_opts o = plain_opts(0);

	o.tls = mode;
	o.tls_name = name;
	tls_converse(sv, steps, with_pin, with_ca, cl, o);
}

Test(smtpclient, starttls_opportunistic_unverified)
{
	struct client cl = { .msg = NULL };
	struct server sv;

	tls_session(SMTPC_TLS_OPPORTUNISTIC, false, false, "mx.other.test",
		    &cl, &sv);
	cr_assert_str_eq(sv.fail, "");
	cr_assert_str_eq(cl.error, "");
	cr_assert(cl.tls);
	cr_assert(cl.pipelining, "EHLO again under TLS");
}

Test(smtpclient, starttls_required_verifies)
{
	struct client ok = { .msg = NULL }, bad = { .msg = NULL };
	struct server sv;

	tls_session(SMTPC_TLS_REQUIRED, false, true, "localhost", &ok, &sv);
	cr_assert_str_eq(ok.error, "");
	cr_assert(ok.tls);
	/* The wrong name fails the handshake. */
	tls_session(SMTPC_TLS_REQUIRED, false, true, "mx.other.test", &bad, &sv);
	cr_assert_str_neq(bad.error, "");
	cr_assert_not(bad.tls);
}

Test(smtpclient, starttls_pinned)
{
	struct client cl = { .msg = NULL };
	struct server sv;

	tls_session(SMTPC_TLS_REQUIRED, true, false, "127.0.0.1", &cl, &sv);
	cr_assert_str_eq(cl.error, "");
	cr_assert(cl.tls);
}

/* AUTH (RFC 4954) and implicit TLS (RFC 8314): tables of what the server
 * says and what the client must send, with the login relay@provider.test
 * / "s3cret pw" (PLAIN: AHJl...IHB3; LOGIN: the user, then the password,
 * each base64). The trace goes to a log file that must show neither the
 * password nor its base64. */
#define AUTH_USER "relay@provider.test"
#define AUTH_PW "s3cret pw"
#define PLAIN_B64 "AHJlbGF5QHByb3ZpZGVyLnRlc3QAczNjcmV0IHB3"
#define USER_B64 "cmVsYXlAcHJvdmlkZXIudGVzdA=="
#define PW_B64 "czNjcmV0IHB3"

#define STARTTLS_STEPS(ehlo)                                        \
	{ NULL, "220 s\r\n" },                                      \
	{ "EHLO", "250-s\r\n250 STARTTLS\r\n" },                    \
	{ "STARTTLS", "220 2.0.0 go\r\n" },                         \
	{ NULL, "<TLS>" },                                          \
	{ "EHLO", ehlo }

/* One message, pipelined, delivered, then QUIT. */
#define PIPELINED_MESSAGE_STEPS                                     \
	{ "MAIL FROM:<s@x.test>", NULL },                           \
	{ "RCPT TO:<a@b.test>", NULL },                             \
	{ "DATA", "250 ok\r\n250 ok\r\n354 go\r\n" },               \
	{ "<DATA>", "250 2.0.0 queued\r\n" },                       \
	{ "QUIT", "221 bye\r\n" }

/* The end of a session the client must give up: the server waits for it
 * to close. */
#define CLIENT_GIVES_UP { NULL, "<WAIT>" }, { NULL, NULL }

/* One message in lock-step, then QUIT. */
#define LOCK_STEP_MESSAGE                                           \
	{ "MAIL FROM:<s@x.test>", "250 ok\r\n" },                   \
	{ "RCPT TO:<a@b.test>", "250 ok\r\n" },                     \
	{ "DATA", "354 go\r\n" },                                   \
	{ "<DATA>", "250 2.0.0 queued\r\n" },                       \
	{ "QUIT", "221 bye\r\n" },                                  \
	{ NULL, NULL }

static const struct step auth_plain[] = {
	STARTTLS_STEPS("250-s\r\n250-PIPELINING\r\n250 AUTH LOGIN PLAIN\r\n"),
	{ "AUTH PLAIN " PLAIN_B64 "\r\n", "235 2.7.0 ok\r\n" },
	PIPELINED_MESSAGE_STEPS,
	{ NULL, NULL },
};
static const struct step auth_login[] = {
	STARTTLS_STEPS("250-s\r\n250 AUTH=CRAM-MD5 LOGIN\r\n"),
	{ "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n" },
	{ USER_B64 "\r\n", "334 UGFzc3dvcmQ6\r\n" },
	{ PW_B64 "\r\n", "235 2.7.0 ok\r\n" },
	LOCK_STEP_MESSAGE,
};
static const struct step auth_refused[] = {
	STARTTLS_STEPS("250-s\r\n250 AUTH PLAIN\r\n"),
	{ "AUTH PLAIN", "535 5.7.8 Authentication credentials invalid\r\n" },
	CLIENT_GIVES_UP,
};
static const struct step auth_temp[] = {
	STARTTLS_STEPS("250-s\r\n250 AUTH PLAIN\r\n"),
	{ "AUTH PLAIN", "454 4.7.0 Temporary authentication failure\r\n" },
	CLIENT_GIVES_UP,
};
/* A reply behind the 235 answers nothing yet: out of step. */
static const struct step auth_reply_behind_235[] = {
	STARTTLS_STEPS("250-s\r\n250 AUTH PLAIN\r\n"),
	{ "AUTH PLAIN", "235 2.7.0 ok\r\n250 2.1.0 sender ok\r\n" },
	CLIENT_GIVES_UP,
};
static const struct step auth_not_offered[] = {
	STARTTLS_STEPS("250-s\r\n250 PIPELINING\r\n"),
	CLIENT_GIVES_UP,
};
static const struct step auth_no_mechanism[] = {
	STARTTLS_STEPS("250-s\r\n250 AUTH CRAM-MD5 XOAUTH2\r\n"),
	CLIENT_GIVES_UP,
};
/* Opportunistic TLS that ends in plaintext, AUTH offered there. */
static const struct step auth_plaintext_offered[] = {
	{ NULL, "220 s\r\n" },
	{ "EHLO", "250-s\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n" },
	{ "STARTTLS", "454 4.7.0 TLS not available\r\n" },
	CLIENT_GIVES_UP,
};
static const struct step auth_no_starttls[] = {
	{ NULL, "220 s\r\n" },
	{ "EHLO", "250-s\r\n250 AUTH PLAIN LOGIN\r\n" },
	CLIENT_GIVES_UP,
};
/* RFC 8314 3: the handshake first, the greeting under TLS. */
static const struct step implicit_tls[] = {
	{ NULL, "<TLS>" },
	{ NULL, "220 s ESMTP\r\n" },
	{ "EHLO client.test", "250-s\r\n250 AUTH PLAIN\r\n" },
	{ "AUTH PLAIN " PLAIN_B64 "\r\n", "235 2.7.0 ok\r\n" },
	LOCK_STEP_MESSAGE,
};
static const struct step implicit_refused[] = {
	{ NULL, "<TLS>" },
	{ NULL, NULL },
};

struct auth_row {
	const char *name;
	const struct step *steps;
	enum smtpc_tls tls;
	const char *tls_name;
	const char *error; /* in the session's error; NULL: delivered */
	const char *unsent; /* what the server must not have received */
};

static const struct auth_row auth_rows[] = {
	{ "AUTH PLAIN with the initial response, pipelined message",
	  auth_plain, SMTPC_TLS_REQUIRED, "localhost", NULL, NULL },
	{ "LOGIN when PLAIN is not offered (AUTH= form)", auth_login,
	  SMTPC_TLS_REQUIRED, "localhost", NULL, NULL },
	{ "535 fails the session, nothing sent", auth_refused,
	  SMTPC_TLS_REQUIRED, "localhost",
	  "127.0.0.1: authentication failed: 535 5.7.8 Authentication credentials invalid",
	  "MAIL" },
	{ "454 fails the session as well", auth_temp, SMTPC_TLS_REQUIRED,
	  "localhost", "authentication failed: 454 4.7.0", "MAIL" },
	{ "a reply behind the 235", auth_reply_behind_235,
	  SMTPC_TLS_REQUIRED, "localhost", "protocol error: ", "MAIL" },
	{ "no AUTH offered", auth_not_offered, SMTPC_TLS_REQUIRED,
	  "localhost", "127.0.0.1 does not offer AUTH", "MAIL" },
	{ "neither PLAIN nor LOGIN offered", auth_no_mechanism,
	  SMTPC_TLS_REQUIRED, "localhost",
	  "offers no AUTH mechanism of this client (PLAIN, LOGIN)", "AUTH" },
	{ "no AUTH after STARTTLS refused", auth_plaintext_offered,
	  SMTPC_TLS_OPPORTUNISTIC, "localhost",
	  "refusing to send the password without TLS", "AUTH" },
	{ "no AUTH without TLS", auth_no_starttls, SMTPC_TLS_NONE,
	  "localhost", "refusing to send the password without TLS", "AUTH" },
	{ "implicit TLS, then AUTH PLAIN", implicit_tls, SMTPC_TLS_IMPLICIT,
	  "localhost", NULL, NULL },
	{ "implicit TLS with another name: nothing sent", implicit_refused,
	  SMTPC_TLS_IMPLICIT, "mx.other.test", "certificate", "EHLO" },
};

/* The log file the trace went to, as text (heap). */
static char *trace_text(const char *path)
{
	char *text = tu_read_file(path, NULL);

	cr_assert_not_null(text);
	return text;
}

/* One session with the login AUTH_USER / password against steps, in TLS
 * mode tls with the name tls_name, verified against the server's
 * certificate. */
static void auth_converse(struct server *sv, const struct step *steps,
			  enum smtpc_tls tls, const char *tls_name,
			  const char *password, struct client *cl)
{
	struct smtpc_opts o = plain_opts(0);

	o.tls = tls;
	o.tls_name = tls_name;
	o.auth_user = AUTH_USER;
	o.auth_password = password;
	tls_converse(sv, steps, false, true, cl, o);
}

static void run_auth_row(const struct auth_row *row)
{
	const char *rcpts[] = { "a@b.test" };
	const char *text = "Subject: t\r\n\r\nhello\r\n";
	struct smtpc_msg msg = { .sender = "s@x.test", .rcpts = rcpts,
				 .n_rcpts = 1, .fd = body_fd(text),
				 .size = strlen(text) };
	struct client cl = { .msg = &msg };
	char *log = tu_path(dir, "trace.log"), err[256], *trace;
	struct server sv;

	unlink(log);
	cr_assert_eq(log_use_file(log, err, sizeof(err)), 0, "%s", err);
	log_set_level(LOG_LVL_DEBUG);
	auth_converse(&sv, row->steps, row->tls, row->tls_name, AUTH_PW, &cl);
	log_use_file(NULL, err, sizeof(err));
	if (row->error == NULL) {
		cr_assert_str_eq(sv.fail, "", "%s", row->name);
		cr_assert_str_eq(cl.error, "", "%s", row->name);
		cr_assert(cl.tls, "%s", row->name);
		cr_assert_eq(cl.n_results, 1, "%s", row->name);
		cr_assert_eq(cl.results[0].code, 250, "%s: %s", row->name,
			     cl.results[0].text);
		cr_assert_str_eq(sv.body, text, "%s", row->name);
	} else {
		cr_assert(strstr(cl.error, row->error) != NULL, "%s: %s",
			  row->name, cl.error);
		/* A message offered (only after a 235) stays temporary. */
		cr_assert_eq(cl.n_results, (size_t)cl.sent, "%s", row->name);
		cr_assert(cl.n_results == 0 || cl.results[0].code == 0,
			  "%s: %s", row->name, cl.results[0].text);
	}
	if (row->unsent != NULL)
		cr_assert(strstr(sv.transcript, row->unsent) == NULL &&
				  memmem(sv.rest, sv.rest_len, row->unsent,
					 strlen(row->unsent)) == NULL,
			  "%s: the client sent %s", row->name, row->unsent);
	trace = trace_text(log);
	cr_assert(row->steps == implicit_refused ||
			  strstr(trace, "C: EHLO client.test") != NULL,
		  "%s: the trace was written:\n%s", row->name, trace);
	cr_assert(strstr(trace, AUTH_PW) == NULL &&
			  strstr(trace, PLAIN_B64) == NULL &&
			  strstr(trace, PW_B64) == NULL &&
			  strstr(trace, USER_B64) == NULL,
		  "%s: the login in the trace:\n%s", row->name, trace);
	if (row->steps == auth_plain)
		cr_assert(strstr(trace, "C: AUTH PLAIN ****") != NULL, "%s", trace);
	if (row->steps == auth_login)
		cr_assert(strstr(trace, "C: <SASL response>") != NULL, "%s", trace);
	free(trace);
	free(log);
	close(msg.fd);
}

Test(smtpclient, auth_and_implicit_tls)
{
	for (size_t i = 0; i < sizeof(auth_rows) / sizeof(auth_rows[0]); i++)
		run_auth_row(&auth_rows[i]);
}

/* A PLAIN message that would make the command longer than 512 octets
 * goes as the response to an empty 334 (RFC 4954 section 4). */
Test(smtpclient, auth_plain_long_password_in_two_steps)
{
	static char pw[401], b64[600], response[620];
	static struct step steps[] = {
		STARTTLS_STEPS("250-s\r\n250 AUTH PLAIN\r\n"),
		{ "AUTH PLAIN\r\n", "334 \r\n" },
		{ response, "235 2.7.0 ok\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	char msg[450];
	struct client cl = { .msg = NULL };
	struct server sv;

	memset(pw, 'p', 400);
	msg[0] = '\0';
	memcpy(msg + 1, AUTH_USER, strlen(AUTH_USER) + 1);
	memcpy(msg + 2 + strlen(AUTH_USER), pw, 400);
	cr_assert_gt(sasl_b64_encode(msg, 2 + strlen(AUTH_USER) + 400, b64,
				     sizeof(b64)), 500);
	snprintf(response, sizeof(response), "%s\r\n", b64);
	auth_converse(&sv, steps, SMTPC_TLS_REQUIRED, "localhost", pw, &cl);
	cr_assert_str_eq(sv.fail, "");
	cr_assert_str_eq(cl.error, "");
}

/* auth_user without a password is refused at the start. */
Test(smtpclient, auth_without_password_refused)
{
	struct smtpc_opts o = plain_opts(25);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct worker *pool = worker_new(loop, 1, 0);

	o.auth_user = AUTH_USER;
	errno = 0;
	cr_assert_null(smtpc_start(loop, pool, &o, &test_cb, NULL));
	cr_assert_eq(errno, EINVAL);
	o.auth_password = "";
	cr_assert_null(smtpc_start(loop, pool, &o, &test_cb, NULL));
	worker_free(pool);
	ev_loop_destroy(loop);
}

/* S-EXT-12 (RFC 6152 §3), RFC 6531 §3.2, RFC 3030: what the peer cannot
 * take is returned without a transaction; what it can take is announced
 * on MAIL. */
Test(smtpclient, body_types_and_peer_extensions)
{
	static const struct step refused[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO", "250-s\r\n250 PIPELINING\r\n" },
		{ "RSET", "250 ok\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	static const struct step taken[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO", "250-s\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n" },
		{ "MAIL FROM:<s@x.test> BODY=8BITMIME SMTPUTF8", "250 ok\r\n" },
		{ "RCPT TO:<a@b.test>", "250 ok\r\n" },
		{ "DATA", "354 go\r\n" },
		{ "<DATA>", "250 2.0.0 queued\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	static const struct {
		bool eight_bit, binary, smtputf8;
		const struct step *steps;
		int code;
		const char *enh;
	} rows[] = {
		{ true, false, false, refused, 554, "5.6.3" },
		{ false, true, false, refused, 554, "5.6.3" },
		{ false, false, true, refused, 553, "5.6.7" },
		{ true, false, true, taken, 250, "2.0.0" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *rcpts[] = { "a@b.test" };
		const char *text = "Subject: \xc3\xa9\r\n\r\n\x80\r\n";
		struct smtpc_msg msg = { .sender = "s@x.test", .rcpts = rcpts,
					 .n_rcpts = 1, .fd = body_fd(text),
					 .size = strlen(text),
					 .eight_bit = rows[i].eight_bit,
					 .binary = rows[i].binary,
					 .smtputf8 = rows[i].smtputf8 };
		struct client cl = { .msg = &msg };
		struct server sv;

		converse(&sv, rows[i].steps, 0, &cl, plain_opts(0));
		cr_assert_eq(cl.n_results, 1, "row %zu", i);
		cr_assert_eq(cl.results[0].code, rows[i].code, "row %zu: %s", i,
			     cl.results[0].text);
		cr_assert_not_null(strstr(cl.results[0].text, rows[i].enh),
				   "row %zu: %s", i, cl.results[0].text);
		close(msg.fd);
	}
}

/* RFC 3461 §5.2: RET, ENVID, NOTIFY and ORCPT go on as they came to a
 * server that offers DSN, and not at all to one that does not. */
Test(smtpclient, dsn_parameters_passed_on)
{
	static const struct step offered[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO", "250-s\r\n250 DSN\r\n" },
		{ "MAIL FROM:<s@x.test> RET=HDRS ENVID=QQ+2B1\r\n", "250 ok\r\n" },
		{ "RCPT TO:<a@b.test> NOTIFY=SUCCESS,FAILURE "
		  "ORCPT=rfc822;a+2Bx@b.test\r\n", "250 ok\r\n" },
		{ "RCPT TO:<c@b.test>\r\n", "250 ok\r\n" },
		{ "DATA", "354 go\r\n" },
		{ "<DATA>", "250 2.0.0 queued\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	static const struct step not_offered[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO", "250-s\r\n250 8BITMIME\r\n" },
		{ "MAIL FROM:<s@x.test>\r\n", "250 ok\r\n" },
		{ "RCPT TO:<a@b.test>\r\n", "250 ok\r\n" },
		{ "RCPT TO:<c@b.test>\r\n", "250 ok\r\n" },
		{ "DATA", "354 go\r\n" },
		{ "<DATA>", "250 2.0.0 queued\r\n" },
		{ "QUIT", "221 bye\r\n" },
		{ NULL, NULL },
	};
	const struct step *const dialogues[] = { offered, not_offered };

	for (size_t i = 0; i < 2; i++) {
		const char *rcpts[] = { "a@b.test", "c@b.test" };
		const char *notify[] = { "SUCCESS,FAILURE", "" };
		const char *orcpt[] = { "rfc822;a+2Bx@b.test", NULL };
		const char *text = "Subject: x\r\n\r\nbody\r\n";
		struct smtpc_msg msg = { .sender = "s@x.test", .rcpts = rcpts,
					 .n_rcpts = 2, .fd = body_fd(text),
					 .size = strlen(text), .ret = "HDRS",
					 .envid = "QQ+2B1", .notify = notify,
					 .orcpt = orcpt };
		struct client cl = { .msg = &msg };
		struct server sv;

		converse(&sv, dialogues[i], 0, &cl, plain_opts(0));
		cr_assert_eq(cl.n_results, 2, "dialogue %zu", i);
		cr_assert_eq(cl.results[0].code, 250, "dialogue %zu: %s", i,
			     cl.results[0].text);
		close(msg.fd);
	}
}

/* Replies out of step with the commands, each dialogue with the server's
 * writes whole and in 1-, 2- and 7-byte pieces. A protocol error fails
 * the session and leaves every recipient of the message in flight
 * temporary (code 0), so the queue keeps the item. */
static const struct step early_250_after_354[] = {
	{ NULL, "220 s\r\n" },
	{ "EHLO", "250 s\r\n" },
	{ "MAIL FROM:<s@x.test>", "250 ok\r\n" },
	{ "RCPT TO:<a@b.test>", "250 ok\r\n" },
	{ "RCPT TO:<c@b.test>", "550 5.1.1 no\r\n" },
	{ "DATA", "354 go\r\n250 2.0.0 queued before the data\r\n" },
	{ NULL, "<WAIT>" },
	{ NULL, NULL },
};
static const struct step early_250_pipelined[] = {
	{ NULL, "220 s\r\n" },
	{ "EHLO", "250-s\r\n250 PIPELINING\r\n" },
	{ "MAIL FROM:<s@x.test>", NULL },
	{ "RCPT TO:<a@b.test>", NULL },
	{ "RCPT TO:<c@b.test>", NULL },
	{ "DATA", "250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n250 2.0.0 queued\r\n" },
	{ NULL, "<WAIT>" },
	{ NULL, NULL },
};
static const struct step data_answered_250[] = {
	{ NULL, "220 s\r\n" },
	{ "EHLO", "250-s\r\n250 PIPELINING\r\n" },
	{ "MAIL FROM:<s@x.test>", NULL },
	{ "RCPT TO:<a@b.test>", NULL },
	{ "RCPT TO:<c@b.test>", NULL },
	{ "DATA", "250 ok\r\n250 ok\r\n550 5.1.1 no\r\n250 2.0.0 queued\r\n" },
	{ NULL, "<WAIT>" },
	{ NULL, NULL },
};
static const struct step mail_answered_early[] = {
	{ NULL, "220 s\r\n" },
	{ "EHLO", "250-s\r\n250 PIPELINING\r\n250 2.1.0 sender ok\r\n" },
	{ NULL, "<WAIT>" },
	{ NULL, NULL },
};
static const struct step reply_behind_greeting[] = {
	{ NULL, "220 s\r\n250 s\r\n" },
	{ NULL, "<WAIT>" },
	{ NULL, NULL },
};
static const struct step rset_answered_early[] = {
	{ NULL, "220 s\r\n" },
	{ "EHLO", "250 s\r\n" },
	{ "MAIL FROM:<s@x.test>", "451 4.3.0 later\r\n250 2.0.0 reset\r\n" },
	{ NULL, "<WAIT>" },
	{ NULL, NULL },
};
static const struct step command_answered_twice[] = {
	{ NULL, "220 s\r\n" },
	{ "EHLO", "250-s\r\n250 ETRN\r\n" },
	{ "ETRN example.net", "250 2.0.0 OK\r\n250 2.0.0 OK again\r\n" },
	{ NULL, "<WAIT>" },
	{ NULL, NULL },
};
static const struct step bytes_behind_starttls[] = {
	{ NULL, "220 s\r\n" },
	{ "EHLO", "250-s\r\n250 STARTTLS\r\n" },
	{ "STARTTLS", "220 2.0.0 go\r\n250-s\r\n250 AUTH PLAIN\r\n" },
	{ NULL, "<WAIT>" },
	{ NULL, NULL },
};
static const struct step extra_after_quit[] = {
	{ NULL, "220 s\r\n" },
	{ "EHLO", "250 s\r\n" },
	{ "MAIL FROM:<s@x.test>", "250 ok\r\n" },
	{ "RCPT TO:<a@b.test>", "250 ok\r\n" },
	{ "RCPT TO:<c@b.test>", "550 5.1.1 no\r\n" },
	{ "DATA", "354 go\r\n" },
	{ "<DATA>", "250 2.0.0 queued\r\n" },
	{ "QUIT", "221 2.0.0 bye\r\n250 2.0.0 and more\r\n" },
	{ NULL, NULL },
};
static const struct step pipelined_in_one_write[] = {
	{ NULL, "220 s\r\n" },
	{ "EHLO", "250-s\r\n250-PIPELINING\r\n250 SIZE 100000\r\n" },
	{ "MAIL FROM:<s@x.test> SIZE=", NULL },
	{ "RCPT TO:<a@b.test>", NULL },
	{ "RCPT TO:<c@b.test>", NULL },
	{ "DATA", "250-sender\r\n250 ok\r\n250 2.1.5 ok\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n354 go\r\n" },
	{ "<DATA>", "250-2.0.0 queued\r\n250 2.0.0 as X\r\n" },
	{ "QUIT", "221 2.0.0 bye\r\n" },
	{ NULL, NULL },
};

struct dialogue {
	const char *name;
	const struct step *steps;
	bool message;           /* send one to a@b.test and c@b.test */
	const char *command;    /* smtpc_command first */
	enum smtpc_tls tls;
	const char *error;      /* in the session's error; NULL: clean QUIT */
	const char *stray;      /* the bytes out of step (NULL: a whole reply) */
	int codes[2];           /* the recipients' results */
	const char *unsent;     /* what the server must not have received */
};

#define NOTHING_ASKED "nothing asked for"

static const struct dialogue dialogues[] = {
	{ "354 and 250 in one write", early_250_after_354, true, NULL,
	  SMTPC_TLS_NONE, NOTHING_ASKED, "250 2.0.0 queued before the data\r\n",
	  { 0, 0 }, "hello" },
	{ "pipelined replies with a 250 behind the 354", early_250_pipelined,
	  true, NULL, SMTPC_TLS_NONE, NOTHING_ASKED, "250 2.0.0 queued\r\n",
	  { 0, 0 }, "hello" },
	{ "DATA answered 250", data_answered_250, true, NULL, SMTPC_TLS_NONE,
	  "127.0.0.1 sent 250 2.0.0 queued out of turn", NULL, { 0, 0 }, "hello" },
	{ "250 before MAIL", mail_answered_early, true, NULL, SMTPC_TLS_NONE,
	  NOTHING_ASKED, "250 2.1.0 sender ok\r\n", { 0, 0 }, "MAIL" },
	{ "a reply behind the greeting", reply_behind_greeting, false, NULL,
	  SMTPC_TLS_NONE, NOTHING_ASKED, "250 s\r\n", { 0, 0 }, "EHLO" },
	{ "RSET answered before it was sent", rset_answered_early, true, NULL,
	  SMTPC_TLS_NONE, NOTHING_ASKED, "250 2.0.0 reset\r\n", { 0, 0 },
	  "RSET" },
	{ "ETRN answered twice", command_answered_twice, false,
	  "ETRN example.net", SMTPC_TLS_NONE, NOTHING_ASKED,
	  "250 2.0.0 OK again\r\n", { 0, 0 }, "QUIT" },
	{ "bytes behind STARTTLS's 220", bytes_behind_starttls, false, NULL,
	  SMTPC_TLS_OPPORTUNISTIC, NOTHING_ASKED, "250-s\r\n250 AUTH PLAIN\r\n",
	  { 0, 0 }, "\x16\x03" },
	{ "a reply after QUIT's 221", extra_after_quit, true, NULL,
	  SMTPC_TLS_NONE, NULL, NULL, { 250, 550 }, NULL },
	{ "pipelined replies in one write", pipelined_in_one_write, true,
	  NULL, SMTPC_TLS_NONE, NULL, NULL, { 250, 550 }, NULL },
};

static void run_dialogue(const struct dialogue *d, size_t chunk)
{
	const char *rcpts[] = { "a@b.test", "c@b.test" };
	const char *text = "Subject: t\r\n\r\nhello\r\n";
	struct smtpc_msg msg = { .sender = "s@x.test", .rcpts = rcpts,
				 .n_rcpts = 2, .fd = body_fd(text),
				 .size = strlen(text) };
	struct client cl = { .msg = d->message ? &msg : NULL,
			     .command = d->command };
	char err[256] = "";
	/* Only where it is used: loading the CA store takes a while. */
	SSL_CTX *any = d->tls != SMTPC_TLS_NONE
			       ? smtpc_ctx_any_new(err, sizeof(err)) : NULL;
	struct server sv;
	struct smtpc_opts o;

	cr_assert(d->tls == SMTPC_TLS_NONE || any != NULL, "%s", err);
	o = plain_opts(0);
	o.tls = d->tls;
	o.any_ctx = any;
	converse(&sv, d->steps, chunk, &cl, o);
	if (d->error == NULL) {
		cr_assert_str_eq(cl.error, "", "%s, chunk %zu", d->name, chunk);
	} else {
		cr_assert(strncmp(cl.error, "protocol error: ", 16) == 0 &&
				  strstr(cl.error, d->error) != NULL,
			  "%s, chunk %zu: %s", d->name, chunk, cl.error);
		/* Whole, all of the stray bytes were there; in pieces, the
		 * first of them at least. */
		snprintf(err, sizeof(err), "sent %zu bytes " NOTHING_ASKED,
			 d->stray != NULL ? strlen(d->stray) : 0);
		cr_assert(chunk > 0 || d->stray == NULL ||
				  strstr(cl.error, err) != NULL,
			  "%s: %s", d->name, cl.error);
	}
	cr_assert_eq(cl.n_results, d->message ? 2 : 0, "%s, chunk %zu",
		     d->name, chunk);
	for (size_t i = 0; i < cl.n_results; i++)
		cr_assert_eq(cl.results[i].code, d->codes[i],
			     "%s, chunk %zu, rcpt %zu: %s", d->name, chunk, i,
			     cl.results[i].text);
	if (d->unsent != NULL)
		cr_assert(strstr(sv.transcript, d->unsent) == NULL &&
				  memmem(sv.rest, sv.rest_len, d->unsent,
					 strlen(d->unsent)) == NULL,
			  "%s, chunk %zu: the client sent %s", d->name, chunk,
			  d->unsent);
	cr_assert_not(cl.tls, "%s, chunk %zu", d->name, chunk);
	SSL_CTX_free(any);
	close(msg.fd);
}

static void run_dialogues(size_t chunk)
{
	for (size_t i = 0; i < sizeof(dialogues) / sizeof(dialogues[0]); i++)
		run_dialogue(&dialogues[i], chunk);
}

Test(smtpclient, replies_out_of_step_whole) { run_dialogues(0); }
Test(smtpclient, replies_out_of_step_in_1_byte_pieces) { run_dialogues(1); }
Test(smtpclient, replies_out_of_step_in_2_byte_pieces) { run_dialogues(2); }
Test(smtpclient, replies_out_of_step_in_7_byte_pieces) { run_dialogues(7); }

/* A reply while the body is still going out answers nothing: the dot has
 * not been sent. The body is far larger than what the sockets hold while
 * the server reads no more of it. */
Test(smtpclient, reply_during_the_body_is_a_protocol_error)
{
	static const struct step steps[] = {
		{ NULL, "220 s\r\n" },
		{ "EHLO", "250 s\r\n" },
		{ "MAIL", "250 ok\r\n" },
		{ "RCPT", "250 ok\r\n" },
		{ "DATA", "354 go\r\n" },
		{ "xxx", "250 2.0.0 queued early\r\n" },
		{ NULL, "<WAIT>" },
		{ NULL, NULL },
	};
	struct client cl = { .msg = NULL };

	send_big(steps, 8u << 20, &cl);
	cr_assert(strncmp(cl.error, "protocol error: ", 16) == 0 &&
			  strstr(cl.error, "nothing asked for") != NULL,
		  "%s", cl.error);
	cr_assert_eq(cl.n_results, 1);
	cr_assert_eq(cl.results[0].code, 0, "%s", cl.results[0].text);
}

/* DANE (RFC 7672) and its unauthenticated ENCRYPT mode: TLS mandatory,
 * a session that cannot have it fails before MAIL with code 0; DANE
 * verifies the self-signed "localhost" certificate by TLSA records made
 * from it here: 3 1 1 (its key), a wrong digest, 2 0 1 of the leaf
 * itself (a trust anchor must be an issuer in the chain: OpenSSL matches
 * DANE-TA records above the leaf only; e2e_dane.py has a real chain), a
 * usage-1 record (unusable for SMTP). */
enum dane_rec { DR_NONE, DR_EE, DR_EE_WRONG, DR_TA, DR_PKIX_EE };

struct dane_row {
	const char *name;
	const struct step *steps;
	enum smtpc_tls tls;
	enum dane_rec rec;
	const char *base;   /* the TLSA base domain */
	const char *error;  /* in the session's error; NULL: delivered */
};

static const struct step dane_delivered[] = {
	STARTTLS_STEPS("250-s\r\n250 PIPELINING\r\n"),
	PIPELINED_MESSAGE_STEPS,
	{ NULL, NULL },
};
/* No STARTTLS offered, and 454 to it: the AUTH tables' dialogues. */
#define dane_no_starttls auth_no_starttls
#define dane_starttls_454 auth_plaintext_offered

static const struct dane_row dane_rows[] = {
	{ "encrypt: any certificate", dane_delivered, SMTPC_TLS_ENCRYPT,
	  DR_NONE, NULL, NULL },
	{ "encrypt: no STARTTLS offered", dane_no_starttls, SMTPC_TLS_ENCRYPT,
	  DR_NONE, NULL,
	  "TLS is required, but was not offered by mx.dane.test" },
	{ "encrypt: 454 to STARTTLS", dane_starttls_454, SMTPC_TLS_ENCRYPT,
	  DR_NONE, NULL,
	  "TLS is required, but mx.dane.test refused STARTTLS: 454" },
	{ "dane: 3 1 1 matches, names and CA ignored", dane_delivered,
	  SMTPC_TLS_DANE, DR_EE, "mx.dane.test", NULL },
	{ "dane: a wrong digest", dane_delivered, SMTPC_TLS_DANE,
	  DR_EE_WRONG, "mx.dane.test", "DANE verification failed: " },
	{ "dane: no STARTTLS offered", dane_no_starttls, SMTPC_TLS_DANE,
	  DR_EE, "mx.dane.test",
	  "TLS is required, but was not offered by mx.dane.test" },
	{ "dane: 454 to STARTTLS", dane_starttls_454, SMTPC_TLS_DANE, DR_EE,
	  "mx.dane.test", "refused STARTTLS: 454" },
	{ "dane: 2 0 1 matching only the leaf: no trust anchor", dane_delivered,
	  SMTPC_TLS_DANE, DR_TA, "localhost", "DANE verification failed: " },
	{ "dane: only a PKIX-EE record (unusable)", dane_delivered,
	  SMTPC_TLS_DANE, DR_PKIX_EE, "mx.dane.test",
	  "DANE verification failed: no usable TLSA record" },
};

/* The record of kind rec for the certificate in PEM file cert. */
static void dane_record(const char *cert, enum dane_rec rec,
			struct tls_tlsa *rr, unsigned char digest[32])
{
	FILE *f = fopen(cert, "r");
	X509 *x;
	unsigned char *der = NULL;
	int len;

	cr_assert_not_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(x);
	if (rec == DR_TA)
		len = i2d_X509(x, &der);
	else
		len = i2d_PUBKEY(X509_get0_pubkey(x), &der);
	cr_assert_gt(len, 0);
	SHA256(der, (size_t)len, digest);
	if (rec == DR_EE_WRONG)
		digest[0] ^= 0xff;
	*rr = (struct tls_tlsa){ .usage = rec == DR_TA ? 2
					  : rec == DR_PKIX_EE ? 1 : 3,
				 .selector = rec == DR_TA ? 0 : 1, .mtype = 1,
				 .len = 32, .data = digest };
	OPENSSL_free(der);
	X509_free(x);
}

static void run_dane_row(const struct dane_row *row)
{
	const char *rcpts[] = { "a@b.test" };
	const char *text = "Subject: t\r\n\r\nhello\r\n";
	const char *names[] = { "mx.dane.test" };
	struct smtpc_msg msg = { .sender = "s@x.test", .rcpts = rcpts,
				 .n_rcpts = 1, .fd = body_fd(text),
				 .size = strlen(text) };
	struct client cl = { .msg = &msg };
	struct smtpc_opts o = plain_opts(0);
	unsigned char digest[32];
	struct tls_tlsa rr;
	char *cert, *key, fp[TLS_FP_STRLEN];
	struct server sv;

	o.tls = row->tls;
	o.tls_name = "mx.dane.test";
	tu_make_cert(dir, &cert, &key, fp);
	if (row->rec != DR_NONE) {
		dane_record(cert, row->rec, &rr, digest);
		o.dane_base = row->base;
		o.dane_names = names;
		o.n_dane_names = 1;
		o.tlsa = &rr;
		o.n_tlsa = 1;
	}
	tls_converse_cert(&sv, row->steps, cert, key, NULL, false, &cl, o);
	free(cert);
	free(key);
	if (row->error == NULL) {
		cr_assert_str_eq(cl.error, "", "%s: %s", row->name, cl.error);
		cr_assert(cl.tls, "%s", row->name);
		cr_assert_eq(cl.n_results, 1, "%s", row->name);
		cr_assert_eq(cl.results[0].code, 250, "%s", row->name);
	} else {
		cr_assert(strstr(cl.error, row->error) != NULL, "%s: %s",
			  row->name, cl.error);
		cr_assert_eq(cl.n_results, 0, "%s", row->name);
		cr_assert(strstr(sv.transcript, "MAIL") == NULL &&
				  memmem(sv.rest, sv.rest_len, "MAIL", 4) == NULL,
			  "%s: MAIL was sent", row->name);
	}
	close(msg.fd);
}

Test(smtpclient, dane_and_encrypt)
{
	for (size_t i = 0; i < sizeof(dane_rows) / sizeof(dane_rows[0]); i++)
		run_dane_row(&dane_rows[i]);
}
