/* tests/fuzz/fuzz_sasl.c: the SASL decoders of common/proto/sasl: strict base64
 * (decoded input must encode back to itself), client responses, the
 * PLAIN message and LOGIN steps. The first byte picks the function and
 * the output buffer size; the rest is one response line as a client
 * sends it. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "common/proto/sasl.h"

static void check_result(enum sasl_result r)
{
	FUZZ_CHECK(r >= SASL_OK && r <= SASL_TOO_LONG);
	FUZZ_CHECK(sasl_strerror(r) != NULL && *sasl_strerror(r) != '\0');
}

/* Strict base64: what decodes must encode back to the same text. */
static void b64_round_trip(const char *in, size_t len, size_t size)
{
	char *out = malloc(size > 0 ? size : 1), *enc;
	enum sasl_result r;
	size_t n = 12345;

	FUZZ_CHECK(out != NULL);
	r = sasl_b64_decode(in, len, out, size, &n);
	check_result(r);
	FUZZ_CHECK(r == SASL_OK || r == SASL_BAD_BASE64 || r == SASL_TOO_LONG);
	if (r != SASL_OK) {
		FUZZ_CHECK(n == 0);
		free(out);
		return;
	}
	FUZZ_CHECK(n < size && out[n] == '\0');
	FUZZ_CHECK(n <= SASL_DECODED_MAX(len) && len % 4 == 0);
	enc = malloc(SASL_ENCODED_SIZE(n));
	FUZZ_CHECK(enc != NULL);
	FUZZ_CHECK(sasl_b64_encode(out, n, enc, SASL_ENCODED_SIZE(n)) == len);
	FUZZ_CHECK(memcmp(enc, in, len) == 0);
	/* One byte less room than the encoding needs: refused. */
	if (n > 0)
		FUZZ_CHECK(sasl_b64_encode(out, n, enc,
					   SASL_ENCODED_SIZE(n) - 1) == 0 &&
			   enc[0] == '\0');
	free(enc);
	free(out);
}

static void plain(const char *in, size_t len, size_t size)
{
	char *out = malloc(size > 0 ? size : 1);
	struct sasl_plain p;
	enum sasl_result r;
	size_t n;

	FUZZ_CHECK(out != NULL);
	r = sasl_response_decode(in, len, out, size, &n);
	check_result(r);
	if (r == SASL_CANCEL)
		FUZZ_CHECK(len == 1 && in[0] == '*');
	if (r == SASL_OK) {
		FUZZ_CHECK(n < size);
		r = sasl_plain_parse(out, n, &p);
		check_result(r);
		if (r == SASL_OK) {
			FUZZ_CHECK(*p.user != '\0' && p.pass_len > 0);
			FUZZ_CHECK(strlen(p.pass) == p.pass_len);
			FUZZ_CHECK(*p.authzid == '\0' ||
				   strcmp(p.authzid, p.user) == 0);
			FUZZ_CHECK(p.pass + p.pass_len == out + n);
		} else {
			FUZZ_CHECK(r == SASL_MALFORMED || r == SASL_AUTHZID);
		}
	}
	free(out);
}

static void login(const char *in, size_t len, size_t size)
{
	char *out = malloc(size > 0 ? size : 1);
	enum sasl_result r;
	size_t n;

	FUZZ_CHECK(out != NULL);
	r = sasl_login_decode(in, len, out, size, &n);
	check_result(r);
	if (r == SASL_OK)
		FUZZ_CHECK(n > 0 && n < size && strlen(out) == n);
	else
		FUZZ_CHECK(n == 0);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in;
	size_t len, room;

	if (size < 1)
		return 0;
	/* Low nibble: 0 room for any decoding of the input, else 0 to 14
	 * bytes; high nibble: the function. */
	in = (const char *)data + 1;
	len = size - 1;
	room = (data[0] & 15) == 0 ? SASL_DECODED_MAX(len) + 1
				   : (size_t)(data[0] & 15) - 1;
	switch ((data[0] >> 4) % 3) {
	case 0:
		b64_round_trip(in, len, room);
		break;
	case 1:
		plain(in, len, room);
		break;
	default:
		login(in, len, room);
		break;
	}
	return 0;
}
