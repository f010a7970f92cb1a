/* outbound/mx.h: where mail for a domain goes — from the DNS answers to an
 * ordered plan of (MX host, address) to try (RFC 5321 §5.1, RFC 7505).
 * Pure: no I/O, no globals; the randomness comes from the caller.
 *
 * Two steps, because the second needs lookups the first decides on:
 *   mx_hosts_from  the MX answer → the hosts whose addresses to look up
 *                  (or a verdict at once: null MX, NXDOMAIN, ...)
 *   mx_plan_build  their A and AAAA answers → the targets, in order
 *
 * The rules:
 * - MX hosts in preference order; hosts of equal preference in a random
 *   order, drawn again for every plan (every delivery attempt).
 * - MX NODATA: the domain itself is the one host (implicit MX, preference
 *   0); when it has no A and no AAAA either: bounce 5.1.2.
 * - Null MX (RFC 7505: the only MX records have the exchange "."): bounce
 *   "556 5.1.10 Recipient address has null MX", nothing looked up. A "."
 *   among real MX records is ignored (it cannot be connected to).
 * - NXDOMAIN: bounce 5.1.2. SERVFAIL, timeout, a malformed answer or one
 *   that fails DNSSEC validation (bogus): defer 4.4.3.
 * - This host among the MX (by name: outbound_helo or hostname; by
 *   address: one it listens on, at the port mail is sent to): it and every
 *   MX of equal or higher preference are dropped; nothing left: bounce
 *   5.4.6 "mail for DOMAIN loops back to myself".
 * - More than MX_HOSTS_MAX MX records: the best MX_HOSTS_MAX (capped).
 *   An MX target that is an address literal is not a host name: skipped.
 * - Addresses per host: IPv6 and IPv4 alternate, IPv6 first (RFC 8305
 *   §4), each family in the order of its answer; at most addr_limit
 *   targets in all (Postfix's smtp_mx_address_limit). An address seen
 *   already (another MX host with the same address) is not tried twice.
 * - No address for any host: a temporary lookup failure among them
 *   defers 4.4.3; otherwise bounce (5.1.2 for the implicit MX, 5.4.4 for
 *   MX hosts that do not resolve). */
#ifndef KANTORPOS_OUTBOUND_MX_H
#define KANTORPOS_OUTBOUND_MX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dns/dns.h"

/* MX hosts used at most, after sorting (the rest are dropped, logged). */
#define MX_HOSTS_MAX 20
/* Addresses kept per host and family. */
#define MX_HOST_ADDRS 8
/* Targets of one plan at most (the ceiling of outbound_address_limit). */
#define MX_PLAN_MAX 32
/* Room for a verdict's reply text. */
#define MX_REPLY_MAX 400

enum mx_verdict {
	MX_GO,     /* look up / try the hosts or targets */
	MX_BOUNCE, /* permanent: every recipient fails with reply */
	MX_DEFER,  /* temporary: every recipient stays queued with reply */
};

/* A verdict and, unless MX_GO, its reply in SMTP form ("556 5.1.10 ..."):
 * the recipients' diagnostic and, in a DSN, their Diagnostic-Code. */
struct mx_outcome {
	enum mx_verdict verdict;
	char reply[MX_REPLY_MAX];
};

struct mx_host {
	char name[DNS_NAME_MAX + 1];
	uint16_t pref;
};

/* The first step's result. */
struct mx_hosts {
	struct mx_outcome o;
	bool implicit;     /* no MX: the domain's own addresses */
	bool capped;       /* more MX records than MX_HOSTS_MAX */
	bool secure;       /* the MX answer was DNSSEC-validated */
	size_t n_self;     /* MX records dropped as this host or worse */
	size_t n;
	struct mx_host host[MX_HOSTS_MAX];
};

/* What identifies this host: its names and the addresses it listens on
 * for mail (at the port mail is sent to). */
struct mx_self {
	const char *const *names;
	size_t n_names;
	const struct dns_addr *addrs;
	size_t n_addrs;
};

/* The A and AAAA answers of one host. A status other than DNS_OK means no
 * address of that family (the count is then 0). */
struct mx_addrs {
	enum dns_status st4, st6;
	bool secure4, secure6;
	size_t n4, n6;
	struct dns_addr a4[MX_HOST_ADDRS], a6[MX_HOST_ADDRS];
};

/* One thing to try: an address of the MX host hosts->host[host]. */
struct mx_target {
	uint16_t pref;
	uint8_t host;
	struct dns_addr addr;
};

/* The second step's result: the targets in the order to try them. */
struct mx_plan {
	struct mx_outcome o;
	bool addr_capped;  /* more addresses than the limit */
	size_t n;
	struct mx_target t[MX_PLAN_MAX];
};

/* A uniform random number in [0, upper) (upper >= 1). */
typedef uint32_t mx_rand_fn(void *arg, uint32_t upper);

/* Step one, from the answer to the MX query of domain. */
void mx_hosts_from(const char *domain, const struct dns_answer *mx,
		   const struct mx_self *self, struct mx_hosts *out);

/* Copy the addresses of an A or AAAA answer (a->type says which) into
 * addrs (at most MX_HOST_ADDRS, of the matching family only). */
void mx_addrs_take(struct mx_addrs *addrs, const struct dns_answer *a);

/* Step two: addrs[i] holds the answers of hosts->host[i]. addr_limit: at
 * most this many targets (0 or above MX_PLAN_MAX: MX_PLAN_MAX). */
void mx_plan_build(const char *domain, const struct mx_hosts *hosts,
		   const struct mx_addrs *addrs, const struct mx_self *self,
		   size_t addr_limit, mx_rand_fn *rnd, void *rnd_arg,
		   struct mx_plan *out);

#endif
