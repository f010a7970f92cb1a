/* common/runtime/server.c: the accessors of server.h and the error text
 * helper of start-up. Calls into no other file of the runtime, so that
 * every one of them may use it (common/runtime/server_state.h lists which
 * file owns which part of struct server). */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/runtime/server.h"
#include "common/runtime/server_state.h"

struct ev_loop *server_loop(const struct server *srv) { return srv->loop; }
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

void server_errf(char **err, const char *fmt, ...)
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
