/* tests/fuzz/fuzz_spf.c: SPF (common/auth) on any record text: the
 * record parser and its terms (spf_record_parse, spf_record_next), the
 * macro checks and expansion of every domain-spec and of the whole input
 * in each context (a checked string always expands, within the buffer),
 * then a whole check_host() whose every TXT answer is the input. */
#include "autoconf.h"

#include <string.h>
#include <sys/socket.h>

#include "tests/fuzz/fuzz.h"

#include "common/auth/spf_eval.h"
#include "common/auth/spf_macro.h"
#include "common/auth/spf_record.h"

static const struct spf_macro_vars vars = {
	.s = "user+tag@example.com", .l = "user+tag", .o = "example.com",
	.d = "sub.example.com", .i = "192.0.2.1", .p = NULL, .v = "in-addr",
	.h = "mail.example.net", .c = "192.0.2.1", .r = NULL, .t = "1700000000",
};

static void expand_ok(const char *s, size_t len, enum spf_macro_ctx ctx)
{
	char out[600];
	const char *why = NULL;
	int n = spf_macro_expand(s, len, ctx, &vars, out, sizeof(out), &why);

	FUZZ_CHECK(n >= 0);
	FUZZ_CHECK((size_t)n < sizeof(out) && strlen(out) == (size_t)n);
}

static void macros(const char *s, size_t len)
{
	static const enum spf_macro_ctx ctxs[] = {
		SPF_MACRO_DOMAIN, SPF_MACRO_MODIFIER, SPF_MACRO_EXP,
	};
	const char *why = NULL;

	for (size_t i = 0; i < 3; i++) {
		why = NULL;
		if (spf_macro_check(s, len, ctxs[i], &why) == 0)
			expand_ok(s, len, ctxs[i]);
		else
			FUZZ_CHECK(why != NULL);
	}
	if (spf_domain_spec_check(s, len, &why) == 0)
		expand_ok(s, len, SPF_MACRO_DOMAIN);
}

static void record(const char *s, size_t len)
{
	struct spf_record r;
	struct spf_span at;
	struct spf_term t;
	const char *why = NULL;
	size_t pos = 0;

	if (!spf_record_is_spf(s, len))
		return;
	if (spf_record_parse(s, len, &r, &why, &at) < 0) {
		FUZZ_CHECK(why != NULL);
		FUZZ_CHECK(at.p >= s && at.p + at.len <= s + len);
		return;
	}
	while (spf_record_next(&r, &pos, &t) == 1) {
		FUZZ_CHECK(t.text.p >= s && t.text.p + t.text.len <= s + len);
		FUZZ_CHECK(pos <= len);
		if (t.spec.len > 0)
			expand_ok(t.spec.p, t.spec.len, SPF_MACRO_DOMAIN);
		FUZZ_CHECK(t.cidr4 <= 32 && t.cidr6 <= 128);
	}
}

/* check_host() where every TXT answer is txt and every name exists. */
static void evaluate(char *txt)
{
	struct spf_input in = { "192.0.2.1", "user@example.com",
				"mail.example.net", NULL, 0 };
	struct spf *s = spf_new(&in);
	struct dns_mx mx = { 10, "mx.example.com" };
	struct dns_addr addr = { AF_INET, { 192, 0, 2, 1 } };
	char *ptr = "mail.example.com", *txts[1] = { txt };
	struct spf_query q;
	unsigned asked = 0;

	FUZZ_CHECK(s != NULL);
	while (spf_step(s, &q) == 0) {
		struct dns_answer a = { .status = DNS_OK, .type = q.type, .n = 1 };

		FUZZ_CHECK(++asked < 1000);
		a.txt = txts;
		a.mx = &mx;
		a.addr = &addr;
		a.ptr = &ptr;
		if (q.type == DNS_T_AAAA)
			a.status = DNS_NODATA;
		spf_answer(s, &a);
	}
	FUZZ_CHECK(spf_result_str(spf_result(s))[0] != '?');
	FUZZ_CHECK(strlen(spf_mechanism(s)) < 512);
	spf_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);

	if (s == NULL)
		return 0;
	macros(s, size);
	record(s, size);
	if (memchr(data, '\0', size) == NULL)
		evaluate(s);
	free(s);
	return 0;
}
