/* tests/helpers/dnsfmt.h: the records of a DNS answer as one line of text,
 * for the parser's tables (tests/test_dns_parse.c) and the lines the
 * dnsq tool prints for the end-to-end tests. */
#ifndef KANTORPOS_TESTS_DNSFMT_H
#define KANTORPOS_TESTS_DNSFMT_H

#include <stddef.h>

#include "common/dns/dns_types.h"

/* The records of a as dns_record_format (common/dns/dns_types.h) writes
 * them, space-separated, into out (always NUL-terminated); "" for an
 * answer without records. */
void dnsfmt_records(const struct dns_answer *a, char *out, size_t outlen);

#endif
