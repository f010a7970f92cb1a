/* common/auth/dkim_canon.c: the header field and body canonicalizations
 * of DKIM (RFC 6376 §3.4.1 to §3.4.4). */
#include "autoconf.h"

#include "common/auth/dkim_canon.h"

#include <string.h>

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The value part of a relaxed field: CR and LF gone (unfolding), WSP runs
 * made one SP, none at either end. */
static size_t relaxed_value(const char *v, size_t len, char *out)
{
	size_t n = 0;
	bool wsp = false;

	for (size_t i = 0; i < len; i++) {
		if (v[i] == '\r' || v[i] == '\n')
			continue;
		if (is_wsp(v[i])) {
			wsp = true;
			continue;
		}
		if (wsp && n > 0)
			out[n++] = ' ';
		wsp = false;
		out[n++] = v[i];
	}
	return n;
}

size_t dkim_canon_header(enum dkim_canon c, const char *f, size_t len,
			 char *out)
{
	const char *colon;
	size_t name_len, n = 0;

	if (c == DKIM_CANON_SIMPLE) {
		memcpy(out, f, len);
		return len;
	}
	colon = memchr(f, ':', len);
	name_len = colon != NULL ? (size_t)(colon - f) : len;
	while (name_len > 0 && is_wsp(f[name_len - 1]))
		name_len--;
	for (size_t i = 0; i < name_len; i++)
		out[n++] = lower(f[i]);
	out[n++] = ':';
	if (colon != NULL)
		n += relaxed_value(colon + 1, len - (size_t)(colon + 1 - f),
				   out + n);
	out[n++] = '\r';
	out[n++] = '\n';
	return n;
}

void dkim_body_canon_init(struct dkim_body_canon *b, enum dkim_canon c,
			  dkim_canon_sink *sink, void *arg)
{
	memset(b, 0, offsetof(struct dkim_body_canon, buf));
	b->canon = c;
	b->sink = sink;
	b->arg = arg;
}

static void flush(struct dkim_body_canon *b)
{
	if (b->n > 0)
		b->sink(b->arg, b->buf, b->n);
	b->n = 0;
}

static void put(struct dkim_body_canon *b, char c)
{
	if (b->n == sizeof(b->buf))
		flush(b);
	b->buf[b->n++] = c;
	b->any = true;
}

static void put_crlf(struct dkim_body_canon *b)
{
	put(b, '\r');
	put(b, '\n');
}

/* A byte of line content: the empty lines held back were not trailing
 * after all, and a held WSP run was inside the line. */
static void content(struct dkim_body_canon *b, char c)
{
	for (; b->empty_lines > 0; b->empty_lines--)
		put_crlf(b);
	if (b->wsp)
		put(b, ' ');
	b->wsp = false;
	put(b, c);
	b->in_line = true;
}

/* A CRLF: WSP at the end of a line goes; an empty line is held back. */
static void end_line(struct dkim_body_canon *b)
{
	b->wsp = false;
	if (b->in_line)
		put_crlf(b);
	else
		b->empty_lines++;
	b->in_line = false;
}

static void feed_byte(struct dkim_body_canon *b, char c)
{
	if (b->cr) {
		b->cr = false;
		if (c == '\n') {
			end_line(b);
			return;
		}
		content(b, '\r');
	}
	if (c == '\r')
		b->cr = true;
	else if (b->canon == DKIM_CANON_RELAXED && is_wsp(c))
		b->wsp = true;
	else
		content(b, c);
}

void dkim_body_canon_feed(struct dkim_body_canon *b, const char *p,
			  size_t n)
{
	for (size_t i = 0; i < n; i++)
		feed_byte(b, p[i]);
}

void dkim_body_canon_finish(struct dkim_body_canon *b)
{
	if (b->cr)
		content(b, '\r');
	b->cr = false;
	b->wsp = false;
	if (b->in_line)
		put_crlf(b);
	b->in_line = false;
	b->empty_lines = 0;
	if (b->canon == DKIM_CANON_SIMPLE && !b->any)
		put_crlf(b);
	flush(b);
}
