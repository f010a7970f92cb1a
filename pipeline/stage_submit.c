/* pipeline/stage_submit.c: mail from authenticated users (RFC 6409) and
 * from local users (kantorpos-sendmail) — its header section is read as
 * it streams (pipeline/submit.h); the Date and Message-ID it lacks are
 * added at the end of that section (§8.2, §8.3), and at the end of an
 * authenticated user's message every address of its From: must be the
 * user's own (§6.1, pipeline/sender.h), else 550 5.7.1. A local user's
 * From: is not checked, as with any sendmail(1): its envelope sender is
 * the account's (or one the account may set). */
#include "autoconf.h"

#include <stdlib.h>
#include <time.h>

#include "common/config/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/received.h"
#include "pipeline/sender.h"
#include "pipeline/stage.h"
#include "pipeline/submit.h"

static bool submit_wants(struct pipe_tx *tx)
{
	const struct pipe_msg *m = pipe_tx_msg(tx);

	return (m->origin == PIPE_SUBMISSION && m->client.login[0] != '\0') ||
	       m->origin == PIPE_SENDMAIL;
}

static int submit_begin(struct pipe_tx *tx, void **st, struct stage_out *out,
			struct pipe_reply *r)
{
	struct submit_scan *sub = malloc(sizeof(*sub));

	(void)tx;
	(void)out;
	if (sub == NULL)
		return stage_reply(r, STAGE_TEMPFAIL, 451, "4.3.0",
				   "Local error in processing, try again later");
	submit_init(sub);
	*st = sub;
	return STAGE_CONTINUE;
}

/* The Date and Message-ID the message lacks. */
static void add_fields(struct pipe_tx *tx, const struct submit_scan *sub,
		       struct stage_out *out)
{
	char fields[SUBMIT_FIELDS_MAX];
	time_t now = time(NULL);
	size_t n = submit_fields(sub, pipe_tx_msg(tx)->id,
				 pipe_tx_env(tx)->cfg->hostname, now,
				 received_utc_offset(now), fields,
				 sizeof(fields));
	stage_out_write(out, fields, n);
}

static int submit_content(struct pipe_tx *tx, void **st, const char *buf,
			  size_t len, struct stage_out *out,
			  struct pipe_reply *r)
{
	struct submit_scan *sub = *st;
	size_t end;

	(void)r;
	if (sub == NULL) {
		stage_out_write(out, buf, len);
		return STAGE_CONTINUE;
	}
	/* The fields go before the empty line, inside the header section. */
	if (!sub->done && submit_feed(sub, buf, len, &end)) {
		stage_out_write(out, buf, end);
		add_fields(tx, sub, out);
		buf += end;
		len -= end;
	}
	stage_out_write(out, buf, len);
	return STAGE_CONTINUE;
}

static int submit_end(struct pipe_tx *tx, void **st, struct stage_out *out,
		      struct pipe_reply *r)
{
	struct submit_scan *sub = *st;
	const struct pipe_env *env = pipe_tx_env(tx);
	const struct pipe_client *cl = &pipe_tx_msg(tx)->client;
	struct sender_ctx c = { env->cfg, env->al, cl->login, cl->addr };

	if (sub == NULL) /* never begun: fail closed */
		return stage_reply(r, STAGE_TEMPFAIL, 451, "4.3.0",
				   "Local error in processing, try again later");
	/* A message without a body still lacks them. */
	if (submit_finish(sub))
		add_fields(tx, sub, out);
	if (pipe_tx_msg(tx)->origin == PIPE_SENDMAIL || sub->n_from == 0 ||
	    (!sub->from_long && sender_from_owned(&c, sub->from, sub->from_len)))
		return STAGE_CONTINUE;
	return stage_reply(r, STAGE_REJECT, 550, "5.7.1",
			   "From: address not owned by user %s", cl->login);
}

const struct stage stage_submit = {
	.name = "submit",
	.grow = SUBMIT_FIELDS_MAX,
	.wants = submit_wants,
	.begin = submit_begin,
	.content = submit_content,
	.end = submit_end,
	.reset = free,
};
