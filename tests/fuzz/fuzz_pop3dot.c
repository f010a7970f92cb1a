/* tests/fuzz/fuzz_pop3dot.c: the POP3 client's multi-line body decoder
 * (pop3c_dot_feed), fed in pieces, checked against a plain model: a body
 * ends at the first "." CRLF line (a line starts after any LF), a leading
 * dot of every other line is removed. What follows the end is decoded as
 * the next body. The first two bytes seed the piece lengths. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <stdbool.h>
#include <string.h>

#include "common/client/pop3client.h"

/* Where the body in in[0..len) ends (octets up to and including ".\r\n"),
 * or 0 when it does not; its decoding into out (room len), length in
 * *out_len_r. */
static size_t model(const char *in, size_t len, char *out, size_t *out_len_r)
{
	size_t o = 0, end = 0;

	for (size_t i = 0; i < len; i++) {
		bool bol = i == 0 || in[i - 1] == '\n';

		if (bol && in[i] == '.') {
			if (i + 3 <= len && in[i + 1] == '\r' && in[i + 2] == '\n') {
				end = i + 3;
				break;
			}
			continue;
		}
		out[o++] = in[i];
	}
	*out_len_r = o;
	return end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in;
	size_t len, pos = 0;
	unsigned seed;

	if (size < 2)
		return 0;
	seed = data[0] | (unsigned)data[1] << 8;
	in = (const char *)data + 2;
	len = size - 2;

	while (pos < len) {
		struct pop3c_dot d;
		char *got = malloc(len - pos + 1), *want = malloc(len - pos + 1);
		size_t got_len = 0, want_len, end, start = pos;
		bool done = false;

		FUZZ_CHECK(got != NULL && want != NULL);
		memset(&d, 0, sizeof(d));
		end = model(in + pos, len - pos, want, &want_len);
		while (pos < len && !done) {
			size_t piece = seed == 0 ? len - pos : seed % 32 + 1, used, n;
			char *out;

			seed = seed * 1103515245u + 12345u;
			if (piece > len - pos)
				piece = len - pos;
			out = malloc(piece + 1);
			FUZZ_CHECK(out != NULL);
			used = pop3c_dot_feed(&d, in + pos, piece, out, &n, &done);
			FUZZ_CHECK(used <= piece && n <= piece + 1);
			FUZZ_CHECK(used == piece || done);
			FUZZ_CHECK(got_len + n <= len - start);
			memcpy(got + got_len, out, n);
			got_len += n;
			free(out);
			pos += used;
		}
		FUZZ_CHECK(done == (end != 0));
		if (done) {
			FUZZ_CHECK(pos - start == end);
			FUZZ_CHECK(got_len == want_len &&
				   memcmp(got, want, want_len) == 0);
		} else {
			/* A "." CR at a line start at the very end is held
			 * until the next octet shows whether it ends the body. */
			bool held = len - start >= 2 && in[len - 1] == '\r' &&
				    in[len - 2] == '.' &&
				    (len - start == 2 || in[len - 3] == '\n');

			FUZZ_CHECK(got_len + held == want_len &&
				   memcmp(got, want, got_len) == 0);
		}
		free(got);
		free(want);
	}
	return 0;
}
