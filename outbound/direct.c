/* outbound/direct.c: direct delivery on the loop (outbound/direct.h) —
 * items of the direct route, their MX plans and MTA-STS policies, the
 * targets (outbound/dtarget.h) they wait at, the one choice of TLS per
 * target, the pool jobs that scan, lock and record, and the interface.
 * The sessions that carry the items are outbound/direct_session.h's. */
#include "autoconf.h"

#include "outbound/direct.h"

#include "common/base/log.h"
#include "common/config/config.h"
#include "common/dns/dns.h"
#include "common/net/net.h"
#include "common/net/worker.h"
#include "outbound/direct_session.h"
#include "outbound/tlspolicy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

/* Addresses of this host kept for the loop check, at most. */
#define DIRECT_SELF_ADDRS 64

struct direct {
	struct dsess_env env;    /* first: the sessions' part */
	struct direct_opts o;
	struct mxcache *mx;
	struct mtasts *sts;      /* NULL: mta_sts no, or no resolver */
	struct hmap items;       /* struct ditem by id */
	size_t n_items;
	size_t jobs;
	bool scanning, rescan, rescan_due_only;
};

static struct direct *of_env(struct dsess_env *e)
{
	return (struct direct *)(void *)e;
}

static void next_target(struct ditem *item);


static void maybe_idle(struct direct *d)
{
	if (direct_busy(d) == 0 && d->o.idle != NULL)
		d->o.idle(d->o.arg);
}

/* ---- the TLS of a target: the one place that decides it ---- */

/* The TLS of an attempt at the item's MX host mt->host: outbound_tls, the
 * host's TLSA records and the domain's MTA-STS policy
 * (outbound/tlspolicy.h). */
static void tls_for(const struct ditem *item, const struct mx_target *mt,
		    struct tlsp_out *out)
{
	struct tlsp_in in = {
		.mode = item->d->env.cfg->outbound_tls,
		.host = mxcache_dane(item->dom, mt->host),
		.mx_name = mxcache_hosts(item->dom)->host[mt->host].name,
		.domain = item->domain,
		.sts = item->sts_mode == MTASTS_ENFORCE ? TLSP_STS_ENFORCE
		       : item->sts_mode == MTASTS_TESTING ? TLSP_STS_TESTING
							  : TLSP_STS_NONE,
	};

	tlsp_decide(&in, out);
}

/* ---- the id table ---- */

#define ITEM_OF(n) ((struct ditem *)(void *)((char *)(n) - \
					      offsetof(struct ditem, node)))
static uint32_t id_hash(const char *id)
{
	return hmap_hash(id, strlen(id), HMAP_SEED);
}

static struct ditem *find_item(struct direct *d, const char *id)
{
	for (struct hmap_node *n = hmap_first(&d->items, id_hash(id));
	     n != NULL; n = hmap_next(n))
		if (strcmp(ITEM_OF(n)->id, id) == 0)
			return ITEM_OF(n);
	return NULL;
}

/* The item is done with for now (delivered, deferred, bounced, skipped):
 * out of the table; the queue keeps what is left of it. */
static void forget(struct ditem *item)
{
	struct direct *d = item->d;

	hmap_remove(&d->items, &item->node);
	if (item->dom != NULL)
		mxcache_put(item->dom, &item->wait);
	if (item->sts_waiting)
		mtasts_unwait(d->sts, &item->swait);
	free(item->sts);
	if (item->it != NULL)
		queue_item_release(item->it);
	d->n_items--;
	free(item);
}

/* ---- pool jobs ---- */

static struct djob *new_job(struct direct *d, enum djob_kind kind,
			    struct ditem *item)
{
	struct djob *j = calloc(1, sizeof(*j));

	if (j != NULL) {
		j->kind = kind;
		j->d = d;
		j->item = item;
	}
	return j;
}

static int scan_one(const struct queue_env *env, void *arg)
{
	struct djob *j = arg;

	if (outb_route_of(j->ctx.cfg, env->domain, NULL) != OUTB_ROUTE_DIRECT ||
	    queue_env_pending(env) == 0 ||
	    (j->due_only && env->next_attempt > j->ctx.now) ||
	    (j->domain != NULL &&
	     !queue_domain_match(env->domain, j->domain, false)))
		return 0;
	if (j->n_hits == j->cap_hits) {
		size_t cap = j->cap_hits ? 2 * j->cap_hits : 16;
		struct dhit *grown = realloc(j->hits, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		j->hits = grown;
		j->cap_hits = cap;
	}
	snprintf(j->hits[j->n_hits].id, sizeof(j->hits[0].id), "%s", env->id);
	snprintf(j->hits[j->n_hits].domain, sizeof(j->hits[0].domain), "%s",
		 env->domain);
	j->n_hits++;
	return 0;
}

static void job_run(void *arg)
{
	struct djob *j = arg;

	switch (j->kind) {
	case DJ_SCAN:
		j->rc = queue_walk(j->ctx.q, NULL, false, scan_one, j);
		break;
	case DJ_TAKE:
		j->rc = outb_item_take(&j->ctx, j->item->id, j->item->due_only,
					&j->it, &j->kick);
		break;
	case DJ_RECORD:
		j->rc = outb_item_record(&j->ctx, j->it, j->map, j->replies, j->n,
					  j->remote, &j->kick);
		j->it = NULL;
		break;
	case DJ_DEFER:
		j->rc = outb_item_defer(&j->ctx, j->item->id, j->text, &j->kick);
		break;
	case DJ_SETTLE:
		j->rc = outb_item_reply_all(&j->ctx, j->item->id, j->code,
					     j->text, &j->kick);
		break;
	}
}

static void job_done(void *arg);

static int submit(struct direct *d, struct djob *j)
{
	j->ctx = (struct outb_ctx){ .cfg = d->env.cfg, .q = d->o.q, .db = d->o.db,
				     .now = dsess_now(&d->env) };
	if (j->item != NULL)
		j->ctx.tls_mode = j->item->last_tls;
	if (worker_submit(d->o.pool, job_run, job_done, j) < 0) {
		log_warn("direct: cannot start a job");
		return -1;
	}
	d->jobs++;
	return 0;
}

/* ---- items ---- */

/* Defer (code 0) or settle with a reply every pending recipient, on the
 * pool; the item is forgotten when that is done. */
static void item_finish(struct ditem *item, int code, const char *text)
{
	struct djob *j = new_job(item->d, code == 0 ? DJ_DEFER : DJ_SETTLE,
				 item);

	if (j == NULL) {
		forget(item); /* stays queued as it was: retried later */
		return;
	}
	j->code = code;
	snprintf(j->text, sizeof(j->text), "%s", text);
	item->in_job = true;
	if (submit(item->d, j) < 0) {
		free(j);
		forget(item);
	}
}

/* Every target was tried (or is down): bounce with the last reply when
 * all of them greeted with 5xx, else defer with the last error. */
static void item_exhausted(struct ditem *item)
{
	if (item->all_5xx && item->n_5xx > 0)
		item_finish(item, item->last_code, item->last);
	else
		item_finish(item, 0, item->last[0] != '\0'
					     ? item->last
					     : "no MX host could be reached");
}

/* ---- MTA-STS (RFC 8461) for an item ---- */

/* Apply the domain's policy to the plan. enforce: targets whose MX host
 * matches no pattern are dropped (§4.2), the rest need verified TLS;
 * testing: nothing dropped, mismatches logged (and the policy kept, so
 * that a session's report names them). 0, or -1 when enforce
 * leaves no target (the item is deferred then). */
static int sts_filter(struct ditem *item)
{
	const struct mx_hosts *hosts = mxcache_hosts(item->dom);
	size_t kept = 0;
	char why[SMTPC_TEXT_MAX];

	if (item->sts == NULL)
		return 0;
	item->sts_mode = item->sts->mode;
	log_info("direct: %s to %s: mta-sts %s", item->id, item->domain,
		 mtasts_mode_name(item->sts_mode));
	for (size_t i = 0; i < item->plan.n; i++) {
		const char *name = hosts->host[item->plan.t[i].host].name;

		if (mtasts_mx_match(item->sts, name))
			item->plan.t[kept++] = item->plan.t[i];
		else if (item->sts_mode == MTASTS_ENFORCE)
			log_info("direct: %s: MX %s does not match the MTA-STS "
				 "policy of %s: not used", item->id, name,
				 item->domain);
		else
			log_info("direct: %s: MX %s does not match the MTA-STS "
				 "policy of %s (testing)", item->id, name,
				 item->domain);
	}
	if (item->sts_mode != MTASTS_ENFORCE)
		return 0; /* testing: the patterns stay for the TLS reports */
	free(item->sts); /* every MX left matches */
	item->sts = NULL;
	item->plan.n = kept;
	if (kept > 0)
		return 0;
	snprintf(why, sizeof(why), "no MX host of %s matches its MTA-STS policy",
		 item->domain);
	item_finish(item, 0, why);
	return -1;
}

static void item_plan(struct ditem *item)
{
	if (!item->dom_ready || !item->sts_ready)
		return; /* the other lookup calls again */
	mxcache_plan(item->dom, &item->plan);
	if (item->plan.o.verdict != MX_GO) {
		item_finish(item, atoi(item->plan.o.reply), item->plan.o.reply);
		return;
	}
	if (sts_filter(item) < 0)
		return;
	item->pos = 0;
	next_target(item);
}

/* The policy came (p NULL: none applies); copied until the plan. */
static bool sts_take(struct ditem *item, const struct mtasts_policy *p)
{
	item->sts_ready = true;
	if (p == NULL)
		return true;
	if ((item->sts = malloc(sizeof(*item->sts))) == NULL)
		return false;
	*item->sts = *p;
	return true;
}

static void sts_known(struct mtswait *w, const struct mtasts_policy *p)
{
	struct ditem *item = (struct ditem *)(void *)((char *)w -
						      offsetof(struct ditem, swait));

	item->sts_waiting = false;
	if (item->d->env.shut) {
		forget(item);
	} else if (!sts_take(item, p)) {
		item_finish(item, 0, "out of memory");
	} else {
		item_plan(item);
	}
}

/* Ask for the domain's policy alongside its MX lookups. 0, or -1 when
 * out of memory. */
static int sts_start(struct ditem *item)
{
	const struct mtasts_policy *p;
	int rc;

	if (item->d->sts == NULL) {
		item->sts_ready = true;
		return 0;
	}
	item->swait.fn = sts_known;
	rc = mtasts_get(item->d->sts, item->domain, &item->swait, &p);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		item->sts_waiting = true;
		return 0;
	}
	return sts_take(item, p) ? 0 : -1;
}

static void dom_resolved(struct mxwait *w, struct mxdom *dom)
{
	struct ditem *item = (struct ditem *)(void *)((char *)w -
						      offsetof(struct ditem, wait));

	(void)dom;
	if (item->d->env.shut) {
		forget(item);
		return;
	}
	item->dom_ready = true;
	item_plan(item);
}

static void new_item(struct direct *d, const struct dhit *hit, bool due_only)
{
	struct ditem *item = calloc(1, sizeof(*item));
	int rc;

	if (item == NULL)
		return;
	item->d = d;
	memcpy(item->id, hit->id, sizeof(item->id));
	memcpy(item->domain, hit->domain, sizeof(item->domain));
	item->due_only = due_only;
	item->all_5xx = true;
	item->wait.fn = dom_resolved;
	if (hmap_insert(&d->items, &item->node, id_hash(item->id)) < 0) {
		free(item);
		return;
	}
	d->n_items++;
	if (sts_start(item) < 0) {
		forget(item);
		return;
	}
	rc = mxcache_get(d->mx, item->domain, &item->wait, &item->dom);
	if (rc < 0) {
		item->dom = NULL;
		forget(item);
	} else if (rc == 1) {
		item->dom_ready = true;
		item_plan(item);
	}
}

/* ---- an item at its targets ---- */

/* This target failed the item (why; code is the reply that did, 0 for
 * none): on to the next. */
static void item_failed(struct ditem *item, int code, const char *why)
{
	if (code / 100 == 5) {
		item->n_5xx++;
		item->last_code = code;
	} else {
		item->all_5xx = false;
	}
	snprintf(item->last, sizeof(item->last), "%s", why);
	item->pos++;
	next_target(item);
}

static void next_target(struct ditem *item)
{
	struct direct *d = item->d;

	if (d->env.shut) {
		forget(item); /* stays queued as it is */
		return;
	}
	while (item->pos < item->plan.n) {
		const struct mx_target *mt = &item->plan.t[item->pos];
		const char *name = mxcache_hosts(item->dom)->host[mt->host].name;
		const char *down = dtargets_down(&d->env.targets, &mt->addr,
						 dsess_now(&d->env));
		struct dtarget *t;
		struct tlsp_out tls;

		tls_for(item, mt, &tls);
		if (down == NULL)
			item->last_tls = tls.mode_name;
		if (down == NULL && !tls.use)
			log_info("direct: id=%s domain=%s mx=%s tls=%s "
				 "tlsrpt=%s policy=tlsa", item->id,
				 item->domain, name, tls.mode_name,
				 tlsrpt_tlsa_failed());
		if (down != NULL || !tls.use) {
			/* Down, or DANE cannot say how to reach it. */
			item->all_5xx = false;
			snprintf(item->last, sizeof(item->last), "%s",
				 down != NULL ? down : tls.why);
			item->pos++;
			continue;
		}
		if ((t = dtarget_get(&d->env.targets, name, &mt->addr, &tls)) ==
		    NULL) {
			item_finish(item, 0, "out of memory");
			return;
		}
		t->owner = &d->env;
		dsess_enqueue(t, item, false);
		dsess_pump(t);
		return;
	}
	item_exhausted(item);
}


static void scan_done(struct djob *j)
{
	struct direct *d = j->d;

	d->scanning = false;
	if (j->rc < 0)
		log_warn("direct: queue scan failed");
	for (size_t i = 0; i < j->n_hits && !d->env.shut; i++)
		if (find_item(d, j->hits[i].id) == NULL)
			new_item(d, &j->hits[i], j->due_only);
	if (d->rescan && !d->env.shut) {
		d->rescan = false;
		direct_flush(d, NULL, d->rescan_due_only);
	}
}

static void job_done(void *arg)
{
	struct djob *j = arg;
	struct direct *d = j->d;

	d->jobs--;
	switch (j->kind) {
	case DJ_SCAN:
		scan_done(j);
		break;
	case DJ_TAKE:
		dsess_take_done(j);
		break;
	case DJ_RECORD:
		dsess_record_done(j);
		break;
	case DJ_DEFER:
	case DJ_SETTLE:
		if (j->kind == DJ_DEFER || j->code / 100 != 5)
			d->env.deferred++;
		else
			d->env.bounced++;
		forget(j->item);
		break;
	}
	if (j->kick != 0 && d->o.kick != NULL && !d->env.shut)
		d->o.kick(d->o.arg, j->kick);
	free(j->domain);
	free(j->hits);
	free(j->map);
	free(j->replies);
	if (j->it != NULL)
		queue_item_release(j->it);
	free(j);
	maybe_idle(d);
}

/* ---- this host ---- */

static void add_self_addr(struct dns_addr *addrs, size_t *n,
			  const struct sockaddr *sa)
{
	struct dns_addr a = { .family = sa->sa_family };

	if (*n >= DIRECT_SELF_ADDRS)
		return;
	if (sa->sa_family == AF_INET)
		memcpy(a.addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(a.addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	else
		return;
	addrs[(*n)++] = a;
}

/* The addresses kantorpos takes mail on at outbound_port: those of its
 * listen lines, every interface's for a wildcard one. */
static size_t self_addrs(const struct config *cfg, struct dns_addr *addrs)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct config_listen *l = &cfg->listeners[i];
		struct addrinfo *res;

		if (l->proto != CONFIG_PROTO_SMTP || l->port != cfg->outbound_port)
			continue;
		if (l->addr == CONFIG_ADDR_ANY) {
			struct ifaddrs *ifs, *ifa;

			if (getifaddrs(&ifs) < 0)
				continue;
			for (ifa = ifs; ifa != NULL; ifa = ifa->ifa_next)
				if (ifa->ifa_addr != NULL)
					add_self_addr(addrs, &n, ifa->ifa_addr);
			freeifaddrs(ifs);
		} else if (l->host != NULL &&
			   net_resolve_literal(l->host, l->port, &res) == 1) {
			add_self_addr(addrs, &n, res->ai_addr);
			freeaddrinfo(res);
		}
	}
	return n;
}

/* The MTA-STS cache, under DATA/queue/mta-sts (mta_sts yes and a
 * resolver); a policy fetch may take outbound_timeout when that is set.
 * 0, or -1 when out of memory. */
static int sts_new(struct direct *d)
{
	char dir[4096];
	struct mtasts_opts o = {
		.loop = d->o.loop, .pool = d->o.pool, .dns = d->o.dns,
		.verify_ctx = d->o.verify_ctx, .dir = dir,
		.port = (unsigned)d->env.cfg->mta_sts_port,
		.fetch_timeout = (double)d->env.cfg->outbound_timeout,
		.clock = d->o.clock, .clock_arg = d->o.clock_arg,
	};

	if (!d->env.cfg->mta_sts || d->o.dns == NULL || d->o.verify_ctx == NULL ||
	    d->env.cfg->data_dir == NULL)
		return 0;
	snprintf(dir, sizeof(dir), "%s/queue/mta-sts", d->env.cfg->data_dir);
	d->sts = mtasts_new(&o);
	return d->sts != NULL ? 0 : -1;
}

/* ---- what the sessions call back ---- */

static void op_idle(struct dsess_env *e)
{
	maybe_idle(of_env(e));
}

static struct djob *op_new_job(struct dsess_env *e, enum djob_kind kind,
			       struct ditem *item)
{
	return new_job(of_env(e), kind, item);
}

static int op_submit(struct dsess_env *e, struct djob *j)
{
	return submit(of_env(e), j);
}

static const struct dsess_ops direct_ops = {
	.idle = op_idle,
	.forget = forget,
	.new_job = op_new_job,
	.submit = op_submit,
	.item_failed = item_failed,
};

/* ---- the interface ---- */

struct direct *direct_new(const struct direct_opts *o, char *err,
			  size_t errlen)
{
	struct direct *d = calloc(1, sizeof(*d));
	struct dns_addr addrs[DIRECT_SELF_ADDRS];
	const char *names[2];
	struct mx_self self = { .names = names, .addrs = addrs };

	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->o = *o;
	d->env = (struct dsess_env){
		.loop = o->loop, .pool = o->pool, .verify_ctx = o->verify_ctx,
		.any_ctx = o->any_ctx, .clock = o->clock,
		.clock_arg = o->clock_arg, .cfg = o->cfg, .ops = &direct_ops,
	};
	hmap_init(&d->items);
	dtargets_init(&d->env.targets);
	names[self.n_names++] = config_outbound_helo(d->env.cfg);
	if (d->env.cfg->hostname != NULL)
		names[self.n_names++] = d->env.cfg->hostname;
	self.n_addrs = self_addrs(d->env.cfg, addrs);
	d->mx = mxcache_new(o->loop, o->dns, &self,
			    (size_t)d->env.cfg->outbound_address_limit,
			    d->env.cfg->outbound_tls,
			    (unsigned)d->env.cfg->outbound_port);
	if (d->mx == NULL || sts_new(d) < 0) {
		snprintf(err, errlen, "out of memory");
		mxcache_free(d->mx);
		free(d);
		return NULL;
	}
	return d;
}

int direct_flush(struct direct *d, const char *domain, bool due_only)
{
	struct djob *j;

	if (d->env.shut) {
		errno = ECANCELED;
		return -1;
	}
	if (d->scanning) {
		d->rescan_due_only = d->rescan ? d->rescan_due_only && due_only
					       : due_only;
		d->rescan = true;
		return 0;
	}
	if ((j = new_job(d, DJ_SCAN, NULL)) == NULL)
		return -1;
	j->due_only = due_only;
	if (domain != NULL && (j->domain = strdup(domain)) == NULL) {
		free(j);
		return -1;
	}
	if (submit(d, j) < 0) {
		free(j->domain);
		free(j);
		return -1;
	}
	d->scanning = true;
	return 1;
}

size_t direct_busy(const struct direct *d)
{
	return d->jobs + d->n_items + d->env.n_sessions + (d->scanning ? 1 : 0) +
	       mxcache_resolving(d->mx) +
	       (d->sts != NULL ? mtasts_busy(d->sts) : 0);
}

void direct_shutdown(struct direct *d)
{
	if (d->env.shut)
		return;
	d->env.shut = true;
	if (d->sts != NULL)
		mtasts_shutdown(d->sts);
	for (struct dsess *s = d->env.sessions; s != NULL; s = s->next)
		if (s->s != NULL)
			smtpc_abort(s->s, "shutting down");
	/* Items waiting for a lookup or a session stay queued as they are. */
	struct hmap_node *n, *next;
	size_t pos = 0;

	for (n = hmap_walk(&d->items, &pos, NULL); n != NULL; n = next) {
		struct ditem *item = ITEM_OF(n);

		next = hmap_walk(&d->items, &pos, n);
		if (item->sess != NULL || item->in_job)
			continue;
		if (item->at != NULL) {
			dtarget_unlink(item->at, &item->link);
			item->at = NULL;
		}
		forget(item);
	}
}

void direct_free(struct direct *d)
{
	if (d == NULL)
		return;
	dtargets_free(&d->env.targets);
	hmap_free(&d->items);
	mxcache_free(d->mx);
	mtasts_free(d->sts);
	free(d);
}

void direct_get_stats(const struct direct *d, struct direct_stats *st_r)
{
	*st_r = (struct direct_stats){ .sent = d->env.sent,
				       .deferred = d->env.deferred,
				       .bounced = d->env.bounced,
				       .sessions_failed = d->env.sessions_failed };
}
