/* tests/test_pop3_transaction.c: the POP3 state machine after login, over
 * the fake environment of tests/helpers/pop3fake.h and a real maildrop:
 * every TRANSACTION command, bad arguments, DELE/RSET hiding, lock-step
 * UPDATE (exactly the marked messages, the failure reply, no UPDATE without
 * QUIT), back-pressure of RETR, shutdown. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d/session.h"
#include "store/maildrop.h"
#include "tests/helpers/pop3fake.h"

TestSuite(pop3, .init = pf_setup, .fini = pf_teardown);

Test(pop3, transaction_commands)
{
	pf_login();
	pf_chat("STAT", "+OK 2 70\r\n");
	pf_chat("stat", "+OK 2 70\r\n");
	pf_chat("LIST", "+OK 2 messages (70 octets)\r\n1 30\r\n2 40\r\n.\r\n");
	pf_chat("LIST 2", "+OK 2 40\r\n");
	pf_chat("NOOP", "+OK\r\n");
	pf_chat("LAST", "-ERR LAST is obsolete; use UIDL\r\n");
	pf_chat("RETR 1", "+OK 30 octets\r\nSubject: one\r\n\r\nbody 1\r\n"
	     "..dot\r\n.\r\n");
	pf_chat("RETR 2", "+OK 40 octets\r\nSubject: two\r\n\r\nline a\r\n"
	     "line b\r\nline c\r\n.\r\n");
	pf_chat("TOP 2 0", "+OK top of message follows\r\nSubject: two\r\n\r\n"
	     ".\r\n");
	pf_chat("TOP 2 2", "+OK top of message follows\r\nSubject: two\r\n\r\n"
	     "line a\r\nline b\r\n.\r\n");
	pf_chat("TOP 2 99999999", "+OK top of message follows\r\nSubject: two"
	     "\r\n\r\nline a\r\nline b\r\nline c\r\n.\r\n");
	pf_chat("TOP 2 99999999999999999999999", "+OK top of message follows\r\n"
	     "Subject: two\r\n\r\nline a\r\nline b\r\nline c\r\n.\r\n");
}

Test(pop3, uidl_format)
{
	const char *out;
	char uid1[80], uid2[80], expect[300];

	pf_login();
	cr_assert_eq(pf_line("UIDL"), PROTO_DONE);
	out = pf_take();
	cr_assert_eq(sscanf(out, "+OK unique-id listing follows\r\n1 %70s\r\n"
			    "2 %70s\r\n", uid1, uid2), 2, "%s", out);
	snprintf(expect, sizeof expect, "+OK unique-id listing follows\r\n"
		 "1 %s\r\n2 %s\r\n.\r\n", uid1, uid2);
	cr_assert_str_eq(out, expect);
	cr_assert_str_neq(uid1, uid2);
	for (const char *p = uid1; *p; p++)
		cr_assert(*p >= 0x21 && *p <= 0x7e);
	snprintf(expect, sizeof expect, "+OK 2 %s\r\n", uid2);
	pf_chat("UIDL 2", expect);
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

	pf_login();
	for (size_t i = 0; i < sizeof no_such / sizeof no_such[0]; i++)
		pf_chat(no_such[i], "-ERR no such message\r\n");
	for (size_t i = 0; i < sizeof syntax / sizeof syntax[0]; i++)
		pf_chat(syntax[i], "-ERR syntax: TOP message lines\r\n");
	pf_chat("RETR 1 2", "-ERR syntax: a message number is required\r\n");
	pf_chat("LIST 1 2", "-ERR syntax: a message number is required\r\n");
	pf_chat("RETR", "-ERR argument required\r\n");
	pf_chat("STAT", "+OK 2 70\r\n");
}

Test(pop3, wrong_state_in_transaction)
{
	static const char *const cmds[] = {
		"USER x", "PASS x", "APOP x y", "AUTH PLAIN", "STLS",
	};

	pf_login();
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		pf_chat(cmds[i], "-ERR command not valid in this state\r\n");
	pf_chat("STAT", "+OK 2 70\r\n");
	cr_assert_eq(pf.fk.logins, 1);
}

Test(pop3, dele_rset_and_hidden_messages)
{
	static const char *const gone[] = {
		"RETR 1", "LIST 1", "TOP 1 0", "UIDL 1", "DELE 1",
	};

	pf_login();
	pf_chat("DELE 1", "+OK message 1 deleted\r\n");
	for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
		pf_chat(gone[i], "-ERR message 1 already deleted\r\n");
	pf_chat("STAT", "+OK 1 40\r\n");
	pf_chat("LIST", "+OK 1 messages (40 octets)\r\n2 40\r\n.\r\n");
	pf_chat("RSET", "+OK maildrop has 2 messages (70 octets)\r\n");
	pf_chat("LIST 1", "+OK 1 30\r\n");
}

Test(pop3, quit_commits_exactly_the_marked_messages)
{
	size_t removed;
	int rc;

	pf_login();
	pf_chat("DELE 2", "+OK message 2 deleted\r\n");
	cr_assert_eq(pf_line("QUIT"), PROTO_ASYNC);
	cr_assert(pf.fk.paused);
	cr_assert_eq(pf.fk.updates, 1);
	cr_assert_eq(pf_count_messages(), 2);
	rc = mdrop_commit(pf.fk.update_drop, &removed);
	pop3_session_update_done(pf.sess, rc, removed);
	cr_assert_str_eq(pf_take(), "+OK kantorpos POP3 server signing off (1 "
			 "messages deleted)\r\n");
	cr_assert_eq(pf.fk.closed, 1);
	cr_assert_eq(pf_count_messages(), 1);
	/* The lock is gone. */
	{
		struct mdrop *m;

		cr_assert_eq(mdrop_open(pf.md, &m), 1);
		cr_assert_eq(mdrop_count(m), 1);
		cr_assert_str_eq(mdrop_uidl(m, 0), mdrop_uidl(m, 0));
		mdrop_release(m);
	}
}

Test(pop3, update_failure_is_reported)
{
	pf_login();
	pf_chat("DELE 1", "+OK message 1 deleted\r\n");
	cr_assert_eq(pf_line("QUIT"), PROTO_ASYNC);
	mdrop_release(pf.fk.update_drop);
	pop3_session_update_done(pf.sess, -1, 0);
	cr_assert_str_eq(pf_take(), "-ERR [SYS/TEMP] some deleted messages not "
			 "removed (0 removed)\r\n");
	cr_assert_eq(pf.fk.closed, 1);
}

Test(pop3, quit_without_dele_and_in_authorization)
{
	pf_login();
	cr_assert_eq(pf_line("QUIT"), PROTO_CLOSE);
	cr_assert_str_eq(pf_take(), "+OK kantorpos POP3 server signing off (0 "
			 "messages deleted)\r\n");
	cr_assert_eq(pf.fk.updates, 0);
	pop3_session_free(pf.sess);
	free(pf.fk.out);
	memset(&pf.fk, 0, sizeof pf.fk);
	pf_start(false, false, true, 0);
	pf_take();
	cr_assert_eq(pf_line("QUIT"), PROTO_CLOSE);
	cr_assert_str_eq(pf_take(), "+OK kantorpos POP3 server signing off\r\n");
}

Test(pop3, session_end_without_quit_changes_nothing)
{
	struct mdrop *m;

	pf_login();
	pf_chat("DELE 1", "+OK message 1 deleted\r\n");
	pf_chat("DELE 2", "+OK message 2 deleted\r\n");
	pop3_session_free(pf.sess);
	pf.sess = NULL;
	cr_assert_eq(pf_count_messages(), 2);
	cr_assert_eq(mdrop_open(pf.md, &m), 1);
	mdrop_release(m);
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
	pf_deliver(text);
	pf.sess = pop3_session_new(&pf_ops, &pf.fk, &cfg);
	cr_assert_eq(mdrop_open(pf.md, &drop), 1);
	pop3_session_login_done(pf.sess, POP3_LOGIN_OK, drop, "alice");
	pf_take();
	rc = pf_line("RETR 1");
	cr_assert_eq(rc, PROTO_ASYNC);
	cr_assert(pf.fk.paused);
	/* The first step may leave up to one stuffed chunk above the mark. */
	cr_assert_leq(pf.fk.max_pending, 4096 + 2 * POP3_CHUNK);
	while (pf.fk.paused) {
		cr_assert_gt(pf.fk.drains, drains, "no drain was requested");
		drains = pf.fk.drains;
		pf.fk.sent = pf.fk.len; /* the socket takes everything */
		pop3_session_drain(pf.sess);
		cr_assert_lt(drains, 100000);
	}
	cr_assert_gt(drains, 2);
	cr_assert_leq(pf.fk.max_pending, 4096 + 2 * POP3_CHUNK);
	/* Check the body: status line, CRLF everywhere, dots doubled. */
	cr_assert_eq(strncmp(pf.fk.out + pf.fk.taken, "+OK ", 4), 0);
	body_start = (size_t)(strstr(pf.fk.out + pf.fk.taken, "\r\n") - pf.fk.out) + 2;
	{
		const char *p = pf.fk.out + body_start;
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
	pf.fk.taken = pf.fk.sent = pf.fk.len;
	pf_chat("NOOP", "+OK\r\n");
	free(text);
}

Test(pop3, shutdown_replies_and_closes_without_update)
{
	struct mdrop *drop;

	pf_login();
	pf_chat("DELE 1", "+OK message 1 deleted\r\n");
	pop3_session_shutdown(pf.sess);
	cr_assert_str_eq(pf_take(), "-ERR [SYS/TEMP] server shutting down, "
			 "nothing was changed\r\n");
	cr_assert_eq(pf.fk.closed, 1);
	cr_assert_eq(pf.fk.updates, 0);
	pop3_session_free(pf.sess);
	pf.sess = NULL;
	cr_assert_eq(pf_count_messages(), 2);

	/* During a login: the answer waits for it, the maildrop is not
	 * taken. */
	free(pf.fk.out);
	memset(&pf.fk, 0, sizeof pf.fk);
	pf_start(false, false, true, 0);
	pf_take();
	pf_chat("USER alice", "+OK send PASS\r\n");
	cr_assert_eq(pf_line("PASS pw"), PROTO_ASYNC);
	pop3_session_shutdown(pf.sess);
	cr_assert_str_eq(pf_take(), "");
	cr_assert_eq(pf.fk.closed, 0);
	cr_assert_eq(mdrop_open(pf.md, &drop), 1);
	pop3_session_login_done(pf.sess, POP3_LOGIN_OK, drop, "alice");
	cr_assert_str_eq(pf_take(), "-ERR [SYS/TEMP] server shutting down, "
			 "nothing was changed\r\n");
	cr_assert_eq(pf.fk.closed, 1);
	cr_assert_eq(mdrop_open(pf.md, &drop), 1);
	mdrop_release(drop);
}
