/* tests/test_fetch_listing.c: the listing of a fetch run (UIDL then LIST,
 * line by line, against the state): good, malformed, overlong and shared
 * uids, messages already handled, DELEs due, the max_messages cap, order,
 * linear cost on a large listing; and the POP3 client's listing line
 * splitter fed in chunks of 1, 2, 7 bytes and whole. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/client/pop3client.h"
#include "fetch/listing.h"
#include "fetch/state.h"

static const struct flist_rule delete_mode = { .keep = false, .now = 1000 };
static const struct flist_rule keep_mode = { .keep = true, .now = 1000 };

/* Feed a listing given as text (lines ending in \n) through the line
 * splitter, as the client would, into l. */
struct feed {
	struct flist *l;
	struct fst *st;
	const struct flist_rule *rule;
	bool uidl;
};

static int feed_line(void *arg, const char *line, size_t len, bool overlong)
{
	struct feed *f = arg;

	if (f->uidl)
		return flist_uidl_line(f->l, f->st, f->rule, line, len,
				       overlong);
	return flist_list_line(f->l, line, len, overlong);
}

static void feed(struct feed *f, bool uidl, const char *text)
{
	struct pop3c_lines lines;

	f->uidl = uidl;
	cr_assert_eq(pop3c_lines_init(&lines, FLIST_LINE_MAX), 0);
	cr_assert_eq(pop3c_lines_feed(&lines, text, strlen(text), feed_line, f),
		     0);
	cr_assert_eq(pop3c_lines_end(&lines, feed_line, f), 0);
	pop3c_lines_free(&lines);
}

/* "num:uid:size" for each kept message, in order ("-" for no uid). */
static char *kept(const struct flist *l)
{
	char *out = calloc(1, 4096);

	for (size_t i = 0; i < l->n; i++) {
		const char *uid = flist_uid(l, &l->m[i]);

		snprintf(out + strlen(out), 4096 - strlen(out), "%s%u:%s:%llu",
			 i ? " " : "", (unsigned)l->m[i].num,
			 uid != NULL ? uid : "-",
			 (unsigned long long)l->m[i].size);
	}
	return out;
}

static char *run_listing(struct fst *st, const struct flist_rule *rule,
			 size_t max, bool uidl_ok, const char *uidl,
			 const char *list, struct flist *l)
{
	struct feed f = { .l = l, .st = st, .rule = rule };

	cr_assert_eq(flist_init(l, max), 0);
	if (uidl_ok)
		feed(&f, true, uidl);
	flist_uidl_end(l, uidl_ok);
	feed(&f, false, list);
	flist_list_end(l);
	return kept(l);
}

Test(fetch_listing, table)
{
	static const struct {
		const char *state; /* state file lines */
		const struct flist_rule *rule;
		size_t max;
		bool uidl_ok;
		const char *uidl, *list;
		const char *want;
		size_t capped, bad, shared, no_uidl, ignored;
	} rows[] = {
		/* Plain: all new, smallest first. */
		{ "", &delete_mode, 100, true, "1 a\n2 b\n3 c\n",
		  "1 300\n2 100\n3 200\n", "2:b:100 3:c:200 1:a:300",
		  0, 0, 0, 0, 0 },
		/* CRLF, extra blanks, any order. */
		{ "", &delete_mode, 100, true, "3  c \r\n1 a\r\n",
		  "3 5\r\n1 5\r\n", "1:a:5 3:c:5", 0, 0, 0, 0, 0 },
		/* Bad ids: 71 octets, a control character, a space inside,
		 * none, the fallback prefix, an overlong line. */
		{ "", &delete_mode, 100, true,
		  "1 01234567890123456789012345678901234567890123456789012345678901234567890\n"
		  "2 a\x01" "b\n3 a b\n4\n5 ~hdr:00\n6 ok\n",
		  "1 1\n2 2\n3 3\n4 4\n5 5\n6 6\n",
		  "1:-:1 2:-:2 3:-:3 4:-:4 5:-:5 6:ok:6", 0, 5, 0, 0, 0 },
		/* 70 octets is fine. */
		{ "", &delete_mode, 100, true,
		  "1 0123456789012345678901234567890123456789012345678901234567890123456789\n",
		  "1 1\n",
		  "1:0123456789012345678901234567890123456789012345678901234567890123456789:1",
		  0, 0, 0, 0, 0 },
		/* The same uid for two messages: neither keeps it. */
		{ "", &delete_mode, 100, true, "1 x\n2 x\n3 y\n",
		  "1 1\n2 2\n3 3\n", "1:-:1 2:-:2 3:y:3", 0, 0, 2, 0, 0 },
		/* ... also when the state knows it (handled, not kept). */
		{ "x 5 D -\n", &keep_mode, 100, true, "1 x\n2 x\n3 x\n",
		  "1 1\n2 2\n3 3\n", "1:-:1 2:-:2 3:-:3", 0, 0, 3, 0, 0 },
		/* Handled before: keep mode leaves it out, delete mode
		 * keeps it for its DELE; skipped ones stay out. */
		{ "a 5 D -\nb 5 S -\n", &keep_mode, 100, true, "1 a\n2 b\n3 c\n",
		  "1 1\n2 2\n3 3\n", "3:c:3", 0, 0, 0, 0, 0 },
		{ "a 5 D -\nb 5 S -\n", &delete_mode, 100, true, "1 a\n2 b\n3 c\n",
		  "1 1\n2 2\n3 3\n", "1:a:1 3:c:3", 0, 0, 0, 0, 0 },
		/* In LIST but not UIDL: no uid; in UIDL only: gone. */
		{ "", &delete_mode, 100, true, "1 a\n3 c\n", "1 1\n2 2\n",
		  "1:a:1 2:-:2", 0, 0, 0, 1, 0 },
		/* No UIDL at all: every message without a uid. */
		{ "", &delete_mode, 100, false, "", "1 1\n2 2\n",
		  "1:-:1 2:-:2", 0, 0, 0, 0, 0 },
		/* Junk and repeated numbers are ignored. */
		{ "", &delete_mode, 100, true,
		  "0 z\nx y\n1 a\n1 b\n16777217 q\n-1 w\n",
		  "1 1\n1 9\n1 x\n1\n2x 3\n", "1:a:1", 0, 0, 0, 0, 9 },
		/* The cap: the first three needing work, in UIDL order. */
		{ "a 5 D -\n", &keep_mode, 3, true, "1 a\n2 b\n3 c\n4 d\n5 e\n",
		  "1 1\n2 2\n3 3\n4 4\n5 5\n", "2:b:2 3:c:3 4:d:4", 1, 0, 0,
		  0, 0 },
		{ "", &delete_mode, 2, false, "", "1 1\n2 2\n3 3\n",
		  "1:-:1 2:-:2", 1, 0, 0, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fst st = { 0 };
		struct flist l;
		char *text, *got, err[128];

		cr_assert(asprintf(&text, "kantorpos-fetch-state 1\n%s",
				   rows[i].state) > 0);
		cr_assert_eq(fst_parse(text, strlen(text), &st, err,
				       sizeof(err)), 0, "row %zu: %s", i, err);
		got = run_listing(&st, rows[i].rule, rows[i].max,
				  rows[i].uidl_ok, rows[i].uidl, rows[i].list,
				  &l);
		cr_expect_str_eq(got, rows[i].want, "row %zu", i);
		cr_expect_eq(l.capped, rows[i].capped, "row %zu capped %zu", i,
			     l.capped);
		cr_expect_eq(l.bad_uid, rows[i].bad, "row %zu bad %zu", i,
			     l.bad_uid);
		cr_expect_eq(l.shared_uid, rows[i].shared, "row %zu shared %zu",
			     i, l.shared_uid);
		cr_expect_eq(l.no_uidl, rows[i].no_uidl, "row %zu", i);
		cr_expect_eq(l.ignored, rows[i].ignored, "row %zu ignored %zu",
			     i, l.ignored);
		free(got);
		free(text);
		flist_free(&l);
		fst_free(&st);
	}

	/* An overlong UIDL line (10 KB id): that message has no uid, the
	 * others are untouched. */
	{
		struct fst st = { 0 };
		struct flist l;
		char *uidl, *got;
		char big[10240];

		memset(big, 'q', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		cr_assert(asprintf(&uidl, "1 a\n2 %s\n3 c\n", big) > 0);
		got = run_listing(&st, &delete_mode, 100, true, uidl,
				  "1 1\n2 2\n3 3\n", &l);
		cr_expect_str_eq(got, "1:a:1 2:-:2 3:c:3");
		cr_expect_eq(l.bad_uid, 1);
		free(got);
		free(uidl);
		flist_free(&l);
		fst_free(&st);
	}
}

/* State entries the listing names are marked seen, with their number. */
Test(fetch_listing, marks_the_state)
{
	struct fst st = { 0 };
	struct flist l;
	char *got;

	cr_assert_eq(fst_set(&st, "a", 5, FST_DELIVERED, NULL, NULL, 0), 0);
	cr_assert_eq(fst_set(&st, "gone", 5, FST_DELIVERED, NULL, NULL, 0), 0);
	for (size_t i = 0; i < st.n; i++)
		st.e[i].seen = false;
	got = run_listing(&st, &keep_mode, 10, true, "7 a\n", "7 1\n", &l);
	cr_expect_str_eq(got, "");
	cr_expect(fst_find(&st, "a")->seen);
	cr_expect_eq(fst_find(&st, "a")->seen_num, 7);
	cr_expect_not(fst_find(&st, "gone")->seen);
	cr_expect_eq(fst_prune(&st, true, false), 1);
	free(got);
	flist_free(&l);
	fst_free(&st);
}

Test(fetch_listing, due_rule)
{
	struct fst_entry d = { .flag = FST_DELIVERED, .time = 1000 };
	struct fst_entry s = { .flag = FST_SKIPPED, .time = 0 };
	struct flist_rule keep2 = { .keep = true, .keep_days = 2 };

	keep2.now = 1000 + 2 * 86400 - 1;
	cr_expect_not(flist_due(&d, &keep2));
	keep2.now++;
	cr_expect(flist_due(&d, &keep2));
	cr_expect(flist_due(&d, &delete_mode));
	cr_expect_not(flist_due(&d, &keep_mode));
	cr_expect_not(flist_due(&s, &delete_mode));
}

/* A million UIDL and LIST lines, most of them known to the state: one
 * pass each, memory bounded by the cap. A quadratic listing would need
 * hours here; the timeout leaves room for slow sanitizer builds. */
Test(fetch_listing, a_million_lines_cost_one_pass, .timeout = 60)
{
	enum { N = 1000000, KNOWN = N - 1000 };
	struct fst st = { 0 };
	struct flist l;
	char line[64];
	clock_t t0;

	for (int i = 1; i <= KNOWN; i++) {
		snprintf(line, sizeof(line), "uid-%d", i);
		cr_assert_eq(fst_set(&st, line, 5, FST_DELIVERED, NULL, NULL, 0),
			     0);
	}
	for (size_t i = 0; i < st.n; i++)
		st.e[i].seen = false; /* as loaded from the file */
	t0 = clock();
	cr_assert_eq(flist_init(&l, 500), 0);
	for (int i = 1; i <= N; i++) {
		int n = snprintf(line, sizeof(line), "%d uid-%d", i, i);

		cr_assert_eq(flist_uidl_line(&l, &st, &keep_mode, line,
					     (size_t)n, false), 0);
	}
	flist_uidl_end(&l, true);
	for (int i = N; i >= 1; i--) {
		int n = snprintf(line, sizeof(line), "%d %d", i, 1000 + i % 7);

		cr_assert_eq(flist_list_line(&l, line, (size_t)n, false), 0);
	}
	flist_list_end(&l);
	cr_expect_eq(l.n, 500);
	cr_expect_eq(l.capped, 500);
	cr_expect_leq(l.cap, 500, "never more room than the cap");
	cr_expect_eq(l.uidl_lines, N);
	cr_expect_geq(l.m[0].num, (uint32_t)KNOWN + 1);
	for (size_t i = 1; i < l.n; i++)
		cr_expect_leq(l.m[i - 1].size, l.m[i].size, "smallest first");
	cr_log_info("1e6-line listing: %.2f s CPU",
		    (double)(clock() - t0) / CLOCKS_PER_SEC);
	flist_free(&l);
	fst_free(&st);
}

/* ---- the line splitter ------------------------------------------- */

struct got_lines {
	char text[4096];
};

static int collect(void *arg, const char *line, size_t len, bool overlong)
{
	struct got_lines *g = arg;

	cr_assert_eq(strlen(line), len, "NUL-terminated at len");
	snprintf(g->text + strlen(g->text), sizeof(g->text) - strlen(g->text),
		 "[%s%s]", line, overlong ? "+" : "");
	return 0;
}

static int refuse_second(void *arg, const char *line, size_t len,
			 bool overlong)
{
	int *calls = arg;

	(void)line;
	(void)len;
	(void)overlong;
	return ++*calls == 2 ? -1 : 0;
}

Test(fetch_listing, line_splitter_in_chunks)
{
	static const struct {
		size_t max;
		const char *in;
		const char *want;
	} rows[] = {
		{ 10, "a\r\nbb\n\r\n", "[a][bb][]" },
		{ 4, "abcd\r\nabcde\r\nx\n", "[abcd][abcd+][x]" },
		{ 4, "abc\r\r\nabcd\rx\r\n", "[abc\r][abcd+]" },
		{ 4, "abcdefghijklmnop\nq", "[abcd+][q]" },
		{ 3, "", "" },
		{ 3, "tail", "[tai+]" },
		{ 3, "\r\n\r\n", "[][]" },
	};
	static const size_t steps[] = { 1, 2, 7, 100000 };

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			struct pop3c_lines l;
			struct got_lines g = { "" };
			size_t n = strlen(rows[i].in);

			cr_assert_eq(pop3c_lines_init(&l, rows[i].max), 0);
			for (size_t o = 0; o < n; o += steps[s]) {
				size_t k = n - o < steps[s] ? n - o : steps[s];

				cr_assert_eq(pop3c_lines_feed(&l, rows[i].in + o,
							      k, collect, &g),
					     0);
			}
			cr_assert_eq(pop3c_lines_end(&l, collect, &g), 0);
			cr_expect_str_eq(g.text, rows[i].want,
					 "row %zu step %zu", i, steps[s]);
			pop3c_lines_free(&l);
		}
	}
	{
		struct pop3c_lines l;
		int calls = 0;

		cr_assert_eq(pop3c_lines_init(&l, 8), 0);
		cr_expect_eq(pop3c_lines_feed(&l, "a\nb\nc\n", 6, refuse_second,
					      &calls), -1);
		cr_expect_eq(calls, 2, "nothing after a refusal");
		pop3c_lines_free(&l);
	}
}
