/* outbound/mtasts_policy.h: MTA-STS (RFC 8461) as text, pure: the
 * discovery record at _mta-sts.DOMAIN (§3.1), the policy body fetched from
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt (§3.2), and the match of
 * an MX host name against the policy's patterns (§4.1). No I/O, no
 * globals; every input is untrusted and fuzzed.
 *
 * Decisions where the RFC leaves room:
 * - TXT: records not beginning with "v=STSv1" followed by ';' (optional
 *   spaces before it) are discarded; not exactly one left, or that one
 *   without a valid id (1..32 letters and digits), is "no policy". A
 *   repeated id: the first counts. Unknown fields are ignored but must
 *   have the §3.1 shape (name=value).
 * - Policy: lines end in CRLF or LF (erratum 6253); fields in any order;
 *   a repeated field other than mx: the first counts (§3.2); unknown
 *   keys ignored; version STSv1, mode enforce|testing|none and max_age
 *   (digits, at most 31557600) required, at least one mx unless mode is
 *   none; more than MTASTS_MX_MAX patterns is an error, not a silent cap
 *   (a dropped pattern could refuse a legitimate MX). */
#ifndef KANTORPOS_OUTBOUND_MTASTS_POLICY_H
#define KANTORPOS_OUTBOUND_MTASTS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/dns/dns_types.h"

#define MTASTS_ID_MAX 32
#define MTASTS_MAX_AGE_MAX 31557600UL /* §3.2: one year */
#define MTASTS_BODY_MAX 65536         /* §3.3: suggested 64 KiB */
#define MTASTS_MX_MAX 32

enum mtasts_mode { MTASTS_NONE, MTASTS_TESTING, MTASTS_ENFORCE };

struct mtasts_policy {
	enum mtasts_mode mode;
	unsigned long max_age;
	size_t n_mx;
	char mx[MTASTS_MX_MAX][DNS_NAME_MAX + 1]; /* lower case, no final dot */
};

/* The id of the one MTA-STS record among the TXT records txt[0..n)
 * (each one record's strings already joined) into id_r
 * (MTASTS_ID_MAX + 1 octets). Returns 0, or -1 with a static reason in
 * *why_r ("no MTA-STS record", "several MTA-STS records", "...") when
 * the domain has no policy to fetch. */
int mtasts_txt_parse(const char *const *txt, size_t n, char *id_r,
		     const char **why_r);

/* Parse the policy body (len octets, not NUL-terminated). Returns 0 with
 * *p filled, or -1 with a static reason in *why_r ("missing version",
 * "max_age too large", "bad mode", ...); *p is then unspecified. */
int mtasts_policy_parse(const char *body, size_t len, struct mtasts_policy *p,
			const char **why_r);

/* Whether host (an MX host name, any case, a final dot ignored) matches
 * pattern: equal names, or "*.rest" with host = one label + ".rest"
 * (§4.1: the wildcard stands for exactly one leftmost label). */
bool mtasts_pattern_match(const char *pattern, const char *host);

/* Whether host matches one of p's mx patterns. */
bool mtasts_mx_match(const struct mtasts_policy *p, const char *host);

/* "enforce", "testing" or "none". */
const char *mtasts_mode_name(enum mtasts_mode m);

#endif
