/* common/runtime/server_listen.c: binding the "listen" lines of the
 * daemon's protocol, closing them for a graceful stop, and the ports they
 * got. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/base/log.h"
#include "common/net/net.h"
#include "common/runtime/server.h"
#include "common/runtime/server_clients.h"
#include "common/runtime/server_listen.h"
#include "common/runtime/server_state.h"

static const char *proto_name(enum config_proto proto)
{
	return proto == CONFIG_PROTO_SMTP ? "smtp" : "pop3";
}

size_t server_listen_lines(const struct config *cfg, enum config_proto proto)
{
	size_t i, n = 0;

	for (i = 0; i < cfg->n_listeners; i++)
		n += cfg->listeners[i].proto == proto;
	return n;
}

static void on_accept(int fd, const char *peer, void *arg)
{
	server_clients_admit(arg, fd, peer);
}

/* Bind one line into sl. */
static int bind_one(struct server *srv, struct server_listen *sl,
		    const struct config_listen *lc, char **err_r)
{
	const struct config *cfg = srv->cfg->cfg;
	char hostport[NET_HOST_MAX + 16], msg[512];

	sl->srv = srv;
	sl->lc = *lc;
	sl->lc.host = NULL;
	if (lc->host != NULL && (sl->lc.host = strdup(lc->host)) == NULL) {
		server_errf(err_r, "out of memory");
		return -1;
	}
	if (lc->addr == CONFIG_ADDR_ANY)
		snprintf(hostport, sizeof hostport, "*:%u", lc->port);
	else if (lc->addr == CONFIG_ADDR_IPV6)
		snprintf(hostport, sizeof hostport, "[%s]:%u", lc->host,
			 lc->port);
	else
		snprintf(hostport, sizeof hostport, "%s:%u", lc->host,
			 lc->port);
	if (net_listen(srv->loop, hostport, SOMAXCONN, on_accept, sl, &sl->l,
		       msg, sizeof msg) < 0) {
		server_errf(err_r, "%s:%u: %s", cfg->file, lc->line, msg);
		return -1;
	}
	log_info("listening on %s (%s%s)", hostport,
		 proto_name(srv->ops->proto), lc->tls ? ", tls" : "");
	return 0;
}

int server_listen_bind(struct server *srv, char **err_r)
{
	const struct config *cfg = srv->cfg->cfg;
	size_t i, n = server_listen_lines(cfg, srv->ops->proto);

	if (n == 0) {
		server_errf(err_r, "%s: no \"listen %s\" line: nothing to "
			    "serve", cfg->file, proto_name(srv->ops->proto));
		return -1;
	}
	srv->listens = calloc(n, sizeof *srv->listens);
	if (srv->listens == NULL) {
		server_errf(err_r, "out of memory");
		return -1;
	}
	for (i = 0; i < cfg->n_listeners; i++) {
		if (cfg->listeners[i].proto != srv->ops->proto)
			continue;
		/* Counted first: server_listen_free frees a half-made one. */
		if (bind_one(srv, &srv->listens[srv->n_listens++],
			     &cfg->listeners[i], err_r) < 0)
			return -1;
	}
	return 0;
}

void server_listen_close(struct server *srv)
{
	size_t i;

	for (i = 0; i < srv->n_listens; i++) {
		net_listener_free(srv->listens[i].l);
		srv->listens[i].l = NULL;
	}
}

void server_listen_free(struct server *srv)
{
	size_t i;

	server_listen_close(srv);
	for (i = 0; i < srv->n_listens; i++)
		free(srv->listens[i].lc.host);
	free(srv->listens);
	srv->listens = NULL;
	srv->n_listens = 0;
}

unsigned server_listener_port(const struct server *srv, size_t i)
{
	if (i >= srv->n_listens || srv->listens[i].l == NULL)
		return 0;
	return net_listener_port(srv->listens[i].l);
}
