/* smtpd/session.h: one SMTP session — its state, facts, transaction and
 * lifecycle.
 *
 * Layers: common/net/conn reads and writes the socket; session.c cuts input
 * into command lines or message content and is the only code that queues
 * output (smtp_reply); commands.c holds the command table and handlers,
 * which return PROTO_DONE / PROTO_ASYNC / PROTO_CLOSE and never touch the
 * connection; transaction.c hands the message to the pipeline
 * (pipeline/pipeline.h), which stores or queues it. */
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
#include "pipeline/pipeline.h"
#include "smtpd/data.h"
#include "smtpd/outq.h"
#include "smtpd/params.h"
#include "smtpd/smtpd.h"

struct auth;
struct conn;

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

/* etrncmd.c: the ETRN command (RFC 1985); forgetting a pending ETRN when
 * its session closes. */
int smtp_cmd_etrn(void *session, char *args);
void smtp_etrn_cancel(struct smtp_session *s);

/* transaction.c: the message through the pipeline. Each replies itself
 * and returns PROTO_DONE, or PROTO_ASYNC with the session paused while
 * the pipeline works (it resumes it). MAIL with the parsed path (arg:
 * for the log) after the syntax checks; a RCPT path; the start of the
 * content for DATA (then the 354) or with the first BDAT chunk of size
 * octets (then it is read). */
int smtp_txn_mail(struct smtp_session *s, const struct addr_path *path,
		  const char *arg);
int smtp_txn_rcpt(struct smtp_session *s, const struct addr_path *path,
		  const char *arg);
int smtp_txn_data(struct smtp_session *s);
int smtp_txn_bdat(struct smtp_session *s, uint64_t size, bool last);
/* Recipients accepted so far. */
size_t smtp_txn_rcpts(const struct smtp_session *s);
/* transaction.c: before taking up to want more octets of content: when
 * they would outgrow the sink's buffer, the pipeline makes room on the
 * io pool and this returns true (the session is paused until then; take
 * nothing now). False: go on. */
bool smtp_delivery_wait_file(struct smtp_session *s, size_t want);
/* transaction.c: content octets from the data parser. */
void smtp_delivery_write(struct smtp_session *s, const char *buf, size_t len);
/* transaction.c: the end of the message: reply the fault and reset the
 * transaction (PROTO_DONE), or let the pipeline decide and commit
 * (PROTO_ASYNC, session paused) and reply 250 once it is durable. */
int smtp_delivery_end(struct smtp_session *s);

/* daemon.c: the daemon for server_main / server_new: the SMTP session as
 * the accept hook; start loads the aliases and the outbound queue. */
extern const struct server_ops smtpd_server_ops;

/* session.c: free a session whose connection is gone, once idle. */
void smtp_session_maybe_free(struct smtp_session *s);

#endif
