/* fetch/env.h: what an account run is given and what it answers: the
 * environment every run shares, the outcome of a run and the callback that
 * reports it. The interface (fetch/runner.h) and the run's state
 * (fetch/run.h) both name them. */
#ifndef KANTORPOS_FETCH_ENV_H
#define KANTORPOS_FETCH_ENV_H

#include <sys/types.h>

struct config;
struct config_fetch;
struct ev_loop;
struct worker;

enum fetch_status {
	FETCH_OK,       /* the run completed: every message handled */
	FETCH_TEMPFAIL, /* something failed; the next run retries */
	FETCH_CONFIG,   /* unusable setup (password file refused, ...) */
};

/* What every run shares; owned by the caller, outliving every run. */
struct fetch_env {
	struct ev_loop *loop;
	struct worker *pool;
	const struct config *cfg;
	uid_t owner;   /* required owner of password files */
};

typedef void fetch_done_fn(const struct config_fetch *acct,
			   enum fetch_status status, void *arg);

#endif
