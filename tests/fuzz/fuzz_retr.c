/* tests/fuzz/fuzz_retr.c: the RETR/TOP byte-stuffer (pop3_stuff,
 * pop3_stuff_end) and the resumable stream (pop3_stream_fill). The
 * message is stuffed in pieces; the POP3 client's decoder
 * (pop3c_dot_feed) must find the end exactly at the terminator and give
 * back the message with every line ending in CRLF; the stream, with a
 * buffer size and source reads chosen by the first bytes, must produce
 * the same octets. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "common/client/pop3client.h"
#include "pop3d/retr.h"

struct src {
	const char *p;
	size_t len, pos;
	unsigned seed;
};

/* Reads of 1 to 97 octets, as a file or a slow pipe would give them. */
static ssize_t src_read(void *arg, void *buf, size_t len)
{
	struct src *s = arg;
	size_t n = s->seed % 97 + 1;

	s->seed = s->seed * 1103515245u + 12345u;
	if (n > len)
		n = len;
	if (n > s->len - s->pos)
		n = s->len - s->pos;
	memcpy(buf, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_stuffer st;
	struct pop3_stream stream;
	struct pop3c_dot d = { 0 };
	struct src src;
	const char *in;
	char *body, *norm, *dec, *buf;
	size_t len, pos = 0, blen = 0, nlen = 0, dlen, used, cap, end_len;
	unsigned seed;
	bool done;
	int rc;

	if (size < 3)
		return 0;
	seed = data[0] | (unsigned)data[1] << 8;
	cap = 2 * POP3_STUFF_END_MAX + data[2];
	in = (const char *)data + 3;
	len = size - 3;

	body = malloc(2 * len + POP3_STUFF_END_MAX);
	norm = malloc(2 * len + 2);
	dec = malloc(2 * len + POP3_STUFF_END_MAX + 1);
	buf = malloc(cap);
	FUZZ_CHECK(body != NULL && norm != NULL && dec != NULL && buf != NULL);

	/* Stuff in pieces of 1 to 48 octets. */
	pop3_stuff_init(&st);
	while (pos < len) {
		size_t piece = seed % 48 + 1, n;

		seed = seed * 1103515245u + 12345u;
		if (piece > len - pos)
			piece = len - pos;
		n = pop3_stuff(&st, in + pos, piece, body + blen);
		FUZZ_CHECK(n >= piece && n <= 2 * piece);
		blen += n;
		pos += piece;
	}
	end_len = pop3_stuff_end(&st, body + blen);
	FUZZ_CHECK(end_len >= 3 && end_len <= POP3_STUFF_END_MAX);
	blen += end_len;
	FUZZ_CHECK(blen >= 3 && memcmp(body + blen - 3, ".\r\n", 3) == 0);

	/* The message as the client must see it: CRLF line ends, the last
	 * line closed. */
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			norm[nlen++] = '\r';
		norm[nlen++] = in[i];
	}
	if (len > 0 && in[len - 1] != '\n') {
		if (in[len - 1] != '\r')
			norm[nlen++] = '\r';
		norm[nlen++] = '\n';
	}
	used = pop3c_dot_feed(&d, body, blen, dec, &dlen, &done);
	FUZZ_CHECK(done && used == blen);
	FUZZ_CHECK(dlen == nlen && memcmp(dec, norm, nlen) == 0);

	/* The stream gives the same octets, whatever the buffer and reads. */
	src.p = in;
	src.len = len;
	src.pos = 0;
	src.seed = seed;
	pos = 0;
	pop3_stream_init(&stream, src_read, &src);
	do {
		size_t n = 0;

		rc = pop3_stream_fill(&stream, buf, cap, &n);
		FUZZ_CHECK(rc == 0 || rc == 1);
		FUZZ_CHECK(n <= cap && pos + n <= blen);
		FUZZ_CHECK(memcmp(buf, body + pos, n) == 0);
		pos += n;
	} while (rc == 1);
	FUZZ_CHECK(pos == blen && stream.finished &&
		   stream.bytes == blen - end_len);

	free(buf);
	free(dec);
	free(norm);
	free(body);
	return 0;
}
