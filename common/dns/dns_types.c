/* common/dns/dns_types.c: the names of statuses and record types, for
 * logs, and what an answer says as a whole (dns_types.h). */
#include "autoconf.h"

#include "common/dns/dns_types.h"

#include <string.h>

const char *dns_status_str(enum dns_status s)
{
	switch (s) {
	case DNS_OK: return "OK";
	case DNS_NODATA: return "NODATA";
	case DNS_NXDOMAIN: return "NXDOMAIN";
	case DNS_TEMPFAIL: return "TEMPFAIL";
	case DNS_BOGUS: return "BOGUS";
	}
	return "?";
}

const char *dns_type_str(enum dns_type t)
{
	switch (t) {
	case DNS_T_A: return "A";
	case DNS_T_PTR: return "PTR";
	case DNS_T_MX: return "MX";
	case DNS_T_TXT: return "TXT";
	case DNS_T_AAAA: return "AAAA";
	case DNS_T_TLSA: return "TLSA";
	case DNS_T_SRV: return "SRV";
	}
	return "?";
}

bool dns_is_null_mx(const struct dns_answer *a)
{
	if (a->status != DNS_OK || a->type != DNS_T_MX || a->n == 0)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->mx[i].host[0] != '\0' && strcmp(a->mx[i].host, ".") != 0)
			return false;
	return true;
}
