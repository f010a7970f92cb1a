/* store/maildir.c: durable Maildir delivery (a file in tmp/ → fsync → link
 * into new/ → fsync new/), maildir creation, path building and stale tmp/
 * cleanup. Where the file system can, the file in tmp/ is unnamed
 * (O_TMPFILE): no entry to create and remove in tmp/, so deliveries on
 * several threads never queue on tmp/'s lock, and a crash leaves nothing. */
#include "autoconf.h"

#include "store/maildir.h"

#include "common/mail/address.h"
#include "store/dirsync.h"
#include "store/mdname.h"
#include "store/quota.h"
#include "common/base/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MD_BUF_SIZE MD_DELIVERY_BUFFER

struct md_delivery {
	int fd;                    /* read-write: a cross-device copy reads it */
	bool unnamed;              /* O_TMPFILE: linked through link_src */
	bool named;                /* tmp/<base> was created by this delivery */
	int tmp_dir;               /* handle of that tmp/, or -1 */
	char *maildir, *host;      /* until the file is made (deferred start) */
	char link_src[32];         /* /proc/self/fd/<fd> when unnamed */
	char base[NAME_MAX + 1];
	uint64_t size;             /* bytes written (S=) */
	uint64_t wsize;            /* size with CRLF line ends (W=) */
	unsigned char last;        /* last byte written, for the W= count */
	enum md_result err;        /* sticky write error */
	int err_errno;
	size_t buf_len;
	char buf[MD_BUF_SIZE];     /* last: begin zeroes only what precedes */
};

/* Per-process sequence for unique names (the Q part); atomic because
 * deliveries may begin on several worker threads. */
static atomic_ulong md_counter;

/* Unnamed files: -1 not known yet, 0 off, 1 on. An unnamed file gets its
 * name with linkat(AT_EMPTY_PATH) or, where the kernel asks a capability
 * for that (the daemons drop theirs), through /proc/self/fd; so they are
 * used only when /proc is there. */
static atomic_int md_unnamed = -1;

void md_use_unnamed_files(bool on)
{
	atomic_store(&md_unnamed, on ? -1 : 0);
}

static bool unnamed_files(void)
{
	int v = atomic_load(&md_unnamed);

	if (v < 0) {
		v = access("/proc/self/fd", X_OK) == 0;
		atomic_store(&md_unnamed, v);
	}
	return v == 1;
}

/* An unnamed file in dir (its tmp/). 1 done, 0 the kernel or the file
 * system cannot (the caller makes a named one), -1 error (errno). */
static int open_unnamed(struct md_delivery *d, const char *dir)
{
#ifdef O_TMPFILE
	if (!unnamed_files())
		return 0;
	d->fd = fs_openat_safe(AT_FDCWD, dir, O_TMPFILE | O_RDWR, 0600);
	if (d->fd < 0)
		return errno == EOPNOTSUPP || errno == EISDIR ||
			       errno == ENOENT || errno == EINVAL
			       ? 0 : -1;
	d->unnamed = true;
	snprintf(d->link_src, sizeof(d->link_src), "/proc/self/fd/%d", d->fd);
	return 1;
#else
	(void)d;
	(void)dir;
	return 0;
#endif
}

/* linkat(fd, "", ..., AT_EMPTY_PATH) without a capability: since Linux
 * 6.10 for files the caller opened itself. 0 not tried yet, 1 works, -1
 * refused (then always through /proc, which costs a path walk). */
static atomic_int md_flink;

/* Give the file the name name in the new/ that dir is the handle of. */
static int link_file(const struct md_delivery *d, int dir, const char *name)
{
	if (!d->unnamed)
		return linkat(d->tmp_dir, d->base, dir, name, 0);
#ifdef AT_EMPTY_PATH
	if (atomic_load(&md_flink) >= 0) {
		if (linkat(d->fd, "", dir, name, AT_EMPTY_PATH) == 0) {
			atomic_store(&md_flink, 1);
			return 0;
		}
		/* Older kernels refuse with ENOENT or EPERM, which a missing
		 * new/ gives too: /proc tells them apart. */
		if (errno != ENOENT && errno != EPERM)
			return -1;
		if (linkat(AT_FDCWD, d->link_src, dir, name,
			   AT_SYMLINK_FOLLOW) < 0)
			return -1;
		atomic_store(&md_flink, -1);
		return 0;
	}
#endif
	return linkat(AT_FDCWD, d->link_src, dir, name, AT_SYMLINK_FOLLOW);
}

static enum md_result fail_errno(void);
static int flush_buf(struct md_delivery *d);

static void count_crlf(struct md_delivery *d, const unsigned char *p,
		       size_t len);
static int copy_into(const char *maildir, const char *name, int src_fd,
		     int new_dir);
static void rollback(const int *dirs, size_t n, const char *name);

const char *md_result_str(enum md_result r)
{
	switch (r) {
	case MD_OK: return "ok";
	case MD_ERR_NOSPACE: return "disk full";
	case MD_ERR_FSQUOTA: return "file system quota exceeded";
	case MD_ERR_IO: return "I/O error";
	case MD_ERR_QUOTA: return "mailbox quota exceeded";
	case MD_ERR_INVALID: return "invalid argument";
	}
	return "unknown error";
}

enum md_result md_result_from_errno(int err)
{
	switch (err) {
	case ENOSPC:
	case EFBIG: /* RLIMIT_FSIZE or a file system size limit */
		return MD_ERR_NOSPACE;
	case EDQUOT:
		return MD_ERR_FSQUOTA;
	default:
		return MD_ERR_IO;
	}
}

static enum md_result fail_errno(void)
{
	return md_result_from_errno(errno);
}

int md_path(const char *data_dir, const char *domain, const char *localpart,
	    char **path_r)
{
	if (data_dir == NULL || data_dir[0] == '\0' ||
	    !addr_component_safe(domain, NULL) ||
	    !addr_component_safe(localpart, NULL)) {
		errno = EINVAL;
		return -1;
	}
	if (asprintf(path_r, "%s/mail/%s/%s", data_dir, domain, localpart) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Each level is made by fs_mkdir_p, which fsyncs every directory that
 * gains an entry and follows no link the store's users could have made. */
int md_create(const char *maildir)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	char path[PATH_MAX];

	if (maildir[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < 3; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", maildir, subs[i]) >=
		    (int)sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (fs_mkdir_p(path, 0700) < 0)
			return -1;
	}
	return 0;
}

/* The handle of maildir/<sub> (O_RDONLY, so it can be fsynced and read),
 * under the link rule of fs_openat_safe. */
static int open_sub(const char *maildir, const char *sub)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", maildir, sub) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return fs_openat_safe(AT_FDCWD, path, O_RDONLY | O_DIRECTORY, 0);
}

/* The delivery's file in maildir/tmp/, unnamed or named; its base name in
 * d->base. 0, or -1 (errno; ENOENT when tmp/ is missing). */
static int open_file(struct md_delivery *d, const char *maildir,
		     const char *host)
{
	char tmp[PATH_MAX];
	struct timespec ts;
	int unnamed;

	if (snprintf(tmp, sizeof(tmp), "%s/tmp", maildir) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((unnamed = open_unnamed(d, tmp)) < 0)
		return -1;
	if (!unnamed) {
		if (d->tmp_dir >= 0)
			close(d->tmp_dir);
		d->tmp_dir = fs_openat_safe(AT_FDCWD, tmp, O_PATH | O_DIRECTORY,
					    0);
		if (d->tmp_dir < 0)
			return -1;
	}
	for (int attempt = 0; attempt < 8; attempt++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		if (mdname_make(d->base, sizeof(d->base), (long long)ts.tv_sec,
				ts.tv_nsec / 1000, getpid(),
				atomic_fetch_add(&md_counter, 1), host) < 0)
			return -1;
		if (unnamed)
			return 0;
		d->fd = openat(d->tmp_dir, d->base,
			       O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			       0600);
		/* EEXIST: a leftover from a recycled pid; take the next Q. */
		if (d->fd >= 0 || errno != EEXIST)
			break;
	}
	d->named = d->fd >= 0;
	return d->fd >= 0 ? 0 : -1;
}

enum md_result md_delivery_start(const char *maildir, const char *host,
				 struct md_delivery **d_r)
{
	char hostbuf[HOST_NAME_MAX + 1];
	struct md_delivery *d;

	if (maildir == NULL || maildir[0] == '\0') {
		errno = EINVAL;
		return MD_ERR_INVALID;
	}
	if (host == NULL) {
		if (gethostname(hostbuf, sizeof(hostbuf)) < 0)
			strcpy(hostbuf, "localhost");
		hostbuf[sizeof(hostbuf) - 1] = '\0';
		host = hostbuf;
	}
	/* The buffer needs no zeroing: 64 KiB of memset per message. */
	d = malloc(sizeof(*d));
	if (d == NULL)
		return fail_errno();
	memset(d, 0, offsetof(struct md_delivery, buf));
	d->fd = -1;
	d->tmp_dir = -1;
	d->maildir = strdup(maildir);
	d->host = strdup(host);
	if (d->maildir == NULL || d->host == NULL) {
		md_delivery_abort(d);
		errno = ENOMEM;
		return MD_ERR_IO;
	}
	*d_r = d;
	return MD_OK;
}

/* Make the file of a deferred start (no-op once made). The maildir usually
 * exists: it is made only when the file cannot be for want of it. An
 * error is sticky, as a write error is. */
static enum md_result open_deferred(struct md_delivery *d)
{
	if (d->maildir == NULL)
		return MD_OK;
	if (open_file(d, d->maildir, d->host) < 0 &&
	    (errno != ENOENT || md_create(d->maildir) < 0 ||
	     open_file(d, d->maildir, d->host) < 0)) {
		d->err_errno = errno;
		d->err = fail_errno();
		return d->err;
	}
	free(d->maildir);
	free(d->host);
	d->maildir = d->host = NULL;
	return MD_OK;
}

enum md_result md_delivery_begin(const char *maildir, const char *host,
				 struct md_delivery **d_r)
{
	struct md_delivery *d;
	enum md_result r = md_delivery_start(maildir, host, &d);

	if (r != MD_OK)
		return r;
	r = open_deferred(d);
	if (r != MD_OK) {
		md_delivery_abort(d);
		return r;
	}
	*d_r = d;
	return MD_OK;
}

enum md_result md_delivery_open(struct md_delivery *d)
{
	if (d->err == MD_OK && open_deferred(d) == MD_OK &&
	    flush_buf(d) < 0) {
		d->err_errno = errno;
		d->err = fail_errno();
	}
	errno = d->err_errno;
	return d->err;
}

size_t md_delivery_room(const struct md_delivery *d)
{
	return sizeof(d->buf) - d->buf_len;
}

static void count_crlf(struct md_delivery *d, const unsigned char *p,
		       size_t len)
{
	const unsigned char *end = p + len, *lf;
	unsigned char prev = d->last;

	d->wsize += len;
	while (p < end && (lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if ((lf > p ? lf[-1] : prev) != '\r')
			d->wsize++;
		prev = '\n';
		p = lf + 1;
	}
	if (len > 0)
		d->last = end[-1];
}

static int flush_buf(struct md_delivery *d)
{
	if (d->buf_len == 0)
		return 0;
	if (fs_write_all(d->fd, d->buf, d->buf_len) < 0)
		return -1;
	d->buf_len = 0;
	return 0;
}

enum md_result md_delivery_write(struct md_delivery *d, const void *buf,
				 size_t len)
{
	if (d->err != MD_OK) {
		errno = d->err_errno;
		return d->err;
	}
	if (len == 0)
		return MD_OK;
	count_crlf(d, buf, len);
	d->size += len;
	if (d->buf_len + len <= sizeof(d->buf)) {
		memcpy(d->buf + d->buf_len, buf, len);
		d->buf_len += len;
		return MD_OK;
	}
	/* A deferred start that outgrew the buffer: the file is made here,
	 * blocking, unless the caller made it first (md_delivery_open). */
	if (open_deferred(d) != MD_OK)
		return d->err;
	if (flush_buf(d) < 0)
		goto fail;
	if (len >= sizeof(d->buf)) {
		if (fs_write_all(d->fd, buf, len) < 0)
			goto fail;
	} else {
		memcpy(d->buf, buf, len);
		d->buf_len = len;
	}
	return MD_OK;
fail:
	d->err_errno = errno;
	d->err = fail_errno();
	return d->err;
}

enum md_result md_delivery_overwrite(struct md_delivery *d, uint64_t off,
				     const void *buf, size_t len)
{
	if (d->err != MD_OK) {
		errno = d->err_errno;
		return d->err;
	}
	if (fs_overwrite_buffered(d->fd, d->buf, d->buf_len, d->size, off, buf,
				  len) == 0)
		return MD_OK;
	d->err_errno = errno;
	d->err = errno == EINVAL ? MD_ERR_INVALID : fail_errno();
	return d->err;
}

uint64_t md_delivery_size(const struct md_delivery *d)
{
	return d->size;
}

/* Cross-device target: copy the message (read from src_fd, from its start)
 * into <maildir>/tmp/, fsync it and link it as name into new_dir (its
 * new/). 0 or -1 (errno); no file is left on error. */
static int copy_into(const char *maildir, const char *name, int src_fd,
		     int new_dir)
{
	char buf[MD_BUF_SIZE];
	int tmp = open_sub(maildir, "tmp"), out = -1, saved;
	off_t off = 0;
	ssize_t n;

	if (tmp < 0)
		return -1;
	out = openat(tmp, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
				O_NOFOLLOW, 0600);
	if (out < 0)
		return fs_close_keep(tmp, -1);
	while ((n = pread(src_fd, buf, sizeof(buf), off)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (fs_write_all(out, buf, (size_t)n) < 0)
			goto fail;
		off += n;
	}
	if (fsync(out) < 0)
		goto fail;
	if (close(out) < 0) {
		out = -1;
		goto fail;
	}
	out = -1;
	if (linkat(tmp, name, new_dir, name, 0) < 0)
		goto fail;
	unlinkat(tmp, name, 0);
	close(tmp);
	return 0;
fail:
	saved = errno;
	if (out >= 0)
		close(out);
	unlinkat(tmp, name, 0);
	close(tmp);
	errno = saved;
	return -1;
}

/* The new/ of maildir, made with the maildir when missing. */
static int open_new(const char *maildir)
{
	int fd = open_sub(maildir, "new");

	if (fd < 0 && errno == ENOENT && md_create(maildir) == 0)
		fd = open_sub(maildir, "new");
	return fd;
}

/* Link the file as name into the new/ of t; EEXIST from the same maildir
 * under another spelling is success with nothing new (*dir_r -1). Returns
 * 0 with *dir_r the handle of the new/ it linked into, or -1 (errno). */
static int link_target(struct md_delivery *d, const struct md_target *t,
		       const char *name, int *dir_r)
{
	struct stat st, tmp_st;
	int dir = open_new(t->maildir), saved;

	*dir_r = -1;
	if (dir < 0)
		return -1;
	if (link_file(d, dir, name) == 0 ||
	    (errno == EXDEV && md_create(t->maildir) == 0 &&
	     copy_into(t->maildir, name, d->fd, dir) == 0)) {
		*dir_r = dir;
		return 0;
	}
	saved = errno;
	if (saved == EEXIST &&
	    fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstat(d->fd, &tmp_st) == 0 && st.st_ino == tmp_st.st_ino &&
	    st.st_dev == tmp_st.st_dev)
		saved = 0;
	close(dir);
	errno = saved;
	return saved == 0 ? 0 : -1;
}

/* Undo the links of a failed commit; errno is preserved for the caller. */
static void rollback(const int *dirs, size_t n, const char *name)
{
	int saved = errno;

	for (size_t i = 0; i < n; i++) {
		if (dirs[i] < 0)
			continue;
		unlinkat(dirs[i], name, 0);
		fsync(dirs[i]);
	}
	errno = saved;
}

/* Why a commit cannot start: the sticky error, no target, or a deferred
 * start that fails now (errno set); MD_OK when it can. */
static enum md_result commit_check(struct md_delivery *d,
				   const struct md_target *targets, size_t n)
{
	if (d->err != MD_OK) {
		errno = d->err_errno;
		return d->err;
	}
	if (targets == NULL || n == 0) {
		errno = EINVAL;
		return MD_ERR_INVALID;
	}
	if (open_deferred(d) != MD_OK) {
		errno = d->err_errno;
		return d->err;
	}
	return MD_OK;
}

/* The file's name in new/: its base, S= (its size) and W= (its size with
 * CRLF line ends). 0, or -1 (ENAMETOOLONG). */
static int final_name(const struct md_delivery *d, char *name, size_t size)
{
	/* A trailing line without its line end is closed with CRLF when
	 * sent by POP3 (RFC 6856 §2.1), so W= counts that CRLF. */
	uint64_t wsize = d->wsize + (d->size > 0 && d->last != '\n' ? 2 : 0);

	if (snprintf(name, size, "%s,S=%llu,W=%llu", d->base,
		     (unsigned long long)d->size,
		     (unsigned long long)wsize) >= (int)size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Whether a target before targets[i] names the same maildir. */
static bool named_before(const struct md_target *targets, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(targets[j].maildir, targets[i].maildir) == 0)
			return true;
	return false;
}

/* Link the file as name into the new/ of each maildir once, within its
 * quota, then fsync those new/: dirs[i] becomes the new/ target i was
 * linked into (else it stays -1). MD_OK, or the error with *at_r the index
 * of the target it belongs to (n: the file's own close). */
static enum md_result link_all(struct md_delivery *d,
			       const struct md_target *targets, size_t n,
			       const char *name, int *dirs, size_t *at_r)
{
	int fd;

	for (size_t i = 0; i < n; i++) {
		const struct md_target *t = &targets[i];
		int q;

		*at_r = i;
		if (named_before(targets, i))
			continue;
		/* A missing maildir counts as empty. */
		q = quota_check(t->maildir, t->quota_bytes, t->quota_messages,
				d->size);
		if (q == 0)
			return MD_ERR_QUOTA;
		if (q < 0 || link_target(d, t, name, &dirs[i]) < 0)
			return fail_errno();
	}
	for (size_t i = 0; i < n; i++) {
		*at_r = i;
		if (dirs[i] >= 0 && dirsync_fd(dirs[i]) < 0)
			return fail_errno();
	}
	*at_r = n;
	fd = d->fd;
	d->fd = -1;
	return close(fd) < 0 ? fail_errno() : MD_OK;
}

enum md_result md_delivery_commit(struct md_delivery *d,
				  const struct md_target *targets, size_t n,
				  size_t *failed_r, char *name_r, size_t size)
{
	char name[NAME_MAX + 1];
	int *dirs = NULL; /* dirs[i]: new/ of target i once linked, or -1 */
	enum md_result r;
	size_t at = n;

	if (failed_r != NULL)
		*failed_r = n;
	if (name_r != NULL && size > 0)
		name_r[0] = '\0';
	r = commit_check(d, targets, n);
	if (r == MD_OK && final_name(d, name, sizeof(name)) < 0)
		r = MD_ERR_INVALID;
	if (r != MD_OK)
		goto out;
	if (flush_buf(d) < 0 || fsync(d->fd) < 0 ||
	    (dirs = malloc(n * sizeof(*dirs))) == NULL) {
		r = fail_errno();
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		dirs[i] = -1;
	r = link_all(d, targets, n, name, dirs, &at);
	if (r != MD_OK) {
		if (failed_r != NULL)
			*failed_r = at;
		rollback(dirs, n, name);
	} else if (name_r != NULL && size > 0) {
		snprintf(name_r, size, "%s", name);
	}
out:;
	int saved = errno;

	if (dirs != NULL)
		for (size_t k = 0; k < n; k++)
			if (dirs[k] >= 0)
				close(dirs[k]);
	free(dirs);
	md_delivery_abort(d);
	errno = saved;
	return r;
}

void md_delivery_abort(struct md_delivery *d)
{
	int saved = errno;

	if (d == NULL)
		return;
	if (d->fd >= 0)
		close(d->fd);
	if (d->named)
		unlinkat(d->tmp_dir, d->base, 0);
	if (d->tmp_dir >= 0)
		close(d->tmp_dir);
	free(d->maildir);
	free(d->host);
	free(d);
	errno = saved;
}

int md_clean_tmp(const char *maildir, time_t max_age, size_t *removed_r)
{
	char path[PATH_MAX];
	time_t cutoff = time(NULL) - max_age;
	size_t removed = 0;
	int rc = 0, saved = 0;
	struct dirent *de;
	DIR *d;

	if (removed_r != NULL)
		*removed_r = 0;
	if (snprintf(path, sizeof(path), "%s/tmp", maildir) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((d = fs_opendir_safe(AT_FDCWD, path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	for (;;) {
		struct stat st;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0) {
				saved = errno;
				rc = -1;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_mtime >= cutoff)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
			removed++;
		} else if (errno != ENOENT) {
			saved = errno;
			rc = -1;
		}
	}
	closedir(d);
	if (removed_r != NULL)
		*removed_r = removed;
	errno = saved;
	return rc;
}
