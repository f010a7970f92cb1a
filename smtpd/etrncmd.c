/* smtpd/etrncmd.c: the ETRN command (RFC 1985): the request checked by
 * the ETRN policy (outbound/etrn.h), the flush asked of the runner the
 * session's environment has (smtp_ops.runner), the reply once the queue was scanned, and
 * forgetting a pending ETRN when its session closes. */
#include "autoconf.h"

#include <stdlib.h>

#include "common/base/log.h"
#include "outbound/etrn.h"
#include "outbound/runner.h"
#include "smtpd/etrncmd.h"
#include "smtpd/session.h"

/* The ETRN that waits for its queue scan. */
struct etrn_wait {
	struct smtp_session *s;
	struct etrn_request req;
};

static void etrn_done(void *arg, enum runner_result res, size_t count)
{
	struct etrn_wait *w = arg;
	struct smtp_session *s = w->s;
	struct etrn_reply rep;

	s->etrn_waiting = false;
	s->etrn_wait = NULL;
	etrn_result(&w->req, res == RUNNER_ERROR, false, count, &rep);
	log_info("%s etrn node=%s%s client=%s reply=%d", s->sid,
		 w->req.subdomains ? "@" : "", w->req.domain, s->peer, rep.code);
	free(w);
	smtp_reply(s, rep.code, rep.enh, "%s", rep.text);
	smtp_set_state(s, SMTP_S_READY);
	smtp_resume(s);
}

int smtp_cmd_etrn(void *session, char *args)
{
	struct smtp_session *s = session;
	struct runner *runner = s->ops->runner(s->env);
	struct etrn_request req;
	struct etrn_reply rep;
	struct etrn_wait *w;
	int rc;

	if (etrn_check(s->cfg, args, s->peer,
		       (s->flags & SMTP_F_AUTH) ? s->user : NULL, &req,
		       &rep) == 0) {
		if (rep.code == 501)
			return smtp_bad(s, rep.code, rep.enh, "%s", rep.text);
		log_info("%s etrn refused arg=%s client=%s reason=%s", s->sid,
			 args, s->peer, rep.text);
		smtp_reply(s, rep.code, rep.enh, "%s", rep.text);
		return PROTO_DONE;
	}
	if (runner == NULL ||
	    (w = calloc(1, sizeof(*w))) == NULL) {
		etrn_result(&req, true, false, 0, &rep);
		smtp_reply(s, rep.code, rep.enh, "%s", rep.text);
		return PROTO_DONE;
	}
	w->s = s;
	w->req = req;
	rc = runner_flush_etrn(runner, req.domain, req.subdomains,
			       s->peer, etrn_done, w);
	if (rc != 0) {
		/* 1: a flush of this node runs; a new round follows it. */
		etrn_result(&req, rc < 0, rc == 1, 0, &rep);
		free(w);
		log_info("%s etrn node=%s client=%s reply=%d", s->sid,
			 req.domain, s->peer, rep.code);
		smtp_reply(s, rep.code, rep.enh, "%s", rep.text);
		return PROTO_DONE;
	}
	s->etrn_waiting = true;
	s->etrn_wait = w;
	smtp_pause(s);
	return PROTO_ASYNC;
}

void smtp_etrn_cancel(struct smtp_session *s)
{
	struct runner *runner;

	if (!s->etrn_waiting)
		return;
	runner = s->ops->runner(s->env);
	if (runner != NULL)
		runner_cancel(runner, s->etrn_wait);
	free(s->etrn_wait);
	s->etrn_wait = NULL;
	s->etrn_waiting = false;
}
