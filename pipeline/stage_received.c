/* pipeline/stage_received.c: the Received field on top of every message
 * kantorpos-smtpd accepts, over SMTP or from a local user
 * (RFC 5321 §4.4, pipeline/received.h); the
 * Return-Path above it is the Maildir sink's, on final delivery only. */
#include "autoconf.h"

#include <time.h>

#include "common/config/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/received.h"
#include "pipeline/stage.h"

static bool received_wants(struct pipe_tx *tx)
{
	enum pipe_origin o = pipe_tx_msg(tx)->origin;

	return o == PIPE_MX || o == PIPE_SUBMISSION || o == PIPE_SENDMAIL;
}

static int received_begin(struct pipe_tx *tx, void **st,
			  struct stage_out *out, struct pipe_reply *r)
{
	const struct pipe_msg *m = pipe_tx_msg(tx);
	const struct pipe_client *cl = &m->client;
	struct received_info ri = { 0 };
	char block[RECEIVED_MAX];
	size_t n;

	(void)st;
	ri.sender = m->sender;
	ri.helo = cl->helo;
	ri.client_ip = cl->addr;
	ri.host = pipe_tx_env(tx)->cfg->hostname;
	ri.id = m->id;
	ri.for_rcpt = m->n_rcpts == 1 ? m->rcpts[0].addr : NULL;
	ri.tls_version = cl->tls_version[0] != '\0' ? cl->tls_version : NULL;
	ri.tls_cipher = cl->tls_cipher[0] != '\0' ? cl->tls_cipher : NULL;
	ri.esmtp = cl->esmtp;
	ri.auth = cl->login[0] != '\0';
	ri.auth_user = ri.auth ? cl->login : NULL;
	ri.utf8 = m->smtputf8;
	if (m->origin == PIPE_SENDMAIL) {
		ri.local_user = cl->local_user;
		ri.local_uid = cl->local_uid;
	}
	ri.when = time(NULL);
	ri.utc_offset = received_utc_offset(ri.when);
	n = received_format(&ri, block, sizeof(block));
	if (n == 0)
		return stage_reply(r, STAGE_TEMPFAIL, 451, "4.3.0",
				   "Local error in processing, try again later");
	stage_out_write(out, block, n);
	return STAGE_CONTINUE;
}

const struct stage stage_received = {
	.name = "received",
	.wants = received_wants,
	.begin = received_begin,
};
