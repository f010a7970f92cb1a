/* admin/main.c: the kantorpos command line — global options and the command
 * table; each command lives in its own file. */
#include "autoconf.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "common/config/config.h"
#include "common/config/config_load.h"
#include "common/base/log.h"

struct admin_command {
	const char *name;
	int (*run)(struct admin *adm, int argc, char **argv);
	const char *usage;
};

static const struct admin_command commands[] = {
	{ "user", admin_cmd_user,
	  "user add|passwd|del NAME, user list   manage the user database" },
	{ "deliver", admin_cmd_deliver,
	  "deliver [-f SENDER] ADDRESS... < MESSAGE   deliver into Maildirs" },
	{ "check", admin_cmd_check,
	  "check                      check the configuration and everything\n"
	  "                                       it names, as the daemons will meet it" },
	{ "queue", admin_cmd_queue,
	  "queue list|flush [DOMAIN]  the outbound queue\n"
	  "  kantorpos queue flush ID...   send these messages now\n"
	  "  kantorpos queue delete|remove ID...   no notification\n"
	  "  kantorpos queue bounce ID...   give up on messages, with a DSN\n"
	  "  kantorpos queue add [-f SENDER] ADDRESS... < MESSAGE   queue a message" },
	{ "etrn", admin_cmd_etrn,
	  "etrn HOST[:PORT] [@]DOMAIN [--starttls] [--auth USER] | --scheduled" },
	{ "fetch", admin_cmd_fetch,
	  "fetch [--once|--daemon] [ACCOUNT...]   MultiPOP and DomainPOP" },
	{ "dkim", admin_cmd_dkim,
	  "dkim keygen DOMAIN SELECTOR [--type rsa|ed25519] [--bits N] [--out KEYFILE] [--force]\n"
	  "                                       a signing key and its TXT record" },
	{ "dns", admin_cmd_dns,
	  "dns DOMAIN [--check]       the DNS records DOMAIN needs, or check them" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: kantorpos [-c CONF] COMMAND [ARGS...]\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  kantorpos %s\n", commands[i].usage);
	fprintf(out, "\n  -c CONF   configuration file (default %s)\n"
		     "  --help    this text; COMMAND --help for one command\n"
		     "  --version print the version and exit\n",
		CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct admin adm = { .config_path = CONFIG_DEFAULT_PATH };
	int opt, rc;

	/* logrotate's SIGUSR1 may reach `kantorpos fetch --daemon` while it
	 * starts; its default action would end it. Ignored, in every command,
	 * until that daemon's ev_signal watcher installs its handler in
	 * place of SIG_IGN (fetch/daemon.c). */
	signal(SIGUSR1, SIG_IGN);
	log_init("kantorpos", true);
	/* "+": options after the command name belong to the command. */
	while ((opt = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			adm.config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return ADM_OK;
		case 'V':
			printf("kantorpos %s\n", PACKAGE_VERSION);
			return ADM_OK;
		default:
			usage(stderr);
			return ADM_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return ADM_USAGE;
	}
	char **cmd_argv = argv + optind;
	int cmd_argc = argc - optind;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd_argv[0], commands[i].name) != 0)
			continue;
		optind = 0; /* glibc: restart getopt for the command's options */
		rc = commands[i].run(&adm, cmd_argc, cmd_argv);
		config_free(adm.cfg);
		return rc;
	}
	fprintf(stderr, "kantorpos: unknown command \"%s\"\n", cmd_argv[0]);
	usage(stderr);
	return ADM_USAGE;
}
