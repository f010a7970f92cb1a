/* outbound/mtasts_policy.c: the MTA-STS discovery record, the policy body
 * and the MX pattern match (outbound/mtasts_policy.h), pure. */
#include "autoconf.h"

#include "outbound/mtasts_policy.h"

#include "common/dns/dns_name.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_wsp(const char *s)
{
	while (is_wsp(*s))
		s++;
	return s;
}

/* ---- the TXT record (§3.1) ---- */

/* §3.1: records that do not begin with "v=STSv1;" are discarded. */
static bool sts_record(const char *r)
{
	return strncmp(r, "v=STSv1", 7) == 0 && *skip_wsp(r + 7) == ';';
}

static bool ext_name_char(char c, bool first)
{
	return isalnum((unsigned char)c) ||
	       (!first && (c == '_' || c == '-' || c == '.'));
}

/* sts-ext-value: printable US-ASCII except '=' and ';'. */
static bool ext_value_char(char c)
{
	return c >= 0x21 && c <= 0x7e && c != '=' && c != ';';
}

/* One field "name=value" at *s; the id's value goes to id_r once. */
static int txt_field(const char **s, char *id_r, bool *have_id,
		     const char **why_r)
{
	const char *p = *s, *name = p, *val;
	size_t nlen, vlen;

	while (ext_name_char(*p, p == name))
		p++;
	nlen = (size_t)(p - name);
	if (nlen == 0 || nlen > 32 || *p != '=') {
		*why_r = "bad field in the MTA-STS record";
		return -1;
	}
	val = ++p;
	while (ext_value_char(*p))
		p++;
	vlen = (size_t)(p - val);
	*s = p;
	if (nlen == 2 && memcmp(name, "id", 2) == 0 && !*have_id) {
		for (size_t i = 0; i < vlen; i++)
			if (!isalnum((unsigned char)val[i]))
				vlen = 0;
		if (vlen == 0 || vlen > MTASTS_ID_MAX) {
			*why_r = "bad id in the MTA-STS record";
			return -1;
		}
		memcpy(id_r, val, vlen);
		id_r[vlen] = '\0';
		*have_id = true;
	} else if (vlen == 0) {
		*why_r = "empty field in the MTA-STS record";
		return -1;
	}
	return 0;
}

static int txt_record(const char *s, char *id_r, const char **why_r)
{
	bool have_id = false;

	s += 7; /* "v=STSv1" */
	for (;;) {
		s = skip_wsp(s);
		if (*s == '\0')
			break;
		if (*s != ';') {
			*why_r = "bad field delimiter in the MTA-STS record";
			return -1;
		}
		s = skip_wsp(s + 1);
		if (*s == '\0')
			break;
		if (txt_field(&s, id_r, &have_id, why_r) < 0)
			return -1;
	}
	if (!have_id) {
		*why_r = "no id in the MTA-STS record";
		return -1;
	}
	return 0;
}

int mtasts_txt_parse(const char *const *txt, size_t n, char *id_r,
		     const char **why_r)
{
	const char *one = NULL;
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		if (sts_record(txt[i])) {
			one = txt[i];
			count++;
		}
	}
	if (count != 1) {
		*why_r = count == 0 ? "no MTA-STS record"
				    : "several MTA-STS records";
		return -1;
	}
	return txt_record(one, id_r, why_r);
}

/* ---- the policy body (§3.2) ---- */

struct pstate {
	struct mtasts_policy *p;
	bool version, mode, max_age;
};

static bool key_is(const char *k, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(k, name, klen) == 0;
}

static bool val_is(const char *v, size_t vlen, const char *s)
{
	return vlen == strlen(s) && memcmp(v, s, vlen) == 0;
}

static int parse_mode(const char *v, size_t vlen, enum mtasts_mode *m)
{
	if (val_is(v, vlen, "enforce"))
		*m = MTASTS_ENFORCE;
	else if (val_is(v, vlen, "testing"))
		*m = MTASTS_TESTING;
	else if (val_is(v, vlen, "none"))
		*m = MTASTS_NONE;
	else
		return -1;
	return 0;
}

static int parse_max_age(const char *v, size_t vlen, unsigned long *r,
			 const char **why_r)
{
	unsigned long long n = 0;

	if (vlen == 0 || vlen > 10) {
		*why_r = vlen == 0 ? "bad max_age" : "max_age too large";
		return -1;
	}
	for (size_t i = 0; i < vlen; i++) {
		if (!isdigit((unsigned char)v[i])) {
			*why_r = "bad max_age";
			return -1;
		}
		n = n * 10 + (unsigned long long)(v[i] - '0');
	}
	if (n > MTASTS_MAX_AGE_MAX) {
		*why_r = "max_age too large";
		return -1;
	}
	*r = (unsigned long)n;
	return 0;
}

/* sts-policy-mx-value = ["*."] Domain; kept lower case, no final dot. */
static int add_mx(struct mtasts_policy *p, const char *v, size_t vlen,
		  const char **why_r)
{
	char *out;

	if (p->n_mx == MTASTS_MX_MAX) {
		*why_r = "too many mx patterns";
		return -1;
	}
	if (vlen > 0 && v[vlen - 1] == '.')
		vlen--;
	if (vlen == 0 || vlen > DNS_NAME_MAX) {
		*why_r = "bad mx pattern";
		return -1;
	}
	out = p->mx[p->n_mx];
	for (size_t i = 0; i < vlen; i++)
		out[i] = (char)tolower((unsigned char)v[i]);
	out[vlen] = '\0';
	if (!dns_name_ok(strncmp(out, "*.", 2) == 0 ? out + 2 : out) ||
	    strchr(out, '.') == NULL) {
		*why_r = "bad mx pattern";
		return -1;
	}
	p->n_mx++;
	return 0;
}

static int policy_field(struct pstate *st, const char *k, size_t klen,
			const char *v, size_t vlen, const char **why_r)
{
	if (key_is(k, klen, "mx"))
		return add_mx(st->p, v, vlen, why_r);
	if (key_is(k, klen, "version") && !st->version) {
		st->version = true;
		if (!val_is(v, vlen, "STSv1")) {
			*why_r = "bad version";
			return -1;
		}
	} else if (key_is(k, klen, "mode") && !st->mode) {
		st->mode = true;
		if (parse_mode(v, vlen, &st->p->mode) < 0) {
			*why_r = "bad mode";
			return -1;
		}
	} else if (key_is(k, klen, "max_age") && !st->max_age) {
		st->max_age = true;
		return parse_max_age(v, vlen, &st->p->max_age, why_r);
	}
	return 0; /* unknown keys and repeats of single fields: ignored */
}

/* One line (without its CRLF or LF): "key:" *WSP value *WSP. */
static int policy_line(struct pstate *st, const char *l, size_t len,
		       const char **why_r)
{
	const char *colon = memchr(l, ':', len), *v, *end = l + len;

	while (end > l && is_wsp(end[-1]))
		end--;
	if (end == l)
		return 0; /* an empty line */
	if (colon == NULL || colon == l) {
		*why_r = "policy line without a key";
		return -1;
	}
	for (v = colon + 1; v < end && is_wsp(*v); v++)
		;
	return policy_field(st, l, (size_t)(colon - l), v,
			    (size_t)(end - v), why_r);
}

static int policy_complete(const struct pstate *st, const char **why_r)
{
	if (!st->version)
		*why_r = "missing version";
	else if (!st->mode)
		*why_r = "missing mode";
	else if (!st->max_age)
		*why_r = "missing max_age";
	else if (st->p->mode != MTASTS_NONE && st->p->n_mx == 0)
		*why_r = "missing mx";
	else
		return 0;
	return -1;
}

int mtasts_policy_parse(const char *body, size_t len, struct mtasts_policy *p,
			const char **why_r)
{
	struct pstate st = { .p = p };
	size_t i = 0;

	memset(p, 0, sizeof(*p));
	if (memchr(body, '\0', len) != NULL) {
		*why_r = "NUL octet in the policy";
		return -1;
	}
	while (i < len) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - body) : len;
		size_t l = end - i;

		if (l > 0 && body[i + l - 1] == '\r')
			l--;
		if (policy_line(&st, body + i, l, why_r) < 0)
			return -1;
		i = end + 1;
	}
	return policy_complete(&st, why_r);
}

/* ---- matching (§4.1) ---- */

/* Whether a (alen octets) and b (blen) are the same name, any case. */
static bool same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && alen > 0 && strncasecmp(a, b, alen) == 0;
}

bool mtasts_pattern_match(const char *pattern, const char *host)
{
	size_t plen = strlen(pattern), hlen = strlen(host);
	const char *dot;

	if (plen > 0 && pattern[plen - 1] == '.')
		plen--;
	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (plen < 2 || pattern[0] != '*' || pattern[1] != '.')
		return same(pattern, plen, host, hlen);
	dot = memchr(host, '.', hlen);
	if (dot == NULL || dot == host)
		return false;
	return same(pattern + 2, plen - 2, dot + 1,
		    hlen - (size_t)(dot + 1 - host));
}

bool mtasts_mx_match(const struct mtasts_policy *p, const char *host)
{
	for (size_t i = 0; i < p->n_mx; i++)
		if (mtasts_pattern_match(p->mx[i], host))
			return true;
	return false;
}

const char *mtasts_mode_name(enum mtasts_mode m)
{
	return m == MTASTS_ENFORCE ? "enforce"
	       : m == MTASTS_TESTING ? "testing" : "none";
}
