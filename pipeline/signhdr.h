/* pipeline/signhdr.h: the header section of a message as DKIM signing
 * (pipeline/stage_dkim.c) reads it while the content streams: a bounded
 * copy for the header hash, where its empty line starts (where the
 * signature fields go), and the one domain of its From: field.
 * Pure: no I/O, no globals. */
#ifndef KANTORPOS_PIPELINE_SIGNHDR_H
#define KANTORPOS_PIPELINE_SIGNHDR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mail/address.h"

/* Longest header section kept to sign (a longer one is not signed: the
 * stage refuses the message rather than send it unsigned). Verification
 * keeps less (pipeline/dkimcheck.h). */
#define SIGNHDR_MAX (256 * 1024)

struct signhdr {
	bool done;        /* the empty line was seen */
	bool over;        /* longer than max: the copy is cut there */
	bool line_start;  /* at the start of a line */
	bool cr_start;    /* a CR at the start of a line, its LF not yet */
	size_t len;       /* octets in buf: the fields, not the empty line */
	char *buf;        /* malloc'd as it grows, at most max */
	size_t cap;
	size_t max;       /* the bound of the copy */
};

/* Start reading a header section, its copy bounded by max octets
 * (SIGNHDR_MAX for signing). */
void signhdr_init(struct signhdr *h, size_t max);
void signhdr_free(struct signhdr *h);

/* Read the next len octets of content (CRLF line ends). True when the
 * empty line that ends the header section starts in them or just before:
 * *end_r is the offset of its CR in buf, or SIZE_MAX when that CR was
 * the last octet of the previous piece (then h->cr_start told so before
 * this call). Once done, nothing more is read. A copy that would pass
 * h->max stops there (what fits is kept: a prefix of the section) and
 * sets h->over; so does one that finds no memory. */
bool signhdr_feed(struct signhdr *h, const char *buf, size_t len,
		  size_t *end_r);

/* The domain of the From: field of the header section hdr[0..len), lower
 * case, into dom (ADDR_DOMAIN_MAX + 1 bytes): 0, or -1 when there is no
 * From: field, more than one, no mailbox in it, or mailboxes of more than
 * one domain (whose mail would it be?). */
int signhdr_from_domain(const char *hdr, size_t len, char *dom);

#endif
