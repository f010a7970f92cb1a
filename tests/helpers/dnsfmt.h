/* tests/helpers/dnsfmt.h: the records of a DNS answer as one line of text,
 * for the parser's tables (tests/test_dns_parse.c) and the lines the
 * dnsq tool prints for the end-to-end tests. */
#ifndef KANTORPOS_TESTS_DNSFMT_H
#define KANTORPOS_TESTS_DNSFMT_H

#include <stddef.h>

#include "common/dns/dns_types.h"

/* The records of a, space-separated, into out (always NUL-terminated):
 * MX "10 a.remote.test." (null MX "0 ."), A and AAAA addresses, TLSA
 * "3 1 1 0a1b..." ("-" for empty data), TXT "\"v=spf1 -all\"" (with '"',
 * '\' and octets outside ' '..'~' escaped as in zone files), PTR names
 * with their final dot, SRV "0 1 587 mail.test." ("0 0 0 ." for the
 * target "."). "" for an answer without records. */
void dnsfmt_records(const struct dns_answer *a, char *out, size_t outlen);

#endif
