/* common/runtime/server_reload.c: the SIGHUP reload: the new config, then
 * each part taken afresh or kept with one error line (log level and file,
 * login settings, TLS context, the daemon's own part), then the user db on
 * the storage pool; the summary line and READY=1 come when that is back. */
#include "autoconf.h"

#include <stdlib.h>

#include "common/base/log.h"
#include "common/base/sdnotify.h"
#include "common/config/config_dkim.h"
#include "common/config/config_load.h"
#include "common/net/tls.h"
#include "common/runtime/server.h"
#include "common/runtime/server_cfg.h"
#include "common/runtime/server_listen.h"
#include "common/runtime/server_pools.h"
#include "common/runtime/server_state.h"
#include "common/runtime/server_userdb.h"
#include "common/users/throttle.h"
#include "common/users/userdb.h"

#define REFUSED "reload refused, running the old configuration"

/* Each step below either applies its part of the new config or logs one
 * error line naming what it kept and why, and returns -1. */

static int reload_log_file(const struct config *cfg)
{
	char msg[SERVER_MSG_MAX];
	const char *old = log_file_path();

	if (log_use_file(cfg->log_file, msg, sizeof msg) == 0)
		return 0;
	if (old != NULL)
		log_errorx("reload: %s; keeping the old log file %s", msg, old);
	else
		log_errorx("reload: %s; logging stays on %s", msg,
			   log_on_stderr() ? "stderr" : "syslog");
	return -1;
}

/* The password cost, the dummy hash and the login throttle. */
static void reload_login_settings(struct server *srv, const struct config *cfg)
{
	const struct config *old = srv->cfg->cfg;

	if (srv->users.db != NULL)
		userdb_set_cost(srv->users.db, cfg->password_opslimit,
				cfg->password_memlimit);
	if (cfg->password_opslimit != old->password_opslimit ||
	    cfg->password_memlimit != old->password_memlimit)
		server_pools_dummy_hash(srv, cfg->password_opslimit,
					cfg->password_memlimit);
	throttle_configure(srv->throttle, cfg->login_fail_delay,
			   THROTTLE_MAX_DELAY, cfg->login_fail_limit,
			   cfg->login_fail_window);
}

static int reload_tls(struct server *srv, const struct config *cfg)
{
	char msg[SERVER_MSG_MAX];

	if (cfg->tls_cert == NULL || cfg->tls_key == NULL) {
		if (srv->tls != NULL) {
			SSL_CTX_free(srv->tls);
			srv->tls = NULL;
			log_warnx("reload: no tls_cert/tls_key: TLS is off for "
				  "new sessions");
		}
		return 0;
	}
	if (srv->tls == NULL) {
		srv->tls = tls_server_ctx_new(cfg->tls_cert, cfg->tls_key, msg,
					      sizeof msg);
		if (srv->tls != NULL)
			return 0;
		log_errorx("reload: %s; TLS stays off", msg);
		return -1;
	}
	if (tls_server_reload(&srv->tls, cfg->tls_cert, cfg->tls_key, msg,
			      sizeof msg) == 0)
		return 0;
	log_errorx("reload: %s; keeping the old certificate and key", msg);
	return -1;
}

/* The end of a reload: one summary line, READY=1 for systemd. */
static void reload_finish(struct server *srv)
{
	int kept = srv->reload_kept;

	if (kept == 0)
		log_info("reloaded %s", srv->cfg_path);
	else
		log_warnx("reload of %s applied except for %d part%s kept "
			  "as before (errors above)", srv->cfg_path, kept,
			  kept == 1 ? "" : "s");
	sdnotify_ready(kept == 0 ? "reloaded" : REFUSED);
}

static void userdb_done(void *arg, int rc)
{
	struct server *srv = arg;

	srv->reload_wait = NULL;
	srv->reload_kept -= rc;
	reload_finish(srv);
}

/* The user db part, on the storage pool; a reload still waiting for the
 * previous one's takes its place (one summary for both). */
static void reload_userdb(struct server *srv)
{
	server_userdb_cancel(srv, srv->reload_wait);
	srv->reload_wait = server_userdb_wait(srv, true, userdb_done, srv);
	if (srv->reload_wait != NULL)
		return;
	log_errorx("reload: out of memory; keeping the loaded user database");
	srv->reload_kept++;
	reload_finish(srv);
}

int server_reload(struct server *srv)
{
	struct server_cfgref *ref;
	struct config *cfg;
	char *err = NULL;
	int kept = 0;

	cfg = config_load(srv->cfg_path, &err);
	if (cfg == NULL) {
		log_lines(LOG_LVL_ERROR, "reload: ",
			  err != NULL ? err : "out of memory",
			  "; keeping the old configuration");
		free(err);
		sdnotify_ready(REFUSED);
		return -1;
	}
	if (srv->ops->dkim_keys && config_dkim_load(cfg, &err) < 0) {
		log_lines(LOG_LVL_ERROR, "reload: ",
			  err != NULL ? err : "out of memory",
			  "; keeping the old configuration");
		free(err);
		config_free(cfg);
		sdnotify_ready(REFUSED);
		return -1;
	}
	if ((ref = server_cfg_wrap(cfg)) == NULL) {
		log_errorx("reload: out of memory; keeping the old "
			   "configuration");
		sdnotify_ready(REFUSED);
		return -1;
	}
	log_set_level(cfg->log_level);
	kept -= reload_log_file(cfg);
	if (server_listen_lines(cfg, srv->ops->proto) != srv->n_listens)
		log_warnx("reload: listen lines changed; they take effect "
			  "after a restart");
	reload_login_settings(srv, cfg);
	kept -= reload_tls(srv, cfg);
	server_cfg_install(srv, ref);
	if (srv->ops->reload != NULL)
		kept -= srv->ops->reload(srv);
	srv->reload_kept = kept;
	reload_userdb(srv);
	return kept == 0 ? 0 : -1;
}
