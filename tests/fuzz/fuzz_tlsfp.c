/* tests/fuzz/fuzz_tlsfp.c: tls_fp_parse on arbitrary text; what it accepts
 * formats and parses back to the same fingerprint. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "common/net/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char fp[TLS_FP_LEN], again[TLS_FP_LEN];
	char text[TLS_FP_STRLEN];
	char *s = fuzz_cstr(data, size);

	FUZZ_CHECK(s != NULL);
	if (tls_fp_parse(s, fp) == 0) {
		tls_fp_format(fp, text, sizeof(text));
		FUZZ_CHECK(strncmp(text, "sha256:", 7) == 0);
		FUZZ_CHECK(tls_fp_parse(text, again) == 0);
		FUZZ_CHECK(memcmp(fp, again, sizeof(fp)) == 0);
	}
	free(s);
	return 0;
}
