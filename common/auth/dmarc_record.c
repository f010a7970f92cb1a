/* common/auth/dmarc_record.c: the DMARC policy record (RFC 7489 §6.3,
 * §6.4). */
#include "autoconf.h"

#include "common/auth/dmarc_record.h"

#include <string.h>
#include <strings.h>

#define RI_DEFAULT 86400ul
#define RI_MAX 4294967295ul /* a 32-bit unsigned integer (§6.4) */

/* One "name=value" of the record: both without WSP at their ends; name
 * NULL for a part with no "=". */
struct part {
	const char *name;
	size_t name_len;
	const char *val;
	size_t val_len;
};

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && is_wsp(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_wsp((*s)[*len - 1]))
		(*len)--;
}

/* The part of txt[*pos..len) up to the next ";", *pos moved past it.
 * False at the end. */
static bool next_part(const char *txt, size_t len, size_t *pos,
		      struct part *pt)
{
	const char *s = txt + *pos, *eq;
	size_t n;

	if (*pos >= len)
		return false;
	n = 0;
	while (*pos + n < len && s[n] != ';')
		n++;
	*pos += n + (*pos + n < len);
	eq = memchr(s, '=', n);
	if (eq == NULL) {
		pt->name = NULL;
		return true;
	}
	pt->name = s;
	pt->name_len = (size_t)(eq - s);
	pt->val = eq + 1;
	pt->val_len = n - pt->name_len - 1;
	trim(&pt->name, &pt->name_len);
	trim(&pt->val, &pt->val_len);
	return true;
}

static bool word_is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

bool dmarc_record_is_dmarc(const char *txt, size_t len)
{
	size_t pos = 0;
	struct part pt;

	return next_part(txt, len, &pos, &pt) && pt.name != NULL &&
	       word_is(pt.name, pt.name_len, "v") && pt.val_len == 6 &&
	       memcmp(pt.val, "DMARC1", 6) == 0;
}

static bool policy_of(const char *s, size_t len, enum dmarc_policy *p)
{
	if (word_is(s, len, "none"))
		*p = DMARC_POLICY_NONE;
	else if (word_is(s, len, "quarantine"))
		*p = DMARC_POLICY_QUARANTINE;
	else if (word_is(s, len, "reject"))
		*p = DMARC_POLICY_REJECT;
	else
		return false;
	return true;
}

/* 1*DIGIT up to max; false for anything else. */
static bool number_of(const char *s, size_t len, unsigned long max,
		      unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

/* The items of a list separated by sep with WSP around them: fn on each.
 * Returns how many fn took; *all_r whether every item was taken (an empty
 * item is bad). */
static size_t each_item(const char *s, size_t len, char sep,
			bool (*fn)(const char *, size_t, void *), void *arg,
			bool *all_r)
{
	size_t i = 0, good = 0;

	*all_r = true;
	for (;;) {
		const char *item = s + i;
		size_t n = 0;

		while (i + n < len && s[i + n] != sep)
			n++;
		i += n;
		trim(&item, &n);
		if (n > 0 && fn(item, n, arg))
			good++;
		else
			*all_r = false;
		if (i >= len)
			return good;
		i++;
	}
}

static bool fo_item(const char *s, size_t len, void *arg)
{
	static const char opts[] = "01ds";
	const char *at;

	if (len != 1 || s[0] == '\0')
		return false;
	at = strchr(opts, s[0] >= 'A' && s[0] <= 'Z' ? s[0] + 'a' - 'A' : s[0]);
	if (at == NULL)
		return false;
	*(unsigned *)arg |= 1u << (at - opts);
	return true;
}

/* A report format name (a Keyword of RFC 5321); afrf is the one kept. */
static bool rf_item(const char *s, size_t len, void *arg)
{
	for (size_t i = 0; i < len; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	if (word_is(s, len, "afrf"))
		*(bool *)arg = true;
	return true;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A dmarc-uri (§6.4): a URI (RFC 3986 §3.1: scheme ":", then visible
 * octets; "!" and "," must come percent-encoded) and an optional "!"
 * size with its unit. */
static bool uri_item(const char *s, size_t len, void *arg)
{
	size_t i = 1, bang;

	(void)arg;
	if (!is_alpha(s[0]))
		return false;
	while (i < len && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' ||
			   s[i] == '-' || s[i] == '.'))
		i++;
	if (i >= len || s[i] != ':' || ++i >= len || s[i] == '!')
		return false;
	for (bang = i; bang < len && s[bang] != '!'; bang++)
		if (s[bang] <= ' ' || s[bang] >= 0x7f)
			return false;
	if (bang == len)
		return true;
	bang++;
	if (bang < len && strchr("kmgtKMGT", s[len - 1]) != NULL)
		len--;
	for (i = bang; i < len; i++)
		if (!is_digit(s[i]))
			return false;
	return bang < len;
}

enum tag { T_P, T_SP, T_ADKIM, T_ASPF, T_PCT, T_FO, T_RF, T_RI, T_RUA,
	   T_RUF, T_N };

static const char *const tag_name[T_N] = {
	"p", "sp", "adkim", "aspf", "pct", "fo", "rf", "ri", "rua", "ruf",
};

/* Why a value was dropped for its default, by tag. */
static const char *const tag_dropped[T_N] = {
	"bad p=", "bad sp=", "bad adkim= ignored", "bad aspf= ignored",
	"bad pct= ignored", "bad fo= ignored", "bad rf= ignored",
	"bad ri= ignored", "no valid URI in rua=", "no valid URI in ruf=",
};

struct reading {
	struct dmarc_record *r;
	const char *txt;
	bool p_ok, sp_seen, sp_ok;
	const char *why;
};

static bool mode_of(const struct part *pt, bool *strict)
{
	if (word_is(pt->val, pt->val_len, "r"))
		*strict = false;
	else if (word_is(pt->val, pt->val_len, "s"))
		*strict = true;
	else
		return false;
	return true;
}

static bool uris_of(const struct reading *rd, const struct part *pt,
		    struct dmarc_span *span)
{
	bool all;

	if (each_item(pt->val, pt->val_len, ',', uri_item, NULL, &all) == 0)
		return false;
	span->off = (size_t)(pt->val - rd->txt);
	span->len = pt->val_len;
	return true;
}

/* Take the value of tag t; false when it is bad. */
static bool take(struct reading *rd, enum tag t, const struct part *pt)
{
	struct dmarc_record *r = rd->r;
	unsigned long n;
	bool all = true;

	switch (t) {
	case T_P: return rd->p_ok = policy_of(pt->val, pt->val_len, &r->p);
	case T_SP:
		rd->sp_seen = true;
		return rd->sp_ok = policy_of(pt->val, pt->val_len, &r->sp);
	case T_ADKIM: return mode_of(pt, &r->adkim_strict);
	case T_ASPF: return mode_of(pt, &r->aspf_strict);
	case T_PCT:
		if (!number_of(pt->val, pt->val_len, 100, &n))
			return false;
		r->pct = (unsigned)n;
		return true;
	case T_FO:
		r->fo = 0;
		each_item(pt->val, pt->val_len, ':', fo_item, &r->fo, &all);
		if (!all)
			r->fo = DMARC_FO_0;
		return all;
	case T_RF:
		r->rf_afrf = false;
		each_item(pt->val, pt->val_len, ':', rf_item, &r->rf_afrf, &all);
		if (!all)
			r->rf_afrf = true;
		return all;
	case T_RI: return number_of(pt->val, pt->val_len, RI_MAX, &r->ri);
	case T_RUA: return uris_of(rd, pt, &r->rua);
	case T_RUF: return uris_of(rd, pt, &r->ruf);
	case T_N: break;
	}
	return false;
}

static void defaults(struct dmarc_record *r)
{
	memset(r, 0, sizeof(*r));
	r->p = r->sp = DMARC_POLICY_NONE;
	r->pct = 100;
	r->fo = DMARC_FO_0;
	r->rf_afrf = true;
	r->ri = RI_DEFAULT;
}

/* Every tag after v=: the first occurrence of each known one taken. */
static void read_tags(struct reading *rd, const char *txt, size_t len,
		      size_t pos)
{
	unsigned seen = 0;
	struct part pt;

	while (next_part(txt, len, &pos, &pt)) {
		if (pt.name == NULL)
			continue;
		for (unsigned t = 0; t < T_N; t++) {
			if (!word_is(pt.name, pt.name_len, tag_name[t]) ||
			    (seen & (1u << t)))
				continue;
			seen |= 1u << t;
			if (!take(rd, (enum tag)t, &pt) && rd->why[0] == '\0')
				rd->why = tag_dropped[t];
		}
	}
}

enum dmarc_parse dmarc_record_parse(const char *txt, size_t len,
				    struct dmarc_record *r,
				    const char **why_r)
{
	struct reading rd = { .r = r, .txt = txt, .why = "" };
	size_t pos = 0;
	struct part pt;

	defaults(r);
	if (!dmarc_record_is_dmarc(txt, len)) {
		*why_r = "not a DMARC record (no v=DMARC1 first)";
		return DMARC_REC_NOT_DMARC;
	}
	next_part(txt, len, &pos, &pt);
	read_tags(&rd, txt, len, pos);
	*why_r = rd.why;
	if (!rd.p_ok || (rd.sp_seen && !rd.sp_ok)) {
		if (r->rua.len == 0) {
			*why_r = !rd.p_ok ? "no valid p= (and no rua=)"
					  : "bad sp= (and no rua=)";
			return DMARC_REC_UNUSABLE;
		}
		r->p = r->sp = DMARC_POLICY_NONE;
		r->p_assumed = true;
		*why_r = !rd.p_ok ? "no valid p=, taken as p=none"
				  : "bad sp=, taken as p=none";
	} else if (!rd.sp_seen) {
		r->sp = r->p;
	}
	return DMARC_REC_OK;
}

const char *dmarc_policy_str(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE: return "none";
	case DMARC_POLICY_QUARANTINE: return "quarantine";
	case DMARC_POLICY_REJECT: return "reject";
	}
	return "none";
}
