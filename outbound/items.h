/* outbound/items.h: the blocking steps of queue delivery, run on the worker
 * pool by the runner (outbound/runner.h) and directly by tools: routing a
 * domain, taking an item for delivery, recording SMTP results, deferring,
 * bouncing with a DSN, delivering locally, and the expiry sweep.
 * Internal to outbound/: not for use by the daemons. */
#ifndef KANTORPOS_OUTBOUND_ITEMS_H
#define KANTORPOS_OUTBOUND_ITEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/config/config.h"
#include "common/client/smtpclient.h"
#include "store/queue.h"

struct aliases;
struct userdb;

/* Where mail for a domain goes. */
enum outb_route {
	OUTB_ROUTE_NONE,  /* no way out (an address literal) */
	OUTB_ROUTE_ETRN,  /* held for an etrn_domain */
	OUTB_ROUTE_LOCAL, /* a local_domain: Maildir delivery */
	OUTB_ROUTE_RELAY, /* the relayhost (config_relayhost_takes) */
	OUTB_ROUTE_DIRECT, /* the domain's MX hosts */
};

/* Bits of the *kick_r out-parameters: routes that got new items (DSNs). */
#define OUTB_KICK_LOCAL 0x1u
#define OUTB_KICK_RELAY 0x2u
#define OUTB_KICK_DIRECT 0x4u

/* What the steps share; each call reads it only. now is the clock. */
struct outb_ctx {
	const struct config *cfg;
	struct queue *q;
	struct userdb *db; /* may be NULL: local recipients then stay queued */
	/* The local route's aliases (common/lookup/aliases.h); NULL: none. */
	const struct aliases *al;
	time_t now;
	/* outb_item_record: the next hop offered DSN (RFC 3461), so the
	 * request went on with the message and no relayed report is owed. */
	bool next_hop_dsn;
	/* outb_item_record, outb_item_defer, outb_item_reply_all: the TLS
	 * mode of the attempt, kept for `kantorpos queue list`; NULL: none
	 * (the route does not say, or no host was tried). */
	const char *tls_mode;
};

/* The route of domain; *etrn_r (may be NULL) gets the etrn_domain entry. */
enum outb_route outb_route_of(const struct config *cfg, const char *domain,
				const struct config_etrn_domain **etrn_r);

/* Lock item id for delivery. Expired items are bounced and removed here;
 * with due_only, items whose next attempt lies ahead are skipped.
 * Returns 1 with *it_r (locked, at least one pending recipient), 0 when
 * skipped (busy, gone, not due, expired and bounced), -1 on error. */
int outb_item_take(const struct outb_ctx *ctx, const char *id,
		    bool due_only, struct queue_item **it_r, unsigned *kick_r);

/* The RFC 3461 values of env for msg, whose recipients are env's
 * map[0..n) (the client passes them on, as they came, to a server that
 * offers DSN): one heap block in *block_r, which the caller frees once
 * the message is sent. 0 or -1. */
int outb_item_dsn_args(const struct queue_env *env, const size_t *map,
		       size_t n, struct smtpc_msg *msg, void **block_r);

/* The SMTP message of a locked item: its pending recipients into *rcpts_r
 * and their envelope indexes into *map_r (heap arrays, the caller frees
 * them; the strings are the item's), the body, its size and type from
 * the envelope. Returns the number of recipients, or -1 (ENOMEM). */
long outb_item_msg(struct queue_item *it, struct smtpc_msg *msg_r,
		   const char ***rcpts_r, size_t **map_r);

/* Apply the replies of one SMTP attempt and release it: replies[i] belongs
 * to the envelope recipient map[i]. 2xx: delivered (with a relayed DSN
 * for NOTIFY=SUCCESS when the next hop offers no DSN); 5xx: failed with
 * a DSN to the sender (as NOTIFY asks); 4xx or no reply: still pending,
 * with back-off (and one delay DSN after queue_delay_warning). The item
 * is removed when nothing is pending. Consumes it. Returns 0 or -1 (the
 * item then stays as it was: it is retried, never lost). */
int outb_item_record(const struct outb_ctx *ctx, struct queue_item *it,
		      const size_t *map, const struct smtpc_reply *replies,
		      size_t n, const char *remote, unsigned *kick_r);

/* A temporary failure without any reply (no connection, no route): lock
 * id, count the attempt, set the back-off and last error (or bounce it if
 * its lifetime is over) and release. Busy or gone items are left alone.
 * Returns 0 or -1. */
int outb_item_defer(const struct outb_ctx *ctx, const char *id,
		     const char *error, unsigned *kick_r);

/* Give every pending recipient of item id the same reply, one not of a
 * remote server (the verdict of the DNS: null MX, no such domain, a lookup
 * failure): 5xx bounces them with one DSN, 4xx keeps them with back-off,
 * as outb_item_record does; the remote MTA of an earlier attempt is
 * forgotten, so that the DSN names none. Busy or gone items are left
 * alone. Returns 0, or -1 (the item stays as it was). */
int outb_item_reply_all(const struct outb_ctx *ctx, const char *id,
			int code, const char *text, unsigned *kick_r);

/* Deliver a local-route item into the Maildirs of its recipients (the
 * aliases of ctx->al, the user database and catch-all as at RCPT);
 * unknown users fail with 5.1.1, a lookup that fails as it would give 451
 * at RCPT (an alias target that is no user) keeps the recipient queued.
 * Returns 1 when handled, 0 when skipped (busy, gone, not due), -1. */
int outb_item_local(const struct outb_ctx *ctx, const char *id,
		     bool due_only, unsigned *kick_r);

/* The administrator gives up on item id (kantorpos queue bounce): every
 * pending recipient fails with 5.0.0 "delivery cancelled by the
 * administrator", one DSN goes to the sender (none for <>), and the item
 * is removed. Returns 1 done, 0 when it is locked (being delivered),
 * gone or not an item id, -1 on error (the item then stays as it was). */
int outb_item_cancel(const struct outb_ctx *ctx, const char *id,
		     unsigned *kick_r);

/* Bounce every item whose lifetime is over (those not locked by someone
 * else). *count_r (may be NULL) gets how many. Returns 0 or -1. */
int outb_sweep_expired(const struct outb_ctx *ctx, size_t *count_r,
			unsigned *kick_r);

/* The lifetime of mail for domain: its etrn_domain's, else the global. */
unsigned outb_lifetime(const struct config *cfg, const char *domain);

/* Back-off after `attempts` failures: queue_retry_min doubled per further
 * failure, at most queue_retry_max. */
unsigned outb_backoff(const struct config *cfg, unsigned attempts);

#endif
