/* smtpd/refresh.h: before a transaction, the user db and the aliases as
 * their files are now, without blocking the loop: the user db through the
 * runtime's refresh rounds (common/runtime/server_userdb.h), the aliases
 * through a round on the io pool that stats the file and parses it only
 * when it changed; the new table is swapped in on the loop. One alias
 * round runs at a time; whoever asks while one is in flight is answered by
 * the next, so every answer reflects the files as they were when asked
 * or later. A file that cannot be read or has errors keeps the loaded
 * table (one warning per round). Loop thread only. */
#ifndef KANTORPOS_SMTPD_REFRESH_H
#define KANTORPOS_SMTPD_REFRESH_H

struct server;
struct smtpd;
struct smtpd_refresh;

/* Ask for both; done(arg) runs on the loop once they are current, never
 * from inside this call. Returns the wait, or NULL when out of memory
 * (done never runs then: go on with what is loaded). */
struct smtpd_refresh *smtpd_refresh_start(struct server *srv,
					  void (*done)(void *arg), void *arg);

/* Forget a wait whose done has not run (its session closed); NULL is
 * fine. */
void smtpd_refresh_cancel(struct server *srv, struct smtpd_refresh *w);

/* Teardown (the daemon's cleanup, before the pools go): drop every wait;
 * a round still on the pool finishes and frees itself. */
void smtpd_refresh_quiet(struct smtpd *d);

#endif
