/* store/maildrop.c: POP3 maildrop over a Maildir — lock, snapshot, CRLF
 * reader (RETR/TOP), deletion marks and the UPDATE commit. */
#include "autoconf.h"

#include "store/maildrop.h"
#include "store/maildir.h"
#include "store/mdname.h"
#include "common/base/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MDROP_BUF_SIZE 65536

static const char *const mdrop_subs[] = { "new", "cur" };

struct mdrop_msg {
	char *name;               /* file name as last seen */
	unsigned sub;             /* index into mdrop_subs */
	long long time;           /* delivery time from the name */
	uint64_t size;            /* POP3 size */
	bool deleted;
	char uidl[MDNAME_UIDL_MAX + 1];
};

/* The directories are held open from the login on: the session works on
 * the maildir it locked, and no name is resolved through a link again. */
struct mdrop {
	int lock_fd;
	int sub_fd[2];            /* new/ and cur/ (O_RDONLY) */
	struct mdrop_msg *msgs;
	size_t count, cap;
};

struct mdrop_reader {
	int fd;
	long long body_left;      /* body lines still to send; < 0: all */
	bool in_header;
	bool seen_any;            /* any input byte read */
	bool eof;
	bool done;
	unsigned char last;       /* previous input byte */
	uint64_t line_len;        /* input bytes since the last line end */
	size_t in_pos, in_len;
	char pend[2];             /* output owed when the caller's buffer
				   * ended inside a CRLF */
	size_t pend_len, pend_pos;
	char in[MDROP_BUF_SIZE];  /* last: mdrop_reader_open zeroes what
				   * comes before it, not the buffer */
};

static int lock_take(const char *maildir, int *fd_r);
static int scan_sub(struct mdrop *m, unsigned sub);
static int add_msg(struct mdrop *m, unsigned sub, const char *name);
static int compute_size(struct mdrop *m, struct mdrop_msg *msg);
static int cmp_msg(const void *a, const void *b);
static DIR *open_sub_dir(const struct mdrop *m, unsigned sub);
static int locate(struct mdrop *m, struct mdrop_msg *msg);
static int open_msg(struct mdrop *m, struct mdrop_msg *msg);
static void line_end(struct mdrop_reader *r);
static void free_drop(struct mdrop *m);

/* 1 locked, 0 busy, -1 error. */
static int lock_take(const char *maildir, int *fd_r)
{
	char path[PATH_MAX];
	struct flock fl;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", maildir, MDROP_LOCK_NAME) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = fs_openat_safe(AT_FDCWD, path, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	/* Open-file-description locks belong to this open(), not to the
	 * process: a second session in the same daemon is refused too. */
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return saved == EAGAIN || saved == EACCES ? 0 : -1;
	}
	*fd_r = fd;
	return 1;
}

/* A fresh directory stream over new/ or cur/ (its own open file, so two
 * scans never share an offset). */
static DIR *open_sub_dir(const struct mdrop *m, unsigned sub)
{
	return fs_opendir_safe(m->sub_fd[sub], ".");
}

/* Hold new/ and cur/ open, refusing links (fs_openat_safe). */
static int open_subs(struct mdrop *m, const char *maildir)
{
	char path[PATH_MAX];

	for (unsigned sub = 0; sub < 2; sub++) {
		if (snprintf(path, sizeof(path), "%s/%s", maildir,
			     mdrop_subs[sub]) >= (int)sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		m->sub_fd[sub] = fs_openat_safe(AT_FDCWD, path,
						O_RDONLY | O_DIRECTORY, 0);
		if (m->sub_fd[sub] < 0)
			return -1;
	}
	return 0;
}

static int add_msg(struct mdrop *m, unsigned sub, const char *name)
{
	struct mdrop_msg *msg;

	if (m->count == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct mdrop_msg *grown = realloc(m->msgs, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		m->msgs = grown;
		m->cap = cap;
	}
	msg = &m->msgs[m->count];
	memset(msg, 0, sizeof(*msg));
	msg->name = strdup(name);
	if (msg->name == NULL)
		return -1;
	msg->sub = sub;
	msg->time = mdname_time(name);
	if (mdname_uidl(name, msg->uidl) < 0) {
		free(msg->name);
		errno = EIO;
		return -1;
	}
	if (!mdname_field(name, 'W', &msg->size)) {
		/* No W= (another tool delivered it): count once, by reading
		 * it through the same reader RETR uses. */
		int rc = compute_size(m, msg);

		if (rc <= 0) {
			free(msg->name);
			return rc;
		}
	}
	m->count++;
	return 0;
}

/* 1 computed, 0 the file vanished (skip it), -1 error. */
static int compute_size(struct mdrop *m, struct mdrop_msg *msg)
{
	struct mdrop_reader *r;
	char buf[8192];
	ssize_t n;
	uint64_t total = 0;

	/* Not calloc: zeroing the 64 KiB input buffer would cost more than
	 * reading a typical message. Everything before it starts zeroed. */
	r = malloc(sizeof(*r));
	if (r == NULL)
		return -1;
	memset(r, 0, offsetof(struct mdrop_reader, in));
	r->body_left = -1;
	r->in_header = true;
	r->fd = open_msg(m, msg);
	if (r->fd < 0) {
		free(r);
		return errno == ENOENT ? 0 : -1;
	}
	while ((n = mdrop_read(r, buf, sizeof(buf))) > 0)
		total += (uint64_t)n;
	mdrop_reader_close(r);
	if (n < 0)
		return -1;
	msg->size = total;
	return 1;
}

static int scan_sub(struct mdrop *m, unsigned sub)
{
	struct dirent *de;
	DIR *d = open_sub_dir(m, sub);
	int rc = 0;

	if (d == NULL)
		return -1;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			rc = errno != 0 ? -1 : 0;
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_REG) {
			struct stat st;

			if (de->d_type != DT_UNKNOWN ||
			    fstatat(dirfd(d), de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
		}
		if (add_msg(m, sub, de->d_name) < 0) {
			rc = -1;
			break;
		}
	}
	int saved = errno;

	closedir(d);
	errno = saved;
	return rc;
}

static int cmp_msg(const void *a, const void *b)
{
	const struct mdrop_msg *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return strcmp(x->name, y->name);
}

int mdrop_open(const char *maildir, struct mdrop **drop_r)
{
	struct mdrop *m;
	int rc, saved;

	if (md_create(maildir) < 0)
		return -1;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -1;
	m->lock_fd = m->sub_fd[0] = m->sub_fd[1] = -1;
	rc = lock_take(maildir, &m->lock_fd);
	if (rc <= 0) {
		saved = errno;
		free_drop(m);
		errno = saved;
		return rc;
	}
	/* Leftovers of crashed deliveries go at login, as qmail-pop3d does:
	 * a cheap scan of tmp/, and a failure there must not stop the login. */
	md_clean_tmp(maildir, MD_TMP_MAX_AGE, NULL);
	/* The snapshot is taken under the lock: RFC 1939 §4 fixes the
	 * message numbers for the whole session. */
	if (open_subs(m, maildir) < 0 || scan_sub(m, 0) < 0 ||
	    scan_sub(m, 1) < 0)
		goto fail;
	if (m->count > 1)
		qsort(m->msgs, m->count, sizeof(*m->msgs), cmp_msg);
	*drop_r = m;
	return 1;
fail:
	saved = errno;
	free_drop(m);
	errno = saved;
	return -1;
}

size_t mdrop_count(const struct mdrop *m)
{
	return m->count;
}

uint64_t mdrop_size(const struct mdrop *m, size_t i)
{
	return m->msgs[i].size;
}

const char *mdrop_uidl(const struct mdrop *m, size_t i)
{
	return m->msgs[i].uidl;
}

bool mdrop_is_deleted(const struct mdrop *m, size_t i)
{
	return m->msgs[i].deleted;
}

void mdrop_set_deleted(struct mdrop *m, size_t i, bool deleted)
{
	m->msgs[i].deleted = deleted;
}

void mdrop_stat(const struct mdrop *m, size_t *count_r, uint64_t *bytes_r)
{
	size_t count = 0;
	uint64_t bytes = 0;

	for (size_t i = 0; i < m->count; i++) {
		if (m->msgs[i].deleted)
			continue;
		count++;
		bytes += m->msgs[i].size;
	}
	*count_r = count;
	*bytes_r = bytes;
}

/* The file moved (another Maildir client marked it read, new/ → cur/, or
 * changed its flags): find it again by its base name. 1 found (msg
 * updated), 0 gone, -1 error. */
static int locate(struct mdrop *m, struct mdrop_msg *msg)
{
	size_t base = mdname_base_len(msg->name);

	for (unsigned sub = 2; sub-- > 0;) {
		struct dirent *de;
		DIR *d = open_sub_dir(m, sub);

		if (d == NULL)
			return -1;
		while ((de = readdir(d)) != NULL) {
			if (mdname_base_len(de->d_name) != base ||
			    strncmp(de->d_name, msg->name, base) != 0)
				continue;
			char *name = strdup(de->d_name);

			closedir(d);
			if (name == NULL)
				return -1;
			free(msg->name);
			msg->name = name;
			msg->sub = sub;
			return 1;
		}
		closedir(d);
	}
	return 0;
}

/* Open the message file, following a move; -1 with ENOENT when gone. */
static int open_msg(struct mdrop *m, struct mdrop_msg *msg)
{
	int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
	int fd = openat(m->sub_fd[msg->sub], msg->name, flags), rc;

	if (fd >= 0 || errno != ENOENT)
		return fd;
	rc = locate(m, msg);
	if (rc <= 0) {
		if (rc == 0)
			errno = ENOENT;
		return -1;
	}
	return openat(m->sub_fd[msg->sub], msg->name, flags);
}

int mdrop_reader_open(struct mdrop *m, size_t i, long long body_lines,
		      struct mdrop_reader **reader_r)
{
	struct mdrop_reader *r;

	if (i >= m->count) {
		errno = EINVAL;
		return -1;
	}
	/* Not calloc: zeroing the 64 KiB input buffer would cost more than
	 * reading a typical message. Everything before it starts zeroed. */
	r = malloc(sizeof(*r));
	if (r == NULL)
		return -1;
	memset(r, 0, offsetof(struct mdrop_reader, in));
	r->body_left = body_lines < 0 ? -1 : body_lines;
	r->in_header = true;
	r->fd = open_msg(m, &m->msgs[i]);
	if (r->fd < 0) {
		int saved = errno;

		free(r);
		errno = saved;
		return -1;
	}
	*reader_r = r;
	return 0;
}

/* A line ended in the input (its CRLF is already queued): count it for
 * TOP. RFC 1939 §7: the header, the blank line, then N body lines. */
static void line_end(struct mdrop_reader *r)
{
	bool empty = r->line_len == 0 ||
		     (r->line_len == 1 && r->last == '\r');

	r->line_len = 0;
	if (r->in_header) {
		if (empty) {
			r->in_header = false;
			if (r->body_left == 0)
				r->done = true;
		}
		return;
	}
	if (r->body_left > 0 && --r->body_left == 0)
		r->done = true;
}

/* The input buffer is used up: read more or, at the end of the file, close
 * an unterminated last line (RFC 6856 §2.1: LIST size must match RETR).
 * 0, or -1 (errno). */
static int refill(struct mdrop_reader *r)
{
	ssize_t got;

	do
		got = read(r->fd, r->in, sizeof(r->in));
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -1;
	r->in_pos = 0;
	r->in_len = (size_t)got;
	if (got > 0)
		return 0;
	r->done = true;
	if (r->seen_any && r->last != '\n') {
		memcpy(r->pend, "\r\n", 2);
		r->pend_len = 2;
		r->pend_pos = 0;
	}
	return 0;
}

/* The input is at a line feed: it leaves as CRLF, through pend. */
static void pend_line_feed(struct mdrop_reader *r)
{
	r->in_pos++;
	r->pend_pos = 0;
	if (r->last == '\r' && r->line_len > 0) {
		r->pend[0] = '\n';
		r->pend_len = 1;
	} else {
		memcpy(r->pend, "\r\n", 2);
		r->pend_len = 2;
	}
	line_end(r);
	r->last = '\n';
	r->seen_any = true;
}

/* Copy buffered input into out (room bytes free), up to the next line
 * end; returns the bytes copied (0: a bare line feed went to pend). */
static size_t copy_input(struct mdrop_reader *r, char *out, size_t room)
{
	const char *p = r->in + r->in_pos;
	size_t avail = r->in_len - r->in_pos;
	const char *lf = memchr(p, '\n', avail);
	size_t run = lf != NULL ? (size_t)(lf - p) : avail;

	if (lf != NULL && run < room &&
	    (run > 0 ? p[run - 1] == '\r'
		     : r->last == '\r' && r->line_len > 0)) {
		/* The common case, a whole CRLF line that fits: one copy,
		 * line end included. */
		memcpy(out, p, run + 1);
		r->in_pos += run + 1;
		r->line_len += run;
		if (run > 0)
			r->last = '\r';
		r->seen_any = true;
		line_end(r);
		r->last = '\n';
		return run + 1;
	}
	if (run == 0) {
		pend_line_feed(r);
		return 0;
	}
	if (run > room)
		run = room;
	memcpy(out, p, run);
	r->in_pos += run;
	r->line_len += run;
	r->last = (unsigned char)p[run - 1];
	r->seen_any = true;
	return run;
}

ssize_t mdrop_read(struct mdrop_reader *r, void *buf, size_t len)
{
	char *out = buf;
	size_t n = 0;

	while (n < len) {
		if (r->pend_pos < r->pend_len) {
			out[n++] = r->pend[r->pend_pos++];
			continue;
		}
		if (r->done)
			break;
		if (r->in_pos < r->in_len)
			n += copy_input(r, out + n, len - n);
		else if (refill(r) < 0)
			return -1;
	}
	return (ssize_t)n;
}

void mdrop_reader_close(struct mdrop_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

/* Remove msg's file (found again if it moved): 1 removed, 0 already
 * gone, -1 error. */
static int remove_msg(struct mdrop *m, struct mdrop_msg *msg)
{
	int found;

	if (unlinkat(m->sub_fd[msg->sub], msg->name, 0) == 0)
		return 1;
	if (errno != ENOENT)
		return -1;
	found = locate(m, msg);
	if (found <= 0)
		return found;
	if (unlinkat(m->sub_fd[msg->sub], msg->name, 0) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

int mdrop_commit(struct mdrop *m, size_t *removed_r)
{
	size_t removed = 0;
	int rc = 0, first_err = 0;
	bool changed[2] = { false, false };

	for (size_t i = 0; i < m->count; i++) {
		struct mdrop_msg *msg = &m->msgs[i];
		int done;

		if (!msg->deleted || (done = remove_msg(m, msg)) == 0)
			continue;
		if (done > 0) {
			removed++;
			changed[msg->sub] = true;
			continue;
		}
		if (first_err == 0)
			first_err = errno;
		rc = -1;
	}
	for (unsigned sub = 0; sub < 2; sub++) {
		if (changed[sub] && fsync(m->sub_fd[sub]) < 0 && first_err == 0) {
			first_err = errno;
			rc = -1;
		}
	}
	free_drop(m);
	if (removed_r != NULL)
		*removed_r = removed;
	errno = first_err;
	return rc;
}

void mdrop_release(struct mdrop *m)
{
	int saved = errno;

	free_drop(m);
	errno = saved;
}

static void free_drop(struct mdrop *m)
{
	if (m == NULL)
		return;
	/* Closing the only descriptor of the open file description drops
	 * the OFD lock. */
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	for (unsigned sub = 0; sub < 2; sub++)
		if (m->sub_fd[sub] >= 0)
			close(m->sub_fd[sub]);
	for (size_t i = 0; i < m->count; i++)
		free(m->msgs[i].name);
	free(m->msgs);
	free(m);
}
