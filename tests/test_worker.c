/* tests/test_worker.c: the worker pool (threads, back-pressure, completions
 * on the loop thread, shutdown, a blocked job never stalling the loop). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "common/net/worker.h"
#include "tests/helpers/testutil.h"

static char *dir;
static struct ev_loop *loop;

static void setup(void)
{
	dir = tu_tmpdir();
	loop = ev_loop_new(EVFLAG_AUTO);
	cr_assert_not_null(loop);
}

static void teardown(void)
{
	ev_loop_destroy(loop);
	tu_rmrf(dir);
	free(dir);
}

/* A hang (a lost wakeup or an unbalanced loop reference) fails the test. */
TestSuite(worker, .init = setup, .fini = teardown, .timeout = 10);

/* A job that reports it has started, then waits until the test opens it. */
struct gate {
	sem_t started;
	sem_t release;
	atomic_bool returned;
	int done_calls;
};

static void gate_init(struct gate *g)
{
	cr_assert_eq(sem_init(&g->started, 0, 0), 0);
	cr_assert_eq(sem_init(&g->release, 0, 0), 0);
	atomic_init(&g->returned, false);
	g->done_calls = 0;
}

static void gate_destroy(struct gate *g)
{
	sem_destroy(&g->started);
	sem_destroy(&g->release);
}

static void gate_job(void *arg)
{
	struct gate *g = arg;

	sem_post(&g->started);
	while (sem_wait(&g->release) != 0)
		;
	atomic_store(&g->returned, true);
}

static void gate_done(void *arg)
{
	struct gate *g = arg;

	g->done_calls++;
}

/* ---- which thread runs what ---- */

struct where {
	pthread_t loop_thread;
	pthread_t job_thread;
	bool job_ran;
	bool done_on_loop;
	int done_calls;
};

static void where_job(void *arg)
{
	struct where *w = arg;

	w->job_thread = pthread_self();
	w->job_ran = true;
}

static void where_done(void *arg)
{
	struct where *w = arg;

	w->done_on_loop = pthread_equal(pthread_self(), w->loop_thread);
	w->done_calls++;
}

Test(worker, jobs_off_loop_and_done_on_loop)
{
	struct worker *w = worker_new(loop, 2, 0);
	struct where rows[8];

	cr_assert_not_null(w);
	cr_assert_eq(worker_threads(w), 2);
	memset(rows, 0, sizeof(rows));
	for (size_t i = 0; i < 8; i++) {
		rows[i].loop_thread = pthread_self();
		cr_assert_eq(worker_submit(w, where_job, where_done, &rows[i]), 0);
	}
	cr_assert_eq(worker_in_flight(w), 8);
	/* The pool holds the loop while jobs are in flight: ev_run returns
	 * exactly when every done function has run. */
	ev_run(loop, 0);
	cr_assert_eq(worker_in_flight(w), 0);
	for (size_t i = 0; i < 8; i++) {
		cr_assert(rows[i].job_ran, "job %zu ran", i);
		cr_assert_not(pthread_equal(rows[i].job_thread, pthread_self()),
			"job %zu ran on a pool thread", i);
		cr_assert_eq(rows[i].done_calls, 1, "done %zu once", i);
		cr_assert(rows[i].done_on_loop, "done %zu on the loop thread", i);
	}
	worker_free(w);
}

/* ---- many jobs, exactly once each ---- */

#define MANY 10000

struct many {
	struct many_ctx *ctx;
	int job_runs;
	int done_runs;
	bool job_before_done;
};

struct many_ctx {
	struct many items[MANY];
	size_t dones;
};

static void many_job(void *arg)
{
	struct many *m = arg;

	m->job_runs++;
}

static void many_done(void *arg)
{
	struct many *m = arg;

	m->job_before_done = m->job_runs == 1;
	m->done_runs++;
	m->ctx->dones++;
}

Test(worker, ten_thousand_jobs_complete_exactly_once)
{
	struct many_ctx *ctx = calloc(1, sizeof(*ctx));
	struct worker *w = worker_new(loop, 4, 64);

	cr_assert_not_null(ctx);
	cr_assert_not_null(w);
	for (size_t i = 0; i < MANY; i++) {
		ctx->items[i].ctx = ctx;
		/* Back-pressure as a session would handle it: on EAGAIN let the
		 * loop run completions, then retry. */
		while (worker_submit(w, many_job, many_done, &ctx->items[i]) != 0) {
			cr_assert_eq(errno, EAGAIN);
			ev_run(loop, EVRUN_ONCE);
		}
	}
	ev_run(loop, 0);
	cr_assert_eq(worker_in_flight(w), 0);
	cr_assert_eq(ctx->dones, MANY);
	for (size_t i = 0; i < MANY; i++) {
		cr_assert_eq(ctx->items[i].job_runs, 1, "job %zu ran once", i);
		cr_assert_eq(ctx->items[i].done_runs, 1, "done %zu ran once", i);
		cr_assert(ctx->items[i].job_before_done, "job %zu before its done", i);
	}
	worker_free(w);
	free(ctx);
}

/* ---- back-pressure ---- */

static int counter_done_calls;

static void noop_job(void *arg)
{
	int *runs = arg;

	(*runs)++;
}

static void count_done(void *arg)
{
	counter_done_calls++;
}

Test(worker, full_queue_says_eagain_then_accepts)
{
	struct worker *w = worker_new(loop, 1, 2);
	struct gate g;
	int runs = 0;

	cr_assert_not_null(w);
	gate_init(&g);
	counter_done_calls = 0;
	cr_assert_eq(worker_submit(w, gate_job, gate_done, &g), 0);
	/* The only thread now holds the gate job; the queue is empty. */
	cr_assert_eq(sem_wait(&g.started), 0);
	cr_assert_eq(worker_submit(w, noop_job, count_done, &runs), 0);
	cr_assert_eq(worker_submit(w, noop_job, count_done, &runs), 0);
	errno = 0;
	cr_assert_eq(worker_submit(w, noop_job, count_done, &runs), -1);
	cr_assert_eq(errno, EAGAIN);
	cr_assert_eq(worker_in_flight(w), 3, "the refused job is not counted");

	sem_post(&g.release);
	ev_run(loop, 0);
	cr_assert_eq(worker_in_flight(w), 0);
	cr_assert_eq(g.done_calls, 1);
	cr_assert_eq(counter_done_calls, 2);

	cr_assert_eq(worker_submit(w, noop_job, count_done, &runs), 0,
		"room again once the queue drained");
	ev_run(loop, 0);
	cr_assert_eq(counter_done_calls, 3);
	cr_assert_eq(runs, 3);
	worker_free(w);
	gate_destroy(&g);
}

Test(worker, bad_arguments_and_defaults)
{
	struct worker *w = worker_new(loop, 0, 0);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int runs = 0;

	cr_assert_not_null(w);
	cr_assert_eq(worker_threads(w), cpus < 1 ? 1 : (unsigned)cpus,
		"0 threads means one per online CPU");
	errno = 0;
	cr_assert_eq(worker_submit(w, NULL, count_done, &runs), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(worker_in_flight(w), 0);
	cr_assert_eq(worker_submit(w, noop_job, NULL, &runs), 0, "done may be NULL");
	ev_run(loop, 0);
	cr_assert_eq(runs, 1);
	cr_assert_eq(worker_in_flight(w), 0);
	worker_free(w);
	worker_free(NULL);
}

/* ---- done functions that submit again ---- */

struct chain {
	struct worker *w;
	int steps;
	int job_runs;
};

static void chain_job(void *arg)
{
	struct chain *c = arg;

	c->job_runs++;
}

static void chain_done(void *arg)
{
	struct chain *c = arg;

	if (++c->steps < 100)
		cr_assert_eq(worker_submit(c->w, chain_job, chain_done, c), 0);
}

Test(worker, done_may_submit_again)
{
	struct chain c = { worker_new(loop, 2, 4), 0, 0 };

	cr_assert_not_null(c.w);
	cr_assert_eq(worker_submit(c.w, chain_job, chain_done, &c), 0);
	ev_run(loop, 0);
	cr_assert_eq(c.steps, 100, "ev_run kept going through every link");
	cr_assert_eq(c.job_runs, 100);
	cr_assert_eq(worker_in_flight(c.w), 0);
	worker_free(c.w);
}

/* ---- shutdown ---- */

struct late {
	struct worker *w;
	int rc;
	int err;
	int done_calls;
	int job_runs;
};

static void late_job(void *arg)
{
	struct late *l = arg;

	l->job_runs++;
}

static void late_done(void *arg)
{
	struct late *l = arg;

	l->done_calls++;
	errno = 0;
	l->rc = worker_submit(l->w, late_job, late_done, l);
	l->err = errno;
}

Test(worker, shutdown_finishes_pending_jobs)
{
	struct worker *w = worker_new(loop, 1, 16);
	struct gate g;
	struct late late[5];

	cr_assert_not_null(w);
	gate_init(&g);
	cr_assert_eq(worker_submit(w, gate_job, gate_done, &g), 0);
	cr_assert_eq(sem_wait(&g.started), 0);
	for (size_t i = 0; i < 5; i++) {
		late[i] = (struct late){ w, 0, 0, 0, 0 };
		cr_assert_eq(worker_submit(w, late_job, late_done, &late[i]), 0);
	}
	cr_assert_eq(worker_in_flight(w), 6);
	sem_post(&g.release);
	/* No ev_run: worker_free itself runs the queue and the done functions. */
	worker_free(w);
	cr_assert_eq(g.done_calls, 1);
	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(late[i].job_runs, 1, "queued job %zu ran", i);
		cr_assert_eq(late[i].done_calls, 1, "done %zu ran", i);
		cr_assert_eq(late[i].rc, -1, "submit during shutdown is refused");
		cr_assert_eq(late[i].err, ECANCELED);
	}
	/* The pool gave back its loop reference and watcher: with nothing
	 * else active, ev_run returns at once (a leak would hang here). */
	ev_run(loop, 0);
	gate_destroy(&g);
}

/* ---- a blocked job never stalls the loop ---- */

struct stall {
	struct gate gate;        /* the job blocked in pool A */
	struct worker *b;        /* a second pool, same loop */
	ev_timer tick;
	int ticks;
	int b_submitted;
	int b_done;
	bool a_blocked_during_b_done;
	int ticks_when_released;
	bool released;
};

static void b_job(void *arg)
{
	(void)arg;
}

static void b_done(void *arg)
{
	struct stall *s = arg;

	s->b_done++;
	s->a_blocked_during_b_done = !atomic_load(&s->gate.returned);
}

static void stall_tick(struct ev_loop *l, ev_timer *t, int revents)
{
	struct stall *s = t->data;

	s->ticks++;
	if (s->b_submitted == 0) {
		cr_assert_eq(worker_submit(s->b, b_job, b_done, s), 0);
		s->b_submitted = 1;
		return;
	}
	/* Open the gate only after the timer fired repeatedly and the other
	 * pool completed work, all while the job in pool A stayed blocked. */
	if (s->b_done == 1 && s->ticks >= 5) {
		cr_assert_not(atomic_load(&s->gate.returned));
		s->ticks_when_released = s->ticks;
		s->released = true;
		sem_post(&s->gate.release);
		ev_timer_stop(l, t);
	}
}

Test(worker, blocked_job_does_not_stall_the_loop)
{
	struct worker *a = worker_new(loop, 1, 4);
	struct stall s;

	memset(&s, 0, sizeof(s));
	s.b = worker_new(loop, 1, 4);
	cr_assert_not_null(a);
	cr_assert_not_null(s.b);
	gate_init(&s.gate);

	cr_assert_eq(worker_submit(a, gate_job, gate_done, &s.gate), 0);
	cr_assert_eq(sem_wait(&s.gate.started), 0);
	ev_timer_init(&s.tick, stall_tick, 0.001, 0.001);
	s.tick.data = &s;
	ev_timer_start(loop, &s.tick);

	ev_run(loop, 0);

	cr_assert(s.released, "the loop reached the release point");
	cr_assert_geq(s.ticks_when_released, 5, "timer kept firing");
	cr_assert_eq(s.b_done, 1);
	cr_assert(s.a_blocked_during_b_done,
		"the second pool completed while the first job was blocked");
	cr_assert_eq(s.gate.done_calls, 1, "the blocked job completed after release");
	cr_assert(atomic_load(&s.gate.returned));
	cr_assert_eq(worker_in_flight(a), 0);
	cr_assert_eq(worker_in_flight(s.b), 0);
	worker_free(a);
	worker_free(s.b);
	gate_destroy(&s.gate);
}
