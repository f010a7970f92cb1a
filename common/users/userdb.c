/* common/users/userdb.c: passwd-file user database: parse, sorted lookup, reload on
 * change, login verification, and locked atomic edits of the file. */
#include "autoconf.h"

#include "common/users/userdb.h"

#include "common/mail/address.h"
#include "common/base/fsutil.h"
#include "common/users/password.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct user {
	char *key;	   /* normalised name (owned) */
	const char *hash;  /* into userdb_data.text */
	const char *extra; /* after the second colon, or NULL */
	unsigned line;
};

struct warning {
	unsigned line;
	char *text;
};

/* One loaded version of the file; replaced whole on reload. */
struct userdb_data {
	char *text;
	struct user *users; /* sorted by key */
	size_t count;
	struct warning *warnings;
	size_t nwarnings;
	struct stat st;
};

struct userdb {
	char *path;
	pthread_mutex_t lock; /* guards data and gen against a reload */
	struct userdb_data *data;
	unsigned long gen;    /* data replaced so many times */
	unsigned long long opslimit;
	size_t memlimit;
};

/* A line of the file, as the editor sees it. */
struct line {
	const char *start;
	size_t len;	 /* without the line end */
	size_t full_len; /* with "\n" (and a "\r" before it) */
};

static void data_free(struct userdb_data *d);
static int data_load(const char *path, struct userdb_data **d_r);
static int warn(struct userdb_data *d, const char *path, unsigned line,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static bool next_line(const char *text, size_t len, size_t *pos,
		      struct line *l);
static int line_key(const struct line *l, char key[ADDR_KEY_SIZE]);
static int edit(const char *path, int op, const char *name, const char *hash,
		const char **why_r);

/* ---- parsing and loading ---- */

static void data_free(struct userdb_data *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->count; i++)
		free(d->users[i].key);
	for (size_t i = 0; i < d->nwarnings; i++)
		free(d->warnings[i].text);
	free(d->users);
	free(d->warnings);
	if (d->text != NULL)
		free(d->text);
	free(d);
}

static int warn(struct userdb_data *d, const char *path, unsigned line,
		const char *fmt, ...)
{
	struct warning *w;
	char *msg, *text;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = asprintf(&text, "%s:%u: %s", path, line, msg);
	free(msg);
	if (rc < 0)
		return -1;
	w = realloc(d->warnings, (d->nwarnings + 1) * sizeof(*w));
	if (w == NULL) {
		free(text);
		return -1;
	}
	d->warnings = w;
	d->warnings[d->nwarnings].line = line;
	d->warnings[d->nwarnings++].text = text;
	return 0;
}

/* The next line of text from *pos, or false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos,
		      struct line *l)
{
	const char *nl;

	if (*pos >= len)
		return false;
	l->start = text + *pos;
	nl = memchr(l->start, '\n', len - *pos);
	l->full_len = nl != NULL ? (size_t)(nl - l->start) + 1 : len - *pos;
	l->len = nl != NULL ? (size_t)(nl - l->start) : l->full_len;
	if (l->len > 0 && l->start[l->len - 1] == '\r')
		l->len--;
	*pos += l->full_len;
	return true;
}

static bool line_is_blank_or_comment(const struct line *l)
{
	size_t i = 0;

	while (i < l->len && (l->start[i] == ' ' || l->start[i] == '\t'))
		i++;
	return i == l->len || l->start[i] == '#';
}

/* The key of a user line, or -1 when the line has no valid user name. */
static int line_key(const struct line *l, char key[ADDR_KEY_SIZE])
{
	const char *colon = memchr(l->start, ':', l->len);
	char name[ADDR_KEY_SIZE];
	const char *why;
	size_t n;

	if (colon == NULL || line_is_blank_or_comment(l))
		return -1;
	n = (size_t)(colon - l->start);
	if (n >= sizeof(name) || memchr(l->start, '\0', n) != NULL)
		return -1;
	memcpy(name, l->start, n);
	name[n] = '\0';
	return addr_key_from_string(name, key, ADDR_KEY_SIZE, &why);
}

static int user_cmp(const void *a, const void *b)
{
	const struct user *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int warning_cmp(const void *a, const void *b)
{
	const struct warning *x = a, *y = b;

	return x->line < y->line ? -1 : x->line > y->line;
}

/* Parse one user line into d->users; problems become warnings. The line is
 * cut into NUL-terminated fields in place. */
static int parse_line(struct userdb_data *d, const char *path, unsigned lineno,
		      char *s, size_t len)
{
	char key[ADDR_KEY_SIZE], *colon, *hash, *extra;
	const char *why;
	struct user *u;

	if (memchr(s, '\0', len) != NULL)
		return warn(d, path, lineno, "NUL byte in line");
	s[len] = '\0';
	colon = strchr(s, ':');
	if (colon == NULL)
		return warn(d, path, lineno, "no ':' after the user name");
	*colon = '\0';
	if (addr_key_from_string(s, key, sizeof(key), &why) < 0)
		return warn(d, path, lineno, "bad user name: %s", why);
	hash = colon + 1;
	extra = strchr(hash, ':');
	if (extra != NULL)
		*extra++ = '\0';
	if (*hash == '\0')
		return warn(d, path, lineno, "empty password hash for %s", key);
	if (password_needs_rehash(hash, crypto_pwhash_OPSLIMIT_MIN,
				  crypto_pwhash_MEMLIMIT_MIN) < 0 &&
	    warn(d, path, lineno,
		 "password hash of %s is not {ARGON2ID}: that user cannot log in",
		 key) < 0)
		return -1;
	u = realloc(d->users, (d->count + 1) * sizeof(*u));
	if (u == NULL)
		return -1;
	d->users = u;
	u = &d->users[d->count];
	u->key = strdup(key);
	if (u->key == NULL)
		return -1;
	u->hash = hash;
	u->extra = extra;
	u->line = lineno;
	d->count++;
	return 0;
}

/* Parse d->text (len bytes, NUL-terminated, owned by d) into d's users and
 * warnings, naming the text `name` in warnings. No I/O. */
static int data_parse(struct userdb_data *d, const char *name, size_t len)
{
	size_t pos = 0, kept = 0;
	unsigned lineno = 0;
	struct line l;

	while (next_line(d->text, len, &pos, &l)) {
		lineno++;
		if (line_is_blank_or_comment(&l))
			continue;
		if (parse_line(d, name, lineno, (char *)l.start, l.len) < 0)
			return -1;
	}
	if (d->count > 1)
		qsort(d->users, d->count, sizeof(*d->users), user_cmp);
	/* The first line of a user wins, as in Dovecot. */
	for (size_t i = 0; i < d->count; i++) {
		if (kept > 0 && strcmp(d->users[kept - 1].key, d->users[i].key) == 0) {
			if (warn(d, name, d->users[i].line,
				 "duplicate user %s (first on line %u)",
				 d->users[i].key, d->users[kept - 1].line) < 0) {
				/* Free the keys not yet kept, then the rest
				 * with the data. */
				for (size_t j = i; j < d->count; j++)
					free(d->users[j].key);
				d->count = kept;
				return -1;
			}
			free(d->users[i].key);
			continue;
		}
		d->users[kept++] = d->users[i];
	}
	d->count = kept;
	if (d->nwarnings > 1)
		qsort(d->warnings, d->nwarnings, sizeof(*d->warnings),
		      warning_cmp);
	return 0;
}

static int data_load(const char *path, struct userdb_data **d_r)
{
	struct userdb_data *d = calloc(1, sizeof(*d));
	size_t len;
	int saved;

	if (d == NULL)
		return -1;
	/* stat before reading: a change in between then shows at the next
	 * reload instead of being missed. */
	if (stat(path, &d->st) < 0 ||
	    fs_read_file(path, USERDB_MAX_SIZE, &d->text, &len) < 0 ||
	    data_parse(d, path, len) < 0)
		goto fail;
	*d_r = d;
	return 0;
fail:
	saved = errno;
	data_free(d);
	errno = saved != 0 ? saved : ENOMEM;
	return -1;
}

/* ---- the in-memory view ---- */

/* A db around loaded data d (taken over even on failure); path NULL for a
 * db parsed from memory. */
static int db_new(const char *path, struct userdb_data *d, struct userdb **db_r)
{
	struct userdb *db = calloc(1, sizeof(*db));

	if (db == NULL || (path != NULL && (db->path = strdup(path)) == NULL)) {
		free(db);
		data_free(d);
		errno = ENOMEM;
		return -1;
	}
	db->data = d;
	pthread_mutex_init(&db->lock, NULL);
	db->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	db->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	*db_r = db;
	return 0;
}

int userdb_open(const char *path, struct userdb **db_r)
{
	struct userdb_data *d;

	if (data_load(path, &d) < 0)
		return -1;
	return db_new(path, d, db_r);
}

int userdb_parse(const char *name, const char *text, size_t len,
		 struct userdb **db_r)
{
	struct userdb_data *d = calloc(1, sizeof(*d));

	if (d == NULL || (d->text = malloc(len + 1)) == NULL) {
		free(d);
		errno = ENOMEM;
		return -1;
	}
	if (len > 0)
		memcpy(d->text, text, len);
	d->text[len] = '\0';
	if (data_parse(d, name, len) < 0) {
		data_free(d);
		errno = ENOMEM;
		return -1;
	}
	return db_new(NULL, d, db_r);
}

void userdb_free(struct userdb *db)
{
	if (db == NULL)
		return;
	data_free(db->data);
	pthread_mutex_destroy(&db->lock);
	free(db->path);
	free(db);
}

void userdb_set_cost(struct userdb *db, unsigned long long opslimit,
		     size_t memlimit)
{
	pthread_mutex_lock(&db->lock);
	db->opslimit = opslimit;
	db->memlimit = memlimit;
	pthread_mutex_unlock(&db->lock);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* New contents made by userdb_reload_prepare: installed only over the
 * version they were compared with. */
struct userdb_fresh {
	struct userdb_data *data;
	unsigned long gen;
};

int userdb_reload_prepare(struct userdb *db, struct userdb_fresh **fresh_r)
{
	struct userdb_fresh *f;
	struct stat st, loaded;
	unsigned long gen;

	*fresh_r = NULL;
	if (db->path == NULL)
		return 0;
	pthread_mutex_lock(&db->lock);
	loaded = db->data->st;
	gen = db->gen;
	pthread_mutex_unlock(&db->lock);
	if (stat(db->path, &st) < 0)
		return -1;
	if (same_file(&st, &loaded))
		return 0;
	if ((f = malloc(sizeof(*f))) == NULL)
		return -1;
	if (data_load(db->path, &f->data) < 0) {
		free(f);
		return -1;
	}
	f->gen = gen;
	*fresh_r = f;
	return 1;
}

int userdb_reload_commit(struct userdb *db, struct userdb_fresh *fresh)
{
	struct userdb_data *old = fresh->data;
	int installed = 0;

	pthread_mutex_lock(&db->lock);
	if (db->gen == fresh->gen) {
		old = db->data;
		db->data = fresh->data;
		db->gen++;
		installed = 1;
	}
	pthread_mutex_unlock(&db->lock);
	data_free(old);
	free(fresh);
	return installed;
}

void userdb_reload_discard(struct userdb_fresh *fresh)
{
	if (fresh == NULL)
		return;
	data_free(fresh->data);
	free(fresh);
}

int userdb_reload(struct userdb *db)
{
	struct userdb_fresh *fresh;
	int rc = userdb_reload_prepare(db, &fresh);

	if (rc == 1)
		rc = userdb_reload_commit(db, fresh);
	return rc;
}

size_t userdb_warning_count(const struct userdb *db)
{
	return db->data->nwarnings;
}

const char *userdb_warning(const struct userdb *db, size_t i)
{
	return i < db->data->nwarnings ? db->data->warnings[i].text : NULL;
}

size_t userdb_count(struct userdb *db)
{
	size_t n;

	pthread_mutex_lock(&db->lock);
	n = db->data->count;
	pthread_mutex_unlock(&db->lock);
	return n;
}

static int key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct user *)elem)->key);
}

int userdb_lookup(struct userdb *db, const char *name, char **hash_r)
{
	char key[ADDR_KEY_SIZE];
	const struct user *u;
	const char *why;
	int rc = 0;

	if (addr_key_from_string(name, key, sizeof(key), &why) < 0)
		return 0;
	pthread_mutex_lock(&db->lock);
	u = db->data->count == 0 ? NULL :
				   bsearch(key, db->data->users, db->data->count,
					   sizeof(*u), key_cmp);
	if (u != NULL) {
		rc = 1;
		if (hash_r != NULL && (*hash_r = strdup(u->hash)) == NULL)
			rc = -1;
	}
	pthread_mutex_unlock(&db->lock);
	return rc;
}

int userdb_verify(struct userdb *db, const char *name, const char *pw,
		  size_t pwlen, int *rehash_r, const char **why_r)
{
	unsigned long long opslimit;
	size_t memlimit;
	char *hash = NULL;
	int rc;

	pthread_mutex_lock(&db->lock);
	opslimit = db->opslimit;
	memlimit = db->memlimit;
	pthread_mutex_unlock(&db->lock);
	if (rehash_r != NULL)
		*rehash_r = 0;
	rc = userdb_lookup(db, name, &hash);
	if (rc < 0) {
		if (why_r != NULL)
			*why_r = "out of memory";
		return -1;
	}
	if (rc == 0)
		return password_verify_dummy(pw, pwlen, opslimit, memlimit);
	rc = password_verify(hash, pw, pwlen, why_r);
	if (rc == 1 && rehash_r != NULL)
		*rehash_r = password_needs_rehash(hash, opslimit, memlimit) == 1;
	sodium_memzero(hash, strlen(hash));
	free(hash);
	return rc;
}

void userdb_list(struct userdb *db, void (*fn)(const char *name, void *arg),
		 void *arg)
{
	pthread_mutex_lock(&db->lock);
	for (size_t i = 0; i < db->data->count; i++)
		fn(db->data->users[i].key, arg);
	pthread_mutex_unlock(&db->lock);
}

/* ---- edits of the file ---- */

enum { EDIT_ADD, EDIT_SET, EDIT_DELETE };

/* A growing output buffer for the new file. */
struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void out_add(struct out *o, const char *s, size_t n)
{
	if (o->failed || n == 0)
		return;
	if (o->len + n > o->cap) {
		size_t cap = (o->len + n) * 2 + 256;
		char *b = realloc(o->buf, cap);

		if (b == NULL) {
			o->failed = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

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

static int edit(const char *path, int op, const char *name, const char *hash,
		const char **why_r)
{
	char key[ADDR_KEY_SIZE], lkey[ADDR_KEY_SIZE];
	const char *why = NULL;
	struct out o = { 0 };
	char *text = NULL;
	size_t len = 0, pos = 0;
	bool found = false;
	struct line l;
	int fd, rc = -1, err = 0;

	if (addr_key_from_string(name, key, sizeof(key), &why) < 0) {
		err = EINVAL;
		goto out_nolock;
	}
	if (op != EDIT_DELETE && !hash_ok(hash)) {
		why = "not an {ARGON2ID} password hash";
		err = EINVAL;
		goto out_nolock;
	}
	fd = lock_file(path, &why);
	if (fd < 0) {
		err = errno;
		goto out_nolock;
	}
	if (fs_read_file(path, USERDB_MAX_SIZE, &text, &len) < 0) {
		if (errno != ENOENT) {
			err = errno;
			why = "cannot read the user database";
			goto out;
		}
		text = NULL;
		len = 0;
	}
	while (next_line(text, len, &pos, &l)) {
		bool match = (op == EDIT_DELETE || !found) &&
			     line_key(&l, lkey) == 0 && strcmp(lkey, key) == 0;

		if (!match) {
			out_add(&o, l.start, l.full_len);
			continue;
		}
		if (op == EDIT_SET && !found) {
			/* name ":" new hash, then the old extra fields and
			 * line end exactly as they were. */
			const char *colon = memchr(l.start, ':', l.len);
			const char *extra = memchr(colon + 1, ':',
						   l.len - (size_t)(colon + 1 - l.start));
			const char *tail = extra != NULL ? extra : l.start + l.len;

			out_add(&o, l.start, (size_t)(colon + 1 - l.start));
			out_add(&o, hash, strlen(hash));
			out_add(&o, tail, l.full_len - (size_t)(tail - l.start));
		}
		found = true;
	}
	if (op == EDIT_ADD) {
		if (found) {
			err = EEXIST;
			why = "user already exists";
			goto out;
		}
		if (len > 0 && text[len - 1] != '\n')
			out_add(&o, "\n", 1);
		out_add(&o, key, strlen(key));
		out_add(&o, ":", 1);
		out_add(&o, hash, strlen(hash));
		out_add(&o, "\n", 1);
	} else if (!found) {
		err = ENOENT;
		why = "no such user";
		goto out;
	}
	if (o.failed) {
		err = ENOMEM;
		why = "out of memory";
		goto out;
	}
	if (fs_write_file_atomic(path, o.buf != NULL ? o.buf : "", o.len,
				 0600) < 0) {
		err = errno;
		why = "cannot write the user database";
		goto out;
	}
	rc = 0;
out:
	close(fd); /* releases the lock */
out_nolock:
	free(text);
	free(o.buf);
	if (rc < 0) {
		if (why_r != NULL)
			*why_r = why;
		errno = err;
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
