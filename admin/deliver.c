/* admin/deliver.c: `kantorpos deliver [-f SENDER] ADDRESS... < MESSAGE` —
 * local delivery through the pipeline (pipeline/pipeline.h, inline), with
 * sysexits(3) statuses as an MDA gives them (75 temporary, 67 unknown
 * user), so it can sit behind any MTA. */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/stdin_message.h"
#include "common/mail/address.h"
#include "common/lookup/aliases.h"
#include "common/config/config.h"
#include "common/users/userdb.h"
#include "pipeline/pipeline.h"
#include "store/maildir.h"


static void deliver_usage(FILE *out)
{
	fprintf(out,
		"usage: kantorpos [-c CONF] deliver [-f SENDER] ADDRESS... < MESSAGE\n"
		"Deliver the message on standard input into the Maildir of each\n"
		"local user an ADDRESS stands for (aliases are expanded).\n"
		"Bare LF line ends are stored as CRLF. -f adds a\n"
		"Return-Path header. Exit status: 0 delivered, 64 usage, 65 bad\n"
		"address, 67 no such local user, 75 temporary failure (try again),\n"
		"77 over quota (when quota_permanent is yes), 78 configuration.\n");
}

/* Why the pipeline refused addr: an exit status, after saying it. */
static int refused(const char *addr, const struct pipe_reply *r)
{
	if (r->code == 451) {
		fprintf(stderr, "kantorpos: %s: %s\n", addr, r->text);
		return ADM_DATAERR;
	}
	if (r->code == 554 || r->code < 300)
		fprintf(stderr, "kantorpos: %s: not a local domain\n", addr);
	else if (strcmp(r->enh, "5.1.1") == 0)
		fprintf(stderr, "kantorpos: %s: no such user\n", addr);
	else
		fprintf(stderr, "kantorpos: %s: %s\n", addr, r->text);
	return ADM_NOUSER;
}

/* Route every address (aliases expanded) to local users; prints why and
 * returns an exit status when one cannot be used: nothing is written
 * then. */
static int route_all(struct pipe_tx *tx, int n, char **addrs)
{
	for (int i = 0; i < n; i++) {
		struct addr_path path = { 0 };
		struct addr_error err;
		const struct pipe_msg *m = pipe_tx_msg(tx);
		const struct pipe_reply *r;

		if (addr_parse_mailbox(addrs[i], strlen(addrs[i]), ADDR_OPT_UTF8,
				       &path.mailbox, &err) < 0) {
			fprintf(stderr, "kantorpos: %s: %s\n", addrs[i], err.why);
			return ADM_DATAERR;
		}
		pipe_tx_rcpt(tx, &path);
		r = pipe_tx_reply(tx);
		/* An MDA delivers locally: a queued route is not for it. */
		if (r->code >= 300 ||
		    m->rcpts[m->n_rcpts - 1].route != PIPE_ROUTE_LOCAL)
			return refused(addrs[i], r);
	}
	return ADM_OK;
}

/* The content, then the commit (inline: fsyncs before the exit). */
static int deliver(const struct config *cfg, struct pipe_tx *tx)
{
	const char *failed = "";
	int r;

	admin_pipe_stdin(tx, "deliver");
	r = pipe_tx_store_result(tx, &failed);
	if (pipe_tx_reply(tx)->code < 300)
		return ADM_OK;
	fprintf(stderr, "kantorpos: delivery failed%s%s: %s\n",
		failed[0] != '\0' ? " for " : "", failed, md_result_str(r));
	if (r == MD_ERR_QUOTA && cfg->quota_permanent)
		return ADM_NOPERM;
	if (r == MD_ERR_INVALID)
		return ADM_DATAERR;
	return ADM_TEMPFAIL;
}

/* The message through the pipeline, inline (origin DELIVER). */
static int run(const struct config *cfg, struct userdb *db,
	       const struct aliases *al, const struct addr_path *sender,
	       int n, char **addrs)
{
	struct pipe_env env = { .cfg = cfg, .db = db, .al = al,
				.clean_tmp = true };
	struct pipe_facts facts = { PIPE_DELIVER, NULL, "deliver" };
	struct pipe_tx *tx = pipe_tx_new(&env, &facts, NULL, NULL);
	int rc;

	if (tx == NULL) {
		fprintf(stderr, "kantorpos: out of memory\n");
		return ADM_TEMPFAIL;
	}
	pipe_tx_mail(tx, sender, NULL);
	rc = route_all(tx, n, addrs);
	if (rc == ADM_OK)
		rc = deliver(cfg, tx);
	pipe_tx_free(tx);
	return rc;
}

int admin_cmd_deliver(struct admin *adm, int argc, char **argv)
{
	const char *sender = NULL;
	const struct config *cfg;
	struct aliases *al = NULL;
	struct userdb *db = NULL;
	struct addr_path from;
	int opt, n, rc;

	if (admin_wants_help(argc, argv)) {
		deliver_usage(stdout);
		return ADM_OK;
	}
	while ((opt = getopt(argc, argv, "+f:")) != -1) {
		if (opt != 'f') {
			deliver_usage(stderr);
			return ADM_USAGE;
		}
		sender = optarg;
	}
	n = argc - optind;
	if (n < 1) {
		deliver_usage(stderr);
		return ADM_USAGE;
	}
	if (sender != NULL && (rc = admin_sender_path(sender, &from)) != ADM_OK)
		return rc;
	if ((cfg = admin_config(adm)) == NULL)
		return ADM_CONFIG;
	/* Maildirs made here must be the daemons' (run_as), never root's.
	 * A refusal is a setup problem, not a verdict on the message. */
	if (admin_run_as(cfg, true) < 0)
		return ADM_TEMPFAIL;
	if (userdb_open(cfg->user_db, &db) < 0) {
		/* A missing user db is a setup problem, not a verdict on the
		 * recipient: defer, so the sending MTA keeps the message. */
		fprintf(stderr, "kantorpos: %s: %s\n", cfg->user_db,
			strerror(errno));
		return ADM_TEMPFAIL;
	}
	if (cfg->aliases != NULL) {
		char *err = NULL;

		if (aliases_load(cfg->aliases, cfg, &al, &err) < 0) {
			fprintf(stderr, "%s", err != NULL ? err : "out of memory\n");
			free(err);
			userdb_free(db);
			return ADM_CONFIG;
		}
	}
	rc = run(cfg, db, al, sender != NULL ? &from : NULL, n, argv + optind);
	aliases_free(al);
	userdb_free(db);
	return rc;
}
