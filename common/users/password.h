/* common/users/password.h: Argon2id password hashes (libsodium crypto_pwhash) in
 * the "{ARGON2ID}$argon2id$v=19$m=…,t=…,p=…$salt$hash" form that Dovecot's
 * passwd-file reads, their verification, and the dummy verification that
 * makes an unknown user cost as much as a wrong password.
 *
 * Hashing and verifying are BLOCKING and deliberately slow (the cost is the
 * point): daemons run them on the worker pool, never on the event loop.
 * Every function is thread-safe and calls sodium_init() itself.
 */
#ifndef KANTORPOS_COMMON_PASSWORD_H
#define KANTORPOS_COMMON_PASSWORD_H

#include <stddef.h>

/* The scheme prefix kantorpos writes. */
#define PASSWORD_SCHEME "{ARGON2ID}"
/* Buffer size for password_hash: the prefix plus crypto_pwhash_STRBYTES. */
#define PASSWORD_HASH_SIZE (sizeof(PASSWORD_SCHEME) - 1 + 128)

/* Initialise libsodium and ask for Argon2id's working memory in huge pages
 * (hugepage_enable; idempotent). Returns 0, or -1 if it cannot run. */
int password_init(void);

/* Hash password pw[0..len) with a fresh salt at the given Argon2id cost
 * (crypto_pwhash_OPSLIMIT_* / MEMLIMIT_*) into out, as
 * "{ARGON2ID}$argon2id$…", NUL-terminated. Blocking. Returns 0, or -1 with
 * errno (EINVAL for a small buffer or bad limits, ENOMEM). */
int password_hash(const char *pw, size_t len, unsigned long long opslimit,
		  size_t memlimit, char *out, size_t size);

/* Check pw[0..len) against a stored hash, with or without the "{ARGON2ID}"
 * prefix. Blocking. Returns 1 on a match, 0 on a mismatch, -1 when the
 * stored string cannot be verified (another "{SCHEME}", not an Argon2id
 * string), with a static reason in *why_r (which may be NULL). */
int password_verify(const char *stored, const char *pw, size_t len,
		    const char **why_r);

/* Was the stored hash made with other parameters than these? Returns 1 if
 * it should be rehashed, 0 if not, -1 if it is not an Argon2id hash. Cheap:
 * it only parses the string. */
int password_needs_rehash(const char *stored, unsigned long long opslimit,
			  size_t memlimit);

/* Make (once per cost, then cached) the dummy hash password_verify_dummy
 * uses, so that the first unknown user is not slower than the others.
 * Blocking. Returns 0, or -1 with errno. */
int password_dummy_prepare(unsigned long long opslimit, size_t memlimit);

/* Spend the time of one verification at this cost and fail: what a login
 * with an unknown user name does instead of returning at once. Blocking.
 * Always returns 0 (no match). */
int password_verify_dummy(const char *pw, size_t len,
			  unsigned long long opslimit, size_t memlimit);

#endif
