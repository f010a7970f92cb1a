/* common/runtime/server_userdb.c: the daemon's user database: the start-up
 * open, the refresh rounds on the storage pool (read and parse there, swap
 * on the loop), the waits they answer, and the blocking refresh of
 * server_userdb_refresh. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/net/worker.h"
#include "common/runtime/server.h"
#include "common/runtime/server_state.h"
#include "common/runtime/server_userdb.h"
#include "common/users/userdb.h"

struct server_userdb_wait {
	void (*done)(void *arg, int rc);
	void *arg;
	bool reload;
	struct server_userdb_wait *next;
};

/* One refresh: what it was asked on the loop, what the pool found. */
struct round {
	struct server *srv;
	struct userdb *db; /* reload this one; NULL: open path */
	char *path;
	unsigned long gen; /* users.gen when it was asked */
	bool reload;       /* a SIGHUP reload waits for it */
	int rc;            /* 1 new contents, 0 unchanged, -1 error */
	int err;
	struct userdb_fresh *fresh;
	struct userdb *opened;
};

static void round_start(struct server *srv);

/* ---- start-up ---- */

static void log_loaded(const struct server_users *u, bool announce)
{
	size_t i, n = userdb_count(u->db);

	if (announce)
		log_info("%s: user database loaded: %zu user%s", u->path, n,
			 n == 1 ? "" : "s");
	for (i = 0; i < userdb_warning_count(u->db); i++)
		log_warnx("%s", userdb_warning(u->db, i));
}

int server_userdb_open(struct server *srv)
{
	const struct config *cfg = srv->cfg->cfg;
	struct server_users *u = &srv->users;

	ev_init(&u->retry, NULL);
	if ((u->path = strdup(cfg->user_db)) == NULL)
		return -1;
	if (userdb_open(cfg->user_db, &u->db) < 0) {
		u->db = NULL;
		if (errno != ENOENT)
			return -1;
		log_warnx("%s: user database missing: no user can log in",
			  cfg->user_db);
		return 0;
	}
	userdb_set_cost(u->db, cfg->password_opslimit, cfg->password_memlimit);
	log_loaded(u, false);
	return 0;
}

/* ---- one round: asked on the loop, run on the pool, applied on the loop */

static struct round *round_new(struct server *srv)
{
	const char *path = srv->cfg->cfg->user_db;
	struct server_users *u = &srv->users;
	struct round *r = calloc(1, sizeof *r);

	if (r == NULL || (r->path = strdup(path)) == NULL) {
		free(r);
		return NULL;
	}
	r->srv = srv;
	r->gen = u->gen;
	/* The same file: reload it in place; a new user_db path (or a db
	 * still missing): open the file afresh. */
	if (u->db != NULL && strcmp(u->path, path) == 0)
		r->db = u->db;
	return r;
}

static void round_free(struct round *r)
{
	userdb_reload_discard(r->fresh);
	userdb_free(r->opened);
	free(r->path);
	free(r);
}

/* On a pool thread (or, for server_userdb_refresh, on the loop). */
static void round_job(void *arg)
{
	struct round *r = arg;

	errno = 0;
	if (r->db != NULL)
		r->rc = userdb_reload_prepare(r->db, &r->fresh);
	else
		r->rc = userdb_open(r->path, &r->opened) == 0 ? 1 : -1;
	r->err = errno;
	if (r->rc < 0)
		r->opened = NULL;
}

/* The db the loaded one gives way to; the old one stays allocated. */
static int replace_db(struct server_users *u, struct round *r)
{
	struct userdb **grown;

	if (u->db != NULL) {
		grown = realloc(u->old, (u->n_old + 1) * sizeof *u->old);
		if (grown == NULL) {
			r->err = ENOMEM;
			return -1;
		}
		u->old = grown;
		u->old[u->n_old++] = u->db;
	}
	free(u->path);
	u->path = r->path;
	r->path = NULL;
	u->db = r->opened;
	r->opened = NULL;
	u->gen++;
	return 0;
}

/* One line for a round that kept the loaded db; nothing for a file still
 * missing, or deleted under a login (an empty db is announced at start). */
static void log_kept(const struct server_users *u, const struct round *r)
{
	const char *kept;
	char what[512];

	if (r->db == NULL && u->db != NULL) {
		snprintf(what, sizeof what, "keeping the user database %s",
			 u->path);
		kept = what;
	} else {
		kept = u->db != NULL ? "keeping the loaded user database"
				     : "still no user database: no user can "
				       "log in";
	}
	if (r->reload)
		log_errorx("reload: user_db %s: %s; %s", r->path,
			   strerror(r->err), kept);
	else if (u->db != NULL && r->err != ENOENT)
		log_warnx("%s: cannot reload the user database: %s; %s",
			  r->path, strerror(r->err), kept);
}

/* Swap in what r found. 0, or -1 when the loaded db was kept. */
static int round_apply(struct server *srv, struct round *r)
{
	const struct config *cfg = srv->cfg->cfg;
	struct server_users *u = &srv->users;
	bool moved;

	if (r->gen != u->gen || r->rc == 0)
		return 0; /* unchanged, or a newer db came in meanwhile */
	if (r->db != NULL) { /* the same file, reloaded in place */
		if (r->rc < 0) {
			log_kept(u, r);
			return -1;
		}
		if (userdb_reload_commit(r->db, r->fresh) == 1)
			log_loaded(u, true);
		r->fresh = NULL;
		return 0;
	}
	moved = strcmp(u->path, r->path) != 0;
	if (r->rc < 0 && r->err == ENOENT) {
		if (!moved)
			return 0; /* still missing: says nothing */
		/* A new path whose file is missing: an empty db, as at
		 * start-up. */
		if (replace_db(u, r) == 0) {
			log_warnx("%s: user database missing: no user can "
				  "log in", u->path);
			return 0;
		}
	} else if (r->rc == 1 && replace_db(u, r) == 0) {
		userdb_set_cost(u->db, cfg->password_opslimit,
				cfg->password_memlimit);
		log_loaded(u, true);
		return 0;
	}
	log_kept(u, r);
	return -1;
}

/* Back on the loop: apply, answer this round's waits, start the next.
 * The round counts as busy until all are answered, so a wait asked from
 * a done function goes to the next round. */
static void round_done(void *arg)
{
	struct round *r = arg;
	struct server *srv = r->srv;
	struct server_users *u = &srv->users;
	struct server_userdb_wait *w;
	int rc;

	if (u->freeing) {
		round_free(r);
		return;
	}
	rc = round_apply(srv, r);
	round_free(r);
	/* One at a time off the list: a done may cancel another wait. */
	while ((w = u->round) != NULL) {
		u->round = w->next;
		w->done(w->arg, rc);
		free(w);
	}
	u->busy = false;
	if (u->next != NULL)
		round_start(srv);
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	round_start(t->data);
}

/* The waits asked so far become this round's; a pool that cannot take
 * it (full queue, out of memory) is tried again shortly. */
static void round_start(struct server *srv)
{
	struct server_users *u = &srv->users;
	struct server_userdb_wait *w;
	struct round *r;

	if (u->busy || ev_is_active(&u->retry))
		return;
	r = round_new(srv);
	if (r != NULL)
		for (w = u->next; w != NULL; w = w->next)
			r->reload |= w->reload;
	if (r == NULL ||
	    worker_submit(srv->io, round_job, round_done, r) < 0) {
		if (r != NULL)
			round_free(r);
		ev_timer_init(&u->retry, on_retry, SERVER_RETRY_DELAY, 0.);
		u->retry.data = srv;
		ev_timer_start(srv->loop, &u->retry);
		return;
	}
	u->busy = true;
	u->round = u->next;
	u->next = NULL;
}

/* ---- waits ---- */

struct server_userdb_wait *server_userdb_wait(struct server *srv,
					      bool reload,
					      void (*done)(void *arg, int rc),
					      void *arg)
{
	struct server_users *u = &srv->users;
	struct server_userdb_wait *w = calloc(1, sizeof *w), **tail;

	if (w == NULL)
		return NULL;
	w->done = done;
	w->arg = arg;
	w->reload = reload;
	for (tail = &u->next; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = w;
	round_start(srv);
	return w;
}

static bool unlink_wait(struct server_userdb_wait **list,
			struct server_userdb_wait *w)
{
	for (; *list != NULL; list = &(*list)->next)
		if (*list == w) {
			*list = w->next;
			return true;
		}
	return false;
}

void server_userdb_cancel(struct server *srv, struct server_userdb_wait *w)
{
	struct server_users *u = &srv->users;

	if (w == NULL)
		return;
	if (unlink_wait(&u->round, w) || unlink_wait(&u->next, w))
		free(w);
}

/* ---- the blocking refresh, the accessor, teardown ---- */

void server_userdb_refresh(struct server *srv)
{
	struct round *r = round_new(srv);

	if (r == NULL)
		return;
	round_job(r);
	(void)round_apply(srv, r);
	round_free(r);
}

struct userdb *server_userdb(const struct server *srv)
{
	return srv->users.db;
}

static void free_waits(struct server_userdb_wait *w)
{
	struct server_userdb_wait *next;

	for (; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
}

void server_userdb_quiet(struct server *srv)
{
	struct server_users *u = &srv->users;

	u->freeing = true;
	if (srv->loop != NULL)
		ev_timer_stop(srv->loop, &u->retry);
	free_waits(u->round);
	free_waits(u->next);
	u->round = u->next = NULL;
}

void server_userdb_free(struct server *srv)
{
	struct server_users *u = &srv->users;
	size_t i;

	userdb_free(u->db);
	for (i = 0; i < u->n_old; i++)
		userdb_free(u->old[i]);
	free(u->old);
	free(u->path);
}
