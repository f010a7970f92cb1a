/* common/users/throttle.h: failed-login throttling per client address.
 *
 * After a failed login from an address the reply is delayed by
 * base_delay * 2^(failures-1), capped at max_delay. At most `limit`
 * failures are counted per address per `window` seconds (from the first
 * failure); once the limit is reached every further attempt from that
 * address is refused without checking the password until the window has
 * passed. A success clears the address. Other addresses are unaffected.
 *
 * Memory is bounded: at most max_entries addresses are remembered; a new
 * one evicts the least recently touched.
 *
 * Pure: no I/O, no clock, no globals. The caller passes the current time
 * in seconds (any monotonic-enough clock, e.g. ev_now) so that tests need
 * no sleeping. Not thread-safe: one table per event loop.
 */
#ifndef KANTORPOS_COMMON_THROTTLE_H
#define KANTORPOS_COMMON_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>

/* Defaults for throttle_new. */
#define THROTTLE_MAX_DELAY 30.0
#define THROTTLE_MAX_ENTRIES 10000
/* Longest address key kept (longer keys are cut; numeric addresses fit). */
#define THROTTLE_KEY_MAX 63

struct throttle;

/* A table with these settings (see throttle_configure); max_entries 0
 * means THROTTLE_MAX_ENTRIES. Returns NULL with errno ENOMEM. */
struct throttle *throttle_new(double base_delay, double max_delay,
			      unsigned long long limit, double window,
			      size_t max_entries);

/* Change the settings (a reload); recorded failures stay. base_delay and
 * max_delay in seconds (>= 0), limit >= 1 failures, window > 0 seconds. */
void throttle_configure(struct throttle *t, double base_delay,
			double max_delay, unsigned long long limit,
			double window);

void throttle_free(struct throttle *t);

/* May addr try a login now? Returns true, or false while it is refused
 * (its failures reached the limit and the window has not passed). */
bool throttle_allowed(struct throttle *t, const char *addr, double now);

/* Record a failed login from addr. Returns the delay in seconds before
 * the failure reply. *limited_r (may be NULL) becomes true when this
 * failure reached the limit, once per window: the caller logs it. */
double throttle_fail(struct throttle *t, const char *addr, double now,
		     bool *limited_r);

/* A successful login from addr: forget its failures. */
void throttle_success(struct throttle *t, const char *addr);

/* Addresses remembered (for tests and statistics). */
size_t throttle_count(const struct throttle *t);

#endif
