/* fetch/run.h: the state of one account run and what its two halves share
 * of it (run.c; private to fetch/): runner.c drives the account session
 * (preparation, login, UIDL and LIST, choosing each message, DELE, QUIT)
 * and message.c the pipeline of one message (RETR streamed into a
 * delivery, recipients from the header block, the fallback key, our
 * Received field, the commit on the worker pool). The session hands each
 * message to message.c (fetch/message.h), which hands it back through
 * msg_done; both use the run's end, deadlines and current message here. */
#ifndef KANTORPOS_FETCH_RUN_H
#define KANTORPOS_FETCH_RUN_H

#include <ev.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch/env.h"
#include "fetch/listing.h"
#include "fetch/state.h"
#include "pipeline/pipeline.h"
#include "store/maildir.h"

struct pop3c;
struct userdb;

/* Longest header block read before choosing recipients; a message with
 * a longer one is left on the server. */
#define FMSG_HEADER_MAX (256 * 1024)

enum fmsg_phase {
	FMSG_HEADER,  /* gathering the header block */
	FMSG_BODY,    /* streaming into the delivery */
	FMSG_DISCARD, /* reading to the end; not delivered */
};

enum fmsg_action {
	FMSG_DELIVER,
	FMSG_SKIP,  /* left on the server, recorded as skipped */
	FMSG_DUP,   /* a Message-ID every recipient already has */
	FMSG_KNOWN, /* no uid, but its fallback key is in the state */
};

/* The message in progress. */
struct fetch_msg {
	enum fmsg_phase phase;
	enum fmsg_action action;
	const char *skip_why; /* static text for FMSG_SKIP */
	char *hdr;            /* header block gathered so far */
	size_t hdr_len, hdr_cap;
	uint64_t got, limit;  /* body bytes read, and the most accepted */
	struct pipe_tx *tx;   /* the message in the pipeline */
	char **rcpts;         /* local mailbox keys */
	size_t n_rcpts;
	char *msgid;
	bool notice;          /* the oversize notice, not the message itself */
	/* No usable uid: the fallback key, once the header block is in. */
	char key[FST_KEY_SIZE];
	bool known_due;       /* FMSG_KNOWN: its DELE is due */
	enum md_result md;
	size_t md_failed;
	int save_errno;
};

struct fetch_run;

/* What follows a message once it is handled: its DELE when dele, then
 * the next message (runner.c's). */
typedef void frun_msg_done_fn(struct fetch_run *r, bool dele);

struct fetch_run {
	struct fetch_env *env;
	const struct config_fetch *acct;
	fetch_done_fn *done;
	void *done_arg;
	frun_msg_done_fn *msg_done;
	char *state_path;
	char *staging; /* DATA/fetch/staging: where deliveries start */
	struct pipe_env penv; /* the pipeline's, for the message's life */

	/* Prepared on the worker. */
	char *password;
	struct fst state;
	struct userdb *db;
	struct addrinfo *addrs, *next_addr, *cur_addr;
	SSL_CTX *ctx;
	char err[512];
	enum fetch_status prep_status;

	struct pop3c *pop;
	bool ready, cancelled, failed, state_dirty, busy;
	bool list_sent, wait_dele;
	/* Every message without a usable uid was read up to its fallback
	 * key: keys not seen may be pruned at the end. */
	bool keys_incomplete;
	struct flist list;
	size_t cur;
	/* Deadlines: the run's, and the step's (fetch/deadline.h). */
	ev_timer run_timer, step_timer;
	ev_tstamp step_start;
	char step_what[64];
	uint64_t step_got, step_cap;
	/* Message numbers of the DELEs in flight, oldest first. */
	unsigned long *dele_q;
	size_t dele_head, dele_len;

	struct fetch_msg m;

	unsigned fetched, delivered, skipped, deleted, errors;
};

/* ---- run.c ---- */

/* Give up the run: drop the session without QUIT. */
void frun_fail(struct fetch_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The end of a run: one log line, the callback, and free. */
void frun_finish(struct fetch_run *r, enum fetch_status st, const char *why);
/* Free the run and everything it holds, without a word (a start that
 * failed). */
void frun_free(struct fetch_run *r);
/* Set up the deadline timers of a new run (r->env and r->acct set): the
 * run's (run_timeout; the caller starts it) and the step's. */
void frun_timers_init(struct fetch_run *r);
/* A new step of the session (what: for the log) that may carry at most
 * cap octets; frun_step_bytes counts them; frun_step_stop while waiting
 * for the worker pool, not the server. */
void frun_step(struct fetch_run *r, const char *what, uint64_t cap);
void frun_step_bytes(struct fetch_run *r, size_t n);
void frun_step_stop(struct fetch_run *r);
/* The current message of the listing. */
struct flist_msg *frun_msg(struct fetch_run *r);
/* Its usable uid, else its fallback key once known, else NULL. */
const char *frun_key(struct fetch_run *r);
/* Forget the message in progress (an open delivery is aborted). */
void fmsg_clear(struct fetch_run *r);
/* Save the UIDL state (blocking: worker only); sets m.save_errno. */
void frun_save_job(void *arg);

#endif
