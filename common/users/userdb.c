/* common/users/userdb.c: the in-memory user db the daemons query: load
 * (the parse is userdb_text.c), sorted lookup, reload on change and login
 * verification. The file edits are userdb_edit.c. */
#include "autoconf.h"

#include "common/users/userdb.h"

#include "common/base/fsutil.h"
#include "common/mail/address.h"
#include "common/users/password.h"
#include "common/users/userdb_text.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct userdb {
	char *path;
	pthread_mutex_t lock; /* guards data, st and gen against a reload */
	struct userdb_table *data;
	struct stat st;       /* of the file when data was read */
	unsigned long gen;    /* data replaced so many times */
	unsigned long long opslimit;
	size_t memlimit;
};

/* Read and parse the file at path; *st_r is its stat from before the
 * read. */
static int data_load(const char *path, struct userdb_table **t_r,
		     struct stat *st_r)
{
	struct userdb_table *t = calloc(1, sizeof(*t));
	size_t len;
	int saved;

	if (t == NULL)
		return -1;
	/* stat before reading: a change in between then shows at the next
	 * reload instead of being missed. */
	if (stat(path, st_r) < 0 ||
	    fs_read_file(path, USERDB_MAX_SIZE, &t->text, &len) < 0 ||
	    userdb_table_parse(t, path, len) < 0)
		goto fail;
	*t_r = t;
	return 0;
fail:
	saved = errno;
	userdb_table_free(t);
	errno = saved != 0 ? saved : ENOMEM;
	return -1;
}

/* A db around the loaded table t (taken over even on failure); path NULL
 * for a db parsed from memory. */
static int db_new(const char *path, struct userdb_table *t,
		  const struct stat *st, struct userdb **db_r)
{
	struct userdb *db = calloc(1, sizeof(*db));

	if (db == NULL || (path != NULL && (db->path = strdup(path)) == NULL)) {
		free(db);
		userdb_table_free(t);
		errno = ENOMEM;
		return -1;
	}
	db->data = t;
	if (st != NULL)
		db->st = *st;
	pthread_mutex_init(&db->lock, NULL);
	db->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	db->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	*db_r = db;
	return 0;
}

int userdb_open(const char *path, struct userdb **db_r)
{
	struct userdb_table *t;
	struct stat st;

	if (data_load(path, &t, &st) < 0)
		return -1;
	return db_new(path, t, &st, db_r);
}

int userdb_parse(const char *name, const char *text, size_t len,
		 struct userdb **db_r)
{
	struct userdb_table *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->text = malloc(len + 1)) == NULL) {
		free(t);
		errno = ENOMEM;
		return -1;
	}
	if (len > 0)
		memcpy(t->text, text, len);
	t->text[len] = '\0';
	if (userdb_table_parse(t, name, len) < 0) {
		userdb_table_free(t);
		errno = ENOMEM;
		return -1;
	}
	return db_new(NULL, t, NULL, db_r);
}

void userdb_free(struct userdb *db)
{
	if (db == NULL)
		return;
	userdb_table_free(db->data);
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

/* New contents made by userdb_reload_prepare: installed only over the
 * version they were compared with. */
struct userdb_fresh {
	struct userdb_table *data;
	struct stat st;
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
	loaded = db->st;
	gen = db->gen;
	pthread_mutex_unlock(&db->lock);
	if (stat(db->path, &st) < 0)
		return -1;
	if (fs_same_file(&st, &loaded))
		return 0;
	if ((f = malloc(sizeof(*f))) == NULL)
		return -1;
	if (data_load(db->path, &f->data, &f->st) < 0) {
		free(f);
		return -1;
	}
	f->gen = gen;
	*fresh_r = f;
	return 1;
}

int userdb_reload_commit(struct userdb *db, struct userdb_fresh *fresh)
{
	struct userdb_table *old = fresh->data;
	int installed = 0;

	pthread_mutex_lock(&db->lock);
	if (db->gen == fresh->gen) {
		old = db->data;
		db->data = fresh->data;
		db->st = fresh->st;
		db->gen++;
		installed = 1;
	}
	pthread_mutex_unlock(&db->lock);
	userdb_table_free(old);
	free(fresh);
	return installed;
}

void userdb_reload_discard(struct userdb_fresh *fresh)
{
	if (fresh == NULL)
		return;
	userdb_table_free(fresh->data);
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
	return strcmp(key, ((const struct userdb_user *)elem)->key);
}

int userdb_lookup(struct userdb *db, const char *name, char **hash_r)
{
	char key[ADDR_KEY_SIZE];
	const struct userdb_user *u;
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
