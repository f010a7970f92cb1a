/* outbound/direct.h: direct delivery — the queue items of the direct route
 * (OUTB_ROUTE_DIRECT: foreign domains the relayhost does not take) sent to
 * their domains' MX hosts, on the runner's loop (outbound/runner.h owns
 * one).
 *
 * A flush scans the queue (on the pool) for such items; each gets the
 * plan of its domain (outbound/mxcache.h: MX, then A/AAAA, looked up once
 * for all the domain's items) and waits at its first target, an MX host
 * address. Sessions to a target carry its waiting items one after another
 * over one connection (all recipients of an item in one transaction:
 * store/queue keeps one item per domain); a further session opens for
 * every DSESS_ITEMS (5) items waiting, up to outbound_concurrency per
 * target and outbound_max_sessions in all. A session that fails before
 * any transaction (no connection, a 4xx or 5xx greeting, EHLO or TLS
 * refused) sends its waiting items on to their next target; a target that
 * gave no reply at all is marked down for queue_retry_min, and other
 * items skip it without connecting. An item whose targets are all tried
 * is deferred with the last error — or bounced with the last reply when
 * every target greeted with 5xx. Per-recipient results go through
 * outb_item_record (5xx: one DSN for all that failed; 4xx: still queued).
 * A verdict of the DNS (null MX, NXDOMAIN, a loop, a lookup failure) goes
 * to every pending recipient through outb_item_reply_all.
 *
 * TLS is chosen per target in one place (direct.c tls_for, outbound/
 * tlspolicy.h: DANE, MTA-STS, outbound_tls). A session under a DANE or
 * MTA-STS policy logs its TLS-RPT result (outbound/tlsrpt.h) on its
 * delivery line, or, when it fails before any transaction, on a line per
 * item it was to carry. The sessions are direct_session.c's, the targets
 * outbound/dtarget.h's.
 *
 * Loop thread only; blocking steps (scan, lock, record) run on the pool. */
#ifndef KANTORPOS_OUTBOUND_DIRECT_H
#define KANTORPOS_OUTBOUND_DIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

struct config;
struct dns;
struct ev_loop;
struct direct;
struct queue;
struct userdb;
struct worker;

struct direct_opts {
	struct ev_loop *loop;
	struct worker *pool;
	const struct config *cfg;  /* must outlive it */
	struct queue *q;
	struct userdb *db;         /* for DSNs; may be NULL */
	struct dns *dns;           /* NULL: every item defers */
	SSL_CTX *verify_ctx, *any_ctx;
	time_t (*clock)(void *arg); /* NULL: time() */
	void *clock_arg;
	/* DSNs were queued: OUTB_KICK_* bits (outbound/items.h). */
	void (*kick)(void *arg, unsigned bits);
	/* direct_busy dropped to 0. */
	void (*idle)(void *arg);
	void *arg;
};

struct direct_stats {
	size_t sent, deferred, bounced, sessions_failed;
};

/* Returns it, or NULL with a message in err. */
struct direct *direct_new(const struct direct_opts *o, char *err,
			  size_t errlen);

/* Scan for direct items (of domain only, when not NULL; those due only,
 * with due_only) and deliver them; items already in hand are left to
 * their delivery. While a scan runs, another follows it. Returns 1 when
 * a scan started, 0 when one follows the running one, -1 (errno). */
int direct_flush(struct direct *d, const char *domain, bool due_only);

/* Scans, lookups, items, sessions and pool jobs in flight; 0 when idle. */
size_t direct_busy(const struct direct *d);

/* Stop: sessions aborted (their items stay queued), lookups cancelled,
 * no new scans. Pool jobs in flight finish; then direct_busy is 0. */
void direct_shutdown(struct direct *d);

/* Free it (after direct_busy is 0). NULL is fine. */
void direct_free(struct direct *d);

void direct_get_stats(const struct direct *d, struct direct_stats *st_r);

#endif
