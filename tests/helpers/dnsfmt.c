/* tests/helpers/dnsfmt.c: a DNS answer's records as text (dnsfmt.h). */
#include "autoconf.h"

#include "tests/helpers/dnsfmt.h"

#include <string.h>

void dnsfmt_records(const struct dns_answer *a, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < a->n && o + 2 < outlen; i++) {
		if (i > 0)
			out[o++] = ' ';
		dns_record_format(a, i, out + o, outlen - o);
		o += strlen(out + o);
	}
}
