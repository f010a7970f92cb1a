/* common/users/userdb_edit.c: locked, atomic edits of the user db file:
 * the lock file, the rewrite of the file's lines and the replace. */
#include "autoconf.h"

#include "common/users/userdb_edit.h"

#include "common/base/fsutil.h"
#include "common/base/strbuf.h"
#include "common/mail/address.h"
#include "common/users/password.h"
#include "common/users/userdb.h"
#include "common/users/userdb_text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum edit_op { EDIT_ADD, EDIT_SET, EDIT_DELETE };


/* One edit in progress: what to do, the file as read, the new file, and
 * the error to report. */
struct edit {
	enum edit_op op;
	char key[ADDR_KEY_SIZE];
	const char *hash;
	char *text; /* the current file (NULL when there is none) */
	size_t len;
	struct strbuf o;
	int err;
	const char *why;
};

/* Run as root, give the lock file the owner and group of the user db
 * (the daemons' user, who edits the db too and must be able to open the
 * lock); no db yet: the lock stays root's, like the db root then creates.
 * Only a regular file with no other link is changed: root must not chown
 * a file that a link made by the db's owner leads to. */
static int lock_keep_owner(int fd, const char *path, const char **why_r)
{
	struct stat db, lk;

	*why_r = "cannot give the lock file to the user database's owner";
	if (geteuid() != 0)
		return 0;
	if (lstat(path, &db) < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &lk) < 0)
		return -1;
	if (lk.st_uid == db.st_uid && lk.st_gid == db.st_gid)
		return 0;
	if (!S_ISREG(lk.st_mode) || lk.st_nlink != 1) {
		*why_r = S_ISREG(lk.st_mode)
				 ? "the lock file has other hard links"
				 : "the lock file is not a regular file";
		errno = EPERM;
		return -1;
	}
	return fchown(fd, db.st_uid, db.st_gid);
}

/* Open and lock PATH.lock, waiting for other editors. Returns the
 * descriptor, or -1 with errno and the reason in *why_r. */
static int lock_file(const char *path, const char **why_r)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char *lockpath;
	int fd, saved;

	*why_r = "cannot lock the user database";
	if (asprintf(&lockpath, "%s.lock", path) < 0)
		return -1;
	fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(lockpath);
	if (fd < 0)
		return -1;
	/* OFD locks belong to the open file, not the process: two threads of
	 * one process exclude each other too, and close() releases. */
	while (fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
		if (errno == EINTR)
			continue;
		goto fail;
	}
	if (lock_keep_owner(fd, path, why_r) < 0)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static bool hash_ok(const char *hash)
{
	return strncmp(hash, PASSWORD_SCHEME "$argon2id$",
		       strlen(PASSWORD_SCHEME "$argon2id$")) == 0 &&
	       strpbrk(hash, ":\r\n") == NULL;
}

static int edit_fail(struct edit *e, int err, const char *why)
{
	e->err = err;
	e->why = why;
	return -1;
}

/* A user line l with its hash replaced: name ":" new hash, then the old
 * extra fields and line end exactly as they were. */
static void put_with_new_hash(struct strbuf *o, const struct userdb_line *l,
			      const char *hash)
{
	const char *colon = memchr(l->start, ':', l->len);
	const char *extra = memchr(colon + 1, ':',
				   l->len - (size_t)(colon + 1 - l->start));
	const char *tail = extra != NULL ? extra : l->start + l->len;

	strbuf_add(o, l->start, (size_t)(colon + 1 - l->start));
	strbuf_add(o, hash, strlen(hash));
	strbuf_add(o, tail, l->full_len - (size_t)(tail - l->start));
}

/* Copy the current file's lines to the new one, the user's first line
 * changed (set) and every line of the user dropped (delete). Returns
 * whether the user has a line. */
static bool copy_lines(struct edit *e)
{
	char lkey[ADDR_KEY_SIZE];
	struct userdb_line l;
	bool found = false;
	size_t pos = 0;

	while (userdb_line_next(e->text, e->len, &pos, &l)) {
		bool match = (e->op == EDIT_DELETE || !found) &&
			     userdb_line_key(&l, lkey) == 0 &&
			     strcmp(lkey, e->key) == 0;

		if (!match)
			strbuf_add(&e->o, l.start, l.full_len);
		else if (e->op == EDIT_SET && !found)
			put_with_new_hash(&e->o, &l, e->hash);
		found |= match;
	}
	return found;
}

/* The new file's text in e->o, or -1 with e->err and e->why. */
static int build(struct edit *e)
{
	bool found = copy_lines(e);

	if (e->op == EDIT_ADD) {
		if (found)
			return edit_fail(e, EEXIST, "user already exists");
		if (e->len > 0 && e->text[e->len - 1] != '\n')
			strbuf_add(&e->o, "\n", 1);
		strbuf_add(&e->o, e->key, strlen(e->key));
		strbuf_add(&e->o, ":", 1);
		strbuf_add(&e->o, e->hash, strlen(e->hash));
		strbuf_add(&e->o, "\n", 1);
	} else if (!found) {
		return edit_fail(e, ENOENT, "no such user");
	}
	if (e->o.failed)
		return edit_fail(e, ENOMEM, "out of memory");
	return 0;
}

/* With the lock held: read the file, build the new one, replace it. */
static int edit_locked(struct edit *e, const char *path)
{
	if (fs_read_file(path, USERDB_MAX_SIZE, &e->text, &e->len) < 0) {
		if (errno != ENOENT)
			return edit_fail(e, errno,
					 "cannot read the user database");
		e->text = NULL;
		e->len = 0;
	}
	if (build(e) < 0)
		return -1;
	if (fs_write_file_atomic(path, e->o.p != NULL ? e->o.p : "",
				 e->o.len, 0600) < 0)
		return edit_fail(e, errno, "cannot write the user database");
	return 0;
}

static int edit(const char *path, enum edit_op op, const char *name,
		const char *hash, const char **why_r)
{
	struct edit e = { .op = op, .hash = hash };
	int fd, rc = -1;

	if (addr_key_from_string(name, e.key, sizeof(e.key), &e.why) < 0)
		e.err = EINVAL;
	else if (op != EDIT_DELETE && !hash_ok(hash))
		edit_fail(&e, EINVAL, "not an {ARGON2ID} password hash");
	else if ((fd = lock_file(path, &e.why)) < 0)
		e.err = errno;
	else {
		rc = edit_locked(&e, path);
		close(fd); /* releases the lock */
	}
	free(e.text);
	strbuf_free(&e.o);
	if (rc < 0) {
		if (why_r != NULL)
			*why_r = e.why;
		errno = e.err;
	}
	return rc;
}

int userdb_add(const char *path, const char *name, const char *hash,
	       const char **why_r)
{
	return edit(path, EDIT_ADD, name, hash, why_r);
}

int userdb_set_hash(const char *path, const char *name, const char *hash,
		    const char **why_r)
{
	return edit(path, EDIT_SET, name, hash, why_r);
}

int userdb_delete(const char *path, const char *name, const char **why_r)
{
	return edit(path, EDIT_DELETE, name, NULL, why_r);
}
