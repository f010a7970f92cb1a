/* outbound/runner.c: the queue runner on the loop — one flush per route at a
 * time, scans and item steps on the worker pool, one SMTP session per
 * flush, periodic retries and the expiry sweep; the direct route is
 * outbound/direct.h's, with the resolver the runner gives it. */
#include "autoconf.h"

#include "outbound/runner.h"

#include "common/config/config.h"
#include "common/config/secret.h"
#include "common/base/log.h"
#include "common/client/smtpclient.h"
#include "common/lookup/aliases.h"
#include "common/mail/dsn.h"
#include "common/dns/dns.h"
#include "common/net/tls.h"
#include "common/net/worker.h"
#include "outbound/direct.h"
#include "outbound/items.h"
#include "outbound/resolver.h"
#include "store/queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

enum fl_kind { FL_ETRN, FL_RELAY, FL_LOCAL };

struct flush {
	struct runner *r;
	struct flush *next;
	enum fl_kind kind;
	const struct config_etrn_domain *etrn;
	char *domain; /* filter (ETRN); NULL: the whole route */
	bool subdomains, due_only, again;
	char *host;   /* destination */
	unsigned port;
	enum smtpc_tls tls;
	const char *pin, *tls_name;
	runner_flush_fn *done;
	void *done_arg;

	char **ids;
	size_t n_ids, pos;
	struct smtpc *s;
	bool ready, busy, session_over;
	char *error; /* why the session ended; NULL after QUIT */
	struct queue_item *cur;
	const char **rcpts;
	size_t *map;
	void *dsn; /* the message's RFC 3461 values (outb_item_dsn_args) */
};

struct runner {
	struct ev_loop *loop;
	struct worker *pool;
	const struct config *cfg;
	struct queue *q;
	struct userdb *db;
	/* The local route's aliases, touched only by its jobs on the pool
	 * (local_aliases); NULL: none loaded (yet). */
	struct aliases *al;
	runner_clock_fn *clock;
	void *clock_arg;
	SSL_CTX *verify_ctx, *any_ctx;
	char *relay_pw; /* the relayhost's AUTH password, wiped when freed */
	struct dns *dns;          /* the direct route's resolver */
	bool own_dns;
	struct direct *direct;    /* the direct route */
	struct flush *flushes;
	size_t jobs;
	bool dying, sweeping, shut;
	ev_timer tick;
	time_t *last_retry; /* per etrn_domain */
	void (*idle_fn)(void *);
	void *idle_arg;
	struct runner_stats stats;
};

enum job_kind { JOB_SCAN, JOB_TAKE, JOB_RECORD, JOB_DEFER, JOB_LOCAL,
		JOB_SWEEP };

struct job {
	enum job_kind kind;
	struct runner *r;
	struct flush *f;
	struct outb_ctx ctx;
	char **ids;     /* SCAN result; DEFER input */
	size_t n_ids, cap_ids;
	const char *id; /* TAKE, LOCAL */
	struct queue_item *it;
	size_t *map;
	struct smtpc_reply *replies;
	size_t n;
	char *remote, *error;
	int rc;
	unsigned kick;
	bool next_hop_dsn; /* RECORD: the server offered DSN */
};

static void start_flush(struct flush *f);
static void end_flush(struct flush *f);
static void advance(struct flush *f);
static void start_defer(struct flush *f);
static int submit(struct runner *r, struct job *j);
static void s_ready(struct smtpc *s, void *arg);
static void s_result(struct smtpc *s, void *arg,
		     const struct smtpc_reply *replies, size_t n);
static void s_close(struct smtpc *s, void *arg, const char *error,
		    const struct smtpc_reply *last);

static const struct smtpc_cb runner_smtpc_cb = {
	.on_ready = s_ready,
	.on_result = s_result,
	.on_close = s_close,
};

static time_t now(const struct runner *r)
{
	return r->clock != NULL ? r->clock(r->clock_arg) : time(NULL);
}

static void free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

static void maybe_idle(struct runner *r)
{
	if (runner_busy(r) != 0)
		return;
	if (r->dying) {
		runner_free(r);
		return;
	}
	if (r->idle_fn != NULL)
		r->idle_fn(r->idle_arg);
}

/* ---- worker side ---- */

struct scan_arg {
	struct job *j;
	const struct config *cfg;
};

static int scan_one(const struct queue_env *env, void *arg)
{
	struct scan_arg *sa = arg;
	struct job *j = sa->j;
	struct flush *f = j->f;
	const struct config_etrn_domain *e = NULL;
	enum outb_route route = outb_route_of(sa->cfg, env->domain, &e);
	bool want;

	switch (f->kind) {
	case FL_ETRN:
		want = route == OUTB_ROUTE_ETRN && e == f->etrn &&
		       queue_domain_match(env->domain, f->domain, f->subdomains);
		break;
	case FL_RELAY:
		want = route == OUTB_ROUTE_RELAY;
		break;
	default:
		want = route == OUTB_ROUTE_LOCAL;
		break;
	}
	if (!want || queue_env_pending(env) == 0 ||
	    (f->due_only && env->next_attempt > j->ctx.now))
		return 0;
	if (j->n_ids == j->cap_ids) {
		size_t cap = j->cap_ids ? 2 * j->cap_ids : 16;
		char **grown = realloc(j->ids, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		j->ids = grown;
		j->cap_ids = cap;
	}
	if ((j->ids[j->n_ids] = strdup(env->id)) == NULL)
		return -1;
	j->n_ids++;
	return 0;
}

/* The aliases file as it is now, for the local route: loaded by its first
 * job, reloaded when the file changed (smtpd's refresh does the same
 * before RCPT); one that cannot be read or has errors keeps the table
 * loaded (a warning). Pool thread: one local flush at a time, one job
 * after another, so no two threads touch r->al. */
static const struct aliases *local_aliases(struct runner *r)
{
	char *err = NULL;
	int rc;

	if (r->cfg->aliases == NULL)
		return NULL;
	rc = r->al != NULL ? aliases_reload(r->al, r->cfg, &err)
			   : aliases_load(r->cfg->aliases, r->cfg, &r->al, &err);
	if (rc < 0) {
		aliases_log_errors(LOG_LVL_WARN, "queue: aliases not loaded",
				   err, r->al != NULL ? "; keeping the old aliases"
						      : "; none in use");
		free(err);
	}
	return r->al;
}

static void job_run(void *arg)
{
	struct job *j = arg;
	struct scan_arg sa = { .j = j, .cfg = j->ctx.cfg };

	switch (j->kind) {
	case JOB_SCAN:
		j->rc = queue_walk(j->ctx.q, NULL, false, scan_one, &sa);
		break;
	case JOB_TAKE:
		j->rc = outb_item_take(&j->ctx, j->id, j->f->due_only, &j->it,
					&j->kick);
		break;
	case JOB_RECORD:
		j->ctx.next_hop_dsn = j->next_hop_dsn;
		j->rc = outb_item_record(&j->ctx, j->it, j->map, j->replies,
					  j->n, j->remote, &j->kick);
		j->it = NULL;
		break;
	case JOB_DEFER:
		for (size_t i = 0; i < j->n_ids; i++)
			outb_item_defer(&j->ctx, j->ids[i], j->error, &j->kick);
		j->rc = 0;
		break;
	case JOB_LOCAL:
		j->ctx.al = local_aliases(j->r);
		j->rc = outb_item_local(&j->ctx, j->id, j->f->due_only,
					 &j->kick);
		break;
	case JOB_SWEEP:
		j->rc = outb_sweep_expired(&j->ctx, NULL, &j->kick);
		break;
	}
}

static void job_free(struct job *j)
{
	free_ids(j->ids, j->n_ids);
	free(j->map);
	free(j->replies);
	free(j->remote);
	free(j->error);
	free(j);
}

/* ---- loop side ---- */

/* The flush's one SMTP session; runner_smtpc_cb carries it on. */
static void start_session(struct flush *f)
{
	struct runner *r = f->r;
	const struct config_relayhost *relay = &r->cfg->relayhost;
	struct smtpc_opts o = {
		.host = f->host, .port = f->port,
		.helo = config_outbound_helo(r->cfg), .tls = f->tls,
		.verify_ctx = r->verify_ctx, .any_ctx = r->any_ctx,
		.tls_name = f->tls_name, .pin = f->pin,
		.timeout = r->cfg->outbound_timeout,
		.bind4 = r->cfg->outbound_bind4, .bind6 = r->cfg->outbound_bind6,
	};

	if (f->kind == FL_RELAY && relay->auth_user != NULL) {
		o.auth_user = relay->auth_user;
		o.auth_password = r->relay_pw;
	}
	f->s = smtpc_start(r->loop, r->pool, &o, &runner_smtpc_cb, f);
	if (f->s == NULL) {
		f->session_over = true;
		f->error = strdup(o.auth_user != NULL && o.auth_password == NULL
				  ? "no password for the relayhost's auth"
				  : "cannot start an SMTP session");
		start_defer(f);
	}
}

/* Hands the scan's ids to the flush and starts going through them: on the
 * loop for local delivery, through one SMTP session otherwise. */
static void scan_done(struct job *j)
{
	struct runner *r = j->r;
	struct flush *f = j->f;

	if (j->rc < 0) {
		log_warn("queue: scan failed");
		if (f->done != NULL)
			f->done(f->done_arg, RUNNER_ERROR, 0);
		f->done = NULL;
		end_flush(f);
		return;
	}
	if (f->done != NULL)
		f->done(f->done_arg,
			j->n_ids > 0 ? RUNNER_STARTED : RUNNER_EMPTY,
			j->n_ids);
	f->done = NULL;
	f->ids = j->ids;
	f->n_ids = j->n_ids;
	j->ids = NULL;
	j->n_ids = 0;
	if (f->n_ids == 0 || r->dying || r->shut)
		end_flush(f);
	else if (f->kind == FL_LOCAL)
		advance(f);
	else
		start_session(f);
}

/* Sends the item a take job locked, to its pending recipients; the record
 * job that its result starts goes on from there. */
static void send_item(struct flush *f, struct queue_item *it)
{
	struct smtpc_msg msg;

	free(f->rcpts);
	free(f->map);
	f->rcpts = NULL;
	f->map = NULL;
	if (outb_item_msg(it, &msg, &f->rcpts, &f->map) < 0) {
		queue_item_release(it);
		smtpc_abort(f->s, "out of memory");
		return;
	}
	f->cur = it;
	f->busy = true; /* until the record job is done */
	free(f->dsn);
	f->dsn = NULL;
	if (outb_item_dsn_args(queue_item_env(it), f->map, msg.n_rcpts, &msg,
			       &f->dsn) < 0 ||
	    smtpc_send(f->s, &msg) < 0) {
		f->busy = false;
		f->cur = NULL;
		queue_item_release(it);
		smtpc_abort(f->s, "cannot send the message");
	}
}

/* The next item, or the defer round once the session is over. */
static void next_item(struct flush *f)
{
	if (f->session_over)
		start_defer(f);
	else
		advance(f);
}

static void take_done(struct job *j)
{
	struct flush *f = j->f;

	f->busy = false;
	if (j->rc == 1 && !f->session_over) {
		send_item(f, j->it);
		return;
	}
	if (j->rc == 1) {
		/* Not attempted: the defer round takes it again. */
		queue_item_release(j->it);
		f->pos--;
	} else {
		/* Gone, or another process delivers it: nothing was sent,
		 * the session is still ready for the next one. */
		f->ready = true;
	}
	next_item(f);
}

static void job_done(void *arg)
{
	struct job *j = arg;
	struct runner *r = j->r;
	struct flush *f = j->f;

	r->jobs--;
	if (j->kick != 0 && !r->dying && !r->shut)
		runner_kick(r);
	switch (j->kind) {
	case JOB_SCAN:
		scan_done(j);
		break;
	case JOB_TAKE:
		take_done(j);
		break;
	case JOB_RECORD:
		f->busy = false;
		next_item(f);
		break;
	case JOB_DEFER:
		end_flush(f);
		break;
	case JOB_LOCAL:
		r->stats.sent += j->rc == 1;
		advance(f);
		break;
	case JOB_SWEEP:
		r->sweeping = false;
		break;
	}
	job_free(j);
	maybe_idle(r);
}

static int submit(struct runner *r, struct job *j)
{
	j->r = r;
	j->ctx = (struct outb_ctx){ .cfg = r->cfg, .q = r->q, .db = r->db,
				     .now = now(r) };
	if (worker_submit(r->pool, job_run, job_done, j) < 0) {
		log_warn("queue: cannot start a job");
		return -1;
	}
	r->jobs++;
	return 0;
}

static struct job *new_job(enum job_kind kind, struct flush *f)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j != NULL) {
		j->kind = kind;
		j->f = f;
	}
	return j;
}

/* Next item: take it (SMTP) or deliver it (local); QUIT at the end. */
static void advance(struct flush *f)
{
	struct job *j;

	if (f->kind == FL_LOCAL) {
		if (f->pos >= f->n_ids || f->r->dying || f->r->shut) {
			end_flush(f);
			return;
		}
		j = new_job(JOB_LOCAL, f);
		if (j != NULL)
			j->id = f->ids[f->pos++];
		if (j == NULL || submit(f->r, j) < 0) {
			free(j);
			end_flush(f);
		}
		return;
	}
	if (f->busy || !f->ready || f->s == NULL)
		return;
	f->ready = false;
	if (f->pos >= f->n_ids) {
		smtpc_quit(f->s);
		return;
	}
	j = new_job(JOB_TAKE, f);
	if (j != NULL)
		j->id = f->ids[f->pos++];
	if (j == NULL || submit(f->r, j) < 0) {
		free(j);
		smtpc_abort(f->s, "cannot take the next item");
		return;
	}
	f->busy = true;
}

static void s_ready(struct smtpc *s, void *arg)
{
	struct flush *f = arg;

	(void)s;
	f->ready = true;
	advance(f);
}

static void s_result(struct smtpc *s, void *arg,
		     const struct smtpc_reply *replies, size_t n)
{
	struct flush *f = arg;
	struct runner *r = f->r;
	struct job *j = new_job(JOB_RECORD, f);

	for (size_t i = 0; i < n; i++) {
		int cls = replies[i].code / 100;

		if (cls == 2)
			r->stats.sent++;
		else if (cls == 5)
			r->stats.bounced++;
		else
			r->stats.deferred++;
	}
	if (j != NULL) {
		j->it = f->cur;
		j->map = f->map;
		j->n = n;
		j->next_hop_dsn = smtpc_has_ext(s, "DSN");
		j->replies = malloc(n * sizeof(*j->replies));
		j->remote = strdup(f->kind == FL_ETRN && f->etrn->deliver_host == NULL
					   ? smtpc_peer(s) : f->host);
	}
	if (j == NULL || j->replies == NULL || j->remote == NULL) {
		/* Nothing recorded: the item stays as it was (retried). */
		if (j != NULL)
			j->map = NULL;
		queue_item_release(f->cur);
		f->cur = NULL;
		f->busy = false;
		if (j != NULL)
			job_free(j);
		smtpc_abort(s, "out of memory");
		return;
	}
	memcpy(j->replies, replies, n * sizeof(*replies));
	f->map = NULL;
	f->cur = NULL;
	if (submit(r, j) < 0) {
		queue_item_release(j->it);
		j->it = NULL;
		job_free(j);
		f->busy = false;
		smtpc_abort(s, "cannot record the result");
	}
}

static void s_close(struct smtpc *s, void *arg, const char *error,
		    const struct smtpc_reply *last)
{
	struct flush *f = arg;

	(void)s;
	(void)last;
	f->s = NULL;
	f->session_over = true;
	if (error != NULL) {
		f->error = strdup(error);
		f->r->stats.sessions_failed++;
		log_info("queue: session to %s:%u failed: %s", f->host, f->port,
			 error);
	}
	if (!f->busy) {
		struct runner *r = f->r;

		start_defer(f);
		maybe_idle(r);
	}
}

/* The session is over: items not attempted get the error as a temporary
 * failure (after a clean QUIT there are none). */
static void start_defer(struct flush *f)
{
	struct job *j;

	if (f->error == NULL || f->pos >= f->n_ids) {
		end_flush(f);
		return;
	}
	j = new_job(JOB_DEFER, f);
	if (j == NULL) {
		end_flush(f);
		return;
	}
	j->n_ids = f->n_ids - f->pos;
	j->error = f->error;
	f->error = NULL;
	/* The job owns the tail of the id list now. */
	j->ids = calloc(j->n_ids, sizeof(*j->ids));
	if (j->ids == NULL) {
		free(j->error);
		free(j);
		end_flush(f);
		return;
	}
	for (size_t i = 0; i < j->n_ids; i++) {
		j->ids[i] = f->ids[f->pos + i];
		f->ids[f->pos + i] = NULL;
	}
	if (submit(f->r, j) < 0) {
		job_free(j);
		end_flush(f);
	}
}

static void free_flush(struct flush *f)
{
	free_ids(f->ids, f->n_ids);
	free(f->rcpts);
	free(f->map);
	free(f->dsn);
	free(f->domain);
	free(f->host);
	free(f->error);
	free(f);
}

static struct flush *find_flush(struct runner *r, enum fl_kind kind,
				const struct config_etrn_domain *e)
{
	for (struct flush *f = r->flushes; f != NULL; f = f->next)
		if (f->kind == kind && f->etrn == e)
			return f;
	return NULL;
}

static void end_flush(struct flush *f)
{
	struct runner *r = f->r;
	struct flush **pp;

	for (pp = &r->flushes; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	if (f->done != NULL)
		f->done(f->done_arg, RUNNER_ERROR, 0);
	if (f->again && !r->dying && !r->shut) {
		/* Requested while it ran: one more round, from a fresh scan. */
		struct flush *g = calloc(1, sizeof(*g));

		if (g != NULL) {
			*g = (struct flush){
				.r = r, .kind = f->kind, .etrn = f->etrn,
				.domain = f->domain, .subdomains = f->subdomains,
				.due_only = f->due_only, .host = f->host,
				.port = f->port, .tls = f->tls, .pin = f->pin,
				.tls_name = f->tls_name,
			};
			f->domain = NULL;
			f->host = NULL;
			start_flush(g);
		}
	}
	free_flush(f);
}

/* Link f in and start its scan; on failure f is freed. 0 or -1. */
static void start_flush(struct flush *f)
{
	struct job *j = new_job(JOB_SCAN, f);

	f->next = f->r->flushes;
	f->r->flushes = f;
	if (j == NULL || submit(f->r, j) < 0) {
		free(j);
		f->done = NULL;
		end_flush(f);
	}
}

/* The relayhost's TLS: verified against its name (smtpc's default
 * tls_name) unless relayhost_tls opportunistic says otherwise. */
static enum smtpc_tls relay_tls(enum config_relay_tls tls)
{
	switch (tls) {
	case CONFIG_RELAY_IMPLICIT:
		return SMTPC_TLS_IMPLICIT;
	case CONFIG_RELAY_OPPORTUNISTIC:
		return SMTPC_TLS_OPPORTUNISTIC;
	case CONFIG_RELAY_NONE:
		return SMTPC_TLS_NONE;
	case CONFIG_RELAY_STARTTLS:
		break;
	}
	return SMTPC_TLS_REQUIRED;
}

static struct flush *new_flush(struct runner *r, enum fl_kind kind,
			       const struct config_etrn_domain *e,
			       const char *domain, bool subdomains,
			       const char *client, bool due_only)
{
	struct flush *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->r = r;
	f->kind = kind;
	f->etrn = e;
	f->subdomains = subdomains;
	f->due_only = due_only;
	if (kind == FL_ETRN) {
		f->host = strdup(e->deliver_host != NULL ? e->deliver_host
							 : client);
		f->port = e->deliver_port != 0 ? e->deliver_port : 25;
		f->tls = (enum smtpc_tls)e->tls;
		f->pin = e->tls_pin;
		f->tls_name = e->deliver_host;
		f->domain = strdup(domain);
		if (f->host == NULL || f->domain == NULL) {
			free_flush(f);
			return NULL;
		}
	} else if (kind == FL_RELAY) {
		f->host = strdup(r->cfg->relayhost.host);
		f->port = r->cfg->relayhost.port;
		f->tls = relay_tls(r->cfg->relayhost.tls);
		if (f->host == NULL) {
			free_flush(f);
			return NULL;
		}
	}
	return f;
}

_Static_assert((int)SMTPC_TLS_OPPORTUNISTIC == (int)CONFIG_TLS_OPPORTUNISTIC &&
		       (int)SMTPC_TLS_REQUIRED == (int)CONFIG_TLS_REQUIRED &&
		       (int)SMTPC_TLS_NONE == (int)CONFIG_TLS_NONE,
	       "TLS modes of config and smtpclient agree");

int runner_flush_etrn(struct runner *r, const char *domain, bool subdomains,
		      const char *client, runner_flush_fn *done, void *arg)
{
	const struct config_etrn_domain *e = config_find_etrn(r->cfg, domain);
	struct flush *f;

	if (r->shut) {
		errno = ECANCELED;
		return -1;
	}
	if (e == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (e->deliver_host == NULL && client == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((f = find_flush(r, FL_ETRN, e)) != NULL) {
		f->again = true;
		return 1;
	}
	f = new_flush(r, FL_ETRN, e, domain, subdomains, client, false);
	if (f == NULL)
		return -1;
	f->done = done;
	f->done_arg = arg;
	start_flush(f);
	return 0;
}

void runner_cancel(struct runner *r, void *arg)
{
	for (struct flush *f = r->flushes; f != NULL; f = f->next)
		if (f->done_arg == arg)
			f->done = NULL;
}

/* Start (or re-arm) the flush of a whole route. 1 started, 0 not. */
static int route_flush(struct runner *r, enum fl_kind kind,
		       const struct config_etrn_domain *e, bool due_only)
{
	struct flush *f = find_flush(r, kind, e);

	if (r->shut)
		return 0;
	if (f != NULL) {
		f->again = true;
		return 0;
	}
	f = new_flush(r, kind, e, e != NULL ? e->name : NULL,
		      e != NULL && e->subdomains, NULL, due_only);
	if (f == NULL)
		return 0;
	start_flush(f);
	return 1;
}

static void sweep(struct runner *r)
{
	struct job *j;

	if (r->sweeping || r->shut)
		return;
	j = new_job(JOB_SWEEP, NULL);
	if (j != NULL && submit(r, j) == 0)
		r->sweeping = true;
	else
		free(j);
}

int runner_flush_all(struct runner *r, const char *domain, bool due_only)
{
	const struct config_etrn_domain *e = NULL;
	int n = 0;

	if (domain != NULL) {
		switch (outb_route_of(r->cfg, domain, &e)) {
		case OUTB_ROUTE_ETRN:
			if (e->deliver_host == NULL) {
				errno = EINVAL;
				return -1;
			}
			return route_flush(r, FL_ETRN, e, due_only);
		case OUTB_ROUTE_LOCAL:
			return route_flush(r, FL_LOCAL, NULL, due_only);
		case OUTB_ROUTE_RELAY:
			return route_flush(r, FL_RELAY, NULL, due_only);
		case OUTB_ROUTE_DIRECT:
			return direct_flush(r->direct, domain, due_only) < 0 ? -1 : 1;
		case OUTB_ROUTE_NONE:
			errno = ENOENT;
			return -1;
		}
	}
	sweep(r);
	for (size_t i = 0; i < r->cfg->n_etrn_domains; i++)
		if (r->cfg->etrn_domains[i].deliver_host != NULL)
			n += route_flush(r, FL_ETRN, &r->cfg->etrn_domains[i],
					 due_only);
	n += route_flush(r, FL_LOCAL, NULL, due_only);
	if (r->cfg->relayhost.host != NULL)
		n += route_flush(r, FL_RELAY, NULL, due_only);
	if (!r->shut)
		n += direct_flush(r->direct, NULL, due_only) == 1;
	return n;
}

void runner_kick(struct runner *r)
{
	route_flush(r, FL_LOCAL, NULL, true);
	if (r->cfg->relayhost.host != NULL)
		route_flush(r, FL_RELAY, NULL, true);
	if (!r->shut)
		direct_flush(r->direct, NULL, true);
}

/* The direct route's DSNs and its idle moment reach the runner. */
static void direct_kick(void *arg, unsigned bits)
{
	(void)bits;
	runner_kick(arg);
}

static void direct_idle(void *arg)
{
	maybe_idle(arg);
}

/* The direct route and its resolver (opts->dns, or one of its own made
 * from the configuration; without one its items wait, deferred). */
static int start_direct(struct runner *r, const struct runner_opts *opts,
			char *err, size_t errlen)
{
	char why[256];
	struct direct_opts o = {
		.loop = r->loop, .pool = r->pool, .cfg = r->cfg, .q = r->q,
		.db = r->db, .verify_ctx = r->verify_ctx, .any_ctx = r->any_ctx,
		.clock = opts->clock, .clock_arg = opts->clock_arg,
		.kick = direct_kick, .idle = direct_idle, .arg = r,
	};

	r->dns = opts->dns;
	if (r->dns == NULL) {
		r->dns = outb_dns_new(r->loop, r->cfg, why, sizeof(why));
		r->own_dns = r->dns != NULL;
		if (r->dns == NULL)
			log_warnx("queue: no DNS resolver for direct delivery: %s",
				  why);
	}
	o.dns = r->dns;
	r->direct = direct_new(&o, err, errlen);
	return r->direct != NULL ? 0 : -1;
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct runner *r = w->data;
	time_t t = now(r);

	(void)loop;
	(void)revents;
	for (size_t i = 0; i < r->cfg->n_etrn_domains; i++) {
		const struct config_etrn_domain *e = &r->cfg->etrn_domains[i];

		if (e->retry == 0 || e->deliver_host == NULL ||
		    t < r->last_retry[i] + (time_t)e->retry)
			continue;
		r->last_retry[i] = t;
		route_flush(r, FL_ETRN, e, true);
	}
	runner_kick(r);
	sweep(r);
}

/* Free what runner_new made (each part may be missing). */
static void release(struct runner *r)
{
	secret_free(r->relay_pw);
	aliases_free(r->al);
	direct_free(r->direct);
	if (r->own_dns)
		dns_free(r->dns);
	SSL_CTX_free(r->verify_ctx);
	SSL_CTX_free(r->any_ctx);
	free(r->last_retry);
	free(r);
}

struct runner *runner_new(struct ev_loop *loop, struct worker *pool,
			  const struct runner_opts *opts, char *err,
			  size_t errlen)
{
	struct runner *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->loop = loop;
	r->pool = pool;
	r->cfg = opts->cfg;
	r->q = opts->queue;
	r->db = opts->userdb;
	r->clock = opts->clock;
	r->clock_arg = opts->clock_arg;
	r->last_retry = calloc(r->cfg->n_etrn_domains + 1,
			       sizeof(*r->last_retry));
	if (opts->relay_password != NULL &&
	    (r->relay_pw = strdup(opts->relay_password)) == NULL) {
		free(r->last_retry);
		r->last_retry = NULL;
	}
	r->verify_ctx = tls_client_ctx_new(r->cfg->tls_ca_file, err, errlen);
	if (r->verify_ctx != NULL)
		r->any_ctx = smtpc_ctx_any_new(err, errlen);
	if (r->last_retry == NULL || r->verify_ctx == NULL ||
	    r->any_ctx == NULL || start_direct(r, opts, err, errlen) < 0) {
		if (r->last_retry == NULL)
			snprintf(err, errlen, "out of memory");
		release(r);
		return NULL;
	}
	ev_timer_init(&r->tick, tick_cb, opts->tick, opts->tick);
	r->tick.data = r;
	if (opts->tick > 0) {
		ev_timer_start(loop, &r->tick);
		ev_unref(loop); /* the periodic timer alone keeps no loop alive */
	}
	return r;
}

void runner_shutdown(struct runner *r)
{
	struct flush *f, *next;

	if (r->shut)
		return;
	r->shut = true;
	if (ev_is_active(&r->tick)) {
		ev_ref(r->loop);
		ev_timer_stop(r->loop, &r->tick);
	}
	direct_shutdown(r->direct);
	for (f = r->flushes; f != NULL; f = next) {
		next = f->next;
		f->again = false;
		if (f->done != NULL) {
			runner_flush_fn *done = f->done;

			f->done = NULL;
			done(f->done_arg, RUNNER_ERROR, 0);
		}
		if (f->s != NULL)
			smtpc_abort(f->s, "shutting down");
	}
}

void runner_free(struct runner *r)
{
	if (r == NULL)
		return;
	if (runner_busy(r) != 0) {
		/* Finish later, from the last done function. */
		for (struct flush *f = r->flushes; f != NULL; f = f->next)
			f->done = NULL;
		runner_shutdown(r);
		r->dying = true;
		return;
	}
	if (ev_is_active(&r->tick)) {
		ev_ref(r->loop);
		ev_timer_stop(r->loop, &r->tick);
	}
	release(r);
}

size_t runner_busy(const struct runner *r)
{
	size_t n = r->jobs + direct_busy(r->direct);

	for (const struct flush *f = r->flushes; f != NULL; f = f->next)
		n++;
	return n;
}

void runner_on_idle(struct runner *r, void (*fn)(void *arg), void *arg)
{
	r->idle_fn = fn;
	r->idle_arg = arg;
}

void runner_get_stats(const struct runner *r, struct runner_stats *st_r)
{
	struct direct_stats ds;

	direct_get_stats(r->direct, &ds);
	*st_r = r->stats;
	st_r->sent += ds.sent;
	st_r->deferred += ds.deferred;
	st_r->bounced += ds.bounced;
	st_r->sessions_failed += ds.sessions_failed;
}
