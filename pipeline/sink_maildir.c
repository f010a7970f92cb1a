/* pipeline/sink_maildir.c: the Maildir sink — final delivery into the
 * Maildirs of the local recipients through store/maildir.h: Return-Path
 * first (RFC 5321 §4.4: only here), the content through the 64 KiB
 * buffer of a deferred start (the file is made by prepare on the pool
 * when it is outgrown, or by the commit), and one all-or-nothing commit
 * that links one file into every target. The one place that turns
 * recipients into Maildir targets. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/sink.h"
#include "store/maildir.h"

/* The first local target of the message. */
static const struct rcpt_target *first_target(const struct pipe_msg *m)
{
	for (size_t i = 0; i < m->n_rcpts; i++)
		if (m->rcpts[i].state == PIPE_RCPT_ACCEPTED &&
		    m->rcpts[i].n_targets > 0)
			return &m->rcpts[i].targets[0];
	return NULL;
}

static int md_begin(struct pipe_tx *tx, void **st_r)
{
	const struct pipe_env *env = pipe_tx_env(tx);
	const struct pipe_msg *m = pipe_tx_msg(tx);
	const struct rcpt_target *t = first_target(m);
	struct md_delivery *md = NULL;
	char *path = NULL, line[ADDR_KEY_SIZE + 32];
	int r, n;

	if (env->staging == NULL &&
	    (t == NULL || md_path(env->cfg->data_dir, t->domain, t->local,
				  &path) < 0))
		return MD_ERR_INVALID;
	/* Nothing on disk yet: a message that fits the buffer is written
	 * whole by the commit. */
	r = md_delivery_start(path != NULL ? path : env->staging,
			      env->cfg->hostname, &md);
	free(path);
	if (r == MD_OK && m->has_sender) {
		n = snprintf(line, sizeof(line), "Return-Path: <%s>\r\n",
			     m->sender);
		r = n > 0 && (size_t)n < sizeof(line)
			    ? md_delivery_write(md, line, (size_t)n)
			    : MD_ERR_INVALID;
	}
	if (r != MD_OK) {
		md_delivery_abort(md);
		return r;
	}
	*st_r = md;
	return MD_OK;
}

static size_t md_room(void *st)
{
	return md_delivery_room(st);
}

static int md_prepare(void *st)
{
	return md_delivery_open(st);
}

static int md_write(void *st, const char *buf, size_t len)
{
	return md_delivery_write(st, buf, len);
}

static uint64_t md_size(void *st)
{
	return md_delivery_size(st);
}

static int md_overwrite(void *st, uint64_t off, const char *buf, size_t len)
{
	return md_delivery_overwrite(st, off, buf, len);
}

static void md_abort(void *st)
{
	md_delivery_abort(st);
}

/* The targets of the accepted local recipients, each user once. */
struct targets {
	struct md_target *t;
	const char **keys;
	char **paths;
	size_t n;
};

static void targets_free(struct targets *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		free(ts->paths[i]);
	free(ts->paths);
	free(ts->keys);
	free(ts->t);
}

static bool have_key(const struct targets *ts, const char *key)
{
	for (size_t i = 0; i < ts->n; i++)
		if (strcmp(ts->keys[i], key) == 0)
			return true;
	return false;
}

static size_t count_targets(const struct pipe_msg *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_rcpts; i++)
		if (m->rcpts[i].state == PIPE_RCPT_ACCEPTED)
			n += m->rcpts[i].n_targets;
	return n;
}

/* 0, or -1 (EINVAL: an unsafe name; ENOMEM). */
static int targets_build(const struct pipe_env *env, const struct pipe_msg *m,
			 struct targets *ts)
{
	size_t max = count_targets(m);

	memset(ts, 0, sizeof(*ts));
	ts->t = calloc(max + 1, sizeof(*ts->t));
	ts->keys = calloc(max + 1, sizeof(*ts->keys));
	ts->paths = calloc(max + 1, sizeof(*ts->paths));
	if (ts->t == NULL || ts->keys == NULL || ts->paths == NULL)
		return -1;
	for (size_t i = 0; i < m->n_rcpts; i++) {
		const struct pipe_rcpt *r = &m->rcpts[i];

		for (size_t k = 0; r->state == PIPE_RCPT_ACCEPTED &&
				   k < r->n_targets; k++) {
			const struct rcpt_target *t = &r->targets[k];

			if (have_key(ts, t->key))
				continue;
			if (md_path(env->cfg->data_dir, t->domain, t->local,
				    &ts->paths[ts->n]) < 0)
				return -1;
			/* Leftovers of crashed deliveries go first. */
			if (env->clean_tmp)
				md_clean_tmp(ts->paths[ts->n], MD_TMP_MAX_AGE,
					     NULL);
			ts->keys[ts->n] = t->key;
			ts->t[ts->n].maildir = ts->paths[ts->n];
			ts->t[ts->n].quota_bytes = env->cfg->quota_bytes;
			ts->t[ts->n].quota_messages = env->cfg->quota_messages;
			ts->n++;
		}
	}
	return 0;
}

static void md_commit(void *st, struct pipe_tx *tx, struct sink_outcome *o)
{
	struct targets ts;
	size_t failed;

	if (targets_build(pipe_tx_env(tx), pipe_tx_msg(tx), &ts) < 0) {
		o->err = errno;
		o->result = MD_ERR_INVALID;
		md_delivery_abort(st);
		targets_free(&ts);
		return;
	}
	o->result = md_delivery_commit(st, ts.t, ts.n, &failed, o->stored,
				       sizeof(o->stored));
	o->err = errno;
	if (o->result != MD_OK && failed < ts.n)
		snprintf(o->failed, sizeof(o->failed), "%s", ts.keys[failed]);
	targets_free(&ts);
}

const struct sink_ops sink_maildir = {
	.name = "maildir",
	.begin = md_begin,
	.room = md_room,
	.prepare = md_prepare,
	.write = md_write,
	.size = md_size,
	.overwrite = md_overwrite,
	.commit = md_commit,
	.abort = md_abort,
};
