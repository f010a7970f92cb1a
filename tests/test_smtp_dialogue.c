/* tests/test_smtp_dialogue.c: the SMTP session (smtpd/session.h) with its
 * real commands, on a fake environment: no socket, no server. The fake
 * frames input with common/net/buf as a conn does and records the output,
 * the trace, the login requests and the TLS start. Each dialogue is a
 * table of input and the exact replies, run with the input cut into
 * chunks of 1, 2, 7 octets and whole. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/config/config_load.h"
#include "common/net/buf.h"
#include "common/users/userdb.h"
#include "smtpd/authcmd.h"
#include "smtpd/commands.h"
#include "smtpd/etrncmd.h"
#include "smtpd/session.h"
#include "smtpd/transaction.h"
#include "tests/helpers/testutil.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* What the fake environment holds and saw. */
struct fake {
	struct buf_in in;
	bool raw, paused, tls_wait, tls, tls_ctx;
	bool closing, after_flush, released;
	char reason[64];
	char *out, *trace;      /* NUL-terminated logs */
	size_t out_len, trace_len, taken;
	size_t discarded;
	int logins;
	char mech[16], user[64], pw[64];
	int refreshes;
	bool refreshing;
};

static struct fake fk;
static struct config *cfg;
static char *dir;
static struct userdb *db;
static struct smtp_session *sess;

static void append(char **buf, size_t *len, const char *data, size_t n)
{
	*buf = realloc(*buf, *len + n + 1);
	cr_assert_not_null(*buf);
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static int f_write(void *env, const void *data, size_t len)
{
	(void)env;
	if (fk.closing)
		return -1;
	append(&fk.out, &fk.out_len, data, len);
	return 0;
}

static void f_trace(void *env, bool in, const char *text, size_t len)
{
	(void)env;
	append(&fk.trace, &fk.trace_len, in ? "< " : "> ", 2);
	append(&fk.trace, &fk.trace_len, text, len);
	append(&fk.trace, &fk.trace_len, "\n", 1);
}

/* As conn_next_line / conn_read_raw: nothing while paused, closing or in
 * the handshake. */
static bool deliverable(void)
{
	return !fk.paused && !fk.closing && !fk.tls_wait;
}

static int f_next_line(void *env, struct conn_line *line_r)
{
	struct buf_line l;

	(void)env;
	if (fk.raw || !deliverable() || buf_in_next_line(&fk.in, &l) == 0)
		return 0;
	line_r->data = l.data;
	line_r->len = l.len;
	line_r->flags = l.flags;
	return 1;
}

static size_t f_read_raw(void *env, const char **data_r, size_t max)
{
	(void)env;
	return deliverable() ? buf_in_take(&fk.in, data_r, max) : 0;
}

static void f_unread_raw(void *env, size_t n)
{
	(void)env;
	buf_in_untake(&fk.in, n);
}

static size_t f_input_pending(void *env)
{
	(void)env;
	return buf_in_avail(&fk.in);
}

static void f_set_raw(void *env, bool raw)
{
	(void)env;
	fk.raw = raw;
}

static void f_pause(void *env)
{
	(void)env;
	fk.paused = true;
}

static void f_resume(void *env)
{
	(void)env;
	fk.paused = false;
}

static bool f_tls_available(void *env)
{
	(void)env;
	return fk.tls_ctx;
}

static int f_start_tls(void *env, size_t *discarded_r)
{
	(void)env;
	cr_assert(!fk.tls && !fk.tls_wait);
	fk.discarded = *discarded_r = buf_in_drop(&fk.in);
	fk.tls_wait = true;
	return 0;
}

static const char *f_tls_version(void *env)
{
	(void)env;
	return fk.tls ? "TLSv1.3" : NULL;
}

static const char *f_tls_cipher(void *env)
{
	(void)env;
	return fk.tls ? "TLS_AES_256_GCM_SHA384" : NULL;
}

static int f_login(void *env, const char *mech, const char *user,
		   const char *pw, size_t pwlen)
{
	(void)env;
	fk.logins++;
	snprintf(fk.mech, sizeof(fk.mech), "%s", mech);
	snprintf(fk.user, sizeof(fk.user), "%s", user);
	snprintf(fk.pw, sizeof(fk.pw), "%.*s", (int)pwlen, pw);
	return 0;
}

/* The pipeline inline (no io pool): the Maildir is written and synced
 * inside the calls; no queue. */
static void f_pipe_env(void *env, struct pipe_env *e)
{
	(void)env;
	*e = (struct pipe_env){ .cfg = cfg, .db = db };
}

/* A refresh is answered by the step "@refresh". */
static int f_refresh(void *env)
{
	(void)env;
	cr_assert(!fk.refreshing);
	fk.refreshes++;
	fk.refreshing = true;
	return 1;
}

static struct runner *f_runner(void *env)
{
	(void)env;
	return NULL;
}

static void f_close(void *env, bool after_flush, const char *reason)
{
	(void)env;
	if (fk.closing)
		return;
	fk.closing = true;
	fk.after_flush = after_flush;
	snprintf(fk.reason, sizeof(fk.reason), "%s", reason);
}

static void f_release(void *env)
{
	(void)env;
	fk.released = true;
}

static const struct smtp_ops fake_ops = {
	f_write, f_trace, f_next_line, f_read_raw, f_unread_raw,
	f_input_pending, f_set_raw, f_pause, f_resume, f_tls_available,
	f_start_tls, f_tls_version, f_tls_cipher, f_login, f_pipe_env,
	f_refresh, f_runner, f_close, f_release,
};

/* The real protocol above the session: commands and transactions. */
static const struct smtp_hooks hooks = {
	smtp_command_line, smtp_txn_content_wait, smtp_txn_content,
	smtp_txn_content_end, smtp_etrn_cancel,
};

#define MX 0
#define SUBMISSION 1 /* plaintext-ok */

static void setup(void)
{
	char *text = NULL, *err = NULL, *users;

	log_init("test_smtp_dialogue", true);
	log_set_level(LOG_LVL_WARN);
	dir = tu_tmpdir();
	cr_assert_geq(asprintf(&text,
			       "hostname mx.example.test\n"
			       "local_domain example.test\n"
			       "data_dir %s\nuser_db users\n"
			       "listen smtp 127.0.0.1:25\n"
			       "listen smtp 127.0.0.1:587 submission plaintext-ok\n"
			       "bad_command_limit 20\n", dir), 0);
	cfg = config_parse("t.conf", dir, text, strlen(text), &err);
	cr_assert_not_null(cfg, "config: %s", err != NULL ? err : "?");
	free(text);
	users = tu_path(dir, "users");
	tu_write_file(users, "alice@example.test:x\n");
	cr_assert_eq(userdb_open(users, &db), 0);
	free(users);
}

static void end_session(void)
{
	if (sess != NULL) {
		smtp_session_closed(sess, "test end");
		cr_assert(fk.released);
		sess = NULL;
	}
	buf_in_free(&fk.in);
	free(fk.out);
	free(fk.trace);
	memset(&fk, 0, sizeof(fk));
}

static void teardown(void)
{
	end_session();
	userdb_free(db);
	config_free(cfg);
	tu_rmrf(dir);
	free(dir);
}

TestSuite(smtp_dialogue, .init = setup, .fini = teardown, .timeout = 60);

/* A fresh session on listener `listener`, greeted. */
static void start(int listener, bool tls_ctx)
{
	struct smtp_session_cfg scfg = {
		.cfg = cfg, .lc = &cfg->listeners[listener],
		.sid = "T1", .peer = "127.0.0.1",
	};

	end_session();
	buf_in_set_max_line(&fk.in, SMTP_LINE_MAX);
	fk.tls_ctx = tls_ctx;
	sess = smtp_session_new(&fake_ops, NULL, &hooks, &scfg);
	cr_assert_not_null(sess);
	smtp_session_greet(sess);
}

/* What conn does when input arrives: buffer it, then on_readable. Octets
 * that arrive during the handshake are TLS records, never plaintext. */
static void deliver(const char *data, size_t len)
{
	size_t room;
	char *p;

	if (fk.tls_wait || fk.closing) {
		fk.discarded += len;
		return;
	}
	p = buf_in_space(&fk.in, buf_in_avail(&fk.in) + len + 1, &room);
	cr_assert_not_null(p);
	cr_assert_geq(room, len);
	memcpy(p, data, len);
	buf_in_commit(&fk.in, len, fk.raw);
	if (deliverable())
		smtp_session_input(sess);
}

static void send_chunked(const char *data, size_t len, size_t chunk)
{
	if (chunk == 0)
		chunk = len;
	for (size_t o = 0; o < len; o += chunk)
		deliver(data + o, len - o < chunk ? len - o : chunk);
}

/* The output since the last call. */
static const char *take(void)
{
	const char *r = fk.out != NULL ? fk.out + fk.taken : "";

	fk.taken = fk.out_len;
	return r;
}

/* Steps whose input starts with '@' are events of the environment. */
static void event(const char *what)
{
	if (strcmp(what, "@tls") == 0) {
		cr_assert(fk.tls_wait, "no handshake started");
		fk.tls_wait = false;
		fk.tls = true;
		smtp_session_tls_ready(sess);
	} else if (strcmp(what, "@login-ok") == 0) {
		smtp_auth_done(sess, SMTP_LOGIN_OK, "alice@example.test");
	} else if (strcmp(what, "@login-fail") == 0) {
		smtp_auth_done(sess, SMTP_LOGIN_FAIL, NULL);
	} else if (strcmp(what, "@refresh") == 0) {
		cr_assert(fk.refreshing, "no refresh asked");
		fk.refreshing = false;
		smtp_refresh_done(sess);
	} else if (strcmp(what, "@timeout") == 0) {
		smtp_session_timeout(sess);
	} else if (strcmp(what, "@shutdown") == 0) {
		smtp_session_shutdown(sess);
	} else {
		cr_assert_fail("unknown event %s", what);
	}
	/* After a resume the conn delivers what is buffered. */
	if (deliverable())
		smtp_session_input(sess);
}

struct step {
	const char *in;
	const char *want; /* the exact output it causes */
	size_t in_len;    /* 0: strlen(in) */
};

struct dialogue {
	const char *name;
	int listener;
	bool tls_ctx;
	const struct step *steps;
	size_t n;
	bool closes; /* the session asks to close by the end */
};

static void run(const struct dialogue *d)
{
	static const size_t chunkings[] = { 1, 2, 7, 0 };

	for (size_t c = 0; c < N(chunkings); c++) {
		start(d->listener, d->tls_ctx);
		cr_assert_str_eq(take(), "220 mx.example.test ESMTP kantorpos ready\r\n");
		for (size_t i = 0; i < d->n; i++) {
			const struct step *st = &d->steps[i];

			if (st->in[0] == '@')
				event(st->in);
			else
				send_chunked(st->in, st->in_len != 0 ? st->in_len
					     : strlen(st->in), chunkings[c]);
			cr_assert_str_eq(take(), st->want,
					 "%s (chunk %zu) step %zu", d->name,
					 chunkings[c], i);
		}
		cr_assert_eq(fk.closing, d->closes, "%s (chunk %zu): closing",
			     d->name, chunkings[c]);
	}
}

#define GREETED "mx.example.test Hello c [127.0.0.1]"
#define EHLO_BASE "250-" GREETED "\r\n250-PIPELINING\r\n" \
	"250-SIZE 52428800\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-SMTPUTF8\r\n250-BINARYMIME\r\n250-DSN\r\n"
#define EHLO_PLAIN EHLO_BASE "250 CHUNKING\r\n"
#define BAD_SEQ "503 5.5.1 Bad sequence of commands\r\n"
#define OK "250 2.0.0 OK\r\n"
#define BYE "221 2.0.0 mx.example.test Bye\r\n"
#define UNKNOWN "500 5.5.2 Command unrecognized\r\n"
#define TOO_LONG "500 5.5.2 Line too long\r\n"

Test(smtp_dialogue, ehlo_helo)
{
	static const struct step steps[] = {
		{ "EHLO c\r\n", EHLO_PLAIN, 0 },
		{ "HELO c\r\n", "250 " GREETED "\r\n", 0 },
		{ "ehlo c\r\n", EHLO_PLAIN, 0 },
		{ "EHLO\r\n", "501 5.5.4 Syntax: EHLO hostname\r\n", 0 },
		{ "EHLO \r\n", "501 5.5.4 Syntax: EHLO hostname\r\n", 0 },
		{ "HELO\r\n", "501 5.5.4 Syntax: HELO hostname\r\n", 0 },
		{ "QUIT\r\n", BYE, 0 },
	};
	static const struct step offers[] = {
		{ "EHLO c\r\n", EHLO_BASE "250-STARTTLS\r\n250 CHUNKING\r\n", 0 },
	};
	static const struct step plain_ok[] = {
		{ "EHLO c\r\n", EHLO_BASE "250-AUTH PLAIN LOGIN\r\n"
				"250 CHUNKING\r\n", 0 },
	};

	run(&(struct dialogue){ "ehlo", MX, false, steps, N(steps), true });
	run(&(struct dialogue){ "starttls offered", MX, true, offers,
				N(offers), false });
	run(&(struct dialogue){ "auth offered", SUBMISSION, false, plain_ok,
				N(plain_ok), false });
}

Test(smtp_dialogue, sequence_and_unknown)
{
	static const struct step steps[] = {
		/* RFC 5321 §4.1.4: mail needs EHLO/HELO first */
		{ "MAIL FROM:<a@b.example>\r\n", BAD_SEQ, 0 },
		{ "RCPT TO:<alice@example.test>\r\n", BAD_SEQ, 0 },
		{ "DATA\r\n", BAD_SEQ, 0 },
		{ "AUTH PLAIN\r\n", BAD_SEQ, 0 },
		{ "ETRN example.test\r\n", BAD_SEQ, 0 },
		/* §4.3.2: an argument to a command that takes none, in any
		 * state, is 501 */
		{ "DATA x\r\n", "501 5.5.4 Syntax error: no parameters allowed\r\n", 0 },
		{ "RSET x\r\n", "501 5.5.4 Syntax: RSET\r\n", 0 },
		{ "QUIT x\r\n", "501 5.5.4 Syntax: QUIT\r\n", 0 },
		{ "STARTTLS x\r\n", "501 5.5.4 Syntax: STARTTLS\r\n", 0 },
		{ "FOO\r\n", UNKNOWN, 0 },
		{ "TURN\r\n", UNKNOWN, 0 },
		{ "NOOP\tx\r\n", UNKNOWN, 0 },
		{ "\r\n", "500 5.5.2 Syntax error: command expected\r\n", 0 },
		{ " NOOP\r\n", "500 5.5.2 Syntax error: command expected\r\n", 0 },
		/* forbidden bytes: 501 in a known command's arguments */
		{ "NOOP a\rb\r\n", "501 5.5.4 Syntax error in parameters: bare CR in line\r\n", 0 },
		{ "MAIL FROM:<a\0b>\r\n", "501 5.1.7 Syntax error in parameters: NUL byte in line\r\n",
		  sizeof("MAIL FROM:<a\0b>\r\n") - 1 },
		{ "RCPT TO:<a\x01>\r\n", "501 5.1.3 Syntax error in parameters: control character in line\r\n", 0 },
		{ "NO\rOP\r\n", "500 5.5.2 Syntax error: bare CR in line\r\n", 0 },
		{ "FOO a\rb\r\n", "500 5.5.2 Syntax error: bare CR in line\r\n", 0 },
		{ "NOOP whatever\r\n", "250 2.0.0 OK\r\n", 0 },
		{ "QUIT\r\n", BYE, 0 },
	};

	run(&(struct dialogue){ "sequence", MX, false, steps, N(steps), true });
}

/* A line of len octets, CRLF included: prefix, then 'x'. */
static char *line_of(const char *prefix, size_t len)
{
	char *l = malloc(len + 1);

	cr_assert_not_null(l);
	memset(l, 'x', len - 2);
	memcpy(l, prefix, strlen(prefix));
	memcpy(l + len - 2, "\r\n", 3);
	return l;
}

Test(smtp_dialogue, line_lengths)
{
	/* 512 octets with CRLF are a command line (RFC 5321 §4.5.3.1.4);
	 * MAIL and RCPT may be longer (the parameters offered); beyond the
	 * reader's maximum a line is refused once and its rest dropped up
	 * to the LF. */
	char *lines[] = {
		line_of("NOOP ", SMTP_CMD_MAX), line_of("NOOP ", SMTP_CMD_MAX + 1),
		line_of("MAIL FROM:<a@b> X=", SMTP_MAILRCPT_MAX),
		line_of("RCPT TO:<a@b> X=", SMTP_MAILRCPT_MAX + 1),
		line_of("NOOP ", SMTP_LINE_MAX + 50),
	};
	const struct step steps[] = {
		{ lines[0], OK, 0 },
		{ lines[1], TOO_LONG, 0 },
		{ lines[2], BAD_SEQ, 0 },
		{ lines[3], TOO_LONG, 0 },
		{ lines[4], TOO_LONG, 0 },
		{ "NOOP\r\n", OK, 0 },
	};

	run(&(struct dialogue){ "lengths", MX, false, steps, N(steps), false });
	for (size_t i = 0; i < N(lines); i++)
		free(lines[i]);
}

Test(smtp_dialogue, noop_rset_quit_help)
{
	static const struct step steps[] = {
		/* before EHLO: no 503 for these (S-CMD-08) */
		{ "NOOP\r\n", OK, 0 },
		{ "RSET\r\n", OK, 0 },
		{ "VRFY alice\r\n", "252 2.0.0 Cannot VRFY user, but will accept "
				    "message and attempt delivery\r\n", 0 },
		{ "VRFY\r\n", "501 5.5.4 Syntax: VRFY address\r\n", 0 },
		{ "EXPN staff\r\n", "502 5.5.1 EXPN not available\r\n", 0 },
		{ "HELP\r\n", "214-2.0.0 kantorpos-smtpd, commands:\r\n"
			      "214-2.0.0 EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT\r\n"
			      "214 2.0.0 VRFY EXPN HELP STARTTLS AUTH ETRN\r\n", 0 },
		{ "HELO c\r\n", "250 " GREETED "\r\n", 0 },
		{ "rset\r\n", OK, 0 },
		{ "Quit\r\n", BYE, 0 },
		/* nothing is read after QUIT */
		{ "NOOP\r\n", "", 0 },
	};

	run(&(struct dialogue){ "noop", MX, false, steps, N(steps), true });
	cr_assert(fk.after_flush);
	cr_assert_str_eq(fk.reason, "session end");
}

Test(smtp_dialogue, pipelining)
{
	static const struct step steps[] = {
		{ "NOOP\r\nMAIL FROM:<a@b>\r\nEHLO c\r\nRCPT TO:<a@b>\r\n"
		  "FOO\r\nRSET\r\nQUIT\r\nNOOP\r\n",
		  OK BAD_SEQ EHLO_PLAIN BAD_SEQ UNKNOWN OK BYE, 0 },
	};
	static const struct step bare_lf[] = {
		/* a bare LF ends a command line too */
		{ "NOOP\nRSET\r\n", OK OK, 0 },
	};

	run(&(struct dialogue){ "pipelining", MX, false, steps, N(steps), true });
	run(&(struct dialogue){ "bare lf", MX, false, bare_lf, N(bare_lf),
				false });
}

Test(smtp_dialogue, auth_needs_tls)
{
	static const struct step steps[] = {
		{ "EHLO c\r\n", EHLO_BASE "250-STARTTLS\r\n250 CHUNKING\r\n", 0 },
		/* RFC 4954 §4: refused the same whatever the credentials */
		{ "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
		  "538 5.7.11 Encryption required for requested authentication mechanism\r\n", 0 },
		{ "AUTH LOGIN\r\n",
		  "538 5.7.11 Encryption required for requested authentication mechanism\r\n", 0 },
		{ "STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n", 0 },
		{ "@tls", "", 0 },
		/* RFC 3207 §4.2: EHLO again; no STARTTLS now, AUTH offered */
		{ "AUTH PLAIN\r\n", BAD_SEQ, 0 },
		{ "EHLO c\r\n", EHLO_BASE "250-AUTH PLAIN LOGIN\r\n250 CHUNKING\r\n", 0 },
		{ "STARTTLS\r\n", "503 5.5.1 TLS already active\r\n", 0 },
		{ "AUTH CRAM-MD5\r\n", "504 5.5.4 Unrecognized authentication type\r\n", 0 },
		{ "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n", 0 },
		{ "*\r\n", "501 5.7.0 Authentication cancelled\r\n", 0 },
		{ "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n", 0 },
		{ "YWxpY2U=\r\n", "334 UGFzc3dvcmQ6\r\n", 0 },
		/* the login runs; input waits */
		{ "d3Jvbmc=\r\nNOOP\r\n", "", 0 },
		{ "@login-fail", "535 5.7.8 Authentication credentials invalid\r\n"
				 OK, 0 },
		{ "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", "", 0 },
		{ "@login-ok", "235 2.7.0 Authentication successful\r\n", 0 },
		{ "AUTH PLAIN\r\n", "503 5.5.1 Already authenticated\r\n", 0 },
		{ "EHLO c\r\n", EHLO_PLAIN, 0 },
	};

	run(&(struct dialogue){ "auth", MX, true, steps, N(steps), false });
	cr_assert_eq(fk.logins, 2);
	cr_assert_str_eq(fk.mech, "PLAIN");
	cr_assert_str_eq(fk.user, "alice");
	cr_assert_str_eq(fk.pw, "secret");
	cr_assert(sess->flags & SMTP_F_AUTH);
	cr_assert_str_eq(sess->user, "alice@example.test");
}

#define PLAIN_LOGIN "EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"

Test(smtp_dialogue, auth_trace_masked)
{
	static const struct step steps[] = {
		{ "EHLO c\r\nAUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n",
		  EHLO_BASE "250-AUTH PLAIN LOGIN\r\n250 CHUNKING\r\n" "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n", 0 },
		{ "@login-ok", "235 2.7.0 Authentication successful\r\n", 0 },
	};

	run(&(struct dialogue){ "auth trace", SUBMISSION, false, steps,
				N(steps), false });
	cr_assert_str_eq(fk.pw, "secret");
	cr_assert_not_null(strstr(fk.trace, "< AUTH LOGIN\n> 334 VXNlcm5hbWU6\n"
					    "< <SASL response>\n> 334 UGFzc3dvcmQ6\n"
					    "< <SASL response>\n"),
			   "%s", fk.trace);
	cr_assert_null(strstr(fk.trace, "YWxpY2U="), "%s", fk.trace);
	cr_assert_null(strstr(fk.trace, "c2VjcmV0"), "%s", fk.trace);
	start(SUBMISSION, false);
	send_chunked(PLAIN_LOGIN, strlen(PLAIN_LOGIN), 0);
	cr_assert_not_null(strstr(fk.trace, "< AUTH PLAIN ****\n"), "%s", fk.trace);
	cr_assert_null(strstr(fk.trace, "AGFs"), "%s", fk.trace);
}

Test(smtp_dialogue, auth_line_too_long)
{
	char *huge = line_of("", SMTP_LINE_MAX + 50);
	const struct step steps[] = {
		{ "EHLO c\r\n", EHLO_BASE "250-AUTH PLAIN LOGIN\r\n"
				"250 CHUNKING\r\n", 0 },
		{ "AUTH PLAIN\r\n", "334 \r\n", 0 },
		/* RFC 4954 §4: the exchange is cancelled */
		{ huge, "500 5.5.6 Authentication exchange line is too long\r\n", 0 },
		{ "NOOP\r\n", OK, 0 },
	};

	run(&(struct dialogue){ "auth too long", SUBMISSION, false, steps,
				N(steps), false });
	cr_assert_eq(fk.logins, 0);
	free(huge);
}

Test(smtp_dialogue, starttls_discards_pipelined_plaintext)
{
	static const struct step steps[] = {
		{ "EHLO c\r\n", EHLO_BASE "250-STARTTLS\r\n250 CHUNKING\r\n", 0 },
		/* RFC 3207 §4.2, CVE-2011-0411: the commands after STARTTLS
		 * in the same packet never run, before or after the
		 * handshake */
		{ "STARTTLS\r\nMAIL FROM:<evil@example.org>\r\nNOOP\r\n",
		  "220 2.0.0 Ready to start TLS\r\n", 0 },
		{ "@tls", "", 0 },
		{ "NOOP\r\n", OK, 0 },
		{ "MAIL FROM:<a@b>\r\n", BAD_SEQ, 0 },
	};

	run(&(struct dialogue){ "starttls", MX, true, steps, N(steps), false });
	cr_assert_eq(fk.discarded,
		     strlen("MAIL FROM:<evil@example.org>\r\nNOOP\r\n"));
	cr_assert(sess->flags & SMTP_F_TLS);
	cr_assert_str_eq(smtp_tls_version(sess), "TLSv1.3");
}

Test(smtp_dialogue, starttls_not_available)
{
	static const struct step steps[] = {
		{ "EHLO c\r\n", EHLO_PLAIN, 0 },
		{ "STARTTLS\r\n", "454 4.7.0 TLS not available\r\n", 0 },
		{ "NOOP\r\n", OK, 0 },
	};

	run(&(struct dialogue){ "no tls", MX, false, steps, N(steps), false });
	cr_assert_null(smtp_tls_version(sess));
}

Test(smtp_dialogue, timeout_and_shutdown)
{
	static const struct step timeout[] = {
		{ "EHLO c\r\n", EHLO_PLAIN, 0 },
		{ "@timeout", "421 4.4.2 mx.example.test Error: timeout exceeded\r\n", 0 },
	};
	static const struct step stop[] = {
		{ "AUTH LOGIN\r\n", BAD_SEQ, 0 },
		{ "@shutdown", "421 4.3.2 mx.example.test Service shutting down, "
			       "closing channel\r\n", 0 },
		{ "NOOP\r\n", "", 0 },
	};
	static const struct step stop_busy[] = {
		{ "EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nNOOP\r\n", EHLO_BASE
		  "250-AUTH PLAIN LOGIN\r\n250 CHUNKING\r\n", 0 },
		/* a login in flight ends first, then the goodbye */
		{ "@shutdown", "", 0 },
		{ "@login-ok", "235 2.7.0 Authentication successful\r\n"
			       "421 4.3.2 mx.example.test Service shutting "
			       "down, closing channel\r\n", 0 },
	};

	run(&(struct dialogue){ "timeout", MX, false, timeout, N(timeout), true });
	cr_assert_str_eq(fk.reason, "timeout");
	run(&(struct dialogue){ "shutdown", MX, false, stop, N(stop), true });
	run(&(struct dialogue){ "shutdown busy", SUBMISSION, false, stop_busy,
				N(stop_busy), true });
}

Test(smtp_dialogue, bad_command_limit)
{
	static const struct step steps[] = {
		{ "FOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\n"
		  "FOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\nFOO\r\n"
		  "FOO\r\n", UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN
		  UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN
		  UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN, 0 },
		{ "NOOP\r\n", OK, 0 },
		/* the 20th: RFC 5321 §7.8 */
		{ "DATA\r\nNOOP\r\n", "421 4.7.0 mx.example.test Too many errors, "
				      "closing connection\r\n", 0 },
	};

	run(&(struct dialogue){ "limit", MX, false, steps, N(steps), true });
}

/* A whole transaction, through the real pipeline (inline, into the
 * Maildir under the test's data_dir). MAIL waits for the environment's
 * refresh of the user db and aliases; a bad MAIL is answered at once. */
#define SENDER_OK "250 2.1.0 Sender OK\r\n"
#define RCPT_OK "250 2.1.5 Recipient OK\r\n"
#define NO_USER "550 5.1.1 Recipient address rejected: no such user\r\n"
#define GO_AHEAD "354 End data with <CR><LF>.<CR><LF>\r\n"
#define QUEUED "250 2.0.0 Ok: queued as T1.1\r\n"

/* The messages in alice's new/, each holding want (heap-free check). */
static void expect_stored(int n, const char *want)
{
	char *p = NULL;
	struct dirent *de;
	DIR *d;
	int found = 0;

	cr_assert_geq(asprintf(&p, "%s/mail/example.test/alice/new", dir), 0);
	d = opendir(p);
	cr_assert_not_null(d, "%s", p);
	while ((de = readdir(d)) != NULL) {
		char *path, *text;

		if (de->d_name[0] == '.')
			continue;
		path = tu_path(p, de->d_name);
		text = tu_read_file(path, NULL);
		cr_assert_not_null(text);
		cr_expect(strstr(text, want) != NULL, "%s: %s", path, text);
		cr_expect(strncmp(text, "Return-Path: <bob@example.org>\r\n",
				  32) == 0, "%s", text);
		free(text);
		free(path);
		found++;
	}
	closedir(d);
	free(p);
	cr_assert_eq(found, n);
}

Test(smtp_dialogue, transaction)
{
	static const struct step steps[] = {
		{ "EHLO c\r\n", EHLO_PLAIN, 0 },
		{ "MAIL FROM:bob\r\n", "501 5.5.4 Syntax error in address: "
		  "address must be enclosed in <>\r\n", 0 },
		{ "MAIL FROM:<bob@example.org>\r\n", "", 0 },
		{ "@refresh", SENDER_OK, 0 },
		{ "RCPT TO:<alice@example.test>\r\n", RCPT_OK, 0 },
		{ "RCPT TO:<nobody@example.test>\r\n", NO_USER, 0 },
		{ "DATA\r\n", GO_AHEAD, 0 },
		{ "Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n", QUEUED, 0 },
		{ "QUIT\r\n", BYE, 0 },
	};

	run(&(struct dialogue){ "transaction", MX, false, steps, N(steps),
				true });
	cr_assert_eq(fk.refreshes, 1);
	expect_stored(4, "\r\nSubject: hi\r\n\r\n.dot\r\nbody\r\n");
}

/* RFC 3461: DSN offered (EHLO_PLAIN), its parameters taken on MAIL and
 * RCPT, each syntax error a 501 5.5.4 that leaves the transaction as it
 * was (S-DSN-08). */
Test(smtp_dialogue, dsn_parameters)
{
	static const struct step steps[] = {
		{ "EHLO c\r\n", EHLO_PLAIN, 0 },
		{ "MAIL FROM:<bob@example.org> RET=BODY\r\n",
		  "501 5.5.4 RET must be FULL or HDRS\r\n", 0 },
		{ "MAIL FROM:<bob@example.org> RET=HDRS RET=HDRS\r\n",
		  "501 5.5.4 RET given twice\r\n", 0 },
		{ "MAIL FROM:<bob@example.org> ENVID=a+0D+0AX\r\n",
		  "501 5.5.4 Syntax error in ENVID parameter\r\n", 0 },
		{ "MAIL FROM:<bob@example.org> RET=HDRS ENVID=QQ+2B1\r\n", "", 0 },
		{ "@refresh", SENDER_OK, 0 },
		{ "RCPT TO:<alice@example.test> NOTIFY=NEVER,SUCCESS\r\n",
		  "501 5.5.4 NOTIFY=NEVER cannot be combined\r\n", 0 },
		{ "RCPT TO:<alice@example.test> NOTIFY=FAILURE NOTIFY=DELAY\r\n",
		  "501 5.5.4 NOTIFY given twice\r\n", 0 },
		{ "RCPT TO:<alice@example.test> ORCPT=rfc(822);a@b\r\n",
		  "501 5.5.4 Syntax error in ORCPT address type\r\n", 0 },
		{ "RCPT TO:<alice@example.test> ORCPT=rfc822;a+2\r\n",
		  "501 5.5.4 Syntax error in ORCPT address\r\n", 0 },
		{ "RCPT TO:<alice@example.test> NOTIFY=FAILURE,DELAY "
		  "ORCPT=rfc822;alice@example.test\r\n", RCPT_OK, 0 },
		{ "RCPT TO:<nobody@example.test> NOTIFY=NEVER\r\n", NO_USER, 0 },
		{ "DATA\r\n", GO_AHEAD, 0 },
		{ "Subject: hi\r\n\r\nbody\r\n.\r\n", QUEUED, 0 },
		{ "QUIT\r\n", BYE, 0 },
	};

	run(&(struct dialogue){ "dsn", MX, false, steps, N(steps), true });
	expect_stored(4, "\r\nSubject: hi\r\n\r\nbody\r\n");
}

Test(smtp_dialogue, transaction_pipelined_bdat)
{
	/* RFC 2920: what arrives during the refresh waits in order; RFC
	 * 3030: BDAT's octets as they are. */
	static const struct step steps[] = {
		{ "EHLO c\r\nMAIL FROM:<bob@example.org>\r\n"
		  "RCPT TO:<alice@example.test>\r\nBDAT 14 LAST\r\n"
		  "Subject: x\r\n\r\n", EHLO_PLAIN, 0 },
		{ "@refresh", SENDER_OK RCPT_OK QUEUED, 0 },
		{ "RSET\r\n", OK, 0 },
	};

	run(&(struct dialogue){ "bdat", MX, false, steps, N(steps), false });
	expect_stored(4, "\r\nSubject: x\r\n\r\n");
}
