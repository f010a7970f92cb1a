/* common/auth/dkim_hdata.c: the header data a DKIM signature covers. */
#include "autoconf.h"

#include "common/auth/dkim_hdata.h"

#include <openssl/evp.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/auth/dkim_tags.h"
#include "common/mail/header.h"

/* The fields of a header section in order, and which were taken. */
struct fields {
	size_t n;
	struct hdr_field *f;
	bool *used;
};

static int read_fields(const char *hdr, size_t len, struct fields *fs)
{
	size_t pos = 0, cap = 0;
	struct hdr_field f;

	fs->n = 0;
	fs->f = NULL;
	fs->used = NULL;
	while (hdr_next_field(hdr, len, &pos, &f)) {
		if (fs->n == cap) {
			struct hdr_field *nf;

			cap = cap ? 2 * cap : 32;
			nf = realloc(fs->f, cap * sizeof(*nf));
			if (nf == NULL)
				return -1;
			fs->f = nf;
		}
		fs->f[fs->n++] = f;
	}
	fs->used = calloc(fs->n + 1, sizeof(*fs->used));
	return fs->used != NULL ? 0 : -1;
}

/* Canonicalize f[0..len) and hash it, without the CRLF that ends the
 * canonical form when drop_crlf. */
static int hash_field(EVP_MD_CTX *md, enum dkim_canon c, const char *f,
		      size_t len, bool drop_crlf)
{
	char *out = malloc(len + 2);
	size_t n;
	int rc;

	if (out == NULL)
		return -1;
	n = dkim_canon_header(c, f, len, out);
	if (drop_crlf && n >= 2 && out[n - 2] == '\r' && out[n - 1] == '\n')
		n -= 2;
	rc = EVP_DigestUpdate(md, out, n) == 1 ? 0 : -1;
	free(out);
	return rc;
}

/* The next unused instance of name, from the bottom; NULL when none. */
static const struct hdr_field *take(struct fields *fs, const char *name,
				    size_t len)
{
	for (size_t k = fs->n; k-- > 0;)
		if (!fs->used[k] && fs->f[k].name_len == len &&
		    strncasecmp(fs->f[k].name, name, len) == 0) {
			fs->used[k] = true;
			return &fs->f[k];
		}
	return NULL;
}

static int hash_names(EVP_MD_CTX *md, enum dkim_canon c,
		      const struct dkim_names *h, struct fields *fs)
{
	for (size_t k = 0; k < h->n; k++) {
		const struct hdr_field *f = take(fs, h->name[k].p,
						 h->name[k].len);

		if (f != NULL &&
		    hash_field(md, c, f->name,
			       (size_t)(f->value + f->value_len - f->name),
			       false) < 0)
			return -1;
	}
	return 0;
}

/* The signature field with b='s value (and the FWS around it) deleted,
 * its final CRLF left out, hashed. */
static int hash_self(EVP_MD_CTX *md, enum dkim_canon c, const char *sig,
		     size_t len)
{
	const char *colon = memchr(sig, ':', len), *why;
	struct dkim_taglist *t;
	const struct dkim_tag *b;
	size_t vlen, off, n;
	char *copy;
	int rc = -1;

	while (len > 0 && (sig[len - 1] == '\n' || sig[len - 1] == '\r'))
		len--;
	if (colon == NULL || (t = malloc(sizeof(*t))) == NULL)
		return -1;
	off = (size_t)(colon + 1 - sig);
	vlen = len - off;
	if (dkim_tags_parse(sig + off, vlen, t, &why) == 0 &&
	    (b = dkim_tags_get(t, "b")) != NULL &&
	    (copy = malloc(len + 1)) != NULL) {
		memcpy(copy, sig, off + b->raw_start);
		n = off + b->raw_start;
		memcpy(copy + n, sig + off + b->raw_end, vlen - b->raw_end);
		n += vlen - b->raw_end;
		rc = hash_field(md, c, copy, n, true);
		free(copy);
	}
	free(t);
	return rc;
}

int dkim_header_hash(enum dkim_canon c, const struct dkim_names *h,
		     const char *hdr, size_t hdr_len, const char *sig,
		     size_t sig_len, unsigned char digest[DKIM_HASH_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct fields fs;
	unsigned int len = 0;
	int rc = -1;

	if (md != NULL && read_fields(hdr, hdr_len, &fs) == 0 &&
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    hash_names(md, c, h, &fs) == 0 &&
	    hash_self(md, c, sig, sig_len) == 0 &&
	    EVP_DigestFinal_ex(md, digest, &len) == 1 && len == DKIM_HASH_LEN)
		rc = 0;
	if (md != NULL) {
		free(fs.f);
		free(fs.used);
	}
	EVP_MD_CTX_free(md);
	return rc;
}
