/* pipeline/pipeline.h: a message's way from "envelope + content" to
 * "stored or queued", the same for every entry point (kantorpos-smtpd
 * and its pickup of local mail, kantorpos deliver, kantorpos fetch, the
 * queue's local route and its DSNs).
 *
 * A transaction: pipe_tx_mail (the sender), pipe_tx_rcpt per recipient
 * (routed by pipeline/route.h), pipe_tx_begin (the content starts: the
 * sink is chosen — the queue when any recipient is queued or a local
 * one asks for a delivery report, else the Maildirs), pipe_tx_write as the content streams, pipe_tx_end (the
 * stages decide, the sink commits). Each step runs the stages of
 * pipeline/stages.c and returns PIPE_DONE, its outcome in pipe_tx_reply,
 * or PIPE_WAIT: a stage or the io worker pool has the transaction; the
 * step's callback runs later on the loop thread, and nothing else may be
 * called on tx until then. With env.io NULL nothing waits: blocking work
 * runs inline (tools, worker threads).
 *
 * Durability: pipe_tx_end reports a recipient ACCEPTED only after its sink
 * made the message durable; a failed commit leaves nothing behind for the
 * recipients it failed, each with its reply (LMTP-like; SMTP gives the
 * transaction's one reply). Content no stage changes goes straight to the
 * sink, written once. */
#ifndef KANTORPOS_PIPELINE_PIPELINE_H
#define KANTORPOS_PIPELINE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pipeline/msg.h"

struct aliases;
struct config;
struct dns;
struct ev_loop;
struct queue;
struct stage;
struct userdb;
struct worker;

enum { PIPE_DONE = 0, PIPE_WAIT = 1 };

/* What the transactions of one entry point share; the caller's, outliving
 * them. */
struct pipe_env {
	const struct config *cfg;
	struct userdb *db;        /* routing: the users */
	const struct aliases *al; /* routing: NULL without aliases */
	struct worker *io;        /* the disk pool; NULL: everything inline */
	struct queue *queue;      /* NULL: queued routes fail (451) */
	/* Called after a queue commit whose items are due now (local or
	 * relay route), on the thread that ran the step's end; may be NULL. */
	void (*kick)(void *arg);
	void *kick_arg;
	/* Called for each item of a queue commit that succeeded (its id and
	 * route domain), on the thread that ran the commit; may be NULL. */
	void (*queued)(void *arg, const char *id, const char *domain);
	void *queued_arg;
	const char *staging;      /* Maildir for the tmp file; NULL: the first
				   * recipient's */
	bool clean_tmp;           /* remove stale tmp/ files of the targets */
	time_t now;               /* arrival time of queued items; 0: now */
	/* The resolver of the stages that ask the DNS (loop thread, as
	 * io); NULL: those checks are not made. */
	struct dns *dns;
	/* The loop of dns, for the time limits of stages that wait for it
	 * (a whole SPF check); NULL: those checks are not made. */
	struct ev_loop *loop;
	/* The stages, NULL-terminated; NULL: pipeline/stages.c's list
	 * (tests give their own). */
	const struct stage *const *stages;
};

/* The facts of the message known before MAIL. */
struct pipe_facts {
	enum pipe_origin origin;
	const struct pipe_client *client; /* NULL: none */
	const char *label; /* first word of its log lines (a session id);
			    * NULL: "-" */
};

/* MAIL parameters the pipeline needs downstream. */
struct pipe_mail {
	enum pipe_body body;
	bool smtputf8;
	bool has_size;
	uint64_t size;
	const char *sender; /* with no path: the reverse path as text (a
			     * queue's envelope); NULL: none */
	enum dsn_ret ret;   /* RET= (RFC 3461 §4.3) */
	const char *envid;  /* ENVID= as sent (xtext); NULL or "": none */
};

/* A recipient's DSN request (RFC 3461 §4.1, §4.2). */
struct pipe_rcpt_dsn {
	unsigned notify;    /* DSN_NOTIFY_* bits; 0: not given */
	const char *orcpt;  /* ORCPT= as sent; NULL or "": none */
};

struct pipe_tx;
typedef void pipe_cb(struct pipe_tx *tx, void *arg);

/* A new transaction; cb(tx, arg) ends a step that returned PIPE_WAIT.
 * NULL when out of memory. */
struct pipe_tx *pipe_tx_new(const struct pipe_env *env,
			    const struct pipe_facts *facts, pipe_cb *cb,
			    void *arg);

/* The sender: path as addr_parse_path gave it (NULL: none known, as for
 * fetched mail, or given as mail->sender), mail its parameters (NULL:
 * none). */
int pipe_tx_mail(struct pipe_tx *tx, const struct addr_path *path,
		 const struct pipe_mail *mail);

/* One recipient path (ADDR_OPT_POSTMASTER), routed by route_check; added
 * when the reply is 2xx. */
int pipe_tx_rcpt(struct pipe_tx *tx, const struct addr_path *path);

/* pipe_tx_rcpt with the recipient's DSN request (NULL: none). A local
 * recipient that asks NOTIFY=SUCCESS sends the message through the queue
 * (its local route reports the delivery, RFC 3461 §6.2). */
int pipe_tx_rcpt_dsn(struct pipe_tx *tx, const struct addr_path *path,
		     const struct pipe_rcpt_dsn *dsn);

/* A recipient its entry point routed itself: route (not NONE) with its
 * local targets (copied). The rcpt stages run as for pipe_tx_rcpt. */
int pipe_tx_rcpt_routed(struct pipe_tx *tx, const char *addr,
			enum pipe_route route,
			const struct rcpt_target *targets, size_t n);

/* The content starts: id names the message (logs, Received, queue).
 * The queue's staging directory is made on the io pool (PIPE_WAIT). */
int pipe_tx_begin(struct pipe_tx *tx, const char *id);

/* Before writing up to want octets: PIPE_DONE when they are taken
 * without touching the disk, PIPE_WAIT while the pool empties the sink's
 * buffer into its file. Pieces that do not fit even an empty buffer
 * (64 KiB, less what the stages add) are written by pipe_tx_write
 * itself: keep them smaller. */
int pipe_tx_reserve(struct pipe_tx *tx, size_t want);

/* Content octets (any pieces, binary-safe). Errors are sticky and
 * reported by pipe_tx_end; a refused message is taken and dropped. */
void pipe_tx_write(struct pipe_tx *tx, const char *buf, size_t len);

/* The content could not be taken (the entry point's own error, an
 * md_result): the end fails with it. */
void pipe_tx_fail(struct pipe_tx *tx, int md_result);

/* The content ended: the stages' end, then the commit. */
int pipe_tx_end(struct pipe_tx *tx);

/* The outcome of the last step: 2xx, or the refusal. For the end, the
 * reply of the first recipient that failed, else 250. */
const struct pipe_reply *pipe_tx_reply(const struct pipe_tx *tx);

/* The envelope (recipients with their states after pipe_tx_end). */
struct pipe_msg *pipe_tx_msg(struct pipe_tx *tx);
const struct pipe_env *pipe_tx_env(const struct pipe_tx *tx);

/* What the sink said at the begin or commit: MD_OK or the md_result of
 * the failure (store/maildir.h), with *failed_r (may be NULL) the key of
 * the recipient it belongs to, "" when it is the message's own. */
int pipe_tx_store_result(const struct pipe_tx *tx, const char **failed_r);

/* The errno behind that failure, for messages: 0 when none is known. */
int pipe_tx_store_errno(const struct pipe_tx *tx);

/* After a successful end: where it was stored ("name" in new/, or
 * "queue:ID,..."), and the content octets taken. */
const char *pipe_tx_stored(const struct pipe_tx *tx);
uint64_t pipe_tx_size(const struct pipe_tx *tx);

/* Forget the message, keep the facts: a new transaction. */
void pipe_tx_reset(struct pipe_tx *tx);

/* Abort what is open and free tx (not while a step waits). NULL is
 * fine. */
void pipe_tx_free(struct pipe_tx *tx);

/* The reply for a store failure r (md_result): 452/552 mailbox full,
 * 452 disk full, else 451. */
void pipe_store_reply(int r, bool quota_permanent, struct pipe_reply *out);

#endif
