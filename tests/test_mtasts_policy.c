/* tests/test_mtasts_policy.c: outbound/mtasts_policy.h — the _mta-sts TXT
 * record (RFC 8461 §3.1), the policy body (§3.2, CRLF and LF lines) and
 * the MX pattern match (§4.1), as tables of input → expected result. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbound/mtasts_policy.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

struct txt_row {
	const char *txt[3];
	size_t n;
	const char *id;    /* NULL: no policy */
};

static const struct txt_row txt_rows[] = {
	{ { "v=STSv1; id=20251202T120000;" }, 1, "20251202T120000" },
	{ { "v=STSv1;id=abc" }, 1, "abc" },
	{ { "v=STSv1 ;  id=abc ; " }, 1, "abc" },
	{ { "v=STSv1; id=abc; ext_1=x.y" }, 1, "abc" },
	{ { "v=STSv1; id=first; id=second" }, 1, "first" },
	{ { "v=spf1 -all", "v=STSv1; id=a1" }, 2, "a1" },
	{ { "V=STSv1; id=a1" }, 1, NULL },           /* case-sensitive */
	{ { "v=STSv1; id=a1", "v=STSv1; id=b2" }, 2, NULL }, /* several */
	{ { "v=STSv1" }, 1, NULL },                  /* no ';' after v= */
	{ { "v=STSv1;" }, 1, NULL },                 /* no id */
	{ { "v=STSv1; id=" }, 1, NULL },
	{ { "v=STSv1; id=a-b" }, 1, NULL },          /* id: letters, digits */
	{ { "v=STSv1; id=123456789012345678901234567890123" }, 1, NULL },
	{ { "v=STSv1; id=12345678901234567890123456789012" }, 1,
	  "12345678901234567890123456789012" },
	{ { "v=STSv1; id=a1 junk" }, 1, NULL },
	{ { "id=a1; v=STSv1" }, 1, NULL },           /* v= must come first */
	{ { "" }, 1, NULL },
	{ { NULL }, 0, NULL },
};

Test(mtasts_txt, table)
{
	for (size_t i = 0; i < N_ROWS(txt_rows); i++) {
		const struct txt_row *r = &txt_rows[i];
		char id[MTASTS_ID_MAX + 1] = "";
		const char *why = NULL;
		int rc = mtasts_txt_parse(r->txt, r->n, id, &why);

		if (r->id == NULL) {
			cr_expect_eq(rc, -1, "row %zu: %s", i, r->txt[0]);
			cr_expect_not_null(why, "row %zu", i);
		} else {
			cr_expect_eq(rc, 0, "row %zu: %s: %s", i, r->txt[0],
				     why ? why : "");
			cr_expect_str_eq(id, r->id, "row %zu", i);
		}
	}
}

struct pol_row {
	const char *body;
	int rc;
	enum mtasts_mode mode;
	unsigned long max_age;
	size_t n_mx;
	const char *why;   /* expected reason for rc -1 */
};

static const struct pol_row pol_rows[] = {
	{ "version: STSv1\nmode: enforce\nmx: mail.sts.test\n"
	  "mx: *.backup.sts.test\nmax_age: 604800\n", 0, MTASTS_ENFORCE,
	  604800, 2, NULL },
	{ "version: STSv1\r\nmode: testing\r\nmx: a.test\r\nmax_age: 86400\r\n",
	  0, MTASTS_TESTING, 86400, 1, NULL },
	{ "max_age:0\nmx:a.test\nmode:enforce\nversion:STSv1", 0,
	  MTASTS_ENFORCE, 0, 1, NULL },
	{ "version: STSv1\nmode: none\nmax_age: 600\n", 0, MTASTS_NONE, 600,
	  0, NULL },
	{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557600\n"
	  "foo: bar\nextension.x: 1\n", 0, MTASTS_ENFORCE, 31557600, 1, NULL },
	{ "version: STSv1\nmode: testing\nmode: enforce\nmx: a.test\n"
	  "max_age: 5  \n", 0, MTASTS_TESTING, 5, 1, NULL },  /* first wins */
	{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601\n",
	  -1, 0, 0, 0, "max_age too large" },
	{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 99999999999\n",
	  -1, 0, 0, 0, "max_age too large" },
	{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n",
	  -1, 0, 0, 0, "bad max_age" },
	{ "version: STSv1\nmode: strict\nmx: a.test\nmax_age: 60\n",
	  -1, 0, 0, 0, "bad mode" },
	{ "version: STSv1\nmode: Enforce\nmx: a.test\nmax_age: 60\n",
	  -1, 0, 0, 0, "bad mode" },
	{ "mode: enforce\nmx: a.test\nmax_age: 60\n", -1, 0, 0, 0,
	  "missing version" },
	{ "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 60\n", -1, 0,
	  0, 0, "bad version" },
	{ "version: STSv1\nmode: enforce\nmax_age: 60\n", -1, 0, 0, 0,
	  "missing mx" },
	{ "version: STSv1\nmode: testing\nmax_age: 60\n", -1, 0, 0, 0,
	  "missing mx" },
	{ "version: STSv1\nmx: a.test\nmax_age: 60\n", -1, 0, 0, 0,
	  "missing mode" },
	{ "version: STSv1\nmode: enforce\nmx: a.test\n", -1, 0, 0, 0,
	  "missing max_age" },
	{ "version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 60\n", -1, 0,
	  0, 0, "bad mx pattern" },
	{ "version: STSv1\nmode: enforce\nmx: a.*.test\nmax_age: 60\n", -1, 0,
	  0, 0, "bad mx pattern" },
	{ "version: STSv1\nmode: enforce\nmx: \nmax_age: 60\n", -1, 0, 0, 0,
	  "bad mx pattern" },
	{ "<html>\n<body>hello</body>\n", -1, 0, 0, 0,
	  "policy line without a key" },
	{ "", -1, 0, 0, 0, "missing version" },
};

static void expect_policy(const struct pol_row *r, size_t i, int rc,
			  const struct mtasts_policy *p, const char *why)
{
	cr_expect_eq(rc, r->rc, "row %zu: rc %d (%s)", i, rc, why ? why : "");
	if (r->rc < 0) {
		cr_expect_str_eq(why, r->why, "row %zu", i);
		return;
	}
	cr_expect_eq(p->mode, r->mode, "row %zu", i);
	cr_expect_eq(p->max_age, r->max_age, "row %zu", i);
	cr_expect_eq(p->n_mx, r->n_mx, "row %zu", i);
}

Test(mtasts_policy, table)
{
	for (size_t i = 0; i < N_ROWS(pol_rows); i++) {
		struct mtasts_policy p;
		const char *why = NULL;
		int rc = mtasts_policy_parse(pol_rows[i].body,
					     strlen(pol_rows[i].body), &p, &why);

		expect_policy(&pol_rows[i], i, rc, &p, why);
	}
}

Test(mtasts_policy, patterns_kept_lower_case)
{
	const char *b = "version: STSv1\nmode: enforce\nmx: Mail.STS.test.\n"
			"mx: *.Backup.sts.test\nmax_age: 60\n";
	struct mtasts_policy p;
	const char *why = NULL;

	cr_assert_eq(mtasts_policy_parse(b, strlen(b), &p, &why), 0, "%s", why);
	cr_expect_str_eq(p.mx[0], "mail.sts.test");
	cr_expect_str_eq(p.mx[1], "*.backup.sts.test");
}

Test(mtasts_policy, nul_and_too_many_mx)
{
	char big[8192];
	size_t n = 0;
	struct mtasts_policy p;
	const char *why = NULL;

	cr_expect_eq(mtasts_policy_parse("version: STSv1\0", 15, &p, &why), -1);
	cr_expect_str_eq(why, "NUL octet in the policy");
	n += (size_t)snprintf(big + n, sizeof(big) - n,
			      "version: STSv1\nmode: enforce\nmax_age: 60\n");
	for (int i = 0; i <= MTASTS_MX_MAX; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n,
				      "mx: m%d.test\n", i);
	cr_expect_eq(mtasts_policy_parse(big, n, &p, &why), -1);
	cr_expect_str_eq(why, "too many mx patterns");
}

/* The policy parser takes a whole body, not chunks: a body cut anywhere
 * is either still valid or fails, never reads past its length. */
Test(mtasts_policy, every_prefix)
{
	const char *b = "version: STSv1\r\nmode: enforce\r\nmx: a.test\r\n"
			"max_age: 604800\r\n";
	size_t len = strlen(b);

	for (size_t cut = 0; cut <= len; cut++) {
		struct mtasts_policy p;
		const char *why = NULL;
		char *copy = malloc(cut ? cut : 1);
		int rc;

		memcpy(copy, b, cut);
		rc = mtasts_policy_parse(copy, cut, &p, &why);
		cr_expect(rc == 0 || why != NULL, "cut %zu", cut);
		if (cut >= len - 2)
			cr_expect_eq(rc, 0, "cut %zu: %s", cut, why);
		free(copy);
	}
}

struct match_row {
	const char *pattern, *host;
	bool match;
};

static const struct match_row match_rows[] = {
	{ "*.backup.sts.test", "a.backup.sts.test", true },
	{ "*.backup.sts.test", "A.BACKUP.sts.test.", true },
	{ "*.backup.sts.test", "backup.sts.test", false },
	{ "*.backup.sts.test", "x.a.backup.sts.test", false },
	{ "*.backup.sts.test", ".backup.sts.test", false },
	{ "mail.sts.test", "mail.sts.test", true },
	{ "mail.sts.test", "MAIL.sts.TEST.", true },
	{ "mail.sts.test", "mail.sts.test.evil", false },
	{ "mail.sts.test", "x.mail.sts.test", false },
	{ "mail.sts.test", "ail.sts.test", false },
	{ "mail.sts.test.", "mail.sts.test", true },
	{ "mail.sts.test", "", false },
	{ "*.test", "evil.test", true },
	{ "*.sts.test", "evil.test", false },
};

Test(mtasts_match, table)
{
	for (size_t i = 0; i < N_ROWS(match_rows); i++)
		cr_expect_eq(mtasts_pattern_match(match_rows[i].pattern,
						  match_rows[i].host),
			     match_rows[i].match, "row %zu: %s vs %s", i,
			     match_rows[i].pattern, match_rows[i].host);
}

Test(mtasts_match, policy)
{
	struct mtasts_policy p = { .mode = MTASTS_ENFORCE, .n_mx = 2 };

	snprintf(p.mx[0], sizeof(p.mx[0]), "mail.sts.test");
	snprintf(p.mx[1], sizeof(p.mx[1]), "*.backup.sts.test");
	cr_expect(mtasts_mx_match(&p, "mail.sts.test"));
	cr_expect(mtasts_mx_match(&p, "b1.backup.sts.test"));
	cr_expect(!mtasts_mx_match(&p, "evil.test"));
	cr_expect_str_eq(mtasts_mode_name(MTASTS_ENFORCE), "enforce");
	cr_expect_str_eq(mtasts_mode_name(MTASTS_TESTING), "testing");
	cr_expect_str_eq(mtasts_mode_name(MTASTS_NONE), "none");
}
