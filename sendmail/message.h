/* sendmail/message.h: the message on kantorpos-sendmail's standard input
 * on its way into the drop file, read as it comes (any pieces):
 *   - without ignore_dots (no -i, -oi), a line holding a single "." ends
 *     it, as in classic sendmail; nothing else is unstuffed;
 *   - bare LF line ends become CRLF (common/base/crlf.h);
 *   - a first line "From ..." (an mbox envelope) is dropped;
 *   - the header section ends at its empty line, or before the first
 *     line that is neither a field nor a continuation (an empty line is
 *     put there); it is held (at most SM_HEADER_MAX octets), rewritten by
 *     sm_header_build (sendmail/header.h) and handed over before the body
 *     streams on.
 * Pure: no I/O, no globals; the sink does the writing. */
#ifndef KANTORPOS_SENDMAIL_MESSAGE_H
#define KANTORPOS_SENDMAIL_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sendmail/header.h"

/* The longest header section taken. */
#define SM_HEADER_MAX (1024 * 1024)

/* Where the message goes: the header section once, then the body in
 * pieces. Each returns 0 to go on, or an exit status that stops the
 * message. */
struct sm_msg_sink {
	int (*header)(void *arg, const struct sm_header *h);
	int (*body)(void *arg, const char *buf, size_t len);
	void *arg;
};

struct sm_msg;

/* NULL when out of memory. o and sink (and the strings of o) must outlive
 * the reader. */
struct sm_msg *sm_msg_new(const struct sm_msg_opts *o,
			  const struct sm_msg_sink *sink);

/* Feed len octets of input. Returns 0, or an exit status: a sink's,
 * EX_DATAERR when the header section passes SM_HEADER_MAX, EX_OSERR when
 * out of memory. Input after the end (sm_msg_ended) is ignored. */
int sm_msg_feed(struct sm_msg *m, const char *buf, size_t len);

/* The input ended: what is held goes out (a header section that never
 * ended as well). Returns as sm_msg_feed. */
int sm_msg_finish(struct sm_msg *m);

/* A line "." ended the message: read no more. */
bool sm_msg_ended(const struct sm_msg *m);

/* Octets handed to the sink so far, and whether any was 8-bit. */
uint64_t sm_msg_size(const struct sm_msg *m);
bool sm_msg_eightbit(const struct sm_msg *m);

void sm_msg_free(struct sm_msg *m);

#endif
