/* tests/test_dkim_canon.c: DKIM canonicalization (common/auth/dkim_canon)
 * and the body hash (common/auth/dkim_bodyhash): header fields in both
 * canonicalizations, bodies fed whole and in 1-, 2- and 7-byte pieces
 * giving the same canonical bytes, the known hashes of RFC 6376's
 * examples and of an empty body, and l=. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth/dkim_bodyhash.h"
#include "common/auth/dkim_canon.h"
#include "common/proto/sasl.h"

static const struct {
	enum dkim_canon c;
	const char *in, *out;
} header_rows[] = {
	{ DKIM_CANON_RELAXED, "A: X\r\n", "a:X\r\n" },
	{ DKIM_CANON_RELAXED, "B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n" },
	{ DKIM_CANON_SIMPLE, "B : Y\t\r\n\tZ  \r\n", "B : Y\t\r\n\tZ  \r\n" },
	{ DKIM_CANON_RELAXED, "SUBJECT:   a  \t b\r\n", "subject:a b\r\n" },
	{ DKIM_CANON_RELAXED, "X:\r\n", "x:\r\n" },
	{ DKIM_CANON_RELAXED, "X-8: caf\xc3\xa9 \r\n", "x-8:caf\xc3\xa9\r\n" },
	{ DKIM_CANON_RELAXED, "To: a,\r\n  b\r\n", "to:a, b\r\n" },
	{ DKIM_CANON_RELAXED, "Dkim-Signature: b=", "dkim-signature:b=\r\n" },
};

Test(dkim_canon, header_fields)
{
	for (size_t i = 0; i < sizeof(header_rows) / sizeof(header_rows[0]); i++) {
		size_t len = strlen(header_rows[i].in);
		char *out = malloc(len + 3);
		size_t n = dkim_canon_header(header_rows[i].c, header_rows[i].in,
					     len, out);

		out[n] = '\0';
		cr_expect_str_eq(out, header_rows[i].out, "row %zu", i);
		free(out);
	}
}

static const struct {
	const char *in, *simple, *relaxed;
} body_rows[] = {
	{ " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n", " C\r\nD E\r\n" },
	{ "abc", "abc\r\n", "abc\r\n" },
	{ "\r\n\r\n", "\r\n", "" },
	{ "", "\r\n", "" },
	{ " \t \r\n\r\n", " \t \r\n", "" },
	{ "a\r\n\r\nb\r\n\r\n", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n" },
	{ "a  \r\n \r\n\tb", "a  \r\n \r\n\tb\r\n", "a\r\n\r\n b\r\n" },
	{ "a\rb\r\n", "a\rb\r\n", "a\rb\r\n" },
	{ "a\r", "a\r\r\n", "a\r\r\n" },
	{ "x\n\r\n", "x\n\r\n", "x\n\r\n" },
	{ "a \r\n\r\n \r\nb", "a \r\n\r\n \r\nb\r\n", "a\r\n\r\n\r\nb\r\n" },
	{ "end  ", "end  \r\n", "end\r\n" },
};

struct collect {
	char buf[256];
	size_t n;
};

static void collect(void *arg, const char *p, size_t n)
{
	struct collect *c = arg;

	cr_assert(c->n + n < sizeof(c->buf));
	memcpy(c->buf + c->n, p, n);
	c->n += n;
	c->buf[c->n] = '\0';
}

static void canon_in_pieces(enum dkim_canon c, const char *in, size_t piece,
			    struct collect *out)
{
	struct dkim_body_canon *b = malloc(sizeof(*b));
	size_t n = strlen(in);

	out->n = 0;
	out->buf[0] = '\0';
	dkim_body_canon_init(b, c, collect, out);
	for (size_t i = 0; i < n; i += piece)
		dkim_body_canon_feed(b, in + i, n - i < piece ? n - i : piece);
	dkim_body_canon_finish(b);
	free(b);
}

Test(dkim_canon, bodies_in_pieces)
{
	static const size_t pieces[] = { 1, 2, 7, 4096 };

	for (size_t i = 0; i < sizeof(body_rows) / sizeof(body_rows[0]); i++)
		for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
			struct collect out;

			canon_in_pieces(DKIM_CANON_SIMPLE, body_rows[i].in,
					pieces[p], &out);
			cr_expect_str_eq(out.buf, body_rows[i].simple,
					 "simple row %zu, pieces of %zu", i, pieces[p]);
			canon_in_pieces(DKIM_CANON_RELAXED, body_rows[i].in,
					pieces[p], &out);
			cr_expect_str_eq(out.buf, body_rows[i].relaxed,
					 "relaxed row %zu, pieces of %zu", i, pieces[p]);
		}
}

/* base64 of the body hash of in[0..len), fed in pieces of piece bytes. */
static void bh(enum dkim_canon c, const char *in, size_t len, size_t piece,
	       bool limited, uint64_t l, char *out, struct dkim_bodyhash *h)
{
	cr_assert_eq(dkim_bodyhash_init(h, c, limited, l), 0);
	for (size_t i = 0; i < len; i += piece)
		dkim_bodyhash_feed(h, in + i, len - i < piece ? len - i : piece);
	cr_assert_eq(dkim_bodyhash_finish(h), 0);
	sasl_b64_encode(h->digest, DKIM_HASH_LEN, out, 64);
}

#define RFC_BODY "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n"

static const struct {
	enum dkim_canon c;
	const char *in, *hash;
} hash_rows[] = {
	{ DKIM_CANON_SIMPLE, "", "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=" },
	{ DKIM_CANON_RELAXED, "", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
	{ DKIM_CANON_RELAXED, "\r\n\r\n",
	  "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
	{ DKIM_CANON_SIMPLE, RFC_BODY,
	  "4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=" },
	{ DKIM_CANON_RELAXED, RFC_BODY,
	  "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=" },
	{ DKIM_CANON_SIMPLE, RFC_BODY "\r\n\r\n",
	  "4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=" },
};

Test(dkim_bodyhash, known_hashes_in_pieces)
{
	static const size_t pieces[] = { 1, 2, 7, 4096 };
	struct dkim_bodyhash h;
	char out[64];

	for (size_t i = 0; i < sizeof(hash_rows) / sizeof(hash_rows[0]); i++)
		for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
			bh(hash_rows[i].c, hash_rows[i].in, strlen(hash_rows[i].in),
			   pieces[p], false, 0, out, &h);
			cr_expect_str_eq(out, hash_rows[i].hash, "row %zu, pieces of %zu",
					 i, pieces[p]);
		}
}

Test(dkim_bodyhash, length_limit)
{
	struct dkim_bodyhash h, five;
	char out[64], want[64];

	bh(DKIM_CANON_RELAXED, RFC_BODY, strlen(RFC_BODY), 3, true, 5, out, &h);
	cr_expect_eq(h.hashed, 5);
	cr_expect_eq(h.total, strlen(RFC_BODY) - 1); /* "  " became " " */
	bh(DKIM_CANON_SIMPLE, "Hi.\r\n", 5, 5, false, 0, want, &five);
	cr_expect_str_eq(out, want);
	bh(DKIM_CANON_RELAXED, "", 0, 1, true, 0, out, &h);
	cr_expect_str_eq(out, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

/* A large body streamed in odd pieces hashes as it does whole. */
Test(dkim_bodyhash, streamed_equals_whole)
{
	size_t len = 1 << 20;
	char *body = malloc(len), whole[64], parts[64];
	struct dkim_bodyhash h;
	unsigned seed = 7;

	for (size_t i = 0; i < len; i++) {
		static const char alphabet[] = "ab \t\r\n\r\n";

		seed = seed * 1103515245 + 12345;
		body[i] = alphabet[(seed >> 16) % 8];
	}
	for (int c = 0; c < 2; c++) {
		bh((enum dkim_canon)c, body, len, len, false, 0, whole, &h);
		bh((enum dkim_canon)c, body, len, 4093, false, 0, parts, &h);
		cr_expect_str_eq(parts, whole);
		bh((enum dkim_canon)c, body, len, 3, false, 0, parts, &h);
		cr_expect_str_eq(parts, whole);
	}
	free(body);
}
