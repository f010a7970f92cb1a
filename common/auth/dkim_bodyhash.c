/* common/auth/dkim_bodyhash.c: SHA-256 of the canonical body, cut at l=. */
#include "autoconf.h"

#include "common/auth/dkim_bodyhash.h"

#include <openssl/evp.h>

#include <string.h>

static void sink(void *arg, const char *p, size_t n)
{
	struct dkim_bodyhash *h = arg;
	size_t take = n;

	h->total += n;
	if (h->limited && h->limit - h->hashed < take)
		take = (size_t)(h->limit - h->hashed);
	if (take == 0 || h->md == NULL)
		return;
	if (EVP_DigestUpdate(h->md, p, take) != 1)
		h->failed = true;
	h->hashed += take;
}

int dkim_bodyhash_init(struct dkim_bodyhash *h, enum dkim_canon c,
		       bool limited, uint64_t limit)
{
	memset(h, 0, sizeof(*h));
	h->limited = limited;
	h->limit = limit;
	h->md = EVP_MD_CTX_new();
	if (h->md == NULL)
		return -1;
	if (EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
		dkim_bodyhash_free(h);
		return -1;
	}
	dkim_body_canon_init(&h->canon, c, sink, h);
	return 0;
}

void dkim_bodyhash_feed(struct dkim_bodyhash *h, const char *p, size_t n)
{
	dkim_body_canon_feed(&h->canon, p, n);
}

int dkim_bodyhash_finish(struct dkim_bodyhash *h)
{
	unsigned int len = 0;

	dkim_body_canon_finish(&h->canon);
	if (h->md == NULL ||
	    EVP_DigestFinal_ex(h->md, h->digest, &len) != 1 ||
	    len != DKIM_HASH_LEN)
		h->failed = true;
	dkim_bodyhash_free(h);
	return h->failed ? -1 : 0;
}

void dkim_bodyhash_free(struct dkim_bodyhash *h)
{
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
}
