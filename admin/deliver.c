/* admin/deliver.c: `kantorpos deliver [-f SENDER] ADDRESS... < MESSAGE` —
 * local delivery through store/, with sysexits(3) statuses as an MDA gives
 * them (75 temporary, 67 unknown user), so it can sit behind any MTA. */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.h"
#include "common/mail/address.h"
#include "common/lookup/aliases.h"
#include "common/config/config.h"
#include "common/lookup/recipient.h"
#include "common/users/userdb.h"
#include "store/maildir.h"

#define DELIVER_CHUNK 65536

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

/* Append the Maildir of t to the target list (duplicates are fine:
 * md_delivery_commit stores one copy per maildir). */
static int add_target(const struct config *cfg, const struct rcpt_target *t,
		      struct md_target **targets, char ***paths, size_t *count)
{
	struct md_target *tg = realloc(*targets, (*count + 1) * sizeof(*tg));
	char **pg;

	if (tg == NULL)
		return -1;
	*targets = tg;
	pg = realloc(*paths, (*count + 1) * sizeof(*pg));
	if (pg == NULL)
		return -1;
	*paths = pg;
	if (md_path(cfg->data_dir, t->domain, t->local, &pg[*count]) < 0)
		return -1;
	/* Leftovers of crashed deliveries go before each new one. */
	md_clean_tmp(pg[*count], MD_TMP_MAX_AGE, NULL);
	tg[*count].maildir = pg[*count];
	tg[*count].quota_bytes = cfg->quota_bytes;
	tg[*count].quota_messages = cfg->quota_messages;
	(*count)++;
	return 0;
}

/* Resolve every address (aliases expanded) to Maildirs; prints why and
 * returns an exit status when one cannot be used. */
static int resolve_all(const struct config *cfg, struct userdb *db,
		       const struct aliases *al, int n, char **addrs,
		       struct md_target **targets, char ***paths, size_t *count)
{
	for (int i = 0; i < n; i++) {
		struct addr_mailbox mb;
		struct addr_error err;
		struct rcpt_target *t = NULL;
		size_t nt = 0;
		const char *why = NULL;

		if (addr_parse_mailbox(addrs[i], strlen(addrs[i]), ADDR_OPT_UTF8,
				       &mb, &err) < 0) {
			fprintf(stderr, "kantorpos: %s: %s\n", addrs[i], err.why);
			return ADM_DATAERR;
		}
		switch (rcpt_expand(cfg, db, al, &mb, &t, &nt, &why)) {
		case RCPT_LOCAL:
			break;
		case RCPT_UNKNOWN:
			fprintf(stderr, "kantorpos: %s: no such user\n", addrs[i]);
			return ADM_NOUSER;
		case RCPT_FOREIGN:
			fprintf(stderr, "kantorpos: %s: not a local domain\n",
				addrs[i]);
			return ADM_NOUSER;
		case RCPT_ERROR:
			fprintf(stderr, "kantorpos: %s: %s\n", addrs[i],
				why != NULL ? why : strerror(errno));
			return ADM_DATAERR;
		}
		for (size_t k = 0; k < nt; k++)
			if (add_target(cfg, &t[k], targets, paths, count) < 0) {
				fprintf(stderr, "kantorpos: %s: unsafe mailbox name\n",
					addrs[i]);
				free(t);
				return ADM_DATAERR;
			}
		free(t);
	}
	return ADM_OK;
}

/* Copy standard input into d with every bare LF turned into CRLF. */
static enum md_result copy_stdin(struct md_delivery *d)
{
	static char in[DELIVER_CHUNK], out[2 * DELIVER_CHUNK];
	bool prev_cr = false;
	ssize_t n;

	while ((n = read(STDIN_FILENO, in, sizeof(in))) != 0) {
		size_t o = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return MD_ERR_IO;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (in[i] == '\n' && !prev_cr)
				out[o++] = '\r';
			out[o++] = in[i];
			prev_cr = in[i] == '\r';
		}
		enum md_result r = md_delivery_write(d, out, o);

		if (r != MD_OK)
			return r;
	}
	return MD_OK;
}

static int deliver(const struct config *cfg, const char *sender,
		   struct md_target *targets, size_t n)
{
	struct md_delivery *d = NULL;
	enum md_result r;
	size_t failed = n;

	r = md_delivery_begin(targets[0].maildir, cfg->hostname, &d);
	if (r == MD_OK && sender != NULL) {
		/* The sender was checked against the path limit, so it fits. */
		char line[ADDR_PATH_MAX + 32];
		int len = snprintf(line, sizeof(line), "Return-Path: <%s>\r\n",
				   sender);

		if (len < 0 || (size_t)len >= sizeof(line))
			r = MD_ERR_INVALID;
		else
			r = md_delivery_write(d, line, (size_t)len);
	}
	if (r == MD_OK)
		r = copy_stdin(d);
	if (r != MD_OK) {
		md_delivery_abort(d);
	} else {
		r = md_delivery_commit(d, targets, n, &failed, NULL, 0);
	}
	if (r == MD_OK)
		return ADM_OK;
	fprintf(stderr, "kantorpos: delivery failed%s%s: %s\n",
		failed < n ? " for " : "",
		failed < n ? targets[failed].maildir : "", md_result_str(r));
	if (r == MD_ERR_QUOTA && cfg->quota_permanent)
		return ADM_NOPERM;
	if (r == MD_ERR_INVALID)
		return ADM_DATAERR;
	return ADM_TEMPFAIL;
}

int admin_cmd_deliver(struct admin *adm, int argc, char **argv)
{
	const char *sender = NULL;
	const struct config *cfg;
	struct md_target *targets = NULL;
	struct aliases *al = NULL;
	struct userdb *db = NULL;
	char **paths = NULL;
	size_t count = 0;
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
	if (sender != NULL && sender[0] != '\0') {
		struct addr_mailbox mb;
		struct addr_error err;

		/* RFC 5321 4.5.3.1.3: a path is at most 256 octets, "<>"
		 * included; a mailbox alone may be longer (64 + 1 + 255). */
		if (strlen(sender) > ADDR_PATH_MAX - 2) {
			fprintf(stderr, "kantorpos: sender %s: longer than %d octets\n",
				sender, ADDR_PATH_MAX - 2);
			return ADM_DATAERR;
		}
		if (addr_parse_mailbox(sender, strlen(sender), ADDR_OPT_UTF8, &mb,
				       &err) < 0) {
			fprintf(stderr, "kantorpos: sender %s: %s\n", sender,
				err.why);
			return ADM_DATAERR;
		}
	}
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
	rc = resolve_all(cfg, db, al, n, argv + optind, &targets, &paths, &count);
	if (rc == ADM_OK)
		rc = deliver(cfg, sender, targets, count);
	for (size_t i = 0; i < count; i++)
		free(paths[i]);
	free(paths);
	free(targets);
	aliases_free(al);
	userdb_free(db);
	return rc;
}
