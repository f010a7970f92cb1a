/* smtpd/outq.c: kantorpos-smtpd's outbound queue (smtpd/outq.h): the
 * queue and its runner for the daemon's life (rebuilt when a reload finds
 * it idle), and what the sessions use of them. Messages get into the queue
 * through the pipeline's queue sink. The runner's local route looks users
 * up in the server's user db (common/runtime/server_userdb.h: re-read on
 * the storage pool, swapped in on the loop), the one RCPT checked them
 * against; the aliases it reads itself (outbound/runner.h). The relayhost's AUTH password is read at start and on each
 * reload (one small file, where the reload reads the configuration) and
 * held here for the runners built afterwards. */
#include "autoconf.h"

#include <limits.h>
#include <stdlib.h>

#include "common/base/log.h"
#include "common/config/config.h"
#include "common/config/secret.h"
#include "common/runtime/server.h"
#include "outbound/relayauth.h"
#include "outbound/runner.h"
#include "smtpd/outq.h"
#include "store/maildir.h"
#include "store/queue.h"

/* Seconds between the runner's periodic rounds (retry intervals, relay
 * back-off, expiry). */
#define OUTQ_TICK 30.0

struct smtpd_outq {
	struct server *srv;
	const struct config *cfg; /* pinned for the runner (reloads replace it) */
	struct server_cfgref *pin;
	struct userdb *db;    /* the server's db the runner was built with:
			       * replaced ones stay allocated until
			       * server_free; NULL: none (local items wait) */
	struct queue *q;
	struct runner *runner;
	char *relay_pw;       /* the relayhost's password (NULL: no auth) */
	bool stale;           /* reloaded: rebuild the runner when idle */
	bool kick;            /* reloaded: due mail goes once rebuilt */
	bool stopping;
};

static int outq_build(struct smtpd_outq *o)
{
	char errbuf[256];
	struct runner_opts ro;

	o->pin = server_config_pin(o->srv, &o->cfg);
	o->db = server_userdb(o->srv);
	ro = (struct runner_opts){ .cfg = o->cfg, .queue = o->q,
				   .userdb = o->db, .tick = OUTQ_TICK,
				   .relay_password = o->relay_pw };
	/* Disk work: never behind the password pool's Argon2id. */
	o->runner = runner_new(server_loop(o->srv), server_io_worker(o->srv),
			       &ro, errbuf, sizeof(errbuf));
	if (o->runner == NULL) {
		log_errorx("queue runner: %s", errbuf);
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
	if (o->pin != NULL)
		server_config_unpin(o->srv, o->pin);
	o->runner = NULL;
	o->db = NULL;
	o->cfg = NULL;
	o->pin = NULL;
}

/* The runner went idle: apply a pending reload, or a user db the server
 * replaced (a new user_db path, a file that appeared). */
static void outq_idle(void *arg)
{
	struct smtpd_outq *o = arg;

	if ((!o->stale && server_userdb(o->srv) == o->db) || o->stopping)
		return;
	o->stale = false;
	outq_teardown(o);
	if (outq_build(o) < 0)
		return;
	runner_on_idle(o->runner, outq_idle, o);
	/* A reload may have fixed what kept mail back (the relayhost, its
	 * password): what is due goes now, not at the next tick. */
	if (o->kick) {
		o->kick = false;
		runner_kick(o->runner);
	}
}

int smtpd_outq_start(struct server *srv, struct smtpd *d)
{
	const struct config *cfg = server_config(srv);
	struct smtpd_outq *o = calloc(1, sizeof(*o));
	char errbuf[PATH_MAX + 512];
	size_t removed = 0;

	if (o == NULL)
		return -1;
	o->srv = srv;
	if (relay_password_read(cfg, &o->relay_pw, errbuf, sizeof(errbuf)) < 0) {
		log_errorx("%s", errbuf);
		free(o);
		return -1;
	}
	if (queue_open(cfg->data_dir, cfg->hostname, &o->q) < 0) {
		log_error("queue: %s/queue", cfg->data_dir);
		secret_free(o->relay_pw);
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
		secret_free(o->relay_pw);
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

int smtpd_outq_reload(struct server *srv, struct smtpd *d)
{
	struct smtpd_outq *o = d->outq;
	char err[PATH_MAX + 512], *pw = NULL;
	int rc = 0;

	if (o == NULL)
		return 0;
	if (relay_password_read(server_config(srv), &pw, err, sizeof(err)) == 0) {
		secret_free(o->relay_pw);
		o->relay_pw = pw;
	} else {
		log_errorx("reload: %s; keeping the old relayhost password", err);
		rc = -1;
	}
	/* The user db is the server's: its reload re-reads it on the
	 * storage pool (and logs a failure once). */
	o->stale = true;
	o->kick = true;
	if (runner_busy(o->runner) == 0)
		outq_idle(o);
	return rc;
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
	secret_free(o->relay_pw);
	free(o);
	d->outq = NULL;
}

struct queue *smtpd_outq_queue(const struct smtpd *d)
{
	return d->outq != NULL ? d->outq->q : NULL;
}

struct runner *smtpd_outq_runner(const struct smtpd *d)
{
	return d->outq != NULL ? d->outq->runner : NULL;
}

void smtpd_outq_kick(void *arg)
{
	const struct smtpd *d = arg;
	struct smtpd_outq *o = d->outq;

	if (o == NULL || o->runner == NULL || o->stopping)
		return;
	/* New local items are for the db their RCPT was checked against. */
	if (runner_busy(o->runner) == 0)
		outq_idle(o);
	if (o->runner != NULL)
		runner_kick(o->runner);
}
