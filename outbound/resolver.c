/* outbound/resolver.c: a queue runner's resolver from the configuration
 * (outbound/resolver.h). */
#include "autoconf.h"

#include "outbound/resolver.h"

#include "common/config/config.h"
#include "common/dns/dns.h"

struct dns *outb_dns_new(struct ev_loop *loop, const struct config *cfg,
			 char *err, size_t errlen)
{
	struct dns_opts o = {
		.servers = (const char *const *)cfg->dns_resolver,
		.n_servers = cfg->n_dns_resolver,
		.trust_anchor = cfg->dns_trust_anchor,
	};

	return dns_new(loop, &o, err, errlen);
}
