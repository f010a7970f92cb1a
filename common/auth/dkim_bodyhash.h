/* common/auth/dkim_bodyhash.h: the body hash of a DKIM signature (RFC
 * 6376 §3.7 bh=): SHA-256 over the canonical body, or over its first l=
 * octets (§3.4.5), fed the body in pieces of any size. It also counts the
 * whole canonical body, so that a verifier can say how much l= covers. */
#ifndef KANTORPOS_COMMON_DKIM_BODYHASH_H
#define KANTORPOS_COMMON_DKIM_BODYHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/auth/dkim_canon.h"

#define DKIM_HASH_LEN 32 /* SHA-256 */

struct evp_md_ctx_st;

struct dkim_bodyhash {
	struct dkim_body_canon canon;
	struct evp_md_ctx_st *md;
	bool limited;        /* l= given */
	uint64_t limit;      /* l=: canonical octets to hash */
	uint64_t hashed;     /* canonical octets hashed so far */
	uint64_t total;      /* canonical octets of the whole body */
	bool failed;         /* a digest call failed */
	unsigned char digest[DKIM_HASH_LEN]; /* after dkim_bodyhash_finish */
};

/* Start a body hash in canonicalization c; limit is l= (with limited),
 * else the whole body is hashed. Returns 0, or -1 when out of memory. */
int dkim_bodyhash_init(struct dkim_bodyhash *h, enum dkim_canon c,
		       bool limited, uint64_t limit);

/* Feed the next n bytes of the body as it travels (CRLF line ends, not
 * dot-stuffed). */
void dkim_bodyhash_feed(struct dkim_bodyhash *h, const char *p, size_t n);

/* The end of the body: h->digest holds the hash, h->hashed and h->total
 * the counts. Returns 0, or -1 when the digest failed. Frees the digest
 * state (dkim_bodyhash_free is still safe afterwards). */
int dkim_bodyhash_finish(struct dkim_bodyhash *h);

/* Free the state of a hash abandoned before its finish. */
void dkim_bodyhash_free(struct dkim_bodyhash *h);

#endif
