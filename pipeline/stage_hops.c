/* pipeline/stage_hops.c: the hop limit — a message whose header section
 * holds more Received fields than hop_limit is in a mail loop (RFC 5321
 * §6.3) and is refused at the end of its data with 554 5.4.6. Counted on
 * the content as it came, before this server's own Received field. */
#include "autoconf.h"

#include <stdlib.h>

#include "common/config/config.h"
#include "pipeline/hops.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"

/* Mail from clients and local programs; not the queue's own (a DSN, a
 * local delivery of a queued message: counted when it came in). */
static bool hops_wants(struct pipe_tx *tx)
{
	enum pipe_origin o = pipe_tx_msg(tx)->origin;

	return o == PIPE_MX || o == PIPE_SUBMISSION || o == PIPE_DELIVER;
}

static int hops_content(struct pipe_tx *tx, void **st, const char *buf,
			size_t len, struct stage_out *out, struct pipe_reply *r)
{
	struct hops *h = *st;

	if (h == NULL) {
		if ((h = malloc(sizeof(*h))) == NULL)
			return stage_reply(r, STAGE_TEMPFAIL, 451, "4.3.0",
					   "Local error in processing, try again later");
		hops_init(h);
		*st = h;
	}
	(void)tx;
	hops_feed(h, buf, len);
	stage_out_write(out, buf, len);
	return STAGE_CONTINUE;
}

static int hops_end(struct pipe_tx *tx, void **st, struct stage_out *out,
		    struct pipe_reply *r)
{
	const struct hops *h = *st;
	unsigned long long limit = pipe_tx_env(tx)->cfg->hop_limit;

	(void)out;
	if (h != NULL && limit > 0 && h->count > limit)
		return stage_reply(r, STAGE_REJECT, 554, "5.4.6",
				   "Too many hops (%u Received fields; the limit is %llu)",
				   h->count, limit);
	return STAGE_CONTINUE;
}

static void hops_reset(void *st)
{
	free(st);
}

const struct stage stage_hops = {
	.name = "hops",
	.wants = hops_wants,
	.content = hops_content,
	.end = hops_end,
	.reset = hops_reset,
};
