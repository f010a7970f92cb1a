/* tests/test_pop3_session.c: the POP3 state machine in AUTHORIZATION, over
 * the fake environment of tests/helpers/pop3fake.h: greeting, commands in
 * the wrong state, CAPA per connection kind, USER/PASS and AUTH PLAIN,
 * login results and their response codes, STLS state reset, bad-command
 * limit and bad lines. TRANSACTION and UPDATE: test_pop3_transaction.c. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d/session.h"
#include "store/maildrop.h"
#include "tests/helpers/pop3fake.h"

TestSuite(pop3, .init = pf_setup, .fini = pf_teardown);

Test(pop3, greeting_has_no_apop_timestamp)
{
	pf_start(false, true, false, 0);
	cr_assert_str_eq(pf_take(), "+OK kantorpos POP3 server ready\r\n");
}

Test(pop3, authorization_refuses_transaction_commands)
{
	static const char *const cmds[] = {
		"STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 0",
		"UIDL", "LAST", "stat", "List 1",
	};

	pf_start(false, true, true, 0);
	pf_take();
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		pf_chat(cmds[i], "-ERR command not valid in this state\r\n");
	pf_chat("XYZZY", "-ERR unknown command\r\n");
	/* RFC 6856 UTF8 is not offered (kantorpos-pop3d(8)). */
	pf_chat("UTF8", "-ERR unknown command\r\n");
	pf_chat("", "-ERR empty command\r\n");
	pf_chat(" USER x", "-ERR empty command\r\n");
	pf_chat("APOP alice c4c9334bac560ecc979e58001b3e22fb",
	     "-ERR APOP is not supported; use USER/PASS or AUTH PLAIN\r\n");
	pf_chat("CAPA x", "-ERR this command takes no argument\r\n");
	pf_chat("USER", "-ERR argument required\r\n");
	/* Still usable. */
	pf_chat("USER bob", "+OK send PASS\r\n");
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
		memset(&pf.fk, 0, sizeof pf.fk);
		pf_start(cases[i].tls_active, cases[i].tls_available,
		      cases[i].plain_ok, 0);
		pf_take();
		if (cases[i].starttls_done) {
			pf_chat("STLS", "+OK begin TLS negotiation\r\n");
			cr_assert_eq(pf.fk.tls, 1);
			pop3_session_tls_ready(pf.sess);
		}
		pf_chat("CAPA", cases[i].expected);
		pop3_session_free(pf.sess);
		pf.sess = NULL;
		free(pf.fk.out);
	}
	memset(&pf.fk, 0, sizeof pf.fk);
}

Test(pop3, capa_in_transaction_adds_implementation)
{
	pf_login();
	pf_chat("CAPA", CAPA_BASE "USER\r\nSASL PLAIN\r\nIMPLEMENTATION kantorpos-"
	     PACKAGE_VERSION "\r\n.\r\n");
}

Test(pop3, plaintext_refused_before_tls)
{
	pf_start(false, true, false, 0);
	pf_take();
	pf_chat("USER alice", "-ERR [AUTH] plaintext login needs TLS; use STLS "
	     "first\r\n");
	pf_chat("PASS secret", "-ERR [AUTH] plaintext login needs TLS; use STLS "
	     "first\r\n");
	/* Same reply for any credentials, checked for none. */
	pf_chat("AUTH PLAIN AGFsaWNlAHNlY3JldA==", "-ERR [AUTH] plaintext "
	     "authentication needs TLS; use STLS first\r\n");
	pf_chat("AUTH PLAIN AGFsaWNlAHdyb25n", "-ERR [AUTH] plaintext "
	     "authentication needs TLS; use STLS first\r\n");
	pf_chat("AUTH PLAIN", "-ERR [AUTH] plaintext authentication needs TLS; "
	     "use STLS first\r\n");
	cr_assert_eq(pf.fk.logins, 0);
}

Test(pop3, user_pass_login_with_spaces_in_password)
{
	struct mdrop *drop;

	pf_start(false, false, true, 0);
	pf_take();
	pf_chat("USER alice", "+OK send PASS\r\n");
	cr_assert_eq(pf_line("PASS correct horse battery "), PROTO_ASYNC);
	cr_assert_eq(pf.fk.logins, 1);
	cr_assert_str_eq(pf.fk.mech, "USER");
	cr_assert_str_eq(pf.fk.user, "alice");
	cr_assert_str_eq(pf.fk.pw, "correct horse battery ");
	cr_assert(pf.fk.paused);
	cr_assert_str_eq(pf_take(), "");
	cr_assert_eq(mdrop_open(pf.md, &drop), 1);
	pop3_session_login_done(pf.sess, POP3_LOGIN_OK, drop, "alice");
	cr_assert_str_eq(pf_take(), "+OK maildrop locked and ready, 0 messages "
			 "(0 octets)\r\n");
	pf_chat("STAT", "+OK 0 0\r\n");
	pf_chat("LIST", "+OK 0 messages (0 octets)\r\n.\r\n");
}

Test(pop3, unknown_name_gets_the_same_user_reply)
{
	pf_start(false, false, true, 0);
	pf_take();
	pf_chat("USER alice@example.test", "+OK send PASS\r\n");
	pf_chat("USER nobody@example.test", "+OK send PASS\r\n");
	/* The second USER replaced the first. */
	cr_assert_eq(pf_line("PASS pw"), PROTO_ASYNC);
	cr_assert_str_eq(pf.fk.user, "nobody@example.test");
}

Test(pop3, pass_without_user)
{
	pf_start(false, false, true, 0);
	pf_take();
	pf_chat("PASS x", "-ERR send USER first\r\n");
	cr_assert_eq(pf.fk.logins, 0);
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

	pf_start(false, false, true, 0);
	pf_take();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		pf_chat("USER alice", "+OK send PASS\r\n");
		cr_assert_eq(pf_line("PASS x"), PROTO_ASYNC);
		pop3_session_login_done(pf.sess, cases[i].result, NULL, NULL);
		cr_expect_str_eq(pf_take(), cases[i].reply, "case %zu", i);
		cr_assert_not(pf.fk.paused);
		/* Back in AUTHORIZATION, USER forgotten. */
		pf_chat("PASS x", "-ERR send USER first\r\n");
		pf_chat("STAT", "-ERR command not valid in this state\r\n");
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
		/* Not offered (PLAIN is the only mechanism). */
		{ "AUTH LOGIN", false, "-ERR unsupported SASL mechanism\r\n",
		  NULL, NULL },
		{ "AUTH PLAIN a b", false,
		  "-ERR syntax: AUTH mechanism [initial-response]\r\n", NULL,
		  NULL },
		{ "AUTH", false, "-ERR argument required\r\n", NULL, NULL },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct sasl_case *c = &cases[i];
		int rc;

		memset(&pf.fk, 0, sizeof pf.fk);
		pf_start(true, false, false, 0);
		pf_take();
		if (c->continuation) {
			pf_chat("AUTH PLAIN", "+ \r\n");
			cr_assert(pop3_session_secret_next(pf.sess));
		}
		rc = pf_line(c->line);
		cr_assert_not(pop3_session_secret_next(pf.sess));
		if (c->reply == NULL) {
			cr_expect_eq(rc, PROTO_ASYNC, "case %zu", i);
			cr_expect_eq(pf.fk.logins, 1, "case %zu", i);
			cr_expect_str_eq(pf.fk.user, c->user, "case %zu", i);
			cr_expect_str_eq(pf.fk.mech, "PLAIN", "case %zu", i);
			cr_expect_str_eq(pf.fk.pw, c->pw, "case %zu", i);
		} else {
			cr_expect_eq(rc, PROTO_DONE, "case %zu", i);
			cr_expect_eq(pf.fk.logins, 0, "case %zu", i);
			cr_expect_str_eq(pf_take(), c->reply, "case %zu", i);
			/* The session goes on in AUTHORIZATION. */
			pf_chat("STAT", "-ERR command not valid in this state\r\n");
		}
		pop3_session_free(pf.sess);
		pf.sess = NULL;
		free(pf.fk.out);
	}
	memset(&pf.fk, 0, sizeof pf.fk);
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
	pf_start(true, false, false, 0);
	pf_take();
	pf_chat("AUTH PLAIN", "+ \r\n");
	cr_assert_eq(pf_line(b64), PROTO_ASYNC);
	cr_assert_eq(strlen(pf.fk.user), 255);
	cr_assert_eq(pf.fk.pwlen, 255);
}

Test(pop3, stls_forgets_user_and_refuses_twice)
{
	pf_start(false, true, false, 0);
	pf_take();
	pf_chat("STLS", "+OK begin TLS negotiation\r\n");
	cr_assert_eq(pf.fk.tls, 1);
	pop3_session_tls_ready(pf.sess);
	pf_chat("STLS", "-ERR TLS is already active\r\n");
	pf_chat("USER alice", "+OK send PASS\r\n");
	cr_assert_eq(pf_line("PASS x"), PROTO_ASYNC);
	cr_assert_eq(pf.fk.logins, 1);
}

Test(pop3, user_before_stls_is_forgotten)
{
	pf_start(false, true, true, 0);
	pf_take();
	pf_chat("USER alice", "+OK send PASS\r\n");
	pf_chat("STLS", "+OK begin TLS negotiation\r\n");
	pop3_session_tls_ready(pf.sess);
	pf_chat("PASS pw", "-ERR send USER first\r\n");
	cr_assert_eq(pf.fk.logins, 0);
}

Test(pop3, stls_not_offered)
{
	pf_start(true, false, false, 0);
	pf_take();
	pf_chat("STLS", "-ERR TLS is already active\r\n");
	pop3_session_free(pf.sess);
	free(pf.fk.out);
	memset(&pf.fk, 0, sizeof pf.fk);
	pf_start(false, false, true, 0);
	pf_take();
	pf_chat("STLS", "-ERR STLS is not available here\r\n");
	cr_assert_eq(pf.fk.tls, 0);
}

Test(pop3, bad_command_limit_closes)
{
	pf_start(false, false, true, 3);
	pf_take();
	pf_chat("FOO", "-ERR unknown command\r\n");
	pf_chat("STAT", "-ERR command not valid in this state\r\n");
	/* Known commands with their own -ERR do not count. */
	pf_chat("PASS x", "-ERR send USER first\r\n");
	cr_assert_eq(pf_line("BAR"), PROTO_CLOSE);
	cr_assert_str_eq(pf_take(), "-ERR unknown command; too many bad "
			 "commands, closing\r\n");
}

Test(pop3, bad_lines_get_err_and_the_session_goes_on)
{
	pf_start(false, false, true, 0);
	pf_take();
	cr_assert_eq(pf_line_n("NOOP AAAA", 9, CONN_LINE_OVERLONG), PROTO_DONE);
	cr_assert_str_eq(pf_take(), "-ERR line too long\r\n");
	cr_assert_eq(pf_line_n("USER alice\0admin", 16, CONN_LINE_CRLF),
		     PROTO_DONE);
	cr_assert_str_eq(pf_take(), "-ERR NUL byte in line\r\n");
	cr_assert_eq(pf_line_n("USER a\rb", 8, CONN_LINE_CRLF), PROTO_DONE);
	cr_assert_str_neq(pf_take(), "+OK send PASS\r\n");
	cr_assert_eq(pf_line_n("USER a\x01", 7, CONN_LINE_CRLF), PROTO_DONE);
	cr_assert_str_neq(pf_take(), "+OK send PASS\r\n");
	/* An overlong SASL response cancels the exchange. */
	pf_chat("USER alice", "+OK send PASS\r\n");
}

Test(pop3, overlong_sasl_response_cancels_auth)
{
	pf_start(true, false, false, 0);
	pf_take();
	pf_chat("AUTH PLAIN", "+ \r\n");
	cr_assert_eq(pf_line_n("AAAA", 4, CONN_LINE_OVERLONG), PROTO_DONE);
	cr_assert_str_eq(pf_take(), "-ERR line too long\r\n");
	cr_assert_not(pop3_session_secret_next(pf.sess));
	pf_chat("AGFsaWNlAHNlY3JldA==", "-ERR unknown command\r\n");
}
