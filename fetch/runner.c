/* fetch/runner.c: one run of a fetch account: the POP3 dialogue
 * (UIDL, LIST, RETR, DELE, QUIT) driven on the loop, recipients from the
 * headers, delivery and state updates on the worker pool. */
#include "autoconf.h"

#include "fetch/runner.h"

#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/address.h"
#include "common/config.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/net.h"
#include "common/pop3client.h"
#include "common/recipient.h"
#include "common/tls.h"
#include "common/userdb.h"
#include "common/worker.h"
#include "fetch/headers.h"
#include "fetch/secrets.h"
#include "fetch/state.h"
#include "store/maildir.h"

/* Room for the fetched mark line. */
#define RUN_MARK_MAX 128

struct run_msg {
	unsigned long num;
	unsigned long long size;
	char *uid; /* NULL: no usable unique id */
	bool dup;  /* the server gave its uid to another message too */
};

struct fetch_run {
	struct fetch_env *env;
	const struct config_fetch *acct;
	fetch_done_fn *done;
	void *done_arg;
	char *state_path;

	/* Prepared on the worker. */
	char *password;
	struct fst state;
	struct userdb *db;
	struct addrinfo *addrs, *next_addr;
	SSL_CTX *ctx;
	char err[512];
	enum fetch_status prep_status;

	struct pop3c *pop;
	bool ready, cancelled, failed, state_dirty, busy;
	struct run_msg *msgs;
	size_t n_msgs, cur;
	bool have_uidl;
	struct fst nouid; /* Message-IDs delivered this run without a uid */

	/* The message being delivered (worker job). */
	char *body;
	size_t body_len;
	char **rcpts;
	size_t n_rcpts;
	char *msgid;
	bool notice; /* the oversize notice, not the message itself */
	enum md_result md;
	size_t md_failed;
	int save_errno;

	unsigned fetched, delivered, skipped, deleted, errors;
};

static void run_next(struct fetch_run *r);
static void run_quit(struct fetch_run *r);
static void run_fail(struct fetch_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

char *fetch_state_path(const struct config *cfg,
		       const struct config_fetch *acct)
{
	char *path;

	if (asprintf(&path, "%s/fetch/%s.state", cfg->data_dir, acct->name) < 0)
		return NULL;
	return path;
}

static void run_free(struct fetch_run *r)
{
	if (r->password != NULL) {
		sodium_memzero(r->password, strlen(r->password));
		free(r->password);
	}
	fst_free(&r->state);
	fst_free(&r->nouid);
	userdb_free(r->db);
	if (r->addrs != NULL)
		freeaddrinfo(r->addrs);
	SSL_CTX_free(r->ctx);
	for (size_t i = 0; i < r->n_msgs; i++)
		free(r->msgs[i].uid);
	free(r->msgs);
	free(r->body);
	for (size_t i = 0; i < r->n_rcpts; i++)
		free(r->rcpts[i]);
	free(r->rcpts);
	free(r->msgid);
	free(r->state_path);
	free(r);
}

/* The end of a run: one log line, the callback, and free. */
static void run_finish(struct fetch_run *r, enum fetch_status st,
		       const char *why)
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
	run_free(r);
	done(acct, st, arg);
}

/* Give up: drop the session without QUIT (nothing not yet DELEted and
 * QUIT is removed by the server). */
static void run_fail(struct fetch_run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->failed = true;
	if (r->pop != NULL)
		pop3c_close(r->pop, r->err);
}

/* ---- preparation (worker) ---------------------------------------- */

static void prep_job(void *arg)
{
	struct fetch_run *r = arg;
	const struct config_fetch *a = r->acct;
	char why[256];

	r->prep_status = FETCH_CONFIG;
	if (fsec_read(a->password_file, r->env->owner, &r->password, r->err,
		      sizeof(r->err)) < 0)
		return;
	r->prep_status = FETCH_TEMPFAIL;
	if (fst_load(r->state_path, &r->state, r->err, sizeof(r->err)) < 0)
		return;
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
		if (r->pop != NULL)
			return 0;
		snprintf(r->err, sizeof(r->err), "connect: %s", strerror(errno));
	}
	return -1;
}

static void prep_done(void *arg)
{
	struct fetch_run *r = arg;

	r->busy = false;
	if (r->prep_status != FETCH_OK) {
		run_finish(r, r->prep_status, r->err);
		return;
	}
	if (r->cancelled) {
		run_finish(r, FETCH_TEMPFAIL, "cancelled");
		return;
	}
	r->next_addr = r->addrs;
	if (run_connect(r) < 0)
		run_finish(r, FETCH_TEMPFAIL, r->err);
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
	r->state_path = fetch_state_path(env->cfg, acct);
	if (r->state_path == NULL ||
	    worker_submit(env->pool, prep_job, prep_done, r) < 0) {
		int e = errno;

		run_free(r);
		errno = e;
		return NULL;
	}
	r->busy = true;
	return r;
}

void fetch_run_cancel(struct fetch_run *r)
{
	r->cancelled = true;
	if (r->pop != NULL && !r->busy)
		run_fail(r, "cancelled");
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
		run_finish(r, FETCH_OK, NULL);
	else
		run_finish(r, FETCH_TEMPFAIL, r->failed ? r->err : why);
}

static int run_cmd(struct fetch_run *r, bool multi, size_t max,
		   pop3c_reply_fn *fn, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int run_cmd(struct fetch_run *r, bool multi, size_t max,
		   pop3c_reply_fn *fn, const char *fmt, ...)
{
	char line[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (pop3c_command(r->pop, line, multi, max, fn, r) < 0) {
		run_fail(r, "cannot send %s", line);
		return -1;
	}
	return 0;
}

static int msg_cmp(const void *a, const void *b)
{
	const struct run_msg *x = a, *y = b;

	/* Smallest first: the most mail gets through a slow link. */
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return x->num < y->num ? -1 : x->num > y->num;
}

static struct run_msg *run_find_num(struct fetch_run *r, unsigned long num)
{
	for (size_t i = 0; i < r->n_msgs; i++)
		if (r->msgs[i].num == num)
			return &r->msgs[i];
	return NULL;
}

/* Call fn(r, line) for each line of a multi-line body. */
static void each_line(struct fetch_run *r, const char *body, size_t len,
		      void (*fn)(struct fetch_run *, char *))
{
	char *copy = strndup(body, len), *line, *save = NULL;

	if (copy == NULL)
		return;
	for (line = strtok_r(copy, "\r\n", &save); line != NULL;
	     line = strtok_r(NULL, "\r\n", &save))
		fn(r, line);
	free(copy);
}

static void list_line(struct fetch_run *r, char *line)
{
	unsigned long num;
	unsigned long long size;
	struct run_msg *grown;

	if (sscanf(line, "%lu %llu", &num, &size) != 2 || num == 0 ||
	    run_find_num(r, num) != NULL)
		return;
	grown = realloc(r->msgs, (r->n_msgs + 1) * sizeof(*grown));
	if (grown == NULL)
		return;
	r->msgs = grown;
	r->msgs[r->n_msgs++] = (struct run_msg){ .num = num, .size = size };
}

static void uidl_line(struct fetch_run *r, char *line)
{
	unsigned long num;
	char uid[FST_UID_MAX + 2];
	struct run_msg *m;

	if (sscanf(line, "%lu %71s", &num, uid) != 2 || !fst_uid_ok(uid) ||
	    (m = run_find_num(r, num)) == NULL || m->uid != NULL)
		return;
	m->uid = strdup(uid);
}

static void on_uidl(struct pop3c *c, void *arg, bool ok, const char *text,
		    const char *body, size_t len)
{
	struct fetch_run *r = arg;
	const char **uids;
	size_t n = 0;
	bool dups = false;

	(void)c;
	r->have_uidl = ok;
	if (!ok) {
		if (r->acct->keep) {
			run_fail(r, "the server has no UIDL (%s): keep needs it",
				 text);
			return;
		}
		log_warnx("fetch account=%s: the server has no UIDL (%s): duplicates are caught by Message-ID within a run only",
			  r->acct->name, text);
	} else {
		each_line(r, body, len, uidl_line);
	}
	/* X-FET-07: a uid given to two messages identifies neither. */
	for (size_t i = 0; i < r->n_msgs; i++) {
		bool dup = false;

		for (size_t j = 0; j < r->n_msgs && r->msgs[i].uid != NULL; j++)
			if (j != i && r->msgs[j].uid != NULL &&
			    strcmp(r->msgs[i].uid, r->msgs[j].uid) == 0)
				dup = true;
		if (dup) {
			log_warnx("fetch account=%s: the server gave uid %s to several messages; tracking them by Message-ID",
				  r->acct->name, r->msgs[i].uid);
			/* Cleared after the scan so that every holder of
			 * the uid is found. */
			dups = true;
			r->msgs[i].dup = true;
		}
	}
	for (size_t i = 0; dups && i < r->n_msgs; i++) {
		if (r->msgs[i].dup) {
			free(r->msgs[i].uid);
			r->msgs[i].uid = NULL;
		}
	}
	/* Entries whose uid the server no longer lists are gone for good. */
	if (ok) {
		uids = calloc(r->n_msgs + 1, sizeof(*uids));
		if (uids == NULL) {
			run_fail(r, "out of memory");
			return;
		}
		for (size_t i = 0; i < r->n_msgs; i++)
			if (r->msgs[i].uid != NULL)
				uids[n++] = r->msgs[i].uid;
		if (fst_retain(&r->state, uids, n) > 0)
			r->state_dirty = true;
		free(uids);
	}
	if (r->n_msgs > 1)
		qsort(r->msgs, r->n_msgs, sizeof(*r->msgs), msg_cmp);
	r->cur = 0;
	run_next(r);
}

static void on_list(struct pop3c *c, void *arg, bool ok, const char *text,
		    const char *body, size_t len)
{
	struct fetch_run *r = arg;

	(void)c;
	if (!ok) {
		run_fail(r, "LIST: %s", text);
		return;
	}
	each_line(r, body, len, list_line);
	if (r->n_msgs == 0) {
		run_quit(r);
		return;
	}
	run_cmd(r, true, (size_t)r->n_msgs * 100 + 1024, on_uidl, "UIDL");
}

static void pop_ready(struct pop3c *c, void *arg)
{
	struct fetch_run *r = arg;

	(void)c;
	r->ready = true;
	if (r->cancelled) {
		run_fail(r, "cancelled");
		return;
	}
	run_cmd(r, true, 64 * 1024 * 1024, on_list, "LIST");
}

/* ---- saving state and quitting ----------------------------------- */

static void save_job(void *arg)
{
	struct fetch_run *r = arg;

	r->save_errno = fst_save(r->state_path, &r->state) < 0 ? errno : 0;
	if (r->save_errno == ENOENT) {
		char *dir = strdup(r->state_path);

		if (dir != NULL) {
			*strrchr(dir, '/') = '\0';
			if (fs_mkdir_p(dir, 0700) == 0)
				r->save_errno = fst_save(r->state_path,
							 &r->state) < 0
							? errno
							: 0;
			free(dir);
		}
	}
}

static void on_quit(struct pop3c *c, void *arg, bool ok, const char *text,
		    const char *body, size_t len)
{
	struct fetch_run *r = arg;

	(void)c;
	(void)body;
	(void)len;
	if (!ok)
		run_fail(r, "QUIT: %s", text);
}

static void quit_after_save(void *arg)
{
	struct fetch_run *r = arg;

	r->busy = false;
	if (r->pop == NULL) {
		run_finish(r, FETCH_TEMPFAIL, r->failed ? r->err : "closed");
		return;
	}
	if (r->save_errno != 0) {
		run_fail(r, "%s: %s", r->state_path, strerror(r->save_errno));
		return;
	}
	run_cmd(r, false, 0, on_quit, "QUIT");
}

/* Every message handled: save pruned state if needed, then QUIT. */
static void run_quit(struct fetch_run *r)
{
	if (r->state_dirty) {
		r->state_dirty = false;
		if (worker_submit(r->env->pool, save_job, quit_after_save, r) < 0) {
			run_fail(r, "worker: %s", strerror(errno));
			return;
		}
		r->busy = true;
		return;
	}
	run_cmd(r, false, 0, on_quit, "QUIT");
}

/* ---- one message ------------------------------------------------- */

static void on_dele(struct pop3c *c, void *arg, bool ok, const char *text,
		    const char *body, size_t len)
{
	struct fetch_run *r = arg;

	(void)c;
	(void)body;
	(void)len;
	if (ok) {
		r->deleted++;
	} else {
		r->errors++;
		log_warnx("fetch account=%s: DELE %lu: %s", r->acct->name,
			  r->msgs[r->cur].num, text);
	}
	r->cur++;
	run_next(r);
}

static void run_dele_or_next(struct fetch_run *r, bool dele)
{
	if (dele) {
		run_cmd(r, false, 0, on_dele, "DELE %lu", r->msgs[r->cur].num);
		return;
	}
	r->cur++;
	run_next(r);
}

static void clear_delivery(struct fetch_run *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
	for (size_t i = 0; i < r->n_rcpts; i++)
		free(r->rcpts[i]);
	free(r->rcpts);
	r->rcpts = NULL;
	r->n_rcpts = 0;
	free(r->msgid);
	r->msgid = NULL;
	r->notice = false;
}

/* Record a skipped message so later runs leave it alone (it stays on the
 * server), and move on. */
static void run_skip(struct fetch_run *r, const char *why)
{
	struct run_msg *m = &r->msgs[r->cur];

	log_warnx("fetch account=%s: message %s (%llu bytes) left on the server: %s",
		  r->acct->name, m->uid != NULL ? m->uid : "(no uid)", m->size,
		  why);
	r->skipped++;
	clear_delivery(r);
	if (m->uid != NULL) {
		if (fst_set(&r->state, m->uid, time(NULL), FST_SKIPPED, NULL,
			    NULL, 0) < 0) {
			run_fail(r, "out of memory");
			return;
		}
		r->state_dirty = true;
	}
	run_dele_or_next(r, false);
}

static void deliver_job(void *arg)
{
	struct fetch_run *r = arg;
	const struct config *cfg = r->env->cfg;
	struct run_msg *m = &r->msgs[r->cur];
	struct md_target *t = calloc(r->n_rcpts, sizeof(*t));
	char **paths = calloc(r->n_rcpts, sizeof(*paths));
	struct md_delivery *d = NULL;
	char mark[RUN_MARK_MAX];
	int marklen;

	r->md = MD_ERR_IO;
	r->md_failed = r->n_rcpts;
	r->save_errno = 0;
	if (t == NULL || paths == NULL)
		goto out;
	for (size_t i = 0; i < r->n_rcpts; i++) {
		const char *at = strrchr(r->rcpts[i], '@');
		char *local = strndup(r->rcpts[i], (size_t)(at - r->rcpts[i]));

		if (local == NULL || md_path(cfg->data_dir, at + 1, local,
					     &paths[i]) < 0) {
			free(local);
			r->md = MD_ERR_INVALID;
			goto out;
		}
		free(local);
		t[i].maildir = paths[i];
		t[i].quota_bytes = cfg->quota_bytes;
		t[i].quota_messages = cfg->quota_messages;
	}
	marklen = snprintf(mark, sizeof(mark), FH_FETCHED_HEADER ": %s\r\n",
			   r->acct->name);
	r->md = md_delivery_begin(t[0].maildir, cfg->hostname, &d);
	if (r->md == MD_OK)
		r->md = md_delivery_write(d, mark, (size_t)marklen);
	if (r->md == MD_OK)
		r->md = md_delivery_write(d, r->body, r->body_len);
	if (r->md != MD_OK) {
		md_delivery_abort(d);
		goto out;
	}
	r->md = md_delivery_commit(d, t, r->n_rcpts, &r->md_failed, NULL, 0);
	if (r->md != MD_OK || m->uid == NULL)
		goto out;
	/* Durable for every recipient: record it before any DELE. */
	if (fst_set(&r->state, m->uid, time(NULL), FST_DELIVERED,
		    r->notice ? NULL : r->msgid,
		    (const char *const *)r->rcpts,
		    r->notice ? 0 : r->n_rcpts) < 0) {
		r->save_errno = errno;
		goto out;
	}
	save_job(r);
out:
	for (size_t i = 0; paths != NULL && i < r->n_rcpts; i++)
		free(paths[i]);
	free(paths);
	free(t);
}

static void deliver_done(void *arg)
{
	struct fetch_run *r = arg;
	struct run_msg *m = &r->msgs[r->cur];

	r->busy = false;
	if (r->md != MD_OK) {
		r->errors++;
		run_fail(r, "delivery of message %s to %s failed: %s",
			 m->uid != NULL ? m->uid : "(no uid)",
			 r->md_failed < r->n_rcpts ? r->rcpts[r->md_failed]
						   : r->rcpts[0],
			 md_result_str(r->md));
	} else if (r->save_errno != 0) {
		run_fail(r, "message %s delivered but %s not saved: %s",
			 m->uid != NULL ? m->uid : "(no uid)", r->state_path,
			 strerror(r->save_errno));
	} else if (!r->notice) {
		r->delivered++;
		if (m->uid == NULL && r->msgid != NULL) {
			char key[32];

			snprintf(key, sizeof(key), "n%zu", r->cur);
			fst_set(&r->nouid, key, time(NULL), FST_DELIVERED,
				r->msgid, (const char *const *)r->rcpts,
				r->n_rcpts);
		}
	}
	if (r->failed || r->pop == NULL) {
		clear_delivery(r);
		if (r->pop == NULL)
			run_finish(r, FETCH_TEMPFAIL, r->err);
		else
			pop3c_close(r->pop, r->err);
		return;
	}
	clear_delivery(r);
	if (r->cancelled) {
		run_fail(r, "cancelled");
		return;
	}
	run_dele_or_next(r, !r->acct->keep || r->notice);
}

static void run_deliver(struct fetch_run *r)
{
	if (worker_submit(r->env->pool, deliver_job, deliver_done, r) < 0) {
		run_fail(r, "worker: %s", strerror(errno));
		return;
	}
	r->busy = true;
}

static int add_rcpt(struct fetch_run *r, const char *key)
{
	char **grown;

	for (size_t i = 0; i < r->n_rcpts; i++)
		if (strcmp(r->rcpts[i], key) == 0)
			return 0;
	grown = realloc(r->rcpts, (r->n_rcpts + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	r->rcpts = grown;
	if ((r->rcpts[r->n_rcpts] = strdup(key)) == NULL)
		return -1;
	r->n_rcpts++;
	return 0;
}

/* Resolve name (an address) to a local mailbox key: 1 found, 0 not local,
 * -1 error. */
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

/* The oversize notice for postmaster, then DELE (oversize delete). */
static void run_oversize_notice(struct fetch_run *r)
{
	const struct config_fetch *a = r->acct;
	struct run_msg *m = &r->msgs[r->cur];
	const char *domain = a->mode == CONFIG_FETCH_MULTIPOP
				     ? strrchr(a->target, '@') + 1
				     : a->target;
	char pm[ADDR_KEY_SIZE + 16], date[64];
	struct rcpt_target t;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;

	snprintf(pm, sizeof(pm), "postmaster@%s", domain);
	if (resolve(r, pm, &t) != 1) {
		run_skip(r, "over max_size, and there is no local postmaster to tell before deleting it");
		return;
	}
	if (add_rcpt(r, t.key) < 0) {
		run_fail(r, "out of memory");
		return;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	f = open_memstream(&r->body, &r->body_len);
	if (f == NULL) {
		run_fail(r, "out of memory");
		return;
	}
	fprintf(f,
		"From: MAILER-DAEMON@%s\r\nTo: %s\r\nDate: %s\r\n"
		"Subject: kantorpos fetch: oversized message deleted (%s)\r\n"
		"Auto-Submitted: auto-generated\r\n\r\n"
		"kantorpos fetch deleted message %s (%llu bytes) from the\r\n"
		"account %s (%s at %s) without delivering it: it is larger\r\n"
		"than max_size (%llu bytes).\r\n",
		r->env->cfg->hostname, pm, date, a->name,
		m->uid != NULL ? m->uid : "(no uid)", m->size, a->name, a->user,
		a->host, (unsigned long long)a->max_size);
	if (fclose(f) != 0) {
		run_fail(r, "out of memory");
		return;
	}
	r->notice = true;
	log_warnx("fetch account=%s: message %s (%llu bytes) is over max_size: deleting it and telling %s",
		  a->name, m->uid != NULL ? m->uid : "(no uid)", m->size,
		  t.key);
	r->skipped++;
	run_deliver(r);
}

static void on_retr(struct pop3c *c, void *arg, bool ok, const char *text,
		    const char *body, size_t len)
{
	struct fetch_run *r = arg;
	const struct config_fetch *a = r->acct;
	struct run_msg *m = &r->msgs[r->cur];
	struct fh_options o = {
		.domain = a->mode == CONFIG_FETCH_DOMAINPOP ? a->target : NULL,
		.headers = (const char *const *)a->headers,
		.n_headers = a->n_headers,
		.skip_received = a->skip_received,
		.account = a->name,
	};
	struct fh_result h;
	struct rcpt_target t;
	const char *loop;
	size_t i, kept;

	(void)c;
	if (!ok) {
		/* The message may have been removed by another client. */
		r->errors++;
		log_warnx("fetch account=%s: RETR %lu: %s", a->name, m->num,
			  text);
		run_dele_or_next(r, false);
		return;
	}
	r->fetched++;
	if (fh_parse(body, len, &o, &h) < 0) {
		run_fail(r, "out of memory");
		return;
	}
	loop = fh_loop_reason(&h, a->mode == CONFIG_FETCH_MULTIPOP ? a->target
								    : NULL);
	if (loop != NULL) {
		fh_result_free(&h);
		run_skip(r, loop);
		return;
	}
	if (h.message_id != NULL)
		r->msgid = strdup(h.message_id);
	if (a->mode == CONFIG_FETCH_MULTIPOP) {
		if (resolve(r, a->target, &t) == 1 && add_rcpt(r, t.key) < 0) {
			fh_result_free(&h);
			run_fail(r, "out of memory");
			return;
		}
	} else {
		for (i = 0; i < h.n_rcpts; i++)
			if (resolve(r, h.rcpts[i], &t) == 1 &&
			    add_rcpt(r, t.key) < 0)
				break;
	}
	fh_result_free(&h);
	if (r->n_rcpts == 0 && a->mode == CONFIG_FETCH_DOMAINPOP) {
		char def[ADDR_KEY_SIZE + 70];

		snprintf(def, sizeof(def), "%s@%s", a->default_recipient,
			 a->target);
		if (resolve(r, def, &t) == 1 && add_rcpt(r, t.key) < 0) {
			run_fail(r, "out of memory");
			return;
		}
		if (r->n_rcpts == 0) {
			clear_delivery(r);
			run_fail(r, "default recipient %s is not a local user",
				 def);
			return;
		}
	}
	if (r->n_rcpts == 0) {
		clear_delivery(r);
		run_fail(r, "%s is not a local user", a->target);
		return;
	}
	/* At most one copy of a Message-ID per local user (this run, and
	 * earlier runs whose messages are still on the server). */
	for (i = kept = 0; i < r->n_rcpts; i++) {
		if (fst_delivered(&r->state, r->msgid, r->rcpts[i]) ||
		    fst_delivered(&r->nouid, r->msgid, r->rcpts[i]))
			free(r->rcpts[i]);
		else
			r->rcpts[kept++] = r->rcpts[i];
	}
	r->n_rcpts = kept;
	if (kept == 0) {
		log_info("fetch account=%s: message %s is a duplicate of %s, not delivered again",
			 a->name, m->uid != NULL ? m->uid : "(no uid)", r->msgid);
		r->skipped++;
		if (m->uid != NULL) {
			if (fst_set(&r->state, m->uid, time(NULL), FST_DELIVERED,
				    r->msgid, NULL, 0) < 0) {
				run_fail(r, "out of memory");
				return;
			}
			r->state_dirty = true;
		}
		clear_delivery(r);
		run_dele_or_next(r, !a->keep);
		return;
	}
	r->body = malloc(len + 1);
	if (r->body == NULL) {
		run_fail(r, "out of memory");
		return;
	}
	memcpy(r->body, body, len);
	r->body_len = len;
	run_deliver(r);
}

/* Handle the next message, or QUIT when all are done. */
static void run_next(struct fetch_run *r)
{
	const struct config_fetch *a = r->acct;
	uint64_t max = a->max_size ? a->max_size : r->env->cfg->max_message_size;

	if (r->cancelled) {
		run_fail(r, "cancelled");
		return;
	}
	while (r->cur < r->n_msgs) {
		struct run_msg *m = &r->msgs[r->cur];
		struct fst_entry *e = m->uid != NULL ? fst_find(&r->state, m->uid)
						      : NULL;

		if (e != NULL && e->flag == FST_DELIVERED) {
			/* Delivered by an earlier run (maybe one cut before
			 * QUIT): never again; remove it when due. */
			bool due = !a->keep ||
				   (a->keep_days > 0 &&
				    time(NULL) - e->time >=
					    (time_t)a->keep_days * 86400);

			if (due) {
				run_dele_or_next(r, true);
				return;
			}
			r->cur++;
			continue;
		}
		if (e != NULL) {
			r->cur++;
			continue;
		}
		if (m->size > max) {
			if (a->oversize == CONFIG_FETCH_OVERSIZE_DELETE)
				run_oversize_notice(r);
			else
				run_skip(r, "over max_size");
			return;
		}
		/* Slack over the LIST size: servers count differently. */
		run_cmd(r, true, (size_t)max + 65536, on_retr, "RETR %lu",
			m->num);
		return;
	}
	run_quit(r);
}
