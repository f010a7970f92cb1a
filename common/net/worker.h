/* common/net/worker.h: a fixed pool of threads for blocking work (fsync,
 * Argon2id verification, DNS and connect) so that a daemon's libev loop
 * never blocks.
 *
 * A job function runs on a pool thread; its done function runs later on the
 * loop thread, woken through one ev_async per pool, which drains every
 * finished job per wakeup. The queue of jobs waiting for a thread is bounded:
 * when it is full, worker_submit fails with EAGAIN and the caller pauses the
 * session and retries later (back-pressure instead of blocking the loop).
 *
 * Threads: worker_new, worker_submit, worker_in_flight and worker_free are
 * called on the loop thread only; job functions must not call into the pool
 * or the loop. While jobs are in flight the pool holds a reference on the
 * loop, so ev_run does not return before their done functions have run; an
 * idle pool keeps no loop alive.
 *
 * Pools and the work they take: jobs run in submission order, so a job
 * waits behind everything queued before it. Keep CPU-bound jobs and jobs
 * that wait on the disk in separate pools: a queue of Argon2id
 * verifications (a tenth of a second of CPU each) must never stand in
 * front of an fsync, a queue scan, a maildrop open or a body write. The
 * daemons have one pool of each kind (common/runtime/server_pools.h); a
 * program with one pool (kantorpos fetch, the admin tool) has no password
 * checks on it.
 */
#ifndef KANTORPOS_COMMON_WORKER_H
#define KANTORPOS_COMMON_WORKER_H

#include <stddef.h>

struct ev_loop;
struct worker;

typedef void worker_job_fn(void *arg);
typedef void worker_done_fn(void *arg);

/* Queue size used when worker_new gets queue_max 0. */
#define WORKER_QUEUE_DEFAULT 1024

/* Start a pool of nthreads threads (0: the number of online CPUs) on `loop`,
 * with room for queue_max jobs waiting for a thread (0: WORKER_QUEUE_DEFAULT).
 * Pool threads block every signal, so signals reach the loop thread.
 * Returns the pool, or NULL with errno set (nothing is left running). */
struct worker *worker_new(struct ev_loop *loop, unsigned nthreads,
	size_t queue_max);

/* Queue job(arg) for a pool thread; done(arg), if done is not NULL, runs on
 * the loop thread after the job has returned. The pool never touches arg
 * itself: the caller owns it and usually frees it in done. Never blocks
 * (takes the pool mutex briefly). Returns 0, or -1 with errno EAGAIN (the
 * queue is full: retry after some done functions have run), ECANCELED (the
 * pool is shutting down), EINVAL (job is NULL) or ENOMEM. Done functions may
 * submit further jobs. */
int worker_submit(struct worker *w, worker_job_fn *job, worker_done_fn *done,
	void *arg);

/* Jobs submitted whose done function has not yet run: queued, running or
 * waiting for the loop. 0 means the pool is idle (graceful shutdown waits
 * for this). Loop thread only. */
size_t worker_in_flight(const struct worker *w);

/* Number of threads in the pool. */
unsigned worker_threads(const struct worker *w);

/* Shut the pool down and free it: refuse new jobs, let the threads finish
 * every queued job, join them, run every pending done function here, then
 * release the ev_async. Blocks the calling (loop) thread until the queued
 * jobs are finished, so a daemon first lets worker_in_flight reach 0 while
 * its loop runs. Must not be called from a done function. NULL is fine. */
void worker_free(struct worker *w);

#endif
