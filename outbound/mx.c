/* outbound/mx.c: from MX and address answers to the ordered plan of
 * (host, address) targets of a delivery (outbound/mx.h has the rules). */
#include "autoconf.h"

#include "outbound/mx.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void verdict(struct mx_outcome *o, enum mx_verdict v, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

static void verdict(struct mx_outcome *o, enum mx_verdict v, const char *fmt,
		    ...)
{
	va_list ap;

	o->verdict = v;
	va_start(ap, fmt);
	vsnprintf(o->reply, sizeof(o->reply), fmt, ap);
	va_end(ap);
}

/* name without a final dot, compared to s ignoring case. */
static bool same_name(const char *name, const char *s)
{
	size_t n = strlen(name), m = strlen(s);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (m > 0 && s[m - 1] == '.')
		m--;
	return n == m && strncasecmp(name, s, n) == 0;
}

static bool is_self_name(const struct mx_self *self, const char *name)
{
	for (size_t i = 0; self != NULL && i < self->n_names; i++)
		if (self->names[i] != NULL && same_name(name, self->names[i]))
			return true;
	return false;
}

/* An MX exchange written as an address: not a host name (RFC 5321 §5.1
 * wants names; Postfix calls it malformed). */
static bool is_literal(const char *name)
{
	unsigned char buf[16];
	char tmp[DNS_NAME_MAX + 1];
	size_t n = strlen(name);

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, name, n + 1);
	if (tmp[n - 1] == '.')
		tmp[n - 1] = '\0';
	return inet_pton(AF_INET, tmp, buf) == 1 ||
	       inet_pton(AF_INET6, tmp, buf) == 1;
}

static bool same_addr(const struct dns_addr *a, const struct dns_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

static void take_host(struct mx_hosts *out, const char *name, uint16_t pref)
{
	struct mx_host *h = &out->host[out->n++];

	snprintf(h->name, sizeof(h->name), "%s", name);
	h->pref = pref;
}

/* Keep the first (best) of records naming the same host. Returns the
 * new count. */
static size_t drop_repeats(const struct dns_mx **sorted, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		for (size_t k = 0; k < out && !dup; k++)
			dup = same_name(sorted[k]->host, sorted[i]->host);
		if (!dup)
			sorted[out++] = sorted[i];
	}
	return out;
}

/* The real MX records of the answer, sorted by preference (stable: equal
 * ones keep the answer's order until the plan shuffles them), without
 * null exchanges, address literals and repeated names. Returns how many
 * are in sorted[]. */
static size_t sort_records(const struct dns_answer *mx,
			   const struct dns_mx **sorted)
{
	size_t n = 0;

	for (size_t i = 0; i < mx->n && i < DNS_MAX_RECORDS; i++) {
		const struct dns_mx *r = &mx->mx[i];
		size_t k;

		if (r->host[0] == '\0' || strcmp(r->host, ".") == 0 ||
		    is_literal(r->host))
			continue;
		for (k = n; k > 0 && sorted[k - 1]->pref > r->pref; k--)
			sorted[k] = sorted[k - 1];
		sorted[k] = r;
		n++;
	}
	return drop_repeats(sorted, n);
}

/* The hosts of an MX answer with records. */
static void hosts_of_records(const char *domain, const struct dns_answer *mx,
			     const struct mx_self *self, struct mx_hosts *out)
{
	const struct dns_mx *sorted[DNS_MAX_RECORDS];
	size_t n = sort_records(mx, sorted);
	size_t keep = n;

	if (dns_is_null_mx(mx)) {
		verdict(&out->o, MX_BOUNCE,
			"556 5.1.10 Recipient address has null MX");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!is_self_name(self, sorted[i]->host))
			continue;
		/* This host and every MX at its preference or worse. */
		for (keep = 0; keep < n && sorted[keep]->pref < sorted[i]->pref;
		     keep++)
			;
		break;
	}
	out->n_self = n - keep;
	if (keep == 0 && out->n_self > 0) {
		verdict(&out->o, MX_BOUNCE,
			"554 5.4.6 mail for %s loops back to myself", domain);
		return;
	}
	if (keep == 0) {
		verdict(&out->o, MX_BOUNCE,
			"550 5.4.4 No usable MX host for %s (malformed MX records)",
			domain);
		return;
	}
	out->capped = keep > MX_HOSTS_MAX || mx->capped;
	for (size_t i = 0; i < keep && i < MX_HOSTS_MAX; i++)
		take_host(out, sorted[i]->host, sorted[i]->pref);
	out->o.verdict = MX_GO;
}

void mx_hosts_from(const char *domain, const struct dns_answer *mx,
		   const struct mx_self *self, struct mx_hosts *out)
{
	memset(out, 0, sizeof(*out));
	out->secure = mx->security == DNS_SECURE;
	if (mx->status == DNS_OK && mx->n > 0) {
		hosts_of_records(domain, mx, self, out);
		return;
	}
	switch (mx->status) {
	case DNS_OK: /* without records: NODATA */
	case DNS_NODATA:
		out->implicit = true;
		take_host(out, domain, 0);
		out->o.verdict = MX_GO;
		return;
	case DNS_NXDOMAIN:
		verdict(&out->o, MX_BOUNCE,
			"550 5.1.2 Host or domain name not found: %s does not exist",
			domain);
		return;
	case DNS_BOGUS:
		verdict(&out->o, MX_DEFER,
			"451 4.4.3 DNSSEC validation failed for the MX records of %s%s%s",
			domain, mx->why != NULL ? ": " : "",
			mx->why != NULL ? mx->why : "");
		return;
	case DNS_TEMPFAIL:
	default:
		verdict(&out->o, MX_DEFER,
			"451 4.4.3 Temporary DNS failure looking up the MX records of %s%s%s",
			domain, mx->why != NULL ? ": " : "",
			mx->why != NULL ? mx->why : "");
		return;
	}
}

void mx_addrs_take(struct mx_addrs *addrs, const struct dns_answer *a)
{
	bool v6 = a->type == DNS_T_AAAA;
	int family = v6 ? AF_INET6 : AF_INET;
	struct dns_addr *dst = v6 ? addrs->a6 : addrs->a4;
	size_t *n = v6 ? &addrs->n6 : &addrs->n4;

	*(v6 ? &addrs->st6 : &addrs->st4) = a->status;
	*(v6 ? &addrs->secure6 : &addrs->secure4) = a->security == DNS_SECURE;
	*n = 0;
	if (a->status != DNS_OK)
		return;
	for (size_t i = 0; i < a->n && *n < MX_HOST_ADDRS; i++)
		if (a->addr[i].family == family)
			dst[(*n)++] = a->addr[i];
	if (*n == 0)
		*(v6 ? &addrs->st6 : &addrs->st4) = DNS_NODATA;
}

static bool is_self_addr(const struct mx_self *self, const struct mx_addrs *a)
{
	for (size_t i = 0; self != NULL && i < self->n_addrs; i++) {
		for (size_t k = 0; k < a->n4; k++)
			if (same_addr(&self->addrs[i], &a->a4[k]))
				return true;
		for (size_t k = 0; k < a->n6; k++)
			if (same_addr(&self->addrs[i], &a->a6[k]))
				return true;
	}
	return false;
}

/* How many of the hosts (in preference order) remain once hosts that are
 * this one by address, and all at their preference or worse, go. */
static size_t usable_hosts(const struct mx_hosts *h, const struct mx_addrs *a,
			   const struct mx_self *self)
{
	for (size_t i = 0; i < h->n; i++) {
		size_t keep;

		if (!is_self_addr(self, &a[i]))
			continue;
		for (keep = 0; keep < h->n && h->host[keep].pref < h->host[i].pref;
		     keep++)
			;
		return keep;
	}
	return h->n;
}

/* order[0..n) = 0..n-1, each run of equal preference shuffled. */
static void shuffle_order(const struct mx_hosts *h, size_t n, uint8_t *order,
			  mx_rand_fn *rnd, void *rnd_arg)
{
	for (size_t i = 0; i < n; i++)
		order[i] = (uint8_t)i;
	for (size_t start = 0, end; start < n; start = end) {
		for (end = start + 1;
		     end < n && h->host[end].pref == h->host[start].pref; end++)
			;
		/* Fisher-Yates over [start, end). */
		for (size_t k = end - start; k > 1; k--) {
			size_t j = start + rnd(rnd_arg, (uint32_t)k);
			uint8_t t = order[start + k - 1];

			order[start + k - 1] = order[j];
			order[j] = t;
		}
	}
}

/* Append target (host hi, address a) unless the address is in already.
 * Returns false when the plan is full. */
static bool add_target(struct mx_plan *p, size_t limit, const struct mx_hosts *h,
		       uint8_t hi, const struct dns_addr *a)
{
	for (size_t i = 0; i < p->n; i++)
		if (same_addr(&p->t[i].addr, a))
			return true;
	if (p->n >= limit) {
		p->addr_capped = true;
		return false;
	}
	p->t[p->n].pref = h->host[hi].pref;
	p->t[p->n].host = hi;
	p->t[p->n].addr = *a;
	p->n++;
	return true;
}

/* The addresses of host hi: IPv6 and IPv4 alternating, IPv6 first. */
static bool add_host(struct mx_plan *p, size_t limit, const struct mx_hosts *h,
		     uint8_t hi, const struct mx_addrs *a)
{
	for (size_t k = 0; k < a->n6 || k < a->n4; k++) {
		if (k < a->n6 && !add_target(p, limit, h, hi, &a->a6[k]))
			return false;
		if (k < a->n4 && !add_target(p, limit, h, hi, &a->a4[k]))
			return false;
	}
	return true;
}

static bool temp_status(enum dns_status s)
{
	return s == DNS_TEMPFAIL || s == DNS_BOGUS;
}

/* Nothing to try: defer when a lookup may succeed later, else bounce. */
static void no_targets(const char *domain, const struct mx_hosts *h,
		       const struct mx_addrs *a, size_t n, struct mx_plan *out)
{
	for (size_t i = 0; i < n; i++) {
		if (temp_status(a[i].st4) || temp_status(a[i].st6)) {
			verdict(&out->o, MX_DEFER,
				"451 4.4.3 Temporary DNS failure looking up the address of %s",
				h->host[i].name);
			return;
		}
	}
	if (h->implicit)
		verdict(&out->o, MX_BOUNCE,
			"550 5.1.2 Host or domain name not found: %s has no MX, A or AAAA record",
			domain);
	else
		verdict(&out->o, MX_BOUNCE,
			"550 5.4.4 No address for any MX host of %s", domain);
}

void mx_plan_build(const char *domain, const struct mx_hosts *hosts,
		   const struct mx_addrs *addrs, const struct mx_self *self,
		   size_t addr_limit, mx_rand_fn *rnd, void *rnd_arg,
		   struct mx_plan *out)
{
	uint8_t order[MX_HOSTS_MAX];
	size_t n;

	memset(out, 0, sizeof(*out));
	if (hosts->o.verdict != MX_GO) {
		out->o = hosts->o;
		return;
	}
	if (addr_limit == 0 || addr_limit > MX_PLAN_MAX)
		addr_limit = MX_PLAN_MAX;
	n = usable_hosts(hosts, addrs, self);
	if (n == 0) {
		verdict(&out->o, MX_BOUNCE,
			"554 5.4.6 mail for %s loops back to myself", domain);
		return;
	}
	shuffle_order(hosts, n, order, rnd, rnd_arg);
	for (size_t i = 0; i < n; i++)
		if (!add_host(out, addr_limit, hosts, order[i], &addrs[order[i]]))
			break;
	if (out->n == 0) {
		no_targets(domain, hosts, addrs, n, out);
		return;
	}
	out->o.verdict = MX_GO;
}
