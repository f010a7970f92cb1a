/* pop3d/retr.h: the RETR/TOP streamer. It turns a message (pulled from a
 * source in pieces) into a POP3 multi-line body: every line end as CRLF,
 * lines beginning with '.' byte-stuffed, closed by ".\r\n" (RFC 1939 §3).
 *
 * Two layers: a pure stuffer (no I/O, no allocation) that transforms one
 * chunk at a time, and a resumable stream that pulls from a source into a
 * caller's bounded buffer, so a 100 MB message never needs more than that
 * buffer. The session drives the stream from the connection's drain
 * callback: fill, queue, wait for room, fill again. */
#ifndef KANTORPOS_POP3D_RETR_H
#define KANTORPOS_POP3D_RETR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* State of the stuffer between chunks. */
struct pop3_stuffer {
	bool bol;     /* the next byte starts a line */
	bool cr;      /* the last byte seen was a CR (its LF may come next) */
	bool any;     /* at least one byte was seen */
};

/* Start a message. */
void pop3_stuff_init(struct pop3_stuffer *st);

/* Transform len bytes of message text into out, which must have room for
 * 2 * len bytes (the worst case: every byte a '.' at a line start or a bare
 * LF). A bare LF becomes CRLF, a '.' at the start of a line is doubled;
 * everything else is copied. Pure. Returns the bytes written to out.
 * in may lie inside out's room when out + len <= in (the stream stuffs
 * the upper half of its buffer into the lower half): the output never
 * overtakes the input it has yet to read. */
size_t pop3_stuff(struct pop3_stuffer *st, const char *in, size_t len,
		  char *out);

/* Room pop3_stuff_end needs. */
#define POP3_STUFF_END_MAX 5

/* The end of the body: CRLF when the last line was left open, then
 * ".\r\n". Writes at most POP3_STUFF_END_MAX bytes; returns the count. */
size_t pop3_stuff_end(struct pop3_stuffer *st, char *out);

/* Where the stream pulls message bytes from: returns bytes read (> 0),
 * 0 at the end of the message, -1 on a read error (errno). */
typedef ssize_t pop3_source_fn(void *src, void *buf, size_t len);

struct pop3_stream {
	struct pop3_stuffer st;
	pop3_source_fn *read;
	void *src;
	uint64_t bytes;   /* body bytes produced so far (stuffing included) */
	bool finished;    /* the terminator has been produced */
};

/* Start a stream over src. */
void pop3_stream_init(struct pop3_stream *s, pop3_source_fn *read, void *src);

/* Fill buf (cap >= 2 * POP3_STUFF_END_MAX) with the next piece of the
 * body: reads at most cap / 2 source bytes so the stuffed result fits, and
 * appends the terminator once the source is exhausted. Returns 1 with
 * *len_r bytes (possibly 0) while more is to come, 0 with the last
 * *len_r bytes (terminator included) when the body is complete, -1 when
 * the source failed (errno; *len_r is 0). Blocks only as the source does. */
int pop3_stream_fill(struct pop3_stream *s, char *buf, size_t cap,
		     size_t *len_r);

#endif
