/* smtpd/resolver.c: kantorpos-smtpd's resolver for the pipeline
 * (smtpd/resolver.h). A replaced resolver may still have queries of
 * waiting transactions: it is kept on a list, and a timer frees it once it
 * is idle, so no step ever waits for an answer that was dropped. */
#include "autoconf.h"

#include "smtpd/resolver.h"

#include <ev.h>
#include <stdlib.h>

#include "common/base/log.h"
#include "common/dns/dns.h"
#include "common/runtime/server.h"
#include "outbound/resolver.h"
#include "smtpd/smtpd.h"

/* Seconds between looks at the replaced resolvers. */
#define RETIRED_CHECK 5.0

struct retired {
	struct dns *dns;
	struct retired *next;
};

struct smtpd_resolver {
	struct ev_loop *loop;
	struct dns *dns;          /* current; NULL: none could start */
	struct retired *retired;  /* replaced ones with queries pending */
	ev_timer sweep;
};

static struct dns *make(struct server *srv, const char *when)
{
	char why[512];
	struct dns *dns = outb_dns_new(server_loop(srv), server_config(srv),
				       why, sizeof(why));

	if (dns == NULL)
		log_warnx("%s: no DNS resolver for the SMTP checks: %s", when,
			  why);
	return dns;
}

/* Free the replaced resolvers that nobody waits for any more. */
static void sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct smtpd_resolver *r = w->data;
	struct retired **p = &r->retired;

	(void)revents;
	while (*p != NULL) {
		struct retired *t = *p;

		if (!dns_idle(t->dns)) {
			p = &t->next;
			continue;
		}
		*p = t->next;
		dns_free(t->dns);
		free(t);
	}
	if (r->retired == NULL)
		ev_timer_stop(loop, w);
}

int smtpd_resolver_start(struct server *srv, struct smtpd *d)
{
	struct smtpd_resolver *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -1;
	r->loop = server_loop(srv);
	r->dns = make(srv, "start");
	ev_timer_init(&r->sweep, sweep_cb, RETIRED_CHECK, RETIRED_CHECK);
	r->sweep.data = r;
	d->resolver = r;
	return 0;
}

void smtpd_resolver_reload(struct server *srv, struct smtpd *d)
{
	struct smtpd_resolver *r = d->resolver;
	struct dns *dns;
	struct retired *t;

	if (r == NULL || (dns = make(srv, "reload")) == NULL)
		return;
	if (r->dns != NULL && dns_idle(r->dns)) {
		dns_free(r->dns);
	} else if (r->dns != NULL) {
		if ((t = malloc(sizeof(*t))) == NULL) {
			dns_free(dns); /* keep the old one: its queries go on */
			return;
		}
		*t = (struct retired){ r->dns, r->retired };
		r->retired = t;
		ev_timer_again(r->loop, &r->sweep);
	}
	r->dns = dns;
}

struct dns *smtpd_resolver(const struct smtpd *d)
{
	return d->resolver != NULL ? d->resolver->dns : NULL;
}

void smtpd_resolver_cleanup(struct smtpd *d)
{
	struct smtpd_resolver *r = d->resolver;

	if (r == NULL)
		return;
	ev_timer_stop(r->loop, &r->sweep);
	while (r->retired != NULL) {
		struct retired *t = r->retired;

		r->retired = t->next;
		dns_free(t->dns);
		free(t);
	}
	dns_free(r->dns);
	free(r);
	d->resolver = NULL;
}
