/* tests/fuzz/fuzz_dnsrec.c: dnsrec_compare (admin/dnsrec_cmp.c) on TXT
 * answers from anywhere: the first byte picks the record compared with
 * (SPF, DMARC, TLS-RPT, MTA-STS, DKIM), the rest is up to four TXT
 * records separated by NUL octets. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "admin/dnsrec.h"

#define RECORDS_MAX 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dnsrec_kind kinds[] = {
		DNSREC_SPF, DNSREC_DMARC, DNSREC_TLSRPT, DNSREC_MTASTS, DNSREC_DKIM,
	};
	static struct dnsrec r;
	char *copy, *txt[RECORDS_MAX], got[512];
	struct dns_answer a = { .status = DNS_OK, .type = DNS_T_TXT,
				.txt = txt };
	enum dnsrec_verdict v;

	if (size < 1 || (copy = fuzz_cstr(data + 1, size - 1)) == NULL)
		return 0;
	memset(&r, 0, sizeof(r));
	r.kind = kinds[data[0] % (sizeof(kinds) / sizeof(kinds[0]))];
	r.type = DNS_T_TXT;
	snprintf(r.text, sizeof(r.text), "v=DKIM1; k=ed25519; "
		 "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	for (size_t o = 0; o <= size - 1 && a.n < RECORDS_MAX;
	     o += strlen(copy + o) + 1)
		txt[a.n++] = copy + o;
	v = dnsrec_compare(&r, &a, got, sizeof(got));
	FUZZ_CHECK(v == DNSREC_OK || v == DNSREC_MISSING || v == DNSREC_DIFFERS);
	FUZZ_CHECK(memchr(got, '\0', sizeof(got)) != NULL);
	FUZZ_CHECK(v != DNSREC_DIFFERS || got[0] != '\0');
	FUZZ_CHECK(v == DNSREC_DIFFERS || got[0] == '\0');
	free(copy);
	return 0;
}
