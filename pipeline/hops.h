/* pipeline/hops.h: counting the Received fields of a header section as
 * the content streams, for the hop limit (RFC 5321 §6.3: a message that
 * went through too many relays is in a loop). Field names are matched
 * without regard to case, with the obsolete blanks before the colon
 * (RFC 5322 §4.5.3); continuation lines are not fields; the section ends
 * at the first empty line (CRLF or a bare LF). Pure: no I/O, no
 * allocation, no globals. */
#ifndef KANTORPOS_PIPELINE_HOPS_H
#define KANTORPOS_PIPELINE_HOPS_H

#include <stdbool.h>
#include <stddef.h>

struct hops {
	unsigned count;   /* Received fields seen */
	bool done;        /* the header section has ended */
	/* Position (hops.c). */
	unsigned line_len;
	unsigned matched;
	char last;
};

void hops_init(struct hops *h);

/* Read len more octets of the content. */
void hops_feed(struct hops *h, const char *buf, size_t len);

#endif
