/* tests/test_spf_verdict.c: the Received-SPF field (RFC 7208 §9.1) and the
 * reply text of a fail (§8.4). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/spf_verdict.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

static struct spf_verdict verdict(enum spf_result r, bool helo_id,
				  const char *identity, const char *ip,
				  const char *helo, const char *mech,
				  const char *problem)
{
	struct spf_verdict v = { .result = r, .helo_identity = helo_id };
	const char *at = strrchr(identity, '@');

	snprintf(v.identity, sizeof(v.identity), "%s", identity);
	snprintf(v.domain, sizeof(v.domain), "%s", at != NULL ? at + 1 : "");
	snprintf(v.client_ip, sizeof(v.client_ip), "%s", ip);
	snprintf(v.helo, sizeof(v.helo), "%s", helo);
	snprintf(v.mechanism, sizeof(v.mechanism), "%s", mech);
	snprintf(v.problem, sizeof(v.problem), "%s", problem);
	return v;
}

TestSuite(spf_verdict);

Test(spf_verdict, received_spf_table)
{
	static const struct {
		enum spf_result r;
		bool helo_id;
		const char *identity, *ip, *helo, *mech, *problem, *want;
	} rows[] = {
		{ SPF_PASS, false, "a@example.org", "192.0.2.1", "mx.example.org",
		  "ip4:192.0.2.0/24", "",
		  "Received-SPF: pass (mx.test: domain of a@example.org designates"
		  " 192.0.2.1 as\r\n permitted sender) receiver=mx.test;"
		  " client-ip=192.0.2.1;\r\n envelope-from=\"a@example.org\";"
		  " helo=mx.example.org; identity=mailfrom;\r\n"
		  " mechanism=\"ip4:192.0.2.0/24\";\r\n" },
		/* The null sender: the HELO identity, no envelope-from. */
		{ SPF_FAIL, true, "postmaster@h.example", "192.0.2.1",
		  "h.example", "-all", "",
		  "Received-SPF: fail (mx.test: domain of postmaster@h.example does"
		  " not designate\r\n 192.0.2.1 as permitted sender)"
		  " receiver=mx.test; client-ip=192.0.2.1;\r\n helo=h.example;"
		  " identity=helo; mechanism=-all;\r\n" },
		/* IPv6 has colons: quoted. No HELO known: no helo=. A
		 * problem of none is not written. */
		{ SPF_NONE, false, "b@example.org", "2001:db8::1", "", "",
		  "no SPF record",
		  "Received-SPF: none (mx.test: domain of b@example.org does not"
		  " designate\r\n permitted sender hosts) receiver=mx.test;"
		  " client-ip=\"2001:db8::1\";\r\n envelope-from=\"b@example.org\";"
		  " identity=mailfrom;\r\n" },
		{ SPF_PERMERROR, false, "c@example.org", "192.0.2.1", "[192.0.2.1]",
		  "", "more than one SPF record",
		  "Received-SPF: permerror (mx.test: permanent error in processing"
		  " domain of\r\n c@example.org) receiver=mx.test;"
		  " client-ip=192.0.2.1;\r\n envelope-from=\"c@example.org\";"
		  " helo=\"[192.0.2.1]\"; identity=mailfrom;\r\n"
		  " problem=\"more than one SPF record\";\r\n" },
		/* Quotes, backslashes and parentheses of a quoted local part
		 * are escaped where the grammar needs it; a control is "?". */
		{ SPF_SOFTFAIL, false, "\"x\\\"(y)\x01\"@example.org", "192.0.2.1",
		  "h", "~all", "",
		  "Received-SPF: softfail (mx.test: domain of transitioning\r\n"
		  " \"x\\\\\"\\(y\\)?\"@example.org does not designate 192.0.2.1"
		  " as permitted sender)\r\n receiver=mx.test;"
		  " client-ip=192.0.2.1;\r\n"
		  " envelope-from=\"\\\"x\\\\\\\"(y)?\\\"@example.org\"; helo=h;"
		  " identity=mailfrom;\r\n mechanism=~all;\r\n" },
		{ SPF_NEUTRAL, false, "d@example.org", "192.0.2.1", "h", "?all", "",
		  "Received-SPF: neutral (mx.test: 192.0.2.1 is neither permitted"
		  " nor denied by\r\n domain of d@example.org) receiver=mx.test;"
		  " client-ip=192.0.2.1;\r\n envelope-from=\"d@example.org\";"
		  " helo=h; identity=mailfrom; mechanism=?all;\r\n" },
		{ SPF_TEMPERROR, false, "e@example.org", "192.0.2.1", "h",
		  "include:slow.example", "DNS error",
		  "Received-SPF: temperror (mx.test: error in processing during"
		  " lookup of\r\n e@example.org) receiver=mx.test;"
		  " client-ip=192.0.2.1;\r\n envelope-from=\"e@example.org\";"
		  " helo=h; identity=mailfrom;\r\n"
		  " mechanism=\"include:slow.example\"; problem=\"DNS error\";\r\n" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct spf_verdict v = verdict(rows[i].r, rows[i].helo_id,
					       rows[i].identity, rows[i].ip,
					       rows[i].helo, rows[i].mech,
					       rows[i].problem);
		char buf[SPF_RECEIVED_MAX];
		size_t n = spf_received_format(&v, "mx.test", buf, sizeof(buf));

		cr_assert_gt(n, 0, "row %zu", i);
		cr_assert_str_eq(buf, rows[i].want, "row %zu:\n%s", i, buf);
		cr_assert_eq(n, strlen(rows[i].want), "row %zu", i);
		for (char *l = buf, *e; (e = strstr(l, "\r\n")) != NULL; l = e + 2)
			cr_assert_leq(e - l, 78, "row %zu: %.*s", i, (int)(e - l), l);
	}
}

/* Every line stays within 78 octets, and a field too big for the buffer
 * is refused, not cut. */
Test(spf_verdict, folded_and_bounded)
{
	struct spf_verdict v = verdict(SPF_PERMERROR, false, "", "192.0.2.1",
				       "", "", "");
	char buf[SPF_RECEIVED_MAX], local[65];
	size_t n, col = 0;

	memset(local, 'a', 64);
	local[64] = '\0';
	snprintf(v.identity, sizeof(v.identity), "%s@%s.%s.%s.example", local,
		 local, local, local);
	memset(v.problem, 'p', sizeof(v.problem) - 1);
	snprintf(v.mechanism, sizeof(v.mechanism), "redirect=%s.example", local);
	n = spf_received_format(&v, "mx.test", buf, sizeof(buf));
	cr_assert_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\r') {
			cr_assert_leq(col, 998);
			col = 0;
			i++;
			continue;
		}
		col++;
	}
	cr_assert_eq(spf_received_format(&v, "mx.test", buf, 100), 0);
}

Test(spf_verdict, fail_text)
{
	struct spf_verdict v = verdict(SPF_FAIL, false, "a@example.org",
				       "192.0.2.1", "h", "-all", "");
	char buf[400];

	spf_fail_text(&v, buf, sizeof(buf));
	cr_assert_str_eq(buf, "SPF: example.org does not designate 192.0.2.1"
			      " as permitted sender");
	snprintf(v.explanation, sizeof(v.explanation),
		 "192.0.2.1 may not\r\nsend for \xc3\xa9xample.org");
	spf_fail_text(&v, buf, sizeof(buf));
	cr_assert_str_eq(buf, "192.0.2.1 may not??send for ??xample.org");
	spf_fail_text(&v, buf, 10);
	cr_assert_str_eq(buf, "192.0.2.1");
}
