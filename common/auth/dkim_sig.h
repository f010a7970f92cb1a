/* common/auth/dkim_sig.h: the value of a DKIM-Signature field read into
 * its tags (RFC 6376 §3.5, RFC 8463): the required ones present, each
 * value well-formed, h= naming From, i= inside d=, x= after t=. Any
 * failure is a reason to treat the signature as a permerror.
 *
 * Pure code: no allocation that outlives a call, no globals. */
#ifndef KANTORPOS_COMMON_DKIM_SIG_H
#define KANTORPOS_COMMON_DKIM_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/auth/dkim_canon.h"

enum dkim_alg {
	DKIM_RSA_SHA256,
	DKIM_ED25519_SHA256,
	DKIM_RSA_SHA1,       /* read, never accepted (RFC 8301 §3.1) */
};

#define DKIM_NAMES_MAX 64
#define DKIM_DOMAIN_MAX 255
#define DKIM_SIG_MAX 1024  /* b= of an 8192-bit RSA key */

/* The header field names of h=, in order, pointing into the text read. */
struct dkim_names {
	size_t n;
	struct {
		const char *p;
		size_t len;
	} name[DKIM_NAMES_MAX];
};

struct dkim_sig {
	enum dkim_alg alg;
	enum dkim_canon hcanon, bcanon;
	char d[DKIM_DOMAIN_MAX + 1];   /* SDID, as written */
	char s[DKIM_DOMAIN_MAX + 1];   /* selector */
	const char *i;                 /* AUID (into the text); NULL: "@d" */
	size_t i_len;
	struct dkim_names h;
	unsigned char b[DKIM_SIG_MAX];
	size_t b_len;
	unsigned char bh[64];
	size_t bh_len;
	bool has_l, has_t, has_x;
	uint64_t l, t, x;
};

/* Read the value v[0..len) of a DKIM-Signature field (what follows the
 * colon; a final CRLF is ignored) into *sig, which points into v for h=
 * and i= and so lives no longer than v. Returns 0, or -1 with *why_r a
 * static reason ("missing tag h=", "h= does not sign From", "i= is not
 * within d=", ...). */
int dkim_sig_parse(const char *v, size_t len, struct dkim_sig *sig,
		   const char **why_r);

/* Is domain a equal to b or a subdomain of it (ASCII case-insensitive)? */
bool dkim_domain_within(const char *a, size_t a_len, const char *b);

#endif
