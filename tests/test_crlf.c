/* tests/test_crlf.c: bare LF made CRLF (common/base/crlf): a table of
 * inputs fed whole and in 1-, 2- and 7-byte pieces, and the copy from a
 * descriptor with its sink's stop value and a read error. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/crlf.h"

static const struct {
	const char *in, *out;
} rows[] = {
	{ "", "" },
	{ "a\n", "a\r\n" },
	{ "a\r\n", "a\r\n" },
	{ "\n\n", "\r\n\r\n" },
	{ "a\rb\n", "a\rb\r\n" },
	{ "a\r\rb\n", "a\r\rb\r\n" },
	{ "\r\n\n\r\r\n", "\r\n\r\n\r\r\n" },
	{ "no line end", "no line end" },
	{ "Subject: x\n\nbody\n.\n", "Subject: x\r\n\r\nbody\r\n.\r\n" },
};

static char *convert_in_pieces(const char *in, size_t piece)
{
	size_t n = strlen(in), o = 0;
	char *out = malloc(2 * n + 1);
	bool prev_cr = false;

	cr_assert_not_null(out);
	for (size_t i = 0; i < n; i += piece) {
		size_t k = n - i < piece ? n - i : piece;

		o += crlf_convert(&prev_cr, in + i, k, out + o);
	}
	out[o] = '\0';
	return out;
}

Test(crlf, table_in_pieces)
{
	static const size_t pieces[] = { 1, 2, 7, 4096 };

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
			char *out = convert_in_pieces(rows[i].in, pieces[p]);

			cr_expect_str_eq(out, rows[i].out, "row %zu, pieces of %zu",
					 i, pieces[p]);
			free(out);
		}
}

struct collect {
	char *buf;
	size_t len;
	int stop_after; /* calls before the sink returns 7; 0: never */
	int calls;
};

static int collect(void *arg, const char *buf, size_t len)
{
	struct collect *c = arg;

	c->buf = realloc(c->buf, c->len + len + 1);
	cr_assert_not_null(c->buf);
	memcpy(c->buf + c->len, buf, len);
	c->len += len;
	c->buf[c->len] = '\0';
	return ++c->calls == c->stop_after ? 7 : 0;
}

/* A pipe whose reading end gets text written in pieces of 3 bytes by a
 * child, so that a CR and its LF may arrive in different reads. */
static int pipe_with(const char *text)
{
	int fds[2];
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		size_t n = strlen(text);

		close(fds[0]);
		for (size_t i = 0; i < n; i += 3) {
			if (write(fds[1], text + i, n - i < 3 ? n - i : 3) < 0)
				_exit(1);
			usleep(1000);
		}
		_exit(0);
	}
	close(fds[1]);
	return fds[0];
}

Test(crlf, copy_fd_to_the_end)
{
	struct collect c = { 0 };
	int fd = pipe_with("one\r\ntwo\nthree\r\rfour\n");

	cr_assert_eq(crlf_copy_fd(fd, collect, &c), 0);
	cr_expect_str_eq(c.buf, "one\r\ntwo\r\nthree\r\rfour\r\n");
	close(fd);
	free(c.buf);
}

Test(crlf, copy_fd_stops_with_the_sink)
{
	struct collect c = { .stop_after = 1 };
	int fd = pipe_with("a\nb\nc\nd\ne\nf\n");

	cr_assert_eq(crlf_copy_fd(fd, collect, &c), 7);
	cr_expect_eq(c.calls, 1);
	close(fd);
	free(c.buf);
}

Test(crlf, copy_fd_read_error)
{
	struct collect c = { 0 };

	errno = 0;
	cr_assert_eq(crlf_copy_fd(-1, collect, &c), -1);
	cr_expect_eq(errno, EBADF);
	cr_expect_eq(c.calls, 0);
}
