/* tests/test_spf_parse.c: SPF records (common/auth/spf_record): which
 * TXT strings are one, tables of records and the reason each bad one
 * gives, and the terms read from good ones. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <string.h>

#include "common/auth/spf_record.h"

static const struct {
	const char *txt;
	bool spf;
} versions[] = {
	{ "v=spf1", true },
	{ "v=spf1 -all", true },
	{ "V=SpF1 ~all", true },
	{ "v=spf10", false },
	{ "v=spf1-all", false },
	{ "v=spf2.0/pra", false },
	{ " v=spf1", false },
	{ "spf1", false },
};

Test(spf_record, version)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		cr_expect_eq(spf_record_is_spf(versions[i].txt,
					       strlen(versions[i].txt)),
			     versions[i].spf, "%s", versions[i].txt);
}

/* Records and the reason (NULL: good) and term a bad one blames. */
static const struct {
	const char *txt, *why, *at;
} records[] = {
	{ "v=spf1", NULL, NULL },
	{ "v=spf1 a  -all ", NULL, NULL },
	{ "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a:x.example/24//64 "
	  "mx//0 ptr ptr:example.com include:_spf.example.net "
	  "exists:%{ir}.bl.example.org ~all", NULL, NULL },
	{ "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all", NULL, NULL },
	{ "v=spf1 redirect=_spf.example.com exp=exp.%{d}", NULL, NULL },
	{ "v=spf1 default=+", NULL, NULL },
	{ "v=spf1 ip4:1.2.3.4 -all moo", "unknown mechanism", "moo" },
	{ "v=spf1 moo.cow/far_out=man:dog/cat", "unknown mechanism",
	  "moo.cow/far_out=man:dog/cat" },
	{ "v=spf1 redirect:example.com", "unknown mechanism",
	  "redirect:example.com" },
	{ "v=spf1 1up=foo", "unknown mechanism", "1up=foo" },
	{ "v=spf1 =all", "unknown mechanism", "=all" },
	{ "v=spf1 -all.", "unknown mechanism", "-all." },
	{ "v=spf1 -all/8", "unknown mechanism", "-all/8" },
	{ "v=spf1 a:ctrl.example.com\rptr -all",
	  "character not allowed in a record", NULL },
	{ "v=spf1 ip4:192.0.2.5\n include:x.example.com",
	  "character not allowed in a record", NULL },
	{ "v=spf1 \x80" "a:example.net", "character not allowed in a record",
	  NULL },
	{ "v=spf1 a:x.example//129", "bad CIDR length", "a:x.example//129" },
	{ "v=spf1 a/33", "bad CIDR length", "a/33" },
	{ "v=spf1 a/24/64", "bad CIDR length", "a/24/64" },
	{ "v=spf1 mx//129", "bad CIDR length", "mx//129" },
	{ "v=spf1 ip4:1.2.3.4/032", "bad CIDR length", "ip4:1.2.3.4/032" },
	{ "v=spf1 ip4:1.2.3.4//32", "bad CIDR length", "ip4:1.2.3.4//32" },
	{ "v=spf1 ip4:1.2.3.4/33", "bad CIDR length", "ip4:1.2.3.4/33" },
	{ "v=spf1 ip6:::1/129", "bad CIDR length", "ip6:::1/129" },
	{ "v=spf1 ip4", "bad ip4 network", "ip4" },
	{ "v=spf1 ip4:1.2.3", "bad ip4 network", "ip4:1.2.3" },
	{ "v=spf1 ip4:1.2.3.4:8080", "bad ip4 network", "ip4:1.2.3.4:8080" },
	{ "v=spf1 ip6::CAFE::BABE", "bad ip6 network", "ip6::CAFE::BABE" },
	{ "v=spf1 ptr/0", "unknown mechanism", "ptr/0" },
	{ "v=spf1 ptr:", "empty domain-spec", "ptr:" },
	{ "v=spf1 include", "missing domain-spec", "include" },
	{ "v=spf1 include:ip5.example.com/24",
	  "domain-spec does not end in a valid top label",
	  "include:ip5.example.com/24" },
	{ "v=spf1 exists", "missing domain-spec", "exists" },
	{ "v=spf1 a:111.222.33.44",
	  "domain-spec does not end in a valid top label", "a:111.222.33.44" },
	{ "v=spf1 exp= -all", "empty domain-spec", "exp=" },
	{ "v=spf1 redirect=-all ?all",
	  "domain-spec does not end in a valid top label", "redirect=-all" },
	{ "v=spf1 exp=%{r}.example.com", "unknown macro letter",
	  "exp=%{r}.example.com" },
	{ "v=spf1 foo=%abc",
	  "\"%\" not followed by \"{\", \"%\", \"_\" or \"-\"", "foo=%abc" },
	{ "v=spf1 exp=a.example.com exp=b.example.com", "modifier given twice",
	  "exp=b.example.com" },
	{ "v=spf1 redirect=a.example.com -all REDIRECT=a.example.com",
	  "modifier given twice", "REDIRECT=a.example.com" },
};

Test(spf_record, records)
{
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		const char *why = NULL, *txt = records[i].txt;
		struct spf_record r;
		struct spf_span at;
		int rc = spf_record_parse(txt, strlen(txt), &r, &why, &at);

		if (records[i].why == NULL) {
			cr_expect_eq(rc, 0, "%s: %s", txt, why);
			continue;
		}
		cr_expect_eq(rc, -1, "%s", txt);
		cr_expect_str_eq(why != NULL ? why : "", records[i].why, "%s", txt);
		if (records[i].at != NULL)
			cr_expect(at.len == strlen(records[i].at) &&
				  memcmp(at.p, records[i].at, at.len) == 0,
				  "%s: at %.*s", txt, (int)at.len, at.p);
	}
}

static bool span_is(struct spf_span sp, const char *s)
{
	return sp.len == strlen(s) && memcmp(sp.p, s, sp.len) == 0;
}

Test(spf_record, terms)
{
	const char *txt = "v=spf1 -ip4:192.0.2.0/24 ~a:x.example/24//64 ?mx "
			  "+ptr:Example.COM ip6:2001:db8::/32 "
			  "exp=e.%{d} redirect=r.example all";
	static const unsigned char net6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	struct spf_record r;
	struct spf_span at;
	struct spf_term t;
	const char *why = NULL;
	size_t pos = 0;

	cr_assert_eq(spf_record_parse(txt, strlen(txt), &r, &why, &at), 0, "%s", why);
	cr_expect(span_is(r.exp, "e.%{d}"));
	cr_expect(span_is(r.redirect, "r.example"));
	cr_expect_eq(r.dns_terms, 4);

	cr_assert_eq(spf_record_next(&r, &pos, &t), 1);
	cr_expect_eq(t.mech, SPF_MECH_IP4);
	cr_expect_eq(t.qual, SPF_FAIL);
	cr_expect_eq(t.cidr4, 24);
	cr_expect_eq(memcmp(t.net, "\xc0\x00\x02\x00", 4), 0);
	cr_expect(span_is(t.text, "-ip4:192.0.2.0/24"));

	cr_assert_eq(spf_record_next(&r, &pos, &t), 1);
	cr_expect_eq(t.mech, SPF_MECH_A);
	cr_expect_eq(t.qual, SPF_SOFTFAIL);
	cr_expect(span_is(t.spec, "x.example"));
	cr_expect(t.cidr4 == 24 && t.cidr6 == 64);

	cr_assert_eq(spf_record_next(&r, &pos, &t), 1);
	cr_expect(t.mech == SPF_MECH_MX && t.qual == SPF_NEUTRAL);
	cr_expect(t.spec.len == 0 && t.cidr4 == 32 && t.cidr6 == 128);

	cr_assert_eq(spf_record_next(&r, &pos, &t), 1);
	cr_expect(t.mech == SPF_MECH_PTR && t.qual == SPF_PASS);
	cr_expect(span_is(t.spec, "Example.COM"));

	cr_assert_eq(spf_record_next(&r, &pos, &t), 1);
	cr_expect(t.mech == SPF_MECH_IP6 && t.cidr6 == 32);
	cr_expect_eq(memcmp(t.net, net6, 16), 0);

	cr_assert_eq(spf_record_next(&r, &pos, &t), 1);
	cr_expect(t.mech == SPF_MODIFIER && span_is(t.name, "exp"));
	cr_assert_eq(spf_record_next(&r, &pos, &t), 1);
	cr_expect(t.mech == SPF_MODIFIER && span_is(t.value, "r.example"));
	cr_assert_eq(spf_record_next(&r, &pos, &t), 1);
	cr_expect(t.mech == SPF_MECH_ALL && t.qual == SPF_PASS);
	cr_expect_eq(spf_record_next(&r, &pos, &t), 0);
}
