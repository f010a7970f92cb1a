/* tests/test_spf_macro.c: SPF macros (common/auth/spf_macro): the
 * examples of RFC 7208 §7.4, transformers, escapes, URL escaping, the
 * letters each context allows, domain-specs, and long expansions. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/auth/spf_macro.h"

/* §7.4: sender strong-bad@email.example.com, IPv4 192.0.2.3, PTR name
 * mx.example.org. */
static const struct spf_macro_vars v4 = {
	.s = "strong-bad@email.example.com", .l = "strong-bad",
	.o = "email.example.com", .d = "email.example.com",
	.i = "192.0.2.3", .p = "mx.example.org", .v = "in-addr",
	.h = "mx.example.org", .c = "192.0.2.3", .r = "mx.example.net",
	.t = "1700000000",
};

static const struct {
	const char *in, *out;
} rfc_examples[] = {
	{ "%{s}", "strong-bad@email.example.com" },
	{ "%{o}", "email.example.com" },
	{ "%{d}", "email.example.com" },
	{ "%{d4}", "email.example.com" },
	{ "%{d3}", "email.example.com" },
	{ "%{d2}", "example.com" },
	{ "%{d1}", "com" },
	{ "%{dr}", "com.example.email" },
	{ "%{d2r}", "example.email" },
	{ "%{l}", "strong-bad" },
	{ "%{l-}", "strong.bad" },
	{ "%{lr}", "strong-bad" },
	{ "%{lr-}", "bad.strong" },
	{ "%{l1r-}", "strong" },
	{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
	{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
	{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
	{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
	{ "%{d2}.trusted-domains.example.net",
	  "example.com.trusted-domains.example.net" },
};

static const char *expand(const char *in, enum spf_macro_ctx ctx,
			  const struct spf_macro_vars *v, char *out, size_t size)
{
	const char *why = NULL;
	int n = spf_macro_expand(in, strlen(in), ctx, v, out, size, &why);

	cr_assert_geq(n, 0, "%s: %s", in, why);
	cr_assert_eq((size_t)n, strlen(out), "%s", in);
	return out;
}

Test(spf_macro, rfc7208_examples)
{
	char out[512];

	for (size_t i = 0; i < sizeof(rfc_examples) / sizeof(rfc_examples[0]); i++) {
		const char *why = NULL;

		cr_expect_eq(spf_domain_spec_check(rfc_examples[i].in,
						   strlen(rfc_examples[i].in), &why),
			     0, "%s: %s", rfc_examples[i].in, why);
		cr_expect_str_eq(expand(rfc_examples[i].in, SPF_MACRO_DOMAIN, &v4,
					out, sizeof(out)),
				 rfc_examples[i].out, "%s", rfc_examples[i].in);
	}
}

/* §7.4's IPv6 example, 2001:db8::cb01. The nibbles are written in upper
 * case (the RFC's table shows lower case; a name compares without case,
 * RFC 4343, and the RFC's test suite expects upper case in an
 * explanation). */
Test(spf_macro, rfc7208_ipv6_example)
{
	struct spf_macro_vars v6 = v4;
	char out[512];

	v6.i = "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1";
	v6.v = "ip6";
	expand("%{ir}.%{v}._spf.%{d2}", SPF_MACRO_DOMAIN, &v6, out, sizeof(out));
	cr_expect(strcasecmp(out, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
				  "0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com") == 0,
		  "%s", out);
}

static const struct {
	const char *in;
	enum spf_macro_ctx ctx;
	const char *out;
} expansions[] = {
	{ "%%%_%-", SPF_MACRO_DOMAIN, "% %20" },
	{ "macro%%percent%_%_space%-url-space.example.com", SPF_MACRO_DOMAIN,
	  "macro%percent  space%20url-space.example.com" },
	{ "%{L}", SPF_MACRO_DOMAIN, "strong-bad" },
	{ "%{S}", SPF_MACRO_DOMAIN, "strong-bad%40email.example.com" },
	{ "%{D2R}", SPF_MACRO_DOMAIN, "example.email" },
	{ "%{d99}", SPF_MACRO_DOMAIN, "email.example.com" },
	{ "%{l+-}", SPF_MACRO_DOMAIN, "strong.bad" },
	{ "%{p}.%{h}", SPF_MACRO_DOMAIN, "mx.example.org.mx.example.org" },
	{ "%{c} at %{r}, %{t}", SPF_MACRO_EXP,
	  "192.0.2.3 at mx.example.net, 1700000000" },
	{ "%{C}", SPF_MACRO_EXP, "192.0.2.3" },
	{ "why: %{i}", SPF_MACRO_EXP, "why: 192.0.2.3" },
};

Test(spf_macro, expansions)
{
	char out[512];

	for (size_t i = 0; i < sizeof(expansions) / sizeof(expansions[0]); i++)
		cr_expect_str_eq(expand(expansions[i].in, expansions[i].ctx, &v4,
					out, sizeof(out)),
				 expansions[i].out, "%s", expansions[i].in);
}

Test(spf_macro, url_escaping)
{
	struct spf_macro_vars v = v4;
	char out[512];

	v.l = "~jack&jill=up-a_b3.c";
	expand("l=%{L}", SPF_MACRO_EXP, &v, out, sizeof(out));
	cr_expect_str_eq(out, "l=~jack%26jill%3Dup-a_b3.c");
	v.p = NULL;
	v.r = NULL;
	expand("%{p} %{r}", SPF_MACRO_EXP, &v, out, sizeof(out));
	cr_expect_str_eq(out, "unknown unknown");
}

static const struct {
	const char *in;
	enum spf_macro_ctx ctx;
	const char *why; /* NULL: well-formed */
} syntax[] = {
	{ "%{i}.example.com", SPF_MACRO_DOMAIN, NULL },
	{ "%(ir).sbl.example.com", SPF_MACRO_DOMAIN,
	  "\"%\" not followed by \"{\", \"%\", \"_\" or \"-\"" },
	{ "foo%", SPF_MACRO_DOMAIN, "\"%\" at the end" },
	{ "%{a}", SPF_MACRO_DOMAIN, "unknown macro letter" },
	{ "%{c}", SPF_MACRO_DOMAIN, "unknown macro letter" },
	{ "%{r}", SPF_MACRO_DOMAIN, "unknown macro letter" },
	{ "%{t}", SPF_MACRO_DOMAIN, "unknown macro letter" },
	{ "%{c}%{r}%{t}", SPF_MACRO_EXP, NULL },
	{ "%{c}", SPF_MACRO_MODIFIER, NULL },
	{ "%{d0}", SPF_MACRO_DOMAIN, "macro part count of zero" },
	{ "%{d2r", SPF_MACRO_DOMAIN, "bad macro" },
	{ "%{d2x}", SPF_MACRO_DOMAIN, "bad macro" },
	{ "a b", SPF_MACRO_DOMAIN, "bad character" },
	{ "a b", SPF_MACRO_EXP, NULL },
	{ "a\tb", SPF_MACRO_EXP, "bad character" },
	{ "\xef\xbb\xbf", SPF_MACRO_EXP, "bad character" },
};

Test(spf_macro, syntax)
{
	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++) {
		const char *why = NULL;
		int rc = spf_macro_check(syntax[i].in, strlen(syntax[i].in),
					 syntax[i].ctx, &why);

		if (syntax[i].why == NULL) {
			cr_expect_eq(rc, 0, "%s: %s", syntax[i].in, why);
		} else {
			cr_expect_eq(rc, -1, "%s", syntax[i].in);
			cr_expect_str_eq(why != NULL ? why : "", syntax[i].why, "%s",
					 syntax[i].in);
		}
	}
}

static const struct {
	const char *in;
	bool ok;
} specs[] = {
	{ "example.com", true },
	{ "example.com.", true },
	{ "%{d}", true },
	{ "%{d}.", false },
	{ "%{d}.com", true },
	{ "foo.%{d}com", false },
	{ "%%", true },
	{ "museum", false },
	{ "museum.", false },
	{ "foo-bar", false },
	{ "111.222.33.44", false },
	{ "abc.123", false },
	{ "example.-com", false },
	{ "example.com-", false },
	{ "example.com:8080", false },
	{ "foo:bar/baz.example.com", true },
	{ "foo.example.xn--zckzah", true },
	{ "example.1-2", true },
	{ "mail.example...com", true },
	{ "", false },
};

Test(spf_macro, domain_specs)
{
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		const char *why = NULL;

		cr_expect_eq(spf_domain_spec_check(specs[i].in, strlen(specs[i].in),
						   &why) == 0,
			     specs[i].ok, "%s: %s", specs[i].in, why);
	}
}

Test(spf_macro, uses_p)
{
	cr_expect(spf_macro_uses_p("%{p}.x.com", 10));
	cr_expect(spf_macro_uses_p("a%{P2r}", 7));
	cr_expect_not(spf_macro_uses_p("%{d}.p.com", 10));
	cr_expect_not(spf_macro_uses_p("%%{p}", 5));
}

/* A domain longer than the buffer keeps its right-hand end (§7.3 cuts
 * from the left); an explanation keeps its start. */
Test(spf_macro, long_expansions)
{
	const char *end = "email.example.com.end.example";
	char in[600], out[300];
	size_t n = 0;

	for (int k = 0; k < 40; k++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "%%{o}.");
	snprintf(in + n, sizeof(in) - n, "end.example");
	expand(in, SPF_MACRO_DOMAIN, &v4, out, sizeof(out));
	cr_expect_geq(strlen(out), sizeof(out) / 2);
	cr_expect(strlen(out) < sizeof(out));
	cr_expect_str_eq(out + strlen(out) - strlen(end), end);
	expand(in, SPF_MACRO_EXP, &v4, out, sizeof(out));
	cr_expect_eq(strlen(out), sizeof(out) - 1);
	cr_expect_eq(strncmp(out, "email.example.com.email", 23), 0);
}
