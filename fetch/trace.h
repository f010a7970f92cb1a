/* fetch/trace.h: the trace field kantorpos fetch puts at the very top of
 * every message it delivers, and its recognition by the loop guard.
 *
 *   Received: from POPHOST ([ADDRESS])
 *           by HOSTNAME with POP3 (account NAME)
 *           id ID; DATE
 *
 * The RFC 5321 section 4.4 Time-stamp-line grammar: From-domain is the
 * configured server (an IP literal in brackets, then without TCP-info),
 * TCP-info the address connected to; "POP3" is not a registered WITH
 * keyword but an Atom, as the grammar's Attdl-Protocol allows (fetchmail
 * writes the same); the account name is a comment; ID is the message's
 * uid (or fallback key) made an Atom: atext octets as they are, every
 * other one as "=" and two hex digits ('=' itself included); no ID when
 * the message has neither. Pure code. */
#ifndef KANTORPOS_FETCH_TRACE_H
#define KANTORPOS_FETCH_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Room that any field fits (ids are at most 70 octets, names 253). */
#define FTRACE_MAX 1024

struct ftrace_info {
	const char *pop_host; /* as configured: name, IPv4 or IPv6 literal */
	const char *peer;     /* numeric address connected to, or NULL */
	const char *hostname; /* ours */
	const char *account;
	const char *id;       /* uid or fallback key, or NULL */
	time_t when;
};

/* Format the field, CRLF line ends, into buf (size bytes, NUL-terminated).
 * Returns its length, or 0 when it does not fit. */
size_t ftrace_received(const struct ftrace_info *t, char *buf, size_t size);

/* True when the unfolded value of a Received field (v[0..len)) is one
 * this host wrote for this account ("by HOSTNAME with POP3 (account
 * NAME)", blanks and case as they come). */
bool ftrace_is_ours(const char *v, size_t len, const char *hostname,
		    const char *account);

#endif
