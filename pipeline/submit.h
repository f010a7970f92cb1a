/* pipeline/submit.h: the header section of mail from authenticated users,
 * read as the content streams (after the data parser): where it ends, and
 * whether it has Date and Message-ID, and the text of its From: fields
 * for the sender rules (pipeline/sender.h); and the Date and Message-ID
 * fields the server adds when they are missing (RFC 6409 §8.2, §8.3).
 * Pure: no I/O, no allocation, no globals; memory bounded by the struct. */
#ifndef KANTORPOS_PIPELINE_SUBMIT_H
#define KANTORPOS_PIPELINE_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Longest From: text kept (all From: fields, unfolded); past it the
 * sender check fails closed (submit_scan.from_long). */
#define SUBMIT_FROM_MAX 4096
/* Room that always holds the fields submit_fields writes. */
#define SUBMIT_FIELDS_MAX 512

struct submit_scan {
	bool done;         /* the header section has ended */
	bool has_date;
	bool has_msgid;
	bool from_long;    /* From: text above SUBMIT_FROM_MAX */
	unsigned n_from;   /* From: fields seen */
	size_t from_len;
	char from[SUBMIT_FROM_MAX]; /* From: bodies unfolded, joined by "," */
	/* Position (submit.c). */
	bool line_start;
	bool in_name;      /* reading a field name, before its ':' */
	int field;         /* the field whose body is being read */
	unsigned name_len;
	char name[16];
};

void submit_init(struct submit_scan *h);

/* Read len octets of content (as stored, CRLF line ends). True when the
 * header section ends in them: *end_r is the offset of its empty line,
 * where missing fields go (so they stay in the header section). Once
 * done, it reads nothing more. */
bool submit_feed(struct submit_scan *h, const char *buf, size_t len,
		 size_t *end_r);

/* The content ended: a header section without an empty line ends here.
 * True when fields may be appended at the end (it was still open, at the
 * start of a line). */
bool submit_finish(struct submit_scan *h);

/* The missing fields into buf (size >= SUBMIT_FIELDS_MAX): "Date: ..."
 * (RFC 5322 §3.3, at `when` shifted by utc_offset seconds) and
 * "Message-ID: <DATE.id@host>" (id and host: dot-atom text, unique per
 * message). Returns the length, 0 when nothing is missing or it does not
 * fit. */
size_t submit_fields(const struct submit_scan *h, const char *id,
		     const char *host, time_t when, long utc_offset,
		     char *buf, size_t size);

#endif
