/* tests/test_sasl.c: strict base64, client responses, PLAIN and LOGIN. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <string.h>

#include "common/proto/sasl.h"

struct b64_row {
	const char *in;
	enum sasl_result want;
	const char *out; /* decoded bytes (may hold NULs, see out_len) */
	size_t out_len;
};

Test(sasl, base64_decode_table)
{
	static const struct b64_row rows[] = {
		{ "", SASL_OK, "", 0 },
		{ "AGFsaWNlAHNlY3JldA==", SASL_OK, "\0alice\0secret", 13 },
		{ "YQ==", SASL_OK, "a", 1 },
		{ "YWI=", SASL_OK, "ab", 2 },
		{ "YWJj", SASL_OK, "abc", 3 },
		{ "+/+/", SASL_OK, "\xfb\xff\xbf", 3 },
		/* rejected, never skipped (P-SASL-05, S-AUT-04) */
		{ "=AAA", SASL_BAD_BASE64, "", 0 },
		{ "AAA=BBB", SASL_BAD_BASE64, "", 0 },
		{ "AAA=BBBB", SASL_BAD_BASE64, "", 0 },
		{ "%%%%", SASL_BAD_BASE64, "", 0 },
		{ "YW Jj", SASL_BAD_BASE64, "", 0 },
		{ "YWJj ", SASL_BAD_BASE64, "", 0 },
		{ " YWJj", SASL_BAD_BASE64, "", 0 },
		{ "YWJj\r", SASL_BAD_BASE64, "", 0 },
		{ "YQ", SASL_BAD_BASE64, "", 0 },  /* padding required */
		{ "YQ=", SASL_BAD_BASE64, "", 0 },
		{ "YQ===", SASL_BAD_BASE64, "", 0 },
		{ "Y===", SASL_BAD_BASE64, "", 0 },
		{ "YW-j", SASL_BAD_BASE64, "", 0 }, /* URL-safe alphabet */
		{ "YW_j", SASL_BAD_BASE64, "", 0 },
		{ "*", SASL_BAD_BASE64, "", 0 },
	};
	char out[64];
	size_t i, n;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		enum sasl_result r = sasl_b64_decode(rows[i].in,
						     strlen(rows[i].in), out,
						     sizeof out, &n);

		cr_expect_eq(r, rows[i].want, "row %zu \"%s\": %d", i,
			     rows[i].in, r);
		if (r != SASL_OK)
			continue;
		cr_expect_eq(n, rows[i].out_len, "row %zu", i);
		cr_expect_eq(memcmp(out, rows[i].out, n), 0, "row %zu", i);
		cr_expect_eq(out[n], '\0', "row %zu", i);
	}
}

Test(sasl, base64_decode_too_long)
{
	char out[4];
	size_t n;

	cr_assert_eq(sasl_b64_decode("YWJj", 4, out, sizeof out, &n), SASL_OK);
	cr_assert_eq(sasl_b64_decode("YWJjZA==", 8, out, sizeof out, &n),
		     SASL_TOO_LONG);
	cr_assert_eq(sasl_b64_decode("YWJj", 4, out, 3, &n), SASL_TOO_LONG);
}

Test(sasl, base64_encode_round_trip)
{
	static const char *const rows[][2] = {
		{ "Username:", "VXNlcm5hbWU6" },
		{ "Password:", "UGFzc3dvcmQ6" },
		{ "a", "YQ==" },
		{ "ab", "YWI=" },
		{ "abc", "YWJj" },
	};
	char enc[64], dec[64];
	size_t i, n;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		n = sasl_b64_encode(rows[i][0], strlen(rows[i][0]), enc,
				    sizeof enc);
		cr_expect_str_eq(enc, rows[i][1]);
		cr_expect_eq(n, strlen(rows[i][1]));
		cr_expect_eq(sasl_b64_decode(enc, n, dec, sizeof dec, &n),
			     SASL_OK);
		cr_expect_str_eq(dec, rows[i][0]);
	}
	cr_expect_str_eq(SASL_LOGIN_USER_PROMPT, "VXNlcm5hbWU6");
	cr_expect_str_eq(SASL_LOGIN_PASS_PROMPT, "UGFzc3dvcmQ6");
	/* too small: nothing, and an empty string */
	cr_expect_eq(sasl_b64_encode("abc", 3, enc, 4), 0);
	cr_expect_str_eq(enc, "");
	cr_expect_eq(sasl_b64_encode("abc", 3, enc, SASL_ENCODED_SIZE(3)), 4);
}

Test(sasl, responses_cancel_and_empty)
{
	char out[16];
	size_t n = 99;

	cr_assert_eq(sasl_response_decode("*", 1, out, sizeof out, &n),
		     SASL_CANCEL);
	cr_assert_eq(sasl_response_decode("=", 1, out, sizeof out, &n), SASL_OK);
	cr_assert_eq(n, 0);
	cr_assert_eq(sasl_response_decode("", 0, out, sizeof out, &n), SASL_OK);
	cr_assert_eq(n, 0);
	cr_assert_eq(sasl_response_decode("**", 2, out, sizeof out, &n),
		     SASL_BAD_BASE64);
	cr_assert_eq(sasl_response_decode("YWJj", 4, out, sizeof out, &n),
		     SASL_OK);
	cr_assert_str_eq(out, "abc");
}

struct plain_row {
	const char *msg;
	size_t len;
	enum sasl_result want;
	const char *user, *pass;
};

#define ROW(s, want, user, pass) { s, sizeof s - 1, want, user, pass }

Test(sasl, plain_table)
{
	static const struct plain_row rows[] = {
		ROW("\0alice\0secret", SASL_OK, "alice", "secret"),
		ROW("alice\0alice\0secret", SASL_OK, "alice", "secret"),
		ROW("\0alice@example.test\0s p a c e ", SASL_OK,
		    "alice@example.test", "s p a c e "),
		ROW("\0alice\0\xc3\xa9t\xc3\xa9", SASL_OK, "alice",
		    "\xc3\xa9t\xc3\xa9"),
		ROW("bob\0alice\0secret", SASL_AUTHZID, NULL, NULL),
		ROW("Alice\0alice\0secret", SASL_AUTHZID, NULL, NULL),
		ROW("alicex\0alice\0secret", SASL_AUTHZID, NULL, NULL),
		ROW("\0\0secret", SASL_MALFORMED, NULL, NULL),
		ROW("\0alice\0", SASL_MALFORMED, NULL, NULL),
		ROW("\0alice", SASL_MALFORMED, NULL, NULL),
		ROW("alice secret", SASL_MALFORMED, NULL, NULL),
		ROW("", SASL_MALFORMED, NULL, NULL),
		ROW("\0alice\0sec\0ret", SASL_MALFORMED, NULL, NULL),
		ROW("\0alice\0secret\0", SASL_MALFORMED, NULL, NULL),
		ROW("\0\0", SASL_MALFORMED, NULL, NULL),
	};
	char buf[64];
	struct sasl_plain p;
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		enum sasl_result r;

		memcpy(buf, rows[i].msg, rows[i].len);
		r = sasl_plain_parse(buf, rows[i].len, &p);
		cr_expect_eq(r, rows[i].want, "row %zu: %d", i, r);
		if (r != SASL_OK || rows[i].want != SASL_OK)
			continue;
		cr_expect_str_eq(p.user, rows[i].user, "row %zu", i);
		cr_expect_str_eq(p.pass, rows[i].pass, "row %zu", i);
		cr_expect_eq(p.pass_len, strlen(rows[i].pass), "row %zu", i);
	}
}

Test(sasl, plain_fields_of_255_octets)
{
	/* P-SASL-07/08: 255-octet authzid, authcid and password, encoded
	 * and decoded as a daemon would. */
	char msg[3 * 255 + 2], enc[SASL_ENCODED_SIZE(sizeof msg)];
	char dec[SASL_DECODED_MAX(sizeof enc)];
	struct sasl_plain p;
	size_t n;

	memset(msg, 'u', 255);
	msg[255] = '\0';
	memset(msg + 256, 'u', 255);
	msg[511] = '\0';
	memset(msg + 512, 'p', 255);
	n = sasl_b64_encode(msg, sizeof msg, enc, sizeof enc);
	cr_assert_gt(n, 1000);
	cr_assert_eq(sasl_response_decode(enc, n, dec, sizeof dec, &n), SASL_OK);
	cr_assert_eq(n, sizeof msg);
	cr_assert_eq(sasl_plain_parse(dec, n, &p), SASL_OK);
	cr_assert_eq(strlen(p.user), 255);
	cr_assert_eq(p.pass_len, 255);
}

Test(sasl, login_steps)
{
	char out[32];
	size_t n;

	cr_assert_eq(sasl_login_decode("YWxpY2U=", 8, out, sizeof out, &n),
		     SASL_OK);
	cr_assert_str_eq(out, "alice");
	cr_assert_eq(n, 5);
	cr_assert_eq(sasl_login_decode("*", 1, out, sizeof out, &n),
		     SASL_CANCEL);
	cr_assert_eq(sasl_login_decode("=", 1, out, sizeof out, &n),
		     SASL_MALFORMED);
	cr_assert_eq(sasl_login_decode("YQBi", 4, out, sizeof out, &n),
		     SASL_MALFORMED); /* "a\0b" */
	cr_assert_eq(sasl_login_decode("YW!j", 4, out, sizeof out, &n),
		     SASL_BAD_BASE64);
	cr_assert_str_neq(sasl_strerror(SASL_BAD_BASE64), "");
}
