/* common/base/fsutil.c: durable writes, directory fsync, mkdir -p, whole-file
 * reads, and opening a path without following a symbolic link that anyone
 * but root could have made (the rule is in fsutil.h). */
#include "autoconf.h"

#include "common/base/fsutil.h"

#include "common/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(SYS_openat2) && __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define FS_HAVE_OPENAT2 1
#endif

/* Links one walk follows before it gives up (the kernel's MAXSYMLINKS). */
#define FS_MAX_LINKS 40

/* open_comp's answer for "this component is a symbolic link". */
#define FS_LINK (-2)

/* A path being walked: the components of followed links (pend) come
 * before the rest of the caller's path. */
struct walk {
	const char *orig;   /* the caller's path, for messages */
	const char *next;   /* its next unread component */
	const char *shown;  /* end of the part of orig walked so far */
	const char *pnext;  /* next unread component of pend, or NULL */
	int links;
	char pend[PATH_MAX];
};

/* 1: try openat2; 0: the kernel lacks it, or the tests turned it off. */
static atomic_int fs_openat2 = 1;

int fs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_overwrite_buffered(int fd, char *buf, size_t buf_len, uint64_t size,
			  uint64_t off, const void *data, size_t len)
{
	uint64_t in_buf = size - buf_len; /* file offset of buf[0] */
	const char *p = data;

	if (buf_len > size || off > size || len > size - off) {
		errno = EINVAL;
		return -1;
	}
	while (len > 0 && off < in_buf) {
		size_t n = len < in_buf - off ? len : (size_t)(in_buf - off);
		ssize_t w = pwrite(fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
	if (len > 0)
		memcpy(buf + (off - in_buf), p, len);
	return 0;
}

int fs_close_keep(int fd, int rc)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
	return rc;
}

void fs_use_openat2(bool on)
{
	atomic_store(&fs_openat2, on ? 1 : 0);
}

/* The next component of *p other than ".", advancing *p: its length (0 at
 * the end) and *start. */
static size_t take(const char **p, const char **start)
{
	for (;;) {
		const char *s;

		while (**p == '/')
			(*p)++;
		s = *p;
		while (**p != '\0' && **p != '/')
			(*p)++;
		if (*p - s == 1 && s[0] == '.')
			continue;
		*start = s;
		return (size_t)(*p - s);
	}
}

/* The next component into comp: 1, 0 when none is left, -1 too long. */
static int next_comp(struct walk *w, char comp[NAME_MAX + 1])
{
	const char *s = NULL;
	size_t n = 0;

	if (w->pnext != NULL && (n = take(&w->pnext, &s)) == 0)
		w->pnext = NULL;
	if (n == 0) {
		if ((n = take(&w->next, &s)) == 0)
			return 0;
		w->shown = w->next;
	}
	if (n > NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(comp, s, n);
	comp[n] = '\0';
	return 1;
}

static bool more(const struct walk *w)
{
	const char *p = w->pnext, *s;

	if (p != NULL && take(&p, &s) > 0)
		return true;
	p = w->next;
	return take(&p, &s) > 0;
}

/* Walk target before whatever of earlier links is still unread. */
static int push_link(struct walk *w, const char *target)
{
	char buf[PATH_MAX];
	int n = snprintf(buf, sizeof(buf), "%s/%s", target,
			 w->pnext != NULL ? w->pnext : "");

	if (n < 0 || (size_t)n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(w->pend, buf, (size_t)n + 1);
	w->pnext = w->pend;
	return 0;
}

/* Only root can have put a link into dir: it is root's, and neither its
 * group nor others may write to it. */
static bool trusted(int dir)
{
	struct stat st;

	if (fstatat(dir, "", &st, AT_EMPTY_PATH) < 0)
		return false;
	return st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* Log the refusal with the path as the caller named it (relative to dirfd,
 * whose own name comes from /proc when there is one). */
static void refuse(const struct walk *w, int dirfd)
{
	char proc[32], base[PATH_MAX];
	int len = (int)(w->shown - w->orig);
	ssize_t n = -1;

	if (w->orig[0] != '/' && dirfd != AT_FDCWD) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
		n = readlink(proc, base, sizeof(base) - 1);
	}
	if (n > 0) {
		base[n] = '\0';
		log_warnx("%s/%.*s: is a symbolic link; refusing to follow it",
			  base, len, w->orig);
	} else {
		log_warnx("%.*s: is a symbolic link; refusing to follow it", len,
			  w->orig);
	}
	errno = ELOOP;
}

/* Open comp in dir: the last component with the caller's flags, the others
 * as search-only directory handles. The descriptor, -1 (errno), or
 * FS_LINK when comp is a symbolic link. */
static int open_comp(int dir, const char *comp, bool last, int flags,
		     mode_t mode)
{
	int fl = last ? flags | O_NOFOLLOW | O_CLOEXEC
		      : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dir, comp, fl, mode), saved;
	struct stat st;

	if (fd >= 0) {
		/* O_PATH | O_NOFOLLOW opens a link itself. */
		if (!(fl & O_PATH) || (fl & O_DIRECTORY) || fstat(fd, &st) < 0 ||
		    !S_ISLNK(st.st_mode))
			return fd;
		close(fd);
		return FS_LINK;
	}
	if (errno != ELOOP && errno != ENOTDIR)
		return -1;
	saved = errno;
	if (fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return FS_LINK;
	errno = saved;
	return -1;
}

/* Make *cur (owned unless it is base) fd. */
static void set_cur(int *cur, int base, int fd)
{
	if (*cur != base)
		close(*cur);
	*cur = fd;
}

/* comp in *cur is a link: follow it if root made it, else refuse. */
static int follow(struct walk *w, int *cur, int base, const char *comp)
{
	char target[PATH_MAX];
	ssize_t n;
	int root;

	if (!trusted(*cur)) {
		refuse(w, base);
		return -1;
	}
	if (++w->links > FS_MAX_LINKS) {
		errno = ELOOP;
		return -1;
	}
	n = readlinkat(*cur, comp, target, sizeof(target));
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(target)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	target[n] = '\0';
	if (push_link(w, target) < 0)
		return -1;
	if (target[0] == '/') {
		if ((root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			return -1;
		set_cur(cur, base, root);
	}
	return 0;
}

/* fs_openat_safe one component at a time. */
static int walk_open(int dirfd, const char *path, int flags, mode_t mode)
{
	struct walk w = { .orig = path, .next = path, .shown = path };
	char comp[NAME_MAX + 1];
	int cur = dirfd, fd = -1, rc;

	if (path[0] == '/' &&
	    (cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	while ((rc = next_comp(&w, comp)) > 0) {
		bool last = !more(&w);

		fd = open_comp(cur, comp, last, flags, mode);
		if (fd == FS_LINK) {
			fd = -1;
			if (follow(&w, &cur, dirfd, comp) < 0)
				break;
			continue;
		}
		if (fd < 0 || last)
			break;
		set_cur(&cur, dirfd, fd);
		fd = -1;
	}
	/* Nothing left but "/" or "." (or a link to one): cur itself. */
	if (rc == 0)
		fd = openat(cur, ".", flags | O_CLOEXEC, mode);
	if (cur != dirfd)
		fs_close_keep(cur, 0);
	return fd;
}

int fs_openat_safe(int dirfd, const char *path, int flags, mode_t mode)
{
	if (path[0] == '\0') {
		errno = ENOENT;
		return -1;
	}
#ifdef FS_HAVE_OPENAT2
	if (atomic_load(&fs_openat2)) {
		/* The kernel refuses every link (ELOOP); the walk then tells
		 * root's links from the others. */
		struct open_how how = {
			.flags = (uint64_t)(flags | O_CLOEXEC),
			.mode = (flags & O_CREAT) ||
					(flags & O_TMPFILE) == O_TMPFILE
				? mode : 0,
			.resolve = RESOLVE_NO_SYMLINKS,
		};
		int fd = (int)syscall(SYS_openat2, dirfd, path, &how,
				      sizeof(how));

		if (fd >= 0)
			return fd;
		if (errno == ENOSYS)
			atomic_store(&fs_openat2, 0);
		/* EPERM: a seccomp filter that does not know the call. */
		else if (errno != ELOOP && errno != EPERM && errno != E2BIG)
			return -1;
	}
#endif
	return walk_open(dirfd, path, flags, mode);
}

DIR *fs_opendir_safe(int dirfd, const char *path)
{
	int fd = fs_openat_safe(dirfd, path, O_RDONLY | O_DIRECTORY, 0);
	DIR *d;

	if (fd < 0)
		return NULL;
	if ((d = fdopendir(fd)) == NULL) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return d;
}

/* fsync fd (-1: an open that failed) and close it. */
static int fsync_close(int fd)
{
	return fd < 0 ? -1 : fs_close_keep(fd, fsync(fd));
}

/* fsync the directory dir (a handle of any kind) names. */
static int fsync_at(int dir)
{
	return fsync_close(openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

/* The directory holding path's last component, opened for reading (so it
 * can be fsynced); *name_r points at that component inside path. */
static int open_parent(const char *path, const char **name_r)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	size_t n;

	if (slash == NULL) {
		*name_r = path;
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	*name_r = slash + 1;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	return fs_openat_safe(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, 0);
}

int fs_fsync_dir(const char *dir)
{
	return fsync_close(fs_openat_safe(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY,
					  0));
}

int fs_fsync_parent(const char *path)
{
	const char *name;

	return fsync_close(open_parent(path, &name));
}

/* One level of fs_mkdir_p: the handle of comp in dir, made (and dir
 * fsynced) when missing. */
static int mkdir_step(int dir, const char *comp, mode_t mode)
{
	int fd = fs_openat_safe(dir, comp, O_PATH | O_DIRECTORY, 0);

	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (mkdirat(dir, comp, mode) == 0) {
		if (fsync_at(dir) < 0)
			return -1;
	} else if (errno != EEXIST) {
		return -1; /* EEXIST: made meanwhile by another process */
	}
	return fs_openat_safe(dir, comp, O_PATH | O_DIRECTORY, 0);
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	char comp[NAME_MAX + 1];
	const char *p = path, *s;
	int cur, fd, rc = 0;
	size_t n;

	fd = fs_openat_safe(AT_FDCWD, path, O_PATH | O_DIRECTORY, 0);
	if (fd >= 0 || errno != ENOENT) {
		if (fd >= 0)
			close(fd);
		return fd >= 0 ? 0 : -1;
	}
	cur = open(path[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -1;
	while ((n = take(&p, &s)) > 0) {
		if (n > NAME_MAX) {
			errno = ENAMETOOLONG;
			rc = -1;
			break;
		}
		memcpy(comp, s, n);
		comp[n] = '\0';
		if ((fd = mkdir_step(cur, comp, mode)) < 0) {
			rc = -1;
			break;
		}
		close(cur);
		cur = fd;
	}
	return fs_close_keep(cur, rc);
}

/* The temporary file of an atomic write, made O_EXCL: a file left by a
 * crashed process with the same pid is removed first. */
static int create_tmp(int dir, const char *tmp, mode_t mode)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
	int fd = openat(dir, tmp, flags, mode);

	if (fd < 0 && errno == EEXIST && unlinkat(dir, tmp, 0) == 0)
		fd = openat(dir, tmp, flags, mode);
	return fd;
}

int fs_write_file_atomic(const char *path, const void *data, size_t len,
			 mode_t mode)
{
	char tmp[NAME_MAX + 1];
	const char *name;
	struct stat old;
	bool keep_owner;
	int dir = open_parent(path, &name), fd = -1, saved;

	if (dir < 0)
		return -1;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", name, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		close(dir);
		errno = ENAMETOOLONG;
		return -1;
	}
	keep_owner = geteuid() == 0 &&
		     fstatat(dir, name, &old, AT_SYMLINK_NOFOLLOW) == 0;
	if ((fd = create_tmp(dir, tmp, mode)) < 0)
		return fs_close_keep(dir, -1);
	/* root editing a file the daemon user owns (kantorpos user add run
	 * with sudo) must not leave it owned by root, unreadable to them. */
	if (keep_owner && fchown(fd, old.st_uid, old.st_gid) < 0)
		goto fail;
	if (fchmod(fd, mode) < 0 || fs_write_all(fd, data, len) < 0 ||
	    fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dir, tmp, dir, name) < 0)
		goto fail;
	return fs_close_keep(dir, fsync(dir));
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dir, tmp, 0);
	close(dir);
	errno = saved;
	return -1;
}

int fs_read_fd(int fd, size_t max_len, char **data_r, size_t *len_r)
{
	size_t cap = max_len < 4096 ? max_len : 4096, len = 0;
	char *buf = malloc(cap + 1);

	if (buf == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			if (cap >= max_len) {
				char probe;
				ssize_t extra = read(fd, &probe, 1);

				if (extra == 0)
					break;
				if (extra > 0)
					errno = EFBIG;
				goto fail;
			}
			cap = cap * 2 > max_len ? max_len : cap * 2;
			char *grown = realloc(buf, cap + 1);

			if (grown == NULL)
				goto fail;
			buf = grown;
		}
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*data_r = buf;
	if (len_r != NULL)
		*len_r = len;
	return 0;
fail:;
	int saved = errno;

	free(buf);
	errno = saved;
	return -1;
}

int fs_read_file(const char *path, size_t max_len, char **data_r,
		 size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	return fs_close_keep(fd, fs_read_fd(fd, max_len, data_r, len_r));
}

bool fs_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}
