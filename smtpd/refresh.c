/* smtpd/refresh.c: the user db and the aliases brought up to date before
 * a transaction, off the loop (smtpd/refresh.h). A wait is answered once
 * both parts are: the user db's wait (server_userdb_wait) and the alias
 * round that was started after it was asked. */
#include "autoconf.h"

#include "smtpd/refresh.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/base/log.h"
#include "common/lookup/aliases.h"
#include "common/net/worker.h"
#include "common/runtime/server.h"
#include "common/runtime/server_userdb.h"
#include "smtpd/smtpd.h"

struct smtpd_refresh {
	struct server *srv;
	void (*done)(void *arg);
	void *arg;
	struct server_userdb_wait *users; /* NULL once the user db is current */
	bool aliases;                     /* waits for an alias round */
	struct smtpd_refresh *next;       /* in an alias round's list */
};

/* One alias round: what it was asked on the loop, what the pool found. */
struct alias_round {
	struct smtpd *d;              /* NULL once the daemon is gone */
	struct aliases *al;           /* the table it looks at */
	char *path;
	struct stat known;
	const struct config *cfg;
	struct server_cfgref *pin;
	struct server *srv;
	struct aliases *fresh;
	char *err;
	int rc;                       /* 1 new table, 0 unchanged, -1 error */
	struct smtpd_refresh *waits;  /* answered by this round */
};

/* The daemon's alias rounds (struct smtpd.refresh). */
struct smtpd_refreshes {
	struct alias_round *running;
	struct smtpd_refresh *next_waits; /* asked while one ran */
};

static void maybe_done(struct smtpd_refresh *w)
{
	if (w->users != NULL || w->aliases)
		return;
	w->done(w->arg);
	free(w);
}

static void users_done(void *arg, int rc)
{
	struct smtpd_refresh *w = arg;

	(void)rc; /* a failed refresh kept the loaded db and logged it */
	w->users = NULL;
	maybe_done(w);
}

static void round_job(void *arg)
{
	struct alias_round *r = arg;

	r->rc = aliases_reload_prepare(r->path, &r->known, r->cfg, &r->fresh,
				       &r->err);
}

static void round_free(struct alias_round *r)
{
	server_config_unpin(r->srv, r->pin);
	aliases_free(r->fresh);
	free(r->err);
	free(r->path);
	free(r);
}

static int round_start(struct smtpd *d, struct server *srv);

/* Back on the loop: swap the table in (unless a reload replaced it
 * meanwhile), answer the round's waits, start the next round. */
static void round_done(void *arg)
{
	struct alias_round *r = arg;
	struct smtpd *d = r->d;
	struct smtpd_refresh *w, *next;

	if (d == NULL) {
		round_free(r);
		return;
	}
	d->refresh->running = NULL;
	/* A reload may have replaced the table meanwhile: keep that one. */
	if (r->rc == 1 && d->al == r->al &&
	    strcmp(aliases_path(d->al), r->path) == 0) {
		aliases_reload_commit(d->al, r->fresh);
		r->fresh = NULL;
	} else if (r->rc < 0) {
		aliases_log_errors(LOG_LVL_WARN, "aliases not reloaded", r->err,
				   "; keeping the old aliases");
	}
	if (d->refresh->next_waits != NULL && round_start(d, r->srv) < 0) {
		/* No round for them: they go on with the loaded table. */
		for (w = d->refresh->next_waits; w != NULL; w = next) {
			next = w->next;
			w->next = r->waits;
			r->waits = w;
		}
		d->refresh->next_waits = NULL;
	}
	for (w = r->waits; w != NULL; w = next) {
		next = w->next;
		w->aliases = false;
		maybe_done(w);
	}
	r->waits = NULL;
	round_free(r);
}

/* A round for the waits in next_waits. Returns 0, or -1 (errno). */
static int round_start(struct smtpd *d, struct server *srv)
{
	struct alias_round *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->path = strdup(aliases_path(d->al))) == NULL) {
		free(r);
		errno = ENOMEM;
		return -1;
	}
	r->d = d;
	r->al = d->al;
	r->srv = srv;
	r->known = *aliases_stat(d->al);
	r->pin = server_config_pin(srv, &r->cfg);
	r->waits = d->refresh->next_waits;
	if (r->pin == NULL ||
	    worker_submit(server_io_worker(srv), round_job, round_done, r) < 0) {
		r->waits = NULL;
		round_free(r);
		return -1;
	}
	d->refresh->next_waits = NULL;
	d->refresh->running = r;
	return 0;
}

/* Join the next alias round. False: no round (go on with the table). */
static bool ask_aliases(struct smtpd *d, struct server *srv,
			struct smtpd_refresh *w)
{
	if (d->al == NULL || aliases_path(d->al) == NULL)
		return false;
	if (d->refresh == NULL &&
	    (d->refresh = calloc(1, sizeof(*d->refresh))) == NULL)
		return false;
	w->next = d->refresh->next_waits;
	d->refresh->next_waits = w;
	if (d->refresh->running != NULL || round_start(d, srv) == 0)
		return true;
	d->refresh->next_waits = w->next;
	return false;
}

struct smtpd_refresh *smtpd_refresh_start(struct server *srv,
					  void (*done)(void *arg), void *arg)
{
	struct smtpd *d = server_data(srv);
	struct smtpd_refresh *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->srv = srv;
	w->done = done;
	w->arg = arg;
	w->aliases = ask_aliases(d, srv, w);
	w->users = server_userdb_wait(srv, false, users_done, w);
	if (w->users == NULL && !w->aliases) {
		free(w);
		return NULL;
	}
	return w;
}

/* Take w out of a list of waits. */
static void unlink_wait(struct smtpd_refresh **head, struct smtpd_refresh *w)
{
	for (; *head != NULL; head = &(*head)->next)
		if (*head == w) {
			*head = w->next;
			return;
		}
}

void smtpd_refresh_cancel(struct server *srv, struct smtpd_refresh *w)
{
	struct smtpd *d = server_data(srv);

	if (w == NULL)
		return;
	server_userdb_cancel(srv, w->users);
	if (w->aliases && d != NULL && d->refresh != NULL) {
		unlink_wait(&d->refresh->next_waits, w);
		if (d->refresh->running != NULL)
			unlink_wait(&d->refresh->running->waits, w);
	}
	free(w);
}

void smtpd_refresh_quiet(struct smtpd *d)
{
	struct smtpd_refresh *w, *next;

	if (d->refresh == NULL)
		return;
	for (w = d->refresh->next_waits; w != NULL; w = next) {
		next = w->next;
		server_userdb_cancel(w->srv, w->users);
		free(w);
	}
	if (d->refresh->running != NULL) {
		for (w = d->refresh->running->waits; w != NULL; w = next) {
			next = w->next;
			server_userdb_cancel(w->srv, w->users);
			free(w);
		}
		d->refresh->running->waits = NULL;
		d->refresh->running->d = NULL;
	}
	free(d->refresh);
	d->refresh = NULL;
}
