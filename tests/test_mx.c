/* tests/test_mx.c: the delivery plan of outbound/mx.h — MX order,
 * shuffling of equal preferences, implicit MX, null MX, NXDOMAIN and
 * temporary failures, this host among the MX (by name and address), the
 * caps on MX records and addresses, and the order of address families. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "outbound/mx.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const self_names[] = { "mx.example.test", "out.example.test" };

static struct dns_addr addr_of(const char *text)
{
	struct dns_addr a = { 0 };

	if (inet_pton(AF_INET, text, a.addr) == 1) {
		a.family = AF_INET;
	} else {
		cr_assert_eq(inet_pton(AF_INET6, text, a.addr), 1, "%s", text);
		a.family = AF_INET6;
	}
	return a;
}

static void addr_text(const struct dns_addr *a, char *buf, size_t size)
{
	inet_ntop(a->family, a->addr, buf, (socklen_t)size);
}

/* "10 a.remote.test, 20 b.remote.test" → an MX answer (at most 250). */
static struct dns_mx mx_store[250];

static struct dns_answer mx_answer(enum dns_status st, const char *spec)
{
	struct dns_answer a = { .status = st, .type = DNS_T_MX, .mx = mx_store };
	char buf[4096], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", spec != NULL ? spec : "");
	for (char *w = strtok_r(buf, ",", &save); w != NULL;
	     w = strtok_r(NULL, ",", &save)) {
		unsigned pref;
		char host[DNS_NAME_MAX + 1] = "";

		cr_assert(sscanf(w, " %u %255s", &pref, host) >= 1, "%s", w);
		mx_store[a.n].pref = (uint16_t)pref;
		snprintf(mx_store[a.n].host, sizeof(mx_store[a.n].host), "%s",
			 strcmp(host, ".") == 0 ? "" : host);
		a.n++;
	}
	return a;
}

/* "::1 127.0.0.2" → the A or AAAA part of addrs (the family of each
 * address decides); "NODATA", "NXDOMAIN", "TEMPFAIL" for a family with a
 * status. */
static void set_addrs(struct mx_addrs *m, const char *spec)
{
	char buf[512], *save = NULL;

	memset(m, 0, sizeof(*m));
	m->st4 = m->st6 = DNS_NODATA;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *w = strtok_r(buf, " ", &save); w != NULL;
	     w = strtok_r(NULL, " ", &save)) {
		if (strcmp(w, "TEMPFAIL4") == 0) {
			m->st4 = DNS_TEMPFAIL;
		} else if (strcmp(w, "TEMPFAIL6") == 0) {
			m->st6 = DNS_TEMPFAIL;
		} else if (strcmp(w, "NXDOMAIN") == 0) {
			m->st4 = m->st6 = DNS_NXDOMAIN;
		} else if (strcmp(w, "BOGUS") == 0) {
			m->st4 = m->st6 = DNS_BOGUS;
		} else {
			struct dns_addr a = addr_of(w);

			if (a.family == AF_INET) {
				m->a4[m->n4++] = a;
				m->st4 = DNS_OK;
			} else {
				m->a6[m->n6++] = a;
				m->st6 = DNS_OK;
			}
		}
	}
}

/* Deterministic "randomness": always 0 keeps the answer's order. */
static uint32_t rnd_zero(void *arg, uint32_t upper)
{
	(void)arg;
	(void)upper;
	return 0;
}

/* xorshift64*, for the spread over many plans. */
static uint32_t rnd_xorshift(void *arg, uint32_t upper)
{
	uint64_t *s = arg;

	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)(((*s * 2685821657736338717ULL) >> 32) % upper);
}

/* The plan as text: "a.remote.test/127.0.0.2 b.remote.test/::1", or
 * "BOUNCE <reply>" / "DEFER <reply>". */
static void plan_text(const struct mx_hosts *h, const struct mx_plan *p,
		      char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	if (p->o.verdict != MX_GO) {
		snprintf(buf, size, "%s %s",
			 p->o.verdict == MX_BOUNCE ? "BOUNCE" : "DEFER", p->o.reply);
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		char a[64];

		addr_text(&p->t[i].addr, a, sizeof(a));
		len += (size_t)snprintf(buf + len, size - len, "%s%s/%s",
					i ? " " : "", h->host[p->t[i].host].name, a);
	}
}

struct row {
	const char *domain;
	enum dns_status st;
	const char *mx;        /* the MX records */
	const char *addrs[6];  /* per host after step one, in its order */
	size_t limit;
	const char *expect;    /* plan_text of the result */
};

static void run_row(const struct row *r, size_t i, const struct mx_self *self)
{
	struct dns_answer a = mx_answer(r->st, r->mx);
	struct mx_hosts h;
	struct mx_addrs addrs[MX_HOSTS_MAX];
	struct mx_plan p;
	char got[2048];

	mx_hosts_from(r->domain, &a, self, &h);
	for (size_t k = 0; k < h.n; k++)
		set_addrs(&addrs[k], k < 6 && r->addrs[k] ? r->addrs[k] : "");
	mx_plan_build(r->domain, &h, addrs, self, r->limit, rnd_zero, NULL, &p);
	plan_text(&h, &p, got, sizeof(got));
	cr_assert_str_eq(got, r->expect, "row %zu (%s)", i, r->domain);
}

static const struct mx_self self_by_name = {
	.names = self_names, .n_names = 2,
};

Test(mx, table)
{
	static const struct row rows[] = {
		/* preference order, whatever the answer's order */
		{ "remote.test", DNS_OK, "20 b.remote.test, 10 a.remote.test",
		  { "127.0.0.2", "127.0.0.3" }, 0,
		  "a.remote.test/127.0.0.2 b.remote.test/127.0.0.3" },
		/* IPv6 and IPv4 alternate, IPv6 first */
		{ "remote.test", DNS_OK, "10 a.remote.test",
		  { "127.0.0.2 127.0.0.3 ::1 ::2 ::3" }, 0,
		  "a.remote.test/::1 a.remote.test/127.0.0.2 a.remote.test/::2 "
		  "a.remote.test/127.0.0.3 a.remote.test/::3" },
		/* the address cap: the best ones */
		{ "remote.test", DNS_OK, "10 a.remote.test, 20 b.remote.test",
		  { "127.0.0.2 127.0.0.3 ::1", "127.0.0.4" }, 2,
		  "a.remote.test/::1 a.remote.test/127.0.0.2" },
		/* an address two MX hosts share is tried once */
		{ "remote.test", DNS_OK, "10 a.remote.test, 20 b.remote.test",
		  { "127.0.0.2", "127.0.0.2 127.0.0.4" }, 0,
		  "a.remote.test/127.0.0.2 b.remote.test/127.0.0.4" },
		/* implicit MX */
		{ "aonly.test", DNS_NODATA, NULL, { "127.0.0.5" }, 0,
		  "aonly.test/127.0.0.5" },
		{ "aonly.test", DNS_OK, "", { "127.0.0.5" }, 0,
		  "aonly.test/127.0.0.5" },
		{ "empty.test", DNS_NODATA, NULL, { "" }, 0,
		  "BOUNCE 550 5.1.2 Host or domain name not found: empty.test has no MX, A or AAAA record" },
		{ "empty.test", DNS_NODATA, NULL, { "TEMPFAIL6" }, 0,
		  "DEFER 451 4.4.3 Temporary DNS failure looking up the address of empty.test" },
		/* null MX (RFC 7505), and a "." beside real MX records */
		{ "nullmx.test", DNS_OK, "0 .", { "127.0.0.9" }, 0,
		  "BOUNCE 556 5.1.10 Recipient address has null MX" },
		{ "nullmx.test", DNS_OK, "0 ., 10 a.nullmx.test", { "127.0.0.9" },
		  0, "a.nullmx.test/127.0.0.9" },
		/* the name does not exist; the lookup failed */
		{ "nx.test", DNS_NXDOMAIN, NULL, { 0 }, 0,
		  "BOUNCE 550 5.1.2 Host or domain name not found: nx.test does not exist" },
		{ "slow.test", DNS_TEMPFAIL, NULL, { 0 }, 0,
		  "DEFER 451 4.4.3 Temporary DNS failure looking up the MX records of slow.test" },
		{ "bad.test", DNS_BOGUS, NULL, { 0 }, 0,
		  "DEFER 451 4.4.3 DNSSEC validation failed for the MX records of bad.test" },
		/* this host among the MX: it and everything as bad or worse go */
		{ "remote.test", DNS_OK,
		  "10 a.remote.test, 20 c.remote.test, 20 MX.Example.Test., 30 d.remote.test",
		  { "127.0.0.2", "127.0.0.3" }, 0, "a.remote.test/127.0.0.2" },
		{ "loop.test", DNS_OK, "10 mx.example.test, 20 b.loop.test",
		  { 0 }, 0,
		  "BOUNCE 554 5.4.6 mail for loop.test loops back to myself" },
		{ "loop.test", DNS_OK, "5 out.example.test", { 0 }, 0,
		  "BOUNCE 554 5.4.6 mail for loop.test loops back to myself" },
		/* MX hosts without addresses */
		{ "remote.test", DNS_OK, "10 a.remote.test, 20 b.remote.test",
		  { "NXDOMAIN", "127.0.0.3" }, 0, "b.remote.test/127.0.0.3" },
		{ "remote.test", DNS_OK, "10 a.remote.test, 20 b.remote.test",
		  { "NXDOMAIN", "" }, 0,
		  "BOUNCE 550 5.4.4 No address for any MX host of remote.test" },
		{ "remote.test", DNS_OK, "10 a.remote.test, 20 b.remote.test",
		  { "NXDOMAIN", "TEMPFAIL4" }, 0,
		  "DEFER 451 4.4.3 Temporary DNS failure looking up the address of b.remote.test" },
		{ "remote.test", DNS_OK, "10 a.remote.test, 20 b.remote.test",
		  { "BOGUS", "127.0.0.3" }, 0, "b.remote.test/127.0.0.3" },
		/* an address literal as exchange is no host name */
		{ "lit.test", DNS_OK, "10 192.0.2.1, 20 b.lit.test",
		  { "127.0.0.3" }, 0, "b.lit.test/127.0.0.3" },
		{ "lit.test", DNS_OK, "10 192.0.2.1., 20 2001:db8::1", { 0 }, 0,
		  "BOUNCE 550 5.4.4 No usable MX host for lit.test (malformed MX records)" },
		/* a name given twice: its best preference counts */
		{ "dup.test", DNS_OK, "30 a.dup.test, 10 b.dup.test, 5 a.dup.test",
		  { "127.0.0.2", "127.0.0.3" }, 0,
		  "a.dup.test/127.0.0.2 b.dup.test/127.0.0.3" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++)
		run_row(&rows[i], i, &self_by_name);
}

Test(mx, self_by_address)
{
	struct dns_addr mine[] = { addr_of("127.0.0.1"), addr_of("::1") };
	struct mx_self self = { .names = self_names, .n_names = 2,
				.addrs = mine, .n_addrs = 2 };
	static const struct row rows[] = {
		{ "remote.test", DNS_OK,
		  "10 a.remote.test, 20 b.remote.test, 20 c.remote.test, 30 d.remote.test",
		  { "127.0.0.2", "::1 127.0.0.9", "127.0.0.3", "127.0.0.4" }, 0,
		  "a.remote.test/127.0.0.2" },
		{ "remote.test", DNS_OK, "10 a.remote.test, 20 b.remote.test",
		  { "127.0.0.1", "127.0.0.3" }, 0,
		  "BOUNCE 554 5.4.6 mail for remote.test loops back to myself" },
		{ "aonly.test", DNS_NODATA, NULL, { "127.0.0.1" }, 0,
		  "BOUNCE 554 5.4.6 mail for aonly.test loops back to myself" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++)
		run_row(&rows[i], i, &self);
}

/* More MX records than MX_HOSTS_MAX (the resolver gives at most
 * DNS_MAX_RECORDS): the best ones, and it says so. */
Test(mx, host_cap)
{
	char spec[8192];
	size_t len = 0;
	struct dns_answer a;
	struct mx_hosts h;

	for (int i = DNS_MAX_RECORDS; i > 0; i--)
		len += (size_t)snprintf(spec + len, sizeof(spec) - len,
					"%s%d h%03d.big.test", len ? ", " : "",
					i, i);
	a = mx_answer(DNS_OK, spec);
	mx_hosts_from("big.test", &a, &self_by_name, &h);
	cr_assert_eq(h.o.verdict, MX_GO);
	cr_assert(h.capped);
	cr_assert_eq(h.n, MX_HOSTS_MAX);
	for (size_t i = 0; i < h.n; i++) {
		char want[32];

		snprintf(want, sizeof(want), "h%03zu.big.test", i + 1);
		cr_assert_str_eq(h.host[i].name, want);
		cr_assert_eq(h.host[i].pref, i + 1);
	}
	a = mx_answer(DNS_OK, "10 a.test, 20 b.test");
	mx_hosts_from("small.test", &a, &self_by_name, &h);
	cr_assert(!h.capped);
	a.capped = true; /* the resolver dropped records */
	mx_hosts_from("small.test", &a, &self_by_name, &h);
	cr_assert(h.capped);
}

/* The plan says when the address limit cut it. */
Test(mx, address_cap_flag)
{
	struct dns_answer a = mx_answer(DNS_OK, "10 a.remote.test");
	struct mx_hosts h;
	struct mx_addrs addrs[1];
	struct mx_plan p;

	mx_hosts_from("remote.test", &a, &self_by_name, &h);
	set_addrs(&addrs[0], "127.0.0.2 127.0.0.3 127.0.0.4");
	mx_plan_build("remote.test", &h, addrs, NULL, 2, rnd_zero, NULL, &p);
	cr_assert_eq(p.n, 2);
	cr_assert(p.addr_capped);
	mx_plan_build("remote.test", &h, addrs, NULL, 3, rnd_zero, NULL, &p);
	cr_assert_eq(p.n, 3);
	cr_assert(!p.addr_capped);
	/* 0 and anything above MX_PLAN_MAX mean MX_PLAN_MAX */
	mx_plan_build("remote.test", &h, addrs, NULL, 0, rnd_zero, NULL, &p);
	cr_assert_eq(p.n, 3);
}

/* Equal preferences: every order comes up, about equally often, drawn
 * anew for each plan; the worse preference always comes last. */
Test(mx, shuffle_spread)
{
	struct dns_answer a = mx_answer(
		DNS_OK, "10 a.remote.test, 10 b.remote.test, 10 c.remote.test, 20 d.remote.test");
	struct mx_hosts h;
	struct mx_addrs addrs[4];
	struct mx_plan p;
	unsigned first[4] = { 0 }, runs = 6000;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	mx_hosts_from("remote.test", &a, &self_by_name, &h);
	cr_assert_eq(h.n, 4);
	set_addrs(&addrs[0], "127.0.0.2");
	set_addrs(&addrs[1], "127.0.0.3");
	set_addrs(&addrs[2], "127.0.0.4");
	set_addrs(&addrs[3], "127.0.0.5");
	for (unsigned i = 0; i < runs; i++) {
		mx_plan_build("remote.test", &h, addrs, NULL, 0, rnd_xorshift,
			      &seed, &p);
		cr_assert_eq(p.n, 4);
		cr_assert_eq(p.t[3].host, 3, "the preference 20 host is last");
		first[p.t[0].host]++;
	}
	for (int k = 0; k < 3; k++)
		cr_assert(first[k] > runs * 28 / 100 && first[k] < runs * 39 / 100,
			  "host %d first in %u of %u plans", k, first[k], runs);
	cr_assert_eq(first[3], 0);
}

/* The random source decides the order within a preference, and only
 * there. */
static uint32_t rnd_last(void *arg, uint32_t upper)
{
	(void)arg;
	return upper - 1; /* Fisher-Yates then keeps the order */
}

static uint32_t rnd_first(void *arg, uint32_t upper)
{
	(void)arg;
	(void)upper;
	return 0;
}

Test(mx, shuffle_uses_the_random_source)
{
	struct dns_answer a = mx_answer(DNS_OK, "10 a.t, 10 b.t, 20 c.t, 20 d.t");
	struct mx_hosts h;
	struct mx_addrs addrs[4];
	struct mx_plan p;
	char got[512];

	mx_hosts_from("t", &a, NULL, &h);
	set_addrs(&addrs[0], "127.0.0.2");
	set_addrs(&addrs[1], "127.0.0.3");
	set_addrs(&addrs[2], "127.0.0.4");
	set_addrs(&addrs[3], "127.0.0.5");
	mx_plan_build("t", &h, addrs, NULL, 0, rnd_last, NULL, &p);
	plan_text(&h, &p, got, sizeof(got));
	cr_assert_str_eq(got, "a.t/127.0.0.2 b.t/127.0.0.3 c.t/127.0.0.4 d.t/127.0.0.5");
	mx_plan_build("t", &h, addrs, NULL, 0, rnd_first, NULL, &p);
	plan_text(&h, &p, got, sizeof(got));
	cr_assert_str_eq(got, "b.t/127.0.0.3 a.t/127.0.0.2 d.t/127.0.0.5 c.t/127.0.0.4");
}

/* The addresses of an answer: its family only, at most MX_HOST_ADDRS. */
Test(mx, addrs_take)
{
	struct dns_addr many[12];
	struct dns_answer a = { .status = DNS_OK, .type = DNS_T_A,
				.security = DNS_SECURE, .addr = many, .n = 12 };
	struct mx_addrs m = { 0 };

	for (int i = 0; i < 12; i++) {
		char t[32];

		snprintf(t, sizeof(t), "127.0.1.%d", i);
		many[i] = addr_of(t);
	}
	many[0] = addr_of("::1"); /* a stray other family is left out */
	mx_addrs_take(&m, &a);
	cr_assert_eq(m.st4, DNS_OK);
	cr_assert(m.secure4);
	cr_assert_eq(m.n4, MX_HOST_ADDRS);
	cr_assert_eq(m.a4[0].addr[3], 1);
	a.type = DNS_T_AAAA;
	a.security = DNS_INSECURE;
	a.n = 1;
	mx_addrs_take(&m, &a);
	cr_assert_eq(m.st6, DNS_OK);
	cr_assert_eq(m.n6, 1);
	cr_assert(!m.secure6);
	a.status = DNS_NODATA;
	a.n = 0;
	mx_addrs_take(&m, &a);
	cr_assert_eq(m.st6, DNS_NODATA);
	cr_assert_eq(m.n6, 0);
	/* an answer whose records are all of the other family: NODATA */
	a.status = DNS_OK;
	a.type = DNS_T_A;
	a.n = 1;
	mx_addrs_take(&m, &a);
	cr_assert_eq(m.st4, DNS_NODATA);
	cr_assert_eq(m.n4, 0);
}

/* Security of the MX answer is kept for what comes next (DANE). */
Test(mx, secure_flag)
{
	struct dns_answer a = mx_answer(DNS_OK, "10 a.t");
	struct mx_hosts h;

	a.security = DNS_SECURE;
	mx_hosts_from("t", &a, NULL, &h);
	cr_assert(h.secure);
	a.security = DNS_INSECURE;
	mx_hosts_from("t", &a, NULL, &h);
	cr_assert(!h.secure);
}
