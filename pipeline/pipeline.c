/* pipeline/pipeline.c: the transaction — its envelope, the steps that run
 * the stage hooks in order (suspended by a stage that waits, resumed by
 * pipe_stage_done), the choice of the sink, the content chain from the
 * stages to the sink, and the commit with its per-recipient outcome
 * (on the io worker pool, or inline). */
#include "autoconf.h"

#include "pipeline/pipeline.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"
#include "common/net/worker.h"
#include "pipeline/route.h"
#include "pipeline/sink.h"
#include "pipeline/stage.h"
#include "store/maildir.h"

enum step { STEP_NONE, STEP_MAIL, STEP_RCPT, STEP_BEGIN, STEP_END };

/* Octets to replace before the commit. */
struct pipe_patch {
	uint64_t off;
	char *buf;
	size_t len;
};

struct pipe_tx {
	const struct pipe_env *env;
	pipe_cb *cb;
	void *cb_arg;
	char label[48];
	struct pipe_msg msg;
	const struct stage *const *stages;
	size_t n_stages;
	bool *active;       /* active[i]: stage i takes part (wants) */
	void **st;          /* st[i]: stage i's state */
	size_t grow;        /* what the active stages may add */
	struct pipe_reply reply;
	/* The step in progress. */
	enum step step;
	size_t at;          /* the stage whose hook runs */
	bool waiting;
	bool held;          /* a content hook waits (pipe_stage_resume) */
	bool reserve_held;  /* the entry point waits for it in reserve */
	bool end_held;      /* ... or in end */
	bool emptied;       /* the sink's buffer was emptied, nothing since */
	bool has_path;
	struct addr_path path; /* MAIL step */
	struct pipe_rcpt pending; /* RCPT step */
	bool discard;       /* a stage dropped the whole message */
	/* Content. */
	const struct sink_ops *sink;
	void *sink_st;
	int err;            /* sticky md_result of the content */
	int verdict;        /* sticky verdict of a content hook */
	struct pipe_reply content_reply;
	uint64_t size;
	struct pipe_patch *patches; /* stage_out_overwrite, for the commit */
	size_t n_patches;
	struct sink_outcome out;
};

static int finish_step(struct pipe_tx *tx, int verdict);

int stage_reply(struct pipe_reply *r, int verdict, int code, const char *enh,
		const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	r->enh = enh;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	return verdict;
}

void pipe_tx_note(struct pipe_tx *tx, const char *fmt, ...)
{
	char *notes = tx->msg.notes;
	size_t used = strlen(notes);
	va_list ap;

	if (used > 0 && used + 1 < sizeof(tx->msg.notes))
		notes[used++] = ' ';
	va_start(ap, fmt);
	vsnprintf(notes + used, sizeof(tx->msg.notes) - used, fmt, ap);
	va_end(ap);
}

void pipe_store_reply(int r, bool quota_permanent, struct pipe_reply *out)
{
	switch (r) {
	case MD_ERR_QUOTA:
	case MD_ERR_FSQUOTA:
		if (quota_permanent)
			stage_reply(out, 0, 552, "5.2.2", "Mailbox full");
		else
			stage_reply(out, 0, 452, "4.2.2",
				    "Mailbox full, try again later");
		break;
	case MD_ERR_NOSPACE:
		stage_reply(out, 0, 452, "4.3.1", "Insufficient system storage");
		break;
	default:
		stage_reply(out, 0, 451, "4.3.0",
			    "Local error in processing, try again later");
		break;
	}
}

struct pipe_tx *pipe_tx_new(const struct pipe_env *env,
			    const struct pipe_facts *facts, pipe_cb *cb,
			    void *arg)
{
	struct pipe_tx *tx = calloc(1, sizeof(*tx));

	if (tx == NULL)
		return NULL;
	tx->env = env;
	tx->cb = cb;
	tx->cb_arg = arg;
	snprintf(tx->label, sizeof(tx->label), "%s",
		 facts->label != NULL ? facts->label : "-");
	tx->msg.origin = facts->origin;
	if (facts->client != NULL)
		tx->msg.client = *facts->client;
	tx->stages = env->stages != NULL ? env->stages : stage_list();
	while (tx->stages[tx->n_stages] != NULL)
		tx->n_stages++;
	tx->active = calloc(tx->n_stages + 1, sizeof(*tx->active));
	tx->st = calloc(tx->n_stages + 1, sizeof(*tx->st));
	if (tx->active == NULL || tx->st == NULL) {
		pipe_tx_free(tx);
		return NULL;
	}
	for (size_t i = 0; i < tx->n_stages; i++) {
		const struct stage *s = tx->stages[i];

		tx->active[i] = s->wants == NULL || s->wants(tx);
		if (tx->active[i])
			tx->grow += s->grow;
	}
	return tx;
}

static void rcpt_clear(struct pipe_rcpt *r)
{
	free(r->addr);
	free(r->targets);
	free(r->orcpt);
	memset(r, 0, sizeof(*r));
}

static void patches_free(struct pipe_tx *tx)
{
	for (size_t i = 0; i < tx->n_patches; i++)
		free(tx->patches[i].buf);
	free(tx->patches);
	tx->patches = NULL;
	tx->n_patches = 0;
}

void pipe_tx_reset(struct pipe_tx *tx)
{
	struct pipe_msg *m = &tx->msg;

	if (tx->sink != NULL && tx->sink->abort != NULL)
		tx->sink->abort(tx->sink_st);
	tx->sink = NULL;
	tx->sink_st = NULL;
	for (size_t i = 0; i < tx->n_stages; i++) {
		if (tx->st[i] != NULL && tx->stages[i]->reset != NULL)
			tx->stages[i]->reset(tx->st[i]);
		tx->st[i] = NULL;
	}
	for (size_t i = 0; i < m->n_rcpts; i++)
		rcpt_clear(&m->rcpts[i]);
	free(m->rcpts);
	rcpt_clear(&tx->pending);
	m->rcpts = NULL;
	m->n_rcpts = 0;
	m->id[0] = m->sender[0] = '\0';
	m->has_sender = m->smtputf8 = m->has_size = false;
	m->body = PIPE_BODY_7BIT;
	m->size = 0;
	m->ret = DSN_RET_NONE;
	m->envid[0] = '\0';
	m->notes[0] = '\0';
	tx->step = STEP_NONE;
	tx->waiting = tx->has_path = tx->discard = false;
	tx->err = MD_OK;
	tx->verdict = STAGE_CONTINUE;
	tx->size = 0;
	patches_free(tx);
	memset(&tx->out, 0, sizeof(tx->out));
	memset(&tx->reply, 0, sizeof(tx->reply));
}

void pipe_tx_free(struct pipe_tx *tx)
{
	if (tx == NULL)
		return;
	if (tx->st != NULL && tx->active != NULL)
		pipe_tx_reset(tx);
	free(tx->active);
	free(tx->st);
	free(tx);
}

struct pipe_msg *pipe_tx_msg(struct pipe_tx *tx)
{
	return &tx->msg;
}

const struct pipe_env *pipe_tx_env(const struct pipe_tx *tx)
{
	return tx->env;
}

const struct pipe_reply *pipe_tx_reply(const struct pipe_tx *tx)
{
	return &tx->reply;
}

const char *pipe_tx_stored(const struct pipe_tx *tx)
{
	return tx->out.stored;
}

int pipe_tx_store_result(const struct pipe_tx *tx, const char **failed_r)
{
	if (failed_r != NULL)
		*failed_r = tx->out.failed;
	return tx->out.result;
}

int pipe_tx_store_errno(const struct pipe_tx *tx)
{
	return tx->out.result != MD_OK ? tx->out.err : 0;
}

uint64_t pipe_tx_size(const struct pipe_tx *tx)
{
	return tx->size;
}

const char *pipe_tx_label(const struct pipe_tx *tx)
{
	return tx->label;
}

const struct addr_path *pipe_tx_mail_path(const struct pipe_tx *tx)
{
	return tx->step == STEP_MAIL && tx->has_path ? &tx->path : NULL;
}

void *pipe_tx_stage_state(const struct pipe_tx *tx, const struct stage *s)
{
	for (size_t i = 0; i < tx->n_stages; i++)
		if (tx->stages[i] == s)
			return tx->active[i] ? tx->st[i] : NULL;
	return NULL;
}

/* ---- steps ---- */

/* Run the hook of the current step of stage i. */
static int run_hook(struct pipe_tx *tx, size_t i)
{
	const struct stage *s = tx->stages[i];
	struct stage_out out = { tx, tx->n_stages };

	switch (tx->step) {
	case STEP_MAIL:
		return s->mail != NULL ? s->mail(tx, &tx->st[i], &tx->reply)
				       : STAGE_CONTINUE;
	case STEP_RCPT:
		return s->rcpt != NULL ? s->rcpt(tx, &tx->st[i], &tx->pending,
						 &tx->reply)
				       : STAGE_CONTINUE;
	case STEP_BEGIN:
		/* Fields added on top go to the sink, not through the
		 * content hooks: they see the client's content only. */
		return s->begin != NULL ? s->begin(tx, &tx->st[i], &out,
						   &tx->reply)
					: STAGE_CONTINUE;
	case STEP_END:
		out.next = i + 1;
		return s->end != NULL ? s->end(tx, &tx->st[i], &out, &tx->reply)
				      : STAGE_CONTINUE;
	case STEP_NONE:
		break;
	}
	return STAGE_CONTINUE;
}

/* Run the hooks from tx->at on. */
static int run_step(struct pipe_tx *tx)
{
	for (; tx->at < tx->n_stages; tx->at++) {
		int v;

		if (!tx->active[tx->at])
			continue;
		v = run_hook(tx, tx->at);
		if (v == STAGE_WAIT) {
			tx->waiting = true;
			return PIPE_WAIT;
		}
		if (v != STAGE_CONTINUE)
			return finish_step(tx, v);
	}
	return finish_step(tx, STAGE_CONTINUE);
}

static int start_step(struct pipe_tx *tx, enum step step)
{
	tx->step = step;
	tx->at = 0;
	memset(&tx->reply, 0, sizeof(tx->reply));
	return run_step(tx);
}

void pipe_stage_done(struct pipe_tx *tx, int verdict)
{
	int rc;

	tx->waiting = false;
	if (verdict != STAGE_CONTINUE) {
		rc = finish_step(tx, verdict);
	} else {
		tx->at++;
		rc = run_step(tx);
	}
	if (rc == PIPE_DONE && tx->cb != NULL)
		tx->cb(tx, tx->cb_arg);
}

static void set_sender(struct pipe_tx *tx)
{
	struct pipe_msg *m = &tx->msg;

	if (!tx->has_path && m->has_sender)
		return; /* given as text */
	m->has_sender = tx->has_path;
	if (!tx->has_path || (tx->path.flags & ADDR_PATH_NULL))
		m->sender[0] = '\0';
	else
		snprintf(m->sender, sizeof(m->sender), "%s@%s",
			 tx->path.mailbox.local, tx->path.mailbox.domain);
}

static int finish_mail(struct pipe_tx *tx, int verdict)
{
	if (verdict == STAGE_REJECT || verdict == STAGE_TEMPFAIL) {
		tx->msg.has_size = tx->msg.smtputf8 = tx->msg.has_sender = false;
		tx->msg.body = PIPE_BODY_7BIT;
		tx->msg.ret = DSN_RET_NONE;
		tx->msg.envid[0] = '\0';
		return PIPE_DONE;
	}
	tx->discard = verdict == STAGE_DISCARD;
	set_sender(tx);
	stage_reply(&tx->reply, 0, 250, "2.1.0", "Sender OK");
	return PIPE_DONE;
}

static int finish_rcpt(struct pipe_tx *tx, int verdict)
{
	struct pipe_msg *m = &tx->msg;
	struct pipe_rcpt *grown;

	if (verdict == STAGE_REJECT || verdict == STAGE_TEMPFAIL) {
		rcpt_clear(&tx->pending);
		return PIPE_DONE;
	}
	grown = realloc(m->rcpts, (m->n_rcpts + 1) * sizeof(*grown));
	if (grown == NULL) {
		rcpt_clear(&tx->pending);
		stage_reply(&tx->reply, 0, 451, "4.3.0",
			    "Local error in processing");
		return PIPE_DONE;
	}
	m->rcpts = grown;
	if (verdict == STAGE_DISCARD || tx->discard)
		tx->pending.state = PIPE_RCPT_DISCARDED;
	tx->reply = tx->pending.reply;
	m->rcpts[m->n_rcpts++] = tx->pending;
	memset(&tx->pending, 0, sizeof(tx->pending));
	return PIPE_DONE;
}

static void abort_sink(struct pipe_tx *tx)
{
	if (tx->sink != NULL && tx->sink->abort != NULL)
		tx->sink->abort(tx->sink_st);
	tx->sink = NULL;
	tx->sink_st = NULL;
}

/* Every recipient gets what the message got (a stage's end verdict). */
static void rcpts_all(struct pipe_tx *tx, enum pipe_rcpt_state state)
{
	for (size_t i = 0; i < tx->msg.n_rcpts; i++) {
		struct pipe_rcpt *r = &tx->msg.rcpts[i];

		if (r->state != PIPE_RCPT_ACCEPTED)
			continue;
		r->state = state;
		r->reply = tx->reply;
	}
}

static int commit(struct pipe_tx *tx);

static int finish_content(struct pipe_tx *tx, int verdict)
{
	if (verdict == STAGE_CONTINUE && tx->step == STEP_END)
		return commit(tx);
	if (verdict == STAGE_CONTINUE) {
		stage_reply(&tx->reply, 0, 250, "2.0.0", "Ok");
		return PIPE_DONE;
	}
	abort_sink(tx);
	if (verdict == STAGE_DISCARD) {
		tx->discard = true;
		stage_reply(&tx->reply, 0, 250, "2.0.0", "Ok");
		rcpts_all(tx, PIPE_RCPT_DISCARDED);
		return PIPE_DONE;
	}
	if (tx->step == STEP_END)
		rcpts_all(tx, verdict == STAGE_REJECT ? PIPE_RCPT_REJECTED
						      : PIPE_RCPT_TEMPFAIL);
	return PIPE_DONE;
}

static int finish_step(struct pipe_tx *tx, int verdict)
{
	switch (tx->step) {
	case STEP_MAIL:
		return finish_mail(tx, verdict);
	case STEP_RCPT:
		return finish_rcpt(tx, verdict);
	case STEP_BEGIN:
	case STEP_END:
		return finish_content(tx, verdict);
	case STEP_NONE:
		break;
	}
	return PIPE_DONE;
}

int pipe_tx_mail(struct pipe_tx *tx, const struct addr_path *path,
		 const struct pipe_mail *mail)
{
	struct pipe_msg *m = &tx->msg;

	tx->has_path = path != NULL;
	if (path != NULL) {
		tx->path = *path;
		tx->path.rest = NULL;
		tx->path.rest_len = 0;
	}
	if (path == NULL && mail != NULL && mail->sender != NULL) {
		m->has_sender = true;
		snprintf(m->sender, sizeof(m->sender), "%s", mail->sender);
	}
	if (mail != NULL) {
		m->body = mail->body;
		m->smtputf8 = mail->smtputf8;
		m->has_size = mail->has_size;
		m->size = mail->size;
		m->ret = mail->ret;
		snprintf(m->envid, sizeof(m->envid), "%s",
			 mail->envid != NULL ? mail->envid : "");
	}
	return start_step(tx, STEP_MAIL);
}

/* The recipient as given, for the log, Received and the queue. */
static char *path_addr(const struct addr_path *path)
{
	char *addr;

	if (path->flags & ADDR_PATH_BARE_POSTMASTER)
		return strdup("postmaster");
	if (asprintf(&addr, "%s@%s", path->mailbox.local,
		     path->mailbox.domain) < 0)
		return NULL;
	return addr;
}

int pipe_tx_rcpt(struct pipe_tx *tx, const struct addr_path *path)
{
	return pipe_tx_rcpt_dsn(tx, path, NULL);
}

int pipe_tx_rcpt_dsn(struct pipe_tx *tx, const struct addr_path *path,
		     const struct pipe_rcpt_dsn *dsn)
{
	const struct pipe_env *env = tx->env;
	/* A local user's mail is routed as an authenticated user's. */
	struct route_ctx ctx = { env->cfg, env->db, env->al,
				 tx->msg.client.login[0] != '\0' ||
					 tx->msg.origin == PIPE_SENDMAIL };
	struct route_decision d;
	struct pipe_rcpt *p = &tx->pending;

	memset(&tx->reply, 0, sizeof(tx->reply));
	if (route_check(&ctx, path, &d) == 0) {
		stage_reply(&tx->reply, 0, d.code, d.enh, "%s", d.text);
		return PIPE_DONE;
	}
	rcpt_clear(p);
	p->addr = path_addr(path);
	p->route = d.route;
	p->targets = d.targets;
	p->n_targets = d.n_targets;
	stage_reply(&p->reply, 0, d.code, d.enh, "%s", d.text);
	if (dsn != NULL) {
		p->notify = dsn->notify;
		if (dsn->orcpt != NULL && dsn->orcpt[0] != '\0' &&
		    (p->orcpt = strdup(dsn->orcpt)) == NULL) {
			free(p->addr);
			p->addr = NULL;
		}
	}
	if (p->addr == NULL) {
		rcpt_clear(p);
		stage_reply(&tx->reply, 0, 451, "4.3.0",
			    "Local error in processing");
		return PIPE_DONE;
	}
	return start_step(tx, STEP_RCPT);
}

int pipe_tx_rcpt_routed(struct pipe_tx *tx, const char *addr,
			enum pipe_route route,
			const struct rcpt_target *targets, size_t n)
{
	struct pipe_rcpt *p = &tx->pending;

	memset(&tx->reply, 0, sizeof(tx->reply));
	if (route == PIPE_ROUTE_NONE) {
		stage_reply(&tx->reply, 0, 554, "5.7.1", "Relay access denied");
		return PIPE_DONE;
	}
	rcpt_clear(p);
	p->addr = strdup(addr);
	p->route = route;
	if (n > 0 && (p->targets = calloc(n, sizeof(*targets))) != NULL) {
		memcpy(p->targets, targets, n * sizeof(*targets));
		p->n_targets = n;
	}
	if (p->addr == NULL || (n > 0 && p->targets == NULL)) {
		rcpt_clear(p);
		stage_reply(&tx->reply, 0, 451, "4.3.0",
			    "Local error in processing");
		return PIPE_DONE;
	}
	stage_reply(&p->reply, 0, 250, "2.1.5", "Recipient OK");
	return start_step(tx, STEP_RCPT);
}

/* ---- content ---- */

/* A local recipient whose delivery is to be reported (RFC 3461 §6.2:
 * NOTIFY=SUCCESS, and a sender to report to). */
static bool reports_delivery(const struct pipe_msg *m,
			     const struct pipe_rcpt *r)
{
	return (r->notify & DSN_NOTIFY_SUCCESS) && m->has_sender &&
	       m->sender[0] != '\0';
}

/* The sink of the message: the queue when any recipient is queued (its
 * local recipients become local items of the same commit) or asks for a
 * delivery report (the queue's local route delivers it and then queues
 * the report, so that a crash between the two loses neither: the item
 * stays until both are done), else the Maildirs; none when nothing is to
 * be stored. */
static const struct sink_ops *choose_sink(const struct pipe_tx *tx)
{
	bool any = false;

	for (size_t i = 0; i < tx->msg.n_rcpts; i++) {
		const struct pipe_rcpt *r = &tx->msg.rcpts[i];

		if (r->state != PIPE_RCPT_ACCEPTED)
			continue;
		if (r->route != PIPE_ROUTE_LOCAL ||
		    reports_delivery(&tx->msg, r))
			return &sink_queue;
		any = true;
	}
	return any ? &sink_maildir : NULL;
}

/* The sink has begun (r: its result): on to the begin hooks. */
static int begun(struct pipe_tx *tx, int r)
{
	if (r != MD_OK) {
		tx->sink = NULL;
		tx->sink_st = NULL;
		tx->step = STEP_BEGIN;
		tx->out.result = r;
		pipe_store_reply(r, tx->env->cfg->quota_permanent, &tx->reply);
		return PIPE_DONE;
	}
	return start_step(tx, STEP_BEGIN);
}

/* A sink whose begin blocks (the queue's staging directory), on the io
 * pool: out.result carries its result to the loop. */
static void begin_run(void *arg)
{
	struct pipe_tx *tx = arg;

	tx->out.result = tx->sink->begin(tx, &tx->sink_st);
	tx->out.err = errno;
}

static void begin_done(void *arg)
{
	struct pipe_tx *tx = arg;

	tx->waiting = false;
	if (begun(tx, tx->out.result) == PIPE_DONE && tx->cb != NULL)
		tx->cb(tx, tx->cb_arg);
}

int pipe_tx_begin(struct pipe_tx *tx, const char *id)
{
	int r;

	snprintf(tx->msg.id, sizeof(tx->msg.id), "%s", id);
	tx->sink = tx->discard ? NULL : choose_sink(tx);
	if (tx->sink == NULL) {
		tx->discard = true; /* nothing to store: taken and dropped */
		return start_step(tx, STEP_BEGIN);
	}
	if (tx->sink->begin_blocks && tx->env->io != NULL &&
	    worker_submit(tx->env->io, begin_run, begin_done, tx) == 0) {
		tx->waiting = true;
		return PIPE_WAIT;
	}
	/* Inline: no pool, a sink that does not block, or a pool that is
	 * full (as a begin always ran before there was one). */
	r = tx->sink->begin(tx, &tx->sink_st);
	tx->out.err = errno;
	return begun(tx, r);
}

/* Octets into the sink, unless the message is refused. */
static void sink_write(struct pipe_tx *tx, const char *buf, size_t len)
{
	int r;

	if (len == 0 || tx->sink == NULL || tx->err != MD_OK ||
	    tx->verdict != STAGE_CONTINUE)
		return;
	r = tx->sink->write(tx->sink_st, buf, len);
	if (r != MD_OK)
		tx->err = r;
}

/* Through the content hooks from stage i on, then into the sink. */
static void chain_write(struct pipe_tx *tx, size_t i, const char *buf,
			size_t len)
{
	for (; i < tx->n_stages; i++) {
		const struct stage *s = tx->stages[i];
		struct stage_out out = { tx, i + 1 };
		int v;

		if (!tx->active[i] || s->content == NULL)
			continue;
		v = s->content(tx, &tx->st[i], buf, len, &out,
			       &tx->content_reply);
		if (v == STAGE_WAIT)
			tx->held = true;
		else if (v != STAGE_CONTINUE && tx->verdict == STAGE_CONTINUE)
			tx->verdict = v;
		return;
	}
	sink_write(tx, buf, len);
}

void stage_out_write(struct stage_out *out, const char *buf, size_t len)
{
	chain_write(out->tx, out->next, buf, len);
}

uint64_t stage_out_offset(const struct stage_out *out)
{
	struct pipe_tx *tx = out->tx;

	for (size_t i = out->next; i < tx->n_stages; i++)
		if (tx->active[i] && tx->stages[i]->content != NULL)
			return UINT64_MAX;
	if (tx->sink == NULL || tx->err != MD_OK ||
	    tx->verdict != STAGE_CONTINUE)
		return UINT64_MAX;
	return tx->sink->size(tx->sink_st);
}

int stage_out_overwrite(struct stage_out *out, uint64_t off, const char *buf,
			size_t len)
{
	struct pipe_tx *tx = out->tx;
	struct pipe_patch *grown;
	char *copy = malloc(len > 0 ? len : 1);

	grown = realloc(tx->patches, (tx->n_patches + 1) * sizeof(*grown));
	if (copy == NULL || grown == NULL) {
		free(copy);
		if (grown != NULL)
			tx->patches = grown;
		return -1;
	}
	memcpy(copy, buf, len);
	tx->patches = grown;
	tx->patches[tx->n_patches++] = (struct pipe_patch){ off, copy, len };
	return 0;
}

void pipe_tx_write(struct pipe_tx *tx, const char *buf, size_t len)
{
	tx->size += len;
	if (tx->err != MD_OK || tx->verdict != STAGE_CONTINUE)
		return;
	tx->emptied = false;
	chain_write(tx, 0, buf, len);
}

void pipe_tx_fail(struct pipe_tx *tx, int md_result)
{
	if (tx->err == MD_OK)
		tx->err = md_result;
}

/* Making room on the io pool. */
static void prepare_run(void *arg)
{
	struct pipe_tx *tx = arg;
	int r = tx->sink->prepare(tx->sink_st);

	if (r != MD_OK)
		tx->err = r; /* refused at the end of the data */
}

static void prepare_done(void *arg)
{
	struct pipe_tx *tx = arg;

	tx->waiting = false;
	tx->emptied = true;
	if (tx->cb != NULL)
		tx->cb(tx, tx->cb_arg);
}

int pipe_tx_reserve(struct pipe_tx *tx, size_t want)
{
	/* An emptied buffer is all the room there is: a bigger piece goes
	 * to the file directly. */
	if (tx->held && tx->err == MD_OK && tx->verdict == STAGE_CONTINUE) {
		tx->waiting = tx->reserve_held = true;
		return PIPE_WAIT;
	}
	if (tx->sink == NULL || tx->err != MD_OK ||
	    tx->verdict != STAGE_CONTINUE || tx->env->io == NULL ||
	    tx->emptied || tx->sink->room(tx->sink_st) >= want + tx->grow)
		return PIPE_DONE;
	if (worker_submit(tx->env->io, prepare_run, prepare_done, tx) < 0) {
		/* Busy: the message is refused at its end. */
		tx->err = MD_ERR_IO;
		return PIPE_DONE;
	}
	tx->waiting = true;
	return PIPE_WAIT;
}

void pipe_stage_resume(struct pipe_tx *tx, int verdict)
{
	bool reserve = tx->reserve_held, end = tx->end_held;

	tx->held = tx->reserve_held = tx->end_held = false;
	if (verdict != STAGE_CONTINUE && verdict != STAGE_WAIT &&
	    tx->verdict == STAGE_CONTINUE)
		tx->verdict = verdict;
	if (!reserve && !end)
		return;
	tx->waiting = false;
	if (end && pipe_tx_end(tx) == PIPE_WAIT)
		return;
	if (tx->cb != NULL)
		tx->cb(tx, tx->cb_arg);
}

int pipe_tx_end(struct pipe_tx *tx)
{
	if (tx->held) {
		tx->waiting = tx->end_held = true;
		return PIPE_WAIT;
	}
	if (tx->verdict != STAGE_CONTINUE) {
		tx->step = STEP_END;
		tx->reply = tx->content_reply;
		return finish_content(tx, tx->verdict);
	}
	return start_step(tx, STEP_END);
}

/* ---- the commit ---- */

/* Does r go to the user key? */
static bool rcpt_has(const struct pipe_rcpt *r, const char *key)
{
	for (size_t i = 0; i < r->n_targets; i++)
		if (strcmp(r->targets[i].key, key) == 0)
			return true;
	return false;
}

/* The commit's outcome into the recipients and the reply. */
static void outcome(struct pipe_tx *tx)
{
	const struct sink_outcome *o = &tx->out;
	struct pipe_reply fail;

	if (o->result == MD_OK) {
		stage_reply(&tx->reply, 0, 250, "2.0.0", "Ok");
		for (size_t i = 0; i < tx->msg.n_rcpts; i++)
			if (tx->msg.rcpts[i].state == PIPE_RCPT_ACCEPTED)
				tx->msg.rcpts[i].reply = tx->reply;
		return;
	}
	pipe_store_reply(o->result, tx->env->cfg->quota_permanent, &fail);
	tx->reply = fail;
	rcpts_all(tx, fail.code >= 500 ? PIPE_RCPT_REJECTED
				       : PIPE_RCPT_TEMPFAIL);
	if (o->failed[0] == '\0')
		return;
	/* All or nothing: the others were not stored either. */
	for (size_t i = 0; i < tx->msg.n_rcpts; i++) {
		struct pipe_rcpt *r = &tx->msg.rcpts[i];

		if (r->state == PIPE_RCPT_DISCARDED || rcpt_has(r, o->failed))
			continue;
		r->state = PIPE_RCPT_TEMPFAIL;
		stage_reply(&r->reply, 0, 451, "4.3.0",
			    "Not stored: another recipient failed, try again later");
	}
}

static void commit_run(void *arg)
{
	struct pipe_tx *tx = arg;

	/* The placeholders of the stages first: all, or no commit. */
	for (size_t i = 0; i < tx->n_patches; i++) {
		const struct pipe_patch *p = &tx->patches[i];
		int r = tx->sink->overwrite(tx->sink_st, p->off, p->buf,
					    p->len);

		if (r != MD_OK) {
			tx->out.result = r;
			tx->out.err = errno;
			snprintf(tx->out.stored, sizeof(tx->out.stored), "-");
			abort_sink(tx);
			return;
		}
	}
	tx->sink->commit(tx->sink_st, tx, &tx->out);
	tx->sink = NULL;
	tx->sink_st = NULL;
}

static void commit_finish(struct pipe_tx *tx)
{
	const struct pipe_env *env = tx->env;

	outcome(tx);
	if (tx->out.result == MD_OK && tx->out.kick && env->kick != NULL)
		env->kick(env->kick_arg);
}

static void commit_done(void *arg)
{
	struct pipe_tx *tx = arg;

	tx->waiting = false;
	commit_finish(tx);
	if (tx->cb != NULL)
		tx->cb(tx, tx->cb_arg);
}

static int commit(struct pipe_tx *tx)
{
	memset(&tx->out, 0, sizeof(tx->out));
	if (tx->err != MD_OK || (tx->sink == NULL && !tx->discard)) {
		tx->out.result = tx->err != MD_OK ? tx->err : MD_ERR_IO;
		abort_sink(tx);
		commit_finish(tx);
		return PIPE_DONE;
	}
	if (tx->sink == NULL) { /* every recipient discarded */
		stage_reply(&tx->reply, 0, 250, "2.0.0", "Ok");
		return PIPE_DONE;
	}
	if (tx->env->io == NULL) {
		commit_run(tx);
		commit_finish(tx);
		return PIPE_DONE;
	}
	if (worker_submit(tx->env->io, commit_run, commit_done, tx) < 0) {
		abort_sink(tx);
		tx->out.result = MD_ERR_IO;
		tx->out.err = errno;
		snprintf(tx->out.stored, sizeof(tx->out.stored), "-");
		commit_finish(tx);
		return PIPE_DONE;
	}
	tx->waiting = true;
	return PIPE_WAIT;
}
