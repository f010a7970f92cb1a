/* outbound/direct_session.c: the sessions of direct delivery
 * (outbound/direct_session.h): one SMTP client session to one target
 * carries its waiting items one after another (reuse), more open as
 * items wait, within the limits; a session that fails before any
 * transaction sends its items on and may mark the target down; the
 * queue of items at a target; the TLS-RPT lines of sessions. */
#include "autoconf.h"

#include "outbound/direct_session.h"

#include "common/base/log.h"
#include "common/config/config.h"
#include "common/net/worker.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sess_next(struct dsess *sess);
static void s_ready(struct smtpc *s, void *arg);
static void s_result(struct smtpc *s, void *arg,
		     const struct smtpc_reply *replies, size_t n);
static void s_close(struct smtpc *s, void *arg, const char *error,
		    const struct smtpc_reply *last);

static const struct smtpc_cb direct_smtpc_cb = {
	.on_ready = s_ready,
	.on_result = s_result,
	.on_close = s_close,
};

#define ITEM_AT(l) ((struct ditem *)(void *)((char *)(l) - \
					      offsetof(struct ditem, link)))

time_t dsess_now(const struct dsess_env *e)
{
	return e->clock != NULL ? e->clock(e->clock_arg) : time(NULL);
}

void dsess_enqueue(struct dtarget *t, struct ditem *item, bool front)
{
	item->at = t;
	dtarget_push(t, &item->link, front);
}

struct ditem *dsess_dequeue(struct dtarget *t)
{
	struct dtarget_link *l = dtarget_pop(t);
	struct ditem *item;

	if (l == NULL)
		return NULL;
	item = ITEM_AT(l);
	item->at = NULL;
	return item;
}

void dsess_target_fail(struct dtarget *t, int code, const char *why)
{
	struct dsess_env *d = t->owner;
	struct ditem *item;

	while ((item = dsess_dequeue(t)) != NULL)
		d->ops->item_failed(item, code, why);
}

/* The TLS-RPT result of the session s to t for item (outbound/
 * tlsrpt.h) as " tlsrpt=RESULT policy=TYPE", or "" when there is none
 * to report. In MTA-STS testing mode an MX host outside the policy is a
 * mismatch too. */
static const char *rpt_fields(const struct dtarget *t, const struct smtpc *s,
			      const struct ditem *item, char *buf, size_t len)
{
	long vr;
	enum smtpc_tlso o = smtpc_tls_outcome(s, &vr);
	bool mx_ok = item == NULL || item->sts == NULL ||
		     mtasts_mx_match(item->sts, t->name);
	const char *r = tlsrpt_session(t->tls.report,
				       t->tls.tls == SMTPC_TLS_ENCRYPT, mx_ok, o,
				       vr);

	if (r == NULL)
		return "";
	snprintf(buf, len, " tlsrpt=%s policy=%s", r,
		 tlsrpt_policy_name(t->tls.report));
	return buf;
}

/* A session to t failed before any transaction: the result for each
 * item it was to carry (their domains are the policy domains). */
static void rpt_failed(const struct dtarget *t, const struct smtpc *s)
{
	char rpt[96];

	if (t->tls.report == TLSRPT_POLICY_NONE)
		return;
	for (const struct dtarget_link *l = t->head; l != NULL; l = l->next) {
		const struct ditem *item = ITEM_AT(l);

		if (*rpt_fields(t, s, item, rpt, sizeof(rpt)) != '\0')
			log_info("direct: id=%s domain=%s mx=%s[%s] tls=%s%s",
				 item->id, item->domain, t->name, t->text,
				 t->tls.mode_name, rpt);
	}
}

/* A target that gave no reply at all is skipped for queue_retry_min. */
static void mark_down(struct dsess_env *d, const struct dtarget *t,
		      const char *why)
{
	time_t t0 = dsess_now(d);

	if (dtargets_mark_down(&d->targets, &t->addr, t0,
			       t0 + (time_t)d->cfg->queue_retry_min, why))
		log_info("direct: %s[%s] is down for %us: %s", t->name, t->text,
			 d->cfg->queue_retry_min, why);
}

static void tls_reason(const struct dtarget *t, const char *error,
		       char *buf, size_t len)
{
	if (t->tls.tls == SMTPC_TLS_DANE || t->tls.tls == SMTPC_TLS_ENCRYPT ||
	    strcmp(t->tls.mode_name, "mta-sts-enforce") == 0)
		snprintf(buf, len, "%s: %s", t->tls.mode_name, error);
	else
		snprintf(buf, len, "%s", error);
}

/* ---- sessions ---- */

static int sess_start(struct dtarget *t)
{
	struct dsess_env *d = t->owner;
	struct dsess *sess = calloc(1, sizeof(*sess));
	struct smtpc_opts o = {
		.host = t->text, .port = (unsigned)d->cfg->outbound_port,
		.helo = config_outbound_helo(d->cfg), .tls = t->tls.tls,
		.verify_ctx = d->verify_ctx, .any_ctx = d->any_ctx,
		.tls_name = t->name, .timeout = d->cfg->outbound_timeout,
		.bind4 = d->cfg->outbound_bind4, .bind6 = d->cfg->outbound_bind6,
		.dane_base = t->tls.base,
		.dane_names = (const char *const *)t->tls.names,
		.n_dane_names = t->tls.n_names,
		.tlsa = t->tls.rrs, .n_tlsa = t->tls.n_rrs,
		.tls_check = t->tls.check,
	};

	if (sess == NULL)
		return -1;
	sess->d = d;
	sess->t = t;
	sess->s = smtpc_start(d->loop, d->pool, &o, &direct_smtpc_cb, sess);
	if (sess->s == NULL) {
		free(sess);
		return -1;
	}
	sess->next = d->sessions;
	d->sessions = sess;
	d->n_sessions++;
	t->sessions++;
	return 0;
}

static void sess_free(struct dsess *sess)
{
	struct dsess_env *d = sess->d;
	struct dtarget *t = sess->t;

	for (struct dsess **pp = &d->sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == sess) {
			*pp = sess->next;
			break;
		}
	}
	free(sess->rcpts);
	free(sess->map);
	free(sess->dsn);
	free(sess);
	dtarget_release(&d->targets, t);
}

/* Idle sessions to t take its waiting items; more sessions open while
 * there are more than DSESS_ITEMS items a session, within the
 * per-target and global limits. */
void dsess_pump(struct dtarget *t)
{
	struct dsess_env *d = t->owner;

	for (struct dsess *s = d->sessions; s != NULL && t->waiting > 0;
	     s = s->next)
		if (s->t == t && s->ready && !s->busy && !s->closed)
			sess_next(s);
	while (t->waiting > 0 && !d->shut &&
	       t->sessions < d->cfg->outbound_concurrency &&
	       d->n_sessions < d->cfg->outbound_max_sessions &&
	       t->sessions * DSESS_ITEMS < t->waiting + t->carried) {
		if (sess_start(t) < 0) {
			dsess_target_fail(t, 0, "cannot start an SMTP session");
			break;
		}
	}
}

/* A session ended: targets that wait for a free slot get it. */
static void pump_all(struct dsess_env *d)
{
	struct dtarget *t = d->targets.first, *next;

	for (; t != NULL && d->n_sessions < d->cfg->outbound_max_sessions;
	     t = next) {
		next = t->next;
		if (t->waiting > 0)
			dsess_pump(t);
	}
}

/* The session is free: its next item, or QUIT when none waits. */
static void sess_next(struct dsess *sess)
{
	struct dtarget *t = sess->t;
	struct ditem *item;
	struct djob *j;

	if (sess->busy || !sess->ready || sess->closed)
		return;
	item = sess->d->shut ? NULL : dsess_dequeue(t);
	if (item == NULL) {
		sess->ready = false;
		smtpc_quit(sess->s);
		return;
	}
	item->sess = sess;
	sess->cur = item;
	sess->busy = true;
	t->carried++;
	j = sess->d->ops->new_job(sess->d, DJ_TAKE, item);
	if (j == NULL || sess->d->ops->submit(sess->d, j) < 0) {
		free(j);
		item->sess = NULL;
		sess->cur = NULL;
		sess->busy = false;
		t->carried--;
		dsess_enqueue(t, item, true);
		sess->ready = false;
		smtpc_abort(sess->s, "cannot take the next item");
	}
}

static void s_ready(struct smtpc *s, void *arg)
{
	struct dsess *sess = arg;

	if (!sess->greeted_logged) {
		sess->greeted_logged = true;
		log_info("direct: session to %s[%s]:%llu tls=%s%s", sess->t->name,
			 sess->t->text, sess->d->cfg->outbound_port,
			 sess->t->tls.mode_name,
			 smtpc_tls_active(s) ? " (STARTTLS)" : " (plaintext)");
	}
	sess->ready = true;
	sess_next(sess);
}

/* The item the take job locked goes out on the session. */
static void sess_send(struct dsess *sess, struct ditem *item)
{
	struct smtpc_msg msg;

	free(sess->rcpts);
	free(sess->map);
	sess->rcpts = NULL;
	sess->map = NULL;
	free(sess->dsn);
	sess->dsn = NULL;
	sess->ready = false;
	if (outb_item_msg(item->it, &msg, &sess->rcpts, &sess->map) < 0 ||
	    outb_item_dsn_args(queue_item_env(item->it), sess->map,
			       msg.n_rcpts, &msg, &sess->dsn) < 0 ||
	    smtpc_send(sess->s, &msg) < 0) {
		/* Nothing sent: the item stays queued as it was. */
		sess->busy = false;
		sess->cur = NULL;
		sess->t->carried--;
		sess->d->ops->forget(item);
		smtpc_abort(sess->s, "cannot send the message");
	}
}

static void s_result(struct smtpc *s, void *arg,
		     const struct smtpc_reply *replies, size_t n)
{
	struct dsess *sess = arg;
	struct dsess_env *d = sess->d;
	struct ditem *item = sess->cur;
	struct djob *j = d->ops->new_job(d, DJ_RECORD, item);
	char rpt[96];
	bool took = false, too_many = false;
	size_t n_sent = 0;

	for (size_t i = 0; i < n; i++)
		n_sent += replies[i].code / 100 == 2;
	log_info("direct: id=%s relay=%s[%s] tls=%s%s: %zu of %zu recipients "
		 "accepted%s", item->id, sess->t->name, sess->t->text,
		 sess->t->tls.mode_name,
		 smtpc_tls_active(s) ? "" : " (plaintext)", n_sent, n,
		 rpt_fields(sess->t, s, item, rpt, sizeof(rpt)));
	for (size_t i = 0; i < n; i++) {
		sess->answered |= replies[i].code != 0;
		took |= replies[i].code / 100 == 2;
		too_many |= replies[i].code == 452;
		if (replies[i].code / 100 == 2)
			d->sent++;
		else if (replies[i].code / 100 == 5)
			d->bounced++;
		else
			d->deferred++;
	}
	/* RFC 5321 4.5.3.1.10: 452 for recipients beyond the server's
	 * limit; they go again at once while others get through. */
	item->again = took && too_many;
	if (j != NULL && (j->replies = malloc((n ? n : 1) * sizeof(*replies))) != NULL) {
		memcpy(j->replies, replies, n * sizeof(*replies));
		j->n = n;
		j->it = item->it;
		j->map = sess->map;
		snprintf(j->remote, sizeof(j->remote), "%s", sess->t->name);
		if (d->ops->submit(d, j) == 0) {
			item->it = NULL;
			sess->map = NULL;
			return; /* record_done goes on */
		}
	}
	/* Nothing recorded: the item stays as it was (retried). */
	if (j != NULL)
		free(j->replies);
	free(j);
	sess->busy = false;
	sess->cur = NULL;
	sess->t->carried--;
	sess->d->ops->forget(item);
	if (sess->s != NULL)
		smtpc_abort(sess->s, "cannot record the result");
}

static void s_close(struct smtpc *s, void *arg, const char *error,
		    const struct smtpc_reply *last)
{
	struct dsess *sess = arg;
	struct dsess_env *d = sess->d;
	struct dtarget *t = sess->t;

	sess->s = NULL;
	sess->closed = true;
	sess->ready = false;
	t->sessions--;
	d->n_sessions--;
	if (error != NULL) {
		d->sessions_failed++;
		log_info("direct: session to %s[%s]:%llu failed: %s", t->name,
			 t->text, d->cfg->outbound_port, error);
	}
	if (error != NULL && !sess->answered && !d->shut) {
		/* The target failed before any transaction: its items go on. A
		 * 5xx greeting is kept as the reply that may bounce them. */
		int code = last != NULL ? last->code : 0;

		if (code == 0)
			mark_down(d, t, error);
		rpt_failed(t, s);
		sess->moved_on = true;
		sess->why_code = code / 100 == 5 ? code : 0;
		if (code / 100 == 5)
			snprintf(sess->why, sizeof(sess->why), "%s", last->text);
		else
			tls_reason(t, error, sess->why, sizeof(sess->why));
		dsess_target_fail(t, sess->why_code, sess->why);
	}
	if (!sess->busy)
		sess_free(sess); /* else when its job is done */
	pump_all(d);
	d->ops->idle(d);
}

/* ---- the results of the jobs of a session ---- */

void dsess_take_done(struct djob *j)
{
	struct ditem *item = j->item;
	struct dsess *sess = item->sess;
	struct dtarget *t = sess->t;

	if (j->rc == 1 && !sess->closed) {
		item->it = j->it;
		j->it = NULL; /* the item's now */
		sess_send(sess, item);
		return;
	}
	if (j->rc == 1)
		queue_item_release(j->it);
	j->it = NULL;
	sess->busy = false;
	sess->cur = NULL;
	item->sess = NULL;
	t->carried--;
	if (j->rc == 1 && sess->moved_on) {
		sess->d->ops->item_failed(item, sess->why_code, sess->why);
	} else if (j->rc == 1 && !sess->d->shut) {
		dsess_enqueue(t, item, true); /* the target still works */
		dsess_pump(t);
	} else {
		sess->d->ops->forget(item); /* skipped: busy elsewhere, gone, not due */
	}
	if (sess->closed)
		sess_free(sess);
	else
		sess_next(sess);
}

void dsess_record_done(struct djob *j)
{
	struct ditem *item = j->item;
	struct dsess *sess = item->sess;

	sess->busy = false;
	sess->cur = NULL;
	sess->t->carried--;
	item->sess = NULL;
	if (item->again && j->rc == 0 && !sess->closed && !sess->d->shut) {
		/* The recipients a 452 left, on this connection next. */
		item->again = false;
		item->due_only = false;
		dsess_enqueue(sess->t, item, true);
	} else {
		sess->d->ops->forget(item);
	}
	if (sess->closed)
		sess_free(sess);
	else
		sess_next(sess);
}

