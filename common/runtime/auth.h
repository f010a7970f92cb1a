/* common/runtime/auth.h: the asynchronous login both daemons use (POP3 USER/PASS and
 * AUTH, SMTP AUTH): per-address throttle check, the user db re-read when
 * its file changed (on the storage pool), Argon2id verification on the
 * CPU pool (common/runtime/server_pools.h), the delay of a failure reply, and one log line per
 * attempt:
 *   "<sid> login user=<u> client=<ip> result=ok|fail|throttled|error
 *    service=smtp|pop3 mechanism=<m>" [reason="..."] (one line)
 * at info level for ok, warn for fail and throttled (what the fail2ban
 * filter etc/fail2ban/filter.d/kantorpos.conf matches), error for error.
 * <u> is the name as the client sent it, escaped as one token (bytes
 * outside printable ASCII, space, '"' and '\' as \xNN) and cut at 128
 * bytes ending in "...", so the line has exactly one user= and client=.
 * The daemon pauses the session's input, calls auth_start, and replies in
 * its done callback. It never sees the hash or the timing decisions.
 */
#ifndef KANTORPOS_COMMON_AUTH_H
#define KANTORPOS_COMMON_AUTH_H

#include <stddef.h>

struct server;
struct auth;

enum auth_result {
	AUTH_OK = 0,    /* right password: log in as `mailbox` */
	AUTH_FAIL,      /* wrong password or unknown user (indistinguishable;
			 * the reply came after the throttle's delay):
			 * SMTP 535 5.7.8, POP3 -ERR [AUTH] */
	AUTH_THROTTLED, /* too many failures from this address; the password
			 * was not checked: SMTP 454 4.7.0, POP3 -ERR [SYS/TEMP].
			 * Same reply whatever the password (RFC 8314 4.1) */
	AUTH_ERROR,     /* the stored hash cannot be verified or resources
			 * ran out: SMTP 454 4.7.0, POP3 -ERR [SYS/TEMP] */
};

/* The outcome, on the loop thread, never from inside auth_start. mailbox
 * is the canonical mailbox key ("alice@example.org", the Maildir name) for
 * AUTH_OK and NULL otherwise; it is valid during the call only. The
 * handle is freed when this returns: do not auth_cancel it afterwards. */
typedef void auth_done_fn(void *arg, enum auth_result result,
			  const char *mailbox);

/* Start a login of `user` with password pw[0..pwlen) from client address
 * peer (the throttle key), logging under session id sid with the
 * mechanism mech ("PLAIN", "LOGIN", "USER" for POP3 USER/PASS; a static
 * string, not copied) and the service of the daemon. Everything else is
 * copied: the caller may wipe its buffers at once; the copy of pw is wiped
 * with sodium_memzero after use. Re-reads the user db first if its file
 * changed (on the storage pool, before the verification), so a user just
 * added can log in. Never blocks: a full worker queue is retried from a
 * timer.
 * Returns a handle, or NULL when out of memory (no callback then; reply
 * as for AUTH_ERROR). */
struct auth *auth_start(struct server *srv, const char *peer,
			const char *sid, const char *mech, const char *user,
			const char *pw, size_t pwlen, auth_done_fn *done,
			void *arg);

/* The session is going away while its login runs: done will not be
 * called. A verification already on a worker finishes there and then
 * everything is freed; a pending delay is cut short. Call before the
 * done callback only; NULL is fine. */
void auth_cancel(struct auth *a);

#endif
