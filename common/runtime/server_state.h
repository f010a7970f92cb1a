/* common/runtime/server_state.h: the state of one daemon's runtime, shared
 * by the files of common/runtime/ that make up struct server and by
 * nothing else (a daemon sees only common/runtime/server.h). Each part
 * belongs to one file, which alone changes it:
 *
 *   server_start.c    start-up, the run, teardown (flags, cfg_path, loop,
 *                     throttle, started)
 *   server_listen.c   listeners (listens)
 *   server_clients.c  admission and the client registry (clients, ips)
 *   server_cfg.c      the current config and the pinned older ones
 *   server_signal.c   signals and the graceful stop (sig, stop_*,
 *                     stopping, stopped)
 *   server_reload.c   the SIGHUP reload (tls, reload_*)
 *   server_userdb.c   the user database (users)
 *   server_pools.c    the two worker pools (worker, io)
 *   server.c          the accessors of server.h
 *
 * Loop thread only, like the whole runtime. Includes only headers of lower
 * layers, so that every file of the runtime may include it. */
#ifndef KANTORPOS_COMMON_SERVER_STATE_H
#define KANTORPOS_COMMON_SERVER_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "common/config/config.h"
#include "common/net/net.h"

struct server_client;
struct server_ops;
struct throttle;
struct server_userdb_wait;
struct userdb;
struct worker;

/* Buckets of the per-address connection counts (chained). */
#define SERVER_IP_BUCKETS 1024
/* Room for an error that names two files (a key and its certificate). */
#define SERVER_MSG_MAX 2300
/* Wait before retrying a job the storage pool's full queue refused. */
#define SERVER_RETRY_DELAY 0.05

/* Registered sessions from one client address. */
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

/* The user database and its refresh rounds on the storage pool. */
struct server_users {
	struct userdb *db;      /* NULL while the file is missing */
	char *path;             /* the file db is (or would be) read from */
	struct userdb **old;    /* replaced by a user_db change; workers may
				 * still verify against them */
	size_t n_old;
	unsigned long gen;      /* db or path replaced so many times */
	bool busy;              /* a round is on the storage pool */
	bool freeing;           /* server_free: rounds end quietly */
	struct server_userdb_wait *round; /* answered by the round in flight */
	struct server_userdb_wait *next;  /* for the round after it */
	ev_timer retry;         /* the pool's queue was full */
};

struct server {
	const struct server_ops *ops;
	unsigned flags;
	char *cfg_path;
	struct ev_loop *loop;
	struct server_cfgref *cfg;     /* current */
	struct server_cfgref *retired; /* older configs still pinned */
	struct server_users users;
	SSL_CTX *tls;
	struct worker *worker; /* CPU: Argon2id, one thread per core */
	struct worker *io;     /* everything that waits on the disk */
	struct throttle *throttle;
	struct server_listen *listens;
	size_t n_listens;
	ev_signal sig[4]; /* TERM, INT, HUP, USR1 */
	ev_timer stop_deadline, stop_poll;
	struct server_client *clients;
	size_t n_clients;
	struct server_ip *ips[SERVER_IP_BUCKETS];
	struct server_userdb_wait *reload_wait; /* its user db part */
	int reload_kept;                        /* parts kept so far */
	bool started, stopping, stopped;
	void *data;
};

/* Append one line to the heap text *err (server.c). */
void server_errf(char **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
