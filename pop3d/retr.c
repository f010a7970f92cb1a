/* pop3d/retr.c: the resumable RETR/TOP stream over the shared stuffer. */
#include "autoconf.h"

#include "pop3d/retr.h"

#include <errno.h>
#include <string.h>

void pop3_stream_init(struct pop3_stream *s, pop3_source_fn *read, void *src)
{
	dot_stuff_init(&s->st, 0);
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
	if (half < DOT_STUFF_END_MAX) {
		errno = EINVAL;
		return -1;
	}
	n = s->read(s->src, raw, half);
	if (n < 0)
		return -1;
	if (n == 0) {
		out = dot_stuff_end(&s->st, buf);
		s->finished = true;
		*len_r = out;
		return 0;
	}
	out = dot_stuff(&s->st, raw, (size_t)n, buf);
	s->bytes += out;
	*len_r = out;
	return 1;
}
