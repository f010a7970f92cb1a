/* tests/fuzz/fuzz_aliases.c: aliases_parse on arbitrary text against a
 * configuration with two local domains (one with a catch-all); on success
 * every looked-up alias expands to distinct final targets in a local
 * domain that are not aliases themselves. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "common/lookup/aliases.h"
#include "common/config/config.h"
#include "common/config/config_load.h"

static const char CONF[] =
	"data_dir /var/lib/kantorpos\nuser_db users\n"
	"local_domain example.test\n"
	"local_domain example.net catchall bob\nrecipient_delimiter +\n";

/* Names the seeds use, looked up in both domains. */
static const char *const NAMES[] = {
	"a", "b", "c", "sales", "team", "all", "info", "postmaster", "x",
};

static void check_targets(const struct aliases *al, const char *key)
{
	const char *const *t = NULL;
	size_t n = aliases_lookup(al, key, &t);

	FUZZ_CHECK(n == 0 || t != NULL);
	for (size_t i = 0; i < n; i++) {
		const char *at = strchr(t[i], '@');
		const char *const *t2;

		FUZZ_CHECK(at != NULL && at != t[i]);
		FUZZ_CHECK(strcmp(at + 1, "example.test") == 0 ||
			   strcmp(at + 1, "example.net") == 0);
		/* Final targets: expansion went all the way. */
		FUZZ_CHECK(aliases_lookup(al, t[i], &t2) == 0);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(t[i], t[j]) != 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aliases *al = NULL;
	struct config *cfg;
	char *err = NULL, key[64];

	cfg = config_parse("fuzz.conf", "/etc/kantorpos", CONF, strlen(CONF),
			   &err);
	FUZZ_CHECK(cfg != NULL);
	if (aliases_parse("fuzz", (const char *)data, size, cfg, &al, &err) == 0) {
		FUZZ_CHECK(al != NULL && err == NULL);
		for (size_t i = 0; i < sizeof(NAMES) / sizeof(NAMES[0]); i++) {
			snprintf(key, sizeof(key), "%s@example.test", NAMES[i]);
			check_targets(al, key);
			snprintf(key, sizeof(key), "%s@example.net", NAMES[i]);
			check_targets(al, key);
		}
		aliases_free(al);
	} else {
		FUZZ_CHECK(al == NULL);
		/* Every error names the file and a line. */
		FUZZ_CHECK(err == NULL || strncmp(err, "fuzz:", 5) == 0);
		free(err);
	}
	config_free(cfg);
	return 0;
}
