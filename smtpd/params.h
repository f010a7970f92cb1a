/* smtpd/params.h: ESMTP parameters of MAIL FROM and RCPT TO: SIZE
 * (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531), AUTH=
 * (RFC 4954 §5) and the DSN parameters RET, ENVID, NOTIFY and ORCPT
 * (RFC 3461 §4); and the arguments of BDAT (RFC 3030). Pure: no I/O, no
 * allocation, no globals. */
#ifndef KANTORPOS_SMTPD_PARAMS_H
#define KANTORPOS_SMTPD_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mail/address.h"
#include "common/mail/dsn.h"

enum params_body {
	PARAMS_BODY_NONE = 0, /* not given: 7-bit by RFC, stored as sent */
	PARAMS_BODY_7BIT,
	PARAMS_BODY_8BITMIME,
	PARAMS_BODY_BINARYMIME, /* RFC 3030 §3: only BDAT may carry it */
};

/* Largest AUTH= value after xtext decoding (RFC 4954 §5: a mailbox). */
#define PARAMS_AUTH_MAX ADDR_PATH_MAX

struct params_mail {
	bool has_size;
	uint64_t size;            /* SIZE=, when has_size */
	enum params_body body;
	bool smtputf8;
	bool has_auth;
	char auth[PARAMS_AUTH_MAX + 1]; /* decoded AUTH= ("<>" kept as is) */
	enum dsn_ret ret;
	char envid[DSN_ENVID_MAX + 1]; /* ENVID= as sent (xtext); "": none */
};

struct params_rcpt {
	unsigned notify;               /* DSN_NOTIFY_* bits; 0: none */
	char orcpt[DSN_ORCPT_MAX + 1]; /* ORCPT= as sent, "addr-type;xtext";
					* "": none */
};

/* Why parameters were refused, with the reply to give. */
struct params_error {
	int code;        /* 501, 552 or 555 */
	const char *enh; /* "5.5.4", "5.3.4" */
	const char *why; /* static text */
};

/* Parse the parameters of MAIL FROM (s[0..len), the text after the path as
 * addr_path.rest gives it). Keywords are case-insensitive and separated by
 * one or more spaces. max_size is the SIZE limit (0: none); a declared size
 * above it is refused with 552 5.3.4 (RFC 1870 §6.1). A keyword given twice,
 * a malformed value or a number above 20 digits is 501 5.5.4; so are a RET
 * other than FULL or HDRS and an ENVID that is not xtext, longer than 100
 * characters or not printable ASCII once decoded (RFC 3461 §4.4); an
 * unknown keyword 555 5.5.4 (RFC 5321 §4.1.1.11). Returns 0 with *p_r
 * filled, or -1 with *err_r filled. */
int params_parse_mail(const char *s, size_t len, uint64_t max_size,
		      struct params_mail *p_r, struct params_error *err_r);

/* Parse the parameters of RCPT TO: NOTIFY and ORCPT (RFC 3461 §4.1, §4.2).
 * A parameter given twice, NOTIFY=NEVER with another value, an unknown or
 * repeated NOTIFY value, an ORCPT whose addr-type is not an atom, whose
 * address is not xtext (or not printable ASCII once decoded) or that is
 * longer than 500 characters is 501 5.5.4; another keyword 555 5.5.4.
 * Returns 0 with *p_r (may be NULL) filled, or -1 as above. */
int params_parse_rcpt(const char *s, size_t len, struct params_rcpt *p_r,
		      struct params_error *err_r);

/* Parse the arguments of BDAT (RFC 3030 §2: bdat-cmd = "BDAT" SP
 * chunk-size [SP end-marker], chunk-size = 1*DIGIT, end-marker = "LAST",
 * case-insensitive): exactly that, no other blanks, no sign, at most 20
 * digits (as SIZE). Anything else is 501 5.5.4; 20 digits above 2^64-1
 * are 552 5.3.4. Returns 0 with *size_r and *last_r, or -1 with *err_r. */
int params_parse_bdat(const char *args, uint64_t *size_r, bool *last_r,
		      struct params_error *err_r);

#endif
