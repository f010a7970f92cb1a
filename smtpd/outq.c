/* smtpd/outq.c: kantorpos-smtpd's side of the outbound queue (ETRN, RFC
 * 1985): the queue and its runner for the daemon's life, the ETRN command,
 * and transactions whose recipients are held for ETRN or go to the relay
 * host — streamed into store/queue and committed on the worker pool
 * before the 250. */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config/config.h"
#include "common/base/log.h"
#include "common/users/userdb.h"
#include "common/net/worker.h"
#include "outbound/etrn.h"
#include "outbound/runner.h"
#include "smtpd/session.h"
#include "store/maildir.h"
#include "store/queue.h"

/* Seconds between the runner's periodic rounds (retry intervals, relay
 * back-off, expiry). */
#define OUTQ_TICK 30.0

struct smtpd_outq {
	struct server *srv;
	const struct config *cfg; /* pinned for the runner (reloads replace it) */
	struct server_cfgref *pin;
	struct userdb *db;    /* for local delivery of notifications */
	struct queue *q;
	struct runner *runner;
	bool stale;           /* reloaded: rebuild the runner when idle */
	bool stopping;
};

/* The ETRN that waits for its queue scan. */
struct etrn_wait {
	struct smtp_session *s;
	struct etrn_request req;
};

static int outq_build(struct smtpd_outq *o)
{
	char errbuf[256];
	struct runner_opts ro;

	o->pin = server_config_pin(o->srv, &o->cfg);
	if (userdb_open(o->cfg->user_db, &o->db) < 0)
		o->db = NULL; /* notifications for local users then wait */
	ro = (struct runner_opts){ .cfg = o->cfg, .queue = o->q,
				   .userdb = o->db, .tick = OUTQ_TICK };
	o->runner = runner_new(server_loop(o->srv), server_worker(o->srv), &ro,
			       errbuf, sizeof(errbuf));
	if (o->runner == NULL) {
		log_errorx("queue runner: %s", errbuf);
		userdb_free(o->db);
		server_config_unpin(o->srv, o->pin);
		o->db = NULL;
		o->cfg = NULL;
		o->pin = NULL;
		return -1;
	}
	return 0;
}

static void outq_teardown(struct smtpd_outq *o)
{
	runner_free(o->runner);
	userdb_free(o->db);
	if (o->pin != NULL)
		server_config_unpin(o->srv, o->pin);
	o->runner = NULL;
	o->db = NULL;
	o->cfg = NULL;
	o->pin = NULL;
}

/* The runner went idle: apply a pending reload. */
static void outq_idle(void *arg)
{
	struct smtpd_outq *o = arg;

	if (!o->stale || o->stopping)
		return;
	o->stale = false;
	outq_teardown(o);
	if (outq_build(o) == 0)
		runner_on_idle(o->runner, outq_idle, o);
}

int smtpd_outq_start(struct server *srv, struct smtpd *d)
{
	const struct config *cfg = server_config(srv);
	struct smtpd_outq *o = calloc(1, sizeof(*o));
	size_t removed = 0;

	if (o == NULL)
		return -1;
	o->srv = srv;
	if (queue_open(cfg->data_dir, cfg->hostname, &o->q) < 0) {
		log_error("queue: %s/queue", cfg->data_dir);
		free(o);
		return -1;
	}
	/* Leftovers of writers that crashed; a running `kantorpos queue add`
	 * is younger than this. */
	if (queue_recover(o->q, MD_TMP_MAX_AGE, &removed) == 0 && removed > 0)
		log_info("queue: removed %zu leftovers of interrupted writes",
			 removed);
	if (outq_build(o) < 0) {
		queue_free(o->q);
		free(o);
		return -1;
	}
	runner_on_idle(o->runner, outq_idle, o);
	/* Mail queued before a restart: local and relay routes go now;
	 * ETRN domains wait for their ETRN (or their retry interval). */
	runner_kick(o->runner);
	d->outq = o;
	return 0;
}

void smtpd_outq_reload(struct server *srv, struct smtpd *d)
{
	struct smtpd_outq *o = d->outq;

	(void)srv;
	if (o == NULL)
		return;
	if (o->db != NULL)
		userdb_reload(o->db);
	o->stale = true;
	if (runner_busy(o->runner) == 0)
		outq_idle(o);
}

void smtpd_outq_stopping(struct smtpd *d)
{
	if (d->outq != NULL) {
		d->outq->stopping = true;
		runner_shutdown(d->outq->runner);
	}
}

void smtpd_outq_cleanup(struct server *srv, struct smtpd *d)
{
	struct smtpd_outq *o = d->outq;
	ev_tstamp until;

	if (o == NULL)
		return;
	/* Let aborted sessions and pool jobs finish so that nothing leaks;
	 * their items stay queued either way. */
	runner_shutdown(o->runner);
	until = ev_time() + 5.0;
	while (runner_busy(o->runner) > 0 && ev_time() < until)
		ev_run(server_loop(srv), EVRUN_ONCE);
	outq_teardown(o);
	queue_free(o->q);
	free(o);
	d->outq = NULL;
}

/* ---- ETRN ---- */

static void etrn_done(void *arg, enum runner_result res, size_t count)
{
	struct etrn_wait *w = arg;
	struct smtp_session *s = w->s;
	struct etrn_reply rep;

	s->etrn_waiting = false;
	s->etrn_wait = NULL;
	etrn_result(&w->req, res == RUNNER_ERROR, false, count, &rep);
	log_info("%s etrn node=%s%s client=%s reply=%d", s->sid,
		 w->req.subdomains ? "@" : "", w->req.domain, s->peer, rep.code);
	free(w);
	smtp_reply(s, rep.code, rep.enh, "%s", rep.text);
	smtp_set_state(s, SMTP_S_READY);
	smtp_resume(s);
}

int smtp_cmd_etrn(void *session, char *args)
{
	struct smtp_session *s = session;
	struct smtpd *d = server_data(s->srv);
	struct etrn_request req;
	struct etrn_reply rep;
	struct etrn_wait *w;
	int rc;

	if (etrn_check(s->cfg, args, s->peer,
		       (s->flags & SMTP_F_AUTH) ? s->user : NULL, &req,
		       &rep) == 0) {
		if (rep.code == 501)
			return smtp_bad(s, rep.code, rep.enh, "%s", rep.text);
		log_info("%s etrn refused arg=%s client=%s reason=%s", s->sid,
			 args, s->peer, rep.text);
		smtp_reply(s, rep.code, rep.enh, "%s", rep.text);
		return PROTO_DONE;
	}
	if (d->outq == NULL || d->outq->runner == NULL ||
	    (w = calloc(1, sizeof(*w))) == NULL) {
		etrn_result(&req, true, false, 0, &rep);
		smtp_reply(s, rep.code, rep.enh, "%s", rep.text);
		return PROTO_DONE;
	}
	w->s = s;
	w->req = req;
	rc = runner_flush_etrn(d->outq->runner, req.domain, req.subdomains,
			       s->peer, etrn_done, w);
	if (rc != 0) {
		/* 1: a flush of this node runs; a new round follows it. */
		etrn_result(&req, rc < 0, rc == 1, 0, &rep);
		free(w);
		log_info("%s etrn node=%s client=%s reply=%d", s->sid,
			 req.domain, s->peer, rep.code);
		smtp_reply(s, rep.code, rep.enh, "%s", rep.text);
		return PROTO_DONE;
	}
	s->etrn_waiting = true;
	s->etrn_wait = w;
	smtp_pause(s);
	return PROTO_ASYNC;
}

void smtp_etrn_cancel(struct smtp_session *s)
{
	struct smtpd *d = server_data(s->srv);

	if (!s->etrn_waiting)
		return;
	if (d->outq != NULL && d->outq->runner != NULL)
		runner_cancel(d->outq->runner, s->etrn_wait);
	free(s->etrn_wait);
	s->etrn_wait = NULL;
	s->etrn_waiting = false;
}

/* ---- queued transactions ---- */

int smtp_queue_begin(struct smtp_session *s, const char *received, size_t n)
{
	struct smtpd *d = server_data(s->srv);
	struct smtp_tx *tx = &s->tx;

	if (d->outq == NULL) {
		errno = EIO;
		return MD_ERR_IO;
	}
	if (queue_tx_begin(d->outq->q, &tx->qtx) < 0 ||
	    queue_tx_write(tx->qtx, received, n) < 0) {
		int r = md_result_from_errno(errno);

		queue_tx_abort(tx->qtx);
		tx->qtx = NULL;
		return r;
	}
	return MD_OK;
}

void smtp_queue_write(struct smtp_session *s, const char *buf, size_t len)
{
	struct smtp_tx *tx = &s->tx;

	if (queue_tx_write(tx->qtx, buf, len) < 0)
		tx->md_err = md_result_from_errno(errno);
}

struct qcommit {
	struct smtp_session *s;
	struct queue_tx *qtx;
	struct queue_env *envs;
	size_t n;
	int rc, err;
	bool kick;
};

/* Add addr to the envelope of its (lower-cased) route domain. */
static int group(struct qcommit *j, const char *addr, const char *sender,
		 time_t now)
{
	const char *at = strrchr(addr, '@');
	char dom[ADDR_DOMAIN_MAX + 1];
	size_t k, len;

	if (at == NULL || (len = strlen(at + 1)) == 0 || len > ADDR_DOMAIN_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i <= len; i++)
		dom[i] = (char)tolower((unsigned char)at[1 + i]);
	for (k = 0; k < j->n && strcmp(j->envs[k].domain, dom) != 0; k++)
		;
	if (k == j->n) {
		if (queue_env_set(&j->envs[k].sender, sender) < 0 ||
		    queue_env_set(&j->envs[k].domain, dom) < 0)
			return -1;
		j->envs[k].arrival = j->envs[k].next_attempt = now;
		j->n++;
	}
	return queue_env_add_rcpt(&j->envs[k], addr);
}

static void qcommit_run(void *arg)
{
	struct qcommit *j = arg;

	j->rc = queue_tx_commit(j->qtx, j->envs, j->n);
	j->err = errno;
	j->qtx = NULL;
}

static void qcommit_free(struct qcommit *j)
{
	queue_tx_abort(j->qtx);
	for (size_t i = 0; i < j->n; i++)
		queue_env_clear(&j->envs[i]);
	free(j->envs);
	free(j);
}

static void qcommit_done(void *arg)
{
	struct qcommit *j = arg;
	struct smtp_session *s = j->s;
	struct smtpd *d = server_data(s->srv);
	char ids[512];
	size_t o = 0;

	s->job_running = false;
	ids[0] = '\0';
	for (size_t i = 0; j->rc == 0 && i < j->n && o < sizeof(ids); i++)
		o += (size_t)snprintf(ids + o, sizeof(ids) - o, "%squeue:%s",
				      i ? "," : "", j->envs[i].id);
	if (j->rc == 0 && j->kick && d->outq != NULL &&
	    d->outq->runner != NULL && !d->outq->stopping)
		runner_kick(d->outq->runner);
	if (s->flags & SMTP_F_CLOSED) {
		log_info("%s queue commit finished after disconnect id=%s rc=%d",
			 s->sid, s->tx.id, j->rc);
		qcommit_free(j);
		smtp_session_maybe_free(s);
		return;
	}
	if (j->rc == 0) {
		smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", s->tx.id);
		smtp_log_accepted(s, data_size(&s->tx.dp), ids);
	} else {
		errno = j->err;
		log_warn("%s queue commit failed id=%s", s->sid, s->tx.id);
		smtp_store_error_reply(s, md_result_from_errno(j->err));
	}
	qcommit_free(j);
	smtp_tx_reset(s);
	smtp_set_state(s, SMTP_S_READY);
	smtp_resume(s);
}

int smtp_queue_end(struct smtp_session *s)
{
	struct smtpd *d = server_data(s->srv);
	struct smtp_tx *tx = &s->tx;
	struct qcommit *j = NULL;
	time_t now = time(NULL);

	if (tx->qtx == NULL || tx->md_err != MD_OK) {
		log_warnx("%s queue write failed id=%s: %s", s->sid, tx->id,
			  md_result_str(tx->md_err));
		smtp_store_error_reply(s, tx->md_err != MD_OK ? tx->md_err
							      : MD_ERR_IO);
		smtp_tx_reset(s);
		return PROTO_DONE;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL ||
	    (j->envs = calloc(tx->n_queue + tx->n_rcpts, sizeof(*j->envs))) ==
		    NULL)
		goto fail;
	j->s = s;
	for (size_t i = 0; i < tx->n_queue; i++)
		if (group(j, tx->queue_rcpts[i], tx->sender, now) < 0)
			goto fail;
	/* Local recipients of the same message: delivered by the runner's
	 * local route a moment later, so one commit covers everything. */
	for (size_t i = 0; i < tx->n_rcpts; i++) {
		if (group(j, tx->rcpts[i].key, tx->sender, now) < 0)
			goto fail;
		j->kick = true;
	}
	/* RFC 6152 §3 / RFC 6531 §3.2: the relay step must know what the
	 * message is, to refuse it to a peer that cannot take it. */
	for (size_t i = 0; i < j->n; i++) {
		j->envs[i].body = tx->params.body == PARAMS_BODY_8BITMIME
					  ? QUEUE_BODY_8BITMIME
				  : tx->params.body == PARAMS_BODY_BINARYMIME
					  ? QUEUE_BODY_BINARYMIME
					  : QUEUE_BODY_7BIT;
		j->envs[i].smtputf8 = tx->params.smtputf8;
	}
	if (d->outq->cfg != NULL && d->outq->cfg->relayhost.host != NULL)
		for (size_t i = 0; i < j->n && !j->kick; i++)
			j->kick = config_find_etrn(d->outq->cfg,
						   j->envs[i].domain) == NULL;
	j->qtx = tx->qtx;
	if (worker_submit(server_worker(s->srv), qcommit_run, qcommit_done,
			  j) < 0) {
		j->qtx = NULL;
		goto fail;
	}
	tx->qtx = NULL; /* the job owns it now */
	s->job_running = true;
	smtp_pause(s);
	return PROTO_ASYNC;
fail:
	log_warn("%s cannot start the queue commit id=%s", s->sid, tx->id);
	if (j != NULL)
		qcommit_free(j);
	smtp_reply(s, 451, "4.3.0", "Local error in processing, try again later");
	smtp_tx_reset(s);
	return PROTO_DONE;
}
