/* tests/fuzz/fuzz_retr.c: the resumable RETR/TOP stream
 * (pop3_stream_fill). With a buffer size and source reads chosen by the
 * first bytes, it must produce the octets the stuffer gives for the
 * message fed in pieces (the stuffer itself: fuzz_dotstuff.c). */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

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
	struct dot_stuffer st;
	struct pop3_stream stream;
	struct src src;
	const char *in;
	char *body, *buf;
	size_t len, pos = 0, blen = 0, end_len, cap;
	unsigned seed;
	int rc;

	if (size < 3)
		return 0;
	seed = data[0] | (unsigned)data[1] << 8;
	cap = 2 * DOT_STUFF_END_MAX + data[2];
	in = (const char *)data + 3;
	len = size - 3;

	body = malloc(2 * len + DOT_STUFF_END_MAX);
	buf = malloc(cap);
	FUZZ_CHECK(body != NULL && buf != NULL);
	/* Stuff in pieces of 1 to 48 octets. */
	dot_stuff_init(&st, 0);
	while (pos < len) {
		size_t piece = seed % 48 + 1;

		seed = seed * 1103515245u + 12345u;
		if (piece > len - pos)
			piece = len - pos;
		blen += dot_stuff(&st, in + pos, piece, body + blen);
		pos += piece;
	}
	end_len = dot_stuff_end(&st, body + blen);
	blen += end_len;

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
	free(body);
	return 0;
}
