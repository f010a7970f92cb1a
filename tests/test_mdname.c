/* tests/test_mdname.c: Maildir name building and parsing (pure functions). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "store/mdname.h"

Test(mdname, make_escapes_host)
{
	static const struct {
		const char *host, *expect;
	} rows[] = {
		{ "mail.example.org", "1700000000.M000042P123Q7.mail.example.org" },
		{ "a/b:c,d", "1700000000.M000042P123Q7.a\\057b\\072c\\054d" },
		{ "sp ace\x01", "1700000000.M000042P123Q7.sp_ace_" },
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cr_assert_eq(mdname_make(buf, sizeof(buf), 1700000000LL, 42, 123,
					 7, rows[i].host), 0);
		cr_expect_str_eq(buf, rows[i].expect, "row %zu", i);
		cr_expect_null(strchr(buf, '/'));
		cr_expect_null(strchr(buf, ':'));
	}
}

Test(mdname, make_too_long)
{
	char buf[16];

	cr_assert_eq(mdname_make(buf, sizeof(buf), 1700000000LL, 1, 1, 1,
				 "host"), -1);
	cr_assert_eq(errno, ENAMETOOLONG);
}

Test(mdname, fields)
{
	static const struct {
		const char *name;
		char key;
		int found;
		uint64_t val;
	} rows[] = {
		{ "1.M1P1Q1.h,S=120,W=124", 'S', 1, 120 },
		{ "1.M1P1Q1.h,S=120,W=124", 'W', 1, 124 },
		{ "1.M1P1Q1.h,S=120,W=124:2,S", 'W', 1, 124 },
		{ "1.M1P1Q1.h,W=5,S=7:2,", 'S', 1, 7 },
		{ "1.M1P1Q1.h", 'S', 0, 0 },
		{ "1.M1P1Q1.h,S=:2,S", 'S', 0, 0 },
		{ "1.M1P1Q1.h,S=12x", 'S', 0, 0 },
		{ "1.M1P1Q1.h:2,S=5", 'S', 0, 0 },
		{ "1.h,S=99999999999999999999999", 'S', 0, 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t v = 0;

		cr_expect_eq(mdname_field(rows[i].name, rows[i].key, &v),
			     rows[i].found, "row %zu", i);
		if (rows[i].found)
			cr_expect_eq(v, rows[i].val, "row %zu", i);
	}
}

Test(mdname, base_and_time)
{
	cr_expect_eq(mdname_base_len("123.abc:2,S"), 7);
	cr_expect_eq(mdname_base_len("123.abc"), 7);
	cr_expect_eq(mdname_time("1700000000.M1P2"), 1700000000LL);
	cr_expect_eq(mdname_time("abc"), 0);
}

Test(mdname, uidl)
{
	char a[MDNAME_UIDL_MAX + 1], b[MDNAME_UIDL_MAX + 1];
	char longname[200];

	cr_assert_eq(mdname_uidl("1.M1P1Q1.h,S=3,W=3:2,S", a), 0);
	cr_expect_str_eq(a, "1.M1P1Q1.h,S=3,W=3");

	memset(longname, 'x', 150);
	strcpy(longname + 150, ":2,S");
	cr_assert_eq(mdname_uidl(longname, a), 0);
	cr_expect_eq(strlen(a), 32);
	longname[150] = '\0';
	cr_assert_eq(mdname_uidl(longname, b), 0);
	cr_expect_str_eq(a, b, "flags do not change the hashed id");
	longname[0] = 'y';
	cr_assert_eq(mdname_uidl(longname, b), 0);
	cr_expect_str_neq(a, b);

	cr_assert_eq(mdname_uidl("sp ace", a), 0);
	cr_expect_eq(strlen(a), 32, "non-printable base is hashed");
}
