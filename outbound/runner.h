/* outbound/runner.h: the queue runner — delivers what store/queue holds, on a
 * daemon's (or a tool's) libev loop with its worker pool. kantorpos-smtpd
 * links it for ETRN and the relay host; `kantorpos queue flush` runs one
 * in-process. It lives in outbound/ (liboutbound.a), above store/ and common/,
 * because it needs the loop, the pool, the SMTP client and local delivery.
 *
 * A flush delivers the items of one route: an etrn_domain (to its
 * deliver_to host, or to the client that issued ETRN), the relay host,
 * local delivery (notifications for local senders; through the aliases
 * file of the configuration, re-read on the pool when it changed), or
 * direct delivery to the MX hosts of foreign domains (outbound/direct.h:
 * many sessions at once, by destination). At most one flush per route
 * runs at a time; messages go one after another over one SMTP
 * connection. Every blocking step (queue scan, item lock, envelope
 * update, DSN, Maildir delivery) runs on the worker pool; the runner's
 * own code runs on the loop thread only and never blocks.
 *
 * Periodic work (when opts.tick > 0): etrn_domains with a retry interval
 * and the relay/local/direct routes are flushed for items whose back-off is over,
 * and expired items anywhere are bounced. ETRN and explicit flushes ignore
 * the back-off. */
#ifndef KANTORPOS_OUTBOUND_RUNNER_H
#define KANTORPOS_OUTBOUND_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct config;
struct dns;
struct ev_loop;
struct queue;
struct runner;
struct userdb;
struct worker;

/* The clock; injectable so tests can age mail. */
typedef time_t runner_clock_fn(void *arg);

struct runner_opts {
	const struct config *cfg; /* must outlive the runner */
	struct queue *queue;
	struct userdb *userdb;    /* for local delivery; may be NULL */
	runner_clock_fn *clock;   /* NULL: time() */
	void *clock_arg;
	double tick;              /* seconds between periodic runs; 0: none */
	/* The relayhost's AUTH password (relayhost auth; copied, and wiped
	 * when the runner is freed); NULL: none, and then relay sessions
	 * that need it fail (their items stay queued). */
	const char *relay_password;
	struct dns *dns;          /* for direct delivery; NULL: the runner
				   * starts its own (dns_resolver,
				   * dns_trust_anchor) */
};

/* Outcome of a flush request. */
enum runner_result {
	RUNNER_STARTED, /* count items found, delivery started */
	RUNNER_EMPTY,   /* nothing queued for it */
	RUNNER_ERROR,   /* the queue could not be read (or no destination) */
};

/* Called on the loop once the queue was scanned for a flush. */
typedef void runner_flush_fn(void *arg, enum runner_result res, size_t count);

/* Create a runner (and its outbound TLS contexts). Returns it or NULL with
 * a message in err. */
struct runner *runner_new(struct ev_loop *loop, struct worker *pool,
			  const struct runner_opts *opts, char *err,
			  size_t errlen);

/* Abort running sessions (their items stay queued) and free the runner
 * once nothing is in flight on the pool: call it after runner_busy() is 0,
 * or accept that worker_free runs the remaining done functions (they then
 * only free memory). NULL is fine. */
void runner_free(struct runner *r);

/* Stop starting work: the periodic timer stops, running SMTP sessions are
 * aborted (their items stay queued), pending flush callbacks get
 * RUNNER_ERROR, and later flush requests fail (ECANCELED). Pool jobs in
 * flight still finish: run the loop until runner_busy() is 0, then
 * runner_free. */
void runner_shutdown(struct runner *r);

/* ETRN: flush the items of etrn_domain entry covering domain whose route
 * domain is domain (or, with subdomains, ends in it). client is the
 * address that asked (used for "deliver_to client"; may be NULL then the
 * entry must name a host). Returns 0 when the scan started (done follows
 * with the count), 1 when a flush of that entry is already running (no
 * callback; a new scan follows when it ends), -1 (errno: ENOENT no such
 * etrn_domain, EINVAL no destination, else the pool's). */
int runner_flush_etrn(struct runner *r, const char *domain, bool subdomains,
		      const char *client, runner_flush_fn *done, void *arg);

/* Forget every pending done callback with this arg (a session closed). */
void runner_cancel(struct runner *r, void *arg);

/* Flush everything that has a destination now (every etrn_domain with a
 * deliver_to host, the relay host, local and direct delivery), and bounce
 * expired items; with domain, only that etrn_domain (or local/relay/direct
 * route domain). due_only: only the items whose next attempt has come
 * (else every one, ignoring the back-off).
 * Returns the number of flushes started, or -1 (errno). */
int runner_flush_all(struct runner *r, const char *domain, bool due_only);

/* New items for the relay, local or direct route were queued: deliver them soon
 * (a flush for their due items, or another round after the running one). */
void runner_kick(struct runner *r);

/* Flushes and pool jobs in flight; 0 when idle. */
size_t runner_busy(const struct runner *r);

/* Called (on the loop) each time the runner becomes idle. */
void runner_on_idle(struct runner *r, void (*fn)(void *arg), void *arg);

/* Counters since creation, for logs and `kantorpos queue flush`. */
struct runner_stats {
	size_t sent, deferred, bounced, sessions_failed;
};
void runner_get_stats(const struct runner *r, struct runner_stats *st_r);

#endif
