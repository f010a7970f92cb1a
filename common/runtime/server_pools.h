/* common/runtime/server_pools.h: the daemon's two worker pools and the rule
 * that divides the work between them (the accessors are in server.h).
 *
 *   server_worker: the CPU pool, one thread per core (config "workers"):
 *     Argon2id verifications and the dummy hash, nothing else. A job here
 *     may take a tenth of a second of CPU; a burst of logins fills it.
 *   server_io_worker: the storage pool, SERVER_IO_THREADS threads: every
 *     job that waits on the disk or the network (fsync batches, queue
 *     scans and commits, maildrop scans and opens, message file creation
 *     and body writes, read-ahead of queued messages, user db reloads,
 *     name resolution). Its jobs are short on CPU, so many threads wait
 *     at once and concurrent fsyncs share the journal's commits.
 *
 * Disk work never goes to the CPU pool: it would wait behind up to a
 * queue's worth of password checks. A graceful stop waits for both. */
#ifndef KANTORPOS_COMMON_SERVER_POOLS_H
#define KANTORPOS_COMMON_SERVER_POOLS_H

#include <stddef.h>

struct server;

/* Threads of the storage pool: fsync waits on the disk, not the CPU, and a
 * journalling file system commits concurrent fsyncs together, so many
 * deliveries in flight at once are what reaches the disk's limit. */
#define SERVER_IO_THREADS 16

/* Start both pools (after the privilege drop: no thread may exist
 * before it). Returns 0, or -1 with a line in *err_r. */
int server_pools_start(struct server *srv, char **err_r);

/* Jobs of both pools whose done function has not run yet. */
size_t server_pools_in_flight(const struct server *srv);

/* Prepare the dummy hash of a new Argon2id cost on the CPU pool; when the
 * pool is busy the first unknown user makes it instead. */
void server_pools_dummy_hash(struct server *srv, unsigned long long opslimit,
			     size_t memlimit);

/* Shut both down (blocks until their queued jobs are done; their done
 * functions run here). NULL pools are fine. */
void server_pools_free(struct server *srv);

#endif
