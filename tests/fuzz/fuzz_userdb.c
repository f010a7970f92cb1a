/* tests/fuzz/fuzz_userdb.c: the passwd-file parser (userdb_parse) on an
 * in-memory file, then lookups of every user it kept. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "common/mail/address.h"
#include "common/users/userdb.h"

struct names {
	char **v;
	size_t n;
};

static void collect(const char *name, void *arg)
{
	struct names *names = arg;
	char **grown = realloc(names->v, (names->n + 1) * sizeof(*grown));

	FUZZ_CHECK(grown != NULL);
	names->v = grown;
	names->v[names->n] = strdup(name);
	FUZZ_CHECK(names->v[names->n] != NULL);
	names->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct names names = { NULL, 0 };
	struct userdb *db;
	char key[ADDR_KEY_SIZE];
	const char *why;

	if (userdb_parse("users", (const char *)data, size, &db) < 0)
		return 0;
	for (size_t i = 0; i < userdb_warning_count(db); i++)
		FUZZ_CHECK(strncmp(userdb_warning(db, i), "users:", 6) == 0);
	FUZZ_CHECK(userdb_warning(db, userdb_warning_count(db)) == NULL);
	userdb_list(db, collect, &names);
	FUZZ_CHECK(names.n == userdb_count(db));
	for (size_t i = 0; i < names.n; i++) {
		char *hash = NULL;

		/* Listed names are sorted and unique. A key whose local part
		 * was quoted ("a b"@x gives "a b@x") need not parse again as
		 * a name; every other key is its own key and is found. */
		if (i > 0)
			FUZZ_CHECK(strcmp(names.v[i - 1], names.v[i]) < 0);
		if (addr_key_from_string(names.v[i], key, sizeof(key), &why) < 0)
			continue;
		FUZZ_CHECK(strcmp(key, names.v[i]) == 0);
		FUZZ_CHECK(userdb_lookup(db, names.v[i], &hash) == 1);
		FUZZ_CHECK(hash != NULL && hash[0] != '\0');
		free(hash);
	}
	for (size_t i = 0; i < names.n; i++)
		free(names.v[i]);
	free(names.v);
	FUZZ_CHECK(userdb_reload(db) == 0);
	userdb_free(db);
	return 0;
}
