/* common/mail/header.h: reading the header section of a message (RFC 5322
 * §2.2): its fields one by one with their extent, values unfolded, and
 * the mailboxes of an address list (§3.4) read tolerantly — display
 * names, comments, quoted strings, groups and angle addresses, the
 * obsolete route dropped; a display name, comment or encoded word never
 * gives a mailbox. What the fetcher's DomainPOP recipients and
 * kantorpos-sendmail -t read.
 *
 * Pure code: no I/O and no globals; it allocates only scratch space it
 * frees. Safe on hostile input. */
#ifndef KANTORPOS_COMMON_HEADER_H
#define KANTORPOS_COMMON_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mail/address.h"

/* Longest unfolded value hdr_unfold keeps. */
#define HDR_VALUE_MAX (64 * 1024)

/* One header field: its name and raw value (folded, as in the message,
 * line ends included); the field spans text[name - text .. value +
 * value_len). */
struct hdr_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* The next field of the header section text[*pos..len) (lines end in CRLF
 * or LF), *pos moved past it and its continuation lines; false at the end
 * of the section (an empty line, or the end of text). Lines that are
 * neither a field nor a continuation (an mbox "From " line) are skipped;
 * so is a continuation line without a field before it. */
bool hdr_next_field(const char *text, size_t len, size_t *pos,
		    struct hdr_field *f);

/* Is the field's name `name` (ASCII case-insensitive)? */
bool hdr_name_is(const struct hdr_field *f, const char *name);

/* Unfold a value into buf (room for HDR_VALUE_MAX + 1): CR and LF
 * dropped, NUL and other controls made blanks, at most HDR_VALUE_MAX
 * octets kept. Returns the length (buf is NUL-terminated). */
size_t hdr_unfold(const char *value, size_t len, char *buf);

/* Copy s[0..len) into out (room for len + 1) without its comments, each
 * made one blank, quoted strings kept whole; returns the length. */
size_t hdr_strip_comments(const char *s, size_t len, char *out);

/* Called for each mailbox found; returns whether it was taken (counted). */
typedef bool hdr_mailbox_fn(void *arg, const struct addr_mailbox *mb);

/* Call fn for each mailbox of the address list value[0..len) (one
 * unfolded value), in order; UTF-8 is allowed (RFC 6532). With qualify,
 * an address without "@" is taken as LOCAL@qualify (sendmail's rule for
 * local users); without, it is no mailbox. Returns the number of calls
 * that returned true (0 as well when out of memory). */
size_t hdr_address_list(const char *value, size_t len, const char *qualify,
			hdr_mailbox_fn *fn, void *arg);

#endif
