/* outbound/mxcache.c: the asynchronous MX and address lookups of the
 * domains direct delivery works on, shared while in use
 * (outbound/mxcache.h). */
#include "autoconf.h"

#include "outbound/mxcache.h"

#include "common/base/log.h"
#include "common/dns/dns.h"
#include "outbound/tlspolicy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ev.h>
#include <sodium.h>

/* One address lookup of a domain: host index and family. */
struct mxlookup {
	struct mxdom *dom;
	struct dns_query *q;
	uint8_t host;
	bool v6;
};

/* The TLSA lookup of one host (RFC 7672 section 2.2) and its result. */
struct mxdane {
	struct mxdom *dom;
	struct dns_query *q;
	uint8_t host;
	uint8_t addrs_done;        /* of its A and AAAA lookups */
	bool looked_up;            /* h holds a result */
	bool at_canon;             /* asked at the CNAME-expanded name */
	char canon[DNS_NAME_MAX + 1]; /* secure CNAME target, or "" */
	struct tlsp_host h;
	struct tls_tlsa *rrs;      /* h.rrs, owned with their data */
};

struct mxdom {
	struct mxcache *c;
	struct mxdom *next;
	char name[DNS_NAME_MAX + 1];
	unsigned refs;
	bool ready;
	bool plan_capped_logged;
	ev_tstamp resolved;
	struct dns_query *mxq;
	size_t pending;                /* address lookups outstanding */
	struct mxwait *waiters;
	struct mx_hosts hosts;
	struct mx_addrs addrs[MX_HOSTS_MAX];
	struct mxlookup lk[2 * MX_HOSTS_MAX];
	struct mxdane dane[MX_HOSTS_MAX];
};

struct mxcache {
	struct ev_loop *loop;
	struct dns *dns;
	struct mx_self self;
	char **names;
	struct dns_addr *addrs;
	size_t addr_limit;
	enum config_outbound_tls tls_mode;
	unsigned tlsa_port;
	struct mxdom *doms;
	size_t resolving;
};

static uint32_t rnd(void *arg, uint32_t upper)
{
	(void)arg;
	return randombytes_uniform(upper);
}

static void free_self(struct mxcache *c)
{
	for (size_t i = 0; i < c->self.n_names; i++)
		free(c->names[i]);
	free(c->names);
	free(c->addrs);
}

struct mxcache *mxcache_new(struct ev_loop *loop, struct dns *dns,
			    const struct mx_self *self, size_t addr_limit,
			    enum config_outbound_tls tls_mode, unsigned port)
{
	struct mxcache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->loop = loop;
	c->dns = dns;
	c->addr_limit = addr_limit;
	c->tls_mode = tls_mode;
	c->tlsa_port = port;
	c->names = calloc(self->n_names + 1, sizeof(*c->names));
	c->addrs = calloc(self->n_addrs + 1, sizeof(*c->addrs));
	if (c->names == NULL || c->addrs == NULL) {
		free_self(c);
		free(c);
		return NULL;
	}
	for (size_t i = 0; i < self->n_names; i++) {
		if ((c->names[i] = strdup(self->names[i])) == NULL) {
			free_self(c);
			free(c);
			return NULL;
		}
		c->self.n_names++;
	}
	memcpy(c->addrs, self->addrs, self->n_addrs * sizeof(*c->addrs));
	c->self.names = (const char *const *)c->names;
	c->self.addrs = c->addrs;
	c->self.n_addrs = self->n_addrs;
	return c;
}

void mxcache_free(struct mxcache *c)
{
	if (c == NULL)
		return;
	free_self(c);
	free(c);
}

/* Resolution is over: tell the waiters (each once; a waiter may put the
 * domain back from its fn, so hold a reference meanwhile). */
static void dom_ready(struct mxdom *dom)
{
	struct mxwait *w;

	dom->ready = true;
	dom->resolved = ev_now(dom->c->loop);
	dom->c->resolving--;
	if (dom->hosts.o.verdict != MX_GO)
		log_info("direct: %s: %s", dom->name, dom->hosts.o.reply);
	dom->refs++;
	while ((w = dom->waiters) != NULL) {
		dom->waiters = w->next;
		w->next = NULL;
		w->fn(w, dom);
	}
	mxcache_put(dom, NULL);
}

static void start_tlsa(struct mxdane *dn, const char *name);

/* Keep the records of a secure TLSA answer (h.rrs); false: ENOMEM. */
static bool dane_keep(struct mxdane *dn, const struct dns_answer *a)
{
	if (a->n == 0)
		return true;
	if ((dn->rrs = calloc(a->n, sizeof(*dn->rrs))) == NULL)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		unsigned char *data = malloc(a->tlsa[i].len ? a->tlsa[i].len : 1);

		if (data == NULL)
			return false;
		memcpy(data, a->tlsa[i].data, a->tlsa[i].len);
		dn->rrs[i] = (struct tls_tlsa){ .usage = a->tlsa[i].usage,
						.selector = a->tlsa[i].selector,
						.mtype = a->tlsa[i].mtype,
						.len = a->tlsa[i].len,
						.data = data };
		dn->h.n_rrs++;
	}
	dn->h.rrs = dn->rrs;
	return true;
}

static const char *const dane_state_names[] = {
	[TLSP_DANE_NONE] = "no DANE", [TLSP_DANE_USABLE] = "usable",
	[TLSP_DANE_UNUSABLE] = "no usable record",
	[TLSP_DANE_UNKNOWN] = "unknown",
};

static void tlsa_cb(void *arg, const struct dns_answer *a)
{
	struct mxdane *dn = arg;
	struct mxdom *dom = dn->dom;
	enum tlsp_dane st = tlsp_dane_of(a);

	dn->q = NULL;
	/* RFC 7672 section 2.2.3: none at the expanded name (a secure
	 * denial): the MX host name is asked next. */
	if (dn->at_canon && st == TLSP_DANE_NONE && a->security == DNS_SECURE &&
	    (a->status == DNS_NODATA || a->status == DNS_NXDOMAIN)) {
		dn->at_canon = false;
		start_tlsa(dn, dom->hosts.host[dn->host].name);
		if (--dom->pending == 0)
			dom_ready(dom);
		return;
	}
	dn->looked_up = true;
	dn->h.dane = st;
	if (st != TLSP_DANE_NONE && !dane_keep(dn, a))
		st = dn->h.dane = TLSP_DANE_UNKNOWN;
	if (st == TLSP_DANE_UNKNOWN)
		snprintf(dn->h.why, sizeof(dn->h.why),
			 "dane: the TLSA lookup of %s failed: %s%s%s", a->qname,
			 dns_status_str(a->status), a->why != NULL ? ": " : "",
			 a->why != NULL ? a->why : "");
	log_info("direct: %s: TLSA %s: %s%s%s", dom->name, a->qname,
		 dane_state_names[st], st == TLSP_DANE_UNKNOWN ? " — " : "",
		 st == TLSP_DANE_UNKNOWN ? dn->h.why : "");
	if (--dom->pending == 0)
		dom_ready(dom);
}

/* Ask for _PORT._tcp.NAME TLSA; a lookup that cannot start leaves the
 * host UNKNOWN (never cleartext because of it). */
static void start_tlsa(struct mxdane *dn, const char *name)
{
	struct mxdom *dom = dn->dom;
	char qname[DNS_NAME_MAX + 1];
	int n = snprintf(qname, sizeof(qname), "_%u._tcp.%s",
			 dom->c->tlsa_port, name);

	snprintf(dn->h.base, sizeof(dn->h.base), "%s", name);
	if (n > 0 && (size_t)n < sizeof(qname))
		dn->q = dns_lookup(dom->c->dns, qname, DNS_T_TLSA, tlsa_cb, dn);
	if (dn->q != NULL) {
		dom->pending++;
		return;
	}
	dn->looked_up = true;
	dn->h.dane = TLSP_DANE_UNKNOWN;
	snprintf(dn->h.why, sizeof(dn->h.why),
		 "dane: cannot look up the TLSA records of %s", name);
}

/* Both address lookups of a host are done: its TLSA lookup, when DANE
 * can apply (tlsp_wants_tlsa). The addresses count as secure when every
 * answer that gave some is: an insecure one would be used too. */
static void host_addrs_done(struct mxdom *dom, uint8_t host)
{
	const struct mx_addrs *ad = &dom->addrs[host];
	struct mxdane *dn = &dom->dane[host];
	bool secure = (ad->n4 > 0 || ad->n6 > 0) &&
		      (ad->n4 == 0 || ad->secure4) &&
		      (ad->n6 == 0 || ad->secure6);

	if (!tlsp_wants_tlsa(dom->c->tls_mode, dom->hosts.secure, secure))
		return;
	dn->dom = dom;
	dn->host = host;
	dn->at_canon = dn->canon[0] != '\0';
	start_tlsa(dn, dn->at_canon ? dn->canon : dom->hosts.host[host].name);
}

static void addr_cb(void *arg, const struct dns_answer *a)
{
	struct mxlookup *lk = arg;
	struct mxdom *dom = lk->dom;
	struct mxdane *dn = &dom->dane[lk->host];

	lk->q = NULL;
	mx_addrs_take(&dom->addrs[lk->host], a);
	if (a->status == DNS_TEMPFAIL || a->status == DNS_BOGUS)
		log_info("direct: %s %s of %s: %s%s%s", dom->name,
			 lk->v6 ? "AAAA" : "A", dom->hosts.host[lk->host].name,
			 dns_status_str(a->status), a->why != NULL ? ": " : "",
			 a->why != NULL ? a->why : "");
	/* A secure answer covers every CNAME link of it (libunbound). */
	if (a->status == DNS_OK && a->security == DNS_SECURE &&
	    a->canon[0] != '\0' && strcasecmp(a->canon, a->qname) != 0)
		snprintf(dn->canon, sizeof(dn->canon), "%s", a->canon);
	if (++dn->addrs_done == 2)
		host_addrs_done(dom, lk->host);
	if (--dom->pending == 0)
		dom_ready(dom);
}

/* The A and AAAA lookups of every host; a lookup that cannot start counts
 * as failed (a name that is no domain name: none; else temporary). */
static void start_addrs(struct mxdom *dom)
{
	for (size_t i = 0; i < dom->hosts.n; i++) {
		for (int v6 = 0; v6 < 2; v6++) {
			struct mxlookup *lk = &dom->lk[2 * i + (size_t)v6];
			enum dns_status *st = v6 ? &dom->addrs[i].st6
						 : &dom->addrs[i].st4;

			*lk = (struct mxlookup){ .dom = dom, .host = (uint8_t)i,
						 .v6 = v6 != 0 };
			dom->pending++;
			lk->q = dns_lookup(dom->c->dns, dom->hosts.host[i].name,
					   v6 ? DNS_T_AAAA : DNS_T_A, addr_cb, lk);
			if (lk->q == NULL) {
				*st = errno == EINVAL ? DNS_NXDOMAIN : DNS_TEMPFAIL;
				dom->pending--;
				dom->dane[i].addrs_done++;
			}
		}
	}
	if (dom->pending == 0)
		dom_ready(dom);
}

static void mx_cb(void *arg, const struct dns_answer *a)
{
	struct mxdom *dom = arg;

	dom->mxq = NULL;
	mx_hosts_from(dom->name, a, &dom->c->self, &dom->hosts);
	if (dom->hosts.capped)
		log_info("direct: %s has more MX records than %d: the best %d are used",
			 dom->name, MX_HOSTS_MAX, MX_HOSTS_MAX);
	if (dom->hosts.n_self > 0)
		log_info("direct: %s: %zu MX records at this host's preference or worse are left out",
			 dom->name, dom->hosts.n_self);
	if (dom->hosts.o.verdict != MX_GO) {
		dom_ready(dom);
		return;
	}
	start_addrs(dom);
}

/* Start the MX lookup of a new domain. */
static void start_mx(struct mxdom *dom)
{
	struct mxcache *c = dom->c;

	c->resolving++;
	if (c->dns == NULL) {
		dom->hosts.o.verdict = MX_DEFER;
		snprintf(dom->hosts.o.reply, sizeof(dom->hosts.o.reply),
			 "451 4.4.3 No DNS resolver to look up %s", dom->name);
		return; /* ready from the caller's side: see mxcache_get */
	}
	dom->mxq = dns_lookup(c->dns, dom->name, DNS_T_MX, mx_cb, dom);
	if (dom->mxq != NULL)
		return;
	dom->hosts.o.verdict = errno == EINVAL ? MX_BOUNCE : MX_DEFER;
	snprintf(dom->hosts.o.reply, sizeof(dom->hosts.o.reply),
		 errno == EINVAL
			 ? "550 5.1.2 Bad destination: %s is not a domain name"
			 : "451 4.4.3 Cannot look up %s now", dom->name);
}

static struct mxdom *find_fresh(struct mxcache *c, const char *domain)
{
	for (struct mxdom *dom = c->doms; dom != NULL; dom = dom->next)
		if (strcmp(dom->name, domain) == 0 &&
		    (!dom->ready ||
		     ev_now(c->loop) - dom->resolved < MXCACHE_MAX_AGE))
			return dom;
	return NULL;
}

int mxcache_get(struct mxcache *c, const char *domain, struct mxwait *w,
		struct mxdom **dom_r)
{
	struct mxdom *dom = find_fresh(c, domain);

	if (dom == NULL) {
		if ((dom = calloc(1, sizeof(*dom))) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		dom->c = c;
		snprintf(dom->name, sizeof(dom->name), "%s", domain);
		dom->next = c->doms;
		c->doms = dom;
		start_mx(dom);
		if (dom->mxq == NULL) {
			/* Decided without a lookup. */
			dom->ready = true;
			dom->resolved = ev_now(c->loop);
			c->resolving--;
			log_info("direct: %s: %s", dom->name, dom->hosts.o.reply);
		}
	}
	dom->refs++;
	*dom_r = dom;
	if (dom->ready)
		return 1;
	w->next = dom->waiters;
	dom->waiters = w;
	return 0;
}

static void dom_free(struct mxdom *dom)
{
	struct mxcache *c = dom->c;
	struct mxdom **pp;

	for (pp = &c->doms; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == dom) {
			*pp = dom->next;
			break;
		}
	}
	if (!dom->ready)
		c->resolving--;
	if (dom->mxq != NULL)
		dns_cancel(dom->mxq);
	for (size_t i = 0; i < 2 * MX_HOSTS_MAX; i++)
		if (dom->lk[i].q != NULL)
			dns_cancel(dom->lk[i].q);
	for (size_t i = 0; i < MX_HOSTS_MAX; i++) {
		struct mxdane *dn = &dom->dane[i];

		if (dn->q != NULL)
			dns_cancel(dn->q);
		for (size_t k = 0; k < dn->h.n_rrs; k++)
			free((void *)dn->rrs[k].data);
		free(dn->rrs);
	}
	free(dom);
}

void mxcache_put(struct mxdom *dom, struct mxwait *w)
{
	if (w != NULL) {
		for (struct mxwait **pp = &dom->waiters; *pp != NULL;
		     pp = &(*pp)->next) {
			if (*pp == w) {
				*pp = w->next;
				break;
			}
		}
	}
	if (--dom->refs == 0)
		dom_free(dom);
}

const char *mxcache_name(const struct mxdom *dom)
{
	return dom->name;
}

const struct mx_hosts *mxcache_hosts(const struct mxdom *dom)
{
	return &dom->hosts;
}

const struct tlsp_host *mxcache_dane(const struct mxdom *dom, size_t host)
{
	return host < dom->hosts.n && dom->dane[host].looked_up
		       ? &dom->dane[host].h : NULL;
}

void mxcache_plan(struct mxdom *dom, struct mx_plan *p)
{
	mx_plan_build(dom->name, &dom->hosts, dom->addrs, &dom->c->self,
		      dom->c->addr_limit, rnd, NULL, p);
	if (p->addr_capped && !dom->plan_capped_logged) {
		dom->plan_capped_logged = true;
		log_info("direct: %s has more addresses than outbound_address_limit %zu: the first are tried",
			 dom->name, dom->c->addr_limit);
	}
}

size_t mxcache_resolving(const struct mxcache *c)
{
	return c->resolving;
}
