/* sendmail/header.h: the header section kantorpos-sendmail writes into
 * the drop file: Bcc fields dropped (nobody else may see them), the
 * mailboxes of To, Cc and Bcc for -t (read by common/mail/header.h, an
 * address without a domain qualified), a From: with the sender (and the
 * -F display name) when there is none. Pure: no I/O, no globals. */
#ifndef KANTORPOS_SENDMAIL_HEADER_H
#define KANTORPOS_SENDMAIL_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mail/address.h"

/* How the message is read and written (sendmail/message.h reads it). */
struct sm_msg_opts {
	bool ignore_dots;      /* -i, -oi: a line "." is content */
	bool extract;          /* -t: recipients from To, Cc and Bcc */
	const char *qualify;   /* the domain of addresses given without one */
	const char *from;      /* the sender's address for an added From:;
				* NULL or "": none is added */
	const char *full_name; /* -F: its display name; NULL: none */
};

/* The header section as it goes into the file, and what -t found. */
struct sm_header {
	char *text;            /* the fields without Bcc, a From: added
				* when there was none, then the empty line
				* (CRLF line ends) */
	size_t len;
	struct addr_mailbox *rcpts; /* extract: To, Cc, Bcc, in order */
	size_t n_rcpts;
};

/* Rewrite the header section sec[0..len) (its fields with their line
 * ends, without the empty line) as the struct says. Returns 0 (free *h
 * with sm_header_free), or -1 when out of memory. */
int sm_header_build(const char *sec, size_t len, const struct sm_msg_opts *o,
		    struct sm_header *h);
void sm_header_free(struct sm_header *h);

#endif
