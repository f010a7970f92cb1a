/* admin/check_net.c: the network checks of `kantorpos check` — each listen
 * address bound (and released at once) the way the daemons bind it, and
 * each host name kantorpos connects to (relayhost, ETRN hosts, fetch
 * hosts) resolved; a name that does not resolve is only a warning, as the
 * DNS may be down for now. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "admin/check.h"
#include "common/config/config.h"
#include "common/net/net.h"

/* Never called: the loop is not run. */
static void no_accept(int fd, const char *peer, void *arg)
{
	(void)peer;
	(void)arg;
	close(fd);
}

static void hostport_of(const struct config_listen *l, char *buf,
			size_t size)
{
	if (l->addr == CONFIG_ADDR_ANY)
		snprintf(buf, size, "*:%u", l->port);
	else if (l->addr == CONFIG_ADDR_IPV6)
		snprintf(buf, size, "[%s]:%u", l->host, l->port);
	else
		snprintf(buf, size, "%s:%u", l->host, l->port);
}

static void bind_failed(struct check_report *r, const struct config *cfg,
			const struct config_listen *l, const char *hp,
			int saved, const char *err)
{
	const char *proto = l->proto == CONFIG_PROTO_SMTP ? "smtp" : "pop3";

	if (saved == EADDRINUSE)
		check_add(r, CHECK_ERROR, cfg->file, l->line,
			  "listen %s %s: the address is in use (another program "
			  "listens there, or a running kantorpos daemon); fix: "
			  "stop it or choose another port", proto, hp);
	else if (saved == EACCES && l->port < 1024)
		check_add(r, CHECK_ERROR, cfg->file, l->line,
			  "listen %s %s: port %u is privileged (below 1024): "
			  "binding it needs root or CAP_NET_BIND_SERVICE, and "
			  "this process has neither; fix: run check as root "
			  "with run_as set (the daemons bind as root, then "
			  "drop), or with that capability as the systemd units "
			  "give it", proto, hp, l->port);
	else if (saved == EADDRNOTAVAIL)
		check_add(r, CHECK_ERROR, cfg->file, l->line,
			  "listen %s %s: no interface of this host has that "
			  "address", proto, hp);
	else
		check_add(r, CHECK_ERROR, cfg->file, l->line,
			  "listen %s %s: cannot be bound: %s", proto, hp, err);
}

static void check_listeners(struct check_report *r, const struct config *cfg)
{
	struct ev_loop *loop;

	if (cfg->n_listeners == 0)
		return;
	if ((loop = ev_loop_new(EVFLAG_AUTO)) == NULL) {
		check_add(r, CHECK_ERROR, cfg->file, cfg->listeners[0].line,
			  "listen: cannot create an event loop to try the "
			  "addresses: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct config_listen *l = &cfg->listeners[i];
		struct net_listener *nl;
		char hp[NET_HOST_MAX + 16], err[512];
		int saved;

		hostport_of(l, hp, sizeof(hp));
		errno = 0;
		/* The daemons' own bind (SO_REUSEADDR, IPV6_V6ONLY for "*"),
		 * which leaves the errno of the failing call. */
		if (net_listen(loop, hp, 1, no_accept, NULL, &nl, err,
			       sizeof(err)) == 0) {
			net_listener_free(nl);
			continue;
		}
		saved = errno;
		bind_failed(r, cfg, l, hp, saved, err);
	}
	ev_loop_destroy(loop);
}

static bool is_numeric(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

/* A warning when host does not resolve; what names it in the message. */
static void resolve(struct check_report *r, const struct config *cfg,
		    unsigned line, const char *what, const char *host,
		    unsigned port)
{
	struct addrinfo *res;
	char err[512];
	const char *why = err;
	size_t hl;

	if (host == NULL || is_numeric(host))
		return;
	hl = strlen(host);
	if (net_resolve(host, port, false, &res, err, sizeof(err)) == 0) {
		freeaddrinfo(res);
		return;
	}
	if (strncmp(err, host, hl) == 0 && strncmp(err + hl, ": ", 2) == 0)
		why = err + hl + 2;
	check_add(r, CHECK_WARNING, cfg->file, line,
		  "%s %s does not resolve now (%s): kantorpos will keep "
		  "trying, but nothing reaches it until it does", what, host,
		  why);
}

static void check_names(struct check_report *r, const struct config *cfg)
{
	char what[128];

	if (cfg->relayhost.host != NULL)
		resolve(r, cfg, cfg->relayhost.line, "relayhost",
			cfg->relayhost.host, cfg->relayhost.port);
	for (size_t i = 0; i < cfg->n_etrn_domains; i++) {
		const struct config_etrn_domain *d = &cfg->etrn_domains[i];

		if (d->deliver_host == NULL)
			continue;
		snprintf(what, sizeof(what), "etrn_domain %s deliver_to",
			 d->name);
		resolve(r, cfg, d->line, what, d->deliver_host,
			d->deliver_port);
	}
	for (size_t i = 0; i < cfg->n_etrn_requests; i++) {
		const struct config_etrn_request *q = &cfg->etrn_requests[i];

		resolve(r, cfg, q->line, "etrn_request", q->host, q->port);
	}
	for (size_t i = 0; i < cfg->n_fetch; i++) {
		const struct config_fetch *f = &cfg->fetch[i];

		snprintf(what, sizeof(what), "fetch_account %s host", f->name);
		resolve(r, cfg, f->line, what, f->host, f->port);
	}
}

void check_net(struct check_report *r, const struct config *cfg)
{
	check_listeners(r, cfg);
	check_names(r, cfg);
}
