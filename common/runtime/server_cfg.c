/* common/runtime/server_cfg.c: the current config, the retired ones still
 * pinned, and the pins of server.h (sessions, the queue runner). */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>

#include "common/config/config_load.h"
#include "common/runtime/server.h"
#include "common/runtime/server_cfg.h"
#include "common/runtime/server_state.h"

struct server_cfgref *server_cfg_wrap(struct config *cfg)
{
	struct server_cfgref *ref = calloc(1, sizeof *ref);

	if (ref == NULL) {
		config_free(cfg);
		errno = ENOMEM;
		return NULL;
	}
	ref->cfg = cfg;
	return ref;
}

int server_cfg_init(struct server *srv, struct config *cfg)
{
	srv->cfg = server_cfg_wrap(cfg);
	return srv->cfg != NULL ? 0 : -1;
}

void server_cfg_install(struct server *srv, struct server_cfgref *ref)
{
	if (srv->cfg->refs > 0) {
		srv->cfg->next = srv->retired;
		srv->retired = srv->cfg;
	} else {
		config_free(srv->cfg->cfg);
		free(srv->cfg);
	}
	srv->cfg = ref;
}

struct server_cfgref *server_cfg_hold(struct server *srv)
{
	srv->cfg->refs++;
	return srv->cfg;
}

void server_cfg_release(struct server *srv, struct server_cfgref *ref)
{
	struct server_cfgref **p;

	if (ref == NULL || --ref->refs > 0 || ref == srv->cfg)
		return;
	for (p = &srv->retired; *p != NULL; p = &(*p)->next)
		if (*p == ref) {
			*p = ref->next;
			config_free(ref->cfg);
			free(ref);
			return;
		}
}

void server_cfg_free(struct server *srv)
{
	struct server_cfgref *ref, *next;

	for (ref = srv->retired; ref != NULL; ref = next) {
		next = ref->next;
		config_free(ref->cfg);
		free(ref);
	}
	srv->retired = NULL;
	if (srv->cfg != NULL)
		config_free(srv->cfg->cfg);
	free(srv->cfg);
	srv->cfg = NULL;
}

const struct config *server_config(const struct server *srv)
{
	return srv->cfg->cfg;
}

const struct config *server_client_config(const struct server_client *cl)
{
	return cl->cfg != NULL ? cl->cfg->cfg : NULL;
}

struct server_cfgref *server_config_pin(struct server *srv,
					const struct config **cfg_r)
{
	*cfg_r = srv->cfg->cfg;
	return server_cfg_hold(srv);
}

void server_config_unpin(struct server *srv, struct server_cfgref *ref)
{
	server_cfg_release(srv, ref);
}
