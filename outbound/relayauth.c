/* outbound/relayauth.c: reading the relayhost's AUTH password. */
#include "autoconf.h"

#include "outbound/relayauth.h"

#include "common/config/config.h"
#include "common/config/secret.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

int relay_password_read(const struct config *cfg, char **pw_r, char *err,
			size_t errlen)
{
	const struct config_relayhost *r = &cfg->relayhost;
	char why[PATH_MAX + 256];

	*pw_r = NULL;
	if (r->host == NULL || r->auth_user == NULL)
		return 0;
	if (secret_read(r->password_file, geteuid(), pw_r, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s:%u: relayhost: password_file %s", cfg->file,
		 r->line, why);
	return -1;
}
