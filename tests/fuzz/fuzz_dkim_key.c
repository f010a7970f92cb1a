/* tests/fuzz/fuzz_dkim_key.c: dkim_key_parse (common/auth/dkim_key) on
 * any key record, the TXT data a DNS answer brings. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include "common/auth/dkim_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dkim_key key;
	const char *why = NULL;

	if (dkim_key_parse((const char *)data, size, &key, &why) < 0) {
		FUZZ_CHECK(why != NULL);
		return 0;
	}
	FUZZ_CHECK(key.p_len <= sizeof(key.p));
	FUZZ_CHECK(key.revoked == (key.p_len == 0));
	return 0;
}
