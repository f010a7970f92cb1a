/* tests/test_hops.c: the streamed count of Received fields
 * (pipeline/hops.h), each input fed whole and in 1-, 2- and 7-octet
 * chunks. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <string.h>

#include "pipeline/hops.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *in;
	unsigned count;
	bool done;
} rows[] = {
	{ "", 0, false },
	{ "Received: a\r\nReceived: b\r\n\r\nbody", 2, true },
	{ "received: a\r\nRECEIVED: b\r\nReCeIvEd:c\r\n\r\n", 3, true },
	/* obsolete blanks before the colon still name the field */
	{ "Received : a\r\nReceived\t: b\r\n\r\n", 2, true },
	/* other names: longer, shorter, continuation lines, no colon */
	{ "Received-SPF: pass\r\nReceive: x\r\n Received: folded\r\n"
	  "X-Received: y\r\nReceived x: z\r\nReceived\r\n\r\n", 0, true },
	/* a folded Received field counts once */
	{ "Received: from a\r\n\tby b\r\n\tfor c\r\nSubject: s\r\n\r\n", 1, true },
	/* nothing after the empty line counts */
	{ "Subject: s\r\n\r\nReceived: in the body\r\n", 0, true },
	{ "Received: a\n\nReceived: b\n", 1, true },
	/* a header section that never ends */
	{ "Received: a\r\nReceived: b", 2, false },
	/* a blank line with a space is not empty */
	{ "Received: a\r\n \r\nReceived: b\r\n\r\n", 2, true },
	{ "\r\nReceived: a\r\n", 0, true },
};

static void feed_in(size_t chunk, size_t i)
{
	struct hops h;
	const char *in = rows[i].in;
	size_t len = strlen(in);

	hops_init(&h);
	for (size_t off = 0; off < len; off += chunk)
		hops_feed(&h, in + off, len - off < chunk ? len - off : chunk);
	cr_assert_eq(h.count, rows[i].count, "row %zu, chunk %zu: %u", i, chunk,
		     h.count);
	cr_assert_eq(h.done, rows[i].done, "row %zu, chunk %zu", i, chunk);
}

Test(hops, table_in_chunks)
{
	static const size_t chunks[] = { 1, 2, 7, 1 << 20 };

	for (size_t c = 0; c < N_ROWS(chunks); c++)
		for (size_t i = 0; i < N_ROWS(rows); i++)
			feed_in(chunks[c], i);
}

Test(hops, many_fields)
{
	struct hops h;

	hops_init(&h);
	for (int i = 0; i < 150; i++)
		hops_feed(&h, "Received: from x by y; date\r\n", 29);
	hops_feed(&h, "\r\n", 2);
	hops_feed(&h, "Received: z\r\n", 13);
	cr_assert_eq(h.count, 150);
	cr_assert(h.done);
}
