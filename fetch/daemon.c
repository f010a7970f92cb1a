/* fetch/daemon.c: running fetch accounts once or on their intervals, on
 * the default libev loop with one worker pool. */
#include "autoconf.h"

#include "fetch/daemon.h"

#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config/config.h"
#include "common/base/log.h"
#include "common/base/sdnotify.h"
#include "common/net/worker.h"
#include "fetch/runner.h"

struct sched;

struct fetch_main_ctx {
	struct fetch_env env;
	struct sched *accts;
	size_t n, running;
	bool daemon, stopping;
	bool any_temp, any_config;
	ev_signal sigterm, sigint, sigusr1;
};

struct sched {
	struct fetch_main_ctx *m;
	const struct config_fetch *acct;
	struct fetch_run *run;
	ev_timer timer;
};

static void sched_start(struct sched *s);

static void sched_done(const struct config_fetch *acct,
		       enum fetch_status status, void *arg)
{
	struct sched *s = arg;
	struct fetch_main_ctx *m = s->m;

	(void)acct;
	s->run = NULL;
	m->running--;
	if (status == FETCH_TEMPFAIL)
		m->any_temp = true;
	else if (status == FETCH_CONFIG)
		m->any_config = true;
	if (m->daemon && !m->stopping) {
		ev_timer_set(&s->timer, s->acct->interval, 0.);
		ev_timer_start(m->env.loop, &s->timer);
	}
	if (m->running == 0 && (!m->daemon || m->stopping))
		ev_break(m->env.loop, EVBREAK_ALL);
}

static void sched_start(struct sched *s)
{
	struct fetch_main_ctx *m = s->m;

	if (s->run != NULL || m->stopping)
		return;
	s->run = fetch_run_start(&m->env, s->acct, sched_done, s);
	if (s->run == NULL) {
		log_warn("fetch account=%s: cannot start", s->acct->name);
		m->any_temp = true;
		if (m->daemon) {
			ev_timer_set(&s->timer, s->acct->interval, 0.);
			ev_timer_start(m->env.loop, &s->timer);
		}
		return;
	}
	m->running++;
}

static void sched_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	sched_start(w->data);
}

static void sched_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct fetch_main_ctx *m = w->data;

	(void)revents;
	log_info("fetch: signal %d, stopping", w->signum);
	m->stopping = true;
	sdnotify_stopping();
	for (size_t i = 0; i < m->n; i++) {
		ev_timer_stop(loop, &m->accts[i].timer);
		if (m->accts[i].run != NULL)
			fetch_run_cancel(m->accts[i].run);
	}
	ev_signal_stop(loop, &m->sigterm);
	ev_signal_stop(loop, &m->sigint);
	if (m->running == 0)
		ev_break(loop, EVBREAK_ALL);
}

/* SIGUSR1: reopen the log file after logrotate moved it. */
static void sched_reopen(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	log_reopen_report("SIGUSR1");
}

int fetch_main(const struct config *cfg, const struct config_fetch **accts,
	       size_t n, bool daemon)
{
	struct fetch_main_ctx m;
	struct ev_loop *loop = ev_default_loop(0);
	int rc;

	if (loop == NULL) {
		log_errorx("fetch: cannot create the event loop");
		return 71;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&m, 0, sizeof(m));
	m.env.loop = loop;
	m.env.cfg = cfg;
	m.env.owner = geteuid();
	m.daemon = daemon;
	m.n = n;
	m.env.pool = worker_new(loop, (unsigned)cfg->workers, 0);
	m.accts = calloc(n ? n : 1, sizeof(*m.accts));
	if (m.env.pool == NULL || m.accts == NULL) {
		log_error("fetch: cannot start the worker pool");
		worker_free(m.env.pool);
		free(m.accts);
		return 71;
	}
	if (daemon) {
		ev_signal_init(&m.sigterm, sched_signal, SIGTERM);
		ev_signal_init(&m.sigint, sched_signal, SIGINT);
		ev_signal_init(&m.sigusr1, sched_reopen, SIGUSR1);
		m.sigterm.data = m.sigint.data = &m;
		ev_signal_start(loop, &m.sigterm);
		ev_signal_start(loop, &m.sigint);
		ev_signal_start(loop, &m.sigusr1);
		log_info("fetch: polling %zu account%s", n, n == 1 ? "" : "s");
	}
	for (size_t i = 0; i < n; i++) {
		m.accts[i].m = &m;
		m.accts[i].acct = accts[i];
		ev_timer_init(&m.accts[i].timer, sched_timer, 0., 0.);
		m.accts[i].timer.data = &m.accts[i];
		sched_start(&m.accts[i]);
	}
	if (daemon) {
		/* Every account has its first run under way or its timer
		 * set: ready for systemd (Type=notify). */
		char status[64];

		snprintf(status, sizeof status, "polling %zu account%s", n,
			 n == 1 ? "" : "s");
		sdnotify_ready(status);
	}
	if (m.running > 0 || daemon)
		ev_run(loop, 0);
	for (size_t i = 0; i < n; i++)
		ev_timer_stop(loop, &m.accts[i].timer);
	if (daemon) {
		ev_signal_stop(loop, &m.sigterm);
		ev_signal_stop(loop, &m.sigint);
		ev_signal_stop(loop, &m.sigusr1);
	}
	worker_free(m.env.pool);
	free(m.accts);
	if (daemon)
		rc = 0;
	else
		rc = m.any_config ? 78 : m.any_temp ? 75 : 0;
	return rc;
}
