/* common/proto/dotstuff.c: the dot-stuffer and the dot-un-stuffer, each a
 * line at a time (memchr finds a line's end, one copy moves it), so the
 * cost is per line, not per octet. */
#include "autoconf.h"

#include "common/proto/dotstuff.h"

#include <string.h>

void dot_stuff_init(struct dot_stuffer *st, unsigned flags)
{
	st->bol = true;
	st->cr = false;
	st->close_crlf = (flags & DOT_STUFF_CLOSE_CRLF) != 0;
}

size_t dot_stuff(struct dot_stuffer *st, const char *in, size_t len,
		 char *out)
{
	const char *p = in, *end = in + len;
	size_t o = 0;

	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t run = (size_t)((lf != NULL ? lf : end) - p);

		/* A line beginning with the termination octet is prefixed
		 * with one more. */
		if (st->bol && *p == '.')
			out[o++] = '.';
		if (run > 0) {
			st->bol = false;
			st->cr = p[run - 1] == '\r';
			/* memmove: in and out may share one buffer, and the
			 * output may have caught up with the input. */
			memmove(out + o, p, run);
			o += run;
			p += run;
		}
		if (lf == NULL)
			break;
		/* Lines end in CRLF on the wire; text stored with bare LF
		 * is sent with CRLF all the same. */
		if (!st->cr)
			out[o++] = '\r';
		out[o++] = '\n';
		st->bol = true;
		st->cr = false;
		p++;
	}
	return o;
}

size_t dot_stuff_close(struct dot_stuffer *st, char *out)
{
	size_t o = 0;

	if (st->bol)
		return 0;
	/* The last line had no line end: close it (RFC 6856 §2.1 counts
	 * that CRLF in a POP3 message's size, and so does the store). */
	if (!st->cr || st->close_crlf)
		out[o++] = '\r';
	out[o++] = '\n';
	st->bol = true;
	st->cr = false;
	return o;
}

size_t dot_stuff_end(struct dot_stuffer *st, char *out)
{
	size_t o = dot_stuff_close(st, out);

	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

/* Position on the wire. */
enum {
	U_BOL = 0, /* at a line start */
	U_DOT,     /* "." at a line start */
	U_DOT_CR,  /* ".\r" at a line start: the end, if an LF follows */
	U_MID,     /* inside a line */
	U_CR,      /* a CR inside a line, not yet known to pair */
};

void dot_unstuff_init(struct dot_unstuffer *u, unsigned flags)
{
	memset(u, 0, sizeof(*u));
	u->state = U_BOL;
	u->lf_lines = (flags & DOT_UNSTUFF_LF_LINES) != 0;
}

/* Inside a line, the octets up to its LF (or the end of in[0..len)) need
 * no state machine: they are copied, a CR among them that is not the last
 * one before the LF is bare, and a last CR leaves U_CR. Returns the
 * octets taken. */
static size_t unstuff_run(struct dot_unstuffer *u, const char *in, size_t len,
			  char *out)
{
	const char *lf = memchr(in, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - in) : len;

	memcpy(out, in, n);
	u->line_len += n;
	if (n > 0) {
		if (memchr(in, '\r', n - 1) != NULL)
			u->bare = true;
		if (in[n - 1] == '\r')
			u->state = U_CR;
	}
	return n;
}

static void line_end(struct dot_unstuffer *u)
{
	if (u->line_len > u->longest)
		u->longest = u->line_len;
	u->line_len = 0;
	u->state = U_BOL;
}

/* One octet of a line's content (not a line start's dot, not the end):
 * written out, and the state it leaves. */
static void unstuff_plain(struct dot_unstuffer *u, char c, char *out,
			  size_t *o)
{
	out[(*o)++] = c;
	if (c == '\r') {
		u->state = U_CR;
	} else if (c == '\n') {
		u->bare = true;
		if (u->lf_lines)
			line_end(u);
		else
			u->state = U_MID;
	} else {
		u->state = U_MID;
	}
}

size_t dot_unstuff(struct dot_unstuffer *u, const char *in, size_t len,
		   char *out, size_t *out_len_r)
{
	size_t i = 0, o = 0;

	while (i < len && !u->done) {
		if (u->state == U_MID) {
			size_t n = unstuff_run(u, in + i, len - i, out + o);

			o += n;
			if ((i += n) == len)
				break;
		}
		char c = in[i++];

		u->line_len++;
		switch (u->state) {
		case U_BOL:
			if (c == '.') {
				u->state = U_DOT;
				continue;
			}
			break;
		case U_DOT:
			/* The first dot of a line is removed, whatever
			 * follows it (RFC 5321 §4.5.2, RFC 1939 §3). */
			if (c == '\r') {
				u->state = U_DOT_CR;
				continue;
			}
			break;
		case U_DOT_CR:
			if (c == '\n') {
				u->done = true;
				line_end(u);
				continue;
			}
			u->bare = true;
			out[o++] = '\r';
			break;
		case U_CR:
			if (c == '\n') {
				out[o++] = '\n';
				line_end(u);
				continue;
			}
			u->bare = true;
			break;
		default:
			break;
		}
		unstuff_plain(u, c, out, &o);
	}
	if (u->line_len > u->longest)
		u->longest = u->line_len;
	*out_len_r = o;
	return i;
}

bool dot_unstuff_done(const struct dot_unstuffer *u)
{
	return u->done;
}
