/* smtpd/client.h: one SMTP connection in the daemon: binds a session
 * (smtpd/session.h) to its conn, the auth module, the server's client
 * registry (graceful stop) and its trace, and the session's hooks to the
 * commands and the delivery. These are the two struct server_ops hooks
 * kantorpos-smtpd plugs into the runtime (smtpd/daemon.c). */
#ifndef KANTORPOS_SMTPD_CLIENT_H
#define KANTORPOS_SMTPD_CLIENT_H

#include "common/config/config.h"

struct server;

/* server_ops.accept: start a session on fd, register it and greet (after
 * the handshake on an implicit-TLS listener). Never blocks. On failure fd
 * is closed. */
void smtp_client_accept(struct server *srv, const struct config_listen *lc,
			int fd, const char *peer);

/* server_ops.refuse (too many connections): one 421 line to fd on a plain
 * listener, nothing on an implicit-TLS one. */
void smtp_client_refuse(struct server *srv, const struct config_listen *lc,
			int fd, const char *peer);

#endif
