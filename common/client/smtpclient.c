/* common/client/smtpclient.c: the non-blocking outbound SMTP client — resolution
 * on the worker pool, connect, implicit TLS, EHLO/HELO, STARTTLS, AUTH
 * PLAIN/LOGIN, pipelined envelopes,
 * dot-stuffed streaming of the body (read ahead on the worker pool),
 * per-recipient results, QUIT — and the
 * rule that matches each reply to a command already sent. */
#include "autoconf.h"

#include "common/client/smtpclient.h"

#include "common/net/conn.h"
#include "common/config/secret.h"
#include "common/base/log.h"
#include "common/net/net.h"
#include "common/net/tls.h"
#include "common/net/worker.h"
#include "common/proto/dotstuff.h"
#include "common/proto/sasl.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* RFC 5321 4.5.3.2 client timers, in seconds. */
#define T_GREETING 300
#define T_MAIL 300
#define T_RCPT 300
#define T_DATA_INIT 120
#define T_DATA_BLOCK 180
#define T_DATA_TERM 600
#define T_OTHER 300

#define SMTPC_CHUNK 16384
#define SMTPC_HIGH (64 * 1024)
/* The conn stops reading while its output is above its high mark; pump
 * never queues that much, so replies are read while the body goes out
 * (where any reply is out of step) instead of after the dot. */
#define SMTPC_PAUSE (SMTPC_HIGH + 2 * SMTPC_CHUNK + 1024)
#define SMTPC_MAX_LINE 4096
/* The read-ahead of the body: one read on the pool at a time. */
#define SMTPC_AHEAD (64 * 1024)
/* body_read: the pool is reading; its done function pumps again. */
#define SMTPC_READ_WAIT (-2)

enum smtpc_state {
	ST_RESOLVING,
	ST_CONNECTING,
	ST_GREETING,
	ST_EHLO,
	ST_HELO,
	ST_STARTTLS,
	ST_HANDSHAKE,
	ST_AUTH,     /* AUTH and its SASL exchange */
	ST_READY,
	ST_ENVELOPE, /* MAIL / RCPT / DATA replies */
	ST_STREAM,   /* sending the body */
	ST_DOT,      /* waiting for the reply to the final dot */
	ST_RSET,
	ST_COMMAND,
	ST_QUIT,
	ST_CLOSED,
};

#define EXT_PIPELINING 0x01u
#define EXT_STARTTLS 0x02u
#define EXT_SIZE 0x04u
#define EXT_8BITMIME 0x08u
#define EXT_AUTH 0x10u
#define EXT_ETRN 0x20u
#define EXT_ENHANCED 0x40u
#define EXT_SMTPUTF8 0x80u
#define EXT_DSN 0x100u

/* SASL mechanisms of the EHLO AUTH line that this client has. */
#define MECH_PLAIN 0x01u
#define MECH_LOGIN 0x02u

/* Where the AUTH exchange is: what was sent last. */
enum auth_phase {
	AUTH_PLAIN_IR,   /* AUTH PLAIN with the initial response: 235 next */
	AUTH_PLAIN,      /* AUTH PLAIN alone: 334, then the response */
	AUTH_LOGIN,      /* AUTH LOGIN: 334 asks for the user name */
	AUTH_LOGIN_USER, /* the user name: 334 asks for the password */
	AUTH_DONE,       /* the last response: 235 next */
};

/* RFC 5321 4.5.3.1.4: a command line is 512 octets with its CRLF; a
 * longer PLAIN message goes as the response to an empty 334 instead
 * (RFC 4954 section 4: responses may be 12288 octets). */
#define SMTPC_CMD_MAX 510

struct smtpc {
	struct ev_loop *loop;
	struct worker *pool;
	struct smtpc_cb cb;
	void *arg;
	char *host, *helo, *tls_name, *pin;
	char *auth_user, *auth_pw; /* AUTH after EHLO under TLS; the password
				    * is wiped when the session is freed */
	unsigned port, timeout;
	enum smtpc_tls tls;
	bool tls_check;     /* OPPORTUNISTIC: check the certificate anyway */
	enum smtpc_tlso tlso;
	long tls_verify;    /* its X509_V_* result */
	SSL_CTX *verify_ctx, *any_ctx;
	/* DANE: the TLSA base domain, more names, the records (owned). */
	char *dane_base;
	char **dane_names;
	size_t n_dane_names;
	struct tls_tlsa *tlsa;
	size_t n_tlsa;

	enum smtpc_state state;
	struct conn *conn;
	struct addrinfo *addrs, *next_addr;
	struct addrinfo *src4, *src6; /* bind addresses, or NULL */
	ev_timer literal;   /* an address literal: connect from the loop */
	bool abort_pending; /* smtpc_abort while resolving */
	bool quit_sent;
	bool proto_error;   /* the replies fell out of step with the commands */
	/* Replies owed: the greeting and every command sent, not yet
	 * answered. A reply is only ever matched to one of them. */
	unsigned awaiting;
	char peer[NET_ADDRSTRLEN];
	char error[SMTPC_TEXT_MAX];
	struct smtpc_reply last;

	/* The reply being read (multi-line). */
	struct smtpc_reply cur;
	bool in_reply;
	unsigned reply_lines;

	unsigned ext;
	uint64_t ext_size;
	unsigned mechs; /* MECH_* of the EHLO AUTH line */
	enum auth_phase auth_phase;

	/* The message in flight. */
	struct smtpc_msg msg;
	struct smtpc_reply *replies;
	bool *decided;
	size_t next_send, next_reply; /* 0 MAIL, 1..n RCPT, n+1 DATA */
	size_t accepted;
	bool mail_failed, discard_body;
	uint64_t offset;
	struct dot_stuffer stuff;
	struct smtpc_ahead *ahead; /* the body's read-ahead, from its start */
};

/* The next piece of the body, read on the pool while the loop sends the
 * one before. The pool owns buf while busy; the loop, otherwise. */
struct smtpc_ahead {
	struct smtpc *s; /* NULL once the message is over: done frees it */
	struct worker *pool;
	int fd;          /* a duplicate of the message's: ours to close */
	uint64_t off;    /* file offset of buf[0] */
	size_t len, pos; /* octets in buf, octets taken */
	bool busy, eof;
	int err;         /* errno of a failed read, or 0 */
	unsigned char buf[SMTPC_AHEAD];
};

struct resolve_job {
	struct smtpc *s;
	struct addrinfo *res;
	int rc;
	char err[256];
};

static void c_readable(struct conn *c, void *arg);
static void c_drain(struct conn *c, void *arg);
static void c_timeout(struct conn *c, void *arg);
static void c_connected(struct conn *c, void *arg);
static void c_tls_ready(struct conn *c, void *arg);
static void c_close(struct conn *c, void *arg, enum conn_close_reason reason,
		    const char *detail);
static void fail(struct smtpc *s, const struct smtpc_reply *r,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void protocol_error(struct smtpc *s, const struct smtpc_reply *r,
			   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void send_line(struct smtpc *s, bool mask, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void pump(struct smtpc *s);
static void start_tls(struct smtpc *s);
static void finish_message(struct smtpc *s, bool need_rset);
static void report_and_ready(struct smtpc *s);
static void ahead_release(struct smtpc *s);

static const struct conn_cb smtpc_conn_cb = {
	.on_readable = c_readable,
	.on_drain = c_drain,
	.on_timeout = c_timeout,
	.on_connected = c_connected,
	.on_tls_ready = c_tls_ready,
	.on_close = c_close,
};

static int accept_any(int ok, X509_STORE_CTX *ctx)
{
	(void)ok;
	(void)ctx;
	return 1;
}

SSL_CTX *smtpc_ctx_any_new(char *err, size_t errlen)
{
	SSL_CTX *ctx = tls_client_ctx_new(NULL, err, errlen);

	/* Verification still runs (so its result can be logged) but never
	 * fails the handshake. */
	if (ctx != NULL)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
	return ctx;
}

static void set_timer(struct smtpc *s, unsigned rfc_seconds)
{
	if (s->conn != NULL)
		conn_set_timeout(s->conn, s->timeout ? s->timeout : rfc_seconds);
}

/* Bytes the server sent that are still unread when the client is about
 * to write (a command, body bytes, the TLS handshake) came before what
 * follows, so they cannot answer it: every reply owed was read already
 * (commands go out only after the reply before them, or all at once as a
 * pipelined group). True, with the session failed, when there are any. */
static bool early_input(struct smtpc *s)
{
	size_t n = conn_input_pending(s->conn);

	if (n == 0)
		return false;
	protocol_error(s, NULL, "%s sent %zu byte%s nothing asked for", s->peer,
		       n, n == 1 ? "" : "s");
	return true;
}

/* Every write to the server: 0, or -1 when the session is failing. */
static int put(struct smtpc *s, const void *data, size_t len)
{
	if (conn_is_closing(s->conn) || early_input(s))
		return -1;
	if (conn_write(s->conn, data, len) < 0) {
		fail(s, NULL, "writing to %s failed", s->peer);
		return -1;
	}
	return 0;
}

/* Send a command (or the end of data) and owe its reply. */
static void send_line(struct smtpc *s, bool mask, const char *fmt, ...)
{
	char line[SMTPC_MAX_LINE];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		n = (int)strlen(line);
	if (mask) {
		const char *sp = strchr(line, ' ');

		log_debug("smtpc %s C: %.*s ****", s->peer,
			  sp != NULL ? (int)(sp - line) : n, line);
	} else {
		log_debug("smtpc %s C: %s", s->peer, line);
	}
	memcpy(line + n, "\r\n", 2);
	if (put(s, line, (size_t)n + 2) == 0)
		s->awaiting++;
}

/* End the session with an error; on_close follows from the conn (or
 * directly when there is none). */
static void fail(struct smtpc *s, const struct smtpc_reply *r,
		 const char *fmt, ...)
{
	va_list ap;

	if (s->error[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(s->error, sizeof(s->error), fmt, ap);
		va_end(ap);
	}
	if (r != NULL)
		s->last = *r;
	if (s->conn != NULL)
		conn_close(s->conn, s->error);
}

/* A reply out of step: nothing it says can be trusted, not even what was
 * decided from the replies before it in this transaction. */
static void protocol_error(struct smtpc *s, const struct smtpc_reply *r,
			   const char *fmt, ...)
{
	char why[SMTPC_TEXT_MAX - 20];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (s->error[0] == '\0')
		s->proto_error = true;
	fail(s, r, "protocol error: %s", why);
}

static void free_message(struct smtpc *s)
{
	ahead_release(s);
	free(s->replies);
	free(s->decided);
	s->replies = NULL;
	s->decided = NULL;
	memset(&s->msg, 0, sizeof(s->msg));
}

static void free_session(struct smtpc *s)
{
	ahead_release(s);
	if (ev_is_active(&s->literal) || ev_is_pending(&s->literal))
		ev_timer_stop(s->loop, &s->literal);
	if (s->addrs != NULL)
		freeaddrinfo(s->addrs);
	if (s->src4 != NULL)
		freeaddrinfo(s->src4);
	if (s->src6 != NULL)
		freeaddrinfo(s->src6);
	free(s->host);
	free(s->helo);
	free(s->tls_name);
	free(s->pin);
	free(s->auth_user);
	secret_free(s->auth_pw);
	free(s->dane_base);
	for (size_t i = 0; i < s->n_dane_names; i++)
		free(s->dane_names[i]);
	free(s->dane_names);
	for (size_t i = 0; i < s->n_tlsa; i++)
		free((void *)s->tlsa[i].data);
	free(s->tlsa);
	free(s);
}

static void destroy(struct smtpc *s, const char *error)
{
	s->state = ST_CLOSED;
	/* A message in flight: every open recipient failed temporarily;
	 * after a protocol error every recipient did. */
	if (s->replies != NULL) {
		for (size_t i = 0; i < s->msg.n_rcpts; i++) {
			if (s->decided[i] && !s->proto_error)
				continue;
			s->replies[i].code = 0;
			snprintf(s->replies[i].text, sizeof(s->replies[i].text),
				 "%s", error != NULL ? error : "session closed");
		}
		if (s->cb.on_result != NULL)
			s->cb.on_result(s, s->arg, s->replies, s->msg.n_rcpts);
		free_message(s);
	}
	if (s->cb.on_close != NULL)
		s->cb.on_close(s, s->arg, error, &s->last);
	free_session(s);
}

static char *dup_opt(const char *v, bool *ok)
{
	char *c;

	if (v == NULL)
		return NULL;
	if ((c = strdup(v)) == NULL)
		*ok = false;
	return c;
}

/* Copy the DANE names and records of opts. Returns false (ENOMEM). */
static bool copy_dane(struct smtpc *s, const struct smtpc_opts *opts)
{
	bool ok = true;

	s->dane_base = dup_opt(opts->dane_base, &ok);
	if (opts->n_dane_names > 0 &&
	    (s->dane_names = calloc(opts->n_dane_names,
				    sizeof(*s->dane_names))) == NULL)
		return false;
	for (; ok && s->n_dane_names < opts->n_dane_names; s->n_dane_names++)
		s->dane_names[s->n_dane_names] =
			dup_opt(opts->dane_names[s->n_dane_names], &ok);
	if (!ok || opts->n_tlsa == 0)
		return ok;
	if ((s->tlsa = calloc(opts->n_tlsa, sizeof(*s->tlsa))) == NULL)
		return false;
	for (; s->n_tlsa < opts->n_tlsa; s->n_tlsa++) {
		const struct tls_tlsa *rr = &opts->tlsa[s->n_tlsa];
		unsigned char *data = malloc(rr->len ? rr->len : 1);

		if (data == NULL)
			return false;
		memcpy(data, rr->data, rr->len);
		s->tlsa[s->n_tlsa] = *rr;
		s->tlsa[s->n_tlsa].data = data;
	}
	return true;
}

static void resolve_job(void *arg)
{
	struct resolve_job *j = arg;

	j->rc = net_resolve(j->s->host, j->s->port, false, &j->res, j->err,
			    sizeof(j->err));
}

static void try_connect(struct smtpc *s)
{
	while (s->next_addr != NULL) {
		struct addrinfo *ai = s->next_addr;
		const struct addrinfo *src = ai->ai_family == AF_INET6 ? s->src6
					   : ai->ai_family == AF_INET ? s->src4
								      : NULL;

		s->next_addr = ai->ai_next;
		net_addr_string(ai->ai_addr, s->peer, sizeof(s->peer), NULL);
		s->conn = conn_connect_from(s->loop, ai->ai_addr, ai->ai_addrlen,
					    src != NULL ? src->ai_addr : NULL,
					    src != NULL ? src->ai_addrlen : 0,
					    &smtpc_conn_cb, s);
		if (s->conn == NULL) {
			snprintf(s->error, sizeof(s->error),
				 "connect to %s port %u: %s", s->peer, s->port,
				 strerror(errno));
			continue;
		}
		s->error[0] = '\0';
		s->state = ST_CONNECTING;
		conn_set_max_line(s->conn, SMTPC_MAX_LINE);
		conn_set_watermarks(s->conn, SMTPC_PAUSE, CONN_DEFAULT_LOW_WATER);
		set_timer(s, T_GREETING);
		return;
	}
	destroy(s, s->error[0] != '\0' ? s->error : "no address to connect to");
}

static void resolve_done(void *arg)
{
	struct resolve_job *j = arg;
	struct smtpc *s = j->s;

	if (s->abort_pending) {
		if (j->res != NULL)
			freeaddrinfo(j->res);
		free(j);
		destroy(s, s->error);
		return;
	}
	if (j->rc < 0) {
		snprintf(s->error, sizeof(s->error), "%s", j->err);
		free(j);
		destroy(s, s->error);
		return;
	}
	s->addrs = s->next_addr = j->res;
	free(j);
	try_connect(s);
}

/* The connect of an address literal, from the loop (never inside
 * smtpc_start, so that no callback runs there). */
static void literal_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct smtpc *s = w->data;

	(void)loop;
	(void)revents;
	if (s->abort_pending) {
		destroy(s, s->error);
		return;
	}
	try_connect(s);
}

/* The bind addresses of opts into s. false when one is not a literal. */
static bool bind_addrs(struct smtpc *s, const struct smtpc_opts *opts)
{
	if (opts->bind4 != NULL && net_resolve_literal(opts->bind4, 0, &s->src4) != 1)
		return false;
	if (opts->bind6 != NULL && net_resolve_literal(opts->bind6, 0, &s->src6) != 1)
		return false;
	return true;
}

/* Resolve on the pool, or for a literal start from the loop. 0 or -1. */
static int start_resolve(struct smtpc *s)
{
	struct resolve_job *j;
	int rc = net_resolve_literal(s->host, s->port, &s->addrs);

	if (rc < 0)
		return -1;
	if (rc == 1) {
		s->next_addr = s->addrs;
		ev_timer_init(&s->literal, literal_cb, 0., 0.);
		s->literal.data = s;
		ev_timer_start(s->loop, &s->literal);
		return 0;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -1;
	j->s = s;
	if (worker_submit(s->pool, resolve_job, resolve_done, j) < 0) {
		int saved = errno;

		free(j);
		errno = saved;
		return -1;
	}
	return 0;
}

struct smtpc *smtpc_start(struct ev_loop *loop, struct worker *pool,
			  const struct smtpc_opts *opts,
			  const struct smtpc_cb *cb, void *arg)
{
	struct smtpc *s = calloc(1, sizeof(*s));
	bool ok = true;

	if (s == NULL)
		return NULL;
	s->loop = loop;
	s->pool = pool;
	s->cb = *cb;
	s->arg = arg;
	s->host = dup_opt(opts->host, &ok);
	s->helo = dup_opt(opts->helo != NULL ? opts->helo : "localhost", &ok);
	s->tls_name = dup_opt(opts->tls_name != NULL ? opts->tls_name
						      : opts->host, &ok);
	s->pin = dup_opt(opts->pin, &ok);
	if (opts->auth_user != NULL &&
	    (opts->auth_password == NULL || opts->auth_password[0] == '\0')) {
		free_session(s);
		errno = EINVAL;
		return NULL;
	}
	s->auth_user = dup_opt(opts->auth_user, &ok);
	s->auth_pw = dup_opt(opts->auth_user != NULL ? opts->auth_password
						     : NULL, &ok);
	s->port = opts->port;
	s->timeout = opts->timeout;
	s->tls = opts->tls;
	s->tls_check = opts->tls_check && opts->tls == SMTPC_TLS_OPPORTUNISTIC;
	s->tls_verify = -1;
	s->verify_ctx = opts->verify_ctx;
	s->any_ctx = opts->any_ctx;
	s->state = ST_RESOLVING;
	snprintf(s->peer, sizeof(s->peer), "%s",
		 opts->host != NULL ? opts->host : "?");
	ev_timer_init(&s->literal, literal_cb, 0., 0.);
	if (!ok || s->host == NULL || !copy_dane(s, opts)) {
		free_session(s);
		errno = ENOMEM;
		return NULL;
	}
	if (!bind_addrs(s, opts)) {
		free_session(s);
		errno = EINVAL;
		return NULL;
	}
	if (start_resolve(s) < 0) {
		int saved = errno;

		free_session(s);
		errno = saved;
		return NULL;
	}
	return s;
}

static void send_ehlo(struct smtpc *s)
{
	s->ext = 0;
	s->ext_size = 0;
	s->mechs = 0;
	s->state = ST_EHLO;
	set_timer(s, T_GREETING);
	send_line(s, false, "EHLO %s", s->helo);
}

static void c_connected(struct conn *c, void *arg)
{
	struct smtpc *s = arg;

	(void)c;
	set_timer(s, T_GREETING);
	if (s->tls == SMTPC_TLS_IMPLICIT) {
		/* RFC 8314 3: TLS first; the greeting comes under it. */
		start_tls(s);
		return;
	}
	s->state = ST_GREETING;
	s->awaiting = 1;
}

/* What the handshake that just completed says of the certificate. */
static void tls_outcome(struct smtpc *s)
{
	bool verified = s->tls == SMTPC_TLS_REQUIRED ||
			s->tls == SMTPC_TLS_IMPLICIT ||
			s->tls == SMTPC_TLS_DANE || s->pin != NULL;

	if (verified) {
		s->tls_verify = conn_tls_verify_result(s->conn);
		s->tlso = SMTPC_TLSO_VERIFIED;
	} else if (s->tls_check) {
		s->tls_verify = conn_tls_check_peer(s->conn, s->verify_ctx,
						    s->tls_name);
		s->tlso = s->tls_verify == X509_V_OK ? SMTPC_TLSO_VERIFIED
						     : SMTPC_TLSO_CERT;
	} else {
		s->tlso = SMTPC_TLSO_UNVERIFIED;
	}
}

static void c_tls_ready(struct conn *c, void *arg)
{
	struct smtpc *s = arg;

	(void)c;
	log_debug("smtpc %s TLS %s %s", s->peer, conn_tls_version(s->conn),
		  conn_tls_cipher(s->conn));
	tls_outcome(s);
	if (s->tls == SMTPC_TLS_IMPLICIT) {
		s->state = ST_GREETING;
		s->awaiting = 1;
		set_timer(s, T_GREETING);
		return;
	}
	/* RFC 3207 4.2: forget what the server said before TLS. */
	send_ehlo(s);
}

static void c_timeout(struct conn *c, void *arg)
{
	struct smtpc *s = arg;
	static const char *const what[] = {
		[ST_CONNECTING] = "connect", [ST_GREETING] = "the greeting",
		[ST_EHLO] = "the EHLO reply", [ST_HELO] = "the HELO reply",
		[ST_STARTTLS] = "the STARTTLS reply",
		[ST_HANDSHAKE] = "the TLS handshake",
		[ST_AUTH] = "the AUTH reply",
		[ST_ENVELOPE] = "an envelope reply",
		[ST_STREAM] = "the server to take data",
		[ST_DOT] = "the reply to the end of data",
		[ST_RSET] = "the RSET reply", [ST_COMMAND] = "a reply",
		[ST_QUIT] = "the QUIT reply",
	};
	const char *w = s->state < sizeof(what) / sizeof(what[0]) &&
				what[s->state] != NULL
			? what[s->state] : "the server";

	(void)c;
	if (s->state == ST_READY) {
		/* Idle between messages: the owner is slow; not an error. */
		set_timer(s, T_OTHER);
		return;
	}
	fail(s, NULL, "timeout waiting for %s from %s", w, s->peer);
}

static void c_close(struct conn *c, void *arg, enum conn_close_reason reason,
		    const char *detail)
{
	struct smtpc *s = arg;

	if (s->state == ST_HANDSHAKE && reason == CONN_CLOSE_TLS) {
		s->tls_verify = conn_tls_verify_result(c);
		s->tlso = s->tls_verify > 0 ? SMTPC_TLSO_CERT
					    : SMTPC_TLSO_HANDSHAKE;
	}
	s->conn = NULL;
	if (s->state == ST_CONNECTING &&
	    (reason == CONN_CLOSE_CONNECT || reason == CONN_CLOSE_TIMEOUT)) {
		snprintf(s->error, sizeof(s->error), "%s%s%s", detail,
			 reason == CONN_CLOSE_TIMEOUT ? " connecting to " : "",
			 reason == CONN_CLOSE_TIMEOUT ? s->peer : "");
		try_connect(s);
		return;
	}
	if (s->state == ST_QUIT && s->quit_sent && s->error[0] == '\0') {
		destroy(s, NULL);
		return;
	}
	if (s->error[0] == '\0' && s->state == ST_HANDSHAKE &&
	    s->tls == SMTPC_TLS_DANE && reason == CONN_CLOSE_TLS)
		snprintf(s->error, sizeof(s->error),
			 "DANE verification failed: %s (%s)", detail, s->peer);
	if (s->error[0] == '\0')
		snprintf(s->error, sizeof(s->error), "%s (%s)",
			 reason == CONN_CLOSE_EOF ? "connection closed by the server"
						  : detail,
			 s->peer);
	destroy(s, s->error);
}

static const struct {
	const char *name;
	unsigned bit;
} smtpc_exts[] = {
	{ "PIPELINING", EXT_PIPELINING }, { "STARTTLS", EXT_STARTTLS },
	{ "SIZE", EXT_SIZE }, { "8BITMIME", EXT_8BITMIME },
	{ "AUTH", EXT_AUTH }, { "ETRN", EXT_ETRN },
	{ "ENHANCEDSTATUSCODES", EXT_ENHANCED }, { "SMTPUTF8", EXT_SMTPUTF8 },
	{ "DSN", EXT_DSN },
};

/* The mechanisms of "AUTH PLAIN LOGIN ..." (or the older "AUTH=..."). */
static void ehlo_auth(struct smtpc *s, const char *mechs)
{
	while (*mechs != '\0') {
		size_t ml = strcspn(mechs, " ");

		if (ml == 5 && strncasecmp(mechs, "PLAIN", 5) == 0)
			s->mechs |= MECH_PLAIN;
		else if (ml == 5 && strncasecmp(mechs, "LOGIN", 5) == 0)
			s->mechs |= MECH_LOGIN;
		mechs += ml;
		mechs += strspn(mechs, " ");
	}
	s->ext |= EXT_AUTH;
}

static void ehlo_keyword(struct smtpc *s, const char *kw)
{
	size_t kl = strcspn(kw, " ");

	if (strncasecmp(kw, "AUTH", 4) == 0 && (kw[4] == ' ' || kw[4] == '=' ||
						  kw[4] == '\0')) {
		ehlo_auth(s, kw + 4 + (kw[4] != '\0'));
		return;
	}

	for (size_t i = 0; i < sizeof(smtpc_exts) / sizeof(smtpc_exts[0]); i++) {
		if (strlen(smtpc_exts[i].name) != kl ||
		    strncasecmp(kw, smtpc_exts[i].name, kl) != 0)
			continue;
		s->ext |= smtpc_exts[i].bit;
		if (smtpc_exts[i].bit == EXT_SIZE && kw[kl] == ' ')
			s->ext_size = strtoull(kw + kl + 1, NULL, 10);
	}
}

/* Parse one reply line into s->cur; 1 when the reply is complete, 0 when
 * more lines follow, -1 when malformed. */
static int reply_line(struct smtpc *s, const char *line, size_t len)
{
	int code;

	if (len < 3 || !isdigit((unsigned char)line[0]) || line[0] < '2' ||
	    line[0] > '5' || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (!s->in_reply) {
		s->reply_lines = 0;
		s->cur.code = code;
		snprintf(s->cur.text, sizeof(s->cur.text), "%.*s", (int)len,
			 line);
		s->in_reply = true;
	} else {
		size_t have = strlen(s->cur.text);

		if (code != s->cur.code)
			return -1;
		if (len > 4 && have + 2 < sizeof(s->cur.text))
			snprintf(s->cur.text + have, sizeof(s->cur.text) - have,
				 " %.*s", (int)(len - 4), line + 4);
	}
	/* EHLO keywords are on the lines after the first (RFC 5321 4.1.1.1). */
	if (s->state == ST_EHLO && code == 250 && s->reply_lines++ > 0 &&
	    len > 4)
		ehlo_keyword(s, line + 4);
	if (len > 3 && line[3] == '-')
		return 0;
	s->in_reply = false;
	return 1;
}

/* The handshake verified by the session's TLSA records. */
static void start_dane(struct smtpc *s)
{
	struct tls_dane d = {
		.base = s->dane_base != NULL ? s->dane_base : s->tls_name,
		.names = (const char *const *)s->dane_names,
		.n_names = s->n_dane_names, .rrs = s->tlsa, .n_rrs = s->n_tlsa,
	};
	char err[200];

	if (conn_start_tls_dane(s->conn, s->verify_ctx, &d, NULL, err,
				sizeof(err)) < 0)
		fail(s, NULL, "DANE verification failed: %s (%s)", err, s->peer);
}

static void start_tls(struct smtpc *s)
{
	SSL_CTX *ctx = (s->tls == SMTPC_TLS_REQUIRED ||
			s->tls == SMTPC_TLS_IMPLICIT ||
			s->tls == SMTPC_TLS_DANE || s->pin != NULL)
			       ? s->verify_ctx : s->any_ctx;

	if (ctx == NULL) {
		fail(s, NULL, "no TLS context for %s", s->peer);
		return;
	}
	s->tlso = SMTPC_TLSO_HANDSHAKE; /* until it completes */
	/* RFC 3207 5: plaintext behind the 220 would be taken as the first
	 * reply under TLS (an injection); nothing may be buffered. */
	if (early_input(s))
		return;
	s->state = ST_HANDSHAKE;
	if (s->tls == SMTPC_TLS_DANE)
		start_dane(s);
	else if (conn_start_tls_client(s->conn, ctx, s->tls_name, s->pin,
				       NULL) < 0)
		fail(s, NULL, "cannot start TLS with %s", s->peer);
}

/* The next line of the AUTH exchange, base64 of len octets of data
 * after prefix ("AUTH PLAIN " or ""), with its reply owed; the trace
 * shows shown instead. Every copy of the secret is wiped. */
static void send_secret(struct smtpc *s, const char *prefix,
			const void *data, size_t len, const char *shown)
{
	size_t pl = strlen(prefix), size = pl + SASL_ENCODED_SIZE(len) + 2;
	char *line = malloc(size);
	size_t n;

	if (line == NULL) {
		fail(s, NULL, "out of memory");
		return;
	}
	memcpy(line, prefix, pl);
	n = pl + sasl_b64_encode(data, len, line + pl, size - pl);
	memcpy(line + n, "\r\n", 2);
	log_debug("smtpc %s C: %s", s->peer, shown);
	if (put(s, line, n + 2) == 0)
		s->awaiting++;
	sodium_memzero(line, size);
	free(line);
}

/* The PLAIN message (RFC 4616: empty authzid, NUL, user, NUL, password),
 * as the initial response when the command stays short enough. */
static void send_plain(struct smtpc *s, bool initial)
{
	size_t ul = strlen(s->auth_user), pl = strlen(s->auth_pw);
	size_t len = ul + pl + 2;
	char *msg = malloc(len);

	if (msg == NULL) {
		fail(s, NULL, "out of memory");
		return;
	}
	msg[0] = '\0';
	memcpy(msg + 1, s->auth_user, ul);
	msg[1 + ul] = '\0';
	memcpy(msg + 2 + ul, s->auth_pw, pl);
	if (!initial) {
		s->auth_phase = AUTH_DONE;
		send_secret(s, "", msg, len, "<SASL response>");
	} else if (sizeof("AUTH PLAIN ") - 1 + SASL_ENCODED_SIZE(len) - 1 <=
		   SMTPC_CMD_MAX) {
		s->auth_phase = AUTH_PLAIN_IR;
		send_secret(s, "AUTH PLAIN ", msg, len, "AUTH PLAIN ****");
	} else {
		s->auth_phase = AUTH_PLAIN;
		send_line(s, false, "AUTH PLAIN");
	}
	sodium_memzero(msg, len);
	free(msg);
}

/* RFC 4954: PLAIN when offered, else LOGIN; never without TLS, and
 * nothing at all when the server has neither. */
static void start_auth(struct smtpc *s)
{
	if (!conn_tls_active(s->conn)) {
		fail(s, NULL, "%s: refusing to send the password without TLS",
		     s->peer);
		return;
	}
	if (!(s->ext & EXT_AUTH)) {
		fail(s, NULL, "%s does not offer AUTH", s->peer);
		return;
	}
	if (!(s->mechs & (MECH_PLAIN | MECH_LOGIN))) {
		fail(s, NULL, "%s offers no AUTH mechanism of this client (PLAIN, LOGIN)",
		     s->peer);
		return;
	}
	s->state = ST_AUTH;
	set_timer(s, T_OTHER);
	if (s->mechs & MECH_PLAIN) {
		send_plain(s, true);
		return;
	}
	s->auth_phase = AUTH_LOGIN;
	send_line(s, false, "AUTH LOGIN");
}

/* A reply in ST_AUTH: 235 done, 334 the next step, anything else (535,
 * 534, 454, ...) fails the session with it. */
static void auth_reply(struct smtpc *s, const struct smtpc_reply *r)
{
	if (r->code == 235) {
		report_and_ready(s);
		return;
	}
	if (r->code != 334 || s->auth_phase == AUTH_PLAIN_IR ||
	    s->auth_phase == AUTH_DONE) {
		fail(s, r, "%s: authentication failed: %s", s->peer, r->text);
		return;
	}
	set_timer(s, T_OTHER);
	switch (s->auth_phase) {
	case AUTH_PLAIN:
		send_plain(s, false);
		break;
	case AUTH_LOGIN:
		s->auth_phase = AUTH_LOGIN_USER;
		send_secret(s, "", s->auth_user, strlen(s->auth_user),
			    "<SASL response>");
		break;
	default:
		s->auth_phase = AUTH_DONE;
		send_secret(s, "", s->auth_pw, strlen(s->auth_pw),
			    "<SASL response>");
		break;
	}
}

/* TLS settled: AUTH when there is a login, else ready. */
static void auth_or_ready(struct smtpc *s)
{
	if (s->auth_user != NULL)
		start_auth(s);
	else
		report_and_ready(s); /* no message yet: only ready */
}

/* The DANE modes: STARTTLS or nothing (RFC 7672 section 2.2). */
static bool tls_mandatory(const struct smtpc *s)
{
	return s->tls == SMTPC_TLS_ENCRYPT || s->tls == SMTPC_TLS_DANE;
}

/* After EHLO/HELO: STARTTLS, AUTH or ready. */
static void after_hello(struct smtpc *s)
{
	if (!conn_tls_active(s->conn) && s->tls != SMTPC_TLS_NONE &&
	    (s->ext & EXT_STARTTLS)) {
		s->state = ST_STARTTLS;
		/* Until a 220 and the handshake say otherwise. */
		s->tlso = SMTPC_TLSO_NOT_OFFERED;
		set_timer(s, T_OTHER);
		send_line(s, false, "STARTTLS");
		return;
	}
	if (!conn_tls_active(s->conn) && s->tls != SMTPC_TLS_NONE)
		s->tlso = SMTPC_TLSO_NOT_OFFERED;
	if (!conn_tls_active(s->conn) && s->tls == SMTPC_TLS_REQUIRED) {
		fail(s, NULL, "%s does not offer STARTTLS, which is required",
		     s->peer);
		return;
	}
	if (!conn_tls_active(s->conn) && tls_mandatory(s)) {
		fail(s, NULL, "TLS is required, but was not offered by %s",
		     s->tls_name);
		return;
	}
	auth_or_ready(s);
}

/* A DSN parameter's value to pass on (RFC 3461 §5.2), as it came: only
 * to a server that offers DSN; "" for none. */
static const char *dsn_arg(const struct smtpc *s, const char *const *v,
			   size_t i)
{
	return (s->ext & EXT_DSN) && v != NULL && v[i] != NULL ? v[i] : "";
}

static void send_envelope_cmd(struct smtpc *s)
{
	size_t i = s->next_send++;

	if (i == 0) {
		const char *ret = dsn_arg(s, &s->msg.ret, 0);
		const char *envid = dsn_arg(s, &s->msg.envid, 0);
		char size[40] = "";

		set_timer(s, T_MAIL);
		if (s->ext & EXT_SIZE)
			snprintf(size, sizeof(size), " SIZE=%llu",
				 (unsigned long long)s->msg.size);
		send_line(s, false, "MAIL FROM:<%s>%s%s%s%s%s%s%s", s->msg.sender,
			  size, s->msg.eight_bit ? " BODY=8BITMIME" : "",
			  s->msg.smtputf8 ? " SMTPUTF8" : "",
			  *ret ? " RET=" : "", ret, *envid ? " ENVID=" : "", envid);
	} else if (i <= s->msg.n_rcpts) {
		const char *notify = dsn_arg(s, s->msg.notify, i - 1);
		const char *orcpt = dsn_arg(s, s->msg.orcpt, i - 1);

		set_timer(s, T_RCPT);
		send_line(s, false, "RCPT TO:<%s>%s%s%s%s", s->msg.rcpts[i - 1],
			  *notify ? " NOTIFY=" : "", notify,
			  *orcpt ? " ORCPT=" : "", orcpt);
	} else {
		set_timer(s, T_DATA_INIT);
		send_line(s, false, "DATA");
	}
}

static void decide(struct smtpc *s, size_t i, const struct smtpc_reply *r)
{
	s->replies[i] = *r;
	s->decided[i] = true;
}

/* One reply in ST_ENVELOPE. */
static void envelope_reply(struct smtpc *s, const struct smtpc_reply *r)
{
	size_t i = s->next_reply++, n = s->msg.n_rcpts;
	bool pipelined = (s->ext & EXT_PIPELINING) != 0;

	if (i == 0) {
		if (r->code / 100 != 2) {
			s->mail_failed = true;
			for (size_t k = 0; k < n; k++)
				decide(s, k, r);
		}
	} else if (i <= n) {
		if (!s->mail_failed) {
			if (r->code / 100 == 2) {
				s->replies[i - 1] = *r;
				s->accepted++;
			} else {
				decide(s, i - 1, r);
			}
		}
	} else {
		if (r->code == 354 && s->accepted > 0 && !s->mail_failed) {
			s->state = ST_STREAM;
			s->offset = 0;
			dot_stuff_init(&s->stuff, DOT_STUFF_CLOSE_CRLF);
			pump(s);
			return;
		}
		if (r->code == 354) {
			/* Pipelined DATA accepted with no recipient (RFC 2920
			 * 3.1): end the empty data at once. */
			s->discard_body = true;
			s->state = ST_DOT;
			set_timer(s, T_DATA_TERM);
			send_line(s, false, ".");
			return;
		}
		for (size_t k = 0; k < n; k++)
			if (!s->decided[k])
				decide(s, k, r);
		finish_message(s, true);
		return;
	}
	if (pipelined) {
		return; /* everything was sent; wait for the next reply */
	}
	if (s->mail_failed || (i == n && s->accepted == 0)) {
		finish_message(s, true);
		return;
	}
	send_envelope_cmd(s);
}

/* The transaction is over. After an incomplete one, RSET first: the
 * result is reported when its reply comes (or when the session dies). */
static void finish_message(struct smtpc *s, bool need_rset)
{
	if (need_rset) {
		s->state = ST_RSET;
		set_timer(s, T_OTHER);
		send_line(s, false, "RSET");
		return;
	}
	report_and_ready(s);
}

/* Report a finished message (if any) and offer the session again. */
static void report_and_ready(struct smtpc *s)
{
	if (s->replies != NULL) {
		if (s->cb.on_result != NULL)
			s->cb.on_result(s, s->arg, s->replies, s->msg.n_rcpts);
		free_message(s);
	}
	if (s->state == ST_CLOSED || s->conn == NULL || conn_is_closing(s->conn))
		return;
	s->state = ST_READY;
	set_timer(s, T_OTHER);
	if (s->cb.on_ready != NULL)
		s->cb.on_ready(s, s->arg);
}

/* On a pool thread: the next SMTPC_AHEAD octets of the body. */
static void ahead_job(void *arg)
{
	struct smtpc_ahead *a = arg;
	ssize_t n;

	do
		n = pread(a->fd, a->buf, sizeof(a->buf), (off_t)a->off);
	while (n < 0 && errno == EINTR);
	a->err = n < 0 ? errno : 0;
	a->len = n > 0 ? (size_t)n : 0;
	a->eof = n == 0;
}

static void ahead_free(struct smtpc_ahead *a)
{
	close(a->fd);
	free(a);
}


static void ahead_done(void *arg)
{
	struct smtpc_ahead *a = arg;

	a->busy = false;
	if (a->s == NULL)
		ahead_free(a);
	else
		pump(a->s);
}

/* Read the next piece (after the one in buf) on the pool. */
static int ahead_submit(struct smtpc_ahead *a)
{
	a->off += a->len;
	a->len = a->pos = 0;
	a->busy = true;
	if (worker_submit(a->pool, ahead_job, ahead_done, a) == 0)
		return 0;
	a->busy = false;
	return -1;
}

/* The read-ahead of a body about to be sent, its first read submitted. */
static int ahead_start(struct smtpc *s)
{
	struct smtpc_ahead *a = malloc(sizeof(*a));
	int saved;

	if (a == NULL)
		return -1;
	memset(a, 0, offsetof(struct smtpc_ahead, buf));
	a->s = s;
	a->pool = s->pool;
	a->fd = fcntl(s->msg.fd, F_DUPFD_CLOEXEC, 0);
	if (a->fd < 0) {
		free(a);
		return -1;
	}
	if (ahead_submit(a) < 0) {
		saved = errno;
		ahead_free(a);
		errno = saved;
		return -1;
	}
	s->ahead = a;
	return 0;
}

/* The message is over: a read still on the pool frees it when back. */
static void ahead_release(struct smtpc *s)
{
	struct smtpc_ahead *a = s->ahead;

	if (a == NULL)
		return;
	s->ahead = NULL;
	if (a->busy)
		a->s = NULL;
	else
		ahead_free(a);
}

/* Up to size octets of the body into in: their count, 0 at its end,
 * SMTPC_READ_WAIT while the pool reads, -1 with errno on an error. The
 * next piece is asked for as soon as this one is taken, so the pool reads
 * while the conn sends. */
static ssize_t body_read(struct smtpc *s, unsigned char *in, size_t size)
{
	struct smtpc_ahead *a = s->ahead;
	size_t n;

	/* Bytes unread at the 354 came before the body, as put would see
	 * if the first piece went out at once. */
	if (a == NULL)
		return early_input(s) || ahead_start(s) < 0 ? -1
							    : SMTPC_READ_WAIT;
	if (a->busy)
		return SMTPC_READ_WAIT;
	if (a->err != 0) {
		errno = a->err;
		return -1;
	}
	if (a->eof)
		return 0;
	n = a->len - a->pos < size ? a->len - a->pos : size;
	memcpy(in, a->buf + a->pos, n);
	a->pos += n;
	if (a->pos == a->len && ahead_submit(a) < 0)
		return -1;
	return (ssize_t)n;
}

/* Queue body bytes until the output is full or the body is done. */
static void pump(struct smtpc *s)
{
	unsigned char in[SMTPC_CHUNK];
	char out[2 * SMTPC_CHUNK + 4];

	if (s->state != ST_STREAM || s->conn == NULL)
		return;
	set_timer(s, T_DATA_BLOCK);
	while (conn_output_pending(s->conn) < SMTPC_HIGH) {
		ssize_t n = body_read(s, in, sizeof(in));
		size_t o = 0;

		if (n == SMTPC_READ_WAIT)
			return; /* ahead_done pumps again */
		if (n < 0) {
			fail(s, NULL, "reading the queued message: %s",
			     strerror(errno));
			return;
		}
		if (n == 0) {
			o = dot_stuff_close(&s->stuff, out);
			if (o > 0 && put(s, out, o) < 0)
				return;
			log_debug("smtpc %s C: <%llu bytes>", s->peer,
				  (unsigned long long)s->offset);
			s->state = ST_DOT;
			set_timer(s, T_DATA_TERM);
			send_line(s, false, ".");
			return;
		}
		s->offset += (uint64_t)n;
		/* RFC 5321 4.5.2: double a leading dot. */
		o = dot_stuff(&s->stuff, (const char *)in, (size_t)n, out);
		if (put(s, out, o) < 0)
			return;
	}
	conn_request_drain(s->conn);
}

static void c_drain(struct conn *c, void *arg)
{
	(void)c;
	pump(arg);
}

/* A complete reply in the current state. */
static void handle_reply(struct smtpc *s, const struct smtpc_reply *r)
{
	int cls = r->code / 100;

	s->last = *r;
	switch (s->state) {
	case ST_GREETING:
		if (cls != 2) {
			fail(s, r, "%s refused the session: %s", s->peer, r->text);
			return;
		}
		send_ehlo(s);
		return;
	case ST_EHLO:
		if (cls == 2) {
			after_hello(s);
			return;
		}
		if (conn_tls_active(s->conn)) {
			fail(s, r, "%s refused EHLO under TLS: %s", s->peer,
			     r->text);
			return;
		}
		/* RFC 5321 3.2: fall back to HELO. */
		s->state = ST_HELO;
		send_line(s, false, "HELO %s", s->helo);
		return;
	case ST_HELO:
		if (cls != 2) {
			fail(s, r, "%s refused HELO: %s", s->peer, r->text);
			return;
		}
		after_hello(s);
		return;
	case ST_STARTTLS:
		if (r->code == 220) {
			start_tls(s);
			return;
		}
		if (s->tls == SMTPC_TLS_REQUIRED) {
			fail(s, r, "%s refused STARTTLS: %s", s->peer, r->text);
			return;
		}
		if (tls_mandatory(s)) {
			/* A reply of the server's own is no reason to bounce:
			 * code 0, the next MX or a later try. */
			fail(s, NULL, "TLS is required, but %s refused STARTTLS: %s",
			     s->tls_name, r->text);
			return;
		}
		auth_or_ready(s); /* plaintext, as opportunistic allows */
		return;
	case ST_AUTH:
		auth_reply(s, r);
		return;
	case ST_ENVELOPE:
		envelope_reply(s, r);
		return;
	case ST_DOT:
		for (size_t k = 0; k < s->msg.n_rcpts; k++)
			if (!s->decided[k] && !s->discard_body)
				decide(s, k, r);
		finish_message(s, s->discard_body || cls != 2);
		return;
	case ST_RSET:
		report_and_ready(s);
		return;
	case ST_COMMAND:
		s->state = ST_READY;
		set_timer(s, T_OTHER);
		if (s->cb.on_reply != NULL)
			s->cb.on_reply(s, s->arg, r);
		if (s->state == ST_READY && s->conn != NULL &&
		    !conn_is_closing(s->conn) && s->cb.on_ready != NULL)
			s->cb.on_ready(s, s->arg);
		return;
	case ST_QUIT:
		/* What follows the reply to QUIT is never read. */
		conn_close(s->conn, "QUIT");
		return;
	default:
		protocol_error(s, r, "unexpected reply from %s: %s", s->peer,
			       r->text);
		return;
	}
}

/* RFC 5321 4.2 and 4.3.2: DATA's positive reply is 354 and only DATA has
 * one of class 3 (RFC 4954 adds AUTH's 334 and its 235); a reply that
 * cannot answer the command it is matched to means the replies are out
 * of step. The owner of smtpc_command judges its replies itself. */
static bool reply_fits(const struct smtpc *s, int code)
{
	if (s->state == ST_COMMAND)
		return true;
	if (s->state == ST_AUTH)
		return code == 235 || code == 334 || code >= 400;
	if (s->state == ST_ENVELOPE && s->next_reply == s->msg.n_rcpts + 1)
		return code == 354 || code >= 400;
	return code / 100 != 3;
}

static void c_readable(struct conn *c, void *arg)
{
	struct smtpc *s = arg;
	struct conn_line line;

	while (s->state != ST_CLOSED && !conn_is_closing(c) &&
	       conn_next_line(c, &line) == 1) {
		int rc;

		log_debug("smtpc %s S: %s", s->peer, line.data);
		/* The reply to the last command owed cannot come while part
		 * of that command is still unsent. */
		if (s->awaiting == 0 ||
		    (s->awaiting == 1 && conn_output_pending(c) > 0)) {
			protocol_error(s, NULL, "%s sent a reply nothing asked for: %.80s",
				       s->peer, line.data);
			return;
		}
		if (line.flags & (CONN_LINE_OVERLONG | CONN_LINE_NUL)) {
			fail(s, NULL, "malformed reply from %s", s->peer);
			return;
		}
		rc = reply_line(s, line.data, line.len);
		if (rc < 0) {
			fail(s, NULL, "malformed reply from %s: %.80s", s->peer,
			     line.data);
			return;
		}
		if (rc == 0)
			continue;
		s->awaiting--;
		if (!reply_fits(s, s->cur.code)) {
			protocol_error(s, &s->cur, "%s sent %s out of turn",
				       s->peer, s->cur.text);
			return;
		}
		struct smtpc_reply r = s->cur;

		handle_reply(s, &r);
	}
}

int smtpc_send(struct smtpc *s, const struct smtpc_msg *msg)
{
	if (s->state != ST_READY || msg->n_rcpts == 0 || s->conn == NULL) {
		errno = EINVAL;
		return -1;
	}
	s->replies = calloc(msg->n_rcpts, sizeof(*s->replies));
	s->decided = calloc(msg->n_rcpts, sizeof(*s->decided));
	if (s->replies == NULL || s->decided == NULL) {
		free_message(s);
		errno = ENOMEM;
		return -1;
	}
	s->msg = *msg;
	s->next_send = s->next_reply = s->accepted = 0;
	s->mail_failed = s->discard_body = false;
	/* RFC 1870: a message the server will refuse by size is not sent.
	 * RFC 6152 §3: 8-bit content to a peer without 8BITMIME is returned
	 * (no downgrade here); so is binary content (this client has no
	 * BDAT) and, RFC 6531 §3.2, an SMTPUTF8 message to a peer without
	 * SMTPUTF8. */
	if (((s->ext & EXT_SIZE) && s->ext_size > 0 && msg->size > s->ext_size) ||
	    msg->binary || (msg->eight_bit && !(s->ext & EXT_8BITMIME)) ||
	    (msg->smtputf8 && !(s->ext & EXT_SMTPUTF8))) {
		struct smtpc_reply r = { .code = 552 };

		if (msg->binary || (msg->eight_bit && !(s->ext & EXT_8BITMIME))) {
			r.code = 554;
			snprintf(r.text, sizeof(r.text),
				 "554 5.6.3 %s content cannot be sent to %s, which does not offer %s",
				 msg->binary ? "binary" : "8-bit", s->peer,
				 msg->binary ? "BINARYMIME with CHUNKING here" : "8BITMIME");
		} else if (msg->smtputf8 && !(s->ext & EXT_SMTPUTF8)) {
			r.code = 553;
			snprintf(r.text, sizeof(r.text),
				 "553 5.6.7 internationalised message cannot be sent to %s, which does not offer SMTPUTF8",
				 s->peer);
		} else {
			snprintf(r.text, sizeof(r.text),
				 "552 5.3.4 message size %llu exceeds the limit %llu of %s",
				 (unsigned long long)msg->size,
				 (unsigned long long)s->ext_size, s->peer);
		}
		for (size_t k = 0; k < msg->n_rcpts; k++)
			decide(s, k, &r);
		/* Reported with the RSET reply, from the loop. */
		finish_message(s, true);
		return 0;
	}
	s->state = ST_ENVELOPE;
	if (s->ext & EXT_PIPELINING) {
		while (s->next_send < msg->n_rcpts + 2)
			send_envelope_cmd(s);
	} else {
		send_envelope_cmd(s);
	}
	return 0;
}

int smtpc_command(struct smtpc *s, const char *line, bool mask_trace)
{
	if (s->state != ST_READY || s->conn == NULL ||
	    strpbrk(line, "\r\n") != NULL) {
		errno = EINVAL;
		return -1;
	}
	s->state = ST_COMMAND;
	set_timer(s, T_OTHER);
	send_line(s, mask_trace, "%s", line);
	return 0;
}

void smtpc_quit(struct smtpc *s)
{
	if (s->state == ST_CLOSED || s->conn == NULL)
		return;
	s->state = ST_QUIT;
	s->quit_sent = true;
	set_timer(s, T_OTHER);
	send_line(s, false, "QUIT");
}

void smtpc_abort(struct smtpc *s, const char *why)
{
	if (s->state == ST_CLOSED)
		return;
	if (s->error[0] == '\0')
		snprintf(s->error, sizeof(s->error), "%s",
			 why != NULL ? why : "aborted");
	if (s->state == ST_RESOLVING) {
		s->abort_pending = true;
		return;
	}
	if (s->conn != NULL)
		conn_close(s->conn, s->error);
}

enum smtpc_tlso smtpc_tls_outcome(const struct smtpc *s, long *verify_r)
{
	if (verify_r != NULL)
		*verify_r = s->tls_verify;
	return s->tlso;
}

bool smtpc_tls_active(const struct smtpc *s)
{
	return s->conn != NULL && conn_tls_active(s->conn);
}

const char *smtpc_peer(const struct smtpc *s)
{
	return s->peer;
}

bool smtpc_has_ext(const struct smtpc *s, const char *keyword)
{
	for (size_t i = 0; i < sizeof(smtpc_exts) / sizeof(smtpc_exts[0]); i++)
		if (strcasecmp(keyword, smtpc_exts[i].name) == 0)
			return (s->ext & smtpc_exts[i].bit) != 0;
	return false;
}
