/* store/dirsync.c: group commit of directory fsyncs (see dirsync.h). */
#include "autoconf.h"

#include "store/dirsync.h"

#include "common/base/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* Directories tracked at once. A directory whose slot is taken by another
 * one is fsynced on its own: correct, only not grouped. */
#define DIRSYNC_SLOTS 64

struct dirsync_slot {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	dev_t dev;
	ino_t ino;
	unsigned users;     /* callers of this directory inside dirsync() */
	bool running;       /* an fsync is in progress */
	uint64_t started;   /* fsyncs started so far; the running one last */
	uint64_t done;      /* the last fsync finished */
	int done_err;       /* its errno, or 0 */
};

static struct dirsync_slot slots[DIRSYNC_SLOTS];
static _Atomic unsigned long fsyncs;
static int (*_Atomic fsync_fn)(int fd) = fsync;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void slots_init(void)
{
	for (size_t i = 0; i < DIRSYNC_SLOTS; i++) {
		pthread_mutex_init(&slots[i].mu, NULL);
		pthread_cond_init(&slots[i].cv, NULL);
	}
}

static struct dirsync_slot *slot_of(const struct stat *st)
{
	return &slots[((uint64_t)st->st_dev * 31 + (uint64_t)st->st_ino) %
		      DIRSYNC_SLOTS];
}

int dirsync(const char *dir)
{
	int fd = fs_openat_safe(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, 0);

	if (fd < 0)
		return -1;
	return fs_close_keep(fd, dirsync_fd(fd));
}

int dirsync_fd(int fd)
{
	struct dirsync_slot *slot;
	struct stat st;
	uint64_t ticket;
	int err;

	if (fstat(fd, &st) < 0)
		return fsync(fd);
	pthread_once(&slots_once, slots_init);
	slot = slot_of(&st);
	pthread_mutex_lock(&slot->mu);
	if (slot->users > 0 &&
	    (slot->dev != st.st_dev || slot->ino != st.st_ino)) {
		pthread_mutex_unlock(&slot->mu);
		return fsync(fd);
	}
	slot->dev = st.st_dev;
	slot->ino = st.st_ino;
	slot->users++;
	/* A running fsync may have started before this caller's change: only
	 * the next one to start is sure to cover it. */
	ticket = slot->started + 1;
	while (slot->done < ticket) {
		if (slot->running) {
			pthread_cond_wait(&slot->cv, &slot->mu);
			continue;
		}
		uint64_t mine = ++slot->started;

		slot->running = true;
		pthread_mutex_unlock(&slot->mu);
		atomic_fetch_add(&fsyncs, 1);
		err = atomic_load(&fsync_fn)(fd) < 0 ? errno : 0;
		pthread_mutex_lock(&slot->mu);
		slot->running = false;
		slot->done = mine;
		slot->done_err = err;
		pthread_cond_broadcast(&slot->cv);
	}
	/* The last fsync finished started after this caller's change. */
	err = slot->done_err;
	slot->users--;
	pthread_mutex_unlock(&slot->mu);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

unsigned long dirsync_fsyncs(void)
{
	return atomic_load(&fsyncs);
}

unsigned dirsync_users(const char *dir)
{
	struct dirsync_slot *slot;
	struct stat st;
	unsigned n = 0;

	if (stat(dir, &st) < 0)
		return 0;
	pthread_once(&slots_once, slots_init);
	slot = slot_of(&st);
	pthread_mutex_lock(&slot->mu);
	if (slot->dev == st.st_dev && slot->ino == st.st_ino)
		n = slot->users;
	pthread_mutex_unlock(&slot->mu);
	return n;
}

void dirsync_set_fsync(int (*fn)(int fd))
{
	atomic_store(&fsync_fn, fn != NULL ? fn : fsync);
}
