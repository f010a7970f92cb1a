/* tests/test_smtp_session.c: SMTP dialogues against the real session and
 * daemon (in-process, tests/helpers/smtpfake), each table run with the
 * client's input cut into chunks of 1, 2, 7 octets and whole. Row ids are
 * those of the conformance checklist (S-..., X-...). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "common/base/fsutil.h"
#include "common/runtime/server.h"
#include "tests/helpers/smtpfake.h"
#include "tests/helpers/testutil.h"

TestSuite(smtp_session, .init = sf_setup, .fini = sf_teardown, .timeout = 60);

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define EHLO { "EHLO client.example\r\n", "250-mx.example.test" }
#define ENVELOPE EHLO, { "MAIL FROM:<a@elsewhere.test>\r\n", "250 2.1.0" }, \
		{ "RCPT TO:<alice@example.test>\r\n", "250 2.1.5" }

Test(smtp_session, greeting_ehlo_helo)
{
	static const struct sf_step steps[] = {
		/* S-SES-03, S-SES-05, S-SES-06, S-SES-07b */
		{ "EHLO client.example\r\n", "250-mx.example.test Hello client.example [127.0.0.1]" },
		{ "ehlo [127.0.0.1]\r\n", "250-" },
		{ "EHLO [IPv6:::1]\r\n", "250-" },
		{ "EHLO not-my-name.example\r\n", "250-" },
		{ "EHLO host.example (my laptop)\r\n", "250-" },
		{ "EHLO JOHN_PC\r\n", "250-" },
		/* S-SES-04: one line */
		{ "HELO client.example\r\n", "250 mx.example.test Hello client.example" },
		/* S-SES-07, X-HDR-01: 501 and the state unchanged */
		{ "EHLO\r\n", "501 5.5.4" },
		{ "EHLO a\rb\r\n", "501 5.5.4" },
		{ "EHLO a\rX-Injected: 1\r\n", "501 5.5.4" },
		{ "EHLO \r\n", "501 5.5.4" },
		{ "MAIL FROM:<a@b.example>\r\n", "250 2.1.0" },
		/* S-SES-08: EHLO resets the transaction */
		{ "RCPT TO:<alice@example.test>\r\n", "250 2.1.5" },
		{ "EHLO again.example\r\n", "250-" },
		{ "DATA\r\n", "503 5.5.1" },
		{ "QUIT\r\n", "221 2.0.0" },
	};

	sf_start(NULL);
	sf_dialogue("greeting", SF_MX, steps, N(steps));
	cr_assert(sf_closed());
}

Test(smtp_session, ehlo_keywords)
{
	const char *r;

	sf_start(NULL);
	sf_connect(SF_MX);
	sf_send("EHLO c\r\n", 8, 0);
	r = sf_replies(1);
	/* S-SES-03, S-EXT-01, S-EXT-19 (SMTPUTF8 with 8BITMIME, no
	 * parameter), S-ETR-01 absent without ETRN domains, no STARTTLS
	 * without a certificate, no AUTH before TLS on mx (S-AUT-09). */
	static const char *const want[] = {
		"250-PIPELINING\r\n", "250-SIZE 52428800\r\n", "250-8BITMIME\r\n",
		"250-ENHANCEDSTATUSCODES\r\n", "250-SMTPUTF8\r\n",
		"250 CHUNKING\r\n",
	};
	for (size_t i = 0; i < N(want); i++)
		cr_assert_not_null(strstr(r, want[i]), "%s missing: %s", want[i], r);
	cr_assert_null(strstr(r, "STARTTLS"), "%s", r);
	cr_assert_null(strstr(r, "AUTH"), "%s", r);
	cr_assert_null(strstr(r, "ETRN"), "%s", r);
	/* S-CMD-10: "-" on every line but the last. */
	cr_assert_eq(strstr(r, "\r\n250 ") + 2 + strlen("250 CHUNKING\r\n"),
		     r + strlen(r));
	/* submission, plaintext-ok: AUTH offered */
	sf_connect(SF_SUBMISSION);
	sf_send("EHLO c\r\n", 8, 0);
	cr_assert_not_null(strstr(sf_replies(1), "250-AUTH PLAIN LOGIN\r\n"));
}

Test(smtp_session, sequencing_and_other_commands)
{
	static const struct sf_step steps[] = {
		/* S-CMD-08: before EHLO */
		{ "NOOP\r\n", "250 2.0.0" },
		{ "RSET\r\n", "250 2.0.0" },
		{ "HELP\r\n", "214-2.0.0" },
		{ "VRFY alice@example.test\r\n", "252 2.0.0" },
		/* S-CMD-09, S-ENV-04, S-DAT-01 */
		{ "MAIL FROM:<a@b.example>\r\n", "503 5.5.1" },
		{ "RCPT TO:<alice@example.test>\r\n", "503 5.5.1" },
		{ "DATA\r\n", "503 5.5.1" },
		EHLO,
		/* S-CMD-02..07 */
		{ "RSET x\r\n", "501 5.5.4" },
		{ "DATA x\r\n", "501 5.5.4" },
		{ "QUIT x\r\n", "501 5.5.4" },
		{ "VRFY alice\r\n", "252 2.0.0 Cannot VRFY user" },
		{ "VRFY nobody\r\n", "252 2.0.0 Cannot VRFY user" },
		{ "EXPN staff\r\n", "502 5.5.1" },
		{ "NOOP whatever\r\n", "250 2.0.0" },
		{ "HELP MAIL\r\n", "214-2.0.0" },
		/* S-SES-09: unknown verbs, session continues */
		{ "FOO\r\n", "500 5.5.2" },
		{ "mail from:<a@b.example>\r\n", "250 2.1.0" },
		/* S-ENV-03 */
		{ "MAIL FROM:<c@d.example>\r\n", "503 5.5.1" },
		/* S-DAT-01: no valid recipient */
		{ "RCPT TO:<nobody@example.test>\r\n", "550 5.1.1" },
		{ "DATA\r\n", "554 5.5.1" },
		/* S-CMD-01: RSET any time */
		{ "RSET\r\n", "250 2.0.0" },
		{ "RCPT TO:<alice@example.test>\r\n", "503 5.5.1" },
		{ "QUIT\r\n", "221 2.0.0" },
	};

	sf_start(NULL);
	sf_dialogue("sequencing", SF_MX, steps, N(steps));
}

Test(smtp_session, help_text)
{
	const char *r;

	sf_start(NULL);
	sf_connect(SF_MX);
	sf_send("HELP\r\n", 6, 0);
	r = sf_replies(1);
	/* S-CMD-06: every line 214 with its enhanced code, the verbs named. */
	for (const char *v = "EHLO\0MAIL\0RCPT\0DATA\0BDAT\0STARTTLS\0AUTH\0VRFY\0";
	     *v != '\0'; v += strlen(v) + 1)
		cr_assert_not_null(strstr(r, v), "%s not in %s", v, r);
	for (const char *l = r; *l != '\0'; l = strstr(l, "\r\n") + 2)
		cr_assert(strncmp(l, "214-2.0.0 ", 10) == 0 ||
			  strncmp(l, "214 2.0.0 ", 10) == 0, "%s", r);
}

Test(smtp_session, envelope_addresses)
{
	char long_local[80], rows[4][400];
	static const struct sf_step steps[] = {
		EHLO,
		/* S-ENV-01, S-ENV-02 */
		{ "MAIL FROM:<>\r\n", "250 2.1.0" },
		{ "RSET\r\n", "250 2.0.0" },
		{ "MAIL FROM: <a@example.org>\r\n", "250 2.1.0" },
		/* S-ENV-05 */
		{ "RCPT TO:<postmaster>\r\n", "250 2.1.5" },
		{ "RCPT TO:<PostMaster@example.test>\r\n", "250 2.1.5" },
		/* S-ENV-06: source route accepted and ignored */
		{ "RCPT TO:<@relay.example,@r2.example:alice@example.test>\r\n", "250 2.1.5" },
		/* S-ENV-09 */
		{ "RCPT TO:<Alice@EXAMPLE.test>\r\n", "250 2.1.5" },
		/* S-ENV-07, X-REL-07: the route never routes out */
		{ "RCPT TO:<@example.test:victim@elsewhere.test>\r\n", "554 5.7.1" },
		/* S-ENV-08, X-NUL-01 */
		{ "RCPT TO:<al\x01ice@example.test>\r\n", "501 5.1.3" },
		{ "RCPT TO:<alice@exa_mple.test>\r\n", "501 5.1.3" },
		/* S-ENV-12; S-DSN-08: DSN is offered, its parameters taken */
		{ "RCPT TO:<alice@example.test> FOO=bar\r\n", "555 5.5.4" },
		{ "RCPT TO:<alice@example.test> NOTIFY=NEVER,SUCCESS\r\n", "501 5.5.4" },
		{ "RCPT TO:<alice@example.test> NOTIFY=NEVER\r\n", "250 2.1.5" },
		{ "RSET\r\n", "250 2.0.0" },
		{ "MAIL FROM:<a@b> FOO=bar\r\n", "555 5.5.4" },
		{ "MAIL FROM:<a b@x>\r\n", "501 5.1.7" },
		/* X-HDR-02 */
		{ "MAIL FROM:<a@b\r>\r\n", "501 5.1.7" },
		/* S-AUT-12: AUTH= parsed (unauthenticated: treated as <>) */
		{ "MAIL FROM:<a@b.example> AUTH=<>\r\n", "250 2.1.0" },
		{ "RSET\r\n", "250 2.0.0" },
		{ "MAIL FROM:<a@b.example> AUTH=e+3Dmc2@example.com\r\n", "250 2.1.0" },
		{ "QUIT\r\n", "221 2.0.0" },
	};
	/* S-ENV-10: local part 64 accepted, 65 refused */
	memset(long_local, 'a', 64);
	long_local[64] = '\0';
	snprintf(rows[0], sizeof(rows[0]), "MAIL FROM:<%s@example.org>\r\n", long_local);
	snprintf(rows[1], sizeof(rows[1]), "MAIL FROM:<%sb@example.org>\r\n", long_local);
	snprintf(rows[2], sizeof(rows[2]), "MAIL FROM:<x@%.63s.%.63s.%.63s.%.58s>\r\n",
		 long_local, long_local, long_local, long_local);
	snprintf(rows[3], sizeof(rows[3]), "MAIL FROM:<x@%.63s.%.63s.%.63s.%.63s.a>\r\n",
		 long_local, long_local, long_local, long_local);
	const struct sf_step lengths[] = {
		EHLO,
		{ rows[0], "250 2.1.0" }, { "RSET\r\n", "250 2.0.0" },
		{ rows[1], "501 5.1.7" },
		{ rows[2], "250 2.1.0" }, { "RSET\r\n", "250 2.0.0" },
		{ rows[3], "501 5.1.7" },
	};

	sf_start(NULL);
	sf_dialogue("envelope", SF_MX, steps, N(steps));
	sf_dialogue("lengths", SF_MX, lengths, N(lengths));
}

Test(smtp_session, open_relay_patterns)
{
	/* X-REL-01..12 on the mx role, for three senders. */
	static const char *const rcpts[] = {
		"<victim@elsewhere.test>", "<victim%elsewhere.test@example.test>",
		"<elsewhere.test!victim@example.test>",
		"<example.test!elsewhere.test!victim>",
		"<\"victim@elsewhere.test\"@example.test>",
		"<\"victim%elsewhere.test\"@example.test>",
		"<victim@elsewhere.test@example.test>",
		"<@example.test:victim@elsewhere.test>", "<victim@[192.0.2.1]>",
		"<victim@[127.0.0.1]>", "<victim@elsewhere.test.>",
		"<victim@ELSEWHERE.TEST>", "<victim@example.test.elsewhere.test>",
		"<victim@elsewhereexample.test>",
	};
	static const char *const senders[] = { "a@b.example", "alice@example.test", "" };

	/* A trusted client may use a local sender; it still cannot relay. */
	sf_start("trusted_networks 127.0.0.1\n");
	for (size_t i = 0; i < N(senders); i++) {
		char mail[100];

		sf_connect(SF_MX);
		sf_send("EHLO c\r\n", 8, 0);
		sf_replies(1);
		snprintf(mail, sizeof(mail), "MAIL FROM:<%s>\r\n", senders[i]);
		sf_send(mail, strlen(mail), 0);
		cr_assert(strncmp(sf_replies(1), "250 2.1.0", 9) == 0);
		for (size_t k = 0; k < N(rcpts); k++) {
			char line[200];
			const char *r;

			snprintf(line, sizeof(line), "RCPT TO:%s\r\n", rcpts[k]);
			sf_send(line, strlen(line), 0);
			r = sf_replies(1);
			cr_assert(strncmp(r, "550", 3) == 0 || strncmp(r, "554", 3) == 0 ||
				  strncmp(r, "501", 3) == 0 || strncmp(r, "553", 3) == 0,
				  "%s from <%s>: %s", rcpts[k], senders[i], r);
		}
	}
}

Test(smtp_session, pipelining)
{
	static const struct sf_step steps[] = {
		EHLO,
		/* S-EXT-06 */
		{ "MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\n"
		  "RCPT TO:<nobody@example.test>\r\nDATA\r\n",
		  "250 2.1.0|250 2.1.5|550 5.1.1|354" },
		/* S-EXT-07: the dot pipelined with RSET, MAIL, ..., QUIT */
		{ "Subject: p\r\n\r\nx\r\n.\r\nRSET\r\nMAIL FROM:<a@b.example>\r\n"
		  "RCPT TO:<bob@example.test>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n",
		  "250 2.0.0|250 2.0.0|250 2.1.0|250 2.1.5|354|250 2.0.0|221 2.0.0" },
	};
	/* S-EXT-08: DATA after rejected RCPTs only */
	static const struct sf_step rejected[] = {
		EHLO,
		{ "MAIL FROM:<a@b.example>\r\nRCPT TO:<nobody@example.test>\r\n"
		  "DATA\r\nNOOP\r\n",
		  "250 2.1.0|550 5.1.1|554 5.5.1|250 2.0.0" },
	};

	sf_start(NULL);
	sf_dialogue("pipelining", SF_MX, steps, N(steps));
	cr_assert_eq(sf_count("alice"), 4);
	cr_assert_eq(sf_count("bob"), 4);
	sf_dialogue("rejected", SF_MX, rejected, N(rejected));
}

Test(smtp_session, data_transparency_and_trace)
{
	static const struct sf_step steps[] = {
		ENVELOPE,
		{ "DATA\r\n", "354 " },
		/* S-DAT-02, S-DAT-03, S-DAT-08, S-DAT-10 */
		{ "Received: from old.example by relay.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
		  "Return-Path: <x@evil.example>\r\nSubject: t\r\n\r\n..x\r\n..\r\n. \r\n"
		  "\x80\xff\r\n.\r\n",
		  "250 2.0.0 Ok: queued as " },
	};
	size_t len;
	char *m;
	const char *rcvd;

	sf_start(NULL);
	sf_connect(SF_MX);
	sf_run_steps("data", steps, N(steps), 3);
	m = sf_message("alice", &len);
	/* S-DAT-07: Return-Path, then (mx) the SPF result, then our
	 * Received with the real address (X-HDR-03), then the old one
	 * unchanged. */
	cr_assert(strncmp(m, "Return-Path: <a@elsewhere.test>\r\n", 33) == 0, "%s", m);
	rcvd = m + 33;
	if (strncmp(rcvd, "Received-SPF: ", 14) == 0)
		rcvd = strstr(rcvd, "\r\nReceived: ") + 2;
	cr_assert(strncmp(rcvd, "Received: from client.example (", 31) == 0, "%s", m);
	cr_assert_not_null(strstr(m, "[127.0.0.1]"));
	cr_assert_not_null(strstr(m, "by mx.example.test"));
	cr_assert_not_null(strstr(m, "for <alice@example.test>"));
	cr_assert_not_null(strstr(m, "\r\nReceived: from old.example by relay.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n"));
	cr_assert_null(strstr(m, "x@evil.example"), "%s", m);
	cr_assert_not_null(strstr(m, "\r\n\r\n.x\r\n.\r\n \r\n\x80\xff\r\n"));
	cr_assert(len > 4 && memcmp(m + len - 4, "\x80\xff\r\n", 4) == 0);
	free(m);
}

Test(smtp_session, trace_for_and_helo_literal)
{
	/* S-DAT-09 (no single path with 3 recipients), X-HDR-03 */
	static const struct sf_step steps[] = {
		{ "EHLO [10.9.9.9]\r\n", "250-" },
		{ "MAIL FROM:<a@elsewhere.test>\r\n", "250 2.1.0" },
		{ "RCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
		  "RCPT TO:<postmaster@example.test>\r\nDATA\r\n",
		  "250 2.1.5|250 2.1.5|250 2.1.5|354" },
		{ "Subject: three\r\n\r\nx\r\n.\r\n", "250 2.0.0" },
	};
	char *m;

	sf_start(NULL);
	sf_connect(SF_MX);
	sf_run_steps("for", steps, N(steps), 0);
	m = sf_message("bob", NULL);
	cr_assert_null(strstr(m, " for <"), "%s", m);
	cr_assert_not_null(strstr(m, "from [10.9.9.9] (") , "%s", m);
	cr_assert_not_null(strstr(m, "[127.0.0.1]"), "%s", m);
	free(m);
}

/* X-SMG-01..09 and S-DAT-04: one probe per sequence, under every chunking. */
Test(smtp_session, smuggling)
{
	static const char *const seqs[] = {
		"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r.\r\n", "\r\n.\r",
		"\n.\r", "\r\n.\r\r\n",
	};

	sf_start(NULL);
	for (size_t i = 0; i < N(seqs); i++) {
		char probe[400];
		struct sf_step steps[] = {
			ENVELOPE,
			{ "DATA\r\n", "354" },
			{ probe, "550 5.5.2" },
			{ "NOOP\r\n", "250 2.0.0" },
		};

		snprintf(probe, sizeof(probe),
			 "Subject: one\r\n\r\nx%sMAIL FROM:<ceo@example.test>\r\n"
			 "RCPT TO:<alice@example.test>\r\nDATA\r\n"
			 "Subject: smuggled\r\n\r\ny\r\n.\r\n", seqs[i]);
		sf_dialogue(seqs[i], SF_MX, steps, N(steps));
		cr_assert_eq(sf_count("alice"), 0, "seq %zu stored", i);
	}
}

/* X-SMG-08, X-NUL-02: NUL before the dot is content, one message. */
Test(smtp_session, smuggling_nul)
{
	static const char probe[] =
		"Subject: one\r\n\r\nx\r\n\0.\r\nMAIL FROM:<ceo@example.test>\r\n"
		"DATA\r\nSubject: smuggled\r\n\r\ny\r\n.\r\n";
	size_t len;
	char *m;

	sf_start(NULL);
	sf_connect(SF_MX);
	sf_run_steps("nul", (struct sf_step[]){ ENVELOPE, { "DATA\r\n", "354" } },
		     4, 0);
	sf_send(probe, sizeof(probe) - 1, 5);
	cr_assert(strncmp(sf_replies(1), "250 2.0.0", 9) == 0);
	cr_assert(sf_quiet());
	m = sf_message("alice", &len);
	/* Stored whole: everything before the final dot, NUL included. */
	cr_assert(len > sizeof(probe) - 4);
	cr_assert_eq(memcmp(m + len - (sizeof(probe) - 4), probe,
			    sizeof(probe) - 4), 0);
	cr_assert_eq(sf_count("alice"), 1);
	free(m);
}

Test(smtp_session, bdat)
{
	static const struct sf_step steps[] = {
		ENVELOPE,
		/* S-EXT-14, S-EXT-15, X-SMG-10 */
		{ "BDAT 40\r\nSubject: b\r\n\r\nline\r\n.\r\nMAIL FROM:<x@y>\r\n",
		  "250 2.0.0 40 octets" },
		{ "BDAT 13 LAST\r\n..dots stay\r\n", "250 2.0.0 Ok: queued as" },
		/* S-EXT-16: the chunk is read and dropped, never run */
		{ "DATA\r\n", "503 5.5.1" },
		{ "BDAT 12\r\nRSET\r\nQUIT\r\n", "503 5.5.1" },
		{ "NOOP\r\n", "250 2.0.0" },
		/* S-EXT-17: a failing chunk followed by a pipelined one */
		{ "MAIL FROM:<a@b.example>\r\nRCPT TO:<nobody@example.test>\r\n"
		  "BDAT 6\r\nQUIT\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n",
		  "250 2.1.0|550 5.1.1|554 5.5.1|554 5.5.1|250 2.0.0" },
		{ "RSET\r\n", "250 2.0.0" },
		/* S-EXT-18: bare LF refused like DATA; BDAT 0 LAST ends it */
		{ "MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\n"
		  "BDAT 5\r\na\nb\r\nBDAT 0 LAST\r\n",
		  "250 2.1.0|250 2.1.5|250 2.0.0|550 5.5.2" },
		/* DATA after BDAT in one transaction */
		{ "MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\n"
		  "BDAT 3\r\nx\r\nDATA\r\n",
		  "250 2.1.0|250 2.1.5|250 2.0.0|503 5.5.1" },
		{ "RSET\r\n", "250 2.0.0" },
		/* X-DOS-06: a huge size closes */
		{ "BDAT 99999999999999999999\r\n", "552 5.3.4" },
	};
	size_t len;
	char *m;

	sf_start(NULL);
	sf_dialogue("bdat", SF_MX, steps, N(steps));
	cr_assert(sf_closed());
	cr_assert_eq(sf_count("alice"), 4);
	m = sf_message("alice", &len);
	cr_assert_not_null(strstr(m, "\r\n\r\nline\r\n.\r\nMAIL FROM:<x@y>\r\n..dots stay\r\n"));
	free(m);
}

Test(smtp_session, size_declared_and_actual)
{
	static const struct sf_step steps[] = {
		EHLO,
		/* S-EXT-02, S-EXT-04 */
		{ "MAIL FROM:<a@b.example> SIZE=102401\r\n", "552 5.3.4" },
		{ "MAIL FROM:<a@b.example> SIZE=99999999999999999999\r\n", "552 5.3.4" },
		{ "MAIL FROM:<a@b.example> SIZE=999999999999999999999\r\n", "501 5.5.4" },
		{ "MAIL FROM:<a@b.example> SIZE=abc\r\n", "501 5.5.4" },
		{ "MAIL FROM:<a@b.example> SIZE=1 SIZE=2\r\n", "501 5.5.4" },
		{ "MAIL FROM:<a@b.example> SIZE=10\r\n", "250 2.1.0" },
		{ "RCPT TO:<alice@example.test>\r\n", "250 2.1.5" },
		{ "DATA\r\n", "354" },
	};
	char *big;
	size_t n = 0;

	sf_start("max_message_size 100K\n");
	sf_connect(SF_MX);
	sf_send("EHLO c\r\n", 8, 0);
	cr_assert_not_null(strstr(sf_replies(1), "250-SIZE 102400\r\n"));
	sf_run_steps("size", steps, N(steps), 0);
	/* S-EXT-05: only the real size counts; 552 after the dot */
	big = malloc(120 * 1000 + 10);
	for (int i = 0; i < 120; i++, n += 1000)
		memcpy(big + n, "yyyyyyyyyy", 10), memset(big + n + 10, 'z', 988),
			memcpy(big + n + 998, "\r\n", 2);
	memcpy(big + n, ".\r\n", 3);
	sf_send(big, n + 3, 0);
	cr_assert(strncmp(sf_replies(1), "552 5.3.4", 9) == 0);
	free(big);
	cr_assert_eq(sf_count("alice"), 0);
	sf_run_steps("after", (struct sf_step[]){ { "NOOP\r\n", "250 2.0.0" } }, 1, 0);
}

Test(smtp_session, eight_bit_and_utf8)
{
	static const struct sf_step steps[] = {
		EHLO,
		/* S-EXT-10, S-EXT-11 */
		{ "MAIL FROM:<a@b.example> BODY=FOO\r\n", "501 5.5.4" },
		{ "MAIL FROM:<a@b.example> BODY=7BIT\r\n", "250 2.1.0" },
		{ "RSET\r\n", "250 2.0.0" },
		{ "MAIL FROM:<a@b.example> BODY=8BITMIME\r\n", "250 2.1.0" },
		{ "RCPT TO:<alice@example.test>\r\n", "250 2.1.5" },
		{ "DATA\r\n", "354" },
		{ "Subject: 8\r\n\r\n\x80\x81\xfe\xff\r\n.\r\n", "250 2.0.0" },
		/* S-EXT-21 */
		{ "MAIL FROM:<j\xc3\xb6rg@example.org>\r\n", "550 5.6.7" },
		/* S-EXT-20 */
		{ "MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8\r\n", "250 2.1.0" },
		{ "RCPT TO:<alice@example.test>\r\n", "250 2.1.5" },
		{ "DATA\r\n", "354" },
		{ "Subject: \xc3\xbc\r\n\r\nGr\xc3\xbc\xc3\x9f" "e\r\n.\r\n", "250 2.0.0" },
		{ "MAIL FROM:<a@b.example>\r\n", "250 2.1.0" },
		{ "RCPT TO:<j\xc3\xb6rg@example.test>\r\n", "553 5.6.7" },
	};
	char *m;

	sf_start(NULL);
	sf_connect(SF_MX);
	sf_run_steps("8bit", steps, N(steps), 2);
	m = sf_message("alice", NULL);
	cr_assert(strstr(m, "with UTF8SMTP") != NULL ||
		  strstr(m, "with\r\n\tUTF8SMTP") != NULL, "%s", m);
	free(m);
}

Test(smtp_session, line_limits)
{
	/* S-LIM-03, X-LEN-01: one reply per line, the tail of a cut line is
	 * never run (no 221). */
	static const size_t lens[] = { 500, 505, 506, 507, 508, 520, 1018, 1030,
				       4090, 4100, 8186, 8200, 20000 };
	char *line = malloc(20100);

	sf_start(NULL);
	sf_connect(SF_MX);
	for (size_t i = 0; i < N(lens); i++) {
		size_t n = 0;
		const char *r;

		memcpy(line, "NOOP ", 5), n = 5;
		memset(line + n, 'A', lens[i]), n += lens[i];
		memcpy(line + n, "QUIT\r\n", 6), n += 6;
		sf_send(line, n, 0);
		r = sf_replies(1);
		cr_assert_eq(strncmp(r, n <= 512 ? "250 2.0.0" : "500 5.5.2", 9), 0,
			     "L=%zu: %s", lens[i], r);
		cr_assert(sf_quiet(), "L=%zu", lens[i]);
	}
	free(line);
	/* S-LIM-04: MAIL with every parameter at its size */
	{
		char mail[1200], x[501];
		size_t o;

		memset(x, 'x', 63);
		x[63] = '\0';
		o = (size_t)snprintf(mail, sizeof(mail), "MAIL FROM:<%.60s@%s.%s.%.58s>",
				     x, x, x, x);
		o += (size_t)snprintf(mail + o, sizeof(mail) - o,
				      " SIZE=1000 BODY=8BITMIME SMTPUTF8 AUTH=");
		for (int i = 0; i < 150; i++)
			o += (size_t)snprintf(mail + o, sizeof(mail) - o, "+78");
		o += (size_t)snprintf(mail + o, sizeof(mail) - o, "@x\r\n");
		sf_run_steps("limits", (struct sf_step[]){ EHLO, { mail, "250 2.1.0" } }, 2, 0);
		cr_assert_gt(o, 512 + 200);
	}
}

Test(smtp_session, text_lines_and_big_messages)
{
	/* S-DAT-05: 1000 octets accepted byte-exact, 1001 refused after the
	 * dot; S-DAT-06: 70000 octets; S-DAT-11: 101 Received lines. */
	char *msg = malloc(80000);
	size_t n = 0, len;
	char *m;

	sf_start(NULL);
	sf_connect(SF_MX);
	sf_run_steps("env", (struct sf_step[]){ ENVELOPE, { "DATA\r\n", "354" } }, 4, 0);
	memset(msg, 'y', 998), n = 998;
	memcpy(msg + n, "\r\n", 2), n += 2;
	while (n < 70000)
		memcpy(msg + n, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 65), n += 65;
	memcpy(msg + n, ".\r\n", 3);
	sf_send(msg, n + 3, 0);
	cr_assert(strncmp(sf_replies(1), "250 2.0.0", 9) == 0);
	m = sf_message("alice", &len);
	cr_assert(len > n && memcmp(m + len - n, msg, n) == 0);
	free(m);

	sf_run_steps("env2", (struct sf_step[]){
		{ "MAIL FROM:<a@b.example>\r\n", "250 2.1.0" },
		{ "RCPT TO:<alice@example.test>\r\n", "250 2.1.5" },
		{ "DATA\r\n", "354" } }, 3, 0);
	memset(msg, 'z', 999);
	memcpy(msg + 999, "\r\n.\r\n", 5);
	sf_send(msg, 1004, 0);
	cr_assert(strncmp(sf_replies(1), "552 5.3.4", 9) == 0);

	sf_run_steps("env3", (struct sf_step[]){
		{ "MAIL FROM:<a@b.example>\r\n", "250 2.1.0" },
		{ "RCPT TO:<alice@example.test>\r\n", "250 2.1.5" },
		{ "DATA\r\n", "354" } }, 3, 0);
	n = 0;
	for (int i = 0; i < 101; i++)
		n += (size_t)sprintf(msg + n, "Received: from h%d by x\r\n", i);
	n += (size_t)sprintf(msg + n, "Subject: loop\r\n\r\nx\r\n.\r\n");
	sf_send(msg, n, 0);
	cr_assert(strncmp(sf_replies(1), "554 5.4.6", 9) == 0);
	cr_assert_eq(sf_count("alice"), 1);
	free(msg);
}

Test(smtp_session, recipient_limit)
{
	/* S-ENV-11: 100 accepted, then 452 4.5.3; delivered to 100 */
	char *rcpts = malloc(101 * 40), want[100 * 10 + 10];
	size_t n = 0, w = 0;

	sf_start(NULL);
	for (int i = 0; i < 101; i++)
		n += (size_t)sprintf(rcpts + n, "RCPT TO:<alice@example.test>\r\n");
	for (int i = 0; i < 100; i++)
		w += (size_t)sprintf(want + w, "%s250 2.1.5", i ? "|" : "");
	sprintf(want + w, "|452 4.5.3");
	sf_connect(SF_MX);
	sf_run_steps("limit", (struct sf_step[]){
		EHLO, { "MAIL FROM:<a@b.example>\r\n", "250 2.1.0" },
		{ rcpts, want }, { "DATA\r\n", "354" },
		{ "Subject: many\r\n\r\nx\r\n.\r\n", "250 2.0.0" } }, 5, 0);
	cr_assert_eq(sf_count("alice"), 1);
	free(rcpts);
}

Test(smtp_session, bad_command_limit_and_garbage)
{
	/* S-SES-09 with the limit at 3, X-GAR-01 */
	static const struct sf_step steps[] = {
		{ "FOO\r\n", "500 5.5.2" },
		{ "GET / HTTP/1.0\r\n", "500 5.5.2" },
		{ "\x16\x03\x01\x02\x05\x01\r\n", "421 4.7.0" },
	};

	sf_start("bad_command_limit 3\n");
	sf_dialogue("bad", SF_MX, steps, N(steps));
	cr_assert(sf_closed());
}

Test(smtp_session, auth_on_submission)
{
	/* "\0alice@example.test\0secret" */
	static const struct sf_step steps[] = {
		EHLO,
		/* S-AUT-10 */
		{ "MAIL FROM:<alice@example.test>\r\n", "530 5.7.0 Authentication required" },
		/* S-AUT-05, S-AUT-02, S-AUT-03, S-AUT-04, S-AUT-06 */
		{ "AUTH FOO\r\n", "504 5.5.4" },
		{ "AUTH PLAIN\r\n", "334 " },
		{ "*\r\n", "501 5.7.0" },
		{ "AUTH PLAIN\r\n", "334 " },
		{ "%%%\r\n", "501 5.5.2" },
		{ "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==\r\n", "535 5.7.8" },
		{ "AUTH PLAIN AG5vYm9keUBleGFtcGxlLnRlc3QAd3Jvbmc=\r\n", "535 5.7.8" },
		/* S-AUT-14: LOGIN */
		{ "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6" },
		{ "YWxpY2VAZXhhbXBsZS50ZXN0\r\n", "334 UGFzc3dvcmQ6" },
		{ "c2VjcmV0\r\n", "235 2.7.0" },
		/* S-AUT-07 */
		{ "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n", "503 5.5.1" },
		{ "MAIL FROM:<alice@example.test>\r\n", "250 2.1.0" },
		{ "AUTH PLAIN\r\n", "503 5.5.1" },
		{ "RCPT TO:<bob@example.test>\r\nDATA\r\n", "250 2.1.5|354" },
		{ "Subject: s\r\n\r\nsub\r\n.\r\n", "250 2.0.0" },
	};
	/* S-AUT-01, S-AUT-13: PLAIN with an initial response, pipelined */
	static const struct sf_step pipelined[] = {
		EHLO,
		{ "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n"
		  "MAIL FROM:<alice@example.test>\r\n",
		  "235 2.7.0 Authentication successful|250 2.1.0" },
		{ "AUTH LOGIN YWxpY2VAZXhhbXBsZS50ZXN0\r\n", "503 5.5.1" },
	};
	static const struct sf_step login_ir[] = {
		EHLO,
		{ "AUTH LOGIN YWxpY2VAZXhhbXBsZS50ZXN0\r\n", "334 UGFzc3dvcmQ6" },
		{ "c2VjcmV0\r\n", "235 2.7.0" },
	};
	char *m;

	sf_start(NULL);
	sf_dialogue("auth", SF_SUBMISSION, steps, N(steps));
	sf_dialogue("pipelined", SF_SUBMISSION, pipelined, N(pipelined));
	sf_dialogue("login-ir", SF_SUBMISSION, login_ir, N(login_ir));
	/* S-AUT-15 */
	m = sf_message("bob", NULL);
	cr_assert(strstr(m, "ESMTPA") != NULL, "%s", m);
	free(m);
}

Test(smtp_session, auth_continuation_line_length)
{
	/* S-AUT-08: a 12000-octet response is read (and refused as
	 * credentials), a longer one is 500 5.5.6 */
	char *line = malloc(14000);

	sf_start(NULL);
	sf_connect(SF_SUBMISSION);
	sf_run_steps("auth", (struct sf_step[]){ EHLO, { "AUTH PLAIN\r\n", "334 " } }, 2, 0);
	memset(line, 'A', 12000);
	memcpy(line + 12000, "\r\n", 2);
	sf_send(line, 12002, 0);
	cr_assert(strncmp(sf_replies(1), "5", 1) == 0);
	sf_run_steps("again", (struct sf_step[]){ { "AUTH PLAIN\r\n", "334 " } }, 1, 0);
	memset(line, 'A', 13000);
	memcpy(line + 13000, "\r\n", 2);
	sf_send(line, 13002, 0);
	cr_assert(strncmp(sf_replies(1), "500 5.5.6", 9) == 0);
	sf_run_steps("after", (struct sf_step[]){ { "NOOP\r\n", "250 2.0.0" } }, 1, 0);
	free(line);
}

Test(smtp_session, quota_at_rcpt)
{
	/* issue: over quota -> 452 4.2.2 at RCPT time; other recipients
	 * unaffected, nothing lost from the pipeline, the session goes on. */
	static const struct sf_step fill[] = {
		ENVELOPE,
		{ "DATA\r\n", "354" },
		{ "Subject: one\r\n\r\nx\r\n.\r\n", "250 2.0.0" },
	};
	static const struct sf_step full[] = {
		EHLO,
		{ "MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\n"
		  "RCPT TO:<postmaster@example.test>\r\nRCPT TO:<sales@example.test>\r\n"
		  "NOOP\r\n", "250 2.1.0|452 4.2.2|250 2.1.5|452 4.2.2|250 2.0.0" },
		{ "RSET\r\n", "250 2.0.0" },
	};

	sf_start("quota_messages 1\n");
	sf_connect(SF_MX);
	sf_run_steps("fill", fill, N(fill), 0);
	sf_dialogue("full", SF_MX, full, N(full));
	cr_assert_eq(sf_count("alice"), 1);
}

Test(smtp_session, quota_at_rcpt_permanent)
{
	/* 552 5.2.2 when quota_permanent; the declared SIZE counts. */
	static const struct sf_step steps[] = {
		EHLO,
		{ "MAIL FROM:<a@b.example> SIZE=2000\r\n", "250 2.1.0" },
		{ "RCPT TO:<alice@example.test>\r\n", "552 5.2.2" },
		{ "RSET\r\n", "250 2.0.0" },
		{ "MAIL FROM:<a@b.example> SIZE=500\r\n", "250 2.1.0" },
		{ "RCPT TO:<alice@example.test>\r\n", "250 2.1.5" },
	};

	sf_start("quota_bytes 1K\nquota_permanent yes\n");
	sf_dialogue("permanent", SF_MX, steps, N(steps));
}

Test(smtp_session, etrn_replies)
{
	/* S-ETR-01, S-ETR-04, S-ETR-06, S-ETR-07, S-ETR-09, S-ETR-10,
	 * S-ETR-11 (every reply with its enhanced code: checked by the
	 * helper) */
	static const struct sf_step steps[] = {
		{ "EHLO c\r\n", "250-" },
		{ "ETRN\r\n", "501 5.5.4" },
		{ "ETRN bad..name\r\n", "501 5.5.4" },
		{ "ETRN a b\r\n", "501 5.5.4" },
		{ "ETRN #holdq\r\n", "501 5.5.4" },
		{ "ETRN elsewhere.test\r\n", "459 4.7.1 Node elsewhere.test not allowed: " },
		{ "ETRN closed.test\r\n", "459 4.7.1 Node closed.test not allowed: " },
		{ "ETRN backup.test\r\n", "251 2.0.0 OK, no messages waiting for node backup.test" },
		{ "ETRN @backup.test\r\n", "251 2.0.0" },
		{ "MAIL FROM:<a@b.example>\r\n", "250 2.1.0" },
		{ "ETRN backup.test\r\n", "503 5.5.1" },
		{ "RSET\r\nETRN backup.test\r\nQUIT\r\n", "250 2.0.0|251 2.0.0|221 2.0.0" },
	};
	const char *r;

	sf_start("etrn_domain backup.test deliver_to 127.0.0.1:1 allow 127.0.0.1 subdomains\n"
		 "etrn_domain closed.test deliver_to client:2525 allow 192.0.2.1\n");
	sf_connect(SF_MX);
	sf_send("EHLO c\r\n", 8, 0);
	r = sf_replies(1);
	cr_assert_not_null(strstr(r, "\r\n250-ETRN\r\n"), "%s", r);
	sf_dialogue("etrn", SF_MX, steps, N(steps));
}

Test(smtp_session, etrn_458_when_the_queue_cannot_be_read)
{
	/* S-ETR-08: the flush cannot start (the queue's items directory is
	 * gone and a file stands in its place). */
	char *items = NULL;

	sf_start("etrn_domain backup.test deliver_to 127.0.0.1:1 allow 127.0.0.1\n");
	cr_assert_geq(asprintf(&items, "%s/queue/items", sf.data), 0);
	tu_rmrf(items);
	tu_write_file(items, "not a directory\n");
	free(items);
	sf_connect(SF_MX);
	sf_run_steps("458", (struct sf_step[]){
		{ "EHLO c\r\n", "250-" },
		{ "ETRN backup.test\r\n",
		  "458 4.3.0 Unable to queue messages for node backup.test" },
		{ "NOOP\r\n", "250 2.0.0" } }, 3, 0);
}

Test(smtp_session, starttls_without_tls)
{
	/* S-TLS-02: arguments are 501; no certificate: 454 4.7.0 */
	static const struct sf_step steps[] = {
		{ "EHLO c\r\n", "250-" },
		{ "STARTTLS foo\r\n", "501 5.5.4" },
		{ "STARTTLS\r\n", "454 4.7.0" },
		{ "NOOP\r\n", "250 2.0.0" },
	};

	sf_start(NULL);
	sf_dialogue("starttls", SF_MX, steps, N(steps));
}

Test(smtp_session, graceful_stop_421)
{
	/* S-CMD-11: idle sessions get 421 4.3.2 at once; one inside DATA
	 * finishes its message first. */
	sf_start(NULL);
	sf_connect(SF_MX);
	sf_run_steps("env", (struct sf_step[]){ ENVELOPE, { "DATA\r\n", "354" } }, 4, 0);
	server_stop(sf.srv);
	cr_assert(sf_quiet(), "421 inside DATA: %s", sf.out + sf.taken);
	sf_send("Subject: last\r\n\r\nx\r\n.\r\n", 23, 0);
	cr_assert(strncmp(sf_replies(2), "250 2.0.0 Ok: queued as ", 24) == 0);
	cr_assert_eq(sf_count("alice"), 1);
	cr_assert(sf_closed());
}

Test(smtp_session, dropped_mid_data_stores_nothing)
{
	/* S-DAT-13: nothing stored, nothing left in tmp/ */
	char *tmp = NULL;

	sf_start(NULL);
	sf_connect(SF_MX);
	sf_run_steps("env", (struct sf_step[]){ ENVELOPE, { "DATA\r\n", "354" } }, 4, 0);
	sf_send("Subject: cut\r\n\r\nhalf a mess", 27, 0);
	close(sf.fd);
	sf.fd = -1;
	for (int i = 0; i < 20; i++)
		ev_run(server_loop(sf.srv), EVRUN_NOWAIT);
	cr_assert_eq(sf_count("alice"), 0);
	cr_assert_geq(asprintf(&tmp, "%s/mail/example.test/alice/tmp", sf.data), 0);
	cr_assert_leq(tu_count_dir(tmp), 0);
	free(tmp);
}

/* A plain file named name in the data directory's dir (made), standing
 * where the store needs a directory. */
static void block_with_file(const char *dir, const char *name)
{
	char *path = NULL;

	cr_assert_geq(asprintf(&path, "%s/%s", sf.data, dir), 0);
	cr_assert_eq(fs_mkdir_p(path, 0700), 0);
	free(path);
	cr_assert_geq(asprintf(&path, "%s/%s/%s", sf.data, dir, name), 0);
	tu_write_file(path, "in the way\n");
	free(path);
}

Test(smtp_session, store_failure_stores_nothing)
{
	/* S-DAT-14: bob's Maildir cannot take the message: 451/452 and alice
	 * gets nothing either (all or nothing). */
	sf_start(NULL);
	block_with_file("mail/example.test/bob", "new");
	sf_connect(SF_MX);
	sf_run_steps("fail", (struct sf_step[]){
		ENVELOPE, { "RCPT TO:<bob@example.test>\r\n", "250 2.1.5" },
		{ "DATA\r\n", "354" },
		{ "Subject: f\r\n\r\nx\r\n.\r\n", "45" },
		{ "NOOP\r\n", "250 2.0.0" } }, 7, 0);
	cr_assert_eq(sf_count("alice"), 0);
}

Test(smtp_session, message_file_failure_is_answered)
{
	/* The first recipient's Maildir cannot be made (a file stands in
	 * its place). Nothing touches the disk before the data, so DATA gets
	 * 354 and the message 451 at its end: a small one when the commit
	 * makes its file, a big one (past the store's 64 KiB buffer) when the
	 * storage pool makes it in the middle, after which the rest is read
	 * and dropped. BDAT: the chunk is read, never run as commands, and
	 * LAST gets the 451. The session goes on after each. */
	static char big[100 * 1024 + 8];

	sf_start(NULL);
	block_with_file("mail/example.test", "alice");
	sf_connect(SF_MX);
	sf_run_steps("data", (struct sf_step[]){
		ENVELOPE, { "DATA\r\n", "354" },
		{ "Subject: s\r\n\r\nx\r\n.\r\n", "451 4.3.0" },
		{ "NOOP\r\n", "250 2.0.0" } }, 6, 0);
	memset(big, 'b', sizeof(big));
	for (size_t i = 76; i < sizeof(big); i += 78)
		memcpy(big + i, "\r\n", 2);
	memcpy(big + sizeof(big) - 5, "\r\n.\r\n", 5);
	sf_run_steps("big", (struct sf_step[]){
		{ "MAIL FROM:<a@elsewhere.test>\r\n", "250 2.1.0" },
		{ "RCPT TO:<alice@example.test>\r\n", "250 2.1.5" },
		{ "DATA\r\n", "354" } }, 3, 0);
	sf_send(big, sizeof(big), 0);
	cr_assert(strncmp(sf_replies(1), "451 4.3.0", 9) == 0);
	sf_run_steps("bdat", (struct sf_step[]){
		{ "NOOP\r\n", "250 2.0.0" },
		{ "MAIL FROM:<a@elsewhere.test>\r\n", "250 2.1.0" },
		{ "RCPT TO:<alice@example.test>\r\n", "250 2.1.5" },
		{ "BDAT 6 LAST\r\nQUIT\r\n", "451 4.3.0" },
		{ "NOOP\r\n", "250 2.0.0" } }, 5, 0);
}

Test(smtp_session, ten_megabytes_without_crlf)
{
	/* X-LEN-03: memory stays bounded; one 500 when the line ends */
	size_t n = 10 * 1024 * 1024;
	char *junk = malloc(n + 2);

	sf_start(NULL);
	sf_connect(SF_MX);
	memset(junk, 'A', n);
	memcpy(junk + n, "\r\n", 2);
	sf_send(junk, n + 2, 0);
	cr_assert(strncmp(sf_replies(1), "500 5.5.2", 9) == 0);
	cr_assert(sf_quiet());
	sf_run_steps("after", (struct sf_step[]){ { "NOOP\r\n", "250 2.0.0" } }, 1, 0);
	free(junk);
}

/* ---- sender rules (pipeline/sender.h) ---- */

#define AUTH_ALICE { "EHLO c\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n", \
		     "250-|235 2.7.0" }
#define NOT_OWNED "553 5.7.1 Sender address not owned by user alice@example.test"

/* An alias of alice alone next to the fixture's sales: alice, bob; the
 * daemon reloads the file at the next MAIL. */
static void aliases_with_solo(void)
{
	char *al = tu_path(sf.dir, "aliases");

	tu_write_file(al, "sales: alice, bob\nsolo: alice\n");
	free(al);
}

Test(smtp_session, submission_sender_must_be_owned)
{
	static const struct sf_step steps[] = {
		AUTH_ALICE,
		{ "MAIL FROM:<bob@example.test>\r\n", NOT_OWNED },
		{ "MAIL FROM:<ceo@bank.example>\r\n", NOT_OWNED },
		{ "MAIL FROM:<BOB@Example.Test>\r\n", NOT_OWNED },
		{ "MAIL FROM:<sales@example.test>\r\n", NOT_OWNED },
		{ "MAIL FROM:<>\r\n",
		  "553 5.7.1 Null sender not allowed for authenticated user alice@example.test" },
		/* Refused: no transaction began. */
		{ "RCPT TO:<bob@example.test>\r\n", "503 5.5.1" },
		{ "MAIL FROM:<Alice@EXAMPLE.test>\r\n", "250 2.1.0" },
		{ "RSET\r\n", "250 2.0.0" },
		{ "MAIL FROM:<alice+tag@example.test>\r\n", "250 2.1.0" },
		{ "RSET\r\n", "250 2.0.0" },
		{ "MAIL FROM:<solo@example.test>\r\n", "250 2.1.0" },
		{ "RCPT TO:<bob@example.test>\r\n", "250 2.1.5" },
	};

	sf_start(NULL);
	aliases_with_solo();
	sf_dialogue("owned", SF_SUBMISSION, steps, N(steps));
}

Test(smtp_session, submission_from_header_must_be_owned)
{
	static const struct sf_step steps[] = {
		AUTH_ALICE,
		{ "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
		  "DATA\r\n", "250 2.1.0|250 2.1.5|354" },
		{ "From: Bob <bob@example.test>\r\nSubject: spoof\r\n\r\nx\r\n.\r\n",
		  "550 5.7.1 From: address not owned by user alice@example.test" },
		{ "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
		  "DATA\r\n", "250 2.1.0|250 2.1.5|354" },
		{ "From: Alice <alice@example.test>,\r\n ceo@bank.example\r\n\r\nx\r\n.\r\n",
		  "550 5.7.1 From: address" },
		{ "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
		  "BDAT 18 LAST\r\nFrom: <>\r\n\r\nbody\r\n",
		  "250 2.1.0|250 2.1.5|550 5.7.1 From: address" },
		{ "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
		  "DATA\r\n", "250 2.1.0|250 2.1.5|354" },
		{ "From: \"Alice\" <alice+list@example.test>, solo@example.test\r\n"
		  "Subject: mine\r\n\r\nx\r\n.\r\n", "250 2.0.0" },
	};

	sf_start(NULL);
	aliases_with_solo();
	sf_dialogue("from", SF_SUBMISSION, steps, N(steps));
	/* Only the owned message of each of the 4 runs was stored. */
	cr_assert_eq(sf_count("bob"), 4);
}

Test(smtp_session, mx_local_sender_needs_authentication)
{
	static const struct sf_step refused[] = {
		EHLO,
		{ "MAIL FROM:<alice@example.test>\r\n",
		  "550 5.7.1 Sender address in a local domain requires authentication" },
		{ "MAIL FROM:<nobody@EXAMPLE.TEST>\r\n", "550 5.7.1" },
		{ "RCPT TO:<alice@example.test>\r\n", "503 5.5.1" },
		/* Bounces and foreign senders are not affected. */
		{ "MAIL FROM:<>\r\n", "250 2.1.0" },
		{ "RSET\r\n", "250 2.0.0" },
		{ "MAIL FROM:<a@elsewhere.test>\r\n", "250 2.1.0" },
	};
	static const struct sf_step accepted[] = {
		EHLO,
		{ "MAIL FROM:<alice@example.test>\r\n", "250 2.1.0" },
		{ "RCPT TO:<bob@example.test>\r\n", "250 2.1.5" },
	};

	sf_start(NULL);
	sf_dialogue("refused", SF_MX, refused, N(refused));
	sf_teardown();
	sf_setup();
	sf_start("trusted_networks 10.0.0.0/8,127.0.0.0/30\n");
	sf_dialogue("trusted", SF_MX, accepted, N(accepted));
	sf_teardown();
	sf_setup();
	sf_start("trusted_networks 127.0.0.2\n");
	sf_dialogue("not-trusted", SF_MX, refused, N(refused));
	sf_teardown();
	sf_setup();
	sf_start("local_sender_policy allow\n");
	sf_dialogue("allow", SF_MX, accepted, N(accepted));
}

/* The header section of the newest message of bob (up to its empty line). */
static char *bob_header(void)
{
	char *m = sf_message("bob", NULL), *end = strstr(m, "\r\n\r\n");

	cr_assert_not_null(end, "%s", m);
	end[2] = '\0';
	return m;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

Test(smtp_session, submission_adds_date_and_message_id)
{
	static const struct sf_step bare[] = {
		AUTH_ALICE,
		{ "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
		  "DATA\r\n", "250 2.1.0|250 2.1.5|354" },
		{ "Subject: bare\r\n\r\nbody\r\n.\r\n", "250 2.0.0" },
	};
	static const struct sf_step complete[] = {
		AUTH_ALICE,
		{ "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
		  "DATA\r\n", "250 2.1.0|250 2.1.5|354" },
		{ "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <m1@client>\r\n"
		  "Subject: complete\r\n\r\nbody\r\n.\r\n", "250 2.0.0" },
	};
	static const struct sf_step headers_only[] = {
		AUTH_ALICE,
		{ "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
		  "BDAT 20 LAST\r\nMessage-ID: <m2@c>\r\n",
		  "250 2.1.0|250 2.1.5|250 2.0.0" },
	};
	static const struct sf_step mx[] = {
		ENVELOPE,
		{ "RCPT TO:<bob@example.test>\r\nDATA\r\n", "250 2.1.5|354" },
		{ "Subject: from outside\r\n\r\nbody\r\n.\r\n", "250 2.0.0" },
	};
	char *h, *m;

	sf_start(NULL);
	sf_connect(SF_SUBMISSION);
	sf_run_steps("bare", bare, N(bare), 7);
	h = bob_header();
	cr_assert_not_null(strstr(h, "(authenticated as alice@example.test)"), "%s", h);
	cr_assert_not_null(strstr(h, "\r\nSubject: bare\r\nDate: "), "%s", h);
	cr_assert_not_null(strstr(h, "\r\nMessage-ID: <"), "%s", h);
	cr_assert_not_null(strstr(h, "@mx.example.test>\r\n"), "%s", h);
	m = sf_message("bob", NULL);
	cr_assert_not_null(strstr(m, "\r\n\r\nbody\r\n"), "%s", m);
	free(m);
	free(h);
	sf_connect(SF_SUBMISSION);
	sf_run_steps("complete", complete, N(complete), 1);
	h = bob_header();
	cr_assert_eq(count_of(h, "Date:"), 1, "%s", h);
	cr_assert_eq(count_of(h, "Message-ID:"), 1, "%s", h);
	cr_assert_not_null(strstr(h, "Message-ID: <m1@client>\r\nSubject: complete\r\n"), "%s", h);
	free(h);
	sf_connect(SF_SUBMISSION);
	sf_run_steps("headers-only", headers_only, N(headers_only), 2);
	m = sf_message("bob", NULL);
	cr_assert_not_null(strstr(m, "\r\nMessage-ID: <m2@c>\r\nDate: "), "%s", m);
	cr_assert_eq(count_of(m, "Message-ID:"), 1, "%s", m);
	free(m);
	sf_dialogue("mx", SF_MX, mx, N(mx));
	h = bob_header();
	cr_assert_null(strstr(h, "Date:"), "%s", h);
	cr_assert_null(strstr(h, "Message-ID:"), "%s", h);
	cr_assert_null(strstr(h, "authenticated"), "%s", h);
	free(h);
}

/* BDAT sizes that are not 1*DIGIT (RFC 3030 §2): a syntax error, and the
 * session ends, since the chunk that follows cannot be delimited. */
Test(smtp_session, bdat_size_syntax)
{
	static const char *const sizes[] = {
		"BDAT -1\r\n", "BDAT 0x10\r\n", "BDAT +5\r\n", "BDAT  5\r\n",
		"BDAT 5x\r\n", "BDAT\r\n", "BDAT \r\n", "BDAT 5 \r\n",
		"BDAT 5 LAST LAST\r\n", "BDAT 5 FIRST\r\n",
		"BDAT 000000000000000000005\r\n",
	};

	sf_start(NULL);
	for (size_t i = 0; i < N(sizes); i++) {
		const struct sf_step steps[] = {
			ENVELOPE,
			{ sizes[i], "501 5.5.4 Syntax: BDAT size [LAST]" },
		};

		sf_dialogue(sizes[i], SF_MX, steps, N(steps));
		cr_assert(sf_closed(), "%s", sizes[i]);
	}
	cr_assert_eq(sf_count("alice"), 0);
}
