/* tests/helpers/spfzone.h: a small DNS zone in text for the SPF tests
 * (tests/test_spf_eval.c, tests/spftool.c), answering check_host()'s
 * questions the way common/dns would.
 *
 * One record a line, fields separated by spaces; a field may be a
 * "quoted string" with \" \\ and \DDD (decimal octet) escapes, as in
 * zone files (RFC 1035 §5.1); "#" starts a comment line:
 *
 *   NAME A 192.0.2.1              NAME AAAA 2001:db8::1
 *   NAME MX 10 mail.example.com   NAME MX 0 ""     (the null MX)
 *   NAME PTR host.example.com     NAME CNAME other.example.com
 *   NAME TXT "v=spf1 " "-all"     (strings joined; none: an empty one)
 *   NAME TIMEOUT                  a question of a type with no record
 *                                 listed before this line times out
 *   NAME TIMEOUT TYPE             questions of TYPE time out
 *
 * Answers: names without case and without a final dot; PTR questions
 * name an address literal (looked up under in-addr.arpa or ip6.arpa);
 * CNAMEs are followed, a chain longer than DNS_CNAME_MAX or a loop is
 * DNS_TEMPFAIL; a name with no line is NXDOMAIN, one without records of
 * the type NODATA; a TXT record holding a NUL octet is dropped and the
 * answer marked capped (as dns_parse does); MX sorted by preference. */
#ifndef KANTORPOS_TESTS_SPFZONE_H
#define KANTORPOS_TESTS_SPFZONE_H

#include <stddef.h>

#include "common/dns/dns_types.h"

struct spfzone;

/* Split line into fields (quoted strings decoded, their length in
 * len[i] since they may hold NUL): the number of fields (at most max),
 * or -1 for an unterminated string or a bad escape. The fields point
 * into buf (at least strlen(line) + 1 octets). */
int spfzone_fields(const char *line, char *buf, char **field, size_t *len,
		   size_t max);

struct spfzone *spfzone_new(void);

/* Add one record line (comments and blank lines are ignored). Returns 0,
 * or -1 with a static reason in *why_r. */
int spfzone_add(struct spfzone *z, const char *line, const char **why_r);

/* Answer (name, type) into *a (release it with dns_answer_free). */
void spfzone_answer(const struct spfzone *z, const char *name,
		    enum dns_type type, struct dns_answer *a);

void spfzone_free(struct spfzone *z);

#endif
