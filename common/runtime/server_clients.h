/* common/runtime/server_clients.h: admission and the registry of live
 * sessions (registration and the counts are in server.h): a connection
 * over max_connections or max_connections_per_ip is refused here, the
 * others go to the daemon's accept. */
#ifndef KANTORPOS_COMMON_SERVER_CLIENTS_H
#define KANTORPOS_COMMON_SERVER_CLIENTS_H

struct server;
struct server_listen;

/* A connection accepted on sl: closed during a graceful stop, refused
 * over the limits (the daemon's refuse writes its line), else given to
 * the daemon's accept. */
void server_clients_admit(struct server_listen *sl, int fd, const char *peer);

/* Teardown: detach sessions still registered (a stop that timed out) and
 * free the per-address counts. */
void server_clients_free(struct server *srv);

#endif
