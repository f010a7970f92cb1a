/* fetch/message.c: one fetched message: RETR streamed into the pipeline
 * (origin FETCH) as it arrives (only the header block is held in memory,
 * to choose the recipients), our Received field on top, the pipeline's
 * commit to every recipient on the worker pool, the UIDL state (or,
 * without a usable uid, the fallback key) recorded before the DELE, and
 * the skip, duplicate, known and oversize cases. */
#include "autoconf.h"

#include "fetch/message.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mail/address.h"
#include "common/config/config.h"
#include "common/base/log.h"
#include "common/client/pop3client.h"
#include "common/lookup/recipient.h"
#include "common/net/worker.h"
#include "fetch/headers.h"
#include "fetch/run.h"
#include "fetch/trace.h"

/* Slack over the LIST size: servers count octets differently. */
#define FMSG_SLACK 65536

static const char *fmsg_uid(struct fetch_run *r)
{
	const char *key = frun_key(r);

	return key != NULL ? key : "(no uid)";
}

void fmsg_skip(struct fetch_run *r, const char *why)
{
	struct flist_msg *rm = frun_msg(r);
	const char *key = frun_key(r);

	log_warnx("fetch account=%s: message %s (%llu bytes) left on the server: %s",
		  r->acct->name, fmsg_uid(r), (unsigned long long)rm->size, why);
	r->skipped++;
	/* Later runs leave it alone. */
	if (key != NULL && fst_set(&r->state, key, time(NULL), FST_SKIPPED,
				   NULL, NULL, 0) < 0) {
		frun_fail(r, "out of memory");
		return;
	}
	r->state_dirty |= key != NULL;
	fmsg_clear(r);
	r->msg_done(r, false);
}

/* ---- the commit (worker) ----------------------------------------- */

/* The index of the recipient key failed in m->rcpts (n_rcpts: none). */
static size_t rcpt_index(const struct fetch_msg *m, const char *failed)
{
	for (size_t i = 0; i < m->n_rcpts; i++)
		if (strcmp(m->rcpts[i], failed) == 0)
			return i;
	return m->n_rcpts;
}

static void deliver_job(void *arg)
{
	struct fetch_run *r = arg;
	struct fetch_msg *m = &r->m;
	const char *key = frun_key(r), *failed = "";

	m->save_errno = 0;
	/* The pipeline's commit, inline: this is a worker thread. */
	pipe_tx_end(m->tx);
	m->md = pipe_tx_store_result(m->tx, &failed);
	if (m->md == MD_OK && pipe_tx_reply(m->tx)->code >= 300)
		m->md = MD_ERR_IO;
	m->md_failed = rcpt_index(m, failed);
	if (m->md != MD_OK || key == NULL)
		return;
	/* Durable for every recipient: record it before any DELE. */
	if (fst_set(&r->state, key, time(NULL), FST_DELIVERED,
		    m->notice ? NULL : m->msgid, (const char *const *)m->rcpts,
		    m->notice ? 0 : m->n_rcpts) < 0) {
		m->save_errno = errno;
		return;
	}
	frun_save_job(r);
}

static void deliver_done(void *arg)
{
	struct fetch_run *r = arg;
	struct fetch_msg *m = &r->m;
	bool notice = m->notice;

	r->busy = false;
	if (m->md != MD_OK) {
		r->errors++;
		frun_fail(r, "delivery of message %s to %s failed: %s",
			  fmsg_uid(r),
			  m->md_failed < m->n_rcpts ? m->rcpts[m->md_failed]
						    : m->rcpts[0],
			  md_result_str(m->md));
	} else if (m->save_errno != 0) {
		frun_fail(r, "message %s delivered but %s not saved: %s",
			  fmsg_uid(r), r->state_path, strerror(m->save_errno));
	} else if (!notice) {
		r->delivered++;
	}
	fmsg_clear(r);
	if (r->pop == NULL) {
		frun_finish(r, FETCH_TEMPFAIL, r->err);
		return;
	}
	if (r->failed) {
		pop3c_close(r->pop, r->err);
		return;
	}
	if (r->cancelled) {
		frun_fail(r, "cancelled");
		return;
	}
	r->msg_done(r, !r->acct->keep || notice);
}

/* The delivery is written: commit it on the worker pool. */
static void fmsg_commit(struct fetch_run *r)
{
	frun_step_stop(r);
	if (worker_submit(r->env->pool, deliver_job, deliver_done, r) < 0) {
		frun_fail(r, "worker: %s", strerror(errno));
		return;
	}
	r->busy = true;
}

/* ---- recipients --------------------------------------------------- */

static int add_rcpt(struct fetch_msg *m, const char *key)
{
	char **grown;

	for (size_t i = 0; i < m->n_rcpts; i++)
		if (strcmp(m->rcpts[i], key) == 0)
			return 0;
	grown = realloc(m->rcpts, (m->n_rcpts + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	m->rcpts = grown;
	if ((m->rcpts[m->n_rcpts] = strdup(key)) == NULL)
		return -1;
	m->n_rcpts++;
	return 0;
}

/* Resolve name (an address) to a local mailbox key: 1 found, 0 not
 * local or unusable. */
static int resolve(struct fetch_run *r, const char *name,
		   struct rcpt_target *t)
{
	struct addr_mailbox mb;
	const char *why = NULL;

	if (addr_parse_mailbox(name, strlen(name), ADDR_OPT_UTF8, &mb,
			       NULL) < 0)
		return 0;
	switch (rcpt_resolve(r->env->cfg, r->db, &mb, t, &why)) {
	case RCPT_LOCAL:
		return 1;
	case RCPT_ERROR:
		log_warnx("fetch account=%s: %s: %s", r->acct->name, name,
			  why != NULL ? why : "cannot resolve");
		return 0;
	default:
		return 0;
	}
}

/* A message without a usable uid: its fallback key, from its header
 * block m->hdr[0..end) (at most FMSG_HEADER_MAX octets of it). True when
 * the state knows the key: m->action is FMSG_KNOWN then. */
static bool fmsg_known(struct fetch_run *r, size_t end)
{
	struct fetch_msg *m = &r->m;
	struct flist_msg *rm = frun_msg(r);
	struct flist_rule rule = {
		.keep = r->acct->keep,
		.keep_days = r->acct->keep_days,
		.now = time(NULL),
	};
	struct fst_entry *e;

	if (flist_uid(&r->list, rm) != NULL)
		return false;
	fst_key(m->hdr, end < FMSG_HEADER_MAX ? end : FMSG_HEADER_MAX,
		rm->size, m->key);
	if ((e = fst_find(&r->state, m->key)) == NULL)
		return false;
	e->seen = true;
	m->action = FMSG_KNOWN;
	m->known_due = flist_due(e, &rule);
	return true;
}

/* Choose what to do with the message from its header block hdr[0..len):
 * sets m->action (and the recipients). Returns 0, or -1 after frun_fail. */
static int fmsg_decide(struct fetch_run *r, const char *hdr, size_t len)
{
	const struct config_fetch *a = r->acct;
	struct fetch_msg *m = &r->m;
	struct fh_options o = {
		.domain = a->mode == CONFIG_FETCH_DOMAINPOP ? a->target : NULL,
		.headers = (const char *const *)a->headers,
		.n_headers = a->n_headers,
		.skip_received = a->skip_received,
		.account = a->name,
		.hostname = r->env->cfg->hostname,
	};
	struct fh_result h;
	struct rcpt_target t;
	const char *loop;
	size_t i, kept;

	if (fmsg_known(r, len))
		return 0;
	if (fh_parse(hdr, len, &o, &h) < 0) {
		frun_fail(r, "out of memory");
		return -1;
	}
	loop = fh_loop_reason(&h, a->mode == CONFIG_FETCH_MULTIPOP ? a->target
								    : NULL);
	if (loop != NULL) {
		fh_result_free(&h);
		m->action = FMSG_SKIP;
		m->skip_why = loop;
		return 0;
	}
	if (h.message_id != NULL)
		m->msgid = strdup(h.message_id);
	if (a->mode == CONFIG_FETCH_MULTIPOP) {
		if (resolve(r, a->target, &t) == 1 && add_rcpt(m, t.key) < 0)
			goto oom;
	} else {
		for (i = 0; i < h.n_rcpts; i++)
			if (resolve(r, h.rcpts[i], &t) == 1 &&
			    add_rcpt(m, t.key) < 0)
				goto oom;
	}
	fh_result_free(&h);
	if (m->n_rcpts == 0 && a->mode == CONFIG_FETCH_DOMAINPOP) {
		char def[ADDR_KEY_SIZE + 70];

		snprintf(def, sizeof(def), "%s@%s", a->default_recipient,
			 a->target);
		if (resolve(r, def, &t) == 1 && add_rcpt(m, t.key) < 0) {
			frun_fail(r, "out of memory");
			return -1;
		}
		if (m->n_rcpts == 0) {
			frun_fail(r, "default recipient %s is not a local user",
				  def);
			return -1;
		}
	}
	if (m->n_rcpts == 0) {
		frun_fail(r, "%s is not a local user", a->target);
		return -1;
	}
	/* At most one copy of a Message-ID per local user (this run, and
	 * earlier runs whose messages are still on the server). */
	for (i = kept = 0; i < m->n_rcpts; i++) {
		if (fst_delivered(&r->state, m->msgid, m->rcpts[i]))
			free(m->rcpts[i]);
		else
			m->rcpts[kept++] = m->rcpts[i];
	}
	m->n_rcpts = kept;
	m->action = kept == 0 ? FMSG_DUP : FMSG_DELIVER;
	return 0;
oom:
	fh_result_free(&h);
	frun_fail(r, "out of memory");
	return -1;
}

/* The recipients (keys of local users) as routed targets. 0 or -1. */
static int add_targets(struct fetch_run *r)
{
	struct fetch_msg *m = &r->m;

	for (size_t i = 0; i < m->n_rcpts; i++) {
		const char *at = strrchr(m->rcpts[i], '@');
		struct rcpt_target t;

		if (at == NULL)
			return -1;
		snprintf(t.key, sizeof(t.key), "%s", m->rcpts[i]);
		snprintf(t.local, sizeof(t.local), "%.*s",
			 (int)(at - m->rcpts[i]), m->rcpts[i]);
		snprintf(t.domain, sizeof(t.domain), "%s", at + 1);
		pipe_tx_rcpt_routed(m->tx, t.key, PIPE_ROUTE_LOCAL, &t, 1);
		if (pipe_tx_reply(m->tx)->code >= 300)
			return -1;
	}
	return 0;
}

/* Start the message in the pipeline (origin FETCH: its tmp file in the
 * staging maildir) with our Received field on top. Returns 0, or -1
 * after frun_fail. */
static int fmsg_begin(struct fetch_run *r)
{
	struct fetch_msg *m = &r->m;
	char peer[NI_MAXHOST], field[FTRACE_MAX];
	const struct addrinfo *ai = r->cur_addr;
	struct ftrace_info t = {
		.pop_host = r->acct->host,
		.hostname = r->env->cfg->hostname,
		.account = r->acct->name,
		.id = frun_key(r),
		.when = time(NULL),
	};
	struct pipe_facts facts = { PIPE_FETCH, NULL, r->acct->name };
	size_t len;

	if (ai != NULL && getnameinfo(ai->ai_addr, ai->ai_addrlen, peer,
				      sizeof(peer), NULL, 0,
				      NI_NUMERICHOST) == 0)
		t.peer = peer;
	len = ftrace_received(&t, field, sizeof(field));
	r->penv = (struct pipe_env){ .cfg = r->env->cfg, .db = r->db,
				     .staging = r->staging };
	m->tx = pipe_tx_new(&r->penv, &facts, NULL, NULL);
	m->md = MD_ERR_IO;
	if (m->tx != NULL && len > 0) {
		pipe_tx_mail(m->tx, NULL, NULL);
		if (add_targets(r) == 0) {
			pipe_tx_begin(m->tx, t.id != NULL ? t.id : "fetch");
			m->md = pipe_tx_store_result(m->tx, NULL);
			if (m->md == MD_OK && pipe_tx_reply(m->tx)->code >= 300)
				m->md = MD_ERR_IO;
		}
	}
	if (m->md != MD_OK) {
		r->errors++;
		frun_fail(r, "cannot start a delivery in %s: %s", r->staging,
			  md_result_str(m->md));
		return -1;
	}
	pipe_tx_write(m->tx, field, len);
	return 0;
}

/* The header block is complete (hdr[0..end)): choose, then either start
 * the delivery with everything gathered so far or read on to the end. */
static int fmsg_header_done(struct fetch_run *r, size_t end)
{
	struct fetch_msg *m = &r->m;

	if (end > FMSG_HEADER_MAX) {
		if (!fmsg_known(r, end)) {
			m->action = FMSG_SKIP;
			m->skip_why = "its header is longer than 256 KiB";
		}
	} else if (fmsg_decide(r, m->hdr, end) < 0) {
		return -1;
	}
	if (m->action != FMSG_DELIVER) {
		m->phase = FMSG_DISCARD;
	} else {
		if (fmsg_begin(r) < 0)
			return -1;
		/* Write errors are sticky: the commit reports them. */
		pipe_tx_write(m->tx, m->hdr, m->hdr_len);
		m->phase = FMSG_BODY;
	}
	free(m->hdr);
	m->hdr = NULL;
	m->hdr_len = m->hdr_cap = 0;
	return 0;
}

/* ---- RETR (loop) -------------------------------------------------- */

static int on_retr_data(struct pop3c *c, void *arg, const char *data,
			size_t len)
{
	struct fetch_run *r = arg;
	struct fetch_msg *m = &r->m;
	size_t end;

	(void)c;
	frun_step_bytes(r, len);
	m->got += len;
	if (m->got > m->limit) {
		frun_fail(r, "message %s is larger than its LIST size allows",
			  fmsg_uid(r));
		return -1;
	}
	switch (m->phase) {
	case FMSG_BODY:
		pipe_tx_write(m->tx, data, len);
		return 0;
	case FMSG_DISCARD:
		return 0;
	case FMSG_HEADER:
		break;
	}
	if (m->hdr_cap - m->hdr_len < len) {
		size_t cap = m->hdr_cap ? m->hdr_cap : 8192;
		char *grown;

		while (cap - m->hdr_len < len)
			cap *= 2;
		if ((grown = realloc(m->hdr, cap)) == NULL) {
			frun_fail(r, "out of memory");
			return -1;
		}
		m->hdr = grown;
		m->hdr_cap = cap;
	}
	memcpy(m->hdr + m->hdr_len, data, len);
	m->hdr_len += len;
	end = fh_header_end(m->hdr, m->hdr_len);
	if (end == 0 && m->hdr_len > FMSG_HEADER_MAX)
		end = m->hdr_len;
	if (end > 0)
		return fmsg_header_done(r, end);
	return 0;
}

static void on_retr(struct pop3c *c, void *arg, bool ok, const char *text,
		    const char *body, size_t len)
{
	struct fetch_run *r = arg;
	struct fetch_msg *m = &r->m;
	struct flist_msg *rm = frun_msg(r);
	const char *key;

	(void)c;
	(void)body;
	(void)len;
	if (!ok) {
		/* The message may have been removed by another client. */
		r->errors++;
		log_warnx("fetch account=%s: RETR %lu: %s", r->acct->name,
			  (unsigned long)rm->num, text);
		if (flist_uid(&r->list, rm) == NULL)
			r->keys_incomplete = true;
		fmsg_clear(r);
		r->msg_done(r, false);
		return;
	}
	r->fetched++;
	/* No empty line: the whole message is its header. */
	if (m->phase == FMSG_HEADER &&
	    fmsg_header_done(r, m->hdr_len) < 0)
		return;
	if (m->phase == FMSG_BODY) {
		fmsg_commit(r);
		return;
	}
	if (m->action == FMSG_SKIP) {
		fmsg_skip(r, m->skip_why);
		return;
	}
	if (m->action == FMSG_KNOWN) {
		bool due = m->known_due;

		log_info("fetch account=%s: message %lu has no usable uid; its fallback key %s says it was handled before: not delivered again",
			 r->acct->name, (unsigned long)rm->num, m->key);
		fmsg_clear(r);
		r->msg_done(r, due);
		return;
	}
	log_info("fetch account=%s: message %s is a duplicate of %s, not delivered again",
		 r->acct->name, fmsg_uid(r), m->msgid);
	r->skipped++;
	if ((key = frun_key(r)) != NULL) {
		if (fst_set(&r->state, key, time(NULL), FST_DELIVERED,
			    m->msgid, NULL, 0) < 0) {
			frun_fail(r, "out of memory");
			return;
		}
		r->state_dirty = true;
	}
	fmsg_clear(r);
	r->msg_done(r, !r->acct->keep);
}

void fmsg_fetch(struct fetch_run *r)
{
	const struct config_fetch *a = r->acct;
	uint64_t max = a->max_size ? a->max_size : r->env->cfg->max_message_size;
	char line[64];

	struct flist_msg *rm = frun_msg(r);
	char what[64];

	fmsg_clear(r);
	r->m.limit = max + FMSG_SLACK;
	snprintf(line, sizeof(line), "RETR %lu", (unsigned long)rm->num);
	snprintf(what, sizeof(what), "message %lu (%llu octets)",
		 (unsigned long)rm->num, (unsigned long long)rm->size);
	frun_step(r, what, rm->size);
	if (pop3c_command_stream(r->pop, line, on_retr_data, on_retr, r) < 0)
		frun_fail(r, "cannot send %s: %s", line, strerror(errno));
}

/* ---- the oversize notice ------------------------------------------ */

void fmsg_oversize(struct fetch_run *r)
{
	const struct config_fetch *a = r->acct;
	struct fetch_msg *m = &r->m;
	struct flist_msg *rm = frun_msg(r);
	const char *domain = a->mode == CONFIG_FETCH_MULTIPOP
				     ? strrchr(a->target, '@') + 1
				     : a->target;
	char pm[ADDR_KEY_SIZE + 16], date[64];
	struct rcpt_target t;
	time_t now = time(NULL);
	struct tm tm;
	char *text = NULL;
	int n;

	fmsg_clear(r);
	snprintf(pm, sizeof(pm), "postmaster@%s", domain);
	if (resolve(r, pm, &t) != 1) {
		fmsg_skip(r, "over max_size, and there is no local postmaster to tell before deleting it");
		return;
	}
	if (add_rcpt(m, t.key) < 0) {
		frun_fail(r, "out of memory");
		return;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	n = asprintf(&text,
		     "From: MAILER-DAEMON@%s\r\nTo: %s\r\nDate: %s\r\n"
		     "Subject: kantorpos fetch: oversized message deleted (%s)\r\n"
		     "Auto-Submitted: auto-generated\r\n\r\n"
		     "kantorpos fetch deleted message %s (%llu bytes) from the\r\n"
		     "account %s (%s at %s) without delivering it: it is larger\r\n"
		     "than max_size (%llu bytes).\r\n",
		     r->env->cfg->hostname, pm, date, a->name, fmsg_uid(r),
		     (unsigned long long)rm->size, a->name, a->user, a->host,
		     (unsigned long long)a->max_size);
	if (n < 0) {
		frun_fail(r, "out of memory");
		return;
	}
	m->notice = true;
	if (fmsg_begin(r) < 0) {
		free(text);
		return;
	}
	pipe_tx_write(m->tx, text, (size_t)n);
	free(text);
	log_warnx("fetch account=%s: message %s (%llu bytes) is over max_size: deleting it and telling %s",
		  a->name, fmsg_uid(r), (unsigned long long)rm->size, t.key);
	r->skipped++;
	fmsg_commit(r);
}
