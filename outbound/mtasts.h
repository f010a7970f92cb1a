/* outbound/mtasts.h: the MTA-STS policies (RFC 8461) of the domains direct
 * delivery sends to, on the loop: the _mta-sts TXT lookup (common/dns),
 * the fetch of https://mta-sts.DOMAIN/.well-known/mta-sts.txt
 * (common/client/httpsget.h) and the policy cache (§5.1; its rules and
 * file format are outbound/mtasts_cache.h's):
 * - a policy is fetched when none is cached, when the TXT id differs from
 *   the cached one, or when the cached one has less than a day (or a
 *   tenth of its max_age, whichever is smaller) left (§5.1: refresh
 *   before it lapses; the cached one applies meanwhile);
 * - a failing fetch, a failing TXT lookup and a vanished TXT record keep
 *   the cached policy until its max_age ends (§5.1, §10.3: an attacker
 *   can strip the record);
 * - a fetched policy of mode none replaces the cached one and is no
 *   policy (§8.3: how a domain opts out);
 * - the cache is kept on disk, DIR/<domain> a file each, so a restart
 *   keeps enforcing: a first line "kantorpos-mta-sts 1 ID FETCHED" and
 *   the policy body as fetched (parsed again when read). Files are read
 *   and written on the pool, replaced atomically (write, fsync, rename).
 *   In memory, a domain whose policy has lapsed and that nobody waits
 *   for is dropped after a while (its file is read again when needed).
 * Loop thread only; never blocks; waiters are called from the loop. */
#ifndef KANTORPOS_OUTBOUND_MTASTS_H
#define KANTORPOS_OUTBOUND_MTASTS_H

#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "outbound/mtasts_policy.h"

struct dns;
struct ev_loop;
struct mtasts;
struct worker;

/* A TXT answer this young is not asked for again. */
#define MTASTS_RECHECK 1
/* The whole policy fetch, in seconds (§3.3 suggests a minute). */
#define MTASTS_FETCH_TIMEOUT 60.0

struct mtasts_opts {
	struct ev_loop *loop;
	struct worker *pool;
	struct dns *dns;
	SSL_CTX *verify_ctx;
	const char *dir;          /* the cache directory (copied) */
	unsigned port;            /* of the policy hosts */
	double fetch_timeout;     /* 0: MTASTS_FETCH_TIMEOUT */
	time_t (*clock)(void *arg); /* NULL: time() */
	void *clock_arg;
};

/* A waiter for a domain's policy, embedded in the caller's object; fn
 * runs once, from the loop: p is the policy to apply (valid until
 * control returns to the loop), NULL for none. */
struct mtswait {
	struct mtswait *next;
	void *at;                 /* the cache's: where it waits */
	void (*fn)(struct mtswait *w, const struct mtasts_policy *p);
};

/* Returns it, or NULL (ENOMEM). */
struct mtasts *mtasts_new(const struct mtasts_opts *o);

/* Free it after mtasts_busy is 0 (lookups and fetches are cancelled, pool
 * jobs must be done). NULL is fine. */
void mtasts_free(struct mtasts *m);

/* The policy of domain (lower case): 1 when known now (*p_r, NULL for
 * none; w unused), 0 when w->fn follows, -1 (ENOMEM). */
int mtasts_get(struct mtasts *m, const char *domain, struct mtswait *w,
	       const struct mtasts_policy **p_r);

/* Forget a waiter whose fn has not run. */
void mtasts_unwait(struct mtasts *m, struct mtswait *w);

/* Stop: lookups and fetches cancelled, waiters told "no policy" never
 * (they are forgotten). */
void mtasts_shutdown(struct mtasts *m);

/* Lookups, fetches and pool jobs in flight; 0 when idle. */
size_t mtasts_busy(const struct mtasts *m);

#endif
