/* smtpd/transaction.c: kantorpos-smtpd's side of the message pipeline
 * (pipeline/pipeline.h) — one pipeline transaction from MAIL to the end
 * of the content: the session's facts handed over, each step's outcome
 * turned into the one SMTP reply (and the log line), the session paused
 * while a stage or the io pool works and resumed by the pipeline's
 * callback, and the 250 only once the message is durable. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "smtpd/session.h"
#include "smtpd/transaction.h"
#include "store/maildir.h"

static void txn_done(struct pipe_tx *ptx, void *arg);

/* What the pipeline uses, as it is now (a reload replaces the aliases). */
static void refresh_env(struct smtp_session *s)
{
	s->ops->pipe_env(s->env, &s->tx.env);
}

static void client_facts(const struct smtp_session *s, struct pipe_client *c)
{
	const char *v = smtp_tls_version(s);

	memset(c, 0, sizeof(*c));
	snprintf(c->addr, sizeof(c->addr), "%s", s->peer);
	snprintf(c->helo, sizeof(c->helo), "%s", s->helo);
	c->esmtp = (s->flags & SMTP_F_EHLO) != 0;
	if (v != NULL) {
		snprintf(c->tls_version, sizeof(c->tls_version), "%s", v);
		v = smtp_tls_cipher(s);
		snprintf(c->tls_cipher, sizeof(c->tls_cipher), "%s",
			 v != NULL ? v : "");
	}
	if (s->flags & SMTP_F_AUTH)
		snprintf(c->login, sizeof(c->login), "%s", s->user);
}

/* A step the pipeline finishes later: pause until txn_done. */
static int wait_for(struct smtp_session *s, enum smtp_wait w, const char *arg)
{
	struct smtp_tx *tx = &s->tx;

	tx->wait = w;
	tx->resume_in = s->state;
	free(tx->wait_arg);
	tx->wait_arg = arg != NULL ? strdup(arg) : NULL;
	s->job_running = true;
	smtp_pause(s);
	return PROTO_ASYNC;
}

/* ---- MAIL and RCPT ---- */

/* The reply of a MAIL (stage "MAIL": a refusal forgets the transaction)
 * or RCPT step; accepted, the session goes to state next. */
static int envelope_done(struct smtp_session *s, const char *stage,
			 enum smtp_state next, const char *arg)
{
	const struct pipe_reply *r = pipe_tx_reply(s->tx.ptx);

	smtp_reply(s, r->code, r->enh, "%s", r->text);
	if (r->code >= 300) {
		smtp_log_reject(s, stage, arg != NULL ? arg : "-", r->code,
				r->text);
		if (next == SMTP_S_MAIL)
			smtp_tx_reset(s);
		return PROTO_DONE;
	}
	smtp_set_state(s, next);
	return PROTO_DONE;
}

int smtp_txn_mail(struct smtp_session *s, const struct addr_path *path,
		  const char *arg)
{
	struct smtp_tx *tx = &s->tx;
	struct pipe_client client;
	struct pipe_facts facts = {
		(s->flags & SMTP_F_AUTH) ? PIPE_SUBMISSION : PIPE_MX, &client,
		s->sid
	};
	struct pipe_mail mail = {
		.body = tx->params.body == PARAMS_BODY_8BITMIME
				? PIPE_BODY_8BITMIME
			: tx->params.body == PARAMS_BODY_BINARYMIME
				? PIPE_BODY_BINARYMIME
				: PIPE_BODY_7BIT,
		.smtputf8 = tx->params.smtputf8,
		.has_size = tx->params.has_size,
		.size = tx->params.size,
		.ret = tx->params.ret,
		.envid = tx->params.envid,
	};

	client_facts(s, &client);
	refresh_env(s);
	pipe_tx_free(tx->ptx);
	tx->ptx = pipe_tx_new(&tx->env, &facts, txn_done, s);
	if (tx->ptx == NULL) {
		memset(&tx->params, 0, sizeof(tx->params));
		smtp_reply(s, 451, "4.3.0", "Local error in processing");
		return PROTO_DONE;
	}
	if (pipe_tx_mail(tx->ptx, path, &mail) == PIPE_WAIT)
		return wait_for(s, SMTP_W_MAIL, arg);
	return envelope_done(s, "MAIL", SMTP_S_MAIL, arg);
}

int smtp_txn_rcpt(struct smtp_session *s, const struct addr_path *path,
		  const struct params_rcpt *rp, const char *arg)
{
	struct pipe_rcpt_dsn dsn = { rp->notify, rp->orcpt };

	refresh_env(s);
	if (pipe_tx_rcpt_dsn(s->tx.ptx, path, &dsn) == PIPE_WAIT)
		return wait_for(s, SMTP_W_RCPT, arg);
	return envelope_done(s, "RCPT", SMTP_S_RCPT, arg);
}

size_t smtp_txn_rcpts(const struct smtp_session *s)
{
	return s->tx.ptx != NULL ? pipe_tx_msg(s->tx.ptx)->n_rcpts : 0;
}

/* ---- the content ---- */

static int begin_done(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	const struct pipe_reply *r = pipe_tx_reply(tx->ptx);
	uint64_t chunk = tx->wait_chunk;
	bool bdat = tx->bdat;

	if (r->code >= 300) {
		log_warnx("%s delivery start failed id=%s: %d %s", s->sid,
			  pipe_tx_msg(tx->ptx)->id, r->code, r->text);
		smtp_reply(s, r->code, r->enh, "%s", r->text);
		smtp_tx_reset(s);
		smtp_set_state(s, SMTP_S_READY);
		/* The error is said; drop the chunk without a second reply. */
		if (bdat)
			smtp_discard_chunk(s, chunk, 0, NULL, NULL);
		return PROTO_DONE;
	}
	if (bdat) {
		data_init(&tx->dp, tx->params.body == PARAMS_BODY_BINARYMIME
					   ? DATA_MODE_BINARY : DATA_MODE_CHUNK,
			  s->cfg->max_message_size, s->cfg->smtp_line_limit);
		smtp_start_chunk(s, chunk);
		return PROTO_DONE;
	}
	smtp_start_data(s);
	smtp_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	return PROTO_DONE;
}

/* The content starts (the 354, or the first BDAT): the message id, the
 * sink, the fields on top. Nothing touches the disk for a local
 * delivery. */
static int begin(struct smtp_session *s)
{
	char id[64];

	snprintf(id, sizeof(id), "%s.%lu", s->sid, ++s->n_msgs);
	refresh_env(s);
	if (pipe_tx_begin(s->tx.ptx, id) == PIPE_WAIT)
		return wait_for(s, SMTP_W_BEGIN, NULL);
	return begin_done(s);
}

int smtp_txn_data(struct smtp_session *s)
{
	s->tx.bdat = false;
	return begin(s);
}

int smtp_txn_bdat(struct smtp_session *s, uint64_t size, bool last)
{
	s->tx.bdat = true;
	s->tx.bdat_last = last;
	s->tx.wait_chunk = size;
	return begin(s);
}

bool smtp_txn_content_wait(struct smtp_session *s, size_t want)
{
	struct smtp_tx *tx = &s->tx;

	/* Room for what the data parser may hold back, too. */
	if (tx->ptx == NULL || tx->md_err != MD_OK ||
	    data_faults(&tx->dp) != 0 ||
	    pipe_tx_reserve(tx->ptx, want + 2 * DATA_OUT_SLACK) == PIPE_DONE)
		return false;
	wait_for(s, SMTP_W_ROOM, NULL);
	return true;
}

void smtp_txn_content(struct smtp_session *s, const char *buf, size_t len)
{
	struct smtp_tx *tx = &s->tx;

	/* A refused message is read to its end but not written. */
	if (len == 0 || tx->ptx == NULL || tx->md_err != MD_OK ||
	    data_faults(&tx->dp) != 0)
		return;
	pipe_tx_write(tx->ptx, buf, len);
}

/* The one log line of an accepted message. */
static void log_accepted(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	const struct pipe_msg *m = pipe_tx_msg(tx->ptx);
	const char *tls = smtp_tls_version(s);
	char to[1024];
	size_t o = 0;

	to[0] = '\0';
	for (size_t i = 0; i < m->n_rcpts && o < sizeof(to); i++)
		o += (size_t)snprintf(to + o, sizeof(to) - o, "%s<%s>",
				      i ? "," : "", m->rcpts[i].addr);
	log_info("%s accepted id=%s from=<%s> to=%s size=%llu client=%s tls=%s auth=%s file=%s%s%s",
		 s->sid, m->id, m->sender, to,
		 (unsigned long long)data_size(&tx->dp), s->peer,
		 tls != NULL ? tls : "no",
		 (s->flags & SMTP_F_AUTH) ? s->user : "-",
		 pipe_tx_stored(tx->ptx), m->notes[0] != '\0' ? " " : "",
		 m->notes);
}

static int end_done(struct smtp_session *s)
{
	struct pipe_tx *ptx = s->tx.ptx;
	const struct pipe_reply *r = pipe_tx_reply(ptx);
	const char *id = pipe_tx_msg(ptx)->id;

	if (r->code < 300) {
		smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", id);
		log_accepted(s);
	} else {
		const char *failed;
		int res = pipe_tx_store_result(ptx, &failed);

		if (res != MD_OK)
			log_warnx("%s commit failed id=%s target=%s: %s", s->sid,
				  id, failed[0] != '\0' ? failed : "-",
				  md_result_str(res));
		else
			smtp_log_reject(s, "DATA", id, r->code, r->text);
		smtp_reply(s, r->code, r->enh, "%s", r->text);
	}
	smtp_tx_reset(s);
	smtp_set_state(s, SMTP_S_READY);
	return PROTO_DONE;
}

int smtp_txn_content_end(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	unsigned faults = data_faults(&tx->dp);

	if (faults != 0) {
		int code;
		const char *enh, *text;

		data_fault_reply(faults, &code, &enh, &text);
		smtp_reply(s, code, enh, "%s", text);
		smtp_log_reject(s, "DATA", pipe_tx_msg(tx->ptx)->id, code, text);
		smtp_tx_reset(s);
		return PROTO_DONE;
	}
	if (tx->md_err != MD_OK)
		pipe_tx_fail(tx->ptx, tx->md_err);
	refresh_env(s);
	if (pipe_tx_end(tx->ptx) == PIPE_WAIT)
		return wait_for(s, SMTP_W_END, NULL);
	return end_done(s);
}

/* The pipeline finished a step that waited. */
static void txn_done(struct pipe_tx *ptx, void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx = &s->tx;
	enum smtp_wait w = tx->wait;

	s->job_running = false;
	tx->wait = SMTP_W_NONE;
	if (s->flags & SMTP_F_CLOSED) {
		/* The client left before the answer: the message is stored
		 * whole or not at all; it will send it again. */
		if (w == SMTP_W_END)
			log_info("%s commit finished after disconnect id=%s reply=%d",
				 s->sid, pipe_tx_msg(ptx)->id,
				 pipe_tx_reply(ptx)->code);
		smtp_session_maybe_free(s);
		return;
	}
	smtp_set_state(s, tx->resume_in);
	if (w == SMTP_W_MAIL)
		envelope_done(s, "MAIL", SMTP_S_MAIL, tx->wait_arg);
	else if (w == SMTP_W_RCPT)
		envelope_done(s, "RCPT", SMTP_S_RCPT, tx->wait_arg);
	else if (w == SMTP_W_BEGIN)
		begin_done(s);
	else if (w == SMTP_W_END)
		end_done(s);
	if (tx->wait == SMTP_W_NONE)
		smtp_resume(s);
}
