/* outbound/direct_session.h: the sessions of direct delivery — one SMTP
 * client session to one target (outbound/dtarget.h) carries the items
 * waiting there one after another (reuse); more sessions open as items
 * wait, within outbound_concurrency per target and outbound_max_sessions
 * in all (outbound/direct.h says the whole).
 *
 * The items, their pool jobs and the interface are direct.c's, above
 * this module: it shares with direct.c the item, session and job
 * records below and reaches back to it only through struct dsess_ops.
 * Loop thread only. */
#ifndef KANTORPOS_OUTBOUND_DIRECT_SESSION_H
#define KANTORPOS_OUTBOUND_DIRECT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/base/hmap.h"
#include "common/client/smtpclient.h"
#include "common/dns/dns_types.h"
#include "outbound/dtarget.h"
#include "outbound/items.h"
#include "outbound/mtasts.h"
#include "outbound/mxcache.h"
#include "store/queue.h"

/* Items waiting for a target per session opened to it. */
#define DSESS_ITEMS 5

struct config;
struct direct;
struct dsess;
struct dsess_env;
struct ev_loop;
struct worker;

struct ditem {
	struct direct *d;
	struct dtarget_link link; /* in its target's queue */
	struct hmap_node node;   /* in the id table */
	char id[QUEUE_ID_MAX + 1];
	char domain[DNS_NAME_MAX + 1];
	bool due_only;
	struct mxdom *dom;
	struct mxwait wait;
	bool dom_ready;          /* the MX lookups are done */
	struct mtswait swait;    /* the MTA-STS policy of the domain */
	bool sts_waiting, sts_ready;
	struct mtasts_policy *sts; /* until the plan: a copy, NULL: none */
	enum mtasts_mode sts_mode; /* MTASTS_NONE: no policy applies */
	struct mx_plan plan;
	size_t pos;              /* the target being tried */
	bool all_5xx;            /* every target tried greeted with 5xx */
	size_t n_5xx;
	int last_code;
	char last[SMTPC_TEXT_MAX]; /* the last error, or 5xx reply */
	struct dtarget *at;      /* whose queue holds it */
	struct dsess *sess;      /* whose session carries it */
	bool in_job;             /* a defer or settle job has it */
	bool again;              /* 452 to some, 2xx to others: the rest
				  * goes in a new transaction at once */
	struct queue_item *it;   /* locked while a session sends it */
	const char *last_tls;    /* the TLS mode of the last target tried */
};

struct dsess {
	struct dsess_env *d;
	struct dtarget *t;
	struct dsess *next;
	struct smtpc *s;
	struct ditem *cur;
	bool ready, busy, closed, greeted_logged;
	bool answered;           /* a transaction got real replies */
	bool moved_on;           /* closed early: its items went on */
	int why_code;
	char why[SMTPC_TEXT_MAX];
	void *dsn;                /* the message's RFC 3461 values */
	const char **rcpts;
	size_t *map;
};

enum djob_kind { DJ_SCAN, DJ_TAKE, DJ_RECORD, DJ_DEFER, DJ_SETTLE };

struct dhit {
	char id[QUEUE_ID_MAX + 1];
	char domain[DNS_NAME_MAX + 1];
};

struct djob {
	enum djob_kind kind;
	struct direct *d;
	struct outb_ctx ctx;
	char *domain;            /* SCAN filter */
	bool due_only;
	struct dhit *hits;       /* SCAN result */
	size_t n_hits, cap_hits;
	struct ditem *item;
	struct queue_item *it;
	size_t *map;
	struct smtpc_reply *replies;
	size_t n;
	char remote[DNS_NAME_MAX + 1];
	int code;                /* SETTLE */
	char text[SMTPC_TEXT_MAX]; /* DEFER, SETTLE */
	int rc;
	unsigned kick;
};

/* What the sessions need of the items' owner (direct.c). */
struct dsess_ops {
	/* Maybe nothing is busy any more. */
	void (*idle)(struct dsess_env *e);
	/* The item is done with for now: out of the table and freed. */
	void (*forget)(struct ditem *item);
	/* A pool job of an item, and its start (0, or -1: still the
	 * caller's). */
	struct djob *(*new_job)(struct dsess_env *e, enum djob_kind kind,
				struct ditem *item);
	int (*submit)(struct dsess_env *e, struct djob *j);
	/* This target failed the item (code: the reply that did, 0 for
	 * none): on to its next target. */
	void (*item_failed)(struct ditem *item, int code, const char *why);
};

/* The sessions' part of a direct delivery (the first member of
 * direct.c's struct direct). */
struct dsess_env {
	struct ev_loop *loop;
	struct worker *pool;
	SSL_CTX *verify_ctx, *any_ctx;
	time_t (*clock)(void *arg); /* NULL: time() */
	void *clock_arg;
	const struct config *cfg;
	const struct dsess_ops *ops;
	struct dtargets targets;
	struct dsess *sessions;
	size_t n_sessions;
	bool shut;
	size_t sent, deferred, bounced, sessions_failed;
};

time_t dsess_now(const struct dsess_env *e);

/* An item into (at the front: back into) t's queue, and out of it. */
void dsess_enqueue(struct dtarget *t, struct ditem *item, bool front);
struct ditem *dsess_dequeue(struct dtarget *t);

/* Every item waiting at t goes on to its next target. */
void dsess_target_fail(struct dtarget *t, int code, const char *why);

/* Idle sessions to t take its waiting items; more open within the
 * limits. */
void dsess_pump(struct dtarget *t);

/* The results of a DJ_TAKE and a DJ_RECORD job. */
void dsess_take_done(struct djob *j);
void dsess_record_done(struct djob *j);

#endif
