/* tests/fuzz/fuzz_dns_parse.c: dns_parse (common/dns/dns_parse) on any
 * message; the first byte picks the record type asked for (MX, A, AAAA,
 * TXT, TLSA, PTR, SRV), the rest is the answer message. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "common/dns/dns_parse.h"

static void check_records(const struct dns_answer *a)
{
	for (size_t i = 0; i < a->n; i++) {
		switch (a->type) {
		case DNS_T_MX:
			FUZZ_CHECK(strlen(a->mx[i].host) <= DNS_NAME_MAX);
			FUZZ_CHECK(i == 0 || a->mx[i - 1].pref <= a->mx[i].pref);
			break;
		case DNS_T_A:
			FUZZ_CHECK(a->addr[i].family == AF_INET);
			break;
		case DNS_T_AAAA:
			FUZZ_CHECK(a->addr[i].family == AF_INET6);
			break;
		case DNS_T_TXT:
			FUZZ_CHECK(strlen(a->txt[i]) <= DNS_TXT_MAX);
			break;
		case DNS_T_TLSA:
			FUZZ_CHECK(a->tlsa[i].data != NULL);
			FUZZ_CHECK(a->tlsa[i].len < 65536);
			break;
		case DNS_T_PTR:
			FUZZ_CHECK(strlen(a->ptr[i]) <= DNS_NAME_MAX);
			break;
		case DNS_T_SRV:
			FUZZ_CHECK(strlen(a->srv[i].target) <= DNS_NAME_MAX);
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dns_type types[] = {
		DNS_T_MX, DNS_T_A, DNS_T_AAAA, DNS_T_TXT, DNS_T_TLSA, DNS_T_PTR,
		DNS_T_SRV,
	};
	enum { N_TYPES = sizeof(types) / sizeof(types[0]) };
	struct dns_answer a;

	if (size < 1)
		return 0;
	dns_parse(data + 1, size - 1, types[data[0] % N_TYPES], &a);
	FUZZ_CHECK(a.type == types[data[0] % N_TYPES]);
	FUZZ_CHECK(a.security == DNS_INSECURE);
	FUZZ_CHECK(a.n <= DNS_MAX_RECORDS);
	FUZZ_CHECK(memchr(a.qname, '\0', sizeof(a.qname)) != NULL);
	FUZZ_CHECK(memchr(a.canon, '\0', sizeof(a.canon)) != NULL);
	switch (a.status) {
	case DNS_OK:
		FUZZ_CHECK(a.n > 0 && a.why == NULL);
		break;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		FUZZ_CHECK(a.n == 0 && a.why == NULL);
		break;
	case DNS_TEMPFAIL:
		FUZZ_CHECK(a.n == 0 && a.why != NULL);
		break;
	case DNS_BOGUS:
		FUZZ_CHECK(!"the parser never says BOGUS");
		break;
	}
	check_records(&a);
	dns_answer_free(&a);
	FUZZ_CHECK(a.n == 0);
	return 0;
}
