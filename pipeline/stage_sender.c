/* pipeline/stage_sender.c: the sender rules at MAIL (pipeline/sender.h):
 * an authenticated user sends only as an address it owns, never as <>
 * (553 5.7.1); a client that did not authenticate may not use a sender
 * of a local domain unless it is trusted (550 5.7.1). */
#include "autoconf.h"

#include "pipeline/pipeline.h"
#include "pipeline/sender.h"
#include "pipeline/stage.h"

static bool sender_wants(struct pipe_tx *tx)
{
	enum pipe_origin o = pipe_tx_msg(tx)->origin;

	return o == PIPE_MX || o == PIPE_SUBMISSION;
}

static int sender_mail(struct pipe_tx *tx, void **st, struct pipe_reply *r)
{
	const struct pipe_env *env = pipe_tx_env(tx);
	const struct pipe_client *cl = &pipe_tx_msg(tx)->client;
	const struct addr_path *path = pipe_tx_mail_path(tx);
	struct sender_ctx c = { env->cfg, env->al,
				cl->login[0] != '\0' ? cl->login : NULL,
				cl->addr };

	(void)st;
	if (path == NULL)
		return STAGE_CONTINUE;
	switch (sender_check_mail(&c, path)) {
	case SENDER_OK:
		return STAGE_CONTINUE;
	case SENDER_NOT_OWNED:
		return stage_reply(r, STAGE_REJECT, 553, "5.7.1",
				   "Sender address not owned by user %s",
				   cl->login);
	case SENDER_NULL_AUTH:
		return stage_reply(r, STAGE_REJECT, 553, "5.7.1",
				   "Null sender not allowed for authenticated user %s",
				   cl->login);
	case SENDER_LOCAL_UNAUTH:
	default:
		return stage_reply(r, STAGE_REJECT, 550, "5.7.1",
				   "Sender address in a local domain requires authentication");
	}
}

const struct stage stage_sender = {
	.name = "sender",
	.wants = sender_wants,
	.mail = sender_mail,
};
