/* tests/test_dkim_sig.c: the DKIM tag-list (common/auth/dkim_tags), the
 * DKIM-Signature value (dkim_sig) and the key record (dkim_key): tables
 * of values and the reason each bad one gives. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <string.h>

#include "common/auth/dkim_key.h"
#include "common/auth/dkim_sig.h"
#include "common/auth/dkim_tags.h"

Test(dkim_tags, list)
{
	struct dkim_taglist t;
	const char *why = NULL, *s = " a = 1 ;b=x\r\n y;c=;\r\n\t";
	const struct dkim_tag *b;

	cr_assert_eq(dkim_tags_parse(s, strlen(s), &t, &why), 0, "%s", why);
	cr_expect_eq(t.n, 3);
	cr_expect(dkim_tag_is(dkim_tags_get(&t, "a"), "1"));
	b = dkim_tags_get(&t, "b");
	cr_expect(dkim_tag_is(b, "x\r\n y"));
	cr_expect_eq(b->raw_start, 10);
	cr_expect_eq(b->raw_end, 15);
	cr_expect(dkim_tag_is(dkim_tags_get(&t, "c"), ""));
	cr_expect_null(dkim_tags_get(&t, "A"));
}

static const struct {
	const char *in, *why;
} bad_lists[] = {
	{ "", "bad tag name" },
	{ "a=1; a=2", "duplicate tag" },
	{ "1a=x", "bad tag name" },
	{ "a", "tag without \"=\"" },
	{ "a=1;;b=2", "bad tag name" },
	{ "a=x\r\ny", "bad character in tag value" },
	{ "a=\x80", "bad character in tag value" },
};

Test(dkim_tags, bad_lists)
{
	for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
		struct dkim_taglist t;
		const char *why = NULL;

		cr_expect_eq(dkim_tags_parse(bad_lists[i].in, strlen(bad_lists[i].in),
					     &t, &why), -1, "row %zu", i);
		cr_expect_str_eq(why != NULL ? why : "", bad_lists[i].why, "row %zu", i);
	}
}

#define BH "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; "
#define GOOD "v=1; a=rsa-sha256; d=example.test; s=sel; h=from:to; " BH

Test(dkim_sig, good)
{
	const char *v = "v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
			" d=football.example.com; i=joe@sub.football.example.com;\r\n"
			" q=dns/txt; s=brisbane; t=1528637909; x=1528637999; l=5;\r\n"
			" h=from : to :\r\n subject;\r\n " BH
			"b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
			" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n";
	struct dkim_sig sig;
	const char *why = NULL;

	cr_assert_eq(dkim_sig_parse(v, strlen(v), &sig, &why), 0, "%s", why);
	cr_expect_eq(sig.alg, DKIM_ED25519_SHA256);
	cr_expect_eq(sig.hcanon, DKIM_CANON_RELAXED);
	cr_expect_eq(sig.bcanon, DKIM_CANON_RELAXED);
	cr_expect_str_eq(sig.d, "football.example.com");
	cr_expect_str_eq(sig.s, "brisbane");
	cr_expect_eq(sig.b_len, 64);
	cr_expect_eq(sig.bh_len, 32);
	cr_expect_eq(sig.h.n, 3);
	cr_expect_eq(sig.h.name[2].len, 7);
	cr_expect_eq(memcmp(sig.h.name[2].p, "subject", 7), 0);
	cr_expect(sig.has_l && sig.l == 5 && sig.t == 1528637909 && sig.has_x);
	cr_expect_eq(sig.i_len, strlen("joe@sub.football.example.com"));
}

static const struct {
	const char *in;
	enum dkim_canon h, b;
} canons[] = {
	{ GOOD "b=AAAA", DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE },
	{ GOOD "c=relaxed; b=AAAA", DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE },
	{ GOOD "c=simple/relaxed; b=AAAA", DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED },
};

Test(dkim_sig, canonicalizations)
{
	for (size_t i = 0; i < sizeof(canons) / sizeof(canons[0]); i++) {
		struct dkim_sig sig;
		const char *why = NULL;

		cr_assert_eq(dkim_sig_parse(canons[i].in, strlen(canons[i].in),
					    &sig, &why), 0, "row %zu: %s", i, why);
		cr_expect_eq(sig.hcanon, canons[i].h, "row %zu", i);
		cr_expect_eq(sig.bcanon, canons[i].b, "row %zu", i);
	}
}

static const struct {
	const char *in, *why;
} bad_sigs[] = {
	{ "a=rsa-sha256; d=example.test; s=sel; h=from; " BH "b=AAAA",
	  "missing tag v=" },
	{ "v=1; a=rsa-sha256; s=sel; h=from; " BH "b=AAAA", "missing tag d=" },
	{ "v=1; a=rsa-sha256; d=example.test; s=sel; " BH "b=AAAA",
	  "missing tag h=" },
	{ "v=2; a=rsa-sha256; d=example.test; s=sel; h=from; " BH "b=AAAA",
	  "unsupported version" },
	{ "v=1; a=ed448-sha256; d=example.test; s=sel; h=from; " BH "b=AAAA",
	  "unknown algorithm" },
	{ "v=1; a=rsa-sha256; d=example.test; s=sel; h=to:subject; " BH "b=AAAA",
	  "h= does not sign From" },
	{ "v=1; a=rsa-sha256; d=example.test; s=sel; h=from::to; " BH "b=AAAA",
	  "empty name in h=" },
	{ GOOD "b=AAAA; i=@other.test", "i= is not within d=" },
	{ GOOD "b=AAAA; i=@badexample.test", "i= is not within d=" },
	{ GOOD "b=AAAA; d=other.test", "duplicate tag" },
	{ GOOD "b=AAAA; t=200; x=100", "x= is not after t=" },
	{ GOOD "b=AAAA; l=5x", "bad l=" },
	{ GOOD "b=AAAA; l=99999999999999999999999", "bad l=" },
	{ GOOD "b=", "bad b=" },
	{ GOOD "b=A*AA", "bad b=" },
	{ GOOD "b=AAAA; c=relaxed/fancy", "unknown canonicalization" },
	{ GOOD "b=AAAA; q=http/json", "unsupported query method" },
};

Test(dkim_sig, bad)
{
	for (size_t i = 0; i < sizeof(bad_sigs) / sizeof(bad_sigs[0]); i++) {
		struct dkim_sig sig;
		const char *why = NULL;

		cr_expect_eq(dkim_sig_parse(bad_sigs[i].in, strlen(bad_sigs[i].in),
					    &sig, &why), -1, "row %zu", i);
		cr_expect_str_eq(why != NULL ? why : "", bad_sigs[i].why, "row %zu", i);
	}
}

#define ED_P "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

static const struct {
	const char *in, *why;
	enum dkim_key_type type;
	bool revoked, sha256, testing, strict;
} keys[] = {
	{ "v=DKIM1; k=ed25519; " ED_P, NULL, DKIM_KEY_ED25519, false, true,
	  false, false },
	{ ED_P, NULL, DKIM_KEY_RSA, false, true, false, false },
	{ "v=DKIM1; p=", NULL, DKIM_KEY_RSA, true, true, false, false },
	{ "k=rsa; h=sha1; t=y:s; s=email; " ED_P, NULL, DKIM_KEY_RSA, false,
	  false, true, true },
	{ "h=sha1:sha256; s=*; " ED_P, NULL, DKIM_KEY_RSA, false, true, false,
	  false },
	{ "k=rsa; v=DKIM1; " ED_P, "bad key record version",
	  0, false, false, false, false },
	{ "v=DKIM2; " ED_P, "bad key record version",
	  0, false, false, false, false },
	{ "k=dsa; " ED_P, "unknown key type",
	  0, false, false, false, false },
	{ "s=web; " ED_P, "key not for email",
	  0, false, false, false, false },
	{ "v=DKIM1; k=rsa", "key record without p=",
	  0, false, false, false, false },
	{ "p=!!", "bad p=",
	  0, false, false, false, false },
	{ "p=a; p=b", "duplicate tag",
	  0, false, false, false, false },
};

Test(dkim_key, records)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct dkim_key k;
		const char *why = NULL;
		int rc = dkim_key_parse(keys[i].in, strlen(keys[i].in), &k, &why);

		if (keys[i].why != NULL) {
			cr_expect_eq(rc, -1, "row %zu", i);
			cr_expect_str_eq(why != NULL ? why : "", keys[i].why, "row %zu", i);
			continue;
		}
		cr_expect_eq(rc, 0, "row %zu: %s", i, why);
		cr_expect_eq(k.type, keys[i].type, "row %zu", i);
		cr_expect_eq(k.revoked, keys[i].revoked, "row %zu", i);
		cr_expect_eq(k.sha256, keys[i].sha256, "row %zu", i);
		cr_expect_eq(k.testing, keys[i].testing, "row %zu", i);
		cr_expect_eq(k.strict, keys[i].strict, "row %zu", i);
		cr_expect_eq(k.p_len, keys[i].revoked ? 0 : 32, "row %zu", i);
	}
}
