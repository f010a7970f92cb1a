/* fetch/runner.c: one run of a fetch account, the session half:
 * preparation on the worker pool, login, LIST and UIDL (pipelined when
 * the server offers it), choosing each message in turn, DELE, the state
 * file and QUIT. Each message itself is fetch/message.c's. */
#include "autoconf.h"

#include "fetch/runner.h"

#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/net.h"
#include "common/pop3client.h"
#include "common/tls.h"
#include "common/userdb.h"
#include "common/worker.h"
#include "fetch/run.h"
#include "fetch/secrets.h"
#include "fetch/state.h"
#include "store/maildir.h"

/* Largest LIST or UIDL reply read. */
#define RUN_LIST_MAX (64 * 1024 * 1024)

static void run_quit(struct fetch_run *r);

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
	free(r->dele_q);
	fmsg_clear(r);
	free(r->state_path);
	free(r->staging);
	free(r);
}

void frun_finish(struct fetch_run *r, enum fetch_status st,
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
		frun_finish(r, r->prep_status, r->err);
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
	r->m.phase = FMSG_HEADER;
	r->state_path = fetch_state_path(env->cfg, acct);
	if (asprintf(&r->staging, "%s/fetch/staging", env->cfg->data_dir) < 0)
		r->staging = NULL;
	if (r->state_path == NULL || r->staging == NULL ||
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
		frun_fail(r, "cannot send %s", line);
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
			frun_fail(r, "the server has no UIDL (%s): keep needs it",
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
	/* Entries whose uid the server no longer lists are gone for good
	 * (an empty listing proves nothing: it may be a server hiccup). */
	if (ok && r->n_msgs > 0) {
		uids = calloc(r->n_msgs + 1, sizeof(*uids));
		if (uids == NULL) {
			frun_fail(r, "out of memory");
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
	frun_next(r);
}

static void on_list(struct pop3c *c, void *arg, bool ok, const char *text,
		    const char *body, size_t len)
{
	struct fetch_run *r = arg;

	(void)c;
	if (!ok) {
		frun_fail(r, "LIST: %s", text);
		return;
	}
	each_line(r, body, len, list_line);
	if (r->uidl_sent)
		return;
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
		frun_fail(r, "cancelled");
		return;
	}
	if (run_cmd(r, true, RUN_LIST_MAX, on_list, "LIST") < 0)
		return;
	/* With PIPELINING, UIDL goes along; its size is not known yet. */
	if (pop3c_room(r->pop) > 0 &&
	    run_cmd(r, true, RUN_LIST_MAX, on_uidl, "UIDL") == 0)
		r->uidl_sent = true;
}

/* ---- saving state and quitting ----------------------------------- */

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
	run_cmd(r, false, 0, on_quit, "QUIT");
}

/* Every message handled: save pruned state if needed, then QUIT. */
static void run_quit(struct fetch_run *r)
{
	if (r->state_dirty) {
		r->state_dirty = false;
		if (worker_submit(r->env->pool, frun_save_job, quit_after_save, r) < 0) {
			frun_fail(r, "worker: %s", strerror(errno));
			return;
		}
		r->busy = true;
		return;
	}
	run_cmd(r, false, 0, on_quit, "QUIT");
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
	r->dele_head = (r->dele_head + 1) % r->n_msgs;
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
		frun_next(r);
	}
}

void frun_dele_or_next(struct fetch_run *r, bool dele)
{
	if (dele) {
		unsigned long num = r->msgs[r->cur].num;

		if (r->dele_q == NULL &&
		    (r->dele_q = calloc(r->n_msgs, sizeof(*r->dele_q))) == NULL) {
			frun_fail(r, "out of memory");
			return;
		}
		if (run_cmd(r, false, 0, on_dele, "DELE %lu", num) < 0)
			return;
		r->dele_q[(r->dele_head + r->dele_len++) % r->n_msgs] = num;
		/* Lock-step: the next command waits for this reply. With
		 * PIPELINING it goes now (the message is durable already;
		 * a -ERR only leaves it on the server). */
		if (pop3c_room(r->pop) == 0) {
			r->cur++;
			r->wait_dele = true;
			return;
		}
	}
	r->cur++;
	frun_next(r);
}

/* Handle the next message, or QUIT when all are done. */
void frun_next(struct fetch_run *r)
{
	const struct config_fetch *a = r->acct;
	uint64_t max = a->max_size ? a->max_size : r->env->cfg->max_message_size;

	if (r->cancelled) {
		frun_fail(r, "cancelled");
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
				frun_dele_or_next(r, true);
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
