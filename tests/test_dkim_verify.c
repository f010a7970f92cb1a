/* tests/test_dkim_verify.c: signing and checking DKIM signatures
 * (common/auth/dkim_sign, dkim_verify, dkim_hdata): the example of RFC
 * 8463 Appendix A (Ed25519 and RSA), round trips with Ed25519 and RSA
 * keys in both canonicalizations, tampering, over-signed From, bottom-up
 * instances, the key record's constraints and RFC 8301's limits. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth/dkim_sign.h"
#include "common/auth/dkim_verify.h"
#include "common/proto/sasl.h"
#include "tests/helpers/dkimmsg.h"

#define RFC_HEADER                                                          \
	"From: Joe SixPack <joe@football.example.com>\r\n"                  \
	"To: Suzie Q <suzie@shopping.example.net>\r\n"                      \
	"Subject: Is dinner ready?\r\n"                                     \
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"                   \
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
#define RFC_BODY "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n"

/* RFC 8463 A.3: the message with its two signatures. */
static const char rfc8463[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
	" date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
	RFC_HEADER "\r\n" RFC_BODY;

#define ED_RECORD "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RSA_RECORD                                                          \
	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR" \
	"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC" \
	"DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3" \
	"Ip3G+2kryOTIKT+l/K4w3QIDAQAB"
#define NOW 1528637909

static enum dkim_result check(const char *msg, size_t n, const char *rec,
			      const char **why)
{
	return dkimmsg_verify(msg, strlen(msg), n, rec, NOW, why, NULL, NULL);
}

Test(dkim_verify, rfc8463_example)
{
	const char *why = NULL;
	char *bad;

	cr_expect_eq(check(rfc8463, 0, ED_RECORD, &why), DKIM_PASS, "%s", why);
	cr_expect_eq(check(rfc8463, 1, RSA_RECORD, &why), DKIM_PASS, "%s", why);
	cr_expect_eq(check(rfc8463, 0, RSA_RECORD, &why), DKIM_PERMERROR);
	cr_expect_str_eq(why, "key type mismatch");
	bad = strdup(rfc8463);
	*strstr(bad, "dinner") = 'D';
	cr_expect_eq(check(bad, 0, ED_RECORD, &why), DKIM_FAIL);
	cr_expect_str_eq(why, "signature did not verify");
	cr_expect_eq(check(bad, 1, RSA_RECORD, &why), DKIM_FAIL);
	*strstr(bad, "Dinner") = 'd';
	*strstr(bad, "Joe.") = 'j';
	cr_expect_eq(check(bad, 0, ED_RECORD, &why), DKIM_FAIL);
	cr_expect_str_eq(why, "body hash did not verify");
	free(bad);
}

static EVP_PKEY *ed_key(void)
{
	static const unsigned char seed[32] = {
		0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
		0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
		0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
	};

	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
}

/* "v=DKIM1; k=...; p=..." for key's public half. */
static char *record_of(EVP_PKEY *key)
{
	unsigned char der[2048], *p = der;
	size_t n = sizeof(der);
	char b64[4096], *rec = malloc(4200);
	bool ed = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;

	if (ed)
		cr_assert_eq(EVP_PKEY_get_raw_public_key(key, der, &n), 1);
	else
		n = (size_t)i2d_PUBKEY(key, &p);
	sasl_b64_encode(der, n, b64, sizeof(b64));
	snprintf(rec, 4200, "v=DKIM1; k=%s; p=%s", ed ? "ed25519" : "rsa", b64);
	return rec;
}

/* field + msg, malloc'd. */
static char *signed_msg(const char *msg, EVP_PKEY *key, enum dkim_canon c,
			const char *const *names)
{
	const char *why = NULL;
	char *f = dkimmsg_sign(msg, strlen(msg), key, "football.example.com",
			       "sel", c, c, names, NOW, &why);
	char *out;

	cr_assert_not_null(f, "%s", why);
	out = malloc(strlen(f) + strlen(msg) + 1);
	strcpy(out, f);
	strcat(out, msg);
	free(f);
	return out;
}

static const char *const messages[] = {
	RFC_HEADER "\r\n" RFC_BODY,
	RFC_HEADER "\r\n",
	RFC_HEADER "\r\n" "line  \t one\r\n\r\n\r\n\r\n",
	"From: a@football.example.com\r\nSubject: a folded\r\n\tsubject   line\r\n"
	"To: b@example.net,\r\n  c@example.net\r\n\r\nno final line end",
};

static void round_trips(EVP_PKEY *key)
{
	char *rec = record_of(key);

	for (size_t m = 0; m < sizeof(messages) / sizeof(messages[0]); m++)
		for (int c = 0; c < 2; c++) {
			char *msg = signed_msg(messages[m], key, (enum dkim_canon)c,
					       NULL);
			const char *why = NULL;

			cr_expect_eq(check(msg, 0, rec, &why), DKIM_PASS,
				     "message %zu canon %d: %s", m, c, why);
			free(msg);
		}
	free(rec);
}

Test(dkim_verify, round_trips)
{
	EVP_PKEY *ed = ed_key(), *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
							  (size_t)2048);

	cr_assert_not_null(ed);
	cr_assert_not_null(rsa);
	round_trips(ed);
	round_trips(rsa);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(rsa);
}

/* The signer folds at 78 columns and never writes l=. */
Test(dkim_verify, signer_field)
{
	EVP_PKEY *ed = ed_key();
	char *msg = signed_msg(RFC_HEADER "\r\n" RFC_BODY, ed,
			       DKIM_CANON_RELAXED, NULL);
	const char *line = msg, *end = strstr(msg, "\r\nFrom:");

	static const char top[] = "DKIM-Signature: v=1; a=ed25519-sha256; "
				  "c=relaxed/relaxed;\r\n d=football.example.com; s=sel;";

	cr_expect_eq(strncmp(msg, top, strlen(top)), 0, "%s", msg);
	cr_expect_null(strstr(msg, " l="));
	cr_expect_not_null(strstr(msg, "h=from:from:reply-to:"));
	while (line < end) {
		const char *eol = strstr(line, "\r\n");

		cr_expect_leq(eol - line, 78, "%.*s", (int)(eol - line), line);
		line = eol + 2;
	}
	free(msg);
	EVP_PKEY_free(ed);
}

Test(dkim_verify, over_signed_from_and_bottom_up)
{
	static const char *const names[] = { "from", "from", "received",
					     "received", NULL };
	EVP_PKEY *ed = ed_key();
	char *rec = record_of(ed), *msg, *more;
	const char *why = NULL;

	msg = signed_msg("Received: one\r\nReceived: two\r\n" RFC_HEADER
			 "\r\n" RFC_BODY, ed, DKIM_CANON_RELAXED, names);
	more = malloc(strlen(msg) + 64);
	strcpy(more, "Received: three\r\n");
	strcat(more, msg);
	cr_expect_eq(check(more, 0, rec, &why), DKIM_PASS, "%s", why);
	strcpy(more, "From: evil@example.net\r\n");
	strcat(more, msg);
	cr_expect_eq(check(more, 0, rec, &why), DKIM_FAIL);
	free(more);
	free(msg);
	free(rec);
	EVP_PKEY_free(ed);
}

/* A signed message with its signature's tags changed after the fact. */
static const struct {
	const char *record, *why;
	enum dkim_result r;
	time_t now;
} policy_rows[] = {
	{ ED_RECORD, "", DKIM_PASS, NOW },
	{ "v=DKIM1; k=ed25519; p=", "key revoked", DKIM_PERMERROR, NOW },
	{ "v=DKIM1; k=ed25519; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
	  "hash not allowed by key", DKIM_PERMERROR, NOW },
	{ "v=DKIM1; k=ed25519; t=s; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
	  "", DKIM_PASS, NOW },
	{ "v=DKIM1; k=ed25519; p=AAAA", "unusable public key", DKIM_PERMERROR,
	  NOW },
	{ NULL, "no key record", DKIM_PERMERROR, NOW },
	{ ED_RECORD, "t= in the future", DKIM_PERMERROR,
	  NOW - DKIM_CLOCK_SKEW - 1 },
	{ ED_RECORD, "bad key record version", DKIM_PERMERROR, NOW },
};

Test(dkim_verify, key_records_and_time)
{
	const char *why = NULL;

	for (size_t i = 0; i < sizeof(policy_rows) / sizeof(policy_rows[0]); i++) {
		const char *rec = policy_rows[i].record;
		enum dkim_result r;

		if (i == sizeof(policy_rows) / sizeof(policy_rows[0]) - 1)
			rec = "k=ed25519; v=DKIM1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
		r = dkimmsg_verify(rfc8463, strlen(rfc8463), 0, rec,
				   policy_rows[i].now, &why, NULL, NULL);
		cr_expect_eq(r, policy_rows[i].r, "row %zu: %s", i, why);
		cr_expect_str_eq(why, policy_rows[i].why, "row %zu", i);
	}
}

/* Replace the first `from` in a copy of the RFC message by `to`. */
static char *edited(const char *from, const char *to)
{
	char *out = malloc(sizeof(rfc8463) + strlen(to));
	const char *at = strstr(rfc8463, from);

	cr_assert_not_null(at);
	memcpy(out, rfc8463, (size_t)(at - rfc8463));
	strcpy(out + (at - rfc8463), to);
	strcat(out, at + strlen(from));
	return out;
}

Test(dkim_verify, signature_tags)
{
	const char *why = NULL;
	char *m;

	m = edited("a=ed25519-sha256", "a=rsa-sha1");
	cr_expect_eq(check(m, 0, ED_RECORD, &why), DKIM_POLICY);
	cr_expect_str_eq(why, "rsa-sha1 not accepted");
	free(m);
	m = edited("t=1528637909;", "t=1528637909; x=1528637910;");
	cr_expect_eq(dkimmsg_verify(m, strlen(m), 0, ED_RECORD, NOW + 5, &why,
				    NULL, NULL), DKIM_FAIL);
	cr_expect_str_eq(why, "signature expired");
	free(m);
	m = edited("i=@football.example.com", "i=@sub.football.example.com");
	cr_expect_eq(check(m, 0, "v=DKIM1; k=ed25519; t=s; "
			   "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", &why),
		     DKIM_PERMERROR);
	cr_expect_str_eq(why, "i= is not d= (strict key)");
	free(m);
	m = edited("Dw==", "Dw==AA");
	cr_expect_eq(check(m, 0, ED_RECORD, &why), DKIM_PERMERROR);
	free(m);
	/* The b= value refolded: its FWS is not part of what is signed. */
	m = edited("b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n",
		   "b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUd\r\n\tt9OdqQehSwhEIug4D11Bus");
	cr_expect_eq(check(m, 0, ED_RECORD, &why), DKIM_PASS, "%s", why);
	free(m);
}

Test(dkim_verify, rsa_key_sizes)
{
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
	EVP_PKEY *k1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	const char *why = NULL;
	char *rec = record_of(k1024), *msg;

	cr_expect_null(dkimmsg_sign(rfc8463, strlen(rfc8463), small, "d", "s",
				    DKIM_CANON_RELAXED, DKIM_CANON_RELAXED,
				    NULL, NOW, &why));
	cr_expect_str_eq(why, "RSA key shorter than 1024 bits");
	msg = signed_msg(RFC_HEADER "\r\n" RFC_BODY, k1024, DKIM_CANON_SIMPLE,
			 NULL);
	cr_expect_eq(check(msg, 0, rec, &why), DKIM_PASS, "%s", why);
	free(msg);
	free(rec);
	EVP_PKEY_free(small);
	EVP_PKEY_free(k1024);
}
