/* tests/test_dotstuff.c: the dot-stuffer and the un-stuffer of
 * common/proto/dotstuff — tables fed in 1-, 2- and 7-octet chunks, whole,
 * and cut at every point; both against a plain model one octet at a time
 * over random texts; and stuffing then un-stuffing gives CRLF text back. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto/dotstuff.h"
#include "tests/helpers/dotmodel.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

/* How a test cuts its input: the first piece ends at split (0: no such
 * piece), the rest goes in pieces of chunk octets (0: the rest at once). */
struct cut {
	size_t split, chunk;
};

static size_t piece_len(const struct cut *c, size_t pos, size_t len)
{
	size_t n = len - pos;

	if (pos < c->split)
		return c->split - pos;
	return c->chunk != 0 && c->chunk < n ? c->chunk : n;
}

/* The cuts every table row is run with: 1, 2, 7, whole, and two pieces
 * split at each point of a text of len octets. */
static size_t cuts_for(size_t len, struct cut *cuts, size_t max)
{
	static const size_t chunks[] = { 1, 2, 7, 0 };
	size_t n = 0;

	for (size_t i = 0; i < N_ROWS(chunks); i++)
		cuts[n++] = (struct cut){ 0, chunks[i] };
	for (size_t k = 1; k < len && n < max; k++)
		cuts[n++] = (struct cut){ k, 0 };
	return n;
}

/* Stuff in[0..len) cut as c says, then the end; returns the length. */
static size_t stuff_cut(unsigned flags, const char *in, size_t len,
			const struct cut *c, char *out)
{
	struct dot_stuffer st;
	size_t o = 0;

	dot_stuff_init(&st, flags);
	for (size_t pos = 0; pos < len;) {
		size_t n = piece_len(c, pos, len);

		o += dot_stuff(&st, in + pos, n, out + o);
		pos += n;
	}
	return o + dot_stuff_end(&st, out + o);
}

struct unstuffed {
	char out[1024];
	size_t out_len;
	size_t used; /* input octets taken */
	bool done, bare;
	size_t longest;
};

/* Un-stuff in[0..len) cut as c says, until the end or the input ends. */
static void unstuff_cut(unsigned flags, const char *in, size_t len,
			const struct cut *c, struct unstuffed *r)
{
	struct dot_unstuffer u;
	size_t pos = 0;

	dot_unstuff_init(&u, flags);
	r->out_len = 0;
	while (pos < len && !dot_unstuff_done(&u)) {
		size_t n = piece_len(c, pos, len), made, used;

		cr_assert_leq(r->out_len + n + 1, sizeof(r->out));
		used = dot_unstuff(&u, in + pos, n, r->out + r->out_len, &made);
		cr_assert_leq(used, n);
		cr_assert_leq(made, n + 1);
		cr_assert(used == n || dot_unstuff_done(&u),
			  "a short take only at the end");
		r->out_len += made;
		pos += used;
	}
	r->used = pos;
	r->done = dot_unstuff_done(&u);
	r->bare = u.bare;
	r->longest = u.longest;
	/* Once done, nothing more is taken. */
	if (r->done) {
		size_t made = 1;

		cr_assert_eq(dot_unstuff(&u, "x\r\n", 3, r->out + r->out_len,
					 &made), 0);
		cr_assert_eq(made, 0);
	}
}

Test(stuffer, table_every_cut)
{
	static const struct {
		const char *in;
		const char *out;      /* the whole body, ".\r\n" included */
		const char *out_crlf; /* the same with DOT_STUFF_CLOSE_CRLF */
	} rows[] = {
		{ "", ".\r\n", ".\r\n" },
		{ "a\r\n", "a\r\n.\r\n", "a\r\n.\r\n" },
		{ "a\n", "a\r\n.\r\n", "a\r\n.\r\n" },
		{ "a", "a\r\n.\r\n", "a\r\n.\r\n" },
		{ "a\r", "a\r\n.\r\n", "a\r\r\n.\r\n" },
		{ "\r", "\r\n.\r\n", "\r\r\n.\r\n" },
		{ ".\r", "..\r\n.\r\n", "..\r\r\n.\r\n" },
		{ ".\r\n", "..\r\n.\r\n", "..\r\n.\r\n" },
		{ ".", "..\r\n.\r\n", "..\r\n.\r\n" },
		{ ".x\r\n..\r\n", "..x\r\n...\r\n.\r\n", "..x\r\n...\r\n.\r\n" },
		{ "a\n.\nb\n", "a\r\n..\r\nb\r\n.\r\n", "a\r\n..\r\nb\r\n.\r\n" },
		{ "\n\n", "\r\n\r\n.\r\n", "\r\n\r\n.\r\n" },
		{ "x.y\r\n a.\r\n", "x.y\r\n a.\r\n.\r\n", "x.y\r\n a.\r\n.\r\n" },
		{ "a\rb\r\n", "a\rb\r\n.\r\n", "a\rb\r\n.\r\n" },
		{ "a\r.\r\n", "a\r.\r\n.\r\n", "a\r.\r\n.\r\n" },
		{ "a\r\r\n.\r\n", "a\r\r\n..\r\n.\r\n", "a\r\r\n..\r\n.\r\n" },
		{ "Subject: x\r\n\r\n.\r\n.\r\n",
		  "Subject: x\r\n\r\n..\r\n..\r\n.\r\n",
		  "Subject: x\r\n\r\n..\r\n..\r\n.\r\n" },
		{ "Subject: t\r\n\r\n.leading dot\r\nbare lf\n..two\r\nlast",
		  "Subject: t\r\n\r\n..leading dot\r\nbare lf\r\n...two\r\nlast\r\n.\r\n",
		  "Subject: t\r\n\r\n..leading dot\r\nbare lf\r\n...two\r\nlast\r\n.\r\n" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		size_t len = strlen(rows[i].in), n;
		struct cut cuts[80];

		n = cuts_for(len, cuts, N_ROWS(cuts));
		for (size_t f = 0; f < 2; f++) {
			const char *want = f ? rows[i].out_crlf : rows[i].out;

			for (size_t c = 0; c < n; c++) {
				char out[256];
				size_t o = stuff_cut(f ? DOT_STUFF_CLOSE_CRLF : 0,
						     rows[i].in, len, &cuts[c], out);

				cr_assert_lt(o, sizeof(out));
				out[o] = '\0';
				cr_expect_str_eq(out, want,
						 "row %zu flags %zu split %zu chunk %zu",
						 i, f, cuts[c].split, cuts[c].chunk);
			}
		}
	}
}

Test(stuffer, close_alone)
{
	struct dot_stuffer st;
	char out[DOT_STUFF_END_MAX];

	dot_stuff_init(&st, 0);
	cr_assert_eq(dot_stuff_close(&st, out), 0, "an empty text is closed");
	cr_assert_eq(dot_stuff(&st, "ab", 2, out), 2);
	cr_assert_eq(dot_stuff_close(&st, out), 2);
	cr_assert_eq(memcmp(out, "\r\n", 2), 0);
	cr_assert_eq(dot_stuff_close(&st, out), 0, "closed once");
	cr_assert_eq(dot_stuff_end(&st, out), 3);
	cr_assert_eq(memcmp(out, ".\r\n", 3), 0);
}

/* The stuffer may read the upper half of a buffer and write the lower
 * half: the worst case, every octet doubled, still comes out right. */
Test(stuffer, in_place_upper_to_lower_half)
{
	char buf[64];
	struct dot_stuffer st;
	size_t o;

	memset(buf + 32, 0, 32);
	for (size_t i = 0; i < 32; i += 2)
		memcpy(buf + 32 + i, ".\n", 2);
	dot_stuff_init(&st, 0);
	o = dot_stuff(&st, buf + 32, 32, buf);
	cr_assert_eq(o, 64);
	for (size_t i = 0; i < 64; i += 4)
		cr_assert_eq(memcmp(buf + i, "..\r\n", 4), 0, "at %zu", i);
}

/* Texts made of the octets that matter (and NUL), fixed seed. */
static size_t random_text(unsigned *seed, char *in, size_t max)
{
	static const char alphabet[] = { '.', '\r', '\n', 'a', '\0', '.' };
	size_t len = (size_t)rand_r(seed) % max;

	for (size_t i = 0; i < len; i++)
		in[i] = alphabet[(size_t)rand_r(seed) % sizeof alphabet];
	return len;
}

Test(stuffer, random_texts_and_chunkings_match_the_model)
{
	unsigned seed = 12345;
	char in[300], want[2 * sizeof in + DOT_STUFF_END_MAX];
	char got[2 * sizeof in + DOT_STUFF_END_MAX];

	for (int round = 0; round < 3000; round++) {
		size_t len = random_text(&seed, in, sizeof in);
		bool close_crlf = round % 2;
		size_t o = 0, wlen = dotmodel_stuff(close_crlf, in, len, want);
		struct dot_stuffer st;

		dot_stuff_init(&st, close_crlf ? DOT_STUFF_CLOSE_CRLF : 0);
		for (size_t i = 0; i < len;) {
			size_t n = 1 + (size_t)rand_r(&seed) % 40;

			if (n > len - i)
				n = len - i;
			o += dot_stuff(&st, in + i, n, got + o);
			i += n;
		}
		o += dot_stuff_end(&st, got + o);
		cr_assert_eq(o, wlen, "round %d: length %zu, want %zu", round,
			     o, wlen);
		cr_assert_arr_eq(got, want, wlen, "round %d", round);
	}
}

#define NO_END ((size_t)-1)

Test(unstuffer, table_every_cut)
{
	static const struct {
		unsigned flags;
		const char *in;
		const char *out;
		size_t rest; /* octets after the end; NO_END: no end */
		bool bare;
	} rows[] = {
		/* The POP3 client's reading (any LF starts a line). */
		{ DOT_UNSTUFF_LF_LINES, "a\r\nb\r\n.\r\n", "a\r\nb\r\n", 0, false },
		{ DOT_UNSTUFF_LF_LINES, "..x\r\n..\r\n...\r\n.\r\nNEXT",
		  ".x\r\n.\r\n..\r\n", 4, false },
		{ DOT_UNSTUFF_LF_LINES, ".\r\n", "", 0, false },
		{ DOT_UNSTUFF_LF_LINES, "x.\r\n.y\r\n.\r\n", "x.\r\ny\r\n", 0, false },
		/* A lone "." with a bare LF is not the terminator. */
		{ DOT_UNSTUFF_LF_LINES, "a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n", 0, true },
		{ DOT_UNSTUFF_LF_LINES, "a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", 0, true },
		{ DOT_UNSTUFF_LF_LINES, "no\rcr\r\r\n.\r\n", "no\rcr\r\r\n", 0, true },
		{ DOT_UNSTUFF_LF_LINES, "a\n.\r\nNEXT", "a\n", 4, true },
		{ DOT_UNSTUFF_LF_LINES, "a\n..b\n.\r\n", "a\n.b\n", 0, true },
		/* SMTP DATA's reading: only CRLF starts a line. */
		{ 0, ".\r\nQUIT\r\n", "", 6, false },
		{ 0, "a\r\n.\r\n", "a\r\n", 0, false },
		{ 0, "..x\r\n..\r\n. \r\n.\r\n", ".x\r\n.\r\n \r\n", 0, false },
		{ 0, "...\r\n.\r\nRSET\r\n", "..\r\n", 6, false },
		{ 0, "a\n.\r\nNEXT", "a\n.\r\nNEXT", NO_END, true },
		{ 0, "x\n.\nM\r\n.\r\n", "x\n.\nM\r\n", 0, true },
		{ 0, "x\r.\r\nQ\r\n.\r\n", "x\r.\r\nQ\r\n", 0, true },
		{ 0, "x\r\n.\nQ\r\n.\r\n", "x\r\n\nQ\r\n", 0, true },
		{ 0, "x\r\n.\r\r\n.\r\n", "x\r\n\r\r\n", 0, true },
		{ 0, "a\r\n.\r", "a\r\n", NO_END, false },
		{ 0, "a\r\n.", "a\r\n", NO_END, false },
		{ 0, "a\r", "a\r", NO_END, false },
		{ 0, "a\r\n..\r\n", "a\r\n.\r\n", NO_END, false },
		{ 0, "\r\n.\r\n", "\r\n", 0, false },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		size_t len = strlen(rows[i].in), n;
		size_t olen = strlen(rows[i].out);
		struct cut cuts[80];

		n = cuts_for(len, cuts, N_ROWS(cuts));
		for (size_t c = 0; c < n; c++) {
			struct unstuffed r;

			unstuff_cut(rows[i].flags, rows[i].in, len, &cuts[c], &r);
			cr_expect_eq(r.done, rows[i].rest != NO_END,
				     "row %zu split %zu chunk %zu: end", i,
				     cuts[c].split, cuts[c].chunk);
			cr_expect_eq(len - r.used,
				     rows[i].rest == NO_END ? 0 : rows[i].rest,
				     "row %zu split %zu chunk %zu: rest", i,
				     cuts[c].split, cuts[c].chunk);
			cr_expect_eq(r.out_len, olen, "row %zu split %zu chunk %zu",
				     i, cuts[c].split, cuts[c].chunk);
			cr_expect(memcmp(r.out, rows[i].out, olen) == 0,
				  "row %zu split %zu chunk %zu: content", i,
				  cuts[c].split, cuts[c].chunk);
			cr_expect_eq(r.bare, rows[i].bare, "row %zu split %zu chunk %zu",
				     i, cuts[c].split, cuts[c].chunk);
		}
	}
}

Test(unstuffer, longest_line_on_the_wire)
{
	static const struct {
		unsigned flags;
		const char *in;
		size_t longest;
	} rows[] = {
		{ 0, ".\r\n", 3 },
		{ 0, "abc\r\n.\r\n", 5 },
		{ 0, "..abc\r\nx\r\n.\r\n", 7 }, /* the stuffed dot counts */
		{ 0, "ab\ncd\r\n.\r\n", 7 },    /* a bare LF ends no line */
		{ DOT_UNSTUFF_LF_LINES, "ab\ncd\r\n.\r\n", 4 },
		{ 0, "a\r\nlong line so far", 16 },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct cut cuts[80];
		size_t len = strlen(rows[i].in);
		size_t n = cuts_for(len, cuts, N_ROWS(cuts));

		for (size_t c = 0; c < n; c++) {
			struct unstuffed r;

			unstuff_cut(rows[i].flags, rows[i].in, len, &cuts[c], &r);
			cr_expect_eq(r.longest, rows[i].longest,
				     "row %zu split %zu chunk %zu: %zu", i,
				     cuts[c].split, cuts[c].chunk, r.longest);
		}
	}
}

Test(unstuffer, random_wires_and_chunkings_match_the_model)
{
	unsigned seed = 20261126;
	char in[300], want[sizeof in];
	struct unstuffed r;

	for (int round = 0; round < 4000; round++) {
		size_t len = random_text(&seed, in, sizeof in);
		bool lf_lines = round % 2;
		struct dotmodel m;
		struct cut cut;

		cut.split = (size_t)rand_r(&seed) % (len + 1);
		cut.chunk = 1 + (size_t)rand_r(&seed) % 40;
		dotmodel_unstuff(lf_lines, in, len, want, &m);
		unstuff_cut(lf_lines ? DOT_UNSTUFF_LF_LINES : 0, in, len, &cut,
			    &r);
		cr_assert_eq(r.done, m.end != 0, "round %d", round);
		cr_assert_eq(r.used, r.done ? m.end : len, "round %d", round);
		cr_assert_eq(r.bare, m.bare, "round %d", round);
		cr_assert_eq(r.longest, m.longest, "round %d", round);
		cr_assert_eq(r.out_len, m.out_len, "round %d: %zu, want %zu",
			     round, r.out_len, m.out_len);
		cr_assert_arr_eq(r.out, want, m.out_len, "round %d", round);
	}
}

/* Stuffing then un-stuffing is the identity on CRLF text, in both
 * readings and with either way of closing, whatever the cuts; the end is
 * found exactly after the terminator and no bare CR or LF is seen. */
Test(roundtrip, crlf_text_comes_back)
{
	static const char *const pieces[] = {
		".", "..", "a", " ", "\r\n", "\r\n.", "\r\n..\r\n", "\t.",
	};
	unsigned seed = 4242;
	char text[400], wire[2 * sizeof text + DOT_STUFF_END_MAX + 8];

	for (int round = 0; round < 3000; round++) {
		size_t len = 0, wlen;
		size_t target = (size_t)rand_r(&seed) % 300;
		unsigned sflags = round & 1 ? DOT_STUFF_CLOSE_CRLF : 0;
		unsigned uflags = round & 2 ? DOT_UNSTUFF_LF_LINES : 0;
		struct cut scut = { 0, 1 + (size_t)rand_r(&seed) % 16 }, ucut;
		struct unstuffed r;

		ucut.split = (size_t)rand_r(&seed) % 50;
		ucut.chunk = 1 + (size_t)rand_r(&seed) % 16;

		while (len < target) {
			const char *p = pieces[(size_t)rand_r(&seed) % N_ROWS(pieces)];

			memcpy(text + len, p, strlen(p));
			len += strlen(p);
		}
		if (len > 0 && (len < 2 || memcmp(text + len - 2, "\r\n", 2) != 0)) {
			memcpy(text + len, "\r\n", 2);
			len += 2;
		}
		wlen = stuff_cut(sflags, text, len, &scut, wire);
		memcpy(wire + wlen, "NEXT", 4); /* the next command */
		unstuff_cut(uflags, wire, wlen + 4, &ucut, &r);
		cr_assert(r.done, "round %d", round);
		cr_assert_eq(r.used, wlen, "round %d", round);
		cr_assert_not(r.bare, "round %d", round);
		cr_assert_eq(r.out_len, len, "round %d: %zu, want %zu", round,
			     r.out_len, len);
		cr_assert_arr_eq(r.out, text, len, "round %d", round);
	}
}

/* Any text comes back as the stuffer sent it: stuffing what the
 * un-stuffer gave back reproduces the wire (bare LF became CRLF, the last
 * line was closed, once and for all). */
Test(roundtrip, any_text_is_a_fixed_point_after_one_trip)
{
	unsigned seed = 777;
	char in[300], wire[2 * sizeof in + DOT_STUFF_END_MAX];
	char again[sizeof wire * 2 + DOT_STUFF_END_MAX];

	for (int round = 0; round < 3000; round++) {
		size_t len = random_text(&seed, in, sizeof in), wlen, alen;
		unsigned sflags = round & 1 ? DOT_STUFF_CLOSE_CRLF : 0;
		struct cut cut = { 0, 1 + (size_t)rand_r(&seed) % 16 };
		struct unstuffed r;

		wlen = stuff_cut(sflags, in, len, &cut, wire);
		unstuff_cut(round & 2 ? DOT_UNSTUFF_LF_LINES : 0, wire, wlen,
			    &cut, &r);
		cr_assert(r.done && r.used == wlen, "round %d", round);
		alen = stuff_cut(sflags, r.out, r.out_len, &cut, again);
		cr_assert_eq(alen, wlen, "round %d: %zu, want %zu", round, alen,
			     wlen);
		cr_assert_arr_eq(again, wire, wlen, "round %d", round);
	}
}
