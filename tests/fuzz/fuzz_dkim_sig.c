/* tests/fuzz/fuzz_dkim_sig.c: dkim_sig_parse (common/auth/dkim_sig) on
 * any DKIM-Signature value; the tag-list under it (dkim_tags_parse) with
 * its spans; and, when the value reads, the header hash of the input
 * taken as a header section with "DKIM-Signature:" and the value as the
 * signature field (dkim_header_hash). */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "common/auth/dkim_hdata.h"
#include "common/auth/dkim_sig.h"
#include "common/auth/dkim_tags.h"

static void check_tags(const char *s, size_t len)
{
	static struct dkim_taglist t;
	const char *why = NULL;

	if (dkim_tags_parse(s, len, &t, &why) < 0) {
		FUZZ_CHECK(why != NULL);
		return;
	}
	FUZZ_CHECK(t.n > 0 && t.n <= DKIM_TAGS_MAX);
	for (size_t k = 0; k < t.n; k++) {
		const struct dkim_tag *g = &t.tag[k];

		FUZZ_CHECK(g->raw_start <= g->raw_end && g->raw_end <= len);
		FUZZ_CHECK(g->value >= s + g->raw_start);
		FUZZ_CHECK(g->value + g->value_len <= s + g->raw_end);
		FUZZ_CHECK(dkim_tags_get(&t, "") == NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dkim_sig sig;
	const char *s = (const char *)data, *why = NULL;
	unsigned char digest[DKIM_HASH_LEN];
	char *field;

	check_tags(s, size);
	if (dkim_sig_parse(s, size, &sig, &why) < 0) {
		FUZZ_CHECK(why != NULL);
		return 0;
	}
	FUZZ_CHECK(sig.h.n > 0 && sig.b_len > 0 && sig.bh_len > 0);
	FUZZ_CHECK(strlen(sig.d) > 0 && strlen(sig.s) > 0);
	FUZZ_CHECK(!sig.has_t || !sig.has_x || sig.x > sig.t);
	field = malloc(size + 16);
	if (field == NULL)
		return 0;
	memcpy(field, "DKIM-Signature:", 15);
	memcpy(field + 15, data, size);
	FUZZ_CHECK(dkim_header_hash(sig.hcanon, &sig.h, s, size, field,
				    size + 15, digest) == 0);
	free(field);
	return 0;
}
