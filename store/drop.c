/* store/drop.c: files of the drop directory — the writer's create, write
 * and durable rename, and the pickup's checked open, setting aside and
 * removal. */
#include "autoconf.h"

#include "store/drop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/base/fsutil.h"

/* Random octets of a name: 128 bits, never guessed. */
#define DROP_RANDOM 16
#define DROP_BUF (64 * 1024)

struct drop_writer {
	int dirfd; /* O_PATH: the directory need not be readable */
	int fd;
	char tmp[DROP_NAME_SIZE], msg[DROP_NAME_SIZE];
	size_t len;
	char buf[DROP_BUF];
};

static int new_names(struct drop_writer *w)
{
	unsigned char r[DROP_RANDOM];
	char hex[2 * DROP_RANDOM + 1];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	snprintf(w->tmp, sizeof(w->tmp), "%s%s", DROP_TMP_PREFIX, hex);
	snprintf(w->msg, sizeof(w->msg), "%s%s", DROP_MSG_PREFIX, hex);
	return 0;
}

int drop_create(const char *dir, struct drop_writer **w_r)
{
	struct drop_writer *w = calloc(1, sizeof(*w));

	*w_r = NULL;
	if (w == NULL)
		return -1;
	w->fd = -1;
	w->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (int tries = 0; w->dirfd >= 0 && w->fd < 0 && tries < 3; tries++) {
		if (new_names(w) < 0)
			break;
		w->fd = openat(w->dirfd, w->tmp,
			       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				       O_CLOEXEC, 0644);
		if (w->fd < 0 && errno != EEXIST)
			break;
	}
	/* Readable by the daemons' account whatever the umask says. */
	if (w->fd >= 0 && fchmod(w->fd, 0644) == 0) {
		*w_r = w;
		return 0;
	}
	drop_abort(w);
	return -1;
}

static int flush(struct drop_writer *w)
{
	if (w->len == 0)
		return 0;
	if (fs_write_all(w->fd, w->buf, w->len) < 0)
		return -1;
	w->len = 0;
	return 0;
}

int drop_write(struct drop_writer *w, const void *buf, size_t len)
{
	if (w->len + len > sizeof(w->buf) && flush(w) < 0)
		return -1;
	if (len >= sizeof(w->buf))
		return fs_write_all(w->fd, buf, len);
	memcpy(w->buf + w->len, buf, len);
	w->len += len;
	return 0;
}

int drop_rewrite(struct drop_writer *w, off_t off, const void *buf,
		 size_t len)
{
	ssize_t n;

	if (flush(w) < 0)
		return -1;
	n = pwrite(w->fd, buf, len, off);
	if (n >= 0 && (size_t)n != len)
		errno = EIO;
	return n >= 0 && (size_t)n == len ? 0 : -1;
}

/* The rename made durable: the directory's fsync when it can be opened
 * (root, the daemons' account), else the file's again. */
static int sync_rename(struct drop_writer *w)
{
	int dfd = openat(w->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (dfd < 0)
		return errno == EACCES ? fsync(w->fd) : -1;
	rc = fsync(dfd);
	return fs_close_keep(dfd, rc);
}

int drop_commit(struct drop_writer *w)
{
	bool renamed = false;
	int rc = -1, e;

	if (flush(w) == 0 && fsync(w->fd) == 0 &&
	    renameat(w->dirfd, w->tmp, w->dirfd, w->msg) == 0) {
		renamed = true;
		rc = sync_rename(w);
	}
	e = errno;
	if (rc < 0 && renamed)
		unlinkat(w->dirfd, w->msg, 0);
	else if (rc < 0)
		unlinkat(w->dirfd, w->tmp, 0);
	close(w->fd);
	close(w->dirfd);
	free(w);
	errno = e;
	return rc;
}

void drop_abort(struct drop_writer *w)
{
	int e = errno;

	if (w == NULL)
		return;
	if (w->fd >= 0) {
		unlinkat(w->dirfd, w->tmp, 0);
		close(w->fd);
	}
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w);
	errno = e;
}

/* prefix followed by lower-case hex digits only. */
static bool name_is(const char *name, const char *prefix)
{
	size_t n = strlen(prefix), len = strlen(name);

	if (strncmp(name, prefix, n) != 0 || len == n || len >= DROP_NAME_SIZE)
		return false;
	return strspn(name + n, "0123456789abcdef") == len - n;
}

bool drop_name_is_msg(const char *name)
{
	return name_is(name, DROP_MSG_PREFIX);
}

bool drop_name_is_tmp(const char *name)
{
	return name_is(name, DROP_TMP_PREFIX);
}

int drop_open(int dirfd, const char *name, struct stat *st_r,
	      const char **why_r)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
					     O_NOCTTY | O_CLOEXEC);

	*why_r = NULL;
	if (fd < 0) {
		if (errno == ENOENT)
			return -1;
		*why_r = errno == ELOOP ? "a symbolic link"
		       : errno == EACCES ? "not readable by the daemons' account"
					 : "cannot be opened";
		/* Whose it is, for the log. */
		if (fstatat(dirfd, name, st_r, AT_SYMLINK_NOFOLLOW) < 0)
			memset(st_r, 0, sizeof(*st_r));
		errno = EPERM;
		return -1;
	}
	if (fstat(fd, st_r) < 0) {
		close(fd);
		return -1;
	}
	if (!S_ISREG(st_r->st_mode))
		*why_r = "not a regular file";
	else if (st_r->st_nlink != 1)
		*why_r = "a hard link (its owner need not be who wrote it)";
	if (*why_r == NULL)
		return fd;
	close(fd);
	errno = EPERM;
	return -1;
}

int drop_bad_dir(int dirfd)
{
	struct stat st;

	if (mkdirat(dirfd, DROP_BAD_DIR, 0700) < 0 && errno != EEXIST)
		return -1;
	if (fstatat(dirfd, DROP_BAD_DIR, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int drop_set_aside(int dirfd, const char *name, bool *removed_r)
{
	char to[DROP_NAME_SIZE + sizeof(DROP_BAD_DIR) + 1];
	int bad;

	*removed_r = false;
	if (strlen(name) < DROP_NAME_SIZE && drop_bad_dir(dirfd) == 0 &&
	    snprintf(to, sizeof(to), "%s/%s", DROP_BAD_DIR, name) > 0 &&
	    renameat(dirfd, name, dirfd, to) == 0) {
		bad = openat(dirfd, DROP_BAD_DIR,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (bad < 0 || fsync(bad) < 0 || fsync(dirfd) < 0)
			return fs_close_keep(bad, -1);
		return fs_close_keep(bad, 0);
	}
	*removed_r = true;
	return drop_remove(dirfd, name);
}

int drop_remove(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -1;
	return fsync(dirfd);
}
