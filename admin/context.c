/* admin/context.c: the context every kantorpos command works in: the
 * configuration, loaded once on first use, and the test for --help. main.c
 * dispatches to the commands; they use this, never main.c. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "common/config/config.h"
#include "common/config/config_load.h"
#include "common/base/log.h"

bool admin_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

struct config *admin_config(struct admin *adm)
{
	char *errors = NULL;

	if (adm->cfg != NULL)
		return adm->cfg;
	adm->cfg = config_load(adm->config_path, &errors);
	if (adm->cfg == NULL) {
		fputs(errors != NULL ? errors : "out of memory\n", stderr);
		free(errors);
		return NULL;
	}
	log_set_level(adm->cfg->log_level);
	return adm->cfg;
}
