/* common/config/config_dns.c: the resolver's keywords: dns_resolver (the
 * servers to ask instead of /etc/resolv.conf's) and dns_trust_anchor (the
 * DNSSEC trust anchors, or none). */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config_parser.h"
#include "common/config/config_value.h"

/* "ADDR[:PORT]" with ADDR an IPv4 literal or "[IPv6]" as "ADDR@PORT" (the
 * resolver's form), or NULL after reporting. The resolver is how names
 * are found, so its servers are addresses. */
static char *dns_server(struct config_parser *p, const char *kw,
			const char *word)
{
	char *copy = config_strdup(p, word), *host, *port, *out = NULL;
	enum config_addr addr;
	unsigned portnum = 53;

	if (copy == NULL)
		return NULL;
	if (config_split_hostport(copy, &addr, &host, &port) < 0 ||
	    (addr != CONFIG_ADDR_IPV4 && addr != CONFIG_ADDR_IPV6))
		config_err(p, p->line,
			"%s: expected ADDR[:PORT] with ADDR an IPv4 address or [IPv6 address], got \"%s\"",
			kw, word);
	else if (port != NULL && config_parse_port(port, &portnum) < 0)
		config_err(p, p->line,
			"%s: expected a port from 1 to 65535 in \"%s\"", kw, word);
	else if (asprintf(&out, "%s@%u", host, portnum) < 0) {
		out = NULL;
		p->oom = true;
	}
	free(copy);
	return out;
}

void config_kw_dns_resolver(struct config_parser *p,
			    const struct config_keyword *kw, char **words,
			    size_t n)
{
	struct config *cfg = p->cfg;
	char **servers;
	size_t ok = 0;

	if (n == 0) {
		config_err(p, p->line, "%s: expected ADDR[:PORT]...", kw->name);
		return;
	}
	if (n > CONFIG_DNS_RESOLVERS_MAX) {
		config_err(p, p->line, "%s: expected at most %d servers, got %zu",
			   kw->name, CONFIG_DNS_RESOLVERS_MAX, n);
		return;
	}
	servers = config_alloc(p, n * sizeof(*servers));
	if (servers == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		if ((servers[ok] = dns_server(p, kw->name, words[i])) != NULL)
			ok++;
	if (ok < n) {
		while (ok > 0)
			free(servers[--ok]);
		free(servers);
		return;
	}
	cfg->dns_resolver = servers;
	cfg->n_dns_resolver = n;
}

void config_kw_dns_trust_anchor(struct config_parser *p,
				const struct config_keyword *kw, char **words,
				size_t n)
{
	struct config *cfg = p->cfg;

	if (n != 1) {
		config_err(p, p->line, "%s: expected PATH or none", kw->name);
		return;
	}
	free(cfg->dns_trust_anchor);
	cfg->dns_trust_anchor = strcmp(words[0], "none") == 0
		? NULL : config_resolve_path(p, words[0]);
}

void config_dns_defaults(struct config_parser *p)
{
	p->cfg->dns_trust_anchor = config_strdup(p, CONFIG_DNS_TRUST_ANCHOR);
}

void config_dns_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_dns_resolver; i++)
		free(cfg->dns_resolver[i]);
	free(cfg->dns_resolver);
	free(cfg->dns_trust_anchor);
}
