/* admin/check_dkim.c: the dkim_sign checks of `kantorpos check` — each
 * key read as kantorpos-smtpd reads it on a reload (as run_as): there,
 * readable, a PEM private key, RSA of 1024 to 4096 bits or Ed25519. Its
 * mode is judged with the other files (common/config/safety.h); the
 * selector's syntax by the config parser. */
#include "autoconf.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "admin/check.h"
#include "common/config/config.h"
#include "common/config/config_dkim.h"

void check_dkim(struct check_report *r, const struct config *cfg,
		const char *who)
{
	char why[256];

	for (size_t i = 0; i < cfg->n_dkim; i++) {
		const struct config_dkim *k = &cfg->dkim[i];
		EVP_PKEY *key;

		errno = 0;
		key = config_dkim_read_key(k->keyfile, why, sizeof(why));
		if (key != NULL) {
			EVP_PKEY_free(key);
			continue;
		}
		if (errno == EACCES || errno == EPERM)
			check_add(r, CHECK_ERROR, cfg->file, k->line,
				  "dkim_sign %s cannot be read by %s: %s; fix: chown %s %s && chmod 600 %s",
				  k->keyfile, who, strerror(errno), who,
				  k->keyfile, k->keyfile);
		else
			check_add(r, CHECK_ERROR, cfg->file, k->line,
				  "dkim_sign %s: %s", k->keyfile, why);
	}
}
