/* pop3d/retr.h: the RETR/TOP streamer. It turns a message (pulled from a
 * source in pieces) into a POP3 multi-line body: every line end as CRLF,
 * lines beginning with '.' byte-stuffed, closed by ".\r\n" (RFC 1939 §3).
 *
 * The stuffing is common/proto/dotstuff's; this is the resumable stream
 * over it that pulls from a source into a caller's bounded buffer, so a
 * 100 MB message never needs more than that buffer. The session drives
 * the stream from the connection's drain callback: fill, queue, wait for
 * room, fill again. */
#ifndef KANTORPOS_POP3D_RETR_H
#define KANTORPOS_POP3D_RETR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/proto/dotstuff.h"

/* Where the stream pulls message bytes from: returns bytes read (> 0),
 * 0 at the end of the message, -1 on a read error (errno). */
typedef ssize_t pop3_source_fn(void *src, void *buf, size_t len);

struct pop3_stream {
	struct dot_stuffer st;
	pop3_source_fn *read;
	void *src;
	uint64_t bytes;   /* body bytes produced so far (stuffing included) */
	bool finished;    /* the terminator has been produced */
};

/* Start a stream over src. */
void pop3_stream_init(struct pop3_stream *s, pop3_source_fn *read, void *src);

/* Fill buf (cap >= 2 * DOT_STUFF_END_MAX) with the next piece of the
 * body: reads at most cap / 2 source bytes so the stuffed result fits, and
 * appends the terminator once the source is exhausted. Returns 1 with
 * *len_r bytes (possibly 0) while more is to come, 0 with the last
 * *len_r bytes (terminator included) when the body is complete, -1 when
 * the source failed (errno; *len_r is 0). Blocks only as the source does. */
int pop3_stream_fill(struct pop3_stream *s, char *buf, size_t cap,
		     size_t *len_r);

#endif
