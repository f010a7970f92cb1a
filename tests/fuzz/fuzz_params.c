/* tests/fuzz/fuzz_params.c: the ESMTP parameters of MAIL FROM and RCPT TO
 * (params_parse_mail, params_parse_rcpt: SIZE, BODY, SMTPUTF8, AUTH and
 * DSN's RET, ENVID, NOTIFY, ORCPT) and RFC 3461 xtext (xtext_decode,
 * xtext_decode_printable). The first byte picks the function, the SIZE
 * limit and the xtext output size. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <stdbool.h>
#include <string.h>

#include "common/mail/xtext.h"
#include "smtpd/params.h"

static void check_error(const struct params_error *e)
{
	FUZZ_CHECK(e->code == 501 || e->code == 552 || e->code == 555);
	FUZZ_CHECK(e->enh != NULL && e->why != NULL && *e->why != '\0');
}

static size_t count_plus(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '+';
	return n;
}

static void fuzz_rcpt(const char *s, size_t len)
{
	struct params_rcpt p;
	struct params_error e = { 0, NULL, NULL };
	const char *semi;

	if (params_parse_rcpt(s, len, &p, &e) == 0) {
		FUZZ_CHECK(e.code == 0);
		/* NEVER stands alone (RFC 3461 §4.1). */
		FUZZ_CHECK(!(p.notify & DSN_NOTIFY_NEVER) ||
			   p.notify == DSN_NOTIFY_NEVER);
		FUZZ_CHECK(p.notify <= 0xfu);
		FUZZ_CHECK(strlen(p.orcpt) <= DSN_ORCPT_MAX);
		semi = strchr(p.orcpt, ';');
		FUZZ_CHECK(p.orcpt[0] == '\0' || (semi != NULL && semi > p.orcpt));
		if (semi != NULL)
			FUZZ_CHECK(xtext_decode_printable(
					   semi + 1, strlen(semi + 1),
					   (char[DSN_ORCPT_MAX + 1]){ 0 },
					   DSN_ORCPT_MAX + 1) > 0);
	} else {
		check_error(&e);
	}
	FUZZ_CHECK(params_parse_rcpt(s, len, NULL, NULL) ==
		   (e.code == 0 ? 0 : -1));
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
		FUZZ_CHECK(p.ret <= DSN_RET_HDRS);
		/* ENVID is kept as sent: xtext, printable once decoded. */
		FUZZ_CHECK(strlen(p.envid) <= DSN_ENVID_MAX);
		FUZZ_CHECK(xtext_decode_printable(p.envid, strlen(p.envid),
						  (char[DSN_ENVID_MAX + 1]){ 0 },
						  DSN_ENVID_MAX + 1) ==
			   (int)(strlen(p.envid) - 2 * count_plus(p.envid)));
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
	n = xtext_decode(s, len, out, size);
	if (n >= 0) {
		FUZZ_CHECK((size_t)n < size && (size_t)n <= len);
		FUZZ_CHECK(out[n] == '\0');
		/* Every "+" starts a "+XX": three input octets for one. */
		FUZZ_CHECK(len == (size_t)n + 2 * plus);
	}
	/* The printable variant: the same, for what decodes to printable
	 * ASCII only. */
	bool printable = n >= 0;

	for (int i = 0; printable && i < n; i++)
		printable = (unsigned char)out[i] >= 0x20 &&
			    (unsigned char)out[i] <= 0x7e;
	FUZZ_CHECK((xtext_decode_printable(s, len, out, size) >= 0) ==
		   printable);
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
	case 1:
		fuzz_rcpt(s, len);
		break;
	default:
		/* Output sizes from 0 (always refused) to the AUTH= buffer. */
		fuzz_xtext(s, len, (sel / 3) % 8 == 7 ? PARAMS_AUTH_MAX + 1
						      : (sel / 3) % 8 * 3);
		break;
	}
	return 0;
}
