/* common/config/config_sendmail.c: the keywords of local submission
 * (kantorpos-sendmail and the pickup of kantorpos-smtpd): sendmail_domain
 * and sendmail_trusted_users, the defaults of drop_dir and
 * sendmail_domain, who may set the sender, and freeing. */
#include "autoconf.h"

#include "common/config/config_parser.h"
#include "common/config/config_value.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#ifndef LOCALSTATEDIR
#error "LOCALSTATEDIR must be defined by the build"
#endif

/* The default drop directory: beside other spools, not under data_dir
 * (which only run_as may enter). */
#define SENDMAIL_DROP_DIR LOCALSTATEDIR "/spool/kantorpos/drop"

void config_kw_sendmail_domain(struct config_parser *p,
			       const struct config_keyword *kw, char **words,
			       size_t n)
{
	char *d;

	if (n != 1 || !config_is_domain(words[0])) {
		config_err(p, p->line, "%s: expected one domain", kw->name);
		return;
	}
	d = config_strdup(p, words[0]);
	for (char *q = d; q != NULL && *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	p->cfg->sendmail_domain = d;
}

void config_kw_sendmail_trusted_users(struct config_parser *p,
				      const struct config_keyword *kw,
				      char **words, size_t n)
{
	struct config *cfg = p->cfg;
	char **grown;

	if (n == 0) {
		config_err(p, p->line, "%s: expected one or more user names",
			   kw->name);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!config_is_username(words[i])) {
			config_err(p, p->line, "%s: expected a user name, got \"%s\"",
				   kw->name, words[i]);
			return;
		}
	grown = realloc(cfg->sendmail_trusted_users,
			(cfg->n_sendmail_trusted_users + n) * sizeof(*grown));
	if (grown == NULL) {
		p->oom = true;
		return;
	}
	cfg->sendmail_trusted_users = grown;
	for (size_t i = 0; i < n; i++)
		grown[cfg->n_sendmail_trusted_users++] =
			config_strdup(p, words[i]);
}

void config_sendmail_finish(struct config_parser *p)
{
	struct config *cfg = p->cfg;

	if (cfg->drop_dir == NULL)
		cfg->drop_dir = config_strdup(p, SENDMAIL_DROP_DIR);
	if (cfg->sendmail_domain == NULL && cfg->n_domains > 0)
		cfg->sendmail_domain = config_strdup(p, cfg->domains[0].name);
}

void config_sendmail_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_sendmail_trusted_users; i++)
		free(cfg->sendmail_trusted_users[i]);
	free(cfg->sendmail_trusted_users);
	free(cfg->sendmail_domain);
}

bool config_sendmail_trusted(const struct config *cfg, const char *user)
{
	if (strcmp(user, "root") == 0 ||
	    (cfg->run_as != NULL && strcmp(user, cfg->run_as) == 0))
		return true;
	for (size_t i = 0; i < cfg->n_sendmail_trusted_users; i++)
		if (strcmp(cfg->sendmail_trusted_users[i], user) == 0)
			return true;
	return false;
}
