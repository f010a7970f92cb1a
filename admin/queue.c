/* admin/queue.c: `kantorpos queue list|flush|delete|bounce|add` — look at
 * the outbound queue, deliver it now (an in-process queue runner: item
 * locks keep it from colliding with a running kantorpos-smtpd), remove
 * one item without a bounce, give up on one with a bounce, or queue a
 * message (through the pipeline, every recipient routed to the queue). */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "admin/admin.h"
#include "admin/stdin_message.h"
#include "common/mail/address.h"
#include "common/config/config.h"
#include "common/config/config_value.h"
#include "common/config/secret.h"
#include "common/users/userdb.h"
#include "common/net/worker.h"
#include "outbound/items.h"
#include "outbound/relayauth.h"
#include "outbound/runner.h"
#include "pipeline/pipeline.h"
#include "store/maildir.h"
#include "store/queue.h"

static void queue_usage(FILE *out)
{
	fprintf(out,
		"usage: kantorpos [-c CONF] queue list [DOMAIN]\n"
		"       kantorpos [-c CONF] queue flush [DOMAIN | ID...]\n"
		"       kantorpos [-c CONF] queue delete|remove ID...\n"
		"       kantorpos [-c CONF] queue bounce ID...\n"
		"       kantorpos [-c CONF] queue add [-f SENDER] ADDRESS... < MESSAGE\n"
		"list: every queued message (id, age, size, sender, recipients,\n"
		"  attempts, last error), or those for DOMAIN and its subdomains.\n"
		"flush: deliver now, ignoring the retry back-off: every etrn_domain\n"
		"  with a deliver_to host, the relayhost and local notifications,\n"
		"  or only DOMAIN's route; bounces expired mail. With IDs (as queue\n"
		"  list shows them): those messages are due now, and what is due in\n"
		"  their routes is sent. Exit 0 when nothing\n"
		"  failed temporarily, 75 otherwise, 78 when the relayhost's\n"
		"  password file cannot be used.\n"
		"delete (or remove): delete messages without notifying anyone\n"
		"  (75: in use).\n"
		"bounce: give up on messages: every recipient still pending fails\n"
		"  with 5.0.0 and the sender gets one delivery status notification\n"
		"  (75: in use).\n"
		"Run as root, the command works as the run_as user of the\n"
		"configuration, like kantorpos-smtpd.\n"
		"add: queue the message on standard input (bare LF stored as CRLF)\n"
		"  for its recipients' routes (etrn_domain: held; local_domain:\n"
		"  local delivery; others: the relayhost); prints each item's id\n"
		"  and domain. -f sets the envelope sender (default <>: no\n"
		"  bounce).\n");
}

static const char *rcpt_state(enum queue_rcpt_state s)
{
	switch (s) {
	case QUEUE_RCPT_PENDING: return "pending";
	case QUEUE_RCPT_DONE: return "delivered";
	case QUEUE_RCPT_FAILED: return "bounced";
	}
	return "?";
}

/* When the runner tries the item again: "now", or "in 25m". */
static const char *next_try(time_t now, const struct queue_env *env,
			    char *buf, size_t size)
{
	char in[32];

	if (env->next_attempt <= now)
		return "now";
	config_format_duration(in, sizeof(in),
			       (unsigned long long)(env->next_attempt - now));
	snprintf(buf, size, "in %s", in);
	return buf;
}

struct list_ctx {
	struct queue *q;
	time_t now;
	size_t count;
};

static int list_one(const struct queue_env *env, void *arg)
{
	struct list_ctx *lc = arg;
	uint64_t size = 0;
	char age[32], next[40];

	queue_msg_size(lc->q, env->id, &size);
	config_format_duration(age, sizeof(age),
			       lc->now > env->arrival
				       ? (unsigned long long)(lc->now - env->arrival)
				       : 0);
	printf("%s  %s  %" PRIu64 "  <%s>  domain=%s attempts=%u next=%s%s%s\n",
	       env->id, age, size, env->sender, env->domain, env->attempts,
	       next_try(lc->now, env, next, sizeof(next)),
	       env->last_tls != NULL ? " tls=" : "",
	       env->last_tls != NULL ? env->last_tls : "");
	for (size_t i = 0; i < env->n_rcpts; i++)
		printf("    %s (%s)%s%s\n", env->rcpts[i].addr,
		       rcpt_state(env->rcpts[i].state),
		       env->rcpts[i].diag != NULL ? ": " : "",
		       env->rcpts[i].diag != NULL ? env->rcpts[i].diag : "");
	if (env->last_error != NULL)
		printf("    last error: %s\n", env->last_error);
	lc->count++;
	return 0;
}

static int cmd_list(struct queue *q, const char *domain)
{
	struct list_ctx lc = { .q = q, .now = time(NULL) };

	if (queue_walk(q, domain, true, list_one, &lc) < 0) {
		fprintf(stderr, "kantorpos: cannot read the queue: %s\n",
			strerror(errno));
		return ADM_IOERR;
	}
	printf("%zu message%s queued\n", lc.count, lc.count == 1 ? "" : "s");
	return ADM_OK;
}

/* One step on an item: 1 done, 0 locked by someone else or gone, -1 an
 * error (errno; the item stays as it was). */
typedef int item_step_fn(void *arg, const char *id);

/* Run step on each id and report each outcome; "done" is the past tense
 * printed for a done one, "verb" names the step in errors. */
static int each_item(struct queue *q, int n, char **ids, item_step_fn *step,
		     void *arg, const char *verb, const char *done)
{
	int rc = ADM_OK;

	for (int i = 0; i < n; i++) {
		int r = step(arg, ids[i]);

		if (r == 1) {
			printf("%s %s\n", done, ids[i]);
		} else if (r < 0) {
			fprintf(stderr, "kantorpos: %s: cannot %s: %s\n", ids[i],
				verb, strerror(errno));
			rc = ADM_IOERR;
		} else if (queue_msg_size(q, ids[i], &(uint64_t){ 0 }) == 0) {
			fprintf(stderr, "kantorpos: %s: in use (being delivered), try again\n",
				ids[i]);
			rc = ADM_TEMPFAIL;
		} else {
			fprintf(stderr, "kantorpos: %s: no such queued message\n",
				ids[i]);
			rc = rc == ADM_OK ? ADM_DATAERR : rc;
		}
	}
	return rc;
}

static int remove_step(void *q, const char *id)
{
	struct queue_item *it;
	int r = queue_lock(q, id, &it);
	int saved;

	if (r != 1)
		return 0; /* locked, gone, or not an id */
	if (queue_item_remove(it) == 0)
		return 1;
	saved = errno;
	queue_item_release(it);
	errno = saved;
	return -1;
}

static int bounce_step(void *ctx, const char *id)
{
	unsigned kick = 0; /* the DSN waits for the daemon's next run */

	return outb_item_cancel(ctx, id, &kick);
}

static int cmd_remove(struct queue *q, int n, char **ids)
{
	return each_item(q, n, ids, remove_step, q, "remove", "removed");
}

static int cmd_bounce(const struct config *cfg, struct queue *q, int n,
		      char **ids)
{
	struct outb_ctx ctx = { .cfg = cfg, .q = q, .now = time(NULL) };

	return each_item(q, n, ids, bounce_step, &ctx, "bounce", "bounced");
}

/* pipe_env.queued: one line per queue item the commit wrote. */
static void print_item(void *arg, const char *id, const char *domain)
{
	(void)arg;
	printf("%s %s\n", id, domain);
}

/* Every address to the queue for the outbound runner, a local one too
 * (the queue sink groups them by route domain). Prints why and returns
 * an exit status when one cannot be used: nothing is written then. */
static int route_queued(struct pipe_tx *tx, int n, char **addrs)
{
	for (int i = 0; i < n; i++) {
		struct addr_mailbox mb;
		struct addr_error err;
		char key[ADDR_KEY_SIZE];
		const char *why;

		if (addr_parse_mailbox(addrs[i], strlen(addrs[i]), ADDR_OPT_UTF8,
				       &mb, &err) < 0 ||
		    addr_key(&mb, key, sizeof(key), &why) < 0) {
			fprintf(stderr, "kantorpos: %s: not a usable address\n",
				addrs[i]);
			return ADM_DATAERR;
		}
		pipe_tx_rcpt_routed(tx, addrs[i], PIPE_ROUTE_QUEUE, NULL, 0);
		if (pipe_tx_reply(tx)->code >= 300) {
			fprintf(stderr, "kantorpos: %s: %s\n", addrs[i],
				pipe_tx_reply(tx)->text);
			return ADM_TEMPFAIL;
		}
	}
	return ADM_OK;
}

/* The message through the pipeline, inline (origin DELIVER: no stage
 * adds or checks anything), into the queue. The envelope keeps sender
 * as it was given (checked by admin_sender_path). */
static int queue_add(const struct config *cfg, struct queue *q,
		     const char *sender, int n, char **addrs)
{
	struct pipe_env env = { .cfg = cfg, .queue = q, .queued = print_item };
	struct pipe_facts facts = { PIPE_DELIVER, NULL, "queue" };
	struct pipe_mail mail = { .sender = sender };
	struct pipe_tx *tx = pipe_tx_new(&env, &facts, NULL, NULL);
	int rc;

	if (tx == NULL) {
		fprintf(stderr, "kantorpos: out of memory\n");
		return ADM_TEMPFAIL;
	}
	pipe_tx_mail(tx, NULL, &mail);
	rc = route_queued(tx, n, addrs);
	if (rc == ADM_OK) {
		admin_pipe_stdin(tx, "queue");
		if (pipe_tx_reply(tx)->code >= 300) {
			int err = pipe_tx_store_errno(tx);

			fprintf(stderr, "kantorpos: cannot queue: %s\n",
				err != 0 ? strerror(err)
					 : md_result_str(pipe_tx_store_result(tx, NULL)));
			rc = ADM_TEMPFAIL;
		}
	}
	pipe_tx_free(tx);
	return rc;
}

static int cmd_add(const struct config *cfg, struct queue *q, int argc,
		   char **argv)
{
	const char *sender = "";
	struct addr_path from;
	int opt, rc;

	optind = 1;
	while ((opt = getopt(argc, argv, "+f:")) != -1) {
		if (opt != 'f') {
			queue_usage(stderr);
			return ADM_USAGE;
		}
		sender = optarg;
	}
	if (optind >= argc) {
		queue_usage(stderr);
		return ADM_USAGE;
	}
	if ((rc = admin_sender_path(sender, &from)) != ADM_OK)
		return rc;
	return queue_add(cfg, q, sender, argc - optind, argv + optind);
}

static void stop_loop(void *arg)
{
	ev_break(arg, EVBREAK_ALL);
}

/* The ids given to `queue flush`, made due now; their route domains. */
struct due_ctx {
	struct queue *q;
	time_t now;
	char **domains;
	size_t n;
};

static int due_step(void *arg, const char *id)
{
	struct due_ctx *dc = arg;
	struct queue_item *it;
	struct queue_env *env;
	int saved;

	if (queue_lock(dc->q, id, &it) != 1)
		return 0; /* locked, gone, or not an id */
	env = queue_item_env(it);
	env->next_attempt = dc->now;
	if (queue_item_update(it) < 0)
		goto fail;
	if ((dc->domains[dc->n] = strdup(env->domain)) == NULL)
		goto fail;
	dc->n++;
	queue_item_release(it);
	return 1;
fail:
	saved = errno;
	queue_item_release(it);
	errno = saved;
	return -1;
}

/* An argument of `queue flush` names a queued message, not a domain
 * (an id is a Maildir-style name no domain has). */
static bool is_queued_id(struct queue *q, const char *arg)
{
	return queue_msg_size(q, arg, &(uint64_t){ 0 }) == 0;
}

/* Start the flushes: every route, DOMAIN's, or (dc->n > 0) what is due
 * in the routes of the messages made due. ADM_OK when started. */
static int start_flush(struct runner *r, const char *domain,
		       const struct due_ctx *dc)
{
	int rc = ADM_OK;

	for (size_t i = 0; i < (dc->n > 0 ? dc->n : 1); i++) {
		const char *dom = dc->n > 0 ? dc->domains[i] : domain;

		if (runner_flush_all(r, dom, dc->n > 0) >= 0)
			continue;
		fprintf(stderr, "kantorpos: %s: %s\n", dom,
			errno == EINVAL ? "its mail goes to the client that asks with ETRN; nothing to flush to"
					: "no route for this domain (an address literal has no MX hosts)");
		rc = ADM_DATAERR;
	}
	return rc;
}

static int run_flush(const struct config *cfg, struct queue *q,
		     const char *domain, const struct due_ctx *dc)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct worker *pool = loop != NULL ? worker_new(loop, 2, 0) : NULL;
	struct userdb *db = NULL;
	struct runner_stats st;
	struct runner *r;
	char err[PATH_MAX + 512], *relay_pw = NULL;
	int rc = ADM_OK;

	if (pool == NULL) {
		fprintf(stderr, "kantorpos: cannot start: %s\n", strerror(errno));
		if (loop != NULL)
			ev_loop_destroy(loop);
		return ADM_OSERR;
	}
	signal(SIGPIPE, SIG_IGN);
	/* The password file's rule is the daemon's: it would not start. */
	if ((domain == NULL ||
	     outb_route_of(cfg, domain, NULL) == OUTB_ROUTE_RELAY) &&
	    relay_password_read(cfg, &relay_pw, err, sizeof(err)) < 0) {
		fprintf(stderr, "kantorpos: %s\n", err);
		rc = ADM_CONFIG;
		goto out;
	}
	if (userdb_open(cfg->user_db, &db) < 0)
		db = NULL; /* local notifications then stay queued */
	struct runner_opts o = { .cfg = cfg, .queue = q, .userdb = db,
				 .relay_password = relay_pw };

	r = runner_new(loop, pool, &o, err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "kantorpos: %s\n", err);
		rc = ADM_SOFTWARE;
		goto out;
	}
	runner_on_idle(r, stop_loop, loop);
	rc = start_flush(r, domain, dc);
	if (runner_busy(r) > 0)
		ev_run(loop, 0);
	runner_get_stats(r, &st);
	printf("sent %zu, deferred %zu, bounced %zu, failed sessions %zu\n",
	       st.sent, st.deferred, st.bounced, st.sessions_failed);
	if (rc == ADM_OK && (st.deferred > 0 || st.sessions_failed > 0))
		rc = ADM_TEMPFAIL;
	runner_free(r);
out:
	worker_free(pool);
	userdb_free(db);
	secret_free(relay_pw);
	ev_loop_destroy(loop);
	return rc;
}

/* `queue flush [DOMAIN | ID...]`: with ids, each message is made due
 * now (so a running daemon takes it at its next run too, whatever
 * happens here) and what is due in its route goes at once. */
static int cmd_flush(const struct config *cfg, struct queue *q, int n,
		     char **args)
{
	struct due_ctx dc = { .q = q, .now = time(NULL) };
	int rc;

	if (n == 1 && !is_queued_id(q, args[0]) &&
	    queue_count(q, args[0], true) == 0)
		fprintf(stderr, "kantorpos: %s: nothing queued for this domain, and no queued message has this id\n",
			args[0]);
	if (n == 0 || (n == 1 && !is_queued_id(q, args[0])))
		return run_flush(cfg, q, n == 1 ? args[0] : NULL, &dc);
	if ((dc.domains = calloc((size_t)n, sizeof(*dc.domains))) == NULL) {
		fprintf(stderr, "kantorpos: %s\n", strerror(ENOMEM));
		return ADM_OSERR;
	}
	rc = each_item(q, n, args, due_step, &dc, "flush", "due now:");
	if (dc.n > 0) {
		int frc = run_flush(cfg, q, NULL, &dc);

		rc = rc == ADM_OK ? frc : rc;
	}
	for (size_t i = 0; i < dc.n; i++)
		free(dc.domains[i]);
	free(dc.domains);
	return rc;
}

/* The subcommand and its argument count. */
static bool usage_ok(int argc, char **argv)
{
	const char *c = argv[1];

	if (strcmp(c, "list") == 0)
		return argc <= 3;
	if (strcmp(c, "flush") == 0)
		return true;
	if (strcmp(c, "remove") == 0 || strcmp(c, "delete") == 0 ||
	    strcmp(c, "bounce") == 0)
		return argc >= 3;
	return strcmp(c, "add") == 0;
}

int admin_cmd_queue(struct admin *adm, int argc, char **argv)
{
	const struct config *cfg;
	struct queue *q = NULL;
	int rc;

	if (admin_wants_help(argc, argv)) {
		queue_usage(stdout);
		return ADM_OK;
	}
	if (argc < 2 || !usage_ok(argc, argv)) {
		queue_usage(stderr);
		return ADM_USAGE;
	}
	if ((cfg = admin_config(adm)) == NULL)
		return ADM_CONFIG;
	/* Work on the queue as the daemon does, so that the files it writes
	 * stay the daemon's (run_as). */
	if (admin_run_as(cfg, true) < 0)
		return ADM_CONFIG;
	if (queue_open(cfg->data_dir, cfg->hostname, &q) < 0) {
		fprintf(stderr, "kantorpos: %s/queue: %s\n", cfg->data_dir,
			strerror(errno));
		return ADM_CANTCREAT;
	}
	if (strcmp(argv[1], "list") == 0)
		rc = cmd_list(q, argc == 3 ? argv[2] : NULL);
	else if (strcmp(argv[1], "remove") == 0 ||
		 strcmp(argv[1], "delete") == 0)
		rc = cmd_remove(q, argc - 2, argv + 2);
	else if (strcmp(argv[1], "bounce") == 0)
		rc = cmd_bounce(cfg, q, argc - 2, argv + 2);
	else if (strcmp(argv[1], "add") == 0)
		rc = cmd_add(cfg, q, argc - 1, argv + 1);
	else
		rc = cmd_flush(cfg, q, argc - 2, argv + 2);
	queue_free(q);
	return rc;
}
