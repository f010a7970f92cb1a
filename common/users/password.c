/* common/users/password.c: Argon2id hashing and verification through libsodium,
 * and the per-cost cache of dummy hashes for unknown users. */
#include "autoconf.h"

#include "common/users/password.h"

#include "common/base/hugepage.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sodium.h>
#include <string.h>

_Static_assert(PASSWORD_HASH_SIZE ==
		       sizeof(PASSWORD_SCHEME) - 1 + crypto_pwhash_STRBYTES,
	       "PASSWORD_HASH_SIZE follows libsodium");

#define SCHEME_LEN (sizeof(PASSWORD_SCHEME) - 1)
#define DUMMY_SLOTS 4

/* Dummy hashes by cost. A process normally uses one cost; a few slots cover
 * a change of configuration on reload. */
struct dummy {
	unsigned long long opslimit;
	size_t memlimit;
	char hash[crypto_pwhash_STRBYTES];
};

static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dummy dummies[DUMMY_SLOTS];
static unsigned dummy_count, dummy_next;

static const char *strip_scheme(const char *stored, const char **why_r);
static int dummy_get(unsigned long long opslimit, size_t memlimit,
		     char hash_r[crypto_pwhash_STRBYTES]);

int password_init(void)
{
	/* Argon2id's working memory in huge pages: a verification at the
	 * default cost takes about a third less time (hugepage.h). Calling it
	 * here also links the interposer into every program that hashes or
	 * verifies. */
	(void)hugepage_enable();
	/* sodium_init is idempotent and thread-safe: 0 first time, 1 later. */
	return sodium_init() < 0 ? -1 : 0;
}

int password_hash(const char *pw, size_t len, unsigned long long opslimit,
		  size_t memlimit, char *out, size_t size)
{
	if (password_init() < 0)
		return -1;
	if (size < PASSWORD_HASH_SIZE || opslimit < crypto_pwhash_OPSLIMIT_MIN ||
	    memlimit < crypto_pwhash_MEMLIMIT_MIN) {
		errno = EINVAL;
		return -1;
	}
	memcpy(out, PASSWORD_SCHEME, SCHEME_LEN);
	if (crypto_pwhash_str(out + SCHEME_LEN, pw, len, opslimit, memlimit) !=
	    0) {
		out[0] = '\0';
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* The libsodium string inside a stored hash, or NULL with a reason. */
static const char *strip_scheme(const char *stored, const char **why_r)
{
	const char *why;

	if (strncmp(stored, PASSWORD_SCHEME, SCHEME_LEN) == 0)
		stored += SCHEME_LEN;
	else if (stored[0] == '{')
		goto other_scheme;
	if (strncmp(stored, crypto_pwhash_STRPREFIX,
		    strlen(crypto_pwhash_STRPREFIX)) != 0) {
		why = "not an Argon2id password hash";
		goto fail;
	}
	if (strlen(stored) >= crypto_pwhash_STRBYTES) {
		why = "password hash too long";
		goto fail;
	}
	return stored;
other_scheme:
	why = "password scheme not supported (only {ARGON2ID})";
fail:
	if (why_r != NULL)
		*why_r = why;
	return NULL;
}

int password_verify(const char *stored, const char *pw, size_t len,
		    const char **why_r)
{
	const char *str = strip_scheme(stored, why_r);

	if (str == NULL)
		return -1;
	if (password_init() < 0) {
		if (why_r != NULL)
			*why_r = "cryptographic library unavailable";
		return -1;
	}
	/* -1 covers both a wrong password and a string libsodium cannot
	 * decode; the prefix check above keeps the second case rare. */
	return crypto_pwhash_str_verify(str, pw, len) == 0 ? 1 : 0;
}

int password_needs_rehash(const char *stored, unsigned long long opslimit,
			  size_t memlimit)
{
	const char *str = strip_scheme(stored, NULL);

	if (str == NULL || password_init() < 0)
		return -1;
	return crypto_pwhash_str_needs_rehash(str, opslimit, memlimit);
}

/* With dummy_lock held: copy the stored dummy hash of this cost into
 * hash_r; false when there is none yet. */
static bool dummy_find(unsigned long long opslimit, size_t memlimit,
		       char hash_r[crypto_pwhash_STRBYTES])
{
	for (unsigned i = 0; i < dummy_count; i++) {
		if (dummies[i].opslimit == opslimit &&
		    dummies[i].memlimit == memlimit) {
			memcpy(hash_r, dummies[i].hash, crypto_pwhash_STRBYTES);
			return true;
		}
	}
	return false;
}

/* Copy the dummy hash for this cost into hash_r, making it on first use.
 * The hash is computed outside the lock so other costs are not held up. */
static int dummy_get(unsigned long long opslimit, size_t memlimit,
		     char hash_r[crypto_pwhash_STRBYTES])
{
	unsigned char secret[32];
	bool found;
	int rc;

	pthread_mutex_lock(&dummy_lock);
	found = dummy_find(opslimit, memlimit, hash_r);
	pthread_mutex_unlock(&dummy_lock);
	if (found)
		return 0;

	if (password_init() < 0)
		return -1;
	/* A random secret nobody knows: the dummy never matches. */
	randombytes_buf(secret, sizeof(secret));
	rc = crypto_pwhash_str(hash_r, (const char *)secret, sizeof(secret),
			       opslimit, memlimit);
	sodium_memzero(secret, sizeof(secret));
	if (rc != 0) {
		errno = ENOMEM;
		return -1;
	}

	pthread_mutex_lock(&dummy_lock);
	/* Another thread may have made one meanwhile: then use that. */
	if (dummy_find(opslimit, memlimit, hash_r)) {
		pthread_mutex_unlock(&dummy_lock);
		return 0;
	}
	struct dummy *d = &dummies[dummy_count < DUMMY_SLOTS ? dummy_count++ :
						 dummy_next++ % DUMMY_SLOTS];

	d->opslimit = opslimit;
	d->memlimit = memlimit;
	memcpy(d->hash, hash_r, crypto_pwhash_STRBYTES);
	pthread_mutex_unlock(&dummy_lock);
	return 0;
}

int password_dummy_prepare(unsigned long long opslimit, size_t memlimit)
{
	char hash[crypto_pwhash_STRBYTES];

	if (opslimit < crypto_pwhash_OPSLIMIT_MIN ||
	    memlimit < crypto_pwhash_MEMLIMIT_MIN) {
		errno = EINVAL;
		return -1;
	}
	return dummy_get(opslimit, memlimit, hash);
}

int password_verify_dummy(const char *pw, size_t len,
			  unsigned long long opslimit, size_t memlimit)
{
	char hash[crypto_pwhash_STRBYTES];
	volatile int sink = 0;

	/* The result is meaningless (nobody knows the dummy secret); only the
	 * time spent matters. */
	if (opslimit >= crypto_pwhash_OPSLIMIT_MIN &&
	    memlimit >= crypto_pwhash_MEMLIMIT_MIN &&
	    dummy_get(opslimit, memlimit, hash) == 0)
		sink = crypto_pwhash_str_verify(hash, pw, len);
	(void)sink;
	return 0;
}
