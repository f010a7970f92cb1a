/* tests/test_check.c: the pure parts of `kantorpos check` (admin/check.h):
 * findings taken from the loaders' "NAME:LINE: reason" texts, their printed
 * form and the summary, the line format a child sends them back in (fed
 * whole and cut short), and the file system comparison. The checks
 * themselves run end to end in tests/e2e_check.py. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/check.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

static char *printed(const struct check_report *r, size_t i)
{
	static char buf[1024];

	check_format(&r->v[i], buf, sizeof(buf));
	return buf;
}

Test(check, located_lines_keep_their_place)
{
	static const struct {
		const char *text;
		const char *want; /* the finding as printed */
	} rows[] = {
		{ "/etc/k.conf:4: unknown keyword \"x\"",
		  "/etc/k.conf:4: error: unknown keyword \"x\"" },
		{ "/etc/k.conf: missing required keyword user_db",
		  "/etc/k.conf: error: missing required keyword user_db" },
		{ "/etc/k.conf:12:no space", "/etc/k.conf:12: error: no space" },
		/* Not a line number: the text stays whole. */
		{ "/etc/k.conf:4x: odd", "/etc/k.conf: error: 4x: odd" },
		{ "elsewhere: text", "/etc/k.conf: error: elsewhere: text" },
		{ "/etc/k.conf:7: a\ttab", "/etc/k.conf:7: error: a?tab" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct check_report r = { .users = -1 };

		check_add_lines(&r, CHECK_ERROR, "/etc/k.conf", rows[i].text);
		cr_assert_eq(r.n, 1, "row %zu", i);
		cr_expect_str_eq(printed(&r, 0), rows[i].want, "row %zu", i);
		check_report_free(&r);
	}
}

Test(check, several_lines_several_findings)
{
	struct check_report r = { .users = -1 };

	check_add_lines(&r, CHECK_WARNING, "users",
			"users:2: one\n\nusers:9: two\nusers:10: three");
	cr_assert_eq(r.n, 3);
	cr_expect_eq(r.warnings, 3);
	cr_expect_eq(r.errors, 0);
	cr_expect_str_eq(printed(&r, 0), "users:2: warning: one");
	cr_expect_str_eq(printed(&r, 1), "users:9: warning: two");
	cr_expect_str_eq(printed(&r, 2), "users:10: warning: three");
	check_report_free(&r);
}

Test(check, summary_lines)
{
	static const struct {
		size_t errors, warnings;
		long users;
		const char *want;
	} rows[] = {
		{ 0, 0, 2, "k.conf: ok (2 users)" },
		{ 0, 0, 1, "k.conf: ok (1 user)" },
		{ 0, 0, -1, "k.conf: ok" },
		{ 0, 1, 0, "k.conf: ok with 1 warning (0 users)" },
		{ 0, 3, 5, "k.conf: ok with 3 warnings (5 users)" },
		{ 1, 0, 5, "k.conf: 1 error, 0 warnings" },
		{ 2, 1, 5, "k.conf: 2 errors, 1 warning" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct check_report r = { .users = rows[i].users };
		char buf[256];

		for (size_t e = 0; e < rows[i].errors; e++)
			check_add(&r, CHECK_ERROR, "k.conf", 1, "e%zu", e);
		for (size_t w = 0; w < rows[i].warnings; w++)
			check_add(&r, CHECK_WARNING, "k.conf", 1, "w%zu", w);
		check_summary(&r, "k.conf", buf, sizeof(buf));
		cr_expect_str_eq(buf, rows[i].want, "row %zu", i);
		check_report_free(&r);
	}
}

/* The child's findings, written to a pipe and parsed back. */
static char *wire(const struct check_report *r, size_t *len_r)
{
	char *buf = malloc(65536);
	int fds[2];
	ssize_t n;
	size_t len = 0;

	cr_assert_not_null(buf);
	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(check_write(fds[1], r), 0);
	close(fds[1]);
	while ((n = read(fds[0], buf + len, 65536 - len)) > 0)
		len += (size_t)n;
	close(fds[0]);
	*len_r = len;
	return buf;
}

Test(check, findings_cross_a_pipe_unchanged)
{
	struct check_report sent = { .users = 7 }, got = { .users = -1 };
	size_t len;
	char *text;

	check_add(&sent, CHECK_ERROR, "/c/k.conf", 3, "user_db %s: %s",
		  "/u", "Permission denied");
	check_add(&sent, CHECK_WARNING, "/c/aliases", 0, "line\nbreak\ttab");
	check_add(&sent, CHECK_ERROR, "/c/k.conf", 12, "%s", "");
	text = wire(&sent, &len);
	cr_assert_eq(check_parse(&got, text, len), 0, "%.*s", (int)len, text);
	cr_assert_eq(got.n, 3);
	cr_expect_eq(got.errors, 2);
	cr_expect_eq(got.warnings, 1);
	cr_expect_eq(got.users, 7);
	for (size_t i = 0; i < got.n; i++) {
		char a[1024];

		check_format(&sent.v[i], a, sizeof(a));
		cr_expect_str_eq(printed(&got, i), a, "finding %zu", i);
	}
	cr_expect_str_eq(printed(&got, 1),
			 "/c/aliases: warning: line?break?tab");
	/* Cut anywhere but after a whole line: the rest is refused, what
	 * came before is kept. */
	for (size_t cut = 1; cut < len; cut++) {
		struct check_report part = { .users = -1 };
		int rc = check_parse(&part, text, cut);

		cr_expect_eq(rc, text[cut - 1] == '\n' ? 0 : -1, "cut %zu", cut);
		cr_expect_leq(part.n, 3);
		check_report_free(&part);
	}
	free(text);
	check_report_free(&sent);
	check_report_free(&got);
}

Test(check, malformed_child_text_is_refused)
{
	static const char *const bad[] = {
		"X\t1\tf\tt\n", "E\t\tf\tt\n",	"E\t1\t\tt\n", "E\t1x\tf\tt\n",
		"E\t1\tf\n",	"E1\tf\tt\n",	"U\tmany\n",   "U\t-2\n",
		"E\t99999999999\tf\tt\n",
	};

	for (size_t i = 0; i < N_ROWS(bad); i++) {
		struct check_report r = { .users = -1 };

		cr_expect_eq(check_parse(&r, bad[i], strlen(bad[i])), -1,
			     "row %zu", i);
		cr_expect_eq(r.n, 0, "row %zu", i);
		check_report_free(&r);
	}
}

Test(check, other_file_system)
{
	static const struct {
		dev_t devs[3];
		size_t n, want;
	} rows[] = {
		{ { 5, 5, 5 }, 3, 0 }, { { 5, 6, 5 }, 3, 1 },
		{ { 5, 5, 6 }, 3, 2 }, { { 5, 6, 6 }, 3, 1 },
		{ { 5 }, 1, 0 },	  { { 5, 5 }, 0, 0 },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++)
		cr_expect_eq(check_other_fs(rows[i].devs, rows[i].n),
			     rows[i].want, "row %zu", i);
}
