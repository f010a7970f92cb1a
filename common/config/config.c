/* common/config/config.c: lookups in a parsed configuration (the local
 * domains, ETRN domains, fetch accounts, trusted networks). Nothing here
 * parses: common/config/config_load.c does. */
#include "autoconf.h"

#include "common/config/config.h"

#include <string.h>
#include <strings.h>

const struct config_domain *config_find_domain(const struct config *cfg,
					       const char *domain)
{
	size_t i;

	for (i = 0; i < cfg->n_domains; i++)
		if (strcasecmp(cfg->domains[i].name, domain) == 0)
			return &cfg->domains[i];
	return NULL;
}

const struct config_fetch *config_find_fetch(const struct config *cfg,
					     const char *name)
{
	for (size_t i = 0; i < cfg->n_fetch; i++)
		if (strcmp(cfg->fetch[i].name, name) == 0)
			return &cfg->fetch[i];
	return NULL;
}

const struct config_etrn_domain *config_find_etrn(const struct config *cfg,
						  const char *domain)
{
	size_t dl = strlen(domain);

	for (size_t i = 0; i < cfg->n_etrn_domains; i++) {
		const struct config_etrn_domain *d = &cfg->etrn_domains[i];
		size_t nl = strlen(d->name);

		if (strcasecmp(d->name, domain) == 0)
			return d;
		if (d->subdomains && dl > nl + 1 && domain[dl - nl - 1] == '.' &&
		    strcasecmp(domain + dl - nl, d->name) == 0)
			return d;
	}
	return NULL;
}

bool config_client_trusted(const struct config *cfg, const char *addr)
{
	for (size_t i = 0; i < cfg->n_trusted_networks; i++)
		if (cidr_match(&cfg->trusted_networks[i], addr))
			return true;
	return false;
}

/* direct delivery */
bool config_relayhost_takes(const struct config *cfg, const char *domain)
{
	size_t dl = strlen(domain);

	if (cfg->relayhost.host == NULL)
		return false;
	if (cfg->n_relayhost_domains == 0)
		return true;
	for (size_t i = 0; i < cfg->n_relayhost_domains; i++) {
		const char *name = cfg->relayhost_domains[i];
		size_t nl = strlen(name);

		if (strcasecmp(name, domain) == 0)
			return true;
		if (dl > nl + 1 && domain[dl - nl - 1] == '.' &&
		    strcasecmp(domain + dl - nl, name) == 0)
			return true;
	}
	return false;
}

const char *config_outbound_helo(const struct config *cfg)
{
	return cfg->outbound_helo != NULL ? cfg->outbound_helo : cfg->hostname;
}
