/* common/lookup/recipient.h: where a recipient address goes — the one resolver used
 * by `kantorpos deliver`, kantorpos-smtpd (RCPT) and the POP3 fetcher.
 *
 * Order: the domain must be a local_domain; then the aliases (rcpt_expand
 * only); then the user database by the mailbox key, then the key without its subaddress ("user+tag"), then the
 * domain's catch-all. The result is the mailbox key of a local user, whose
 * Maildir is DATA/mail/<domain>/<local part of the key>. */
#ifndef KANTORPOS_COMMON_RECIPIENT_H
#define KANTORPOS_COMMON_RECIPIENT_H

#include "common/mail/address.h"

struct aliases;
struct config;
struct userdb;

enum rcpt_status {
	RCPT_LOCAL,   /* delivered to a local user: key is set */
	RCPT_UNKNOWN, /* a local domain, but no such user */
	RCPT_FOREIGN, /* not a local domain */
	RCPT_ERROR,   /* out of memory or an unsafe name: why is set */
};

struct rcpt_target {
	char key[ADDR_KEY_SIZE]; /* "local@domain", lower case */
	char local[ADDR_KEY_SIZE];  /* the two halves of key: the Maildir is */
	char domain[ADDR_KEY_SIZE]; /* DATA/mail/<domain>/<local> (md_path) */
};

/* Resolve a parsed mailbox. Non-blocking (in-memory lookups only). On
 * RCPT_ERROR *why_r (which may be NULL) gets a static reason. */
enum rcpt_status rcpt_resolve(const struct config *cfg, struct userdb *db,
			      const struct addr_mailbox *mb,
			      struct rcpt_target *target_r, const char **why_r);

/* Every local user a mailbox stands for: when its key (or, failing that,
 * the key without its subaddress) is an alias of al, each final target of
 * the alias is resolved by rcpt_resolve; otherwise the mailbox itself is.
 * al may be NULL (no aliases). On RCPT_LOCAL *targets_r is a heap array of
 * *n_r >= 1 targets without duplicates (the caller frees it); on any other
 * status *targets_r is NULL and *n_r 0. An alias target that resolves to no
 * user gives RCPT_ERROR with *why_r "alias target is not a local user".
 * Non-blocking (in-memory lookups). */
enum rcpt_status rcpt_expand(const struct config *cfg, struct userdb *db,
			     const struct aliases *al,
			     const struct addr_mailbox *mb,
			     struct rcpt_target **targets_r, size_t *n_r,
			     const char **why_r);

#endif
