/* sendmail/message.c: kantorpos-sendmail's standard input read as it
 * comes (sendmail/message.h) — the dot rule on the raw lines, CRLF line
 * ends, the header section held and classified line by line, the body
 * passed on. */
#include "autoconf.h"

#include "sendmail/message.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "common/base/crlf.h"

/* A "." at the start of a raw line, and what followed it so far. */
enum dot { DOT_NONE, DOT_SEEN, DOT_CR };

#define SM_CHUNK 4096

struct sm_msg {
	const struct sm_msg_opts *o;
	const struct sm_msg_sink *sink;
	bool line_start;  /* the next raw octet starts a line */
	enum dot dot;
	bool ended;       /* a line "." ended it */
	bool prev_cr;     /* crlf_convert's state */
	bool in_header;
	bool first_line;  /* the header's first line is not looked at yet */
	bool had_field;   /* a field came before (continuations belong) */
	char *hbuf;       /* the header section as it comes */
	size_t hlen, hcap, hscan; /* hscan: the first line not looked at */
	uint64_t size;
	bool eightbit;
	int status;       /* sticky: the first failure */
	size_t n;         /* octets in out */
	char out[2 * SM_CHUNK];
};

struct sm_msg *sm_msg_new(const struct sm_msg_opts *o,
			  const struct sm_msg_sink *sink)
{
	struct sm_msg *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->o = o;
	m->sink = sink;
	m->line_start = m->in_header = m->first_line = true;
	return m;
}

void sm_msg_free(struct sm_msg *m)
{
	if (m == NULL)
		return;
	free(m->hbuf);
	free(m);
}

bool sm_msg_ended(const struct sm_msg *m)
{
	return m->ended;
}

uint64_t sm_msg_size(const struct sm_msg *m)
{
	return m->size;
}

bool sm_msg_eightbit(const struct sm_msg *m)
{
	return m->eightbit;
}

/* Body octets to the sink. */
static void body(struct sm_msg *m, const char *buf, size_t len)
{
	if (len == 0 || m->status != 0)
		return;
	m->size += len;
	for (size_t i = 0; i < len && !m->eightbit; i++)
		m->eightbit = (unsigned char)buf[i] >= 0x80;
	m->status = m->sink->body(m->sink->arg, buf, len);
}

/* The header section is hbuf[0..end) (without an empty line); what
 * follows from rest on is body. */
static void header_done(struct sm_msg *m, size_t end, size_t rest)
{
	struct sm_header h;

	m->in_header = false;
	if (sm_header_build(m->hbuf, end, m->o, &h) < 0) {
		m->status = EX_OSERR;
		return;
	}
	m->size += h.len;
	for (size_t i = 0; i < h.len && !m->eightbit; i++)
		m->eightbit = (unsigned char)h.text[i] >= 0x80;
	m->status = m->sink->header(m->sink->arg, &h);
	sm_header_free(&h);
	if (m->hlen > rest) /* hbuf is NULL for an empty message */
		body(m, m->hbuf + rest, m->hlen - rest);
	free(m->hbuf);
	m->hbuf = NULL;
	m->hlen = m->hcap = 0;
}

/* A field: a name of visible ASCII octets other than ':', then ':'. */
static bool is_field(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] > 0x20 && line[i] < 0x7f && line[i] != ':')
		i++;
	return i > 0 && i < len && line[i] == ':';
}

/* Look at the complete lines of the held header from hscan on. */
static void header_lines(struct sm_msg *m)
{
	char *nl;

	while (m->in_header &&
	       (nl = memchr(m->hbuf + m->hscan, '\n', m->hlen - m->hscan))) {
		char *line = m->hbuf + m->hscan;
		size_t len = (size_t)(nl - line) + 1;

		if (m->first_line && len >= 5 && memcmp(line, "From ", 5) == 0) {
			memmove(line, nl + 1, m->hlen - m->hscan - len);
			m->hlen -= len; /* an mbox envelope line */
		} else if (len == 2 && line[0] == '\r') {
			header_done(m, m->hscan, m->hscan + len);
		} else if (is_field(line, len) ||
			   (m->had_field && (line[0] == ' ' || line[0] == '\t'))) {
			m->had_field = true;
			m->hscan += len;
		} else {
			/* Body text with no empty line before it. */
			header_done(m, m->hscan, m->hscan);
		}
		m->first_line = false;
	}
}

/* Append buf[0..len) to the held header section. */
static bool hold(struct sm_msg *m, const char *buf, size_t len)
{
	if (m->hlen + len > SM_HEADER_MAX) {
		m->status = EX_DATAERR;
		return false;
	}
	if (m->hlen + len > m->hcap) {
		size_t cap = m->hcap == 0 ? 8192 : m->hcap;
		char *grown;

		while (cap < m->hlen + len)
			cap *= 2;
		if ((grown = realloc(m->hbuf, cap)) == NULL) {
			m->status = EX_OSERR;
			return false;
		}
		m->hbuf = grown;
		m->hcap = cap;
	}
	memcpy(m->hbuf + m->hlen, buf, len);
	m->hlen += len;
	return true;
}

/* Converted octets: held a line at a time while in the header section
 * (so where it ends, and whether it fits, never depends on the pieces),
 * then the body. */
static void converted(struct sm_msg *m, const char *buf, size_t len)
{
	while (len > 0 && m->status == 0) {
		const char *nl;
		size_t take;

		if (!m->in_header) {
			body(m, buf, len);
			return;
		}
		nl = memchr(buf, '\n', len);
		take = nl != NULL ? (size_t)(nl - buf) + 1 : len;
		if (!hold(m, buf, take))
			return;
		header_lines(m);
		buf += take;
		len -= take;
	}
}

static void flush(struct sm_msg *m)
{
	if (m->n > 0)
		converted(m, m->out, m->n);
	m->n = 0;
}

/* Raw octets that are content, CRLF-converted into out. */
static void raw(struct sm_msg *m, const char *buf, size_t len)
{
	while (len > 0 && m->status == 0) {
		size_t take = len < SM_CHUNK ? len : SM_CHUNK;

		if (m->n + 2 * take > sizeof(m->out))
			flush(m);
		m->n += crlf_convert(&m->prev_cr, buf, take, m->out + m->n);
		buf += take;
		len -= take;
	}
}

/* One raw octet at the start of a line, under the dot rule. */
static void dot_rule(struct sm_msg *m, char c)
{
	if (m->dot == DOT_SEEN && c == '\r') {
		m->dot = DOT_CR;
		return;
	}
	if (m->dot != DOT_NONE && c == '\n') {
		m->ended = true;
		return;
	}
	if (m->dot != DOT_NONE) /* not a lone dot after all */
		raw(m, m->dot == DOT_CR ? ".\r" : ".", m->dot == DOT_CR ? 2 : 1);
	m->dot = DOT_NONE;
	if (m->line_start && c == '.') {
		m->dot = DOT_SEEN;
		m->line_start = false;
		return;
	}
	raw(m, &c, 1);
	m->line_start = c == '\n';
}

/* Octets from buf[0..len) under the dot rule: a line's rest at once, a
 * line's start one octet at a time. Returns how many were taken. */
static size_t dot_step(struct sm_msg *m, const char *buf, size_t len)
{
	const char *nl;
	size_t n;

	if (m->dot != DOT_NONE || m->line_start) {
		dot_rule(m, buf[0]);
		return 1;
	}
	nl = memchr(buf, '\n', len);
	n = nl != NULL ? (size_t)(nl - buf) + 1 : len;
	raw(m, buf, n);
	m->line_start = nl != NULL;
	return n;
}

int sm_msg_feed(struct sm_msg *m, const char *buf, size_t len)
{
	if (m->ended)
		return m->status;
	if (m->o->ignore_dots) {
		raw(m, buf, len);
	} else {
		for (size_t i = 0; i < len && m->status == 0 && !m->ended;)
			i += dot_step(m, buf + i, len - i);
	}
	flush(m);
	return m->status;
}

int sm_msg_finish(struct sm_msg *m)
{
	/* A "." (or ".\r") at the very end is the end mark, not content. */
	m->dot = DOT_NONE;
	flush(m);
	if (m->in_header && m->status == 0) {
		if (m->hlen > 0 && m->hbuf[m->hlen - 1] != '\n')
			converted(m, "\r\n", 2);
		if (m->in_header)
			header_done(m, m->hlen, m->hlen);
	}
	return m->status;
}
