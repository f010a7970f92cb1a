/* outbound/mtasts.c: the MTA-STS policy cache on the loop
 * (outbound/mtasts.h): per domain the cached policy, the TXT lookup, the
 * fetch, the waiters, and the pool jobs that read and write the cache
 * files. Domains are found through a hash of their names; one whose
 * policy has lapsed (or that has none) and that nobody waits for is
 * dropped from memory now and then (MTASTS_SWEEP): its file stays, read
 * again when the domain comes back. */
#include "autoconf.h"

#include "outbound/mtasts.h"

#include "common/base/fsutil.h"
#include "common/base/hmap.h"
#include "common/base/log.h"
#include "common/client/httpsget.h"
#include "common/dns/dns.h"
#include "common/dns/dns_name.h"
#include "common/net/worker.h"
#include "outbound/mtasts_cache.h"
#include "outbound/tlsrpt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MTASTS_PATH "/.well-known/mta-sts.txt"
/* Lapsed domains are dropped at most this often, in seconds. */
#define MTASTS_SWEEP 300

struct mdom {
	struct mtasts *m;
	struct hmap_node node;
	char name[DNS_NAME_MAX + 1];
	bool loaded, loading;
	struct mtasts_entry e;           /* the cached policy */
	time_t checked;
	struct dns_query *q;
	struct httpsget *g;
	char fetch_id[MTASTS_ID_MAX + 1];
	struct mtswait *waiters;
	unsigned jobs;                   /* pool jobs that hold it */
};

struct mtasts {
	struct mtasts_opts o;
	char *dir;
	struct hmap doms;                /* struct mdom by name */
	time_t swept;
	size_t jobs;
	bool shut;
};

#define DOM_OF(n) ((struct mdom *)(void *)((char *)(n) - \
					    offsetof(struct mdom, node)))

enum mjob_kind { MJ_LOAD, MJ_SAVE };

struct mjob {
	enum mjob_kind kind;
	struct mdom *d;
	char *path;
	char *data;                      /* SAVE: the file */
	size_t len;
	int rc;
	struct mtasts_entry e;           /* LOAD: what the file held */
};

static void start_txt(struct mdom *d);

static time_t now(const struct mtasts *m)
{
	return m->o.clock != NULL ? m->o.clock(m->o.clock_arg) : time(NULL);
}

static bool valid(const struct mdom *d)
{
	return mtasts_entry_valid(&d->e, now(d->m));
}

/* The policy to apply now: NULL for none (mode none is none). */
static const struct mtasts_policy *current(const struct mdom *d)
{
	return mtasts_entry_current(&d->e, now(d->m));
}

static void answer(struct mdom *d)
{
	struct mtswait *w = d->waiters, *next;

	d->waiters = NULL;
	for (; w != NULL; w = next) {
		next = w->next;
		w->next = NULL;
		w->at = NULL;
		w->fn(w, current(d));
	}
}

/* ---- the cache files, on the pool ---- */

static void job_run(void *arg)
{
	struct mjob *j = arg;
	char *data = NULL;
	size_t len;

	if (j->kind == MJ_SAVE) {
		j->rc = fs_mkdir_p(j->d->m->dir, 0700);
		if (j->rc == 0)
			j->rc = fs_write_file_atomic(j->path, j->data, j->len, 0600);
		return;
	}
	j->rc = -1;
	if (fs_read_file(j->path, MTASTS_BODY_MAX + 256, &data, &len) < 0)
		return;
	j->rc = mtasts_entry_parse(data, len, &j->e);
	free(data);
}

static void job_done(void *arg)
{
	struct mjob *j = arg;
	struct mdom *d = j->d;
	struct mtasts *m = d->m;

	m->jobs--;
	d->jobs--;
	if (j->kind == MJ_SAVE && j->rc < 0)
		log_warn("mta-sts: cannot write %s", j->path);
	if (j->kind == MJ_LOAD) {
		d->loading = false;
		d->loaded = true;
		if (j->rc == 0 && !d->e.have)
			d->e = j->e;
		if (!m->shut)
			start_txt(d);
	}
	free(j->path);
	free(j->data);
	free(j);
}

static struct mjob *new_job(struct mdom *d, enum mjob_kind kind)
{
	struct mjob *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->kind = kind;
	j->d = d;
	if (asprintf(&j->path, "%s/%s", d->m->dir, d->name) < 0) {
		free(j);
		return NULL;
	}
	return j;
}

static int submit(struct mjob *j)
{
	if (worker_submit(j->d->m->o.pool, job_run, job_done, j) < 0) {
		free(j->path);
		free(j->data);
		free(j);
		return -1;
	}
	j->d->m->jobs++;
	j->d->jobs++;
	return 0;
}

static void save(struct mdom *d, const char *body, size_t len)
{
	struct mjob *j = new_job(d, MJ_SAVE);

	if (j == NULL)
		return;
	if ((j->data = mtasts_entry_format(&d->e, body, len, &j->len)) == NULL) {
		free(j->path);
		free(j);
		return;
	}
	if (submit(j) < 0)
		log_warn("mta-sts: cannot save the policy of %s", d->name);
}

/* ---- the fetch ---- */

static void fetched(void *arg, const char *body, size_t len, const char *error)
{
	struct mdom *d = arg;
	struct mtasts_policy p;
	const char *why = error;
	bool cert_failed = error != NULL && httpsget_cert_failed(d->g);

	d->g = NULL;
	if (error == NULL && mtasts_policy_parse(body, len, &p, &why) == 0) {
		mtasts_entry_take(&d->e, &p, d->fetch_id, now(d->m));
		log_info("mta-sts: %s: policy %s, mode %s, max_age %lu", d->name,
			 d->e.id, mtasts_mode_name(p.mode), p.max_age);
		save(d, body, len);
	} else {
		log_warnx("mta-sts: %s: no new policy (%s)%s tlsrpt=%s "
			  "policy=sts domain=%s", d->name, why,
			  valid(d) ? ": the cached one stays" : "",
			  tlsrpt_sts_fetch(error == NULL, cert_failed), d->name);
	}
	answer(d);
}

static void start_fetch(struct mdom *d, const char *id)
{
	char host[DNS_NAME_MAX + 16];
	struct httpsget_opts o = {
		.dns = d->m->o.dns, .verify_ctx = d->m->o.verify_ctx,
		.host = host, .port = d->m->o.port, .path = MTASTS_PATH,
		.content_type = "text/plain",
		.timeout = d->m->o.fetch_timeout > 0 ? d->m->o.fetch_timeout
						     : MTASTS_FETCH_TIMEOUT,
		.max_body = MTASTS_BODY_MAX,
	};

	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	snprintf(d->fetch_id, sizeof(d->fetch_id), "%s", id);
	d->g = httpsget_start(d->m->o.loop, &o, fetched, d);
	if (d->g == NULL)
		log_warn("mta-sts: %s: cannot start the policy fetch", d->name);
}

/* ---- the TXT record ---- */

static void txt_cb(void *arg, const struct dns_answer *a)
{
	struct mdom *d = arg;
	char id[MTASTS_ID_MAX + 1];
	const char *why = a->why != NULL ? a->why : dns_status_str(a->status);

	d->q = NULL;
	d->checked = now(d->m);
	if (a->status == DNS_OK &&
	    mtasts_txt_parse((const char *const *)a->txt, a->n, id, &why) == 0) {
		if (mtasts_entry_wants_fetch(&d->e, id, now(d->m)) && d->g == NULL)
			start_fetch(d, id);
	} else if (valid(d)) {
		/* §10.3: a stripped record does not end a cached policy. */
		log_info("mta-sts: %s: no record (%s): the cached policy stays",
			 d->name, why);
	}
	if (d->g == NULL || valid(d))
		answer(d);
}

static void start_txt(struct mdom *d)
{
	char name[DNS_NAME_MAX + 16];

	if (d->q != NULL)
		return;
	snprintf(name, sizeof(name), "_mta-sts.%s", d->name);
	d->q = dns_lookup(d->m->o.dns, name, DNS_T_TXT, txt_cb, d);
	if (d->q == NULL) {
		d->checked = now(d->m);
		answer(d);
	}
}

/* ---- the interface ---- */

struct mtasts *mtasts_new(const struct mtasts_opts *o)
{
	struct mtasts *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->o = *o;
	hmap_init(&m->doms);
	if ((m->dir = strdup(o->dir)) == NULL) {
		free(m);
		return NULL;
	}
	m->swept = now(m);
	return m;
}

void mtasts_free(struct mtasts *m)
{
	struct hmap_node *n, *next;
	size_t pos = 0;

	if (m == NULL)
		return;
	mtasts_shutdown(m);
	for (n = hmap_walk(&m->doms, &pos, NULL); n != NULL; n = next) {
		next = hmap_walk(&m->doms, &pos, n);
		free(DOM_OF(n));
	}
	hmap_free(&m->doms);
	free(m->dir);
	free(m);
}

/* Nothing holds it and it has no policy to apply: it may go. */
static bool idle_lapsed(const struct mdom *d)
{
	return d->waiters == NULL && d->q == NULL && d->g == NULL &&
	       d->jobs == 0 && !d->loading && !valid(d);
}

/* Drop the lapsed domains, once every MTASTS_SWEEP seconds at most. */
static void sweep(struct mtasts *m)
{
	struct hmap_node *n, *next;
	size_t pos = 0;
	time_t t = now(m);

	if (t - m->swept < MTASTS_SWEEP && t >= m->swept)
		return;
	m->swept = t;
	for (n = hmap_walk(&m->doms, &pos, NULL); n != NULL; n = next) {
		next = hmap_walk(&m->doms, &pos, n);
		if (idle_lapsed(DOM_OF(n))) {
			hmap_remove(&m->doms, n);
			free(DOM_OF(n));
		}
	}
}

static struct mdom *find_dom(struct mtasts *m, const char *domain)
{
	uint32_t h = hmap_hash(domain, strlen(domain), HMAP_SEED);
	struct mdom *d;

	for (struct hmap_node *n = hmap_first(&m->doms, h); n != NULL;
	     n = hmap_next(n))
		if (strcmp(DOM_OF(n)->name, domain) == 0)
			return DOM_OF(n);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->m = m;
	snprintf(d->name, sizeof(d->name), "%s", domain);
	if (hmap_insert(&m->doms, &d->node, h) < 0) {
		free(d);
		return NULL;
	}
	return d;
}

int mtasts_get(struct mtasts *m, const char *domain, struct mtswait *w,
	       const struct mtasts_policy **p_r)
{
	struct mdom *d;
	struct mjob *j;

	*p_r = NULL;
	if (m->shut || !dns_name_ok(domain) || strchr(domain, '/') != NULL)
		return 1; /* not a name a policy host can have */
	sweep(m);
	if ((d = find_dom(m, domain)) == NULL)
		return -1;
	if (d->loaded && d->q == NULL && (d->g == NULL || valid(d)) &&
	    now(m) - d->checked < MTASTS_RECHECK) {
		*p_r = current(d);
		return 1;
	}
	w->next = d->waiters;
	w->at = d;
	d->waiters = w;
	if (d->loaded) {
		start_txt(d);
	} else if (!d->loading) {
		d->loading = true;
		if ((j = new_job(d, MJ_LOAD)) == NULL || submit(j) < 0) {
			d->loading = false;
			d->loaded = true;
			start_txt(d);
		}
	}
	return 0;
}

/* Every domain, for the walks below: the first with d NULL. */
static struct mdom *next_dom(const struct mtasts *m, size_t *pos,
			     struct mdom *d)
{
	struct hmap_node *n = hmap_walk(&m->doms, pos,
					d != NULL ? &d->node : NULL);

	return n != NULL ? DOM_OF(n) : NULL;
}

void mtasts_unwait(struct mtasts *m, struct mtswait *w)
{
	struct mdom *d = w->at;

	(void)m;
	if (d == NULL)
		return;
	for (struct mtswait **pp = &d->waiters; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	w->at = NULL;
}

void mtasts_shutdown(struct mtasts *m)
{
	size_t pos = 0;

	m->shut = true;
	for (struct mdom *d = next_dom(m, &pos, NULL); d != NULL;
	     d = next_dom(m, &pos, d)) {
		d->waiters = NULL;
		if (d->q != NULL)
			dns_cancel(d->q);
		d->q = NULL;
		if (d->g != NULL)
			httpsget_cancel(d->g);
		d->g = NULL;
	}
}

size_t mtasts_busy(const struct mtasts *m)
{
	size_t n = m->jobs, pos = 0;

	for (struct mdom *d = next_dom(m, &pos, NULL); d != NULL;
	     d = next_dom(m, &pos, d))
		n += (d->q != NULL) + (d->g != NULL);
	return n;
}
