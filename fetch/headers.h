/* fetch/headers.h: what the fetcher reads in the header block of a fetched
 * message: the DomainPOP recipients (from an ordered list of headers), the
 * Message-ID, the loop-guard header and the Delivered-To addresses.
 *
 * Pure code: no I/O and no globals; it allocates only what the result
 * owns. Safe on hostile input (it will be fuzzed).
 *
 * Recipient rule (documented in kantorpos.conf(5)): the configured headers
 * are tried in order. Address headers (To, Cc, Bcc, Resent-To, Resent-Cc,
 * Resent-Bcc) that stand next to each other in the list form one group;
 * every other header (Delivered-To, X-Original-To, Envelope-To, Received,
 * ...) stands alone. The first header or group naming at least one address
 * in the domain gives all the recipients it names; the rest is not read.
 * Received counts only its "for <address>" clause, and the first
 * skip_received Received headers of the message are ignored. Addresses
 * come from angle brackets or bare addr-specs; display names, comments
 * and encoded words never give an address. */
#ifndef KANTORPOS_FETCH_HEADERS_H
#define KANTORPOS_FETCH_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mail/address.h"

/* The mark earlier versions put on every fetched message
 * ("X-Kantorpos-Fetched: NAME"); still recognised by the loop guard, beside
 * the Received field of fetch/trace.h that replaced it. */
#define FH_FETCHED_HEADER "X-Kantorpos-Fetched"
/* At most this many recipients and Delivered-To addresses are kept. */
#define FH_MAX_ADDRS 1000
/* Longest Message-ID kept (longer ones count as absent). */
#define FH_MSGID_MAX 250

struct fh_options {
	const char *domain;  /* DomainPOP: the local domain; NULL: no recipients */
	const char *const *headers; /* recipient headers, in order */
	size_t n_headers;
	unsigned skip_received;
	const char *account; /* the loop guard looks for this account name */
	const char *hostname; /* ... in Received fields written by this host */
};

struct fh_result {
	/* DomainPOP recipients: mailbox keys ("local@domain", lower case),
	 * each once, in the order found. */
	char (*rcpts)[ADDR_KEY_SIZE];
	size_t n_rcpts;
	const char *rcpt_header; /* header that gave them (in opts), or NULL */
	/* Every Delivered-To address as a key, in header order, any domain. */
	char (*delivered_to)[ADDR_KEY_SIZE];
	size_t n_delivered_to;
	/* The first Message-ID ("<...>" as written), or NULL. */
	char *message_id;
	/* A Received field of ours (fetch/trace.h) or an X-Kantorpos-Fetched
	 * field names opts->account. */
	bool fetched_mark;
};

/* Parse the header block at the start of text[0..len) (up to the first
 * empty line; all of it when there is none). Lines may end in CRLF or LF.
 * Returns 0 with r filled (free with fh_result_free), or -1 when out of
 * memory (r is then empty). */
int fh_parse(const char *text, size_t len, const struct fh_options *opts,
	     struct fh_result *r);

/* Length of the header block at the start of text[0..len), its empty
 * line included (CRLF or LF line ends), or 0 when no empty line is in
 * text yet. A message starting with an empty line has a header block of
 * that line alone. */
size_t fh_header_end(const char *text, size_t len);

/* Free what r owns and empty it. */
void fh_result_free(struct fh_result *r);

/* Loop guard. A fetched message is a loop when it carries the fetched mark
 * for this account (a Received field this host wrote for it, or the
 * X-Kantorpos-Fetched field of earlier versions), or (MultiPOP, multipop_key not NULL) a Delivered-To
 * equal to the local mailbox it would go to, or (DomainPOP, multipop_key
 * NULL) a Delivered-To naming the same address twice: the message went
 * through that mailbox before. Returns a static reason, or NULL. */
const char *fh_loop_reason(const struct fh_result *r,
			   const char *multipop_key);

/* Extract the mailbox keys of an RFC 5322 address list (one unfolded
 * header value) into keys (room for max), skipping duplicates already in
 * keys[0..*n) and addresses outside domain (NULL: keep every domain).
 * Exposed for tests. Returns the number added. */
size_t fh_address_list(const char *value, size_t len, const char *domain,
		       char (*keys)[ADDR_KEY_SIZE], size_t *n, size_t max);

#endif
