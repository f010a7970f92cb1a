/* store/queue.c: the outbound queue on disk — staging and committing items
 * by directory rename, per-item OFD locks, walks, envelope updates,
 * removal and crash recovery. */
#include "autoconf.h"

#include "store/queue.h"

#include "common/mail/address.h"
#include "common/base/fsutil.h"
#include "common/base/log.h"
#include "store/mdname.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_BUF_SIZE 65536

/* tmp/ and items/ are held open: every item path is resolved from them
 * with fs_openat_safe, so no link placed in the queue is ever followed. */
struct queue {
	char *dir;    /* DATA/queue */
	char *tmp;    /* DATA/queue/tmp, for messages */
	char *items;  /* DATA/queue/items */
	int tmp_fd;   /* handles of the two (O_RDONLY) */
	int items_fd;
	char host[HOST_NAME_MAX + 1];
};

struct queue_tx {
	struct queue *q;
	int fd;
	char id[QUEUE_ID_MAX + 1];
	uint64_t size;
	int err; /* sticky errno, 0 when fine */
	size_t buf_len;
	char buf[QUEUE_BUF_SIZE];
};

struct queue_item {
	struct queue *q;
	int lock_fd; /* the item's "lock" file, holding the OFD write lock */
	int fd;      /* msg, read-only */
	uint64_t size;
	struct queue_env env;
};

/* Per-process sequence for unique ids; ids are made on worker threads. */
static atomic_ulong queue_counter;

static int join(char *buf, const char *a, const char *b);
static int rm_tree(int parent, const char *name);
static int new_staging(struct queue *q, char *id, size_t size);
static int write_env_file(int dir, const char *name,
			  const struct queue_env *env);
static int read_env(struct queue *q, const char *id, struct queue_env *env);
static int tx_flush(struct queue_tx *tx);
static int queue_in_place(const struct queue *q);

/* "a/b" into buf (PATH_MAX); -1 ENAMETOOLONG. */
static int join(char *buf, const char *a, const char *b)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", a, b);

	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int queue_open(const char *data_dir, const char *host, struct queue **q_r)
{
	struct queue *q = calloc(1, sizeof(*q));
	int saved;

	if (q == NULL)
		return -1;
	q->tmp_fd = q->items_fd = -1;
	if (host == NULL) {
		if (gethostname(q->host, sizeof(q->host)) < 0)
			strcpy(q->host, "localhost");
		q->host[sizeof(q->host) - 1] = '\0';
	} else {
		snprintf(q->host, sizeof(q->host), "%s", host);
	}
	if (asprintf(&q->dir, "%s/queue", data_dir) < 0)
		q->dir = NULL;
	if (q->dir == NULL || asprintf(&q->tmp, "%s/tmp", q->dir) < 0 ||
	    asprintf(&q->items, "%s/items", q->dir) < 0) {
		errno = ENOMEM;
		goto fail;
	}
	/* fs_mkdir_p makes what it creates durable. */
	if (fs_mkdir_p(q->tmp, 0700) < 0 || fs_mkdir_p(q->items, 0700) < 0)
		goto fail;
	q->tmp_fd = fs_openat_safe(AT_FDCWD, q->tmp, O_RDONLY | O_DIRECTORY, 0);
	q->items_fd = fs_openat_safe(AT_FDCWD, q->items, O_RDONLY | O_DIRECTORY,
				     0);
	if (q->tmp_fd < 0 || q->items_fd < 0)
		goto fail;
	*q_r = q;
	return 0;
fail:
	saved = errno;
	queue_free(q);
	errno = saved;
	return -1;
}

void queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	if (q->tmp_fd >= 0)
		close(q->tmp_fd);
	if (q->items_fd >= 0)
		close(q->items_fd);
	free(q->dir);
	free(q->tmp);
	free(q->items);
	free(q);
}

const char *queue_path(const struct queue *q)
{
	return q->dir;
}

/* Remove parent/name and the plain files in it (items have no
 * subdirectories). A link there is refused, not followed. */
static int rm_tree(int parent, const char *name)
{
	struct dirent *de;
	DIR *d = fs_opendir_safe(parent, name);
	int rc = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
			rc = -1;
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

int queue_recover(struct queue *q, time_t max_age, size_t *removed_r)
{
	struct dirent *de;
	size_t removed = 0;
	time_t now = time(NULL);
	DIR *d = fs_opendir_safe(q->tmp_fd, ".");
	int rc = 0;

	if (removed_r != NULL)
		*removed_r = 0;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		struct stat st;
		bool removing;

		if (name[0] == '.' ||
		    fstatat(q->tmp_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* "<id>.rm": an item whose removal had begun. */
		removing = strlen(name) > 3 &&
			   strcmp(name + strlen(name) - 3, ".rm") == 0;
		if (!removing && max_age > 0 && now - st.st_mtime < max_age)
			continue;
		if ((S_ISDIR(st.st_mode) ? rm_tree(q->tmp_fd, name)
					 : unlinkat(q->tmp_fd, name, 0)) < 0) {
			log_warn("queue: cannot remove %s/%s", q->tmp, name);
			rc = -1;
			continue;
		}
		removed++;
	}
	closedir(d);
	if (removed > 0 && fsync(q->tmp_fd) < 0)
		rc = -1;
	if (removed_r != NULL)
		*removed_r = removed;
	return rc;
}

/* The held handles still name DATA/queue/tmp and DATA/queue/items: a queue
 * directory removed or replaced while a daemon runs must fail its writes
 * (4xx) rather than take mail into a directory nobody will ever read.
 * 0, or -1 with errno ENOENT. */
static int queue_in_place(const struct queue *q)
{
	struct stat held, named;

	if (fstat(q->tmp_fd, &held) < 0 || stat(q->tmp, &named) < 0 ||
	    held.st_dev != named.st_dev || held.st_ino != named.st_ino ||
	    fstat(q->items_fd, &held) < 0 || stat(q->items, &named) < 0 ||
	    held.st_dev != named.st_dev || held.st_ino != named.st_ino) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/* Make a fresh tmp/<id>/ and put its id into id. 0 or -1. */
static int new_staging(struct queue *q, char *id, size_t size)
{
	struct timespec ts;

	for (int attempt = 0; attempt < 8; attempt++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		if (mdname_make(id, size, (long long)ts.tv_sec,
				ts.tv_nsec / 1000, getpid(),
				atomic_fetch_add(&queue_counter, 1), q->host) < 0)
			return -1;
		if (mkdirat(q->tmp_fd, id, 0700) == 0)
			return 0;
		/* EEXIST: a leftover from a recycled pid; take the next Q. */
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

int queue_tx_begin(struct queue *q, struct queue_tx **tx_r)
{
	struct queue_tx *tx = calloc(1, sizeof(*tx));
	char path[PATH_MAX];
	int saved;

	if (tx == NULL)
		return -1;
	tx->q = q;
	tx->fd = -1;
	if (queue_in_place(q) < 0 ||
	    new_staging(q, tx->id, sizeof(tx->id)) < 0) {
		saved = errno;
		free(tx);
		errno = saved;
		return -1;
	}
	if (join(path, tx->id, "msg") < 0 ||
	    (tx->fd = fs_openat_safe(q->tmp_fd, path,
				     O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0) {
		saved = errno;
		queue_tx_abort(tx);
		errno = saved;
		return -1;
	}
	*tx_r = tx;
	return 0;
}

static int tx_flush(struct queue_tx *tx)
{
	if (tx->buf_len > 0 && fs_write_all(tx->fd, tx->buf, tx->buf_len) < 0)
		return -1;
	tx->buf_len = 0;
	return 0;
}

size_t queue_tx_room(const struct queue_tx *tx)
{
	return sizeof(tx->buf) - tx->buf_len;
}

int queue_tx_flush(struct queue_tx *tx)
{
	if (tx->err == 0 && tx_flush(tx) < 0)
		tx->err = errno;
	errno = tx->err;
	return tx->err != 0 ? -1 : 0;
}

int queue_tx_write(struct queue_tx *tx, const void *buf, size_t len)
{
	if (tx->err != 0) {
		errno = tx->err;
		return -1;
	}
	tx->size += len;
	if (tx->buf_len + len <= sizeof(tx->buf)) {
		memcpy(tx->buf + tx->buf_len, buf, len);
		tx->buf_len += len;
		return 0;
	}
	if (tx_flush(tx) < 0 ||
	    (len >= sizeof(tx->buf) && fs_write_all(tx->fd, buf, len) < 0)) {
		tx->err = errno;
		return -1;
	}
	if (len < sizeof(tx->buf)) {
		memcpy(tx->buf, buf, len);
		tx->buf_len = len;
	}
	return 0;
}

int queue_tx_overwrite(struct queue_tx *tx, uint64_t off, const void *buf,
		       size_t len)
{
	if (tx->err != 0) {
		errno = tx->err;
		return -1;
	}
	if (fs_overwrite_buffered(tx->fd, tx->buf, tx->buf_len, tx->size, off,
				  buf, len) < 0) {
		tx->err = errno;
		return -1;
	}
	return 0;
}

uint64_t queue_tx_size(const struct queue_tx *tx)
{
	return tx->size;
}

/* Write name in dir (a handle) from env: O_TRUNC (the caller owns dir),
 * fsync. */
static int write_env_file(int dir, const char *name,
			  const struct queue_env *env)
{
	char *text = NULL;
	size_t len = 0;
	int fd, saved;

	if (queue_env_format(env, &text, &len) < 0)
		return -1;
	fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
			       O_NOFOLLOW, 0600);
	if (fd < 0 || fs_write_all(fd, text, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		if (fd >= 0)
			close(fd);
		free(text);
		errno = saved;
		return -1;
	}
	free(text);
	return close(fd);
}

/* Stage item id in tmp/ with envelope env, fsynced with its directory. A
 * further item of a tx (first >= 0: the handle of the first item's
 * directory) gets a new directory and id, and a hard link to the message
 * (one copy on disk). 0 or -1. */
static int stage(struct queue *q, int first, char *id,
		 const struct queue_env *env)
{
	int dir, rc;

	if (first >= 0 && new_staging(q, id, QUEUE_ID_MAX + 1) < 0)
		return -1;
	if ((dir = fs_openat_safe(q->tmp_fd, id, O_RDONLY | O_DIRECTORY, 0)) < 0)
		return -1;
	rc = (first >= 0 && linkat(first, "msg", dir, "msg", 0) < 0) ||
		     write_env_file(dir, "env", env) < 0 || fsync(dir) < 0
	     ? -1 : 0;
	return fs_close_keep(dir, rc);
}

int queue_tx_commit(struct queue_tx *tx, struct queue_env *envs, size_t n)
{
	struct queue *q = tx->q;
	char (*ids)[QUEUE_ID_MAX + 1] = NULL;
	size_t staged = 0, moved = 0;
	int saved = 0, first = -1;

	if (n == 0) {
		saved = EINVAL;
		goto fail;
	}
	if (tx->err != 0) {
		saved = tx->err;
		goto fail;
	}
	if (queue_in_place(q) < 0) {
		saved = errno;
		goto fail;
	}
	if (tx_flush(tx) < 0 || fsync(tx->fd) < 0 || close(tx->fd) < 0) {
		saved = errno;
		tx->fd = -1;
		goto fail;
	}
	tx->fd = -1;
	if ((ids = calloc(n, sizeof(*ids))) == NULL ||
	    (first = fs_openat_safe(q->tmp_fd, tx->id, O_RDONLY | O_DIRECTORY,
				    0)) < 0) {
		saved = errno;
		goto fail;
	}
	/* Stage every item: the first owns the message file. */
	memcpy(ids[0], tx->id, sizeof(ids[0]));
	for (staged = 0; staged < n; staged++) {
		if (stage(q, staged > 0 ? first : -1, ids[staged],
			  &envs[staged]) < 0) {
			saved = errno;
			staged++; /* its directory may exist: undo it too */
			goto fail;
		}
	}
	for (moved = 0; moved < n; moved++) {
		if (renameat(q->tmp_fd, ids[moved], q->items_fd, ids[moved]) < 0) {
			saved = errno;
			goto fail;
		}
	}
	/* The commit point: the renames are durable. */
	if (fsync(q->items_fd) < 0) {
		saved = errno;
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(envs[i].id, ids[i], sizeof(envs[i].id));
	fsync(q->tmp_fd);
	close(first);
	free(ids);
	free(tx);
	return 0;
fail:
	/* Undo: committed renames go back to tmp/, then everything goes. */
	for (size_t i = 0; i < moved; i++)
		if (renameat(q->items_fd, ids[i], q->tmp_fd, ids[i]) < 0)
			log_warn("queue: cannot undo %s/%s", q->items, ids[i]);
	if (moved > 0)
		fsync(q->items_fd);
	for (size_t i = 1; ids != NULL && i < staged && i < n; i++)
		rm_tree(q->tmp_fd, ids[i]);
	if (first >= 0)
		close(first);
	free(ids);
	queue_tx_abort(tx);
	errno = saved;
	return -1;
}

void queue_tx_abort(struct queue_tx *tx)
{
	if (tx == NULL)
		return;
	if (tx->fd >= 0)
		close(tx->fd);
	rm_tree(tx->q->tmp_fd, tx->id);
	free(tx);
}

/* Read and parse items/<id>/env. 0, or -1 (errno; EBADMSG when bad). */
static int read_env(struct queue *q, const char *id, struct queue_env *env)
{
	char path[PATH_MAX], *text = NULL;
	const char *why;
	size_t len = 0;
	int fd;

	if (join(path, id, "env") < 0 ||
	    (fd = fs_openat_safe(q->items_fd, path, O_RDONLY, 0)) < 0 ||
	    fs_close_keep(fd, fs_read_fd(fd, QUEUE_ENV_MAX, &text, &len)) < 0)
		return -1;
	if (queue_env_parse(text, len, env, &why) < 0) {
		log_warnx("queue: %s/%s: %s", q->items, path, why);
		free(text);
		errno = EBADMSG;
		return -1;
	}
	free(text);
	snprintf(env->id, sizeof(env->id), "%s", id);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int queue_walk(struct queue *q, const char *domain, bool subdomains,
	       queue_walk_fn *fn, void *arg)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = queue_in_place(q) == 0 ? fs_opendir_safe(q->items_fd, ".") : NULL;
	int rc = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **grown = realloc(names, (cap ? 2 * cap : 64) *
						      sizeof(*grown));

			if (grown == NULL) {
				rc = -1;
				break;
			}
			names = grown;
			cap = cap ? 2 * cap : 64;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			rc = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct queue_env env;

		if (read_env(q, names[i], &env) < 0)
			continue; /* gone meanwhile, or logged as bad */
		if (queue_domain_match(env.domain, domain, subdomains))
			rc = fn(&env, arg);
		queue_env_clear(&env);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int count_one(const struct queue_env *env, void *arg)
{
	(void)env;
	(*(long *)arg)++;
	return 0;
}

long queue_count(struct queue *q, const char *domain, bool subdomains)
{
	long n = 0;

	if (queue_walk(q, domain, subdomains, count_one, &n) < 0)
		return -1;
	return n;
}

/* stat items/<id>/msg without following a link. */
static int stat_msg(struct queue *q, const char *id, struct stat *st)
{
	char path[PATH_MAX];
	int fd;

	if (join(path, id, "msg") < 0 ||
	    (fd = fs_openat_safe(q->items_fd, path, O_PATH, 0)) < 0)
		return -1;
	return fs_close_keep(fd, fstat(fd, st));
}

int queue_msg_size(struct queue *q, const char *id, uint64_t *size_r)
{
	struct stat st;

	if (!addr_component_safe(id, NULL)) {
		errno = EINVAL;
		return -1;
	}
	if (stat_msg(q, id, &st) < 0)
		return -1;
	*size_r = (uint64_t)st.st_size;
	return 0;
}

/* The item's own lock file, made on first use. The message may be a hard
 * link shared with the other items of one commit (one per route domain),
 * so locking "msg" would make those items block each other. */
static int open_lock(struct queue *q, const char *id)
{
	char path[PATH_MAX];

	if (join(path, id, "lock") < 0)
		return -1;
	return fs_openat_safe(q->items_fd, path, O_RDWR | O_CREAT, 0600);
}

/* The lock file at items/<id>/lock is still the one fd has open (the
 * holder we raced with may have removed the item). 1 yes, 0 no, -1. */
static int lock_current(struct queue *q, const char *id, int fd)
{
	char path[PATH_MAX];
	struct stat held, now;
	int cur;

	if (fstat(fd, &held) < 0 || join(path, id, "lock") < 0)
		return -1;
	cur = fs_openat_safe(q->items_fd, path, O_PATH, 0);
	if (cur < 0)
		return errno == ENOENT ? 0 : -1;
	if (fs_close_keep(cur, fstat(cur, &now)) < 0)
		return -1;
	return held.st_ino == now.st_ino && held.st_dev == now.st_dev;
}

int queue_lock(struct queue *q, const char *id, struct queue_item **it_r)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct queue_item *it;
	char path[PATH_MAX];
	struct stat st;
	int lock_fd, fd, saved, rc;

	if (!addr_component_safe(id, NULL) || strlen(id) > QUEUE_ID_MAX) {
		errno = EINVAL;
		return -1;
	}
	if ((lock_fd = open_lock(q, id)) < 0)
		return errno == ENOENT ? 0 : -1;
	if (fcntl(lock_fd, F_OFD_SETLK, &fl) < 0) {
		saved = errno;
		close(lock_fd);
		if (saved == EAGAIN || saved == EACCES)
			return 0;
		errno = saved;
		return -1;
	}
	if ((rc = lock_current(q, id, lock_fd)) <= 0) {
		saved = errno;
		close(lock_fd);
		errno = saved;
		return rc;
	}
	if (join(path, id, "msg") < 0 ||
	    (fd = fs_openat_safe(q->items_fd, path, O_RDONLY, 0)) < 0) {
		saved = errno;
		close(lock_fd);
		errno = saved;
		return saved == ENOENT ? 0 : -1;
	}
	if (fstat(fd, &st) < 0 || (it = calloc(1, sizeof(*it))) == NULL) {
		saved = errno;
		close(fd);
		close(lock_fd);
		errno = saved;
		return -1;
	}
	it->q = q;
	it->lock_fd = lock_fd;
	it->fd = fd;
	it->size = (uint64_t)st.st_size;
	if (read_env(q, id, &it->env) < 0) {
		saved = errno;
		queue_item_release(it);
		if (saved == ENOENT)
			return 0;
		errno = saved;
		return -1;
	}
	*it_r = it;
	return 1;
}

struct queue_env *queue_item_env(struct queue_item *it)
{
	return &it->env;
}

int queue_item_fd(const struct queue_item *it)
{
	return it->fd;
}

uint64_t queue_item_size(const struct queue_item *it)
{
	return it->size;
}

int queue_item_update(struct queue_item *it)
{
	int dir = fs_openat_safe(it->q->items_fd, it->env.id,
				 O_RDONLY | O_DIRECTORY, 0);
	int rc;

	if (dir < 0)
		return -1;
	if (write_env_file(dir, "env.new", &it->env) == 0 &&
	    renameat(dir, "env.new", dir, "env") == 0) {
		rc = fsync(dir);
	} else {
		int saved = errno;

		unlinkat(dir, "env.new", 0);
		errno = saved;
		rc = -1;
	}
	return fs_close_keep(dir, rc);
}

int queue_item_remove(struct queue_item *it)
{
	struct queue *q = it->q;
	char gone[QUEUE_ID_MAX + 4];

	snprintf(gone, sizeof(gone), "%s.rm", it->env.id);
	if (renameat(q->items_fd, it->env.id, q->tmp_fd, gone) < 0)
		return -1;
	if (fsync(q->items_fd) < 0) {
		/* Not durable: put it back so the caller still owns it. */
		int saved = errno;

		if (renameat(q->tmp_fd, gone, q->items_fd, it->env.id) < 0)
			log_warn("queue: cannot put back %s/%s", q->tmp, gone);
		errno = saved;
		return -1;
	}
	if (rm_tree(q->tmp_fd, gone) < 0)
		log_warn("queue: cannot delete %s/%s (removed at next start)",
			 q->tmp, gone);
	queue_item_release(it);
	return 0;
}

void queue_item_release(struct queue_item *it)
{
	if (it == NULL)
		return;
	if (it->fd >= 0)
		close(it->fd);
	if (it->lock_fd >= 0)
		close(it->lock_fd);
	queue_env_clear(&it->env);
	free(it);
}
