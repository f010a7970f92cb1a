/* fetch/daemon.h: the scheduler of kantorpos fetch: every selected account
 * once (--once), or each at its interval on one libev loop (--daemon). */
#ifndef KANTORPOS_FETCH_DAEMON_H
#define KANTORPOS_FETCH_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct config_fetch;

/* Run the accounts accts[0..n) (pointers into cfg). Once: all of them
 * concurrently, one time; returns 0 when every run succeeded, 78
 * (EX_CONFIG) when any account's setup was refused (its password file,
 * its CA file), else 75 (EX_TEMPFAIL) when any run failed. Daemon: a run
 * of each account right away and then every interval after the previous
 * run ended, until SIGTERM or SIGINT (running sessions are dropped
 * without QUIT, which is safe); returns 0 then. The daemon tells systemd
 * READY=1 once every first run is under way and STOPPING=1 on the
 * signal (common/base/sdnotify.h). Blocks; uses the default
 * libev loop and a worker pool of cfg->workers threads. Returns 71
 * (EX_OSERR) when the loop or the pool cannot be set up. */
int fetch_main(const struct config *cfg, const struct config_fetch **accts,
	       size_t n, bool daemon);

#endif
