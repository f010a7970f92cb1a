/* smtpd/pickup.c: the pickup (smtpd/pickup.h) — the drop directory made
 * before the privilege drop, watched with inotify and a timer, listed on
 * the io pool; its messages handed one at a time to smtpd/pickup_file.h,
 * with the back-off of those that failed for now. */
#include "autoconf.h"

#include "smtpd/pickup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "common/base/fsutil.h"
#include "common/base/log.h"
#include "common/config/config.h"
#include "common/net/worker.h"
#include "common/runtime/server.h"
#include "smtpd/pickup_file.h"
#include "store/drop.h"
#include "store/maildir.h"

/* Most names one scan hands on; the rest wait for the next. */
#define PICKUP_BATCH_MAX 1000
/* The next try of a file that is never to be tried again. */
#define PICKUP_NEVER ((time_t)1 << 40)
/* A file of another name than the pickup's is set aside at this age. */
#define PICKUP_STRAY_AGE MD_TMP_MAX_AGE

/* A file that failed for now, and when to try it again. */
struct pickup_defer {
	char name[DROP_NAME_SIZE];
	unsigned attempts;
	time_t next;
};

struct smtpd_pickup {
	struct server *srv;
	struct smtpd *d;
	ev_timer tick;
	ev_io ino_w;
	int ino_fd;          /* -1: no inotify, the timer alone */
	int ino_wd;          /* -1: no watch yet */
	char *dir;           /* the drop_dir of the last scan */
	bool scanning, busy, rescan, stopping, warned;
	char (*batch)[DROP_NAME_SIZE];
	size_t n_batch, at;
	char cur[DROP_NAME_SIZE];
	struct pickup_defer *defer;
	size_t n_defer;
};

struct scan_job {
	struct smtpd_pickup *p;
	char *dir;
	bool watch;          /* add the inotify watch */
	int wd;
	int err;             /* errno of the directory's open, or 0 */
	char (*names)[DROP_NAME_SIZE];
	size_t n;
};

static void request_scan(struct smtpd_pickup *p);

/* ---- before the privilege drop ---- */

/* Make dir (mode, then owned by the account uid/gid when root).
 * Returns 1 when it was made, 0 when it was there, -1 on error. */
static int make_dir(int at, const char *dir, mode_t mode,
		    const struct passwd *pw)
{
	if (mkdirat(at, dir, 0700) < 0)
		return errno == EEXIST ? 0 : -1;
	if (pw != NULL && fchownat(at, dir, pw->pw_uid, pw->pw_gid,
				   AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	return fchmodat(at, dir, mode, 0) < 0 ? -1 : 1;
}

int smtpd_pickup_prepare(struct server *srv)
{
	const struct config *cfg = server_config(srv);
	const struct passwd *pw = NULL;
	int fd, made;

	if (geteuid() == 0 && cfg->run_as != NULL && cfg->run_as[0] != '\0')
		pw = getpwnam(cfg->run_as);
	if (geteuid() == 0 && pw == NULL)
		return 0; /* the privilege drop will say why */
	/* What was there is left as it is (the start-up checks judged it;
	 * under the unit, the spool itself is read-only). */
	if ((made = make_dir(AT_FDCWD, cfg->drop_dir, 01733, pw)) < 0 ||
	    (made == 1 && fs_fsync_parent(cfg->drop_dir) < 0)) {
		/* No spool for it yet (make install makes the parent): not
		 * every server takes local mail. */
		log_msg(errno == ENOENT ? LOG_LVL_INFO : LOG_LVL_WARN,
			"drop_dir %s: cannot make it: %s; kantorpos-sendmail "
			"cannot leave mail until it exists (mkdir -m 1733 %s, "
			"owned by %s)", cfg->drop_dir, strerror(errno),
			cfg->drop_dir,
			pw != NULL ? pw->pw_name : "the daemons' account");
		return 0;
	}
	fd = open(cfg->drop_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (made = make_dir(fd, DROP_BAD_DIR, 0700, pw)) < 0 ||
	    (made == 1 && fsync(fd) < 0))
		log_warn("drop_dir %s/%s", cfg->drop_dir, DROP_BAD_DIR);
	if (fd >= 0)
		close(fd);
	return 0;
}

/* ---- the back-off of files that failed for now ---- */

static struct pickup_defer *defer_find(struct smtpd_pickup *p,
				       const char *name)
{
	for (size_t i = 0; i < p->n_defer; i++)
		if (strcmp(p->defer[i].name, name) == 0)
			return &p->defer[i];
	return NULL;
}

/* name failed again: wait queue_retry_min, doubled per attempt, at most
 * queue_retry_max; forever when stuck. */
static void defer_note(struct smtpd_pickup *p, const char *name, bool stuck)
{
	const struct config *cfg = server_config(p->srv);
	struct pickup_defer *e = defer_find(p, name), *grown;
	time_t wait = cfg->queue_retry_min;

	if (e == NULL) {
		grown = realloc(p->defer, (p->n_defer + 1) * sizeof(*grown));
		if (grown == NULL)
			return; /* tried again at the next scan */
		p->defer = grown;
		e = &grown[p->n_defer++];
		memset(e, 0, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s", name);
	}
	for (unsigned i = e->attempts++; i > 0 && wait < cfg->queue_retry_max;
	     i--)
		wait *= 2;
	if (wait > cfg->queue_retry_max)
		wait = cfg->queue_retry_max;
	e->next = stuck ? PICKUP_NEVER : time(NULL) + wait;
}

static void defer_forget(struct smtpd_pickup *p, const char *name)
{
	struct pickup_defer *e = defer_find(p, name);

	if (e != NULL)
		*e = p->defer[--p->n_defer];
}

/* Forget the files a scan no longer found. */
static void defer_prune(struct smtpd_pickup *p)
{
	for (size_t i = 0; i < p->n_defer;) {
		bool seen = false;

		for (size_t j = 0; j < p->n_batch && !seen; j++)
			seen = strcmp(p->batch[j], p->defer[i].name) == 0;
		if (seen)
			i++;
		else
			p->defer[i] = p->defer[--p->n_defer];
	}
}

/* ---- one file at a time ---- */

static void next_file(struct smtpd_pickup *p);

static void file_done(void *arg, enum pickup_result result)
{
	struct smtpd_pickup *p = arg;

	p->busy = false;
	if (result == PICKUP_DEFER || result == PICKUP_STUCK)
		defer_note(p, p->cur, result == PICKUP_STUCK);
	else
		defer_forget(p, p->cur);
	next_file(p);
}

static void next_file(struct smtpd_pickup *p)
{
	time_t now = time(NULL);

	while (!p->stopping && p->at < p->n_batch) {
		const char *name = p->batch[p->at++];
		const struct pickup_defer *e = defer_find(p, name);

		if (e != NULL && e->next > now)
			continue;
		snprintf(p->cur, sizeof(p->cur), "%s", name);
		if (pickup_file_run(p->srv, p->d, p->dir, name, file_done,
				    p) == 0) {
			p->busy = true;
			return;
		}
		p->at = p->n_batch; /* the pool is full: the next tick */
	}
	if (p->rescan) {
		p->rescan = false;
		request_scan(p);
	}
}

/* ---- the scan, on the io pool ---- */

/* A file of no one's (a writer that died, a stray name) at its age. */
static void scan_stray(int dirfd, const char *name, time_t now)
{
	struct stat st;
	bool removed;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    now - st.st_mtime < PICKUP_STRAY_AGE)
		return;
	if (drop_name_is_tmp(name) && S_ISREG(st.st_mode))
		drop_remove(dirfd, name);
	else if (drop_set_aside(dirfd, name, &removed) == 0)
		log_warnx("pickup: %s: a stray file, %s", name,
			  removed ? "removed" : "moved into " DROP_BAD_DIR "/");
}

static void scan_run(void *arg)
{
	struct scan_job *j = arg;
	struct dirent *de;
	time_t now = time(NULL);
	DIR *dp;
	int fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || (dp = fdopendir(fd)) == NULL) {
		j->err = errno;
		if (fd >= 0)
			close(fd);
		return;
	}
	if (j->watch)
		j->wd = inotify_add_watch(j->p->ino_fd, j->dir,
					  IN_MOVED_TO | IN_CLOSE_WRITE |
						  IN_ONLYDIR);
	j->names = calloc(PICKUP_BATCH_MAX, sizeof(*j->names));
	while (j->names != NULL && (de = readdir(dp)) != NULL) {
		if (drop_name_is_msg(de->d_name)) {
			if (j->n < PICKUP_BATCH_MAX) /* shorter than its room */
				memcpy(j->names[j->n++], de->d_name,
				       strlen(de->d_name) + 1);
		} else if (strcmp(de->d_name, ".") != 0 &&
			   strcmp(de->d_name, "..") != 0 &&
			   strcmp(de->d_name, DROP_BAD_DIR) != 0) {
			scan_stray(dirfd(dp), de->d_name, now);
		}
	}
	closedir(dp);
}

static void scan_done(void *arg)
{
	struct scan_job *j = arg;
	struct smtpd_pickup *p = j->p;

	p->scanning = false;
	if (j->watch && j->wd >= 0)
		p->ino_wd = j->wd;
	/* Missing: said at start (smtpd_pickup_prepare); other errors once. */
	if (j->err != 0 && !p->warned)
		log_msg(j->err == ENOENT ? LOG_LVL_DEBUG : LOG_LVL_WARN,
			"pickup: drop_dir %s: %s", j->dir, strerror(j->err));
	p->warned = j->err != 0;
	free(p->batch);
	p->batch = j->names;
	p->n_batch = j->n;
	p->at = 0;
	defer_prune(p);
	free(j->dir);
	free(j);
	next_file(p);
}

static void request_scan(struct smtpd_pickup *p)
{
	const char *dir = server_config(p->srv)->drop_dir;
	struct scan_job *j;

	if (p->stopping)
		return;
	if (p->scanning || p->busy || p->at < p->n_batch) {
		p->rescan = true;
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->dir = strdup(dir)) == NULL) {
		free(j);
		return; /* the next tick */
	}
	j->p = p;
	j->wd = -1;
	j->watch = p->ino_fd >= 0 && p->ino_wd < 0;
	if (p->dir == NULL || strcmp(p->dir, dir) != 0) {
		free(p->dir);
		p->dir = strdup(j->dir);
	}
	if (p->dir == NULL ||
	    worker_submit(server_io_worker(p->srv), scan_run, scan_done,
			  j) < 0) {
		free(j->dir);
		free(j);
		return;
	}
	p->scanning = true;
}

/* ---- the watchers ---- */

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	request_scan(w->data);
}

/* Events of the directory: a scan when a message may have arrived. */
static void on_inotify(struct ev_loop *loop, ev_io *w, int revents)
{
	struct smtpd_pickup *p = w->data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool arrived = false;
	ssize_t n;

	(void)loop;
	(void)revents;
	while ((n = read(p->ino_fd, buf, sizeof(buf))) > 0) {
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *ev = (const void *)q;

			if ((ev->mask & IN_Q_OVERFLOW) ||
			    (ev->len > 0 && drop_name_is_msg(ev->name)))
				arrived = true;
			q += sizeof(*ev) + ev->len;
		}
	}
	if (arrived)
		request_scan(p);
}

int smtpd_pickup_start(struct server *srv, struct smtpd *d)
{
	struct smtpd_pickup *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -1;
	p->srv = srv;
	p->d = d;
	p->ino_wd = -1;
	p->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (p->ino_fd < 0)
		log_warn("pickup: inotify (drop_dir is scanned every %.0f s)",
			 PICKUP_TICK);
	else {
		ev_io_init(&p->ino_w, on_inotify, p->ino_fd, EV_READ);
		p->ino_w.data = p;
		ev_io_start(server_loop(srv), &p->ino_w);
	}
	ev_timer_init(&p->tick, on_tick, PICKUP_TICK, PICKUP_TICK);
	p->tick.data = p;
	ev_timer_start(server_loop(srv), &p->tick);
	d->pickup = p;
	request_scan(p);
	return 0;
}

void smtpd_pickup_reload(struct smtpd *d)
{
	struct smtpd_pickup *p = d->pickup;

	if (p == NULL)
		return;
	if (p->dir != NULL && p->ino_wd >= 0 &&
	    strcmp(p->dir, server_config(p->srv)->drop_dir) != 0) {
		inotify_rm_watch(p->ino_fd, p->ino_wd);
		p->ino_wd = -1;
	}
	request_scan(p);
}

void smtpd_pickup_stopping(struct smtpd *d)
{
	struct smtpd_pickup *p = d->pickup;

	if (p == NULL)
		return;
	p->stopping = true;
	ev_timer_stop(server_loop(p->srv), &p->tick);
	if (p->ino_fd >= 0)
		ev_io_stop(server_loop(p->srv), &p->ino_w);
}

void smtpd_pickup_cleanup(struct server *srv, struct smtpd *d)
{
	struct smtpd_pickup *p = d->pickup;
	ev_tstamp until = ev_time() + 5.0;

	if (p == NULL)
		return;
	smtpd_pickup_stopping(d);
	/* The file in progress ends: stored and removed, or left as it
	 * was. */
	while ((p->busy || p->scanning) && ev_time() < until)
		ev_run(server_loop(srv), EVRUN_ONCE);
	d->pickup = NULL;
	if (p->busy || p->scanning) {
		log_warnx("pickup: still busy at the stop; its file stays");
		return;
	}
	if (p->ino_fd >= 0)
		close(p->ino_fd);
	free(p->batch);
	free(p->defer);
	free(p->dir);
	free(p);
}
