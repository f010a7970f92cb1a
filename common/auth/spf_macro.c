/* common/auth/spf_macro.c: SPF macro-strings, domain-specs and
 * explain-strings (RFC 7208 §7.1): their syntax and their expansion. */
#include "autoconf.h"

#include "common/auth/spf_macro.h"

#include <string.h>

/* A macro-expand "%{" letter digits ["r"] delimiters "}" as read. */
struct macro {
	char letter;     /* as written: uppercase asks for URL escaping */
	unsigned digits; /* 0: all parts */
	bool reverse;
	const char *delims;
	size_t ndelims;
};

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static bool is_delim(char c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

static bool letter_ok(char c, enum spf_macro_ctx ctx)
{
	c = lower(c);
	if (c != '\0' && strchr("slodipvh", c) != NULL)
		return true;
	return ctx != SPF_MACRO_DOMAIN && c != '\0' && strchr("crt", c) != NULL;
}

/* Read the macro-expand after "%{" at s[*i]; *i ends past "}". */
static int read_macro(const char *s, size_t len, size_t *i,
		      enum spf_macro_ctx ctx, struct macro *m,
		      const char **why_r)
{
	size_t j = *i;
	bool any = false;

	if (j >= len || !letter_ok(s[j], ctx)) {
		*why_r = "unknown macro letter";
		return -1;
	}
	m->letter = s[j++];
	m->digits = 0;
	for (; j < len && is_digit(s[j]); j++) {
		any = true;
		if (m->digits < 1000)
			m->digits = m->digits * 10 + (unsigned)(s[j] - '0');
	}
	if (any && m->digits == 0) {
		*why_r = "macro part count of zero";
		return -1;
	}
	m->reverse = j < len && lower(s[j]) == 'r';
	if (m->reverse)
		j++;
	m->delims = s + j;
	while (j < len && is_delim(s[j]))
		j++;
	m->ndelims = (size_t)(s + j - m->delims);
	if (j >= len || s[j] != '}') {
		*why_r = "bad macro";
		return -1;
	}
	*i = j + 1;
	return 0;
}

/* Step over one item at s[*i]: a literal octet or a macro. *m_r is set
 * for a "%{...}" (kind 2), "%%", "%_", "%-" are kind 1, a literal 0. */
static int next_item(const char *s, size_t len, size_t *i,
		     enum spf_macro_ctx ctx, struct macro *m_r, int *kind_r,
		     const char **why_r)
{
	char c = s[*i];

	if (c != '%') {
		if ((c < 0x21 || c > 0x7e) &&
		    !(c == ' ' && ctx == SPF_MACRO_EXP)) {
			*why_r = "bad character";
			return -1;
		}
		(*i)++;
		*kind_r = 0;
		return 0;
	}
	if (*i + 1 >= len) {
		*why_r = "\"%\" at the end";
		return -1;
	}
	c = s[*i + 1];
	if (c == '%' || c == '_' || c == '-') {
		*i += 2;
		*kind_r = 1;
		return 0;
	}
	if (c != '{') {
		*why_r = "\"%\" not followed by \"{\", \"%\", \"_\" or \"-\"";
		return -1;
	}
	*i += 2;
	*kind_r = 2;
	return read_macro(s, len, i, ctx, m_r, why_r);
}

int spf_macro_check(const char *s, size_t len, enum spf_macro_ctx ctx,
		    const char **why_r)
{
	struct macro m;
	int kind;

	for (size_t i = 0; i < len;)
		if (next_item(s, len, &i, ctx, &m, &kind, why_r) < 0)
			return -1;
	return 0;
}

bool spf_macro_uses_p(const char *s, size_t len)
{
	struct macro m;
	const char *why;
	int kind;

	for (size_t i = 0; i < len;) {
		if (next_item(s, len, &i, SPF_MACRO_EXP, &m, &kind, &why) < 0)
			return false;
		if (kind == 2 && lower(m.letter) == 'p')
			return true;
	}
	return false;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool toplabel_ok(const char *s, size_t len)
{
	bool alpha = false, dash = false;

	if (len == 0 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (is_alpha(s[i]))
			alpha = true;
		else if (s[i] == '-')
			dash = true;
		else if (!is_digit(s[i]))
			return false;
	}
	return alpha || dash;
}

int spf_domain_spec_check(const char *s, size_t len, const char **why_r)
{
	size_t tail = 0, i = 0, end;
	struct macro m;
	int kind = 0;

	if (len == 0) {
		*why_r = "empty domain-spec";
		return -1;
	}
	while (i < len) {
		if (next_item(s, len, &i, SPF_MACRO_DOMAIN, &m, &kind, why_r) < 0)
			return -1;
		if (kind != 0)
			tail = i; /* the literal run after the last macro */
	}
	if (kind != 0)
		return 0; /* domain-end = macro-expand */
	end = len;
	if (s[end - 1] == '.')
		end--;
	for (size_t j = end; j > tail; j--) {
		if (s[j - 1] == '.') {
			if (toplabel_ok(s + j, end - j))
				return 0;
			break;
		}
	}
	*why_r = "domain-spec does not end in a valid top label";
	return -1;
}

/* The output: right-hand end kept when keep_right (a domain), else the
 * start. */
struct out {
	char *buf;
	size_t size, len;
	bool keep_right;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 >= o->size) {
		if (!o->keep_right)
			return;
		size_t drop = o->len / 2 > 0 ? o->len / 2 : o->len;

		memmove(o->buf, o->buf + drop, o->len - drop);
		o->len -= drop;
	}
	o->buf[o->len++] = c;
}

static void put_value_char(struct out *o, char c, bool escape)
{
	static const char hex[] = "0123456789ABCDEF";

	if (!escape || is_alpha(c) || is_digit(c) || strchr("-._~", c) != NULL) {
		put(o, c);
		return;
	}
	put(o, '%');
	put(o, hex[(unsigned char)c >> 4]);
	put(o, hex[(unsigned char)c & 15]);
}

static bool split_at(const struct macro *m, char c)
{
	if (m->ndelims == 0)
		return c == '.';
	return memchr(m->delims, c, m->ndelims) != NULL;
}

/* Part k (0-based, left to right) of value: its start and length. */
static void part(const char *value, const struct macro *m, size_t k,
		 const char **p_r, size_t *len_r)
{
	const char *p = value;

	for (; k > 0; p++)
		if (split_at(m, *p))
			k--;
	*p_r = p;
	*len_r = 0;
	while (p[*len_r] != '\0' && !split_at(m, p[*len_r]))
		(*len_r)++;
}

/* The value split on the delimiters, reversed if asked, its right-hand
 * digits parts joined with "." (§7.3). */
static void put_macro(struct out *o, const struct macro *m, const char *value)
{
	bool escape = m->letter >= 'A' && m->letter <= 'Z';
	size_t n = 1, first;

	if (value == NULL)
		value = "";
	for (const char *p = value; *p != '\0'; p++)
		if (split_at(m, *p))
			n++;
	first = m->digits != 0 && m->digits < n ? n - m->digits : 0;
	for (size_t k = first; k < n; k++) {
		/* part k of the reversed list is part n-1-k of the value */
		size_t idx = m->reverse ? n - 1 - k : k, plen;
		const char *p;

		part(value, m, idx, &p, &plen);
		if (k > first)
			put(o, '.');
		for (size_t j = 0; j < plen; j++)
			put_value_char(o, p[j], escape);
	}
}

static const char *value_of(const struct spf_macro_vars *v, char letter)
{
	switch (lower(letter)) {
	case 's': return v->s;
	case 'l': return v->l;
	case 'o': return v->o;
	case 'd': return v->d;
	case 'i': return v->i;
	case 'p': return v->p != NULL ? v->p : "unknown";
	case 'v': return v->v;
	case 'h': return v->h;
	case 'c': return v->c;
	case 'r': return v->r != NULL ? v->r : "unknown";
	default: return v->t;
	}
}

int spf_macro_expand(const char *s, size_t len, enum spf_macro_ctx ctx,
		     const struct spf_macro_vars *v, char *out, size_t size,
		     const char **why_r)
{
	struct out o = { out, size, 0, ctx == SPF_MACRO_DOMAIN };
	struct macro m;
	int kind;

	for (size_t i = 0; i < len;) {
		size_t at = i;

		if (next_item(s, len, &i, ctx, &m, &kind, why_r) < 0) {
			out[0] = '\0';
			return -1;
		}
		if (kind == 0)
			put(&o, s[at]);
		else if (kind == 2)
			put_macro(&o, &m, value_of(v, m.letter));
		else if (s[at + 1] == '%')
			put(&o, '%');
		else if (s[at + 1] == '_')
			put(&o, ' ');
		else {
			put(&o, '%');
			put(&o, '2');
			put(&o, '0');
		}
	}
	out[o.len] = '\0';
	return (int)o.len;
}
