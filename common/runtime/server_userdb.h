/* common/runtime/server_userdb.h: the daemon's user database: opened at
 * start-up, re-read when its file changes, never on the event loop.
 *
 * A refresh is a round on the storage pool: stat the file and, when it
 * changed (or the user_db path did), read and parse it there; back on the
 * loop the new contents are swapped in (userdb_reload_commit) or the new
 * file's db replaces the old one, which stays allocated while workers may
 * still verify against it. One round runs at a time; whoever asks while one
 * is in flight is answered by the next, so every answer reflects the file
 * as it was at the time of asking or later. A round that fails keeps the
 * loaded db and logs one line: "reload: user_db PATH: ERR; keeping ..." when
 * a SIGHUP reload waits for it, a warning otherwise (nothing for a file
 * that is still missing).
 *
 * Loop thread only; for the runtime's own files and the login
 * (common/runtime/auth.c). */
#ifndef KANTORPOS_COMMON_SERVER_USERDB_H
#define KANTORPOS_COMMON_SERVER_USERDB_H

#include <stdbool.h>

struct server;
struct server_userdb_wait;

/* Open the configured user db at start-up (blocking, before the loop
 * runs): a missing file is an empty db and a warning. Returns 0, or -1
 * with errno when the file cannot be read. */
int server_userdb_open(struct server *srv);

/* Ask for a refresh; done(arg, rc) runs on the loop once the db is
 * current, never from inside this call, with rc 0, or -1 when the loaded
 * db was kept (the failure is logged). reload: this is a SIGHUP reload's
 * part (its failures are logged as such). Returns the wait, or NULL when
 * out of memory (then done never runs: go on with the loaded db). */
struct server_userdb_wait *server_userdb_wait(struct server *srv,
					      bool reload,
					      void (*done)(void *arg, int rc),
					      void *arg);

/* Forget a wait whose done has not run yet (its owner is going away);
 * NULL is fine. */
void server_userdb_cancel(struct server *srv, struct server_userdb_wait *w);

/* Teardown, in two steps around server_pools_free: server_userdb_quiet
 * drops every wait (a round the pool still finishes answers nobody),
 * server_userdb_free then frees the db and the replaced ones. */
void server_userdb_quiet(struct server *srv);
void server_userdb_free(struct server *srv);

#endif
