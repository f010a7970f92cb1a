/* common/runtime/server_pools.c: the daemon's CPU pool (Argon2id) and
 * storage pool (everything that waits on the disk), as server_pools.h
 * divides the work, and the dummy hash job of a reload. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/net/worker.h"
#include "common/runtime/server.h"
#include "common/runtime/server_pools.h"
#include "common/runtime/server_state.h"
#include "common/users/password.h"

int server_pools_start(struct server *srv, char **err_r)
{
	const struct config *cfg = srv->cfg->cfg;

	srv->worker = worker_new(srv->loop, (unsigned)cfg->workers, 0);
	if (srv->worker == NULL) {
		server_errf(err_r, "cannot start the worker pool: %s",
			    strerror(errno));
		return -1;
	}
	srv->io = worker_new(srv->loop, SERVER_IO_THREADS, 0);
	if (srv->io == NULL) {
		server_errf(err_r, "cannot start the storage pool: %s",
			    strerror(errno));
		return -1;
	}
	return 0;
}

size_t server_pools_in_flight(const struct server *srv)
{
	return (srv->worker != NULL ? worker_in_flight(srv->worker) : 0) +
	       (srv->io != NULL ? worker_in_flight(srv->io) : 0);
}

struct dummy_arg {
	unsigned long long opslimit;
	size_t memlimit;
};

static void dummy_job(void *arg)
{
	struct dummy_arg *d = arg;

	(void)password_dummy_prepare(d->opslimit, d->memlimit);
}

void server_pools_dummy_hash(struct server *srv, unsigned long long opslimit,
			     size_t memlimit)
{
	struct dummy_arg *d = malloc(sizeof *d);

	if (d == NULL)
		return;
	d->opslimit = opslimit;
	d->memlimit = memlimit;
	if (worker_submit(srv->worker, dummy_job, free, d) < 0)
		free(d);
}

void server_pools_free(struct server *srv)
{
	worker_free(srv->worker);
	worker_free(srv->io);
	srv->worker = srv->io = NULL;
}

struct worker *server_worker(const struct server *srv) { return srv->worker; }
struct worker *server_io_worker(const struct server *srv) { return srv->io; }
