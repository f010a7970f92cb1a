/* tests/test_pop3_session.c: the POP3 state machine over a fake
 * environment (recorded output, scripted login and UPDATE completions)
 * and a real maildrop in a scratch directory: every command in every
 * state, CAPA per connection kind, USER/PASS and AUTH PLAIN, STLS state
 * reset, lock-step DELE/QUIT, bad-command limit, bad lines, back-pressure
 * of RETR, shutdown. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d/session.h"
#include "store/maildir.h"
#include "store/maildrop.h"
#include "tests/helpers/testutil.h"

struct fake {
	char *out;
	size_t len, cap;
	size_t sent;      /* bytes the "socket" has taken */
	size_t taken;     /* bytes the test has looked at */
	size_t max_pending;
	bool paused;
	int drains;
	int tls;
	int closed;
	int logins;
	char user[300];
	char pw[300];
	size_t pwlen;
	int updates;
	struct mdrop *update_drop;
};

static int f_write(void *env, const void *data, size_t len)
{
	struct fake *f = env;

	if (f->len + len + 1 > f->cap) {
		f->cap = (f->len + len + 1) * 2;
		f->out = realloc(f->out, f->cap);
		cr_assert_not_null(f->out);
	}
	memcpy(f->out + f->len, data, len);
	f->len += len;
	f->out[f->len] = '\0';
	if (f->len - f->sent > f->max_pending)
		f->max_pending = f->len - f->sent;
	return 0;
}

static size_t f_pending(void *env)
{
	struct fake *f = env;

	return f->len - f->sent;
}

static void f_drain(void *env)
{
	((struct fake *)env)->drains++;
}

static void f_pause(void *env)
{
	((struct fake *)env)->paused = true;
}

static void f_resume(void *env)
{
	((struct fake *)env)->paused = false;
}

static int f_tls(void *env)
{
	((struct fake *)env)->tls++;
	return 0;
}

static void f_login(void *env, const char *user, const char *pw, size_t len)
{
	struct fake *f = env;

	f->logins++;
	snprintf(f->user, sizeof f->user, "%s", user);
	cr_assert_lt(len, sizeof f->pw);
	memcpy(f->pw, pw, len);
	f->pw[len] = '\0';
	f->pwlen = len;
}

static void f_update(void *env, struct mdrop *drop)
{
	struct fake *f = env;

	f->updates++;
	f->update_drop = drop;
}

static void f_close(void *env)
{
	((struct fake *)env)->closed++;
}

static const struct pop3_ops fake_ops = {
	f_write, f_pending, f_drain, f_pause, f_resume, f_tls, f_login,
	f_update, f_close,
};

static char *dir, *md;
static struct fake fk;
static struct pop3_session *sess;

static void setup(void)
{
	dir = tu_tmpdir();
	md = tu_path(dir, "alice");
	memset(&fk, 0, sizeof fk);
	sess = NULL;
}

static void teardown(void)
{
	pop3_session_free(sess);
	free(fk.out);
	tu_rmrf(dir);
	free(md);
	free(dir);
}

TestSuite(pop3, .init = setup, .fini = teardown);

static void deliver(const char *text)
{
	struct md_target t = { md, 0, 0 };
	struct md_delivery *d;
	char name[256];

	cr_assert_eq(md_delivery_begin(md, "h", &d), MD_OK);
	if (*text != '\0')
		cr_assert_eq(md_delivery_write(d, text, strlen(text)), MD_OK);
	cr_assert_eq(md_delivery_commit(d, &t, 1, NULL, name, sizeof name),
		     MD_OK);
}

static void start(bool tls_active, bool tls_available, bool plain_ok,
		  unsigned bad_limit)
{
	struct pop3_session_cfg cfg = {
		"0123456789abcdef", "127.0.0.1", tls_active, tls_available,
		plain_ok, bad_limit, 0,
	};

	sess = pop3_session_new(&fake_ops, &fk, &cfg);
	cr_assert_not_null(sess);
	pop3_session_greet(sess);
}

/* Output since the last call; the "socket" takes everything. */
static const char *take(void)
{
	static char buf[1 << 16];
	size_t n = fk.len - fk.taken;

	cr_assert_lt(n, sizeof buf, "unexpectedly long output");
	memcpy(buf, fk.out ? fk.out + fk.taken : "", n);
	buf[n] = '\0';
	fk.taken = fk.sent = fk.len;
	return buf;
}

/* Feed one line (given without its CRLF). */
static int line_n(const char *text, size_t len, unsigned flags)
{
	char *copy = malloc(len + 1);
	struct conn_line l;
	int rc;

	cr_assert_not_null(copy);
	memcpy(copy, text, len);
	copy[len] = '\0';
	l.data = copy;
	l.len = len;
	l.flags = flags;
	rc = pop3_session_line(sess, &l);
	free(copy);
	return rc;
}

static int line(const char *text)
{
	return line_n(text, strlen(text), CONN_LINE_CRLF);
}

/* Send a line and check the whole reply. */
static void chat(const char *in, const char *expected)
{
	int rc = line(in);

	cr_expect_eq(rc, PROTO_DONE, "outcome of \"%s\"", in);
	cr_expect_str_eq(take(), expected, "reply to \"%s\"", in);
}

static const char *const msg1 = "Subject: one\r\n\r\nbody 1\r\n.dot\r\n";
static const char *const msg2 = "Subject: two\n\nline a\nline b\nline c\n";

/* Log in as alice over a plaintext-ok connection with two messages. */
static void login(void)
{
	struct mdrop *drop;

	deliver(msg1);
	deliver(msg2);
	start(false, false, true, 0);
	take();
	chat("USER alice", "+OK send PASS\r\n");
	cr_assert_eq(line("PASS pw"), PROTO_ASYNC);
	cr_assert(fk.paused);
	cr_assert_eq(mdrop_open(md, &drop), 1);
	pop3_session_login_done(sess, POP3_LOGIN_OK, drop, "alice");
	cr_assert_not(fk.paused);
	cr_assert_str_eq(take(), "+OK maildrop locked and ready, 2 messages "
			 "(70 octets)\r\n");
}

Test(pop3, greeting_has_no_apop_timestamp)
{
	start(false, true, false, 0);
	cr_assert_str_eq(take(), "+OK kantorpos POP3 server ready\r\n");
}

Test(pop3, authorization_refuses_transaction_commands)
{
	static const char *const cmds[] = {
		"STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 0",
		"UIDL", "LAST", "stat", "List 1",
	};

	start(false, true, true, 0);
	take();
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		chat(cmds[i], "-ERR command not valid in this state\r\n");
	chat("XYZZY", "-ERR unknown command\r\n");
	chat("", "-ERR empty command\r\n");
	chat(" USER x", "-ERR empty command\r\n");
	chat("APOP alice c4c9334bac560ecc979e58001b3e22fb",
	     "-ERR APOP is not supported; use USER/PASS or AUTH PLAIN\r\n");
	chat("CAPA x", "-ERR this command takes no argument\r\n");
	chat("USER", "-ERR argument required\r\n");
	/* Still usable. */
	chat("USER bob", "+OK send PASS\r\n");
}

struct capa_case {
	bool tls_active, tls_available, plain_ok, starttls_done;
	const char *expected;
};

#define CAPA_BASE "+OK capability list follows\r\nTOP\r\nUIDL\r\n" \
	"RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n"

Test(pop3, capa_depends_on_the_connection)
{
	static const struct capa_case cases[] = {
		/* Port 110 without plaintext-ok: no USER/SASL before TLS. */
		{ false, true, false, false, CAPA_BASE "STLS\r\n.\r\n" },
		/* After STLS. */
		{ false, true, false, true,
		  CAPA_BASE "USER\r\nSASL PLAIN\r\n.\r\n" },
		/* Implicit TLS (995). */
		{ true, false, false, false,
		  CAPA_BASE "USER\r\nSASL PLAIN\r\n.\r\n" },
		/* No certificate, plaintext-ok: no STLS. */
		{ false, false, true, false,
		  CAPA_BASE "USER\r\nSASL PLAIN\r\n.\r\n" },
		/* No certificate, no plaintext-ok: nothing to log in with. */
		{ false, false, false, false, CAPA_BASE ".\r\n" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&fk, 0, sizeof fk);
		start(cases[i].tls_active, cases[i].tls_available,
		      cases[i].plain_ok, 0);
		take();
		if (cases[i].starttls_done) {
			chat("STLS", "+OK begin TLS negotiation\r\n");
			cr_assert_eq(fk.tls, 1);
			pop3_session_tls_ready(sess);
		}
		chat("CAPA", cases[i].expected);
		pop3_session_free(sess);
		sess = NULL;
		free(fk.out);
	}
	memset(&fk, 0, sizeof fk);
}

Test(pop3, capa_in_transaction_adds_implementation)
{
	login();
	chat("CAPA", CAPA_BASE "USER\r\nSASL PLAIN\r\nIMPLEMENTATION kantorpos-"
	     PACKAGE_VERSION "\r\n.\r\n");
}

Test(pop3, plaintext_refused_before_tls)
{
	start(false, true, false, 0);
	take();
	chat("USER alice", "-ERR [AUTH] plaintext login needs TLS; use STLS "
	     "first\r\n");
	chat("PASS secret", "-ERR [AUTH] plaintext login needs TLS; use STLS "
	     "first\r\n");
	/* Same reply for any credentials, checked for none. */
	chat("AUTH PLAIN AGFsaWNlAHNlY3JldA==", "-ERR [AUTH] plaintext "
	     "authentication needs TLS; use STLS first\r\n");
	chat("AUTH PLAIN AGFsaWNlAHdyb25n", "-ERR [AUTH] plaintext "
	     "authentication needs TLS; use STLS first\r\n");
	chat("AUTH PLAIN", "-ERR [AUTH] plaintext authentication needs TLS; "
	     "use STLS first\r\n");
	cr_assert_eq(fk.logins, 0);
}

Test(pop3, user_pass_login_with_spaces_in_password)
{
	struct mdrop *drop;

	start(false, false, true, 0);
	take();
	chat("USER alice", "+OK send PASS\r\n");
	cr_assert_eq(line("PASS correct horse battery "), PROTO_ASYNC);
	cr_assert_eq(fk.logins, 1);
	cr_assert_str_eq(fk.user, "alice");
	cr_assert_str_eq(fk.pw, "correct horse battery ");
	cr_assert(fk.paused);
	cr_assert_str_eq(take(), "");
	cr_assert_eq(mdrop_open(md, &drop), 1);
	pop3_session_login_done(sess, POP3_LOGIN_OK, drop, "alice");
	cr_assert_str_eq(take(), "+OK maildrop locked and ready, 0 messages "
			 "(0 octets)\r\n");
	chat("STAT", "+OK 0 0\r\n");
	chat("LIST", "+OK 0 messages (0 octets)\r\n.\r\n");
}

Test(pop3, unknown_name_gets_the_same_user_reply)
{
	start(false, false, true, 0);
	take();
	chat("USER alice@example.test", "+OK send PASS\r\n");
	chat("USER nobody@example.test", "+OK send PASS\r\n");
	/* The second USER replaced the first. */
	cr_assert_eq(line("PASS pw"), PROTO_ASYNC);
	cr_assert_str_eq(fk.user, "nobody@example.test");
}

Test(pop3, pass_without_user)
{
	start(false, false, true, 0);
	take();
	chat("PASS x", "-ERR send USER first\r\n");
	cr_assert_eq(fk.logins, 0);
}

struct fail_case {
	enum pop3_login_result result;
	const char *reply;
};

Test(pop3, failed_logins_table)
{
	static const struct fail_case cases[] = {
		{ POP3_LOGIN_FAIL,
		  "-ERR [AUTH] invalid user name or password\r\n" },
		{ POP3_LOGIN_THROTTLED, "-ERR [SYS/TEMP] too many failed "
		  "logins from your address, try again later\r\n" },
		{ POP3_LOGIN_IN_USE, "-ERR [IN-USE] maildrop is locked by "
		  "another session\r\n" },
		{ POP3_LOGIN_TEMP, "-ERR [SYS/TEMP] cannot open the maildrop "
		  "now, try again later\r\n" },
		{ POP3_LOGIN_PERM,
		  "-ERR [SYS/PERM] the maildrop cannot be opened\r\n" },
	};

	start(false, false, true, 0);
	take();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		chat("USER alice", "+OK send PASS\r\n");
		cr_assert_eq(line("PASS x"), PROTO_ASYNC);
		pop3_session_login_done(sess, cases[i].result, NULL, NULL);
		cr_expect_str_eq(take(), cases[i].reply, "case %zu", i);
		cr_assert_not(fk.paused);
		/* Back in AUTHORIZATION, USER forgotten. */
		chat("PASS x", "-ERR send USER first\r\n");
		chat("STAT", "-ERR command not valid in this state\r\n");
	}
}

struct sasl_case {
	const char *line;    /* the AUTH line, or a continuation after "+ " */
	bool continuation;
	const char *reply;   /* NULL: a login is started */
	const char *user, *pw;
};

Test(pop3, auth_plain_table)
{
	static const struct sasl_case cases[] = {
		/* \0alice\0secret */
		{ "AUTH PLAIN AGFsaWNlAHNlY3JldA==", false, NULL, "alice",
		  "secret" },
		{ "auth plain AGFsaWNlAHNlY3JldA==", false, NULL, "alice",
		  "secret" },
		{ "AGFsaWNlAHNlY3JldA==", true, NULL, "alice", "secret" },
		/* alice\0alice\0secret: authzid = authcid is fine. */
		{ "AUTH PLAIN YWxpY2UAYWxpY2UAc2VjcmV0", false, NULL, "alice",
		  "secret" },
		/* bob\0alice\0secret: acting as another user. */
		{ "AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==", false,
		  "-ERR [AUTH] invalid user name or password\r\n", NULL, NULL },
		{ "AUTH PLAIN =", false,
		  "-ERR [AUTH] invalid user name or password\r\n", NULL, NULL },
		{ "=", true,
		  "-ERR [AUTH] invalid user name or password\r\n", NULL, NULL },
		{ "*", true, "-ERR authentication cancelled\r\n", NULL, NULL },
		{ "AUTH PLAIN =AAA", false, "-ERR invalid base64 data\r\n",
		  NULL, NULL },
		{ "AUTH PLAIN AAA=BBB", false, "-ERR invalid base64 data\r\n",
		  NULL, NULL },
		{ "AUTH PLAIN %%%%", false, "-ERR invalid base64 data\r\n",
		  NULL, NULL },
		{ "AGFsaWNl AHNlY3JldA==", true,
		  "-ERR invalid base64 data\r\n", NULL, NULL },
		/* \0alice\0secret\0x: a fourth field. */
		{ "AUTH PLAIN AGFsaWNlAHNlY3JldAB4", false,
		  "-ERR [AUTH] invalid user name or password\r\n", NULL, NULL },
		/* alice (no NUL at all). */
		{ "AUTH PLAIN YWxpY2U=", false,
		  "-ERR [AUTH] invalid user name or password\r\n", NULL, NULL },
		/* \0\0secret: empty authcid. */
		{ "AUTH PLAIN AABzZWNyZXQ=", false,
		  "-ERR [AUTH] invalid user name or password\r\n", NULL, NULL },
		{ "AUTH FOO", false, "-ERR unsupported SASL mechanism\r\n",
		  NULL, NULL },
		{ "AUTH CRAM-MD5", false, "-ERR unsupported SASL mechanism\r\n",
		  NULL, NULL },
		{ "AUTH PLAIN a b", false,
		  "-ERR syntax: AUTH mechanism [initial-response]\r\n", NULL,
		  NULL },
		{ "AUTH", false, "-ERR argument required\r\n", NULL, NULL },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct sasl_case *c = &cases[i];
		int rc;

		memset(&fk, 0, sizeof fk);
		start(true, false, false, 0);
		take();
		if (c->continuation) {
			chat("AUTH PLAIN", "+ \r\n");
			cr_assert(pop3_session_secret_next(sess));
		}
		rc = line(c->line);
		cr_assert_not(pop3_session_secret_next(sess));
		if (c->reply == NULL) {
			cr_expect_eq(rc, PROTO_ASYNC, "case %zu", i);
			cr_expect_eq(fk.logins, 1, "case %zu", i);
			cr_expect_str_eq(fk.user, c->user, "case %zu", i);
			cr_expect_str_eq(fk.pw, c->pw, "case %zu", i);
		} else {
			cr_expect_eq(rc, PROTO_DONE, "case %zu", i);
			cr_expect_eq(fk.logins, 0, "case %zu", i);
			cr_expect_str_eq(take(), c->reply, "case %zu", i);
			/* The session goes on in AUTHORIZATION. */
			chat("STAT", "-ERR command not valid in this state\r\n");
		}
		pop3_session_free(sess);
		sess = NULL;
		free(fk.out);
	}
	memset(&fk, 0, sizeof fk);
}

Test(pop3, sasl_response_of_255_octet_fields)
{
	/* authzid, authcid and password of 255 octets: 767 bytes decoded,
	 * 1024 in base64. */
	char raw[767], b64[1100];
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	memset(raw, 'a', sizeof raw);
	raw[255] = '\0';
	raw[511] = '\0';
	memset(raw + 512, 'p', 255);
	for (size_t i = 0; i < sizeof raw; i += 3) {
		unsigned v = (unsigned char)raw[i] << 16;

		v |= i + 1 < sizeof raw ? (unsigned char)raw[i + 1] << 8 : 0;
		v |= i + 2 < sizeof raw ? (unsigned char)raw[i + 2] : 0;
		b64[o++] = tbl[(v >> 18) & 63];
		b64[o++] = tbl[(v >> 12) & 63];
		b64[o++] = i + 1 < sizeof raw ? tbl[(v >> 6) & 63] : '=';
		b64[o++] = i + 2 < sizeof raw ? tbl[v & 63] : '=';
	}
	b64[o] = '\0';
	start(true, false, false, 0);
	take();
	chat("AUTH PLAIN", "+ \r\n");
	cr_assert_eq(line(b64), PROTO_ASYNC);
	cr_assert_eq(strlen(fk.user), 255);
	cr_assert_eq(fk.pwlen, 255);
}

Test(pop3, stls_forgets_user_and_refuses_twice)
{
	start(false, true, false, 0);
	take();
	chat("STLS", "+OK begin TLS negotiation\r\n");
	cr_assert_eq(fk.tls, 1);
	pop3_session_tls_ready(sess);
	chat("STLS", "-ERR TLS is already active\r\n");
	chat("USER alice", "+OK send PASS\r\n");
	cr_assert_eq(line("PASS x"), PROTO_ASYNC);
	cr_assert_eq(fk.logins, 1);
}

Test(pop3, user_before_stls_is_forgotten)
{
	start(false, true, true, 0);
	take();
	chat("USER alice", "+OK send PASS\r\n");
	chat("STLS", "+OK begin TLS negotiation\r\n");
	pop3_session_tls_ready(sess);
	chat("PASS pw", "-ERR send USER first\r\n");
	cr_assert_eq(fk.logins, 0);
}

Test(pop3, stls_not_offered)
{
	start(true, false, false, 0);
	take();
	chat("STLS", "-ERR TLS is already active\r\n");
	pop3_session_free(sess);
	free(fk.out);
	memset(&fk, 0, sizeof fk);
	start(false, false, true, 0);
	take();
	chat("STLS", "-ERR STLS is not available here\r\n");
	cr_assert_eq(fk.tls, 0);
}

Test(pop3, transaction_commands)
{
	login();
	chat("STAT", "+OK 2 70\r\n");
	chat("stat", "+OK 2 70\r\n");
	chat("LIST", "+OK 2 messages (70 octets)\r\n1 30\r\n2 40\r\n.\r\n");
	chat("LIST 2", "+OK 2 40\r\n");
	chat("NOOP", "+OK\r\n");
	chat("LAST", "-ERR LAST is obsolete; use UIDL\r\n");
	chat("RETR 1", "+OK 30 octets\r\nSubject: one\r\n\r\nbody 1\r\n"
	     "..dot\r\n.\r\n");
	chat("RETR 2", "+OK 40 octets\r\nSubject: two\r\n\r\nline a\r\n"
	     "line b\r\nline c\r\n.\r\n");
	chat("TOP 2 0", "+OK top of message follows\r\nSubject: two\r\n\r\n"
	     ".\r\n");
	chat("TOP 2 2", "+OK top of message follows\r\nSubject: two\r\n\r\n"
	     "line a\r\nline b\r\n.\r\n");
	chat("TOP 2 99999999", "+OK top of message follows\r\nSubject: two"
	     "\r\n\r\nline a\r\nline b\r\nline c\r\n.\r\n");
	chat("TOP 2 99999999999999999999999", "+OK top of message follows\r\n"
	     "Subject: two\r\n\r\nline a\r\nline b\r\nline c\r\n.\r\n");
}

Test(pop3, uidl_format)
{
	const char *out;
	char uid1[80], uid2[80], expect[300];

	login();
	cr_assert_eq(line("UIDL"), PROTO_DONE);
	out = take();
	cr_assert_eq(sscanf(out, "+OK unique-id listing follows\r\n1 %70s\r\n"
			    "2 %70s\r\n", uid1, uid2), 2, "%s", out);
	snprintf(expect, sizeof expect, "+OK unique-id listing follows\r\n"
		 "1 %s\r\n2 %s\r\n.\r\n", uid1, uid2);
	cr_assert_str_eq(out, expect);
	cr_assert_str_neq(uid1, uid2);
	for (const char *p = uid1; *p; p++)
		cr_assert(*p >= 0x21 && *p <= 0x7e);
	snprintf(expect, sizeof expect, "+OK 2 %s\r\n", uid2);
	chat("UIDL 2", expect);
}

Test(pop3, bad_arguments_table)
{
	static const char *const no_such[] = {
		"RETR 0", "RETR abc", "RETR 3", "RETR 99999999999999999999",
		"RETR -1", "LIST 3", "LIST 0", "UIDL 9", "DELE 3", "TOP 9 0",
		"TOP x 0",
	};
	static const char *const syntax[] = {
		"TOP 1", "TOP 1 -1", "TOP 1 x", "TOP 1 1 1",
	};

	login();
	for (size_t i = 0; i < sizeof no_such / sizeof no_such[0]; i++)
		chat(no_such[i], "-ERR no such message\r\n");
	for (size_t i = 0; i < sizeof syntax / sizeof syntax[0]; i++)
		chat(syntax[i], "-ERR syntax: TOP message lines\r\n");
	chat("RETR 1 2", "-ERR syntax: a message number is required\r\n");
	chat("LIST 1 2", "-ERR syntax: a message number is required\r\n");
	chat("RETR", "-ERR argument required\r\n");
	chat("STAT", "+OK 2 70\r\n");
}

Test(pop3, wrong_state_in_transaction)
{
	static const char *const cmds[] = {
		"USER x", "PASS x", "APOP x y", "AUTH PLAIN", "STLS",
	};

	login();
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		chat(cmds[i], "-ERR command not valid in this state\r\n");
	chat("STAT", "+OK 2 70\r\n");
	cr_assert_eq(fk.logins, 1);
}

Test(pop3, dele_rset_and_hidden_messages)
{
	static const char *const gone[] = {
		"RETR 1", "LIST 1", "TOP 1 0", "UIDL 1", "DELE 1",
	};

	login();
	chat("DELE 1", "+OK message 1 deleted\r\n");
	for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
		chat(gone[i], "-ERR message 1 already deleted\r\n");
	chat("STAT", "+OK 1 40\r\n");
	chat("LIST", "+OK 1 messages (40 octets)\r\n2 40\r\n.\r\n");
	chat("RSET", "+OK maildrop has 2 messages (70 octets)\r\n");
	chat("LIST 1", "+OK 1 30\r\n");
}

static int count_messages(void)
{
	char *n = tu_path(md, "new"), *c = tu_path(md, "cur");
	int total = tu_count_dir(n) + tu_count_dir(c);

	free(n);
	free(c);
	return total;
}

Test(pop3, quit_commits_exactly_the_marked_messages)
{
	size_t removed;
	int rc;

	login();
	chat("DELE 2", "+OK message 2 deleted\r\n");
	cr_assert_eq(line("QUIT"), PROTO_ASYNC);
	cr_assert(fk.paused);
	cr_assert_eq(fk.updates, 1);
	cr_assert_eq(count_messages(), 2);
	rc = mdrop_commit(fk.update_drop, &removed);
	pop3_session_update_done(sess, rc, removed);
	cr_assert_str_eq(take(), "+OK kantorpos POP3 server signing off (1 "
			 "messages deleted)\r\n");
	cr_assert_eq(fk.closed, 1);
	cr_assert_eq(count_messages(), 1);
	/* The lock is gone. */
	{
		struct mdrop *m;

		cr_assert_eq(mdrop_open(md, &m), 1);
		cr_assert_eq(mdrop_count(m), 1);
		cr_assert_str_eq(mdrop_uidl(m, 0), mdrop_uidl(m, 0));
		mdrop_release(m);
	}
}

Test(pop3, update_failure_is_reported)
{
	login();
	chat("DELE 1", "+OK message 1 deleted\r\n");
	cr_assert_eq(line("QUIT"), PROTO_ASYNC);
	mdrop_release(fk.update_drop);
	pop3_session_update_done(sess, -1, 0);
	cr_assert_str_eq(take(), "-ERR [SYS/TEMP] some deleted messages not "
			 "removed (0 removed)\r\n");
	cr_assert_eq(fk.closed, 1);
}

Test(pop3, quit_without_dele_and_in_authorization)
{
	login();
	cr_assert_eq(line("QUIT"), PROTO_CLOSE);
	cr_assert_str_eq(take(), "+OK kantorpos POP3 server signing off (0 "
			 "messages deleted)\r\n");
	cr_assert_eq(fk.updates, 0);
	pop3_session_free(sess);
	free(fk.out);
	memset(&fk, 0, sizeof fk);
	start(false, false, true, 0);
	take();
	cr_assert_eq(line("QUIT"), PROTO_CLOSE);
	cr_assert_str_eq(take(), "+OK kantorpos POP3 server signing off\r\n");
}

Test(pop3, session_end_without_quit_changes_nothing)
{
	struct mdrop *m;

	login();
	chat("DELE 1", "+OK message 1 deleted\r\n");
	chat("DELE 2", "+OK message 2 deleted\r\n");
	pop3_session_free(sess);
	sess = NULL;
	cr_assert_eq(count_messages(), 2);
	cr_assert_eq(mdrop_open(md, &m), 1);
	mdrop_release(m);
}

Test(pop3, bad_command_limit_closes)
{
	start(false, false, true, 3);
	take();
	chat("FOO", "-ERR unknown command\r\n");
	chat("STAT", "-ERR command not valid in this state\r\n");
	/* Known commands with their own -ERR do not count. */
	chat("PASS x", "-ERR send USER first\r\n");
	cr_assert_eq(line("BAR"), PROTO_CLOSE);
	cr_assert_str_eq(take(), "-ERR unknown command; too many bad "
			 "commands, closing\r\n");
}

Test(pop3, bad_lines_get_err_and_the_session_goes_on)
{
	start(false, false, true, 0);
	take();
	cr_assert_eq(line_n("NOOP AAAA", 9, CONN_LINE_OVERLONG), PROTO_DONE);
	cr_assert_str_eq(take(), "-ERR line too long\r\n");
	cr_assert_eq(line_n("USER alice\0admin", 16, CONN_LINE_CRLF),
		     PROTO_DONE);
	cr_assert_str_eq(take(), "-ERR NUL byte in line\r\n");
	cr_assert_eq(line_n("USER a\rb", 8, CONN_LINE_CRLF), PROTO_DONE);
	cr_assert_str_neq(take(), "+OK send PASS\r\n");
	cr_assert_eq(line_n("USER a\x01", 7, CONN_LINE_CRLF), PROTO_DONE);
	cr_assert_str_neq(take(), "+OK send PASS\r\n");
	/* An overlong SASL response cancels the exchange. */
	chat("USER alice", "+OK send PASS\r\n");
}

Test(pop3, overlong_sasl_response_cancels_auth)
{
	start(true, false, false, 0);
	take();
	chat("AUTH PLAIN", "+ \r\n");
	cr_assert_eq(line_n("AAAA", 4, CONN_LINE_OVERLONG), PROTO_DONE);
	cr_assert_str_eq(take(), "-ERR line too long\r\n");
	cr_assert_not(pop3_session_secret_next(sess));
	chat("AGFsaWNlAHNlY3JldA==", "-ERR unknown command\r\n");
}

/* RETR of a large message with a small high-water mark: the session
 * stops at the mark, waits for drains, and resumes input at the end. */
Test(pop3, retr_back_pressure)
{
	size_t lines = 20000, len, body_start;
	char *text = malloc(lines * 10 + 32);
	struct mdrop *drop;
	struct pop3_session_cfg cfg = {
		"id", "127.0.0.1", true, false, false, 0, 4096,
	};
	int rc, drains = 0;

	cr_assert_not_null(text);
	len = (size_t)sprintf(text, "Subject: big\n\n");
	for (size_t i = 0; i < lines; i++)
		len += (size_t)sprintf(text + len, i % 3 ? "line %04zu\n"
				       : ".ine %04zu\n", i % 10000);
	deliver(text);
	sess = pop3_session_new(&fake_ops, &fk, &cfg);
	cr_assert_eq(mdrop_open(md, &drop), 1);
	pop3_session_login_done(sess, POP3_LOGIN_OK, drop, "alice");
	take();
	rc = line("RETR 1");
	cr_assert_eq(rc, PROTO_ASYNC);
	cr_assert(fk.paused);
	/* The first step may leave up to one stuffed chunk above the mark. */
	cr_assert_leq(fk.max_pending, 4096 + 2 * POP3_CHUNK);
	while (fk.paused) {
		cr_assert_gt(fk.drains, drains, "no drain was requested");
		drains = fk.drains;
		fk.sent = fk.len; /* the socket takes everything */
		pop3_session_drain(sess);
		cr_assert_lt(drains, 100000);
	}
	cr_assert_gt(drains, 2);
	cr_assert_leq(fk.max_pending, 4096 + 2 * POP3_CHUNK);
	/* Check the body: status line, CRLF everywhere, dots doubled. */
	cr_assert_eq(strncmp(fk.out + fk.taken, "+OK ", 4), 0);
	body_start = (size_t)(strstr(fk.out + fk.taken, "\r\n") - fk.out) + 2;
	{
		const char *p = fk.out + body_start;
		size_t n = 0;

		cr_assert_eq(strncmp(p, "Subject: big\r\n\r\n", 16), 0);
		p += 16;
		for (size_t i = 0; i < lines; i++) {
			char want[16];

			snprintf(want, sizeof want, i % 3 ? "line %04zu\r\n"
				 : "..ine %04zu\r\n", i % 10000);
			cr_assert_eq(strncmp(p, want, strlen(want)), 0,
				     "line %zu", i);
			p += strlen(want);
			n++;
		}
		cr_assert_str_eq(p, ".\r\n");
	}
	fk.taken = fk.sent = fk.len;
	chat("NOOP", "+OK\r\n");
	free(text);
}

Test(pop3, shutdown_replies_and_closes_without_update)
{
	struct mdrop *drop;

	login();
	chat("DELE 1", "+OK message 1 deleted\r\n");
	pop3_session_shutdown(sess);
	cr_assert_str_eq(take(), "-ERR [SYS/TEMP] server shutting down, "
			 "nothing was changed\r\n");
	cr_assert_eq(fk.closed, 1);
	cr_assert_eq(fk.updates, 0);
	pop3_session_free(sess);
	sess = NULL;
	cr_assert_eq(count_messages(), 2);

	/* During a login: the answer waits for it, the maildrop is not
	 * taken. */
	free(fk.out);
	memset(&fk, 0, sizeof fk);
	start(false, false, true, 0);
	take();
	chat("USER alice", "+OK send PASS\r\n");
	cr_assert_eq(line("PASS pw"), PROTO_ASYNC);
	pop3_session_shutdown(sess);
	cr_assert_str_eq(take(), "");
	cr_assert_eq(fk.closed, 0);
	cr_assert_eq(mdrop_open(md, &drop), 1);
	pop3_session_login_done(sess, POP3_LOGIN_OK, drop, "alice");
	cr_assert_str_eq(take(), "-ERR [SYS/TEMP] server shutting down, "
			 "nothing was changed\r\n");
	cr_assert_eq(fk.closed, 1);
	cr_assert_eq(mdrop_open(md, &drop), 1);
	mdrop_release(drop);
}
