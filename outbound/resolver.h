/* outbound/resolver.h: the resolver of a queue runner, made from the
 * configuration (dns_resolver, dns_trust_anchor) — one for
 * kantorpos-smtpd's runner, one for `kantorpos queue flush`. */
#ifndef KANTORPOS_OUTBOUND_RESOLVER_H
#define KANTORPOS_OUTBOUND_RESOLVER_H

#include <stddef.h>

struct config;
struct dns;
struct ev_loop;

/* Start a resolver on loop for cfg. Returns it (dns_free), or NULL with
 * the reason in err. */
struct dns *outb_dns_new(struct ev_loop *loop, const struct config *cfg,
			 char *err, size_t errlen);

#endif
