/* tests/test_buf.c: line framing and the output queue, fed in chunks of 1,
 * 2, 7 and whole-buffer sizes. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "common/net/buf.h"

struct want {
	const char *data;
	size_t len;
	unsigned flags;
};

struct frame_row {
	const char *in;
	size_t in_len;
	size_t max_line;
	struct want lines[4];
	size_t n_lines;
	size_t left; /* bytes still buffered at the end */
};

#define S(s) s, sizeof s - 1

static const struct frame_row rows[] = {
	{ S("HELO a\r\n"), 64, { { S("HELO a"), BUF_LINE_CRLF } }, 1, 0 },
	{ S("a\nb\r\n"), 64, { { S("a"), 0 }, { S("b"), BUF_LINE_CRLF } }, 2, 0 },
	{ S("\r\n\n"), 64, { { S(""), BUF_LINE_CRLF }, { S(""), 0 } }, 2, 0 },
	{ S("no end"), 64, { { NULL, 0, 0 } }, 0, 6 },
	{ S("a\rb\r\n"), 64, { { S("a\rb"), BUF_LINE_CRLF | BUF_LINE_BARE_CR } },
	  1, 0 },
	{ S("a\0b\n"), 64, { { S("a\0b"), BUF_LINE_NUL } }, 1, 0 },
	{ S("x\r\r\n"), 64, { { S("x\r"), BUF_LINE_CRLF | BUF_LINE_BARE_CR } },
	  1, 0 },
	/* max_line counts the terminator */
	{ S("abc\n"), 5, { { S("abc"), 0 } }, 1, 0 },
	{ S("abcd\n"), 5, { { S("abcd"), 0 } }, 1, 0 },
	{ S("abc\r\n"), 5, { { S("abc"), BUF_LINE_CRLF } }, 1, 0 },
	/* overlong: reported once with its head, the rest dropped */
	{ S("abcde\nok\n"), 5,
	  { { S("abcd"), BUF_LINE_OVERLONG }, { S("ok"), 0 } }, 2, 0 },
	{ S("abcdefghijklmnop\r\nok\r\n"), 5,
	  { { S("abcd"), BUF_LINE_OVERLONG }, { S("ok"), BUF_LINE_CRLF } }, 2,
	  0 },
	{ S("abcdefghij"), 5, { { S("abcd"), BUF_LINE_OVERLONG } }, 1, 0 },
	{ S("ab\0de\nz\n"), 5,
	  { { S("ab\0d"), BUF_LINE_OVERLONG | BUF_LINE_NUL }, { S("z"), 0 } },
	  2, 0 },
};

/* Feed in chunks of `chunk` bytes, taking lines after each chunk. */
static void run_row(const struct frame_row *r, size_t chunk, size_t rowno)
{
	struct buf_in b = { 0 };
	struct buf_line line;
	size_t fed = 0, got = 0, n, room;
	char *space;

	buf_in_set_max_line(&b, r->max_line);
	while (fed < r->in_len) {
		n = r->in_len - fed < chunk ? r->in_len - fed : chunk;
		space = buf_in_space(&b, r->max_line + 16, &room);
		cr_assert_not_null(space);
		cr_assert_gt(room, 0);
		if (n > room)
			n = room;
		memcpy(space, r->in + fed, n);
		buf_in_commit(&b, n, false);
		fed += n;
		while (buf_in_has_line(&b)) {
			cr_assert_eq(buf_in_next_line(&b, &line), 1);
			cr_assert_lt(got, r->n_lines, "row %zu chunk %zu: extra "
				     "line \"%s\"", rowno, chunk, line.data);
			cr_assert_eq(line.len, r->lines[got].len,
				     "row %zu chunk %zu line %zu", rowno, chunk,
				     got);
			cr_assert_eq(memcmp(line.data, r->lines[got].data,
					    line.len), 0,
				     "row %zu chunk %zu line %zu", rowno, chunk,
				     got);
			cr_assert_eq(line.data[line.len], '\0');
			cr_assert_eq(line.flags, r->lines[got].flags,
				     "row %zu chunk %zu line %zu: %#x", rowno,
				     chunk, got, line.flags);
			got++;
		}
		cr_assert_eq(buf_in_next_line(&b, &line), 0);
	}
	cr_assert_eq(got, r->n_lines, "row %zu chunk %zu", rowno, chunk);
	cr_assert_eq(buf_in_avail(&b), r->left, "row %zu chunk %zu", rowno,
		     chunk);
	buf_in_free(&b);
}

Test(buf, framing_table_in_every_chunking)
{
	static const size_t chunks[] = { 1, 2, 7, 4096 };
	size_t i, j;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
		for (j = 0; j < sizeof chunks / sizeof chunks[0]; j++)
			run_row(&rows[i], chunks[j], i);
}

static void put(struct buf_in *b, const char *s, size_t len)
{
	size_t room;
	char *space = buf_in_space(b, 64, &room);

	cr_assert_not_null(space);
	cr_assert_geq(room, len);
	memcpy(space, s, len);
	buf_in_commit(b, len, false);
}

Test(buf, raw_take_cancels_the_discard)
{
	struct buf_in b = { 0 };
	struct buf_line line;
	const char *data;
	size_t n;

	buf_in_set_max_line(&b, 4);
	put(&b, "abcdef", 6);
	cr_assert_eq(buf_in_next_line(&b, &line), 1);
	cr_assert(line.flags & BUF_LINE_OVERLONG);
	cr_assert_eq(buf_in_avail(&b), 2); /* "ef" still to be dropped... */
	n = buf_in_take(&b, &data, 100);   /* ...unless raw takes it */
	cr_assert_eq(n, 2);
	cr_assert_eq(memcmp(data, "ef", 2), 0);
	put(&b, "gh\n", 3); /* not discarded any more */
	cr_assert_eq(buf_in_next_line(&b, &line), 1);
	cr_assert_str_eq(line.data, "gh");
	/* take respects max */
	put(&b, "12345", 5);
	cr_assert_eq(buf_in_take(&b, &data, 2), 2);
	cr_assert_eq(memcmp(data, "12", 2), 0);
	cr_assert(buf_in_raw_ready(&b));
	cr_assert_eq(buf_in_take(&b, &data, 100), 3);
	cr_assert_not(buf_in_raw_ready(&b));
	buf_in_free(&b);
}

Test(buf, drop_and_release)
{
	struct buf_in b = { 0 };

	buf_in_set_max_line(&b, 1); /* raised to 3 */
	cr_assert_eq(b.max_line, 3);
	put(&b, "STARTTLS\r\nQUIT\r\n", 16);
	buf_in_release(&b); /* not empty: kept */
	cr_assert_not_null(b.data);
	cr_assert_eq(buf_in_drop(&b), 16);
	cr_assert_eq(buf_in_avail(&b), 0);
	cr_assert_not(buf_in_has_line(&b));
	buf_in_release(&b);
	cr_assert_null(b.data);
	buf_in_free(&b);
}

Test(buf, space_compacts_before_growing)
{
	struct buf_in b = { 0 };
	struct buf_line line;
	size_t room;
	char *space;

	buf_in_set_max_line(&b, 16);
	space = buf_in_space(&b, 8, &room);
	cr_assert_not_null(space);
	cr_assert_eq(room, 8);
	memcpy(space, "a\nbcd", 5);
	buf_in_commit(&b, 5, false);
	cr_assert_eq(buf_in_next_line(&b, &line), 1);
	/* "bcd" moves to the front: 5 bytes free again in 8 */
	cr_assert_not_null(buf_in_space(&b, 8, &room));
	cr_assert_eq(room, 5);
	cr_assert_eq(memcmp(b.data, "bcd", 3), 0);
	buf_in_free(&b);
}

Test(buf, output_queue)
{
	struct buf_out q = { 0 };
	char *p;
	size_t i;

	cr_assert_null(buf_out_head(&q));
	p = buf_out_reserve(&q, 5, 100);
	cr_assert_not_null(p);
	memcpy(p, "hello", 5);
	buf_out_commit(&q, 5);
	cr_assert_eq(buf_out_pending(&q), 5);
	cr_assert_eq(memcmp(buf_out_head(&q), "hello", 5), 0);
	buf_out_consume(&q, 2);
	cr_assert_eq(memcmp(buf_out_head(&q), "llo", 3), 0);
	/* growth keeps the queued bytes in order */
	for (i = 0; i < 3000; i++) {
		p = buf_out_reserve(&q, 1, 10000);
		cr_assert_not_null(p);
		*p = (char)('a' + i % 26);
		buf_out_commit(&q, 1);
	}
	cr_assert_eq(buf_out_pending(&q), 3003);
	cr_assert_eq(memcmp(buf_out_head(&q), "lloabc", 6), 0);
	/* the cap */
	errno = 0;
	cr_assert_null(buf_out_reserve(&q, 10000 - 3003 + 1, 10000));
	cr_assert_eq(errno, ENOBUFS);
	cr_assert_not_null(buf_out_reserve(&q, 10000 - 3003, 10000));
	/* empty again: memory given back */
	buf_out_consume(&q, 3003);
	cr_assert_eq(buf_out_pending(&q), 0);
	cr_assert_null(q.data);
	buf_out_free(&q);
}
