/* common/mail/xtext.h: RFC 3461 §4 xtext, the encoding of the AUTH=,
 * ENVID= and ORCPT= parameter values ("+" followed by two upper-case hex
 * digits encodes one octet; every other character is printable ASCII
 * 0x21-0x7e but "=" and "+"). Pure: no I/O, no allocation, no globals. */
#ifndef KANTORPOS_COMMON_MAIL_XTEXT_H
#define KANTORPOS_COMMON_MAIL_XTEXT_H

#include <stddef.h>

/* Decode s[0..len) into out (size bytes, NUL-terminated). Returns the
 * decoded length, or -1 when malformed or too long. */
int xtext_decode(const char *s, size_t len, char *out, size_t size);

/* Decode s[0..len) like xtext_decode, and refuse (-1) a value that does
 * not decode to printable ASCII (0x20-0x7e): what RFC 3461 §4.4 asks of
 * an ENVID, and what a DSN field can carry (RFC 3464 §2.1.1). */
int xtext_decode_printable(const char *s, size_t len, char *out,
			   size_t size);

#endif
