/* common/auth/dkim_sign.h: making a DKIM-Signature field (RFC 6376 §5,
 * RFC 8463): rsa-sha256 with keys of 1024 bits or more (RFC 8301; never
 * rsa-sha1) or ed25519-sha256, the tags v a c d s t h bh b, never l=,
 * folded at 78 columns.
 *
 * No I/O and no globals; OpenSSL does the signing. */
#ifndef KANTORPOS_COMMON_DKIM_SIGN_H
#define KANTORPOS_COMMON_DKIM_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/auth/dkim_bodyhash.h"
#include "common/auth/dkim_canon.h"

struct evp_pkey_st;

/* The fields signed when the caller names none (§5.4.1): From twice, so
 * that a From added later breaks the signature (§8.15), and the others
 * once, present or not (an absent one signs the null string, so adding
 * it later breaks the signature too). NULL-terminated. */
const char *const *dkim_default_names(void);

struct dkim_sign_req {
	struct evp_pkey_st *key;   /* RSA or Ed25519 private key */
	const char *domain;        /* d= */
	const char *selector;      /* s= */
	enum dkim_canon hcanon, bcanon;
	const char *const *names;  /* h=, NULL-terminated; NULL: the default */
	uint64_t t;                /* t=, the signing time */
	const unsigned char *bh;   /* the finished body hash (bcanon, no l=) */
	const char *hdr;           /* the header section signed */
	size_t hdr_len;
	/* No signing: b= is a run of "A" as long as the key's signature,
	 * so the field has the exact size and folding of the real one
	 * (made with the same tags), to hold its place in a message. */
	bool placeholder;
};

/* The DKIM-Signature field for r, "DKIM-Signature: v=1; ...\r\n", to be
 * put on top of the header section; malloc'd, NUL-terminated. NULL with
 * *why_r a static reason when the key is unusable ("RSA key shorter than
 * 1024 bits", "unsupported key type") or memory is short. */
char *dkim_sign(const struct dkim_sign_req *r, const char **why_r);

/* The key record (RFC 6376 §3.6.1) that verifies key's signatures:
 * "v=DKIM1; k=rsa; p=" and the DER SubjectPublicKeyInfo in base64, or
 * "v=DKIM1; k=ed25519; p=" and the raw 32-octet public key (RFC 8463
 * §4.2); one string, malloc'd (split it for a zone file). NULL for a
 * key of another type or when memory is short. */
char *dkim_sign_record(struct evp_pkey_st *key);

#endif
