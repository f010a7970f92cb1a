/* common/dns/dns_parse.h: the records of a DNS answer, read from the
 * answer message (RFC 1035 §4.1 wire format) that the resolver got; pure:
 * no I/O, no globals. Every length, offset and compression pointer is
 * checked: a malformed or truncated message is DNS_TEMPFAIL with a
 * reason, never a read outside it. */
#ifndef KANTORPOS_COMMON_DNS_PARSE_H
#define KANTORPOS_COMMON_DNS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/dns/dns_types.h"

/* Longest CNAME chain followed from the question's name (O-MX-08): a
 * longer one, or a loop, is DNS_TEMPFAIL "CNAME chain too long". */
#define DNS_CNAME_MAX 8

/* Fill *a from the answer msg (len octets) to a question for records of
 * type:
 * - status from the header's RCODE (NOERROR: DNS_OK when a record of type
 *   is there, else DNS_NODATA; NXDOMAIN; anything else DNS_TEMPFAIL), and
 *   DNS_TEMPFAIL for a message that is malformed, cut short, has TC set,
 *   or answers another question;
 * - qname from the question, canon after the CNAMEs of the answer section
 *   that chain from it; the records of type owned by canon, at most
 *   DNS_MAX_RECORDS (capped then, and also when a TXT record was dropped:
 *   one longer than DNS_TXT_MAX joined, or holding a NUL octet);
 * - MX sorted by preference, equal ones in message order (the caller
 *   shuffles them), the null MX "." as host "";
 * - SRV in message order (the caller orders them by RFC 2782's rules),
 *   the target "." (no such service, RFC 2782) as "";
 * - ttl: the smallest TTL of the records and CNAMEs used; for NODATA and
 *   NXDOMAIN the negative TTL of the authority's SOA (RFC 2308 §5), else 0.
 * security is DNS_INSECURE (the resolver sets it); why is a static string.
 * Out of memory is DNS_TEMPFAIL too. Release *a with dns_answer_free. */
void dns_parse(const uint8_t *msg, size_t len, enum dns_type type,
	       struct dns_answer *a);

/* Why an answer with RCODE rcode (not NOERROR, not NXDOMAIN) is no answer:
 * "server failure (SERVFAIL)", "query refused (REFUSED)", ... (static). */
const char *dns_rcode_why(unsigned rcode);

/* Free the arrays dns_parse allocated in *a (not *a itself); *a is left
 * with n == 0 and no arrays. */
void dns_answer_free(struct dns_answer *a);

#endif
