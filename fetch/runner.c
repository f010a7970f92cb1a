/* fetch/runner.c: one run of a fetch account, the session half:
 * preparation on the worker pool, login, UIDL and LIST read line by line
 * (pipelined when the server offers it), choosing each message in turn,
 * DELE, the state file and QUIT. Each message itself is fetch/message.c's,
 * which hands it back through r->msg_done; the run's state, its end and its
 * deadlines are fetch/run.c's. */
#include "autoconf.h"

#include "fetch/runner.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config/config.h"
#include "common/base/log.h"
#include "common/net/net.h"
#include "common/client/pop3client.h"
#include "common/net/tls.h"
#include "common/users/userdb.h"
#include "common/net/worker.h"
#include "fetch/listing.h"
#include "fetch/message.h"
#include "fetch/run.h"
#include "common/config/secret.h"
#include "fetch/state.h"
#include "store/maildir.h"

static void run_quit(struct fetch_run *r);
static void run_next(struct fetch_run *r);
static void dele_or_next(struct fetch_run *r, bool dele);

/* The state file of an account: DATA/fetch/NAME.state (heap string). */
static char *fetch_state_path(const struct config *cfg,
			      const struct config_fetch *acct)
{
	char *path;

	if (asprintf(&path, "%s/fetch/%s.state", cfg->data_dir, acct->name) < 0)
		return NULL;
	return path;
}

/* ---- preparation (worker) ---------------------------------------- */

static void prep_job(void *arg)
{
	struct fetch_run *r = arg;
	const struct config_fetch *a = r->acct;
	char why[256];

	r->prep_status = FETCH_CONFIG;
	if (secret_read(a->password_file, r->env->owner, &r->password, r->err,
		      sizeof(r->err)) < 0)
		return;
	r->prep_status = FETCH_TEMPFAIL;
	if (fst_load(r->state_path, &r->state, r->err, sizeof(r->err)) < 0)
		return;
	/* Deliveries start in a maildir of their own: the recipients of a
	 * DomainPOP message are known only once its header has arrived. */
	if (md_create(r->staging) < 0 ||
	    md_clean_tmp(r->staging, MD_TMP_MAX_AGE, NULL) < 0) {
		snprintf(r->err, sizeof(r->err), "%s: %s", r->staging,
			 strerror(errno));
		return;
	}
	if (userdb_open(r->env->cfg->user_db, &r->db) < 0) {
		snprintf(r->err, sizeof(r->err), "%s: %s", r->env->cfg->user_db,
			 strerror(errno));
		return;
	}
	if (a->tls != CONFIG_FETCH_TLS_NONE) {
		r->ctx = tls_client_ctx_new(a->ca_file, why, sizeof(why));
		if (r->ctx == NULL) {
			r->prep_status = FETCH_CONFIG;
			snprintf(r->err, sizeof(r->err), "TLS: %s", why);
			return;
		}
	}
	if (net_resolve(a->host, a->port, false, &r->addrs, why,
			sizeof(why)) < 0) {
		snprintf(r->err, sizeof(r->err), "%s", why);
		return;
	}
	r->prep_status = FETCH_OK;
}

static void pop_ready(struct pop3c *c, void *arg);
static void pop_closed(struct pop3c *c, void *arg, bool clean,
		       const char *why);

static int run_connect(struct fetch_run *r)
{
	static const struct pop3c_cb cbs = {
		.on_ready = pop_ready,
		.on_closed = pop_closed,
	};
	static const enum pop3c_tls tls[] = {
		[CONFIG_FETCH_TLS_IMPLICIT] = POP3C_TLS_IMPLICIT,
		[CONFIG_FETCH_TLS_STLS] = POP3C_TLS_STLS,
		[CONFIG_FETCH_TLS_NONE] = POP3C_TLS_NONE,
	};
	static const enum pop3c_auth auth[] = {
		[CONFIG_FETCH_AUTH_ANY] = POP3C_AUTH_ANY,
		[CONFIG_FETCH_AUTH_PLAIN] = POP3C_AUTH_PLAIN,
		[CONFIG_FETCH_AUTH_USER] = POP3C_AUTH_USER,
		[CONFIG_FETCH_AUTH_APOP] = POP3C_AUTH_APOP,
	};
	const struct config_fetch *a = r->acct;
	char log_id[96];
	struct pop3c_params p = {
		.host = a->host,
		.tls = tls[a->tls],
		.ctx = r->ctx,
		.pin = a->fingerprint,
		.auth = auth[a->auth],
		.user = a->user,
		.password = r->password,
		.timeout = a->timeout,
		.log_id = log_id,
	};

	snprintf(log_id, sizeof(log_id), "fetch %s", a->name);
	while (r->next_addr != NULL) {
		struct addrinfo *ai = r->next_addr;

		r->next_addr = ai->ai_next;
		r->pop = pop3c_connect(r->env->loop, ai->ai_addr, ai->ai_addrlen,
				       &p, &cbs, r);
		if (r->pop != NULL) {
			r->cur_addr = ai;
			frun_step(r, "login", 0);
			return 0;
		}
		snprintf(r->err, sizeof(r->err), "connect: %s", strerror(errno));
	}
	return -1;
}

static void prep_done(void *arg)
{
	struct fetch_run *r = arg;

	r->busy = false;
	if (r->prep_status != FETCH_OK) {
		frun_finish(r, r->prep_status, r->err);
		return;
	}
	if (r->failed) {
		frun_finish(r, FETCH_TEMPFAIL, r->err);
		return;
	}
	if (r->cancelled) {
		frun_finish(r, FETCH_TEMPFAIL, "cancelled");
		return;
	}
	r->next_addr = r->addrs;
	if (run_connect(r) < 0)
		frun_finish(r, FETCH_TEMPFAIL, r->err);
}

struct fetch_run *fetch_run_start(struct fetch_env *env,
				  const struct config_fetch *acct,
				  fetch_done_fn *done, void *arg)
{
	struct fetch_run *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->env = env;
	r->acct = acct;
	r->done = done;
	r->done_arg = arg;
	r->msg_done = dele_or_next;
	r->m.phase = FMSG_HEADER;
	frun_timers_init(r);
	flist_init(&r->list, acct->max_messages);
	r->state_path = fetch_state_path(env->cfg, acct);
	if (asprintf(&r->staging, "%s/fetch/staging", env->cfg->data_dir) < 0)
		r->staging = NULL;
	if (r->state_path == NULL || r->staging == NULL ||
	    worker_submit(env->pool, prep_job, prep_done, r) < 0) {
		int e = errno;

		frun_free(r);
		errno = e;
		return NULL;
	}
	r->busy = true;
	ev_timer_start(env->loop, &r->run_timer);
	return r;
}

void fetch_run_cancel(struct fetch_run *r)
{
	r->cancelled = true;
	if (r->pop != NULL && !r->busy)
		frun_fail(r, "cancelled");
}

/* ---- the session (loop) ------------------------------------------ */

static void pop_closed(struct pop3c *c, void *arg, bool clean,
		       const char *why)
{
	struct fetch_run *r = arg;

	(void)c;
	r->pop = NULL;
	/* A connect failure before login: try the next address. */
	if (!r->ready && !r->failed && !r->cancelled &&
	    strncmp(why, "connect:", 8) == 0 && r->next_addr != NULL) {
		if (run_connect(r) == 0)
			return;
	}
	if (r->busy) {
		/* A delivery is on the worker: finish when it is back. */
		if (!r->failed) {
			r->failed = true;
			snprintf(r->err, sizeof(r->err), "%s", why);
		}
		return;
	}
	if (clean && !r->failed)
		frun_finish(r, FETCH_OK, NULL);
	else
		frun_finish(r, FETCH_TEMPFAIL, r->failed ? r->err : why);
}

/* Send a single-line command; its reply goes to fn. */
static int run_cmd(struct fetch_run *r, pop3c_reply_fn *fn, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

static int run_cmd(struct fetch_run *r, pop3c_reply_fn *fn, const char *fmt,
		   ...)
{
	char line[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (pop3c_command(r->pop, line, false, 0, fn, r) < 0) {
		frun_fail(r, "cannot send %s", line);
		return -1;
	}
	return 0;
}

/* One listing line: the deadline counts it, the listing takes it. */
static int on_uidl_line(void *arg, const char *line, size_t len,
			bool overlong)
{
	struct fetch_run *r = arg;
	struct flist_rule rule = {
		.keep = r->acct->keep,
		.keep_days = r->acct->keep_days,
		.now = time(NULL),
	};

	frun_step_bytes(r, len + 2);
	if (flist_uidl_line(&r->list, &r->state, &rule, line, len,
			    overlong) < 0) {
		frun_fail(r, "out of memory");
		return -1;
	}
	return 0;
}

static int on_list_line(void *arg, const char *line, size_t len,
			bool overlong)
{
	struct fetch_run *r = arg;

	frun_step_bytes(r, len + 2);
	if (flist_list_line(&r->list, line, len, overlong) < 0) {
		frun_fail(r, "out of memory");
		return -1;
	}
	return 0;
}

static void on_list(struct pop3c *c, void *arg, bool ok, const char *text,
		    const char *body, size_t len);

static int send_list(struct fetch_run *r)
{
	if (pop3c_command_lines(r->pop, "LIST", FLIST_LINE_MAX, on_list_line,
				on_list, r) < 0) {
		frun_fail(r, "cannot send LIST");
		return -1;
	}
	r->list_sent = true;
	return 0;
}

static void on_uidl(struct pop3c *c, void *arg, bool ok, const char *text,
		    const char *body, size_t len)
{
	struct fetch_run *r = arg;

	(void)c;
	(void)body;
	(void)len;
	flist_uidl_end(&r->list, ok);
	if (!ok) {
		if (r->acct->keep) {
			frun_fail(r, "the server has no UIDL (%s): keep needs it",
				 text);
			return;
		}
		log_warnx("fetch account=%s: the server has no UIDL (%s): each message is recognised by its fallback key",
			  r->acct->name, text);
	}
	if (!r->list_sent)
		send_list(r);
}

/* Say what the listing held that is not simply handled. */
static void log_listing(struct fetch_run *r)
{
	const struct flist *l = &r->list;
	const char *n = r->acct->name;

	if (l->bad_uid > 0)
		log_warnx("fetch account=%s: unusable UIDL entries (not 1 to 70 octets 0x21-0x7E): %zu; those messages are recognised by their fallback key",
			  n, l->bad_uid);
	if (l->shared_uid > 0)
		log_warnx("fetch account=%s: messages whose uid the server gave to another one too: %zu; recognised by their fallback key",
			  n, l->shared_uid);
	if (l->no_uidl > 0)
		log_warnx("fetch account=%s: messages in LIST without a UIDL entry: %zu; recognised by their fallback key",
			  n, l->no_uidl);
	if (l->ignored > 0)
		log_warnx("fetch account=%s: listing lines ignored (no message number, or one named before): %zu",
			  n, l->ignored);
	if (l->capped > 0)
		log_warnx("fetch account=%s: max_messages %u reached: %zu more messages are left for the next run",
			  n, r->acct->max_messages, l->capped);
}

static void on_list(struct pop3c *c, void *arg, bool ok, const char *text,
		    const char *body, size_t len)
{
	struct fetch_run *r = arg;
	struct flist *l = &r->list;

	(void)c;
	(void)body;
	(void)len;
	if (!ok) {
		frun_fail(r, "LIST: %s", text);
		return;
	}
	flist_list_end(l);
	/* An empty UIDL beside a LIST that is not proves nothing but a
	 * server hiccup: every message would lose its uid this run. */
	if (l->have_uidl && l->uidl_lines == 0 && l->n > 0) {
		frun_fail(r, "UIDL listed no message but LIST did");
		return;
	}
	log_listing(r);
	if (l->capped > 0)
		r->keys_incomplete = true;
	/* State entries whose uid the server no longer lists are gone for
	 * good (an empty listing proves nothing: it may be a server
	 * hiccup; without UIDL this run knows nothing about them). */
	if (l->have_uidl && l->uidl_lines > 0 &&
	    fst_prune(&r->state, true, false) > 0)
		r->state_dirty = true;
	if (l->list_lines == 0)
		r->keys_incomplete = true;
	r->cur = 0;
	run_next(r);
}

static void pop_ready(struct pop3c *c, void *arg)
{
	struct fetch_run *r = arg;

	(void)c;
	r->ready = true;
	if (r->cancelled) {
		frun_fail(r, "cancelled");
		return;
	}
	/* UIDL first: messages already handled then cost no memory. */
	frun_step(r, "the listing (UIDL, LIST)", UINT64_MAX);
	if (pop3c_command_lines(r->pop, "UIDL", FLIST_LINE_MAX, on_uidl_line,
				on_uidl, r) < 0) {
		frun_fail(r, "cannot send UIDL");
		return;
	}
	/* With PIPELINING, LIST goes along. */
	if (pop3c_room(r->pop) > 0)
		send_list(r);
}

/* ---- quitting ----------------------------------------------------- */

static void on_quit(struct pop3c *c, void *arg, bool ok, const char *text,
		    const char *body, size_t len)
{
	struct fetch_run *r = arg;

	(void)c;
	(void)body;
	(void)len;
	if (!ok)
		frun_fail(r, "QUIT: %s", text);
}

static void quit_after_save(void *arg)
{
	struct fetch_run *r = arg;

	r->busy = false;
	if (r->pop == NULL) {
		frun_finish(r, FETCH_TEMPFAIL, r->failed ? r->err : "closed");
		return;
	}
	if (r->m.save_errno != 0) {
		frun_fail(r, "%s: %s", r->state_path,
			  strerror(r->m.save_errno));
		return;
	}
	frun_step(r, "QUIT", 0);
	run_cmd(r, on_quit, "QUIT");
}

/* Every message handled: save pruned state if needed, then QUIT. */
static void run_quit(struct fetch_run *r)
{
	/* Every message without a uid was read up to its key: the keys not
	 * seen belong to messages that are gone. */
	if (!r->keys_incomplete && fst_prune(&r->state, false, true) > 0)
		r->state_dirty = true;
	if (r->state_dirty) {
		r->state_dirty = false;
		if (worker_submit(r->env->pool, frun_save_job, quit_after_save, r) < 0) {
			frun_fail(r, "worker: %s", strerror(errno));
			return;
		}
		r->busy = true;
		frun_step_stop(r);
		return;
	}
	frun_step(r, "QUIT", 0);
	run_cmd(r, on_quit, "QUIT");
}

/* ---- DELE and the next message ----------------------------------- */

static void on_dele(struct pop3c *c, void *arg, bool ok, const char *text,
		    const char *body, size_t len)
{
	struct fetch_run *r = arg;
	unsigned long num = r->dele_q[r->dele_head];

	(void)c;
	(void)body;
	(void)len;
	r->dele_head = (r->dele_head + 1) % r->list.n;
	r->dele_len--;
	if (ok) {
		r->deleted++;
	} else {
		r->errors++;
		log_warnx("fetch account=%s: DELE %lu: %s", r->acct->name, num,
			  text);
	}
	if (r->wait_dele) {
		r->wait_dele = false;
		run_next(r);
	}
}

/* DELE the current message (when dele) and move on to the next. */
static void dele_or_next(struct fetch_run *r, bool dele)
{
	if (dele) {
		unsigned long num = frun_msg(r)->num;

		if (r->dele_q == NULL &&
		    (r->dele_q = calloc(r->list.n, sizeof(*r->dele_q))) == NULL) {
			frun_fail(r, "out of memory");
			return;
		}
		if (run_cmd(r, on_dele, "DELE %lu", num) < 0)
			return;
		r->dele_q[(r->dele_head + r->dele_len++) % r->list.n] = num;
		/* Lock-step: the next command waits for this reply. With
		 * PIPELINING it goes now (the message is durable already;
		 * a -ERR only leaves it on the server). */
		if (pop3c_room(r->pop) == 0) {
			r->cur++;
			r->wait_dele = true;
			frun_step(r, "DELE", 0);
			return;
		}
	}
	r->cur++;
	run_next(r);
}

/* Handle the next message, or QUIT when all are done. */
static void run_next(struct fetch_run *r)
{
	const struct config_fetch *a = r->acct;
	uint64_t max = a->max_size ? a->max_size : r->env->cfg->max_message_size;

	if (r->cancelled) {
		frun_fail(r, "cancelled");
		return;
	}
	while (r->cur < r->list.n) {
		struct flist_msg *m = frun_msg(r);
		const char *uid = flist_uid(&r->list, m);
		struct fst_entry *e = uid != NULL ? fst_find(&r->state, uid)
						  : NULL;

		if (e != NULL) {
			/* Delivered by an earlier run (maybe one cut before
			 * QUIT) and kept by the listing: its DELE is due. */
			dele_or_next(r, true);
			return;
		}
		if (m->size > max) {
			if (uid == NULL)
				r->keys_incomplete = true;
			if (a->oversize == CONFIG_FETCH_OVERSIZE_DELETE)
				fmsg_oversize(r);
			else
				fmsg_skip(r, "over max_size");
			return;
		}
		fmsg_fetch(r);
		return;
	}
	run_quit(r);
}
