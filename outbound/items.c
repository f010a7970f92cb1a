/* outbound/items.c: blocking queue-delivery steps — routing, taking items,
 * recording results, back-off, bounces (DSN), local delivery, expiry.
 * DSNs and local deliveries go through the pipeline (pipeline/pipeline.h),
 * inline: these steps run on a worker thread or in a tool. */
#include "autoconf.h"

#include "outbound/items.h"

#include "common/mail/address.h"
#include "common/mail/dsn.h"
#include "common/base/log.h"
#include "common/lookup/recipient.h"
#include "outbound/dsn.h"
#include "pipeline/pipeline.h"
#include "store/maildir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* At most this much of the original header section goes into a DSN. */
#define OUTB_DSN_HEADERS_MAX (64 * 1024)
/* A DSN returns the whole message (RET=FULL, or no RET) up to this size;
 * a bigger one returns its header section, and says so. */
#define OUTB_DSN_FULL_MAX (1024 * 1024)
#define OUTB_COPY_CHUNK 65536

static int bounce(const struct outb_ctx *ctx, struct queue_item *it,
		  const size_t *idx, size_t n, bool expired, unsigned *kick_r);
static int finish(struct queue_item *it);

enum outb_route outb_route_of(const struct config *cfg, const char *domain,
				const struct config_etrn_domain **etrn_r)
{
	const struct config_etrn_domain *e = config_find_etrn(cfg, domain);

	if (etrn_r != NULL)
		*etrn_r = e;
	if (e != NULL)
		return OUTB_ROUTE_ETRN;
	if (config_find_domain(cfg, domain) != NULL)
		return OUTB_ROUTE_LOCAL;
	if (config_relayhost_takes(cfg, domain))
		return OUTB_ROUTE_RELAY;
	/* An address literal has no MX hosts to look up. */
	if (domain[0] == '\0' || domain[0] == '[')
		return OUTB_ROUTE_NONE;
	return OUTB_ROUTE_DIRECT;
}

unsigned outb_lifetime(const struct config *cfg, const char *domain)
{
	const struct config_etrn_domain *e = config_find_etrn(cfg, domain);

	return e != NULL && e->lifetime > 0 ? e->lifetime : cfg->queue_lifetime;
}

unsigned outb_backoff(const struct config *cfg, unsigned attempts)
{
	unsigned long long d = cfg->queue_retry_min;

	for (unsigned i = 1; i < attempts && d < cfg->queue_retry_max; i++)
		d *= 2;
	return d > cfg->queue_retry_max ? cfg->queue_retry_max : (unsigned)d;
}

static bool expired(const struct outb_ctx *ctx, const struct queue_env *env)
{
	return ctx->now - env->arrival >=
	       (time_t)outb_lifetime(ctx->cfg, env->domain);
}

/* Remove the item when nothing is pending, else write its envelope; then
 * release it. 0 or -1. */
static int finish(struct queue_item *it)
{
	struct queue_env *env = queue_item_env(it);
	int rc;

	if (queue_env_pending(env) == 0) {
		char id[QUEUE_ID_MAX + 1];

		snprintf(id, sizeof(id), "%s", env->id);
		if (queue_item_remove(it) == 0) {
			log_info("queue id=%s removed: every recipient done", id);
			return 0;
		}
		log_warn("queue id=%s: cannot remove", id);
		queue_item_release(it);
		return -1;
	}
	rc = queue_item_update(it);
	if (rc < 0)
		log_warn("queue id=%s: cannot update the envelope", env->id);
	queue_item_release(it);
	return rc;
}

static void note_kick(const struct config *cfg, const char *domain,
		      unsigned *kick_r)
{
	switch (outb_route_of(cfg, domain, NULL)) {
	case OUTB_ROUTE_LOCAL:
		*kick_r |= OUTB_KICK_LOCAL;
		break;
	case OUTB_ROUTE_RELAY:
		*kick_r |= OUTB_KICK_RELAY;
		break;
	case OUTB_ROUTE_DIRECT:
		*kick_r |= OUTB_KICK_DIRECT;
		break;
	case OUTB_ROUTE_ETRN:
	case OUTB_ROUTE_NONE:
		break;
	}
}

/* Queue text[0..len), the DSN msgid, for rcpt (the original sender)
 * through the pipeline (origin DSN, inline: this is a worker thread);
 * eight_bit: it returns 8-bit content (BODY=8BITMIME). Returns the item
 * id's text ("queue:ID") or NULL. */
static const char *dsn_commit(const struct outb_ctx *ctx, const char *rcpt,
			      const char *msgid, const char *text, size_t len,
			      bool eight_bit, struct pipe_tx **tx_r)
{
	struct pipe_env env = { .cfg = ctx->cfg, .db = ctx->db, .queue = ctx->q,
				.now = ctx->now };
	struct pipe_facts facts = { PIPE_DSN, NULL, "queue" };
	struct addr_path null_path = { .flags = ADDR_PATH_NULL };
	struct pipe_mail mail = {
		.body = eight_bit ? PIPE_BODY_8BITMIME : PIPE_BODY_7BIT,
	};
	struct pipe_tx *tx = pipe_tx_new(&env, &facts, NULL, NULL);

	*tx_r = tx;
	if (tx == NULL)
		return NULL;
	pipe_tx_mail(tx, &null_path, &mail);
	pipe_tx_rcpt_routed(tx, rcpt, PIPE_ROUTE_QUEUE, NULL, 0);
	if (pipe_tx_reply(tx)->code >= 300)
		return NULL;
	pipe_tx_begin(tx, msgid);
	if (pipe_tx_reply(tx)->code >= 300)
		return NULL;
	pipe_tx_write(tx, text, len);
	pipe_tx_end(tx);
	if (pipe_tx_reply(tx)->code >= 300)
		return NULL;
	return pipe_tx_stored(tx);
}

/* Whether recipient r asked for a report of action (RFC 3461 §4.1: no
 * NOTIFY means failures, and delays at the MTA's discretion: kantorpos
 * sends them; successes only when asked). */
static bool wants_report(const struct queue_rcpt *r, enum dsn_action action)
{
	switch (action) {
	case DSN_ACTION_FAILED:
		return r->notify == 0 || (r->notify & DSN_NOTIFY_FAILURE);
	case DSN_ACTION_DELAYED:
		return r->notify == 0 || (r->notify & DSN_NOTIFY_DELAY);
	case DSN_ACTION_DELIVERED:
	case DSN_ACTION_RELAYED:
		break;
	}
	return (r->notify & DSN_NOTIFY_SUCCESS) != 0;
}

/* What the report returns (RFC 3461 §4.3): in a failed one the whole
 * message for RET=FULL or no RET when it fits OUTB_DSN_FULL_MAX (and is
 * not binary), else, and in the others, its header section. Fills the
 * content fields of *info (the buffer is *buf_r's, the caller frees it).
 * 0 or -1. */
static int read_returned(struct queue_item *it, const struct queue_env *env,
			 struct dsn_info *info, char **buf_r)
{
	bool want_full = info->action == DSN_ACTION_FAILED &&
			 env->ret != DSN_RET_HDRS &&
			 env->body != QUEUE_BODY_BINARYMIME;
	bool full = want_full && queue_item_size(it) <= OUTB_DSN_FULL_MAX;
	size_t max = full ? (size_t)queue_item_size(it) : OUTB_DSN_HEADERS_MAX;
	size_t got = 0;
	char *buf = malloc(max + 1);

	*buf_r = buf;
	if (buf == NULL)
		return -1;
	while (got < max) {
		ssize_t n = pread(queue_item_fd(it), buf + got, max - got,
				  (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	info->content = buf;
	info->content_len = full ? got : dsn_header_len(buf, got);
	info->full = full;
	info->capped = want_full && !full;
	info->cap = OUTB_DSN_FULL_MAX;
	return 0;
}

/* The report's recipients: idx[0..n) of env, as its envelope has them
 * (one still waiting without a reply of its own shows the last error). */
static struct dsn_rcpt *report_rcpts(const struct queue_env *env,
				     const size_t *idx, size_t n)
{
	struct dsn_rcpt *rcpts = calloc(n ? n : 1, sizeof(*rcpts));

	for (size_t i = 0; rcpts != NULL && i < n; i++) {
		const struct queue_rcpt *r = &env->rcpts[idx[i]];
		const char *diag = r->diag;

		if (diag == NULL && r->state == QUEUE_RCPT_PENDING)
			diag = env->last_error;
		rcpts[i] = (struct dsn_rcpt){ r->addr, r->status, diag,
					      env->remote_mta, r->orcpt };
	}
	return rcpts;
}

/* Queue a report of action about rcpts[0..n) of it to its sender (not
 * <>: the callers see to it). 0 or -1. */
static int queue_report(const struct outb_ctx *ctx, struct queue_item *it,
			enum dsn_action action, bool expired_,
			const struct dsn_rcpt *rcpts, size_t n, unsigned *kick_r)
{
	struct queue_env *env = queue_item_env(it);
	char msgid[QUEUE_ID_MAX + 64], domain[ADDR_DOMAIN_MAX + 1];
	char *content = NULL, *text = NULL;
	struct dsn_info info = {
		.reporting_mta = ctx->cfg->hostname, .sender = env->sender,
		.msgid = msgid, .action = action,
		.arrival = (time_t)env->arrival, .now = ctx->now,
		.retry_until = (time_t)env->arrival +
			       (time_t)outb_lifetime(ctx->cfg, env->domain),
		.expired = expired_, .envid = env->envid,
		.rcpts = rcpts, .n_rcpts = n,
	};
	static const char *const names[] = { "failed", "delayed", "delivered",
					     "relayed" };
	const char *stored;
	struct pipe_tx *tx = NULL;
	size_t len = 0;
	int rc = -1;

	if (queue_route_domain(env->sender, domain, sizeof(domain)) < 0) {
		log_warnx("queue id=%s: sender <%s> has no domain; no DSN",
			  env->id, env->sender);
		return 0;
	}
	snprintf(msgid, sizeof(msgid), "%lld.%u.%s%s%s", (long long)ctx->now,
		 env->attempts, action == DSN_ACTION_FAILED ? "" : names[action],
		 action == DSN_ACTION_FAILED ? "" : ".", env->id);
	if (read_returned(it, env, &info, &content) == 0 &&
	    dsn_build(&info, &text, &len) == 0 &&
	    (stored = dsn_commit(ctx, env->sender, msgid, text, len,
				 dsn_has_8bit(text, len), &tx)) != NULL) {
		log_info("queue id=%s dsn=%s to=<%s> action=%s recipients=%zu%s",
			 env->id,
			 strncmp(stored, "queue:", 6) == 0 ? stored + 6 : stored,
			 env->sender, names[action], n,
			 expired_ ? " expired" : "");
		note_kick(ctx->cfg, domain, kick_r);
		rc = 0;
	} else {
		log_warn("queue id=%s: cannot queue a DSN", env->id);
	}
	pipe_tx_free(tx);
	free(text);
	free(content);
	return rc;
}

/* Report action for recipients idx[0..n) of it to its sender, those of
 * them that asked for it (NOTIFY); the others, and every one when the
 * sender is <>, are only logged. 0 or -1 (nothing queued). */
static int report(const struct outb_ctx *ctx, struct queue_item *it,
		  enum dsn_action action, bool expired_, const size_t *idx,
		  size_t n, unsigned *kick_r)
{
	struct queue_env *env = queue_item_env(it);
	size_t *want = calloc(n ? n : 1, sizeof(*want)), nw = 0;
	struct dsn_rcpt *rcpts = NULL;
	int rc = -1;

	if (want == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (env->sender[0] != '\0' &&
		    wants_report(&env->rcpts[idx[i]], action))
			want[nw++] = idx[i];
		else if (env->sender[0] != '\0')
			log_info("queue id=%s to=<%s>: NOTIFY asks no %s DSN",
				 env->id, env->rcpts[idx[i]].addr,
				 action == DSN_ACTION_FAILED ? "failure"
				 : action == DSN_ACTION_DELAYED ? "delay"
								: "success");
	}
	if (env->sender[0] == '\0' && action == DSN_ACTION_FAILED)
		log_info("queue id=%s: failed for %zu recipients; the sender is <>, no DSN",
			 env->id, n);
	if (nw == 0)
		rc = 0;
	else if ((rcpts = report_rcpts(env, want, nw)) != NULL)
		rc = queue_report(ctx, it, action, expired_, rcpts, nw, kick_r);
	free(rcpts);
	free(want);
	return rc;
}

/* Mark recipients idx[0..n) failed (their status/diag already set, or set
 * here for expiry) and notify the sender as they asked (never <>). 0 or
 * -1; on -1 nothing is marked, so the item is tried again. */
static int bounce(const struct outb_ctx *ctx, struct queue_item *it,
		  const size_t *idx, size_t n, bool expired_, unsigned *kick_r)
{
	struct queue_env *env = queue_item_env(it);

	if (expired_) {
		for (size_t i = 0; i < n; i++) {
			struct queue_rcpt *r = &env->rcpts[idx[i]];

			if (queue_env_set(&r->status, "4.4.7") < 0 ||
			    (r->diag == NULL &&
			     queue_env_set(&r->diag, env->last_error != NULL
				     ? env->last_error
				     : "lifetime of the message exceeded") < 0))
				return -1;
		}
	}
	if (report(ctx, it, DSN_ACTION_FAILED, expired_, idx, n, kick_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		env->rcpts[idx[i]].state = QUEUE_RCPT_FAILED;
		log_info("queue id=%s to=<%s> status=bounced dsn=%s reply=%s",
			 env->id, env->rcpts[idx[i]].addr,
			 env->rcpts[idx[i]].status != NULL
				 ? env->rcpts[idx[i]].status : "-",
			 env->rcpts[idx[i]].diag != NULL
				 ? env->rcpts[idx[i]].diag : "-");
	}
	return 0;
}

/* RFC 3461 §6.2 "delayed": once queue_delay_warning has passed since the
 * arrival, one report for the pending recipients that ask for delays (or
 * gave no NOTIFY) and got none yet; the envelope records it (delay_sent),
 * so it is never sent twice. One that cannot be queued is tried at the
 * next attempt. Call before the item is written back. */
static void warn_delayed(const struct outb_ctx *ctx, struct queue_item *it,
			 unsigned *kick_r)
{
	struct queue_env *env = queue_item_env(it);
	unsigned after = ctx->cfg->queue_delay_warning;
	size_t *idx, n = 0;

	if (after == 0 || env->sender[0] == '\0' ||
	    ctx->now - (time_t)env->arrival < (time_t)after ||
	    (idx = calloc(env->n_rcpts, sizeof(*idx))) == NULL)
		return;
	for (size_t i = 0; i < env->n_rcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];

		if (r->state == QUEUE_RCPT_PENDING && !r->delay_sent &&
		    wants_report(r, DSN_ACTION_DELAYED))
			idx[n++] = i;
	}
	if (n > 0 && report(ctx, it, DSN_ACTION_DELAYED, false, idx, n,
			    kick_r) == 0)
		for (size_t i = 0; i < n; i++)
			env->rcpts[idx[i]].delay_sent = true;
	free(idx);
}

/* RFC 3461 §6.2 "relayed": the next hop accepted recipients that asked
 * NOTIFY=SUCCESS but it offers no DSN, so no report will come from
 * beyond it; when it offers DSN, the request went on with the message
 * and nothing is owed. replies[i] belongs to map[i]. */
static void report_relayed(const struct outb_ctx *ctx, struct queue_item *it,
			   const size_t *map, const struct smtpc_reply *replies,
			   size_t n, unsigned *kick_r)
{
	struct queue_env *env = queue_item_env(it);
	struct dsn_rcpt *rcpts;
	size_t k = 0;

	if (ctx->next_hop_dsn || env->sender[0] == '\0' ||
	    (rcpts = calloc(n ? n : 1, sizeof(*rcpts))) == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct queue_rcpt *r = &env->rcpts[map[i]];

		if (replies[i].code / 100 == 2 &&
		    wants_report(r, DSN_ACTION_RELAYED))
			rcpts[k++] = (struct dsn_rcpt){ r->addr, NULL,
							replies[i].text,
							env->remote_mta,
							r->orcpt };
	}
	if (k > 0)
		queue_report(ctx, it, DSN_ACTION_RELAYED, false, rcpts, k, kick_r);
	free(rcpts);
}

/* After an SMTP attempt's replies are applied: the relayed reports it
 * owes, and the delay report when recipients are still pending. */
static void report_attempt(const struct outb_ctx *ctx, struct queue_item *it,
			   const size_t *map, const struct smtpc_reply *replies,
			   size_t n, unsigned *kick_r)
{
	report_relayed(ctx, it, map, replies, n, kick_r);
	if (queue_env_pending(queue_item_env(it)) > 0)
		warn_delayed(ctx, it, kick_r);
}

/* Bounce every pending recipient of an item (expired, or given up by the
 * administrator) and finish it. */
static int give_up(const struct outb_ctx *ctx, struct queue_item *it,
		   bool expired_, unsigned *kick_r)
{
	struct queue_env *env = queue_item_env(it);
	size_t *idx = calloc(env->n_rcpts, sizeof(*idx)), n = 0;
	int rc;

	if (idx == NULL) {
		queue_item_release(it);
		return -1;
	}
	for (size_t i = 0; i < env->n_rcpts; i++)
		if (env->rcpts[i].state == QUEUE_RCPT_PENDING)
			idx[n++] = i;
	rc = bounce(ctx, it, idx, n, expired_, kick_r);
	free(idx);
	if (rc < 0) {
		queue_item_release(it);
		return -1;
	}
	return finish(it);
}

int outb_item_take(const struct outb_ctx *ctx, const char *id,
		    bool due_only, struct queue_item **it_r, unsigned *kick_r)
{
	struct queue_item *it;
	struct queue_env *env;
	int rc = queue_lock(ctx->q, id, &it);

	if (rc <= 0)
		return rc;
	env = queue_item_env(it);
	if (queue_env_pending(env) == 0) {
		finish(it); /* a removal cut short */
		return 0;
	}
	if (expired(ctx, env)) {
		give_up(ctx, it, true, kick_r);
		return 0;
	}
	if (due_only && env->next_attempt > ctx->now) {
		queue_item_release(it);
		return 0;
	}
	*it_r = it;
	return 1;
}

int outb_item_dsn_args(const struct queue_env *env, const size_t *map,
		       size_t n, struct smtpc_msg *msg, void **block_r)
{
	enum { NOTIFY_TEXT = 32 };
	const char **p = calloc(n ? n : 1, 2 * sizeof(*p) + NOTIFY_TEXT);
	char *text;

	*block_r = p;
	if (p == NULL)
		return -1;
	text = (char *)(p + 2 * n);
	for (size_t k = 0; k < n; k++) {
		const struct queue_rcpt *r = &env->rcpts[map[k]];

		p[k] = dsn_notify_format(r->notify, text + k * NOTIFY_TEXT,
					 NOTIFY_TEXT);
		p[n + k] = r->orcpt;
	}
	msg->notify = p;
	msg->orcpt = p + n;
	msg->ret = env->ret == DSN_RET_FULL ? "FULL"
		   : env->ret == DSN_RET_HDRS ? "HDRS" : NULL;
	msg->envid = env->envid;
	return 0;
}

long outb_item_msg(struct queue_item *it, struct smtpc_msg *msg_r,
		   const char ***rcpts_r, size_t **map_r)
{
	struct queue_env *env = queue_item_env(it);
	const char **rcpts = calloc(env->n_rcpts + 1, sizeof(*rcpts));
	size_t *map = calloc(env->n_rcpts + 1, sizeof(*map)), n = 0;

	if (rcpts == NULL || map == NULL) {
		free(rcpts);
		free(map);
		return -1;
	}
	for (size_t i = 0; i < env->n_rcpts; i++) {
		if (env->rcpts[i].state != QUEUE_RCPT_PENDING)
			continue;
		rcpts[n] = env->rcpts[i].addr;
		map[n++] = i;
	}
	*msg_r = (struct smtpc_msg){
		.sender = env->sender, .rcpts = rcpts,
		.n_rcpts = n, .fd = queue_item_fd(it),
		.size = queue_item_size(it),
		.eight_bit = env->body == QUEUE_BODY_8BITMIME,
		.binary = env->body == QUEUE_BODY_BINARYMIME,
		.smtputf8 = env->smtputf8,
	};
	*rcpts_r = rcpts;
	*map_r = map;
	return (long)n;
}

/* Count a failed attempt: back-off and the error text. */
static void defer_env(const struct outb_ctx *ctx, struct queue_env *env,
		      const char *error)
{
	env->attempts++;
	env->next_attempt = ctx->now + outb_backoff(ctx->cfg, env->attempts);
	if (error != NULL)
		queue_env_set(&env->last_error, error);
}

int outb_item_record(const struct outb_ctx *ctx, struct queue_item *it,
		      const size_t *map, const struct smtpc_reply *replies,
		      size_t n, const char *remote, unsigned *kick_r)
{
	struct queue_env *env = queue_item_env(it);
	size_t *failed = calloc(n ? n : 1, sizeof(*failed)), nf = 0;
	const char *temp = NULL;
	char st[16];

	if (failed == NULL) {
		queue_item_release(it);
		return -1;
	}
	if (remote != NULL)
		queue_env_set(&env->remote_mta, remote);
	if (ctx->tls_mode != NULL)
		queue_env_set(&env->last_tls, ctx->tls_mode);
	for (size_t i = 0; i < n; i++) {
		struct queue_rcpt *r = &env->rcpts[map[i]];
		int cls = replies[i].code / 100;

		if (cls == 2) {
			r->state = QUEUE_RCPT_DONE;
			log_info("queue id=%s to=<%s> relay=%s status=sent reply=%s",
				 env->id, r->addr, remote != NULL ? remote : "-",
				 replies[i].text);
		} else if (cls == 5) {
			queue_env_set(&r->diag, replies[i].text);
			queue_env_set(&r->status,
				      dsn_status_of(replies[i].text, st, sizeof(st)));
			failed[nf++] = map[i];
		} else {
			queue_env_set(&r->diag, replies[i].text);
			if (temp == NULL)
				temp = replies[i].text;
			log_info("queue id=%s to=<%s> relay=%s status=deferred reply=%s",
				 env->id, r->addr, remote != NULL ? remote : "-",
				 replies[i].text);
		}
	}
	if (nf > 0 && bounce(ctx, it, failed, nf, false, kick_r) < 0) {
		/* No DSN could be queued: keep them pending, retry later. */
		for (size_t i = 0; i < nf; i++)
			env->rcpts[failed[i]].state = QUEUE_RCPT_PENDING;
		if (temp == NULL)
			temp = "cannot queue a delivery status notification";
	}
	free(failed);
	if (temp != NULL)
		defer_env(ctx, env, temp);
	report_attempt(ctx, it, map, replies, n, kick_r);
	return finish(it);
}

int outb_item_defer(const struct outb_ctx *ctx, const char *id,
		     const char *error, unsigned *kick_r)
{
	struct queue_item *it;
	int rc = outb_item_take(ctx, id, false, &it, kick_r);

	if (rc <= 0)
		return rc;
	defer_env(ctx, queue_item_env(it), error);
	if (ctx->tls_mode != NULL)
		queue_env_set(&queue_item_env(it)->last_tls, ctx->tls_mode);
	log_info("queue id=%s status=deferred reason=%s", id, error);
	warn_delayed(ctx, it, kick_r);
	return finish(it);
}

int outb_item_reply_all(const struct outb_ctx *ctx, const char *id,
			int code, const char *text, unsigned *kick_r)
{
	struct queue_item *it;
	struct queue_env *env;
	struct smtpc_reply *replies;
	size_t *map, n = 0;
	int rc = outb_item_take(ctx, id, false, &it, kick_r);

	if (rc <= 0)
		return rc;
	env = queue_item_env(it);
	replies = calloc(env->n_rcpts, sizeof(*replies));
	map = calloc(env->n_rcpts, sizeof(*map));
	if (replies == NULL || map == NULL) {
		free(replies);
		free(map);
		queue_item_release(it);
		return -1;
	}
	for (size_t i = 0; i < env->n_rcpts; i++) {
		if (env->rcpts[i].state != QUEUE_RCPT_PENDING)
			continue;
		replies[n].code = code;
		snprintf(replies[n].text, sizeof(replies[n].text), "%s", text);
		map[n++] = i;
	}
	/* No remote MTA said this: a DSN must not name one. */
	queue_env_set(&env->remote_mta, NULL);
	rc = outb_item_record(ctx, it, map, replies, n, NULL, kick_r);
	free(replies);
	free(map);
	return rc;
}

/* Deliver the queued message to the local users t[0..nt) (what addr
 * stands for) through the pipeline (origin QUEUE, inline: this is a
 * worker thread); the Maildir sink adds the Return-Path of the envelope's
 * sender. MD_OK or the error. */
static int copy_local(const struct outb_ctx *ctx, struct queue_item *it,
		      const char *addr, const struct rcpt_target *t, size_t nt)
{
	struct queue_env *env = queue_item_env(it);
	struct pipe_env penv = { .cfg = ctx->cfg, .db = ctx->db };
	struct pipe_facts facts = { PIPE_QUEUE, NULL, "queue" };
	struct pipe_mail mail = { .sender = env->sender };
	struct pipe_tx *tx = pipe_tx_new(&penv, &facts, NULL, NULL);
	char *buf = malloc(OUTB_COPY_CHUNK);
	uint64_t off = 0;
	int r = MD_ERR_IO;

	if (tx == NULL || buf == NULL)
		goto out;
	pipe_tx_mail(tx, NULL, &mail);
	pipe_tx_rcpt_routed(tx, addr, PIPE_ROUTE_LOCAL, t, nt);
	if (pipe_tx_reply(tx)->code < 300)
		pipe_tx_begin(tx, env->id);
	r = pipe_tx_store_result(tx, NULL);
	if (r != MD_OK || pipe_tx_reply(tx)->code >= 300)
		goto out;
	for (;;) {
		ssize_t n = pread(queue_item_fd(it), buf, OUTB_COPY_CHUNK,
				  (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				pipe_tx_fail(tx, MD_ERR_IO);
			break;
		}
		off += (uint64_t)n;
		pipe_tx_write(tx, buf, (size_t)n);
	}
	pipe_tx_end(tx);
	r = pipe_tx_store_result(tx, NULL);
	if (r == MD_OK && pipe_tx_reply(tx)->code >= 300)
		r = MD_ERR_IO;
out:
	free(buf);
	pipe_tx_free(tx);
	return r;
}

/* What became of one pending recipient of the local route. */
enum local_outcome { LOCAL_DONE, LOCAL_FAILED, LOCAL_LATER };

/* Deliver the item to recipient r: through the aliases to every local
 * user it stands for, as at RCPT (common/lookup/recipient.h). A failure
 * sets r's status and diagnostic; LOCAL_LATER sets *why_r. */
static enum local_outcome local_rcpt(const struct outb_ctx *ctx,
				     struct queue_item *it,
				     struct queue_rcpt *r, const char **why_r)
{
	struct addr_mailbox mb;
	struct rcpt_target *t = NULL;
	size_t n = 0;
	enum rcpt_status st = RCPT_UNKNOWN;
	const char *why = NULL;
	int mr;

	if (addr_parse_mailbox(r->addr, strlen(r->addr), ADDR_OPT_UTF8, &mb,
			       NULL) == 0)
		st = rcpt_expand(ctx->cfg, ctx->db, ctx->al, &mb, &t, &n, &why);
	if (st == RCPT_ERROR) { /* smtpd's 451 at RCPT */
		*why_r = why != NULL ? why : "recipient lookup failed";
		return LOCAL_LATER;
	}
	if (st != RCPT_LOCAL) {
		queue_env_set(&r->status, "5.1.1");
		queue_env_set(&r->diag, "no such local user");
		return LOCAL_FAILED;
	}
	mr = copy_local(ctx, it, r->addr, t, n);
	free(t);
	if (mr == MD_OK)
		return LOCAL_DONE;
	if (mr == MD_ERR_QUOTA && ctx->cfg->quota_permanent) {
		queue_env_set(&r->status, "5.2.2");
		queue_env_set(&r->diag, "mailbox quota exceeded");
		return LOCAL_FAILED;
	}
	*why_r = md_result_str(mr);
	return LOCAL_LATER;
}

int outb_item_local(const struct outb_ctx *ctx, const char *id,
		     bool due_only, unsigned *kick_r)
{
	struct queue_item *it;
	struct queue_env *env;
	size_t *failed, nf = 0, *done, nd = 0;
	const char *temp = NULL;
	int rc = outb_item_take(ctx, id, due_only, &it, kick_r);

	if (rc <= 0)
		return rc;
	env = queue_item_env(it);
	/* One allocation for both lists: failed, then delivered now. */
	if ((failed = calloc(2 * env->n_rcpts, sizeof(*failed))) == NULL) {
		queue_item_release(it);
		return -1;
	}
	done = failed + env->n_rcpts;
	for (size_t i = 0; i < env->n_rcpts; i++) {
		struct queue_rcpt *r = &env->rcpts[i];

		if (r->state != QUEUE_RCPT_PENDING)
			continue;
		if (ctx->db == NULL) {
			temp = "no user database";
			continue;
		}
		switch (local_rcpt(ctx, it, r, &temp)) {
		case LOCAL_DONE:
			r->state = QUEUE_RCPT_DONE;
			done[nd++] = i;
			log_info("queue id=%s to=<%s> relay=local status=sent",
				 env->id, r->addr);
			break;
		case LOCAL_FAILED:
			failed[nf++] = i;
			break;
		case LOCAL_LATER:
			break;
		}
	}
	if (nf > 0 && bounce(ctx, it, failed, nf, false, kick_r) < 0) {
		for (size_t i = 0; i < nf; i++)
			env->rcpts[failed[i]].state = QUEUE_RCPT_PENDING;
		temp = "cannot queue a delivery status notification";
	}
	/* RFC 3461 §6.2: NOTIFY=SUCCESS reported once stored (a report
	 * that cannot be queued is logged: the delivery stands). */
	if (nd > 0)
		report(ctx, it, DSN_ACTION_DELIVERED, false, done, nd, kick_r);
	free(failed);
	if (temp != NULL) {
		defer_env(ctx, env, temp);
		log_info("queue id=%s relay=local status=deferred reason=%s",
			 env->id, temp);
		warn_delayed(ctx, it, kick_r);
	}
	finish(it);
	return 1;
}

struct sweep {
	const struct outb_ctx *ctx;
	char **ids;
	size_t n, cap;
};

static int collect_expired(const struct queue_env *env, void *arg)
{
	struct sweep *s = arg;

	if (!expired(s->ctx, env))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		char **grown = realloc(s->ids, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		s->ids = grown;
		s->cap = cap;
	}
	if ((s->ids[s->n] = strdup(env->id)) == NULL)
		return -1;
	s->n++;
	return 0;
}

int outb_sweep_expired(const struct outb_ctx *ctx, size_t *count_r,
			unsigned *kick_r)
{
	struct sweep s = { .ctx = ctx };
	size_t count = 0;
	int rc = queue_walk(ctx->q, NULL, false, collect_expired, &s);

	for (size_t i = 0; i < s.n; i++) {
		struct queue_item *it;

		/* take bounces expired items and skips everything else */
		if (outb_item_take(ctx, s.ids[i], false, &it, kick_r) == 1)
			queue_item_release(it);
		else
			count++;
		free(s.ids[i]);
	}
	free(s.ids);
	if (count_r != NULL)
		*count_r = count;
	return rc == 0 ? 0 : -1;
}

int outb_item_cancel(const struct outb_ctx *ctx, const char *id,
		     unsigned *kick_r)
{
	struct queue_item *it;
	struct queue_env *env;
	if (queue_lock(ctx->q, id, &it) != 1)
		return 0;
	env = queue_item_env(it);
	for (size_t i = 0; i < env->n_rcpts; i++) {
		struct queue_rcpt *r = &env->rcpts[i];

		if (r->state != QUEUE_RCPT_PENDING)
			continue;
		if (queue_env_set(&r->status, "5.0.0") < 0 ||
		    queue_env_set(&r->diag,
				  "delivery cancelled by the administrator") < 0) {
			queue_item_release(it);
			return -1;
		}
	}
	log_info("queue id=%s: cancelled by the administrator", env->id);
	return give_up(ctx, it, false, kick_r) < 0 ? -1 : 1;
}
