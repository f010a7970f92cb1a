/* admin/runas.c: the one place where a kantorpos command started as root
 * becomes run_as before it works on DATA (or talks to the network), so
 * that what it writes belongs to the daemons' user, as if a daemon had
 * written it. */
#include "autoconf.h"

#include <stdio.h>

#include "admin/admin.h"
#include "common/config/config.h"
#include "common/base/privdrop.h"

int admin_run_as(const struct config *cfg, bool store)
{
	const char *user = cfg != NULL ? cfg->run_as : NULL;
	char err[256];

	/* Before any thread exists, as privdrop_to requires. */
	if (privdrop_to(user, store, err, sizeof(err)) == 0)
		return 0;
	if (cfg != NULL && (user == NULL || user[0] == '\0'))
		fprintf(stderr, "kantorpos: %s (set run_as in %s, or run "
			"kantorpos as the user that owns %s)\n", err, cfg->file,
			cfg->data_dir);
	else
		fprintf(stderr, "kantorpos: %s\n", err);
	return -1;
}
