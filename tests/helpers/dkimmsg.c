/* tests/helpers/dkimmsg.c: whole messages signed and checked. */
#include "autoconf.h"

#include "tests/helpers/dkimmsg.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth/dkim_bodyhash.h"
#include "common/auth/dkim_sig.h"
#include "common/auth/dkim_sign.h"
#include "common/mail/header.h"

size_t dkimmsg_header_len(const char *msg, size_t len, size_t *body_r)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (msg[i] == '\n' && msg[i + 1] == '\r' && i + 2 < len &&
		    msg[i + 2] == '\n') {
			*body_r = i + 3;
			return i + 1;
		}
	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n') {
		*body_r = 2;
		return 0;
	}
	*body_r = len;
	return len;
}

static int body_hash(const char *body, size_t len, enum dkim_canon c,
		     bool limited, uint64_t l, struct dkim_bodyhash *h)
{
	if (dkim_bodyhash_init(h, c, limited, l) < 0)
		return -1;
	dkim_bodyhash_feed(h, body, len);
	return dkim_bodyhash_finish(h);
}

static bool nth_sig(const char *hdr, size_t len, size_t n,
		    struct hdr_field *f)
{
	size_t pos = 0;

	while (hdr_next_field(hdr, len, &pos, f))
		if (hdr_name_is(f, "DKIM-Signature") && n-- == 0)
			return true;
	return false;
}

enum dkim_result dkimmsg_verify(const char *msg, size_t len, size_t n,
				const char *record, time_t now,
				const char **reason_r, char *d_r, char *s_r)
{
	size_t body, hlen = dkimmsg_header_len(msg, len, &body);
	struct dkim_sig *sig = malloc(sizeof(*sig));
	struct dkim_bodyhash h;
	struct hdr_field f;
	enum dkim_result r = DKIM_PERMERROR;

	*reason_r = "no such signature";
	if (sig == NULL || !nth_sig(msg, hlen, n, &f) ||
	    dkim_sig_parse(f.value, f.value_len, sig, reason_r) < 0)
		goto out;
	if (d_r != NULL)
		strcpy(d_r, sig->d);
	if (s_r != NULL)
		strcpy(s_r, sig->s);
	if (body_hash(msg + body, len - body, sig->bcanon, sig->has_l,
		      sig->l, &h) < 0) {
		r = DKIM_TEMPERROR;
		*reason_r = "body hash failed";
		goto out;
	}
	r = dkim_verify_one(sig, f.name, (size_t)(f.value + f.value_len - f.name),
			    msg, hlen, &h, record,
			    record != NULL ? strlen(record) : 0, now, reason_r);
out:
	free(sig);
	return r;
}

char *dkimmsg_sign(const char *msg, size_t len, struct evp_pkey_st *key,
		   const char *domain, const char *selector,
		   enum dkim_canon hc, enum dkim_canon bc,
		   const char *const *names, uint64_t t, const char **why_r)
{
	size_t body, hlen = dkimmsg_header_len(msg, len, &body);
	struct dkim_bodyhash h;
	struct dkim_sign_req r = {
		.key = key, .domain = domain, .selector = selector,
		.hcanon = hc, .bcanon = bc, .names = names, .t = t,
		.hdr = msg, .hdr_len = hlen,
	};

	if (body_hash(msg + body, len - body, bc, false, 0, &h) < 0) {
		*why_r = "body hash failed";
		return NULL;
	}
	r.bh = h.digest;
	return dkim_sign(&r, why_r);
}
