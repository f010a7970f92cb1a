/* common/auth/spf_record.c: the SPF record and its terms (RFC 7208 §4.5,
 * §4.6.1, §5, §6, the ABNF of §12). */
#include "autoconf.h"

#include "common/auth/spf_record.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/auth/spf_macro.h"

#define SPF_VERSION "v=spf1"
#define SPF_VERSION_LEN 6

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool spf_record_is_spf(const char *txt, size_t len)
{
	return len >= SPF_VERSION_LEN && strncasecmp(txt, SPF_VERSION, SPF_VERSION_LEN) == 0 &&
	       (len == SPF_VERSION_LEN || txt[SPF_VERSION_LEN] == ' ');
}

static bool word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), then "=": the
 * length of the name, or 0 when s is no modifier. */
static size_t modifier_name(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0 || !is_alpha(s[0]))
		return 0;
	while (i < len && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '-' ||
			   s[i] == '_' || s[i] == '.'))
		i++;
	return i < len && s[i] == '=' ? i : 0;
}

/* "/" digits with no leading zero, at most max: *v_r. */
static int cidr_value(const char *s, size_t len, unsigned max, unsigned *v_r)
{
	unsigned v = 0;

	if (len == 0 || len > 3 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*v_r = v;
	return 0;
}

/* The length of a trailing "/" 1*DIGIT of s (0 if none). */
static size_t slash_digits(const char *s, size_t len)
{
	size_t i = len;

	while (i > 0 && is_digit(s[i - 1]))
		i--;
	return i < len && i > 0 && s[i - 1] == '/' ? len - i + 1 : 0;
}

/* [ ":" domain-spec ] [ dual-cidr-length ] of a and mx (§5.3, §5.4):
 * the CIDR lengths are read from the end, the rest is the domain-spec. */
static int dual_cidr(const char *s, size_t len, struct spf_term *t,
		     const char **why_r)
{
	size_t n = slash_digits(s, len);

	*why_r = "bad CIDR length";
	if (n > 0 && len - n > 0 && s[len - n - 1] == '/') {
		if (cidr_value(s + len - n + 1, n - 1, 128, &t->cidr6) < 0)
			return -1;
		len -= n + 1;
		n = slash_digits(s, len);
	}
	if (n > 0) {
		if (cidr_value(s + len - n + 1, n - 1, 32, &t->cidr4) < 0)
			return -1;
		len -= n;
	}
	if (len > 0 && s[0] == ':') {
		t->spec.p = s + 1;
		t->spec.len = len - 1;
		return spf_domain_spec_check(s + 1, len - 1, why_r);
	}
	if (len > 0) {
		*why_r = "unknown mechanism";
		return -1;
	}
	return 0;
}

/* ":" network [ "/" length ] of ip4 and ip6 (§5.6). */
static int network(const char *s, size_t len, struct spf_term *t,
		   const char **why_r)
{
	int family = t->mech == SPF_MECH_IP4 ? AF_INET : AF_INET6;
	const char *slash = memchr(s, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	char buf[64];

	*why_r = family == AF_INET ? "bad ip4 network" : "bad ip6 network";
	if (len == 0 || s[0] != ':' || alen - 1 >= sizeof(buf))
		return -1;
	memcpy(buf, s + 1, alen - 1);
	buf[alen - 1] = '\0';
	if (inet_pton(family, buf, t->net) != 1)
		return -1;
	if (slash == NULL)
		return 0;
	*why_r = "bad CIDR length";
	return cidr_value(slash + 1, len - alen - 1, family == AF_INET ? 32 : 128,
			  family == AF_INET ? &t->cidr4 : &t->cidr6);
}

/* ":" domain-spec, required (include, exists) or optional (ptr). */
static int spec_arg(const char *s, size_t len, bool required,
		    struct spf_term *t, const char **why_r)
{
	if (len == 0 && !required)
		return 0;
	if (len == 0 || s[0] != ':') {
		*why_r = len == 0 ? "missing domain-spec" : "unknown mechanism";
		return -1;
	}
	t->spec.p = s + 1;
	t->spec.len = len - 1;
	return spf_domain_spec_check(s + 1, len - 1, why_r);
}

static int mechanism(const char *s, size_t len, struct spf_term *t,
		     const char **why_r)
{
	static const struct {
		const char *name;
		enum spf_mech mech;
	} names[] = {
		{ "all", SPF_MECH_ALL }, { "include", SPF_MECH_INCLUDE },
		{ "a", SPF_MECH_A }, { "mx", SPF_MECH_MX },
		{ "ptr", SPF_MECH_PTR }, { "ip4", SPF_MECH_IP4 },
		{ "ip6", SPF_MECH_IP6 }, { "exists", SPF_MECH_EXISTS },
	};
	size_t n = 0;

	while (n < len && (is_alpha(s[n]) || is_digit(s[n])))
		n++;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		if (!word_is(s, n, names[k].name))
			continue;
		t->mech = names[k].mech;
		s += n;
		len -= n;
		switch (t->mech) {
		case SPF_MECH_ALL:
			*why_r = "unknown mechanism";
			return len == 0 ? 0 : -1;
		case SPF_MECH_A:
		case SPF_MECH_MX:
			return dual_cidr(s, len, t, why_r);
		case SPF_MECH_IP4:
		case SPF_MECH_IP6:
			return network(s, len, t, why_r);
		default:
			return spec_arg(s, len, t->mech != SPF_MECH_PTR, t, why_r);
		}
	}
	*why_r = "unknown mechanism";
	return -1;
}

int spf_term_parse(const char *s, size_t len, struct spf_term *t,
		   const char **why_r)
{
	size_t n = modifier_name(s, len);

	memset(t, 0, sizeof(*t));
	t->text.p = s;
	t->text.len = len;
	t->cidr4 = 32;
	t->cidr6 = 128;
	t->qual = SPF_PASS;
	if (n > 0) {
		t->mech = SPF_MODIFIER;
		t->name.p = s;
		t->name.len = n;
		t->value.p = s + n + 1;
		t->value.len = len - n - 1;
		if (word_is(s, n, "redirect") || word_is(s, n, "exp"))
			return spf_domain_spec_check(t->value.p, t->value.len,
						     why_r);
		return spf_macro_check(t->value.p, t->value.len,
				       SPF_MACRO_MODIFIER, why_r);
	}
	if (len > 0 && strchr("+-~?", s[0]) != NULL) {
		t->qual = s[0] == '+' ? SPF_PASS : s[0] == '-' ? SPF_FAIL :
			  s[0] == '~' ? SPF_SOFTFAIL : SPF_NEUTRAL;
		s++;
		len--;
	}
	return mechanism(s, len, t, why_r);
}

/* The next term at *pos: its span (1), or 0 at the end; -1 for an octet
 * that is neither a space nor visible ASCII. */
static int next_span(const char *txt, size_t len, size_t *pos,
		     struct spf_span *sp)
{
	size_t i = *pos;

	while (i < len && txt[i] == ' ')
		i++;
	if (i == len)
		return 0;
	sp->p = txt + i;
	while (i < len && txt[i] != ' ') {
		if (txt[i] < 0x21 || txt[i] > 0x7e) {
			sp->len = (size_t)(txt + i - sp->p) + 1;
			*pos = i;
			return -1;
		}
		i++;
	}
	sp->len = (size_t)(txt + i - sp->p);
	*pos = i;
	return 1;
}

/* Count a term into r: redirect= and exp= once each, DNS terms. */
static int note_term(struct spf_record *r, const struct spf_term *t,
		     const char **why_r)
{
	struct spf_span *slot = NULL;

	if (t->mech == SPF_MODIFIER) {
		if (word_is(t->name.p, t->name.len, "redirect"))
			slot = &r->redirect;
		else if (word_is(t->name.p, t->name.len, "exp"))
			slot = &r->exp;
		if (slot == NULL)
			return 0;
		if (slot->p != NULL) {
			*why_r = "modifier given twice";
			return -1;
		}
		*slot = t->value;
		r->dns_terms += slot == &r->redirect;
		return 0;
	}
	if (t->mech != SPF_MECH_ALL && t->mech != SPF_MECH_IP4 &&
	    t->mech != SPF_MECH_IP6)
		r->dns_terms++;
	return 0;
}

int spf_record_parse(const char *txt, size_t len, struct spf_record *r,
		     const char **why_r, struct spf_span *at_r)
{
	size_t pos = SPF_VERSION_LEN;
	struct spf_span sp;
	struct spf_term t;
	int rc;

	memset(r, 0, sizeof(*r));
	r->txt = txt;
	r->len = len;
	at_r->p = txt;
	at_r->len = len;
	if (!spf_record_is_spf(txt, len)) {
		*why_r = "not an SPF record";
		return -1;
	}
	while ((rc = next_span(txt, len, &pos, &sp)) != 0) {
		*at_r = sp;
		if (rc < 0) {
			*why_r = "character not allowed in a record";
			return -1;
		}
		if (spf_term_parse(sp.p, sp.len, &t, why_r) < 0 ||
		    note_term(r, &t, why_r) < 0)
			return -1;
	}
	return 0;
}

int spf_record_next(const struct spf_record *r, size_t *pos,
		    struct spf_term *t)
{
	struct spf_span sp;
	const char *why;

	if (*pos < SPF_VERSION_LEN)
		*pos = SPF_VERSION_LEN;
	if (next_span(r->txt, r->len, pos, &sp) <= 0)
		return 0;
	return spf_term_parse(sp.p, sp.len, t, &why) == 0 ? 1 : 0;
}
