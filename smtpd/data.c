/* smtpd/data.c: DATA/BDAT content state machine (over the shared
 * un-stuffer for DATA: bare CR/LF, limits, Return-Path removal). */
#include "autoconf.h"

#include "smtpd/data.h"

#include <string.h>
#include <strings.h>

/* Header octets are un-stuffed into a small buffer of this size and
 * filtered one by one; body octets go straight to the output. */
#define HEADER_STEP 256

static const char RETURN_PATH[] = "return-path:";

void data_init(struct data_parser *p, enum data_mode mode, uint64_t max_size,
	       size_t line_limit)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->max_size = max_size;
	p->line_limit = line_limit;
	/* Only CRLF starts a line: no smuggled end of data. */
	dot_unstuff_init(&p->dot, 0);
	p->hdr_line_start = true;
	p->hdr_line_empty = true;
}

struct out {
	char *buf;
	size_t n;
};

static void add_size(struct data_parser *p, size_t n)
{
	p->size += n;
	if (p->max_size != 0 && p->size > p->max_size)
		p->faults |= DATA_F_TOO_BIG;
}

/* A content octet of the header section or body, after the header filter. */
static void hdr_plain(struct data_parser *p, char c, struct out *o)
{
	if (!p->dropping)
		o->buf[o->n++] = c;
	if (c == '\n') {
		/* An empty line (only CR) ends the header section. */
		if (p->hdr_line_empty)
			p->in_body = true;
		p->hdr_line_start = true;
		p->hdr_line_empty = true;
	} else if (c != '\r') {
		p->hdr_line_empty = false;
	}
}

static bool prefix_matches(const struct data_parser *p, const char *name)
{
	return p->prefix_len <= strlen(name) &&
	       strncasecmp(p->prefix, name, p->prefix_len) == 0;
}

static void flush_prefix(struct data_parser *p, struct out *o)
{
	unsigned n = p->prefix_len;

	p->prefix_len = 0;
	for (unsigned i = 0; i < n; i++)
		hdr_plain(p, p->prefix[i], o);
}

/* A field name is held until it is known to be Return-Path (dropped with
 * its continuation lines) or anything else. */
static void content(struct data_parser *p, char c, struct out *o)
{
	bool rp;

	add_size(p, 1);
	if (p->in_body) {
		o->buf[o->n++] = c;
		return;
	}
	if (p->prefix_len == 0) {
		if (!p->hdr_line_start) {
			hdr_plain(p, c, o);
			return;
		}
		p->hdr_line_start = false;
		if (c == ' ' || c == '\t') {
			hdr_plain(p, c, o); /* continuation: same field */
			return;
		}
		p->dropping = false;
		if (c == '\r' || c == '\n') {
			hdr_plain(p, c, o);
			return;
		}
	}
	p->prefix[p->prefix_len++] = c;
	rp = prefix_matches(p, RETURN_PATH);
	if (rp && p->prefix_len == sizeof(RETURN_PATH) - 1) {
		p->prefix_len = 0;
		p->dropping = true;
		p->hdr_line_empty = false;
	} else if (!rp) {
		flush_prefix(p, o);
	}
}

static void count_octet(struct data_parser *p)
{
	if (p->line_limit != 0 && ++p->line_len > p->line_limit)
		p->faults |= DATA_F_LONG_LINE;
}

/* BDAT body octets that are neither CR nor LF need no state machine: the
 * length of such a run at the start of in, at most len. */
static size_t plain_span(const char *in, size_t len)
{
	const char *cr = memchr(in, '\r', len);
	size_t n = cr != NULL ? (size_t)(cr - in) : len;
	const char *lf = memchr(in, '\n', n);

	return lf != NULL ? (size_t)(lf - in) : n;
}

/* Take n body octets as content in one copy: what content() and
 * count_octet() would do octet by octet once in_body is set. */
static void body_run(struct data_parser *p, const char *in, size_t n,
		     bool count_line, struct out *o)
{
	memcpy(o->buf + o->n, in, n);
	o->n += n;
	add_size(p, n);
	if (count_line && p->line_limit != 0) {
		p->line_len += n;
		if (p->line_len > p->line_limit)
			p->faults |= DATA_F_LONG_LINE;
	}
}

static size_t feed_dot(struct data_parser *p, const char *in, size_t len,
		       struct out *o)
{
	size_t i = 0;

	while (i < len && !dot_unstuff_done(&p->dot)) {
		size_t made;

		if (p->in_body) {
			i += dot_unstuff(&p->dot, in + i, len - i,
					 o->buf + o->n, &made);
			o->n += made;
			add_size(p, made);
		} else {
			char step[HEADER_STEP + 1];
			size_t n = len - i < HEADER_STEP ? len - i : HEADER_STEP;

			i += dot_unstuff(&p->dot, in + i, n, step, &made);
			for (size_t k = 0; k < made; k++)
				content(p, step[k], o);
		}
	}
	if (p->dot.bare)
		p->faults |= DATA_F_BARE_NL;
	if (p->line_limit != 0 && p->dot.longest > p->line_limit)
		p->faults |= DATA_F_LONG_LINE;
	return i;
}

static void feed_chunk(struct data_parser *p, const char *in, size_t len,
		       struct out *o)
{
	bool text = p->mode == DATA_MODE_CHUNK;

	for (size_t i = 0; i < len; i++) {
		if (p->in_body && !p->held_cr) {
			size_t n = text ? plain_span(in + i, len - i) : len - i;

			body_run(p, in + i, n, text, o);
			if ((i += n) == len)
				break;
		}
		char c = in[i];

		if (text) {
			count_octet(p);
			if ((c == '\n') != p->held_cr)
				p->faults |= DATA_F_BARE_NL;
			if (c == '\n')
				p->line_len = 0;
			p->held_cr = c == '\r';
		}
		content(p, c, o);
	}
}

size_t data_feed(struct data_parser *p, const char *in, size_t len,
		 char *out, size_t *out_len_r)
{
	struct out o = { out, 0 };
	size_t used = len;

	if (p->mode == DATA_MODE_DOT)
		used = feed_dot(p, in, len, &o);
	else
		feed_chunk(p, in, len, &o);
	*out_len_r = o.n;
	return used;
}

size_t data_finish(struct data_parser *p, char *out)
{
	struct out o = { out, 0 };

	flush_prefix(p, &o);
	if (p->mode == DATA_MODE_CHUNK && p->held_cr)
		p->faults |= DATA_F_BARE_NL;
	return o.n;
}

bool data_done(const struct data_parser *p)
{
	return dot_unstuff_done(&p->dot);
}

unsigned data_faults(const struct data_parser *p)
{
	return p->faults;
}

uint64_t data_size(const struct data_parser *p)
{
	return p->size;
}

int data_fault_reply(unsigned faults, int *code_r, const char **enh_r,
		     const char **text_r)
{
	if (faults & DATA_F_BARE_NL) {
		*code_r = 550;
		*enh_r = "5.5.2";
		*text_r = "Message refused: bare CR or LF, lines must end with CRLF (RFC 5321 2.3.8)";
	} else if (faults & DATA_F_TOO_BIG) {
		*code_r = 552;
		*enh_r = "5.3.4";
		*text_r = "Message size exceeds fixed maximum message size";
	} else if (faults & DATA_F_LONG_LINE) {
		*code_r = 552;
		*enh_r = "5.3.4";
		*text_r = "Message refused: a text line exceeds the line length limit";
	} else {
		return -1;
	}
	return 0;
}
