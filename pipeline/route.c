/* pipeline/route.c: the routing of a recipient (local users, the ETRN
 * domains, the relay host or the MX hosts for authenticated users; never
 * an open relay). */
#include "autoconf.h"

#include "pipeline/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lookup/aliases.h"
#include "common/config/config.h"

static int refuse(struct route_decision *d, int code, const char *enh,
		  const char *text)
{
	d->code = code;
	d->enh = enh;
	d->text = text;
	d->why = NULL;
	d->route = PIPE_ROUTE_NONE;
	d->targets = NULL;
	d->n_targets = 0;
	return 0;
}

/* Accepted into the outbound queue (held domain, relay host, MX). */
static int accept_queued(struct route_decision *d, enum pipe_route route,
			 const char *text)
{
	d->code = 250;
	d->enh = "2.1.5";
	d->text = text;
	d->why = NULL;
	d->route = route;
	d->targets = NULL;
	d->n_targets = 0;
	return 1;
}

/* A local part that names another mailbox elsewhere: "a%b", "b!a" or a
 * quoted "a@b". '%' and '!' are fine when they are the configured
 * subaddress delimiter. */
static bool routing_syntax(const char *local, const char *delims)
{
	for (const char *p = local; *p != '\0'; p++) {
		if (*p == '@')
			return true;
		if ((*p == '%' || *p == '!') &&
		    (delims == NULL || strchr(delims, *p) == NULL))
			return true;
	}
	return false;
}

static int accept_postmaster(struct route_decision *d, const char *domain)
{
	struct rcpt_target *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return refuse(d, 451, "4.3.0", "Temporary failure, try again later");
	snprintf(t->local, sizeof(t->local), "postmaster");
	snprintf(t->domain, sizeof(t->domain), "%s", domain);
	snprintf(t->key, sizeof(t->key), "postmaster@%s", domain);
	d->code = 250;
	d->enh = "2.1.5";
	d->text = "Recipient OK";
	d->why = NULL;
	d->route = PIPE_ROUTE_LOCAL;
	d->targets = t;
	d->n_targets = 1;
	return 1;
}

int route_check(const struct route_ctx *ctx, const struct addr_path *path,
		struct route_decision *d_r)
{
	const struct config *cfg = ctx->cfg;
	const struct config_domain *dom;
	struct addr_mailbox mb = path->mailbox;
	char key[ADDR_KEY_SIZE];
	enum rcpt_status st;
	const char *why = NULL;

	if (path->flags & ADDR_PATH_NULL)
		return refuse(d_r, 501, "5.1.3", "Null recipient is not allowed");
	if (path->flags & ADDR_PATH_BARE_POSTMASTER) {
		snprintf(mb.local, sizeof(mb.local), "postmaster");
		snprintf(mb.domain, sizeof(mb.domain), "%s", cfg->domains[0].name);
		mb.flags = ADDR_MB_POSTMASTER;
	}
	dom = (mb.flags & ADDR_MB_LITERAL) ? NULL
					   : config_find_domain(cfg, mb.domain);
	if (dom == NULL) {
		/* ETRN: held domains take any local part, from anyone;
		 * authenticated users' mail goes to the relay host or to the
		 * domain's MX hosts. Address literals and routing syntax never
		 * qualify. */
		bool held = !(mb.flags & ADDR_MB_LITERAL) &&
			    config_find_etrn(cfg, mb.domain) != NULL;
		bool out = !(mb.flags & ADDR_MB_LITERAL) && ctx->authenticated;

		if ((held || out) && routing_syntax(mb.local, NULL))
			return refuse(d_r, 550, "5.7.1",
				      "Routing in the local part is not allowed");
		if (held)
			return accept_queued(d_r, PIPE_ROUTE_HELD,
					     "Recipient OK, held for ETRN");
		if (out && config_relayhost_takes(cfg, mb.domain))
			return accept_queued(d_r, PIPE_ROUTE_RELAY,
					     "Recipient OK, queued for the relay host");
		if (out)
			return accept_queued(d_r, PIPE_ROUTE_DIRECT,
					     "Recipient OK, queued");
		return refuse(d_r, 554, "5.7.1", "Relay access denied");
	}
	if (routing_syntax(mb.local, cfg->recipient_delimiter))
		return refuse(d_r, 550, "5.7.1",
			      "Routing in the local part is not allowed");
	if (addr_key(&mb, key, sizeof(key), NULL) < 0)
		return refuse(d_r, 550, "5.1.1",
			      "Recipient address rejected: no such user");
	st = rcpt_expand(cfg, ctx->db, ctx->al, &mb, &d_r->targets,
			 &d_r->n_targets, &why);
	switch (st) {
	case RCPT_LOCAL:
		d_r->why = NULL;
		d_r->route = PIPE_ROUTE_LOCAL;
		d_r->code = 250;
		d_r->enh = "2.1.5";
		d_r->text = "Recipient OK";
		return 1;
	case RCPT_UNKNOWN:
		if (mb.flags & ADDR_MB_POSTMASTER)
			return accept_postmaster(d_r, dom->name);
		return refuse(d_r, 550, "5.1.1",
			      "Recipient address rejected: no such user");
	case RCPT_FOREIGN:
		return refuse(d_r, 554, "5.7.1", "Relay access denied");
	case RCPT_ERROR:
	default:
		refuse(d_r, 451, "4.3.0",
		       "Temporary recipient lookup failure, try again later");
		d_r->why = why;
		return 0;
	}
}
