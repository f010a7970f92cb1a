/* common/mail/dsn.h: what a sender asks for with the DSN parameters of RFC
 * 3461 §4, as data every layer shares (pure: no I/O, no globals) — smtpd parses them, the pipeline
 * and the queue keep them, the queue runner passes them on or reports as
 * they ask. ENVID and ORCPT values are kept as they were sent (xtext,
 * common/mail/xtext.h), so that they go on byte for byte. */
#ifndef KANTORPOS_COMMON_MAIL_DSN_H
#define KANTORPOS_COMMON_MAIL_DSN_H

/* RFC 3461 §4.4: ENVID= is at most 100 characters; §4.2: the whole
 * ORCPT= value at most 500. Both counted as sent (xtext). */
#define DSN_ENVID_MAX 100
#define DSN_ORCPT_MAX 500

/* MAIL ... RET= (§4.3). */
enum dsn_ret {
	DSN_RET_NONE = 0, /* not given: the reporting MTA's choice */
	DSN_RET_FULL,
	DSN_RET_HDRS,
};

/* RCPT ... NOTIFY= (§4.1): NEVER alone, or any of the other three; no bit
 * set means the parameter was not given (then: failures, and delays at
 * the MTA's discretion). */
#define DSN_NOTIFY_NEVER 0x1u
#define DSN_NOTIFY_SUCCESS 0x2u
#define DSN_NOTIFY_FAILURE 0x4u
#define DSN_NOTIFY_DELAY 0x8u

#include <stdbool.h>
#include <stddef.h>

/* Parse a NOTIFY value s[0..len): NEVER alone, or a comma list of
 * SUCCESS, FAILURE and DELAY, each once; case-insensitive when icase (the
 * SMTP parameter), exact upper case otherwise (a stored value). Returns
 * 0 with *bits_r, or -1 with *combined_r (may be NULL) true when the
 * fault is NEVER with another value. */
int dsn_notify_parse(const char *s, size_t len, bool icase, unsigned *bits_r,
		     bool *combined_r);

/* Format bits as a NOTIFY value ("SUCCESS,FAILURE,DELAY" in that order,
 * or "NEVER") into buf (size bytes; 32 always suffice). Returns buf; ""
 * for 0. */
const char *dsn_notify_format(unsigned bits, char *buf, size_t size);

#endif
