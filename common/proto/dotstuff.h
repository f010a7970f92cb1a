/* common/proto/dotstuff.h: the dot-stuffing of SMTP DATA (RFC 5321 §4.5.2)
 * and of POP3 multi-line responses (RFC 1939 §3), in both directions, as
 * two streaming state machines fed chunks of any size. Pure: no I/O, no
 * allocation, no globals; a chunk boundary anywhere gives the same octets
 * as the whole.
 *
 * The stuffer (a sender: pop3d's RETR/TOP, the SMTP client's DATA) doubles
 * a '.' that begins a line, sends a bare LF as CRLF (every other octet,
 * a bare CR included, as it is), closes a last line left open and adds
 * the terminating ".\r\n".
 *
 * The un-stuffer (a receiver: smtpd's DATA, the POP3 client's RETR) finds
 * the terminating "." CRLF line, removes the first dot of every other line
 * that begins with one, and says how many input octets the body took; what
 * follows belongs to the next command or reply. On the way it notes every
 * CR or LF that is not part of a CRLF pair and the longest line on the
 * wire, for a caller that refuses such messages (smtpd). */
#ifndef KANTORPOS_COMMON_PROTO_DOTSTUFF_H
#define KANTORPOS_COMMON_PROTO_DOTSTUFF_H

#include <stdbool.h>
#include <stddef.h>

/* dot_stuff_init flags. */
/* A last line left open after a CR is closed with a whole CRLF (the CR
 * stays a bare CR) instead of taking the CR as the first half of its line
 * end. */
#define DOT_STUFF_CLOSE_CRLF 0x01u

struct dot_stuffer {
	bool bol;        /* the next octet starts a line */
	bool cr;         /* the last octet was a CR (its LF may come next) */
	bool close_crlf; /* DOT_STUFF_CLOSE_CRLF */
};

/* Start a body. */
void dot_stuff_init(struct dot_stuffer *st, unsigned flags);

/* Stuff len octets of text into out, which has room for 2 * len octets
 * (the worst case: every octet a '.' at a line start or a bare LF).
 * Returns the octets written. in may lie inside out's room when
 * out + len <= in (stuffing the upper half of a buffer into its lower
 * half): the output never overtakes the input still to be read. */
size_t dot_stuff(struct dot_stuffer *st, const char *in, size_t len,
		 char *out);

/* Room dot_stuff_close and dot_stuff_end need. */
#define DOT_STUFF_CLOSE_MAX 2
#define DOT_STUFF_END_MAX 5

/* Close a last line left open: "\n" after a CR, otherwise "\r\n"
 * (DOT_STUFF_CLOSE_CRLF: always "\r\n"); nothing when the text ended with
 * a line end or was empty. Returns the octets written (at most
 * DOT_STUFF_CLOSE_MAX). For a sender that sends the final "." itself. */
size_t dot_stuff_close(struct dot_stuffer *st, char *out);

/* The end of the body: dot_stuff_close, then ".\r\n". Returns the octets
 * written (at most DOT_STUFF_END_MAX). */
size_t dot_stuff_end(struct dot_stuffer *st, char *out);

/* dot_unstuff_init flags. */
/* Any LF starts a line (a lenient reader of POP3 servers that send bare
 * LF); without it only CRLF does, so <LF>.<LF>, <CR>.<CR> and every mix
 * are content, never an end (SMTP smuggling). */
#define DOT_UNSTUFF_LF_LINES 0x01u

struct dot_unstuffer {
	unsigned char state;
	bool lf_lines;   /* DOT_UNSTUFF_LF_LINES */
	bool done;       /* the terminating line was taken */
	/* Read by the caller: */
	bool bare;       /* a CR or LF not part of a CRLF pair was seen */
	size_t longest;  /* octets of the longest line on the wire so far,
			  * the current one included (a stuffed dot and the
			  * line end count) */
	size_t line_len; /* octets of the current line on the wire */
};

/* Start a body. A zeroed struct is a started one without flags. */
void dot_unstuff_init(struct dot_unstuffer *u, unsigned flags);

/* Un-stuff len octets of the wire into out (room for len + 1 octets: a
 * held ".\r" turns out to be content), its length to *out_len_r. Returns
 * the input octets taken: all of them, unless the terminating line was
 * reached; then dot_unstuff_done() is true and in[ret..len) follows the
 * body. Once done, nothing more is taken. */
size_t dot_unstuff(struct dot_unstuffer *u, const char *in, size_t len,
		   char *out, size_t *out_len_r);

/* The terminating line was reached. */
bool dot_unstuff_done(const struct dot_unstuffer *u);

#endif
