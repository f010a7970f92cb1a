/* store/queue_env.h: the envelope of one outbound queue item (sender,
 * recipients with their delivery state, route domain, times, attempts,
 * last error) and its text form on disk. Pure: no I/O, no globals, safe on
 * hostile input (it will be fuzzed).
 *
 * The file is UTF-8 text, one field a line, fields separated by a TAB:
 *   kantorpos-queue	1
 *   sender	alice@example.org          (empty value for the null path <>)
 *   domain	backup.test                (the route: lower case)
 *   arrival	1700000000                 (seconds since the epoch)
 *   attempts	2
 *   next	1700000600                 (earliest periodic retry)
 *   error	connect to 192.0.2.1 port 25: Connection refused
 *   remote	mx.backup.test             (last remote MTA, for DSNs)
 *   body	8BITMIME                   (optional: 8BITMIME or BINARYMIME, RFC
 *                                   6152 / RFC 3030; absent: 7-bit)
 *   smtputf8	1                  (optional: RFC 6531 message)
 *   ret	HDRS                       (optional: RFC 3461 RET=, FULL or HDRS)
 *   envid	QQ+2B1                     (optional: RFC 3461 ENVID=, as sent)
 *   rcpt	P	-	bob@backup.test	-
 *   dsn	SUCCESS,DELAY	rfc822;bob@backup.test	delayed
 *   rcpt	F	5.1.1	carol@backup.test	550 5.1.1 no such user
 * A recipient is P (pending), D (delivered) or F (failed, DSN issued);
 * its status is an RFC 3463 code or "-", its diagnostic the remote reply
 * or "-". The optional dsn line after a rcpt line is that recipient's
 * DSN request and state: NOTIFY (NEVER, or a list of SUCCESS, FAILURE,
 * DELAY; "-" when not given), ORCPT as sent ("-" when not given), and
 * "delayed" once a delay notification went out for it ("-" before);
 * a recipient without one asked nothing. Values never hold TAB, CR, LF or
 * other control bytes: setters turn them into spaces. */
#ifndef KANTORPOS_STORE_QUEUE_ENV_H
#define KANTORPOS_STORE_QUEUE_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mail/dsn.h"

/* Longest item id (a unique Maildir-style base name), without the NUL. */
#define QUEUE_ID_MAX 200
/* Largest envelope file accepted when reading. */
#define QUEUE_ENV_MAX (4 * 1024 * 1024)

enum queue_rcpt_state {
	QUEUE_RCPT_PENDING, /* not delivered yet */
	QUEUE_RCPT_DONE,    /* the remote (or local store) accepted it */
	QUEUE_RCPT_FAILED,  /* permanent failure, DSN queued (or not owed) */
};

struct queue_rcpt {
	char *addr;     /* the mailbox, as received */
	enum queue_rcpt_state state;
	char *status;   /* RFC 3463 code ("5.1.1") or NULL */
	char *diag;     /* the remote reply or local reason, or NULL */
	unsigned notify;   /* NOTIFY= (DSN_NOTIFY_*); 0: not given */
	char *orcpt;       /* ORCPT= as sent, or NULL */
	bool delay_sent;   /* a delay DSN went out for it (never twice) */
};

/* The body type the message was received with (MAIL ... BODY=). */
enum queue_body {
	QUEUE_BODY_7BIT = 0,   /* none given, or 7BIT */
	QUEUE_BODY_8BITMIME,
	QUEUE_BODY_BINARYMIME,
};

struct queue_env {
	char id[QUEUE_ID_MAX + 1]; /* set by queue commit and on read */
	char *sender;       /* "" for <>; never NULL after parse */
	char *domain;       /* route domain, lower case; never NULL after parse */
	int64_t arrival;
	int64_t next_attempt;
	unsigned attempts;
	char *last_error;   /* NULL when none */
	char *last_tls;     /* the TLS mode of the last attempt ("dane",
			     * "opportunistic", ...), or NULL */
	char *remote_mta;   /* NULL when none */
	enum queue_body body;
	bool smtputf8;      /* SMTPUTF8 was given with MAIL */
	enum dsn_ret ret;   /* RET= (RFC 3461 §4.3) */
	char *envid;        /* ENVID= as sent, or NULL */
	struct queue_rcpt *rcpts;
	size_t n_rcpts;
};

/* Parse an envelope file of len bytes into env_r (zeroed first; the id is
 * left empty). Returns 0, or -1 with a static reason in *err_r (env_r is
 * then cleared). Caller frees with queue_env_clear. */
int queue_env_parse(const char *text, size_t len, struct queue_env *env_r,
		    const char **err_r);

/* Format env as the text above into a heap buffer (*text_r, NUL-terminated,
 * *len_r bytes). Returns 0, or -1 (ENOMEM, or EINVAL when sender or domain
 * is NULL or there is no recipient). */
int queue_env_format(const struct queue_env *env, char **text_r,
		     size_t *len_r);

/* Replace *field with a copy of s (NULL clears it) where control bytes
 * become spaces and the text is cut at 900 bytes. Returns 0 or -1 (ENOMEM;
 * *field unchanged). */
int queue_env_set(char **field, const char *s);

/* Append a pending recipient (copied, sanitised). Returns 0 or -1 (ENOMEM). */
int queue_env_add_rcpt(struct queue_env *env, const char *addr);

/* Number of recipients still pending. */
size_t queue_env_pending(const struct queue_env *env);

/* Free everything env owns and zero it (env itself is the caller's). */
void queue_env_clear(struct queue_env *env);

/* Does a route domain fall under want? Equal (ignoring ASCII case), or,
 * with subdomains, ending in "." want. want NULL matches everything. */
bool queue_domain_match(const char *domain, const char *want,
			bool subdomains);

/* The route domain of addr: the part after its last "@", lower-cased
 * (ASCII), into buf (size bytes; size - 1 is the longest domain taken).
 * Returns 0, or -1 with EINVAL when addr has no domain or a longer one. */
int queue_route_domain(const char *addr, char *buf, size_t size);

#endif
