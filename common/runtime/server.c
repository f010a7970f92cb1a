/* common/runtime/server.c: one daemon's runtime: start-up sequence, listeners with
 * connection limits, the client registry, signals (graceful stop, reload)
 * and the option parsing of server_main. */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


#include "common/base/log.h"
#include "common/net/net.h"
#include "common/users/password.h"
#include "common/base/privdrop.h"
#include "common/config/config_load.h"
#include "common/config/safety.h"
#include "common/base/sdnotify.h"
#include "common/runtime/server.h"
#include "common/users/throttle.h"
#include "common/net/tls.h"
#include "common/users/userdb.h"
#include "common/net/worker.h"

/* Buckets of the per-address connection counts (chained). */
#define SERVER_IP_BUCKETS 1024
/* Descriptors kept aside for files, the user db and the like. */
#define SERVER_FD_SPARE 64
/* Threads of the storage pool: fsync waits on the disk, not the CPU, and
 * a journalling file system commits concurrent fsyncs together, so many
 * deliveries in flight at once are what reaches the disk's limit. */
#define SERVER_IO_THREADS 16
/* How often a graceful stop looks at the worker pool. */
#define SERVER_STOP_POLL 0.02
/* Room for an error that names two files (a key and its certificate). */
#define SERVER_MSG_MAX 2300

struct server_ip {
	struct server_ip *next;
	size_t count;
	char addr[NET_ADDRSTRLEN];
};

/* A config and the sessions pinned to it. */
struct server_cfgref {
	struct config *cfg;
	size_t refs;
	struct server_cfgref *next; /* in the retired list */
};

struct server_listen {
	struct server *srv;
	struct config_listen lc; /* a copy: host owned here */
	struct net_listener *l;
};

struct server {
	const struct server_ops *ops;
	unsigned flags;
	char *cfg_path;
	struct ev_loop *loop;
	struct server_cfgref *cfg;     /* current */
	struct server_cfgref *retired; /* older configs still pinned */
	struct userdb *db;             /* NULL while the file is missing */
	struct userdb **old_dbs;       /* replaced by a user_db change */
	size_t n_old_dbs;
	SSL_CTX *tls;
	struct worker *worker; /* CPU work: Argon2id, one thread per core */
	struct worker *io;     /* storage work: fsync (SERVER_IO_THREADS) */
	struct throttle *throttle;
	struct server_listen *listens;
	size_t n_listens;
	ev_signal sig_term, sig_int, sig_hup, sig_usr1;
	ev_timer stop_deadline, stop_poll;
	struct server_client *clients;
	size_t n_clients;
	struct server_ip *ips[SERVER_IP_BUCKETS];
	bool started, stopping, stopped;
	void *data;
};

static void errf(char **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int open_userdb(const struct config *cfg, struct userdb **db_r);
static int bind_listeners(struct server *srv, char **err_r);
static void on_accept(int fd, const char *peer, void *arg);
static void on_signal(struct ev_loop *loop, ev_signal *w, int revents);
static void on_stop_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void stop_check(struct server *srv);
static size_t jobs_in_flight(const struct server *srv);
static void cfgref_release(struct server *srv, struct server_cfgref *ref);
static struct server_ip **ip_slot(struct server *srv, const char *addr);
static void dummy_job(void *arg);
static void dummy_done(void *arg);

/* ---- start-up and teardown ---- */

struct server *server_new(const char *cfg_path, const struct server_ops *ops,
			  unsigned flags, char **err_r)
{
	struct server *srv;
	struct config *cfg;
	char msg[SERVER_MSG_MAX];
	unsigned long nofile;
	char *cerr = NULL;

	*err_r = NULL;
	srv = calloc(1, sizeof *srv);
	if (srv == NULL || (srv->cfg = calloc(1, sizeof *srv->cfg)) == NULL ||
	    (srv->cfg_path = strdup(cfg_path)) == NULL) {
		if (srv != NULL)
			free(srv->cfg);
		free(srv);
		errf(err_r, "out of memory");
		return NULL;
	}
	srv->ops = ops;
	srv->flags = flags;
	srv->loop = ev_loop_new(EVFLAG_AUTO);
	if (srv->loop == NULL) {
		errf(err_r, "cannot create the event loop");
		goto fail;
	}
	cfg = config_load(cfg_path, &cerr);
	if (cfg == NULL) {
		*err_r = cerr != NULL ? cerr : strdup("out of memory\n");
		goto fail;
	}
	srv->cfg->cfg = cfg;
	log_set_level(cfg->log_level);
	/* First, so that every later line goes there; as the user we were
	 * started as (root may open what run_as could not). */
	if (log_use_file(cfg->log_file, msg, sizeof msg) < 0) {
		errf(err_r, "%s", msg);
		goto fail;
	}
	/* privdrop_to would refuse this after binding; say so first, as the
	 * file checks below would otherwise ask for root-owned files. */
	if (!(flags & SERVER_KEEP_PRIVS) && geteuid() == 0 &&
	    (cfg->run_as == NULL || cfg->run_as[0] == '\0')) {
		errf(err_r, "running as root and no user is configured to drop "
		     "privileges to; refusing to continue as root (set run_as "
		     "in %s, or start as an unprivileged user)", cfg_path);
		goto fail;
	}
	/* Before anything is read from them: a world-readable key or user
	 * db, or a data dir others can write into, stops the daemon. */
	if (safety_check_config(cfg, err_r) < 0) {
		if (*err_r == NULL)
			errf(err_r, "cannot check file permissions: %s",
			     strerror(errno));
		goto fail;
	}
	if (password_init() < 0) {
		errf(err_r, "libsodium cannot be initialised");
		goto fail;
	}
	if (open_userdb(cfg, &srv->db) < 0) {
		errf(err_r, "%s: cannot read the user database: %s",
		     cfg->user_db, strerror(errno));
		goto fail;
	}
	if (password_dummy_prepare(cfg->password_opslimit,
				   cfg->password_memlimit) < 0) {
		errf(err_r, "cannot prepare the dummy password hash: %s",
		     strerror(errno));
		goto fail;
	}
	srv->throttle = throttle_new(cfg->login_fail_delay, THROTTLE_MAX_DELAY,
				     cfg->login_fail_limit,
				     cfg->login_fail_window, 0);
	if (srv->throttle == NULL) {
		errf(err_r, "out of memory");
		goto fail;
	}
	if (net_raise_nofile(&nofile) < 0)
		log_warn("cannot raise the open-files limit");
	else if (nofile != (unsigned long)-1 &&
		 nofile < cfg->max_connections + SERVER_FD_SPARE)
		log_warnx("open-files limit %lu caps connections below "
			  "max_connections %llu", nofile,
			  cfg->max_connections);
	/* conn writes to sockets that may be closed; EPIPE is handled. */
	signal(SIGPIPE, SIG_IGN);
	if (cfg->tls_cert != NULL && cfg->tls_key != NULL) {
		srv->tls = tls_server_ctx_new(cfg->tls_cert, cfg->tls_key, msg,
					      sizeof msg);
		if (srv->tls == NULL) {
			errf(err_r, "%s", msg);
			goto fail;
		}
	}
	if (bind_listeners(srv, err_r) < 0)
		goto fail;
	/* Before any thread exists, as privdrop_to requires. */
	if (!(flags & SERVER_KEEP_PRIVS) &&
	    privdrop_to(cfg->run_as, true, msg, sizeof msg) < 0) {
		errf(err_r, "%s", msg);
		goto fail;
	}
	srv->worker = worker_new(srv->loop, (unsigned)cfg->workers, 0);
	if (srv->worker == NULL) {
		errf(err_r, "cannot start the worker pool: %s",
		     strerror(errno));
		goto fail;
	}
	srv->io = worker_new(srv->loop, SERVER_IO_THREADS, 0);
	if (srv->io == NULL) {
		errf(err_r, "cannot start the storage pool: %s",
		     strerror(errno));
		goto fail;
	}
	ev_signal_init(&srv->sig_term, on_signal, SIGTERM);
	ev_signal_init(&srv->sig_int, on_signal, SIGINT);
	ev_signal_init(&srv->sig_hup, on_signal, SIGHUP);
	ev_signal_init(&srv->sig_usr1, on_signal, SIGUSR1);
	srv->sig_term.data = srv->sig_int.data = srv->sig_hup.data = srv;
	srv->sig_usr1.data = srv;
	ev_signal_start(srv->loop, &srv->sig_term);
	ev_signal_start(srv->loop, &srv->sig_int);
	ev_signal_start(srv->loop, &srv->sig_hup);
	ev_signal_start(srv->loop, &srv->sig_usr1);
	ev_timer_init(&srv->stop_deadline, on_stop_timer, SERVER_STOP_TIMEOUT,
		      0.);
	ev_timer_init(&srv->stop_poll, on_stop_timer, SERVER_STOP_POLL,
		      SERVER_STOP_POLL);
	srv->stop_deadline.data = srv->stop_poll.data = srv;
	if (ops->start != NULL && ops->start(srv) < 0) {
		errf(err_r, "%s: start-up failed", ops->name);
		goto fail;
	}
	srv->started = true;
	log_info("%s started: %zu listener%s, %u worker threads, %u storage "
		 "threads%s", ops->name, srv->n_listens,
		 srv->n_listens == 1 ? "" : "s", worker_threads(srv->worker),
		 worker_threads(srv->io),
		 flags & SERVER_TRACE ? ", protocol trace on" : "");
	return srv;
fail:
	if (*err_r == NULL)
		errf(err_r, "out of memory");
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
	struct server_cfgref *ref, *next;
	struct server_ip *ip, *ipnext;
	struct server_client *cl;
	size_t i;

	if (srv == NULL)
		return;
	if (srv->ops->cleanup != NULL && srv->started)
		srv->ops->cleanup(srv);
	for (i = 0; i < srv->n_listens; i++) {
		net_listener_free(srv->listens[i].l);
		free(srv->listens[i].lc.host);
	}
	free(srv->listens);
	worker_free(srv->worker);
	worker_free(srv->io);
	if (srv->loop != NULL) {
		ev_signal_stop(srv->loop, &srv->sig_term);
		ev_signal_stop(srv->loop, &srv->sig_int);
		ev_signal_stop(srv->loop, &srv->sig_hup);
		ev_signal_stop(srv->loop, &srv->sig_usr1);
		ev_timer_stop(srv->loop, &srv->stop_deadline);
		ev_timer_stop(srv->loop, &srv->stop_poll);
		ev_loop_destroy(srv->loop);
	}
	/* Sessions left after a timed-out stop: detach them. */
	for (cl = srv->clients; cl != NULL; cl = cl->next) {
		cl->ip = NULL;
		cl->cfg = NULL;
	}
	for (i = 0; i < SERVER_IP_BUCKETS; i++)
		for (ip = srv->ips[i]; ip != NULL; ip = ipnext) {
			ipnext = ip->next;
			free(ip);
		}
	for (ref = srv->retired; ref != NULL; ref = next) {
		next = ref->next;
		config_free(ref->cfg);
		free(ref);
	}
	if (srv->cfg != NULL)
		config_free(srv->cfg->cfg);
	free(srv->cfg);
	if (srv->tls != NULL)
		SSL_CTX_free(srv->tls);
	userdb_free(srv->db);
	for (i = 0; i < srv->n_old_dbs; i++)
		userdb_free(srv->old_dbs[i]);
	free(srv->old_dbs);
	throttle_free(srv->throttle);
	free(srv->cfg_path);
	free(srv);
}

/* A missing user db is an empty one (with a warning); the file is opened
 * when it appears (server_userdb_refresh). */
static int open_userdb(const struct config *cfg, struct userdb **db_r)
{
	size_t i;

	*db_r = NULL;
	if (userdb_open(cfg->user_db, db_r) < 0) {
		if (errno != ENOENT)
			return -1;
		log_warnx("%s: user database missing: no user can log in",
			  cfg->user_db);
		return 0;
	}
	for (i = 0; i < userdb_warning_count(*db_r); i++)
		log_warnx("%s", userdb_warning(*db_r, i));
	userdb_set_cost(*db_r, cfg->password_opslimit, cfg->password_memlimit);
	return 0;
}

static int bind_listeners(struct server *srv, char **err_r)
{
	const struct config *cfg = srv->cfg->cfg;
	struct server_listen *sl;
	char hostport[NET_HOST_MAX + 16], msg[512];
	size_t i, n = 0;

	for (i = 0; i < cfg->n_listeners; i++)
		n += cfg->listeners[i].proto == srv->ops->proto;
	if (n == 0) {
		errf(err_r, "%s: no \"listen %s\" line: nothing to serve",
		     cfg->file, srv->ops->proto == CONFIG_PROTO_SMTP ? "smtp"
								      : "pop3");
		return -1;
	}
	srv->listens = calloc(n, sizeof *srv->listens);
	if (srv->listens == NULL) {
		errf(err_r, "out of memory");
		return -1;
	}
	for (i = 0; i < cfg->n_listeners; i++) {
		const struct config_listen *lc = &cfg->listeners[i];

		if (lc->proto != srv->ops->proto)
			continue;
		sl = &srv->listens[srv->n_listens];
		sl->srv = srv;
		sl->lc = *lc;
		sl->lc.host = NULL;
		if (lc->host != NULL && (sl->lc.host = strdup(lc->host)) == NULL) {
			errf(err_r, "out of memory");
			return -1;
		}
		srv->n_listens++;
		if (lc->addr == CONFIG_ADDR_ANY)
			snprintf(hostport, sizeof hostport, "*:%u", lc->port);
		else if (lc->addr == CONFIG_ADDR_IPV6)
			snprintf(hostport, sizeof hostport, "[%s]:%u", lc->host,
				 lc->port);
		else
			snprintf(hostport, sizeof hostport, "%s:%u", lc->host,
				 lc->port);
		if (net_listen(srv->loop, hostport, SOMAXCONN, on_accept, sl,
			       &sl->l, msg, sizeof msg) < 0) {
			errf(err_r, "%s:%u: %s", cfg->file, lc->line, msg);
			return -1;
		}
		log_info("listening on %s (%s%s)", hostport,
			 srv->ops->proto == CONFIG_PROTO_SMTP ? "smtp" : "pop3",
			 lc->tls ? ", tls" : "");
	}
	return 0;
}

/* ---- accepting ---- */

static void on_accept(int fd, const char *peer, void *arg)
{
	struct server_listen *sl = arg;
	struct server *srv = sl->srv;
	const struct config *cfg = srv->cfg->cfg;
	size_t per_ip;

	if (srv->stopping) {
		close(fd);
		return;
	}
	per_ip = server_client_count_ip(srv, peer);
	if (srv->n_clients >= cfg->max_connections ||
	    per_ip >= cfg->max_connections_per_ip) {
		log_info("refused client=%s reason=%s", peer,
			 srv->n_clients >= cfg->max_connections
				 ? "max_connections"
				 : "max_connections_per_ip");
		if (srv->ops->refuse != NULL)
			srv->ops->refuse(srv, &sl->lc, fd, peer);
		close(fd);
		return;
	}
	srv->ops->accept(srv, &sl->lc, fd, peer);
}

/* ---- client registry ---- */

static uint32_t ip_hash(const char *addr)
{
	uint32_t h = 2166136261u;

	while (*addr != '\0') {
		h ^= (unsigned char)*addr++;
		h *= 16777619u;
	}
	return h;
}

static struct server_ip **ip_slot(struct server *srv, const char *addr)
{
	struct server_ip **p = &srv->ips[ip_hash(addr) % SERVER_IP_BUCKETS];

	while (*p != NULL && strcmp((*p)->addr, addr) != 0)
		p = &(*p)->next;
	return p;
}

int server_client_register(struct server *srv, struct server_client *cl,
			   const char *peer)
{
	struct server_ip **slot = ip_slot(srv, peer);

	if (*slot == NULL) {
		*slot = calloc(1, sizeof **slot);
		if (*slot == NULL) {
			errno = ENOMEM;
			return -1;
		}
		snprintf((*slot)->addr, sizeof (*slot)->addr, "%s", peer);
	}
	(*slot)->count++;
	cl->ip = *slot;
	cl->cfg = srv->cfg;
	cl->cfg->refs++;
	cl->shut = false;
	cl->prev = NULL;
	cl->next = srv->clients;
	if (srv->clients != NULL)
		srv->clients->prev = cl;
	srv->clients = cl;
	srv->n_clients++;
	return 0;
}

void server_client_unregister(struct server *srv, struct server_client *cl)
{
	struct server_ip **slot;

	if (cl->ip == NULL)
		return;
	if (cl->prev != NULL)
		cl->prev->next = cl->next;
	else
		srv->clients = cl->next;
	if (cl->next != NULL)
		cl->next->prev = cl->prev;
	srv->n_clients--;
	if (--cl->ip->count == 0) {
		slot = ip_slot(srv, cl->ip->addr);
		*slot = cl->ip->next;
		free(cl->ip);
	}
	cfgref_release(srv, cl->cfg);
	cl->ip = NULL;
	cl->cfg = NULL;
	cl->prev = cl->next = NULL;
	stop_check(srv);
}

const struct config *server_client_config(const struct server_client *cl)
{
	return cl->cfg != NULL ? cl->cfg->cfg : NULL;
}

size_t server_client_count(const struct server *srv)
{
	return srv->n_clients;
}

size_t server_client_count_ip(const struct server *srv, const char *peer)
{
	struct server_ip *ip = *ip_slot((struct server *)srv, peer);

	return ip != NULL ? ip->count : 0;
}

/* Drop a pin; a retired config nobody uses any more is freed. */
static void cfgref_release(struct server *srv, struct server_cfgref *ref)
{
	struct server_cfgref **p;

	if (ref == NULL || --ref->refs > 0 || ref == srv->cfg)
		return;
	for (p = &srv->retired; *p != NULL; p = &(*p)->next)
		if (*p == ref) {
			*p = ref->next;
			config_free(ref->cfg);
			free(ref);
			return;
		}
}

/* ETRN */
struct server_cfgref *server_config_pin(struct server *srv,
					const struct config **cfg_r)
{
	srv->cfg->refs++;
	*cfg_r = srv->cfg->cfg;
	return srv->cfg;
}

void server_config_unpin(struct server *srv, struct server_cfgref *ref)
{
	cfgref_release(srv, ref);
}

/* ---- signals, stop and reload ---- */

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct server *srv = w->data;

	(void)loop;
	(void)revents;
	if (w->signum == SIGHUP) {
		log_info("SIGHUP: reloading %s", srv->cfg_path);
		sdnotify_reloading();
		sdnotify_ready(server_reload(srv) == 0
				       ? "reloaded"
				       : "reload refused, running the old "
					 "configuration");
	} else if (w->signum == SIGUSR1) {
		/* After logrotate moved the file away; nothing else. */
		log_reopen_report("SIGUSR1");
	} else {
		log_info("%s: graceful stop", strsignal(w->signum));
		server_stop(srv);
	}
}

void server_stop(struct server *srv)
{
	struct server_client *cl, *next;
	size_t i;

	if (srv->stopping)
		return;
	srv->stopping = true;
	sdnotify_stopping();
	for (i = 0; i < srv->n_listens; i++) {
		net_listener_free(srv->listens[i].l);
		srv->listens[i].l = NULL;
	}
	if (srv->ops->stopping != NULL)
		srv->ops->stopping(srv);
	log_info("stopping: %zu client%s, %zu worker job%s in flight",
		 srv->n_clients, srv->n_clients == 1 ? "" : "s",
		 jobs_in_flight(srv), jobs_in_flight(srv) == 1 ? "" : "s");
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

/* Jobs of both pools whose done function has not run yet. */
static size_t jobs_in_flight(const struct server *srv)
{
	return worker_in_flight(srv->worker) +
	       (srv->io != NULL ? worker_in_flight(srv->io) : 0);
}

static void stop_finish(struct server *srv)
{
	srv->stopped = true;
	ev_timer_stop(srv->loop, &srv->stop_deadline);
	ev_timer_stop(srv->loop, &srv->stop_poll);
	ev_signal_stop(srv->loop, &srv->sig_term);
	ev_signal_stop(srv->loop, &srv->sig_int);
	ev_signal_stop(srv->loop, &srv->sig_hup);
	ev_signal_stop(srv->loop, &srv->sig_usr1);
	ev_break(srv->loop, EVBREAK_ALL);
}

static void stop_check(struct server *srv)
{
	if (srv->stopping && !srv->stopped && srv->n_clients == 0 &&
	    jobs_in_flight(srv) == 0)
		stop_finish(srv);
}

static void on_stop_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = w->data;

	(void)loop;
	(void)revents;
	if (w == &srv->stop_poll) {
		stop_check(srv);
		return;
	}
	log_warnx("graceful stop: %zu client%s and %zu worker job%s left "
		  "after %.0f s; exiting anyway", srv->n_clients,
		  srv->n_clients == 1 ? "" : "s", jobs_in_flight(srv),
		  jobs_in_flight(srv) == 1 ? "" : "s",
		  SERVER_STOP_TIMEOUT);
	stop_finish(srv);
}

struct dummy_arg {
	unsigned long long opslimit;
	size_t memlimit;
};

static void dummy_job(void *arg)
{
	struct dummy_arg *d = arg;

	(void)password_dummy_prepare(d->opslimit, d->memlimit);
}

static void dummy_done(void *arg)
{
	free(arg);
}

/* ---- reload ---- */

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

/* Reread the user db when its file changed. Returns 1 when it was
 * (re)loaded, 0 when nothing changed or it is still missing, -1 when the
 * loaded one stays because the file cannot be read. */
static int refresh_userdb(struct server *srv)
{
	const struct config *cfg = srv->cfg->cfg;
	size_t i;
	int rc;

	if (srv->db == NULL) {
		if (userdb_open(cfg->user_db, &srv->db) < 0) {
			srv->db = NULL;
			return errno == ENOENT ? 0 : -1;
		}
		userdb_set_cost(srv->db, cfg->password_opslimit,
				cfg->password_memlimit);
		rc = 1;
	} else if ((rc = userdb_reload(srv->db)) < 0) {
		return -1;
	}
	if (rc == 1) {
		log_info("%s: user database loaded: %zu user%s", cfg->user_db,
			 userdb_count(srv->db),
			 userdb_count(srv->db) == 1 ? "" : "s");
		for (i = 0; i < userdb_warning_count(srv->db); i++)
			log_warnx("%s", userdb_warning(srv->db, i));
	}
	return rc;
}

static int reload_userdb(struct server *srv, const struct config *cfg)
{
	const struct config *old = srv->cfg->cfg;
	struct userdb *db;
	void *grown;

	if (strcmp(cfg->user_db, old->user_db) == 0) {
		if (refresh_userdb(srv) >= 0)
			return 0;
		log_errorx("reload: user_db %s: %s; %s", cfg->user_db,
			   strerror(errno), srv->db != NULL
			   ? "keeping the loaded user database"
			   : "still no user database: no user can log in");
		return -1;
	}
	grown = realloc(srv->old_dbs,
			(srv->n_old_dbs + 1) * sizeof *srv->old_dbs);
	if (grown == NULL) {
		log_errorx("reload: out of memory; keeping the user database "
			   "%s", old->user_db);
		return -1;
	}
	srv->old_dbs = grown;
	if (open_userdb(cfg, &db) < 0) {
		log_errorx("reload: user_db %s: %s; keeping the user database "
			   "%s", cfg->user_db, strerror(errno), old->user_db);
		return -1;
	}
	/* Workers may still verify against the old one. */
	if (srv->db != NULL)
		srv->old_dbs[srv->n_old_dbs++] = srv->db;
	srv->db = db;
	return 0;
}

/* The password cost, the dummy hash and the login throttle. */
static void reload_login_settings(struct server *srv, const struct config *cfg)
{
	const struct config *old = srv->cfg->cfg;
	struct dummy_arg *d;

	if (srv->db != NULL)
		userdb_set_cost(srv->db, cfg->password_opslimit,
				cfg->password_memlimit);
	if ((cfg->password_opslimit != old->password_opslimit ||
	     cfg->password_memlimit != old->password_memlimit) &&
	    (d = malloc(sizeof *d)) != NULL) {
		d->opslimit = cfg->password_opslimit;
		d->memlimit = cfg->password_memlimit;
		if (worker_submit(srv->worker, dummy_job, dummy_done, d) < 0)
			free(d); /* the first unknown user makes it instead */
	}
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

/* Make cfg current; sessions pinned to the old one keep it until they
 * end. */
static void install_config(struct server *srv, struct server_cfgref *ref)
{
	if (srv->cfg->refs > 0) {
		srv->cfg->next = srv->retired;
		srv->retired = srv->cfg;
	} else {
		config_free(srv->cfg->cfg);
		free(srv->cfg);
	}
	srv->cfg = ref;
}

int server_reload(struct server *srv)
{
	struct server_cfgref *ref;
	struct config *cfg;
	char *err = NULL;
	size_t i, n = 0;
	int kept = 0;

	cfg = config_load(srv->cfg_path, &err);
	if (cfg == NULL) {
		log_lines(LOG_LVL_ERROR, "reload: ",
			  err != NULL ? err : "out of memory",
			  "; keeping the old configuration");
		free(err);
		return -1;
	}
	ref = calloc(1, sizeof *ref);
	if (ref == NULL) {
		config_free(cfg);
		log_errorx("reload: out of memory; keeping the old "
			   "configuration");
		return -1;
	}
	ref->cfg = cfg;
	log_set_level(cfg->log_level);
	kept -= reload_log_file(cfg);
	for (i = 0; i < cfg->n_listeners; i++)
		n += cfg->listeners[i].proto == srv->ops->proto;
	if (n != srv->n_listens)
		log_warnx("reload: listen lines changed; they take effect "
			  "after a restart");
	kept -= reload_userdb(srv, cfg);
	reload_login_settings(srv, cfg);
	kept -= reload_tls(srv, cfg);
	install_config(srv, ref);
	if (srv->ops->reload != NULL)
		kept -= srv->ops->reload(srv);
	if (kept == 0)
		log_info("reloaded %s", srv->cfg_path);
	else
		log_warnx("reload of %s applied except for %d part%s kept "
			  "as before (errors above)", srv->cfg_path, kept,
			  kept == 1 ? "" : "s");
	return kept == 0 ? 0 : -1;
}

void server_userdb_refresh(struct server *srv)
{
	/* Before a login: a missing file says nothing (it is an empty
	 * database, announced once at start-up), a file that cannot be read
	 * keeps the loaded one. */
	if (refresh_userdb(srv) < 0 && srv->db != NULL && errno != ENOENT)
		log_warn("%s: cannot reload the user database, keeping the "
			 "loaded one", srv->cfg->cfg->user_db);
}

/* ---- accessors and helpers ---- */

struct ev_loop *server_loop(const struct server *srv) { return srv->loop; }
const struct config *server_config(const struct server *srv)
{
	return srv->cfg->cfg;
}
struct userdb *server_userdb(const struct server *srv) { return srv->db; }
struct worker *server_worker(const struct server *srv) { return srv->worker; }
struct worker *server_io_worker(const struct server *srv) { return srv->io; }
SSL_CTX *server_tls_ctx(const struct server *srv) { return srv->tls; }
struct throttle *server_throttle(const struct server *srv)
{
	return srv->throttle;
}
const struct server_ops *server_ops(const struct server *srv)
{
	return srv->ops;
}
bool server_trace_on(const struct server *srv)
{
	return (srv->flags & SERVER_TRACE) != 0;
}
bool server_stopping(const struct server *srv) { return srv->stopping; }
void server_set_data(struct server *srv, void *data) { srv->data = data; }
void *server_data(const struct server *srv) { return srv->data; }

unsigned server_listener_port(const struct server *srv, size_t i)
{
	if (i >= srv->n_listens || srv->listens[i].l == NULL)
		return 0;
	return net_listener_port(srv->listens[i].l);
}

/* Append one line to the heap text *err. */
static void errf(char **err, const char *fmt, ...)
{
	char line[SERVER_MSG_MAX + 64];
	size_t old = *err != NULL ? strlen(*err) : 0, add;
	va_list ap;
	char *grown;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	add = strlen(line);
	grown = realloc(*err, old + add + 2);
	if (grown == NULL)
		return;
	memcpy(grown + old, line, add);
	grown[old + add] = '\n';
	grown[old + add + 1] = '\0';
	*err = grown;
}
