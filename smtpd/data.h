/* smtpd/data.h: the message content state machine for DATA and BDAT, fed
 * in chunks of any size. Pure: no I/O, no allocation, no globals.
 *
 * DATA (RFC 5321 §4.1.1.4, §4.5.2): the data ends only at <CRLF>.<CRLF>;
 * a line start is only after a CRLF, so <LF>.<LF>, <CR>.<CR> and every
 * mix are content, never an end (SMTP smuggling). A leading dot of a line
 * is removed (common/proto/dotstuff's un-stuffer). BDAT (RFC 3030): every
 * octet is content.
 *
 * Both modes record faults instead of stopping, so the caller reads to the
 * real end and answers once: a bare CR or LF (the message is refused), a
 * text line above the limit, a size above the maximum. They also drop
 * every Return-Path field of the header section, since the server adds
 * the one true Return-Path (RFC 5321 §4.4). Too many Received fields (a
 * mail loop) are the pipeline's hop limit (pipeline/stage_hops.c). */
#ifndef KANTORPOS_SMTPD_DATA_H
#define KANTORPOS_SMTPD_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto/dotstuff.h"

/* Extra output room a feed may need beyond its input length: a held
 * header-name prefix and a held CR are released by a later byte. */
#define DATA_OUT_SLACK 32

/* Faults, as bits of data_faults(). */
#define DATA_F_BARE_NL 0x01  /* a CR or LF not part of a CRLF pair */
#define DATA_F_LONG_LINE 0x02 /* a line above the text line limit */
#define DATA_F_TOO_BIG 0x04   /* content above the size limit */

enum data_mode {
	DATA_MODE_DOT,    /* DATA: dot-stuffed, ends at CRLF.CRLF */
	DATA_MODE_CHUNK,  /* BDAT text: octets as sent, CRLF required */
	DATA_MODE_BINARY, /* BDAT with BODY=BINARYMIME: no line checks */
};

struct data_parser {
	enum data_mode mode;
	uint64_t max_size;  /* 0: no limit */
	size_t line_limit;  /* octets with CRLF; 0: no limit */
	uint64_t size;      /* content octets so far (Return-Path included) */
	size_t line_len;    /* BDAT: octets of the current line */
	unsigned faults;
	struct dot_unstuffer dot; /* DATA mode: the wire */
	bool held_cr;       /* BDAT: the last octet was a CR */
	/* Header filter: recognises Return-Path field names. */
	bool in_body;
	bool hdr_line_start;
	bool hdr_line_empty;
	bool dropping;      /* inside a Return-Path field being removed */
	unsigned char prefix_len;
	char prefix[16];
};

/* Start a message. line_limit counts the CRLF (RFC 5321 §4.5.3.1.6: at
 * least 1000); max_size counts content octets as stored. */
void data_init(struct data_parser *p, enum data_mode mode, uint64_t max_size,
	       size_t line_limit);

/* Feed len octets. Content goes to out (room for len + DATA_OUT_SLACK
 * octets), its length to *out_len_r. Returns how many input octets were
 * used: all of them, except in DATA mode once the final dot line has been
 * taken; then data_done() is true and in[ret..len) is what the client sent
 * after the data (pipelined commands). */
size_t data_feed(struct data_parser *p, const char *in, size_t len,
		 char *out, size_t *out_len_r);

/* BDAT LAST: release held octets into out (room DATA_OUT_SLACK) and check
 * the message ends cleanly. Returns the length written. */
size_t data_finish(struct data_parser *p, char *out);

/* DATA mode: the end of data was reached. */
bool data_done(const struct data_parser *p);

/* DATA_F_* bits found so far; 0 for a good message. */
unsigned data_faults(const struct data_parser *p);

/* Content octets so far. */
uint64_t data_size(const struct data_parser *p);

/* The reply for the first fault of faults (precedence: bare CR/LF, size,
 * line, loop): code, enhanced code and text. Returns -1 when faults is 0. */
int data_fault_reply(unsigned faults, int *code_r, const char **enh_r,
		     const char **text_r);

#endif
