/* fetch/run.c: what both halves of an account run use of its state: its
 * end (failing, finishing, freeing), its deadlines (the run's and each
 * step's, fetch/deadline.h), the message in progress and the UIDL state
 * save. The session (runner.c) and each message (message.c) build on it. */
#include "autoconf.h"

#include "fetch/run.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"
#include "common/config/config_value.h"
#include "common/config/secret.h"
#include "common/base/fsutil.h"
#include "common/base/log.h"
#include "common/client/pop3client.h"
#include "common/users/userdb.h"
#include "fetch/deadline.h"

void frun_free(struct fetch_run *r)
{
	secret_free(r->password);
	ev_timer_stop(r->env->loop, &r->run_timer);
	ev_timer_stop(r->env->loop, &r->step_timer);
	fst_free(&r->state);
	userdb_free(r->db);
	if (r->addrs != NULL)
		freeaddrinfo(r->addrs);
	SSL_CTX_free(r->ctx);
	flist_free(&r->list);
	free(r->dele_q);
	fmsg_clear(r);
	free(r->state_path);
	free(r->staging);
	free(r);
}

void frun_finish(struct fetch_run *r, enum fetch_status st, const char *why)
{
	const struct config_fetch *acct = r->acct;
	fetch_done_fn *done = r->done;
	void *arg = r->done_arg;

	if (st == FETCH_OK)
		log_info("fetch account=%s status=ok fetched=%u delivered=%u skipped=%u deleted=%u errors=%u",
			 acct->name, r->fetched, r->delivered, r->skipped,
			 r->deleted, r->errors);
	else
		log_warnx("fetch account=%s status=failed fetched=%u delivered=%u skipped=%u deleted=%u errors=%u error=\"%s\"",
			  acct->name, r->fetched, r->delivered, r->skipped,
			  r->deleted, r->errors + 1, why);
	frun_free(r);
	done(acct, st, arg);
}

/* Nothing is removed by the server without QUIT (RFC 1939 section 6). */
void frun_fail(struct fetch_run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->failed = true;
	if (r->pop != NULL)
		pop3c_close(r->pop, r->err);
}

/* ---- deadlines ---------------------------------------------------- */

static void step_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fetch_run *r = w->data;
	const struct config_fetch *a = r->acct;
	double limit = fdl_deadline(a->message_timeout, a->min_rate,
				    r->step_got, r->step_cap);
	double spent = ev_now(loop) - r->step_start;

	(void)revents;
	if (spent < limit) {
		/* Octets arrived since: the deadline moved on. */
		ev_timer_set(w, limit - spent, 0.);
		ev_timer_start(loop, w);
		return;
	}
	frun_fail(r, "message deadline: %s not complete after %.0f s (%llu octets; message_timeout %us + 1 s per min_rate %llu octets)",
		  r->step_what, spent, (unsigned long long)r->step_got,
		  a->message_timeout, (unsigned long long)a->min_rate);
}

void frun_step(struct fetch_run *r, const char *what, uint64_t cap)
{
	struct ev_loop *loop = r->env->loop;

	snprintf(r->step_what, sizeof(r->step_what), "%s", what);
	r->step_start = ev_now(loop);
	r->step_got = 0;
	r->step_cap = cap;
	ev_timer_stop(loop, &r->step_timer);
	ev_timer_set(&r->step_timer, r->acct->message_timeout, 0.);
	ev_timer_start(loop, &r->step_timer);
}

void frun_step_bytes(struct fetch_run *r, size_t n)
{
	r->step_got += n;
}

void frun_step_stop(struct fetch_run *r)
{
	ev_timer_stop(r->env->loop, &r->step_timer);
}

static void run_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fetch_run *r = w->data;
	char d[32];

	(void)loop;
	(void)revents;
	config_format_duration(d, sizeof(d), r->acct->run_timeout);
	if (r->pop != NULL) {
		frun_fail(r, "run deadline: run_timeout %s passed", d);
	} else if (!r->failed) {
		/* Preparing on the worker, or connecting: end when back. */
		r->failed = true;
		snprintf(r->err, sizeof(r->err),
			 "run deadline: run_timeout %s passed", d);
	}
}

void frun_timers_init(struct fetch_run *r)
{
	ev_timer_init(&r->run_timer, run_timeout, r->acct->run_timeout, 0.);
	ev_timer_init(&r->step_timer, step_timeout, 0., 0.);
	r->run_timer.data = r->step_timer.data = r;
}

/* ---- the message in progress -------------------------------------- */

struct flist_msg *frun_msg(struct fetch_run *r)
{
	return &r->list.m[r->cur];
}

const char *frun_key(struct fetch_run *r)
{
	const char *uid = flist_uid(&r->list, frun_msg(r));

	if (uid != NULL)
		return uid;
	return r->m.key[0] != '\0' ? r->m.key : NULL;
}

void fmsg_clear(struct fetch_run *r)
{
	struct fetch_msg *m = &r->m;

	pipe_tx_free(m->tx);
	free(m->hdr);
	for (size_t i = 0; i < m->n_rcpts; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	free(m->msgid);
	*m = (struct fetch_msg){ .phase = FMSG_HEADER };
}

/* ---- saving state ------------------------------------------------- */

void frun_save_job(void *arg)
{
	struct fetch_run *r = arg;

	r->m.save_errno = fst_save(r->state_path, &r->state) < 0 ? errno : 0;
	if (r->m.save_errno == ENOENT) {
		char *dir = strdup(r->state_path);

		if (dir != NULL) {
			*strrchr(dir, '/') = '\0';
			if (fs_mkdir_p(dir, 0700) == 0)
				r->m.save_errno = fst_save(r->state_path,
							 &r->state) < 0
							? errno
							: 0;
			free(dir);
		}
	}
}
