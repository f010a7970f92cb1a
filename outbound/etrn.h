/* outbound/etrn.h: the server side of ETRN (RFC 1985) as pure decisions —
 * parsing the argument ("domain", "@domain", "#queue"), deciding whether
 * the client may ask (address ranges, authenticated user), and wording
 * every reply with its enhanced status code (RFC 2034). The SMTP daemon
 * sends the replies and starts the flush (outbound/runner.h).
 * Pure: no I/O, no globals. */
#ifndef KANTORPOS_OUTBOUND_ETRN_H
#define KANTORPOS_OUTBOUND_ETRN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mail/address.h"

struct config;
struct config_etrn_domain;

/* One reply line: "<code> <enh> <text>". */
struct etrn_reply {
	int code;
	const char *enh;
	char text[ADDR_DOMAIN_MAX + 96];
};

/* An accepted request. */
struct etrn_request {
	char domain[ADDR_DOMAIN_MAX + 1];      /* lower case, without '@' */
	bool subdomains;                       /* "@domain" */
	const struct config_etrn_domain *entry;
};

/* Check "ETRN args" from client (numeric address) with the authenticated
 * user's mailbox key (NULL when not authenticated). Returns 1 with *req_r
 * when the flush may start, or 0 with the refusal in *reply_r:
 * 501 5.5.4 for syntax (no argument, several words, a bad domain, "#queue"
 * names, which are not supported), 459 4.7.1 "Node <d> not allowed: <why>"
 * for a domain held for nobody here or a client without the right. */
int etrn_check(const struct config *cfg, const char *args, const char *client,
	       const char *user, struct etrn_request *req_r,
	       struct etrn_reply *reply_r);

/* The reply once the queue was scanned: count 0 gives 251 ("no messages
 * waiting"), otherwise 253 with the count; busy (a flush of the node is
 * already running) gives 250 "queuing for node <d> started"; failed gives
 * 458 4.3.0 "Unable to queue messages for node <d>". */
void etrn_result(const struct etrn_request *req, bool failed, bool busy,
		 size_t count, struct etrn_reply *reply_r);

#endif
