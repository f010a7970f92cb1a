/* common/auth/spf_mech.c: the mechanisms of SPF (RFC 7208 §5): include,
 * a, mx, ptr, ip4, ip6, exists, the names their domain-specs expand to
 * (§7.3, §4.8), and the validated name of %{p} (§5.5, §7.3). */
#include "autoconf.h"

#include "common/auth/spf_mech.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static bool labels_ok(const char *name);

int spf_limit(struct spf_run *r, const char *why)
{
	r->why = why;
	return SPF_PERMERROR;
}

/* Whether name is domain or a name under it (no case). */
static bool under(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n == d)
		return strcasecmp(name, domain) == 0;
	return n > d && name[n - d - 1] == '.' &&
	       strcasecmp(name + n - d, domain) == 0;
}

static bool in_net(const struct spf *s, const unsigned char *net,
		   unsigned bits)
{
	size_t whole = bits / 8;
	unsigned rest = bits % 8;

	if (memcmp(s->ip, net, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));

	return (s->ip[whole] & mask) == (net[whole] & mask);
}

static enum dns_type addr_type(const struct spf *s)
{
	return s->family == AF_INET ? DNS_T_A : DNS_T_AAAA;
}

static bool is_void(const struct spf_answer *a)
{
	return a->status == DNS_NXDOMAIN || a->status == DNS_NODATA;
}

static bool dns_error(const struct spf_answer *a)
{
	return a->status == DNS_TEMPFAIL || a->status == DNS_BOGUS;
}

/* A term's first query came back void: count it (§4.6.4). */
static int count_void(struct spf_run *r, const struct spf_answer *a)
{
	if (is_void(a) && ++r->voids > SPF_VOID_MAX)
		return spf_limit(r, "more than 2 void DNS lookups");
	return 0;
}

int spf_lookup(struct spf_run *r, const char *name, enum dns_type type,
	       const struct spf_answer **a_r)
{
	struct spf *s = r->s;

	*a_r = spf_answers_find(&s->answers, name, type);
	if (*a_r != NULL)
		return 0;
	snprintf(s->want, sizeof(s->want), "%s", name);
	s->want_type = type;
	return SPF_K_NEED;
}

static int temperror(struct spf_run *r, const char *why)
{
	r->why = why;
	return SPF_TEMPERROR;
}

/* Whether name's addresses hold the client's: 1, 0 (none, or a DNS
 * error: the name is skipped, §5.5), or SPF_K_NEED. */
static int validates(struct spf_run *r, const char *name)
{
	const struct spf_answer *a;
	int rc = spf_lookup(r, name, addr_type(r->s), &a);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < a->n; i++)
		if (a->addr[i].family == r->s->family &&
		    in_net(r->s, a->addr[i].addr, r->s->family == AF_INET ? 32 : 128))
			return 1;
	return 0;
}

/* The validated names of the client's address for %{p}, once a walk. */
static int resolve_p(struct spf_run *r)
{
	const struct spf_answer *a;
	int rc;

	if (r->p_done)
		return 0;
	rc = spf_lookup(r, r->s->ip_c, DNS_T_PTR, &a);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < a->n && i < SPF_NAMES_MAX; i++) {
		if (!labels_ok(a->str[i]))
			continue;
		rc = validates(r, a->str[i]);
		if (rc == SPF_K_NEED)
			return rc;
		if (rc == 1)
			r->p_names[r->n_p++] = a->str[i];
	}
	r->p_done = true;
	return 0;
}

/* %{p} for <domain>: the domain itself among the validated names, else
 * a name under it, else any (§7.3 "SHOULD"), else "unknown". */
static const char *p_value(const struct spf_run *r, const char *domain)
{
	for (size_t i = 0; i < r->n_p; i++)
		if (strcasecmp(r->p_names[i], domain) == 0)
			return r->p_names[i];
	for (size_t i = 0; i < r->n_p; i++)
		if (under(r->p_names[i], domain))
			return r->p_names[i];
	return r->n_p > 0 ? r->p_names[0] : "unknown";
}

int spf_expand(struct spf_run *r, struct spf_span str, enum spf_macro_ctx ctx,
	       const char *domain, char *out, size_t size)
{
	const struct spf *s = r->s;
	struct spf_macro_vars v = {
		.s = s->sender, .l = s->local, .o = s->domain, .d = domain,
		.i = s->ip_i, .v = s->family == AF_INET ? "in-addr" : "ip6",
		.h = s->helo, .c = s->ip_c, .r = s->receiver, .t = s->t,
	};
	const char *why;

	if (spf_macro_uses_p(str.p, str.len)) {
		int rc = resolve_p(r);

		if (rc != 0)
			return rc;
		v.p = p_value(r, domain);
	}
	return spf_macro_expand(str.p, str.len, ctx, &v, out, size, &why);
}

/* Labels of 1 to 63 octets (a final dot was taken off). */
static bool labels_ok(const char *name)
{
	size_t run = 0;

	if (*name == '\0')
		return false;
	for (; *name != '\0'; name++) {
		if (*name != '.') {
			if (++run > 63)
				return false;
		} else if (run == 0) {
			return false;
		} else {
			run = 0;
		}
	}
	return run > 0;
}

int spf_target(struct spf_run *r, struct spf_span spec, const char *domain,
	       char *out)
{
	char buf[1024];
	const char *p = buf;
	int n;

	if (spec.len == 0) {
		snprintf(out, SPF_NAME_LEN + 1, "%s", domain);
		return 0;
	}
	n = spf_expand(r, spec, SPF_MACRO_DOMAIN, domain, buf, sizeof(buf));
	if (n == SPF_K_NEED)
		return n;
	if (n <= 0)
		return SPF_K_BADNAME;
	if (buf[n - 1] == '.')
		buf[--n] = '\0';
	/* §7.3: too long, the left-hand labels go until it fits */
	while (strlen(p) > SPF_NAME_LEN) {
		p = strchr(p, '.');
		if (p == NULL)
			return SPF_K_BADNAME;
		p++;
	}
	if (!labels_ok(p))
		return SPF_K_BADNAME;
	memcpy(out, p, strlen(p) + 1);
	return 0;
}

/* A term's first query (§5): 0 with *a_r, SPF_K_NEED, temperror on a
 * DNS error (why), permerror past the void limit. */
static int term_lookup(struct spf_run *r, const char *name,
		       enum dns_type type, const char *why,
		       const struct spf_answer **a_r)
{
	int rc = spf_lookup(r, name, type, a_r);

	if (rc != 0)
		return rc;
	if (dns_error(*a_r))
		return temperror(r, why);
	return count_void(r, *a_r);
}

/* a, and each host of mx: an address of name within the CIDR lengths. */
static int match_addrs(struct spf_run *r, const char *name,
		       const struct spf_term *t, bool first)
{
	const char *why = "DNS error looking up an address";
	const struct spf_answer *a;
	int rc = first ? term_lookup(r, name, addr_type(r->s), why, &a) :
		 spf_lookup(r, name, addr_type(r->s), &a);

	if (rc != 0)
		return rc;
	if (dns_error(a))
		return temperror(r, why);
	for (size_t i = 0; i < a->n; i++)
		if (a->addr[i].family == r->s->family &&
		    in_net(r->s, a->addr[i].addr,
			   r->s->family == AF_INET ? t->cidr4 : t->cidr6))
			return SPF_K_MATCH;
	return SPF_K_NOMATCH;
}

static int eval_mx(struct spf_run *r, const char *name,
		   const struct spf_term *t)
{
	const struct spf_answer *a;
	int rc = term_lookup(r, name, DNS_T_MX, "DNS error looking up MX", &a);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < a->n; i++) {
		if (i == SPF_NAMES_MAX)
			return spf_limit(r, "more than 10 MX hosts to look up");
		if (a->str[i][0] == '\0' || !labels_ok(a->str[i]))
			continue; /* the null MX, or no name to ask */
		rc = match_addrs(r, a->str[i], t, false);
		if (rc != SPF_K_NOMATCH)
			return rc;
	}
	return SPF_K_NOMATCH;
}

/* ptr (§5.5): a validated name of the client's that is target or under
 * it. Only names that would match are validated: the others cannot. */
static int eval_ptr(struct spf_run *r, const char *target)
{
	const struct spf_answer *a;
	int rc = spf_lookup(r, r->s->ip_c, DNS_T_PTR, &a);

	if (rc != 0)
		return rc;
	if (dns_error(a))
		return SPF_K_NOMATCH; /* §5.5: an error is no match */
	if ((rc = count_void(r, a)) != 0)
		return rc;
	for (size_t i = 0; i < a->n && i < SPF_NAMES_MAX; i++) {
		if (!under(a->str[i], target) || !labels_ok(a->str[i]))
			continue;
		rc = validates(r, a->str[i]);
		if (rc == SPF_K_NEED)
			return rc;
		if (rc == 1)
			return SPF_K_MATCH;
	}
	return SPF_K_NOMATCH;
}

static int eval_exists(struct spf_run *r, const char *name)
{
	const struct spf_answer *a;
	int rc = term_lookup(r, name, DNS_T_A, "DNS error looking up exists",
			     &a);

	if (rc != 0)
		return rc;
	return a->n > 0 ? SPF_K_MATCH : SPF_K_NOMATCH;
}

/* include (§5.2): the included result decides whether it matches. */
static int eval_include(struct spf_run *r, const char *name, int badname)
{
	int rc = badname ? SPF_NONE : r->check_host(r, name);

	switch (rc) {
	case SPF_PASS:
		return SPF_K_MATCH;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		return SPF_K_NOMATCH;
	case SPF_NONE:
		return spf_limit(r, "include of a domain without an SPF record");
	default:
		return rc; /* temperror, permerror, SPF_K_NEED */
	}
}

int spf_mech_eval(struct spf_run *r, const struct spf_term *t,
		  const char *domain)
{
	char name[SPF_NAME_LEN + 1];
	int rc;

	switch (t->mech) {
	case SPF_MECH_ALL:
		return SPF_K_MATCH;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		if (r->s->family != (t->mech == SPF_MECH_IP4 ? AF_INET : AF_INET6))
			return SPF_K_NOMATCH;
		return in_net(r->s, t->net, t->mech == SPF_MECH_IP4 ? t->cidr4 :
			      t->cidr6) ? SPF_K_MATCH : SPF_K_NOMATCH;
	default:
		break;
	}
	if (++r->terms > SPF_DNS_TERMS_MAX)
		return spf_limit(r, "more than 10 DNS lookups");
	rc = spf_target(r, t->spec, domain, name);
	if (rc == SPF_K_NEED)
		return rc;
	if (t->mech == SPF_MECH_INCLUDE)
		return eval_include(r, name, rc == SPF_K_BADNAME);
	if (rc == SPF_K_BADNAME)
		return SPF_K_NOMATCH; /* a name that cannot exist */
	switch (t->mech) {
	case SPF_MECH_A:
		return match_addrs(r, name, t, true);
	case SPF_MECH_MX:
		return eval_mx(r, name, t);
	case SPF_MECH_PTR:
		return eval_ptr(r, name);
	default:
		return eval_exists(r, name);
	}
}
