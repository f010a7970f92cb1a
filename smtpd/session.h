/* smtpd/session.h: one SMTP session — its state, facts, transaction and
 * lifecycle — and the daemon-wide state of kantorpos-smtpd.
 *
 * Layers: common/net/conn reads and writes the socket; session.c cuts input
 * into command lines or message content and is the only code that queues
 * output (smtp_reply); commands.c holds the command table and handlers,
 * which return PROTO_DONE / PROTO_ASYNC / PROTO_CLOSE and never touch the
 * connection; delivery.c streams content into store/ and commits it on
 * the worker pool. */
#ifndef KANTORPOS_SMTPD_SESSION_H
#define KANTORPOS_SMTPD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mail/address.h"
#include "common/config/config.h"
#include "common/proto/proto.h"
#include "common/lookup/recipient.h"
#include "common/runtime/server.h"
#include "smtpd/data.h"
#include "smtpd/params.h"

struct aliases;
struct auth;
struct conn;
struct md_delivery;
struct queue_tx;
struct smtpd_outq;
struct submit_scan;

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
#define SMTP_F_TLS 0x01    /* TLS is on (STARTTLS done or implicit) */
#define SMTP_F_AUTH 0x02   /* authenticated; user holds the mailbox */
#define SMTP_F_EHLO 0x04   /* the client said EHLO (not HELO) */
#define SMTP_F_STOP 0x08   /* graceful stop: 421 once the transaction ends */
#define SMTP_F_CLOSED 0x10 /* the connection is gone; free when idle */

/* Command lines: RFC 5321 §4.5.3.1.4 (512 with CRLF), MAIL/RCPT raised by
 * the parameters offered (SIZE, BODY, AUTH= 500, SMTPUTF8: RFC 1870 §3,
 * RFC 4954 §3, RFC 6531 §3.1), and SASL responses (RFC 4954 §4: 12288). */
#define SMTP_CMD_MAX 512
#define SMTP_MAILRCPT_MAX (512 + 26 + 500 + 10 + 32)
#define SMTP_SASL_MAX 12288

/* Daemon-wide state (server_data). */
struct smtpd {
	struct aliases *al; /* NULL without an aliases file */
	unsigned long msg_counter;
	struct smtpd_outq *outq; /* ETRN: the outbound queue and its runner */
};

/* The message of the current transaction. */
struct smtp_tx {
	char sender[ADDR_KEY_SIZE]; /* "" for <> */
	struct params_mail params;
	struct rcpt_target *rcpts;  /* distinct local targets */
	size_t n_rcpts;
	char **rcpt_addrs;          /* recipients as given, for log and trace */
	size_t n_rcpt_addrs;
	bool bdat;                  /* BDAT chunks started this transaction */
	/* Content. */
	struct data_parser dp;
	struct md_delivery *md;
	int md_err;                 /* first md_result error, sticky */
	char id[40];                /* message id, set when content starts */
	struct submit_scan *sub;    /* authenticated: the header scan (heap) */
	uint64_t bdat_left;         /* octets of the current chunk to read */
	bool bdat_last;
	bool bdat_discard;          /* read the chunk, then reply bdat_err */
	int bdat_code;
	const char *bdat_enh, *bdat_text;
	/* ETRN: recipients for the outbound queue (held domains, relay host),
	 * as given; with any of them the whole message goes into the queue
	 * (local targets become local-delivery items). */
	char **queue_rcpts;
	size_t n_queue;
	struct queue_tx *qtx;
};

struct smtp_session {
	struct server_client client; /* registry entry (shutdown hook) */
	struct server *srv;
	const struct config *cfg;    /* pinned for the session's life */
	const struct config_listen *lc;
	struct conn *conn;
	char sid[SERVER_SID_SIZE];
	char peer[64];

	enum smtp_state state;
	unsigned flags;
	char helo[ADDR_DOMAIN_MAX + 1];
	char user[ADDR_KEY_SIZE];    /* authenticated mailbox */
	struct proto_bad bad;

	/* SASL exchange. */
	struct auth *auth;
	int sasl_mech;               /* 1 PLAIN, 2 LOGIN */
	char sasl_user[ADDR_KEY_SIZE];
	bool sasl_have_user;

	struct smtp_tx tx;
	enum smtp_state chunk_prev;  /* state to return to after a BDAT chunk */
	char *buf;                   /* content output buffer */
	size_t buf_size;
	bool job_running;            /* a worker holds a pointer to us */
	bool etrn_waiting;           /* ETRN: the runner holds etrn_wait */
	void *etrn_wait;
};

/* The listener role's rules. */
bool smtp_is_submission(const struct smtp_session *s);
/* AUTH may be used now: TLS on, or the listener is plaintext-ok. */
bool smtp_auth_allowed(const struct smtp_session *s);

/* Accept a connection (server_ops.accept): create, register and greet a
 * session (after the handshake on implicit-TLS listeners). */
void smtp_accept(struct server *srv, const struct config_listen *lc, int fd,
		 const char *peer);

/* Too many connections (server_ops.refuse): one 421 line to fd. */
void smtp_refuse(struct server *srv, const struct config_listen *lc, int fd,
		 const char *peer);

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

/* Forget the transaction (RSET, EHLO, end of a message); aborts a pending
 * delivery and frees the recipients. */
void smtp_tx_reset(struct smtp_session *s);

/* Pause input while a handler's asynchronous work runs, and resume it
 * (lines already buffered are then processed). */
void smtp_pause(struct smtp_session *s);
void smtp_resume(struct smtp_session *s);

/* Start reading message content: DATA (dot mode, line input) or a BDAT
 * chunk of `size` octets (raw input). */
void smtp_start_data(struct smtp_session *s);
void smtp_start_chunk(struct smtp_session *s, uint64_t size);
/* Read and drop a BDAT chunk, then reply code/enh/text. */
void smtp_discard_chunk(struct smtp_session *s, uint64_t size, int code,
			const char *enh, const char *text);

/* STARTTLS after its 220: discard pipelined plaintext and handshake. */
void smtp_start_tls(struct smtp_session *s);

/* Log a refused envelope step: "<sid> reject stage=... reason=...". */
void smtp_log_reject(struct smtp_session *s, const char *stage,
		     const char *arg, int code, const char *text);

/* commands.c: the command table (verbs, allowed states, handlers). */
const struct proto_cmd *smtp_command_table(void);
/* commands.c: handle one command line (NUL-terminated, without its
 * terminator; len octets, may hold NULs). */
int smtp_command(struct smtp_session *s, char *line, size_t len);
/* commands.c: count a bad command and reply code/enh/text; at the limit
 * reply 421 instead and return PROTO_CLOSE, else PROTO_DONE. */
int smtp_bad(struct smtp_session *s, int code, const char *enh,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* authcmd.c: the AUTH command (RFC 4954) and its SASL response lines in
 * SMTP_S_AUTH. */
int smtp_cmd_auth(void *session, char *args);
int smtp_sasl_line(struct smtp_session *s, const char *line, size_t len);

/* delivery.c: start the message with its trace headers (at the 354, or
 * at the first BDAT), without touching the disk for a local delivery;
 * the ETRN queue's file is made here. Returns 0 with s->tx.md (or the
 * queue item) set, or -1 after replying 451/452. Never blocks on the
 * disk for a local delivery. */
int smtp_delivery_begin(struct smtp_session *s);
/* delivery.c: before taking up to want more octets of content: when they
 * would outgrow the store's buffer and the message has no file yet, make
 * the file on the storage pool and return true (the session is paused
 * until then; take nothing now). False: go on. */
bool smtp_delivery_wait_file(struct smtp_session *s, size_t want);
/* delivery.c: content octets from the data parser; submitted mail gets
 * its missing Date and Message-ID at the end of its header section. */
void smtp_delivery_write(struct smtp_session *s, const char *buf, size_t len);
/* delivery.c: the end of the message: reply the fault (content, or a
 * From: the user does not own) and reset the transaction (PROTO_DONE),
 * or commit on the worker pool (PROTO_ASYNC, session paused) and reply
 * 250 when it is durable, then resume. */
int smtp_delivery_end(struct smtp_session *s);

/* outq.c (ETRN): the outbound queue in the daemon — start (queue, runner),
 * reload, stop and cleanup hooks of main.c; the ETRN command; forgetting a
 * pending ETRN when its session closes; queued transactions: begin (at 354
 * or the first BDAT, instead of a Maildir delivery), write, and the end
 * (commit on the worker pool, then 250). */
int smtpd_outq_start(struct server *srv, struct smtpd *d);
void smtpd_outq_reload(struct server *srv, struct smtpd *d);
void smtpd_outq_stopping(struct smtpd *d);
void smtpd_outq_cleanup(struct server *srv, struct smtpd *d);
int smtp_cmd_etrn(void *session, char *args);
void smtp_etrn_cancel(struct smtp_session *s);
int smtp_queue_begin(struct smtp_session *s, const char *received, size_t n);
void smtp_queue_write(struct smtp_session *s, const char *buf, size_t len);
int smtp_queue_end(struct smtp_session *s);

/* delivery.c: the reply for a store failure (451/452/552), and the one
 * log line of an accepted message (name: where it was stored). */
void smtp_store_error_reply(struct smtp_session *s, int md_result);
void smtp_log_accepted(struct smtp_session *s, uint64_t size,
		       const char *name);

/* daemon.c: the daemon for server_main / server_new: the SMTP session as
 * the accept hook; start loads the aliases and the outbound queue. */
extern const struct server_ops smtpd_server_ops;

/* session.c: free a session whose connection is gone, once idle. */
void smtp_session_maybe_free(struct smtp_session *s);

#endif
