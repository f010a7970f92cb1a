/* common/net/buf.h: the byte buffers under common/net/conn: an input buffer with
 * line framing (LF or CRLF, a maximum length, overlong lines reported once
 * and their rest discarded) and an output queue.
 *
 * Pure: no I/O, no globals; memory only. The connection reads into the
 * space buf_in_space hands out and writes from buf_out_head; everything
 * about what a line is lives here so it can be tested and fuzzed alone.
 * Both buffers allocate lazily and give their memory back once empty
 * (buf_in_release, buf_out_consume), so an idle connection holds none.
 */
#ifndef KANTORPOS_COMMON_BUF_H
#define KANTORPOS_COMMON_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Flags of a framed line (conn.h's CONN_LINE_* have the same values). */
#define BUF_LINE_CRLF 0x1     /* ended in CRLF (else a bare LF) */
#define BUF_LINE_BARE_CR 0x2  /* a CR not followed by LF inside it */
#define BUF_LINE_NUL 0x4      /* a NUL byte inside it */
#define BUF_LINE_OVERLONG 0x8 /* longer than the maximum: data is the first
			       * max_line-1 bytes; the rest up to the next
			       * LF is discarded as it arrives */

struct buf_line {
	char *data;     /* NUL-terminated, terminator removed; points into
			 * the buffer, valid until it is next changed */
	size_t len;     /* bytes before the terminator (may hold NULs) */
	unsigned flags; /* BUF_LINE_* */
};

/* Input. Zero-initialise, then buf_in_set_max_line. */
struct buf_in {
	char *data;
	size_t cap, start, end;
	size_t scan;     /* bytes from start known to hold no LF */
	size_t max_line; /* terminator included, >= 3 */
	bool discarding; /* inside the rest of an overlong line */
};

/* Maximum line length, terminator included (values below 3 become 3). */
void buf_in_set_max_line(struct buf_in *b, size_t max_line);

/* Bytes buffered and not yet taken. */
size_t buf_in_avail(const struct buf_in *b);

/* Room to read into: moves the unread bytes to the front and makes the
 * buffer `size` bytes (never shrinks it). Returns the free space at the
 * end (its length in *room_r, 0 when full), or NULL when out of memory. */
char *buf_in_space(struct buf_in *b, size_t size, size_t *room_r);

/* n bytes were written into the space; in line mode (raw false) the rest
 * of an overlong line is dropped at once. */
void buf_in_commit(struct buf_in *b, size_t n, bool raw);

/* Is a line (or an overlong-line report) ready? Drops discarded bytes
 * first. */
bool buf_in_has_line(struct buf_in *b);

/* Raw mode's readiness: are any bytes buffered? Cancels a pending
 * overlong-line discard, as buf_in_take does. */
bool buf_in_raw_ready(struct buf_in *b);

/* Take the next line. Returns 1 with *line_r, or 0 when no complete line
 * is buffered. An overlong line is returned once with BUF_LINE_OVERLONG;
 * the bytes after it up to the next LF are discarded. */
int buf_in_next_line(struct buf_in *b, struct buf_line *line_r);

/* Take up to max bytes as they came (raw mode). Cancels a pending
 * overlong-line discard, so raw bytes are exact. Returns the count, with
 * *data_r pointing at them (valid until the buffer next changes). */
size_t buf_in_take(struct buf_in *b, const char **data_r, size_t max);

/* Give back the last n bytes of the latest buf_in_take (n at most what it
 * returned), before the buffer next changes: a reader that took more than
 * its part (the end of DATA, then pipelined commands) returns the rest. */
void buf_in_untake(struct buf_in *b, size_t n);

/* Throw away every buffered byte (a TLS upgrade: CVE-2011-0411) and any
 * pending discard. Returns how many bytes were dropped. */
size_t buf_in_drop(struct buf_in *b);

/* Free the memory when nothing is buffered. */
void buf_in_release(struct buf_in *b);

void buf_in_free(struct buf_in *b);

/* Output queue. Zero-initialise. */
struct buf_out {
	char *data;
	size_t cap, start, end;
};

/* Bytes queued and not yet consumed. */
size_t buf_out_pending(const struct buf_out *b);

/* Make room for len more bytes plus a NUL (for vsnprintf), keeping at most
 * max bytes queued. Returns a pointer where they go (then buf_out_commit),
 * or NULL with errno ENOBUFS (over max) or ENOMEM. */
char *buf_out_reserve(struct buf_out *b, size_t len, size_t max);

/* Append printf output, keeping at most max bytes queued. Returns 0, or
 * -1 with errno (ENOBUFS over max, ENOMEM, EINVAL for a bad format). */
int buf_out_vprintf(struct buf_out *b, size_t max, const char *fmt,
		    va_list ap) __attribute__((format(printf, 3, 0)));

/* len bytes were written at the reserved place. */
void buf_out_commit(struct buf_out *b, size_t len);

/* The queued bytes (buf_out_pending of them), NULL when none. */
const char *buf_out_head(const struct buf_out *b);

/* n bytes were sent; the memory is freed once the queue is empty. */
void buf_out_consume(struct buf_out *b, size_t n);

void buf_out_free(struct buf_out *b);

#endif
