/* common/dns/dns.c: the resolver of dns.h on libunbound: one context per
 * resolver, set up once (forwarders, trust anchors, small caches, the
 * special-use names the configured servers answer), running on the
 * caller's loop through common/dns/dns_event; each query bounded by a
 * timer of its own. libunbound's callback only keeps the answer and arms
 * that timer to fire at once, so the caller's callback runs from the loop,
 * never inside libunbound (which answers from its cache or local zones
 * inside ub_resolve_event itself). The records are read by dns_parse. */
#include "autoconf.h"

#include "common/dns/dns.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unbound.h>
#include <unbound-event.h>

#include "common/dns/dns_event.h"
#include "common/dns/dns_name.h"
#include "common/dns/dns_parse.h"

#define DNS_DEFAULT_TIMEOUT 10

/* libunbound's security values in ub_resolve_event's callback. */
enum { UB_SEC_BOGUS = 1, UB_SEC_SECURE = 2 };

struct dns {
	struct ev_loop *loop;
	struct ub_event_base *base;
	struct ub_ctx *ub;
	double timeout;
	struct dns_query *queries; /* pending, newest first */
};

struct dns_query {
	struct dns *d;
	struct dns_query *prev, *next;
	int id;                    /* libunbound's async_id */
	enum dns_type type;
	char name[DNS_NAME_MAX + 1]; /* as asked (PTR: the reverse name) */
	dns_cb *cb;
	void *arg;
	ev_timer timer;            /* the timeout, then the delivery */
	/* What libunbound said, kept until the timer delivers it. */
	bool answered, oom;
	int rcode, sec;
	uint8_t *msg;
	size_t len;
	char *why;
};

/* ---- setting up ---- */

/* Names of RFC 6761 that libunbound answers itself but labs and tests
 * serve: with dns_resolver set they go to its servers. libunbound 1.17
 * ignores "nodefault" set through ub_ctx_set_option, so the default zone
 * is replaced by a transparent one without data, which resolves every
 * question. They cannot have a chain of trust from the root (which says
 * they do not exist), so they are insecure unless a trust anchor of
 * dns_trust_anchor covers them (anchors override domain-insecure). */
static const char *const lab_zones[] = {
	"test.", "example.",
	/* The reverse zones of private addresses (RFC 1918, RFC 4193): a
	 * LAN's own DNS serves them, and PTR checks there must reach it. */
	"10.in-addr.arpa.", "16.172.in-addr.arpa.", "17.172.in-addr.arpa.",
	"18.172.in-addr.arpa.", "19.172.in-addr.arpa.", "20.172.in-addr.arpa.",
	"21.172.in-addr.arpa.", "22.172.in-addr.arpa.", "23.172.in-addr.arpa.",
	"24.172.in-addr.arpa.", "25.172.in-addr.arpa.", "26.172.in-addr.arpa.",
	"27.172.in-addr.arpa.", "28.172.in-addr.arpa.", "29.172.in-addr.arpa.",
	"30.172.in-addr.arpa.", "31.172.in-addr.arpa.", "168.192.in-addr.arpa.",
	"d.f.ip6.arpa.",
};

static int set_option(struct ub_ctx *ub, const char *opt, const char *val,
		      char *err, size_t errlen)
{
	int rc = ub_ctx_set_option(ub, opt, val);

	if (rc != 0)
		snprintf(err, errlen, "libunbound option %s %s: %s", opt, val,
			 ub_strerror(rc));
	return rc != 0 ? -1 : 0;
}

static int set_servers(struct ub_ctx *ub, const struct dns_opts *o,
		       char *err, size_t errlen)
{
	char zone[64];
	int rc;

	if (o->n_servers == 0) {
		rc = ub_ctx_resolvconf(ub, NULL);
		if (rc != 0)
			snprintf(err, errlen, "/etc/resolv.conf: %s",
				 rc == UB_READFILE ? strerror(errno)
						   : ub_strerror(rc));
		return rc != 0 ? -1 : 0;
	}
	for (size_t i = 0; i < o->n_servers; i++) {
		rc = ub_ctx_set_fwd(ub, o->servers[i]);
		if (rc != 0) {
			snprintf(err, errlen, "server %s: %s", o->servers[i],
				 ub_strerror(rc));
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(lab_zones) / sizeof(lab_zones[0]); i++) {
		snprintf(zone, sizeof(zone), "%s transparent", lab_zones[i]);
		if (set_option(ub, "local-zone:", zone, err, errlen) < 0 ||
		    set_option(ub, "domain-insecure:", lab_zones[i], err,
			       errlen) < 0)
			return -1;
	}
	return 0;
}

/* A trust anchor file holds at least one DS or DNSKEY record: libunbound
 * takes a file without any, and would then validate nothing. */
static int anchor_has_keys(const char *path, char *err, size_t errlen)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *save = NULL;

		line[strcspn(line, ";")] = '\0';
		for (char *w = strtok_r(line, " \t\r\n", &save); w != NULL && !found;
		     w = strtok_r(NULL, " \t\r\n", &save))
			found = strcasecmp(w, "DS") == 0 ||
				strcasecmp(w, "DNSKEY") == 0;
	}
	fclose(f);
	if (!found)
		snprintf(err, errlen, "no DS or DNSKEY record in it");
	return found ? 0 : -1;
}

/* libunbound reads the anchors when it first needs its configuration;
 * make that happen now, so that a bad file is an error of dns_new (or of
 * kantorpos check) and not of the first query. Removing a zone that does
 * not exist is the call that does it and nothing else. libunbound says
 * what was wrong on its log: that is caught and its first error kept. */
static int finalize(struct ub_ctx *ub, char *err, size_t errlen)
{
	char *log = NULL, *e;
	size_t loglen = 0;
	FILE *f = open_memstream(&log, &loglen);
	int rc;

	if (f != NULL)
		ub_ctx_debugout(ub, f);
	rc = ub_ctx_zone_remove(ub, "kantorpos-finalize.invalid.");
	if (f != NULL) {
		ub_ctx_debugout(ub, stderr);
		fclose(f);
	}
	if (rc != 0) {
		e = log != NULL ? strstr(log, "error: ") : NULL;
		if (e != NULL)
			snprintf(err, errlen, "%.*s", (int)strcspn(e + 7, "\n"), e + 7);
		else
			snprintf(err, errlen, "libunbound: %s", ub_strerror(rc));
	}
	free(log);
	return rc != 0 ? -1 : 0;
}

static int set_anchor(struct ub_ctx *ub, const char *path, char *err,
		      size_t errlen)
{
	char why[512];
	int rc;

	if (path == NULL)
		return 0;
	if (anchor_has_keys(path, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "trust anchor %s: %s", path, why);
		return -1;
	}
	rc = ub_ctx_add_ta_file(ub, path);
	if (rc != 0)
		snprintf(err, errlen, "trust anchor %s: %s", path, ub_strerror(rc));
	return rc != 0 ? -1 : 0;
}

/* A context on base, ready to resolve: caches kept small (the answers
 * kantorpos repeats are few: MX hosts, TLSA, blocklists), its servers and
 * anchors. */
static struct ub_ctx *context(const struct dns_opts *o,
			      struct ub_event_base *base, char *err,
			      size_t errlen)
{
	struct ub_ctx *ub = ub_ctx_create_ub_event(base);

	if (ub == NULL) {
		snprintf(err, errlen, "libunbound: cannot create a context");
		return NULL;
	}
	if (set_option(ub, "msg-cache-size:", "1m", err, errlen) < 0 ||
	    set_option(ub, "rrset-cache-size:", "2m", err, errlen) < 0 ||
	    set_option(ub, "key-cache-size:", "1m", err, errlen) < 0 ||
	    set_option(ub, "neg-cache-size:", "512k", err, errlen) < 0 ||
	    set_servers(ub, o, err, errlen) < 0 ||
	    set_anchor(ub, o->trust_anchor, err, errlen) < 0 ||
	    finalize(ub, err, errlen) < 0) {
		ub_ctx_delete(ub);
		return NULL;
	}
	return ub;
}

int dns_check_anchor(const char *path, char *err, size_t errlen)
{
	struct ub_ctx *ub;
	int rc;

	if (anchor_has_keys(path, err, errlen) < 0)
		return -1;
	ub = ub_ctx_create();
	if (ub == NULL) {
		snprintf(err, errlen, "libunbound: cannot create a context");
		return -1;
	}
	rc = ub_ctx_add_ta_file(ub, path);
	if (rc != 0)
		snprintf(err, errlen, "%s", ub_strerror(rc));
	else
		rc = finalize(ub, err, errlen);
	ub_ctx_delete(ub);
	return rc != 0 ? -1 : 0;
}

/* ---- queries ---- */

static void detach(struct dns_query *q)
{
	struct dns *d = q->d;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		d->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
	ev_timer_stop(d->loop, &q->timer);
}

/* Forget q: libunbound first, unless it has answered already. */
static void query_free(struct dns_query *q)
{
	if (!q->answered)
		ub_cancel(q->d->ub, q->id);
	detach(q);
	free(q->msg);
	free(q->why);
	free(q);
}

/* An answer without records (timeout, libunbound's error, BOGUS). */
static void answer_empty(const struct dns_query *q, struct dns_answer *a,
			 enum dns_status status, const char *why)
{
	memset(a, 0, sizeof(*a));
	a->status = status;
	a->type = q->type;
	a->why = why;
}

/* The answer libunbound gave q. Only NOERROR and NXDOMAIN come with a
 * message worth reading: with any other RCODE libunbound's buffer may
 * still hold an earlier reply. */
static void answer_of(const struct dns_query *q, struct dns_answer *a)
{
	if (!q->answered)
		answer_empty(q, a, DNS_TEMPFAIL, "no answer in time");
	else if (q->oom)
		answer_empty(q, a, DNS_TEMPFAIL, "out of memory");
	else if (q->sec == UB_SEC_BOGUS)
		answer_empty(q, a, DNS_BOGUS, q->why != NULL ? q->why
					      : "DNSSEC validation failed");
	else if (q->rcode != 0 && q->rcode != 3)
		answer_empty(q, a, DNS_TEMPFAIL, dns_rcode_why((unsigned)q->rcode));
	else if (q->msg == NULL)
		answer_empty(q, a, DNS_TEMPFAIL, "no answer");
	else
		dns_parse(q->msg, q->len, q->type, a);
	if (a->status != DNS_TEMPFAIL && a->status != DNS_BOGUS)
		a->security = q->sec == UB_SEC_SECURE ? DNS_SECURE : DNS_INSECURE;
	snprintf(a->qname, sizeof(a->qname), "%s", q->name);
	if (a->status == DNS_TEMPFAIL || a->status == DNS_BOGUS)
		snprintf(a->canon, sizeof(a->canon), "%s", q->name);
}

/* The query's timer: its answer is in, or its time is up. */
static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dns_query *q = w->data;
	struct dns_answer a;

	(void)loop;
	(void)revents;
	answer_of(q, &a);
	if (!q->answered)
		ub_cancel(q->d->ub, q->id);
	q->answered = true;
	detach(q);
	q->cb(q->arg, &a);
	dns_answer_free(&a);
	free(q->msg);
	free(q->why);
	free(q);
}

/* libunbound's callback: keep the answer, deliver it from the loop. */
static void on_result(void *arg, int rcode, void *msg, int len, int sec,
		      char *why_bogus, int was_ratelimited)
{
	struct dns_query *q = arg;

	(void)was_ratelimited;
	q->answered = true;
	q->rcode = rcode;
	q->sec = sec;
	if ((rcode == 0 || rcode == 3) && msg != NULL && len > 0) {
		q->msg = malloc((size_t)len);
		if (q->msg != NULL) {
			memcpy(q->msg, msg, (size_t)len);
			q->len = (size_t)len;
		}
		q->oom = q->msg == NULL;
	}
	if (why_bogus != NULL && (q->why = strdup(why_bogus)) == NULL)
		q->oom = true;
	ev_timer_stop(q->d->loop, &q->timer);
	ev_timer_set(&q->timer, 0., 0.);
	ev_timer_start(q->d->loop, &q->timer);
}

struct dns *dns_new(struct ev_loop *loop, const struct dns_opts *opts,
		    char *err, size_t errlen)
{
	struct dns *d = calloc(1, sizeof(*d));

	if (d == NULL || (d->base = dns_event_base_new(loop)) == NULL) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		free(d);
		return NULL;
	}
	d->ub = context(opts, d->base, err, errlen);
	if (d->ub == NULL) {
		dns_event_base_free(d->base);
		free(d);
		return NULL;
	}
	d->loop = loop;
	d->timeout = opts->timeout > 0 ? opts->timeout : DNS_DEFAULT_TIMEOUT;
	return d;
}

bool dns_idle(const struct dns *d)
{
	return d->queries == NULL;
}

void dns_free(struct dns *d)
{
	if (d == NULL)
		return;
	while (d->queries != NULL)
		query_free(d->queries);
	ub_ctx_delete(d->ub);
	dns_event_base_free(d->base);
	free(d);
}

struct dns_query *dns_lookup(struct dns *d, const char *name,
			     enum dns_type type, dns_cb *cb, void *arg)
{
	struct dns_query *q = calloc(1, sizeof(*q));
	size_t n;
	int rc;

	if (q == NULL)
		return NULL;
	if (type == DNS_T_PTR ? dns_name_reverse(name, q->name) < 0
			      : !dns_name_ok(name)) {
		free(q);
		errno = EINVAL;
		return NULL;
	}
	if (type != DNS_T_PTR) {
		n = strlen(name);
		snprintf(q->name, sizeof(q->name), "%.*s",
			 (int)(name[n - 1] == '.' ? n - 1 : n), name);
	}
	q->d = d;
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	ev_timer_init(&q->timer, on_timer, d->timeout, 0.);
	q->timer.data = q;
	ev_timer_start(d->loop, &q->timer);
	rc = ub_resolve_event(d->ub, q->name, (int)type, 1, q, on_result, &q->id);
	if (rc != 0) {
		ev_timer_stop(d->loop, &q->timer);
		free(q->msg);
		free(q->why);
		free(q);
		errno = rc == UB_NOMEM ? ENOMEM : EIO;
		return NULL;
	}
	q->next = d->queries;
	if (q->next != NULL)
		q->next->prev = q;
	d->queries = q;
	return q;
}

void dns_cancel(struct dns_query *q)
{
	if (q != NULL)
		query_free(q);
}
