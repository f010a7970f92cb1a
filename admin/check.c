/* admin/check.c: `kantorpos check` — validate the configuration (every error
 * at once, as FILE:LINE), the owner and mode of the files it names (the
 * same checks the daemons make at start) and the user database. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "common/config.h"
#include "common/safety.h"
#include "common/userdb.h"

int admin_cmd_check(struct admin *adm, int argc, char **argv)
{
	const struct config *cfg;
	struct userdb *db;
	size_t warnings;
	char *unsafe = NULL;

	if (admin_wants_help(argc, argv)) {
		printf("usage: kantorpos [-c CONF] check\n"
		       "Validate the configuration, the owner and mode of the files it names\n"
		       "(data_dir, user_db, tls_key, aliases, fetch password files) and the\n"
		       "user database; exit 0 when all are usable, else print every problem\n"
		       "and exit 1.\n");
		return ADM_OK;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: kantorpos [-c CONF] check\n");
		return ADM_USAGE;
	}
	if ((cfg = admin_config(adm)) == NULL)
		return 1;
	if (safety_check_config(cfg, &unsafe) < 0) {
		fputs(unsafe != NULL ? unsafe : "out of memory\n", stderr);
		free(unsafe);
		return 1;
	}
	if (userdb_open(cfg->user_db, &db) < 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "%s: cannot read: %s\n", cfg->user_db,
				strerror(errno));
			return 1;
		}
		printf("%s: ok (user database %s does not exist yet)\n",
		       cfg->file, cfg->user_db);
		return ADM_OK;
	}
	warnings = userdb_warning_count(db);
	for (size_t i = 0; i < warnings; i++)
		fprintf(stderr, "%s\n", userdb_warning(db, i));
	printf("%s: %s (%zu user%s)\n", cfg->file,
	       warnings == 0 ? "ok" : "user database has errors",
	       userdb_count(db), userdb_count(db) == 1 ? "" : "s");
	userdb_free(db);
	return warnings == 0 ? ADM_OK : 1;
}
