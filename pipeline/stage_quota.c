/* pipeline/stage_quota.c: the quota of local users at RCPT time (452
 * 4.2.2, or 552 5.2.2 when the quota is permanent; RFC 3463 X.2.2 mailbox
 * full), counting the declared SIZE. The Maildirs are read on the io pool
 * while the transaction waits; the commit checks again in any case, so a
 * busy pool lets the recipient through. */
#include "autoconf.h"

#include <stdlib.h>

#include "common/base/log.h"
#include "common/config/config.h"
#include "common/net/worker.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"
#include "store/maildir.h"
#include "store/quota.h"

struct quota_job {
	struct pipe_tx *tx;
	const struct pipe_rcpt *rcpt;
	struct pipe_reply *r;
	char **paths;
	size_t n;
	uint64_t max_bytes, max_messages, size;
	int result;  /* 1 fits, 0 over quota, -1 error */
	size_t full; /* the target over quota */
};

static bool quota_wants(struct pipe_tx *tx)
{
	const struct config *cfg = pipe_tx_env(tx)->cfg;
	enum pipe_origin o = pipe_tx_msg(tx)->origin;

	return (o == PIPE_MX || o == PIPE_SUBMISSION || o == PIPE_SENDMAIL) &&
	       (cfg->quota_bytes != 0 || cfg->quota_messages != 0);
}

static void job_free(struct quota_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->paths[i]);
	free(j->paths);
	free(j);
}

static struct quota_job *job_new(struct pipe_tx *tx,
				 const struct pipe_rcpt *rcpt,
				 struct pipe_reply *r)
{
	const struct config *cfg = pipe_tx_env(tx)->cfg;
	const struct pipe_msg *m = pipe_tx_msg(tx);
	struct quota_job *j = calloc(1, sizeof(*j));

	if (j == NULL || (j->paths = calloc(rcpt->n_targets,
					    sizeof(*j->paths))) == NULL) {
		free(j);
		return NULL;
	}
	for (; j->n < rcpt->n_targets; j->n++)
		if (md_path(cfg->data_dir, rcpt->targets[j->n].domain,
			    rcpt->targets[j->n].local, &j->paths[j->n]) < 0) {
			job_free(j);
			return NULL;
		}
	j->tx = tx;
	j->rcpt = rcpt;
	j->r = r;
	j->max_bytes = cfg->quota_bytes;
	j->max_messages = cfg->quota_messages;
	j->size = m->has_size ? m->size : 0;
	return j;
}

static void quota_run(void *arg)
{
	struct quota_job *j = arg;

	j->result = 1;
	for (size_t i = 0; i < j->n && j->result == 1; i++) {
		j->result = quota_check(j->paths[i], j->max_bytes,
					j->max_messages, j->size);
		j->full = i;
	}
}

/* The verdict of a finished check. */
static int verdict(struct quota_job *j)
{
	bool permanent = pipe_tx_env(j->tx)->cfg->quota_permanent;

	if (j->result == 1)
		return STAGE_CONTINUE;
	if (j->result < 0) {
		log_warn("%s quota check failed rcpt=<%s>", pipe_tx_label(j->tx),
			 j->rcpt->addr);
		return stage_reply(j->r, STAGE_TEMPFAIL, 451, "4.3.0",
				   "Local error in processing");
	}
	log_info("%s over quota rcpt=<%s> target=%s", pipe_tx_label(j->tx),
		 j->rcpt->addr, j->rcpt->targets[j->full].key);
	if (permanent)
		return stage_reply(j->r, STAGE_REJECT, 552, "5.2.2",
				   "Mailbox full");
	return stage_reply(j->r, STAGE_TEMPFAIL, 452, "4.2.2",
			   "Mailbox full, try again later");
}

static void quota_done(void *arg)
{
	struct quota_job *j = arg;
	struct pipe_tx *tx = j->tx;
	int v = verdict(j);

	job_free(j);
	pipe_stage_done(tx, v);
}

static int quota_rcpt(struct pipe_tx *tx, void **st, struct pipe_rcpt *rcpt,
		      struct pipe_reply *r)
{
	struct worker *io = pipe_tx_env(tx)->io;
	struct quota_job *j;
	int v;

	(void)st;
	if (rcpt->route != PIPE_ROUTE_LOCAL || rcpt->n_targets == 0 ||
	    (j = job_new(tx, rcpt, r)) == NULL)
		return STAGE_CONTINUE;
	if (io == NULL) {
		quota_run(j);
		v = verdict(j);
		job_free(j);
		return v;
	}
	if (worker_submit(io, quota_run, quota_done, j) < 0) {
		job_free(j);
		return STAGE_CONTINUE;
	}
	return STAGE_WAIT;
}

const struct stage stage_quota = {
	.name = "quota",
	.wants = quota_wants,
	.rcpt = quota_rcpt,
};
