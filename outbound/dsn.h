/* outbound/dsn.h: delivery status notifications (RFC 3464 inside an RFC 3462
 * multipart/report) for mail the queue could not deliver, and the helpers
 * that turn an SMTP reply into an RFC 3463 status. Pure: no I/O, no
 * globals (the caller passes the times and the unique id). */
#ifndef KANTORPOS_OUTBOUND_DSN_H
#define KANTORPOS_OUTBOUND_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* One failed recipient. */
struct dsn_rcpt {
	const char *addr;
	const char *status;     /* "5.1.1"; NULL: derived from diag */
	const char *diag;       /* remote SMTP reply "550 5.1.1 ..." or a
				 * local reason; may be NULL */
	const char *remote_mta; /* host that gave diag, or NULL */
};

struct dsn_info {
	const char *reporting_mta; /* our host name */
	const char *sender;        /* the original envelope sender (not "") */
	const char *msgid;         /* unique token for Message-ID/boundary */
	time_t arrival;            /* when the original was queued */
	time_t now;
	bool expired;              /* lifetime reached (Status 4.4.7 text) */
	const char *headers;       /* the original header section, or NULL */
	size_t headers_len;
	const struct dsn_rcpt *rcpts;
	size_t n_rcpts;
};

/* The RFC 3463 status of an SMTP reply "550 5.1.1 ...": the enhanced code
 * when the reply carries one whose class matches, else "<class>.0.0".
 * Writes at most 16 bytes into buf and returns it; "4.4.1" (no answer)
 * for code 0 / a reply without a code. */
const char *dsn_status_of(const char *reply, char *buf, size_t size);

/* Length of the header section of a message (up to and including the blank
 * line, or all of it when there is none), looking at no more than len
 * bytes. */
size_t dsn_header_len(const char *msg, size_t len);

/* Build the whole notification (headers, CRLF line ends) into a heap
 * buffer: From MAILER-DAEMON@reporting_mta, To the sender,
 * Auto-Submitted: auto-replied, a text/plain part, message/delivery-status
 * (Reporting-MTA, Arrival-Date, and per recipient Final-Recipient, Action:
 * failed, Status, Remote-MTA and Diagnostic-Code when an SMTP reply is
 * known, Last-Attempt-Date) and text/rfc822-headers with the original
 * headers. Returns 0 with *text_r and *len_r (caller frees) or -1 (ENOMEM,
 * EINVAL when there is no recipient). */
int dsn_build(const struct dsn_info *in, char **text_r, size_t *len_r);

#endif
