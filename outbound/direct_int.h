/* outbound/direct_int.h: what the two halves of direct delivery share —
 * direct.c (the items, the pool jobs, the interface of outbound/direct.h)
 * and direct_session.c (the sessions to a target and their reuse). Not
 * for other modules. */
#ifndef KANTORPOS_OUTBOUND_DIRECT_INT_H
#define KANTORPOS_OUTBOUND_DIRECT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/base/hmap.h"
#include "common/client/smtpclient.h"
#include "common/dns/dns_types.h"
#include "outbound/direct.h"
#include "outbound/dtarget.h"
#include "outbound/items.h"
#include "outbound/mtasts.h"
#include "outbound/mxcache.h"
#include "store/queue.h"

struct dsess;

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
	struct direct *d;
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

struct direct {
	struct direct_opts o;
	const struct config *cfg;
	struct mxcache *mx;
	struct mtasts *sts;      /* NULL: mta_sts no, or no resolver */
	struct hmap items;       /* struct ditem by id */
	size_t n_items;
	struct dtargets targets;
	struct dsess *sessions;
	size_t n_sessions;
	size_t jobs;
	bool scanning, rescan, rescan_due_only, shut;
	struct direct_stats stats;
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

/* direct.c */
time_t direct_now(const struct direct *d);
void direct_maybe_idle(struct direct *d);
/* The item is done with for now: out of the table and freed. */
void direct_forget(struct ditem *item);
struct djob *direct_new_job(struct direct *d, enum djob_kind kind,
			    struct ditem *item);
/* 0, or -1 (the job is the caller's still). */
int direct_submit(struct direct *d, struct djob *j);
void direct_enqueue(struct dtarget *t, struct ditem *item, bool front);
struct ditem *direct_dequeue(struct dtarget *t);
/* This target failed the item (code: the reply that did, 0 for none). */
void direct_item_failed(struct ditem *item, int code, const char *why);
/* Every item waiting at t goes on to its next target. */
void direct_target_fail(struct dtarget *t, int code, const char *why);

/* direct_session.c */
/* Idle sessions to t take its waiting items; more open within the
 * limits. */
void dsess_pump(struct dtarget *t);
/* The results of a DJ_TAKE and a DJ_RECORD job. */
void dsess_take_done(struct djob *j);
void dsess_record_done(struct djob *j);

#endif
