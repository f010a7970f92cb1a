/* pop3d/retr.c: byte-stuffing and the resumable RETR/TOP stream. */
#include "autoconf.h"

#include "pop3d/retr.h"

#include <errno.h>
#include <string.h>

void pop3_stuff_init(struct pop3_stuffer *st)
{
	st->bol = true;
	st->cr = false;
	st->any = false;
}

size_t pop3_stuff(struct pop3_stuffer *st, const char *in, size_t len,
		  char *out)
{
	const char *p = in, *end = in + len;
	size_t o = 0;

	if (len == 0)
		return 0;
	st->any = true;
	/* A line at a time: memchr finds its end and memcpy moves it, so the
	 * cost is per line, not per byte (RETR's hot path). */
	while (p < end) {
		const char *lf;
		size_t run;

		lf = memchr(p, '\n', (size_t)(end - p));
		run = (size_t)((lf != NULL ? lf : end) - p);
		/* RFC 1939 §3: a line of the body beginning with the
		 * termination octet is prefixed with one more. */
		if (st->bol && *p == '.')
			out[o++] = '.';
		if (run > 0) {
			st->bol = false;
			st->cr = p[run - 1] == '\r';
			/* memmove: the stream stuffs within one buffer, and
			 * the output may have caught up with the input. */
			memmove(out + o, p, run);
			o += run;
			p += run;
		}
		if (lf == NULL)
			break;
		/* RFC 1939 §3 lines end in CRLF; a store written with bare
		 * LF is sent with CRLF all the same. */
		if (!st->cr)
			out[o++] = '\r';
		out[o++] = '\n';
		st->bol = true;
		st->cr = false;
		p++;
	}
	return o;
}

size_t pop3_stuff_end(struct pop3_stuffer *st, char *out)
{
	size_t o = 0;

	if (!st->bol) {
		/* The last line had no line end: close it (RFC 6856 §2.1
		 * counts that CRLF in the size, and so does the store). */
		if (!st->cr)
			out[o++] = '\r';
		out[o++] = '\n';
		st->bol = true;
		st->cr = false;
	}
	out[o++] = '.';
	out[o++] = '\r';
	out[o++] = '\n';
	return o;
}

void pop3_stream_init(struct pop3_stream *s, pop3_source_fn *read, void *src)
{
	pop3_stuff_init(&s->st);
	s->read = read;
	s->src = src;
	s->bytes = 0;
	s->finished = false;
}

int pop3_stream_fill(struct pop3_stream *s, char *buf, size_t cap,
		     size_t *len_r)
{
	/* Read into the upper half and stuff into the lower one: stuffing at
	 * most doubles, and the write position never passes the read one. */
	size_t half = cap / 2;
	char *raw = buf + half;
	ssize_t n;
	size_t out;

	*len_r = 0;
	if (s->finished)
		return 0;
	if (half < POP3_STUFF_END_MAX) {
		errno = EINVAL;
		return -1;
	}
	n = s->read(s->src, raw, half);
	if (n < 0)
		return -1;
	if (n == 0) {
		out = pop3_stuff_end(&s->st, buf);
		s->finished = true;
		*len_r = out;
		return 0;
	}
	out = pop3_stuff(&s->st, raw, (size_t)n, buf);
	s->bytes += out;
	*len_r = out;
	return 1;
}
