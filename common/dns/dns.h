/* common/dns/dns.h: the one DNS resolver of kantorpos — asynchronous,
 * validating, on the daemon's (or a tool's) libev loop.
 *
 * Built on libunbound, which runs on the caller's loop itself: its sockets
 * and timers are libev watchers (common/dns/dns_event.h), and it starts
 * no thread: nothing ever waits for a query. libunbound validates DNSSEC
 * itself against the trust anchors of dns_trust_anchor
 * (never trusting an upstream AD bit); its own message cache, kept small,
 * answers repeated questions within their TTLs. The records of an answer
 * are read from the answer packet by kantorpos's own parser
 * (common/dns/dns_parse.h), which is pure and fuzzed.
 *
 * Servers: dns_resolver's list (forwarding; names under test. and example.
 * and the private reverse zones then reach them too, as labs, LANs and
 * tests need), else /etc/resolv.conf's.
 *
 * The answer and its records are defined in common/dns/dns_types.h,
 * included here.
 *
 * Loop thread only; callbacks run from the loop, never inside a dns_*
 * call. */
#ifndef KANTORPOS_COMMON_DNS_H
#define KANTORPOS_COMMON_DNS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/dns/dns_types.h"

struct ev_loop;
struct dns;
struct dns_query;

struct dns_opts {
	/* "ADDR" or "ADDR@PORT" (IPv6 literal without brackets); NULL or
	 * empty: /etc/resolv.conf. */
	const char *const *servers;
	size_t n_servers;
	const char *trust_anchor;     /* zone-file DS/DNSKEY lines; NULL:
				       * no validation (everything INSECURE) */
	unsigned timeout;             /* seconds a query may take; 0: 10 */
};

/* Start a resolver on loop. Returns it, or NULL with a message in err
 * (a trust anchor that cannot be read or parsed, a bad server). */
struct dns *dns_new(struct ev_loop *loop, const struct dns_opts *opts,
		    char *err, size_t errlen);

/* Whether path is a trust anchor file dns_new would take: readable, with
 * DS or DNSKEY records that libunbound parses. Reads the file (blocking:
 * for start-up and kantorpos check). Returns 0, or -1 with the reason in
 * err. */
int dns_check_anchor(const char *path, char *err, size_t errlen);

/* Stop it: pending queries are dropped (their callbacks never run). May be
 * called from a callback. */
void dns_free(struct dns *d);

/* Called once with the answer (valid during the call only). */
typedef void dns_cb(void *arg, const struct dns_answer *a);

/* Ask for name's records of type (name: a host name, or for PTR an
 * address literal). Returns the query (for dns_cancel until its callback
 * ran), or NULL with errno (EINVAL: not a domain name, or for PTR not an
 * address literal; ENOMEM; EIO: libunbound refused the query). */
struct dns_query *dns_lookup(struct dns *d, const char *name,
			     enum dns_type type, dns_cb *cb, void *arg);

/* Forget a query whose callback has not run; it never will. */
void dns_cancel(struct dns_query *q);

/* Whether no query is pending (a replaced resolver may then be freed
 * without dropping anyone's answer). */
bool dns_idle(const struct dns *d);

#endif
