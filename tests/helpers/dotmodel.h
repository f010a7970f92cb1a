/* tests/helpers/dotmodel.h: the rules of a dot-stuffed body one octet at
 * a time, as plainly as they can be written: the model tests hold
 * common/proto/dotstuff and its users to (test_dotstuff, test_smtpclient,
 * fuzz_dotstuff, fuzz_data). Header only (the fuzz harnesses link no test
 * library). */
#ifndef KANTORPOS_TESTS_HELPERS_DOTMODEL_H
#define KANTORPOS_TESTS_HELPERS_DOTMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* A line starts at in[i]: after any LF (lf_lines), or only after CR LF. */
static inline bool dotmodel_bol(bool lf_lines, const char *in, size_t i)
{
	if (i == 0)
		return true;
	if (lf_lines)
		return in[i - 1] == '\n';
	return i >= 2 && in[i - 2] == '\r' && in[i - 1] == '\n';
}

/* A CR not followed by LF or an LF not after a CR in in[0..n); a CR at
 * in[n - 1] is not yet known. */
static inline bool dotmodel_bare(const char *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) ||
		    (in[i] == '\r' && i + 1 < n && in[i + 1] != '\n'))
			return true;
	return false;
}

struct dotmodel {
	size_t end;     /* octets up to and including ".\r\n"; 0: no end */
	size_t out_len; /* content given out */
	bool bare;      /* dotmodel_bare of what was taken */
	size_t longest; /* octets of the longest line taken */
};

/* The body in in[0..len): the end is the first "." CRLF at a line start,
 * a leading dot of every other line is dropped; the content goes to out
 * (room len). Without an end, a last ".\r" at a line start is not given
 * out yet: it may still be the end. */
static inline void dotmodel_unstuff(bool lf_lines, const char *in, size_t len,
				    char *out, struct dotmodel *m)
{
	size_t o = 0, stop = len, line = 0;

	m->end = 0;
	for (size_t i = 0; i < len; i++) {
		if (dotmodel_bol(lf_lines, in, i) && in[i] == '.') {
			if (i + 3 <= len && in[i + 1] == '\r' && in[i + 2] == '\n') {
				m->end = stop = i + 3;
				break;
			}
			continue;
		}
		out[o++] = in[i];
	}
	if (m->end == 0 && len >= 2 && in[len - 1] == '\r' &&
	    in[len - 2] == '.' && dotmodel_bol(lf_lines, in, len - 2))
		o--;
	m->out_len = o;
	m->bare = dotmodel_bare(in, stop);
	m->longest = 0;
	for (size_t i = 0; i < stop; i++) {
		if (++line > m->longest)
			m->longest = line;
		if (in[i] == '\n' && (lf_lines || (i > 0 && in[i - 1] == '\r')))
			line = 0;
	}
}

/* Stuff in[0..len) into out (room 2 * len + 5): a leading dot doubled, a
 * bare LF sent as CRLF, a last open line closed ("\n" after a CR, or with
 * close_crlf always "\r\n"), then ".\r\n". Returns the octets written. */
static inline size_t dotmodel_stuff(bool close_crlf, const char *in,
				    size_t len, char *out)
{
	bool bol = true, cr = false;
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (bol && in[i] == '.')
			out[o++] = '.';
		if (in[i] == '\n' && !cr)
			out[o++] = '\r';
		out[o++] = in[i];
		bol = in[i] == '\n';
		cr = in[i] == '\r';
	}
	if (!bol) {
		if (!cr || close_crlf)
			out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

#endif
