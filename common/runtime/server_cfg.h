/* common/runtime/server_cfg.h: the daemon's current config and the older
 * ones still pinned by sessions or the queue runner (the pins themselves
 * are in server.h: server_client_config, server_config_pin). A reload
 * installs a new config; the one it replaces is freed as soon as nobody
 * pins it. */
#ifndef KANTORPOS_COMMON_SERVER_CFG_H
#define KANTORPOS_COMMON_SERVER_CFG_H

struct config;
struct server;
struct server_cfgref;

/* The first config, at start-up (taken over). Returns 0, or -1 (ENOMEM;
 * cfg is freed). */
int server_cfg_init(struct server *srv, struct config *cfg);

/* A reload's config (taken over), ready to install: so that a reload that
 * runs out of memory fails before it has changed anything. Returns it, or
 * NULL (ENOMEM; cfg is freed). */
struct server_cfgref *server_cfg_wrap(struct config *cfg);

/* Make ref current; sessions pinned to the old one keep it until they
 * end. */
void server_cfg_install(struct server *srv, struct server_cfgref *ref);

/* Take a pin on the current config / drop one (a retired config nobody
 * pins any more is freed). */
struct server_cfgref *server_cfg_hold(struct server *srv);
void server_cfg_release(struct server *srv, struct server_cfgref *ref);

/* Free the current and every retired config. */
void server_cfg_free(struct server *srv);

#endif
