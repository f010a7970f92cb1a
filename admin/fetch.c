/* admin/fetch.c: `kantorpos fetch [--once | --daemon] [ACCOUNT...]` — pull
 * the configured MultiPOP and DomainPOP accounts (fetch/ does the work). */
#include "autoconf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "common/config/config.h"
#include "common/base/log.h"
#include "fetch/daemon.h"

static void fetch_usage(FILE *out)
{
	fprintf(out,
		"usage: kantorpos [-c CONF] fetch [--once | --daemon] [ACCOUNT...]\n"
		"Fetch mail from the remote POP3 accounts (fetch_account lines), all\n"
		"of them or the ACCOUNTs named. --once (the default) runs each one\n"
		"time; --daemon polls each at its interval until SIGTERM, logging\n"
		"to log_file when it is set (SIGUSR1 reopens it).\n"
		"Exit status with --once: 0 all succeeded, 75 a run failed and the\n"
		"next one retries, 78 an account's setup was refused (password\n"
		"file, CA file) or the configuration is wrong, 64 usage.\n");
}

int admin_cmd_fetch(struct admin *adm, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct config_fetch **accts;
	const struct config *cfg;
	bool daemon = false, once = false;
	size_t n = 0;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			once = true;
			break;
		case 'd':
			daemon = true;
			break;
		case 'h':
			fetch_usage(stdout);
			return ADM_OK;
		default:
			fetch_usage(stderr);
			return ADM_USAGE;
		}
	}
	if (once && daemon) {
		fprintf(stderr, "kantorpos: fetch: --once and --daemon exclude each other\n");
		return ADM_USAGE;
	}
	if ((cfg = admin_config(adm)) == NULL)
		return ADM_CONFIG;
	/* Fetch as the daemons run (run_as), so the Maildirs and state files
	 * stay theirs and the password files are judged for that account, as
	 * `kantorpos check` judges them. */
	if (admin_run_as(cfg, true) < 0)
		return ADM_CONFIG;
	if (daemon) {
		char err[1200];

		log_init("kantorpos-fetch", true);
		if (log_use_file(cfg->log_file, err, sizeof err) < 0) {
			fprintf(stderr, "kantorpos: fetch: %s\n", err);
			return ADM_CONFIG;
		}
	}
	accts = calloc(cfg->n_fetch + (size_t)argc, sizeof(*accts));
	if (accts == NULL)
		return ADM_OSERR;
	if (optind == argc) {
		for (size_t i = 0; i < cfg->n_fetch; i++)
			accts[n++] = &cfg->fetch[i];
	}
	for (int i = optind; i < argc; i++) {
		const struct config_fetch *f = config_find_fetch(cfg, argv[i]);

		if (f == NULL) {
			fprintf(stderr, "kantorpos: fetch: no fetch_account named \"%s\" in %s\n",
				argv[i], cfg->file);
			free(accts);
			return ADM_USAGE;
		}
		accts[n++] = f;
	}
	if (n == 0) {
		fprintf(stderr, "kantorpos: fetch: %s has no fetch_account lines\n",
			cfg->file);
		free(accts);
		return daemon ? ADM_CONFIG : ADM_OK;
	}
	rc = fetch_main(cfg, accts, n, daemon);
	free(accts);
	return rc;
}
