/* tests/test_authres.c: the Authentication-Results field (common/auth/
 * authres): what the builder writes (folding, quoting, "none", misuse)
 * and the authserv-id read back from fields as other hosts write them
 * (comments, quoted strings, folding), for removing our own. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/auth/authres.h"

/* buf made size - 1 octets of c. */
static void fill(char *buf, size_t size, char c)
{
	memset(buf, c, size - 1);
	buf[size - 1] = '\0';
}

/* The field of one failed dkim result with reason. */
static const char *with_reason(struct authres *ar, const char *reason)
{
	size_t len;

	authres_begin(ar, "mx");
	authres_result(ar, "dkim", "fail");
	authres_reason(ar, reason);
	return authres_end(ar, &len);
}

Test(authres, the_example)
{
	struct authres ar;
	const char *f;
	size_t len = 0;

	authres_begin(&ar, "mx.example.test");
	authres_result(&ar, "spf", "pass");
	authres_prop(&ar, "smtp.mailfrom", "sender.test");
	authres_result(&ar, "dkim", "pass");
	authres_prop(&ar, "header.d", "sender.test");
	authres_prop(&ar, "header.s", "ed1");
	authres_prop(&ar, "header.b", "AbCd1234");
	authres_result(&ar, "dkim", "fail");
	authres_reason(&ar, "body hash did not verify");
	authres_prop(&ar, "header.d", "sender.test");
	authres_prop(&ar, "header.s", "rsa1");
	authres_result(&ar, "dmarc", "pass");
	authres_comment(&ar, "p=reject");
	authres_prop(&ar, "header.from", "sender.test");
	f = authres_end(&ar, &len);
	cr_assert_not_null(f);
	cr_expect_str_eq(f,
		"Authentication-Results: mx.example.test;\r\n"
		" spf=pass smtp.mailfrom=sender.test;\r\n"
		" dkim=pass header.d=sender.test header.s=ed1 header.b=AbCd1234;\r\n"
		" dkim=fail reason=\"body hash did not verify\" header.d=sender.test\r\n"
		"\theader.s=rsa1;\r\n"
		" dmarc=pass (p=reject) header.from=sender.test\r\n");
	cr_expect_eq(len, strlen(f));
}

/* Nothing checked: "none", the id quoted when it is no token. */
Test(authres, none)
{
	static const char *const rows[][2] = {
		{ "mx.example.test",
		  "Authentication-Results: mx.example.test; none\r\n" },
		{ "odd id", "Authentication-Results: \"odd id\"; none\r\n" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct authres ar;
		size_t len;

		authres_begin(&ar, rows[i][0]);
		cr_expect_str_eq(authres_end(&ar, &len), rows[i][1], "row %zu", i);
	}
}

/* Values: bare when a token or [local-part@]domain, else quoted. */
static const struct {
	const char *value, *written;
} values[] = {
	{ "example.test", "example.test" },
	{ "user@example.test", "user@example.test" },
	{ "first.last@example.test", "first.last@example.test" },
	{ "@example.test", "@example.test" },
	{ "AbCd1234", "AbCd1234" },
	{ "ab/cd+e=", "\"ab/cd+e=\"" },
	{ "a b", "\"a b\"" },
	{ "", "\"\"" },
	{ "say \"hi\"; \\o/", "\"say \\\"hi\\\"; \\\\o/\"" },
	{ "line\r\nbreak", "\"line  break\"" },
	{ "\"quoted\"@example.test", "\"\\\"quoted\\\"@example.test\"" },
	{ "a..b@example.test", "\"a..b@example.test\"" },
	{ "user@exa mple.test", "\"user@exa mple.test\"" },
};

Test(authres, values)
{
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct authres ar;
		char want[256];
		const char *f;
		size_t len;

		authres_begin(&ar, "mx");
		authres_result(&ar, "spf", "pass");
		authres_prop(&ar, "smtp.mailfrom", values[i].value);
		f = authres_end(&ar, &len);
		cr_assert_not_null(f, "row %zu", i);
		snprintf(want, sizeof(want),
			 "Authentication-Results: mx;\r\n spf=pass smtp.mailfrom=%s\r\n",
			 values[i].written);
		cr_expect_str_eq(f, want, "row %zu", i);
	}
}

Test(authres, reasons_and_comments_are_escaped)
{
	struct authres ar;
	size_t len;

	authres_begin(&ar, "mx");
	authres_result(&ar, "dkim", "permerror");
	authres_reason(&ar, "bad \"x\"; y");
	authres_comment(&ar, "a (b) \\ c");
	cr_expect_str_eq(authres_end(&ar, &len),
		"Authentication-Results: mx;\r\n"
		" dkim=permerror reason=\"bad \\\"x\\\"; y\" (a \\(b\\) \\\\ c)\r\n");
}

Test(authres, long_values_fold_and_stay_under_the_limit)
{
	struct authres ar;
	char big[2000];
	const char *f, *line;
	size_t len;

	fill(big, sizeof(big), 'a');
	authres_begin(&ar, "mx.example.test");
	for (int i = 0; i < 5; i++) {
		authres_result(&ar, "dkim", "fail");
		authres_reason(&ar, big);
		authres_prop(&ar, "header.d", "example.test");
		authres_prop(&ar, "header.s", "selector-with-a-longish-name");
		authres_prop(&ar, "header.b", "abcdefgh");
	}
	f = authres_end(&ar, &len);
	cr_assert_not_null(f);
	for (line = f; *line != '\0';) {
		const char *end = strstr(line, "\r\n");

		cr_assert_not_null(end);
		cr_expect((size_t)(end - line) <= 998, "line of %zu", (size_t)(end - line));
		cr_expect(line == f || line[0] == ' ' || line[0] == '\t');
		line = end + 2;
	}
}

Test(authres, misuse_and_overflow)
{
	struct authres ar;
	size_t len;
	char big[600];

	authres_begin(&ar, "mx");
	authres_prop(&ar, "smtp.mailfrom", "x");      /* before a result */
	cr_expect_null(authres_end(&ar, &len));
	authres_begin(&ar, "mx");
	authres_result(&ar, "spf", "pass;");          /* no keyword */
	cr_expect_null(authres_end(&ar, &len));
	authres_begin(&ar, "mx");
	authres_result(&ar, "spf", "pass");
	authres_prop(&ar, "mailfrom", "x");           /* no ptype */
	cr_expect_null(authres_end(&ar, &len));
	fill(big, sizeof(big), 'x');
	authres_begin(&ar, "mx");
	for (int i = 0; i < 40; i++) {
		authres_result(&ar, "dkim", "fail");
		authres_reason(&ar, big);
	}
	cr_expect_null(authres_end(&ar, &len), "8 KiB exceeded");
}

static const struct {
	const char *value, *id; /* id NULL: none read */
} ids[] = {
	{ " mx.example.test; spf=pass", "mx.example.test" },
	{ "mx.example.test;", "mx.example.test" },
	{ "mx.example.test 1; none", "mx.example.test" },
	{ " MX.Example.Test ;dkim=pass", "MX.Example.Test" },
	{ "\r\n mx.example.test;\r\n spf=pass", "mx.example.test" },
	{ " (a comment) mx.example.test; none", "mx.example.test" },
	{ " (nested (comment) \\) here)mx.example.test(more); none",
	  "mx.example.test" },
	{ " (folded\r\n comment)\r\n\tmx.example.test; none", "mx.example.test" },
	{ " \"mx.example.test\"; none", "mx.example.test" },
	{ " \"odd \\\"id\\\"\"; none", "odd \"id\"" },
	{ " \"\"; none", NULL },
	{ " \"unclosed; none", NULL },
	{ " (unclosed comment mx.example.test; none", NULL },
	{ "", NULL },
	{ "   ", NULL },
	{ " ; spf=pass", NULL },
	{ "mx.example.test", "mx.example.test" },
};

Test(authres, authserv_id)
{
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char out[AUTHRES_ID_MAX + 1] = "";
		int rc = authres_id_parse(ids[i].value, strlen(ids[i].value), out);

		if (ids[i].id == NULL) {
			cr_expect_eq(rc, -1, "row %zu: %s", i, out);
			continue;
		}
		cr_expect_eq(rc, 0, "row %zu", i);
		cr_expect_str_eq(out, ids[i].id, "row %zu", i);
	}
}

Test(authres, authserv_id_too_long)
{
	char v[AUTHRES_ID_MAX + 10], out[AUTHRES_ID_MAX + 1];

	fill(v, sizeof(v), 'a');
	cr_expect_eq(authres_id_parse(v, strlen(v), out), -1);
	v[AUTHRES_ID_MAX] = ';';
	cr_expect_eq(authres_id_parse(v, strlen(v), out), 0);
	cr_expect_eq(strlen(out), AUTHRES_ID_MAX);
}

/* Through the header reader: ours are found in any case and position,
 * folded or behind comments; others and other fields are kept. */
Test(authres, ours_in_a_header)
{
	const char *h =
		"Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
		"Authentication-Results: MX.EXAMPLE.TEST; dkim=pass\r\n"
		"authentication-results: other.test; spf=pass\r\n"
		"Authentication-Results:\r\n (forged) mx.example.test;\r\n dmarc=pass\r\n"
		"Subject: Authentication-Results: mx.example.test; none\r\n"
		"X-Authentication-Results: mx.example.test; none\r\n"
		"Authentication-Results: mx.example.test.evil; none\r\n"
		"\r\nbody\r\n";
	static const bool want[] = { false, true, false, true, false, false,
				     false };
	struct hdr_field f;
	size_t pos = 0, n = 0;

	while (hdr_next_field(h, strlen(h), &pos, &f)) {
		cr_assert(n < sizeof(want) / sizeof(want[0]));
		cr_expect_eq(authres_is_ours(&f, "mx.example.test"), want[n],
			     "field %zu", n);
		n++;
	}
	cr_expect_eq(n, sizeof(want) / sizeof(want[0]));
}

/* Escapes count against the cut, which never splits a UTF-8 sequence. */
Test(authres, cut_after_escaping)
{
	struct authres ar;
	char big[1200];
	const char *f, *q;

	fill(big, sizeof(big), '\\');
	f = with_reason(&ar, big);
	cr_assert_not_null(f);
	q = strchr(f, '"');
	cr_assert_not_null(q);
	cr_expect_eq(strchr(q + 1, '"') - q - 1, AUTHRES_VALUE_MAX);
	big[0] = 'a';                          /* the cut falls inside an é */
	for (size_t i = 1; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof(big) - 2] = '\0';
	f = with_reason(&ar, big);
	cr_assert_not_null(f);
	q = strchr(strchr(f, '"') + 1, '"');
	cr_expect((unsigned char)q[-1] == 0xa9, "ends on a whole é");
	cr_expect_eq(q - strchr(f, '"') - 1, AUTHRES_VALUE_MAX - 1);
}
