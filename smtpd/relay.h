/* smtpd/relay.h: the recipient policy of RCPT TO — who may receive mail
 * here, and the one rule that keeps kantorpos from being an open relay:
 * mail is accepted only for local mailboxes, for the domains held for ETRN
 * (any local part: their users are not known here; the message goes into
 * the outbound queue), and from authenticated users for other domains when
 * a relayhost is configured (queued for it). Everything else foreign is
 * refused (554 5.7.1). Routing syntax in a local part
 * (percent hack, bang path, a quoted "@") never routes anywhere; a source
 * route is ignored and the final mailbox decides (RFC 5321 §3.6.1).
 * Non-blocking: in-memory lookups only. */
#ifndef KANTORPOS_SMTPD_RELAY_H
#define KANTORPOS_SMTPD_RELAY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mail/address.h"
#include "common/lookup/recipient.h"

struct aliases;
struct config;
struct userdb;

struct relay_ctx {
	const struct config *cfg;
	struct userdb *db;
	const struct aliases *al; /* may be NULL */
	bool authenticated;
};

struct relay_decision {
	int code;          /* 250, or the refusal: 550, 554, 451 */
	const char *enh;   /* "2.1.5", "5.1.1", "5.7.1", "4.3.0" */
	const char *text;  /* static reply text */
	struct rcpt_target *targets; /* accepted: heap array, caller frees */
	size_t n_targets;
	/* ETRN */
	bool queue; /* accepted for the outbound queue: no targets; the
		     * recipient is the parsed mailbox itself */
};

/* Decide on one RCPT path (as parsed by addr_parse_path with
 * ADDR_OPT_POSTMASTER). Returns 1 accepted (targets set, code 250), 0
 * refused (reply set, no targets). postmaster@<local domain> and the bare
 * <postmaster> are always accepted (RFC 5321 §4.5.1): when no user or
 * alias takes them they go to the Maildir DATA/mail/<domain>/postmaster. */
int relay_check(const struct relay_ctx *ctx, const struct addr_path *path,
		struct relay_decision *d_r);

#endif
