/* common/net/buf.c: input buffer with line framing and the output queue used by
 * common/net/conn; see buf.h. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/net/buf.h"

/* Smallest output allocation. */
#define BUF_OUT_MIN 1024

static void in_discard(struct buf_in *b);
static int in_find_line(struct buf_in *b, size_t *lf_r);

void buf_in_set_max_line(struct buf_in *b, size_t max_line)
{
	b->max_line = max_line < 3 ? 3 : max_line;
	b->scan = 0;
}

size_t buf_in_avail(const struct buf_in *b) { return b->end - b->start; }

char *buf_in_space(struct buf_in *b, size_t size, size_t *room_r)
{
	char *p;

	if (b->data != NULL && b->start > 0) {
		/* Nothing handed out survives a return to the loop, so the
		 * bytes may move now. */
		memmove(b->data, b->data + b->start, buf_in_avail(b));
		b->end -= b->start;
		b->start = 0;
	}
	if (b->data == NULL || b->cap < size) {
		p = realloc(b->data, size);
		if (p == NULL)
			return NULL;
		b->data = p;
		b->cap = size;
	}
	*room_r = b->cap - b->end;
	return b->data + b->end;
}

void buf_in_commit(struct buf_in *b, size_t n, bool raw)
{
	b->end += n;
	if (!raw && b->discarding)
		in_discard(b);
}

bool buf_in_has_line(struct buf_in *b)
{
	size_t lf;

	in_discard(b);
	return in_find_line(b, &lf) != 0;
}

bool buf_in_raw_ready(struct buf_in *b)
{
	b->discarding = false;
	return buf_in_avail(b) > 0;
}

int buf_in_next_line(struct buf_in *b, struct buf_line *line_r)
{
	size_t lf, len, consume;
	unsigned flags = 0;
	char *p;
	int r;

	if (b->data == NULL)
		return 0;
	in_discard(b);
	r = in_find_line(b, &lf);
	if (r == 0)
		return 0;
	p = b->data + b->start;
	if (r == 1) {
		len = lf;
		consume = lf + 1;
		if (len > 0 && p[len - 1] == '\r') {
			flags |= BUF_LINE_CRLF;
			len--;
		}
	} else {
		/* Report once, keep the head for the log, and drop the rest
		 * up to the next LF as it arrives. */
		flags |= BUF_LINE_OVERLONG;
		len = b->max_line - 1;
		consume = b->max_line;
		b->discarding = true;
	}
	/* Two memchr passes: far cheaper than one test per octet on the
	 * long lines of a message body. */
	if (len > 0 && memchr(p, '\r', len) != NULL)
		flags |= BUF_LINE_BARE_CR;
	if (len > 0 && memchr(p, '\0', len) != NULL)
		flags |= BUF_LINE_NUL;
	/* The terminator's first byte (or the first dropped byte) becomes
	 * the NUL. */
	p[len] = '\0';
	b->start += consume;
	b->scan = 0;
	line_r->data = p;
	line_r->len = len;
	line_r->flags = flags;
	return 1;
}

void buf_in_untake(struct buf_in *b, size_t n)
{
	if (n > b->start) /* a caller's bug; never move before the data */
		n = b->start;
	b->start -= n;
	b->scan = 0;
}

size_t buf_in_take(struct buf_in *b, const char **data_r, size_t max)
{
	size_t n = buf_in_avail(b);

	b->discarding = false;
	if (b->data == NULL)
		return 0;
	if (n > max)
		n = max;
	*data_r = b->data + b->start;
	b->start += n;
	b->scan = 0;
	return n;
}

size_t buf_in_drop(struct buf_in *b)
{
	size_t dropped = buf_in_avail(b);

	b->start = b->end;
	b->scan = 0;
	b->discarding = false;
	return dropped;
}

void buf_in_release(struct buf_in *b)
{
	if (b->data == NULL || buf_in_avail(b) > 0)
		return;
	free(b->data);
	b->data = NULL;
	b->cap = b->start = b->end = b->scan = 0;
}

void buf_in_free(struct buf_in *b)
{
	free(b->data);
	b->data = NULL;
	b->cap = b->start = b->end = b->scan = 0;
}

/* Drop input of an overlong line up to and including its LF. */
static void in_discard(struct buf_in *b)
{
	char *lf;

	if (!b->discarding || buf_in_avail(b) == 0)
		return;
	lf = memchr(b->data + b->start, '\n', buf_in_avail(b));
	if (lf != NULL) {
		b->start = (size_t)(lf - b->data) + 1;
		b->discarding = false;
	} else {
		b->start = b->end;
	}
	b->scan = 0;
}

/* 1: a line ends at offset *lf_r from start; 2: overlong; 0: neither.
 * Remembers how far it looked, so a line arriving byte by byte costs
 * linear time. */
static int in_find_line(struct buf_in *b, size_t *lf_r)
{
	size_t avail = buf_in_avail(b);
	size_t limit = avail < b->max_line ? avail : b->max_line;
	char *lf;

	if (b->scan < limit) {
		lf = memchr(b->data + b->start + b->scan, '\n',
			    limit - b->scan);
		if (lf != NULL) {
			*lf_r = (size_t)(lf - (b->data + b->start));
			return 1;
		}
		b->scan = limit;
	}
	return avail >= b->max_line ? 2 : 0;
}

/* ---- output ---- */

size_t buf_out_pending(const struct buf_out *b) { return b->end - b->start; }

char *buf_out_reserve(struct buf_out *b, size_t len, size_t max)
{
	size_t pending = buf_out_pending(b), cap;
	char *p;

	if (pending > max || len > max - pending) {
		errno = ENOBUFS;
		return NULL;
	}
	if (b->end + len + 1 <= b->cap)
		return b->data + b->end;
	if (b->start > 0) {
		memmove(b->data, b->data + b->start, pending);
		b->start = 0;
		b->end = pending;
		if (pending + len + 1 <= b->cap)
			return b->data + b->end;
	}
	cap = b->cap > BUF_OUT_MIN ? b->cap : BUF_OUT_MIN;
	while (cap < pending + len + 1)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	b->data = p;
	b->cap = cap;
	return b->data + b->end;
}

int buf_out_vprintf(struct buf_out *b, size_t max, const char *fmt,
		    va_list ap)
{
	va_list aq;
	char *p;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0) {
		errno = EINVAL;
		return -1;
	}
	if ((p = buf_out_reserve(b, (size_t)n, max)) == NULL)
		return -1;
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	b->end += (size_t)n;
	return 0;
}

void buf_out_commit(struct buf_out *b, size_t len) { b->end += len; }

const char *buf_out_head(const struct buf_out *b)
{
	return buf_out_pending(b) > 0 ? b->data + b->start : NULL;
}

void buf_out_consume(struct buf_out *b, size_t n)
{
	b->start += n;
	if (b->start >= b->end)
		buf_out_free(b);
}

void buf_out_free(struct buf_out *b)
{
	free(b->data);
	b->data = NULL;
	b->cap = b->start = b->end = 0;
}
