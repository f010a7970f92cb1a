/* common/mail/address.h: RFC 5321 mailbox and path parsing (RFC 6531 UTF-8 on
 * request), the mailbox key "local@domain" that names a user and a Maildir,
 * and the check that keeps a name component inside the mail tree.
 *
 * Pure code: no I/O, no allocation, no globals; every function is
 * thread-safe and non-blocking.
 *
 * Case: kantorpos mailbox names are case-insensitive. The key lower-cases the
 * ASCII letters of both the local part and the domain (bytes >= 0x80 are kept
 * as they are), so Alice@Example.ORG and alice@example.org are one mailbox.
 * The parsed mailbox keeps the local part as written, for trace headers.
 */
#ifndef KANTORPOS_COMMON_ADDRESS_H
#define KANTORPOS_COMMON_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 5321 §4.5.3.1.1-3 limits, in octets. */
#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255
#define ADDR_PATH_MAX 256
/* Buffer size that always holds a key: local "@" domain NUL. */
#define ADDR_KEY_SIZE (ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX + 1)

/* Parse options. */
#define ADDR_OPT_UTF8 0x01	/* accept UTF-8 (SMTPUTF8, RFC 6531) */
#define ADDR_OPT_POSTMASTER 0x02 /* accept the bare <postmaster> (RCPT) */

/* Facts about a parsed mailbox (addr_mailbox.flags). */
#define ADDR_MB_QUOTED 0x01	/* local part was a Quoted-string */
#define ADDR_MB_LITERAL 0x02	/* domain is an address literal [...] */
#define ADDR_MB_POSTMASTER 0x04 /* local part is "postmaster" (any case) */
#define ADDR_MB_UTF8 0x08	/* contains non-ASCII characters */

/* Facts about a parsed path (addr_path.flags). */
#define ADDR_PATH_NULL 0x01	   /* "<>": no mailbox */
#define ADDR_PATH_ROUTE 0x02	   /* a source route was given and dropped */
#define ADDR_PATH_BARE_POSTMASTER 0x04 /* "<postmaster>": no domain */

/* Which part of the input was wrong. Suggested SMTP replies: PATH 501 5.5.2
 * (or 5.1.7 / 5.1.3), LOCAL 501 5.1.7 for MAIL / 5.1.3 for RCPT, DOMAIN
 * 501 5.1.7 / 5.1.2, UTF8 553 5.6.7 (RFC 6531 §3.7.4.1). */
enum addr_part {
	ADDR_ERR_PATH = 1, /* framing: <>, source route, junk, total length */
	ADDR_ERR_LOCAL,	   /* local part */
	ADDR_ERR_DOMAIN,   /* domain or address literal */
	ADDR_ERR_UTF8,	   /* non-ASCII without ADDR_OPT_UTF8 */
};

struct addr_error {
	enum addr_part part;
	const char *why; /* static text, fit for a reply */
};

struct addr_mailbox {
	/* Local part with the quotes and quoted-pairs resolved, as written
	 * otherwise (case kept); NUL-terminated. */
	char local[ADDR_LOCAL_MAX + 1];
	/* Domain as written, brackets included for a literal. */
	char domain[ADDR_DOMAIN_MAX + 1];
	unsigned flags; /* ADDR_MB_* */
};

struct addr_path {
	struct addr_mailbox mailbox; /* empty for <> and <postmaster> */
	unsigned flags;		     /* ADDR_PATH_* */
	/* What follows ">" with the separating spaces skipped (the ESMTP
	 * parameters), pointing into the caller's input. */
	const char *rest;
	size_t rest_len;
};

/* Parse a Mailbox (local "@" domain) that fills all of s[0..len). NUL, CR
 * and other control characters are refused wherever they appear. Limits:
 * local part 64, domain 255 octets (the 256-octet path limit is checked by
 * addr_parse_path).
 * Returns 0 and fills mb_r, or -1 and fills err_r (which may be NULL). */
int addr_parse_mailbox(const char *s, size_t len, unsigned opts,
		       struct addr_mailbox *mb_r, struct addr_error *err_r);

/* Parse the argument of MAIL FROM: / RCPT TO: after the colon: optional
 * spaces, then "<>", "<postmaster>" (with ADDR_OPT_POSTMASTER),
 * "<@a,@b:mailbox>" (the route is checked and dropped) or "<mailbox>",
 * then nothing or spaces and parameters (returned in path_r->rest).
 * Returns 0, or -1 and fills err_r (which may be NULL). */
int addr_parse_path(const char *s, size_t len, unsigned opts,
		    struct addr_path *path_r, struct addr_error *err_r);

/* Build the mailbox key "local@domain" with ASCII letters lower-cased, into
 * buf (size >= ADDR_KEY_SIZE always suffices). Each half must pass
 * addr_component_safe. Returns 0, or -1 with a static reason in *why_r. */
int addr_key(const struct addr_mailbox *mb, char *buf, size_t size,
	     const char **why_r);

/* Write mb back as RFC 5321 text, "local@domain" with the local part as
 * a Quoted-string (backslashes before '"' and '\\') when it was given as
 * one (ADDR_MB_QUOTED), so that addr_parse_mailbox reads it as mb again.
 * Room: 2 * ADDR_LOCAL_MAX + 3 + ADDR_DOMAIN_MAX + 1 always suffices
 * (ADDR_TEXT_SIZE). Returns the length, or 0 when it does not fit. */
#define ADDR_TEXT_SIZE (2 * ADDR_LOCAL_MAX + 3 + ADDR_DOMAIN_MAX + 1)
size_t addr_mailbox_text(const struct addr_mailbox *mb, char *buf,
			 size_t size);

/* Parse a user name such as "Alice@Example.org" (as in the user database or
 * a login; UTF-8 allowed) and build its key, as addr_key. Returns 0 or -1
 * with a static reason in *why_r. */
int addr_key_from_string(const char *name, char *buf, size_t size,
			 const char **why_r);

/* Is s[0..len) safe as one path component under the mail tree (a domain
 * or local-part directory)? Refused: empty, longer than 255 octets, "/"
 * or "\", a leading "." (so "." and ".." too), NUL, control characters
 * (< 0x20, 0x7f) and invalid UTF-8. Returns true, or false with a static
 * reason in *why_r (which may be NULL). */
bool addr_component_safe_n(const char *s, size_t len, const char **why_r);
/* The same for a NUL-terminated string. */
bool addr_component_safe(const char *s, const char **why_r);

/* Subaddressing: the base of local part "user+tag" is "user" when '+' is
 * in delims. Splits at the first delimiter character, unless that would
 * leave an empty base. delims NULL or "" turns it off. Returns the length
 * of the base; *tag_r (may be NULL) gets the tag after the delimiter, or
 * NULL when nothing was split. */
size_t addr_subaddress(const char *local, const char *delims,
		       const char **tag_r);

#endif
