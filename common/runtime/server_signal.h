/* common/runtime/server_signal.h: the daemon's signals and its graceful
 * stop (server_stop is in server.h): SIGTERM and SIGINT stop, SIGHUP
 * reloads, SIGUSR1 reopens the log file. */
#ifndef KANTORPOS_COMMON_SERVER_SIGNAL_H
#define KANTORPOS_COMMON_SERVER_SIGNAL_H

struct server;

/* Install the signal watchers and prepare the stop timers. */
void server_signal_start(struct server *srv);

/* Stop every watcher and timer of this file (teardown). */
void server_signal_stop(struct server *srv);

#endif
