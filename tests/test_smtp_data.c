/* tests/test_smtp_data.c: the DATA/BDAT content state machine — end of
 * data, dot-unstuffing, every smuggling variant, limits, Received count and
 * Return-Path removal — each fed in chunks of 1, 2, 7 octets and whole. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/data.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(smtp_data, .init = setup, .fini = teardown);

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

static const size_t CHUNKS[] = { 1, 2, 7, 0 /* whole */ };

struct run {
	char out[8192];
	size_t out_len;
	size_t used;   /* input octets taken before the end (or all) */
	bool done;
	unsigned faults;
	uint64_t size;
};

/* Feed in[0..len) in chunks of `chunk` octets (0: all at once). */
static void run(enum data_mode mode, const char *in, size_t len, size_t chunk,
		uint64_t max_size, size_t line_limit, struct run *r)
{
	struct data_parser p;
	char buf[4096 + DATA_OUT_SLACK];
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	data_init(&p, mode, max_size, line_limit);
	while (pos < len && !data_done(&p)) {
		size_t n = chunk == 0 || chunk > len - pos ? len - pos : chunk;
		size_t out_len = 0, used;

		if (n > 4096)
			n = 4096;
		used = data_feed(&p, in + pos, n, buf, &out_len);
		cr_assert_leq(used, n);
		cr_assert_leq(out_len, n + DATA_OUT_SLACK);
		cr_assert_lt(r->out_len + out_len, sizeof(r->out));
		memcpy(r->out + r->out_len, buf, out_len);
		r->out_len += out_len;
		pos += used;
		if (used < n)
			cr_assert(data_done(&p), "short use only at the end");
	}
	if (mode != DATA_MODE_DOT) {
		size_t n = data_finish(&p, buf);

		memcpy(r->out + r->out_len, buf, n);
		r->out_len += n;
	}
	r->used = pos;
	r->done = data_done(&p);
	r->faults = data_faults(&p);
	r->size = data_size(&p);
}

Test(smtp_data, end_and_unstuffing)
{
	static const struct {
		const char *in;
		const char *out;
		const char *after; /* what is left for the command reader */
	} rows[] = {
		{ ".\r\n", "", "" },
		{ ".\r\nQUIT\r\n", "", "QUIT\r\n" },
		{ "a\r\n.\r\n", "a\r\n", "" },
		{ "a\r\n.\r\nQUIT\r\n", "a\r\n", "QUIT\r\n" },
		{ "..x\r\n..\r\n. \r\n.\r\n", ".x\r\n.\r\n \r\n", "" },
		{ "...\r\n.\r\nRSET\r\nMAIL FROM:<a@b>\r\n", "..\r\n",
		  "RSET\r\nMAIL FROM:<a@b>\r\n" },
		{ "S: x\r\n\r\nbody\r\n.x.\r\n.\r\n", "S: x\r\n\r\nbody\r\nx.\r\n", "" },
		{ "x\0y\r\n.\r\n", "x\0y\r\n", "" },
		{ "\x80\xff\xc3\xa9\r\n.\r\n", "\x80\xff\xc3\xa9\r\n", "" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		/* Inputs may hold NULs: their length is up to the final ".\r\n"
		 * plus the commands. */
		size_t len = strlen(rows[i].in);
		char in[256];
		size_t out_len = strlen(rows[i].out);

		if (i == 7) { /* the NUL row */
			len = 8;
			out_len = 5;
		}
		memcpy(in, rows[i].in, len);
		in[len] = '\0';
		for (size_t c = 0; c < N_ROWS(CHUNKS); c++) {
			struct run r;

			run(DATA_MODE_DOT, in, len, CHUNKS[c], 0, 1000, &r);
			cr_assert(r.done, "row %zu chunk %zu: no end", i, CHUNKS[c]);
			cr_assert_eq(r.faults, 0, "row %zu chunk %zu: faults %x", i,
				     CHUNKS[c], r.faults);
			cr_assert_eq(r.out_len, out_len, "row %zu chunk %zu: len %zu",
				     i, CHUNKS[c], r.out_len);
			cr_assert(memcmp(r.out, rows[i].out, out_len) == 0,
				  "row %zu chunk %zu: content", i, CHUNKS[c]);
			cr_assert_str_eq(in + r.used, rows[i].after, "row %zu", i);
		}
	}
}

/* The smuggling probe of every variant: the sequence never ends the data,
 * the would-be second transaction is content, the real end is found and the
 * message carries the bare-newline fault (or none for clean CRLF ones). */
Test(smtp_data, smuggling_variants)
{
	static const struct {
		const char *seq;
		size_t seqlen;
		bool bare;
	} rows[] = {
		{ "\n.\n", 3, true },
		{ "\n.\r\n", 4, true },
		{ "\r\n.\n", 4, true },
		{ "\r.\r", 3, true },
		{ "\r.\r\n", 4, true },
		{ "\r\n.\r", 4, true },
		{ "\n.\r", 3, true },
		{ "\r\n\0.\r\n", 6, false }, /* NUL before the dot: content */
		{ "\r\n.\r\r\n", 6, true },
		{ "\r\n.\r\n", 5, false },   /* the real end: control row */
	};
	static const char head[] = "Subject: one\r\n\r\nx";
	static const char tail[] =
		"MAIL FROM:<ceo@example.test>\r\nRCPT TO:<alice@example.test>\r\n"
		"DATA\r\nSubject: smuggled\r\n\r\ny\r\n.\r\nNOOP\r\n";

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char in[512];
		size_t len = 0;

		memcpy(in + len, head, sizeof(head) - 1);
		len += sizeof(head) - 1;
		memcpy(in + len, rows[i].seq, rows[i].seqlen);
		len += rows[i].seqlen;
		memcpy(in + len, tail, sizeof(tail) - 1);
		len += sizeof(tail) - 1;
		in[len] = '\0';
		for (size_t c = 0; c < N_ROWS(CHUNKS); c++) {
			struct run r;
			bool control = i == N_ROWS(rows) - 1;

			run(DATA_MODE_DOT, in, len, CHUNKS[c], 0, 1000, &r);
			cr_assert(r.done, "row %zu chunk %zu", i, CHUNKS[c]);
			if (control) {
				/* The real end comes right after "x". */
				cr_assert_str_eq(in + r.used, tail, "control row");
				continue;
			}
			cr_assert_eq(!!(r.faults & DATA_F_BARE_NL), rows[i].bare,
				     "row %zu chunk %zu: faults %x", i, CHUNKS[c],
				     r.faults);
			/* Only the final ".\r\n" ended it: "NOOP" is what is left. */
			cr_assert_str_eq(in + r.used, "NOOP\r\n", "row %zu chunk %zu",
					 i, CHUNKS[c]);
			cr_assert_not_null(memmem(r.out, r.out_len, "Subject: smuggled",
						  17), "row %zu: content kept", i);
		}
	}
}

Test(smtp_data, bare_newlines_anywhere)
{
	static const struct {
		const char *in;
		bool bare;
	} rows[] = {
		{ "a\nb\r\n.\r\n", true },
		{ "a\rb\r\n.\r\n", true },
		{ "a\r\r\n.\r\n", true },
		{ "\n\r\n.\r\n", true },
		{ "\r\r\n.\r\n", true },
		{ "a\r\n\n.\r\n.\r\n", true }, /* no line start after a bare LF */
		{ "a\r\nb\r\n.\r\n", false },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++)
		for (size_t c = 0; c < N_ROWS(CHUNKS); c++) {
			struct run r;

			run(DATA_MODE_DOT, rows[i].in, strlen(rows[i].in), CHUNKS[c],
			    0, 1000, &r);
			cr_assert(r.done, "row %zu", i);
			cr_assert_eq(!!(r.faults & DATA_F_BARE_NL), rows[i].bare,
				     "row %zu chunk %zu", i, CHUNKS[c]);
		}
}

Test(smtp_data, no_end_without_crlf_dot_crlf)
{
	static const char *const rows[] = {
		"a\n.\n", "a\r.\r", "a\r\n.\n", "a\n.\r\n", "a\r\n.\r",
		".\n", "\n.\r\n", "a\r\n. \r\n", "a\r\n..\r\n",
	};

	for (size_t i = 0; i < N_ROWS(rows); i++)
		for (size_t c = 0; c < N_ROWS(CHUNKS); c++) {
			struct run r;

			run(DATA_MODE_DOT, rows[i], strlen(rows[i]), CHUNKS[c], 0,
			    1000, &r);
			cr_assert(!r.done, "row %zu chunk %zu ended", i, CHUNKS[c]);
			cr_assert_eq(r.used, strlen(rows[i]), "row %zu", i);
		}
}

Test(smtp_data, line_limit)
{
	/* The same line in the header section and in the body (where octets
	 * are taken in runs), in DATA and in BDAT. */
	static const char *const prefixes[] = { "", "S: x\r\n\r\n" };
	static const enum data_mode modes[] = { DATA_MODE_DOT, DATA_MODE_CHUNK };
	char in[3000];
	static const struct {
		size_t text; /* octets before CRLF */
		bool long_line;
	} rows[] = { { 998, false }, { 999, true }, { 10, false }, { 2000, true } };

	for (size_t i = 0; i < N_ROWS(rows); i++)
		for (size_t m = 0; m < N_ROWS(modes) * N_ROWS(prefixes); m++)
			for (size_t c = 0; c < N_ROWS(CHUNKS); c++) {
				enum data_mode mode = modes[m % 2];
				const char *pre = prefixes[m / 2];
				size_t plen = strlen(pre), len = rows[i].text;
				struct run r;

				memcpy(in, pre, plen);
				memset(in + plen, 'a', len);
				memcpy(in + plen + len, "\r\n.\r\n", 5);
				run(mode, in, plen + len + (mode == DATA_MODE_DOT ? 5 : 2),
				    CHUNKS[c], 0, 1000, &r);
				cr_assert(r.done || mode != DATA_MODE_DOT);
				cr_assert_eq(!!(r.faults & DATA_F_LONG_LINE),
					     rows[i].long_line, "row %zu mode %zu chunk %zu",
					     i, m, CHUNKS[c]);
				/* Never truncated: the whole line is content. */
				cr_assert_eq(r.out_len, plen + len + 2, "row %zu", i);
				cr_assert_eq(r.size, plen + len + 2, "row %zu", i);
			}
}

Test(smtp_data, size_limit)
{
	static const struct {
		const char *in;
		uint64_t max;
		bool big;
	} rows[] = {
		{ "12345678\r\n.\r\n", 10, false },
		{ "123456789\r\n.\r\n", 10, true },
		{ "..\r\n.\r\n", 3, false }, /* the stuffing dot does not count */
		{ "abc\r\n.\r\n", 0, false },
		/* in the body, where octets are taken in runs */
		{ "S: x\r\n\r\n12345678\r\n.\r\n", 18, false },
		{ "S: x\r\n\r\n123456789\r\n.\r\n", 18, true },
		{ "S: x\r\n\r\n..a\r\n.\r\n", 12, false },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++)
		for (size_t c = 0; c < N_ROWS(CHUNKS); c++) {
			struct run r;

			run(DATA_MODE_DOT, rows[i].in, strlen(rows[i].in), CHUNKS[c],
			    rows[i].max, 1000, &r);
			cr_assert(r.done, "row %zu", i);
			cr_assert_eq(!!(r.faults & DATA_F_TOO_BIG), rows[i].big,
				     "row %zu chunk %zu", i, CHUNKS[c]);
			/* Every content octet counts, stored or not. */
			cr_assert_eq(r.size, r.out_len, "row %zu chunk %zu", i,
				     CHUNKS[c]);
		}
}

/* BODY=BINARYMIME: the body is one run to the end, with no CR or LF to
 * stop at, so the limit is checked inside the run. */
Test(smtp_data, size_limit_binary_body)
{
	static const char in[] = "S: x\r\n\r\n0123456789abcdefghij";
	static const struct {
		uint64_t max;
		bool big;
	} rows[] = { { 28, false }, { 27, true }, { 9, true }, { 0, false } };

	for (size_t i = 0; i < N_ROWS(rows); i++)
		for (size_t c = 0; c < N_ROWS(CHUNKS); c++) {
			struct run r;

			run(DATA_MODE_BINARY, in, sizeof(in) - 1, CHUNKS[c],
			    rows[i].max, 0, &r);
			cr_assert_eq(!!(r.faults & DATA_F_TOO_BIG), rows[i].big,
				     "row %zu chunk %zu", i, CHUNKS[c]);
			cr_assert_eq(r.size, sizeof(in) - 1, "row %zu", i);
			cr_assert_eq(r.out_len, sizeof(in) - 1, "row %zu", i);
		}
}

/* Received fields are content here, however many: the hop limit is the
 * pipeline's (pipeline/stage_hops.c). */
Test(smtp_data, received_fields_are_content)
{
	static const struct {
		unsigned received;
		bool in_body; /* the lines follow the header section */
	} rows[] = { { 0, false }, { 3, false }, { 99, false },
		     { 100, false }, { 101, false }, { 150, true } };
	static char in[40000];

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		size_t len = 0;

		if (rows[i].in_body)
			len += (size_t)sprintf(in + len, "Subject: s\r\n\r\n");
		for (unsigned k = 0; k < rows[i].received; k++)
			len += (size_t)sprintf(in + len, "%s: from h%u by x\r\n",
					       k % 2 ? "RECEIVED" : "Received", k);
		len += (size_t)sprintf(in + len, "X: y\r\n\r\nReceived: body\r\n.\r\n");
		for (size_t c = 0; c < N_ROWS(CHUNKS); c++) {
			struct data_parser p;
			static char out[sizeof(in) + DATA_OUT_SLACK];
			size_t pos = 0, ol;
			size_t chunk = CHUNKS[c] == 0 ? len : CHUNKS[c];

			data_init(&p, DATA_MODE_DOT, 0, 1000);
			while (pos < len && !data_done(&p)) {
				size_t n = chunk < len - pos ? chunk : len - pos;

				pos += data_feed(&p, in + pos, n, out, &ol);
			}
			cr_assert(data_done(&p));
			cr_assert_eq(data_faults(&p), 0, "row %zu", i);
		}
	}
}

Test(smtp_data, return_path_dropped)
{
	static const struct {
		const char *in;
		const char *out;
	} rows[] = {
		{ "Return-Path: <x@evil>\r\nSubject: s\r\n\r\nb\r\n.\r\n",
		  "Subject: s\r\n\r\nb\r\n" },
		{ "return-path:<x@evil>\r\n\t<folded>\r\nA: b\r\n\r\n.\r\n",
		  "A: b\r\n\r\n" },
		{ "A: b\r\nReturn-Path: <x>\r\nC: d\r\n\r\n.\r\n",
		  "A: b\r\nC: d\r\n\r\n" },
		{ "A: b\r\n\r\nReturn-Path: <in body>\r\n.\r\n",
		  "A: b\r\n\r\nReturn-Path: <in body>\r\n" },
		{ "Return-Pathx: y\r\nReturn: z\r\n\r\n.\r\n",
		  "Return-Pathx: y\r\nReturn: z\r\n\r\n" },
		{ "Return-Path: <a>\r\n\r\n.\r\n", "\r\n" },
		{ "Re\r\n.\r\n", "Re\r\n" },
		{ ".Return-Path: <a>\r\nX: y\r\n.\r\n", "X: y\r\n" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++)
		for (size_t c = 0; c < N_ROWS(CHUNKS); c++) {
			struct run r;

			run(DATA_MODE_DOT, rows[i].in, strlen(rows[i].in), CHUNKS[c],
			    0, 1000, &r);
			cr_assert(r.done, "row %zu", i);
			r.out[r.out_len] = '\0';
			cr_assert_str_eq(r.out, rows[i].out, "row %zu chunk %zu", i,
					 CHUNKS[c]);
		}
}

Test(smtp_data, bdat_modes)
{
	static const struct {
		enum data_mode mode;
		const char *in;
		const char *out;
		unsigned faults;
	} rows[] = {
		/* BDAT content is verbatim: no terminator, no unstuffing. */
		{ DATA_MODE_CHUNK, "a\r\n.\r\nMAIL FROM:<x>\r\n..\r\n",
		  "a\r\n.\r\nMAIL FROM:<x>\r\n..\r\n", 0 },
		{ DATA_MODE_CHUNK, "a\nb\r\n", "a\nb\r\n", DATA_F_BARE_NL },
		{ DATA_MODE_CHUNK, "a\rb\r\n", "a\rb\r\n", DATA_F_BARE_NL },
		{ DATA_MODE_CHUNK, "a\r\nb\r", "a\r\nb\r", DATA_F_BARE_NL },
		{ DATA_MODE_CHUNK, "a\r\nb", "a\r\nb", 0 },
		{ DATA_MODE_BINARY, "a\nb\r\x00\r", "a\nb\r\x00\r", 0 },
		{ DATA_MODE_CHUNK, "Return-Path: <x>\r\nA: b\r\n", "A: b\r\n", 0 },
		{ DATA_MODE_CHUNK, "Return", "Return", 0 },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++)
		for (size_t c = 0; c < N_ROWS(CHUNKS); c++) {
			struct run r;
			size_t len = strlen(rows[i].in), olen = strlen(rows[i].out);

			if (rows[i].mode == DATA_MODE_BINARY)
				len = olen = 6;
			run(rows[i].mode, rows[i].in, len, CHUNKS[c], 0, 1000, &r);
			cr_assert(!r.done);
			cr_assert_eq(r.used, len);
			cr_assert_eq(r.faults, rows[i].faults, "row %zu chunk %zu: %x",
				     i, CHUNKS[c], r.faults);
			cr_assert_eq(r.out_len, olen, "row %zu chunk %zu", i, CHUNKS[c]);
			cr_assert(memcmp(r.out, rows[i].out, olen) == 0, "row %zu", i);
		}
}

Test(smtp_data, fault_replies)
{
	static const struct {
		unsigned faults;
		int code;
		const char *enh;
	} rows[] = {
		{ DATA_F_BARE_NL | DATA_F_TOO_BIG, 550, "5.5.2" },
		{ DATA_F_TOO_BIG | DATA_F_LONG_LINE, 552, "5.3.4" },
		{ DATA_F_LONG_LINE, 552, "5.3.4" },
	};
	int code;
	const char *enh, *text;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		cr_assert_eq(data_fault_reply(rows[i].faults, &code, &enh, &text), 0);
		cr_assert_eq(code, rows[i].code, "row %zu", i);
		cr_assert_str_eq(enh, rows[i].enh, "row %zu", i);
	}
	cr_assert_eq(data_fault_reply(0, &code, &enh, &text), -1);
}

/* Body octets are taken in runs up to the next CR or LF; a run cut by a
 * feed boundary must give what one long run gives. Random messages built
 * from the pieces that move the state machine, fed whole, octet by octet
 * and in uneven chunks, in all three modes, give the same result. */
Test(smtp_data, chunking_never_changes_the_result)
{
	static const char *const pieces[] = {
		"\r\n", "\r", "\n", ".", "\r\n.\r\n", "\r\n..", "a", "text ",
		"Received: x\r\n", "Return-Path: <a@b>\r\n", " folded",
		"\r\n\r\n", "\t", "0123456789012345678901234567890123456789",
	};
	static const enum data_mode modes[] = {
		DATA_MODE_DOT, DATA_MODE_CHUNK, DATA_MODE_BINARY,
	};
	static const size_t limits[] = { 0, 30, 1000 };
	static const size_t sizes[] = { 1, 3, 64, 0 };
	unsigned seed = 20261126;
	char in[3000];

	for (int round = 0; round < 400; round++) {
		size_t len = 0;

		while (len < 2000) {
			seed = seed * 1103515245u + 12345u;
			const char *piece = pieces[(seed >> 16) % N_ROWS(pieces)];
			size_t n = strlen(piece);

			memcpy(in + len, piece, n);
			len += n;
		}
		enum data_mode mode = modes[round % 3];
		size_t limit = limits[(round / 3) % 3];
		uint64_t max = round % 2 ? 0 : 1500;
		struct run whole, other;

		run(mode, in, len, 0, max, limit, &whole);
		for (size_t c = 0; c < N_ROWS(sizes); c++) {
			run(mode, in, len, sizes[c], max, limit, &other);
			cr_assert_eq(other.out_len, whole.out_len,
				     "round %d chunk %zu: %zu vs %zu", round,
				     sizes[c], other.out_len, whole.out_len);
			cr_assert(memcmp(other.out, whole.out, whole.out_len) == 0,
				  "round %d chunk %zu: content", round, sizes[c]);
			cr_assert_eq(other.faults, whole.faults,
				     "round %d chunk %zu: faults %x vs %x", round,
				     sizes[c], other.faults, whole.faults);
			cr_assert_eq(other.used, whole.used, "round %d", round);
			cr_assert_eq(other.done, whole.done, "round %d", round);
		}
	}
}
