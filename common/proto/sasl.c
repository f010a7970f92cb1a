/* common/proto/sasl.c: strict base64 and the PLAIN and LOGIN message formats
 * (RFC 4616, RFC 4954 section 4, RFC 5034 section 4). Pure code. */
#include "autoconf.h"

#include <string.h>

#include <sodium.h>

#include "common/proto/sasl.h"

const char *sasl_strerror(enum sasl_result r)
{
	switch (r) {
	case SASL_OK: return "ok";
	case SASL_CANCEL: return "authentication cancelled";
	case SASL_BAD_BASE64: return "invalid base64 data";
	case SASL_MALFORMED: return "malformed authentication message";
	case SASL_AUTHZID: return "authorization identity not allowed";
	case SASL_TOO_LONG: return "authentication message too long";
	}
	return "unknown error";
}

enum sasl_result sasl_b64_decode(const char *in, size_t len, void *out,
				 size_t size, size_t *len_r)
{
	size_t n = 0, need;

	*len_r = 0;
	if (size == 0)
		return SASL_TOO_LONG;
	if (len == 0) {
		((char *)out)[0] = '\0';
		return SASL_OK;
	}
	/* RFC 4954 and 5034 use padded base64; a length that is not a
	 * multiple of 4 is malformed whatever libsodium would accept. */
	if (len % 4 != 0)
		return SASL_BAD_BASE64;
	/* libsodium maps octets above 0x7f to values of the alphabet, so
	 * check the alphabet here: anything else fails the decode. */
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		      c == '='))
			return SASL_BAD_BASE64;
	}
	need = len / 4 * 3 - (in[len - 1] == '=') - (in[len - 2] == '=');
	if (need > size - 1)
		return SASL_TOO_LONG;
	/* No ignore set and no end pointer: any character outside the
	 * alphabet (spaces included) fails the whole decode. */
	if (sodium_base642bin(out, size - 1, in, len, NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return SASL_BAD_BASE64;
	((char *)out)[n] = '\0';
	*len_r = n;
	return SASL_OK;
}

size_t sasl_b64_encode(const void *in, size_t len, char *out, size_t size)
{
	if (size == 0)
		return 0;
	out[0] = '\0';
	if (len == 0 ||
	    size < sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL))
		return 0;
	sodium_bin2base64(out, size, in, len, sodium_base64_VARIANT_ORIGINAL);
	return strlen(out);
}

enum sasl_result sasl_response_decode(const char *line, size_t len,
				      void *out, size_t size, size_t *len_r)
{
	*len_r = 0;
	if (len == 1 && line[0] == '*')
		return SASL_CANCEL;
	if (len == 1 && line[0] == '=') {
		if (size == 0)
			return SASL_TOO_LONG;
		((char *)out)[0] = '\0';
		return SASL_OK;
	}
	return sasl_b64_decode(line, len, out, size, len_r);
}

enum sasl_result sasl_plain_parse(char *msg, size_t len,
				  struct sasl_plain *p_r)
{
	char *nul1, *nul2;
	size_t zlen, ulen;

	nul1 = memchr(msg, '\0', len);
	if (nul1 == NULL)
		return SASL_MALFORMED;
	nul2 = memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - msg));
	if (nul2 == NULL)
		return SASL_MALFORMED;
	/* A third NUL would mean a password containing NUL or a fourth
	 * field: RFC 4616 section 2 forbids both. */
	if (memchr(nul2 + 1, '\0', len - (size_t)(nul2 + 1 - msg)) != NULL)
		return SASL_MALFORMED;
	zlen = (size_t)(nul1 - msg);
	ulen = (size_t)(nul2 - nul1 - 1);
	if (ulen == 0 || nul2 + 1 == msg + len)
		return SASL_MALFORMED;
	/* Acting as someone else needs proxy rights kantorpos does not
	 * grant; authzid equal to authcid is the same as none. */
	if (zlen > 0 && (zlen != ulen || memcmp(msg, nul1 + 1, ulen) != 0))
		return SASL_AUTHZID;
	msg[len] = '\0';
	p_r->authzid = msg;
	p_r->user = nul1 + 1;
	p_r->pass = nul2 + 1;
	p_r->pass_len = len - (size_t)(nul2 + 1 - msg);
	return SASL_OK;
}

enum sasl_result sasl_login_decode(const char *line, size_t len, char *out,
				   size_t size, size_t *len_r)
{
	enum sasl_result r = sasl_response_decode(line, len, out, size, len_r);

	if (r != SASL_OK)
		return r;
	if (*len_r == 0 || memchr(out, '\0', *len_r) != NULL) {
		*len_r = 0;
		return SASL_MALFORMED;
	}
	return SASL_OK;
}
