/* outbound/mxcache.h: the MX hosts and addresses of the domains direct
 * delivery is working on — looked up asynchronously through common/dns
 * (the MX query, then A and AAAA of each MX host, all at once; nothing for
 * a null MX or a failed MX lookup), turned into hosts by outbound/mx.h,
 * and shared by every message for the domain while one uses it. A plan
 * (the ordered targets of one attempt, shuffled anew) is drawn from it per
 * message. Loop thread only; never blocks.
 *
 * With outbound_tls dane, each host whose MX answer and addresses are
 * secure gets its TLSA lookup too (outbound/tlspolicy.h says when), at
 * _PORT._tcp.HOST; when the address answer came through CNAMEs, all of
 * them secure (libunbound marks an answer secure only when every link
 * is), at the expanded name first and, on a secure denial there, at the
 * MX host name (RFC 7672 section 2.2.3). The domain is resolved when
 * those are done too.
 *
 * A domain resolved more than MXCACHE_MAX_AGE seconds ago is looked up
 * again for messages that come later (the resolver's own cache answers
 * within the TTLs); those already planned keep theirs. */
#ifndef KANTORPOS_OUTBOUND_MXCACHE_H
#define KANTORPOS_OUTBOUND_MXCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config/config.h"
#include "outbound/mx.h"

struct dns;
struct ev_loop;
struct tlsp_host;
struct mxcache;
struct mxdom;

#define MXCACHE_MAX_AGE 60.0

/* A waiter for a domain's resolution, embedded in the caller's object;
 * fn runs once, from the loop, when the domain is resolved. */
struct mxwait {
	struct mxwait *next;
	void (*fn)(struct mxwait *w, struct mxdom *dom);
};

/* dns NULL: every domain defers ("no DNS resolver"). self: this host
 * (copied). addr_limit: outbound_address_limit. tls_mode and port:
 * outbound_tls and outbound_port (the TLSA owner's port). */
struct mxcache *mxcache_new(struct ev_loop *loop, struct dns *dns,
			    const struct mx_self *self, size_t addr_limit,
			    enum config_outbound_tls tls_mode, unsigned port);

/* Free it; every domain must have been put back. NULL is fine. */
void mxcache_free(struct mxcache *c);

/* Take a reference on the domain (lower case), starting its lookups when
 * it is new. Returns 1 when it is resolved already (*dom_r; w unused), 0
 * when w->fn follows (*dom_r set too), -1 (ENOMEM). */
int mxcache_get(struct mxcache *c, const char *domain, struct mxwait *w,
		struct mxdom **dom_r);

/* Drop a reference (a waiter whose fn has not run yet is forgotten);
 * a domain nobody uses any more is freed, its lookups cancelled. */
void mxcache_put(struct mxdom *dom, struct mxwait *w);

/* The domain's name and its hosts (after resolution). */
const char *mxcache_name(const struct mxdom *dom);
const struct mx_hosts *mxcache_hosts(const struct mxdom *dom);

/* What the TLSA lookup of hosts->host[host] found; NULL when none was
 * made (DANE does not apply to it). */
const struct tlsp_host *mxcache_dane(const struct mxdom *dom, size_t host);

/* A plan for one attempt: targets in order, equal preferences shuffled
 * anew, or the verdict. */
void mxcache_plan(struct mxdom *dom, struct mx_plan *p);

/* Domains with their lookups outstanding; 0 when none. */
size_t mxcache_resolving(const struct mxcache *c);

#endif
