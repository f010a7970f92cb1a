/* admin/dns_check.c: the lookups of `kantorpos dns DOMAIN --check`
 * (admin/dns_check.h): every record at once on a libev loop, through the
 * resolver the daemons use (dns_resolver, dns_trust_anchor); the PTR
 * lookups follow once HOSTNAME's addresses are known. The verdicts are
 * admin/dnsrec_cmp.c's. */
#include "autoconf.h"

#include "admin/dns_check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "admin/admin.h"
#include "admin/dnsrec.h"
#include "common/config/config.h"
#include "common/dns/dns.h"
#include "outbound/resolver.h"

#define HOST_ADDRS_MAX 16
#define GOT_MAX 2048

struct chk;

struct row {
	struct dnsrec rec;
	enum dnsrec_verdict v;
	char got[GOT_MAX];
	struct chk *c;
};

/* One of the two address lookups of HOSTNAME behind the PTR rows. */
struct hostq {
	struct chk *c;
	enum dns_type type;
};

struct chk {
	const struct config *cfg;
	struct dns *dns;
	struct row *rows;
	size_t n, cap, pending;
	char addrs[HOST_ADDRS_MAX][INET6_ADDRSTRLEN];
	size_t n_addrs;
	unsigned host_pending;
	char host_why[GOT_MAX];   /* an address lookup failed: why */
	struct hostq hq[2];
	struct row *any;          /* the DNSREC_ADDR_ANY row, judged by the
				   * two address lookups, or NULL */
};

static void on_row(void *arg, const struct dns_answer *a)
{
	struct row *r = arg;

	r->v = dnsrec_compare(&r->rec, a, r->got, sizeof(r->got));
	r->c->pending--;
}

/* Ask for r's record; a query that cannot start is a failed row. */
static void ask(struct chk *c, struct row *r)
{
	const char *name = r->rec.kind == DNSREC_PTR ? r->rec.text : r->rec.owner;

	r->c = c;
	c->pending++;
	if (dns_lookup(c->dns, name, r->rec.type, on_row, r) == NULL) {
		r->v = DNSREC_FAILED;
		snprintf(r->got, sizeof(r->got), "cannot ask about %.300s: %s", name,
			 strerror(errno));
		c->pending--;
	}
}

static struct row *new_row(struct chk *c)
{
	if (c->n == c->cap)
		return NULL;
	memset(&c->rows[c->n], 0, sizeof(c->rows[c->n]));
	return &c->rows[c->n++];
}

/* Both address lookups are in: HOSTNAME has some address, or not. */
static void judge_any(struct chk *c, struct row *r)
{
	if (c->host_why[0] != '\0') {
		r->v = DNSREC_FAILED;
		snprintf(r->got, sizeof(r->got), "%s", c->host_why);
	} else {
		r->v = c->n_addrs > 0 ? DNSREC_OK : DNSREC_MISSING;
	}
}

/* Both address lookups are in: one PTR row per address. */
static void ask_ptrs(struct chk *c)
{
	const char *host = c->cfg->hostname;
	struct row *r;

	if (c->any != NULL)
		judge_any(c, c->any);

	if (c->host_why[0] != '\0' || c->n_addrs == 0) {
		if ((r = new_row(c)) == NULL)
			return;
		r->rec.kind = DNSREC_PTR;
		r->rec.type = DNS_T_PTR;
		snprintf(r->rec.owner, sizeof(r->rec.owner), "%s", host);
		r->v = c->host_why[0] != '\0' ? DNSREC_FAILED : DNSREC_MISSING;
		if (c->host_why[0] != '\0')
			snprintf(r->got, sizeof(r->got), "%s", c->host_why);
		else
			snprintf(r->got, sizeof(r->got), "%s has no A or AAAA "
				 "record whose PTR could name it", host);
		return;
	}
	for (size_t i = 0; i < c->n_addrs; i++) {
		if ((r = new_row(c)) == NULL)
			return;
		if (dnsrec_ptr(c->addrs[i], host, &r->rec) == 0)
			ask(c, r);
	}
}

static void on_host(void *arg, const struct dns_answer *a)
{
	struct hostq *q = arg;
	struct chk *c = q->c;

	if (a->status == DNS_TEMPFAIL || a->status == DNS_BOGUS)
		snprintf(c->host_why, sizeof(c->host_why),
			 "no addresses of %s to look up: %s", c->cfg->hostname,
			 a->why != NULL ? a->why : dns_status_str(a->status));
	for (size_t i = 0; a->status == DNS_OK && i < a->n &&
			   c->n_addrs < HOST_ADDRS_MAX; i++)
		inet_ntop(a->addr[i].family, a->addr[i].addr,
			  c->addrs[c->n_addrs++], INET6_ADDRSTRLEN);
	if (--c->host_pending == 0)
		ask_ptrs(c);
	c->pending--;
}

static void ask_host(struct chk *c)
{
	static const enum dns_type types[2] = { DNS_T_A, DNS_T_AAAA };

	for (size_t i = 0; i < 2; i++) {
		c->hq[i] = (struct hostq){ .c = c, .type = types[i] };
		c->host_pending++;
		c->pending++;
		if (dns_lookup(c->dns, c->cfg->hostname, types[i], on_host,
			       &c->hq[i]) != NULL)
			continue;
		snprintf(c->host_why, sizeof(c->host_why),
			 "cannot ask about %s: %s", c->cfg->hostname,
			 strerror(errno));
		c->pending--;
		if (--c->host_pending == 0)
			ask_ptrs(c);
	}
}

/* Print the rows; returns the exit status they make. */
static int report(const struct chk *c)
{
	size_t ok = 0, bad = 0, failed = 0;

	for (size_t i = 0; i < c->n; i++) {
		const struct row *r = &c->rows[i];
		char what[DNSREC_VALUE_MAX + 4] = "";

		if (r->rec.kind == DNSREC_ADDR)
			snprintf(what, sizeof(what), " %s", r->rec.value);
		else if (r->rec.kind == DNSREC_PTR && r->rec.text[0] != '\0')
			snprintf(what, sizeof(what), " (%s)", r->rec.text);
		printf("%-8s %s.%s: %s%s%s\n", dnsrec_label(&r->rec), r->rec.owner,
		       what, dnsrec_verdict_str(r->v), r->got[0] != '\0' ? ": " : "",
		       r->got);
		ok += r->v == DNSREC_OK;
		bad += r->v == DNSREC_MISSING || r->v == DNSREC_DIFFERS;
		failed += r->v == DNSREC_FAILED;
	}
	printf("%zu ok, %zu missing or different, %zu not answered\n", ok, bad,
	       failed);
	if (failed > 0) {
		fprintf(stderr, "kantorpos: dns: %zu lookups got no answer from "
			"the resolver (%s%s): the check is incomplete; try "
			"again later\n", failed, c->cfg->n_dns_resolver > 0
			? "dns_resolver of " : "the servers of /etc/resolv.conf",
			c->cfg->n_dns_resolver > 0 ? c->cfg->file : "");
		return ADM_TEMPFAIL;
	}
	return bad > 0 ? 1 : ADM_OK;
}

int dns_check_run(const struct config *cfg, const struct dnsrec_set *set)
{
	struct chk c = { .cfg = cfg, .cap = set->n + HOST_ADDRS_MAX + 1 };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	char err[512];
	int rc;

	c.rows = calloc(c.cap, sizeof(*c.rows));
	if (loop == NULL || c.rows == NULL) {
		fprintf(stderr, "kantorpos: dns: cannot start the lookups: out of "
			"memory\n");
		rc = ADM_OSERR;
		goto out;
	}
	if ((c.dns = outb_dns_new(loop, cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "kantorpos: dns: %s: the resolver: %s\n",
			cfg->file, err);
		rc = ADM_CONFIG;
		goto out;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct dnsrec *r = &set->r[i];

		if (r->kind == DNSREC_NOTE || r->commented)
			continue;
		c.rows[c.n].rec = *r;
		if (r->kind == DNSREC_ADDR_ANY)
			c.any = &c.rows[c.n++];    /* A or AAAA: ask_host's */
		else
			ask(&c, &c.rows[c.n++]);
	}
	ask_host(&c);
	while (c.pending > 0)
		ev_run(loop, EVRUN_ONCE);
	rc = report(&c);
out:
	dns_free(c.dns);
	free(c.rows);
	if (loop != NULL)
		ev_loop_destroy(loop);
	return rc;
}
