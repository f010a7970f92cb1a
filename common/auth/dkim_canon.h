/* common/auth/dkim_canon.h: DKIM canonicalization (RFC 6376 §3.4): one
 * header field, simple or relaxed, and the message body, simple or
 * relaxed, as a streaming machine fed the body in pieces of any size.
 * The machine keeps what a piece border may cut (a CR waiting for its LF,
 * a WSP run, empty lines that may turn out to be trailing) in its state
 * and hands the canonical bytes to a sink.
 *
 * Pure code: no I/O, no allocation, no globals. */
#ifndef KANTORPOS_COMMON_DKIM_CANON_H
#define KANTORPOS_COMMON_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

/* Canonicalize one header field f[0..len) (name, colon, value with its
 * folding and, when present, its final CRLF) into out, which has room for
 * len + 2 bytes. Simple copies the field unchanged; relaxed lower-cases
 * the name, unfolds, makes every WSP run one SP, drops WSP at the end of
 * the value and around the colon, and ends with CRLF. A text without a
 * colon is taken as a name with an empty value. Returns the length. */
size_t dkim_canon_header(enum dkim_canon c, const char *f, size_t len,
			 char *out);

/* Where the body machine puts canonical bytes. */
typedef void dkim_canon_sink(void *arg, const char *p, size_t n);

#define DKIM_CANON_BUF 4096

/* The body machine; the fields are its state, read by no one else. */
struct dkim_body_canon {
	enum dkim_canon canon;
	dkim_canon_sink *sink;
	void *arg;
	bool cr;            /* a CR seen, its LF not yet */
	bool wsp;           /* relaxed: a WSP run not yet written */
	bool in_line;       /* the current line has content written */
	bool any;           /* anything written at all */
	size_t empty_lines; /* empty lines held back: trailing or not */
	size_t n;           /* bytes in buf */
	char buf[DKIM_CANON_BUF];
};

/* Start a body in canonicalization c, its bytes going to sink(arg). */
void dkim_body_canon_init(struct dkim_body_canon *b, enum dkim_canon c,
			  dkim_canon_sink *sink, void *arg);

/* Feed the next n bytes of the body (CRLF line ends; a lone CR or LF is
 * an ordinary byte). */
void dkim_body_canon_feed(struct dkim_body_canon *b, const char *p,
			  size_t n);

/* End of the body: what is held back is settled (a last line without CRLF
 * gets one; trailing empty lines are dropped; an empty simple body
 * becomes CRLF) and everything reaches the sink. */
void dkim_body_canon_finish(struct dkim_body_canon *b);

#endif
