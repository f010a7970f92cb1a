/* outbound/mtasts_cache.h: the cache rules of one domain's MTA-STS policy
 * (RFC 8461 section 5.1) and its file, pure: the time is a parameter, so
 * tests give any clock (outbound/mtasts.h applies them on the loop).
 * - a policy applies from its fetch until max_age seconds later, whatever
 *   the TXT record says meanwhile (section 10.3); mode none is none;
 * - it is fetched again when there is none, when the TXT id differs from
 *   the cached one, or when less than a day (or a tenth of max_age,
 *   whichever is smaller) is left;
 * - the file is a first line "kantorpos-mta-sts 1 ID FETCHED" and the
 *   policy body as fetched, parsed again when read. */
#ifndef KANTORPOS_OUTBOUND_MTASTS_CACHE_H
#define KANTORPOS_OUTBOUND_MTASTS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "outbound/mtasts_policy.h"

/* The refresh margin's upper bound, in seconds. */
#define MTASTS_REFRESH_MAX 86400

struct mtasts_entry {
	bool have;                   /* a policy is cached */
	struct mtasts_policy pol;
	char id[MTASTS_ID_MAX + 1];
	time_t fetched, expires;
};

/* p (fetched at `fetched`, announced with id) becomes the cached one. */
void mtasts_entry_take(struct mtasts_entry *e, const struct mtasts_policy *p,
		       const char *id, time_t fetched);

/* Whether the cached policy still applies at now. */
bool mtasts_entry_valid(const struct mtasts_entry *e, time_t now);

/* The policy to apply at now; NULL for none (mode none is none). */
const struct mtasts_policy *mtasts_entry_current(const struct mtasts_entry *e,
						 time_t now);

/* Whether a TXT record with id, seen at now, calls for a fetch. */
bool mtasts_entry_wants_fetch(const struct mtasts_entry *e, const char *id,
			      time_t now);

/* The file for e with the policy body (len octets) as fetched: malloc'd,
 * its length in *len_r; NULL when out of memory. */
char *mtasts_entry_format(const struct mtasts_entry *e, const char *body,
			  size_t len, size_t *len_r);

/* Read a file (len octets) into e. Returns 0, or -1 when it is not one
 * (another first line, a policy that does not parse). */
int mtasts_entry_parse(const char *data, size_t len, struct mtasts_entry *e);

#endif
