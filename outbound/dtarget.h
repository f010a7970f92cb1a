/* outbound/dtarget.h: the targets of direct delivery (outbound/direct.h)
 * and the addresses that are down.
 *
 * A target is an MX host name, one of its addresses and the TLS an
 * attempt there uses (outbound/tlspolicy.h: DANE records, MTA-STS): a
 * session to it never carries mail of a domain whose policy it does not
 * satisfy. Targets are found through a hash of the name (any case) and
 * the address, then compared on their TLS. Each holds a queue of waiting
 * entries (struct dtarget_link, embedded in the caller's items) and the
 * counts the concurrency limits read; the owner keeps those counts.
 *
 * An address that gave no reply at all is down until a time, with the
 * reason; lookups forget entries that have expired.
 *
 * Loop thread only; the time is a parameter (no clock of its own). */
#ifndef KANTORPOS_OUTBOUND_DTARGET_H
#define KANTORPOS_OUTBOUND_DTARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/base/hmap.h"
#include "common/client/smtpclient.h"
#include "common/dns/dns_types.h"
#include "common/net/net.h"
#include "outbound/tlspolicy.h"

struct dtarget_link {
	struct dtarget_link *next;
};

struct dtarget {
	struct hmap_node node;
	struct dtarget *prev, *next;  /* every target, for walks */
	char name[DNS_NAME_MAX + 1];
	struct dns_addr addr;
	char text[NET_ADDRSTRLEN];
	struct tlsp_target tls;       /* its TLS: part of what it is */
	struct dtarget_link *head, *tail;
	size_t waiting;               /* entries in the queue */
	size_t carried, sessions;     /* the owner's counts */
	void *owner;                  /* the owner's, set by it */
};

struct dtargets {
	struct hmap map;
	struct dtarget *first;
	struct hmap down;
};

void dtargets_init(struct dtargets *ts);

/* Free every target and down entry. */
void dtargets_free(struct dtargets *ts);

/* The target for name, a and tls, made when there is none. NULL: out of
 * memory. */
struct dtarget *dtarget_get(struct dtargets *ts, const char *name,
			    const struct dns_addr *a,
			    const struct tlsp_out *tls);

/* Free t when nothing uses it any more (no entry waiting, none carried,
 * no session). */
void dtarget_release(struct dtargets *ts, struct dtarget *t);

/* Queue an entry at the back (or, with front, at the front). */
void dtarget_push(struct dtarget *t, struct dtarget_link *l, bool front);

/* The first entry, taken out; NULL when none waits. */
struct dtarget_link *dtarget_pop(struct dtarget *t);

/* Take l out of t's queue, wherever it is. */
void dtarget_unlink(struct dtarget *t, struct dtarget_link *l);

/* Why a is down at now, or NULL when it is not. */
const char *dtargets_down(struct dtargets *ts, const struct dns_addr *a,
			  time_t now);

/* a is down until `until` for why. false when it already was (or
 * without memory): nothing changed. */
bool dtargets_mark_down(struct dtargets *ts, const struct dns_addr *a,
			time_t now, time_t until, const char *why);

#endif
