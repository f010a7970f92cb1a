/* pop3d/client.h: one POP3 connection in the daemon: binds a session
 * (pop3d/session.h) to its conn, the auth module, the worker pool (maildrop
 * open and UPDATE) and the server's client registry and trace. These are
 * the two struct server_ops hooks kantorpos-pop3d plugs into server_main. */
#ifndef KANTORPOS_POP3D_CLIENT_H
#define KANTORPOS_POP3D_CLIENT_H

#include "common/config/config.h"

struct server;

/* Longest input line, terminator included: commands need 255 octets (RFC
 * 2449 §4); an AUTH PLAIN response with 255-octet fields is about 1 KB
 * of base64 (RFC 5034 §4). */
#define POP3_MAX_LINE 2048

/* server_ops.accept: start a session on fd (implicit TLS first on a tls
 * listener) and send the greeting. Never blocks. On failure fd is closed
 * and the failure logged. */
void pop3_client_accept(struct server *srv, const struct config_listen *lc,
			int fd, const char *peer);

/* server_ops.refuse: one "-ERR [SYS/TEMP]" line on a plain listener;
 * nothing on an implicit-TLS one. */
void pop3_client_refuse(struct server *srv, const struct config_listen *lc,
			int fd, const char *peer);

#endif
