/* pipeline/stage_size.c: the message size limit of SMTP (max_message_size,
 * RFC 1870): a declared SIZE= above it is refused at MAIL (§6.1), and a
 * message whose content grows above it is refused at its end (the entry
 * point reads it to the end). 552 5.3.4 either way. */
#include "autoconf.h"

#include "common/config/config.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"

static const char TOO_BIG[] = "Message size exceeds fixed maximum message size";

static uint64_t limit(struct pipe_tx *tx)
{
	return pipe_tx_env(tx)->cfg->max_message_size;
}

static bool size_wants(struct pipe_tx *tx)
{
	enum pipe_origin o = pipe_tx_msg(tx)->origin;

	return (o == PIPE_MX || o == PIPE_SUBMISSION || o == PIPE_SENDMAIL) &&
	       limit(tx) != 0;
}

static int size_mail(struct pipe_tx *tx, void **st, struct pipe_reply *r)
{
	const struct pipe_msg *m = pipe_tx_msg(tx);

	(void)st;
	if (m->has_size && m->size > limit(tx))
		return stage_reply(r, STAGE_REJECT, 552, "5.3.4", "%s", TOO_BIG);
	return STAGE_CONTINUE;
}

static int size_content(struct pipe_tx *tx, void **st, const char *buf,
			size_t len, struct stage_out *out, struct pipe_reply *r)
{
	(void)st;
	if (pipe_tx_size(tx) > limit(tx))
		return stage_reply(r, STAGE_REJECT, 552, "5.3.4", "%s", TOO_BIG);
	stage_out_write(out, buf, len);
	return STAGE_CONTINUE;
}

const struct stage stage_size = {
	.name = "size",
	.wants = size_wants,
	.mail = size_mail,
	.content = size_content,
};
