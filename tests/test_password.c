/* tests/test_password.c: Argon2id hashing, verification, schemes, rehash
 * decisions and the dummy hash. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/users/password.h"

#define OPS crypto_pwhash_OPSLIMIT_MIN
#define MEM crypto_pwhash_MEMLIMIT_MIN

static char hash[PASSWORD_HASH_SIZE];

static void setup(void)
{
	cr_assert_eq(password_hash("s3cret", 6, OPS, MEM, hash, sizeof(hash)), 0);
}

TestSuite(password, .init = setup);

Test(password, hash_format)
{
	cr_assert(strncmp(hash, "{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$", 37) == 0,
		  "%s", hash);
	cr_assert_null(strpbrk(hash, ":\r\n"), "fits a passwd-file field");
}

Test(password, verify_right_and_wrong)
{
	struct {
		const char *stored; /* NULL: the hash made in setup */
		const char *pw;
		size_t len;
		int rc;
	} rows[] = {
		{ NULL, "s3cret", 6, 1 },
		{ NULL, "s3cret", 5, 0 },
		{ NULL, "S3cret", 6, 0 },
		{ NULL, "", 0, 0 },
		{ NULL, "s3cret\0", 7, 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *why = NULL;

		cr_assert_eq(password_verify(hash, rows[i].pw, rows[i].len, &why),
			     rows[i].rc, "row %zu: %s", i, why);
	}
	/* The bare libsodium string, without the scheme prefix. */
	cr_assert_eq(password_verify(hash + strlen(PASSWORD_SCHEME), "s3cret", 6,
				     NULL), 1);
	cr_assert_eq(password_verify(hash + strlen(PASSWORD_SCHEME), "x", 1,
				     NULL), 0);
}

Test(password, binary_password)
{
	char h[PASSWORD_HASH_SIZE];

	cr_assert_eq(password_hash("a\0b", 3, OPS, MEM, h, sizeof(h)), 0);
	cr_assert_eq(password_verify(h, "a\0b", 3, NULL), 1);
	cr_assert_eq(password_verify(h, "a", 1, NULL), 0);
}

Test(password, unsupported_schemes)
{
	struct {
		const char *stored;
		const char *why;
	} rows[] = {
		{ "{PLAIN}s3cret", "password scheme not supported (only {ARGON2ID})" },
		{ "{SHA512-CRYPT}$6$salt$hash",
		  "password scheme not supported (only {ARGON2ID})" },
		{ "{ARGON2I}$argon2i$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
		  "password scheme not supported (only {ARGON2ID})" },
		{ "$argon2i$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
		  "not an Argon2id password hash" },
		{ "s3cret", "not an Argon2id password hash" },
		{ "", "not an Argon2id password hash" },
		{ "{ARGON2ID}", "not an Argon2id password hash" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *why = NULL;

		cr_assert_eq(password_verify(rows[i].stored, "s3cret", 6, &why), -1,
			     "row %zu", i);
		cr_assert_str_eq(why, rows[i].why, "row %zu", i);
		cr_assert_eq(password_needs_rehash(rows[i].stored, OPS, MEM), -1,
			     "row %zu", i);
	}
}

Test(password, needs_rehash)
{
	cr_assert_eq(password_needs_rehash(hash, OPS, MEM), 0);
	cr_assert_eq(password_needs_rehash(hash + strlen(PASSWORD_SCHEME), OPS,
					   MEM), 0);
	cr_assert_eq(password_needs_rehash(hash, OPS + 1, MEM), 1);
	cr_assert_eq(password_needs_rehash(hash, OPS, MEM * 2), 1);
}

Test(password, dummy)
{
	cr_assert_eq(password_dummy_prepare(OPS, MEM), 0);
	cr_assert_eq(password_dummy_prepare(OPS, MEM), 0, "cached");
	cr_assert_eq(password_verify_dummy("s3cret", 6, OPS, MEM), 0);
	cr_assert_eq(password_verify_dummy("", 0, OPS + 1, MEM), 0);
	cr_assert_eq(password_dummy_prepare(0, MEM), -1);
	cr_assert_eq(errno, EINVAL);
}

Test(password, bad_arguments)
{
	char small[16];

	cr_assert_eq(password_hash("x", 1, OPS, MEM, small, sizeof(small)), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(password_hash("x", 1, 0, MEM, hash, sizeof(hash)), -1);
	cr_assert_eq(errno, EINVAL);
}
