/* pipeline/stage_nullmx.c: the null MX of RFC 7505 §4 at SMTP time. A
 * domain whose only MX is "." takes no mail, so
 *   - on mx, MAIL from such a domain gets 550 5.7.27 (reject_null_mx_sender,
 *     on by default): no reply or DSN could ever reach that sender;
 *   - on submission, RCPT to such a domain gets 556 5.1.10 at once, not a
 *     bounce later.
 * The MX lookup goes through the pipeline's resolver while the step waits;
 * a lookup that fails or times out lets the message through (the queue
 * decides again for a recipient). Local domains, address literals, clients
 * of trusted_networks and entry points without a loop are not checked. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/config/config.h"
#include "common/dns/dns.h"
#include "common/mail/address.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"

struct nullmx_job {
	struct pipe_tx *tx;
	struct pipe_reply *r;
	bool sender;             /* MAIL (550 5.7.27), else RCPT (556) */
	char domain[ADDR_DOMAIN_MAX + 1];
};

static bool nullmx_wants(struct pipe_tx *tx)
{
	const struct pipe_env *env = pipe_tx_env(tx);
	enum pipe_origin o = pipe_tx_msg(tx)->origin;

	return env->dns != NULL && env->io != NULL &&
	       (o == PIPE_MX || o == PIPE_SUBMISSION);
}

static void answered(void *arg, const struct dns_answer *a)
{
	struct nullmx_job *j = arg;
	struct pipe_tx *tx = j->tx;
	int v = STAGE_CONTINUE;

	if (dns_is_null_mx(a)) {
		log_info("%s null MX %s=%s", pipe_tx_label(tx),
			 j->sender ? "sender" : "rcpt", j->domain);
		v = j->sender ? stage_reply(j->r, STAGE_REJECT, 550, "5.7.27",
					    "Sender address has null MX")
			      : stage_reply(j->r, STAGE_REJECT, 556, "5.1.10",
					    "Recipient address has null MX");
	} else if (a->status == DNS_TEMPFAIL || a->status == DNS_BOGUS) {
		log_debug("%s null MX check of %s: %s%s%s", pipe_tx_label(tx),
			  j->domain, dns_status_str(a->status),
			  a->why != NULL ? ": " : "", a->why != NULL ? a->why : "");
	}
	free(j);
	pipe_stage_done(tx, v);
}

/* Ask for domain's MX; WAIT, or CONTINUE when no lookup could start. */
static int look_up(struct pipe_tx *tx, const char *domain, bool sender,
		   struct pipe_reply *r)
{
	struct nullmx_job *j;

	if (domain[0] == '\0' || domain[0] == '[' ||
	    strlen(domain) > ADDR_DOMAIN_MAX ||
	    config_find_domain(pipe_tx_env(tx)->cfg, domain) != NULL ||
	    (j = calloc(1, sizeof(*j))) == NULL)
		return STAGE_CONTINUE;
	j->tx = tx;
	j->r = r;
	j->sender = sender;
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	if (dns_lookup(pipe_tx_env(tx)->dns, j->domain, DNS_T_MX, answered,
		       j) == NULL) {
		free(j);
		return STAGE_CONTINUE;
	}
	return STAGE_WAIT;
}

static int nullmx_mail(struct pipe_tx *tx, void **st, struct pipe_reply *r)
{
	const struct pipe_env *env = pipe_tx_env(tx);
	const struct pipe_msg *m = pipe_tx_msg(tx);
	const struct addr_path *path = pipe_tx_mail_path(tx);

	(void)st;
	if (m->origin != PIPE_MX || !env->cfg->reject_null_mx_sender ||
	    path == NULL || (path->flags & ADDR_PATH_NULL) ||
	    (path->mailbox.flags & ADDR_MB_LITERAL) ||
	    config_client_trusted(env->cfg, m->client.addr))
		return STAGE_CONTINUE;
	return look_up(tx, path->mailbox.domain, true, r);
}

static int nullmx_rcpt(struct pipe_tx *tx, void **st, struct pipe_rcpt *rcpt,
		       struct pipe_reply *r)
{
	const char *at = strrchr(rcpt->addr, '@');

	(void)st;
	if (pipe_tx_msg(tx)->origin != PIPE_SUBMISSION || at == NULL ||
	    (rcpt->route != PIPE_ROUTE_DIRECT &&
	     rcpt->route != PIPE_ROUTE_RELAY))
		return STAGE_CONTINUE;
	return look_up(tx, at + 1, false, r);
}

const struct stage stage_nullmx = {
	.name = "nullmx",
	.wants = nullmx_wants,
	.mail = nullmx_mail,
	.rcpt = nullmx_rcpt,
};
