/* tests/test_dirsync.c: group commit of directory fsyncs — errors, and
 * callers that arrive while an fsync runs sharing the next one, with an
 * fsync the test holds open. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/dirsync.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	dirsync_set_fsync(NULL);
	tu_rmrf(dir);
	free(dir);
}

TestSuite(dirsync, .init = setup, .fini = teardown);

Test(dirsync, errors_and_success)
{
	char *missing = tu_path(dir, "missing"), *file = tu_path(dir, "file");

	tu_write_file(file, "x");
	cr_assert_eq(dirsync(dir), 0);
	errno = 0;
	cr_assert_eq(dirsync(missing), -1);
	cr_assert_eq(errno, ENOENT);
	errno = 0;
	cr_assert_eq(dirsync(file), -1);
	cr_assert_eq(errno, ENOTDIR);
	free(missing);
	free(file);
}

/* An fsync the test holds: the first one waits for the gate. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open, first_running;
static int calls, fail_with;

static int held_fsync(int fd)
{
	(void)fd;
	pthread_mutex_lock(&gate_mu);
	if (calls++ == 0) {
		first_running = true;
		pthread_cond_broadcast(&gate_cv);
		while (!gate_open)
			pthread_cond_wait(&gate_cv, &gate_mu);
	}
	pthread_mutex_unlock(&gate_mu);
	if (fail_with != 0) {
		errno = fail_with;
		return -1;
	}
	return 0;
}

struct caller {
	pthread_t t;
	int rc, err;
};

static void *call(void *arg)
{
	struct caller *c = arg;

	c->rc = dirsync(dir);
	c->err = errno;
	return NULL;
}

/* Wait (bounded) until n callers are inside dirsync. */
static void await_users(unsigned n)
{
	for (int i = 0; i < 5000 && dirsync_users(dir) < n; i++)
		usleep(1000);
	cr_assert_eq(dirsync_users(dir), n, "callers inside dirsync");
}

static void run_group(int err)
{
	struct caller c[5];
	unsigned long before = dirsync_fsyncs();

	calls = 0;
	fail_with = err;
	gate_open = first_running = false;
	dirsync_set_fsync(held_fsync);
	/* The first caller's fsync starts and is held. */
	pthread_create(&c[0].t, NULL, call, &c[0]);
	pthread_mutex_lock(&gate_mu);
	while (!first_running)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	/* Four more arrive while it runs: it may have begun before their
	 * changes, so it cannot cover them; one more fsync covers all four. */
	for (int i = 1; i < 5; i++)
		pthread_create(&c[i].t, NULL, call, &c[i]);
	await_users(5);
	pthread_mutex_lock(&gate_mu);
	gate_open = true;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
	for (int i = 0; i < 5; i++) {
		pthread_join(c[i].t, NULL);
		cr_expect_eq(c[i].rc, err == 0 ? 0 : -1, "caller %d", i);
		if (err != 0)
			cr_expect_eq(c[i].err, err, "caller %d", i);
	}
	cr_expect_eq(calls, 2, "five callers, two fsyncs");
	cr_expect_eq(dirsync_fsyncs() - before, 2);
	cr_expect_eq(dirsync_users(dir), 0);
}

Test(dirsync, callers_share_the_next_fsync)
{
	run_group(0);
}

Test(dirsync, a_failed_fsync_fails_everyone_it_covered)
{
	run_group(EIO);
}

/* Many threads on two directories: every call succeeds, and no more
 * fsyncs run than were asked for. */
enum { THREADS = 8, ROUNDS = 200 };
static int failures;

static void *hammer(void *arg)
{
	for (int r = 0; r < ROUNDS; r++)
		if (dirsync(arg) < 0)
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
	return NULL;
}

Test(dirsync, concurrent_directories)
{
	pthread_t t[THREADS];
	unsigned long before = dirsync_fsyncs();
	char *other = tu_path(dir, "other");

	cr_assert_eq(mkdir(other, 0700), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, hammer, i % 2 ? other : dir);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	cr_expect_eq(failures, 0);
	cr_expect_leq(dirsync_fsyncs() - before, (unsigned long)THREADS * ROUNDS);
	cr_expect_geq(dirsync_fsyncs() - before, 2);
	cr_expect_eq(dirsync_users(dir), 0);
	free(other);
}
