/* common/runtime/server_listen.h: the daemon's listeners: one per "listen"
 * line of its protocol, bound at start-up (before the privilege drop),
 * closed when a graceful stop begins; a reload never rebinds them. */
#ifndef KANTORPOS_COMMON_SERVER_LISTEN_H
#define KANTORPOS_COMMON_SERVER_LISTEN_H

#include <stddef.h>

#include "common/config/config.h"

struct server;

/* "listen" lines of proto in cfg. */
size_t server_listen_lines(const struct config *cfg, enum config_proto proto);

/* Bind every line of the daemon's protocol in the current config; each
 * accepted connection goes to server_clients_admit. Returns 0, or -1 with
 * the lines of what failed in *err_r (none is a failure too). */
int server_listen_bind(struct server *srv, char **err_r);

/* Stop accepting: close every listener (their lines stay for
 * server_listener_port's range). */
void server_listen_close(struct server *srv);

/* Close and free them all. */
void server_listen_free(struct server *srv);

#endif
