/* bench/floor.c: the disk's limit for Maildir delivery. T threads each
 * do exactly the durable work of one delivery, over and over: create a
 * file in tmp/, write S bytes, fsync it, rename it into new/, fsync new/.
 * No network, no parsing: what any Maildir server must at least do.
 *
 *   floor -d maildir [-T threads] [-n messages] [-s bytes]
 *
 * The maildir (with tmp/ and new/) is created if needed; the files stay.
 * Output: one line "threads=T messages=N seconds=S rate=R". */
#include "autoconf.h"

#include "bench/benchlib.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct floor {
	const char *dir;
	char *msg;
	size_t size;
	atomic_long left;
	atomic_long errors;
};

struct worker {
	struct floor *f;
	int id;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct floor *f = w->f;
	char tmp[4096], dst[4096], newdir[4096];
	long seq = 0;
	int dfd;

	snprintf(newdir, sizeof newdir, "%s/new", f->dir);
	dfd = open(newdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		bl_die(errno, "%s", newdir);
	while (atomic_fetch_sub(&f->left, 1) > 0) {
		int fd;

		snprintf(tmp, sizeof tmp, "%s/tmp/floor.%d.%d.%ld", f->dir,
			 (int)getpid(), w->id, seq);
		snprintf(dst, sizeof dst, "%s/new/floor.%d.%d.%ld", f->dir,
			 (int)getpid(), w->id, seq);
		seq++;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 ||
		    write(fd, f->msg, f->size) != (ssize_t)f->size ||
		    fsync(fd) < 0 || close(fd) < 0 || rename(tmp, dst) < 0 ||
		    fsync(dfd) < 0)
			atomic_fetch_add(&f->errors, 1);
	}
	close(dfd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct floor f = { .size = 1024 };
	long threads = 1, n = 1000, i;
	pthread_t *tids;
	struct worker *ws;
	char path[4096];
	double t0, secs;
	int opt;

	while ((opt = getopt(argc, argv, "d:T:n:s:")) != -1) {
		switch (opt) {
		case 'd': f.dir = optarg; break;
		case 'T': threads = atol(optarg); break;
		case 'n': n = atol(optarg); break;
		case 's': f.size = (size_t)atol(optarg); break;
		default:
			fputs("usage: floor -d maildir [-T threads] "
			      "[-n messages] [-s bytes]\n", stderr);
			return 2;
		}
	}
	if (f.dir == NULL || threads < 1 || n < 1)
		bl_die(0, "-d maildir is required");
	(void)mkdir(f.dir, 0700);
	snprintf(path, sizeof path, "%s/tmp", f.dir);
	(void)mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/new", f.dir);
	(void)mkdir(path, 0700);
	f.msg = malloc(f.size + 1);
	tids = calloc((size_t)threads, sizeof *tids);
	ws = calloc((size_t)threads, sizeof *ws);
	if (f.msg == NULL || tids == NULL || ws == NULL)
		bl_die(ENOMEM, "setup");
	memset(f.msg, 'x', f.size);
	atomic_init(&f.left, n);
	atomic_init(&f.errors, 0);
	t0 = bl_now();
	for (i = 0; i < threads; i++) {
		ws[i].f = &f;
		ws[i].id = (int)i;
		if (pthread_create(&tids[i], NULL, work, &ws[i]) != 0)
			bl_die(0, "pthread_create");
	}
	for (i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	secs = bl_now() - t0;
	printf("threads=%ld messages=%ld seconds=%.3f rate=%.1f errors=%ld\n",
	       threads, n, secs, (double)n / secs, atomic_load(&f.errors));
	free(f.msg);
	free(tids);
	free(ws);
	return atomic_load(&f.errors) == 0 ? 0 : 1;
}
