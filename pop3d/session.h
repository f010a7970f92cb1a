/* pop3d/session.h: one POP3 session (RFC 1939): the AUTHORIZATION,
 * TRANSACTION and UPDATE states, session flags, the maildrop it holds, and
 * its lifecycle from greeting to the session-end log line.
 *
 * The session never touches a socket, the password database or a worker
 * thread itself. It talks to its environment through struct pop3_ops: the
 * daemon binds those to a conn, the auth module and the worker pool
 * (pop3d/client.c); the unit tests bind them to a fake that records output.
 * Everything here runs on the loop thread and never blocks, except the
 * maildrop reads of STAT/LIST/RETR (small, local files). Input lines reach
 * it through the commands (pop3d/commands.h), which use the helpers at the
 * end of this file; the session itself knows no command.
 *
 * Replies go out through ops->write; long replies (RETR, TOP, LIST, UIDL,
 * CAPA is short) are continuations: the session writes while the output
 * queue is below its high-water mark, then asks for a drain callback
 * (ops->request_drain) and resumes in pop3_session_drain. Input is paused
 * meanwhile, so pipelined commands wait their turn. */
#ifndef KANTORPOS_POP3D_SESSION_H
#define KANTORPOS_POP3D_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/net/conn.h"
#include "common/proto/proto.h"
#include "pop3d/retr.h"

struct mdrop;
struct mdrop_reader;

/* Protocol states (RFC 1939 §3). */
enum pop3_state {
	POP3_AUTHORIZATION = 0,
	POP3_TRANSACTION,
	POP3_UPDATE,
};

/* Session flags: orthogonal facts. */
#define POP3_F_TLS 0x01u          /* TLS is active on the connection */
#define POP3_F_TLS_OFFER 0x02u    /* the listener can start TLS (STLS) */
#define POP3_F_PLAIN_OK 0x04u     /* plaintext login allowed without TLS */
#define POP3_F_USER 0x08u         /* a USER name is waiting for PASS */
#define POP3_F_SASL_WAIT 0x10u    /* next line is an AUTH PLAIN response */
#define POP3_F_BUSY 0x20u         /* waiting for a login, update or drain */
#define POP3_F_CLOSING 0x40u      /* the session asked to close */

/* Result of a login attempt, as the environment reports it. */
enum pop3_login_result {
	POP3_LOGIN_OK = 0,   /* credentials right, maildrop locked */
	POP3_LOGIN_FAIL,     /* wrong password or unknown user: [AUTH] */
	POP3_LOGIN_THROTTLED,/* too many failures from this client: [SYS/TEMP] */
	POP3_LOGIN_IN_USE,   /* maildrop locked by another session: [IN-USE] */
	POP3_LOGIN_TEMP,     /* temporary store or system failure: [SYS/TEMP] */
	POP3_LOGIN_PERM,     /* maildrop broken or misconfigured: [SYS/PERM] */
};

/* What the session needs from its environment. env is the caller's. */
struct pop3_ops {
	/* Queue reply bytes; 0, or -1 when the connection is going away. */
	int (*write)(void *env, const void *data, size_t len);
	/* Bytes queued and not yet sent. */
	size_t (*output_pending)(void *env);
	/* Call pop3_session_drain once output has room again. */
	void (*request_drain)(void *env);
	/* Stop and restart taking input lines. */
	void (*pause)(void *env);
	void (*resume)(void *env);
	/* Start the TLS handshake after the "+OK" already queued; buffered
	 * plaintext input must be discarded (RFC 2595 §4, CVE-2011-0411).
	 * Completion: pop3_session_tls_ready. Returns 0 or -1. */
	int (*start_tls)(void *env);
	/* Verify user and password (pwlen bytes, not NUL-terminated; the
	 * buffer is wiped after the call returns, so copy it) and, when they
	 * are right, lock the user's maildrop. mech names the command for the
	 * log: "USER" (USER/PASS) or "PLAIN" (AUTH PLAIN), a static string.
	 * Asynchronous: the answer comes later through
	 * pop3_session_login_done, never from inside this call. */
	void (*login)(void *env, const char *mech, const char *user,
		      const char *pw, size_t pwlen);
	/* UPDATE: commit drop (ownership passes; see mdrop_commit) away from
	 * the loop. Answer through pop3_session_update_done, later. */
	void (*update)(void *env, struct mdrop *drop);
	/* Close the connection after the queued output is sent. */
	void (*close)(void *env);
};

/* Fixed facts of a session, from its listener and the configuration. */
struct pop3_session_cfg {
	const char *id;          /* session id for the log (copied) */
	const char *peer;        /* client address for the log (copied) */
	bool tls_active;         /* implicit TLS (RFC 8314) */
	bool tls_available;      /* STLS can be offered */
	bool plaintext_ok;       /* listener marked plaintext-ok */
	unsigned bad_command_limit; /* 0: unlimited */
	size_t high_water;       /* output bytes queued before a stream waits */
};

/* Size of the buffer one stream step fills. */
#define POP3_CHUNK (16 * 1024)

enum pop3_cont {
	POP3_CONT_NONE = 0,
	POP3_CONT_LIST,
	POP3_CONT_UIDL,
	POP3_CONT_RETR,
};

/* The session. Fields are shared by session.c and commands.c only. */
struct pop3_session {
	const struct pop3_ops *ops;
	void *env;
	enum pop3_state state;
	unsigned flags;
	char id[40];
	char peer[64];
	unsigned bad_limit;
	struct proto_bad bad;
	size_t high_water;

	char *user;             /* USER name awaiting PASS (heap) */
	char *login;            /* logged-in user, for the log (heap) */
	struct mdrop *drop;     /* held in TRANSACTION */

	/* The running continuation. */
	enum pop3_cont cont;
	size_t cont_next;       /* LIST/UIDL: next message index */
	struct mdrop_reader *reader;
	struct pop3_stream stream;
	bool retr_whole;        /* RETR (counts as retrieved), not TOP */

	/* For the session-end log line. */
	unsigned long retrieved;
	unsigned long deleted;
	uint64_t bytes;
	bool updated;           /* QUIT entered UPDATE */
};

/* Create a session. Returns it (free with pop3_session_free) or NULL
 * (ENOMEM). Nothing is written yet. */
struct pop3_session *pop3_session_new(const struct pop3_ops *ops, void *env,
				      const struct pop3_session_cfg *cfg);

/* Queue the greeting (RFC 1939 §4; no APOP timestamp). */
void pop3_session_greet(struct pop3_session *s);

/* Output has room again: continue the running continuation. */
void pop3_session_drain(struct pop3_session *s);

/* The STLS handshake completed: forget everything learnt before it. */
void pop3_session_tls_ready(struct pop3_session *s);

/* Answer of ops->login. drop (only with POP3_LOGIN_OK) becomes the
 * session's; user is the canonical name for the log. Replies, resumes
 * input or closes. */
void pop3_session_login_done(struct pop3_session *s,
			     enum pop3_login_result result, struct mdrop *drop,
			     const char *user);

/* Answer of ops->update: rc and removed as mdrop_commit returned them.
 * Replies and closes. */
void pop3_session_update_done(struct pop3_session *s, int rc, size_t removed);

/* The server is stopping (SIGTERM): unless a reply is mid-stream, queue
 * "-ERR [SYS/TEMP] …", then close; nothing is committed. */
void pop3_session_shutdown(struct pop3_session *s);

/* Would the next line carry a secret (an AUTH PLAIN response)? For the
 * protocol trace, which masks such lines and the arguments of PASS and
 * AUTH. */
bool pop3_session_secret_next(const struct pop3_session *s);

/* Free the session: a held maildrop is released unchanged (a session that
 * ends without QUIT changes nothing, RFC 1939 §6) and one line is logged
 * with the user, the client, retrieved, deleted and bytes. NULL is fine. */
void pop3_session_free(struct pop3_session *s);

/* For the command handlers (pop3d/commands.c). */

/* Queue one status line; CRLF is appended and the line is kept within the
 * 512 octets of RFC 2449 §4. */
void pop3_reply(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Start a multi-line continuation whose status line is already queued
 * (s->cont_next, s->reader and s->stream set up as the kind needs). Runs
 * it as far as the output allows. Returns PROTO_DONE when it completed,
 * PROTO_ASYNC when it waits for a drain (input paused), PROTO_CLOSE when a
 * read failed mid-reply. */
int pop3_cont_start(struct pop3_session *s, enum pop3_cont kind);

/* Ask for a login (USER/PASS: mech "USER", or AUTH PLAIN: "PLAIN"):
 * pause input and call ops->login. Returns PROTO_ASYNC. */
int pop3_login_start(struct pop3_session *s, const char *mech,
		     const char *user, const char *pw, size_t pwlen);

#endif
