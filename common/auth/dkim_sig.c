/* common/auth/dkim_sig.c: reading a DKIM-Signature value (RFC 6376 §3.5). */
#include "autoconf.h"

#include "common/auth/dkim_sig.h"

#include <string.h>
#include <strings.h>

#include "common/auth/dkim_tags.h"

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int fail(const char **why_r, const char *why)
{
	*why_r = why;
	return -1;
}

static int check_required(const struct dkim_taglist *t, const char **why_r)
{
	static const struct {
		const char *name, *why;
	} req[] = {
		{ "v", "missing tag v=" }, { "a", "missing tag a=" },
		{ "b", "missing tag b=" }, { "bh", "missing tag bh=" },
		{ "d", "missing tag d=" }, { "h", "missing tag h=" },
		{ "s", "missing tag s=" },
	};

	for (size_t k = 0; k < sizeof(req) / sizeof(req[0]); k++)
		if (dkim_tags_get(t, req[k].name) == NULL)
			return fail(why_r, req[k].why);
	return 0;
}

static int parse_alg(const struct dkim_tag *a, enum dkim_alg *alg_r)
{
	if (dkim_tag_is(a, "rsa-sha256"))
		*alg_r = DKIM_RSA_SHA256;
	else if (dkim_tag_is(a, "ed25519-sha256"))
		*alg_r = DKIM_ED25519_SHA256;
	else if (dkim_tag_is(a, "rsa-sha1"))
		*alg_r = DKIM_RSA_SHA1;
	else
		return -1;
	return 0;
}

static int one_canon(const char *p, size_t len, enum dkim_canon *c_r)
{
	if (len == 6 && memcmp(p, "simple", 6) == 0)
		*c_r = DKIM_CANON_SIMPLE;
	else if (len == 7 && memcmp(p, "relaxed", 7) == 0)
		*c_r = DKIM_CANON_RELAXED;
	else
		return -1;
	return 0;
}

/* c=header[/body]; absent: simple/simple; one word: that header and a
 * simple body (§3.5 c=). */
static int parse_canon(const struct dkim_tag *c, struct dkim_sig *sig)
{
	const char *slash;

	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE;
	if (c == NULL)
		return 0;
	slash = memchr(c->value, '/', c->value_len);
	if (slash == NULL)
		return one_canon(c->value, c->value_len, &sig->hcanon);
	if (one_canon(c->value, (size_t)(slash - c->value), &sig->hcanon) < 0)
		return -1;
	return one_canon(slash + 1,
			 c->value_len - (size_t)(slash + 1 - c->value),
			 &sig->bcanon);
}

static int copy_word(const struct dkim_tag *tag, char *out)
{
	if (tag->value_len == 0 || tag->value_len > DKIM_DOMAIN_MAX)
		return -1;
	for (size_t k = 0; k < tag->value_len; k++)
		if (is_wsp(tag->value[k]))
			return -1;
	memcpy(out, tag->value, tag->value_len);
	out[tag->value_len] = '\0';
	return 0;
}

/* h=: names separated by ":", FWS around them; one must be From. */
static int parse_names(const struct dkim_tag *h, struct dkim_names *n,
		       const char **why_r)
{
	const char *p = h->value, *end = h->value + h->value_len;
	bool from = false;

	n->n = 0;
	while (p <= end) {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		const char *e = colon != NULL ? colon : end;

		while (p < e && is_wsp(*p))
			p++;
		while (e > p && is_wsp(e[-1]))
			e--;
		if (p == e)
			return fail(why_r, "empty name in h=");
		if (n->n == DKIM_NAMES_MAX)
			return fail(why_r, "too many names in h=");
		n->name[n->n].p = p;
		n->name[n->n++].len = (size_t)(e - p);
		from |= e - p == 4 && strncasecmp(p, "from", 4) == 0;
		p = (colon != NULL ? colon : end) + 1;
	}
	return from ? 0 : fail(why_r, "h= does not sign From");
}

static int parse_uint(const struct dkim_tag *tag, uint64_t *v_r)
{
	uint64_t v = 0;

	if (tag->value_len == 0)
		return -1;
	for (size_t k = 0; k < tag->value_len; k++) {
		unsigned d = (unsigned)(tag->value[k] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*v_r = v;
	return 0;
}

bool dkim_domain_within(const char *a, size_t a_len, const char *b)
{
	size_t b_len = strlen(b);

	if (a_len < b_len || strncasecmp(a + a_len - b_len, b, b_len) != 0)
		return false;
	return a_len == b_len || a[a_len - b_len - 1] == '.';
}

/* i=: [local-part] "@" domain, the domain d= or under it. */
static int parse_auid(const struct dkim_tag *i, struct dkim_sig *sig,
		      const char **why_r)
{
	const char *at;

	sig->i = NULL;
	sig->i_len = 0;
	if (i == NULL)
		return 0;
	at = memrchr(i->value, '@', i->value_len);
	if (at == NULL)
		return fail(why_r, "bad i=");
	if (!dkim_domain_within(at + 1,
				i->value_len - (size_t)(at + 1 - i->value),
				sig->d))
		return fail(why_r, "i= is not within d=");
	sig->i = i->value;
	sig->i_len = i->value_len;
	return 0;
}

/* q=: a colon-separated list that must offer dns/txt. */
static bool query_ok(const struct dkim_tag *q)
{
	return q == NULL || dkim_tag_list_has(q, "dns/txt");
}

static int parse_times(const struct dkim_taglist *t, struct dkim_sig *sig,
		       const char **why_r)
{
	const struct dkim_tag *tag;

	sig->has_l = (tag = dkim_tags_get(t, "l")) != NULL;
	if (tag != NULL && parse_uint(tag, &sig->l) < 0)
		return fail(why_r, "bad l=");
	sig->has_t = (tag = dkim_tags_get(t, "t")) != NULL;
	if (tag != NULL && parse_uint(tag, &sig->t) < 0)
		return fail(why_r, "bad t=");
	sig->has_x = (tag = dkim_tags_get(t, "x")) != NULL;
	if (tag != NULL && parse_uint(tag, &sig->x) < 0)
		return fail(why_r, "bad x=");
	if (sig->has_t && sig->has_x && sig->x <= sig->t)
		return fail(why_r, "x= is not after t=");
	return 0;
}

static int parse_tags(const struct dkim_taglist *t, struct dkim_sig *sig,
		      const char **why_r)
{
	if (!dkim_tag_is(dkim_tags_get(t, "v"), "1"))
		return fail(why_r, "unsupported version");
	if (parse_alg(dkim_tags_get(t, "a"), &sig->alg) < 0)
		return fail(why_r, "unknown algorithm");
	if (parse_canon(dkim_tags_get(t, "c"), sig) < 0)
		return fail(why_r, "unknown canonicalization");
	if (copy_word(dkim_tags_get(t, "d"), sig->d) < 0)
		return fail(why_r, "bad d=");
	if (copy_word(dkim_tags_get(t, "s"), sig->s) < 0)
		return fail(why_r, "bad s=");
	if (dkim_tag_b64(dkim_tags_get(t, "b"), sig->b, sizeof(sig->b),
			 &sig->b_len) < 0 || sig->b_len == 0)
		return fail(why_r, "bad b=");
	if (dkim_tag_b64(dkim_tags_get(t, "bh"), sig->bh, sizeof(sig->bh),
			 &sig->bh_len) < 0 || sig->bh_len == 0)
		return fail(why_r, "bad bh=");
	if (!query_ok(dkim_tags_get(t, "q")))
		return fail(why_r, "unsupported query method");
	if (parse_names(dkim_tags_get(t, "h"), &sig->h, why_r) < 0 ||
	    parse_auid(dkim_tags_get(t, "i"), sig, why_r) < 0)
		return -1;
	return parse_times(t, sig, why_r);
}

int dkim_sig_parse(const char *v, size_t len, struct dkim_sig *sig,
		   const char **why_r)
{
	struct dkim_taglist t;

	while (len > 0 && (v[len - 1] == '\n' || v[len - 1] == '\r'))
		len--;
	memset(sig, 0, sizeof(*sig));
	if (dkim_tags_parse(v, len, &t, why_r) < 0 ||
	    check_required(&t, why_r) < 0)
		return -1;
	return parse_tags(&t, sig, why_r);
}
