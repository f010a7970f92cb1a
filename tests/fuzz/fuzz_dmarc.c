/* tests/fuzz/fuzz_dmarc.c: dmarc_record_parse (common/auth/dmarc_record)
 * on any TXT data a _dmarc lookup brings. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include "common/auth/dmarc_record.h"

static void check_span(const struct dmarc_span *s, size_t size)
{
	FUZZ_CHECK(s->off <= size && s->len <= size - s->off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *txt = (const char *)data, *why = NULL;
	struct dmarc_record r;
	enum dmarc_parse st = dmarc_record_parse(txt, size, &r, &why);

	FUZZ_CHECK(why != NULL);
	FUZZ_CHECK((st == DMARC_REC_NOT_DMARC) ==
		   !dmarc_record_is_dmarc(txt, size));
	if (st != DMARC_REC_OK)
		return 0;
	FUZZ_CHECK(r.p <= DMARC_POLICY_REJECT && r.sp <= DMARC_POLICY_REJECT);
	FUZZ_CHECK(r.pct <= 100);
	FUZZ_CHECK(r.fo != 0 && r.fo <= 0xf);
	FUZZ_CHECK(r.ri <= 4294967295ul);
	FUZZ_CHECK(!r.p_assumed || (r.p == DMARC_POLICY_NONE && r.rua.len > 0));
	check_span(&r.rua, size);
	check_span(&r.ruf, size);
	return 0;
}
