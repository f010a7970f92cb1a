/* smtpd/session.h: one SMTP session (RFC 5321): its states and flags, the
 * input loop that cuts what the client sends into command lines, DATA
 * content and BDAT octets, the replies, the bad-command count, the
 * transaction, and its lifecycle from the greeting to the disconnect line.
 *
 * The session never touches a socket, a TLS object, the password database
 * or the server itself. Below it, struct smtp_ops is its environment: the
 * daemon binds it to a conn, the auth module and the server's trace
 * (smtpd/client.c); the unit tests bind it to a fake that records output.
 * Above it, struct smtp_hooks is the protocol: the session hands each
 * command line and the message content to the hooks and knows no command
 * itself (smtpd/commands.h, smtpd/transaction.h).
 *
 * Everything here runs on the loop thread and never blocks. Handlers
 * return PROTO_DONE / PROTO_ASYNC / PROTO_CLOSE; asynchronous work pauses
 * the session (smtp_pause, state BUSY) and its completion resumes it
 * (smtp_resume), after which buffered input is processed in order. */
#ifndef KANTORPOS_SMTPD_SESSION_H
#define KANTORPOS_SMTPD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mail/address.h"
#include "common/config/config.h"
#include "common/net/conn.h"
#include "common/proto/proto.h"
#include "common/lookup/recipient.h"
#include "pipeline/pipeline.h"
#include "smtpd/data.h"
#include "smtpd/outq.h"
#include "smtpd/params.h"
#include "smtpd/smtpd.h"

struct runner;
struct smtp_session;

/* Protocol phases (RFC 5321 §4.1.4); exactly one at a time. */
enum smtp_state {
	SMTP_S_INIT = 0, /* greeted; no EHLO/HELO yet */
	SMTP_S_READY,    /* EHLO/HELO done, no transaction */
	SMTP_S_MAIL,     /* MAIL accepted, no valid recipient yet */
	SMTP_S_RCPT,     /* at least one valid recipient */
	SMTP_S_DATA,     /* reading message content after 354 */
	SMTP_S_BDAT,     /* reading the octets of a BDAT chunk */
	SMTP_S_AUTH,     /* waiting for a SASL response line */
	SMTP_S_BUSY,     /* input paused: a login or a commit is running */
	SMTP_S_QUIT,     /* closing */
	SMTP_S_COUNT
};

/* Orthogonal facts (smtp_session.flags). */
#define SMTP_F_TLS 0x01     /* TLS is on (STARTTLS done or implicit) */
#define SMTP_F_AUTH 0x02    /* authenticated; user holds the mailbox */
#define SMTP_F_EHLO 0x04    /* the client said EHLO (not HELO) */
#define SMTP_F_STOP 0x08    /* graceful stop: 421 once the transaction ends */
#define SMTP_F_CLOSED 0x10  /* the connection is gone; free when idle */
#define SMTP_F_CLOSING 0x20 /* the session asked its environment to close */

/* Command lines: RFC 5321 §4.5.3.1.4 (512 with CRLF), MAIL/RCPT raised by
 * the parameters offered (SIZE, BODY, AUTH= 500, SMTPUTF8: RFC 1870 §3,
 * RFC 4954 §3, RFC 6531 §3.1), and SASL responses (RFC 4954 §4: 12288).
 * The environment's line reader must take lines of SMTP_LINE_MAX octets,
 * terminator included. */
#define SMTP_CMD_MAX 512
#define SMTP_MAILRCPT_MAX (512 + 26 + 500 + 10 + 32)
#define SMTP_SASL_MAX 12288
#define SMTP_LINE_MAX (SMTP_SASL_MAX + 2)

/* A session id with its NUL: the server's ids (SERVER_SID_SIZE). */
#define SMTP_SID_SIZE 17

/* Result of a login (ops->login), as the environment reports it. */
enum smtp_login_result {
	SMTP_LOGIN_OK = 0, /* credentials right: 235 */
	SMTP_LOGIN_FAIL,   /* wrong password or unknown user: 535 5.7.8 */
	SMTP_LOGIN_TEMP,   /* throttled or a system failure: 454 4.7.0 */
};

/* What the session needs from its environment. env is the caller's. */
struct smtp_ops {
	/* Queue reply bytes; 0, or -1 when the connection is going away. */
	int (*write)(void *env, const void *data, size_t len);
	/* The protocol trace (-t): a line as received (incoming, secrets
	 * already masked) or sent, without its CRLF. */
	void (*trace)(void *env, bool incoming, const char *text, size_t len);

	/* Input as the environment has buffered it, framed as by
	 * common/net/buf (lines of at most SMTP_LINE_MAX octets, an overlong
	 * one reported once with CONN_LINE_OVERLONG). next_line: 1 with the
	 * next complete line, 0 when there is none, in raw mode, or while
	 * paused, closing or starting TLS. read_raw: up to max octets as
	 * they came (0 likewise, except in raw mode); unread_raw gives back
	 * the last n of them; input_pending counts what is buffered. */
	int (*next_line)(void *env, struct conn_line *line_r);
	size_t (*read_raw)(void *env, const char **data_r, size_t max);
	void (*unread_raw)(void *env, size_t n);
	size_t (*input_pending)(void *env);
	/* Raw mode (message content) on or off. */
	void (*set_raw)(void *env, bool raw);
	/* Stop and restart taking input; after resume, buffered input comes
	 * again through smtp_session_input. */
	void (*pause)(void *env);
	void (*resume)(void *env);

	/* Could STARTTLS start now (a certificate is loaded)? */
	bool (*tls_available)(void *env);
	/* Start the TLS handshake after the "220" already queued: every
	 * plaintext octet buffered is discarded, never read inside TLS (RFC
	 * 3207 §4.2, CVE-2011-0411), their count into *discarded_r.
	 * Completion: smtp_session_tls_ready. Returns 0 or -1. */
	int (*start_tls)(void *env, size_t *discarded_r);
	/* The protocol and cipher of the TLS in use, NULL without TLS. */
	const char *(*tls_version)(void *env);
	const char *(*tls_cipher)(void *env);

	/* Verify user and password (pwlen octets, wiped after the call:
	 * copy them) for mechanism mech ("PLAIN" or "LOGIN", static).
	 * Asynchronous: 0, and the answer comes later through smtp_auth_done
	 * (smtpd/authcmd.h), never from inside this call, unless the session
	 * closes first (then never); -1 when it cannot start. */
	int (*login)(void *env, const char *mech, const char *user,
		     const char *pw, size_t pwlen);

	/* The message pipeline's environment for this session's messages
	 * as it is now (a reload replaces the user db and the aliases). */
	void (*pipe_env)(void *env, struct pipe_env *e);
	/* Bring the user db and the aliases up to date before a
	 * transaction (MAIL): 0 when they are, 1 when that runs off the
	 * loop and smtp_refresh_done follows (never from inside this call;
	 * never once the session has closed). */
	int (*refresh)(void *env);
	/* The outbound queue's runner (ETRN), NULL when there is none. */
	struct runner *(*runner)(void *env);

	/* Close now, or once the queued output is sent (after_flush); the
	 * end is reported through smtp_session_closed. reason is for the
	 * log. */
	void (*close)(void *env, bool after_flush, const char *reason);
	/* The session has been freed; the environment may go too. */
	void (*release)(void *env);
};

/* The protocol above the session (smtpd/client.c binds them to
 * smtpd/commands.c and smtpd/transaction.c). */
struct smtp_hooks {
	/* One input line outside message content (a command, or a SASL
	 * response in SMTP_S_AUTH). Returns a proto_outcome. */
	int (*line)(struct smtp_session *s, struct conn_line *line);
	/* Before taking up to want octets of content: true when the session
	 * was paused to make room first (take nothing now). */
	bool (*content_wait)(struct smtp_session *s, size_t want);
	/* Message content as the data parser gave it out. */
	void (*content)(struct smtp_session *s, const char *buf, size_t len);
	/* The end of the message (final dot, or BDAT LAST): reply, or go
	 * asynchronous. Returns a proto_outcome. */
	int (*content_end)(struct smtp_session *s);
	/* The connection is gone: forget what waits for this session. */
	void (*closed)(struct smtp_session *s);
};

/* Fixed facts of a session, from its listener and the configuration. */
struct smtp_session_cfg {
	const struct config *cfg;        /* pinned for the session's life */
	const struct config_listen *lc;  /* its listener */
	const char *sid;                 /* session id for the log (copied) */
	const char *peer;                /* client address (copied) */
};

/* What the transaction waits for (smtp_tx.wait). */
enum smtp_wait {
	SMTP_W_NONE = 0,
	SMTP_W_MAIL,  /* a stage at MAIL */
	SMTP_W_RCPT,  /* a stage at RCPT (the quota check) */
	SMTP_W_BEGIN, /* a stage as the content starts */
	SMTP_W_ROOM,  /* the message's file, made on the io pool */
	SMTP_W_END,   /* a stage at the end, or the commit */
};

/* The message of the current transaction: the pipeline has it, from MAIL
 * to its end (transaction.c). */
struct smtp_tx {
	struct pipe_tx *ptx;
	struct pipe_env env;        /* refreshed at every step (reloads) */
	struct params_mail params;
	bool bdat;                  /* BDAT chunks started this transaction */
	/* Content. */
	struct data_parser dp;
	int md_err;                 /* content not taken (MD_ERR_*), sticky */
	uint64_t bdat_left;         /* octets of the current chunk to read */
	bool bdat_last;
	bool bdat_discard;          /* read the chunk, then reply bdat_err */
	int bdat_code;
	const char *bdat_enh, *bdat_text;
	/* A step the pipeline finishes later. */
	enum smtp_wait wait;
	enum smtp_state resume_in;  /* the state to go back to */
	char *wait_arg;             /* MAIL/RCPT argument, for the log */
	uint64_t wait_chunk;        /* BEGIN of a BDAT: its first chunk */
};

/* The session. Its fields are shared with the handlers (commands.c,
 * authcmd.c, etrncmd.c, transaction.c); the environment sees only the
 * functions below. */
struct smtp_session {
	const struct smtp_ops *ops;
	void *env;
	const struct smtp_hooks *hooks;
	const struct config *cfg;
	const struct config_listen *lc;
	char sid[SMTP_SID_SIZE];
	char peer[64];

	enum smtp_state state;
	unsigned flags;
	char helo[ADDR_DOMAIN_MAX + 1];
	char user[ADDR_KEY_SIZE];    /* authenticated mailbox */
	struct proto_bad bad;

	/* SASL exchange (authcmd.c). */
	int sasl_mech;               /* 1 PLAIN, 2 LOGIN */
	char sasl_user[ADDR_KEY_SIZE];
	bool sasl_have_user;

	struct smtp_tx tx;
	unsigned long n_msgs;        /* messages begun: their ids' suffix */
	enum smtp_state chunk_prev;  /* state to return to after a BDAT chunk */
	char *buf;                   /* content output buffer */
	size_t buf_size;
	bool job_running;            /* a worker holds a pointer to us */
	char *refresh_arg;           /* a MAIL waiting for ops->refresh */
	bool etrn_waiting;           /* ETRN: the runner holds etrn_wait */
	void *etrn_wait;
};

/* For the environment. */

/* Create a session in SMTP_S_INIT. Nothing is written yet. Returns it, or
 * NULL (ENOMEM). It is freed by smtp_session_maybe_free once closed. */
struct smtp_session *smtp_session_new(const struct smtp_ops *ops, void *env,
				      const struct smtp_hooks *hooks,
				      const struct smtp_session_cfg *cfg);

/* Queue the greeting "220 <hostname> ESMTP kantorpos ready" (at once, or
 * after the handshake of implicit TLS: RFC 8314 §3.1). */
void smtp_session_greet(struct smtp_session *s);

/* Input is buffered: take command lines, content and chunk octets until
 * none is left, or the session pauses or closes. */
void smtp_session_input(struct smtp_session *s);

/* The TLS handshake completed (STARTTLS or implicit): log it and, for
 * implicit TLS, greet. */
void smtp_session_tls_ready(struct smtp_session *s);

/* The idle timer expired: 421 and close. */
void smtp_session_timeout(struct smtp_session *s);

/* The server is stopping: 421 now, or once the message in flight is
 * done. */
void smtp_session_shutdown(struct smtp_session *s);

/* The connection is gone (reason for the log line): nothing more is
 * written; the session is freed now or when its running job ends. */
void smtp_session_closed(struct smtp_session *s, const char *reason);

/* Free a closed session once no job holds it (then ops->release). Called
 * by smtp_session_closed and by job completions. */
void smtp_session_maybe_free(struct smtp_session *s);

/* For the handlers. */

/* The listener role's rules. */
bool smtp_is_submission(const struct smtp_session *s);
/* AUTH may be used now: TLS on, or the listener is plaintext-ok. */
bool smtp_auth_allowed(const struct smtp_session *s);
/* STARTTLS may be offered: no TLS yet, not an implicit-TLS listener, and
 * the environment can start it. */
bool smtp_starttls_offered(const struct smtp_session *s);
/* The TLS protocol and cipher in use ("TLSv1.3"), NULL without TLS or
 * once closed: for the log and the Received header. */
const char *smtp_tls_version(const struct smtp_session *s);
const char *smtp_tls_cipher(const struct smtp_session *s);

/* Change state, with a trace line. */
void smtp_set_state(struct smtp_session *s, enum smtp_state state);
const char *smtp_state_name(enum smtp_state state);

/* Queue one reply line: "CODE ENH text" (enh NULL: no enhanced code),
 * traced. The only way a reply reaches the client. */
void smtp_reply(struct smtp_session *s, int code, const char *enh,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A line of a multi-line reply ("CODE-text"): the last one goes through
 * smtp_reply. */
void smtp_reply_more(struct smtp_session *s, int code, const char *enh,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Count a bad command and reply code/enh/text; at the limit reply 421
 * instead and return PROTO_CLOSE (RFC 5321 §7.8), else PROTO_DONE. */
int smtp_bad(struct smtp_session *s, int code, const char *enh,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Log a refused envelope step: "<sid> reject stage=... reason=...". */
void smtp_log_reject(struct smtp_session *s, const char *stage,
		     const char *arg, int code, const char *text);

/* Forget the transaction (RSET, EHLO, end of a message); aborts a pending
 * delivery and frees the recipients. */
void smtp_tx_reset(struct smtp_session *s);

/* Pause input while a handler's asynchronous work runs, and resume it
 * (lines already buffered are then processed). */
void smtp_pause(struct smtp_session *s);
void smtp_resume(struct smtp_session *s);
/* A paused handler's work ended with outcome rc (a proto_outcome): close
 * for PROTO_CLOSE, resume for PROTO_DONE, nothing for PROTO_ASYNC (it
 * paused again). */
void smtp_async_done(struct smtp_session *s, int rc);

/* Start reading message content: DATA (dot mode, line input) or a BDAT
 * chunk of `size` octets (raw input). */
void smtp_start_data(struct smtp_session *s);
void smtp_start_chunk(struct smtp_session *s, uint64_t size);
/* Read and drop a BDAT chunk, then reply code/enh/text. */
void smtp_discard_chunk(struct smtp_session *s, uint64_t size, int code,
			const char *enh, const char *text);

/* STARTTLS after its 220: forget the session's state (RFC 3207 §4.2),
 * discard pipelined plaintext and handshake. */
void smtp_start_tls(struct smtp_session *s);

/* Ask the environment for a login (ops->login) and pause: 0, or -1 when
 * it cannot start (not paused). */
int smtp_login(struct smtp_session *s, const char *mech, const char *user,
	       const char *pw, size_t pwlen);


#endif
