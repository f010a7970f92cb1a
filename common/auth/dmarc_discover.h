/* common/auth/dmarc_discover.h: DMARC policy discovery (RFC 7489
 * §6.6.3) as a resumable state machine that does no I/O: it says which
 * TXT name to look up, the caller looks it up (common/dns/dns.h) and
 * hands back the answer's status and records, until it is done.
 *
 *   1. _dmarc.FROM; records not starting with "v=DMARC1" are discarded;
 *   2. none left (or no such name): _dmarc.ORG, the Organizational
 *      Domain of FROM (common/auth/orgdomain.h), when it is another name;
 *   3. exactly one record at the level reached is the policy; none, or
 *      several, is no policy (dmarc=none); a DNS failure at any step is a
 *      temporary error (dmarc=temperror), and so is an answer that failed
 *      DNSSEC validation (its data must not be used).
 *
 * The state is one plain struct, with no allocation: it may be copied
 * and dropped at any time. */
#ifndef KANTORPOS_COMMON_DMARC_DISCOVER_H
#define KANTORPOS_COMMON_DMARC_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/auth/dmarc_record.h"
#include "common/auth/orgdomain.h"
#include "common/dns/dns_types.h"

enum dmarc_found {
	DMARC_FOUND_RECORD,     /* rec is the policy */
	DMARC_FOUND_NONE,       /* no policy record (or several) */
	DMARC_FOUND_TEMPERROR,  /* a lookup failed: ask again later */
	DMARC_FOUND_PERMERROR,  /* the author domain is no domain name */
};

enum dmarc_stage { DMARC_ASK_FROM, DMARC_ASK_ORG, DMARC_DONE };

struct dmarc_discover {
	enum dmarc_stage stage;
	char from[ORGDOMAIN_NAME_MAX + 1];  /* the author domain, normalized */
	char org[ORGDOMAIN_NAME_MAX + 1];   /* its Organizational Domain */
	char qname[ORGDOMAIN_NAME_MAX + 8]; /* the name asked now */
	/* Once done: */
	enum dmarc_found found;
	const char *why;                    /* static, for the log and A-R */
	bool at_org;        /* the record is the Organizational Domain's,
			     * found for a subdomain author: sp= applies */
	char text[DNS_TXT_MAX + 1];         /* the record, which rec reads */
	size_t text_len;
	struct dmarc_record rec;
};

/* Start discovery for the author domain from (the domain of the From:
 * address). od gives its Organizational Domain. A name that is no domain
 * name ends discovery at once with DMARC_FOUND_PERMERROR. */
void dmarc_discover_start(struct dmarc_discover *d,
			  const struct orgdomain *od, const char *from);

/* The name whose TXT records are wanted next, or NULL when done. */
const char *dmarc_discover_query(const struct dmarc_discover *d);

/* The answer to the query: its status and, for DNS_OK, its n TXT records
 * (each record's strings joined), as struct dns_answer carries them.
 * The records are copied as needed; they may go away after the call. */
void dmarc_discover_answer(struct dmarc_discover *d, enum dns_status status,
			   char *const *txt, size_t n);

#endif
