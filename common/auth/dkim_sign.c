/* common/auth/dkim_sign.c: building and signing a DKIM-Signature field. */
#include "autoconf.h"

#include "common/auth/dkim_sign.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth/dkim_hdata.h"
#include "common/auth/dkim_sig.h"
#include "common/base/strbuf.h"
#include "common/proto/sasl.h"

#define FOLD_AT 78
#define RSA_MIN_BITS 1024 /* RFC 8301 §3.2 */

const char *const *dkim_default_names(void)
{
	static const char *const names[] = {
		"from", "from", "reply-to", "subject", "date", "to", "cc",
		"message-id", "in-reply-to", "references", "mime-version",
		"content-type", "content-transfer-encoding", NULL,
	};

	return names;
}

/* The field as it grows, and the column its last line has reached. */
struct field {
	struct strbuf text;
	size_t col;
};

static void add(struct field *f, const char *s, size_t n)
{
	strbuf_add(&f->text, s, n);
	f->col += n;
}

/* Add a piece, on a new line when it would pass the fold column; with
 * space, a blank before it when it stays on the line. */
static void piece(struct field *f, const char *s, size_t n, bool space)
{
	if (f->col + (space ? 1 : 0) + n > FOLD_AT && f->col > 1) {
		add(f, "\r\n ", 3);
		f->col = 1;
	} else if (space) {
		add(f, " ", 1);
	}
	add(f, s, n);
}

static void tag(struct field *f, const char *name, const char *value)
{
	char buf[DKIM_DOMAIN_MAX + 16];
	int n = snprintf(buf, sizeof(buf), "%s=%s;", name, value);

	if (n < 0 || (size_t)n >= sizeof(buf))
		f->text.failed = true;
	else
		piece(f, buf, (size_t)n, true);
}

/* h=: a fold may come after any colon. */
static void names(struct field *f, const char *const *h)
{
	for (size_t k = 0; h[k] != NULL; k++) {
		char buf[DKIM_DOMAIN_MAX + 8];
		int n = snprintf(buf, sizeof(buf), "%s%s%s", k ? "" : "h=",
				 h[k], h[k + 1] != NULL ? ":" : ";");

		if (n < 0 || (size_t)n >= sizeof(buf))
			f->text.failed = true;
		else
			piece(f, buf, (size_t)n, k == 0);
	}
}

/* b='s value, filling each line to the fold column. */
static void b_value(struct field *f, const char *b64, size_t len)
{
	while (len > 0) {
		size_t room = f->col < FOLD_AT ? FOLD_AT - f->col : 0;

		if (room == 0) {
			add(f, "\r\n ", 3);
			f->col = 1;
			continue;
		}
		if (room > len)
			room = len;
		add(f, b64, room);
		b64 += room;
		len -= room;
	}
}

/* The signature over digest: RSASSA-PKCS1-v1_5 with SHA-256, or
 * PureEdDSA over the digest as the message (RFC 8463 §3). */
static int sign_digest(EVP_PKEY *key, const unsigned char *digest,
		       unsigned char *sig, size_t *len)
{
	EVP_MD_CTX *md;
	EVP_PKEY_CTX *ctx;
	int ok;

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		md = EVP_MD_CTX_new();
		ok = md != NULL &&
		     EVP_DigestSignInit(md, NULL, NULL, NULL, key) == 1 &&
		     EVP_DigestSign(md, sig, len, digest, DKIM_HASH_LEN) == 1;
		EVP_MD_CTX_free(md);
		return ok ? 0 : -1;
	}
	ctx = EVP_PKEY_CTX_new(key, NULL);
	ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
	     EVP_PKEY_sign(ctx, sig, len, digest, DKIM_HASH_LEN) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Zeros (base64 "AAAA") as long as key's signatures: RSA's are as long
 * as its modulus, Ed25519's 64 octets. */
static int placeholder_sig(EVP_PKEY *key, unsigned char *sig, size_t *len)
{
	int n = EVP_PKEY_get_size(key);

	if (n <= 0 || (size_t)n > *len)
		return -1;
	*len = (size_t)n;
	memset(sig, 0, *len);
	return 0;
}

static const char *alg_of(EVP_PKEY *key)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519:
		return "ed25519-sha256";
	case EVP_PKEY_RSA:
		return EVP_PKEY_get_bits(key) >= RSA_MIN_BITS ? "rsa-sha256" :
		       NULL;
	default:
		return NULL;
	}
}

/* Everything up to "b=", the text the header hash covers. */
static void head(struct field *f, const struct dkim_sign_req *r,
		 const char *alg)
{
	static const char *const canon[] = { "simple", "relaxed" };
	char c[32], t[32], bh[64];

	snprintf(c, sizeof(c), "%s/%s", canon[r->hcanon], canon[r->bcanon]);
	snprintf(t, sizeof(t), "%" PRIu64, r->t);
	sasl_b64_encode(r->bh, DKIM_HASH_LEN, bh, sizeof(bh));
	add(f, "DKIM-Signature:", 15);
	tag(f, "v", "1");
	tag(f, "a", alg);
	tag(f, "c", c);
	tag(f, "d", r->domain);
	tag(f, "s", r->selector);
	tag(f, "t", t);
	names(f, r->names != NULL ? r->names : dkim_default_names());
	tag(f, "bh", bh);
	piece(f, "b=", 2, true);
}

char *dkim_sign(const struct dkim_sign_req *r, const char **why_r)
{
	struct field f = { 0 };
	unsigned char digest[DKIM_HASH_LEN], sig[DKIM_SIG_MAX];
	char b64[SASL_ENCODED_SIZE(DKIM_SIG_MAX)];
	size_t sig_len = sizeof(sig);
	const char *alg = alg_of(r->key);
	const char *const *h = r->names != NULL ? r->names :
			       dkim_default_names();
	struct dkim_names hn = { 0 };
	int rc;

	if (alg == NULL) {
		*why_r = EVP_PKEY_get_base_id(r->key) == EVP_PKEY_RSA ?
			 "RSA key shorter than 1024 bits" :
			 "unsupported key type";
		return NULL;
	}
	for (; h[hn.n] != NULL && hn.n < DKIM_NAMES_MAX; hn.n++) {
		hn.name[hn.n].p = h[hn.n];
		hn.name[hn.n].len = strlen(h[hn.n]);
	}
	if (h[hn.n] != NULL) {
		*why_r = "too many header fields to sign";
		return NULL;
	}
	head(&f, r, alg);
	*why_r = "out of memory";
	if (r->placeholder)
		rc = placeholder_sig(r->key, sig, &sig_len);
	else
		rc = f.text.failed ||
			     dkim_header_hash(r->hcanon, &hn, r->hdr,
					      r->hdr_len, f.text.p, f.text.len,
					      digest) < 0
			     ? -1
			     : sign_digest(r->key, digest, sig, &sig_len);
	if (f.text.failed || rc < 0) {
		*why_r = f.text.failed ? "out of memory" : "signing failed";
		strbuf_free(&f.text);
		return NULL;
	}
	b_value(&f, b64, sasl_b64_encode(sig, sig_len, b64, sizeof(b64)));
	add(&f, "\r\n", 2);
	return strbuf_take(&f.text, NULL);
}

char *dkim_sign_record(EVP_PKEY *key)
{
	unsigned char raw[32], *der = NULL;
	bool ed = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
	size_t n = sizeof(raw);
	char *b64 = NULL, *txt = NULL;
	int dlen;

	if (ed) {
		if (EVP_PKEY_get_raw_public_key(key, raw, &n) != 1)
			return NULL;
	} else if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
		   (dlen = i2d_PUBKEY(key, &der)) <= 0) {
		return NULL;
	} else {
		n = (size_t)dlen;
	}
	if ((b64 = malloc(SASL_ENCODED_SIZE(n))) != NULL &&
	    sasl_b64_encode(ed ? raw : der, n, b64, SASL_ENCODED_SIZE(n)) > 0 &&
	    asprintf(&txt, "v=DKIM1; k=%s; p=%s", ed ? "ed25519" : "rsa",
		     b64) < 0)
		txt = NULL;
	free(b64);
	OPENSSL_free(der);
	return txt;
}
