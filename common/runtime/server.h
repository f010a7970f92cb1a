/* common/runtime/server.h: the runtime of one kantorpos daemon, as its
 * daemons see it: options, config, user database, TLS context, listeners,
 * privilege drop, the two worker pools, signals (TERM/INT graceful stop,
 * HUP reload, USR1 log reopen), connection limits and the registry of
 * live client sessions. A daemon's main.c is a struct server_ops and one
 * call to server_main. (The files behind it: see server_state.h.)
 *
 * Everything here runs on the loop thread, except where noted.
 *
 * Start-up order (server_new): load the config (every error reported),
 * set the log level, open the log file (log_file, as the user started),
 * open the user db (a missing file is an empty db and a warning), set its
 * Argon2id cost and prepare the dummy hash, raise RLIMIT_NOFILE, ignore
 * SIGPIPE, build the TLS server context when tls_cert and tls_key are set,
 * bind every "listen" line of ops->proto, call ops->prepare, drop
 * privileges to run_as (refusing to go on as root without it), start the
 * worker pools, install the signal watchers, then call ops->start.
 *
 * Threads: the loop never waits. Work that can block goes to one of two
 * pools (common/runtime/server_pools.h has the rule): server_worker, the
 * CPU pool, runs the Argon2id verifications and nothing else;
 * server_io_worker, the storage pool, runs everything that waits on the
 * disk or the network (fsyncs, queue and maildrop scans and opens, body
 * writes and reads, user db reloads). Disk work never waits behind
 * password checks.
 *
 * Reload (SIGHUP, server_reload): re-read the config; on any error the old
 * one stays and every error is logged ("reload: FILE:LINE: ...; keeping
 * the old configuration"). Then the log level, the log file (log_file:
 * reopened when logrotate moved it), the password cost, the login
 * throttle settings, the TLS context, the daemon's own part (ops->reload:
 * the aliases) and, on the storage pool, the user db (a changed user_db
 * path opens the new file) are refreshed. A part that fails keeps what it
 * had and logs one error line saying what it kept and why ("reload:
 * tls_cert PATH: No such file or directory; keeping the old certificate
 * and key"); when the user db part is back, "reloaded PATH" is logged if
 * every part was, else "reload of PATH applied except for N parts kept as
 * before". Listeners are NOT rebound and the worker counts do not change:
 * those need a restart. After the privilege drop the files are read as
 * run_as, so the user db, certificate, key and a new log file must be
 * readable (writable) by that user for a reload to pick them up.
 *
 * SIGUSR1 reopens the log file only (log_file; for logrotate), nothing
 * else: a failed reopen logs why and goes on writing to the old file.
 *
 * Graceful stop (SIGTERM/SIGINT, server_stop): stop accepting, call every
 * registered client's shutdown hook (the daemon sends its 421 / -ERR and
 * closes), wait until every client has unregistered and both pools are
 * idle, at most SERVER_STOP_TIMEOUT seconds, then server_run returns 0.
 *
 * A daemon's main.c, in full:
 *
 *   static const struct server_ops ops = {
 *           .name = "kantorpos-pop3d", .proto = CONFIG_PROTO_POP3,
 *           .accept = pop3_accept, .refuse = pop3_refuse,
 *   };
 *   int main(int argc, char **argv) { return server_main(argc, argv, &ops); }
 *
 * and its session: in accept, conn_new(server_loop(srv), fd, ...), set
 * client.shutdown, server_client_register(srv, &s->client, peer),
 * server_new_sid; in the conn's on_close, auth_cancel any running login
 * (common/runtime/auth.h), server_client_unregister and free.
 */
#ifndef KANTORPOS_COMMON_SERVER_H
#define KANTORPOS_COMMON_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "common/config/config.h"

struct server;
struct server_ip;
struct server_cfgref;
struct throttle;
struct userdb;
struct worker;

/* Seconds a graceful stop waits for clients and workers. */
#define SERVER_STOP_TIMEOUT 10.0
/* Room for a session id: 16 hex digits and a NUL. */
#define SERVER_SID_SIZE 17

/* server_new flags. */
#define SERVER_FOREGROUND 0x1 /* -f: the caller logs to stderr (informative) */
#define SERVER_TRACE 0x2      /* -t: server_trace logs the dialogue */
#define SERVER_KEEP_PRIVS 0x4 /* skip the privilege drop: for tests that run
			       * as root; server_main never sets it */

/* One live client session, embedded in the daemon's session struct and
 * registered with server_client_register. The daemon sets shutdown before
 * registering; the other members belong to the server. */
struct server_client {
	/* Graceful stop: reply "421 ..." / "-ERR ..." and close the
	 * connection (deferred close is fine). The session must still call
	 * server_client_unregister when it is finally freed. Called at most
	 * once, on the loop thread. */
	void (*shutdown)(struct server_client *cl);
	/* Private to the server. */
	struct server_client *prev, *next;
	struct server_ip *ip;
	struct server_cfgref *cfg;
	bool shut;
};

/* What a daemon plugs into the runtime. name and accept are required. */
struct server_ops {
	const char *name;        /* program name: "kantorpos-smtpd" */
	enum config_proto proto; /* which "listen" lines to bind */
	/* Load the dkim_sign keys (common/config/config_dkim.h) with the
	 * config: at start as the user started (before the privilege
	 * drop), on a reload as run_as; a key that fails stops the start
	 * or refuses the reload. */
	bool dkim_keys;
	/* A connection was accepted within the limits. fd (non-blocking,
	 * close-on-exec) now belongs to the daemon; lc is the listener's
	 * line (owned by the server, valid until server_free); peer is the
	 * numeric client address (valid during the call). The daemon either
	 * registers a session with server_client_register before returning,
	 * or closes fd: the connection limits count registered clients. */
	void (*accept)(struct server *srv, const struct config_listen *lc,
		       int fd, const char *peer);
	/* Optional. A connection over max_connections or
	 * max_connections_per_ip: write one line to fd (non-blocking; one
	 * short write(2), e.g. "421 4.7.0 Too many connections\r\n"); the
	 * server closes fd afterwards. On a TLS listener (lc->tls) there is
	 * no session to write in: just return. NULL: close silently. */
	void (*refuse)(struct server *srv, const struct config_listen *lc,
		       int fd, const char *peer);
	/* Optional. Called once before the privilege drop, as the user the
	 * daemon was started as, with the config loaded and the listeners
	 * bound, before any thread exists: make what run_as must own and
	 * cannot make itself (a directory in a root-owned one). Return 0,
	 * or -1 to fail start-up (log why). */
	int (*prepare)(struct server *srv);
	/* Optional. Called once at the end of server_new, with everything
	 * set up and privileges dropped (queue runners, daemon state via
	 * server_set_data). Return 0, or -1 to fail start-up (log why). */
	int (*start)(struct server *srv);
	/* Optional. Called by a reload once the new config is current
	 * (server_config). Return 0, or minus the number of parts kept,
	 * after logging one error line for each ("reload: aliases
	 * FILE:LINE: ...; keeping the old aliases"). */
	int (*reload)(struct server *srv);
	/* Optional. Called when a graceful stop begins, before the clients'
	 * shutdown hooks (stop daemon-wide timers and watchers here). */
	void (*stopping)(struct server *srv);
	/* Optional. Called by server_free before anything is freed, when
	 * start succeeded (free the server_set_data state here). */
	void (*cleanup)(struct server *srv);
};

/* The whole daemon: parse argv ("-c CONF", default CONFIG_DEFAULT_PATH;
 * "-f" foreground with logs on stderr; "-t" protocol trace; "-h" or
 * "--help"), then server_new, server_run, server_free. The process stays
 * in the foreground either way; without -f it logs to syslog. Under
 * systemd (Type=notify, common/base/sdnotify.h) it reports READY=1 when
 * server_run starts serving, RELOADING=1 then READY=1 around a SIGHUP
 * reload (refused or not), and STOPPING=1 when server_stop begins. Returns the exit status: 0 after a graceful stop or help, 1
 * on a start-up error (every error printed), 2 on a usage error. */
int server_main(int argc, char **argv, const struct server_ops *ops);

/* Set up a daemon as described at the top (blocking: files, DNS for named
 * listeners, the dummy hash). flags: SERVER_*. Logging must already be
 * initialised (log_init). Returns the server, or NULL with every error
 * line in *err_r (heap text, caller frees; NULL only when out of memory). */
struct server *server_new(const char *cfg_path, const struct server_ops *ops,
			  unsigned flags, char **err_r);

/* Run the event loop until a graceful stop has finished. Returns 0. */
int server_run(struct server *srv);

/* Free everything the server owns: listeners, worker pool (blocks until
 * queued jobs finish), TLS context, user db, configs, loop. Sessions still
 * registered (a stop that timed out) are not freed. NULL is fine. */
void server_free(struct server *srv);

/* Begin a graceful stop (what SIGTERM and SIGINT do); repeated calls are
 * ignored. Returns at once; server_run returns when it has finished. */
void server_stop(struct server *srv);

/* Reload as SIGHUP does, with systemd's READY=1 at the end (the caller
 * sends RELOADING=1). Returns -1 when the new config was refused (the old
 * one stays; READY=1 at once) or a part applied at once kept its old
 * state, else 0; the user db part finishes later, on the storage pool,
 * and its outcome is in the summary line. Every error is logged. */
int server_reload(struct server *srv);

/* Accessors. The loop, worker pool and lc pointers live until server_free.
 * server_config is the current config: valid until the next reload, so
 * take it afresh when needed; a session that wants one config for its
 * whole life uses server_client_config. The TLS context (NULL without
 * tls_cert/tls_key) may be replaced by a reload; SSL_new takes its own
 * reference, so take it afresh for each handshake. */
struct ev_loop *server_loop(const struct server *srv);
const struct config *server_config(const struct server *srv);
struct userdb *server_userdb(const struct server *srv);
/* The CPU pool: Argon2id verifications (and the dummy hash), one thread
 * per core ("workers"). Never give it a job that waits on the disk. */
struct worker *server_worker(const struct server *srv);
/* The storage pool: every job that waits on the disk or the network
 * (fsync batches, queue scans and commits, maildrop scans and opens,
 * message files and body writes, read-ahead, user db reloads, name
 * resolution); 16 threads, so that concurrent fsyncs share the journal's
 * commits. A graceful stop waits for both pools. */
struct worker *server_io_worker(const struct server *srv);
SSL_CTX *server_tls_ctx(const struct server *srv);
struct throttle *server_throttle(const struct server *srv);
const struct server_ops *server_ops(const struct server *srv);
bool server_trace_on(const struct server *srv);
bool server_stopping(const struct server *srv);
/* A port actually bound for the i-th listener of ops->proto, in config
 * order (what ":0" became); 0 when out of range. For tests and logs. */
unsigned server_listener_port(const struct server *srv, size_t i);

/* Daemon-wide state of the daemon's own (set in ops->start). */
void server_set_data(struct server *srv, void *data);
void *server_data(const struct server *srv);

/* Reload the user db if its file changed (one stat when it did not) and
 * log the warnings of a fresh load, here and now: BLOCKING, it reads and
 * parses the file on the calling thread. For a caller that cannot wait
 * for an answer; a login refreshes on the storage pool instead
 * (common/runtime/auth.c through server_userdb.h). */
void server_userdb_refresh(struct server *srv);

/* A new random session id as 16 lower-case hex digits into sid_r. */
void server_new_sid(struct server *srv, char sid_r[SERVER_SID_SIZE]);

/* Protocol trace: when -t is on, log "<sid> < text" (incoming true) or
 * "<sid> > text" at info level, control bytes shown as \xNN. The daemon
 * passes lines without their CRLF and masks secrets (AUTH data, PASS
 * arguments) before calling. Cheap when tracing is off. */
void server_trace(const struct server *srv, const char *sid, bool incoming,
		  const char *text, size_t len);

/* Register a session for peer (the accept callback's address): counts it
 * toward max_connections and max_connections_per_ip, pins the current
 * config for server_client_config, and adds it to the list the graceful
 * stop walks. cl->shutdown must be set. Returns 0, or -1 with errno
 * ENOMEM (then the daemon closes the connection). */
int server_client_register(struct server *srv, struct server_client *cl,
			   const char *peer);

/* Remove a registered session (from its close path); frees its per-address
 * count and config pin. Calling it for an unregistered (zeroed) client is
 * a no-op. May finish a graceful stop. */
void server_client_unregister(struct server *srv, struct server_client *cl);

/* The config that was current when cl registered, valid until it
 * unregisters (reloads do not free it meanwhile). */
const struct config *server_client_config(const struct server_client *cl);

/* ETRN: pin the current config for a daemon-wide user that is not a
 * session (the queue runner): *cfg_r stays valid across reloads until
 * server_config_unpin with the returned handle (before server_free). */
struct server_cfgref *server_config_pin(struct server *srv,
					const struct config **cfg_r);
void server_config_unpin(struct server *srv, struct server_cfgref *ref);

/* Registered sessions, in total and from one address. */
size_t server_client_count(const struct server *srv);
size_t server_client_count_ip(const struct server *srv, const char *peer);

#endif
