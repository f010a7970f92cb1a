/* tests/test_spf_eval.c: check_host() (common/auth/spf_eval) against
 * small zones in text (tests/helpers/spfzone.h): tables of zone and
 * input to result, term, explanation and reason; the limits of RFC 7208
 * §4.6.4; the questions asked and their shapes. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth/spf_eval.h"
#include "common/dns/dns_parse.h"
#include "tests/helpers/spfzone.h"

struct outcome {
	enum spf_result result;
	char mech[256], exp[256], why[128];
	unsigned queries;
	char asked[64][128]; /* "TYPE name" */
};

static void check(const char *zone, const char *ip, const char *sender,
		  const char *helo, struct outcome *o)
{
	struct spf_input in = { ip, sender, helo, "mx.receiver.example", 1234 };
	struct spfzone *z = spfzone_new();
	char *copy = strdup(zone), *save = NULL;
	struct spf_query q;
	struct spf *s;

	cr_assert_not_null(z);
	for (char *line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *why = NULL;

		cr_assert_eq(spfzone_add(z, line, &why), 0, "%s: %s", line, why);
	}
	free(copy);
	s = spf_new(&in);
	cr_assert_not_null(s);
	memset(o, 0, sizeof(*o));
	while (spf_step(s, &q) == 0) {
		struct dns_answer a;

		if (o->queries < 64)
			snprintf(o->asked[o->queries], sizeof(o->asked[0]), "%s %s",
				 dns_type_str(q.type), q.name);
		o->queries++;
		cr_assert_lt(o->queries, 200);
		spfzone_answer(z, q.name, q.type, &a);
		spf_answer(s, &a);
		dns_answer_free(&a);
	}
	o->result = spf_result(s);
	snprintf(o->mech, sizeof(o->mech), "%s", spf_mechanism(s));
	snprintf(o->exp, sizeof(o->exp), "%s",
		 spf_explanation(s) != NULL ? spf_explanation(s) : "-");
	snprintf(o->why, sizeof(o->why), "%s", spf_why(s));
	spf_free(s);
	spfzone_free(z);
}

static const struct {
	const char *name, *zone, *ip, *sender, *helo;
	enum spf_result result;
	const char *mech, *exp, *why;
} cases[] = {
	{ "ip4 pass", "a.test TXT \"v=spf1 ip4:192.0.2.0/24 -all\"",
	  "192.0.2.9", "u@a.test", "h.test", SPF_PASS, "ip4:192.0.2.0/24", "-", "" },
	{ "fail with exp", "a.test TXT \"v=spf1 -all exp=why.%{d}\"\n"
	  "why.a.test TXT \"%{l} may not send from %{c} (%{r}, %{t})\"",
	  "2001:db8::7", "joe@a.test", "h.test", SPF_FAIL, "-all",
	  "joe may not send from 2001:db8::7 (mx.receiver.example, 1234)", "" },
	{ "no record", "a.test TXT \"hello\"", "192.0.2.1", "u@a.test", "h",
	  SPF_NONE, "", "-", "no SPF record" },
	{ "nxdomain", "", "192.0.2.1", "u@a.test", "h", SPF_NONE, "", "-",
	  "no SPF record" },
	{ "helo identity", "h.test TXT \"v=spf1 a -all\"\nh.test A 192.0.2.1",
	  "192.0.2.1", "", "h.test", SPF_PASS, "a", "-", "" },
	{ "domain literal", "", "192.0.2.1", "u@[192.0.2.1]", "h", SPF_NONE,
	  "", "-", "not a domain SPF can check" },
	{ "timeout", "a.test TIMEOUT", "192.0.2.1", "u@a.test", "h",
	  SPF_TEMPERROR, "", "-", "DNS error looking up the SPF record" },
	{ "two records", "a.test TXT \"v=spf1 -all\"\na.test TXT \"v=spf1 +all\"",
	  "192.0.2.1", "u@a.test", "h", SPF_PERMERROR, "", "-",
	  "more than one SPF record" },
	{ "NUL in TXT", "a.test TXT \"v=spf1 a:b.test\\000\"", "192.0.2.1",
	  "u@a.test", "h", SPF_PERMERROR, "", "-",
	  "TXT records that cannot all be read" },
	{ "syntax error", "a.test TXT \"v=spf1 ip4:192.0.2.1 moo\"", "192.0.2.1",
	  "u@a.test", "h", SPF_PERMERROR, "moo", "-", "unknown mechanism" },
	{ "default neutral", "a.test TXT \"v=spf1 ip4:198.51.100.1\"",
	  "192.0.2.1", "u@a.test", "h", SPF_NEUTRAL, "", "-", "" },
	{ "mx with cidr", "a.test TXT \"v=spf1 mx/24 -all\"\n"
	  "a.test MX 20 m2.a.test\na.test MX 10 m1.a.test\n"
	  "m1.a.test A 198.51.100.1\nm2.a.test A 192.0.2.200",
	  "192.0.2.1", "u@a.test", "h", SPF_PASS, "mx/24", "-", "" },
	{ "mx host timeout", "a.test TXT \"v=spf1 mx -all\"\n"
	  "a.test MX 10 m.a.test\nm.a.test TIMEOUT", "192.0.2.1", "u@a.test",
	  "h", SPF_TEMPERROR, "mx", "-", "DNS error looking up an address" },
	{ "include pass", "a.test TXT \"v=spf1 include:b.test -all\"\n"
	  "b.test TXT \"v=spf1 ip4:192.0.2.1 -all exp=x.b.test\"",
	  "192.0.2.1", "u@a.test", "h", SPF_PASS, "include:b.test", "-", "" },
	{ "include fail is no match", "a.test TXT \"v=spf1 include:b.test ~all\"\n"
	  "b.test TXT \"v=spf1 -all\"", "192.0.2.1", "u@a.test", "h",
	  SPF_SOFTFAIL, "~all", "-", "" },
	{ "include none", "a.test TXT \"v=spf1 include:b.test -all\"",
	  "192.0.2.1", "u@a.test", "h", SPF_PERMERROR, "include:b.test", "-",
	  "include of a domain without an SPF record" },
	{ "include temperror", "a.test TXT \"v=spf1 include:b.test -all\"\n"
	  "b.test TIMEOUT", "192.0.2.1", "u@a.test", "h", SPF_TEMPERROR,
	  "include:b.test", "-", "DNS error looking up the SPF record" },
	{ "redirect exp", "a.test TXT \"v=spf1 exp=e.a.test redirect=b.test\"\n"
	  "e.a.test TXT \"not me\"\nb.test TXT \"v=spf1 -all exp=e.b.test\"\n"
	  "e.b.test TXT \"from %{d}\"", "192.0.2.1", "u@a.test", "h", SPF_FAIL,
	  "-all", "from b.test", "" },
	{ "redirect none", "a.test TXT \"v=spf1 redirect=b.test\"", "192.0.2.1",
	  "u@a.test", "h", SPF_PERMERROR, "redirect=b.test", "-",
	  "redirect to a domain without an SPF record" },
	{ "exists", "a.test TXT \"v=spf1 -exists:%{ir}.bl.test +all\"\n"
	  "1.2.0.192.bl.test A 127.0.0.2", "192.0.2.1", "u@a.test", "h",
	  SPF_FAIL, "-exists:%{ir}.bl.test", "-", "" },
	{ "ptr", "a.test TXT \"v=spf1 ptr -all\"\n"
	  "1.2.0.192.in-addr.arpa PTR other.test\n"
	  "1.2.0.192.in-addr.arpa PTR mail.a.test\nmail.a.test A 192.0.2.1",
	  "192.0.2.1", "u@a.test", "h", SPF_PASS, "ptr", "-", "" },
	{ "p macro", "a.test TXT \"v=spf1 -all exp=e.a.test\"\n"
	  "e.a.test TXT \"host %{p}\"\n"
	  "1.2.0.192.in-addr.arpa PTR other.test\n"
	  "1.2.0.192.in-addr.arpa PTR mail.a.test\nmail.a.test A 192.0.2.1\n"
	  "other.test A 192.0.2.1", "192.0.2.1", "u@a.test", "h", SPF_FAIL,
	  "-all", "host mail.a.test", "" },
	{ "mapped address", "a.test TXT \"v=spf1 ip4:192.0.2.1 -all\"",
	  "::ffff:192.0.2.1", "u@a.test", "h", SPF_PASS, "ip4:192.0.2.1", "-", "" },
	{ "bad name is no match", "a.test TXT \"v=spf1 a:x..a.test -all\"",
	  "192.0.2.1", "u@a.test", "h", SPF_FAIL, "-all", "-", "" },
	{ "void limit", "a.test TXT \"v=spf1 a:n1.test a:n2.test a:n3.test\"",
	  "192.0.2.1", "u@a.test", "h", SPF_PERMERROR, "a:n3.test", "-",
	  "more than 2 void DNS lookups" },
	{ "term limit", "a.test TXT \"v=spf1 a a a a a a a a a a a -all\"\n"
	  "a.test A 198.51.100.1", "192.0.2.1", "u@a.test", "h", SPF_PERMERROR,
	  "a", "-", "more than 10 DNS lookups" },
	{ "include limit", "a.test TXT \"v=spf1 include:b.test include:b.test "
	  "include:b.test include:b.test include:b.test include:b.test "
	  "include:b.test include:b.test include:b.test include:b.test "
	  "include:b.test -all\"\nb.test TXT \"v=spf1 ?all\"",
	  "192.0.2.1", "u@a.test", "h", SPF_PERMERROR, "include:b.test", "-",
	  "more than 10 DNS lookups" },
	{ "exp with i and d", "a.test TXT \"v=spf1 -all exp=e.test\"\n"
	  "e.test TXT \"%{i} is not one of %{d}'s\"", "192.0.2.1", "u@a.test",
	  "h", SPF_FAIL, "-all", "192.0.2.1 is not one of a.test's", "" },
	{ "mx limit", "a.test TXT \"v=spf1 mx\"\na.test MX 0 m0.test\n"
	  "a.test MX 1 m1.test\na.test MX 2 m2.test\na.test MX 3 m3.test\n"
	  "a.test MX 4 m4.test\na.test MX 5 m5.test\na.test MX 6 m6.test\n"
	  "a.test MX 7 m7.test\na.test MX 8 m8.test\na.test MX 9 m9.test\n"
	  "a.test MX 10 m10.test\nm10.test A 192.0.2.1", "192.0.2.1",
	  "u@a.test", "h", SPF_PERMERROR, "mx", "-",
	  "more than 10 MX hosts to look up" },
};

Test(spf_eval, table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome o;

		check(cases[i].zone, cases[i].ip, cases[i].sender, cases[i].helo, &o);
		cr_expect_eq(o.result, cases[i].result, "%s: %s (%s)", cases[i].name,
			     spf_result_str(o.result), o.why);
		cr_expect_str_eq(o.mech, cases[i].mech, "%s", cases[i].name);
		cr_expect_str_eq(o.exp, cases[i].exp, "%s", cases[i].name);
		cr_expect_str_eq(o.why, cases[i].why, "%s", cases[i].name);
	}
}

/* The same name and type queried by several terms is asked once; the
 * PTR question names the address literal. */
Test(spf_eval, questions)
{
	struct outcome o;

	check("a.test TXT \"v=spf1 a a mx a ptr:x.test -all\"\n"
	      "a.test A 198.51.100.1\na.test AAAA 2001:db8::99\n"
	      "a.test MX 10 a.test",
	      "2001:db8::1", "u@a.test", "h", &o);
	cr_expect_eq(o.result, SPF_FAIL);
	cr_expect_eq(o.queries, 4);
	cr_expect_str_eq(o.asked[0], "TXT a.test");
	cr_expect_str_eq(o.asked[1], "AAAA a.test");
	cr_expect_str_eq(o.asked[2], "MX a.test");
	cr_expect_str_eq(o.asked[3], "PTR 2001:db8::1");
}

/* exp= is looked up only for a fail, and after the result is known. */
Test(spf_eval, exp_only_on_fail)
{
	struct outcome o;

	check("a.test TXT \"v=spf1 ~all exp=e.a.test\"\ne.a.test TXT \"x\"",
	      "192.0.2.1", "u@a.test", "h", &o);
	cr_expect_eq(o.result, SPF_SOFTFAIL);
	cr_expect_eq(o.queries, 1);
	cr_expect_str_eq(o.exp, "-");
}

/* The caller's time limit ends a check waiting for an answer. */
Test(spf_eval, give_up)
{
	struct spf_input in = { "192.0.2.1", "u@a.test", "h", NULL, 0 };
	struct spf *s = spf_new(&in);
	struct spf_query q;

	cr_assert_not_null(s);
	cr_assert_eq(spf_step(s, &q), 0);
	cr_expect_str_eq(q.name, "a.test");
	cr_expect_eq(q.type, DNS_T_TXT);
	spf_give_up(s);
	cr_expect_eq(spf_step(s, &q), 1);
	cr_expect_eq(spf_result(s), SPF_TEMPERROR);
	cr_expect_str_eq(spf_why(s), "took too long");
	spf_free(s);
}

Test(spf_eval, bad_input)
{
	struct spf_input in = { "not-an-address", "u@a.test", "h", NULL, 0 };

	errno = 0;
	cr_expect_null(spf_new(&in));
	cr_expect_eq(errno, EINVAL);
	in.ip = NULL;
	cr_expect_null(spf_new(&in));
}

Test(spf_eval, sender_forms)
{
	struct outcome o;

	/* no local-part: postmaster */
	check("a.test TXT \"v=spf1 -all exp=e.a.test\"\ne.a.test TXT \"%{s}\"",
	      "192.0.2.1", "@a.test", "h", &o);
	cr_expect_str_eq(o.exp, "postmaster@a.test");
	check("h.test TXT \"v=spf1 -all exp=e.h.test\"\ne.h.test TXT \"%{s}\"",
	      "192.0.2.1", NULL, "h.test", &o);
	cr_expect_str_eq(o.exp, "postmaster@h.test");
	check("", "192.0.2.1", "", "single", &o);
	cr_expect_eq(o.result, SPF_NONE);
	cr_expect_eq(o.queries, 0);
}
