/* smtpd/daemon.c: the daemon-wide hooks of kantorpos-smtpd (start, reload,
 * stop, cleanup) and its struct server_ops, in the library so that tests
 * run the real daemon in-process. */
#include "autoconf.h"

#include "smtpd/daemon.h"

#include <stdlib.h>

#include "common/lookup/aliases.h"
#include "common/base/log.h"
#include "smtpd/client.h"
#include "smtpd/outq.h"
#include "smtpd/pickup.h"
#include "smtpd/refresh.h"
#include "smtpd/resolver.h"
#include "smtpd/smtpd.h"

static int smtpd_start(struct server *srv)
{
	const struct config *cfg = server_config(srv);
	struct smtpd *d = calloc(1, sizeof(*d));
	char *err = NULL;

	if (d == NULL)
		return -1;
	if (cfg->aliases != NULL && aliases_load(cfg->aliases, cfg, &d->al,
						 &err) < 0) {
		aliases_log_errors(LOG_LVL_ERROR, "aliases not loaded", err, "");
		free(err);
		free(d);
		return -1;
	}
	server_set_data(srv, d);
	/* ETRN: the outbound queue and its runner; the pipeline's DNS. */
	if (smtpd_outq_start(srv, d) < 0 || smtpd_resolver_start(srv, d) < 0) {
		smtpd_outq_cleanup(srv, d);
		server_set_data(srv, NULL);
		aliases_free(d->al);
		free(d);
		return -1;
	}
	/* Local mail: kantorpos-sendmail's drop directory. */
	if (smtpd_pickup_start(srv, d) < 0)
		log_errorx("pickup: out of memory; local mail waits");
	return 0;
}

static int smtpd_reload(struct server *srv)
{
	const struct config *cfg = server_config(srv);
	struct smtpd *d = server_data(srv);
	struct aliases *al = NULL;
	char *err = NULL;
	/* ETRN, the relayhost */
	int kept = smtpd_outq_reload(srv, d);

	smtpd_pickup_reload(d);
	smtpd_resolver_reload(srv, d);
	if (cfg->aliases == NULL) {
		aliases_free(d->al);
		d->al = NULL;
		return kept;
	}
	if (aliases_load(cfg->aliases, cfg, &al, &err) < 0) {
		aliases_log_errors(LOG_LVL_ERROR, "reload", err,
				   d->al != NULL ? "; keeping the old aliases"
						 : "; still no aliases");
		free(err);
		return kept - 1;
	}
	aliases_free(d->al);
	d->al = al;
	return kept;
}

static void smtpd_cleanup(struct server *srv)
{
	struct smtpd *d = server_data(srv);

	if (d != NULL) {
		smtpd_pickup_cleanup(srv, d); /* before the queue it uses */
		smtpd_outq_cleanup(srv, d); /* ETRN */
		smtpd_resolver_cleanup(d);
		smtpd_refresh_quiet(d);
		aliases_free(d->al);
		free(d);
	}
}

/* ETRN: no new deliveries; sessions in flight are aborted (their mail
 * stays queued). */
static void smtpd_stopping(struct server *srv)
{
	struct smtpd *d = server_data(srv);

	if (d != NULL) {
		smtpd_pickup_stopping(d);
		smtpd_outq_stopping(d);
	}
}

const struct server_ops smtpd_server_ops = {
	.name = "kantorpos-smtpd",
	.proto = CONFIG_PROTO_SMTP,
	.dkim_keys = true, /* stage_dkim signs submitted mail */
	.accept = smtp_client_accept,
	.refuse = smtp_client_refuse,
	.prepare = smtpd_pickup_prepare,
	.start = smtpd_start,
	.reload = smtpd_reload,
	.cleanup = smtpd_cleanup,
	.stopping = smtpd_stopping,
};
