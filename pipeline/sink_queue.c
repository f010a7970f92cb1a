/* pipeline/sink_queue.c: the queue sink — a message with any recipient
 * for the outbound queue (held for ETRN, for the relay host, or a DSN)
 * goes whole into store/queue: one envelope per route domain, with the
 * BODY and SMTPUTF8 the relay step must know (RFC 6152 §3, RFC 6531
 * §3.2) and the DSN request (RFC 3461: RET, ENVID, each recipient's
 * NOTIFY and ORCPT); local recipients of the same message become items of the local
 * route, so that one commit covers everything; each item it made goes to
 * pipe_env.queued. No Return-Path: the local route or the next host adds
 * it. */
#include "autoconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/config/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/sink.h"
#include "store/maildir.h"
#include "store/queue.h"

static int q_begin(struct pipe_tx *tx, void **st_r)
{
	struct queue *q = pipe_tx_env(tx)->queue;
	struct queue_tx *qtx = NULL;

	if (q == NULL) {
		errno = EIO;
		return MD_ERR_IO;
	}
	if (queue_tx_begin(q, &qtx) < 0)
		return md_result_from_errno(errno);
	*st_r = qtx;
	return MD_OK;
}

static size_t q_room(void *st)
{
	return queue_tx_room(st);
}

static int q_prepare(void *st)
{
	return queue_tx_flush(st) < 0 ? md_result_from_errno(errno) : MD_OK;
}

static int q_write(void *st, const char *buf, size_t len)
{
	return queue_tx_write(st, buf, len) < 0 ? md_result_from_errno(errno)
						: MD_OK;
}

static uint64_t q_size(void *st)
{
	return queue_tx_size(st);
}

static int q_overwrite(void *st, uint64_t off, const char *buf, size_t len)
{
	return queue_tx_overwrite(st, off, buf, len) < 0
		       ? md_result_from_errno(errno)
		       : MD_OK;
}

static void q_abort(void *st)
{
	queue_tx_abort(st);
}

struct envs {
	struct queue_env *e;
	size_t n;
};

/* Add addr (once) to the envelope of its lower-cased route domain, with
 * the DSN request of r. */
static int group(struct envs *es, const char *addr, const struct pipe_rcpt *r,
		 const char *sender, time_t now)
{
	char dom[ADDR_DOMAIN_MAX + 1];
	struct queue_env *e;
	size_t k;

	if (queue_route_domain(addr, dom, sizeof(dom)) < 0)
		return -1;
	for (k = 0; k < es->n && strcmp(es->e[k].domain, dom) != 0; k++)
		;
	e = &es->e[k];
	if (k == es->n) {
		if (queue_env_set(&e->sender, sender) < 0 ||
		    queue_env_set(&e->domain, dom) < 0)
			return -1;
		e->arrival = e->next_attempt = now;
		es->n++;
	}
	for (size_t i = 0; i < e->n_rcpts; i++)
		if (strcasecmp(e->rcpts[i].addr, addr) == 0)
			return 0;
	if (queue_env_add_rcpt(e, addr) < 0)
		return -1;
	e->rcpts[e->n_rcpts - 1].notify = r->notify;
	return queue_env_set(&e->rcpts[e->n_rcpts - 1].orcpt, r->orcpt);
}

/* The envelopes of the message: queued recipients first, then the local
 * ones (their items are due at once: *local_r). 0 or -1. */
static int envelopes(const struct pipe_msg *m, time_t now, struct envs *es,
		     bool *local_r)
{
	size_t max = 0;

	for (size_t i = 0; i < m->n_rcpts; i++)
		max += 1 + m->rcpts[i].n_targets;
	if ((es->e = calloc(max + 1, sizeof(*es->e))) == NULL)
		return -1;
	for (size_t i = 0; i < m->n_rcpts; i++) {
		const struct pipe_rcpt *r = &m->rcpts[i];

		if (r->state == PIPE_RCPT_ACCEPTED &&
		    r->route != PIPE_ROUTE_LOCAL &&
		    group(es, r->addr, r, m->sender, now) < 0)
			return -1;
	}
	for (size_t i = 0; i < m->n_rcpts; i++) {
		const struct pipe_rcpt *r = &m->rcpts[i];

		for (size_t k = 0; r->state == PIPE_RCPT_ACCEPTED &&
				   r->route == PIPE_ROUTE_LOCAL &&
				   k < r->n_targets; k++) {
			if (group(es, r->targets[k].key, r, m->sender, now) < 0)
				return -1;
			*local_r = true;
		}
	}
	for (size_t i = 0; i < es->n; i++) {
		es->e[i].body = m->body == PIPE_BODY_8BITMIME ? QUEUE_BODY_8BITMIME
				: m->body == PIPE_BODY_BINARYMIME
					? QUEUE_BODY_BINARYMIME
					: QUEUE_BODY_7BIT;
		es->e[i].smtputf8 = m->smtputf8;
		es->e[i].ret = m->ret;
		if (m->envid[0] != '\0' &&
		    queue_env_set(&es->e[i].envid, m->envid) < 0)
			return -1;
	}
	return 0;
}

static void envs_free(struct envs *es)
{
	for (size_t i = 0; i < es->n; i++)
		queue_env_clear(&es->e[i]);
	free(es->e);
}

/* "queue:ID,queue:ID" for the log. */
static void stored_ids(const struct envs *es, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < es->n && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%squeue:%s",
				      i ? "," : "", es->e[i].id);
}

static void q_commit(void *st, struct pipe_tx *tx, struct sink_outcome *o)
{
	const struct pipe_env *env = pipe_tx_env(tx);
	const struct config *cfg = env->cfg;
	struct envs es = { NULL, 0 };
	bool local = false;

	if (envelopes(pipe_tx_msg(tx), env->now ? env->now : time(NULL), &es,
		      &local) < 0) {
		o->err = errno;
		o->result = md_result_from_errno(errno);
		queue_tx_abort(st);
		envs_free(&es);
		return;
	}
	if (queue_tx_commit(st, es.e, es.n) < 0) {
		o->err = errno;
		o->result = md_result_from_errno(errno);
		envs_free(&es);
		return;
	}
	o->result = MD_OK;
	stored_ids(&es, o->stored, sizeof(o->stored));
	for (size_t i = 0; i < es.n && env->queued != NULL; i++)
		env->queued(env->queued_arg, es.e[i].id, es.e[i].domain);
	/* Due now: local items, and mail for the relay host or MX hosts;
	 * only mail held for ETRN waits. */
	o->kick = local;
	for (size_t i = 0; i < es.n && !o->kick; i++)
		o->kick = config_find_etrn(cfg, es.e[i].domain) == NULL;
	envs_free(&es);
}

const struct sink_ops sink_queue = {
	.name = "queue",
	.begin = q_begin,
	.begin_blocks = true, /* a staging directory and its file */
	.room = q_room,
	.prepare = q_prepare,
	.write = q_write,
	.size = q_size,
	.overwrite = q_overwrite,
	.commit = q_commit,
	.abort = q_abort,
};
