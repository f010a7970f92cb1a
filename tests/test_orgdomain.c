/* tests/test_orgdomain.c: the Organizational Domain (common/auth/
 * orgdomain) over the Debian Public Suffix List, both of its files: plain,
 * wildcard and exception rules, the private section, unknown suffixes,
 * case, the final dot, A-labels, names that are no domain names; and
 * relaxed and strict alignment. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <string.h>

#include "common/auth/orgdomain.h"

static const struct {
	const char *name, *org;  /* org NULL: no domain name */
} orgs[] = {
	{ "example.com", "example.com" },
	{ "mail.example.com", "example.com" },
	{ "a.b.c.example.com", "example.com" },
	{ "mail.example.co.uk", "example.co.uk" },
	{ "co.uk", "co.uk" },                    /* a suffix: itself */
	{ "uk", "uk" },
	{ "x.example.test", "example.test" },    /* no rule: "*" */
	{ "example.test", "example.test" },
	{ "a.b.ck", "a.b.ck" },                  /* *.ck */
	{ "b.ck", "b.ck" },
	{ "www.ck", "www.ck" },                  /* !www.ck */
	{ "x.www.ck", "www.ck" },
	{ "foo.city.kawasaki.jp", "city.kawasaki.jp" },
	{ "foo.bar.kawasaki.jp", "foo.bar.kawasaki.jp" },
	{ "user.github.io", "user.github.io" },  /* private section */
	{ "www.user.github.io", "user.github.io" },
	{ "MAIL.Example.CO.UK", "example.co.uk" },
	{ "mail.example.co.uk.", "example.co.uk" },
	{ "a.sub.xn--djty4k.jp", "sub.xn--djty4k.jp" }, /* 岩手.jp */
	{ "www.example.xn--p1ai", "example.xn--p1ai" },
	{ "", NULL },
	{ ".", NULL },
	{ "..", NULL },
	{ "a..example.com", NULL },
	{ ".example.com", NULL },
	{ "exa mple.com", NULL },
	{ "example.com..", NULL },
	{ "a\tb.com", NULL },
	{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.com",
	  NULL },                                /* a 64-octet label */
};

static void check_orgs(const char *list)
{
	char err[256];
	struct orgdomain *od = orgdomain_load(list, err, sizeof(err));

	cr_assert_not_null(od, "%s", err);
	for (size_t i = 0; i < sizeof(orgs) / sizeof(orgs[0]); i++) {
		char out[ORGDOMAIN_NAME_MAX + 1] = "";
		int rc = orgdomain_get(od, orgs[i].name, out);

		if (orgs[i].org == NULL) {
			cr_expect_eq(rc, -1, "%s: row %zu", list, i);
			continue;
		}
		cr_expect_eq(rc, 0, "%s: row %zu", list, i);
		cr_expect_str_eq(out, orgs[i].org, "%s: row %zu (%s)", list, i,
				 orgs[i].name);
	}
	orgdomain_free(od);
}

Test(orgdomain, dafsa)
{
	check_orgs(ORGDOMAIN_LIST_DEFAULT);
}

Test(orgdomain, text_list)
{
	check_orgs("/usr/share/publicsuffix/public_suffix_list.dat");
}

Test(orgdomain, missing_list)
{
	char err[256] = "";

	cr_expect_null(orgdomain_load("/nonexistent/list.dat", err, sizeof(err)));
	cr_expect(strstr(err, "/nonexistent/list.dat") != NULL, "%s", err);
}

Test(orgdomain, long_names)
{
	char name[300], out[ORGDOMAIN_NAME_MAX + 1];
	struct orgdomain *od = orgdomain_load(NULL, name, sizeof(name));

	cr_assert_not_null(od);
	/* 63 + 1 + 63 + 1 + 63 + 1 + 57 + ".com" = 253 octets: the longest. */
	memset(name, 'a', 253);
	name[63] = name[127] = name[191] = '.';
	memcpy(name + 249, ".com", 5);
	cr_expect_eq(orgdomain_get(od, name, out), 0);
	cr_expect_eq(strlen(out), 57 + 4);
	name[253] = '.';
	name[254] = '\0';
	cr_expect_eq(orgdomain_get(od, name, out), 0, "a final dot beyond 253");
	memmove(name + 1, name, 255);
	name[0] = 'b';
	cr_expect_eq(orgdomain_get(od, name, out), -1, "254 octets");
	orgdomain_free(od);
}

static const struct {
	const char *id, *from;
	bool relaxed, strict;
} aligns[] = {
	{ "example.com", "example.com", true, true },
	{ "EXAMPLE.com.", "example.COM", true, true },
	{ "mail.example.com", "example.com", true, false },
	{ "example.com", "news.example.com", true, false },
	{ "a.example.com", "b.example.com", true, false },
	{ "example.net", "example.com", false, false },
	{ "example.co.uk", "x.example.co.uk", true, false },
	{ "co.uk", "example.co.uk", false, false },
	{ "other.co.uk", "example.co.uk", false, false },
	{ "a.github.io", "b.github.io", false, false },
	{ "www.a.github.io", "a.github.io", true, false },
	{ "", "example.com", false, false },
	{ "a..example.com", "example.com", false, false },
};

Test(orgdomain, alignment)
{
	char err[256];
	struct orgdomain *od = orgdomain_load(NULL, err, sizeof(err));

	cr_assert_not_null(od, "%s", err);
	for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
		cr_expect_eq(orgdomain_aligned(od, aligns[i].id, aligns[i].from,
					       false), aligns[i].relaxed,
			     "relaxed row %zu", i);
		cr_expect_eq(orgdomain_aligned(od, aligns[i].id, aligns[i].from,
					       true), aligns[i].strict,
			     "strict row %zu", i);
	}
	orgdomain_free(od);
}
