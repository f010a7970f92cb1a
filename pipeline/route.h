/* pipeline/route.h: where a recipient goes — the one routing function of
 * every entry point — and the one rule that keeps kantorpos from being an
 * open relay:
 * mail is accepted only for local mailboxes, for the domains held for ETRN
 * (any local part: their users are not known here; the message goes into
 * the outbound queue), and from authenticated users for other domains
 * (queued for the relayhost when it takes the domain,
 * config_relayhost_takes, else for the domain's MX hosts). Everything
 * else foreign is refused (554 5.7.1 Relay access denied). A local mailbox goes through the aliases and the
 * user database to the Maildirs of local users. Routing syntax in a local part
 * (percent hack, bang path, a quoted "@") never routes anywhere; a source
 * route is ignored and the final mailbox decides (RFC 5321 §3.6.1).
 * Non-blocking: in-memory lookups only. */
#ifndef KANTORPOS_PIPELINE_ROUTE_H
#define KANTORPOS_PIPELINE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mail/address.h"
#include "common/lookup/recipient.h"
#include "pipeline/msg.h"

struct aliases;
struct config;
struct userdb;

struct route_ctx {
	const struct config *cfg;
	struct userdb *db;
	const struct aliases *al; /* may be NULL */
	bool authenticated;
};

struct route_decision {
	int code;          /* 250, or the refusal: 550, 554, 451 */
	const char *enh;   /* "2.1.5", "5.1.1", "5.7.1", "4.3.0" */
	const char *text;  /* static reply text */
	const char *why;   /* 451 of the resolver: its reason, or NULL */
	enum pipe_route route; /* PIPE_ROUTE_NONE when refused */
	struct rcpt_target *targets; /* PIPE_ROUTE_LOCAL: heap array, caller
				      * frees; the queue routes have none (the
				      * recipient is the parsed mailbox) */
	size_t n_targets;
};

/* Decide on one recipient path (as parsed by addr_parse_path with
 * ADDR_OPT_POSTMASTER). Returns 1 accepted (route set, code 250; targets
 * for a local route), 0 refused (reply set, no targets). postmaster@<local domain> and the bare
 * <postmaster> are always accepted (RFC 5321 §4.5.1): when no user or
 * alias takes them they go to the Maildir DATA/mail/<domain>/postmaster. */
int route_check(const struct route_ctx *ctx, const struct addr_path *path,
		struct route_decision *d_r);

#endif
