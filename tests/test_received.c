/* tests/test_received.c: the Return-Path + Received trace block. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/received.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(received, .init = setup, .fini = teardown);

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

Test(received, protocol_table)
{
	static const struct {
		bool esmtp, tls, auth, utf8;
		const char *kw;
	} rows[] = {
		{ false, false, false, false, "SMTP" },
		{ true, false, false, false, "ESMTP" },
		{ true, true, false, false, "ESMTPS" },
		{ true, false, true, false, "ESMTPA" },
		{ true, true, true, false, "ESMTPSA" },
		{ true, false, false, true, "UTF8SMTP" },
		{ true, true, true, true, "UTF8SMTPSA" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++)
		cr_assert_str_eq(received_protocol(rows[i].esmtp, rows[i].tls,
						   rows[i].auth, rows[i].utf8),
				 rows[i].kw, "row %zu", i);
}

Test(received, date_table)
{
	static const struct {
		time_t t;
		long off;
		const char *out;
	} rows[] = {
		{ 0, 0, "Thu, 1 Jan 1970 00:00:00 +0000" },
		{ 1739455509, 3600, "Thu, 13 Feb 2025 15:05:09 +0100" },
		{ 1739455509, -(5 * 3600 + 1800), "Thu, 13 Feb 2025 08:35:09 -0530" },
	};
	char buf[64];

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		received_date(rows[i].t, rows[i].off, buf, sizeof(buf));
		cr_assert_str_eq(buf, rows[i].out, "row %zu", i);
	}
}

Test(received, block_table)
{
	static const struct {
		const char *sender, *helo, *ip, *rcpt, *tlsv;
		bool esmtp, auth;
		const char *user; /* authenticated as */
		bool return_path;
		const char *out;
	} rows[] = {
		{ "a@b.example", "client.example", "127.0.0.1", "alice@example.test",
		  NULL, true, false, NULL, true,
		  "Return-Path: <a@b.example>\r\n"
		  "Received: from client.example ([127.0.0.1]) by mx.example.test with ESMTP\r\n"
		  "\tid ID1 for <alice@example.test>; Thu, 13 Feb 2025 14:05:09 +0000\r\n" },
		{ "", "x (evil; by fake)\r\nX-Injected: 1", "::1", NULL, "TLSv1.3",
		  true, true, NULL, true,
		  "Return-Path: <>\r\n"
		  "Received: from x??evil??by?fake???X-Injected:?1 ([IPv6:::1])\r\n"
		  "\tby mx.example.test (using TLSv1.3 with cipher C) with ESMTPSA id ID1;\r\n"
		  "\tThu, 13 Feb 2025 14:05:09 +0000\r\n" },
		{ "a@b", "[10.9.9.9]", "127.0.0.1", NULL, NULL, false, false, NULL,
		  true,
		  "Return-Path: <a@b>\r\n"
		  "Received: from [10.9.9.9] ([127.0.0.1]) by mx.example.test with SMTP id ID1;\r\n"
		  "\tThu, 13 Feb 2025 14:05:09 +0000\r\n" },
		/* Submitted (RFC 3848): the login in a comment before "by". */
		{ "alice@example.test", "vm", "127.0.0.1", "bob@example.test",
		  "TLSv1.3", true, true, "alice@example.test", true,
		  "Return-Path: <alice@example.test>\r\n"
		  "Received: from vm ([127.0.0.1]) (authenticated as alice@example.test)\r\n"
		  "\tby mx.example.test (using TLSv1.3 with cipher C) with ESMTPSA id ID1\r\n"
		  "\tfor <bob@example.test>; Thu, 13 Feb 2025 14:05:09 +0000\r\n" },
		{ "alice@example.test", "vm", "127.0.0.1", NULL, NULL, true, true,
		  "a(b)c\\d\r\ne f@example.test", true,
		  "Return-Path: <alice@example.test>\r\n"
		  "Received: from vm ([127.0.0.1]) (authenticated as a?b?c?d??e?f@example.test)\r\n"
		  "\tby mx.example.test with ESMTPA id ID1; Thu, 13 Feb 2025 14:05:09 +0000\r\n" },
		/* Relayed on (queued): no Return-Path (RFC 5321 §4.4). */
		{ "a@b.example", "client.example", "127.0.0.1", "x@held.test", NULL,
		  true, false, NULL, false,
		  "Received: from client.example ([127.0.0.1]) by mx.example.test with ESMTP\r\n"
		  "\tid ID1 for <x@held.test>; Thu, 13 Feb 2025 14:05:09 +0000\r\n" },
	};
	char buf[RECEIVED_MAX];

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct received_info ri = {
			.sender = rows[i].sender, .helo = rows[i].helo,
			.client_ip = rows[i].ip, .host = "mx.example.test",
			.id = "ID1", .for_rcpt = rows[i].rcpt,
			.tls_version = rows[i].tlsv, .tls_cipher = "C",
			.esmtp = rows[i].esmtp, .auth = rows[i].auth,
			.auth_user = rows[i].user,
			.return_path = rows[i].return_path,
			.when = 1739455509, .utc_offset = 0,
		};
		size_t n = received_format(&ri, buf, sizeof(buf));

		cr_assert_eq(n, strlen(rows[i].out), "row %zu: %s", i, buf);
		cr_assert_str_eq(buf, rows[i].out, "row %zu", i);
		/* Every line is short and ends in CRLF; no bare CR or LF. */
		for (char *p = buf; *p != '\0'; p++)
			if (*p == '\n')
				cr_assert_eq(p[-1], '\r', "row %zu", i);
	}
	cr_assert_eq(received_format(&(struct received_info){
				 .sender = "", .helo = "h", .client_ip = "1.2.3.4",
				 .host = "x", .id = "i" }, buf, 40), 0);
}

/* A local user's mail (kantorpos-sendmail): no client address, no EHLO,
 * the account and its uid, "with local". */
Test(received, local_user_table)
{
	static const struct {
		const char *user;
		unsigned long uid;
		const char *rcpt;
		const char *out;
	} rows[] = {
		{ "nobody", 65534, "alice@example.test",
		  "Received: from local user nobody (uid 65534) by mx.example.test (kantorpos)\r\n"
		  "\twith local id ID1 for <alice@example.test>; Thu, 13 Feb 2025 14:05:09 +0000\r\n" },
		{ "ev(il)\r\nX: 1", 1000, NULL,
		  "Received: from local user ev?il???X:?1 (uid 1000)\r\n"
		  "\tby mx.example.test (kantorpos) with local id ID1;\r\n"
		  "\tThu, 13 Feb 2025 14:05:09 +0000\r\n" },
	};
	char buf[RECEIVED_MAX];

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct received_info ri = {
			.sender = "nobody@example.test", .helo = "ignored",
			.client_ip = "", .host = "mx.example.test",
			.id = "ID1", .for_rcpt = rows[i].rcpt,
			.local_user = rows[i].user, .local_uid = rows[i].uid,
			.when = 1739455509, .utc_offset = 0,
		};
		size_t n = received_format(&ri, buf, sizeof(buf));

		cr_assert_eq(n, strlen(rows[i].out), "row %zu: %s", i, buf);
		cr_assert_str_eq(buf, rows[i].out, "row %zu", i);
	}
}
