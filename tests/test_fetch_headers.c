/* tests/test_fetch_headers.c: the DomainPOP header scanner: each header
 * kind, folding, comments, groups, Received "for", skip_received,
 * duplicates, foreign domains, encoded words, Message-ID and the loop
 * guard; the Received field the fetcher writes (the POP3 multi-line body
 * decoder: tests/test_dotstuff.c). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/headers.h"
#include "fetch/trace.h"

static const char *const default_headers[] = {
	"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To",
	"Received", "To", "Cc", "Resent-To", "Resent-Cc",
};

/* Recipients of hdr as one comma-joined string ("" for none). */
static char *rcpts_of(const char *hdr, const char *const *headers, size_t n,
		      unsigned skip)
{
	struct fh_options o = {
		.domain = "example.test",
		.headers = headers,
		.n_headers = n,
		.skip_received = skip,
		.account = "acct",
	};
	struct fh_result r;
	char *out = calloc(1, 4096);

	cr_assert_eq(fh_parse(hdr, strlen(hdr), &o, &r), 0);
	for (size_t i = 0; i < r.n_rcpts; i++) {
		if (i > 0)
			strcat(out, ",");
		strcat(out, r.rcpts[i]);
	}
	fh_result_free(&r);
	return out;
}

Test(fetch_headers, recipients_table)
{
	static const struct {
		const char *hdr;
		unsigned skip;
		const char *want;
	} rows[] = {
		/* Each envelope header alone. */
		{ "Delivered-To: alice@example.test\r\n\r\nTo: x@example.test\r\n",
		  0, "alice@example.test" },
		{ "X-Original-To: Bob@Example.TEST\r\n", 0, "bob@example.test" },
		{ "Envelope-To: alice@example.test\r\n", 0, "alice@example.test" },
		{ "X-Envelope-To: <alice@example.test>\r\n", 0,
		  "alice@example.test" },
		/* Envelope headers win over To/Cc. */
		{ "To: bob@example.test\r\nDelivered-To: alice@example.test\r\n",
		  0, "alice@example.test" },
		/* Several Delivered-To lines: several recipients. */
		{ "Delivered-To: alice@example.test\r\nDelivered-To: bob@example.test\r\n",
		  0, "alice@example.test,bob@example.test" },
		/* An envelope header outside the domain falls through. */
		{ "Delivered-To: catchall@isp.test\r\nTo: bob@example.test\r\n",
		  0, "bob@example.test" },
		/* To and Cc form one group. */
		{ "To: Alice <alice@example.test>\r\nCc: bob@example.test\r\n", 0,
		  "alice@example.test,bob@example.test" },
		{ "Resent-To: alice@example.test\r\nResent-Cc: bob@example.test\r\n",
		  0, "alice@example.test,bob@example.test" },
		/* Folding. */
		{ "To: Alice\r\n <alice@example.test>,\r\n\tbob@example.test\r\n",
		  0, "alice@example.test,bob@example.test" },
		{ "To: alice@example.test,\n bob@example.test\n", 0,
		  "alice@example.test,bob@example.test" },
		/* Comments, nested, with addresses inside: ignored. */
		{ "To: (carol@example.test) alice@example.test (x (bob@example.test))\r\n",
		  0, "alice@example.test" },
		/* Quoted display names with commas and angle brackets. */
		{ "To: \"Doe, <carol@example.test>\" <alice@example.test>\r\n", 0,
		  "alice@example.test" },
		/* Groups. */
		{ "To: team: alice@example.test, bob@example.test;, carol@example.test\r\n",
		  0, "alice@example.test,bob@example.test,carol@example.test" },
		{ "To: undisclosed-recipients:;\r\nCc: bob@example.test\r\n", 0,
		  "bob@example.test" },
		/* Obsolete route. */
		{ "To: <@relay.test:alice@example.test>\r\n", 0,
		  "alice@example.test" },
		/* Received for <...>, before the date. */
		{ "Received: from a by b with ESMTP id 1 for <alice@example.test>; Mon, 1 Jan 2024 00:00:00 +0000\r\n",
		  0, "alice@example.test" },
		{ "Received: from a (for bob@example.test) by b\r\n for alice@example.test; d\r\n",
		  0, "alice@example.test" },
		{ "Received: from a by b; for <alice@example.test>\r\n", 0, "" },
		/* skip_received ignores the first N Received headers. */
		{ "Received: by isp for <bob@example.test>; d\r\nReceived: by x for <alice@example.test>; d\r\n",
		  1, "alice@example.test" },
		{ "Received: by isp for <bob@example.test>; d\r\nReceived: by x for <alice@example.test>; d\r\n",
		  0, "bob@example.test,alice@example.test" },
		{ "Received: by isp for <bob@example.test>; d\r\nTo: carol@example.test\r\n",
		  1, "carol@example.test" },
		/* Duplicates, in any case: once. */
		{ "To: alice@example.test, ALICE@example.test\r\nCc: Alice@Example.Test\r\n",
		  0, "alice@example.test" },
		/* Outside the domain: ignored. */
		{ "To: a@elsewhere.test, b@sub.example.test, c@example.test.evil\r\n",
		  0, "" },
		/* Encoded words never give an address. */
		{ "To: =?utf-8?q?alice@example.test?= <bob@example.test>\r\n", 0,
		  "bob@example.test" },
		{ "To: =?utf-8?q?alice@example.test?=\r\n", 0, "" },
		/* Junk and literals. */
		{ "To: <>, @, alice@[127.0.0.1], <alice@example.test\r\n", 0, "" },
		/* The body is not the header. */
		{ "Subject: x\r\n\r\nTo: alice@example.test\r\n", 0, "" },
		/* An mbox From_ line and a stray continuation are skipped. */
		{ "From sender Mon Jan 1\r\n continuation\r\nTo: alice@example.test\r\n",
		  0, "alice@example.test" },
		/* Header names match in any case. */
		{ "DELIVERED-TO: alice@example.test\r\n", 0, "alice@example.test" },
		{ "", 0, "" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *got = rcpts_of(rows[i].hdr, default_headers,
				     sizeof(default_headers) /
					     sizeof(default_headers[0]),
				     rows[i].skip);

		cr_expect_str_eq(got, rows[i].want, "row %zu: %s", i,
				 rows[i].hdr);
		free(got);
	}
}

Test(fetch_headers, configured_order_and_groups)
{
	static const char *const to_first[] = { "To", "Delivered-To" };
	static const char *const cc_only[] = { "Cc" };
	static const char *const split[] = { "To", "X-Custom", "Cc" };
	const char *hdr = "Delivered-To: alice@example.test\r\n"
			  "To: bob@example.test\r\nCc: carol@example.test\r\n"
			  "X-Custom: dave@example.test\r\n";
	char *got;

	got = rcpts_of(hdr, to_first, 2, 0);
	cr_expect_str_eq(got, "bob@example.test");
	free(got);
	got = rcpts_of(hdr, cc_only, 1, 0);
	cr_expect_str_eq(got, "carol@example.test");
	free(got);
	/* To and Cc are not next to each other: To alone decides. */
	got = rcpts_of(hdr, split, 3, 0);
	cr_expect_str_eq(got, "bob@example.test");
	free(got);
}

Test(fetch_headers, message_id_mark_and_delivered_to)
{
	static const struct {
		const char *hdr;
		const char *msgid; /* NULL: none */
		bool mark;
		size_t n_dt;
	} rows[] = {
		{ "Message-ID: <a@b>\r\n", "<a@b>", false, 0 },
		{ "Message-Id:\r\n <a@b> (comment)\r\nMessage-ID: <c@d>\r\n",
		  "<a@b>", false, 0 },
		{ "Message-ID: bare@token\r\n", "bare@token", false, 0 },
		{ "Message-ID: two words\r\n", NULL, false, 0 },
		{ "Message-ID:\r\n", NULL, false, 0 },
		{ "X-Kantorpos-Fetched: acct\r\n", NULL, true, 0 },
		{ "X-Kantorpos-Fetched:  acct \r\n", NULL, true, 0 },
		{ "X-Kantorpos-Fetched: other\r\n", NULL, false, 0 },
		{ "X-Kantorpos-Fetched: acct2\r\n", NULL, false, 0 },
		{ "Delivered-To: a@x.test\r\nDelivered-To: A@X.test\r\n", NULL,
		  false, 2 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fh_options o = { .account = "acct" };
		struct fh_result r;

		cr_assert_eq(fh_parse(rows[i].hdr, strlen(rows[i].hdr), &o, &r),
			     0);
		if (rows[i].msgid == NULL)
			cr_expect_null(r.message_id, "row %zu", i);
		else
			cr_expect_str_eq(r.message_id, rows[i].msgid, "row %zu",
					 i);
		cr_expect_eq(r.fetched_mark, rows[i].mark, "row %zu", i);
		cr_expect_eq(r.n_delivered_to, rows[i].n_dt, "row %zu", i);
		cr_expect_eq(r.n_rcpts, 0, "no domain, no recipients");
		fh_result_free(&r);
	}
}

Test(fetch_headers, loop_guard)
{
	static const struct {
		const char *hdr;
		const char *multipop; /* NULL: DomainPOP */
		bool loop;
	} rows[] = {
		{ "X-Kantorpos-Fetched: acct\r\n", NULL, true },
		{ "X-Kantorpos-Fetched: acct\r\n", "alice@example.test", true },
		/* Our own Received field, folded as we write it or not. */
		{ "Received: from [192.0.2.1]\r\n\tby mail.example.test with POP3 (account acct)\r\n\tid u1; Mon, 1 Jan 2024 00:00:00 +0000\r\n",
		  "alice@example.test", true },
		{ "Received: from pop.isp.test ([192.0.2.1]) by  MAIL.example.test\r\n with pop3\r\n (account acct); x\r\n",
		  NULL, true },
		/* Another account, another host, or only a similar name. */
		{ "Received: from x\r\n\tby mail.example.test with POP3 (account acct2); x\r\n",
		  NULL, false },
		{ "Received: from x\r\n\tby other.example.test with POP3 (account acct); x\r\n",
		  NULL, false },
		{ "Received: from x\r\n\tby sub.mail.example.test with POP3 (account acct); x\r\n",
		  NULL, false },
		{ "X-Other: by mail.example.test with POP3 (account acct)\r\n",
		  NULL, false },
		{ "X-Kantorpos-Fetched: other\r\n", "alice@example.test", false },
		{ "Delivered-To: alice@example.test\r\n", "alice@example.test",
		  true },
		{ "Delivered-To: Alice@EXAMPLE.test\r\n", "alice@example.test",
		  true },
		{ "Delivered-To: alice@isp.test\r\n", "alice@example.test", false },
		/* DomainPOP uses Delivered-To for recipients: only the same
		 * address twice is a loop. */
		{ "Delivered-To: alice@example.test\r\n", NULL, false },
		{ "Delivered-To: alice@example.test\r\nDelivered-To: bob@example.test\r\n",
		  NULL, false },
		{ "Delivered-To: alice@example.test\r\nX: y\r\nDelivered-To: alice@example.test\r\n",
		  NULL, true },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fh_options o = { .domain = "example.test",
					.account = "acct",
					.hostname = "mail.example.test" };
		struct fh_result r;

		cr_assert_eq(fh_parse(rows[i].hdr, strlen(rows[i].hdr), &o, &r),
			     0);
		cr_expect_eq(fh_loop_reason(&r, rows[i].multipop) != NULL,
			     rows[i].loop, "row %zu", i);
		fh_result_free(&r);
	}
}

Test(fetch_headers, received_field_we_write)
{
	static const struct {
		const char *pop_host, *peer, *id;
		const char *want;
	} rows[] = {
		{ "pop.isp.test", "192.0.2.7", "UID-1",
		  "Received: from pop.isp.test ([192.0.2.7])\r\n"
		  "\tby mail.example.test with POP3 (account acct)\r\n"
		  "\tid UID-1; Thu, 1 Feb 2024 10:20:30 +0000\r\n" },
		{ "pop.isp.test", "2001:db8::1", NULL,
		  "Received: from pop.isp.test ([IPv6:2001:db8::1])\r\n"
		  "\tby mail.example.test with POP3 (account acct);"
		  " Thu, 1 Feb 2024 10:20:30 +0000\r\n" },
		/* An address as the host: a literal, no TCP-info. */
		{ "127.0.0.1", "127.0.0.1", "a",
		  "Received: from [127.0.0.1]\r\n"
		  "\tby mail.example.test with POP3 (account acct)\r\n"
		  "\tid a; Thu, 1 Feb 2024 10:20:30 +0000\r\n" },
		{ "::1", "::1", "a",
		  "Received: from [IPv6:::1]\r\n"
		  "\tby mail.example.test with POP3 (account acct)\r\n"
		  "\tid a; Thu, 1 Feb 2024 10:20:30 +0000\r\n" },
		/* Every octet of a uid outside atext, and '=', encoded. */
		{ "h.test", NULL, "a(b)<c>;d=e\"f.g@h",
		  "Received: from h.test\r\n"
		  "\tby mail.example.test with POP3 (account acct)\r\n"
		  "\tid a=28b=29=3Cc=3E=3Bd=3De=22f=2Eg=40h;"
		  " Thu, 1 Feb 2024 10:20:30 +0000\r\n" },
		{ "h.test", NULL, "~hdr:0a!#$%&'*+-/?^_`{|}~",
		  "Received: from h.test\r\n"
		  "\tby mail.example.test with POP3 (account acct)\r\n"
		  "\tid ~hdr=3A0a!#$%&'*+-/?^_`{|}~;"
		  " Thu, 1 Feb 2024 10:20:30 +0000\r\n" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct ftrace_info t = {
			.pop_host = rows[i].pop_host,
			.peer = rows[i].peer,
			.hostname = "mail.example.test",
			.account = "acct",
			.id = rows[i].id,
			.when = 1706782830, /* 2024-02-01 10:20:30 UTC */
		};
		char buf[FTRACE_MAX];
		size_t n = ftrace_received(&t, buf, sizeof(buf));
		struct fh_options o = { .account = "acct",
					.hostname = "mail.example.test" };
		struct fh_result r;

		cr_expect_str_eq(buf, rows[i].want, "row %zu", i);
		cr_expect_eq(n, strlen(rows[i].want), "row %zu", i);
		/* The loop guard knows it again. */
		cr_assert_eq(fh_parse(buf, n, &o, &r), 0);
		cr_expect(r.fetched_mark, "row %zu", i);
		fh_result_free(&r);
		cr_expect_eq(ftrace_received(&t, buf, 40), 0, "too small");
	}
}

Test(fetch_headers, address_list_helper_dedups_and_filters)
{
	char keys[4][ADDR_KEY_SIZE];
	size_t n = 0;
	const char *v = "a@x.test, b@y.test, A@X.test, c@x.test, d@x.test, e@x.test";

	cr_expect_eq(fh_address_list(v, strlen(v), "x.test", keys, &n, 3), 3);
	cr_expect_eq(n, 3);
	cr_expect_str_eq(keys[0], "a@x.test");
	cr_expect_str_eq(keys[1], "c@x.test");
	cr_expect_str_eq(keys[2], "d@x.test");
	n = 0;
	cr_expect_eq(fh_address_list(v, strlen(v), NULL, keys, &n, 4), 4);
	cr_expect_str_eq(keys[1], "b@y.test");
}

/* Many addresses and long lines stay bounded. */
Test(fetch_headers, bounded_on_large_input)
{
	size_t len = 3 * 1024 * 1024;
	char *hdr = malloc(len + 1);
	struct fh_options o = {
		.domain = "example.test",
		.headers = default_headers,
		.n_headers = sizeof(default_headers) / sizeof(default_headers[0]),
	};
	struct fh_result r;
	size_t off;

	off = (size_t)sprintf(hdr, "To: ");
	for (unsigned i = 0; off + 40 < len; i++)
		off += (size_t)sprintf(hdr + off, "u%u@example.test,\r\n ", i);
	hdr[off] = '\0';
	cr_assert_eq(fh_parse(hdr, off, &o, &r), 0);
	cr_expect_leq(r.n_rcpts, FH_MAX_ADDRS);
	cr_expect_gt(r.n_rcpts, 0);
	fh_result_free(&r);
	free(hdr);
}

/* Where the header block ends, fed whole and growing byte by byte (as a
 * streamed RETR delivers it): the answer is 0 until the empty line is in. */
Test(headers, header_end)
{
	static const struct {
		const char *in;
		size_t end;
	} rows[] = {
		{ "", 0 },
		{ "\r\n", 2 },
		{ "\n", 1 },
		{ "\r\nbody\r\n\r\n", 2 },
		{ "A: b\r\n\r\nbody", 8 },
		{ "A: b\n\nbody", 6 },
		{ "A: b\r\n folded\r\nC: d\r\n\r\n", 23 },
		{ "A: b\r\nC: d\r\n", 0 },
		{ "A: b\r\n\r", 0 },
		{ "A: b\r\r\nC: d\r\n", 0 },
		{ "A: b\n\r\nx", 7 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = strlen(rows[i].in);

		cr_expect_eq(fh_header_end(rows[i].in, n), rows[i].end,
			     "row %zu: %zu", i, fh_header_end(rows[i].in, n));
		for (size_t k = 0; k < n; k++) {
			size_t got = fh_header_end(rows[i].in, k);

			cr_expect(got == 0 || got == rows[i].end,
				  "row %zu prefix %zu: %zu", i, k, got);
			cr_expect(got == 0 || k >= rows[i].end,
				  "row %zu prefix %zu: early", i, k);
		}
	}
}
