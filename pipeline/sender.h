/* pipeline/sender.h: the sender rules of kantorpos-smtpd, as pure decisions.
 *
 * An authenticated user sends only as addresses it owns (RFC 6409 §6.1;
 * Postfix's reject_sender_login_mismatch), in MAIL FROM and in every
 * address of the From: header field. An address is owned when mail to it
 * reaches that user and nobody else: the login itself, a subaddress of it
 * (user+tag, recipient_delimiter), or an alias whose only final target is
 * the user. The null sender is for bounces: refused from users.
 *
 * A client that did not authenticate may not use a sender in a local
 * domain (local_sender_policy reject), unless it is in trusted_networks
 * (config_client_trusted); the null sender stays allowed.
 *
 * A local user's mail (kantorpos-sendmail) has the account's own address
 * as its sender; only root, the daemons' account and the trusted users
 * may set another (sender_local_allowed).
 *
 * Pure: no I/O, no allocation, no globals; in-memory lookups only. */
#ifndef KANTORPOS_PIPELINE_SENDER_H
#define KANTORPOS_PIPELINE_SENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mail/address.h"

struct aliases;
struct config;

struct sender_ctx {
	const struct config *cfg;
	const struct aliases *al; /* NULL: no aliases file */
	const char *login;        /* authenticated mailbox key; NULL: none */
	const char *peer;         /* numeric client address */
};

enum sender_verdict {
	SENDER_OK = 0,
	SENDER_NOT_OWNED,    /* authenticated, not the user's: 553 5.7.1 */
	SENDER_NULL_AUTH,    /* authenticated, <>: 553 5.7.1 */
	SENDER_LOCAL_UNAUTH, /* unauthenticated, a local domain: 550 5.7.1 */
};

/* Does the user logged in as login (a mailbox key, lower case) own mb?
 * Mirrors delivery (common/lookup/recipient.h): when mb's key, or failing that
 * the key without its subaddress (delims: recipient_delimiter), is an
 * alias of al (may be NULL), owned iff login is its only final target;
 * otherwise owned iff that key is login. Keys compare ASCII letters of
 * both halves case-insensitively (addr_key). */
bool sender_owned_by(const char *login, const struct addr_mailbox *mb,
		     const struct aliases *al, const char *delims);

/* The MAIL FROM rules for path (as addr_parse_path gave it). */
enum sender_verdict sender_check_mail(const struct sender_ctx *c,
				      const struct addr_path *path);

/* Does c->login own every mailbox of value[0..len), the unfolded body of
 * the From: field (several fields joined by ",") as an RFC 5322 §3.4
 * address-list (display names, comments, groups, quoted strings; of
 * the obsolete forms only a "." in a display name)? False as well when it
 * names no mailbox or is not an address list: the check fails closed. */
bool sender_from_owned(const struct sender_ctx *c, const char *value,
		       size_t len);

/* May the local account name (uid) hand over mail with the envelope
 * sender `sender` (a mailbox "local@domain", or "" for <>)? Yes for uid
 * 0, for daemon_uid (the account the daemons run as), for the names
 * config_sendmail_trusted accepts, and, from anyone, for the account's
 * own address name@sendmail_domain (the name as it is, the domain in any
 * case). */
bool sender_local_allowed(const struct config *cfg, const char *name,
			  unsigned long uid, unsigned long daemon_uid,
			  const char *sender);

#endif
