/* common/runtime/server_signal.c: the signal watchers and the graceful
 * stop: stop accepting, call every session's shutdown hook, then wait
 * until the sessions are gone and both pools are idle, or the deadline. */
#include "autoconf.h"

#include <signal.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/sdnotify.h"
#include "common/runtime/server.h"
#include "common/runtime/server_listen.h"
#include "common/runtime/server_pools.h"
#include "common/runtime/server_signal.h"
#include "common/runtime/server_state.h"

/* How often a graceful stop looks at the sessions and the pools. */
#define SERVER_STOP_POLL 0.02

static const int server_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
#define N_SIGNALS (sizeof server_signals / sizeof server_signals[0])

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct server *srv = w->data;

	(void)loop;
	(void)revents;
	if (w->signum == SIGHUP) {
		log_info("SIGHUP: reloading %s", srv->cfg_path);
		sdnotify_reloading();
		(void)server_reload(srv); /* it says READY=1 when done */
	} else if (w->signum == SIGUSR1) {
		/* After logrotate moved the file away; nothing else. */
		log_reopen_report("SIGUSR1");
	} else {
		log_info("%s: graceful stop", strsignal(w->signum));
		server_stop(srv);
	}
}

static void stop_finish(struct server *srv)
{
	srv->stopped = true;
	server_signal_stop(srv);
	ev_break(srv->loop, EVBREAK_ALL);
}

static void stop_check(struct server *srv)
{
	if (srv->stopping && !srv->stopped && srv->n_clients == 0 &&
	    server_pools_in_flight(srv) == 0)
		stop_finish(srv);
}

static void on_stop_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = w->data;
	size_t jobs = server_pools_in_flight(srv);

	(void)loop;
	(void)revents;
	if (w == &srv->stop_poll) {
		stop_check(srv);
		return;
	}
	log_warnx("graceful stop: %zu client%s and %zu worker job%s left "
		  "after %.0f s; exiting anyway", srv->n_clients,
		  srv->n_clients == 1 ? "" : "s", jobs, jobs == 1 ? "" : "s",
		  SERVER_STOP_TIMEOUT);
	stop_finish(srv);
}

void server_signal_start(struct server *srv)
{
	size_t i;

	for (i = 0; i < N_SIGNALS; i++) {
		ev_signal_init(&srv->sig[i], on_signal, server_signals[i]);
		srv->sig[i].data = srv;
		ev_signal_start(srv->loop, &srv->sig[i]);
	}
	ev_timer_init(&srv->stop_deadline, on_stop_timer, SERVER_STOP_TIMEOUT,
		      0.);
	ev_timer_init(&srv->stop_poll, on_stop_timer, SERVER_STOP_POLL,
		      SERVER_STOP_POLL);
	srv->stop_deadline.data = srv->stop_poll.data = srv;
}

void server_signal_stop(struct server *srv)
{
	size_t i;

	for (i = 0; i < N_SIGNALS; i++)
		ev_signal_stop(srv->loop, &srv->sig[i]);
	ev_timer_stop(srv->loop, &srv->stop_deadline);
	ev_timer_stop(srv->loop, &srv->stop_poll);
}

void server_stop(struct server *srv)
{
	struct server_client *cl, *next;
	size_t jobs;

	if (srv->stopping)
		return;
	srv->stopping = true;
	sdnotify_stopping();
	server_listen_close(srv);
	if (srv->ops->stopping != NULL)
		srv->ops->stopping(srv);
	jobs = server_pools_in_flight(srv);
	log_info("stopping: %zu client%s, %zu worker job%s in flight",
		 srv->n_clients, srv->n_clients == 1 ? "" : "s", jobs,
		 jobs == 1 ? "" : "s");
	/* A hook may unregister its own client at once, so take the next
	 * link first. */
	for (cl = srv->clients; cl != NULL; cl = next) {
		next = cl->next;
		if (cl->shut)
			continue;
		cl->shut = true;
		if (cl->shutdown != NULL)
			cl->shutdown(cl);
	}
	ev_timer_start(srv->loop, &srv->stop_deadline);
	ev_timer_start(srv->loop, &srv->stop_poll);
	stop_check(srv);
}
