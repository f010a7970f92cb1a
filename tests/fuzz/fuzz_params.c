/* tests/fuzz/fuzz_params.c: the ESMTP parameters of MAIL FROM and RCPT TO
 * (params_parse_mail, params_parse_rcpt) and RFC 3461 xtext
 * (params_xtext_decode). The first byte picks the function, the SIZE
 * limit and the xtext output size. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "smtpd/params.h"

static void check_error(const struct params_error *e)
{
	FUZZ_CHECK(e->code == 501 || e->code == 552 || e->code == 555);
	FUZZ_CHECK(e->enh != NULL && e->why != NULL && *e->why != '\0');
}

static void fuzz_mail(const char *s, size_t len, uint64_t max)
{
	struct params_mail p;
	struct params_error e = { 0, NULL, NULL };

	if (params_parse_mail(s, len, max, &p, &e) == 0) {
		FUZZ_CHECK(p.body <= PARAMS_BODY_BINARYMIME);
		FUZZ_CHECK(!p.has_size || max == 0 || p.size <= max);
		FUZZ_CHECK(p.has_size || p.size == 0);
		FUZZ_CHECK(strlen(p.auth) <= PARAMS_AUTH_MAX);
		FUZZ_CHECK(p.has_auth || p.auth[0] == '\0');
		FUZZ_CHECK(e.code == 0);
	} else {
		/* 552 also without a limit: 20 digits above 2^64. */
		check_error(&e);
	}
}

static void fuzz_xtext(const char *s, size_t len, size_t size)
{
	char *out = malloc(size > 0 ? size : 1);
	size_t plus = 0;
	int n;

	FUZZ_CHECK(out != NULL);
	for (size_t i = 0; i < len; i++)
		plus += s[i] == '+';
	n = params_xtext_decode(s, len, out, size);
	if (n >= 0) {
		FUZZ_CHECK((size_t)n < size && (size_t)n <= len);
		FUZZ_CHECK(out[n] == '\0');
		/* Every "+" starts a "+XX": three input octets for one. */
		FUZZ_CHECK(len == (size_t)n + 2 * plus);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t maxes[] = { 0, 1, 1000, 10485760, UINT64_MAX };
	const char *s;
	unsigned sel;
	size_t len;

	if (size < 1)
		return 0;
	sel = data[0];
	s = (const char *)data + 1;
	len = size - 1;
	switch (sel % 3) {
	case 0:
		fuzz_mail(s, len, maxes[(sel / 3) % 5]);
		break;
	case 1: {
		struct params_error e = { 0, NULL, NULL };

		if (params_parse_rcpt(s, len, &e) == 0)
			FUZZ_CHECK(e.code == 0);
		else
			check_error(&e);
		FUZZ_CHECK(params_parse_rcpt(s, len, NULL) ==
			   (e.code == 0 ? 0 : -1));
		break;
	}
	default:
		/* Output sizes from 0 (always refused) to the AUTH= buffer. */
		fuzz_xtext(s, len, (sel / 3) % 8 == 7 ? PARAMS_AUTH_MAX + 1
						      : (sel / 3) % 8 * 3);
		break;
	}
	return 0;
}
