/* tests/fuzz/fuzz_config.c: config_parse on arbitrary text (the whole
 * kantorpos.conf grammar, values and keyword handlers). */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "common/config/config.h"
#include "common/config/config_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg;
	char *err = NULL;

	cfg = config_parse("fuzz.conf", "/etc/kantorpos", (const char *)data,
			   size, &err);
	if (cfg != NULL) {
		FUZZ_CHECK(err == NULL || *err == '\0');
		FUZZ_CHECK(cfg->n_domains >= 1);
		for (size_t i = 0; i < cfg->n_domains; i++)
			FUZZ_CHECK(config_find_domain(cfg, cfg->domains[i].name) != NULL);
		for (size_t i = 0; i < cfg->n_listeners; i++)
			FUZZ_CHECK(cfg->listeners[i].port >= 1 &&
				   cfg->listeners[i].port <= 65535);
		config_free(cfg);
	} else {
		/* Out of memory is the only failure without a message. */
		FUZZ_CHECK(err != NULL && strlen(err) > 0);
	}
	free(err);
	return 0;
}
