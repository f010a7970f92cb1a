/* common/auth/dkim_key.h: a DKIM key record (RFC 6376 §3.6.1, RFC 8463
 * §4), the TXT data at SELECTOR._domainkey.DOMAIN: v=DKIM1 (first when
 * present), k=rsa or ed25519, h= hash algorithms, s= service types, t=
 * flags, p= the public key (empty: revoked).
 *
 * Pure code: no allocation that outlives a call, no globals. */
#ifndef KANTORPOS_COMMON_DKIM_KEY_H
#define KANTORPOS_COMMON_DKIM_KEY_H

#include <stdbool.h>
#include <stddef.h>

enum dkim_key_type {
	DKIM_KEY_RSA,
	DKIM_KEY_ED25519,
};

#define DKIM_KEY_MAX 2048 /* p= decoded: an 8192-bit RSA key fits */

struct dkim_key {
	enum dkim_key_type type;
	bool sha256;    /* h= allows sha256 (or there is no h=) */
	bool testing;   /* t=y */
	bool strict;    /* t=s: i= must use d= itself, no subdomain */
	bool revoked;   /* p= empty */
	unsigned char p[DKIM_KEY_MAX];
	size_t p_len;   /* RSA: DER (SubjectPublicKeyInfo or RSAPublicKey);
			 * Ed25519: the raw 32 bytes */
};

/* Read the record txt[0..len) (its strings already joined). Returns 0, or
 * -1 with *why_r a static reason ("unknown key type", "key not for
 * email", ...); a revoked key is read (revoked set). */
int dkim_key_parse(const char *txt, size_t len, struct dkim_key *key,
		   const char **why_r);

#endif
