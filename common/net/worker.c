/* common/net/worker.c: the thread pool behind every blocking operation; jobs
 * travel on a mutex-protected FIFO, completions come back through ev_async. */
#include "autoconf.h"

#include "common/net/worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ev.h>

#define WORKER_MAX_THREADS 256
/* Pool threads run this much nicer than the loop thread: when Argon2id
 * keeps every core busy, the scheduler still runs the loop (which needs
 * microseconds per event) the moment it wakes, so no session waits for a
 * verification to finish its time slice. */
#define WORKER_NICE 10

struct worker_job {
	worker_job_fn *job;
	worker_done_fn *done;
	void *arg;
	struct worker_job *next;
};

/* A singly linked FIFO with a tail pointer. */
struct worker_list {
	struct worker_job *head;
	struct worker_job *tail;
};

struct worker {
	struct ev_loop *loop;
	ev_async async;

	pthread_mutex_t mu;        /* guards everything below up to in_flight */
	pthread_cond_t work_cv;    /* signalled when a job is queued or on stop */
	struct worker_list queued; /* waiting for a thread */
	size_t n_queued;
	size_t queue_max;
	struct worker_list finished; /* job returned, done not yet run */
	bool stopping;

	size_t in_flight; /* loop thread only: submitted, done not yet run */
	unsigned nthreads;
	pthread_t *threads;
};

static void list_push(struct worker_list *l, struct worker_job *j);
static struct worker_job *list_pop(struct worker_list *l);
static void *worker_main(void *arg);
static void worker_async_cb(struct ev_loop *loop, ev_async *a, int revents);
static void worker_run_done(struct worker *w);
static void worker_stop_threads(struct worker *w, unsigned started);

static void list_push(struct worker_list *l, struct worker_job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct worker_job *list_pop(struct worker_list *l)
{
	struct worker_job *j = l->head;

	if (j != NULL) {
		l->head = j->next;
		if (l->head == NULL)
			l->tail = NULL;
	}
	return j;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	/* Linux applies a thread's own nice value (tid 0 = the caller);
	 * raising it needs no privilege. Best effort. */
	(void)setpriority(PRIO_PROCESS, 0,
			  getpriority(PRIO_PROCESS, 0) + WORKER_NICE);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct worker_job *j;

		while (w->queued.head == NULL && !w->stopping)
			pthread_cond_wait(&w->work_cv, &w->mu);
		/* On stop, the queue is still emptied: shutdown finishes jobs. */
		j = list_pop(&w->queued);
		if (j == NULL)
			break;
		w->n_queued--;
		pthread_mutex_unlock(&w->mu);

		j->job(j->arg);

		pthread_mutex_lock(&w->mu);
		list_push(&w->finished, j);
		/* Thread-safe and coalescing: one wakeup may carry many jobs. */
		ev_async_send(w->loop, &w->async);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Run the done functions of every job finished so far, on the loop thread. */
static void worker_run_done(struct worker *w)
{
	struct worker_list batch;
	struct worker_job *j;

	pthread_mutex_lock(&w->mu);
	batch = w->finished;
	w->finished.head = w->finished.tail = NULL;
	pthread_mutex_unlock(&w->mu);

	while ((j = list_pop(&batch)) != NULL) {
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
		/* Counted down after done, so a done that submits again keeps
		 * the loop reference without a drop to zero in between. */
		if (--w->in_flight == 0)
			ev_unref(w->loop);
	}
}

static void worker_async_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	worker_run_done(a->data);
}

static void worker_stop_threads(struct worker *w, unsigned started)
{
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->work_cv);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(w->threads[i], NULL);
}

struct worker *worker_new(struct ev_loop *loop, unsigned nthreads,
	size_t queue_max)
{
	struct worker *w;
	sigset_t all, old;
	unsigned i;
	int err = 0;

	if (nthreads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		nthreads = n < 1 ? 1 : (unsigned)n;
	}
	if (nthreads > WORKER_MAX_THREADS)
		nthreads = WORKER_MAX_THREADS;
	if (queue_max == 0)
		queue_max = WORKER_QUEUE_DEFAULT;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->threads = calloc(nthreads, sizeof(*w->threads));
	if (w->threads == NULL) {
		free(w);
		return NULL;
	}
	w->loop = loop;
	w->queue_max = queue_max;
	w->nthreads = nthreads;
	if ((err = pthread_mutex_init(&w->mu, NULL)) != 0)
		goto fail_mutex;
	if ((err = pthread_cond_init(&w->work_cv, NULL)) != 0)
		goto fail_cond;

	ev_async_init(&w->async, worker_async_cb);
	w->async.data = w;
	ev_async_start(loop, &w->async);
	/* An idle pool must not keep ev_run from returning; submit takes a
	 * reference while jobs are in flight. */
	ev_unref(loop);

	/* Threads inherit the mask: keep signals for the loop thread, where
	 * the daemons' ev_signal watchers expect them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < nthreads; i++) {
		err = pthread_create(&w->threads[i], NULL, worker_main, w);
		if (err != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err == 0)
		return w;

	worker_stop_threads(w, i);
	ev_ref(loop);
	ev_async_stop(loop, &w->async);
	pthread_cond_destroy(&w->work_cv);
fail_cond:
	pthread_mutex_destroy(&w->mu);
fail_mutex:
	free(w->threads);
	free(w);
	errno = err;
	return NULL;
}

int worker_submit(struct worker *w, worker_job_fn *job, worker_done_fn *done,
	void *arg)
{
	struct worker_job *j;

	if (job == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* Allocate outside the lock so the loop holds the mutex only briefly. */
	j = malloc(sizeof(*j));
	if (j == NULL)
		return -1;
	j->job = job;
	j->done = done;
	j->arg = arg;

	pthread_mutex_lock(&w->mu);
	if (w->stopping || w->n_queued >= w->queue_max) {
		int err = w->stopping ? ECANCELED : EAGAIN;

		pthread_mutex_unlock(&w->mu);
		free(j);
		errno = err;
		return -1;
	}
	list_push(&w->queued, j);
	w->n_queued++;
	pthread_cond_signal(&w->work_cv);
	pthread_mutex_unlock(&w->mu);

	if (w->in_flight++ == 0)
		ev_ref(w->loop);
	return 0;
}

size_t worker_in_flight(const struct worker *w)
{
	return w->in_flight;
}

unsigned worker_threads(const struct worker *w)
{
	return w->nthreads;
}

void worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	worker_stop_threads(w, w->nthreads);
	/* Every thread has exited, so every job is on the finished list; done
	 * functions may still submit (refused) but add no new work. */
	worker_run_done(w);
	ev_ref(w->loop);
	ev_async_stop(w->loop, &w->async);
	pthread_cond_destroy(&w->work_cv);
	pthread_mutex_destroy(&w->mu);
	free(w->threads);
	free(w);
}
