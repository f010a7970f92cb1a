/* outbound/dsn.h: delivery status notifications (RFC 3464 inside an RFC
 * 6522 multipart/report) of the queue — failed, delayed, delivered and
 * relayed (RFC 3461 §6) — and the helpers that turn an SMTP reply into an
 * RFC 3463 status. Pure: no I/O, no globals (the caller passes the times
 * and the unique id). */
#ifndef KANTORPOS_OUTBOUND_DSN_H
#define KANTORPOS_OUTBOUND_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* What happened to the recipients of one report (RFC 3464 §2.3.3). */
enum dsn_action {
	DSN_ACTION_FAILED = 0,
	DSN_ACTION_DELAYED,   /* still queued, retried until retry_until */
	DSN_ACTION_DELIVERED, /* stored in a local Maildir */
	DSN_ACTION_RELAYED,   /* accepted by a next hop that offers no DSN */
};

/* One recipient of the report. */
struct dsn_rcpt {
	const char *addr;
	const char *status;     /* "5.1.1"; NULL: derived from diag (and the
				 * action: 2.0.0 for delivered and relayed) */
	const char *diag;       /* remote SMTP reply "550 5.1.1 ..." or a
				 * local reason; may be NULL */
	const char *remote_mta; /* host that gave diag, or NULL */
	const char *orcpt;      /* ORCPT= as sent ("rfc822;a+2Bb@c"), or
				 * NULL: no Original-Recipient field */
};

struct dsn_info {
	const char *reporting_mta; /* our host name */
	const char *sender;        /* the original envelope sender (not "") */
	const char *msgid;         /* unique token for Message-ID/boundary */
	enum dsn_action action;    /* the same for every recipient */
	time_t arrival;            /* when the original was queued */
	time_t now;
	time_t retry_until;        /* delayed: Will-Retry-Until */
	bool expired;              /* lifetime reached (Status 4.4.7 text) */
	const char *envid;         /* ENVID= as sent, or NULL */
	const char *content;       /* returned: the original message (full)
				    * or its header section; NULL: none */
	size_t content_len;
	bool full;                 /* content is the whole message
				    * (message/rfc822), else its header
				    * section (text/rfc822-headers) */
	bool capped;               /* the whole was asked for but was over
				    * cap bytes: part 1 says so */
	size_t cap;
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

/* Whether text[0..len) holds an octet above 127 (the report then goes
 * with BODY=8BITMIME). */
bool dsn_has_8bit(const char *text, size_t len);

/* Build the whole notification (headers, CRLF line ends) into a heap
 * buffer: From MAILER-DAEMON@reporting_mta, To the sender,
 * Auto-Submitted: auto-replied, a text/plain part, message/delivery-status
 * (Original-Envelope-Id as sent when there was an ENVID, Reporting-MTA,
 * Arrival-Date, and per recipient Original-Recipient (the ORCPT, its
 * address xtext-decoded) when there was one, Final-Recipient, Action,
 * Status, Remote-MTA and Diagnostic-Code when an SMTP reply is known,
 * Last-Attempt-Date, Will-Retry-Until for delayed) and the returned
 * content: message/rfc822 or text/rfc822-headers. Returns 0 with *text_r
 * and *len_r (caller frees) or -1 (ENOMEM, EINVAL when there is no
 * recipient). */
int dsn_build(const struct dsn_info *in, char **text_r, size_t *len_r);

#endif
