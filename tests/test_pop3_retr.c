/* tests/test_pop3_retr.c: the resumable RETR/TOP stream (the stuffer
 * itself: tests/test_dotstuff.c): every buffer and read size gives the
 * same bytes; dots, bare LF, missing final line end; source errors; the
 * streamed size equals the maildrop's LIST size. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d/retr.h"
#include "store/maildir.h"
#include "store/maildrop.h"
#include "tests/helpers/testutil.h"

struct stuff_case {
	const char *in;
	const char *out; /* the full body including ".\r\n" */
};

static const struct stuff_case stuff_cases[] = {
	{ "", ".\r\n" },
	{ "a\r\n", "a\r\n.\r\n" },
	{ "a\n", "a\r\n.\r\n" },
	{ "a", "a\r\n.\r\n" },
	{ "a\r", "a\r\n.\r\n" },
	{ ".\r\n", "..\r\n.\r\n" },
	{ ".", "..\r\n.\r\n" },
	{ ".x\r\n..\r\n", "..x\r\n...\r\n.\r\n" },
	{ "a\n.\nb\n", "a\r\n..\r\nb\r\n.\r\n" },
	{ "\n\n", "\r\n\r\n.\r\n" },
	{ "x.y\r\n a.\r\n", "x.y\r\n a.\r\n.\r\n" },
	{ "a\rb\r\n", "a\rb\r\n.\r\n" },
	{ "a\r\r\n.\r\n", "a\r\r\n..\r\n.\r\n" },
	{ "Subject: x\r\n\r\n.\r\n.\r\n", "Subject: x\r\n\r\n..\r\n..\r\n.\r\n" },
};

/* A source over a memory buffer that hands out at most `step` bytes per
 * call, or fails after `fail_at` bytes. */
struct mem_src {
	const char *data;
	size_t len, pos, step, fail_at;
	size_t calls;
};

static ssize_t mem_read(void *arg, void *buf, size_t len)
{
	struct mem_src *m = arg;
	size_t n = m->len - m->pos;

	m->calls++;
	if (m->fail_at && m->pos >= m->fail_at) {
		errno = EIO;
		return -1;
	}
	if (n > len)
		n = len;
	if (n > m->step)
		n = m->step;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

/* Stream `in` with output buffers of `cap` bytes and source reads of
 * `step` bytes; returns the whole body. */
static char *stream_all(const char *in, size_t len, size_t cap, size_t step,
			size_t *len_r)
{
	struct mem_src m = { in, len, 0, step, 0, 0 };
	struct pop3_stream s;
	char *buf = malloc(cap);
	char *all = malloc(2 * len + DOT_STUFF_END_MAX + 1);
	size_t total = 0, n;
	int rc;

	cr_assert_not_null(buf);
	cr_assert_not_null(all);
	pop3_stream_init(&s, mem_read, &m);
	do {
		rc = pop3_stream_fill(&s, buf, cap, &n);
		cr_assert_neq(rc, -1);
		cr_assert_leq(n, cap);
		memcpy(all + total, buf, n);
		total += n;
	} while (rc == 1);
	cr_assert(s.finished);
	/* After the end the stream stays finished and yields nothing. */
	cr_assert_eq(pop3_stream_fill(&s, buf, cap, &n), 0);
	cr_assert_eq(n, 0);
	all[total] = '\0';
	*len_r = total;
	free(buf);
	return all;
}

Test(stream, table_every_buffer_and_read_size)
{
	static const size_t caps[] = { 10, 11, 16, 64, 16384 };
	static const size_t steps[] = { 1, 3, 1000 };

	for (size_t i = 0; i < sizeof stuff_cases / sizeof stuff_cases[0]; i++)
		for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
			for (size_t k = 0; k < sizeof steps / sizeof steps[0];
			     k++) {
				size_t len;
				char *out = stream_all(stuff_cases[i].in,
					strlen(stuff_cases[i].in), caps[c],
					steps[k], &len);

				cr_expect_str_eq(out, stuff_cases[i].out,
					"case %zu cap %zu step %zu", i,
					caps[c], steps[k]);
				free(out);
			}
}

Test(stream, worst_case_all_dots_fits_the_buffer)
{
	/* Every byte doubles: ".\n" repeated becomes "..\r\n". */
	size_t n = 5000, len;
	char *in = malloc(2 * n + 1);
	char *out;

	cr_assert_not_null(in);
	for (size_t i = 0; i < n; i++) {
		in[2 * i] = '.';
		in[2 * i + 1] = '\n';
	}
	in[2 * n] = '\0';
	out = stream_all(in, 2 * n, 10, 1000, &len);
	cr_assert_eq(len, 4 * n + 3);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(memcmp(out + 4 * i, "..\r\n", 4), 0, "line %zu", i);
	cr_assert_str_eq(out + 4 * n, ".\r\n");
	free(in);
	free(out);
}

Test(stream, source_error_is_reported)
{
	const char *text = "line one\nline two\n";
	struct mem_src m = { text, strlen(text), 0, 4, 8, 0 };
	struct pop3_stream s;
	char buf[64];
	size_t n;
	int rc;

	pop3_stream_init(&s, mem_read, &m);
	do
		rc = pop3_stream_fill(&s, buf, sizeof buf, &n);
	while (rc == 1);
	cr_assert_eq(rc, -1);
	cr_assert_eq(errno, EIO);
	cr_assert_eq(n, 0);
	cr_assert_not(s.finished);
}

Test(stream, buffer_too_small_is_refused)
{
	struct mem_src m = { "a", 1, 0, 1, 0, 0 };
	struct pop3_stream s;
	char buf[8];
	size_t n;

	pop3_stream_init(&s, mem_read, &m);
	cr_assert_eq(pop3_stream_fill(&s, buf, sizeof buf, &n), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(m.calls, 0);
}

static ssize_t drop_read(void *arg, void *buf, size_t len)
{
	return mdrop_read(arg, buf, len);
}

/* Through the real store: a message written with bare LF, a '.' line and
 * no final line end. The LIST size equals the bytes between the status
 * line and the terminator without the stuffing dots (RFC 1939 §11). */
Test(stream, maildrop_size_matches_streamed_body)
{
	static const char *texts[] = {
		"Subject: a\n\nbody\n.\n..x\nlast",
		"Subject: b\r\n\r\n.\r\n",
		"",
	};
	char *dir = tu_tmpdir();
	char *md = tu_path(dir, "alice");

	for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
		struct md_target tg = { md, 0, 0 };
		struct md_delivery *d;
		char name[256];

		cr_assert_eq(md_delivery_begin(md, "h", &d), MD_OK);
		if (texts[t][0] != '\0')
			cr_assert_eq(md_delivery_write(d, texts[t],
				strlen(texts[t])), MD_OK);
		cr_assert_eq(md_delivery_commit(d, &tg, 1, NULL, name,
						sizeof name), MD_OK);
	}

	struct mdrop *m;

	cr_assert_eq(mdrop_open(md, &m), 1);
	cr_assert_eq(mdrop_count(m), 3);
	for (size_t i = 0; i < mdrop_count(m); i++) {
		struct mdrop_reader *r;
		struct pop3_stream s;
		char buf[32], all[256];
		size_t total = 0, n, dots = 0;
		int rc;

		cr_assert_eq(mdrop_reader_open(m, i, -1, &r), 0);
		pop3_stream_init(&s, drop_read, r);
		do {
			rc = pop3_stream_fill(&s, buf, sizeof buf, &n);
			cr_assert_neq(rc, -1);
			cr_assert_lt(total + n, sizeof all);
			memcpy(all + total, buf, n);
			total += n;
		} while (rc == 1);
		mdrop_reader_close(r);
		all[total] = '\0';
		cr_assert_geq(total, 3);
		cr_assert_str_eq(all + total - 3, ".\r\n");
		/* Count the stuffing dots: a '.' at a line start followed by
		 * another '.'. */
		for (size_t k = 0; k + 3 < total; k++)
			if ((k == 0 || all[k - 1] == '\n') && all[k] == '.')
				dots++;
		cr_assert_eq(total - 3 - dots, mdrop_size(m, i), "message %zu",
			     i);
		for (size_t k = 0; k < total; k++)
			if (all[k] == '\n')
				cr_assert(k > 0 && all[k - 1] == '\r');
	}
	mdrop_release(m);
	tu_rmrf(dir);
	free(md);
	free(dir);
}
