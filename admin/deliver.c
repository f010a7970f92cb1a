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
#include "common/address.h"
#include "common/config.h"
#include "common/recipient.h"
#include "common/userdb.h"
#include "store/maildir.h"

#define DELIVER_CHUNK 65536

static void deliver_usage(FILE *out)
{
	fprintf(out,
		"usage: kantorpos [-c CONF] deliver [-f SENDER] ADDRESS... < MESSAGE\n"
		"Deliver the message on standard input into the Maildir of each\n"
		"local ADDRESS. Bare LF line ends are stored as CRLF. -f adds a\n"
		"Return-Path header. Exit status: 0 delivered, 64 usage, 65 bad\n"
		"address, 67 no such local user, 75 temporary failure (try again),\n"
		"77 over quota (when quota_permanent is yes), 78 configuration.\n");
}

/* Resolve every address to a Maildir; prints why and returns an exit
 * status when one cannot be used. */
static int resolve_all(const struct config *cfg, struct userdb *db, int n,
		       char **addrs, struct md_target *targets, char **paths)
{
	for (int i = 0; i < n; i++) {
		struct addr_mailbox mb;
		struct addr_error err;
		struct rcpt_target t;
		const char *why = NULL;

		if (addr_parse_mailbox(addrs[i], strlen(addrs[i]), ADDR_OPT_UTF8,
				       &mb, &err) < 0) {
			fprintf(stderr, "kantorpos: %s: %s\n", addrs[i], err.why);
			return ADM_DATAERR;
		}
		switch (rcpt_resolve(cfg, db, &mb, &t, &why)) {
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
		if (md_path(cfg->data_dir, t.domain, t.local, &paths[i]) < 0) {
			fprintf(stderr, "kantorpos: %s: unsafe mailbox name\n",
				addrs[i]);
			return ADM_DATAERR;
		}
		/* Leftovers of crashed deliveries go before each new one. */
		md_clean_tmp(paths[i], MD_TMP_MAX_AGE, NULL);
		targets[i].maildir = paths[i];
		targets[i].quota_bytes = cfg->quota_bytes;
		targets[i].quota_messages = cfg->quota_messages;
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
	struct userdb *db = NULL;
	char **paths = NULL;
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
	if (userdb_open(cfg->user_db, &db) < 0) {
		/* A missing user db is a setup problem, not a verdict on the
		 * recipient: defer, so the sending MTA keeps the message. */
		fprintf(stderr, "kantorpos: %s: %s\n", cfg->user_db,
			strerror(errno));
		return ADM_TEMPFAIL;
	}
	targets = calloc((size_t)n, sizeof(*targets));
	paths = calloc((size_t)n, sizeof(*paths));
	if (targets == NULL || paths == NULL) {
		rc = ADM_OSERR;
		goto out;
	}
	rc = resolve_all(cfg, db, n, argv + optind, targets, paths);
	if (rc == ADM_OK)
		rc = deliver(cfg, sender, targets, (size_t)n);
out:
	for (int i = 0; paths != NULL && i < n; i++)
		free(paths[i]);
	free(paths);
	free(targets);
	userdb_free(db);
	return rc;
}
