/* smtpd/pickup_bounce.c: the DSN of a picked-up message, built by
 * outbound/dsn.h and queued through the pipeline, inline (this runs on a
 * worker thread). */
#include "autoconf.h"

#include "smtpd/pickup_bounce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"
#include "outbound/dsn.h"
#include "pipeline/pipeline.h"
#include "pipeline/route.h"

void pickup_bounce_route(const struct config *cfg, struct userdb *db,
			 const struct aliases *al, const char *sender,
			 struct pickup_bounce_to *to)
{
	struct route_ctx ctx = { cfg, db, al, false };
	struct addr_path path = { .flags = 0 };
	struct route_decision d;

	memset(to, 0, sizeof(*to));
	if (addr_parse_mailbox(sender, strlen(sender), ADDR_OPT_UTF8,
			       &path.mailbox, NULL) < 0)
		return;
	if (route_check(&ctx, &path, &d) == 1) {
		to->route = d.route;
		to->targets = d.targets;
		to->n_targets = d.n_targets;
	} else if (d.code == 554) {
		/* Not ours: the queue takes it to where the domain is. */
		to->route = PIPE_ROUTE_QUEUE;
	}
}

/* The refused recipients as DSN rows: diag is the reply as it was given. */
static struct dsn_rcpt *dsn_rows(const struct pickup_bounce *b,
				 char (*diag)[PIPE_TEXT_MAX + 32])
{
	struct dsn_rcpt *rows = calloc(b->n_refused, sizeof(*rows));

	for (size_t i = 0; rows != NULL && i < b->n_refused; i++) {
		const struct pipe_reply *r = &b->refused[i].reply;

		snprintf(diag[i], sizeof(diag[i]), "%d %s %s", r->code,
			 r->enh != NULL ? r->enh : "5.0.0", r->text);
		rows[i].addr = b->refused[i].addr;
		rows[i].status = r->enh;
		rows[i].diag = diag[i];
	}
	return rows;
}

/* text[0..len) to the sender, from <>, into the queue. */
static int queue_text(const struct pickup_bounce *b, const char *msgid,
		      const char *text, size_t len, char *stored_r,
		      size_t size)
{
	struct pipe_env env = { .cfg = b->cfg, .db = b->db, .queue = b->queue,
				.now = b->now };
	struct pipe_facts facts = { PIPE_DSN, NULL, b->id };
	struct addr_path null_path = { .flags = ADDR_PATH_NULL };
	struct pipe_tx *tx = pipe_tx_new(&env, &facts, NULL, NULL);
	int rc = -1;

	if (tx == NULL)
		return -1;
	pipe_tx_mail(tx, &null_path, NULL);
	pipe_tx_rcpt_routed(tx, b->sender, b->to->route, b->to->targets,
			    b->to->n_targets);
	if (pipe_tx_reply(tx)->code < 300)
		pipe_tx_begin(tx, msgid);
	if (pipe_tx_reply(tx)->code < 300) {
		pipe_tx_write(tx, text, len);
		pipe_tx_end(tx);
	}
	if (pipe_tx_reply(tx)->code < 300) {
		snprintf(stored_r, size, "%s", pipe_tx_stored(tx));
		rc = 0;
	}
	pipe_tx_free(tx);
	return rc;
}

int pickup_bounce(const struct pickup_bounce *b, char *stored_r,
		  size_t size)
{
	char (*diag)[PIPE_TEXT_MAX + 32] = calloc(b->n_refused + 1,
						  sizeof(*diag));
	struct dsn_rcpt *rows = diag != NULL ? dsn_rows(b, diag) : NULL;
	char msgid[128], *text = NULL;
	size_t len = 0;
	int rc = -1;

	snprintf(msgid, sizeof(msgid), "%lld.%s.dsn", (long long)b->now, b->id);
	struct dsn_info info = {
		.reporting_mta = b->cfg->hostname,
		.sender = b->sender,
		.msgid = msgid,
		.arrival = b->arrival,
		.now = b->now,
		.action = DSN_ACTION_FAILED,
		.expired = b->expired,
		.content = b->headers,
		.content_len = b->headers_len,
		.rcpts = rows,
		.n_rcpts = b->n_refused,
	};
	if (rows != NULL && dsn_build(&info, &text, &len) == 0)
		rc = queue_text(b, msgid, text, len, stored_r, size);
	free(text);
	free(rows);
	free(diag);
	return rc;
}
