/* common/runtime/server_start.c: a daemon's start-up in the order
 * server.h gives (config and log, the checks before anything is read, the
 * user db and login settings, limits, TLS, listeners, privilege drop,
 * pools, signals, the daemon's start), the run, and the teardown. */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/base/privdrop.h"
#include "common/base/sdnotify.h"
#include "common/config/config_dkim.h"
#include "common/config/config_load.h"
#include "common/config/safety.h"
#include "common/net/net.h"
#include "common/net/tls.h"
#include "common/net/worker.h"
#include "common/runtime/server.h"
#include "common/runtime/server_cfg.h"
#include "common/runtime/server_clients.h"
#include "common/runtime/server_listen.h"
#include "common/runtime/server_pools.h"
#include "common/runtime/server_signal.h"
#include "common/runtime/server_state.h"
#include "common/runtime/server_userdb.h"
#include "common/users/password.h"
#include "common/users/throttle.h"

/* Descriptors kept aside for files, the user db and the like. */
#define SERVER_FD_SPARE 64

/* The config, the log it asks for, and the checks that must come before
 * anything is read from the files it names. */
static int start_config(struct server *srv, char **err_r)
{
	char msg[SERVER_MSG_MAX], *cerr = NULL;
	struct config *cfg = config_load(srv->cfg_path, &cerr);

	if (cfg == NULL) {
		*err_r = cerr != NULL ? cerr : strdup("out of memory\n");
		return -1;
	}
	if (server_cfg_init(srv, cfg) < 0)
		return -1;
	log_set_level(cfg->log_level);
	/* First, so that every later line goes there; as the user we were
	 * started as (root may open what run_as could not). */
	if (log_use_file(cfg->log_file, msg, sizeof msg) < 0) {
		server_errf(err_r, "%s", msg);
		return -1;
	}
	/* privdrop_to would refuse this after binding; say so first, as the
	 * file checks below would otherwise ask for root-owned files. */
	if (!(srv->flags & SERVER_KEEP_PRIVS) && geteuid() == 0 &&
	    (cfg->run_as == NULL || cfg->run_as[0] == '\0')) {
		server_errf(err_r, "running as root and no user is configured "
			    "to drop privileges to; refusing to continue as "
			    "root (set run_as in %s, or start as an "
			    "unprivileged user)", srv->cfg_path);
		return -1;
	}
	/* Before anything is read from them: a world-readable key or user
	 * db, or a data dir others can write into, stops the daemon. */
	if (safety_check_config(cfg, err_r) < 0) {
		if (*err_r == NULL)
			server_errf(err_r, "cannot check file permissions: %s",
				    strerror(errno));
		return -1;
	}
	/* The DKIM keys, as the TLS key, are read as the user started. */
	if (srv->ops->dkim_keys && config_dkim_load(cfg, &cerr) < 0) {
		*err_r = cerr != NULL ? cerr : strdup("out of memory\n");
		return -1;
	}
	return 0;
}

/* The user db, the dummy hash of unknown users, the login throttle. */
static int start_logins(struct server *srv, char **err_r)
{
	const struct config *cfg = srv->cfg->cfg;

	if (password_init() < 0) {
		server_errf(err_r, "libsodium cannot be initialised");
		return -1;
	}
	if (server_userdb_open(srv) < 0) {
		server_errf(err_r, "%s: cannot read the user database: %s",
			    cfg->user_db, strerror(errno));
		return -1;
	}
	if (password_dummy_prepare(cfg->password_opslimit,
				   cfg->password_memlimit) < 0) {
		server_errf(err_r, "cannot prepare the dummy password hash: %s",
			    strerror(errno));
		return -1;
	}
	srv->throttle = throttle_new(cfg->login_fail_delay, THROTTLE_MAX_DELAY,
				     cfg->login_fail_limit,
				     cfg->login_fail_window, 0);
	if (srv->throttle == NULL) {
		server_errf(err_r, "out of memory");
		return -1;
	}
	return 0;
}

/* The open-files limit, SIGPIPE, the TLS context. */
static int start_process(struct server *srv, char **err_r)
{
	const struct config *cfg = srv->cfg->cfg;
	char msg[SERVER_MSG_MAX];
	unsigned long nofile;

	if (net_raise_nofile(&nofile) < 0)
		log_warn("cannot raise the open-files limit");
	else if (nofile != (unsigned long)-1 &&
		 nofile < cfg->max_connections + SERVER_FD_SPARE)
		log_warnx("open-files limit %lu caps connections below "
			  "max_connections %llu", nofile,
			  cfg->max_connections);
	/* conn writes to sockets that may be closed; EPIPE is handled. */
	signal(SIGPIPE, SIG_IGN);
	if (cfg->tls_cert == NULL || cfg->tls_key == NULL)
		return 0;
	srv->tls = tls_server_ctx_new(cfg->tls_cert, cfg->tls_key, msg,
				      sizeof msg);
	if (srv->tls == NULL) {
		server_errf(err_r, "%s", msg);
		return -1;
	}
	return 0;
}

/* Listeners, the daemon's preparation, the privilege drop, the pools and
 * signals, the daemon. */
static int start_serving(struct server *srv, char **err_r)
{
	char msg[SERVER_MSG_MAX];

	if (server_listen_bind(srv, err_r) < 0)
		return -1;
	if (srv->ops->prepare != NULL && srv->ops->prepare(srv) < 0) {
		server_errf(err_r, "%s: start-up failed", srv->ops->name);
		return -1;
	}
	/* Before any thread exists, as privdrop_to requires. */
	if (!(srv->flags & SERVER_KEEP_PRIVS) &&
	    privdrop_to(srv->cfg->cfg->run_as, true, msg, sizeof msg) < 0) {
		server_errf(err_r, "%s", msg);
		return -1;
	}
	if (server_pools_start(srv, err_r) < 0)
		return -1;
	server_signal_start(srv);
	if (srv->ops->start != NULL && srv->ops->start(srv) < 0) {
		server_errf(err_r, "%s: start-up failed", srv->ops->name);
		return -1;
	}
	srv->started = true;
	return 0;
}

struct server *server_new(const char *cfg_path, const struct server_ops *ops,
			  unsigned flags, char **err_r)
{
	struct server *srv;

	*err_r = NULL;
	srv = calloc(1, sizeof *srv);
	if (srv == NULL || (srv->cfg_path = strdup(cfg_path)) == NULL) {
		free(srv);
		server_errf(err_r, "out of memory");
		return NULL;
	}
	srv->ops = ops;
	srv->flags = flags;
	srv->loop = ev_loop_new(EVFLAG_AUTO);
	if (srv->loop == NULL) {
		server_errf(err_r, "cannot create the event loop");
		goto fail;
	}
	if (start_config(srv, err_r) < 0 || start_logins(srv, err_r) < 0 ||
	    start_process(srv, err_r) < 0 || start_serving(srv, err_r) < 0)
		goto fail;
	log_info("%s started: %zu listener%s, %u worker threads, %u storage "
		 "threads%s", ops->name, srv->n_listens,
		 srv->n_listens == 1 ? "" : "s", worker_threads(srv->worker),
		 worker_threads(srv->io),
		 flags & SERVER_TRACE ? ", protocol trace on" : "");
	return srv;
fail:
	if (*err_r == NULL)
		server_errf(err_r, "out of memory");
	server_free(srv);
	return NULL;
}

int server_run(struct server *srv)
{
	char status[128];

	/* The listeners are bound (connections queue in their backlog) and
	 * the loop is about to serve them: ready for systemd. */
	snprintf(status, sizeof status, "serving %zu listener%s",
		 srv->n_listens, srv->n_listens == 1 ? "" : "s");
	sdnotify_ready(status);
	while (!srv->stopped)
		ev_run(srv->loop, 0);
	log_info("%s stopped", srv->ops->name);
	return 0;
}

void server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	if (srv->ops->cleanup != NULL && srv->started)
		srv->ops->cleanup(srv);
	server_listen_free(srv);
	server_userdb_quiet(srv);
	server_pools_free(srv);
	if (srv->loop != NULL) {
		server_signal_stop(srv);
		ev_loop_destroy(srv->loop);
	}
	server_clients_free(srv);
	server_cfg_free(srv);
	if (srv->tls != NULL)
		SSL_CTX_free(srv->tls);
	server_userdb_free(srv);
	throttle_free(srv->throttle);
	free(srv->cfg_path);
	free(srv);
}
