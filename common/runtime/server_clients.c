/* common/runtime/server_clients.c: admission of accepted connections
 * against the connection limits, and the registry of live sessions: the
 * list the graceful stop walks, the per-address counts, the config each
 * session pins. */
#include "autoconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/hmap.h"
#include "common/base/log.h"
#include "common/runtime/server.h"
#include "common/runtime/server_cfg.h"
#include "common/runtime/server_clients.h"
#include "common/runtime/server_state.h"

void server_clients_admit(struct server_listen *sl, int fd, const char *peer)
{
	struct server *srv = sl->srv;
	const struct config *cfg = srv->cfg->cfg;
	size_t per_ip;

	if (srv->stopping) {
		close(fd);
		return;
	}
	per_ip = server_client_count_ip(srv, peer);
	if (srv->n_clients >= cfg->max_connections ||
	    per_ip >= cfg->max_connections_per_ip) {
		log_info("refused client=%s reason=%s", peer,
			 srv->n_clients >= cfg->max_connections
				 ? "max_connections"
				 : "max_connections_per_ip");
		if (srv->ops->refuse != NULL)
			srv->ops->refuse(srv, &sl->lc, fd, peer);
		close(fd);
		return;
	}
	srv->ops->accept(srv, &sl->lc, fd, peer);
}

static struct server_ip **ip_slot(struct server *srv, const char *addr)
{
	uint32_t h = hmap_hash(addr, strlen(addr), HMAP_SEED);
	struct server_ip **p = &srv->ips[h % SERVER_IP_BUCKETS];

	while (*p != NULL && strcmp((*p)->addr, addr) != 0)
		p = &(*p)->next;
	return p;
}

int server_client_register(struct server *srv, struct server_client *cl,
			   const char *peer)
{
	struct server_ip **slot = ip_slot(srv, peer);

	if (*slot == NULL) {
		*slot = calloc(1, sizeof **slot);
		if (*slot == NULL) {
			errno = ENOMEM;
			return -1;
		}
		snprintf((*slot)->addr, sizeof (*slot)->addr, "%s", peer);
	}
	(*slot)->count++;
	cl->ip = *slot;
	cl->cfg = server_cfg_hold(srv);
	cl->shut = false;
	cl->prev = NULL;
	cl->next = srv->clients;
	if (srv->clients != NULL)
		srv->clients->prev = cl;
	srv->clients = cl;
	srv->n_clients++;
	return 0;
}

void server_client_unregister(struct server *srv, struct server_client *cl)
{
	struct server_ip **slot;

	if (cl->ip == NULL)
		return;
	if (cl->prev != NULL)
		cl->prev->next = cl->next;
	else
		srv->clients = cl->next;
	if (cl->next != NULL)
		cl->next->prev = cl->prev;
	srv->n_clients--;
	if (--cl->ip->count == 0) {
		slot = ip_slot(srv, cl->ip->addr);
		*slot = cl->ip->next;
		free(cl->ip);
	}
	server_cfg_release(srv, cl->cfg);
	cl->ip = NULL;
	cl->cfg = NULL;
	cl->prev = cl->next = NULL;
	/* The last one gone: let the graceful stop look now rather than at
	 * its next poll. */
	if (srv->stopping && srv->n_clients == 0)
		ev_feed_event(srv->loop, &srv->stop_poll, EV_TIMER);
}

size_t server_client_count(const struct server *srv)
{
	return srv->n_clients;
}

size_t server_client_count_ip(const struct server *srv, const char *peer)
{
	struct server_ip *ip = *ip_slot((struct server *)srv, peer);

	return ip != NULL ? ip->count : 0;
}

void server_clients_free(struct server *srv)
{
	struct server_ip *ip, *next;
	struct server_client *cl;
	size_t i;

	for (cl = srv->clients; cl != NULL; cl = cl->next) {
		cl->ip = NULL;
		cl->cfg = NULL;
	}
	for (i = 0; i < SERVER_IP_BUCKETS; i++)
		for (ip = srv->ips[i]; ip != NULL; ip = next) {
			next = ip->next;
			free(ip);
		}
}
