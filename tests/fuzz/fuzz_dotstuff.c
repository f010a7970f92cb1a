/* tests/fuzz/fuzz_dotstuff.c: the dot-stuffer and the un-stuffer of
 * common/proto/dotstuff. First byte: bit 0 DOT_UNSTUFF_LF_LINES (any LF
 * starts a line), bit 1 DOT_STUFF_CLOSE_CRLF; the next two seed the piece
 * lengths. The rest is un-stuffed in pieces and checked against a plain
 * model (where the body ends, what it holds, whether a CR or LF was bare,
 * the longest line); what follows the end is un-stuffed as the next body.
 * Then the rest is stuffed in pieces and un-stuffed back: the end comes
 * right after the terminator and the text comes back with CRLF line ends
 * and its last line closed. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <stdbool.h>
#include <string.h>

#include "common/proto/dotstuff.h"
#include "tests/helpers/dotmodel.h"

/* Un-stuff in[0..len) in pieces into out (room len + 1) until the end;
 * returns the octets taken, the output length in *out_len_r. */
static size_t unstuff_pieces(struct dot_unstuffer *u, const char *in,
			     size_t len, unsigned *seed, char *out,
			     size_t *out_len_r)
{
	size_t pos = 0, o = 0;

	while (pos < len && !dot_unstuff_done(u)) {
		size_t piece = *seed == 0 ? len - pos : *seed % 32 + 1, used, n;

		*seed = *seed * 1103515245u + 12345u;
		if (piece > len - pos)
			piece = len - pos;
		used = dot_unstuff(u, in + pos, piece, out + o, &n);
		FUZZ_CHECK(used <= piece && n <= piece + 1);
		FUZZ_CHECK(used == piece || dot_unstuff_done(u));
		o += n;
		FUZZ_CHECK(o <= len + 1);
		pos += used;
	}
	*out_len_r = o;
	return pos;
}

/* Bodies one after the other, each against the model. */
static void check_unstuff(unsigned flags, const char *in, size_t len,
			  unsigned seed)
{
	bool lf_lines = (flags & DOT_UNSTUFF_LF_LINES) != 0;
	size_t pos = 0;

	while (pos < len) {
		struct dot_unstuffer u;
		char *got = malloc(len - pos + 1), *want = malloc(len - pos + 1);
		size_t got_len, used, rest = len - pos;
		struct dotmodel m;

		FUZZ_CHECK(got != NULL && want != NULL);
		dot_unstuff_init(&u, flags);
		dotmodel_unstuff(lf_lines, in + pos, rest, want, &m);
		used = unstuff_pieces(&u, in + pos, rest, &seed, got, &got_len);
		FUZZ_CHECK(dot_unstuff_done(&u) == (m.end != 0));
		FUZZ_CHECK(used == (m.end != 0 ? m.end : rest));
		FUZZ_CHECK(u.bare == m.bare && u.longest == m.longest);
		FUZZ_CHECK(got_len == m.out_len &&
			   memcmp(got, want, got_len) == 0);
		pos += used;
		free(got);
		free(want);
	}
}

/* Stuff in pieces, un-stuff back (the flags byte of the input). */
static void check_round_trip(unsigned flags, const char *in, size_t len,
			     unsigned seed)
{
	bool close_crlf = (flags & 2u) != 0;
	char *wire = malloc(2 * len + DOT_STUFF_END_MAX);
	char *norm = malloc(2 * len + 2), *back = malloc(2 * len + 6);
	size_t wlen = 0, nlen = 0, blen, used, end_len;
	struct dot_stuffer st;
	struct dot_unstuffer u;

	FUZZ_CHECK(wire != NULL && norm != NULL && back != NULL);
	dot_stuff_init(&st, close_crlf ? DOT_STUFF_CLOSE_CRLF : 0);
	for (size_t pos = 0; pos < len;) {
		size_t piece = seed % 48 + 1, n;

		seed = seed * 1103515245u + 12345u;
		if (piece > len - pos)
			piece = len - pos;
		n = dot_stuff(&st, in + pos, piece, wire + wlen);
		FUZZ_CHECK(n >= piece && n <= 2 * piece);
		wlen += n;
		pos += piece;
	}
	end_len = dot_stuff_end(&st, wire + wlen);
	FUZZ_CHECK(end_len >= 3 && end_len <= DOT_STUFF_END_MAX);
	wlen += end_len;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			norm[nlen++] = '\r';
		norm[nlen++] = in[i];
	}
	if (len > 0 && in[len - 1] != '\n') {
		if (in[len - 1] != '\r' || close_crlf)
			norm[nlen++] = '\r';
		norm[nlen++] = '\n';
	}
	dot_unstuff_init(&u, flags & 1u ? DOT_UNSTUFF_LF_LINES : 0);
	used = unstuff_pieces(&u, wire, wlen, &seed, back, &blen);
	FUZZ_CHECK(dot_unstuff_done(&u) && used == wlen);
	FUZZ_CHECK(blen == nlen && memcmp(back, norm, nlen) == 0);
	/* The text's bare CRs are all that is bare on the wire. */
	FUZZ_CHECK(u.bare == dotmodel_bare(norm, nlen));
	free(back);
	free(norm);
	free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags, seed;

	if (size < 3)
		return 0;
	flags = data[0] & 3u;
	seed = data[1] | (unsigned)data[2] << 8;
	check_unstuff(flags & 1u ? DOT_UNSTUFF_LF_LINES : 0,
		      (const char *)data + 3, size - 3, seed);
	check_round_trip(flags, (const char *)data + 3, size - 3, seed);
	return 0;
}
