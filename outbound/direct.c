/* outbound/direct.c: direct delivery on the loop (outbound/direct.h) —
 * items of the direct route, the targets (MX host addresses) they wait
 * at, the sessions that carry them, the cache of targets that are down,
 * the one choice of TLS per target, and the pool jobs that scan, lock
 * and record. */
#include "autoconf.h"

#include "outbound/direct.h"

#include "common/base/log.h"
#include "common/client/smtpclient.h"
#include "common/config/config.h"
#include "common/dns/dns.h"
#include "common/net/net.h"
#include "common/net/worker.h"
#include "outbound/items.h"
#include "outbound/mtasts.h"
#include "outbound/mxcache.h"
#include "outbound/tlspolicy.h"
#include "store/queue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ev.h>

#define DIRECT_BUCKETS 1024
/* Addresses of this host kept for the loop check, at most. */
#define DIRECT_SELF_ADDRS 64

struct dtarget;
struct dsess;

struct ditem {
	struct direct *d;
	struct ditem *next;      /* in its target's queue */
	struct ditem *hnext;     /* in the id table */
	char id[QUEUE_ID_MAX + 1];
	char domain[DNS_NAME_MAX + 1];
	bool due_only;
	struct mxdom *dom;
	struct mxwait wait;
	bool dom_ready;          /* the MX lookups are done */
	struct mtswait swait;    /* the MTA-STS policy of the domain */
	bool sts_waiting, sts_ready;
	struct mtasts_policy *sts; /* until the plan: a copy, NULL: none */
	enum mtasts_mode sts_mode; /* MTASTS_NONE: no policy applies */
	struct mx_plan plan;
	size_t pos;              /* the target being tried */
	bool all_5xx;            /* every target tried greeted with 5xx */
	size_t n_5xx;
	int last_code;
	char last[SMTPC_TEXT_MAX]; /* the last error, or 5xx reply */
	struct dtarget *at;      /* whose queue holds it */
	struct dsess *sess;      /* whose session carries it */
	bool in_job;             /* a defer or settle job has it */
	bool again;              /* 452 to some, 2xx to others: the rest
				  * goes in a new transaction at once */
	struct queue_item *it;   /* locked while a session sends it */
	const char *last_tls;    /* the TLS mode of the last target tried */
};

/* An address of an MX host: its queue of items and its sessions. */
struct dtarget {
	struct direct *d;
	struct dtarget *next;
	char name[DNS_NAME_MAX + 1];
	struct dns_addr addr;
	char text[NET_ADDRSTRLEN];
	struct tlsp_target tls;  /* its TLS: part of what it is */
	struct ditem *head, *tail;
	size_t waiting, carried, sessions;
};

/* A target that gave no reply at all, skipped until `until`. */
struct ddown {
	struct ddown *next;
	struct dns_addr addr;
	time_t until;
	char why[SMTPC_TEXT_MAX];
};

struct dsess {
	struct direct *d;
	struct dtarget *t;
	struct dsess *next;
	struct smtpc *s;
	struct ditem *cur;
	bool ready, busy, closed, greeted_logged;
	bool answered;           /* a transaction got real replies */
	bool moved_on;           /* closed early: its items went on */
	int why_code;
	char why[SMTPC_TEXT_MAX];
	void *dsn;                /* the message's RFC 3461 values */
	const char **rcpts;
	size_t *map;
};

struct direct {
	struct direct_opts o;
	const struct config *cfg;
	struct mxcache *mx;
	struct mtasts *sts;      /* NULL: mta_sts no, or no resolver */
	struct ditem *table[DIRECT_BUCKETS];
	size_t n_items;
	struct dtarget *targets;
	struct dsess *sessions;
	size_t n_sessions;
	struct ddown *down;
	size_t jobs;
	bool scanning, rescan, rescan_due_only, shut;
	struct direct_stats stats;
};

enum djob_kind { DJ_SCAN, DJ_TAKE, DJ_RECORD, DJ_DEFER, DJ_SETTLE };

struct dhit {
	char id[QUEUE_ID_MAX + 1];
	char domain[DNS_NAME_MAX + 1];
};

struct djob {
	enum djob_kind kind;
	struct direct *d;
	struct outb_ctx ctx;
	char *domain;            /* SCAN filter */
	bool due_only;
	struct dhit *hits;       /* SCAN result */
	size_t n_hits, cap_hits;
	struct ditem *item;
	struct queue_item *it;
	size_t *map;
	struct smtpc_reply *replies;
	size_t n;
	char remote[DNS_NAME_MAX + 1];
	int code;                /* SETTLE */
	char text[SMTPC_TEXT_MAX]; /* DEFER, SETTLE */
	int rc;
	unsigned kick;
};

static void next_target(struct ditem *item);
static void target_pump(struct dtarget *t);
static void sess_next(struct dsess *sess);
static void s_ready(struct smtpc *s, void *arg);
static void s_result(struct smtpc *s, void *arg,
		     const struct smtpc_reply *replies, size_t n);
static void s_close(struct smtpc *s, void *arg, const char *error,
		    const struct smtpc_reply *last);

static const struct smtpc_cb direct_smtpc_cb = {
	.on_ready = s_ready,
	.on_result = s_result,
	.on_close = s_close,
};

static time_t now(const struct direct *d)
{
	return d->o.clock != NULL ? d->o.clock(d->o.clock_arg) : time(NULL);
}

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
		.mode = item->d->cfg->outbound_tls,
		.host = mxcache_dane(item->dom, mt->host),
		.mx_name = mxcache_hosts(item->dom)->host[mt->host].name,
		.domain = item->domain,
		.sts = item->sts_mode == MTASTS_ENFORCE ? TLSP_STS_ENFORCE
		       : item->sts_mode == MTASTS_TESTING ? TLSP_STS_TESTING
							  : TLSP_STS_NONE,
	};

	tlsp_decide(&in, out);
}

/* The DANE and MTA-STS modes name themselves in a failure: "dane: TLS
 * is ...". */
static void tls_reason(const struct dtarget *t, const char *error,
		       char *buf, size_t len)
{
	if (t->tls.tls == SMTPC_TLS_DANE || t->tls.tls == SMTPC_TLS_ENCRYPT ||
	    strcmp(t->tls.mode_name, "mta-sts-enforce") == 0)
		snprintf(buf, len, "%s: %s", t->tls.mode_name, error);
	else
		snprintf(buf, len, "%s", error);
}

/* ---- the id table ---- */

static size_t bucket(const char *id)
{
	uint32_t h = 2166136261u;

	for (const char *p = id; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % DIRECT_BUCKETS;
}

static struct ditem *find_item(struct direct *d, const char *id)
{
	for (struct ditem *i = d->table[bucket(id)]; i != NULL; i = i->hnext)
		if (strcmp(i->id, id) == 0)
			return i;
	return NULL;
}

/* The item is done with for now (delivered, deferred, bounced, skipped):
 * out of the table; the queue keeps what is left of it. */
static void forget(struct ditem *item)
{
	struct direct *d = item->d;

	for (struct ditem **pp = &d->table[bucket(item->id)]; *pp != NULL;
	     pp = &(*pp)->hnext) {
		if (*pp == item) {
			*pp = item->hnext;
			break;
		}
	}
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
	j->ctx = (struct outb_ctx){ .cfg = d->cfg, .q = d->o.q, .db = d->o.db,
				     .now = now(d) };
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
 * testing: nothing dropped, mismatches logged. 0, or -1 when enforce
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
	free(item->sts);
	item->sts = NULL;
	if (item->sts_mode != MTASTS_ENFORCE)
		return 0;
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
	if (item->d->shut) {
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
	if (item->d->shut) {
		forget(item);
		return;
	}
	item->dom_ready = true;
	item_plan(item);
}

static void new_item(struct direct *d, const struct dhit *hit, bool due_only)
{
	struct ditem *item = calloc(1, sizeof(*item));
	size_t b;
	int rc;

	if (item == NULL)
		return;
	item->d = d;
	memcpy(item->id, hit->id, sizeof(item->id));
	memcpy(item->domain, hit->domain, sizeof(item->domain));
	item->due_only = due_only;
	item->all_5xx = true;
	item->wait.fn = dom_resolved;
	b = bucket(item->id);
	item->hnext = d->table[b];
	d->table[b] = item;
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

/* ---- targets and the cache of those that are down ---- */

static bool same_addr(const struct dns_addr *a, const struct dns_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

static const struct ddown *down_of(struct direct *d, const struct dns_addr *a)
{
	time_t t = now(d);

	for (struct ddown **pp = &d->down; *pp != NULL;) {
		struct ddown *x = *pp;

		if (x->until <= t) {
			*pp = x->next;
			free(x);
			continue;
		}
		if (same_addr(&x->addr, a))
			return x;
		pp = &x->next;
	}
	return NULL;
}

static void mark_down(struct direct *d, const struct dtarget *t,
		      const char *why)
{
	struct ddown *x = calloc(1, sizeof(*x));

	if (x == NULL || down_of(d, &t->addr) != NULL) {
		free(x);
		return;
	}
	x->addr = t->addr;
	x->until = now(d) + (time_t)d->cfg->queue_retry_min;
	snprintf(x->why, sizeof(x->why), "%s", why);
	x->next = d->down;
	d->down = x;
	log_info("direct: %s[%s] is down for %us: %s", t->name, t->text,
		 d->cfg->queue_retry_min, why);
}

/* A target is its MX host name, its address and its TLS (DANE records,
 * MTA-STS requirement): a session never carries mail of a domain whose
 * policy it does not satisfy. */
static struct dtarget *get_target(struct direct *d, const char *name,
				  const struct dns_addr *a,
				  const struct tlsp_out *tls)
{
	struct dtarget *t;

	for (t = d->targets; t != NULL; t = t->next)
		if (same_addr(&t->addr, a) && strcasecmp(t->name, name) == 0 &&
		    tlsp_target_same(&t->tls, tls))
			return t;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (tlsp_target_copy(&t->tls, tls) < 0) {
		free(t);
		return NULL;
	}
	t->d = d;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->addr = *a;
	inet_ntop(a->family, a->addr, t->text, sizeof(t->text));
	t->next = d->targets;
	d->targets = t;
	return t;
}

/* Free a target nothing uses any more. */
static void target_release(struct dtarget *t)
{
	struct direct *d = t->d;

	if (t->waiting > 0 || t->carried > 0 || t->sessions > 0)
		return;
	for (struct dtarget **pp = &d->targets; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	tlsp_target_free(&t->tls);
	free(t);
}

static void enqueue(struct dtarget *t, struct ditem *item, bool front)
{
	item->at = t;
	item->next = NULL;
	if (front) {
		item->next = t->head;
		t->head = item;
		if (t->tail == NULL)
			t->tail = item;
	} else {
		if (t->tail != NULL)
			t->tail->next = item;
		else
			t->head = item;
		t->tail = item;
	}
	t->waiting++;
}

static struct ditem *dequeue(struct dtarget *t)
{
	struct ditem *item = t->head;

	if (item == NULL)
		return NULL;
	t->head = item->next;
	if (t->head == NULL)
		t->tail = NULL;
	item->next = NULL;
	item->at = NULL;
	t->waiting--;
	return item;
}

/* This target failed the item (why; code is the reply that did, 0 for
 * none): on to the next. */
static void item_failed_here(struct ditem *item, int code, const char *why)
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

	if (d->shut) {
		forget(item); /* stays queued as it is */
		return;
	}
	while (item->pos < item->plan.n) {
		const struct mx_target *mt = &item->plan.t[item->pos];
		const char *name = mxcache_hosts(item->dom)->host[mt->host].name;
		const struct ddown *down = down_of(d, &mt->addr);
		struct dtarget *t;
		struct tlsp_out tls;

		tls_for(item, mt, &tls);
		if (down == NULL)
			item->last_tls = tls.mode_name;
		if (down != NULL || !tls.use) {
			/* Down, or DANE cannot say how to reach it. */
			item->all_5xx = false;
			snprintf(item->last, sizeof(item->last), "%s",
				 down != NULL ? down->why : tls.why);
			item->pos++;
			continue;
		}
		if ((t = get_target(d, name, &mt->addr, &tls)) == NULL) {
			item_finish(item, 0, "out of memory");
			return;
		}
		enqueue(t, item, false);
		target_pump(t);
		return;
	}
	item_exhausted(item);
}

/* Every item waiting at t goes on to its next target. */
static void target_fail(struct dtarget *t, int code, const char *why)
{
	struct ditem *item;

	while ((item = dequeue(t)) != NULL)
		item_failed_here(item, code, why);
}

/* ---- sessions ---- */

static int sess_start(struct dtarget *t)
{
	struct direct *d = t->d;
	struct dsess *sess = calloc(1, sizeof(*sess));
	struct smtpc_opts o = {
		.host = t->text, .port = (unsigned)d->cfg->outbound_port,
		.helo = config_outbound_helo(d->cfg), .tls = t->tls.tls,
		.verify_ctx = d->o.verify_ctx, .any_ctx = d->o.any_ctx,
		.tls_name = t->name, .timeout = d->cfg->outbound_timeout,
		.bind4 = d->cfg->outbound_bind4, .bind6 = d->cfg->outbound_bind6,
		.dane_base = t->tls.base,
		.dane_names = (const char *const *)t->tls.names,
		.n_dane_names = t->tls.n_names,
		.tlsa = t->tls.rrs, .n_tlsa = t->tls.n_rrs,
	};

	if (sess == NULL)
		return -1;
	sess->d = d;
	sess->t = t;
	sess->s = smtpc_start(d->o.loop, d->o.pool, &o, &direct_smtpc_cb, sess);
	if (sess->s == NULL) {
		free(sess);
		return -1;
	}
	sess->next = d->sessions;
	d->sessions = sess;
	d->n_sessions++;
	t->sessions++;
	return 0;
}

static void sess_free(struct dsess *sess)
{
	struct direct *d = sess->d;
	struct dtarget *t = sess->t;

	for (struct dsess **pp = &d->sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == sess) {
			*pp = sess->next;
			break;
		}
	}
	free(sess->rcpts);
	free(sess->map);
	free(sess->dsn);
	free(sess);
	target_release(t);
}

/* Idle sessions to t take its waiting items; more sessions open while
 * there are more than DIRECT_PER_SESSION items a session, within the
 * per-target and global limits. */
static void target_pump(struct dtarget *t)
{
	struct direct *d = t->d;

	for (struct dsess *s = d->sessions; s != NULL && t->waiting > 0;
	     s = s->next)
		if (s->t == t && s->ready && !s->busy && !s->closed)
			sess_next(s);
	while (t->waiting > 0 && !d->shut &&
	       t->sessions < d->cfg->outbound_concurrency &&
	       d->n_sessions < d->cfg->outbound_max_sessions &&
	       t->sessions * DIRECT_PER_SESSION < t->waiting + t->carried) {
		if (sess_start(t) < 0) {
			target_fail(t, 0, "cannot start an SMTP session");
			break;
		}
	}
}

/* A session ended: targets that wait for a free slot get it. */
static void pump_all(struct direct *d)
{
	struct dtarget *t = d->targets, *next;

	for (; t != NULL && d->n_sessions < d->cfg->outbound_max_sessions;
	     t = next) {
		next = t->next;
		if (t->waiting > 0)
			target_pump(t);
	}
}

/* The session is free: its next item, or QUIT when none waits. */
static void sess_next(struct dsess *sess)
{
	struct dtarget *t = sess->t;
	struct ditem *item;
	struct djob *j;

	if (sess->busy || !sess->ready || sess->closed)
		return;
	item = sess->d->shut ? NULL : dequeue(t);
	if (item == NULL) {
		sess->ready = false;
		smtpc_quit(sess->s);
		return;
	}
	item->sess = sess;
	sess->cur = item;
	sess->busy = true;
	t->carried++;
	j = new_job(sess->d, DJ_TAKE, item);
	if (j == NULL || submit(sess->d, j) < 0) {
		free(j);
		item->sess = NULL;
		sess->cur = NULL;
		sess->busy = false;
		t->carried--;
		enqueue(t, item, true);
		sess->ready = false;
		smtpc_abort(sess->s, "cannot take the next item");
	}
}

static void s_ready(struct smtpc *s, void *arg)
{
	struct dsess *sess = arg;

	if (!sess->greeted_logged) {
		sess->greeted_logged = true;
		log_info("direct: session to %s[%s]:%llu tls=%s%s", sess->t->name,
			 sess->t->text, sess->d->cfg->outbound_port,
			 sess->t->tls.mode_name,
			 smtpc_tls_active(s) ? " (STARTTLS)" : " (plaintext)");
	}
	sess->ready = true;
	sess_next(sess);
}

/* The item the take job locked goes out on the session. */
static void sess_send(struct dsess *sess, struct ditem *item)
{
	struct smtpc_msg msg;

	free(sess->rcpts);
	free(sess->map);
	sess->rcpts = NULL;
	sess->map = NULL;
	free(sess->dsn);
	sess->dsn = NULL;
	sess->ready = false;
	if (outb_item_msg(item->it, &msg, &sess->rcpts, &sess->map) < 0 ||
	    outb_item_dsn_args(queue_item_env(item->it), sess->map,
			       msg.n_rcpts, &msg, &sess->dsn) < 0 ||
	    smtpc_send(sess->s, &msg) < 0) {
		/* Nothing sent: the item stays queued as it was. */
		sess->busy = false;
		sess->cur = NULL;
		sess->t->carried--;
		forget(item);
		smtpc_abort(sess->s, "cannot send the message");
	}
}

static void s_result(struct smtpc *s, void *arg,
		     const struct smtpc_reply *replies, size_t n)
{
	struct dsess *sess = arg;
	struct direct *d = sess->d;
	struct ditem *item = sess->cur;
	struct djob *j = new_job(d, DJ_RECORD, item);

	bool took = false, too_many = false;
	size_t n_sent = 0;

	(void)s;
	for (size_t i = 0; i < n; i++)
		n_sent += replies[i].code / 100 == 2;
	log_info("direct: id=%s relay=%s[%s] tls=%s%s: %zu of %zu recipients accepted",
		 item->id, sess->t->name, sess->t->text, sess->t->tls.mode_name,
		 smtpc_tls_active(s) ? "" : " (plaintext)", n_sent, n);
	for (size_t i = 0; i < n; i++) {
		sess->answered |= replies[i].code != 0;
		took |= replies[i].code / 100 == 2;
		too_many |= replies[i].code == 452;
		if (replies[i].code / 100 == 2)
			d->stats.sent++;
		else if (replies[i].code / 100 == 5)
			d->stats.bounced++;
		else
			d->stats.deferred++;
	}
	/* RFC 5321 4.5.3.1.10: 452 for recipients beyond the server's
	 * limit; they go again at once while others get through. */
	item->again = took && too_many;
	if (j != NULL && (j->replies = malloc((n ? n : 1) * sizeof(*replies))) != NULL) {
		memcpy(j->replies, replies, n * sizeof(*replies));
		j->n = n;
		j->it = item->it;
		j->map = sess->map;
		snprintf(j->remote, sizeof(j->remote), "%s", sess->t->name);
		if (submit(d, j) == 0) {
			item->it = NULL;
			sess->map = NULL;
			return; /* record_done goes on */
		}
	}
	/* Nothing recorded: the item stays as it was (retried). */
	if (j != NULL)
		free(j->replies);
	free(j);
	sess->busy = false;
	sess->cur = NULL;
	sess->t->carried--;
	forget(item);
	if (sess->s != NULL)
		smtpc_abort(sess->s, "cannot record the result");
}

static void s_close(struct smtpc *s, void *arg, const char *error,
		    const struct smtpc_reply *last)
{
	struct dsess *sess = arg;
	struct direct *d = sess->d;
	struct dtarget *t = sess->t;

	(void)s;
	sess->s = NULL;
	sess->closed = true;
	sess->ready = false;
	t->sessions--;
	d->n_sessions--;
	if (error != NULL) {
		d->stats.sessions_failed++;
		log_info("direct: session to %s[%s]:%llu failed: %s", t->name,
			 t->text, d->cfg->outbound_port, error);
	}
	if (error != NULL && !sess->answered && !d->shut) {
		/* The target failed before any transaction: its items go on. A
		 * 5xx greeting is kept as the reply that may bounce them. */
		int code = last != NULL ? last->code : 0;

		if (code == 0)
			mark_down(d, t, error);
		sess->moved_on = true;
		sess->why_code = code / 100 == 5 ? code : 0;
		if (code / 100 == 5)
			snprintf(sess->why, sizeof(sess->why), "%s", last->text);
		else
			tls_reason(t, error, sess->why, sizeof(sess->why));
		target_fail(t, sess->why_code, sess->why);
	}
	if (!sess->busy)
		sess_free(sess); /* else when its job is done */
	pump_all(d);
	maybe_idle(d);
}

/* ---- job results ---- */

static void take_done(struct djob *j)
{
	struct ditem *item = j->item;
	struct dsess *sess = item->sess;
	struct dtarget *t = sess->t;

	if (j->rc == 1 && !sess->closed) {
		item->it = j->it;
		j->it = NULL; /* the item's now */
		sess_send(sess, item);
		return;
	}
	if (j->rc == 1)
		queue_item_release(j->it);
	j->it = NULL;
	sess->busy = false;
	sess->cur = NULL;
	item->sess = NULL;
	t->carried--;
	if (j->rc == 1 && sess->moved_on) {
		item_failed_here(item, sess->why_code, sess->why);
	} else if (j->rc == 1 && !sess->d->shut) {
		enqueue(t, item, true); /* the target still works */
		target_pump(t);
	} else {
		forget(item); /* skipped: busy elsewhere, gone, not due */
	}
	if (sess->closed)
		sess_free(sess);
	else
		sess_next(sess);
}

static void record_done(struct djob *j)
{
	struct ditem *item = j->item;
	struct dsess *sess = item->sess;

	sess->busy = false;
	sess->cur = NULL;
	sess->t->carried--;
	item->sess = NULL;
	if (item->again && j->rc == 0 && !sess->closed && !sess->d->shut) {
		/* The recipients a 452 left, on this connection next. */
		item->again = false;
		item->due_only = false;
		enqueue(sess->t, item, true);
	} else {
		forget(item);
	}
	if (sess->closed)
		sess_free(sess);
	else
		sess_next(sess);
}

static void scan_done(struct djob *j)
{
	struct direct *d = j->d;

	d->scanning = false;
	if (j->rc < 0)
		log_warn("direct: queue scan failed");
	for (size_t i = 0; i < j->n_hits && !d->shut; i++)
		if (find_item(d, j->hits[i].id) == NULL)
			new_item(d, &j->hits[i], j->due_only);
	if (d->rescan && !d->shut) {
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
		take_done(j);
		break;
	case DJ_RECORD:
		record_done(j);
		break;
	case DJ_DEFER:
	case DJ_SETTLE:
		if (j->kind == DJ_DEFER || j->code / 100 != 5)
			d->stats.deferred++;
		else
			d->stats.bounced++;
		forget(j->item);
		break;
	}
	if (j->kick != 0 && d->o.kick != NULL && !d->shut)
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
		.port = (unsigned)d->cfg->mta_sts_port,
		.fetch_timeout = (double)d->cfg->outbound_timeout,
		.clock = d->o.clock, .clock_arg = d->o.clock_arg,
	};

	if (!d->cfg->mta_sts || d->o.dns == NULL || d->o.verify_ctx == NULL ||
	    d->cfg->data_dir == NULL)
		return 0;
	snprintf(dir, sizeof(dir), "%s/queue/mta-sts", d->cfg->data_dir);
	d->sts = mtasts_new(&o);
	return d->sts != NULL ? 0 : -1;
}

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
	d->cfg = o->cfg;
	names[self.n_names++] = config_outbound_helo(d->cfg);
	if (d->cfg->hostname != NULL)
		names[self.n_names++] = d->cfg->hostname;
	self.n_addrs = self_addrs(d->cfg, addrs);
	d->mx = mxcache_new(o->loop, o->dns, &self,
			    (size_t)d->cfg->outbound_address_limit,
			    d->cfg->outbound_tls,
			    (unsigned)d->cfg->outbound_port);
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

	if (d->shut) {
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
	return d->jobs + d->n_items + d->n_sessions + (d->scanning ? 1 : 0) +
	       mxcache_resolving(d->mx) +
	       (d->sts != NULL ? mtasts_busy(d->sts) : 0);
}

void direct_shutdown(struct direct *d)
{
	if (d->shut)
		return;
	d->shut = true;
	if (d->sts != NULL)
		mtasts_shutdown(d->sts);
	for (struct dsess *s = d->sessions; s != NULL; s = s->next)
		if (s->s != NULL)
			smtpc_abort(s->s, "shutting down");
	/* Items waiting for a lookup or a session stay queued as they are. */
	for (size_t b = 0; b < DIRECT_BUCKETS; b++) {
		struct ditem *item = d->table[b], *next;

		for (; item != NULL; item = next) {
			next = item->hnext;
			if (item->sess != NULL || item->in_job)
				continue;
			if (item->at != NULL) {
				struct dtarget *t = item->at;

				for (struct ditem **pp = &t->head; *pp != NULL;
				     pp = &(*pp)->next) {
					if (*pp == item) {
						*pp = item->next;
						break;
					}
				}
				if (t->tail == item) {
					t->tail = NULL;
					for (struct ditem *x = t->head; x != NULL; x = x->next)
						t->tail = x;
				}
				t->waiting--;
				item->at = NULL;
			}
			forget(item);
		}
	}
}

void direct_free(struct direct *d)
{
	if (d == NULL)
		return;
	while (d->targets != NULL) {
		struct dtarget *t = d->targets;

		d->targets = t->next;
		tlsp_target_free(&t->tls);
		free(t);
	}
	while (d->down != NULL) {
		struct ddown *x = d->down;

		d->down = x->next;
		free(x);
	}
	mxcache_free(d->mx);
	mtasts_free(d->sts);
	free(d);
}

void direct_get_stats(const struct direct *d, struct direct_stats *st_r)
{
	*st_r = d->stats;
}
