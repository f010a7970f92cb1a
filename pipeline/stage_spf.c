/* pipeline/stage_spf.c: SPF (RFC 7208) at MAIL on the mx listener. For a
 * client that did not log in and is not in trusted_networks, check_host()
 * runs for the MAIL FROM identity, or for postmaster@HELO when the sender
 * is null (§2.4), through the pipeline's resolver while the step waits,
 * within 20 seconds for the whole check (§4.6.4). With spf_reject, fail
 * is 550 5.7.23 with the explanation (§8.4) and temperror 451 4.4.3
 * (§8.6, RFC 7372); permerror and the others never refuse. The verdict
 * is written into a Received-SPF field on top of the message (§9.1) and
 * "spf=RESULT" into its log line, and stays for the later stages
 * (pipeline/stage_spf.h). */
#include "autoconf.h"

#include "pipeline/stage_spf.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/auth/spf_eval.h"
#include "common/base/log.h"
#include "common/config/config.h"
#include "common/dns/dns.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"

#define SPF_TIME_LIMIT 20.0 /* seconds for one check (§4.6.4) */

extern const struct stage stage_spf;

struct spf_state {
	struct pipe_tx *tx;
	struct pipe_reply *r;
	struct spf *spf;          /* NULL once the verdict is in */
	struct dns *dns;          /* the resolver the check started on */
	struct dns_query *q;      /* the question pending, or NULL */
	struct ev_loop *loop;
	ev_timer limit;
	bool checked;             /* v holds a verdict */
	struct spf_verdict v;
};

static bool spf_wants(struct pipe_tx *tx)
{
	const struct pipe_env *env = pipe_tx_env(tx);

	return env->dns != NULL && env->io != NULL && env->loop != NULL &&
	       pipe_tx_msg(tx)->origin == PIPE_MX;
}

/* The check is over: keep what it found, free the evaluation. */
static void keep_verdict(struct spf_state *st)
{
	struct spf_verdict *v = &st->v;
	const char *exp = spf_explanation(st->spf);

	v->result = spf_result(st->spf);
	snprintf(v->domain, sizeof(v->domain), "%s", spf_domain(st->spf));
	snprintf(v->mechanism, sizeof(v->mechanism), "%s",
		 spf_mechanism(st->spf));
	snprintf(v->problem, sizeof(v->problem), "%s", spf_why(st->spf));
	snprintf(v->explanation, sizeof(v->explanation), "%s",
		 v->result == SPF_FAIL && exp != NULL ? exp : "");
	spf_free(st->spf);
	st->spf = NULL;
	st->checked = true;
	ev_timer_stop(st->loop, &st->limit);
}

/* The policy (spf_reject) on the verdict, the note on the log line. */
static int decide(struct spf_state *st)
{
	const struct spf_verdict *v = &st->v;
	char text[PIPE_TEXT_MAX];

	pipe_tx_note(st->tx, "spf=%s", spf_result_str(v->result));
	log_debug("%s spf=%s identity=%s domain=%s mechanism=%s%s%s",
		  pipe_tx_label(st->tx), spf_result_str(v->result),
		  v->identity, v->domain, v->mechanism,
		  v->problem[0] != '\0' ? " problem=" : "", v->problem);
	if (!pipe_tx_env(st->tx)->cfg->spf_reject)
		return STAGE_CONTINUE;
	if (v->result == SPF_FAIL) {
		spf_fail_text(v, text, sizeof(text));
		return stage_reply(st->r, STAGE_REJECT, 550, "5.7.23", "%s",
				   text);
	}
	if (v->result == SPF_TEMPERROR)
		return stage_reply(st->r, STAGE_TEMPFAIL, 451, "4.4.3",
				   "SPF: temporary error checking %s, try "
				   "again later", v->domain);
	return STAGE_CONTINUE;
}

static void answered(void *arg, const struct dns_answer *a);

/* Step the evaluation on: STAGE_WAIT while a question is out, else the
 * verdict. Names the resolver refuses (EINVAL: outside its label syntax)
 * are answered NXDOMAIN, as spf_eval.h asks; another refusal is a DNS
 * error. */
static int drive(struct spf_state *st)
{
	struct spf_query q;

	while (spf_step(st->spf, &q) == 0) {
		struct dns_answer a = { 0 };

		st->q = dns_lookup(st->dns, q.name, q.type, answered, st);
		if (st->q != NULL)
			return STAGE_WAIT;
		a.status = errno == EINVAL ? DNS_NXDOMAIN : DNS_TEMPFAIL;
		a.type = q.type;
		a.why = "the lookup could not be made";
		snprintf(a.qname, sizeof(a.qname), "%s", q.name);
		spf_answer(st->spf, &a);
	}
	keep_verdict(st);
	return decide(st);
}

static void answered(void *arg, const struct dns_answer *a)
{
	struct spf_state *st = arg;
	int v;

	st->q = NULL;
	spf_answer(st->spf, a);
	v = drive(st);
	if (v != STAGE_WAIT)
		pipe_stage_done(st->tx, v); /* may free st: nothing after */
}

/* The time of the whole check is up: temperror (§4.6.4). */
static void too_long(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct spf_state *st = w->data;
	struct spf_query q;

	(void)loop;
	(void)revents;
	log_info("%s spf check of %s took over %.0f s", pipe_tx_label(st->tx),
		 st->v.identity, SPF_TIME_LIMIT);
	dns_cancel(st->q);
	st->q = NULL;
	spf_give_up(st->spf);
	(void)spf_step(st->spf, &q); /* over: no question is asked again */
	keep_verdict(st);
	pipe_stage_done(st->tx, decide(st));
}

/* The identity of §2.4 and the evaluation's input. */
static struct spf_state *start(struct pipe_tx *tx, const struct addr_path *p)
{
	const struct pipe_env *env = pipe_tx_env(tx);
	const struct pipe_client *cl = &pipe_tx_msg(tx)->client;
	struct spf_state *st = calloc(1, sizeof(*st));
	struct spf_verdict *v;
	struct spf_input in = { .helo = cl->helo, .now = time(NULL) };

	if (st == NULL)
		return NULL;
	v = &st->v;
	v->helo_identity = (p->flags & ADDR_PATH_NULL) != 0;
	if (v->helo_identity)
		snprintf(v->identity, sizeof(v->identity), "postmaster@%s",
			 cl->helo);
	else if (addr_mailbox_text(&p->mailbox, v->identity,
				   sizeof(v->identity)) == 0)
		goto fail;
	snprintf(v->client_ip, sizeof(v->client_ip), "%s", cl->addr);
	snprintf(v->helo, sizeof(v->helo), "%s", cl->helo);
	in.ip = cl->addr;
	in.sender = v->helo_identity ? "" : v->identity;
	in.receiver = env->cfg->hostname;
	if ((st->spf = spf_new(&in)) == NULL)
		goto fail;
	st->tx = tx;
	st->dns = env->dns;
	st->loop = env->loop;
	ev_timer_init(&st->limit, too_long, SPF_TIME_LIMIT, 0.);
	st->limit.data = st;
	return st;
fail:
	free(st);
	return NULL;
}

static int spf_mail(struct pipe_tx *tx, void **st_r, struct pipe_reply *r)
{
	const struct pipe_msg *m = pipe_tx_msg(tx);
	const struct addr_path *path = pipe_tx_mail_path(tx);
	struct spf_state *st;

	if (path == NULL || m->client.login[0] != '\0' ||
	    config_client_trusted(pipe_tx_env(tx)->cfg, m->client.addr) ||
	    (st = start(tx, path)) == NULL)
		return STAGE_CONTINUE;
	*st_r = st;
	st->r = r;
	ev_timer_start(st->loop, &st->limit);
	return drive(st);
}

static int spf_begin(struct pipe_tx *tx, void **st_r, struct stage_out *out,
		     struct pipe_reply *r)
{
	struct spf_state *st = *st_r;
	char field[SPF_RECEIVED_MAX];
	size_t n;

	(void)r;
	if (st == NULL || !st->checked)
		return STAGE_CONTINUE;
	n = spf_received_format(&st->v, pipe_tx_env(tx)->cfg->hostname, field,
				sizeof(field));
	if (n > 0)
		stage_out_write(out, field, n);
	return STAGE_CONTINUE;
}

static void spf_reset(void *arg)
{
	struct spf_state *st = arg;

	dns_cancel(st->q);
	if (st->loop != NULL)
		ev_timer_stop(st->loop, &st->limit);
	spf_free(st->spf);
	free(st);
}

const struct spf_verdict *stage_spf_verdict(const struct pipe_tx *tx)
{
	const struct spf_state *st = pipe_tx_stage_state(tx, &stage_spf);

	return st != NULL && st->checked ? &st->v : NULL;
}

const struct stage stage_spf = {
	.name = "spf",
	.wants = spf_wants,
	.mail = spf_mail,
	.begin = spf_begin,
	.reset = spf_reset,
};
