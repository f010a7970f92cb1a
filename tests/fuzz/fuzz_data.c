/* tests/fuzz/fuzz_data.c: the DATA/BDAT content state machine (data_feed,
 * data_finish) fed in pieces. Header (4 bytes): the mode and the line
 * limit, the size limit, and the seed of the piece lengths; the rest is
 * the content as the client sends it. Checked against a plain model of the
 * wire: where the end of data is, which bare CR or LF must be a fault, how
 * much output there may be. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "smtpd/data.h"
#include "tests/helpers/dotmodel.h"

/* The end of data: the first "\r\n.\r\n" with the input preceded by CRLF
 * (the DATA command's line end). Returns the octets up to and including
 * it, or 0 when there is none. */
static size_t model_end(const char *in, size_t len)
{
	for (size_t i = 0; i + 3 <= len; i++)
		if (dotmodel_bol(false, in, i) &&
		    memcmp(in + i, ".\r\n", 3) == 0)
			return i + 3;
	return 0;
}

/* A CR not followed by LF, or an LF not after a CR, in in[0..len); a CR
 * at the very end counts only when the content is complete. */
static bool model_bare(const char *in, size_t len, bool complete)
{
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			return true;
		if (in[i] == '\r' && (i + 1 < len ? in[i + 1] != '\n' : complete))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t maxes[] = { 0, 1, 10, 100, 1000 };
	static const size_t limits[] = { 0, 1, 2, 3, 10, 1000 };
	struct data_parser p;
	enum data_mode mode;
	const char *in;
	size_t len, pos = 0, total_out = 0, end;
	uint64_t max;
	unsigned seed, prev_faults = 0;
	bool was_done = false;

	if (size < 4)
		return 0;
	mode = (enum data_mode)(data[0] % 3);
	max = maxes[data[1] % 5];
	seed = data[2] | (unsigned)data[3] << 8;
	in = (const char *)data + 4;
	len = size - 4;
	data_init(&p, mode, max, limits[(data[0] / 3) % 6]);

	while (pos < len || was_done) {
		/* Piece lengths from 1 to 64 (0 in the seed: all at once). */
		size_t piece = seed == 0 ? len - pos : seed % 64 + 1, used, n;
		char *out;

		seed = seed * 1103515245u + 12345u;
		if (piece > len - pos)
			piece = len - pos;
		out = malloc(piece + DATA_OUT_SLACK);
		FUZZ_CHECK(out != NULL);
		used = data_feed(&p, in + pos, piece, out, &n);
		free(out);
		FUZZ_CHECK(used <= piece);
		FUZZ_CHECK(n <= piece + DATA_OUT_SLACK);
		/* Faults are never taken back. */
		FUZZ_CHECK((data_faults(&p) & prev_faults) == prev_faults);
		prev_faults = data_faults(&p);
		total_out += n;
		pos += used;
		if (was_done) {
			/* After the end nothing more is taken. */
			FUZZ_CHECK(used == 0 && n == 0 && data_done(&p));
			break;
		}
		if (mode != DATA_MODE_DOT) {
			FUZZ_CHECK(used == piece && !data_done(&p));
		} else if (used < piece) {
			FUZZ_CHECK(data_done(&p));
		}
		was_done = data_done(&p);
		if (was_done && pos == len)
			break;
	}
	if (mode != DATA_MODE_DOT) {
		char *out = malloc(DATA_OUT_SLACK);

		FUZZ_CHECK(out != NULL);
		total_out += data_finish(&p, out);
		free(out);
	}

	FUZZ_CHECK((data_faults(&p) & ~0x0fu) == 0);
	FUZZ_CHECK(total_out <= data_size(&p));
	if (mode == DATA_MODE_DOT) {
		end = model_end(in, len);
		FUZZ_CHECK(data_done(&p) == (end != 0));
		FUZZ_CHECK(pos == (end != 0 ? end : len));
		/* The content is what came before the final ".\r\n", minus
		 * the removed dots, so never more than that. */
		FUZZ_CHECK(data_size(&p) <= (end != 0 ? end - 3 : len));
		FUZZ_CHECK(!!(data_faults(&p) & DATA_F_BARE_NL) ==
			   model_bare(in, pos, data_done(&p)));
	} else {
		FUZZ_CHECK(pos == len && data_size(&p) == len);
		FUZZ_CHECK(total_out <= len);
		if (mode == DATA_MODE_BINARY)
			FUZZ_CHECK((data_faults(&p) &
				    (DATA_F_BARE_NL | DATA_F_LONG_LINE)) == 0);
		else
			FUZZ_CHECK(!!(data_faults(&p) & DATA_F_BARE_NL) ==
				   model_bare(in, len, true));
	}
	FUZZ_CHECK(!!(data_faults(&p) & DATA_F_TOO_BIG) ==
		   (max != 0 && data_size(&p) > max));
	{
		const char *enh = NULL, *text = NULL;
		int code = 0;

		if (data_fault_reply(data_faults(&p), &code, &enh, &text) == 0)
			FUZZ_CHECK(data_faults(&p) != 0 &&
				   (code == 550 || code == 552 || code == 554) &&
				   enh != NULL && text != NULL);
		else
			FUZZ_CHECK(data_faults(&p) == 0);
	}
	return 0;
}
