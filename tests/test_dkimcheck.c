/* tests/test_dkimcheck.c: pipeline/dkimcheck.h, a message's DKIM
 * signatures checked as its content streams — the signatures collected
 * from the header section (at most max, a field that does not parse, a
 * header section over the bound, one without a body), the body hashes
 * grouped by body canonicalization and l=, and the results against an
 * Ed25519 key; each message fed whole and in 1-, 2- and 7-octet pieces,
 * the header section's end seen exactly once. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/auth/dkim_sign.h"
#include "pipeline/dkimcheck.h"
#include "tests/helpers/dkimmsg.h"

#define MSG "From: a@example.org\r\nTo: b@example.net\r\n" \
	    "Subject: hello\r\n folded\r\n\r\nbody line\r\n\r\n"

static const size_t sizes[] = { 1, 2, 7, 0 }; /* 0: whole */

static EVP_PKEY *key;
static char *record;

static void setup(void)
{
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	cr_assert_not_null(key);
	record = dkim_sign_record(key);
	cr_assert_not_null(record);
}

static void teardown(void)
{
	EVP_PKEY_free(key);
	free(record);
}

/* msg with a signature of selector sel on top (canonicalization bc for
 * the body), malloc'd. */
static char *signed_by(const char *msg, const char *sel, enum dkim_canon bc)
{
	const char *why = NULL;
	char *field = dkimmsg_sign(msg, strlen(msg), key, "example.org", sel,
				   DKIM_CANON_RELAXED, bc, NULL,
				   (uint64_t)time(NULL), &why);
	char *out;

	cr_assert_not_null(field, "%s", why);
	cr_assert_geq(asprintf(&out, "%s%s", field, msg), 0);
	free(field);
	return out;
}

/* Feed msg in pieces of size (0: whole) and end it; the header end must
 * be announced once. */
static void run(struct dkimcheck *c, const char *msg, size_t size,
		size_t max)
{
	size_t len = strlen(msg), starts = 0;

	dkimcheck_init(c, max);
	for (size_t o = 0; o < len;) {
		size_t n = size == 0 || len - o < size ? len - o : size;

		starts += dkimcheck_feed(c, msg + o, n);
		o += n;
	}
	starts += dkimcheck_end(c);
	cr_assert_eq(starts, 1, "header end seen %zu times", starts);
	for (size_t i = 0; i < c->n; i++)
		dkimcheck_verify(c, i, dkimcheck_wants_key(c, i) ? record : NULL,
				 strlen(record), time(NULL));
}

struct row {
	const char *name;
	char *msg;            /* malloc'd in the test */
	size_t max;
	size_t found, n, bodies;
	enum dkim_result r0, r1;
	const char *why0;     /* reason of the first, NULL: any */
};

static void check_rows(struct row *rows, size_t n_rows)
{
	for (size_t i = 0; i < n_rows; i++)
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			struct row *w = &rows[i];
			struct dkimcheck c;

			run(&c, w->msg, sizes[k], w->max);
			cr_assert_eq(c.found, w->found, "%s/%zu: found %zu",
				     w->name, sizes[k], c.found);
			cr_assert_eq(c.n, w->n, "%s/%zu: n %zu", w->name,
				     sizes[k], c.n);
			cr_assert_eq(c.n_bodies, w->bodies, "%s/%zu: bodies %zu",
				     w->name, sizes[k], c.n_bodies);
			if (c.n > 0)
				cr_assert_eq(c.sigs[0].result, w->r0,
					     "%s/%zu: %s (%s)", w->name, sizes[k],
					     dkim_result_str(c.sigs[0].result),
					     c.sigs[0].reason);
			if (c.n > 0 && w->why0 != NULL)
				cr_assert_str_eq(c.sigs[0].reason, w->why0,
						 "%s", w->name);
			if (c.n > 1)
				cr_assert_eq(c.sigs[1].result, w->r1,
					     "%s/%zu: second %s (%s)", w->name,
					     sizes[k],
					     dkim_result_str(c.sigs[1].result),
					     c.sigs[1].reason);
			dkimcheck_free(&c);
		}
}

/* X-Filler fields of about total octets in all, to pass the bound. */
static char *filler(size_t total)
{
	char *f = malloc(total + 1);
	size_t o = 0;

	cr_assert_not_null(f);
	while (o + 100 <= total) {
		o += (size_t)snprintf(f + o, total + 1 - o, "X-Filler: %87s\r\n",
				      "x");
	}
	f[o] = '\0';
	return f;
}

Test(dkimcheck, table, .init = setup, .fini = teardown)
{
	char *two = signed_by(MSG, "s1", DKIM_CANON_SIMPLE);
	char *same = signed_by(MSG, "s1", DKIM_CANON_RELAXED);
	char *big = filler(DKIMCHECK_HDR_MAX + 2000), *bigmsg, *tampered;
	char *three;

	cr_assert_geq(asprintf(&bigmsg, "%s%s", big, MSG), 0);
	tampered = signed_by(MSG, "s1", DKIM_CANON_RELAXED);
	tampered[strlen(tampered) - 5] = 'X'; /* the body's last line */
	three = signed_by(same, "s3", DKIM_CANON_RELAXED);
	{
		struct row rows[] = {
			{ "unsigned", strdup(MSG), 5, 0, 0, 0, 0, 0, NULL },
			{ "relaxed", signed_by(MSG, "s1", DKIM_CANON_RELAXED),
			  5, 1, 1, 1, DKIM_PASS, 0, "" },
			{ "simple", signed_by(MSG, "s1", DKIM_CANON_SIMPLE),
			  5, 1, 1, 1, DKIM_PASS, 0, "" },
			/* relaxed on top of simple: two body hashes */
			{ "two canons", signed_by(two, "s2", DKIM_CANON_RELAXED),
			  5, 2, 2, 2, DKIM_PASS, DKIM_PASS, NULL },
			/* two relaxed: one body hash */
			{ "shared body", signed_by(same, "s2", DKIM_CANON_RELAXED),
			  5, 2, 2, 1, DKIM_PASS, DKIM_PASS, NULL },
			{ "max 1", strdup(three), 1, 2, 1, 1, DKIM_PASS, 0, NULL },
			{ "max 0", strdup(three), 0, 2, 0, 0, 0, 0, NULL },
			{ "tampered", strdup(tampered), 5, 1, 1, 1, DKIM_FAIL, 0,
			  "body hash did not verify" },
			{ "no body", signed_by("From: a@example.org\r\n"
					       "Subject: x\r\n", "s1",
					       DKIM_CANON_SIMPLE),
			  5, 1, 1, 1, DKIM_PASS, 0, NULL },
			{ "unparsed",
			  strdup("DKIM-Signature: v=1; a=foo\r\n" MSG),
			  5, 1, 1, 0, DKIM_PERMERROR, 0, NULL },
			{ "too long", signed_by(bigmsg, "s1", DKIM_CANON_RELAXED),
			  5, 1, 1, 0, DKIM_PERMERROR, 0, "header too long" },
			{ "too long, unsigned", strdup(bigmsg), 5, 1, 1, 0,
			  DKIM_PERMERROR, 0, "header too long" },
		};
		size_t n = sizeof(rows) / sizeof(rows[0]);

		check_rows(rows, n);
		for (size_t i = 0; i < n; i++)
			free(rows[i].msg);
	}
	free(two);
	free(same);
	free(big);
	free(bigmsg);
	free(tampered);
	free(three);
}

/* Body hashes grouped by canonicalization and l= (the fields need not
 * verify for that). */
#define SIG(c, l) "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/" c \
	"; d=example.org; s=a; h=from" l "; " \
	"bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n"

Test(dkimcheck, grouping, .init = setup, .fini = teardown)
{
	static const struct {
		const char *msg;
		size_t n, bodies;
	} rows[] = {
		{ SIG("relaxed", "") SIG("relaxed", "") MSG, 2, 1 },
		{ SIG("relaxed", "") SIG("simple", "") MSG, 2, 2 },
		{ SIG("relaxed", "; l=5") SIG("relaxed", "") MSG, 2, 2 },
		{ SIG("relaxed", "; l=5") SIG("relaxed", "; l=5") MSG, 2, 1 },
		{ SIG("relaxed", "; l=5") SIG("relaxed", "; l=6")
		  SIG("simple", "; l=5") SIG("relaxed", "") MSG, 4, 4 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			struct dkimcheck c;

			run(&c, rows[i].msg, sizes[k], 5);
			cr_assert_eq(c.n, rows[i].n, "row %zu: n %zu", i, c.n);
			cr_assert_eq(c.n_bodies, rows[i].bodies,
				     "row %zu/%zu: bodies %zu", i, sizes[k],
				     c.n_bodies);
			for (size_t s = 0; s < c.n; s++)
				cr_assert(dkimcheck_wants_key(&c, s) ||
					  c.sigs[s].decided);
			dkimcheck_free(&c);
		}
}

/* The key name, and one that does not fit. */
Test(dkimcheck, key_name, .init = setup, .fini = teardown)
{
	struct dkimcheck c;
	char name[300], tiny[8];

	run(&c, SIG("relaxed", "") MSG, 0, 5);
	cr_assert_eq(dkimcheck_key_name(&c, 0, name, sizeof(name)), 0);
	cr_assert_str_eq(name, "a._domainkey.example.org");
	dkimcheck_free(&c);
	run(&c, SIG("relaxed", "") MSG, 0, 5);
	cr_assert_eq(dkimcheck_key_name(&c, 0, tiny, sizeof(tiny)), -1);
	cr_assert(c.sigs[0].decided);
	cr_assert_eq(c.sigs[0].result, DKIM_PERMERROR);
	dkimcheck_free(&c);
}
